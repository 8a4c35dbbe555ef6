//! Kubernetes NetworkPolicy: validation as the API server does it
//! (`pkg/apis/networking/validation`), then conversion into a Calico policy as Calico's
//! `K8sNetworkPolicyToCalico` does it: tier `default`, order 1000, one Allow rule per
//! (peer × protocol), peers carrying the orchestrator label so they only ever match pods.

use std::collections::BTreeMap;

use super::calico::{NAMESPACE_LABEL, ORCHESTRATOR_LABEL};
use super::rule::EntitySelectors;
use super::values::{CidrRule, is_port_name, label_key_problem, label_value_problem};
use super::{Ctx, Named};
use crate::diag::Diagnostic;
use crate::frontend::kinds::Kind;
use crate::frontend::raw::S;
use crate::frontend::raw::k8s::{NetworkPolicyPort, NetworkPolicySpec, Peer};
use crate::frontend::raw::meta::{LabelSelector, LabelSelectorRequirement};
use crate::frontend::raw::scalar::NumOrString;
use crate::ir::{
    Action, Directions, EntityMatch, IpVersion, Policy, PolicyId, PolicyKind, PortMatch, PortRange,
    PortSet, Protocol, Rule, StagedAction,
};
use crate::selector::{Expr, LabelSelectorOp, from_label_selector};
use crate::source::Span;

/// The order Calico gives every Kubernetes NetworkPolicy.
pub const K8S_POLICY_ORDER: f64 = 1000.0;

/// Validate and map a Kubernetes label selector, reporting every invalid entry.
pub fn label_selector(ctx: &mut Ctx<'_>, sel: &S<LabelSelector>) -> Option<Expr> {
    let mut ok = true;
    let match_labels = sel
        .value
        .match_labels
        .as_ref()
        .map(|m| {
            ok &= ctx.check_labels(&m.value);
            m.value.to_map()
        })
        .unwrap_or_default();
    let mut exprs = Vec::new();
    for req in &sel.value.match_expressions {
        match requirement(ctx, req) {
            Some(e) => exprs.push(e),
            None => ok = false,
        }
    }
    ok.then(|| from_label_selector(&match_labels, &exprs))
}

/// One `matchExpressions` entry: key, operator and every value checked (the API
/// server reports them all).
fn requirement(
    ctx: &mut Ctx<'_>,
    req: &S<LabelSelectorRequirement>,
) -> Option<(String, LabelSelectorOp, Vec<String>)> {
    let r = &req.value;
    let mut ok = true;
    let key = ctx.required(&r.key, req, "key", "a matchExpressions entry");
    let operator = ctx.required(&r.operator, req, "operator", "a matchExpressions entry");
    if let Some(p) = key.and_then(|k| label_key_problem(&k.value)) {
        let d = ctx.error_at(key?, "invalid-label", p);
        ctx.push(d);
        ok = false;
    }
    let empty = Vec::new();
    let written = r.values.as_ref().map_or(&empty, |v| &v.value);
    for v in written {
        if let Some(p) = label_value_problem(&v.value) {
            let d = ctx.error_at(v, "invalid-label", p);
            ctx.push(d);
            ok = false;
        }
    }
    let (key, operator) = (key?, operator?);
    let op = match operator.value.as_str() {
        "In" => LabelSelectorOp::In,
        "NotIn" => LabelSelectorOp::NotIn,
        "Exists" => LabelSelectorOp::Exists,
        "DoesNotExist" => LabelSelectorOp::DoesNotExist,
        other => {
            let d = ctx.error_at(
                operator,
                "invalid-selector",
                format!("`{other}` is not a label selector operator"),
            );
            ctx.push(d.help("use In, NotIn, Exists or DoesNotExist"));
            return None;
        }
    };
    let values: Vec<String> = written.iter().map(|v| v.value.clone()).collect();
    let needs_values = matches!(op, LabelSelectorOp::In | LabelSelectorOp::NotIn);
    if needs_values && values.is_empty() {
        let d = ctx.error_at(
            operator,
            "invalid-selector",
            format!("operator `{}` needs at least one value", operator.value),
        );
        ctx.push(d.help("add `values: [...]`"));
        ok = false;
    }
    if !needs_values && !values.is_empty() {
        let at = r
            .values
            .as_ref()
            .map_or(ctx.span(&operator.referenced), |v| ctx.span(&v.referenced));
        ctx.push(
            Diagnostic::error(
                "invalid-selector",
                format!("operator `{}` takes no values", operator.value),
            )
            .at(at)
            .help("remove `values`"),
        );
        ok = false;
    }
    ok.then(|| (key.value.clone(), op, values))
}

