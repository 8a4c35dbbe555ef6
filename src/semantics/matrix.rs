//! The connectivity matrix: every endpoint against every other, either for given
//! ports or as the exact set of protocols and ports allowed.
//!
//! Exact, not sampled: for one pair of endpoints the verdict is constant between the
//! boundaries that the reachable rules, the endpoints' named ports, the failsafe
//! ports and the path's fixed guards (encapsulation, ICMPv6 to the host) draw in
//! the packet space, so evaluating one packet per region decides the
//! whole region. A destination port counts as allowed when it is allowed from every
//! source port of the ephemeral range clients use (32768–60999).
//!
//! Cells are memoised by endpoint *class*: two endpoints with the same kind, labels,
//! named ports, selector holders and CIDR memberships, in the same node context,
//! behave identically, so the work grows with distinct label sets, not endpoints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::Engine;
use super::endpoints::{EndpointKind, EndpointRef, LabelSetId};
use super::flow::{FlowVerdict, Path};
use super::guard::PacketGuard;
use super::packet::{Packet, family};
use crate::ir::{IpVersion, NamedPort, PortMatch, PortRange, PortSet, Protocol, Rule};

/// The ephemeral source ports clients use (Linux's default `ip_local_port_range`).
pub const EPHEMERAL: PortRange = PortRange {
    lo: 32768,
    hi: 60999,
};

/// What is allowed between two endpoints, exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellSet {
    /// The IP family the pair talks over (`None`: no common family).
    pub family: Option<IpVersion>,
    /// Allowed destination ports of TCP, UDP and SCTP.
    pub ports: BTreeMap<Protocol, PortSet>,
    /// Allowed ICMP (of the family) as (type, code range) runs.
    pub icmp: Vec<(u8, u8, u8)>,
    /// Protocols some rule names explicitly (other than the above), and whether each
    /// is allowed.
    pub named_protocols: BTreeMap<u8, bool>,
    /// Whether every other protocol is allowed.
    pub other: bool,
}

const PORT_PROTOCOLS: [Protocol; 3] = [Protocol::TCP, Protocol::UDP, Protocol::SCTP];

impl CellSet {
    fn full_ports() -> PortSet {
        PortSet::from_ranges([PortRange {
            lo: 1,
            hi: u16::MAX,
        }])
    }

    /// Whether everything is allowed.
    pub fn is_all(&self) -> bool {
        self.family.is_some()
            && PORT_PROTOCOLS
                .iter()
                .all(|p| self.ports.get(p) == Some(&Self::full_ports()))
            && self.icmp.len() == 256
            && self.icmp.iter().all(|(_, lo, hi)| *lo == 0 && *hi == 255)
            && self.named_protocols.values().all(|a| *a)
            && self.other
    }

    /// Whether nothing is allowed.
    pub fn is_none(&self) -> bool {
        self.ports.values().all(PortSet::is_empty)
            && self.icmp.is_empty()
            && !self.named_protocols.values().any(|a| *a)
            && !self.other
    }

