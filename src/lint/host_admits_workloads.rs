//! `host-policy-admits-workloads`: a policy on host endpoints whose ingress Allow rule
//! admits workloads wholesale (no source, `all()`, a nets-only source, or a
//! namespaceSelector that takes whole namespaces), so pods can reach host services.
//!
//! The shape of the source only nominates a rule; the evaluator decides. A pod counts
//! when some packet from it to the host endpoint, of the kind the rule matches, is
//! allowed end to end and the host endpoint's ingress stage is decided by this very
//! rule (a pod's egress policy, an earlier Deny or an earlier Allow take it out).
//! Pods on a host endpoint's own node never count: they reach their host through
//! `defaultEndpointToHostAction`, never through the host endpoint's ingress policy.
//! A rule that only admits pods of system namespaces (`kube-*`, `calico-*`,
//! `tigera-operator`) is infrastructure access and is not reported.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::inventory::{Inventory, NAMESPACE_LABEL, NS_PREFIX, ORCHESTRATOR_LABEL};
use super::words::{count, names, rule_of, traffic};
use crate::diag::Diagnostic;
use crate::ir::{Action, IpVersion, PortMatch, Protocol, Rule};
use crate::semantics::matrix::Classes;
use crate::semantics::{
    Decider, Direction, EndpointKind, EndpointRef, Engine, Packet, SelectorOracle, family,
};

/// The code.
pub(super) const CODE: &str = "host-policy-admits-workloads";

/// Whether a rule's source takes workloads wholesale: it does not tell pods of one
/// namespace apart (no selector, or a selector over namespace-level labels only).
fn wholesale(rule: &Rule) -> bool {
    let s = &rule.source;
    if s.services.is_some() {
        return false;
    }
    s.selector.as_ref().is_none_or(|sel| {
        sel.label_keys()
            .iter()
            .all(|k| k.starts_with(NS_PREFIX) || *k == NAMESPACE_LABEL || *k == ORCHESTRATOR_LABEL)
    })
}

/// What the source looks like, for the label under the rule.
fn source_label(rule: &Rule, namespaces: &BTreeSet<&str>) -> String {
    let s = &rule.source;
    let ns: Vec<&str> = namespaces.iter().copied().collect();
    match &s.selector {
        None if s.nets.is_empty() && s.not_nets.is_empty() => {
            "no source: admits every pod".to_string()
        }
        None => "the source's nets take in pod addresses".to_string(),
        Some(sel) if sel.label_keys().is_empty() => {
            format!("source `{sel}` admits every pod")
        }
        Some(_) => format!(
            "source admits every pod of {} {}",
            if ns.len() == 1 {
                "namespace"
            } else {
                "namespaces"
            },
            names(&ns)
        ),
    }
}

