//! One render-model rule as `iptables-restore` rule lines (`-A CHAIN ...`).
//!
//! iptables has no verdict that ends one stage only: `ACCEPT` would end the whole
//! built-in chain, skipping the rules other owners (kube-proxy, Docker) keep after
//! polc's jump. So polc's chains never `ACCEPT`: an accept sets the *done* mark and
//! returns (`-g POLC-ACCEPT`), every jump to a chain that can accept is followed by
//! `-m mark --mark D/D -j RETURN`, and a stage chain returns to its hook's chain,
//! which clears the mark and runs the next stage (the model's meaning: accept ends
//! the stage). Pass, pre-DNAT and untracked Allow go to small helper chains that set
//! their marks and return, as Calico's own iptables rules do with their marks
//! (`felix/rules/policy.go`: Allow sets the accept mark and returns).

use crate::backend::model::{CtState, IfaceDir, Match, Ports, Rule, Side, Verdict};
use crate::ir::{IpVersion, Protocol};

/// Helper chains: what each does lives in `Renderer::helpers`.
pub const ACCEPT: &str = "POLC-ACCEPT";
/// Sets the pass mark and returns.
pub const PASS: &str = "POLC-PASS";
/// Sets the accept and done marks and returns (pre-DNAT Allow).
pub const MARK_ACCEPT: &str = "POLC-MARK-ACCEPT";
/// No conntrack, accept and done marks, return (untracked Allow; raw only).
pub const NOTRACK: &str = "POLC-NOTRACK";

/// The most ports one `multiport` match takes (a range counts twice).
const MULTIPORT_MAX: usize = 15;

/// What rendering a rule needs to know about names and chains.
pub trait Context {
    /// The iptables name of a model chain.
    fn chain(&mut self, name: &str) -> String;
    /// The ipset name of a model set.
    fn set(&mut self, name: &str) -> String;
    /// The port ranges of a model port set.
    fn port_set(&self, name: &str) -> Vec<std::ops::RangeInclusive<u16>>;
    /// Whether a model chain can end its stage (so a jump to it needs a done check).
    fn can_accept(&self, name: &str) -> bool;
    /// The done mark.
    fn done(&self) -> u32;
}

/// iptables' name of a protocol.
fn proto(p: Protocol, family: IpVersion) -> String {
    match p {
        Protocol::TCP => "tcp".into(),
        Protocol::UDP => "udp".into(),
        Protocol::SCTP => "sctp".into(),
        Protocol::ICMP => "icmp".into(),
        Protocol::ICMPV6 if family == IpVersion::V6 => "ipv6-icmp".into(),
        Protocol(n) => n.to_string(),
    }
}

fn dir(side: Side) -> &'static str {
    match side {
        Side::Source => "src",
        Side::Destination => "dst",
    }
}

fn range(r: &std::ops::RangeInclusive<u16>) -> String {
    if r.start() == r.end() {
        r.start().to_string()
    } else {
        format!("{}:{}", r.start(), r.end())
    }
}

/// `multiport` lists of at most [`MULTIPORT_MAX`] ports each.
fn multiport_lists(ranges: &[std::ops::RangeInclusive<u16>]) -> Vec<String> {
    let mut lists: Vec<Vec<String>> = vec![Vec::new()];
    let mut weight = 0;
    for r in ranges {
        let w = if r.start() == r.end() { 1 } else { 2 };
        if weight + w > MULTIPORT_MAX {
            lists.push(Vec::new());
            weight = 0;
        }
        weight += w;
        lists.last_mut().expect("one list").push(range(r));
    }
    lists.into_iter().map(|l| l.join(",")).collect()
}

/// Every alternative of `alts` ANDed with each of `options` (ORed).
fn and(alts: &mut Vec<Vec<String>>, options: Vec<String>) {
    let mut next = Vec::new();
    for a in alts.iter() {
        for o in &options {
            let mut x = a.clone();
            x.push(o.clone());
            next.push(x);
        }
    }
    *alts = next;
}