    /// Per-protocol parts of the summary, e.g. `["TCP 22,80-81", "UDP 53"]`.
    pub fn parts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in PORT_PROTOCOLS {
            match self.ports.get(&p) {
                Some(s) if *s == Self::full_ports() => out.push(p.to_string()),
                Some(s) if !s.is_empty() => out.push(format!("{p} {s}")),
                _ => {}
            }
        }
        let icmp_name = if self.family == Some(IpVersion::V6) {
            "ICMPv6"
        } else {
            "ICMP"
        };
        if !self.icmp.is_empty() {
            let whole: Vec<u8> = self
                .icmp
                .iter()
                .filter(|(_, lo, hi)| *lo == 0 && *hi == 255)
                .map(|(t, _, _)| *t)
                .collect();
            if whole.len() == 256 {
                out.push(icmp_name.to_string());
            } else {
                let mut items: Vec<String> = runs(&whole)
                    .into_iter()
                    .map(|(a, b)| {
                        if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        }
                    })
                    .collect();
                items.extend(
                    self.icmp
                        .iter()
                        .filter(|(_, lo, hi)| !(*lo == 0 && *hi == 255))
                        .map(|(t, lo, hi)| {
                            if lo == hi {
                                format!("{t}/{lo}")
                            } else {
                                format!("{t}/{lo}-{hi}")
                            }
                        }),
                );
                out.push(format!("{icmp_name} {}", items.join(",")));
            }
        }
        for (p, allowed) in &self.named_protocols {
            if *allowed {
                out.push(format!("proto {p}"));
            }
        }
        if self.other {
            // Named protocols denied among otherwise allowed ones (IP-in-IP from pods).
            let denied: Vec<String> = self
                .named_protocols
                .iter()
                .filter(|(_, a)| !**a)
                .map(|(p, _)| p.to_string())
                .collect();
            if denied.is_empty() {
                out.push("other protocols".to_string());
            } else {
                out.push(format!("other protocols except {}", denied.join(",")));
            }
        }
        out
    }
}

fn runs(xs: &[u8]) -> Vec<(u8, u8)> {
    let mut out: Vec<(u8, u8)> = Vec::new();
    for &x in xs {
        match out.last_mut() {
            Some((_, b)) if u16::from(*b) + 1 == u16::from(x) => *b = x,
            _ => out.push((x, x)),
        }
    }
    out
}

impl fmt::Display for CellSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            f.write_str("all")
        } else if self.is_none() {
            f.write_str("none")
        } else {
            f.write_str(&self.parts().join("; "))
        }
    }
}

/// Cut points `[lo, hi+1)` of a port range, clipped to `1..=65535`.
fn cut(cuts: &mut BTreeSet<u32>, r: PortRange) {
    cuts.insert(u32::from(r.lo));
    cuts.insert(u32::from(r.hi) + 1);
}

fn port_cuts(
    rules: &[&Rule],
    protocol: Protocol,
    source: bool,
    named: &[NamedPort],
) -> BTreeSet<u32> {
    let mut cuts = BTreeSet::new();
    for r in rules
        .iter()
        .filter(|r| r.protocol.is_none_or(|p| p == protocol))
    {
        let e = if source { &r.source } else { &r.destination };
        for item in e.ports.iter().chain(&e.not_ports) {
            if let PortMatch::Range(range) = item {
                cut(&mut cuts, *range);
            }
        }
    }
    for p in named.iter().filter(|p| p.protocol == protocol) {
        cut(&mut cuts, PortRange::single(p.port));
    }
    cuts
}

/// Where a path's verdict on a port protocol can change: the destination and the
/// source port cut points its rules, the endpoints' named ports, the failsafe ports
/// and the fixed guards draw.
fn path_port_cuts(
    path: &Path<'_>,
    rules: &[&Rule],
    protocol: Protocol,
) -> (BTreeSet<u32>, BTreeSet<u32>) {
    let guards = path.guards();
    let guard_port = |g: &PacketGuard| match g {
        PacketGuard::UdpDport(port) => Some((Protocol::UDP, *port)),
        _ => None,
    };
    let dst_named: Vec<NamedPort> = path
        .programs()
        .flat_map(|p| p.failsafe.iter())
        .map(|f| (f.protocol, f.port))
        .chain(guards.iter().filter_map(guard_port))
        .map(|(protocol, port)| NamedPort {
            name: String::new(),
            protocol,
            port,
        })
        .chain(path.dst_ports.iter().cloned())
        .collect();
    let mut dcuts = port_cuts(rules, protocol, false, &dst_named);
    let mut scuts = port_cuts(rules, protocol, true, &path.src_ports);
    // The ways back see the reply: its source port is the flow's destination port
    // and the other way round, so their rules cut the other field.
    let back: Vec<&Rule> = path.reply_programs().flat_map(|p| p.rules()).collect();
    let as_named = |f: &crate::ir::FailsafePort| NamedPort {
        name: String::new(),
        protocol: f.protocol,
        port: f.port,
    };
    let back_sport_named: Vec<NamedPort> = path
        .reply_programs()
        .flat_map(|p| p.reply_failsafe.iter().map(as_named))
        .collect();
    let back_dport_named: Vec<NamedPort> = path
        .reply_programs()
        .flat_map(|p| p.failsafe.iter().map(as_named))
        .collect();
    dcuts.extend(port_cuts(&back, protocol, true, &back_sport_named));
    scuts.extend(port_cuts(&back, protocol, false, &back_dport_named));
    (dcuts, scuts)
}

