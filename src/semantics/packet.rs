//! A flow's first packet, and whether one rule matches it.
//!
//! All match criteria of a rule are ANDed; list criteria are ORs over their items
//! (`tigera/docs: _entityrule.mdx`). Addresses are matched through their holders
//! (see [`super::endpoints`]); named ports through the named ports of the endpoint
//! that owns the address on that side of the packet, and only when that endpoint
//! matches the side's positive selector (see [`named_ports_visible`]).

use std::fmt;
use std::net::IpAddr;

use crate::ir::{EntityMatch, IcmpMatch, IpVersion, NamedPort, PortMatch, Protocol, Rule};
use crate::selector::Expr;

use super::endpoints::LabelSetId;

/// The header fields policy looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Packet {
    /// IP protocol.
    pub protocol: Protocol,
    /// Source port (TCP, UDP, SCTP).
    pub sport: u16,
    /// Destination port (TCP, UDP, SCTP).
    pub dport: u16,
    /// ICMP type and code (ICMP, ICMPv6).
    pub icmp: Option<(u8, u8)>,
}

impl Packet {
    /// The ephemeral source port polc assumes for a client (Linux's default range
    /// starts at 32768).
    pub const EPHEMERAL_SPORT: u16 = 40000;

    /// A packet of `protocol` to `dport` from an ephemeral source port.
    pub fn to_port(protocol: Protocol, dport: u16) -> Packet {
        let icmp = protocol
            .is_icmp()
            .then_some((if protocol == Protocol::ICMP { 8 } else { 128 }, 0));
        Packet {
            protocol,
            sport: Packet::EPHEMERAL_SPORT,
            dport,
            icmp,
        }
    }
}

impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.protocol.has_ports(), self.icmp) {
            (true, _) => write!(f, "{} {}->{}", self.protocol, self.sport, self.dport),
            (false, Some((t, c))) => write!(f, "{} type {t} code {c}", self.protocol),
            _ => write!(f, "{}", self.protocol),
        }
    }
}

/// One side of a flow as a rule sees it.
#[derive(Debug, Clone)]
pub struct Side<'a> {
    /// The address.
    pub ip: IpAddr,
    /// Label sets of everything holding the address.
    pub holders: &'a [LabelSetId],
    /// Named ports of the endpoint owning the address.
    pub ports: &'a [NamedPort],
    /// The label set of the endpoint owning the address (whose `ports` these are).
    pub owner: Option<LabelSetId>,
}

/// The family of an address.
pub fn family(ip: IpAddr) -> IpVersion {
    if ip.is_ipv4() {
        IpVersion::V4
    } else {
        IpVersion::V6
    }
}

/// Evaluates selectors against label sets (memoised by the engine).
pub trait SelectorOracle {
    /// Whether `expr` matches the label set `labels`.
    fn matches(&self, expr: &Expr, labels: LabelSetId) -> bool;
}

/// Whether `rule` matches a packet from `src` to `dst`.
pub fn rule_matches(
    rule: &Rule,
    packet: &Packet,
    src: &Side<'_>,
    dst: &Side<'_>,
    sel: &impl SelectorOracle,
) -> bool {
    rule_matches_addresses(rule, src, dst, sel)
        && rule_matches_packet(
            rule,
            packet,
            visible_ports(&rule.source, src, sel),
            visible_ports(&rule.destination, dst, sel),
        )
}

/// The named ports of a side that count for an entity: its owner's, or none.
pub fn visible_ports<'a>(
    e: &EntityMatch,
    side: &Side<'a>,
    sel: &impl SelectorOracle,
) -> &'a [NamedPort] {
    if named_ports_visible(e, side.owner, sel) {
        side.ports
    } else {
        &[]
    }
}

/// The address half of a rule: IP family, nets, selectors, services. For a fixed pair
/// of endpoints this is decided once, whatever the packet.
pub fn rule_matches_addresses(
    rule: &Rule,
    src: &Side<'_>,
    dst: &Side<'_>,
    sel: &impl SelectorOracle,
) -> bool {
    rule.ip_version.is_none_or(|v| v == family(src.ip))
        && entity_addresses(&rule.source, src, sel)
        && entity_addresses(&rule.destination, dst, sel)
}

/// The packet half of a rule: protocol, ICMP, ports (named ports resolved against
/// the endpoints' own named ports).
pub fn rule_matches_packet(
    rule: &Rule,
    packet: &Packet,
    src_ports: &[NamedPort],
    dst_ports: &[NamedPort],
) -> bool {
    if rule.protocol.is_some_and(|p| p != packet.protocol)
        || rule.not_protocol == Some(packet.protocol)
    {
        return false;
    }
    if let Some(m) = rule.icmp
        && !icmp_matches(m, packet)
    {
        return false;
    }
    if let Some(m) = rule.not_icmp
        && (packet.icmp.is_none() || icmp_matches(m, packet))
    {
        return false;
    }
    entity_ports(&rule.source, packet, packet.sport, src_ports)
        && entity_ports(&rule.destination, packet, packet.dport, dst_ports)
}

fn icmp_matches(m: IcmpMatch, packet: &Packet) -> bool {
    match packet.icmp {
        Some((t, c)) => t == m.type_ && m.code.is_none_or(|mc| mc == c),
        None => false,
    }
}

fn port_item_matches(item: &PortMatch, packet: &Packet, port: u16, named: &[NamedPort]) -> bool {
    if !packet.protocol.has_ports() {
        return false;
    }
    match item {
        PortMatch::Range(r) => r.contains(port),
        PortMatch::Named(name) => named
            .iter()
            .any(|p| &p.name == name && p.protocol == packet.protocol && p.port == port),
    }
}

/// Whether the named ports of an address's owner count for the named-port items
/// (`ports`, `notPorts`) of an entity: Calico renders a named port as an IP set of the
/// endpoints the entity's positive selector selects that have the port
/// (`felix/calc/rule_scanner.go`, `namedPortsToIPSets`, which the selector IP set then
/// no longer constrains), so an address the selector matches only through another
/// holder (a network set) never matches a named port.
pub fn named_ports_visible(
    e: &EntityMatch,
    owner: Option<LabelSetId>,
    sel: &impl SelectorOracle,
) -> bool {
    match &e.selector {
        None => true,
        Some(s) => owner.is_some_and(|o| sel.matches(s, o)),
    }
}

/// The address criteria of one side of a rule (nets, selectors, services) against
/// one side of a flow.
pub fn entity_addresses(e: &EntityMatch, side: &Side<'_>, sel: &impl SelectorOracle) -> bool {
    if !e.nets.is_empty() && !e.nets.iter().any(|n| n.contains(&side.ip)) {
        return false;
    }
    if e.not_nets.iter().any(|n| n.contains(&side.ip)) {
        return false;
    }
    if let Some(s) = &e.selector
        && !side.holders.iter().any(|h| sel.matches(s, *h))
    {
        return false;
    }
    if let Some(s) = &e.not_selector
        && side.holders.iter().any(|h| sel.matches(s, *h))
    {
        return false;
    }
    // Service matches need EndpointSlices, which the inventory does not hold: such a
    // rule matches nothing (the frontend warns).
    e.services.is_none()
}

fn entity_ports(e: &EntityMatch, packet: &Packet, port: u16, named: &[NamedPort]) -> bool {
    if !e.ports.is_empty()
        && !e
            .ports
            .iter()
            .any(|p| port_item_matches(p, packet, port, named))
    {
        return false;
    }
    !(!e.not_ports.is_empty()
        && (!packet.protocol.has_ports()
            || e.not_ports
                .iter()
                .any(|p| port_item_matches(p, packet, port, named))))
}
