//! The kinds polc reads, and how an `apiVersion`/`kind` pair resolves: a modelled kind,
//! a kind that is fine to skip (no policy API group), or one worth a diagnostic: a
//! modelled kind under another version, or a kind of a policy API group polc does not
//! model (a user's policy never vanishes silently).

/// A kind polc models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Kind {
    Tier,
    GlobalNetworkPolicy,
    NetworkPolicy,
    StagedGlobalNetworkPolicy,
    StagedNetworkPolicy,
    StagedKubernetesNetworkPolicy,
    HostEndpoint,
    GlobalNetworkSet,
    NetworkSet,
    Profile,
    FelixConfiguration,
    IPPool,
    /// `networking.k8s.io/v1` NetworkPolicy.
    KubernetesNetworkPolicy,
    AdminNetworkPolicy,
    BaselineAdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy.
    ClusterNetworkPolicy,
    Namespace,
    Pod,
    Node,
}

const CALICO: &str = "projectcalico.org/v3";
const NETWORKING: &str = "networking.k8s.io/v1";
const POLICY_API: &str = "policy.networking.k8s.io/v1alpha1";
const POLICY_API_V2: &str = "policy.networking.k8s.io/v1alpha2";
const CORE: &str = "v1";

/// Every modelled kind with the `apiVersion` and `kind` it is written with.
pub const KINDS: &[(&str, &str, Kind)] = &[
    (CALICO, "Tier", Kind::Tier),
    (CALICO, "GlobalNetworkPolicy", Kind::GlobalNetworkPolicy),
    (CALICO, "NetworkPolicy", Kind::NetworkPolicy),
    (
        CALICO,
        "StagedGlobalNetworkPolicy",
        Kind::StagedGlobalNetworkPolicy,
    ),
    (CALICO, "StagedNetworkPolicy", Kind::StagedNetworkPolicy),
    (
        CALICO,
        "StagedKubernetesNetworkPolicy",
        Kind::StagedKubernetesNetworkPolicy,
    ),
    (CALICO, "HostEndpoint", Kind::HostEndpoint),
    (CALICO, "GlobalNetworkSet", Kind::GlobalNetworkSet),
    (CALICO, "NetworkSet", Kind::NetworkSet),
    (CALICO, "Profile", Kind::Profile),
    (CALICO, "FelixConfiguration", Kind::FelixConfiguration),
    (CALICO, "IPPool", Kind::IPPool),
    (NETWORKING, "NetworkPolicy", Kind::KubernetesNetworkPolicy),
    (POLICY_API, "AdminNetworkPolicy", Kind::AdminNetworkPolicy),
    (
        POLICY_API,
        "BaselineAdminNetworkPolicy",
        Kind::BaselineAdminNetworkPolicy,
    ),
    (
        POLICY_API_V2,
        "ClusterNetworkPolicy",
        Kind::ClusterNetworkPolicy,
    ),
    (CORE, "Namespace", Kind::Namespace),
    (CORE, "Pod", Kind::Pod),
    (CORE, "Node", Kind::Node),
];

/// Calico v3 kinds that exist upstream but do not affect policy enforcement.
const CALICO_OTHER: &[&str] = &[
    "BGPConfiguration",
    "BGPFilter",
    "BGPPeer",
    "BlockAffinity",
    "CalicoNodeStatus",
    "ClusterInformation",
    "IPAMConfiguration",
    "IPReservation",
    "KubeControllersConfiguration",
];

impl Kind {
    /// The `kind:` string.
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, _, k)| *k == self)
            .map_or("?", |(_, n, _)| n)
    }

    /// The `apiVersion:` string.
    pub fn api_version(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, _, k)| *k == self)
            .map_or("?", |(a, _, _)| a)
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(self) -> bool {
        matches!(
            self,
            Kind::NetworkPolicy
                | Kind::StagedNetworkPolicy
                | Kind::StagedKubernetesNetworkPolicy
                | Kind::NetworkSet
                | Kind::KubernetesNetworkPolicy
                | Kind::Pod
        )
    }
}

/// Calico's internal CRD kinds (`crd.projectcalico.org/v1`) that have no
/// `projectcalico.org/v3` form and do not affect policy enforcement (upstream
/// `libcalico-go/config/crd/`).
const CALICO_CRD_OTHER: &[&str] = &["IPAMBlock", "IPAMConfig", "IPAMHandle"];

/// What an `apiVersion`/`kind` pair means to polc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A modelled kind.
    Known(Kind),
    /// Some other kind (Deployment, Service, BGPPeer, ...): skipped with a note.
    Skip,
    /// A modelled kind under the wrong `apiVersion`: an error.
    WrongApiVersion {
        /// The `apiVersion`s this kind is read under.
        expected: Vec<&'static str>,
    },
    /// A kind of a policy API group (`policy.networking.k8s.io`, `projectcalico.org`,
    /// a `networking.k8s.io` kind named `...Policy`) that polc does not model: its
    /// rules would be missing from the artifacts, so it is an error unless the run
    /// allows unknown kinds.
    UnknownPolicyKind {
        /// The closest modelled kind of the group, if any is close, or the modelled
        /// kind of this name in another group, with the `apiVersion` it is read under.
        suggestion: Option<(&'static str, &'static str)>,
    },
    /// A policy resource in Calico's internal CRD group (`crd.projectcalico.org/v1`):
    /// an error unless the run allows unknown kinds.
    CalicoCrd,
}

