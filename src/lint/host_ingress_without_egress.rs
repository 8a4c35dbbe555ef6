//! `host-ingress-without-egress`: a host endpoint with normal ingress policy but no
//! egress policy and no profile that allows egress.
//!
//! With no tier applying to a host endpoint's egress, its host's own connections fall
//! to the endpoint's profiles, and when none allows, they are dropped: Felix's chain
//! ends "drop if no profiles matched" (`felix/rules/endpoints.go`; the evaluator's
//! `End::Profiles` in `semantics/stage.rs`). Only the outbound failsafe ports get
//! out. A host to its own pods is never policed, and replies are never evaluated.

use super::inventory::Inventory;
use super::words::{count, names};
use crate::diag::Diagnostic;
use crate::ir::Action;
use crate::semantics::{Direction, EndpointKind, Engine, Stage};

/// Report every such host endpoint.
pub(super) fn check(inv: &Inventory<'_, '_>, out: &mut Vec<Diagnostic>) {
    let model = inv.model();
    for h in inv.of_kind(EndpointKind::Host) {
        let ep = inv.endpoint(h);
        let Some(hi) = ep.hep else { continue };
        let hep = &model.host_endpoints[hi];
        let selected = inv.engine.selecting(ep.labels);
        let policies = |stage: Stage, dir: Direction| -> Vec<usize> {
            selected
                .iter()
                .copied()
                .filter(|&p| Engine::in_stage(&model.policies[p], stage, dir))
                .collect()
        };
        let ingress = policies(Stage::Normal, Direction::Ingress);
        if ingress.is_empty() {
            continue;
        }
        // Untracked egress policy counts only where Felix applies it (not on `*`).
        let untracked = inv.engine.untracked_applies(h)
            && !policies(Stage::Untracked, Direction::Egress).is_empty();
        if !policies(Stage::Normal, Direction::Egress).is_empty() || untracked {
            continue;
        }
        let profile_allows = hep.profiles.iter().any(|name| {
            model
                .profiles
                .iter()
                .find(|p| &p.name == name)
                .is_some_and(|p| p.egress.iter().any(|r| r.action == Action::Allow))
        });
        if profile_allows {
            continue;
        }
        let failsafe: Vec<String> = model
            .felix
            .failsafe_outbound(&hep.node)
            .iter()
            .map(|f| match f.net {
                Some(n) => format!("{} {} to {n}", f.protocol, f.port),
                None => format!("{} {}", f.protocol, f.port),
            })
            .collect();
        let except = if failsafe.is_empty() {
            "with no outbound failsafe port to fall back on".to_string()
        } else {
            format!(
                "except to the outbound failsafe ports ({})",
                failsafe.join(", ")
            )
        };
        let ingress_names: Vec<String> = ingress
            .iter()
            .map(|&p| model.policies[p].id.to_string())
            .collect();
        let mut d = Diagnostic::warning(
            "host-ingress-without-egress",
            format!(
                "host endpoint `{}` has ingress policy but no egress policy: every connection its host opens is dropped, {except}",
                hep.name
            ),
        )
        .at(hep.span)
        .label(format!(
            "ingress governed by {}; egress falls to {}",
            count(ingress.len(), "policy", "policies"),
            if hep.profiles.is_empty() {
                "no profile: drop".to_string()
            } else {
                format!("profiles {} (none allows): drop", hep.profiles.join(", "))
            }
        ));
        for &p in ingress.iter().take(super::words::SHOWN) {
            d = d.related(
                model.policies[p].span,
                "governs ingress only (`types` has no Egress)",
            );
        }
        d = d.with_note(format!(
            "ingress policy: {}; replies to connections it admits still flow, and the host may reach its own pods",
            names(&ingress_names)
        ));
        out.push(d.help(format!(
            "add a policy with `types: [Egress]` selecting `{}` (for example `egress: [{{action: Allow}}]` in the same tier), or give it the `projectcalico-default-allow` profile",
            hep.name
        )));
    }
}
