//! Lowering of Calico Tiers, policies, profiles and rules, with the validation Calico's
//! API server applies (`libcalico-go/lib/validator/v3/validator.go` and the CEL rules
//! in `api/pkg/apis/projectcalico/v3`).

use super::rule::{Direction, Scope, rules};
use super::{Ctx, Named};
use crate::diag::Diagnostic;
use crate::frontend::kinds::Kind;
use crate::frontend::raw::S;
use crate::frontend::raw::calico::{PolicySpec, ProfileSpec, Rule as RawRule, TierSpec};
use crate::ir::{
    Action, Directions, Policy, PolicyId, PolicyKind, Profile, StagedAction, Tier, TierAction,
};
use crate::selector::Expr;
use crate::source::Span;

/// The label Calico puts on every namespaced endpoint and network set.
pub const NAMESPACE_LABEL: &str = "projectcalico.org/namespace";
/// The label Calico puts on every pod.
pub const ORCHESTRATOR_LABEL: &str = "projectcalico.org/orchestrator";
/// The label Calico puts on pods with a service account.
pub const SERVICE_ACCOUNT_LABEL: &str = "projectcalico.org/serviceaccount";
/// Prefix of namespace labels as endpoints carry them.
pub const NS_PREFIX: &str = "pcns.";
/// Prefix of service-account labels as endpoints carry them.
pub const SA_PREFIX: &str = "pcsa.";

/// Lower a Tier.
pub fn tier(ctx: &mut Ctx<'_>, named: &Named, spec: &TierSpec) -> Option<Tier> {
    let order = finite_order(ctx, &spec.order);
    let default_action = match &spec.default_action {
        None => TierAction::Deny,
        Some(a) => match a.value.as_str() {
            "Deny" => TierAction::Deny,
            "Pass" => TierAction::Pass,
            other => {
                let d = ctx.error_at(
                    a,
                    "invalid-action",
                    format!("`{other}` is not a tier defaultAction"),
                );
                ctx.push(d.help("a tier's defaultAction is `Deny` (the default) or `Pass`"));
                return None;
            }
        },
    };
    Some(Tier {
        name: named.name.clone(),
        order,
        default_action,
        builtin: false,
        span: Some(named.span),
    })
}

fn finite_order(ctx: &mut Ctx<'_>, order: &Option<S<f64>>) -> Option<f64> {
    let o = order.as_ref()?;
    if o.value.is_finite() {
        Some(o.value)
    } else {
        let d = ctx.error_at(o, "invalid-order", "order must be a finite number");
        ctx.push(d.help("remove `order` to sort last, or give a number"));
        None
    }
}

