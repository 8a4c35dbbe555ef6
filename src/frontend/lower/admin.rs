//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (`policy.networking.k8s.io/v1alpha1`):
//! validated as the CRD's OpenAPI and CEL rules do, then typed. Their place in Calico's
//! tiers is the semantics stage's business.

use super::k8s::label_selector;
use super::values::CidrRule;
use super::{Ctx, Named};
use crate::diag::Diagnostic;
use crate::frontend::kinds::Kind;
use crate::frontend::raw::S;
use crate::frontend::raw::k8s::{
    AdminPeer as RawPeer, AdminPort as RawPort, AdminRule as RawRule, AdminSpec, NamespacedPod,
};
use crate::ir::{
    AdminAction, AdminPeer, AdminPolicy, AdminPort, AdminRule, AdminTier, PolicyKind, PortRange,
    Protocol,
};

const MAX_RULES: usize = 100;
const MAX_PEERS: usize = 100;
const MAX_NETWORKS: usize = 25;
const MAX_PORTS: usize = 100;
const MAX_RULE_NAME: usize = 100;

/// Lower an AdminNetworkPolicy or BaselineAdminNetworkPolicy.
pub fn admin_policy(
    ctx: &mut Ctx<'_>,
    kind: Kind,
    named: &Named,
    spec: &AdminSpec,
) -> Option<AdminPolicy> {
    let tier = if kind == Kind::AdminNetworkPolicy {
        AdminTier::Admin
    } else {
        AdminTier::Baseline
    };
    let mut ok = true;
    let priority = match (tier, &spec.priority) {
        (AdminTier::Admin, None) => {
            ctx.push(
                Diagnostic::error(
                    "missing-field",
                    "an AdminNetworkPolicy needs `spec.priority`",
                )
                .at(named.span)
                .help("add `priority:` (0-1000; lower runs first)"),
            );
            None
        }
        (AdminTier::Admin, Some(p)) => match u32::try_from(p.value) {
            Ok(x) if x <= 1000 => Some(x),
            _ => {
                let d = ctx.error_at(
                    p,
                    "invalid-priority",
                    format!("priority {} is out of range", p.value),
                );
                ctx.push(d.help("priority is 0-1000"));
                ok = false;
                None
            }
        },
        (AdminTier::Baseline, Some(p)) => {
            let d = ctx.error_at(
                p,
                "unknown-field",
                "a BaselineAdminNetworkPolicy has no `priority`",
            );
            ctx.push(d.help("remove `priority`: there is only one baseline policy"));
            ok = false;
            None
        }
        (AdminTier::Baseline, None) => None,
    };
    if tier == AdminTier::Baseline && named.name != "default" {
        ctx.push(
            Diagnostic::error(
                "invalid-name",
                "a BaselineAdminNetworkPolicy must be named `default`",
            )
            .at(named.span)
            .help("rename it to `default`: the cluster has exactly one baseline policy"),
        );
        ok = false;
    }
    let subject = match &spec.subject {
        None => {
            ctx.push(
                Diagnostic::error(
                    "missing-field",
                    format!("{} needs `spec.subject`", kind.name()),
                )
                .at(named.span)
                .help("add `subject: {namespaces: {}}` or `subject: {pods: {...}}`"),
            );
            None
        }
        Some(s) => match (&s.value.namespaces, &s.value.pods) {
            (Some(ns), None) => label_selector(ctx, ns).map(AdminPeer::Namespaces),
            (None, Some(p)) => namespaced_pod(ctx, p),
            _ => {
                let d = ctx.error_at(
                    s,
                    "invalid-subject",
                    "`subject` needs exactly one of `namespaces` or `pods`",
                );
                ctx.push(d);
                None
            }
        },
    };
    let ingress = rules(ctx, kind, &spec.ingress, true, &mut ok);
    let egress = rules(ctx, kind, &spec.egress, false, &mut ok);
    let subject = subject?;
    if !ok || (tier == AdminTier::Admin && priority.is_none()) {
        return None;
    }
    Some(AdminPolicy {
        kind: if tier == AdminTier::Admin {
            PolicyKind::AdminNetworkPolicy
        } else {
            PolicyKind::BaselineAdminNetworkPolicy
        },
        tier,
        name: named.name.clone(),
        priority,
        subject,
        ingress,
        egress,
        span: named.span,
    })
}

