//! `pass-in-last-tier`: a Pass rule, or a declared tier's `defaultAction: Pass`, in the
//! last tier that an endpoint enters for a direction. There is no later tier to pass
//! to: the packet goes straight to the endpoint's profiles, where a pod's namespace
//! profile allows it and a host endpoint's profiles decide (none allowing: drop).
//!
//! Judged per endpoint and direction on the normal policy stage, with the tiers that
//! count as the evaluator counts them (a non-staged policy in the tier selects the
//! endpoint and governs the direction), once per distinct label set. The built-in
//! tiers' Pass defaults are Calico's design, not a choice in the input, and are not
//! reported; Pass rules in them are.

use std::collections::BTreeMap;

use super::inventory::Inventory;
use super::words::{count, direction, names, rule_of};
use crate::diag::Diagnostic;
use crate::ir::{Action, TierAction};
use crate::semantics::{Direction, EndpointKind, Engine, Stage};

/// Where the Pass comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PassSite {
    /// `Model::tiers[t]`'s default action.
    Default(usize),
    /// Rule `index` of policy `policy` in direction `ingress`/egress.
    Rule {
        policy: usize,
        ingress: bool,
        index: usize,
    },
}

/// Endpoints (universe indices) a Pass hands on, by direction.
type Reached = BTreeMap<bool, Vec<usize>>;

/// Report every such Pass.
pub(super) fn check(inv: &Inventory<'_, '_>, out: &mut Vec<Diagnostic>) {
    let engine = inv.engine;
    let model = inv.model();
    let position: BTreeMap<usize, usize> = engine
        .tiers
        .order
        .iter()
        .enumerate()
        .map(|(pos, &t)| (t, pos))
        .collect();
    let mut sites: BTreeMap<PassSite, Reached> = BTreeMap::new();
    for (&ls, eps) in &inv.policed {
        let selected = engine.selecting(ls);
        for dir in [Direction::Ingress, Direction::Egress] {
            let policies: Vec<usize> = selected
                .iter()
                .copied()
                .filter(|&p| Engine::in_stage(&model.policies[p], Stage::Normal, dir))
                .collect();
            let Some(last) = policies
                .iter()
                .map(|&p| engine.policy_tier[p])
                .max_by_key(|t| position.get(t).copied().unwrap_or(usize::MAX))
            else {
                continue;
            };
            let ingress = dir == Direction::Ingress;
            let tier = &model.tiers[last];
            let mut found = Vec::new();
            if tier.default_action == TierAction::Pass && tier.span.is_some() && !tier.builtin {
                found.push(PassSite::Default(last));
            }
            for &p in policies.iter().filter(|&&p| engine.policy_tier[p] == last) {
                let rules = if ingress {
                    &model.policies[p].ingress
                } else {
                    &model.policies[p].egress
                };
                for (index, r) in rules.iter().enumerate() {
                    if r.action == Action::Pass {
                        found.push(PassSite::Rule {
                            policy: p,
                            ingress,
                            index,
                        });
                    }
                }
            }
            for site in found {
                sites
                    .entry(site)
                    .or_default()
                    .entry(ingress)
                    .or_default()
                    .extend(eps);
            }
        }
    }
    for (site, reached) in sites {
        let (tier, span, what) = match site {
            PassSite::Default(t) => {
                let tier = &model.tiers[t];
                let Some(span) = tier.span else { continue };
                (tier, span, "its `defaultAction: Pass`".to_string())
            }
            PassSite::Rule {
                policy,
                ingress,
                index,
            } => {
                let p = &model.policies[policy];
                let dir = if ingress {
                    Direction::Ingress
                } else {
                    Direction::Egress
                };
                let rules = if ingress { &p.ingress } else { &p.egress };
                (
                    &model.tiers[engine.policy_tier[policy]],
                    rules[index].span,
                    format!("the Pass of {}", rule_of(p, dir, index)),
                )
            }
        };
        let total = reached
            .values()
            .flatten()
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let mut d = Diagnostic::warning(
            "pass-in-last-tier",
            format!(
                "tier `{}` is the last tier {} {}, so {what} hands packets straight to the profiles",
                tier.name,
                count(total, "endpoint", "endpoints"),
                if total == 1 { "enters" } else { "enter" },
            ),
        )
        .at(span)
        .label("nothing after this tier to pass to");
        for (ingress, eps) in reached.iter().rev() {
            let dir = direction(if *ingress {
                Direction::Ingress
            } else {
                Direction::Egress
            });
            let (pods, heps): (Vec<usize>, Vec<usize>) = eps
                .iter()
                .partition(|&&e| inv.endpoint(e).kind == EndpointKind::Pod);
            let name_list = |v: &[usize]| {
                let mut n: Vec<&str> = v.iter().map(|&e| inv.endpoint(e).name.as_str()).collect();
                n.sort_unstable();
                names(&n)
            };
            if !pods.is_empty() {
                d = d.with_note(format!(
                    "{dir} of {} ({}): the namespace profile allows what is passed",
                    count(pods.len(), "pod", "pods"),
                    name_list(&pods)
                ));
            }
            if !heps.is_empty() {
                d = d.with_note(format!(
                    "{dir} of {} ({}): the host endpoints' profiles decide, and drop when none allows",
                    count(heps.len(), "host endpoint", "host endpoints"),
                    name_list(&heps)
                ));
            }
        }
        out.push(d.help(
            "decide here with an explicit Allow or Deny (or `defaultAction: Deny`), or add a later tier whose policies select these endpoints",
        ));
    }
}