/// Destination ports over which a path's verdict is constant (per source-port
/// region), with a source port each verdict is reached from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRegion {
    /// The destination ports.
    pub dports: PortRange,
    /// A client source port the region is allowed from, if any.
    pub allowed_from: Option<u16>,
    /// A client source port the region is denied from, if any.
    pub denied_from: Option<u16>,
}

/// The regions `cuts` divide `lo..=hi` into: (start, end).
pub(crate) fn regions(cuts: &BTreeSet<u32>, lo: u32, hi: u32) -> Vec<(u32, u32)> {
    let mut points: Vec<u32> = std::iter::once(lo)
        .chain(cuts.iter().copied().filter(|c| *c > lo && *c <= hi))
        .collect();
    points.dedup();
    points
        .iter()
        .enumerate()
        .map(|(i, &a)| (a, points.get(i + 1).map_or(hi, |b| b - 1)))
        .collect()
}

impl<'m> Engine<'m> {
    /// The exact set of what is allowed from `from` to `to`.
    pub fn cell_set(&self, from: EndpointRef, to: EndpointRef) -> CellSet {
        self.cell_set_on(&self.path(from, to), from == to)
    }

    /// The exact allowed set of a compiled path (`same`: an endpoint to itself, which
    /// is always allowed and has no addresses to choose a family from).
    pub fn cell_set_on(&self, path: &Path<'_>, same: bool) -> CellSet {
        let mut set = CellSet {
            family: path.src_ip.map(family),
            ..CellSet::default()
        };
        if same {
            set.family = Some(IpVersion::V4);
        }
        if set.family.is_none() {
            return set;
        }
        let rules: Vec<&Rule> = path.programs().flat_map(|p| p.rules()).collect();
        let guards = path.guards();
        let allowed = |p: &Packet| path.allows(p);
        // The ways back (replies) have rules of their own: their ICMP codes and
        // protocols cut the space too (their ports: `path_port_cuts`).
        let back: Vec<&Rule> = path.reply_programs().flat_map(|p| p.rules()).collect();

        for protocol in PORT_PROTOCOLS {
            let (dcuts, scuts) = path_port_cuts(path, &rules, protocol);
            let sports = regions(&scuts, u32::from(EPHEMERAL.lo), u32::from(EPHEMERAL.hi));
            let mut ranges = Vec::new();
            for (a, b) in regions(&dcuts, 1, u32::from(u16::MAX)) {
                let ok = sports.iter().all(|&(s, _)| {
                    allowed(&Packet {
                        protocol,
                        sport: s as u16,
                        dport: a as u16,
                        icmp: None,
                    })
                });
                if ok {
                    ranges.push(PortRange {
                        lo: a as u16,
                        hi: b as u16,
                    });
                }
            }
            set.ports.insert(protocol, PortSet::from_ranges(ranges));
        }

        let icmp_proto = if set.family == Some(IpVersion::V6) {
            Protocol::ICMPV6
        } else {
            Protocol::ICMP
        };
        let (mut tcuts, mut ccuts) = (BTreeSet::new(), BTreeSet::new());
        for r in rules
            .iter()
            .filter(|r| r.protocol.is_none_or(|p| p == icmp_proto))
        {
            for m in [r.icmp, r.not_icmp].into_iter().flatten() {
                tcuts.insert(u32::from(m.type_));
                tcuts.insert(u32::from(m.type_) + 1);
                if let Some(c) = m.code {
                    ccuts.insert(u32::from(c));
                    ccuts.insert(u32::from(c) + 1);
                }
            }
        }
        // Only an echo request has a reply for the ways back to see; their rules'
        // codes carry over.
        if !path.replies.is_empty() {
            tcuts.extend([8, 9, 128, 129]);
            for r in &back {
                for m in [r.icmp, r.not_icmp].into_iter().flatten() {
                    if let Some(c) = m.code {
                        ccuts.extend([u32::from(c), u32::from(c) + 1]);
                    }
                }
            }
        }
        if icmp_proto == Protocol::ICMPV6 {
            for g in &guards {
                if let PacketGuard::Icmpv6Types(types) = g {
                    for &t in *types {
                        tcuts.insert(u32::from(t));
                        tcuts.insert(u32::from(t) + 1);
                    }
                }
            }
        }
        let codes = regions(&ccuts, 0, 255);
        for (ta, tb) in regions(&tcuts, 0, 255) {
            let mut allowed_codes: Vec<(u8, u8)> = Vec::new();
            for &(ca, cb) in &codes {
                if allowed(&Packet {
                    protocol: icmp_proto,
                    sport: 0,
                    dport: 0,
                    icmp: Some((ta as u8, ca as u8)),
                }) {
                    match allowed_codes.last_mut() {
                        Some((_, hi)) if u32::from(*hi) + 1 == ca => *hi = cb as u8,
                        _ => allowed_codes.push((ca as u8, cb as u8)),
                    }
                }
            }
            for t in ta..=tb {
                set.icmp
                    .extend(allowed_codes.iter().map(|&(lo, hi)| (t as u8, lo, hi)));
            }
        }

        let special = [
            Protocol::TCP,
            Protocol::UDP,
            Protocol::SCTP,
            Protocol::ICMP,
            Protocol::ICMPV6,
        ];
        let named: BTreeSet<u8> = rules
            .iter()
            .chain(&back)
            .flat_map(|r| [r.protocol, r.not_protocol])
            .flatten()
            .chain(guards.iter().filter_map(|g| match g {
                PacketGuard::Protocol(p) => Some(*p),
                _ => None,
            }))
            .filter(|p| !special.contains(p))
            .map(|p| p.0)
            .collect();
        for &p in &named {
            set.named_protocols.insert(
                p,
                allowed(&Packet {
                    protocol: Protocol(p),
                    sport: 0,
                    dport: 0,
                    icmp: None,
                }),
            );
        }
        let other = (0..=255u8)
            .find(|p| !named.contains(p) && !special.contains(&Protocol(*p)))
            .unwrap_or(0);
        set.other = allowed(&Packet {
            protocol: Protocol(other),
            sport: 0,
            dport: 0,
            icmp: None,
        });
        set
    }