fn namespaced_pod(ctx: &mut Ctx<'_>, p: &S<NamespacedPod>) -> Option<AdminPeer> {
    let (Some(ns), Some(pods)) = (&p.value.namespace_selector, &p.value.pod_selector) else {
        let d = ctx.error_at(
            p,
            "missing-field",
            "`pods` needs both `namespaceSelector` and `podSelector`",
        );
        ctx.push(d.help("use `{}` to match everything"));
        return None;
    };
    // Both are checked, so every invalid entry is reported.
    let namespaces = label_selector(ctx, ns);
    let pods = label_selector(ctx, pods);
    Some(AdminPeer::Pods {
        namespaces: namespaces?,
        pods: pods?,
    })
}

fn rules(
    ctx: &mut Ctx<'_>,
    kind: Kind,
    list: &Option<S<Vec<S<RawRule>>>>,
    ingress: bool,
    ok: &mut bool,
) -> Vec<AdminRule> {
    let Some(list) = list else { return Vec::new() };
    if list.value.len() > MAX_RULES {
        let d = ctx.error_at(
            list,
            "too-many-rules",
            format!(
                "{} rules; at most {MAX_RULES} are allowed",
                list.value.len()
            ),
        );
        ctx.push(d);
        *ok = false;
    }
    list.value
        .iter()
        .filter_map(|r| rule(ctx, kind, r, ingress, ok))
        .collect()
}

fn rule(
    ctx: &mut Ctx<'_>,
    kind: Kind,
    r: &S<RawRule>,
    ingress: bool,
    ok: &mut bool,
) -> Option<AdminRule> {
    let span = ctx.span(&r.referenced);
    let v = &r.value;
    let name = v.name.as_ref().map(|n| n.value.clone()).unwrap_or_default();
    if let Some(n) = &v.name
        && n.value.len() > MAX_RULE_NAME
    {
        let d = ctx.error_at(
            n,
            "invalid-name",
            format!(
                "rule name is {} characters; at most {MAX_RULE_NAME}",
                n.value.len()
            ),
        );
        ctx.push(d);
        *ok = false;
    }
    let allowed: &[&str] = if kind == Kind::AdminNetworkPolicy {
        &["Allow", "Deny", "Pass"]
    } else {
        &["Allow", "Deny"]
    };
    let action = match &v.action {
        None => {
            ctx.push(
                Diagnostic::error("missing-field", "this rule has no `action`")
                    .at(span)
                    .help(format!("use {}", allowed.join(", "))),
            );
            None
        }
        Some(a) if allowed.contains(&a.value.as_str()) => Some(match a.value.as_str() {
            "Allow" => AdminAction::Allow,
            "Deny" => AdminAction::Deny,
            _ => AdminAction::Pass,
        }),
        Some(a) => {
            let d = ctx.error_at(
                a,
                "invalid-action",
                format!("`{}` is not a {} action", a.value, kind.name()),
            );
            ctx.push(d.help(format!("use {}", allowed.join(", "))));
            None
        }
    };
    let (field, wrong) = if ingress {
        ("from", &v.to)
    } else {
        ("to", &v.from)
    };
    if let Some(w) = wrong {
        let d = ctx.error_at(
            w,
            "unknown-field",
            format!(
                "an {} rule has no `{}`",
                if ingress { "ingress" } else { "egress" },
                if ingress { "to" } else { "from" }
            ),
        );
        ctx.push(d.help(format!("use `{field}`")));
        *ok = false;
    }
    let peers_raw = if ingress { &v.from } else { &v.to };
    let mut peers = Vec::new();
    match peers_raw {
        None => {
            ctx.push(
                Diagnostic::error("missing-field", format!("this rule has no `{field}`"))
                    .at(span)
                    .help("list at least one peer"),
            );
            *ok = false;
        }
        Some(list) if list.value.is_empty() || list.value.len() > MAX_PEERS => {
            let d = ctx.error_at(
                list,
                "invalid-peer",
                format!("`{field}` needs 1-{MAX_PEERS} peers"),
            );
            ctx.push(d);
            *ok = false;
        }
        Some(list) => {
            for p in &list.value {
                match peer(ctx, kind, p, ingress) {
                    Some(x) => peers.push(x),
                    None => *ok = false,
                }
            }
        }
    }
    let mut ports = Vec::new();
    if let Some(list) = &v.ports {
        if list.value.is_empty() || list.value.len() > MAX_PORTS {
            let d = ctx.error_at(
                list,
                "invalid-port",
                format!("`ports` needs 1-{MAX_PORTS} entries"),
            );
            ctx.push(d);
            *ok = false;
        }
        for p in &list.value {
            match port(ctx, p) {
                Some(x) => ports.push(x),
                None => *ok = false,
            }
        }
    }
    let non_pod_peer = peers
        .iter()
        .any(|p| !matches!(p, AdminPeer::Pods { .. } | AdminPeer::Namespaces(_)));
    if non_pod_peer && ports.iter().any(|p| matches!(p, AdminPort::Named(_))) {
        ctx.push(
            Diagnostic::error(
                "invalid-port",
                "a rule with `nodes`, `networks` or `domainNames` peers cannot use `namedPort`",
            )
            .at(span)
            .help("named ports resolve on pods only; use portNumber or portRange"),
        );
        *ok = false;
    }
    Some(AdminRule {
        name,
        action: action?,
        peers,
        ports,
        span,
    })
}

