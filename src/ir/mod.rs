//! The intermediate representation every later stage consumes: the evaluator, the
//! analyses and the nftables, iptables and eBPF backends.
//!
//! Invariants:
//! - No YAML here: values are validated, typed and normalised (CIDRs truncated to
//!   their network address, selectors parsed and namespace-scoped, ports as ranges).
//! - Calico semantics are explicit: Kubernetes NetworkPolicy is already converted to
//!   Calico form (tier `default`, order 1000), `types` are defaulted, every endpoint
//!   carries the full label set Calico's selectors see (implicit
//!   `projectcalico.org/*` labels, `pcns.*` namespace labels, `pcsa.*`).
//! - Every object keeps the [`Span`](crate::source::Span) it came from, for diagnostics
//!   and for the comments that tie rendered rules to their source.
//! - Collections are sorted by a stable key (tiers and policies in Calico's evaluation
//!   order, everything else by name), so the input's file order never shows.

mod admin;
mod assertion;
mod endpoint;
mod felix;
mod policy;
mod ports;

pub use admin::{AdminAction, AdminPeer, AdminPolicy, AdminPort, AdminRule, AdminTier};
pub use assertion::{AssertPort, AssertSide, Assertion, Expect, Quantifier, SideKind, SideSpec};
pub use endpoint::{HostEndpoint, Interface, NamedPort, Namespace, NetworkSet, Node, Pod, Profile};
pub use felix::{
    EndpointToHostAction, FailsafePort, FelixConfig, FelixSettings, IpPool, PoolEncapsulation,
    TunnelSettings, Tunnels,
};
pub use policy::{
    Action, Allow, Directions, EntityMatch, IcmpMatch, IpVersion, Policy, PolicyId, PolicyKind,
    PortMatch, Rule, Selector, ServiceMatch, StagedAction, Tier, TierAction, WrittenRule,
};
pub use ports::{PortRange, PortSet, Protocol};

/// Everything polc read, validated and in Calico's terms.
#[derive(Debug, Default)]
pub struct Model {
    /// Tiers in evaluation order (Calico's `TierLess`), built-in tiers included.
    pub tiers: Vec<Tier>,
    /// Policies (enforced and staged) in evaluation order: by tier, then order, then
    /// Calico's tie-break key.
    pub policies: Vec<Policy>,
    /// Profiles by name, the built-in `projectcalico-default-allow` included.
    pub profiles: Vec<Profile>,
    /// Host endpoints by name.
    pub host_endpoints: Vec<HostEndpoint>,
    /// Global and namespaced network sets, by (namespace, name).
    pub network_sets: Vec<NetworkSet>,
    /// AdminNetworkPolicy and BaselineAdminNetworkPolicy, validated (their semantics
    /// are applied by a later stage).
    pub admin_policies: Vec<AdminPolicy>,
    /// Namespaces by name.
    pub namespaces: Vec<Namespace>,
    /// Pods by (namespace, name).
    pub pods: Vec<Pod>,
    /// Nodes by name.
    pub nodes: Vec<Node>,
    /// FelixConfiguration that changes what the dataplane enforces (with what the
    /// IPPools add to it).
    pub felix: FelixConfig,
    /// IPPools by name.
    pub ip_pools: Vec<IpPool>,
}

impl Model {
    /// Every CIDR the model mentions: in rules (policies and profiles), failsafe
    /// entries and network sets. Between their boundaries no rule can tell two
    /// addresses apart by address alone.
    pub fn cidrs(&self) -> std::collections::BTreeSet<ipnet::IpNet> {
        let rules = self
            .policies
            .iter()
            .flat_map(|p| p.ingress.iter().chain(&p.egress))
            .chain(
                self.profiles
                    .iter()
                    .flat_map(|p| p.ingress.iter().chain(&p.egress)),
            );
        let mut cidrs: std::collections::BTreeSet<ipnet::IpNet> = rules
            .flat_map(|r| [&r.source, &r.destination])
            .flat_map(|e| e.nets.iter().chain(&e.not_nets))
            .copied()
            .collect();
        let felix = std::iter::once(&self.felix.global).chain(self.felix.nodes.values());
        for s in felix {
            cidrs.extend(
                s.failsafe_inbound
                    .iter()
                    .chain(&s.failsafe_outbound)
                    .flatten()
                    .filter_map(|f| f.net),
            );
        }
        cidrs.extend(
            self.network_sets
                .iter()
                .flat_map(|s| s.nets.iter().copied()),
        );
        cidrs
    }

    /// Number of rules over all policies (both directions, staged included).
    pub fn rule_count(&self) -> usize {
        self.policies
            .iter()
            .map(|p| p.ingress.len() + p.egress.len())
            .sum()
    }

    /// The tier with this name.
    pub fn tier(&self, name: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.name == name)
    }
}
