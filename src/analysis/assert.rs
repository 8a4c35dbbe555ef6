//! Checking policy assertions (`polc test`): does every (or some) flow between two
//! sides have the expected verdict, on every listed port, exactly?
//!
//! Exact as `polc check` is: a side's endpoints are all enumerated (pairs that
//! policy cannot tell apart, by the matrix's endpoint classes, are evaluated once);
//! a CIDR side stands for each endpoint holding an address of it and one free address
//! per interval the model's CIDR boundaries cut it into ([`super::representatives`]),
//! so a claim holds on every address of the CIDR; a port range is cut where the
//! path's verdict can change ([`Engine::port_regions`]) and every client source port
//! region (32768–60999) is evaluated. A port counts as allowed only when every
//! source port is allowed and as denied only when every source port is denied.
//!
//! An endpoint to itself is never policed and is skipped, as are pairs that share no
//! IP family (no flow exists between them). A side that names no endpoint makes its
//! assertion fail: an assertion over nothing pins nothing.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::ir::{AssertPort, AssertSide, Assertion, Expect, IpVersion, Protocol, Quantifier};
use crate::ir::{SideKind, SideSpec};
use crate::semantics::matrix::Classes;
use crate::semantics::{EndpointKind, EndpointRef, Engine, FlowVerdict, Packet, family};

/// One flow that shows an assertion's outcome.
#[derive(Debug, Clone)]
pub struct Witness {
    /// The source.
    pub from: EndpointRef,
    /// The destination.
    pub to: EndpointRef,
    /// The first packet.
    pub packet: Packet,
    /// Its evaluation, with the trace.
    pub verdict: FlowVerdict,
    /// Whether the port's verdict depends on the client source port (some are
    /// allowed, some denied).
    pub mixed: bool,
}

/// The outcome of one assertion.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It holds.
    Holds {
        /// Pairs of endpoints (or addresses) checked.
        pairs: usize,
    },
    /// It fails.
    Fails {
        /// Why, in a sentence.
        reason: String,
        /// A flow with the wrong verdict (for `any`: one of the cases, none of which
        /// had the expected verdict).
        witness: Option<Witness>,
    },
}

impl Outcome {
    /// Whether the assertion holds.
    pub fn holds(&self) -> bool {
        matches!(self, Outcome::Holds { .. })
    }
}

/// Check every assertion, in order.
pub fn check(engine: &Engine<'_>, assertions: &[Assertion]) -> Vec<Outcome> {
    let mut owners: HashMap<IpAddr, usize> = HashMap::new();
    for (i, e) in engine.universe.endpoints.iter().enumerate() {
        for ip in &e.ips {
            owners.entry(*ip).or_insert(i);
        }
    }
    let mut classes = Classes::new(engine);
    assertions
        .iter()
        .map(|a| check_one(engine, &owners, &mut classes, a))
        .collect()
}

fn check_one(
    engine: &Engine<'_>,
    owners: &HashMap<IpAddr, usize>,
    classes: &mut Classes<'_, '_>,
    a: &Assertion,
) -> Outcome {
    let sides = (side(engine, owners, &a.from), side(engine, owners, &a.to));
    let (from, to) = match sides {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) => return fail(format!("`from`: {e}")),
        (_, Err(e)) => return fail(format!("`to`: {e}")),
    };
    let node = |r: EndpointRef| match r {
        EndpointRef::Known(i) => engine.universe.endpoints[i].node.as_deref(),
        EndpointRef::External(_) => None,
    };
    let mut seen = HashSet::new();
    let mut pairs = 0;
    let mut counter: Option<Witness> = None;
    for &r in &from {
        for &c in &to {
            if r == c || engine.addresses(r, c).is_none() {
                continue;
            }
            pairs += 1;
            let same_node = node(r).is_some() && node(r) == node(c);
            if !seen.insert((classes.class(r), classes.class(c), same_node)) {
                continue;
            }
            let path = engine.path(r, c);
            for port in &a.ports {
                for case in cases(engine, &path, *port) {
                    let wrong_sport = match a.expect {
                        Expect::Allowed => case.denied_from,
                        Expect::Denied => case.allowed_from,
                    };
                    let Some(sport) = wrong_sport else {
                        if a.quantifier == Quantifier::Any {
                            return Outcome::Holds { pairs };
                        }
                        continue;
                    };
                    let mut packet = case.packet;
                    if packet.protocol.has_ports() {
                        packet.sport = sport;
                    }
                    let witness = Witness {
                        from: r,
                        to: c,
                        packet,
                        verdict: path.run(&packet),
                        mixed: case.allowed_from.is_some() && case.denied_from.is_some(),
                    };
                    if a.quantifier == Quantifier::All {
                        let reason = match a.expect {
                            Expect::Allowed => "a flow that must be allowed is denied",
                            Expect::Denied => "a flow that must be denied is allowed",
                        };
                        return Outcome::Fails {
                            reason: reason.to_string(),
                            witness: Some(witness),
                        };
                    }
                    counter.get_or_insert(witness);
                }
            }
        }
    }
    if pairs == 0 {
        return fail(
            "no flow exists between the two sides (every pair is one endpoint, or shares no IP family)"
                .to_string(),
        );
    }
    match a.quantifier {
        Quantifier::All => Outcome::Holds { pairs },
        Quantifier::Any => Outcome::Fails {
            reason: format!(
                "none of the {pairs} pairs has a flow {} on these ports",
                match a.expect {
                    Expect::Allowed => "allowed",
                    Expect::Denied => "denied",
                }
            ),
            witness: counter,
        },
    }
}

