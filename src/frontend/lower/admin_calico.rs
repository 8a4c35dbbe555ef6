//! The Kubernetes Network Policy API in Calico form: an AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy or ClusterNetworkPolicy becomes the global policy Calico
//! makes of it, and that policy is what the evaluator, the analyses and every backend
//! enforce.
//!
//! Upstream: `libcalico-go/lib/backend/k8s/conversion/clusternetworkpolicy.go`
//! (`K8sClusterNetworkPolicyToCalico`, ≥ v3.32) and, for v1alpha1, `conversion.go`
//! (`K8sAdminNetworkPolicyToCalico`, v3.29-v3.31), which convert alike:
//! - tier `kube-admin` (AdminNetworkPolicy, `tier: Admin`) or `kube-baseline`
//!   (BaselineAdminNetworkPolicy, `tier: Baseline`), both default Pass; `order` is the
//!   priority (a BaselineAdminNetworkPolicy has none: order 1000, as v3.31 gives it);
//! - subject: the namespace selector over namespace labels, and a pod selector that
//!   always carries `projectcalico.org/orchestrator == 'k8s'`, so no subject is ever a
//!   host endpoint (the interop boundary);
//! - `types`: only the directions that have rules after conversion;
//! - each rule becomes one Calico rule per protocol (sorted by name, named ports
//!   under no protocol) and peer; ports are destination ports;
//! - a `namespaces` peer has only a namespace selector, so it matches every endpoint
//!   and network set of those namespaces; a `pods` peer adds the orchestrator label;
//!   `networks` become `nets`;
//! - a rule Calico cannot convert (a `nodes` or `domainNames` peer: the converter
//!   only knows namespaces, pods and networks) fails closed: a Deny or Pass rule is
//!   replaced by a deny-all rule, an Allow rule is dropped.
//!
//! Where v3.31 and the current converter differ, polc follows the current one: v3.31
//! read a v1alpha1 `namedPort` as every port of every protocol (a `TODO` in
//! `k8sAdminPolicyPortToCalicoFields`), the current converter as the named port.

use std::collections::BTreeMap;

use super::calico::{NAMESPACE_LABEL, NS_PREFIX, ORCHESTRATOR_LABEL};
use super::rule::EntitySelectors;
use crate::diag::Diagnostic;
use crate::ir::{
    Action, AdminAction, AdminPeer, AdminPolicy, AdminPort, AdminRule, AdminTier, Directions,
    EntityMatch, IpVersion, Policy, PolicyId, PortMatch, Protocol, Rule, Selector, WrittenRule,
};
use crate::selector::Expr;

/// The order Calico v3.31 gives every BaselineAdminNetworkPolicy.
const BASELINE_ORDER: f64 = 1000.0;

/// The Calico policy of an admin policy, with a warning for each rule Calico cannot
/// convert.
pub fn to_calico(a: &AdminPolicy, diags: &mut Vec<Diagnostic>) -> Policy {
    let ingress = rules(a, &a.ingress, true, diags);
    let egress = rules(a, &a.egress, false, diags);
    let (tier, order) = match a.tier {
        AdminTier::Admin => ("kube-admin", a.priority.map(f64::from)),
        AdminTier::Baseline => (
            "kube-baseline",
            Some(a.priority.map_or(BASELINE_ORDER, f64::from)),
        ),
    };
    Policy {
        id: PolicyId {
            kind: a.kind,
            namespace: None,
            name: a.name.clone(),
        },
        tier: tier.to_string(),
        order,
        selector: Selector::new(subject(&a.subject)),
        types: Directions {
            ingress: !ingress.is_empty(),
            egress: !egress.is_empty(),
        },
        ingress,
        egress,
        staged: None,
        apply_on_forward: false,
        pre_dnat: false,
        do_not_track: false,
        span: a.span,
        allow: Vec::new(),
        enforced_from: None,
    }
}

fn orchestrator() -> Expr {
    Expr::Eq(ORCHESTRATOR_LABEL.into(), "k8s".into())
}

fn in_namespaces(namespaces: &Expr) -> Expr {
    namespaces.prefixed(NS_PREFIX, NAMESPACE_LABEL)
}

/// The policy selector of a subject.
fn subject(s: &AdminPeer) -> Expr {
    let (namespaces, pods) = match s {
        AdminPeer::Namespaces(n) => (n, &Expr::All),
        AdminPeer::Pods { namespaces, pods } => (namespaces, pods),
        // The frontend only makes namespace or pod subjects.
        AdminPeer::Nodes(_) | AdminPeer::Networks(_) | AdminPeer::DomainNames(_) => {
            return !Expr::All;
        }
    };
    in_namespaces(namespaces).and(orchestrator().and(pods.clone()))
}

