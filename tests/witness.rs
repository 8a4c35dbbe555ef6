//! Witness packets look like real packets: a concrete endpoint address when one fits
//! the class (another than the fixed side's own), TCP/UDP/ICMP when the rule allows
//! them, never `0.0.0.0`, a network address or protocol 0 unless the class is exactly
//! that.

use std::net::IpAddr;

use polc::analysis::{Kind, WitnessPacket, analyze};
use polc::frontend::load_sources;
use polc::ir::Protocol;
use polc::semantics::Engine;
use polc::source::Sources;

/// The witnesses of the findings about the input's rules.
fn witnesses(yaml: &str) -> Vec<(Kind, WitnessPacket)> {
    let mut sources = Sources::default();
    sources.add("test.yaml".into(), yaml.to_string());
    let loaded = load_sources(sources);
    assert!(!loaded.diags.has_errors(), "valid input");
    let engine = Engine::new(&loaded.model);
    let found: Vec<(Kind, WitnessPacket)> = analyze(&engine)
        .findings
        .into_iter()
        .filter_map(|f| Some((f.kind, f.witness?)))
        .collect();
    assert!(!found.is_empty(), "the input has findings with witnesses");
    for (kind, w) in &found {
        assert_ne!(
            w.src, w.dst,
            "{kind:?}: no packet from an endpoint to itself"
        );
    }
    found
}

fn pod(name: &str, app: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, labels: {{app: {app}}}}}\nspec: {{nodeName: n1, containers: [{{name: c}}]}}\nstatus: {{podIP: {ip}}}\n---\n"
    )
}

const SHADOWED: &str = "apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: server-in}
spec:
  selector: app == 'server'
  ingress:
    - action: Deny
      source: {nets: [10.0.0.0/8]}
    - action: Allow
      source: {nets: [10.1.0.0/16]}
---
";

#[test]
fn a_witness_is_an_endpoint_when_one_fits_and_speaks_tcp() {
    let yaml = [
        SHADOWED,
        &pod("server", "server", "10.9.0.2"),
        &pod("client", "client", "10.1.0.5"),
    ]
    .concat();
    for (kind, w) in witnesses(&yaml) {
        assert_eq!(w.packet.protocol, Protocol::TCP, "{kind:?}: {w:?}");
        assert_eq!(
            w.src,
            "10.1.0.5".parse::<IpAddr>().unwrap(),
            "{kind:?}: {w:?}"
        );
        assert_eq!(w.dst, "10.9.0.2".parse::<IpAddr>().unwrap());
    }
}

#[test]
fn a_free_witness_address_is_no_network_address() {
    let yaml = [SHADOWED, &pod("server", "server", "10.9.0.2")].concat();
    for (kind, w) in witnesses(&yaml) {
        assert_eq!(w.packet.protocol, Protocol::TCP, "{kind:?}: {w:?}");
        let IpAddr::V4(src) = w.src else {
            panic!("an IPv4 witness")
        };
        assert!(src.octets()[..2] == [10, 1], "inside the rule's net: {src}");
        assert_ne!(src.octets()[3], 0, "not the network address: {src}");
    }
}

#[test]
fn a_witness_never_shows_0_0_0_0_or_protocol_0() {
    let yaml = "apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web-out}
spec:
  selector: app == 'web'
  egress:
    - action: Deny
      destination: {nets: [0.0.0.0/1]}
    - action: Allow
      destination: {nets: [0.0.0.0/2]}
---
"
    .to_string()
        + &pod("web", "web", "192.168.0.9");
    for (kind, w) in witnesses(&yaml) {
        assert_ne!(
            w.dst,
            "0.0.0.0".parse::<IpAddr>().unwrap(),
            "{kind:?}: {w:?}"
        );
        assert_ne!(w.packet.protocol, Protocol(0), "{kind:?}: {w:?}");
        assert_eq!(w.packet.protocol, Protocol::TCP, "{kind:?}: {w:?}");
    }
}

#[test]
fn a_protocol_no_rule_names_is_a_real_one() {
    // TCP, UDP, ICMP and SCTP are denied first, so the later Deny differs from the
    // Allow before it only on the protocols no rule names.
    let yaml = "apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web-in}
spec:
  selector: app == 'web'
  ingress:
    - {action: Deny, protocol: TCP}
    - {action: Deny, protocol: UDP}
    - {action: Deny, protocol: ICMP}
    - {action: Deny, protocol: SCTP}
    - action: Allow
      source: {nets: [10.0.0.0/8]}
    - action: Deny
      source: {nets: [10.0.0.0/16]}
---
"
    .to_string()
        + &pod("web", "web", "10.0.0.9");
    let found = witnesses(&yaml);
    let shadowed: Vec<&WitnessPacket> = found
        .iter()
        .filter(|(k, _)| *k == Kind::Shadowed)
        .map(|(_, w)| w)
        .collect();
    assert_eq!(shadowed.len(), 1, "{found:?}");
    assert_eq!(
        shadowed[0].packet.protocol,
        Protocol(47),
        "GRE stands for the protocols no rule names: {found:?}"
    );
}
