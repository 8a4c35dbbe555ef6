//! The host's side of a connection into a host endpoint: its ingress stages
//! (untracked, pre-DNAT, normal, each behind the inbound failsafe ports) as the
//! evaluator compiles them, run for classes of sources and host endpoints that those
//! stages cannot tell apart.
//!
//! What the stages see of a source is its address family, which of the stages'
//! selectors its address holders match, which of their networks hold the address,
//! and its named ports; of the host endpoint, its labels (who selects it), profiles,
//! interface, failsafe ports, named ports and the same for its address. Endpoints
//! equal in all of that get one evaluation, so the work follows distinct signatures,
//! not pods × host endpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::ir::{FailsafePort, IpVersion, NamedPort, PortMatch, Protocol, Rule};
use crate::selector::Expr;
use crate::semantics::{
    Decider, Direction, Engine, LabelSetId, Outcome, Packet, SelectorOracle, Side, Traffic, family,
};

/// The selectors and networks a host endpoint's ingress stages look at.
struct Relevant<'m> {
    selectors: Vec<&'m Expr>,
    nets: Vec<IpNet>,
}

impl<'m> Relevant<'m> {
    fn new(engine: &Engine<'m>, hep_ep: usize, failsafe: &[FailsafePort]) -> Relevant<'m> {
        let model: &'m crate::ir::Model = engine.model;
        let ep = &engine.universe.endpoints[hep_ep];
        let mut rules: Vec<&'m Rule> = engine
            .selecting(ep.labels)
            .iter()
            .flat_map(|&p| model.policies[p].ingress.iter())
            .collect();
        if let Some(h) = ep.hep {
            for name in &model.host_endpoints[h].profiles {
                if let Some(p) = model.profiles.iter().find(|p| &p.name == name) {
                    rules.extend(p.ingress.iter());
                }
            }
        }
        let mut seen = BTreeSet::new();
        let mut selectors = Vec::new();
        let mut nets = BTreeSet::new();
        for r in rules {
            for e in [&r.source, &r.destination] {
                for s in e.selector.iter().chain(&e.not_selector) {
                    if seen.insert(&**s as *const Expr as usize) {
                        selectors.push(&**s);
                    }
                }
                nets.extend(e.nets.iter().chain(&e.not_nets).copied());
            }
        }
        nets.extend(failsafe.iter().filter_map(|f| f.net));
        Relevant {
            selectors,
            nets: nets.into_iter().collect(),
        }
    }

    /// What the stages see of one address.
    fn signature(&self, engine: &Engine<'_>, ip: IpAddr) -> (IpVersion, Vec<bool>) {
        let holders = engine.universe.holders(ip);
        let mut sig: Vec<bool> = self
            .selectors
            .iter()
            .map(|s| holders.iter().any(|h| engine.matches(s, *h)))
            .collect();
        sig.extend(self.nets.iter().map(|n| n.contains(&ip)));
        (family(ip), sig)
    }
}

/// What the stages see of an endpoint: per family, the signature of its first
/// address of that family.
fn addresses(engine: &Engine<'_>, rel: &Relevant<'_>, ips: &[IpAddr]) -> AddressKey {
    [IpVersion::V4, IpVersion::V6]
        .into_iter()
        .filter_map(|f| ips.iter().find(|ip| family(**ip) == f))
        .map(|ip| rel.signature(engine, *ip))
        .collect()
}

/// Host endpoints the stages cannot tell apart.
pub(super) struct HostGroup<'m> {
    /// Universe indices, sorted.
    pub members: Vec<usize>,
    relevant: Relevant<'m>,
    /// Source classes: universe indices, sorted, each list non-empty.
    sources: Option<Vec<Vec<usize>>>,
}

/// The ingress side of a set of host endpoints.
pub(super) struct HostSide<'e, 'm> {
    engine: &'e Engine<'m>,
    /// The groups.
    pub groups: Vec<HostGroup<'m>>,
}

/// What the stages see of an endpoint's addresses.
type AddressKey = Vec<(IpVersion, Vec<bool>)>;

type GroupKey = (
    LabelSetId,
    Vec<String>,
    bool,
    Vec<FailsafePort>,
    Vec<NamedPort>,
    AddressKey,
);

impl<'e, 'm> HostSide<'e, 'm> {
    /// Group host endpoints (universe indices).
    pub fn new(engine: &'e Engine<'m>, heps: &[usize]) -> HostSide<'e, 'm> {
        let model = engine.model;
        let mut keys: BTreeMap<GroupKey, usize> = BTreeMap::new();
        let mut groups: Vec<HostGroup<'m>> = Vec::new();
        for &h in heps {
            let ep = &engine.universe.endpoints[h];
            let Some(hi) = ep.hep else { continue };
            let hep = &model.host_endpoints[hi];
            let failsafe = model.felix.failsafe_inbound(&hep.node);
            let relevant = Relevant::new(engine, h, &failsafe);
            let key = (
                ep.labels,
                hep.profiles.clone(),
                engine.untracked_applies(h),
                failsafe,
                ep.ports.clone(),
                addresses(engine, &relevant, &ep.ips),
            );
            match keys.get(&key) {
                Some(&g) => groups[g].members.push(h),
                None => {
                    keys.insert(key, groups.len());
                    groups.push(HostGroup {
                        members: vec![h],
                        relevant,
                        sources: None,
                    });
                }
            }
        }
        HostSide { engine, groups }
    }