fn rules(
    a: &AdminPolicy,
    written: &[AdminRule],
    ingress: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Rule> {
    let mut out = Vec::new();
    for (index, r) in written.iter().enumerate() {
        let origin = WrittenRule {
            index,
            name: r.name.clone(),
        };
        match peers(&r.peers) {
            Ok(peers) => out.extend(expand(r, &peers, ingress, &origin)),
            Err(field) => {
                let deny = r.action != AdminAction::Allow;
                diags.push(unconvertible(a, r, &origin, ingress, field, deny));
                if deny {
                    out.push(Rule {
                        action: Action::Deny,
                        ..bare_rule(r, &origin)
                    });
                }
            }
        }
    }
    out
}

/// The warning for a rule Calico cannot convert.
fn unconvertible(
    a: &AdminPolicy,
    r: &AdminRule,
    origin: &WrittenRule,
    ingress: bool,
    field: &str,
    deny: bool,
) -> Diagnostic {
    let dir = if ingress { "ingress" } else { "egress" };
    let what = if deny {
        "so Calico replaces it with a rule that denies everything (fail closed)"
    } else {
        "so Calico drops it: it allows nothing"
    };
    let name = if origin.name.is_empty() {
        String::new()
    } else {
        format!(" `{}`", origin.name)
    };
    let help = if field == "nodes" {
        "Calico's converter does not support `nodes` peers; list the nodes' addresses in a `networks` peer"
    } else {
        "addresses behind DNS names cannot be compiled statically; list them in a `networks` peer, or remove the rule"
    };
    Diagnostic::warning(
        "unenforceable-peer",
        format!(
            "{dir} rule {}{name} of {} `{}` has a `{field}` peer, which Calico cannot convert, {what}",
            origin.index,
            a.kind.as_str(),
            a.name
        ),
    )
    .at(r.span)
    .help(help)
}

/// The peers as entity matches, or the first peer field Calico cannot convert.
fn peers(list: &[AdminPeer]) -> Result<Vec<EntityMatch>, &'static str> {
    let mut out = Vec::new();
    for p in list {
        let sels = match p {
            AdminPeer::Namespaces(n) => EntitySelectors {
                namespace_selector: Some(n.clone()),
                ..EntitySelectors::default()
            },
            AdminPeer::Pods { namespaces, pods } => EntitySelectors {
                selector: Some(orchestrator().and(pods.clone())),
                namespace_selector: Some(namespaces.clone()),
                ..EntitySelectors::default()
            },
            AdminPeer::Networks(nets) => {
                // One rule per family: Felix renders a rule's CIDRs per IP version
                // (`felix/rules/rule_defs.go` filters them), and polc's rules keep
                // to one family.
                for family in [IpVersion::V4, IpVersion::V6] {
                    let of: Vec<_> = nets
                        .iter()
                        .filter(|n| n.addr().is_ipv4() == (family == IpVersion::V4))
                        .copied()
                        .collect();
                    if !of.is_empty() {
                        out.push(EntityMatch {
                            nets: of,
                            ..EntityMatch::default()
                        });
                    }
                }
                continue;
            }
            AdminPeer::Nodes(_) => return Err("nodes"),
            AdminPeer::DomainNames(_) => return Err("domainNames"),
        };
        let (selector, not_selector) = sels.scoped(None);
        out.push(EntityMatch {
            selector,
            not_selector,
            ..EntityMatch::default()
        });
    }
    Ok(out)
}

/// The ports by protocol, sorted by its name, as Calico's `unpackCNPProtocols` groups
/// them: `None` as the protocol holds named ports; no ports at all is one group of
/// every protocol and port. (Every written port has a number, range or name: the
/// CRDs want at least one field in each.)
fn port_groups(ports: &[AdminPort]) -> BTreeMap<String, (Option<Protocol>, Vec<PortMatch>)> {
    let mut groups: BTreeMap<String, (Option<Protocol>, Vec<PortMatch>)> = BTreeMap::new();
    if ports.is_empty() {
        groups.insert(String::new(), (None, Vec::new()));
    }
    for p in ports {
        let (proto, item) = match p {
            AdminPort::Range(proto, r) => (Some(*proto), PortMatch::Range(*r)),
            AdminPort::Named(n) => (None, PortMatch::Named(n.clone())),
        };
        let key = proto.map(|p| p.to_string()).unwrap_or_default();
        groups
            .entry(key)
            .or_insert((proto, Vec::new()))
            .1
            .push(item);
    }
    groups
}

/// A rule's Calico rules: protocols outer, peers inner.
fn expand(r: &AdminRule, peers: &[EntityMatch], ingress: bool, origin: &WrittenRule) -> Vec<Rule> {
    let action = match r.action {
        AdminAction::Allow => Action::Allow,
        AdminAction::Deny => Action::Deny,
        AdminAction::Pass => Action::Pass,
    };
    let mut out = Vec::new();
    for (protocol, ports) in port_groups(&r.ports).into_values() {
        for peer in peers {
            let ports = EntityMatch {
                ports: ports.clone(),
                ..EntityMatch::default()
            };
            let (source, destination) = if ingress {
                (peer.clone(), ports)
            } else {
                (
                    EntityMatch::default(),
                    EntityMatch {
                        ports: ports.ports,
                        ..peer.clone()
                    },
                )
            };
            let ip_version = peer.nets.first().map(|n| {
                if n.addr().is_ipv4() {
                    IpVersion::V4
                } else {
                    IpVersion::V6
                }
            });
            out.push(Rule {
                action,
                protocol,
                ip_version,
                source,
                destination,
                ..bare_rule(r, origin)
            });
        }
    }
    out
}

/// A rule matching everything, tied to its written rule.
fn bare_rule(r: &AdminRule, origin: &WrittenRule) -> Rule {
    Rule {
        written: Some(origin.clone()),
        ..Rule::match_all(Action::Deny, r.span)
    }
}
