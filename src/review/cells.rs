//! The semantic diff: the exact connectivity matrices of two models (the evaluator's
//! [`matrix`], every endpoint against every other, exact allowed sets), compared cell
//! by cell. Endpoints are matched by name (`ns/pod`, `host/NAME`, `node/NAME`); those
//! only one side has are listed as added or removed.
//!
//! A cell that changes is cut into what changed: for TCP, UDP and SCTP each maximal
//! range of destination ports that became allowed or denied, for ICMP and ICMPv6 each
//! run of (type, code), each protocol a rule names, and "every other protocol". Each
//! part carries the verdict on both sides and what decided it on each side (the
//! evaluator's trace of the part's first packet). Cells are compared once per pair of
//! distinct cells (the matrix stores equal endpoint classes once), so the cost follows
//! classes, not endpoints squared.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use range_set_blaze::RangeSetBlaze;

use crate::ir::Protocol;
use crate::semantics::matrix::{Cell, CellSet, Matrix, matrix_sets};
use crate::semantics::{Decider, EndpointRef, Engine, Packet};

/// What part of a cell changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// Destination ports of TCP, UDP or SCTP: one range.
    Ports {
        /// The protocol.
        protocol: Protocol,
        /// First port.
        lo: u16,
        /// Last port.
        hi: u16,
    },
    /// ICMP or ICMPv6 messages: one type with a range of codes.
    Icmp {
        /// `ICMP` or `ICMPv6`.
        protocol: Protocol,
        /// The type.
        icmp_type: u8,
        /// First code.
        lo: u8,
        /// Last code.
        hi: u8,
    },
    /// One protocol some rule names.
    Protocol(u8),
    /// Every protocol no rule names.
    Other,
}

impl What {
    /// The part as people read it: `TCP 10250`, `UDP 53-54`, `ICMP 8/0-255`.
    pub fn summary(&self) -> String {
        match self {
            What::Ports { protocol, lo, hi } if lo == hi => format!("{protocol} {lo}"),
            What::Ports { protocol, lo, hi } => format!("{protocol} {lo}-{hi}"),
            What::Icmp {
                protocol,
                icmp_type,
                lo,
                hi,
            } => {
                let name = if *protocol == Protocol::ICMPV6 {
                    "ICMPv6"
                } else {
                    "ICMP"
                };
                match (lo, hi) {
                    (0, 255) => format!("{name} type {icmp_type}"),
                    (a, b) if a == b => format!("{name} type {icmp_type} code {a}"),
                    (a, b) => format!("{name} type {icmp_type} codes {a}-{b}"),
                }
            }
            What::Protocol(p) => format!("protocol {p}"),
            What::Other => "every other protocol".to_string(),
        }
    }

    /// The first packet of the part (what its deciders are traced on).
    fn packet(&self, other: u8) -> Packet {
        match *self {
            What::Ports { protocol, lo, .. } => Packet::to_port(protocol, lo),
            What::Icmp {
                protocol,
                icmp_type,
                lo,
                ..
            } => Packet {
                protocol,
                sport: 0,
                dport: 0,
                icmp: Some((icmp_type, lo)),
            },
            What::Protocol(p) => Packet {
                protocol: Protocol(p),
                sport: 0,
                dport: 0,
                icmp: None,
            },
            What::Other => Packet {
                protocol: Protocol(other),
                sport: 0,
                dport: 0,
                icmp: None,
            },
        }
    }
}

/// One changed part of a cell.
#[derive(Debug, Clone)]
pub struct Change {
    /// What changed.
    pub what: What,
    /// Allowed before.
    pub before: bool,
    /// Allowed after.
    pub after: bool,
    /// What decided its first packet before.
    pub before_decider: Decider,
    /// What decided it after.
    pub after_decider: Decider,
}

/// A cell whose verdict changed somewhere.
#[derive(Debug, Clone)]
pub struct CellChange {
    /// The source endpoint's name.
    pub from: String,
    /// The destination endpoint's name.
    pub to: String,
    /// The exact allowed set before.
    pub before: CellSet,
    /// The exact allowed set after.
    pub after: CellSet,
    /// What changed, in protocol then port order.
    pub changes: Vec<Change>,
}