fn peer(ctx: &mut Ctx<'_>, kind: Kind, p: &S<RawPeer>, ingress: bool) -> Option<AdminPeer> {
    let v = &p.value;
    let set = [
        v.namespaces.is_some(),
        v.pods.is_some(),
        v.nodes.is_some(),
        v.networks.is_some(),
        v.domain_names.is_some(),
    ];
    if set.iter().filter(|x| **x).count() != 1 {
        let d = ctx.error_at(p, "invalid-peer", "a peer needs exactly one of `namespaces`, `pods`, `nodes`, `networks` or `domainNames`");
        ctx.push(d);
        return None;
    }
    if ingress && (v.nodes.is_some() || v.networks.is_some() || v.domain_names.is_some()) {
        let d = ctx.error_at(
            p,
            "invalid-peer",
            "`nodes`, `networks` and `domainNames` peers are only allowed in egress rules",
        );
        ctx.push(d.help("ingress peers are `namespaces` or `pods`"));
        return None;
    }
    if let Some(ns) = &v.namespaces {
        return label_selector(ctx, ns).map(AdminPeer::Namespaces);
    }
    if let Some(p) = &v.pods {
        return namespaced_pod(ctx, p);
    }
    if let Some(n) = &v.nodes {
        return label_selector(ctx, n).map(AdminPeer::Nodes);
    }
    if let Some(names) = &v.domain_names {
        if kind == Kind::BaselineAdminNetworkPolicy {
            let d = ctx.error_at(
                names,
                "invalid-peer",
                "`domainNames` peers are only allowed in AdminNetworkPolicy",
            );
            ctx.push(d);
            return None;
        }
        if names.value.is_empty() || names.value.len() > MAX_NETWORKS {
            let d = ctx.error_at(
                names,
                "invalid-peer",
                format!("`domainNames` needs 1-{MAX_NETWORKS} names"),
            );
            ctx.push(d);
            return None;
        }
        let mut ok = true;
        for n in &names.value {
            if !is_domain_pattern(&n.value) {
                let d = ctx.error_at(
                    n,
                    "invalid-peer",
                    format!("`{}` is not a domain name", n.value),
                );
                ctx.push(d.help("write a name such as `example.com` or `*.example.com`"));
                ok = false;
            }
        }
        return ok.then(|| {
            AdminPeer::DomainNames(names.value.iter().map(|n| n.value.clone()).collect())
        });
    }
    let nets = v.networks.as_ref()?;
    if nets.value.is_empty() || nets.value.len() > MAX_NETWORKS {
        let d = ctx.error_at(
            nets,
            "invalid-peer",
            format!("`networks` needs 1-{MAX_NETWORKS} CIDRs"),
        );
        ctx.push(d);
        return None;
    }
    let cidrs = ctx.cidrs(&nets.value, CidrRule::Prefix);
    (cidrs.len() == nets.value.len()).then_some(AdminPeer::Networks(cidrs))
}