    /// The destination ports `within` of a port protocol, cut into the regions where
    /// the path's verdict is constant, each with a client source port (of
    /// [`EPHEMERAL`]) it is allowed from and one it is denied from, if any: exact, as
    /// [`Engine::cell_set_on`] is, and for the source port too.
    pub fn port_regions(
        &self,
        path: &Path<'_>,
        protocol: Protocol,
        within: PortRange,
    ) -> Vec<PortRegion> {
        let rules: Vec<&Rule> = path.programs().flat_map(|p| p.rules()).collect();
        let (dcuts, scuts) = path_port_cuts(path, &rules, protocol);
        let sports = regions(&scuts, u32::from(EPHEMERAL.lo), u32::from(EPHEMERAL.hi));
        regions(&dcuts, u32::from(within.lo), u32::from(within.hi))
            .into_iter()
            .map(|(a, b)| {
                let mut region = PortRegion {
                    dports: PortRange {
                        lo: a as u16,
                        hi: b as u16,
                    },
                    allowed_from: None,
                    denied_from: None,
                };
                for &(s, e) in &sports {
                    // The usual client port shows in a witness when it is in the region.
                    let usual = u32::from(Packet::EPHEMERAL_SPORT);
                    let sport = if (s..=e).contains(&usual) { usual } else { s } as u16;
                    let p = Packet {
                        protocol,
                        sport,
                        dport: a as u16,
                        icmp: None,
                    };
                    let slot = if path.allows(&p) {
                        &mut region.allowed_from
                    } else {
                        &mut region.denied_from
                    };
                    if slot.is_none() || sport == Packet::EPHEMERAL_SPORT {
                        *slot = Some(sport);
                    }
                }
                region
            })
            .collect()
    }

