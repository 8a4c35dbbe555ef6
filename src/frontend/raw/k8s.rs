//! Raw Kubernetes policy specs: `networking.k8s.io/v1` NetworkPolicy and
//! `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy / BaselineAdminNetworkPolicy.

use serde::Deserialize;

use super::S;
use super::meta::LabelSelector;
use super::scalar::NumOrString;

/// `NetworkPolicy.spec` (also `StagedKubernetesNetworkPolicy.spec`, which adds
/// `stagedAction`; lowering rejects it elsewhere).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NetworkPolicySpec {
    pub pod_selector: Option<S<LabelSelector>>,
    pub policy_types: Option<S<Vec<S<String>>>>,
    pub ingress: Option<S<Vec<S<IngressRule>>>>,
    pub egress: Option<S<Vec<S<EgressRule>>>>,
    pub staged_action: Option<S<String>>,
}

/// A NetworkPolicy ingress rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct IngressRule {
    pub from: Option<S<Vec<S<Peer>>>>,
    pub ports: Option<S<Vec<S<NetworkPolicyPort>>>>,
}

/// A NetworkPolicy egress rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct EgressRule {
    pub to: Option<S<Vec<S<Peer>>>>,
    pub ports: Option<S<Vec<S<NetworkPolicyPort>>>>,
}

/// A NetworkPolicy peer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Peer {
    pub pod_selector: Option<S<LabelSelector>>,
    pub namespace_selector: Option<S<LabelSelector>>,
    pub ip_block: Option<S<IpBlock>>,
}

/// `ipBlock`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct IpBlock {
    pub cidr: Option<S<String>>,
    #[serde(default)]
    pub except: Vec<S<String>>,
}

/// A NetworkPolicy port.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NetworkPolicyPort {
    pub protocol: Option<S<String>>,
    pub port: Option<S<NumOrString>>,
    pub end_port: Option<S<i64>>,
}

/// `AdminNetworkPolicy.spec` / `BaselineAdminNetworkPolicy.spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AdminSpec {
    pub priority: Option<S<i64>>,
    pub subject: Option<S<AdminSubject>>,
    pub ingress: Option<S<Vec<S<AdminRule>>>>,
    pub egress: Option<S<Vec<S<AdminRule>>>>,
}

/// The subject of an admin policy: exactly one of `namespaces` or `pods`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AdminSubject {
    pub namespaces: Option<S<LabelSelector>>,
    pub pods: Option<S<NamespacedPod>>,
}

/// `{namespaceSelector, podSelector}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NamespacedPod {
    pub namespace_selector: Option<S<LabelSelector>>,
    pub pod_selector: Option<S<LabelSelector>>,
}

/// An admin policy rule; `from` for ingress, `to` for egress.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AdminRule {
    pub name: Option<S<String>>,
    pub action: Option<S<String>>,
    pub from: Option<S<Vec<S<AdminPeer>>>>,
    pub to: Option<S<Vec<S<AdminPeer>>>>,
    pub ports: Option<S<Vec<S<AdminPort>>>>,
}

/// An admin policy peer: exactly one field set (`nodes` and `networks` egress only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AdminPeer {
    pub namespaces: Option<S<LabelSelector>>,
    pub pods: Option<S<NamespacedPod>>,
    pub nodes: Option<S<LabelSelector>>,
    pub networks: Option<S<Vec<S<String>>>>,
}

/// An admin policy port: exactly one of the three forms.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct AdminPort {
    pub port_number: Option<S<AdminPortNumber>>,
    pub named_port: Option<S<String>>,
    pub port_range: Option<S<AdminPortRange>>,
}

/// `portNumber`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AdminPortNumber {
    pub protocol: Option<S<String>>,
    pub port: Option<S<i64>>,
}

/// `portRange`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AdminPortRange {
    pub protocol: Option<S<String>>,
    pub start: Option<S<i64>>,
    pub end: Option<S<i64>>,
}
