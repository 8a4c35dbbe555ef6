//! One node's base chains: which hook runs which stage in which order, the dispatch
//! to local pods (by address) and host endpoints (by interface), and the fixed rules
//! Felix puts around policy (conntrack, loopback, tunnels, workload ICMPv6).

use std::net::IpAddr;

use super::naming::{dir_tag, family_tag};
use super::{Builder, Marks, Resolver};
use crate::backend::model::{
    Base, Chain, CtState, Elements, Hook, IfaceDir, Match, NodeModel, Rule, Side, Verdict,
    VerdictMap,
};
use crate::backend::names::comment;
use crate::ir::{FailsafePort, IpVersion};
use crate::semantics::{
    Direction, EncapDrop, EndpointKind, Iface, PacketGuard, Stage, Tunnel, WorkloadToHostPlan,
};
use crate::source::Sources;

/// A pod's egress drops encapsulated packets before its tiers
/// (`endpointIptablesChain`, `felix/rules/endpoints.go`).
pub(super) fn encap_rules(encap: &EncapDrop) -> Vec<Rule> {
    encap
        .guards()
        .into_iter()
        .map(|(g, e)| {
            let about = format!("{} from a workload: {} is false", e.name(), e.setting());
            Rule::new(vec![guard_match(&g)], Verdict::Drop, about)
        })
        .collect()
}

/// The match of a fixed packet guard.
fn guard_match(g: &PacketGuard) -> Match {
    match *g {
        PacketGuard::UdpDport(port) => Match::ProtocolPort {
            protocol: crate::ir::Protocol::UDP,
            side: Side::Destination,
            port,
        },
        PacketGuard::Protocol(protocol) => Match::Protocol {
            protocol,
            negate: false,
        },
        PacketGuard::Icmpv6Types(types) => Match::Icmpv6Types(types.to_vec()),
    }
}

/// Accept rules for failsafe entries matched by destination port (or, for `reply`,
/// by source port); an entry's net is the remote side (the source of inbound
/// packets, the destination of outbound ones).
pub(super) fn failsafe_rules(list: &[FailsafePort], dir: Direction, reply: bool) -> Vec<Rule> {
    let port_side = if reply {
        Side::Source
    } else {
        Side::Destination
    };
    let (one, many) = if reply {
        ("failsafe reply", "failsafe replies")
    } else {
        ("failsafe port", "failsafe ports")
    };
    let mut plain: Vec<(crate::ir::Protocol, u16)> = Vec::new();
    for f in list.iter().filter(|f| f.net.is_none()) {
        if !plain.contains(&(f.protocol, f.port)) {
            plain.push((f.protocol, f.port));
        }
    }
    let mut out = Vec::new();
    if !plain.is_empty() {
        let m = Match::ProtocolPorts {
            side: port_side,
            pairs: plain,
        };
        out.push(Rule::new(vec![m], Verdict::Accept, many));
    }
    let remote = if dir == Direction::Ingress {
        Side::Source
    } else {
        Side::Destination
    };
    for f in list {
        let Some(net) = f.net else { continue };
        let family = if net.addr().is_ipv4() {
            IpVersion::V4
        } else {
            IpVersion::V6
        };
        let m = vec![
            Match::Net { side: remote, net },
            Match::ProtocolPort {
                protocol: f.protocol,
                side: port_side,
                port: f.port,
            },
        ];
        out.push(Rule::new(m, Verdict::Accept, one).only(family));
    }
    out
}