/// The CRD's pattern for `domainNames`: an optional `*.`, then two or more labels.
fn is_domain_pattern(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    let s = s.strip_suffix('.').unwrap_or(s);
    let labels: Vec<&str> = s.split('.').collect();
    let label_ok = |l: &&str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
    };
    labels.len() >= 2 && labels.iter().all(label_ok)
}

fn protocol(ctx: &mut Ctx<'_>, p: &Option<S<String>>) -> Option<Protocol> {
    match p {
        None => Some(Protocol::TCP),
        Some(s) => match s.value.as_str() {
            "TCP" => Some(Protocol::TCP),
            "UDP" => Some(Protocol::UDP),
            "SCTP" => Some(Protocol::SCTP),
            other => {
                let d = ctx.error_at(
                    s,
                    "invalid-protocol",
                    format!("`{other}` is not a port protocol"),
                );
                ctx.push(d.help("use TCP, UDP or SCTP"));
                None
            }
        },
    }
}

fn port(ctx: &mut Ctx<'_>, p: &S<RawPort>) -> Option<AdminPort> {
    let v = &p.value;
    let set = [
        v.port_number.is_some(),
        v.named_port.is_some(),
        v.port_range.is_some(),
    ];
    if set.iter().filter(|x| **x).count() != 1 {
        let d = ctx.error_at(
            p,
            "invalid-port",
            "a port needs exactly one of `portNumber`, `namedPort` or `portRange`",
        );
        ctx.push(d);
        return None;
    }
    if let Some(n) = &v.named_port {
        return Some(AdminPort::Named(n.value.clone()));
    }
    if let Some(pn) = &v.port_number {
        let proto = protocol(ctx, &pn.value.protocol)?;
        let Some(port) = &pn.value.port else {
            let d = ctx.error_at(pn, "missing-field", "`portNumber` needs `port`");
            ctx.push(d);
            return None;
        };
        let span = ctx.span(&port.referenced);
        let n = ctx.port_number(port.value, span, "port")?;
        return Some(AdminPort::Range(proto, PortRange::single(n)));
    }
    let r = v.port_range.as_ref()?;
    let proto = protocol(ctx, &r.value.protocol)?;
    let (Some(start), Some(end)) = (&r.value.start, &r.value.end) else {
        let d = ctx.error_at(r, "missing-field", "`portRange` needs `start` and `end`");
        ctx.push(d);
        return None;
    };
    let (ss, es) = (ctx.span(&start.referenced), ctx.span(&end.referenced));
    let lo = ctx.port_number(start.value, ss, "start")?;
    let hi = ctx.port_number(end.value, es, "end")?;
    if lo > hi {
        ctx.push(
            Diagnostic::error(
                "invalid-port",
                format!("portRange ends ({hi}) before it starts ({lo})"),
            )
            .at(es),
        );
        return None;
    }
    Some(AdminPort::Range(proto, PortRange { lo, hi }))
}
