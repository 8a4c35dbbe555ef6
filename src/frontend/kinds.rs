//! The kinds polc reads, and how an `apiVersion`/`kind` pair resolves: a modelled kind,
//! a kind that is fine to skip, or a mistake worth a diagnostic.

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
    Namespace,
    Pod,
    Node,
}

const CALICO: &str = "projectcalico.org/v3";
const NETWORKING: &str = "networking.k8s.io/v1";
const POLICY_API: &str = "policy.networking.k8s.io/v1alpha1";
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

/// What an `apiVersion`/`kind` pair means to polc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A modelled kind.
    Known(Kind),
    /// Some other kind (Deployment, Service, IPPool, ...): skipped with a note.
    Skip,
    /// A modelled kind under the wrong `apiVersion`: an error.
    WrongApiVersion {
        /// The `apiVersion`s this kind is read under.
        expected: Vec<&'static str>,
    },
    /// An unknown kind under `projectcalico.org/v3`, probably a typo: a warning.
    UnknownCalicoKind {
        /// The closest modelled kind, if any is close.
        suggestion: Option<&'static str>,
    },
    /// Calico's internal CRD group (`crd.projectcalico.org/v1`): skipped with a warning.
    CalicoCrd,
}

/// Resolve an `apiVersion`/`kind` pair.
pub fn resolve(api_version: &str, kind: &str) -> Resolution {
    if let Some((_, _, k)) = KINDS
        .iter()
        .find(|(a, n, _)| *a == api_version && *n == kind)
    {
        return Resolution::Known(*k);
    }
    if api_version.starts_with("crd.projectcalico.org/") {
        return Resolution::CalicoCrd;
    }
    if api_version == CALICO && !CALICO_OTHER.contains(&kind) {
        let names = KINDS
            .iter()
            .filter(|(a, _, _)| *a == CALICO)
            .map(|(_, n, _)| *n);
        return Resolution::UnknownCalicoKind {
            suggestion: crate::frontend::closest(kind, names),
        };
    }
    let group = |a: &str| a.rsplit_once('/').map_or("", |(g, _)| g).to_string();
    let expected: Vec<&'static str> = KINDS
        .iter()
        .filter(|(a, n, _)| *n == kind && group(a) == group(api_version))
        .map(|(a, _, _)| *a)
        .collect();
    if !expected.is_empty() {
        return Resolution::WrongApiVersion { expected };
    }
    Resolution::Skip
}