/// Lower a (Staged)(Global)NetworkPolicy. Returns the policy and the span of its
/// `tier` field, for the tier-exists check.
pub fn policy(
    ctx: &mut Ctx<'_>,
    kind: Kind,
    named: &Named,
    spec: &PolicySpec,
) -> Option<(Policy, Option<Span>)> {
    let (pkind, global) = match kind {
        Kind::GlobalNetworkPolicy => (PolicyKind::GlobalNetworkPolicy, true),
        Kind::StagedGlobalNetworkPolicy => (PolicyKind::StagedGlobalNetworkPolicy, true),
        Kind::StagedNetworkPolicy => (PolicyKind::StagedNetworkPolicy, false),
        _ => (PolicyKind::NetworkPolicy, false),
    };
    let mut ok = true;
    if !global {
        let only_global: [(&str, Option<Span>); 4] = [
            (
                "namespaceSelector",
                spec.namespace_selector
                    .as_ref()
                    .map(|s| ctx.span(&s.referenced)),
            ),
            (
                "doNotTrack",
                spec.do_not_track.as_ref().map(|s| ctx.span(&s.referenced)),
            ),
            (
                "preDNAT",
                spec.pre_dnat.as_ref().map(|s| ctx.span(&s.referenced)),
            ),
            (
                "applyOnForward",
                spec.apply_on_forward
                    .as_ref()
                    .map(|s| ctx.span(&s.referenced)),
            ),
        ];
        for (field, span) in only_global {
            if let Some(span) = span {
                ctx.push(
                    Diagnostic::error(
                        "unknown-field",
                        format!("a {} has no `{field}` field", kind.name()),
                    )
                    .at(span)
                    .help(format!("`{field}` exists only on GlobalNetworkPolicy")),
                );
                ok = false;
            }
        }
    }
    let staged = staged_action(ctx, pkind.is_staged(), &spec.staged_action, kind)?;
    if staged == Some(StagedAction::Delete) && !super::staged::calico_delete(ctx, kind, spec) {
        return None;
    }
    let tier_name = match &spec.tier {
        Some(t) if super::is_dns_label(&t.value) => t.value.clone(),
        Some(t) => {
            let d = ctx.error_at(
                t,
                "invalid-name",
                format!("`{}` is not a valid tier name", t.value),
            );
            ctx.push(d.help("tier names are DNS labels: lowercase letters, digits and `-`"));
            return None;
        }
        None => "default".to_string(),
    };
    let order = finite_order(ctx, &spec.order);

    // Keep checking after a bad selector, so the rules' problems are reported too.
    let mut selector = Expr::All;
    let parts = [
        (&spec.selector, "selector", None),
        (
            &spec.namespace_selector,
            "namespaceSelector",
            Some((NS_PREFIX, NAMESPACE_LABEL)),
        ),
        (
            &spec.service_account_selector,
            "serviceAccountSelector",
            Some((SA_PREFIX, SERVICE_ACCOUNT_LABEL)),
        ),
    ];
    for (field, what, prefix) in parts {
        let Some(s) = field else { continue };
        match (top_selector(ctx, s, what), prefix) {
            (Some(e), None) => selector = selector.and(e),
            (Some(e), Some((p, all))) => selector = selector.and(e.prefixed(p, all)),
            (None, _) => ok = false,
        }
    }
    if let Some(ns) = &named.namespace {
        selector = selector.and(Expr::Eq(NAMESPACE_LABEL.into(), ns.clone()));
    }

    let flag = |f: &Option<S<bool>>| f.as_ref().is_some_and(|b| b.value);
    let (pre_dnat, do_not_track, apply_on_forward) = (
        flag(&spec.pre_dnat),
        flag(&spec.do_not_track),
        flag(&spec.apply_on_forward),
    );
    let scope = Scope {
        namespace: named.namespace.as_deref(),
    };
    let (ingress, ingress_ok) = rules(ctx, &spec.ingress, Direction::Ingress, scope);
    let (egress, egress_ok) = rules(ctx, &spec.egress, Direction::Egress, scope);
    let written = |r: &Option<S<Vec<S<RawRule>>>>| r.as_ref().is_some_and(|r| !r.value.is_empty());
    let types = types(
        ctx,
        &spec.types,
        written(&spec.ingress),
        written(&spec.egress),
    );
    ok &= ingress_ok && egress_ok;
    let types = types?;

    if pre_dnat {
        if let Some(e) = spec.egress.as_ref().filter(|e| !e.value.is_empty()) {
            let d = ctx.error_at(
                e,
                "invalid-policy",
                "a preDNAT policy cannot have egress rules",
            );
            ctx.push(d.help("preDNAT policy applies to incoming traffic only; move these rules to another policy"));
            ok = false;
        } else if types.egress {
            let at = spec
                .types
                .as_ref()
                .map_or(named.span, |t| ctx.span(&t.referenced));
            ctx.push(
                Diagnostic::error("invalid-policy", "a preDNAT policy cannot have type Egress")
                    .at(at)
                    .help("use `types: [Ingress]`"),
            );
            ok = false;
        }
        if do_not_track {
            ctx.push(
                Diagnostic::error(
                    "invalid-policy",
                    "a policy cannot be both preDNAT and doNotTrack",
                )
                .at(named.span)
                .help("choose one stage for this policy"),
            );
            ok = false;
        }
    }
    if (pre_dnat || do_not_track) && !apply_on_forward {
        let which = if pre_dnat { "preDNAT" } else { "doNotTrack" };
        ctx.push(
            Diagnostic::error(
                "invalid-policy",
                format!("a {which} policy must set `applyOnForward: true`"),
            )
            .at(named.span)
            .help("add `applyOnForward: true`, as Calico requires"),
        );
        ok = false;
    }
    warn_unused_direction(ctx, &spec.ingress, types.ingress, "Ingress");
    warn_unused_direction(ctx, &spec.egress, types.egress, "Egress");
    if !ok {
        return None;
    }
    let tier_span = spec.tier.as_ref().map(|t| ctx.span(&t.referenced));
    let policy = Policy {
        id: PolicyId {
            kind: pkind,
            namespace: named.namespace.clone(),
            name: named.name.clone(),
        },
        tier: tier_name,
        order,
        selector: crate::ir::Selector::new(selector),
        types,
        ingress,
        egress,
        staged,
        enforced_from: None,
        apply_on_forward,
        pre_dnat,
        do_not_track,
        span: named.span,
        allow: Vec::new(),
    };
    Some((policy, tier_span))
}

