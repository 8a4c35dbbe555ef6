//! `failsafe-lockout`: a FelixConfiguration takes TCP 22 out of the inbound failsafe
//! ports (or empties the list) while host policy denies SSH to a host endpoint from
//! outside the cluster.
//!
//! The failsafe ports exist so that a policy mistake cannot cut the operators off a
//! node. Without TCP 22 among them, policy alone decides SSH. The lint evaluates an
//! SSH connection (TCP 22) from outside the cluster to the host endpoint, with the
//! evaluator, from one address of every network the policies, network sets and
//! failsafe entries name, plus a documentation address (192.0.2.1, 2001:db8::1)
//! standing for the rest of the Internet. It reports a lockout when every one of them
//! is denied: a policy that admits SSH from an admin network is a deliberate choice,
//! not a lockout. Sources inside the cluster (pods, other hosts) are not tried: that
//! hosts reach each other does not let an operator in.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::inventory::Inventory;
use super::words::{SHOWN, count};
use crate::diag::Diagnostic;
use crate::ir::{FelixSettings, IpVersion, Protocol};
use crate::semantics::{Decider, EndpointKind, EndpointRef, Packet, family};

/// The FelixConfiguration whose inbound failsafe list is in force on a node, with its
/// name, if the input sets one.
fn inbound_source<'m>(
    felix: &'m crate::ir::FelixConfig,
    node: &str,
) -> Option<(String, &'m FelixSettings)> {
    if let Some(s) = felix
        .nodes
        .get(node)
        .filter(|s| s.failsafe_inbound.is_some())
    {
        return Some((format!("node.{node}"), s));
    }
    felix
        .global
        .failsafe_inbound
        .is_some()
        .then(|| ("default".to_string(), &felix.global))
}

/// One address of every network the model names, per family, plus a documentation
/// address for everything else.
fn outside_addresses(inv: &Inventory<'_, '_>) -> Vec<IpAddr> {
    let m = inv.model();
    let mut nets: BTreeSet<IpNet> = m
        .policies
        .iter()
        .flat_map(|p| p.ingress.iter())
        .chain(m.profiles.iter().flat_map(|p| p.ingress.iter()))
        .flat_map(|r| r.source.nets.iter().chain(&r.source.not_nets))
        .copied()
        .collect();
    nets.extend(m.network_sets.iter().flat_map(|s| s.nets.iter().copied()));
    let failsafe = std::iter::once(&m.felix.global)
        .chain(m.felix.nodes.values())
        .flat_map(|s| s.failsafe_inbound.iter().flatten())
        .filter_map(|f| f.net);
    nets.extend(failsafe);
    let mut out: BTreeSet<IpAddr> = nets.iter().map(IpNet::network).collect();
    out.insert(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    out.insert(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)));
    // Addresses that belong to the inventory are not "outside".
    out.into_iter()
        .filter(|ip| {
            !inv.engine
                .universe
                .endpoints
                .iter()
                .any(|e| e.ips.contains(ip))
        })
        .collect()
}

