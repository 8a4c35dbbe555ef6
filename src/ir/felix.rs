//! The FelixConfiguration settings that change what a dataplane enforces.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::ports::Protocol;
use crate::source::Span;

/// One failsafe port: accepted on host endpoints before any policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FailsafePort {
    /// TCP, UDP or SCTP.
    pub protocol: Protocol,
    /// Destination port.
    pub port: u16,
    /// Restricts the remote address (source inbound, destination outbound).
    pub net: Option<IpNet>,
}

/// What happens to traffic from a workload to its own host after the workload's egress
/// policy (`defaultEndpointToHostAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointToHostAction {
    /// Accept (what Calico's manifests and operator install).
    Accept,
    /// Drop (Felix's built-in default when nothing sets it).
    Drop,
    /// Return to the host's other rules (polc treats it as accept: no host policy).
    Return,
}

/// Settings from one FelixConfiguration resource; `None` = not set there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FelixSettings {
    /// `failsafeInboundHostPorts`.
    pub failsafe_inbound: Option<Vec<FailsafePort>>,
    /// `failsafeOutboundHostPorts`.
    pub failsafe_outbound: Option<Vec<FailsafePort>>,
    /// `defaultEndpointToHostAction`.
    pub default_endpoint_to_host_action: Option<EndpointToHostAction>,
    /// `vxlanPort`: the UDP port of VXLAN traffic.
    pub vxlan_port: Option<u16>,
    /// `allowVXLANPacketsFromWorkloads`.
    pub allow_vxlan_from_workloads: Option<bool>,
    /// `allowIPIPPacketsFromWorkloads`.
    pub allow_ipip_from_workloads: Option<bool>,
    /// `interfacePrefix`, split at its commas: the name prefixes of workload
    /// interfaces.
    pub interface_prefixes: Option<Vec<String>>,
    /// `disableConntrackInvalidCheck`.
    pub disable_conntrack_invalid_check: Option<bool>,
    /// `ipipEnabled`, `vxlanEnabled`, `wireguardEnabled`,
    /// `wireguardEnabledV6`: the host tunnels Felix opens (see [`Tunnels`]).
    pub tunnels: TunnelSettings,
    /// Where the resource was declared.
    pub span: Option<Span>,
}

/// The tunnel settings of one FelixConfiguration resource; `None` = not set there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunnelSettings {
    /// `ipipEnabled`.
    pub ipip: Option<bool>,
    /// `vxlanEnabled`.
    pub vxlan: Option<bool>,
    /// `wireguardEnabled`.
    pub wireguard: Option<bool>,
    /// `wireguardEnabledV6`.
    pub wireguard_v6: Option<bool>,
    /// `wireguardListeningPort`.
    pub wireguard_port: Option<u16>,
    /// `wireguardListeningPortV6`.
    pub wireguard_port_v6: Option<u16>,
}

impl TunnelSettings {
    /// Each setting from `self` when it sets it, else from `then`.
    pub fn over(self, then: TunnelSettings) -> TunnelSettings {
        TunnelSettings {
            ipip: self.ipip.or(then.ipip),
            vxlan: self.vxlan.or(then.vxlan),
            wireguard: self.wireguard.or(then.wireguard),
            wireguard_v6: self.wireguard_v6.or(then.wireguard_v6),
            wireguard_port: self.wireguard_port.or(then.wireguard_port),
            wireguard_port_v6: self.wireguard_port_v6.or(then.wireguard_port_v6),
        }
    }
}

/// The host tunnels in force on a node, per family (IP-in-IP is IPv4 only): what
/// Felix accepts or drops in filter INPUT and OUTPUT before host-endpoint policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Tunnels {
    /// IP-in-IP (IPv4).
    pub ipip: bool,
    /// VXLAN on `vxlanPort`, per family (IPv4, IPv6).
    pub vxlan: (bool, bool),
    /// The WireGuard listening port, per family, when enabled.
    pub wireguard: (Option<u16>, Option<u16>),
}