fn orchestrator() -> Expr {
    Expr::Eq(ORCHESTRATOR_LABEL.into(), "k8s".into())
}

/// Lower a NetworkPolicy (or StagedKubernetesNetworkPolicy) into Calico form.
pub fn network_policy(
    ctx: &mut Ctx<'_>,
    kind: Kind,
    named: &Named,
    spec: &NetworkPolicySpec,
) -> Option<Policy> {
    let staged = kind == Kind::StagedKubernetesNetworkPolicy;
    let namespace = named.namespace.clone().unwrap_or_else(|| "default".into());
    let staged_action = match (&spec.staged_action, staged) {
        (None, false) => None,
        (None, true) => Some(StagedAction::Set),
        (Some(a), false) => {
            let d = ctx.error_at(
                a,
                "unknown-field",
                "a Kubernetes NetworkPolicy has no `stagedAction` field",
            );
            ctx.push(d.help("use StagedKubernetesNetworkPolicy to stage a policy"));
            return None;
        }
        (Some(a), true) => match a.value.as_str() {
            "Set" => Some(StagedAction::Set),
            "Delete" => Some(StagedAction::Delete),
            "Learn" => Some(StagedAction::Learn),
            "Ignore" => Some(StagedAction::Ignore),
            other => {
                let d = ctx.error_at(
                    a,
                    "invalid-action",
                    format!("`{other}` is not a stagedAction"),
                );
                ctx.push(d.help("use Set, Delete, Learn or Ignore"));
                return None;
            }
        },
    };
    if staged_action == Some(StagedAction::Delete) && !super::staged::k8s_delete(ctx, spec) {
        return None;
    }
    // `podSelector` may be omitted or null: the empty selector, every pod of the
    // namespace (`networking/v1` `NetworkPolicySpec.PodSelector` is `+optional`; the
    // network-policy-api conformance manifests rely on it).
    let mut ok = true;
    let pod_sel = match &spec.pod_selector {
        Some(s) => label_selector(ctx, s),
        None => Some(Expr::All),
    };
    let selector = pod_sel.map(|s| {
        orchestrator()
            .and(s)
            .and(Expr::Eq(NAMESPACE_LABEL.into(), namespace.clone()))
    });

    let mut ingress = Vec::new();
    if let Some(list) = &spec.ingress {
        for r in &list.value {
            let span = ctx.span(&r.referenced);
            ingress.extend(convert_rule(
                ctx,
                &r.value.from,
                &r.value.ports,
                &namespace,
                span,
                true,
                &mut ok,
            ));
        }
    }
    let mut egress = Vec::new();
    if let Some(list) = &spec.egress {
        for r in &list.value {
            let span = ctx.span(&r.referenced);
            egress.extend(convert_rule(
                ctx,
                &r.value.to,
                &r.value.ports,
                &namespace,
                span,
                false,
                &mut ok,
            ));
        }
    }
    // The API server defaults policyTypes to Ingress, plus Egress when egress rules exist.
    let types = match spec.policy_types.as_ref().filter(|t| !t.value.is_empty()) {
        None => Directions {
            ingress: true,
            egress: spec.egress.as_ref().is_some_and(|e| !e.value.is_empty()),
        },
        Some(list) => {
            let mut d = Directions::default();
            for t in &list.value {
                let slot = match t.value.as_str() {
                    "Ingress" => &mut d.ingress,
                    "Egress" => &mut d.egress,
                    other => {
                        let e = ctx.error_at(
                            t,
                            "invalid-type",
                            format!("`{other}` is not a policy type"),
                        );
                        ctx.push(e.help("policyTypes are `Ingress` and `Egress`"));
                        ok = false;
                        continue;
                    }
                };
                if *slot {
                    let e = Diagnostic::warning(
                        "duplicate-type",
                        format!("`{}` is listed twice in `policyTypes`", t.value),
                    );
                    ctx.push(e.at(ctx.span(&t.referenced)).help("list each type once"));
                }
                *slot = true;
            }
            d
        }
    };
    let selector = selector?;
    if !ok {
        return None;
    }
    Some(Policy {
        id: PolicyId {
            kind: if staged {
                PolicyKind::StagedKubernetesNetworkPolicy
            } else {
                PolicyKind::KubernetesNetworkPolicy
            },
            namespace: Some(namespace),
            name: named.name.clone(),
        },
        tier: "default".into(),
        order: Some(K8S_POLICY_ORDER),
        selector: crate::ir::Selector::new(selector),
        types,
        ingress,
        egress,
        staged: staged_action,
        enforced_from: None,
        apply_on_forward: false,
        pre_dnat: false,
        do_not_track: false,
        span: named.span,
        allow: Vec::new(),
    })
}