    /// The verdict for one port of one protocol (`--port`), with its trace.
    pub fn port_verdict(&self, path: &Path<'_>, protocol: Protocol, port: u16) -> FlowVerdict {
        path.run(&Packet::to_port(protocol, port))
    }
}

/// A class of endpoints that policy cannot tell apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClassKey {
    kind: EndpointKind,
    labels: LabelSetId,
    hep: Option<usize>,
    ports: Vec<NamedPort>,
    node: Option<String>,
    addresses: Vec<(IpVersion, Vec<LabelSetId>, Vec<bool>)>,
}

/// Computes cells with memoisation by endpoint class.
pub struct Classes<'e, 'm> {
    engine: &'e Engine<'m>,
    cidrs: Vec<IpNet>,
    keys: HashMap<EndpointRef, usize>,
    interned: HashMap<ClassKey, usize>,
}

impl<'e, 'm> Classes<'e, 'm> {
    /// Classes over an engine's model.
    pub fn new(engine: &'e Engine<'m>) -> Classes<'e, 'm> {
        // Network-set nets are in the list too: they only make classes finer.
        let cidrs = engine.model.cidrs();
        Classes {
            engine,
            cidrs: cidrs.into_iter().collect(),
            keys: HashMap::new(),
            interned: HashMap::new(),
        }
    }

    /// The class of an endpoint.
    pub fn class(&mut self, r: EndpointRef) -> usize {
        if let Some(&c) = self.keys.get(&r) {
            return c;
        }
        let e = self.engine;
        let (kind, labels, hep, ports, node, ips): (
            EndpointKind,
            LabelSetId,
            Option<usize>,
            Vec<NamedPort>,
            Option<String>,
            Vec<IpAddr>,
        ) = match r {
            EndpointRef::Known(i) => {
                let ep = &e.universe.endpoints[i];
                let node_matters = ep.node.as_deref().is_some_and(|n| {
                    e.universe.forward_hep(n).is_some() || e.model.felix.nodes.contains_key(n)
                });
                (
                    ep.kind,
                    ep.labels,
                    ep.hep,
                    ep.ports.clone(),
                    if node_matters { ep.node.clone() } else { None },
                    ep.ips.clone(),
                )
            }
            EndpointRef::External(ip) => (
                EndpointKind::External,
                LabelSetId(0),
                None,
                Vec::new(),
                None,
                vec![ip],
            ),
        };
        let addresses = [IpVersion::V4, IpVersion::V6]
            .into_iter()
            .filter_map(|f| {
                let ip = ips.iter().find(|ip| family(**ip) == f)?;
                Some((
                    f,
                    e.universe.holders(*ip),
                    self.cidrs.iter().map(|n| n.contains(ip)).collect(),
                ))
            })
            .collect();
        let key = ClassKey {
            kind,
            labels,
            hep,
            ports,
            node,
            addresses,
        };
        let n = self.interned.len();
        let c = *self.interned.entry(key).or_insert(n);
        self.keys.insert(r, c);
        c
    }

    /// How many distinct classes have been seen.
    pub fn count(&self) -> usize {
        self.interned.len()
    }
}

/// One cell of a matrix.
#[derive(Debug, Clone)]
pub enum Cell {
    /// Verdicts for the requested ports, in order.
    Ports(Vec<FlowVerdict>),
    /// The exact allowed set, with witnesses: for TCP and UDP, the verdict on the
    /// lowest allowed and the lowest denied port (what decided them).
    Set(CellSet, Vec<(Protocol, u16, FlowVerdict)>),
}

