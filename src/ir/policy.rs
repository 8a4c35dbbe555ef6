//! Tiers, policies and rules in Calico's terms.

use std::fmt;

use ipnet::IpNet;

use super::ports::{PortRange, Protocol};
use crate::selector::Expr;
use crate::source::Span;

/// What a tier does with a packet that its applicable policies leave undecided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TierAction {
    /// Drop (Calico's default).
    Deny,
    /// Continue with the next tier.
    Pass,
}

/// A tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// Name.
    pub name: String,
    /// `spec.order`; `None` sorts after every ordered tier.
    pub order: Option<f64>,
    /// `spec.defaultAction`.
    pub default_action: TierAction,
    /// Whether Calico creates this tier itself (`kube-admin`, `default`, `kube-baseline`)
    /// and it was not declared in the input.
    pub builtin: bool,
    /// Where it was declared, if it was.
    pub span: Option<Span>,
}

/// A selector in the IR. Equal selectors share one allocation (the frontend interns
/// them), so the pointer identifies a distinct selector, as Calico's selector IDs do:
/// one IP set per distinct selector in a backend, one cache line in the evaluator.
pub type Selector = std::sync::Arc<Expr>;

/// The kind of a policy, as in Calico's tie-break key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum PolicyKind {
    GlobalNetworkPolicy,
    NetworkPolicy,
    KubernetesNetworkPolicy,
    StagedGlobalNetworkPolicy,
    StagedNetworkPolicy,
    StagedKubernetesNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy.
    AdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` BaselineAdminNetworkPolicy.
    BaselineAdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy.
    ClusterNetworkPolicy,
}

impl PolicyKind {
    /// The kind string of Calico's policy key (`GlobalNetworkPolicy`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::GlobalNetworkPolicy => "GlobalNetworkPolicy",
            PolicyKind::NetworkPolicy => "NetworkPolicy",
            PolicyKind::KubernetesNetworkPolicy => "KubernetesNetworkPolicy",
            PolicyKind::StagedGlobalNetworkPolicy => "StagedGlobalNetworkPolicy",
            PolicyKind::StagedNetworkPolicy => "StagedNetworkPolicy",
            PolicyKind::StagedKubernetesNetworkPolicy => "StagedKubernetesNetworkPolicy",
            PolicyKind::AdminNetworkPolicy => "AdminNetworkPolicy",
            PolicyKind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
            PolicyKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
        }
    }

    /// Whether this is a Kubernetes Network Policy API kind (converted by Calico into
    /// a global policy of tier `kube-admin` or `kube-baseline`).
    pub fn is_policy_api(self) -> bool {
        matches!(
            self,
            PolicyKind::AdminNetworkPolicy
                | PolicyKind::BaselineAdminNetworkPolicy
                | PolicyKind::ClusterNetworkPolicy
        )
    }

    /// The kind a staged policy of this kind becomes when it is enforced (Calico's
    /// `ConvertStaged*ToEnforced` in `api/pkg/apis/projectcalico/v3/staged*.go`); an
    /// enforced kind is its own.
    pub fn enforced(self) -> PolicyKind {
        match self {
            PolicyKind::StagedGlobalNetworkPolicy => PolicyKind::GlobalNetworkPolicy,
            PolicyKind::StagedNetworkPolicy => PolicyKind::NetworkPolicy,
            PolicyKind::StagedKubernetesNetworkPolicy => PolicyKind::KubernetesNetworkPolicy,
            k => k,
        }
    }

    /// Whether policies of this kind are staged (never enforced).
    pub fn is_staged(self) -> bool {
        matches!(
            self,
            PolicyKind::StagedGlobalNetworkPolicy
                | PolicyKind::StagedNetworkPolicy
                | PolicyKind::StagedKubernetesNetworkPolicy
        )
    }
}

/// Identity of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyId {
    /// Kind.
    pub kind: PolicyKind,
    /// Namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl PolicyId {
    /// Calico's (≥ v3.32) tie-break key for equal orders: `name/namespace/kind`, with
    /// the kind of Calico's key (`libcalico-go/lib/backend/model/policy.go`: a
    /// ClusterNetworkPolicy is `KubernetesClusterNetworkPolicy`).
    pub fn sort_key(&self) -> String {
        let kind = match self.kind {
            PolicyKind::ClusterNetworkPolicy => "KubernetesClusterNetworkPolicy",
            PolicyKind::AdminNetworkPolicy => "KubernetesAdminNetworkPolicy",
            PolicyKind::BaselineAdminNetworkPolicy => "KubernetesBaselineAdminNetworkPolicy",
            k => k.as_str(),
        };
        format!(
            "{}/{}/{}",
            self.name,
            self.namespace.as_deref().unwrap_or(""),
            kind
        )
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind.as_str(), self.name),
            None => write!(f, "{} {}", self.kind.as_str(), self.name),
        }
    }
}

/// Which directions a policy governs (`spec.types`, defaulted as Calico does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Directions {
    /// Ingress (traffic to the endpoint).
    pub ingress: bool,
    /// Egress (traffic from the endpoint).
    pub egress: bool,
}

/// `stagedAction` of a staged policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum StagedAction {
    Set,
    Delete,
    Learn,
    Ignore,
}

/// A policy in Calico form.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Identity.
    pub id: PolicyId,
    /// Tier name (the tier exists in [`super::Model::tiers`]).
    pub tier: String,
    /// `spec.order`; `None` sorts last.
    pub order: Option<f64>,
    /// Which endpoints it applies to: the selector with namespace, service-account and
    /// (for Kubernetes policy) orchestrator terms already ANDed in.
    pub selector: Selector,
    /// Directions governed.
    pub types: Directions,
    /// Ingress rules (meaningful only if `types.ingress`).
    pub ingress: Vec<Rule>,
    /// Egress rules (meaningful only if `types.egress`).
    pub egress: Vec<Rule>,
    /// For staged kinds, what applying the policy would do.
    pub staged: Option<StagedAction>,
    /// In the what-if model of [`super::enforce_staged`] only: the staged kind this
    /// enforced policy was (`None` everywhere else).
    pub enforced_from: Option<PolicyKind>,
    /// `applyOnForward`.
    pub apply_on_forward: bool,
    /// `preDNAT`.
    pub pre_dnat: bool,
    /// `doNotTrack`.
    pub do_not_track: bool,
    /// Where the policy was declared (its `kind:` line).
    pub span: Span,
    /// Codes its `polc.dev/allow` annotation allows for it.
    pub allow: Vec<Allow>,
}

impl Policy {
    /// How diagnostics and traces name the policy: its identity, plus the priority for
    /// the Network Policy API kinds (`AdminNetworkPolicy deny-all priority 10`).
    pub fn title(&self) -> String {
        match self.order {
            Some(o)
                if self.id.kind.is_policy_api()
                    && self.id.kind != PolicyKind::BaselineAdminNetworkPolicy =>
            {
                format!("{} priority {o}", self.id)
            }
            _ => self.id.to_string(),
        }
    }
}

impl Rule {
    /// A rule with `action` that matches every packet, declared at `span`.
    pub fn match_all(action: Action, span: Span) -> Rule {
        Rule {
            action,
            protocol: None,
            not_protocol: None,
            ip_version: None,
            icmp: None,
            not_icmp: None,
            source: EntityMatch::default(),
            destination: EntityMatch::default(),
            http: false,
            span,
            written: None,
        }
    }

    /// How diagnostics and traces name rule `index` of its direction: `rule 3`, or for
    /// a converted rule the rule as written (`rule 0 \`deny-all\``).
    pub fn title(&self, index: usize) -> String {
        match &self.written {
            Some(w) if w.name.is_empty() => format!("rule {}", w.index),
            Some(w) => format!("rule {} `{}`", w.index, w.name),
            None => format!("rule {index}"),
        }
    }
}