/// Felix's default `wireguardListeningPort` (`felix/config/config_params.go`).
pub const DEFAULT_WIREGUARD_PORT: u16 = 51820;

/// Felix's default `wireguardListeningPortV6` (`felix/config/config_params.go`).
pub const DEFAULT_WIREGUARD_PORT_V6: u16 = 51821;

/// The cluster's Felix settings: the `default` resource and per-node `node.<name>` ones.
#[derive(Debug, Clone, Default)]
pub struct FelixConfig {
    /// `FelixConfiguration/default`.
    pub global: FelixSettings,
    /// `FelixConfiguration/node.<name>`, by node name.
    pub nodes: BTreeMap<String, FelixSettings>,
    /// The encapsulation the IPPools ask for, which enables Felix's tunnels where
    /// FelixConfiguration does not say.
    pub pools: PoolEncapsulation,
}

/// An IPPool, as far as enforcement cares: its encapsulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPool {
    /// Name.
    pub name: String,
    /// `cidr`.
    pub cidr: IpNet,
    /// `ipipMode` is `Always` or `CrossSubnet`.
    pub ipip: bool,
    /// `vxlanMode` is `Always` or `CrossSubnet`.
    pub vxlan: bool,
    /// Where it was declared.
    pub span: Span,
}

/// Which encapsulations some IPPool enables (Felix's `EncapsulationCalculator`,
/// `felix/calc/encapsulation_resolver.go`): IP-in-IP by any pool, VXLAN per family of
/// the pool's CIDR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolEncapsulation {
    /// Some pool has IP-in-IP.
    pub ipip: bool,
    /// Some IPv4 pool has VXLAN.
    pub vxlan_v4: bool,
    /// Some IPv6 pool has VXLAN.
    pub vxlan_v6: bool,
}

impl PoolEncapsulation {
    /// What a set of pools enables.
    pub fn of(pools: &[IpPool]) -> PoolEncapsulation {
        PoolEncapsulation {
            ipip: pools.iter().any(|p| p.ipip),
            vxlan_v4: pools.iter().any(|p| p.vxlan && p.cidr.addr().is_ipv4()),
            vxlan_v6: pools.iter().any(|p| p.vxlan && p.cidr.addr().is_ipv6()),
        }
    }
}

/// Felix's default `vxlanPort` (`felix/config/config_params.go`).
pub const DEFAULT_VXLAN_PORT: u16 = 4789;

/// Felix's default `interfacePrefix` (`felix/config/config_params.go`).
pub const DEFAULT_INTERFACE_PREFIX: &str = "cali";

/// Felix's default inbound failsafe ports (`felix/config/config_params.go`).
pub const DEFAULT_FAILSAFE_INBOUND: &[(Protocol, u16)] = &[
    (Protocol::TCP, 22),
    (Protocol::UDP, 68),
    (Protocol::TCP, 179),
    (Protocol::TCP, 2379),
    (Protocol::TCP, 2380),
    (Protocol::TCP, 5473),
    (Protocol::TCP, 6443),
    (Protocol::TCP, 6666),
    (Protocol::TCP, 6667),
];

/// Felix's default outbound failsafe ports (`felix/config/config_params.go`).
pub const DEFAULT_FAILSAFE_OUTBOUND: &[(Protocol, u16)] = &[
    (Protocol::UDP, 53),
    (Protocol::UDP, 67),
    (Protocol::TCP, 179),
    (Protocol::TCP, 2379),
    (Protocol::TCP, 2380),
    (Protocol::TCP, 5473),
    (Protocol::TCP, 6443),
    (Protocol::TCP, 6666),
    (Protocol::TCP, 6667),
];

fn defaults(list: &[(Protocol, u16)]) -> Vec<FailsafePort> {
    list.iter()
        .map(|&(protocol, port)| FailsafePort {
            protocol,
            port,
            net: None,
        })
        .collect()
}

