//! One Calico rule as render-model rules, per IP family.
//!
//! All match criteria are ANDed in one rule; selectors and `nets` become named
//! address sets (IPv4 and IPv6 apart), port lists shared named sets, named ports
//! `(address, protocol, port)` sets of the endpoints that define them. A rule whose
//! criteria are ORs across kinds (numeric and named ports) becomes one rule per
//! kind. A family with no address for a positive selector gets no rule: the selector
//! cannot match there, as in Calico.

use std::ops::RangeInclusive;

use ipnet::IpNet;
use range_set_blaze::RangeSetBlaze;

use super::Builder;
use crate::backend::model::{Match, Ports, Rule, Side, Verdict};
use crate::ir::{Action, EntityMatch, IpVersion, PortMatch, Protocol};

/// What an Allow does in the stage the rule is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowVerdict {
    /// Accept: final for this stage (normal and forward stages).
    Accept,
    /// Mark accepted and accept, so later host-endpoint stages let it through
    /// (pre-DNAT).
    MarkAccept,
    /// Untracked: no conntrack, mark accepted, accept.
    Notrack,
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

/// A port range as nft and set names write it (`80`, `8000-8100`).
pub fn range_text(r: &RangeInclusive<u16>) -> String {
    if r.start() == r.end() {
        r.start().to_string()
    } else {
        format!("{}-{}", r.start(), r.end())
    }
}

