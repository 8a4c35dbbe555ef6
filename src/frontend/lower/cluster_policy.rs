//! ClusterNetworkPolicy (`policy.networking.k8s.io/v1alpha2`): validated as the CRD's
//! OpenAPI and CEL rules do (upstream `apis/v1alpha2/clusternetworkpolicy_types.go` and
//! `config/crd/experimental/policy.networking.k8s.io_clusternetworkpolicies.yaml`
//! in kubernetes-sigs/network-policy-api), then typed into the same
//! [`AdminPolicy`] as the `v1alpha1` kinds. The subject, rule head and peers are checked
//! by `admin.rs`; this file holds what `v1alpha2` adds: `tier`, a priority in both tiers,
//! `Accept`, and `protocols`.

use super::admin::{self, Api, PortField, RuleHead};
use super::{Ctx, Named};
use crate::diag::Diagnostic;
use crate::frontend::raw::S;
use crate::frontend::raw::k8s::{
    ClusterPolicyProtocol, ClusterPolicyRule, ClusterPolicySpec, DestinationPort,
};
use crate::ir::{
    AdminAction, AdminPolicy, AdminPort, AdminRule, AdminTier, PolicyKind, PortRange, Protocol,
};

/// `MaxItems` of `ingress`, `egress`, `from`, `to` and `protocols`.
const MAX_ITEMS: usize = 25;

const CNP: Api = Api {
    kind: "ClusterNetworkPolicy",
    max_rules: MAX_ITEMS,
    max_peers: MAX_ITEMS,
    actions: &[
        ("Accept", AdminAction::Allow),
        ("Deny", AdminAction::Deny),
        ("Pass", AdminAction::Pass),
    ],
    domain_names: true,
    optional_namespace_selector: true,
};

/// Lower a ClusterNetworkPolicy.
pub fn cluster_policy(
    ctx: &mut Ctx<'_>,
    named: &Named,
    spec: &ClusterPolicySpec,
) -> Option<AdminPolicy> {
    let mut ok = true;
    let tier = tier(ctx, named, &spec.tier);
    let priority = match &spec.priority {
        Some(p) => admin::priority(ctx, p),
        None => {
            ctx.push(
                Diagnostic::error(
                    "missing-field",
                    "a ClusterNetworkPolicy needs `spec.priority`",
                )
                .at(named.span)
                .help("add `priority:` (0-1000; lower runs first within its tier)"),
            );
            None
        }
    };
    let subject = admin::subject(ctx, &CNP, named, &spec.subject);
    let ingress = rules(ctx, &spec.ingress, true, &mut ok);
    let egress = rules(ctx, &spec.egress, false, &mut ok);
    let (tier, priority, subject) = (tier?, priority?, subject?);
    ok.then(|| AdminPolicy {
        kind: PolicyKind::ClusterNetworkPolicy,
        tier,
        name: named.name.clone(),
        priority: Some(priority),
        subject,
        ingress,
        egress,
        span: named.span,
    })
}

fn tier(ctx: &mut Ctx<'_>, named: &Named, tier: &Option<S<String>>) -> Option<AdminTier> {
    let Some(t) = tier else {
        ctx.push(
            Diagnostic::error("missing-field", "a ClusterNetworkPolicy needs `spec.tier`")
                .at(named.span)
                .help(
                    "add `tier: Admin` (before NetworkPolicies) or `tier: Baseline` (after them)",
                ),
        );
        return None;
    };
    match t.value.as_str() {
        "Admin" => Some(AdminTier::Admin),
        "Baseline" => Some(AdminTier::Baseline),
        other => {
            let d = ctx.error_at(
                t,
                "unknown-tier",
                format!("`{other}` is not a ClusterNetworkPolicy tier"),
            );
            ctx.push(d.help("use Admin or Baseline"));
            None
        }
    }
}

fn rules(
    ctx: &mut Ctx<'_>,
    list: &Option<S<Vec<S<ClusterPolicyRule>>>>,
    ingress: bool,
    ok: &mut bool,
) -> Vec<AdminRule> {
    let Some(list) = list else { return Vec::new() };
    *ok &= admin::rule_count(ctx, &CNP, list);
    list.value
        .iter()
        .filter_map(|r| rule(ctx, r, ingress, ok))
        .collect()
}

