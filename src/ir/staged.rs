//! The what-if model: the model as it would be with every staged policy enforced
//! (`polc matrix --staged`, `polc diff --staged`, `polc explain --staged`). Nothing
//! else reads it: `build`, `check` and the plain views never enforce a staged policy.
//!
//! What enforcing means, from upstream Calico:
//! - A staged policy becomes the enforced policy of the same name and namespace, of
//!   the matching enforced kind, with the staged spec copied over (tier, order,
//!   selector, rules): `ConvertStagedGlobalPolicyToEnforced`,
//!   `ConvertStagedPolicyToEnforced` and `ConvertStagedKubernetesPolicyToK8SEnforced`
//!   in `api/pkg/apis/projectcalico/v3/staged{global,,kubernetes}networkpolicy.go`,
//!   which Calico's e2e tests create to enforce a staged policy
//!   (`e2e/pkg/tests/policy/staged_policy.go`). A StagedKubernetesNetworkPolicy
//!   becomes a `networking.k8s.io/v1` NetworkPolicy of its name, which Calico keys as
//!   a KubernetesNetworkPolicy (`knp.default.<name>` in the older naming,
//!   `libcalico-go/lib/backend/model/policy.go` `parseLegacyPolicyName`).
//! - A policy's identity is its kind, namespace and name (`model.PolicyKey` in
//!   `libcalico-go/lib/backend/model/policy.go`; the `staged:` name prefix there is
//!   only the legacy key format of Typha before v3.32). The tier is part of the spec,
//!   not of the identity: an enforced policy of that identity is replaced by the
//!   staged one, in the staged policy's tier.
//! - `stagedAction: Delete` stages the removal of the enforced policy of its identity
//!   (the update processors never send it to Felix:
//!   `libcalico-go/lib/backend/syncersv1/updateprocessors/staged*processor.go`);
//!   enforcing it removes that policy.
//! - `Learn` and `Ignore` are the policy-recommendation life cycle of Calico
//!   Enterprise (docs.tigera.io, "Recommend policies for hosts": a recommendation is
//!   learnt, then set, enforced or ignored). The conversion functions copy the spec
//!   whatever the action, so a `Learn` policy is enforced like `Set`; an `Ignore`
//!   policy is a recommendation that was dismissed, so enforcing the staged policies
//!   leaves it staged (and inert).
//!
//! The result is sorted by [`super::sort_policies`], Calico's evaluation order, like
//! the frontend's model.

use std::collections::BTreeMap;

use super::{Model, Policy, PolicyId, StagedAction, sort_policies};

/// Whether the model holds a staged policy that enforcing would apply (any but
/// `Ignore`).
pub fn has_staged(model: &Model) -> bool {
    model
        .policies
        .iter()
        .any(|p| matches!(p.staged, Some(a) if a != StagedAction::Ignore))
}

/// The enforced identity a staged policy stands for.
fn enforced_id(p: &Policy) -> PolicyId {
    PolicyId {
        kind: p.id.kind.enforced(),
        ..p.id.clone()
    }
}

/// The model as if every staged policy were enforced (see the module docs).
pub fn enforce_staged(model: &Model) -> Model {
    // What each enforced identity becomes: `Some(policy)` set, `None` deleted.
    let mut staged: BTreeMap<PolicyId, Option<Policy>> = BTreeMap::new();
    for p in &model.policies {
        let enforced = match p.staged {
            None | Some(StagedAction::Ignore) => continue,
            Some(StagedAction::Delete) => None,
            Some(StagedAction::Set | StagedAction::Learn) => Some(Policy {
                id: enforced_id(p),
                staged: None,
                enforced_from: Some(p.id.kind),
                ..p.clone()
            }),
        };
        staged.insert(enforced_id(p), enforced);
    }
    let mut policies: Vec<Policy> = model
        .policies
        .iter()
        .filter(|p| match p.staged {
            None => !staged.contains_key(&p.id),
            Some(a) => a == StagedAction::Ignore,
        })
        .cloned()
        .collect();
    policies.extend(staged.into_values().flatten());
    sort_policies(&model.tiers, &mut policies);
    Model {
        policies,
        ..model.clone()
    }
}
