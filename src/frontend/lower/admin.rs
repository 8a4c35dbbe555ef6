//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (`policy.networking.k8s.io/v1alpha1`):
//! validated as the CRD's OpenAPI and CEL rules do, then typed; the subject, rule head
//! and peer checks are shared with `v1alpha2` ClusterNetworkPolicy
//! (`cluster_policy.rs`) through [`Api`]. Their place in Calico's tiers is the
//! semantics stage's business.

use super::k8s::label_selector;
use super::values::CidrRule;
use super::{Ctx, Named};
use crate::diag::Diagnostic;
use crate::frontend::kinds::Kind;
use crate::frontend::raw::S;
use crate::frontend::raw::k8s::{
    AdminPeer as RawPeer, AdminPort as RawPort, AdminRule as RawRule, AdminSpec, AdminSubject,
    NamespacedPod,
};
use crate::ir::{
    AdminAction, AdminPeer, AdminPolicy, AdminPort, AdminRule, AdminTier, PolicyKind, PortRange,
    Protocol,
};
use crate::selector::Expr;
use crate::source::Span;

/// What the Network Policy API versions differ in, where their validation is shared
/// with `cluster_policy.rs`.
pub(super) struct Api {
    /// The kind, for messages.
    pub kind: &'static str,
    /// The most rules per direction (`MaxItems`).
    pub max_rules: usize,
    /// The most peers in `from`/`to`.
    pub max_peers: usize,
    /// The actions as written, and what each means.
    pub actions: &'static [(&'static str, AdminAction)],
    /// Whether `domainNames` peers are allowed.
    pub domain_names: bool,
    /// Whether `pods.namespaceSelector` may be left out (`v1alpha2`: then it selects
    /// every namespace).
    pub optional_namespace_selector: bool,
}

const ANP: Api = Api {
    kind: "AdminNetworkPolicy",
    max_rules: 100,
    max_peers: 100,
    actions: &[
        ("Allow", AdminAction::Allow),
        ("Deny", AdminAction::Deny),
        ("Pass", AdminAction::Pass),
    ],
    domain_names: true,
    optional_namespace_selector: false,
};

const BANP: Api = Api {
    kind: "BaselineAdminNetworkPolicy",
    actions: &[("Allow", AdminAction::Allow), ("Deny", AdminAction::Deny)],
    domain_names: false,
    ..ANP
};

/// The most CIDRs in `networks` and names in `domainNames` (both API versions).
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
    let (tier, api) = if kind == Kind::AdminNetworkPolicy {
        (AdminTier::Admin, &ANP)
    } else {
        (AdminTier::Baseline, &BANP)
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
        (AdminTier::Admin, Some(p)) => {
            let x = priority(ctx, p);
            ok &= x.is_some();
            x
        }
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
    let subject = subject(ctx, api, named, &spec.subject);
    let ingress = rules(ctx, api, &spec.ingress, true, &mut ok);
    let egress = rules(ctx, api, &spec.egress, false, &mut ok);
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

/// A `priority`: 0-1000 (`invalid-priority` otherwise).
pub(super) fn priority(ctx: &mut Ctx<'_>, p: &S<i64>) -> Option<u32> {
    match u32::try_from(p.value) {
        Ok(x) if x <= 1000 => Some(x),
        _ => {
            let d = ctx.error_at(
                p,
                "invalid-priority",
                format!("priority {} is out of range", p.value),
            );
            ctx.push(d.help("priority is 0-1000"));
            None
        }
    }
}

/// `spec.subject`: exactly one of `namespaces` or `pods`.
pub(super) fn subject(
    ctx: &mut Ctx<'_>,
    api: &Api,
    named: &Named,
    subject: &Option<S<AdminSubject>>,
) -> Option<AdminPeer> {
    let Some(s) = subject else {
        ctx.push(
            Diagnostic::error(
                "missing-field",
                format!("{} {} needs `spec.subject`", article(api.kind), api.kind),
            )
            .at(named.span)
            .help("add `subject: {namespaces: {}}` or `subject: {pods: {...}}`"),
        );
        return None;
    };
    match (&s.value.namespaces, &s.value.pods) {
        (Some(ns), None) => label_selector(ctx, ns).map(AdminPeer::Namespaces),
        (None, Some(p)) => namespaced_pod(ctx, api, p),
        _ => {
            let d = ctx.error_at(
                s,
                "invalid-subject",
                "`subject` needs exactly one of `namespaces` or `pods`",
            );
            ctx.push(d);
            None
        }
    }
}

/// `a` or `an` before a kind's name.
fn article(kind: &str) -> &'static str {
    if kind.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}

