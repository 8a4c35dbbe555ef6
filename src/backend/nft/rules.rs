//! One Calico rule as nftables rule text, per IP family.
//!
//! All match criteria are ANDed in one nft rule; selectors and `nets` become named
//! interval sets (IPv4 and IPv6 apart), port lists shared named sets, named ports
//! concatenated `address . protocol . port` sets of the endpoints that define them.
//! A rule whose criteria are ORs across kinds (numeric and named ports) becomes one
//! nft rule per kind. A family with no address for a positive selector gets no rule:
//! the selector cannot match there, as in Calico.

use ipnet::IpNet;
use range_set_blaze::RangeSetBlaze;

use super::Builder;
use crate::ir::{Action, EntityMatch, IpVersion, PortMatch, Protocol, Rule};

/// What an Allow does in the stage the rule is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowVerdict {
    /// `accept`: final for this base chain (normal and forward stages).
    Accept,
    /// Mark accepted and `accept`, so later host-endpoint stages let it through
    /// (pre-DNAT).
    MarkAccept,
    /// Untracked: `notrack`, mark accepted, `accept`.
    Notrack,
}

/// Which side of the packet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Destination,
}

impl Side {
    fn addr(self, family: IpVersion) -> &'static str {
        match (family, self) {
            (IpVersion::V4, Side::Source) => "ip saddr",
            (IpVersion::V4, Side::Destination) => "ip daddr",
            (IpVersion::V6, Side::Source) => "ip6 saddr",
            (IpVersion::V6, Side::Destination) => "ip6 daddr",
        }
    }

    fn port(self) -> &'static str {
        match self {
            Side::Source => "th sport",
            Side::Destination => "th dport",
        }
    }
}

fn family_of(n: &IpNet) -> IpVersion {
    if n.addr().is_ipv4() {
        IpVersion::V4
    } else {
        IpVersion::V6
    }
}

fn port_names(items: &[PortMatch]) -> Vec<&String> {
    items
        .iter()
        .filter_map(|p| match p {
            PortMatch::Named(n) => Some(n),
            PortMatch::Range(_) => None,
        })
        .collect()
}