/// For TCP and UDP: the lowest allowed and lowest denied destination port, evaluated.
fn witnesses(path: &Path<'_>, set: &CellSet) -> Vec<(Protocol, u16, FlowVerdict)> {
    let mut out = Vec::new();
    for protocol in [Protocol::TCP, Protocol::UDP] {
        let Some(ports) = set.ports.get(&protocol) else {
            continue;
        };
        let allowed = ports.ranges().first().map(|r| r.lo);
        let denied = (1..=u16::MAX).find(|p| !ports.contains(*p));
        for port in [allowed, denied].into_iter().flatten() {
            out.push((protocol, port, path.run(&Packet::to_port(protocol, port))));
        }
    }
    out
}

/// A matrix: rows are sources, columns destinations. Equal cells are stored once.
#[derive(Debug)]
pub struct Matrix {
    /// Sources.
    pub rows: Vec<EndpointRef>,
    /// Destinations.
    pub cols: Vec<EndpointRef>,
    /// The requested ports (empty: exact sets).
    pub ports: Vec<(Protocol, u16)>,
    /// The distinct cells computed (one per pair of endpoint classes).
    pub distinct: Vec<Cell>,
    /// `index[row][col]` into `distinct`.
    pub index: Vec<Vec<u32>>,
}

impl Matrix {
    /// The cell of a row and column.
    pub fn cell(&self, row: usize, col: usize) -> &Cell {
        &self.distinct[self.index[row][col] as usize]
    }

    /// How many cells were actually computed (the rest were equal classes).
    pub fn computed(&self) -> usize {
        self.distinct.len()
    }
}

/// Compute a matrix.
pub fn matrix(
    engine: &Engine<'_>,
    rows: &[EndpointRef],
    cols: &[EndpointRef],
    ports: &[(Protocol, u16)],
) -> Matrix {
    matrix_with(engine, rows, cols, ports, true)
}

/// Compute a matrix of exact sets without their witnesses (what a comparison of two
/// matrices needs: each set is far smaller than its witnesses' traces).
pub fn matrix_sets(engine: &Engine<'_>, rows: &[EndpointRef], cols: &[EndpointRef]) -> Matrix {
    matrix_with(engine, rows, cols, &[], false)
}

fn matrix_with(
    engine: &Engine<'_>,
    rows: &[EndpointRef],
    cols: &[EndpointRef],
    ports: &[(Protocol, u16)],
    with_witnesses: bool,
) -> Matrix {
    let mut classes = Classes::new(engine);
    let mut memo: HashMap<(usize, usize, bool, bool), u32> = HashMap::new();
    let mut distinct = Vec::new();
    let node = |r: EndpointRef| match r {
        EndpointRef::Known(i) => engine.universe.endpoints[i].node.as_deref(),
        EndpointRef::External(_) => None,
    };
    let mut index = Vec::with_capacity(rows.len());
    for &r in rows {
        let mut row = Vec::with_capacity(cols.len());
        for &c in cols {
            let same_node = node(r).is_some() && node(r) == node(c);
            let key = (classes.class(r), classes.class(c), same_node, r == c);
            let i = *memo.entry(key).or_insert_with(|| {
                let path = engine.path(r, c);
                distinct.push(if ports.is_empty() {
                    let set = engine.cell_set_on(&path, r == c);
                    let w = if with_witnesses {
                        witnesses(&path, &set)
                    } else {
                        Vec::new()
                    };
                    Cell::Set(set, w)
                } else {
                    Cell::Ports(
                        ports
                            .iter()
                            .map(|&(p, n)| engine.port_verdict(&path, p, n))
                            .collect(),
                    )
                });
                (distinct.len() - 1) as u32
            });
            row.push(i);
        }
        index.push(row);
    }
    Matrix {
        rows: rows.to_vec(),
        cols: cols.to_vec(),
        ports: ports.to_vec(),
        distinct,
        index,
    }
}
