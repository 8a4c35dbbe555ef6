//! Calico's evaluation order of tiers and policies, in one place: the frontend sorts
//! the model with it and [`super::enforce_staged`] sorts its what-if model with it.
//!
//! Tiers: Calico's `TierLess` (ordered tiers first, by order, then by name). Policies:
//! by tier, then `order` (none sorts last), then Calico's (≥ v3.32) tie-break key
//! `name/namespace/kind` ([`super::PolicyId::sort_key`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Policy, Tier};

/// Calico's `TierLess`: ordered tiers first, by order, then by name.
pub fn tier_cmp(a: &Tier, b: &Tier) -> Ordering {
    match (a.order, b.order) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.name.cmp(&b.name))
}

/// Sort `policies` into Calico's evaluation order; `tiers` is already in tier order
/// and names every policy's tier (a policy of an unknown tier sorts first).
pub fn sort_policies(tiers: &[Tier], policies: &mut [Policy]) {
    let tier_index: BTreeMap<&str, usize> = tiers
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let order = |p: &Policy| p.order.unwrap_or(f64::INFINITY);
    policies.sort_by(|a, b| {
        tier_index
            .get(a.tier.as_str())
            .cmp(&tier_index.get(b.tier.as_str()))
            .then_with(|| order(a).total_cmp(&order(b)))
            .then_with(|| a.id.sort_key().cmp(&b.id.sort_key()))
    });
}