/// The semantic diff of two models.
pub struct SemanticDiff {
    /// Endpoints only the new model has, by name.
    pub added: Vec<String>,
    /// Endpoints only the old model has.
    pub removed: Vec<String>,
    /// Endpoints both have (sorted).
    pub common: Vec<String>,
    /// The changed cells, by source then destination name.
    pub cells: Vec<CellChange>,
    /// The old model's matrix (every endpoint, exact sets).
    pub old: Matrix,
    /// The new model's matrix.
    pub new: Matrix,
    /// Endpoint name → row/column in `old`.
    pub old_index: BTreeMap<String, usize>,
    /// Endpoint name → row/column in `new`.
    pub new_index: BTreeMap<String, usize>,
}

impl SemanticDiff {
    /// The exact allowed set of a cell of the old (`new == false`) or new model.
    pub fn cell(&self, new: bool, from: &str, to: &str) -> Option<&CellSet> {
        let (m, idx) = if new {
            (&self.new, &self.new_index)
        } else {
            (&self.old, &self.old_index)
        };
        match m.cell(*idx.get(from)?, *idx.get(to)?) {
            Cell::Set(set, _) => Some(set),
            Cell::Ports(_) => None,
        }
    }
}

/// Every endpoint of an engine, in universe order.
fn all(engine: &Engine<'_>) -> Vec<EndpointRef> {
    (0..engine.universe.endpoints.len())
        .map(EndpointRef::Known)
        .collect()
}

fn index(engine: &Engine<'_>) -> BTreeMap<String, usize> {
    (0..engine.universe.endpoints.len())
        .map(|i| (engine.universe.name(EndpointRef::Known(i)), i))
        .collect()
}

/// Compare the matrices of `old` and `new`.
pub fn diff(old: &Engine<'_>, new: &Engine<'_>) -> SemanticDiff {
    let old_matrix = matrix_sets(old, &all(old), &all(old));
    let new_matrix = matrix_sets(new, &all(new), &all(new));
    let (old_index, new_index) = (index(old), index(new));
    let common: Vec<String> = old_index
        .keys()
        .filter(|n| new_index.contains_key(*n))
        .cloned()
        .collect();
    let added = new_index
        .keys()
        .filter(|n| !old_index.contains_key(*n))
        .cloned()
        .collect();
    let removed = old_index
        .keys()
        .filter(|n| !new_index.contains_key(*n))
        .cloned()
        .collect();
    let mut memo: HashMap<(u32, u32), Vec<Change>> = HashMap::new();
    let mut cells = Vec::new();
    for from in &common {
        let (oi, ni) = (old_index[from], new_index[from]);
        for to in &common {
            let (oj, nj) = (old_index[to], new_index[to]);
            let key = (old_matrix.index[oi][oj], new_matrix.index[ni][nj]);
            let (Cell::Set(before, _), Cell::Set(after, _)) =
                (old_matrix.cell(oi, oj), new_matrix.cell(ni, nj))
            else {
                continue;
            };
            if before == after {
                continue;
            }
            let changes = memo
                .entry(key)
                .or_insert_with(|| {
                    let o = (EndpointRef::Known(oi), EndpointRef::Known(oj));
                    let n = (EndpointRef::Known(ni), EndpointRef::Known(nj));
                    changes(before, after, |what, other| {
                        let p = what.packet(other);
                        (
                            old.path(o.0, o.1).run(&p).decider,
                            new.path(n.0, n.1).run(&p).decider,
                        )
                    })
                })
                .clone();
            if changes.is_empty() {
                continue;
            }
            cells.push(CellChange {
                from: from.clone(),
                to: to.clone(),
                before: before.clone(),
                after: after.clone(),
                changes,
            });
        }
    }
    SemanticDiff {
        added,
        removed,
        common,
        cells,
        old: old_matrix,
        new: new_matrix,
        old_index,
        new_index,
    }
}

