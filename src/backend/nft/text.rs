//! The nft text of render-model matches, verdicts and set elements.

use crate::backend::build::proto_name;
use crate::backend::model::{CtState, Elements, IfaceDir, Match, Ports, Rule, Side, Verdict};
use crate::backend::names::comment;
use crate::ir::IpVersion;

fn addr(side: Side, family: IpVersion) -> &'static str {
    match (family, side) {
        (IpVersion::V4, Side::Source) => "ip saddr",
        (IpVersion::V4, Side::Destination) => "ip daddr",
        (IpVersion::V6, Side::Source) => "ip6 saddr",
        (IpVersion::V6, Side::Destination) => "ip6 daddr",
    }
}

fn port(side: Side) -> &'static str {
    match side {
        Side::Source => "sport",
        Side::Destination => "dport",
    }
}

fn nfproto(family: IpVersion) -> &'static str {
    if family == IpVersion::V4 {
        "ipv4"
    } else {
        "ipv6"
    }
}

fn icmp(family: IpVersion) -> &'static str {
    if family == IpVersion::V4 {
        "icmp"
    } else {
        "icmpv6"
    }
}

fn family_of_net(net: &ipnet::IpNet) -> IpVersion {
    if net.addr().is_ipv4() {
        IpVersion::V4
    } else {
        IpVersion::V6
    }
}

fn ports(p: &Ports) -> String {
    match p {
        Ports::Range(r) => crate::backend::build::range_text(r),
        Ports::Set(s) => format!("@{s}"),
    }
}

/// A mark value: `0`, or eight hex digits.
fn mark(v: u32) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#010x}")
    }
}

/// One match.
pub fn match_text(m: &Match) -> String {
    let neg = |n: bool| if n { "!= " } else { "" };
    match m {
        Match::Family(f) => format!("meta nfproto {}", nfproto(*f)),
        Match::AddrSet {
            side,
            family,
            set,
            negate,
        } => format!("{} {}@{set}", addr(*side, *family), neg(*negate)),
        Match::Net { side, net } => format!("{} {net}", addr(*side, family_of_net(net))),
        Match::Protocol { protocol, negate } => {
            format!("meta l4proto {}{}", neg(*negate), proto_name(*protocol))
        }
        Match::ProtocolPort {
            protocol,
            side,
            port: p,
        } => format!("{} {} {p}", proto_name(*protocol), port(*side)),
        Match::Port {
            side,
            ports: p,
            negate,
        } => format!("th {} {}{}", port(*side), neg(*negate), ports(p)),
        Match::NamedPorts {
            side,
            family,
            set,
            negate,
        } => format!(
            "{} . meta l4proto . th {} {}@{set}",
            addr(*side, *family),
            port(*side),
            neg(*negate)
        ),
        Match::ProtocolPorts { side, pairs } => {
            let items: Vec<String> = pairs
                .iter()
                .map(|(p, n)| format!("{} . {n}", proto_name(*p)))
                .collect();
            format!(
                "meta l4proto . th {} {{ {} }}",
                port(*side),
                items.join(", ")
            )
        }
        Match::Icmp {
            family,
            type_,
            code,
        } => {
            let i = icmp(*family);
            match code {
                None => format!("{i} type {type_}"),
                Some(c) => format!("{i} type {type_} {i} code {c}"),
            }
        }
        Match::NotIcmp {
            family,
            type_,
            code,
        } => {
            let i = icmp(*family);
            match code {
                None => format!("{i} type != {type_}"),
                // nft refuses a concatenation compared with a single value: an
                // anonymous one-element set says the same.
                Some(c) => format!("{i} type . {i} code != {{ {type_} . {c} }}"),
            }
        }
        Match::Icmpv6Types(types) => {
            let t: Vec<String> = types.iter().map(u8::to_string).collect();
            format!("icmpv6 type {{ {} }}", t.join(", "))
        }
        Match::Mark { mask, value } => format!("meta mark & {mask:#010x} == {}", mark(*value)),
        Match::Ct(CtState::EstablishedRelated) => "ct state established,related".into(),
        Match::Ct(CtState::Invalid) => "ct state invalid".into(),
        Match::Iface {
            dir,
            name,
            prefix,
            negate,
        } => {
            let key = if *dir == IfaceDir::In {
                "iifname"
            } else {
                "oifname"
            };
            let star = if *prefix { "*" } else { "" };
            format!("{key} {}\"{name}{star}\"", neg(*negate))
        }
    }
}

/// One verdict.
pub fn verdict_text(v: &Verdict, family: Option<IpVersion>) -> String {
    match v {
        Verdict::Accept => "accept".into(),
        Verdict::Drop => "drop".into(),
        Verdict::Return => "return".into(),
        Verdict::Jump(c) => format!("jump {c}"),
        Verdict::Goto(c) => format!("goto {c}"),
        Verdict::Map { side, map } => {
            let family = family.unwrap_or(IpVersion::V4);
            format!("{} vmap @{map}", addr(*side, family))
        }
        Verdict::AndMark(m) => format!("meta mark set meta mark & {m:#010x}"),
        Verdict::Pass(m) => format!("meta mark set meta mark | {m:#010x} return"),
        Verdict::MarkAccept(m) => format!("meta mark set meta mark | {m:#010x} accept"),
        Verdict::NotrackAccept(m) => format!("notrack meta mark set meta mark | {m:#010x} accept"),
        Verdict::Log(prefix) => format!("log prefix \"polc {}: \"", comment(prefix, 100)),
    }
}

/// One rule without its comment.
pub fn rule_text(r: &Rule) -> String {
    let mut parts: Vec<String> = r.matches.iter().map(match_text).collect();
    parts.push(verdict_text(&r.verdict, r.family));
    parts.join(" ")
}

/// The type of a set's elements and whether it is an interval set.
pub fn set_type(e: &Elements, family: Option<IpVersion>) -> (String, bool) {
    let a = if family == Some(IpVersion::V6) {
        "ipv6_addr"
    } else {
        "ipv4_addr"
    };
    match e {
        Elements::Nets(_) => (a.into(), true),
        Elements::Hosts(_) => (a.into(), false),
        Elements::Ports(_) => ("inet_service".into(), true),
        Elements::Named(_) => (format!("{a} . inet_proto . inet_service"), false),
    }
}

/// A set's elements as nft lists them.
pub fn elements_text(e: &Elements) -> Vec<String> {
    match e {
        Elements::Nets(v) => v.iter().map(ToString::to_string).collect(),
        Elements::Hosts(v) => v.iter().map(ToString::to_string).collect(),
        Elements::Ports(v) => v.iter().map(crate::backend::build::range_text).collect(),
        Elements::Named(v) => v
            .iter()
            .map(|(ip, p, n)| format!("{ip} . {} . {n}", proto_name(*p)))
            .collect(),
    }
}