impl FelixConfig {
    /// Inbound failsafe ports in force on a node.
    pub fn failsafe_inbound(&self, node: &str) -> Vec<FailsafePort> {
        self.pick(node, |s| s.failsafe_inbound.clone())
            .unwrap_or_else(|| defaults(DEFAULT_FAILSAFE_INBOUND))
    }

    /// Outbound failsafe ports in force on a node.
    pub fn failsafe_outbound(&self, node: &str) -> Vec<FailsafePort> {
        self.pick(node, |s| s.failsafe_outbound.clone())
            .unwrap_or_else(|| defaults(DEFAULT_FAILSAFE_OUTBOUND))
    }

    /// `defaultEndpointToHostAction` in force on a node. When nothing sets it polc
    /// assumes `Accept`, which Calico's manifests, Helm chart and operator all install
    /// (Felix's own compiled-in default is `Drop`).
    pub fn endpoint_to_host_action(&self, node: &str) -> EndpointToHostAction {
        self.pick(node, |s| s.default_endpoint_to_host_action)
            .unwrap_or(EndpointToHostAction::Accept)
    }

    /// `vxlanPort` in force on a node (Felix's default 4789).
    pub fn vxlan_port(&self, node: &str) -> u16 {
        self.pick(node, |s| s.vxlan_port)
            .unwrap_or(DEFAULT_VXLAN_PORT)
    }

    /// `allowVXLANPacketsFromWorkloads` in force on a node (default false).
    pub fn allow_vxlan_from_workloads(&self, node: &str) -> bool {
        self.pick(node, |s| s.allow_vxlan_from_workloads)
            .unwrap_or(false)
    }

    /// `allowIPIPPacketsFromWorkloads` in force on a node (default false).
    pub fn allow_ipip_from_workloads(&self, node: &str) -> bool {
        self.pick(node, |s| s.allow_ipip_from_workloads)
            .unwrap_or(false)
    }

    /// The workload interface name prefixes on a node (`interfacePrefix`, default
    /// `cali`).
    pub fn interface_prefixes(&self, node: &str) -> Vec<String> {
        self.pick(node, |s| s.interface_prefixes.clone())
            .unwrap_or_else(|| vec![DEFAULT_INTERFACE_PREFIX.to_string()])
    }

    /// Whether conntrack INVALID packets are dropped in endpoint chains on a node
    /// (`disableConntrackInvalidCheck` unset or false).
    pub fn invalid_drop(&self, node: &str) -> bool {
        !self
            .pick(node, |s| s.disable_conntrack_invalid_check)
            .unwrap_or(false)
    }

    /// The host tunnels in force on a node, as Felix's `EncapsulationCalculator`
    /// decides them (`felix/calc/encapsulation_resolver.go`): `ipipEnabled` and
    /// `vxlanEnabled` when FelixConfiguration sets them, else whether some IPPool has
    /// that encapsulation; IPv6 VXLAN from the IPv6 pools only (FelixConfiguration
    /// has no setting for it); WireGuard from FelixConfiguration (default off).
    pub fn tunnels(&self, node: &str) -> Tunnels {
        let t = self
            .nodes
            .get(node)
            .map_or(self.global.tunnels, |n| n.tunnels.over(self.global.tunnels));
        let on = |b: Option<bool>| b.unwrap_or(false);
        Tunnels {
            ipip: t.ipip.unwrap_or(self.pools.ipip),
            vxlan: (t.vxlan.unwrap_or(self.pools.vxlan_v4), self.pools.vxlan_v6),
            wireguard: (
                on(t.wireguard).then(|| t.wireguard_port.unwrap_or(DEFAULT_WIREGUARD_PORT)),
                on(t.wireguard_v6)
                    .then(|| t.wireguard_port_v6.unwrap_or(DEFAULT_WIREGUARD_PORT_V6)),
            ),
        }
    }

    fn pick<T>(&self, node: &str, f: impl Fn(&FelixSettings) -> Option<T>) -> Option<T> {
        self.nodes
            .get(node)
            .and_then(&f)
            .or_else(|| f(&self.global))
    }
}