fn namespaced_pod(ctx: &mut Ctx<'_>, api: &Api, p: &S<NamespacedPod>) -> Option<AdminPeer> {
    let Some(pods) = &p.value.pod_selector else {
        let needs = if api.optional_namespace_selector {
            "`pods` needs `podSelector`"
        } else {
            "`pods` needs both `namespaceSelector` and `podSelector`"
        };
        let d = ctx.error_at(p, "missing-field", needs);
        ctx.push(d.help("use `{}` to match everything"));
        return None;
    };
    // Both are checked, so every invalid entry is reported.
    let namespaces = match &p.value.namespace_selector {
        Some(ns) => label_selector(ctx, ns),
        None if api.optional_namespace_selector => Some(Expr::All),
        None => {
            let d = ctx.error_at(
                p,
                "missing-field",
                "`pods` needs both `namespaceSelector` and `podSelector`",
            );
            ctx.push(d.help("use `{}` to match everything"));
            return None;
        }
    };
    let pods = label_selector(ctx, pods);
    Some(AdminPeer::Pods {
        namespaces: namespaces?,
        pods: pods?,
    })
}

/// Whether a direction's rule list is within `api.max_rules` (`too-many-rules`).
pub(super) fn rule_count<T>(ctx: &mut Ctx<'_>, api: &Api, list: &S<Vec<T>>) -> bool {
    if list.value.len() <= api.max_rules {
        return true;
    }
    let d = ctx.error_at(
        list,
        "too-many-rules",
        format!(
            "{} rules; at most {} are allowed",
            list.value.len(),
            api.max_rules
        ),
    );
    ctx.push(d);
    false
}

fn rules(
    ctx: &mut Ctx<'_>,
    api: &Api,
    list: &Option<S<Vec<S<RawRule>>>>,
    ingress: bool,
    ok: &mut bool,
) -> Vec<AdminRule> {
    let Some(list) = list else { return Vec::new() };
    *ok &= rule_count(ctx, api, list);
    list.value
        .iter()
        .filter_map(|r| rule(ctx, api, r, ingress, ok))
        .collect()
}

/// The parts of a rule both API versions share: `name`, `action`, and the peers of
/// `from` (ingress) or `to` (egress).
pub(super) struct RuleHead<'a> {
    /// `name`.
    pub name: &'a Option<S<String>>,
    /// `action`.
    pub action: &'a Option<S<String>>,
    /// `from`.
    pub from: &'a Option<S<Vec<S<RawPeer>>>>,
    /// `to`.
    pub to: &'a Option<S<Vec<S<RawPeer>>>>,
}

/// A rule's name, action and peers, each checked; `ok` turns false on any problem.
pub(super) fn rule_head(
    ctx: &mut Ctx<'_>,
    api: &Api,
    head: &RuleHead<'_>,
    span: Span,
    ingress: bool,
    ok: &mut bool,
) -> (String, Option<AdminAction>, Vec<AdminPeer>) {
    let name = head
        .name
        .as_ref()
        .map(|n| n.value.clone())
        .unwrap_or_default();
    if let Some(n) = head.name
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
    let action = action(ctx, api, head.action, span);
    let peers = peers(ctx, api, head, span, ingress, ok);
    (name, action, peers)
}

fn action(
    ctx: &mut Ctx<'_>,
    api: &Api,
    action: &Option<S<String>>,
    span: Span,
) -> Option<AdminAction> {
    let names: Vec<&str> = api.actions.iter().map(|(n, _)| *n).collect();
    let Some(a) = action else {
        ctx.push(
            Diagnostic::error("missing-field", "this rule has no `action`")
                .at(span)
                .help(format!("use {}", names.join(", "))),
        );
        return None;
    };
    if let Some((_, x)) = api.actions.iter().find(|(n, _)| *n == a.value) {
        return Some(*x);
    }
    let d = ctx.error_at(
        a,
        "invalid-action",
        format!("`{}` is not a {} action", a.value, api.kind),
    );
    let help = match (a.value.as_str(), names.contains(&"Accept")) {
        ("Allow", true) => format!(
            "use {}: {} says `Accept` where AdminNetworkPolicy says `Allow`",
            names.join(", "),
            api.kind
        ),
        _ => format!("use {}", names.join(", ")),
    };
    ctx.push(d.help(help));
    None
}