/// Report every host endpoint that SSH can no longer reach.
pub(super) fn check(inv: &Inventory<'_, '_>, out: &mut Vec<Diagnostic>) {
    let model = inv.model();
    let engine = inv.engine;
    let mut sources: Option<Vec<IpAddr>> = None;
    let ssh = Packet::to_port(Protocol::TCP, 22);
    for h in inv.of_kind(EndpointKind::Host) {
        let ep = inv.endpoint(h);
        let Some(hi) = ep.hep else { continue };
        let hep = &model.host_endpoints[hi];
        let Some((felix_name, settings)) = inbound_source(&model.felix, &hep.node) else {
            continue;
        };
        let list = settings.failsafe_inbound.as_deref().unwrap_or_default();
        if list
            .iter()
            .any(|f| f.protocol == Protocol::TCP && f.port == 22 && f.net.is_none())
        {
            continue;
        }
        let families: BTreeSet<IpVersion> = ep.ips.iter().map(|ip| family(*ip)).collect();
        let candidates: Vec<IpAddr> = sources
            .get_or_insert_with(|| outside_addresses(inv))
            .iter()
            .copied()
            .filter(|ip| families.contains(&family(*ip)))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let mut denied = Vec::new();
        let mut allowed = false;
        for ip in &candidates {
            let v = engine.evaluate(EndpointRef::External(*ip), EndpointRef::Known(h), &ssh);
            if v.allowed {
                allowed = true;
                break;
            }
            denied.push((*ip, v.decider));
        }
        if allowed {
            continue;
        }
        let partial = list
            .iter()
            .any(|f| f.protocol == Protocol::TCP && f.port == 22);
        let what = if list.is_empty() {
            "empties the inbound failsafe ports"
        } else if partial {
            "keeps TCP 22 among the inbound failsafe ports only for some networks"
        } else {
            "takes TCP 22 out of the inbound failsafe ports"
        };
        let mut d = Diagnostic::warning(
            "failsafe-lockout",
            format!(
                "FelixConfiguration `{felix_name}` {what}, and host policy denies SSH to host endpoint `{}` from outside the cluster: a policy mistake would lock operators out of node `{}`",
                hep.name, hep.node
            ),
        )
        .at(settings.span.unwrap_or(hep.span));
        if settings.span.is_some() {
            d = d
                .label(if partial {
                    "TCP 22 is failsafe only for some networks"
                } else {
                    "TCP 22 is not a failsafe port"
                })
                .related(
                    hep.span,
                    format!("host endpoint `{}` on node `{}`", hep.name, hep.node),
                );
        }
        let mut related_deciders = BTreeSet::new();
        if denied.len() > 1 {
            d = d.with_note(format!(
                "polc tried {}: one in every network the policies, network sets and failsafe entries name, and a documentation address for the rest; none may connect",
                count(denied.len(), "outside address", "outside addresses")
            ));
        }
        for (ip, decider) in denied.iter().take(SHOWN) {
            d = d.with_note(format!(
                "SSH (TCP 22) from {ip}: denied by {}",
                describe(inv, decider)
            ));
            if let Some(span) = decider_span(inv, decider)
                && related_deciders.insert(span)
            {
                d = d.related(span, "denies SSH from outside");
            }
        }
        out.push(d.help(
            "keep TCP 22 in `failsafeInboundHostPorts` (it may be limited to an admin network: `{protocol: TCP, port: 22, net: 10.0.0.0/8}`), or allow SSH from an admin network in host policy",
        ));
    }
}

/// What denied, in words.
fn describe(inv: &Inventory<'_, '_>, d: &Decider) -> String {
    let m = inv.model();
    match d {
        Decider::Rule {
            policy,
            direction,
            index,
            action,
        } => format!(
            "the {action} of {} rule {index} of {}",
            super::words::direction(*direction),
            m.policies[*policy].id
        ),
        Decider::TierDefault { tier } => {
            format!(
                "the end of tier `{}` (defaultAction Deny)",
                m.tiers[*tier].name
            )
        }
        Decider::NoProfileAllowed => {
            "the host endpoint's default: no policy or profile allows it".to_string()
        }
        Decider::Profile { name, index } => format!("rule {index} of profile `{name}`"),
        _ => "denied".to_string(),
    }
}

/// Where the decider was declared.
fn decider_span(inv: &Inventory<'_, '_>, d: &Decider) -> Option<crate::source::Span> {
    let m = inv.model();
    match d {
        Decider::Rule {
            policy,
            direction,
            index,
            ..
        } => {
            let p = &m.policies[*policy];
            let rules = match direction {
                crate::semantics::Direction::Ingress => &p.ingress,
                crate::semantics::Direction::Egress => &p.egress,
            };
            Some(rules.get(*index).map_or(p.span, |r| r.span))
        }
        Decider::TierDefault { tier } => m.tiers[*tier].span,
        _ => None,
    }
}
