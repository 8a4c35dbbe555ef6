//! Lints: input that is valid and means something definite, but probably not what was
//! meant. Each finding is a warning with a stable code:
//!
//! | code | finding |
//! |---|---|
//! | `host-policy-admits-workloads` | a host-endpoint policy admits pods wholesale, so they reach host services |
//! | `host-ingress-without-egress` | a host endpoint with ingress policy and no egress policy: its host can send almost nothing |
//! | `failsafe-lockout` | TCP 22 left the inbound failsafe ports while policy denies SSH from outside |
//! | `unknown-label` | a selector names a label key nothing carries (a likely typo) |
//! | `policy-selects-nothing` | an enforced policy applies to no endpoint |
//! | `selector-selects-nothing` | a rule selector matches no pod, host endpoint or network set |
//! | `tier-never-entered` | a declared tier in which no policy selects any endpoint |
//! | `pass-in-last-tier` | a Pass with no later tier: the profiles decide |
//!
//! Calico's semantics come from the reference evaluator ([`Engine`]): who a policy
//! applies to, which tiers count for an endpoint and direction, what a connection
//! meets and who decides it; the lints only read plain facts (labels, names, spans,
//! settings) from the model directly. Selector questions are asked per distinct
//! label set through the engine's memoised matching. Lints that judge the inventory
//! stay silent when the input lists none of what they judge (see each module), so
//! checking policies alone stays quiet. This module must not print.

mod failsafe_lockout;
mod host_admits_workloads;
mod host_ingress_without_egress;
mod host_side;
mod inventory;
mod pass_in_last_tier;
mod selects_nothing;
mod tier_never_entered;
mod unknown_label;
mod words;

use crate::diag::Diagnostic;
use crate::semantics::Engine;

/// Run every lint over the engine's model. The result is sorted by place, code and
/// message, so it does not depend on the order the lints ran in.
pub fn lints(engine: &Engine<'_>) -> Vec<Diagnostic> {
    let inv = inventory::Inventory::new(engine);
    let mut out = Vec::new();
    host_admits_workloads::check(&inv, &mut out);
    host_ingress_without_egress::check(&inv, &mut out);
    failsafe_lockout::check(&inv, &mut out);
    let explained = unknown_label::check(&inv, &mut out);
    selects_nothing::check(&inv, &explained, &mut out);
    tier_never_entered::check(&inv, &mut out);
    pass_in_last_tier::check(&inv, &mut out);
    out.sort_by(|a, b| {
        let key = |d: &Diagnostic| (d.span.map(|s| (s.file, s.start, s.end)), d.code);
        key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(text: &str) -> Vec<Diagnostic> {
        let mut sources = crate::source::Sources::default();
        sources.add("t.yaml".to_string(), text.to_string());
        let loaded = crate::frontend::load_sources(sources);
        assert!(!loaded.diags.has_errors(), "valid input");
        lints(&Engine::new(&loaded.model))
    }

    const POLICIES: &str = "apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: last}
spec: {order: 10, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: p}
spec:
  tier: last
  selector: aap == 'web'
  ingress:
    - action: Pass
      source: {selector: app == 'nobody'}
";

    #[test]
    fn policies_alone_are_not_judged() {
        assert_eq!(lint(POLICIES), Vec::new());
    }

    const HOST: &str = "---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: n1-eth0, labels: {role: node}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [10.0.0.1]}
";

    fn gnp(name: &str, spec: &str) -> String {
        format!(
            "---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n{spec}"
        )
    }

    #[test]
    fn pod_selectors_are_not_judged_without_pods() {
        // The textbook host-endpoint example beside a policy for pods not listed.
        let web = gnp(
            "web",
            "  selector: app == 'web'\n  ingress: [{action: Allow, source: {selector: app == 'frontend'}}]\n",
        );
        let host = gnp(
            "host",
            "  selector: role == 'node'\n  ingress: [{action: Allow}]\n  egress: [{action: Allow}]\n",
        );
        assert_eq!(lint(&format!("{HOST}{web}{host}")), Vec::new());
    }

    #[test]
    fn without_pods_a_near_miss_of_a_host_label_and_host_only_policies_are_judged() {
        let typo = gnp(
            "typo",
            "  selector: rol == 'node'\n  ingress: [{action: Allow}]\n  egress: [{action: Allow}]\n",
        );
        let raw = gnp(
            "raw",
            "  selector: role == 'nod'\n  doNotTrack: true\n  applyOnForward: true\n  ingress: [{action: Allow}]\n",
        );
        let found = lint(&format!("{HOST}{typo}{raw}"));
        let codes: Vec<(&str, &str)> = found
            .iter()
            .map(|d| (d.code, d.help.as_deref().unwrap_or("")))
            .collect();
        assert!(
            codes.contains(&("unknown-label", "did you mean `role`?")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|d| d.code == "policy-selects-nothing" && d.message.contains("raw")),
            "{found:?}"
        );
    }

    #[test]
    fn findings_use_registered_codes_in_a_stable_order() {
        let inventory = "---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {podIP: 10.0.0.1}
";
        let found = lint(&format!("{POLICIES}{inventory}"));
        let codes: Vec<&str> = found.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            [
                "tier-never-entered",
                "unknown-label",
                "selector-selects-nothing"
            ]
        );
        assert!(
            found.iter().all(|d| {
                crate::codes::lookup(d.code).is_some_and(|c| c.severity == d.severity)
            })
        );
        assert_eq!(found, lint(&format!("{POLICIES}{inventory}")));
    }
}