/// Whether the rule lets `pod` reach host endpoint `hep` (universe indices): some
/// packet it matches is allowed end to end, decided at the host by this rule.
fn admits(engine: &Engine<'_>, pod: usize, hep: usize, policy: usize, index: usize) -> bool {
    let rule = &engine.model.policies[policy].ingress[index];
    let path = engine.path(EndpointRef::Known(pod), EndpointRef::Known(hep));
    let Some(src_ip) = path.src_ip else {
        return false;
    };
    let icmp = if family(src_ip) == IpVersion::V6 {
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
    for protocol in protocols {
        let mut packets = Vec::new();
        if protocol.has_ports() {
            // One destination port per region the rules on the path and the failsafe
            // ports draw: the verdict is constant within a region.
            let mut cuts: BTreeSet<u32> = BTreeSet::from([1]);
            let mut cut = |lo: u16, hi: u16| {
                cuts.insert(u32::from(lo));
                cuts.insert(u32::from(hi) + 1);
            };
            for r in path.programs().flat_map(|p| p.rules()) {
                for item in r.destination.ports.iter().chain(&r.destination.not_ports) {
                    if let PortMatch::Range(range) = item {
                        cut(range.lo, range.hi);
                    }
                }
            }
            for f in path.programs().flat_map(|p| p.failsafe.iter()) {
                cut(f.port, f.port);
            }
            for p in &path.dst_ports {
                cut(p.port, p.port);
            }
            packets.extend(
                cuts.into_iter()
                    .filter_map(|c| u16::try_from(c).ok())
                    .map(|dport| Packet {
                        protocol,
                        sport,
                        dport,
                        icmp: None,
                    }),
            );
        } else {
            let mut p = Packet::to_port(protocol, 0);
            if protocol.is_icmp()
                && let Some(m) = rule.icmp
            {
                p.icmp = Some((m.type_, m.code.unwrap_or(0)));
            }
            packets.push(p);
        }
        for packet in packets {
            let v = path.run(&packet);
            let decided_here = v.stages.iter().any(|s| {
                s.endpoint == hep
                    && s.direction == Direction::Ingress
                    && matches!(&s.decider, Decider::Rule { policy: p, direction: Direction::Ingress, index: i, .. } if *p == policy && *i == index)
            });
            if v.allowed && decided_here {
                return true;
            }
        }
    }
    false
}

/// Report every such rule.
pub(super) fn check(inv: &Inventory<'_, '_>, out: &mut Vec<Diagnostic>) {
    let engine = inv.engine;
    let model = inv.model();
    let heps = inv.of_kind(EndpointKind::Host);
    let pods = inv.of_kind(EndpointKind::Pod);
    if heps.is_empty() || pods.is_empty() {
        return;
    }
    let mut classes = Classes::new(engine);
    let node = |i: usize| inv.endpoint(i).node.as_deref();
    for (pi, policy) in model.policies.iter().enumerate() {
        if policy.staged.is_some() || !policy.types.ingress {
            continue;
        }
        let applied: Vec<usize> = heps
            .iter()
            .copied()
            .filter(|&h| engine.matches(&policy.selector, inv.endpoint(h).labels))
            .collect();
        if applied.is_empty() {
            continue;
        }
        for (ri, rule) in policy.ingress.iter().enumerate() {
            if rule.action != Action::Allow || !wholesale(rule) {
                continue;
            }
            let mut memo: HashMap<(usize, usize, bool), bool> = HashMap::new();
            // Host endpoint → the pods it admits.
            let mut reach: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            let mut own_node = false;
            for &h in &applied {
                for &pod in &pods {
                    let same = node(pod).is_some() && node(pod) == node(h);
                    own_node |= same;
                    let key = (
                        classes.class(EndpointRef::Known(pod)),
                        classes.class(EndpointRef::Known(h)),
                        same,
                    );
                    let ok = *memo
                        .entry(key)
                        .or_insert_with(|| admits(engine, pod, h, pi, ri));
                    if ok {
                        reach.entry(h).or_default().push(pod);
                    }
                }
            }
            let admitted: BTreeSet<usize> = reach.values().flatten().copied().collect();
            let namespace = |pod: usize| {
                inv.endpoint(pod)
                    .pod
                    .map_or("", |p| model.pods[p].namespace.as_str())
            };
            let app_namespaces: BTreeSet<&str> = admitted
                .iter()
                .map(|&p| namespace(p))
                .filter(|ns| !super::inventory::is_system_namespace(ns))
                .collect();
            if app_namespaces.is_empty() {
                continue;
            }
            let all_namespaces: BTreeSet<&str> = admitted.iter().map(|&p| namespace(p)).collect();
            let pod_names: Vec<&str> = admitted
                .iter()
                .map(|&p| inv.endpoint(p).name.as_str())
                .collect();
            let hep_names: Vec<&str> = reach
                .keys()
                .map(|&h| inv.endpoint(h).name.as_str())
                .collect();
            let applied_names: Vec<&str> = applied
                .iter()
                .map(|&h| inv.endpoint(h).name.as_str())
                .collect();
            let mut d = Diagnostic::warning(
                CODE,
                format!(
                    "{} lets workloads reach host services: {} ({}) can reach {} ({}) on {}",
                    rule_of(policy, Direction::Ingress, ri),
                    count(admitted.len(), "pod", "pods"),
                    names(&pod_names),
                    count(reach.len(), "host endpoint", "host endpoints"),
                    names(&hep_names),
                    traffic(rule),
                ),
            )
            .at(rule.span)
            .label(source_label(rule, &all_namespaces))
            .related(
                policy.span,
                format!(
                    "this policy applies to {} {}",
                    if applied.len() == 1 {
                        "host endpoint"
                    } else {
                        "host endpoints"
                    },
                    names(&applied_names)
                ),
            );
            for (h, admitted) in &reach {
                let from: Vec<&str> = admitted
                    .iter()
                    .map(|&p| inv.endpoint(p).name.as_str())
                    .collect();
                d = d.with_note(format!(
                    "{} is reachable from {}: {}",
                    inv.endpoint(*h).name,
                    count(from.len(), "pod", "pods"),
                    names(&from)
                ));
            }
            if own_node {
                d = d.with_note(
                    "pods on a host's own node reach it through defaultEndpointToHostAction, not through this policy",
                );
            }
            out.push(d.help(
                "admit only nodes and infrastructure pods (for example `selector: role == 'node' || has(k8s-app)`), and let the tier's default Deny drop application pods",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::EntityMatch;
    use crate::source::{SourceId, Span};
    use std::sync::Arc;

    fn rule(source: EntityMatch) -> Rule {
        Rule {
            action: Action::Allow,
            protocol: None,
            not_protocol: None,
            ip_version: None,
            icmp: None,
            not_icmp: None,
            source,
            destination: EntityMatch::default(),
            http: false,
            span: Span::new(SourceId(0), 0, 0),
        }
    }

    fn with_selector(text: &str) -> Rule {
        rule(EntityMatch {
            selector: Some(Arc::new(crate::selector::parse(text).unwrap())),
            ..EntityMatch::default()
        })
    }

    #[test]
    fn wholesale_sources() {
        assert!(wholesale(&rule(EntityMatch::default())));
        assert!(wholesale(&with_selector("all()")));
        assert!(wholesale(&with_selector("pcns.env == 'prod'")));
        assert!(wholesale(&with_selector(
            "has(projectcalico.org/namespace) && projectcalico.org/orchestrator == 'k8s'"
        )));
        assert!(!wholesale(&with_selector("role == 'node' || has(k8s-app)")));
        assert!(!wholesale(&with_selector(
            "pcns.env == 'prod' && app == 'x'"
        )));
    }
}
