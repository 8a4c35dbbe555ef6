//! The names the builder gives endpoint, policy and profile chains and the comments
//! it gives policy rules: one definition, used by the builder and by `polc explain
//! --target nft` (through `nft::locate`).

use crate::backend::names::{comment, ident};
use crate::ir::{IpVersion, Policy, PolicyKind};
use crate::semantics::{Direction, Endpoint, EndpointKind, Stage};
use crate::source::Sources;

/// The tag of an IP family in set and map names.
pub fn family_tag(f: IpVersion) -> &'static str {
    if f == IpVersion::V4 { "v4" } else { "v6" }
}

/// The short tag of a policy kind in chain names.
pub fn kind_short(k: PolicyKind) -> &'static str {
    match k {
        PolicyKind::GlobalNetworkPolicy => "gnp",
        PolicyKind::NetworkPolicy => "np",
        PolicyKind::KubernetesNetworkPolicy => "knp",
        PolicyKind::StagedGlobalNetworkPolicy => "sgnp",
        PolicyKind::StagedNetworkPolicy => "snp",
        PolicyKind::StagedKubernetesNetworkPolicy => "sknp",
        PolicyKind::AdminNetworkPolicy => "anp",
        PolicyKind::BaselineAdminNetworkPolicy => "banp",
        PolicyKind::ClusterNetworkPolicy => "cnp",
    }
}

/// The tag of a direction in chain names.
pub fn dir_tag(d: Direction) -> &'static str {
    if d == Direction::Ingress { "in" } else { "eg" }
}

/// The tag of a stage and direction in endpoint chain names and comments.
pub fn stage_tag(stage: Stage, dir: Direction) -> String {
    match (stage, dir) {
        (Stage::Normal, d) => dir_tag(d).to_string(),
        (Stage::Forward, d) => format!("fwd-{}", dir_tag(d)),
        (Stage::PreDnat, _) => "pre-in".to_string(),
        (Stage::Untracked, d) => format!("raw-{}", dir_tag(d)),
    }
}

/// The chain of one endpoint, stage and direction (`wl.NS.POD.TAG`, `hep.NAME.TAG`).
pub fn endpoint_chain_name(e: &Endpoint, stage: Stage, dir: Direction) -> String {
    let tag = stage_tag(stage, dir);
    match e.kind {
        EndpointKind::Pod => {
            let (ns, pod) = e.name.split_once('/').unwrap_or(("", &e.name));
            ident(&["wl", ns, pod, &tag])
        }
        _ => ident(&["hep", e.name.trim_start_matches("host/"), &tag]),
    }
}

/// The chain of one policy's rules in one direction (`pol.KIND.[NS.]NAME.DIR`).
pub fn policy_chain_name(policy: &Policy, dir: Direction) -> String {
    let kind = kind_short(policy.id.kind);
    match policy.id.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        None => ident(&["pol", kind, &policy.id.name, dir_tag(dir)]),
        Some(ns) => ident(&["pol", kind, ns, &policy.id.name, dir_tag(dir)]),
    }
}

/// The chain of one profile's rules in one direction (`prof.NAME.DIR`).
pub fn profile_chain_name(name: &str, dir: Direction) -> String {
    ident(&["prof", name, dir_tag(dir)])
}

/// The comment of every nft line of a policy's rule: the policy, direction, index,
/// the rule's `path:line:col` relative to the repository root and, for a converted
/// rule, the rule as written.
pub fn policy_rule_comment(
    sources: &Sources,
    policy: &Policy,
    dir: Direction,
    index: usize,
) -> String {
    let rules = if dir == Direction::Ingress {
        &policy.ingress
    } else {
        &policy.egress
    };
    let at = rules
        .get(index)
        .map(|r| sources.locate_in_repo(r.span).to_string())
        .unwrap_or_default();
    // A converted rule also names the rule as written (after the location, so a
    // long name is what a cut shortens).
    let written = rules
        .get(index)
        .and_then(|r| r.written.as_ref())
        .map(|w| format!(" (written rule {} {})", w.index, w.name))
        .unwrap_or_default();
    comment(
        &format!("{} {} rule {index} {at}{written}", policy.id, dir_tag(dir)),
        128,
    )
}
