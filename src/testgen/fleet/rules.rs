//! One rule of a fleet policy, in Calico or Kubernetes form. Rule number `g` (over the
//! whole repository) decides its class: every twentieth names a network set (in a
//! Kubernetes policy: an ipBlock with an `except`), another twentieth the pods of an
//! app (app policies only) on a port of its own, and the rest one or two networks
//! (one, as one peer, in a Kubernetes policy) on one to three ports.

use std::fmt::Write;

use super::addr::{self, RULE_NETS};
use super::{Fleet, Kind, Policy};
use crate::testgen::mix::Mix;

/// The stream kind of rules (see [`Mix::for_item`]).
const RULE_STREAM: u64 = 2;

/// TCP ports (none of Felix's failsafe ports), and one range: the node ports.
const TCP_PORTS: &[Port] = &[
    Port::One(80),
    Port::One(443),
    Port::One(8080),
    Port::One(8443),
    Port::One(3000),
    Port::One(3306),
    Port::One(5432),
    Port::One(6379),
    Port::One(9090),
    Port::One(9100),
    Port::One(9200),
    Port::One(5672),
    Port::One(9092),
    Port::One(2181),
    Port::One(11211),
    Port::One(27017),
    Port::One(8000),
    Port::One(8888),
    Port::One(10250),
    Port::Range(30000, 32767),
];

/// UDP ports (none of Felix's failsafe ports, nor VXLAN's).
const UDP_PORTS: &[Port] = &[
    Port::One(123),
    Port::One(161),
    Port::One(514),
    Port::One(1812),
    Port::One(5060),
    Port::One(8125),
];

/// A destination port or range.
#[derive(Debug, Clone, Copy)]
enum Port {
    One(u16),
    Range(u16, u16),
}

/// What a rule's peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// One or two networks.
    Nets,
    /// Network set number `s` (Calico policies).
    NetSet(usize),
    /// An ipBlock /24 with a /28 hole (Kubernetes policies).
    Except,
    /// The pods of an app, on a port of the rule's own.
    Pods,
}

/// The class of rule `g` of a policy of `kind`.
pub fn class(kind: Kind, g: usize) -> Class {
    match (g % 20, kind) {
        (7, Kind::Kubernetes) => Class::Except,
        (7, _) => Class::NetSet(g / 20),
        (13, Kind::Host) => Class::Nets,
        (13, _) => Class::Pods,
        _ => Class::Nets,
    }
}

/// The name of network set `s`, for a policy of `kind`: a GlobalNetworkSet for
/// global policies, a NetworkSet (of the policy's namespace) for namespaced ones.
pub fn set_name(kind: Kind, s: usize) -> String {
    match kind {
        Kind::Namespaced => format!("nets-{s:05}"),
        _ => format!("gnets-{s:05}"),
    }
}

/// The port of a rule of class [`Class::Pods`]: unique per rule up to 800,000 rules.
fn pods_port(g: usize) -> u16 {
    20_000 + ((g / 20) % 40_000) as u16
}

/// One to three distinct ports of one protocol.
fn pick_ports(mix: &mut Mix) -> (&'static str, Vec<Port>) {
    let (proto, list) = if mix.chance(1, 5) {
        ("UDP", UDP_PORTS)
    } else {
        ("TCP", TCP_PORTS)
    };
    let n = mix.between(1, 3);
    let start = mix.below(list.len());
    // 7 is prime to both lists' lengths: the picks are distinct.
    let ports = (0..n).map(|t| list[(start + 7 * t) % list.len()]).collect();
    (proto, ports)
}

fn calico_ports(ports: &[Port]) -> String {
    let items: Vec<String> = ports
        .iter()
        .map(|p| match p {
            Port::One(n) => n.to_string(),
            Port::Range(a, b) => format!("\"{a}:{b}\""),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// The peer (a `nets:` or `selector:` line) and ports of rule `g` of policy `p`.
fn peer(fleet: &Fleet, p: &Policy, g: usize, mix: &mut Mix) -> (String, &'static str, Vec<Port>) {
    match class(p.kind, g) {
        Class::NetSet(s) => {
            let (proto, ports) = pick_ports(mix);
            let sel = format!("selector: netset == '{}'", set_name(p.kind, s));
            (sel, proto, ports)
        }
        Class::Pods => {
            let app = match p.kind {
                Kind::Global => (p.app + 1) % fleet.apps,
                _ => p.app,
            };
            let sel = format!("selector: app == 'app-{app}'");
            (sel, "TCP", vec![Port::One(pods_port(g))])
        }
        Class::Nets | Class::Except => {
            let n = mix.between(1, RULE_NETS);
            let nets: Vec<String> = (0..n)
                .map(|c| addr::net(addr::rule_block(g, c), mix))
                .collect();
            let (proto, ports) = pick_ports(mix);
            (format!("nets: [{}]", nets.join(", ")), proto, ports)
        }
    }
}

/// Rule `g` of Calico policy `p`, in its ingress or egress list.
pub fn calico(out: &mut String, fleet: &Fleet, p: &Policy, g: usize, egress: bool) {
    let mut mix = Mix::for_item(RULE_STREAM, g);
    let (peer, proto, ports) = peer(fleet, p, g, &mut mix);
    let ports = calico_ports(&ports);
    let _ = writeln!(out, "    - action: Allow\n      protocol: {proto}");
    let _ = if egress {
        writeln!(
            out,
            "      destination:\n        {peer}\n        ports: {ports}"
        )
    } else {
        writeln!(
            out,
            "      source:\n        {peer}\n      destination:\n        ports: {ports}"
        )
    };
}

/// Rule `g` of Kubernetes policy `p` (ingress).
pub fn kubernetes(out: &mut String, p: &Policy, g: usize) {
    let mut mix = Mix::for_item(RULE_STREAM, g);
    out.push_str("    - from:\n");
    let (proto, ports) = match class(p.kind, g) {
        Class::Pods => {
            let _ = writeln!(
                out,
                "        - podSelector:\n            matchLabels:\n              app: app-{}",
                p.app
            );
            ("TCP", vec![Port::One(pods_port(g))])
        }
        Class::Except => {
            let (net, hole) = addr::net_with_hole(addr::rule_block(g, 0));
            let _ = writeln!(
                out,
                "        - ipBlock:\n            cidr: {net}\n            except: [{hole}]"
            );
            pick_ports(&mut mix)
        }
        _ => {
            let net = addr::net(addr::rule_block(g, 0), &mut mix);
            let _ = writeln!(out, "        - ipBlock:\n            cidr: {net}");
            pick_ports(&mut mix)
        }
    };
    out.push_str("      ports:\n");
    for port in ports {
        let _ = match port {
            Port::One(n) => writeln!(out, "        - protocol: {proto}\n          port: {n}"),
            Port::Range(a, b) => writeln!(
                out,
                "        - protocol: {proto}\n          port: {a}\n          endPort: {b}"
            ),
        };
    }
}