fn rule(
    ctx: &mut Ctx<'_>,
    r: &S<ClusterPolicyRule>,
    ingress: bool,
    ok: &mut bool,
) -> Option<AdminRule> {
    let v = &r.value;
    let head = RuleHead {
        name: &v.name,
        action: &v.action,
        from: &v.from,
        to: &v.to,
    };
    // The named-port CEL rule is on egress rules only; ingress peers are pods anyway.
    let ports = PortField {
        list: &v.protocols,
        field: "protocols",
        max: MAX_ITEMS,
        read: protocol,
        named: ("destinationNamedPort", "`destinationPort` numbers"),
    };
    let span = ctx.span(&r.referenced);
    admin::rule_with_ports(ctx, &CNP, &head, span, ingress, ok, &ports)
}

/// One `protocols` entry: exactly one of `tcp`, `udp`, `sctp` (each with its
/// `destinationPort`) or `destinationNamedPort`.
fn protocol(ctx: &mut Ctx<'_>, p: &S<ClusterPolicyProtocol>) -> Option<AdminPort> {
    let v = &p.value;
    let forms = [
        (Protocol::TCP, "tcp", &v.tcp),
        (Protocol::UDP, "udp", &v.udp),
        (Protocol::SCTP, "sctp", &v.sctp),
    ];
    let set = forms.iter().filter(|(_, _, f)| f.is_some()).count()
        + usize::from(v.destination_named_port.is_some());
    if set != 1 {
        let d = ctx.error_at(
            p,
            "invalid-port",
            "a `protocols` entry needs exactly one of `tcp`, `udp`, `sctp` or `destinationNamedPort`",
        );
        ctx.push(d);
        return None;
    }
    if let Some(n) = &v.destination_named_port {
        return Some(AdminPort::Named(n.value.clone()));
    }
    let (proto, field, ports) = forms
        .iter()
        .find_map(|(p, n, f)| Some((*p, *n, f.as_ref()?)))?;
    // `MinProperties=1`: `tcp: {}` is rejected, so every entry names its ports.
    let Some(dest) = &ports.value.destination_port else {
        let d = ctx.error_at(
            ports,
            "invalid-port",
            format!("`{field}` needs `destinationPort`"),
        );
        ctx.push(
            d.help("for every port, write `destinationPort: {range: {start: 1, end: 65535}}`"),
        );
        return None;
    };
    destination_port(ctx, dest).map(|r| AdminPort::Range(proto, r))
}

/// `destinationPort`: exactly one of `number` or `range` (`start < end`, both 1-65535).
fn destination_port(ctx: &mut Ctx<'_>, p: &S<DestinationPort>) -> Option<PortRange> {
    let v = &p.value;
    match (&v.number, &v.range) {
        (Some(n), None) => {
            let span = ctx.span(&n.referenced);
            ctx.port_number(n.value, span, "port")
                .map(PortRange::single)
        }
        (None, Some(r)) => {
            let (Some(start), Some(end)) = (&r.value.start, &r.value.end) else {
                let d = ctx.error_at(r, "missing-field", "`range` needs `start` and `end`");
                ctx.push(d);
                return None;
            };
            let (ss, es) = (ctx.span(&start.referenced), ctx.span(&end.referenced));
            let lo = ctx.port_number(start.value, ss, "start");
            let hi = ctx.port_number(end.value, es, "end");
            let (lo, hi) = (lo?, hi?);
            if lo >= hi {
                ctx.push(
                    Diagnostic::error(
                        "invalid-port",
                        format!("range start ({lo}) must be less than its end ({hi})"),
                    )
                    .at(es)
                    .help("for one port, write `number`"),
                );
                return None;
            }
            Some(PortRange { lo, hi })
        }
        _ => {
            let d = ctx.error_at(
                p,
                "invalid-port",
                "`destinationPort` needs exactly one of `number` or `range`",
            );
            ctx.push(d);
            None
        }
    }
}
