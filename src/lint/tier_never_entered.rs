//! `tier-never-entered`: a declared tier (not one of Calico's built-in tiers) in which
//! no enforced policy selects any endpoint of the inventory, so no packet is ever
//! evaluated there and its default action never fires. Silent when the inventory
//! lists no pods or host endpoints.

use std::collections::BTreeSet;

use super::inventory::Inventory;
use super::words::SHOWN;
use crate::diag::Diagnostic;

/// Calico's built-in tier names.
const BUILTIN: [&str; 3] = ["kube-admin", "default", "kube-baseline"];

/// Report every such tier.
pub(super) fn check(inv: &Inventory<'_, '_>, out: &mut Vec<Diagnostic>) {
    if !inv.has_endpoints() {
        return;
    }
    let engine = inv.engine;
    let model = inv.model();
    let entered: BTreeSet<usize> = inv
        .policed
        .keys()
        .flat_map(|&ls| engine.selecting(ls).to_vec())
        .map(|p| engine.policy_tier[p])
        .collect();
    for (t, tier) in model.tiers.iter().enumerate() {
        let Some(span) = tier.span else { continue };
        if tier.builtin || BUILTIN.contains(&tier.name.as_str()) || entered.contains(&t) {
            continue;
        }
        let members: Vec<usize> = (0..model.policies.len())
            .filter(|&p| engine.policy_tier[p] == t)
            .collect();
        let enforced: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&p| model.policies[p].staged.is_none())
            .collect();
        let why = if members.is_empty() {
            "it holds no policy".to_string()
        } else if enforced.is_empty() {
            format!(
                "it holds only staged policies ({}), which are never enforced",
                members.len()
            )
        } else if enforced.len() == 1 {
            "its only policy selects no pod or host endpoint of the inventory".to_string()
        } else {
            format!(
                "none of its {} policies selects a pod or host endpoint of the inventory",
                enforced.len()
            )
        };
        let mut d = Diagnostic::warning(
            "tier-never-entered",
            format!(
                "no endpoint ever enters tier `{}`: {why}, so its rules and its defaultAction never apply",
                tier.name
            ),
        )
        .at(span)
        .label("never entered");
        for &p in enforced.iter().take(SHOWN) {
            d = d.related(model.policies[p].span, "selects no endpoint");
        }
        out.push(d.help(
            "fix the selectors of the tier's policies, move policies into it, or delete the tier",
        ));
    }
}