fn warn_unused_direction(
    ctx: &mut Ctx<'_>,
    rules: &Option<S<Vec<S<RawRule>>>>,
    governed: bool,
    dir: &str,
) {
    if let Some(r) = rules
        && !governed
        && !r.value.is_empty()
    {
        let d = Diagnostic::warning(
            "ignored-rules",
            format!(
                "these {} rules have no effect: `types` does not include {dir}",
                dir.to_lowercase()
            ),
        );
        ctx.push(
            d.at(ctx.span(&r.referenced))
                .help(format!("add {dir} to `types`, or remove the rules")),
        );
    }
}

fn staged_action(
    ctx: &mut Ctx<'_>,
    staged: bool,
    action: &Option<S<String>>,
    kind: Kind,
) -> Option<Option<StagedAction>> {
    match (staged, action) {
        (false, None) => Some(None),
        (false, Some(a)) => {
            let d = ctx.error_at(
                a,
                "unknown-field",
                format!("a {} has no `stagedAction` field", kind.name()),
            );
            ctx.push(d.help("`stagedAction` exists only on staged policy kinds"));
            None
        }
        (true, None) => Some(Some(StagedAction::Set)),
        (true, Some(a)) => match a.value.as_str() {
            "Set" => Some(Some(StagedAction::Set)),
            "Delete" => Some(Some(StagedAction::Delete)),
            "Learn" => Some(Some(StagedAction::Learn)),
            "Ignore" => Some(Some(StagedAction::Ignore)),
            other => {
                let d = ctx.error_at(
                    a,
                    "invalid-action",
                    format!("`{other}` is not a stagedAction"),
                );
                ctx.push(d.help("use Set, Delete, Learn or Ignore"));
                None
            }
        },
    }
}

/// Parse a top-level (policy) selector, where `global()` is not allowed.
fn top_selector(ctx: &mut Ctx<'_>, s: &S<String>, what: &str) -> Option<Expr> {
    let e = ctx.selector(s, what)?;
    if e.mentions_global() {
        let d = ctx.error_at(
            s,
            "invalid-selector",
            format!("`global()` is not allowed in a policy's {what}"),
        );
        ctx.push(d.help("`global()` is only meaningful as a rule's namespaceSelector"));
        return None;
    }
    Some(e)
}

/// `spec.types`, or Calico's default from which rules exist.
fn types(
    ctx: &mut Ctx<'_>,
    types: &Option<S<Vec<S<String>>>>,
    has_ingress: bool,
    has_egress: bool,
) -> Option<Directions> {
    let Some(list) = types.as_ref().filter(|t| !t.value.is_empty()) else {
        // Calico's API defaulting: egress rules and no ingress rules → [Egress];
        // both → both; otherwise [Ingress].
        return Some(Directions {
            ingress: has_ingress || !has_egress,
            egress: has_egress,
        });
    };
    let mut d = Directions::default();
    let mut ok = true;
    for t in &list.value {
        let slot = match t.value.as_str() {
            "Ingress" => &mut d.ingress,
            "Egress" => &mut d.egress,
            other => {
                let e = ctx.error_at(t, "invalid-type", format!("`{other}` is not a policy type"));
                ctx.push(e.help("types are `Ingress` and `Egress` (case-sensitive)"));
                ok = false;
                continue;
            }
        };
        if *slot {
            let e = ctx.error_at(
                t,
                "invalid-type",
                format!("`{}` is listed twice in `types`", t.value),
            );
            ctx.push(e.help("list each type once"));
            ok = false;
        }
        *slot = true;
    }
    ok.then_some(d)
}

/// Lower a Profile.
pub fn profile(ctx: &mut Ctx<'_>, named: &Named, spec: &ProfileSpec) -> Option<Profile> {
    let scope = Scope { namespace: None };
    let (ingress, ingress_ok) = rules(ctx, &spec.ingress, Direction::Ingress, scope);
    let (egress, egress_ok) = rules(ctx, &spec.egress, Direction::Egress, scope);
    for r in ingress
        .iter()
        .chain(&egress)
        .filter(|r| r.action == Action::Pass)
    {
        ctx.push(
            Diagnostic::warning(
                "pass-in-profile",
                "Pass in a profile means \"next profile\" in iptables/nftables but Deny in eBPF",
            )
            .at(r.span)
            .help("use Allow or Deny in profiles"),
        );
    }
    let labels_to_apply = ctx.labels(&spec.labels_to_apply);
    if !(ingress_ok && egress_ok) {
        return None;
    }
    Some(Profile {
        name: named.name.clone(),
        ingress,
        egress,
        labels_to_apply,
        builtin: false,
        span: Some(named.span),
    })
}