/// A protocol's numeric ranges (`None` = all ports) and port names, while grouping.
type ProtoPorts = (Protocol, Option<Vec<PortRange>>, Vec<String>);

/// One protocol's port constraint: `None` = every port of the protocol.
type PortGroup = (Option<Protocol>, Option<Vec<PortMatch>>);

fn convert_rule(
    ctx: &mut Ctx<'_>,
    peers: &Option<S<Vec<S<Peer>>>>,
    ports: &Option<S<Vec<S<NetworkPolicyPort>>>>,
    namespace: &str,
    span: Span,
    ingress: bool,
    ok: &mut bool,
) -> Vec<Rule> {
    let groups = port_groups(ctx, ports, ok);
    let peer_list: Vec<Option<EntityMatch>> = match peers.as_ref().filter(|p| !p.value.is_empty()) {
        None => vec![Some(EntityMatch::default())],
        Some(list) => list.value.iter().map(|p| peer(ctx, p, namespace)).collect(),
    };
    if peer_list.iter().any(Option::is_none) {
        *ok = false;
        return Vec::new();
    }
    let mut out = Vec::new();
    // Calico's order: protocol outer, peer inner.
    let peers: Vec<EntityMatch> = peer_list.into_iter().flatten().collect();
    for (protocol, ports) in &groups {
        for p in &peers {
            let ip_version = p.nets.first().map(|n| {
                if n.addr().is_ipv4() {
                    IpVersion::V4
                } else {
                    IpVersion::V6
                }
            });
            // Ports are always those of the selected pod: destination ports either way.
            let ports = ports.clone().unwrap_or_default();
            let (source, destination) = if ingress {
                (
                    p.clone(),
                    EntityMatch {
                        ports,
                        ..EntityMatch::default()
                    },
                )
            } else {
                (EntityMatch::default(), EntityMatch { ports, ..p.clone() })
            };
            out.push(Rule {
                action: Action::Allow,
                protocol: *protocol,
                not_protocol: None,
                ip_version,
                icmp: None,
                not_icmp: None,
                source,
                destination,
                http: false,
                span,
                written: None,
            });
        }
    }
    out
}

/// Group a rule's ports by protocol (a port without protocol is TCP), merging numeric
/// ports into ranges. A protocol listed without a port matches all its ports.
fn port_groups(
    ctx: &mut Ctx<'_>,
    ports: &Option<S<Vec<S<NetworkPolicyPort>>>>,
    ok: &mut bool,
) -> Vec<PortGroup> {
    let Some(list) = ports.as_ref().filter(|p| !p.value.is_empty()) else {
        return vec![(None, None)];
    };
    // Keyed by protocol name, so rules come out in Calico's order (SCTP, TCP, UDP).
    let mut by_proto: BTreeMap<String, ProtoPorts> = BTreeMap::new();
    for p in &list.value {
        let proto = match &p.value.protocol {
            None => Protocol::TCP,
            Some(s) => match s.value.as_str() {
                "TCP" => Protocol::TCP,
                "UDP" => Protocol::UDP,
                "SCTP" => Protocol::SCTP,
                other => {
                    let help = match ["TCP", "UDP", "SCTP"]
                        .into_iter()
                        .find(|c| c.eq_ignore_ascii_case(other))
                    {
                        Some(c) => format!("protocols are case-sensitive: write `{c}`"),
                        None => "NetworkPolicy ports are TCP, UDP or SCTP".to_string(),
                    };
                    let d = ctx.error_at(
                        s,
                        "invalid-protocol",
                        format!("`{other}` is not a NetworkPolicy protocol"),
                    );
                    ctx.push(d.help(help));
                    *ok = false;
                    continue;
                }
            },
        };
        let entry = by_proto
            .entry(proto.to_string())
            .or_insert_with(|| (proto, Some(Vec::new()), Vec::new()));
        match (&p.value.port, &p.value.end_port) {
            (None, Some(e)) => {
                let d = ctx.error_at(e, "invalid-port", "`endPort` needs a numeric `port`");
                ctx.push(d.help("add `port:` as the start of the range"));
                *ok = false;
            }
            (None, None) => entry.1 = None,
            (Some(port), end) => {
                let span = ctx.span(&port.referenced);
                match &port.value {
                    NumOrString::Num(n) => {
                        let Some(lo) = ctx.port_number(*n, span, "port") else {
                            *ok = false;
                            continue;
                        };
                        let mut hi = lo;
                        if let Some(e) = end {
                            let espan = ctx.span(&e.referenced);
                            match ctx.port_number(e.value, espan, "endPort") {
                                Some(x) if x >= lo => hi = x,
                                Some(x) => {
                                    ctx.push(
                                        Diagnostic::error(
                                            "invalid-port",
                                            format!("endPort {x} is less than port {lo}"),
                                        )
                                        .at(espan)
                                        .help("endPort must be at least port"),
                                    );
                                    *ok = false;
                                }
                                None => *ok = false,
                            }
                        }
                        if let Some(v) = &mut entry.1 {
                            v.push(PortRange { lo, hi });
                        }
                    }
                    NumOrString::Str(s) => {
                        if let Some(e) = end {
                            let d = ctx.error_at(
                                e,
                                "invalid-port",
                                "`endPort` cannot be used with a named port",
                            );
                            ctx.push(d.help("use a numeric `port` for a range"));
                            *ok = false;
                        }
                        if !is_port_name(s) {
                            ctx.push(
                                Diagnostic::error("invalid-port", format!("`{s}` is not a valid port name"))
                                    .at(span)
                                    .help("a port name has at most 15 lowercase letters, digits and `-`, with at least one letter"),
                            );
                            *ok = false;
                        }
                        entry.2.push(s.clone());
                    }
                }
            }
        }
    }
    by_proto
        .into_values()
        .map(|(proto, ranges, names)| {
            let ports = ranges.map(|r| {
                let mut v: Vec<PortMatch> = PortSet::from_ranges(r)
                    .ranges()
                    .iter()
                    .map(|&r| PortMatch::Range(r))
                    .collect();
                v.extend(names.into_iter().map(PortMatch::Named));
                v
            });
            (Some(proto), ports)
        })
        .collect()
}