/// Felix's host tunnel rules of `node` (`Engine::tunnel_rules`), for filter INPUT
/// (first, before the pods' dispatch) and OUTPUT (before the host endpoints'), with
/// the Calico hosts' addresses as sets.
fn tunnel_rules(b: &mut Builder<'_, '_>, node: &str) -> (Vec<Rule>, Vec<Rule>) {
    let engine = b.engine;
    let (mut input, mut output) = (Vec::new(), Vec::new());
    for family in b.families.clone() {
        let v4 = family == IpVersion::V4;
        let name = format!("calico-hosts.{}", family_tag(family));
        for (inbound, out, side) in [
            (true, &mut input, Side::Source),
            (false, &mut output, Side::Destination),
        ] {
            for peer in [true, false] {
                for r in engine.tunnel_rules(node, inbound, v4, peer) {
                    // Rules for Calico-host peers match the hosts' set, WireGuard
                    // (from anyone) and the drops the rest.
                    let first = match (peer, r.tunnel) {
                        (true, Tunnel::Wireguard) => continue,
                        (true, _) => {
                            hosts_set(b, &name, family);
                            Match::AddrSet {
                                side,
                                family,
                                set: name.clone(),
                                negate: false,
                            }
                        }
                        (false, _) => Match::Family(family),
                    };
                    let verdict = if r.accept {
                        Verdict::Accept
                    } else {
                        Verdict::Drop
                    };
                    let about = format!("{} tunnel, before host-endpoint policy", r.tunnel.name());
                    let m = vec![first, guard_match(&r.guard)];
                    out.push(Rule::new(m, verdict, about).only(family));
                }
            }
        }
    }
    (input, output)
}

/// The set of the Calico hosts' addresses of one family (made once).
fn hosts_set(b: &mut Builder<'_, '_>, name: &str, family: IpVersion) {
    if b.sets.contains_key(name) {
        return;
    }
    let v4 = family == IpVersion::V4;
    let mut all: Vec<IpAddr> = b
        .engine
        .calico_hosts()
        .filter(|a| a.is_ipv4() == v4)
        .collect();
    all.sort();
    all.dedup();
    let about = "addresses of the Calico hosts";
    b.add_set(name, Some(family), Elements::Hosts(all), about);
}

/// ICMPv6 a pod sends its own host that Felix accepts before the pod's egress
/// policy and `defaultEndpointToHostAction` (`ICMPv6Filter`,
/// `felix/rules/static.go`), matched by workload interface: neighbour discovery
/// often comes from the pod's link-local address, which no pod set holds.
fn workload_icmpv6_rules(plan: &WorkloadToHostPlan) -> Vec<Rule> {
    plan.interface_prefixes
        .iter()
        .map(|prefix| {
            let m = vec![
                Match::Iface {
                    dir: IfaceDir::In,
                    name: comment(prefix, 15),
                    prefix: true,
                    negate: false,
                },
                Match::Icmpv6Types(plan.icmpv6_accept.to_vec()),
            ];
            let about = "workload ICMPv6 ND and MLD to this host, before policy";
            Rule::new(m, Verdict::Accept, about).only(IpVersion::V6)
        })
        .collect()
}

/// Replies and established flows: accepted first in every filter hook and in mangle
/// PREROUTING (`StaticManglePreroutingChain`, `felix/rules/static.go`), so a pre-DNAT
/// Deny never drops the replies of connections the host opened. INVALID is dropped
/// only in the endpoint chains.
fn ct() -> Vec<Rule> {
    let m = vec![Match::Ct(CtState::EstablishedRelated)];
    vec![Rule::new(
        m,
        Verdict::Accept,
        "replies and established flows",
    )]
}

/// A rule per family sending a local pod's packets to its chain (`map` is `wl-in`
/// or `wl-eg`).
fn pod_maps(map: &str, side: Side, about: &str) -> Vec<Rule> {
    [IpVersion::V4, IpVersion::V6]
        .into_iter()
        .map(|f| {
            let map = format!("{map}.{}", family_tag(f));
            Rule::new(vec![], Verdict::Map { side, map }, about).only(f)
        })
        .collect()
}

/// A rule per family matching the local pods' addresses on `side`.
fn local_pods(side: Side, verdict: Verdict, about: &str) -> Vec<Rule> {
    [IpVersion::V4, IpVersion::V6]
        .into_iter()
        .map(|family| {
            let m = Match::AddrSet {
                side,
                family,
                set: format!("local-pods.{}", family_tag(family)),
                negate: false,
            };
            Rule::new(vec![m], verdict.clone(), about).only(family)
        })
        .collect()
}

/// The rule accepting loopback on `dir` when no host endpoint owns `lo`.
fn loopback(dir: IfaceDir) -> Rule {
    let m = Match::Iface {
        dir,
        name: "lo".into(),
        prefix: false,
        negate: false,
    };
    Rule::new(
        vec![m],
        Verdict::Accept,
        "loopback: no host endpoint owns it",
    )
}

