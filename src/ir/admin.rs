//! The Kubernetes Network Policy API as written: AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy (`policy.networking.k8s.io/v1alpha1`) and
//! ClusterNetworkPolicy (`v1alpha2`), validated and typed. The frontend also converts
//! each into its Calico form (a [`super::Policy`] in tier `kube-admin` or
//! `kube-baseline`), which is what every later stage enforces; this form is kept for
//! the lints that speak the user's terms.

use ipnet::IpNet;

use super::policy::PolicyKind;
use super::ports::{PortRange, Protocol};
use crate::selector::Expr;
use crate::source::Span;

/// Which of the two API tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminTier {
    /// AdminNetworkPolicy, ClusterNetworkPolicy `tier: Admin`: before Calico's tiers.
    Admin,
    /// BaselineAdminNetworkPolicy, ClusterNetworkPolicy `tier: Baseline`: after them.
    Baseline,
}

/// An admin rule action (`v1alpha2`'s `Accept` is `Allow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AdminAction {
    Allow,
    Deny,
    Pass,
}

/// A subject or peer: namespaces, pods selected by a namespace and a pod selector,
/// nodes, networks or domain names.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminPeer {
    /// Everything in the namespaces matching a selector (over namespace labels).
    Namespaces(Expr),
    /// Pods in matching namespaces matching the pod selector.
    Pods {
        /// Namespace selector (over namespace labels).
        namespaces: Expr,
        /// Pod selector (over pod labels).
        pods: Expr,
    },
    /// Nodes matching a selector (egress only).
    Nodes(Expr),
    /// CIDRs (egress only).
    Networks(Vec<IpNet>),
    /// Fully qualified domain names, `*.` wildcards allowed (egress only; an
    /// experimental field that L3/L4 artifacts cannot enforce by address).
    DomainNames(Vec<String>),
}

/// A port of an admin rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminPort {
    /// A protocol and a port range.
    Range(Protocol, PortRange),
    /// A named container port.
    Named(String),
}

/// An admin rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminRule {
    /// `name`.
    pub name: String,
    /// `action`.
    pub action: AdminAction,
    /// `from` / `to`.
    pub peers: Vec<AdminPeer>,
    /// `ports` (empty: all).
    pub ports: Vec<AdminPort>,
    /// Where it was declared.
    pub span: Span,
}

/// An AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminPolicy {
    /// Which kind ([`PolicyKind::AdminNetworkPolicy`], ...).
    pub kind: PolicyKind,
    /// Which tier.
    pub tier: AdminTier,
    /// Name.
    pub name: String,
    /// `priority` (0–1000; `None` for a BaselineAdminNetworkPolicy).
    pub priority: Option<u32>,
    /// Subject: pods selected by (namespace selector, pod selector).
    pub subject: AdminPeer,
    /// Ingress rules.
    pub ingress: Vec<AdminRule>,
    /// Egress rules.
    pub egress: Vec<AdminRule>,
    /// Where it was declared.
    pub span: Span,
}
