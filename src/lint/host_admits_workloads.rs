//! `host-policy-admits-workloads`: a policy on host endpoints whose ingress Allow rule
//! admits workloads wholesale (no source, `all()`, a nets-only source, or a
//! namespaceSelector that takes whole namespaces), so pods can reach host services.
//!
//! The shape of the source only nominates a rule; the evaluator decides. A pod counts
//! when, for some packet of the kind the rule matches, the host endpoint's ingress
//! stages (failsafe ports, untracked, pre-DNAT, normal) allow it and this very rule
//! decides (an earlier Deny or Allow, or a failsafe port, takes it out). The lint
//! judges the host's side only: a pod's own egress policy is the pod's business and
//! does not make the host firewall safe. Pods on a host endpoint's own node never
//! count: they reach their host through `defaultEndpointToHostAction`, never through
//! the host endpoint's ingress policy.
//! A rule that only admits pods of system namespaces (`kube-*`, `calico-*`,
//! `tigera-operator`) is infrastructure access and is not reported.

use std::collections::{BTreeMap, BTreeSet};

use super::host_side::HostSide;
use super::inventory::{Inventory, NAMESPACE_LABEL, NS_PREFIX, ORCHESTRATOR_LABEL};
use super::words::{SHOWN, count, names, rule_of, traffic};
use crate::diag::Diagnostic;
use crate::ir::{Action, Rule};
use crate::semantics::{Direction, EndpointKind, SelectorOracle};

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

/// Report every such rule.
pub(super) fn check(inv: &Inventory<'_, '_>, out: &mut Vec<Diagnostic>) {
    let engine = inv.engine;
    let model = inv.model();
    let heps = inv.of_kind(EndpointKind::Host);
    let pods = inv.of_kind(EndpointKind::Pod);
    if heps.is_empty() || pods.is_empty() {
        return;
    }
    let mut side = HostSide::new(engine, &heps);
    let node = |i: usize| inv.endpoint(i).node.as_deref();
    for (pi, policy) in model.policies.iter().enumerate() {
        if policy.staged.is_some() || !policy.types.ingress {
            continue;
        }
        // Members of a group share labels: the policy applies to all or none.
        let applied: Vec<usize> = (0..side.groups.len())
            .filter(|&g| {
                engine.matches(
                    &policy.selector,
                    inv.endpoint(side.groups[g].members[0]).labels,
                )
            })
            .collect();
        if applied.is_empty() {
            continue;
        }
        for (ri, rule) in policy.ingress.iter().enumerate() {
            if rule.action != Action::Allow || !wholesale(rule) {
                continue;
            }
            // Host endpoint → the pods it admits (never those on its own node).
            let mut reach: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            let mut own_node = false;
            for &g in &applied {
                let hep = side.groups[g].members[0];
                let classes = side.sources(g, &pods).to_vec();
                let admitted: Vec<usize> = classes
                    .iter()
                    .filter(|class| side.admits(class[0], hep, pi, ri))
                    .flatten()
                    .copied()
                    .collect();
                if admitted.is_empty() {
                    continue;
                }
                for &h in &side.groups[g].members {
                    let (mine, others): (Vec<usize>, Vec<usize>) = admitted
                        .iter()
                        .partition(|&&p| node(p).is_some() && node(p) == node(h));
                    own_node |= !mine.is_empty();
                    if !others.is_empty() {
                        let mut others = others;
                        others.sort_unstable();
                        reach.insert(h, others);
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
            let mut applied_heps: Vec<usize> = applied
                .iter()
                .flat_map(|&g| side.groups[g].members.iter().copied())
                .collect();
            applied_heps.sort_unstable();
            let applied_names: Vec<&str> = applied_heps
                .iter()
                .map(|&h| inv.endpoint(h).name.as_str())
                .collect();
            let mut d = Diagnostic::warning(
                "host-policy-admits-workloads",
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
                    if applied_heps.len() == 1 {
                        "host endpoint"
                    } else {
                        "host endpoints"
                    },
                    names(&applied_names)
                ),
            );
            for (h, admitted) in reach.iter().take(SHOWN) {
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
            if reach.len() > SHOWN {
                d = d.with_note(format!("and {} more host endpoints", reach.len() - SHOWN));
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
            written: None,
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