/// Pods on `node`: their local-address sets and the dispatch maps of both
/// directions. An error when two pods hold one address.
fn pods(b: &mut Builder<'_, '_>, node: &str) -> Result<Vec<VerdictMap>, String> {
    let u = &b.engine.universe;
    let pods: Vec<usize> = (0..u.endpoints.len())
        .filter(|&i| {
            u.endpoints[i].kind == EndpointKind::Pod && u.endpoints[i].node.as_deref() == Some(node)
        })
        .collect();
    let mut maps = Vec::new();
    for family in [IpVersion::V4, IpVersion::V6] {
        let fam = |ip: &IpAddr| ip.is_ipv4() == (family == IpVersion::V4);
        let mut local: Vec<IpAddr> = pods
            .iter()
            .flat_map(|&i| u.endpoints[i].ips.iter().filter(|ip| fam(ip)).copied())
            .collect();
        local.sort();
        local.dedup();
        let name = format!("local-pods.{}", family_tag(family));
        b.add_set(
            &name,
            Some(family),
            Elements::Hosts(local),
            &format!("pods on {node}"),
        );
        for dir in [Direction::Egress, Direction::Ingress] {
            let mut elements = Vec::new();
            for &i in &pods {
                let chain = b.endpoint_chain(i, Stage::Normal, dir);
                for ip in u.endpoints[i].ips.iter().filter(|ip| fam(ip)) {
                    elements.push((ip.to_string(), *ip, chain.clone()));
                }
            }
            elements.sort();
            elements.dedup();
            if let Some(w) = elements.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(format!(
                    "two pods on node {node} hold address {}: give each pod its own address",
                    w[0].0
                ));
            }
            let what = if dir == Direction::Egress {
                "egress"
            } else {
                "ingress"
            };
            maps.push(VerdictMap {
                name: format!("wl-{}.{}", dir_tag(dir), family_tag(family)),
                family,
                side: if dir == Direction::Egress {
                    Side::Source
                } else {
                    Side::Destination
                },
                comment: format!("pods on this node by address: the chain of their {what} policy"),
                elements: elements.into_iter().map(|(_, ip, c)| (ip, c)).collect(),
            });
        }
    }
    Ok(maps)
}

/// The model of one node.
pub fn build(
    resolver: &Resolver<'_, '_>,
    sources: &Sources,
    node: &str,
    marks: Marks,
) -> Result<NodeModel, String> {
    let engine = resolver.engine;
    let mut b = Builder::new(resolver, sources, marks);
    b.families = [IpVersion::V4, IpVersion::V6]
        .into_iter()
        .filter(|f| {
            engine
                .universe
                .endpoints
                .iter()
                .filter(|e| e.node.as_deref() == Some(node))
                .any(|e| e.ips.iter().any(|ip| ip.is_ipv4() == (*f == IpVersion::V4)))
        })
        .collect();
    let maps = pods(&mut b, node)?;
    let bases = base_chains(&mut b, node);
    if let Some(clash) = b.clash.take() {
        return Err(clash);
    }
    let chains = bases
        .into_iter()
        .chain(std::mem::take(&mut b.chains).into_values())
        .collect();
    Ok(NodeModel {
        node: node.to_string(),
        families: b.families.clone(),
        sets: std::mem::take(&mut b.sets).into_values().collect(),
        maps,
        chains,
    })
}