/// One code a policy's `polc.dev/allow` annotation allows, with the reason given.
#[derive(Debug, Clone)]
pub struct Allow {
    /// The code.
    pub code: &'static str,
    /// Why (required).
    pub reason: String,
    /// The annotation.
    pub span: Span,
    /// The YAML document of the policy: diagnostics located in it are the policy's.
    pub scope: Span,
}

/// A rule action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Accept; final for all tiers.
    Allow,
    /// Drop.
    Deny,
    /// Skip the rest of this tier.
    Pass,
    /// Log and continue with the next rule.
    Log,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
            Action::Log => "Log",
        })
    }
}

/// An IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpVersion {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// An ICMP type with an optional code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IcmpMatch {
    /// Type (0–254).
    pub type_: u8,
    /// Code (0–255).
    pub code: Option<u8>,
}

/// One entry of `ports` / `notPorts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortMatch {
    /// A number or an inclusive range.
    Range(PortRange),
    /// A named port, resolved per endpoint.
    Named(String),
}

/// `services` of an entity rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceMatch {
    /// Service name.
    pub name: String,
    /// Service namespace.
    pub namespace: String,
}

/// `source` or `destination` of a rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityMatch {
    /// The address must be in one of these (empty: no constraint).
    pub nets: Vec<IpNet>,
    /// The address must be in none of these.
    pub not_nets: Vec<IpNet>,
    /// The address must belong to an endpoint or network set matching this selector
    /// (namespace scoping and service accounts already applied, Calico's
    /// `GetEntityRuleSelector`).
    pub selector: Option<Selector>,
    /// The address must not belong to anything matching this (never namespace-scoped).
    pub not_selector: Option<Selector>,
    /// The port must match one of these (empty: no constraint).
    pub ports: Vec<PortMatch>,
    /// The port must match none of these.
    pub not_ports: Vec<PortMatch>,
    /// Backends of a Kubernetes Service.
    pub services: Option<ServiceMatch>,
}

impl EntityMatch {
    /// Whether the entity has no constraint at all.
    pub fn is_any(&self) -> bool {
        *self == EntityMatch::default()
    }
}

/// A rule in Calico form.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Action.
    pub action: Action,
    /// `protocol`.
    pub protocol: Option<Protocol>,
    /// `notProtocol`.
    pub not_protocol: Option<Protocol>,
    /// `ipVersion`, explicit or implied by ICMP/ICMPv6 or by the CIDRs of the rule.
    pub ip_version: Option<IpVersion>,
    /// `icmp`.
    pub icmp: Option<IcmpMatch>,
    /// `notICMP`.
    pub not_icmp: Option<IcmpMatch>,
    /// `source`.
    pub source: EntityMatch,
    /// `destination`.
    pub destination: EntityMatch,
    /// Whether the rule has an `http` match (L7 only: not enforced by L3/L4 dataplanes,
    /// so the rule is broader than written).
    pub http: bool,
    /// Where the rule was declared.
    pub span: Span,
    /// The rule as written, when a conversion made this rule from another object's
    /// rule (a Kubernetes Network Policy API rule becomes one Calico rule per
    /// protocol and peer): its index and `name` there.
    pub written: Option<WrittenRule>,
}

/// Which written rule a converted rule came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenRule {
    /// Index among the written rules of its direction.
    pub index: usize,
    /// Its `name` (empty when it has none).
    pub name: String,
}