    /// The classes of `sources` (universe indices) for group `g`, computed once.
    pub fn sources(&mut self, g: usize, sources: &[usize]) -> &[Vec<usize>] {
        let engine = self.engine;
        let group = &mut self.groups[g];
        group.sources.get_or_insert_with(|| {
            let mut classes: BTreeMap<(AddressKey, Vec<NamedPort>), Vec<usize>> = BTreeMap::new();
            for &s in sources {
                let ep = &engine.universe.endpoints[s];
                let key = (
                    addresses(engine, &group.relevant, &ep.ips),
                    ep.ports.clone(),
                );
                classes.entry(key).or_default().push(s);
            }
            let mut v: Vec<Vec<usize>> = classes.into_values().collect();
            v.sort();
            v
        })
    }

    /// Whether ingress rule `index` of policy `policy` admits some packet from
    /// endpoint `src` to host endpoint `hep` (universe indices): the first of the
    /// host endpoint's ingress stages to decide allows, and this rule decided it.
    pub fn admits(&self, src: usize, hep: usize, policy: usize, index: usize) -> bool {
        let engine = self.engine;
        let model = engine.model;
        let rule = &model.policies[policy].ingress[index];
        let (s, d) = (
            &engine.universe.endpoints[src],
            &engine.universe.endpoints[hep],
        );
        let Some((src_ip, dst_ip)) = [IpVersion::V4, IpVersion::V6].into_iter().find_map(|f| {
            let a = s.ips.iter().find(|ip| family(**ip) == f)?;
            let b = d.ips.iter().find(|ip| family(**ip) == f)?;
            Some((*a, *b))
        }) else {
            return false;
        };
        let (src_holders, dst_holders) = (
            engine.universe.holders(src_ip),
            engine.universe.holders(dst_ip),
        );
        let src_side = Side {
            ip: src_ip,
            holders: &src_holders,
            ports: &s.ports,
            owner: Some(s.labels),
        };
        let dst_side = Side {
            ip: dst_ip,
            holders: &dst_holders,
            ports: &d.ports,
            owner: Some(d.labels),
        };
        let stages: Vec<_> = engine
            .stages(hep, Traffic::ToHost)
            .into_iter()
            .map(|(ep, st)| engine.compile_stage(ep, st, Direction::Ingress, &src_side, &dst_side))
            .collect();
        let rules: Vec<&Rule> = stages.iter().flat_map(|p| p.rules()).collect();
        let failsafe: Vec<FailsafePort> = stages
            .iter()
            .flat_map(|p| p.failsafe.iter().copied())
            .collect();
        for packet in candidates(rule, family(src_ip), &rules, &failsafe, &d.ports) {
            for program in &stages {
                let t = program.run(&packet, &s.ports, &d.ports);
                match t.outcome {
                    Outcome::NoVerdict => continue,
                    Outcome::Deny => break,
                    Outcome::Allow => {
                        if matches!(t.decider, Decider::Rule { policy: p, direction: Direction::Ingress, index: i, .. } if p == policy && i == index)
                        {
                            return true;
                        }
                        break;
                    }
                }
            }
        }
        false
    }
}

/// Packets of the kinds `rule` matches, one per region of the destination-port space
/// that the stages' rules, failsafe ports and named ports draw (the verdict is
/// constant within a region).
fn candidates(
    rule: &Rule,
    fam: IpVersion,
    rules: &[&Rule],
    failsafe: &[FailsafePort],
    dst_ports: &[NamedPort],
) -> Vec<Packet> {
    let icmp = if fam == IpVersion::V6 {
        Protocol::ICMPV6
    } else {
        Protocol::ICMP
    };
    let protocols = match rule.protocol {
        Some(p) => vec![p],
        None => vec![Protocol::TCP, Protocol::UDP, Protocol::SCTP, icmp],
    };
    let sport = rule
        .source
        .ports
        .iter()
        .find_map(|p| match p {
            PortMatch::Range(r) => Some(r.lo),
            PortMatch::Named(_) => None,
        })
        .unwrap_or(Packet::EPHEMERAL_SPORT);
    let mut out = Vec::new();
    for protocol in protocols {
        if !protocol.has_ports() {
            let mut p = Packet::to_port(protocol, 0);
            if protocol.is_icmp()
                && let Some(m) = rule.icmp
            {
                p.icmp = Some((m.type_, m.code.unwrap_or(0)));
            }
            out.push(p);
            continue;
        }
        let mut cuts: BTreeSet<u32> = BTreeSet::from([1]);
        let mut cut = |lo: u16, hi: u16| {
            cuts.insert(u32::from(lo));
            cuts.insert(u32::from(hi) + 1);
        };
        for r in rules {
            for item in r.destination.ports.iter().chain(&r.destination.not_ports) {
                if let PortMatch::Range(range) = item {
                    cut(range.lo, range.hi);
                }
            }
        }
        for f in failsafe {
            cut(f.port, f.port);
        }
        for p in dst_ports {
            cut(p.port, p.port);
        }
        out.extend(
            cuts.into_iter()
                .filter_map(|c| u16::try_from(c).ok())
                .map(|dport| Packet {
                    protocol,
                    sport,
                    dport,
                    icmp: None,
                }),
        );
    }
    out
}