fn list_key(nets: &[IpNet]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The numeric items of a port list, normalised: duplicates removed, overlapping
/// and adjacent ranges merged (nft refuses overlapping intervals in one set), in
/// ascending order, so equal port sets get the same text and the same shared set.
fn port_items(items: &[PortMatch]) -> Vec<String> {
    let ranges = items.iter().filter_map(|p| match p {
        PortMatch::Range(r) => Some(r.lo..=r.hi),
        PortMatch::Named(_) => None,
    });
    RangeSetBlaze::from_iter(ranges)
        .ranges()
        .map(|r| {
            if r.start() == r.end() {
                r.start().to_string()
            } else {
                format!("{}-{}", r.start(), r.end())
            }
        })
        .collect()
}

/// A family's nets of a list, normalised: duplicates removed, nets inside others
/// dropped, adjacent ones merged (nft refuses overlapping intervals in one set).
fn normalised_nets(nets: &[IpNet], family: IpVersion) -> Vec<IpNet> {
    let of_family: Vec<IpNet> = nets
        .iter()
        .filter(|n| family_of(n) == family)
        .copied()
        .collect();
    IpNet::aggregate(&of_family)
}

/// The match that keeps a line to one IP family in an `inet` table.
fn nfproto(family: IpVersion) -> String {
    let name = if family == IpVersion::V4 {
        "ipv4"
    } else {
        "ipv6"
    };
    format!("meta nfproto {name}")
}

/// nft's name of a protocol.
pub fn proto_name(p: Protocol) -> String {
    match p {
        Protocol::TCP => "tcp".into(),
        Protocol::UDP => "udp".into(),
        Protocol::SCTP => "sctp".into(),
        Protocol::ICMP => "icmp".into(),
        Protocol::ICMPV6 => "ipv6-icmp".into(),
        Protocol(n) => n.to_string(),
    }
}

impl Builder<'_, '_> {
    /// Render `rule` (rule `index` of `chain`) for `family`: zero, one or two nft rules.
    pub fn rule_lines(
        &mut self,
        chain: &str,
        index: usize,
        rule: &Rule,
        family: IpVersion,
        allow: AllowVerdict,
        pass_mark: u32,
    ) -> Vec<String> {
        if rule.ip_version.is_some_and(|v| v != family)
            || rule.source.services.is_some()
            || rule.destination.services.is_some()
        {
            return Vec::new();
        }
        if (rule.protocol == Some(Protocol::ICMP) && family == IpVersion::V6)
            || (rule.protocol == Some(Protocol::ICMPV6) && family == IpVersion::V4)
        {
            return Vec::new();
        }
        let mut base: Vec<String> = Vec::new();
        for (side, e) in [
            (Side::Source, &rule.source),
            (Side::Destination, &rule.destination),
        ] {
            match self.addresses(side, e, family) {
                Some(mut m) => base.append(&mut m),
                None => return Vec::new(),
            }
        }
        if let Some(p) = rule.protocol {
            base.push(format!("meta l4proto {}", proto_name(p)));
        } else if rule.ip_version.is_some() && base.is_empty() {
            base.push(format!(
                "meta nfproto {}",
                if family == IpVersion::V4 {
                    "ipv4"
                } else {
                    "ipv6"
                }
            ));
        }
        if let Some(p) = rule.not_protocol {
            base.push(format!("meta l4proto != {}", proto_name(p)));
        }
        let icmp = if family == IpVersion::V4 {
            "icmp"
        } else {
            "icmpv6"
        };
        if let Some(m) = rule.icmp {
            base.push(format!("{icmp} type {}", m.type_));
            if let Some(c) = m.code {
                base.push(format!("{icmp} code {c}"));
            }
        }
        if let Some(m) = rule.not_icmp {
            match m.code {
                None => base.push(format!("{icmp} type != {}", m.type_)),
                // nft refuses a concatenation compared with a single value: an
                // anonymous one-element set says the same.
                Some(c) => base.push(format!(
                    "{icmp} type . {icmp} code != {{ {} . {c} }}",
                    m.type_
                )),
            }
        }
        // Ports: numeric items and named items are ORed, so they become separate rules.
        let mut variants: Vec<Vec<String>> = vec![Vec::new()];
        for (side, e) in [
            (Side::Source, &rule.source),
            (Side::Destination, &rule.destination),
        ] {
            let mut next = Vec::new();
            let numeric = port_items(&e.ports);
            let named = port_names(&e.ports);
            let mut alternatives: Vec<String> = Vec::new();
            if !numeric.is_empty() {
                alternatives.push(format!("{} {}", side.port(), self.ports(&numeric)));
            }
            if !named.is_empty() {
                let set = self.named_port_set(&named, rule.protocol, family, e);
                if let Some(set) = set {
                    alternatives.push(format!(
                        "{} . meta l4proto . {} @{set}",
                        side.addr(family),
                        side.port()
                    ));
                }
            }
            if e.ports.is_empty() {
                alternatives.push(String::new());
            }
            if alternatives.is_empty() {
                // Only named ports that no endpoint defines: the rule cannot match.
                return Vec::new();
            }
            let mut not = Vec::new();
            let not_numeric = port_items(&e.not_ports);
            if !not_numeric.is_empty() {
                not.push(format!("{} != {}", side.port(), self.ports(&not_numeric)));
            }
            let not_named = port_names(&e.not_ports);
            if !not_named.is_empty() {
                match self.named_port_set(&not_named, rule.protocol, family, e) {
                    Some(set) => not.push(format!(
                        "{} . meta l4proto . {} != @{set}",
                        side.addr(family),
                        side.port()
                    )),
                    // No endpoint of this family defines them: nothing to exclude,
                    // but the line stays this family's.
                    None => not.push(nfproto(family)),
                }
            }
            for v in &variants {
                for alt in &alternatives {
                    let mut x = v.clone();
                    if !alt.is_empty() {
                        x.push(alt.clone());
                    }
                    x.extend(not.iter().cloned());
                    next.push(x);
                }
            }
            variants = next;
        }
        let verdict = match (rule.action, allow) {
            (Action::Allow, AllowVerdict::Accept) => "accept".to_string(),
            (Action::Allow, AllowVerdict::MarkAccept) => format!(
                "meta mark set meta mark | {:#010x} accept",
                self.opts.accept_mark
            ),
            (Action::Allow, AllowVerdict::Notrack) => format!(
                "notrack meta mark set meta mark | {:#010x} accept",
                self.opts.accept_mark
            ),
            (Action::Deny, _) => "drop".to_string(),
            (Action::Pass, _) => format!("meta mark set meta mark | {pass_mark:#010x} return"),
            (Action::Log, _) => format!(
                "log prefix \"polc {}: \"",
                crate::backend::names::comment(&format!("{chain} r{index}"), 100)
            ),
        };
        variants
            .into_iter()
            .map(|v| {
                let mut parts = base.clone();
                for term in v {
                    if !parts.contains(&term) {
                        parts.push(term);
                    }
                }
                parts.push(verdict.clone());
                parts.join(" ")
            })
            .collect()
    }

    /// Address matches of one side; `None` when the side cannot match in `family`.
    fn addresses(&mut self, side: Side, e: &EntityMatch, family: IpVersion) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let all_nets = e.nets.iter().chain(&e.not_nets);
        if (!e.nets.is_empty() || !e.not_nets.is_empty())
            && !all_nets.clone().any(|n| family_of(n) == family)
        {
            return None;
        }
        if !e.nets.is_empty() {
            let nets = normalised_nets(&e.nets, family);
            if nets.is_empty() {
                // `nets` names only the other family: nothing matches here.
                return None;
            }
            let name = self.address_set("nets", &list_key(&nets), family, &nets);
            out.push(format!("{} @{name}", side.addr(family)));
        }
        let not_nets = normalised_nets(&e.not_nets, family);
        if !not_nets.is_empty() {
            let name = self.address_set("nets", &list_key(&not_nets), family, &not_nets);
            out.push(format!("{} != @{name}", side.addr(family)));
        }
        if let Some(s) = &e.selector {
            let nets = self.engine_selector_nets(s, family);
            if nets.is_empty() {
                return None;
            }
            let name = self.address_set("sel", &s.to_string(), family, &nets);
            out.push(format!("{} @{name}", side.addr(family)));
        }
        if let Some(s) = &e.not_selector {
            let nets = self.engine_selector_nets(s, family);
            if nets.is_empty() {
                // Nothing to exclude in this family, but the line is still this
                // family's: in an inet table a line without an address match would
                // match the other family's packets too.
                out.push(nfproto(family));
            } else {
                let name = self.address_set("sel", &s.to_string(), family, &nets);
                out.push(format!("{} != @{name}", side.addr(family)));
            }
        }
        Some(out)
    }

    /// A port list as nft matches it: one port or range inline, more as a shared
    /// named set.
    fn ports(&mut self, items: &[String]) -> String {
        match items {
            [one] => one.clone(),
            _ => format!("@{}", self.port_set(items)),
        }
    }

    /// The `address . protocol . port` set of named ports `names` on the endpoints
    /// the side's selector selects: shared by every rule with the same names,
    /// protocol and selector.
    fn named_port_set(
        &mut self,
        names: &[&String],
        protocol: Option<Protocol>,
        family: IpVersion,
        e: &EntityMatch,
    ) -> Option<String> {
        let mut tuples = Vec::new();
        for n in names {
            tuples.extend(
                self.resolver
                    .named_tuples(n, protocol, family, e.selector.as_ref()),
            );
        }
        tuples.sort();
        tuples.dedup();
        if tuples.is_empty() {
            return None;
        }
        let mut key: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        key.sort_unstable();
        key.dedup();
        let protocol_name = protocol.map_or_else(|| "any".to_string(), proto_name);
        let selector = e
            .selector
            .as_ref()
            .map_or_else(|| "any".to_string(), |s| s.to_string());
        let key = format!("{} {protocol_name} {selector}", key.join(","));
        let name = Self::keyed_name("named", &key, Some(family));
        self.claim(&name, &format!("named set {key} {family:?}"));
        let addr = if family == IpVersion::V4 {
            "ipv4_addr"
        } else {
            "ipv6_addr"
        };
        self.add_set(
            &name,
            &format!("{addr} . inet_proto . inet_service"),
            false,
            tuples,
            &format!("named ports {key}"),
        );
        Some(name)
    }
}