fn fail(reason: String) -> Outcome {
    Outcome::Fails {
        reason,
        witness: None,
    }
}

/// Destination ports over which the verdict is constant, with a first packet and the
/// client source ports it is allowed and denied from.
struct Case {
    packet: Packet,
    allowed_from: Option<u16>,
    denied_from: Option<u16>,
}

fn cases(engine: &Engine<'_>, path: &crate::semantics::Path<'_>, port: AssertPort) -> Vec<Case> {
    match port {
        AssertPort::Ports(protocol, range) => engine
            .port_regions(path, protocol, range)
            .into_iter()
            .map(|r| Case {
                packet: Packet::to_port(protocol, r.dports.lo),
                allowed_from: r.allowed_from,
                denied_from: r.denied_from,
            })
            .collect(),
        AssertPort::Icmp(_) => {
            let v6 = path.src_ip.map(family) == Some(IpVersion::V6);
            let protocol = if v6 { Protocol::ICMPV6 } else { Protocol::ICMP };
            let packet = Packet::to_port(protocol, 0);
            let allowed = path.allows(&packet);
            vec![Case {
                packet,
                allowed_from: allowed.then_some(0),
                denied_from: (!allowed).then_some(0),
            }]
        }
    }
}

/// The endpoints (and free addresses) a side stands for, in a fixed order.
fn side(
    engine: &Engine<'_>,
    owners: &HashMap<IpAddr, usize>,
    s: &AssertSide,
) -> Result<Vec<EndpointRef>, String> {
    let u = &engine.universe;
    let out: Vec<EndpointRef> = match &s.what {
        SideSpec::Name(n) => vec![u.resolve(engine.model, n)?],
        SideSpec::Cidr(net) => {
            let mut v: Vec<EndpointRef> = super::representatives(engine, *net)
                .into_iter()
                .map(|ip| {
                    owners
                        .get(&ip)
                        .map_or(EndpointRef::External(ip), |&i| EndpointRef::Known(i))
                })
                .collect();
            let mut seen = HashSet::new();
            v.retain(|r| seen.insert(*r));
            v
        }
        SideSpec::Select {
            selector,
            namespace,
            kind,
        } => (0..u.endpoints.len())
            .filter(|&i| {
                let e = &u.endpoints[i];
                let kind_ok = match kind {
                    None => true,
                    Some(SideKind::Pod) => e.kind == EndpointKind::Pod,
                    Some(SideKind::Host) => e.kind == EndpointKind::Host,
                };
                let ns_ok = namespace
                    .as_ref()
                    .is_none_or(|ns| e.pod.is_some_and(|p| engine.model.pods[p].namespace == *ns));
                let sel_ok = selector
                    .as_ref()
                    .is_none_or(|sel| sel.matches(u.labels(e.labels)));
                kind_ok && ns_ok && sel_ok
            })
            .map(EndpointRef::Known)
            .collect(),
    };
    if out.is_empty() {
        return Err("selects no endpoint of the input".to_string());
    }
    Ok(out)
}