/// The base chains, in hook and stage order. Host endpoints: each table dispatches
/// by interface to its owner (see `semantics::ifaces`), first match (`goto`), as
/// Felix's dispatch chains do.
fn base_chains(b: &mut Builder<'_, '_>, node: &str) -> Vec<Chain> {
    let engine = b.engine;
    let ifs = engine.node_ifaces(node);
    let (ingress, egress) = (Direction::Ingress, Direction::Egress);
    let raw_in = b.dispatch(&ifs.raw, Stage::Untracked, ingress);
    let raw_out = b.dispatch(&ifs.raw, Stage::Untracked, egress);
    let pre_in = b.dispatch(&ifs.mangle, Stage::PreDnat, ingress);
    let hep_in = b.dispatch(&ifs.filter, Stage::Normal, ingress);
    let hep_out = b.dispatch(&ifs.filter, Stage::Normal, egress);
    let fwd_in = b.dispatch(&ifs.filter, Stage::Forward, ingress);
    let fwd_out = b.dispatch(&ifs.filter, Stage::Forward, egress);
    // `lo` is policed only when an endpoint owns it (`*`, or one named `lo`).
    let lo_owned = ifs.filter.owner(&Iface::Loopback).is_some();

    let mut bases: Vec<Chain> = Vec::new();
    let mut base = |name: &str, hook: Hook, stage: i32, about: &str, rules: Vec<Rule>| {
        bases.push(Chain {
            name: name.to_string(),
            base: Some(Base { hook, stage }),
            comment: comment(about, 120),
            rules,
        });
    };
    if !raw_in.is_empty() {
        let about = "untracked policy of host endpoints, inbound";
        base("raw-prerouting", Hook::RawPrerouting, 0, about, raw_in);
        let about = "untracked policy of host endpoints, outbound";
        base("raw-output", Hook::RawOutput, 0, about, raw_out);
    }
    if !pre_in.is_empty() {
        let mut rules = ct();
        rules.extend(pre_in);
        let about = "pre-DNAT policy of host endpoints";
        base("mangle-prerouting", Hook::ManglePrerouting, 0, about, rules);
    }
    // Pods' ICMPv6 discovery to this host comes first (IPv6 nodes only).
    let to_host = engine.workload_to_host(node);
    let wl_icmpv6 = if b.families.contains(&IpVersion::V6) {
        workload_icmpv6_rules(&to_host)
    } else {
        Vec::new()
    };
    let (tunnel_in, tunnel_out) = tunnel_rules(b, node);
    let mut input = tunnel_in.clone();
    input.extend(wl_icmpv6.clone());
    input.extend(ct());
    input.extend(pod_maps(
        "wl-eg",
        Side::Source,
        "a local pod to this host: its egress policy",
    ));
    if !lo_owned {
        input.push(loopback(IfaceDir::In));
    }
    input.extend(hep_in);
    let about = "to this host: egress of local pods, then host endpoint ingress";
    base("filter-input", Hook::Input, 0, about, input);
    if to_host.action == crate::ir::EndpointToHostAction::Drop {
        let mut rules = tunnel_in;
        rules.extend(wl_icmpv6);
        rules.extend(ct());
        let about = "defaultEndpointToHostAction Drop";
        rules.extend(local_pods(Side::Source, Verdict::Drop, about));
        base(
            "filter-input-wl",
            Hook::Input,
            1,
            "local pods to this host",
            rules,
        );
    }
    let mut output = ct();
    if !lo_owned {
        output.push(loopback(IfaceDir::Out));
    }
    let about = "this host to its own pods: never policed";
    output.extend(local_pods(Side::Destination, Verdict::Accept, about));
    output.extend(tunnel_out);
    output.extend(hep_out);
    base(
        "filter-output",
        Hook::Output,
        0,
        "from this host: host endpoint egress",
        output,
    );
    let mut fwd = ct();
    fwd.extend(pod_maps("wl-eg", Side::Source, "egress of local pods"));
    base(
        "filter-forward",
        Hook::Forward,
        0,
        "forwarded: egress of local pods",
        fwd,
    );
    if !fwd_out.is_empty() {
        let mut rules = ct();
        rules.extend(fwd_out);
        let about = "applyOnForward egress of the host endpoint owning the outgoing interface";
        base("filter-forward-hep-out", Hook::Forward, 1, about, rules);
    }
    if !fwd_in.is_empty() {
        let mut rules = ct();
        rules.extend(fwd_in);
        let about = "applyOnForward ingress of the host endpoint owning the incoming interface";
        base("filter-forward-hep-in", Hook::Forward, 2, about, rules);
    }
    let mut wl_in = ct();
    wl_in.extend(pod_maps(
        "wl-in",
        Side::Destination,
        "ingress of local pods",
    ));
    base(
        "filter-forward-wl",
        Hook::Forward,
        3,
        "forwarded: ingress of local pods",
        wl_in,
    );
    bases
}