/// A rule's alternatives: each a list of match texts (ORed alternatives come from
/// port lists longer than one `multiport`, failsafe pairs of several protocols and
/// ICMPv6 type lists). `None`: the rule cannot match.
fn alternatives(r: &Rule, family: IpVersion, cx: &mut dyn Context) -> Option<Vec<Vec<String>>> {
    let mut protocol: Option<Protocol> = None;
    let mut not_protocol: Option<Protocol> = None;
    let mut alts: Vec<Vec<String>> = vec![Vec::new()];
    let neg = |n: bool| if n { "! " } else { "" };
    for m in &r.matches {
        match m {
            Match::Family(_) => {}
            Match::AddrSet {
                side, set, negate, ..
            } => {
                let s = cx.set(set);
                and(
                    &mut alts,
                    vec![format!(
                        "-m set {}--match-set {s} {}",
                        neg(*negate),
                        dir(*side)
                    )],
                );
            }
            Match::Net { side, net } => {
                let flag = if *side == Side::Source { "-s" } else { "-d" };
                and(&mut alts, vec![format!("{flag} {net}")]);
            }
            Match::Protocol {
                protocol: p,
                negate,
            } => {
                if *negate {
                    not_protocol = Some(*p);
                } else {
                    protocol = Some(*p);
                }
            }
            Match::ProtocolPort {
                protocol: p,
                side,
                port,
            } => {
                protocol = Some(*p);
                let name = proto(*p, family);
                let flag = if *side == Side::Source {
                    "--sport"
                } else {
                    "--dport"
                };
                and(&mut alts, vec![format!("-m {name} {flag} {port}")]);
            }
            Match::Port {
                side,
                ports,
                negate,
            } => {
                let ranges = match ports {
                    Ports::Range(one) => vec![one.clone()],
                    Ports::Set(name) => cx.port_set(name),
                };
                let flag = if *side == Side::Source {
                    "--sports"
                } else {
                    "--dports"
                };
                let lists = multiport_lists(&ranges);
                let n = neg(*negate);
                // One `multiport` when the list fits, else the set (`bitmap:port`).
                let m = match ports {
                    Ports::Set(name) if lists.len() > 1 => {
                        let s = cx.set(name);
                        format!("-m set {n}--match-set {s} {}", dir(*side))
                    }
                    _ => format!("-m multiport {n}{flag} {}", lists.join(",")),
                };
                and(&mut alts, vec![m]);
            }
            Match::NamedPorts {
                side, set, negate, ..
            } => {
                let s = cx.set(set);
                let d = dir(*side);
                and(
                    &mut alts,
                    vec![format!("-m set {}--match-set {s} {d},{d}", neg(*negate))],
                );
            }
            Match::ProtocolPorts { side, pairs } => {
                let flag = if *side == Side::Source {
                    "--sports"
                } else {
                    "--dports"
                };
                let mut by_proto: Vec<(Protocol, Vec<std::ops::RangeInclusive<u16>>)> = Vec::new();
                for (p, port) in pairs {
                    match by_proto.iter_mut().find(|(q, _)| q == p) {
                        Some((_, v)) => v.push(*port..=*port),
                        None => by_proto.push((*p, vec![*port..=*port])),
                    }
                }
                let mut options = Vec::new();
                for (p, ports) in by_proto {
                    for l in multiport_lists(&ports) {
                        options.push(format!("-p {} -m multiport {flag} {l}", proto(p, family)));
                    }
                }
                and(&mut alts, options);
            }
            Match::Icmp {
                family: f,
                type_,
                code,
            } => and(&mut alts, vec![icmp(*f, *type_, *code, false)]),
            Match::NotIcmp {
                family: f,
                type_,
                code,
            } => and(&mut alts, vec![icmp(*f, *type_, *code, true)]),
            Match::Icmpv6Types(types) => {
                let options = types
                    .iter()
                    .map(|t| format!("-p ipv6-icmp -m icmp6 --icmpv6-type {t}"))
                    .collect();
                and(&mut alts, options);
            }
            Match::Mark { mask, value } => {
                and(
                    &mut alts,
                    vec![format!("-m mark --mark {value:#x}/{mask:#x}")],
                );
            }
            Match::Ct(state) => {
                let s = match state {
                    CtState::EstablishedRelated => "RELATED,ESTABLISHED",
                    CtState::Invalid => "INVALID",
                };
                and(&mut alts, vec![format!("-m conntrack --ctstate {s}")]);
            }
            Match::Iface {
                dir: d,
                name,
                prefix,
                negate,
            } => {
                let flag = if *d == IfaceDir::In { "-i" } else { "-o" };
                let plus = if *prefix { "+" } else { "" };
                and(
                    &mut alts,
                    vec![format!("{}{flag} {name}{plus}", neg(*negate))],
                );
            }
        }
    }
    // One `-p` per rule, first (the protocol's matches need it).
    let lead = match (protocol, not_protocol) {
        (Some(p), Some(q)) if p == q => return None,
        (Some(p), _) => Some(format!("-p {}", proto(p, family))),
        (None, Some(q)) => Some(format!("! -p {}", proto(q, family))),
        (None, None) => None,
    };
    if let Some(lead) = lead {
        for a in &mut alts {
            a.insert(0, lead.clone());
        }
    }
    Some(alts)
}