fn peer(ctx: &mut Ctx<'_>, p: &S<Peer>, namespace: &str) -> Option<EntityMatch> {
    let v = &p.value;
    if let Some(ib) = &v.ip_block {
        if v.pod_selector.is_some() || v.namespace_selector.is_some() {
            let d = ctx.error_at(
                ib,
                "invalid-peer",
                "`ipBlock` cannot be combined with `podSelector` or `namespaceSelector`",
            );
            ctx.push(d.help("put the ipBlock in a peer of its own"));
            return None;
        }
        let Some(cidr) = &ib.value.cidr else {
            let d = ctx.error_at(ib, "missing-field", "`ipBlock` needs a `cidr`");
            ctx.push(d);
            return None;
        };
        let net = ctx.cidr(cidr, CidrRule::Prefix)?;
        let mut except = Vec::new();
        let mut ok = true;
        for e in &ib.value.except {
            let Some(x) = ctx.cidr(e, CidrRule::Prefix) else {
                ok = false;
                continue;
            };
            if !(net.contains(&x) && x.prefix_len() > net.prefix_len()) {
                let d = ctx.error_at(
                    e,
                    "invalid-cidr",
                    format!("except `{x}` is not strictly inside cidr `{net}`"),
                );
                ctx.push(d.help("each `except` entry must be a smaller network inside `cidr`"));
                ok = false;
            }
            except.push(x);
        }
        return ok.then(|| EntityMatch {
            nets: vec![net],
            not_nets: except,
            ..EntityMatch::default()
        });
    }
    if v.pod_selector.is_none() && v.namespace_selector.is_none() {
        let d = ctx.error_at(
            p,
            "invalid-peer",
            "a peer needs `podSelector`, `namespaceSelector` or `ipBlock`",
        );
        ctx.push(d.help("use `podSelector: {}` for every pod of the namespace"));
        return None;
    }
    // Both are checked, so every invalid entry is reported.
    let pods = v.pod_selector.as_ref().map(|s| label_selector(ctx, s));
    let namespaces = v
        .namespace_selector
        .as_ref()
        .map(|s| label_selector(ctx, s));
    // `Some(None)`: given but invalid.
    if matches!(pods, Some(None)) || matches!(namespaces, Some(None)) {
        return None;
    }
    let (pods, namespaces) = (pods.flatten(), namespaces.flatten());
    let sels = EntitySelectors {
        selector: Some(orchestrator().and(pods.unwrap_or(Expr::All))),
        namespace_selector: namespaces,
        ..EntitySelectors::default()
    };
    let (selector, not_selector) = sels.scoped(Some(namespace));
    Some(EntityMatch {
        selector,
        not_selector,
        ..EntityMatch::default()
    })
}
