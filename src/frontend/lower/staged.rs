//! A staged policy with `stagedAction: Delete` stages the removal of the enforced
//! policy of the same name, so it may carry no policy of its own.
//!
//! Calico's validator (`libcalico-go/lib/validator/v3/validator.go`:
//! `validateStagedNetworkPolicy`, `validateStagedGlobalNetworkPolicy`) rejects such a
//! policy unless its enforced spec equals the zero value but for `tier` ("Spec fields,
//! except Tier, should all be zero-value if stagedAction is Delete"); the client
//! clears `types` before validating (`libcalico-go/lib/clientv3/
//! stagednetworkpolicy.go`: `Create`). `validateStagedKubernetesNetworkPolicy` wants
//! every field but `stagedAction` zero. The comparison is `reflect.DeepEqual`, so an
//! empty list (`ingress: []`) is not zero; `false` and `""` are.

use super::Ctx;
use crate::diag::Diagnostic;
use crate::frontend::kinds::Kind;
use crate::frontend::raw::S;
use crate::frontend::raw::calico::PolicySpec;
use crate::frontend::raw::k8s::NetworkPolicySpec;
use crate::source::Span;

fn set<T>(f: &Option<S<T>>, ctx: &Ctx<'_>) -> Option<Span> {
    f.as_ref().map(|s| ctx.span(&s.referenced))
}

fn text(f: &Option<S<String>>, ctx: &Ctx<'_>) -> Option<Span> {
    f.as_ref()
        .filter(|s| !s.value.is_empty())
        .map(|s| ctx.span(&s.referenced))
}

fn flag(f: &Option<S<bool>>, ctx: &Ctx<'_>) -> Option<Span> {
    f.as_ref()
        .filter(|s| s.value)
        .map(|s| ctx.span(&s.referenced))
}

/// Report every field a Delete policy sets; false when there is one.
fn report(ctx: &mut Ctx<'_>, kind: Kind, fields: &[(&str, Option<Span>)], keep: &str) -> bool {
    let mut ok = true;
    for (field, span) in fields {
        let Some(span) = span else { continue };
        ctx.push(
            Diagnostic::error(
                "invalid-policy",
                format!(
                    "a {} with `stagedAction: Delete` cannot set `{field}`",
                    kind.name()
                ),
            )
            .at(*span)
            .help(format!(
                "remove `{field}`: a Delete stages the removal of the enforced policy of the same name, and {keep}"
            )),
        );
        ok = false;
    }
    ok
}

/// Check a Calico staged policy whose `stagedAction` is Delete.
pub fn calico_delete(ctx: &mut Ctx<'_>, kind: Kind, spec: &PolicySpec) -> bool {
    let fields = [
        ("order", set(&spec.order, ctx)),
        ("selector", text(&spec.selector, ctx)),
        ("namespaceSelector", text(&spec.namespace_selector, ctx)),
        (
            "serviceAccountSelector",
            text(&spec.service_account_selector, ctx),
        ),
        ("ingress", set(&spec.ingress, ctx)),
        ("egress", set(&spec.egress, ctx)),
        ("doNotTrack", flag(&spec.do_not_track, ctx)),
        ("preDNAT", flag(&spec.pre_dnat, ctx)),
        ("applyOnForward", flag(&spec.apply_on_forward, ctx)),
        ("performanceHints", set(&spec.performance_hints, ctx)),
    ];
    report(ctx, kind, &fields, "only `tier` (and `types`) may stay")
}

/// Check a StagedKubernetesNetworkPolicy whose `stagedAction` is Delete.
pub fn k8s_delete(ctx: &mut Ctx<'_>, spec: &NetworkPolicySpec) -> bool {
    let pod_selector = spec
        .pod_selector
        .as_ref()
        .filter(|s| s.value.match_labels.is_some() || !s.value.match_expressions.is_empty())
        .map(|s| ctx.span(&s.referenced));
    let fields = [
        ("podSelector", pod_selector),
        ("policyTypes", set(&spec.policy_types, ctx)),
        ("ingress", set(&spec.ingress, ctx)),
        ("egress", set(&spec.egress, ctx)),
    ];
    report(
        ctx,
        Kind::StagedKubernetesNetworkPolicy,
        &fields,
        "nothing but `stagedAction` may be set",
    )
}