fn icmp(family: IpVersion, type_: u8, code: Option<u8>, negate: bool) -> String {
    let value = match code {
        Some(c) => format!("{type_}/{c}"),
        None => type_.to_string(),
    };
    let not = if negate { "! " } else { "" };
    if family == IpVersion::V4 {
        format!("-m icmp {not}--icmp-type {value}")
    } else {
        format!("-m icmp6 {not}--icmpv6-type {value}")
    }
}

/// The target of a verdict, and whether a done check must follow.
fn target(v: &Verdict, stage: bool, cx: &mut dyn Context) -> (String, bool) {
    match v {
        Verdict::Accept if stage => ("-j RETURN".into(), false),
        Verdict::Accept => (format!("-g {ACCEPT}"), false),
        Verdict::Drop => ("-j DROP".into(), false),
        Verdict::Return => ("-j RETURN".into(), false),
        Verdict::Jump(c) => (format!("-j {}", cx.chain(c)), cx.can_accept(c)),
        Verdict::Goto(c) => (format!("-g {}", cx.chain(c)), false),
        Verdict::Map { map, .. } => (format!("-j {}", cx.chain(map)), cx.can_accept(map)),
        Verdict::AndMark(m) => (format!("-j MARK --and-mark {m:#x}"), false),
        Verdict::Pass(_) => (format!("-g {PASS}"), false),
        Verdict::MarkAccept(_) => (format!("-g {MARK_ACCEPT}"), false),
        Verdict::NotrackAccept(_) => (format!("-g {NOTRACK}"), false),
        Verdict::Log(prefix) => {
            // The kernel takes at most 29 characters of prefix.
            let p: String = crate::backend::names::comment(prefix, 22);
            (format!("-j LOG --log-prefix \"polc {p}: \""), false)
        }
    }
}

/// The lines of one rule in `chain` (already an iptables name) for `family`;
/// `stage`: the chain is a stage chain (an accept returns to the hook's chain).
pub fn lines(
    r: &Rule,
    chain: &str,
    family: IpVersion,
    stage: bool,
    cx: &mut dyn Context,
) -> Vec<String> {
    if r.family.is_some_and(|f| f != family) {
        return Vec::new();
    }
    let Some(alts) = alternatives(r, family, cx) else {
        return Vec::new();
    };
    let (target, check) = target(&r.verdict, stage, cx);
    let comment = if r.comment.is_empty() {
        String::new()
    } else {
        format!(" -m comment --comment \"{}\"", r.comment)
    };
    let mut out = Vec::new();
    for a in alts {
        let mut parts = vec![format!("-A {chain}")];
        parts.extend(a);
        let head = parts.join(" ");
        out.push(format!("{head}{comment} {target}"));
        if check {
            let d = cx.done();
            out.push(format!("-A {chain} -m mark --mark {d:#x}/{d:#x} -j RETURN"));
        }
    }
    out
}