/// The numeric items of a port list, normalised: duplicates removed, overlapping
/// and adjacent ranges merged (nft refuses overlapping intervals in one set), in
/// ascending order, so equal port sets get the same shared set.
fn port_items(items: &[PortMatch]) -> Vec<RangeInclusive<u16>> {
    let ranges = items.iter().filter_map(|p| match p {
        PortMatch::Range(r) => Some(r.lo..=r.hi),
        PortMatch::Named(_) => None,
    });
    RangeSetBlaze::from_iter(ranges).ranges().collect()
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

/// nft's name of a protocol (also the order of named-port set elements).
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
    /// Render `rule` for `family`: zero, one or two model rules. `pass` is what a
    /// Pass does (set the pass mark and return, or in a profile a plain return),
    /// `log` names the rule in a Log prefix, `about` is every line's comment.
    pub(super) fn rule_lines(
        &mut self,
        rule: &crate::ir::Rule,
        family: IpVersion,
        allow: AllowVerdict,
        pass: &Verdict,
        log: &str,
        about: &str,
    ) -> Vec<Rule> {
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
        let mut base: Vec<Match> = Vec::new();
        for (side, e) in [
            (Side::Source, &rule.source),
            (Side::Destination, &rule.destination),
        ] {
            match self.addresses(side, e, family) {
                Some(mut m) => base.append(&mut m),
                None => return Vec::new(),
            }
        }
        if let Some(protocol) = rule.protocol {
            base.push(Match::Protocol {
                protocol,
                negate: false,
            });
        } else if rule.ip_version.is_some() && base.is_empty() {
            base.push(Match::Family(family));
        }
        if let Some(protocol) = rule.not_protocol {
            base.push(Match::Protocol {
                protocol,
                negate: true,
            });
        }
        if let Some(m) = rule.icmp {
            base.push(Match::Icmp {
                family,
                type_: m.type_,
                code: m.code,
            });
        }
        if let Some(m) = rule.not_icmp {
            base.push(Match::NotIcmp {
                family,
                type_: m.type_,
                code: m.code,
            });
        }
        let Some(variants) = self.port_variants(rule, family) else {
            return Vec::new();
        };
        let marks = self.marks;
        let verdict = match (rule.action, allow) {
            (Action::Allow, AllowVerdict::Accept) => Verdict::Accept,
            (Action::Allow, AllowVerdict::MarkAccept) => Verdict::MarkAccept(marks.accept),
            (Action::Allow, AllowVerdict::Notrack) => Verdict::NotrackAccept(marks.accept),
            (Action::Deny, _) => Verdict::Drop,
            (Action::Pass, _) => pass.clone(),
            (Action::Log, _) => Verdict::Log(log.to_string()),
        };
        variants
            .into_iter()
            .map(|v| {
                let mut matches = base.clone();
                for term in v {
                    if !matches.contains(&term) {
                        matches.push(term);
                    }
                }
                Rule::new(matches, verdict.clone(), about).only(family)
            })
            .collect()
    }

    /// The port matches of a rule, one list per alternative: numeric and named
    /// items are ORed, so they become separate rules. `None` when no alternative
    /// can match (only named ports that no endpoint defines).
    fn port_variants(
        &mut self,
        rule: &crate::ir::Rule,
        family: IpVersion,
    ) -> Option<Vec<Vec<Match>>> {
        let mut variants: Vec<Vec<Match>> = vec![Vec::new()];
        for (side, e) in [
            (Side::Source, &rule.source),
            (Side::Destination, &rule.destination),
        ] {
            let mut alternatives: Vec<Option<Match>> = Vec::new();
            let numeric = port_items(&e.ports);
            if !numeric.is_empty() {
                alternatives.push(Some(self.ports(side, &numeric, false)));
            }
            let named = port_names(&e.ports);
            if !named.is_empty()
                && let Some(set) = self.named_port_set(&named, rule.protocol, family, e)
            {
                alternatives.push(Some(Match::NamedPorts {
                    side,
                    family,
                    set,
                    negate: false,
                }));
            }
            if e.ports.is_empty() {
                alternatives.push(None);
            }
            if alternatives.is_empty() {
                return None;
            }
            let mut not = Vec::new();
            let not_numeric = port_items(&e.not_ports);
            if !not_numeric.is_empty() {
                not.push(self.ports(side, &not_numeric, true));
            }
            let not_named = port_names(&e.not_ports);
            if !not_named.is_empty() {
                match self.named_port_set(&not_named, rule.protocol, family, e) {
                    Some(set) => not.push(Match::NamedPorts {
                        side,
                        family,
                        set,
                        negate: true,
                    }),
                    // No endpoint of this family defines them: nothing to exclude,
                    // but the line stays this family's.
                    None => not.push(Match::Family(family)),
                }
            }
            let mut next = Vec::new();
            for v in &variants {
                for alt in &alternatives {
                    let mut x = v.clone();
                    x.extend(alt.iter().cloned());
                    x.extend(not.iter().cloned());
                    next.push(x);
                }
            }
            variants = next;
        }
        Some(variants)
    }

    /// Address matches of one side; `None` when the side cannot match in `family`.
    fn addresses(&mut self, side: Side, e: &EntityMatch, family: IpVersion) -> Option<Vec<Match>> {
        let mut out = Vec::new();
        let all_nets = e.nets.iter().chain(&e.not_nets);
        if (!e.nets.is_empty() || !e.not_nets.is_empty())
            && !all_nets.clone().any(|n| family_of(n) == family)
        {
            return None;
        }
        let set = |set: String, negate| Match::AddrSet {
            side,
            family,
            set,
            negate,
        };
        if !e.nets.is_empty() {
            let nets = normalised_nets(&e.nets, family);
            if nets.is_empty() {
                // `nets` names only the other family: nothing matches here.
                return None;
            }
            out.push(set(
                self.address_set("nets", &list_key(&nets), family, &nets),
                false,
            ));
        }
        let not_nets = normalised_nets(&e.not_nets, family);
        if !not_nets.is_empty() {
            let name = self.address_set("nets", &list_key(&not_nets), family, &not_nets);
            out.push(set(name, true));
        }
        if let Some(s) = &e.selector {
            let nets = self.resolver.selector_nets(s, family);
            if nets.is_empty() {
                return None;
            }
            out.push(set(
                self.address_set("sel", &s.to_string(), family, &nets),
                false,
            ));
        }
        if let Some(s) = &e.not_selector {
            let nets = self.resolver.selector_nets(s, family);
            if nets.is_empty() {
                // Nothing to exclude in this family, but the line is still this
                // family's: in an inet table a line without an address match would
                // match the other family's packets too.
                out.push(Match::Family(family));
            } else {
                let name = self.address_set("sel", &s.to_string(), family, &nets);
                out.push(set(name, true));
            }
        }
        Some(out)
    }

    /// A port list as a match: one port or range inline, more as a shared named set.
    fn ports(&mut self, side: Side, items: &[RangeInclusive<u16>], negate: bool) -> Match {
        let ports = match items {
            [one] => Ports::Range(one.clone()),
            _ => Ports::Set(self.port_set(items)),
        };
        Match::Port {
            side,
            ports,
            negate,
        }
    }

    /// The `(address, protocol, port)` set of named ports `names` on the endpoints
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
        // In the order of their text (`address . protocol . port`), as sets list them.
        let mut keyed: Vec<(String, (std::net::IpAddr, Protocol, u16))> = tuples
            .into_iter()
            .map(|t| (format!("{} . {} . {}", t.0, proto_name(t.1), t.2), t))
            .collect();
        keyed.sort();
        keyed.dedup();
        if keyed.is_empty() {
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
        let elements =
            crate::backend::model::Elements::Named(keyed.into_iter().map(|(_, t)| t).collect());
        self.add_set(&name, Some(family), elements, &format!("named ports {key}"));
        Some(name)
    }
}