fn peers(
    ctx: &mut Ctx<'_>,
    api: &Api,
    head: &RuleHead<'_>,
    span: Span,
    ingress: bool,
    ok: &mut bool,
) -> Vec<AdminPeer> {
    let (field, wrong) = if ingress {
        ("from", head.to)
    } else {
        ("to", head.from)
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
    let raw = if ingress { head.from } else { head.to };
    let mut peers = Vec::new();
    match raw {
        None => {
            ctx.push(
                Diagnostic::error("missing-field", format!("this rule has no `{field}`"))
                    .at(span)
                    .help("list at least one peer"),
            );
            *ok = false;
        }
        Some(list) if list.value.is_empty() || list.value.len() > api.max_peers => {
            let d = ctx.error_at(
                list,
                "invalid-peer",
                format!("`{field}` needs 1-{} peers", api.max_peers),
            );
            ctx.push(d);
            *ok = false;
        }
        Some(list) => {
            for p in &list.value {
                match peer(ctx, api, p, ingress) {
                    Some(x) => peers.push(x),
                    None => *ok = false,
                }
            }
        }
    }
    peers
}

/// The CEL rule both versions have: named ports resolve on pods only, so a rule with a
/// `nodes`, `networks` or `domainNames` peer cannot name one (`field` is how the
/// version writes a named port, `instead` what to write instead).
pub(super) fn named_ports_need_pods(
    ctx: &mut Ctx<'_>,
    span: Span,
    peers: &[AdminPeer],
    ports: &[AdminPort],
    (field, instead): (&str, &str),
) -> bool {
    let non_pod_peer = peers
        .iter()
        .any(|p| !matches!(p, AdminPeer::Pods { .. } | AdminPeer::Namespaces(_)));
    if !non_pod_peer || !ports.iter().any(|p| matches!(p, AdminPort::Named(_))) {
        return true;
    }
    ctx.push(
        Diagnostic::error(
            "invalid-port",
            format!("a rule with `nodes`, `networks` or `domainNames` peers cannot use `{field}`"),
        )
        .at(span)
        .help(format!("named ports resolve on pods only; use {instead}")),
    );
    false
}

fn rule(
    ctx: &mut Ctx<'_>,
    api: &Api,
    r: &S<RawRule>,
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
    let ports = PortField {
        list: &v.ports,
        field: "ports",
        max: MAX_PORTS,
        read: port,
        named: ("namedPort", "portNumber or portRange"),
    };
    let span = ctx.span(&r.referenced);
    rule_with_ports(ctx, api, &head, span, ingress, ok, &ports)
}

/// A rule's port list as one API version writes it (`ports` in v1alpha1, `protocols`
/// in v1alpha2).
pub(super) struct PortField<'a, T> {
    /// The list.
    pub list: &'a Option<S<Vec<S<T>>>>,
    /// Its field name.
    pub field: &'static str,
    /// At most this many entries.
    pub max: usize,
    /// Reads one entry.
    pub read: fn(&mut Ctx<'_>, &S<T>) -> Option<AdminPort>,
    /// The named-port field and what to use instead, for [`named_ports_need_pods`].
    pub named: (&'static str, &'static str),
}

/// A rule: its head (name, action, peers), then its 1 to `max` ports, then the check
/// that named ports go with pod peers.
pub(super) fn rule_with_ports<T>(
    ctx: &mut Ctx<'_>,
    api: &Api,
    head: &RuleHead<'_>,
    span: Span,
    ingress: bool,
    ok: &mut bool,
    field: &PortField<'_, T>,
) -> Option<AdminRule> {
    let (name, action, peers) = rule_head(ctx, api, head, span, ingress, ok);
    let mut ports = Vec::new();
    if let Some(list) = field.list {
        if list.value.is_empty() || list.value.len() > field.max {
            let d = ctx.error_at(
                list,
                "invalid-port",
                format!("`{}` needs 1-{} entries", field.field, field.max),
            );
            ctx.push(d);
            *ok = false;
        }
        for p in &list.value {
            match (field.read)(ctx, p) {
                Some(x) => ports.push(x),
                None => *ok = false,
            }
        }
    }
    *ok &= named_ports_need_pods(ctx, span, &peers, &ports, field.named);
    Some(AdminRule {
        name,
        action: action?,
        peers,
        ports,
        span,
    })
}

fn peer(ctx: &mut Ctx<'_>, api: &Api, p: &S<RawPeer>, ingress: bool) -> Option<AdminPeer> {
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
        return namespaced_pod(ctx, api, p);
    }
    if let Some(n) = &v.nodes {
        return label_selector(ctx, n).map(AdminPeer::Nodes);
    }
    if let Some(names) = &v.domain_names {
        if !api.domain_names {
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
