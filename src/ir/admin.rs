//! AdminNetworkPolicy and BaselineAdminNetworkPolicy, validated and typed. How they
//! join Calico's tiers is decided by the semantics stage, not here.

use ipnet::IpNet;

use super::ports::{PortRange, Protocol};
use crate::selector::Expr;
use crate::source::Span;

/// Which of the two admin kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminTier {
    /// AdminNetworkPolicy: before every other policy.
    Admin,
    /// BaselineAdminNetworkPolicy: after every other policy.
    Baseline,
}

/// An admin rule action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AdminAction {
    Allow,
    Deny,
    Pass,
}

/// A peer: pods selected by a namespace and a pod selector, nodes, or networks.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminPeer {
    /// Pods in matching namespaces matching the pod selector (`namespaces` = all pods).
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

/// An AdminNetworkPolicy or BaselineAdminNetworkPolicy.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminPolicy {
    /// Which kind.
    pub tier: AdminTier,
    /// Name.
    pub name: String,
    /// `priority` (0–1000; `None` for the baseline).
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
