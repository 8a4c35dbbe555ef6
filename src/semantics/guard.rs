//! Packet guards: the fixed matches Felix applies around policy, whatever the
//! policies say. The stage plan (`plan.rs`) decides where each applies; this file
//! only says what each matches.
//!
//! - Encapsulated packets from pods: every workload egress chain drops UDP to
//!   `vxlanPort` and IP protocol 4 (IP-in-IP) after the conntrack rules and before
//!   the tiers, unless `allowVXLANPacketsFromWorkloads` /
//!   `allowIPIPPacketsFromWorkloads` (`endpointIptablesChain`,
//!   `felix/rules/endpoints.go`; `WorkloadEndpointToIptablesChains` passes the
//!   settings for the egress chain only). Both IP families, whether or not the
//!   cluster uses VXLAN or IP-in-IP.
//! - ICMPv6 from a pod to its own host: `cali-wl-to-host` accepts MLD query, report
//!   and done (130-132), router solicitation (133), neighbour solicitation and
//!   advertisement (135, 136) before the pod's egress policy and before
//!   `defaultEndpointToHostAction` (`ICMPv6Filter`, `filterWorkloadToHostChain`,
//!   `felix/rules/static.go`).

use serde::Serialize;

use super::packet::Packet;
use crate::ir::Protocol;

/// The ICMPv6 types Felix accepts from a pod to its own host before policy.
pub const WORKLOAD_TO_HOST_ICMPV6: &[u8] = &[130, 131, 132, 133, 135, 136];

/// IP protocol 4: IPv4 encapsulated in IP (IP-in-IP).
pub const IPIP: Protocol = Protocol(4);

/// One fixed match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketGuard {
    /// UDP to this destination port.
    UdpDport(u16),
    /// This IP protocol.
    Protocol(Protocol),
    /// ICMPv6 of one of these types (any code).
    Icmpv6Types(&'static [u8]),
}

impl PacketGuard {
    /// Whether the guard matches a packet.
    pub fn matches(&self, p: &Packet) -> bool {
        match *self {
            PacketGuard::UdpDport(port) => p.protocol == Protocol::UDP && p.dport == port,
            PacketGuard::Protocol(proto) => p.protocol == proto,
            PacketGuard::Icmpv6Types(types) => {
                p.protocol == Protocol::ICMPV6 && p.icmp.is_some_and(|(t, _)| types.contains(&t))
            }
        }
    }
}

/// Which encapsulation a workload egress chain dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Encapsulation {
    /// VXLAN: UDP to `vxlanPort`.
    #[serde(rename = "VXLAN")]
    Vxlan,
    /// IP-in-IP: IP protocol 4.
    #[serde(rename = "IP-in-IP")]
    Ipip,
}

impl Encapsulation {
    /// Its name in words.
    pub fn name(self) -> &'static str {
        match self {
            Encapsulation::Vxlan => "VXLAN",
            Encapsulation::Ipip => "IP-in-IP",
        }
    }

    /// The FelixConfiguration field that lets it through.
    pub fn setting(self) -> &'static str {
        match self {
            Encapsulation::Vxlan => "allowVXLANPacketsFromWorkloads",
            Encapsulation::Ipip => "allowIPIPPacketsFromWorkloads",
        }
    }
}

/// What a workload egress chain drops before its tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EncapDrop {
    /// UDP to this port (`vxlanPort`), unless VXLAN from workloads is allowed.
    pub vxlan_port: Option<u16>,
    /// IP protocol 4, unless IP-in-IP from workloads is allowed.
    pub ipip: bool,
}

impl EncapDrop {
    /// Whether nothing is dropped.
    pub fn is_none(&self) -> bool {
        self.vxlan_port.is_none() && !self.ipip
    }

    /// The guards, each with the encapsulation it stands for.
    pub fn guards(&self) -> Vec<(PacketGuard, Encapsulation)> {
        let mut v = Vec::new();
        if let Some(port) = self.vxlan_port {
            v.push((PacketGuard::UdpDport(port), Encapsulation::Vxlan));
        }
        if self.ipip {
            v.push((PacketGuard::Protocol(IPIP), Encapsulation::Ipip));
        }
        v
    }

    /// The encapsulation a packet is dropped as, if any.
    pub fn matches(&self, p: &Packet) -> Option<Encapsulation> {
        self.guards()
            .into_iter()
            .find(|(g, _)| g.matches(p))
            .map(|(_, e)| e)
    }
}

/// Which host tunnel a static rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Tunnel {
    /// IP-in-IP between Calico hosts.
    #[serde(rename = "IP-in-IP")]
    Ipip,
    /// VXLAN between Calico hosts.
    #[serde(rename = "VXLAN")]
    Vxlan,
    /// WireGuard.
    #[serde(rename = "WireGuard")]
    Wireguard,
}

impl Tunnel {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Tunnel::Ipip => "IP-in-IP",
            Tunnel::Vxlan => "VXLAN",
            Tunnel::Wireguard => "WireGuard",
        }
    }
}

/// One of Felix's host tunnel rules, for one pair of addresses: filter INPUT accepts
/// IP-in-IP from Calico hosts and drops the rest, accepts VXLAN from Calico hosts
/// and drops the rest to the host, accepts WireGuard from anyone; filter OUTPUT
/// accepts the same to Calico hosts (`filterInputChain`, `filterOutputChain`,
/// `felix/rules/static.go`). Both run before the host-endpoint dispatch, and INPUT's
/// before the workload `goto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunnelRule {
    /// What it matches.
    pub guard: PacketGuard,
    /// Accept or drop.
    pub accept: bool,
    /// Which tunnel.
    pub tunnel: Tunnel,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(dport: u16) -> Packet {
        Packet::to_port(Protocol::UDP, dport)
    }

    #[test]
    fn encap_drop_matches_only_what_it_names() {
        let both = EncapDrop {
            vxlan_port: Some(4789),
            ipip: true,
        };
        assert_eq!(both.matches(&udp(4789)), Some(Encapsulation::Vxlan));
        assert_eq!(both.matches(&udp(4790)), None);
        assert_eq!(
            both.matches(&Packet::to_port(Protocol::TCP, 4789)),
            None,
            "VXLAN is UDP only"
        );
        assert_eq!(
            both.matches(&Packet::to_port(IPIP, 0)),
            Some(Encapsulation::Ipip)
        );
        let vxlan_only = EncapDrop {
            vxlan_port: Some(8472),
            ipip: false,
        };
        assert_eq!(vxlan_only.matches(&Packet::to_port(IPIP, 0)), None);
        assert_eq!(vxlan_only.matches(&udp(8472)), Some(Encapsulation::Vxlan));
        assert!(EncapDrop::default().is_none());
    }

    #[test]
    fn neighbour_discovery_types_only() {
        let nd = PacketGuard::Icmpv6Types(WORKLOAD_TO_HOST_ICMPV6);
        let icmp6 = |t: u8| Packet {
            protocol: Protocol::ICMPV6,
            sport: 0,
            dport: 0,
            icmp: Some((t, 0)),
        };
        for t in [130, 131, 132, 133, 135, 136] {
            assert!(nd.matches(&icmp6(t)), "type {t}");
        }
        // Router advertisements, redirects and echo are policy's business.
        for t in [128, 129, 134, 137] {
            assert!(!nd.matches(&icmp6(t)), "type {t}");
        }
        let v4 = Packet {
            protocol: Protocol::ICMP,
            icmp: Some((135, 0)),
            ..icmp6(135)
        };
        assert!(!nd.matches(&v4), "ICMPv4 is not ICMPv6");
    }
}