/// The API group of an `apiVersion` (`""` for the core group's `v1`).
fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Whether a kind of this group is policy polc must not drop silently.
fn is_policy_group(group: &str, kind: &str) -> bool {
    match group {
        "policy.networking.k8s.io" => true,
        "projectcalico.org" => !CALICO_OTHER.contains(&kind),
        "networking.k8s.io" => kind.ends_with("Policy"),
        _ => false,
    }
}

/// Resolve an `apiVersion`/`kind` pair.
pub fn resolve(api_version: &str, kind: &str) -> Resolution {
    if let Some((_, _, k)) = KINDS
        .iter()
        .find(|(a, n, _)| *a == api_version && *n == kind)
    {
        return Resolution::Known(*k);
    }
    let g = group(api_version);
    if g == "crd.projectcalico.org" {
        let other = CALICO_OTHER.contains(&kind) || CALICO_CRD_OTHER.contains(&kind);
        return if other {
            Resolution::Skip
        } else {
            Resolution::CalicoCrd
        };
    }
    let expected: Vec<&'static str> = KINDS
        .iter()
        .filter(|(a, n, _)| *n == kind && group(a) == g)
        .map(|(a, _, _)| *a)
        .collect();
    if !expected.is_empty() {
        return Resolution::WrongApiVersion { expected };
    }
    if !is_policy_group(g, kind) {
        return Resolution::Skip;
    }
    let elsewhere = KINDS.iter().find(|(_, n, _)| *n == kind);
    let suggestion = elsewhere.map(|(a, n, _)| (*n, *a)).or_else(|| {
        let names = KINDS
            .iter()
            .filter(|(a, _, _)| group(a) == g)
            .map(|(_, n, _)| *n);
        let near = crate::frontend::closest(kind, names)?;
        KINDS
            .iter()
            .find(|(a, n, _)| *n == near && group(a) == g)
            .map(|(a, n, _)| (*n, *a))
    });
    Resolution::UnknownPolicyKind { suggestion }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(suggestion: Option<(&'static str, &'static str)>) -> Resolution {
        Resolution::UnknownPolicyKind { suggestion }
    }

    #[test]
    fn policy_groups_never_skip_a_kind_silently() {
        let v2 = "policy.networking.k8s.io/v1alpha2";
        assert_eq!(
            resolve(v2, "ClusterNetworkPolicy"),
            Resolution::Known(Kind::ClusterNetworkPolicy)
        );
        assert_eq!(
            resolve("policy.networking.k8s.io/v1alpha1", "ClusterNetworkPolicy"),
            Resolution::WrongApiVersion { expected: vec![v2] }
        );
        assert_eq!(
            resolve(v2, "ClusterNetworkPolicie"),
            unknown(Some(("ClusterNetworkPolicy", v2)))
        );
        assert_eq!(
            resolve("policy.networking.k8s.io/v1beta1", "NamespaceNetworkPolicy"),
            unknown(None)
        );
        assert_eq!(resolve("projectcalico.org/v4", "QoSPolicy"), unknown(None));
        assert_eq!(
            resolve("networking.k8s.io/v1", "AdminNetworkPolicy"),
            unknown(Some((
                "AdminNetworkPolicy",
                "policy.networking.k8s.io/v1alpha1"
            )))
        );
        assert_eq!(
            resolve("crd.projectcalico.org/v1", "GlobalNetworkPolicy"),
            Resolution::CalicoCrd
        );
        // polc reads IPPools (their modes enable Felix's host tunnels), so their
        // storage form is not skipped either.
        assert_eq!(
            resolve("crd.projectcalico.org/v1", "IPPool"),
            Resolution::CalicoCrd
        );
    }

    #[test]
    fn other_kinds_are_skipped() {
        for (api, kind) in [
            ("apps/v1", "Deployment"),
            ("v1", "Service"),
            ("cilium.io/v2", "CiliumNetworkPolicy"),
            ("networking.k8s.io/v1", "Ingress"),
            ("projectcalico.org/v3", "BGPPeer"),
            ("crd.projectcalico.org/v1", "IPAMBlock"),
            ("crd.projectcalico.org/v1", "BGPPeer"),
        ] {
            assert_eq!(resolve(api, kind), Resolution::Skip, "{api} {kind}");
        }
        assert_eq!(
            resolve("networking.k8s.io/v1beta1", "NetworkPolicy"),
            Resolution::WrongApiVersion {
                expected: vec!["networking.k8s.io/v1"]
            }
        );
    }
}
