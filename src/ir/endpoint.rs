//! Endpoints and the things rule selectors resolve to: pods, host endpoints, nodes,
//! namespaces, network sets and profiles.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::policy::Rule;
use super::ports::Protocol;
use crate::source::Span;

/// A named port of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedPort {
    /// Name.
    pub name: String,
    /// Protocol (TCP when not given).
    pub protocol: Protocol,
    /// Port number.
    pub port: u16,
}

/// A namespace.
#[derive(Debug, Clone)]
pub struct Namespace {
    /// Name.
    pub name: String,
    /// Labels, including the implicit `kubernetes.io/metadata.name`.
    pub labels: BTreeMap<String, String>,
    /// Where it was declared; `None` when only implied by a namespaced object.
    pub span: Option<Span>,
}

/// A pod (a Calico workload endpoint).
#[derive(Debug, Clone)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.nodeName`.
    pub node: Option<String>,
    /// `spec.hostNetwork`: the pod is its node as far as policy goes.
    pub host_network: bool,
    /// Service account name.
    pub service_account: String,
    /// `status.podIP(s)`.
    pub ips: Vec<IpAddr>,
    /// Named container ports.
    pub ports: Vec<NamedPort>,
    /// The labels Calico selectors see: the pod's own labels, then
    /// `projectcalico.org/{namespace,orchestrator,serviceaccount}`, namespace labels as
    /// `pcns.*` (with `pcns.projectcalico.org/name`) and service-account labels as `pcsa.*`.
    pub labels: BTreeMap<String, String>,
    /// Where it was declared.
    pub span: Span,
}

/// Which interfaces a host endpoint governs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interface {
    /// `interfaceName: "*"`: every non-workload interface of the node.
    All,
    /// One named interface.
    Named(String),
    /// No `interfaceName`: the interface holding one of the expected IPs.
    ByExpectedIp,
}

/// A host endpoint.
#[derive(Debug, Clone)]
pub struct HostEndpoint {
    /// Name.
    pub name: String,
    /// `spec.node`.
    pub node: String,
    /// Interface(s) governed.
    pub interface: Interface,
    /// `spec.expectedIPs`: how rule selectors on other hosts see this endpoint.
    pub expected_ips: Vec<IpAddr>,
    /// `spec.profiles`, in order.
    pub profiles: Vec<String>,
    /// `spec.ports`.
    pub ports: Vec<NamedPort>,
    /// Labels (host endpoints have no implicit labels).
    pub labels: BTreeMap<String, String>,
    /// Where it was declared.
    pub span: Span,
}

/// A node of the inventory.
#[derive(Debug, Clone)]
pub struct Node {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `status.addresses` that are IPs (InternalIP first, then ExternalIP).
    pub addresses: Vec<IpAddr>,
    /// Where it was declared.
    pub span: Span,
}

/// A GlobalNetworkSet (`namespace: None`) or NetworkSet.
#[derive(Debug, Clone)]
pub struct NetworkSet {
    /// Namespace of a NetworkSet.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Labels as selectors see them (a NetworkSet also gets
    /// `projectcalico.org/namespace` and its namespace's `pcns.*` labels).
    pub labels: BTreeMap<String, String>,
    /// `spec.nets`, normalised.
    pub nets: Vec<IpNet>,
    /// Where it was declared.
    pub span: Span,
}

/// A profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Name.
    pub name: String,
    /// Ingress rules.
    pub ingress: Vec<Rule>,
    /// Egress rules.
    pub egress: Vec<Rule>,
    /// `labelsToApply`: inherited by endpoints that name the profile.
    pub labels_to_apply: BTreeMap<String, String>,
    /// Whether this is Calico's built-in `projectcalico-default-allow`.
    pub builtin: bool,
    /// Where it was declared, unless built in.
    pub span: Option<Span>,
}