const PORT_PROTOCOLS: [Protocol; 3] = [Protocol::TCP, Protocol::UDP, Protocol::SCTP];

fn ports(set: &CellSet, p: Protocol) -> RangeSetBlaze<u16> {
    set.ports
        .get(&p)
        .map(|s| s.ranges().iter().map(|r| r.lo..=r.hi).collect())
        .unwrap_or_default()
}

/// ICMP of a set as `type * 256 + code`, keyed by the ICMP protocol of its family.
fn icmp(set: &CellSet) -> (Protocol, RangeSetBlaze<u16>) {
    let protocol = if set.family == Some(crate::ir::IpVersion::V6) {
        Protocol::ICMPV6
    } else {
        Protocol::ICMP
    };
    let runs = set
        .icmp
        .iter()
        .map(|&(t, lo, hi)| u16::from(t) * 256 + u16::from(lo)..=u16::from(t) * 256 + u16::from(hi))
        .collect();
    (protocol, runs)
}

/// The changed parts of a cell; `trace` gives the deciders of a part (`other`: a
/// protocol neither side names).
pub fn changes(
    before: &CellSet,
    after: &CellSet,
    mut trace: impl FnMut(&What, u8) -> (Decider, Decider),
) -> Vec<Change> {
    let named: BTreeSet<u8> = before
        .named_protocols
        .keys()
        .chain(after.named_protocols.keys())
        .copied()
        .collect();
    let special = [1u8, 6, 17, 58, 132];
    let other = (0..=255u8)
        .find(|p| !named.contains(p) && !special.contains(p))
        .unwrap_or(0);
    let mut parts: Vec<(What, bool, bool)> = Vec::new();
    for p in PORT_PROTOCOLS {
        let (o, n) = (ports(before, p), ports(after, p));
        let mut runs: Vec<(u16, u16, bool)> = (&n - &o)
            .ranges()
            .map(|r| (*r.start(), *r.end(), true))
            .chain((&o - &n).ranges().map(|r| (*r.start(), *r.end(), false)))
            .collect();
        runs.sort();
        for (lo, hi, gained) in runs {
            parts.push((
                What::Ports {
                    protocol: p,
                    lo,
                    hi,
                },
                !gained,
                gained,
            ));
        }
    }
    let ((op, o), (np, n)) = (icmp(before), icmp(after));
    let mut icmp_parts: Vec<(Protocol, u16, u16, bool)> = Vec::new();
    if op == np {
        icmp_parts.extend((&n - &o).ranges().map(|r| (np, *r.start(), *r.end(), true)));
        icmp_parts.extend(
            (&o - &n)
                .ranges()
                .map(|r| (op, *r.start(), *r.end(), false)),
        );
    } else {
        icmp_parts.extend(n.ranges().map(|r| (np, *r.start(), *r.end(), true)));
        icmp_parts.extend(o.ranges().map(|r| (op, *r.start(), *r.end(), false)));
    }
    icmp_parts.sort();
    for (protocol, lo, hi, gained) in icmp_parts {
        // Split a run of (type, code) at type boundaries.
        for t in (lo / 256)..=(hi / 256) {
            let a = if t == lo / 256 { lo % 256 } else { 0 };
            let b = if t == hi / 256 { hi % 256 } else { 255 };
            let what = What::Icmp {
                protocol,
                icmp_type: t as u8,
                lo: a as u8,
                hi: b as u8,
            };
            parts.push((what, !gained, gained));
        }
    }
    for &p in &named {
        let o = before
            .named_protocols
            .get(&p)
            .copied()
            .unwrap_or(before.other);
        let n = after
            .named_protocols
            .get(&p)
            .copied()
            .unwrap_or(after.other);
        if o != n {
            parts.push((What::Protocol(p), o, n));
        }
    }
    if before.other != after.other {
        parts.push((What::Other, before.other, after.other));
    }
    parts
        .into_iter()
        .map(|(what, before, after)| {
            let (before_decider, after_decider) = trace(&what, other);
            Change {
                what,
                before,
                after,
                before_decider,
                after_decider,
            }
        })
        .collect()
}
