//! `policy-selects-nothing` and `selector-selects-nothing`: an enforced policy that
//! applies to no endpoint of the inventory, and a rule selector that matches no pod,
//! host endpoint or network set (so the rule never matches).
//!
//! Both judge the inventory the input lists, so they stay silent where it cannot
//! tell: without pods in the input (a repository of policies alone, or of policies and
//! host endpoints, where a selector may well be meant for pods), unless the policy
//! only ever applies to host endpoints (preDNAT, doNotTrack) and some are listed.
//! Polc reports nothing in that case rather than a note, so checking policies alone
//! stays quiet. A selector with an `unknown-label` finding
//! is left to that finding, which says why it matches nothing.

use std::collections::HashSet;

use super::inventory::Inventory;
use super::words::{count, direction};
use crate::diag::Diagnostic;
use crate::ir::{Policy, Rule};
use crate::selector::Expr;
use crate::semantics::Direction;

/// Whether the inventory can judge what `policy` selects (`rules`: what its rule
/// selectors match, which includes network sets).
fn judged(inv: &Inventory<'_, '_>, policy: &Policy) -> bool {
    inv.has_pods() || ((policy.pre_dnat || policy.do_not_track) && inv.has_endpoints())
}

/// Report both lints; `explained` holds the selectors `unknown-label` reported.
pub(super) fn check(
    inv: &Inventory<'_, '_>,
    explained: &HashSet<usize>,
    out: &mut Vec<Diagnostic>,
) {
    let model = inv.model();
    let ptr = |e: &Expr| e as *const Expr as usize;
    for policy in model.policies.iter().filter(|p| p.staged.is_none()) {
        if judged(inv, policy)
            && !explained.contains(&ptr(&policy.selector))
            && !inv.selects_endpoint(&policy.selector)
        {
            let mut d = Diagnostic::warning(
                "policy-selects-nothing",
                format!(
                    "{} applies to no endpoint: its selector matches no pod or host endpoint of the inventory",
                    policy.id
                ),
            )
            .at(policy.span)
            .label("selects nothing")
            .with_note(format!("effective selector: `{}`", policy.selector));
            if let Some(ns) = &policy.id.namespace {
                let pods = model.pods.iter().filter(|p| &p.namespace == ns).count();
                d = d.with_note(format!(
                    "namespace `{ns}` has {} in the inventory",
                    count(pods, "pod", "pods")
                ));
            }
            out.push(
                d.help("fix the selector so it matches the endpoints meant, or delete the policy"),
            );
        }
        for (dir, rules, governed) in [
            (Direction::Ingress, &policy.ingress, policy.types.ingress),
            (Direction::Egress, &policy.egress, policy.types.egress),
        ] {
            if governed && judged(inv, policy) {
                rule_selectors(inv, explained, policy, dir, rules, out);
            }
        }
    }
}

fn rule_selectors(
    inv: &Inventory<'_, '_>,
    explained: &HashSet<usize>,
    policy: &Policy,
    dir: Direction,
    rules: &[Rule],
    out: &mut Vec<Diagnostic>,
) {
    for (i, rule) in rules.iter().enumerate() {
        for (side, e) in [("source", &rule.source), ("destination", &rule.destination)] {
            let Some(sel) = &e.selector else { continue };
            if explained.contains(&(&**sel as *const Expr as usize)) || inv.selects_holder(sel) {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    "selector-selects-nothing",
                    format!(
                        "the {side} selector of {} rule {i} of {} matches no pod, host endpoint or network set, so the rule never matches",
                        direction(dir),
                        policy.id
                    ),
                )
                .at(rule.span)
                .label(format!("{side} matches nothing"))
                .with_note(format!("effective {side} selector: `{sel}`"))
                .help("fix the selector (compare its labels and values with the inventory's), or delete the rule"),
            );
        }
    }
}
