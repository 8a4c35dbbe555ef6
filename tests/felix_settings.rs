//! The evaluator against what Felix does around policy, whatever the policies say:
//! encapsulated packets from pods dropped before their egress policy
//! (`endpointIptablesChain`, `felix/rules/endpoints.go`), ICMPv6 from pods to their
//! own host accepted before it (`ICMPv6Filter`, `felix/rules/static.go`), the
//! forward default of host endpoints (`endpointIptablesChain`, "Allow forwarded
//! traffic by default"), and the FelixConfiguration settings that change them.

mod common;

use polc::ir::{Model, Protocol};
use polc::semantics::{
    Decider, Direction, EncapDrop, Encapsulation, EndpointRef, Engine, IPIP, Outcome, Packet,
    PlannedEnd, Stage,
};

use common::model_of;

/// Pod client on n1 (IPv4 and IPv6), pod server on n2, both nodes with a host
/// endpoint.
const INVENTORY: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app, labels: {role: client}}
spec: {nodeName: n1}
status: {podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.1}, {ip: "fd00::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: app, labels: {role: server}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.2, podIPs: [{ip: 10.0.0.2}, {ip: "fd00::2"}]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: n1-eth0, labels: {role: node}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.0.1, "fd00:2::1"]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: n2-eth0, labels: {role: node}}
spec: {node: n2, interfaceName: eth0, expectedIPs: [192.168.0.2, "fd00:2::2"]}
"#;

/// The client may send anything: an explicit Allow, which still cannot open
/// encapsulated packets.
const CLIENT_OPEN: &str = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: client-open}
spec: {selector: role == 'client', types: [Egress], egress: [{action: Allow}]}
"#;

fn model(files: &[&str]) -> Model {
    let mut all = vec![("inventory.yaml".to_string(), INVENTORY.to_string())];
    for (i, f) in files.iter().enumerate() {
        all.push((format!("f{i}.yaml"), f.to_string()));
    }
    let refs: Vec<(&str, &str)> = all.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    model_of(&refs)
}

fn ep(e: &Engine<'_>, name: &str) -> EndpointRef {
    e.universe.resolve(e.model, name).unwrap()
}

fn icmp6(t: u8) -> Packet {
    Packet {
        protocol: Protocol::ICMPV6,
        sport: 0,
        dport: 0,
        icmp: Some((t, 0)),
    }
}

fn verdict(e: &Engine<'_>, from: &str, to: &str, p: &Packet) -> (bool, Decider) {
    let v = e.evaluate(ep(e, from), ep(e, to), p);
    (v.allowed, v.decider)
}

#[test]
fn workload_vxlan_and_ipip_are_dropped_before_egress_policy() {
    let m = model(&[CLIENT_OPEN]);
    let e = Engine::new(&m);
    let vxlan = Decider::WorkloadEncapsulation {
        encapsulation: Encapsulation::Vxlan,
    };
    let ipip = Decider::WorkloadEncapsulation {
        encapsulation: Encapsulation::Ipip,
    };
    let udp = |port| Packet::to_port(Protocol::UDP, port);
    assert_eq!(
        verdict(&e, "app/client", "app/server", &udp(4789)),
        (false, vxlan.clone())
    );
    assert_eq!(
        verdict(&e, "app/client", "host/n1-eth0", &udp(4789)),
        (false, vxlan.clone()),
        "to its own host too"
    );
    assert_eq!(
        verdict(&e, "app/client", "app/server", &Packet::to_port(IPIP, 0)),
        (false, ipip)
    );
    assert!(verdict(&e, "app/client", "app/server", &udp(4790)).0);
    assert!(
        verdict(
            &e,
            "app/client",
            "app/server",
            &Packet::to_port(Protocol::TCP, 4789)
        )
        .0,
        "VXLAN is UDP"
    );
    assert!(
        verdict(&e, "10.9.9.9", "app/server", &udp(4789)).0,
        "only egress chains drop it: ingress to a pod is policy's business"
    );
    // The plan says so, for pods' egress only.
    let client = e.universe.by_name("app/client").unwrap();
    let plan = |ep, dir| e.stage_plan(ep, Stage::Normal, dir).encap_drop;
    assert_eq!(
        plan(client, Direction::Egress),
        EncapDrop {
            vxlan_port: Some(4789),
            ipip: true
        }
    );
    assert!(plan(client, Direction::Ingress).is_none());
    let hep = e.universe.by_name("host/n1-eth0").unwrap();
    assert!(plan(hep, Direction::Egress).is_none());
}

#[test]
fn encapsulation_settings_per_node() {
    // Globally: VXLAN on port 8472 and IP-in-IP allowed; n2 overrides VXLAN.
    let felix = r#"
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {vxlanPort: 8472, allowIPIPPacketsFromWorkloads: true}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: node.n2}
spec: {allowVXLANPacketsFromWorkloads: true}
"#;
    let m = model(&[felix]);
    let e = Engine::new(&m);
    let udp = |port| Packet::to_port(Protocol::UDP, port);
    assert!(verdict(&e, "app/client", "app/server", &udp(4789)).0);
    assert_eq!(
        verdict(&e, "app/client", "app/server", &udp(8472)),
        (
            false,
            Decider::WorkloadEncapsulation {
                encapsulation: Encapsulation::Vxlan
            }
        )
    );
    assert!(verdict(&e, "app/client", "app/server", &Packet::to_port(IPIP, 0)).0);
    assert!(
        verdict(&e, "app/server", "app/client", &udp(8472)).0,
        "n2 allows VXLAN from its pods"
    );
}

#[test]
fn matrix_cells_cut_at_the_encapsulation_guards() {
    let m = model(&[]);
    let e = Engine::new(&m);
    let (c, s) = (ep(&e, "app/client"), ep(&e, "app/server"));
    let cell = e.cell_set(c, s);
    assert_eq!(
        cell.to_string(),
        "TCP; UDP 1-4788,4790-65535; SCTP; ICMP; other protocols except 4"
    );
    assert_eq!(cell.named_protocols.get(&4), Some(&false), "IP-in-IP");
    let path = e.path(c, s);
    for port in 4780..=4800 {
        let p = Packet::to_port(Protocol::UDP, port);
        assert_eq!(cell.ports[&Protocol::UDP].contains(port), path.allows(&p));
    }
}

/// Pod client's egress allows only TCP 8080 to the server; pods may not reach
/// their host (`defaultEndpointToHostAction: Drop`).
const ND: &str = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: client-8080}
spec:
  selector: role == 'client'
  types: [Egress]
  egress: [{action: Allow, protocol: TCP, destination: {selector: role == 'server', ports: [8080]}}]
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {defaultEndpointToHostAction: Drop}
"#;

#[test]
fn icmpv6_discovery_to_the_own_host_is_accepted_before_policy() {
    let m = model(&[ND]);
    let e = Engine::new(&m);
    for t in [130, 131, 132, 133, 135, 136] {
        assert_eq!(
            verdict(&e, "app/client", "host/n1-eth0", &icmp6(t)),
            (true, Decider::WorkloadIcmpv6ToHost { icmp_type: t }),
            "type {t}"
        );
    }
    // Not router advertisements, redirects or echo: those meet the egress policy
    // (which denies them) and the endpoint-to-host action.
    for t in [128, 134, 137] {
        assert!(
            !verdict(&e, "app/client", "host/n1-eth0", &icmp6(t)).0,
            "type {t}"
        );
    }
    // Not to another node's host, nor to another pod.
    assert!(!verdict(&e, "app/client", "host/n2-eth0", &icmp6(135)).0);
    assert!(!verdict(&e, "app/client", "app/server", &icmp6(135)).0);
    // ICMPv4 type 135 is nothing special.
    let v4 = Packet {
        protocol: Protocol::ICMP,
        ..icmp6(135)
    };
    assert!(!verdict(&e, "app/client", "host/n1-eth0", &v4).0);
    // The policy still allows what it allows, to the server.
    assert!(
        verdict(
            &e,
            "app/client",
            "app/server",
            &Packet::to_port(Protocol::TCP, 8080)
        )
        .0
    );
}

#[test]
fn icmpv6_discovery_in_the_matrix() {
    let inventory = r#"
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: v6, labels: {app: a}}
spec: {nodeName: n1}
status: {podIPs: [{ip: "fd00::1"}]}
---
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: "fd00:2::1"}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: a-closed}
spec: {selector: app == 'a', types: [Egress]}
"#;
    let m = model_of(&[("inv.yaml", inventory)]);
    let e = Engine::new(&m);
    let cell = e.cell_set(ep(&e, "v6/a"), ep(&e, "node/n1"));
    assert_eq!(cell.to_string(), "ICMPv6 130-133,135-136");
}

/// n1's host endpoint has applyOnForward policy for ingress only.
const AOF_INGRESS_ONLY: &str = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: aof-in}
spec:
  selector: role == 'node'
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Allow}]
"#;

#[test]
fn forward_default_needs_no_apply_on_forward_policy_in_either_direction() {
    let hep_plan = |m: &Model, dir| {
        let e = Engine::new(m);
        let h = e.universe.by_name("host/n1-eth0").unwrap();
        e.stage_plan(h, Stage::Forward, dir).end
    };
    let none = model(&[]);
    for dir in [Direction::Ingress, Direction::Egress] {
        assert_eq!(hep_plan(&none, dir), PlannedEnd::ForwardDefault);
    }
    let one_way = model(&[AOF_INGRESS_ONLY]);
    for dir in [Direction::Ingress, Direction::Egress] {
        assert_eq!(hep_plan(&one_way, dir), PlannedEnd::NextStage, "{dir:?}");
    }
    // The flow out of n1 meets the forward egress stage: no verdict there, and the
    // flow's decider is not a forward allow.
    let e = Engine::new(&one_way);
    let v = e.evaluate(
        ep(&e, "app/client"),
        ep(&e, "10.9.9.9"),
        &Packet::to_port(Protocol::TCP, 80),
    );
    assert!(v.allowed, "no verdict: polc's nft table accepts");
    let fwd = v
        .stages
        .iter()
        .find(|s| s.stage == Stage::Forward)
        .expect("the forward stage runs");
    assert_eq!(fwd.outcome, Outcome::NoVerdict);
    assert_eq!(fwd.decider, Decider::ForwardNoVerdict);
    assert_eq!(v.decider, Decider::NamespaceProfile);
    // Without any applyOnForward policy, the forward default allows.
    let e = Engine::new(&none);
    let v = e.evaluate(
        ep(&e, "app/client"),
        ep(&e, "10.9.9.9"),
        &Packet::to_port(Protocol::TCP, 80),
    );
    assert!(v.allowed);
    assert_eq!(v.decider, Decider::ForwardDefault);
}

#[test]
fn conntrack_invalid_drop_follows_the_setting() {
    let felix = r#"
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: node.n2}
spec: {disableConntrackInvalidCheck: true}
"#;
    let m = model(&[felix]);
    let e = Engine::new(&m);
    let plan = |name: &str, stage| {
        let i = e.universe.by_name(name).unwrap();
        e.stage_plan(i, stage, Direction::Ingress).invalid_drop
    };
    assert!(plan("app/client", Stage::Normal));
    assert!(plan("host/n1-eth0", Stage::Forward));
    assert!(plan("host/n1-eth0", Stage::PreDnat));
    assert!(
        !plan("host/n1-eth0", Stage::Untracked),
        "raw runs before conntrack"
    );
    assert!(!plan("app/server", Stage::Normal), "n2 disables it");
    assert!(!plan("host/n2-eth0", Stage::Normal));
}

/// Build the nft artifacts of `files` over [`INVENTORY`]: node name to script.
fn artifacts(files: &[&str]) -> std::collections::BTreeMap<String, String> {
    let names: Vec<String> = (0..files.len()).map(|i| format!("f{i}.yaml")).collect();
    let mut inputs = vec![("inventory.yaml", INVENTORY)];
    inputs.extend(names.iter().map(String::as_str).zip(files.iter().copied()));
    let (_dir, out) = common::build_all(&inputs);
    ["n1", "n2"]
        .iter()
        .map(|n| {
            let script = std::fs::read_to_string(out.join(n).join("polc.nft")).unwrap();
            (n.to_string(), script)
        })
        .collect()
}

/// The rules of chain `name` in `script` (without a base chain's hook line).
fn chain<'a>(script: &'a str, name: &str) -> Vec<&'a str> {
    let start = format!("chain {name} {{");
    script
        .lines()
        .skip_while(|l| l.trim() != start)
        .skip(1)
        .take_while(|l| l.trim() != "}")
        .map(str::trim)
        .filter(|l| !l.starts_with("type "))
        .collect()
}

#[test]
fn the_artifact_renders_the_settings_from_the_plan() {
    let felix = r#"
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {vxlanPort: 8472, interfacePrefix: "cali,tap", defaultEndpointToHostAction: Drop}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: node.n2}
spec: {disableConntrackInvalidCheck: true, allowIPIPPacketsFromWorkloads: true, allowVXLANPacketsFromWorkloads: true}
"#;
    let a = artifacts(&[felix, AOF_INGRESS_ONLY]);
    let (n1, n2) = (&a["n1"], &a["n2"]);
    // Encapsulation drops: in pods' egress chains only, before the verdict.
    let eg = chain(n1, "wl.app.client.eg");
    assert!(
        eg.iter().any(|r| r.starts_with("udp dport 8472 drop")),
        "{eg:?}"
    );
    assert!(
        eg.iter().any(|r| r.starts_with("meta l4proto 4 drop")),
        "{eg:?}"
    );
    let last_drop = eg.iter().rposition(|r| r.contains(" drop ")).unwrap();
    assert!(last_drop < eg.iter().position(|r| r.starts_with("accept")).unwrap());
    assert!(
        !chain(n1, "wl.app.client.in")
            .iter()
            .any(|r| r.contains("dport 8472"))
    );
    assert!(
        !chain(n2, "wl.app.server.eg")
            .iter()
            .any(|r| r.contains("l4proto 4"))
    );
    // ICMPv6 ND by workload interface, first in both input chains, per prefix.
    for base in ["filter-input", "filter-input-wl"] {
        let rules = chain(n1, base);
        for (k, prefix) in ["cali", "tap"].iter().enumerate() {
            assert_eq!(
                rules[k].split(" comment").next().unwrap(),
                format!(
                    "iifname \"{prefix}*\" icmpv6 type {{ 130, 131, 132, 133, 135, 136 }} accept"
                ),
                "{base}"
            );
        }
    }
    // Conntrack INVALID: dropped in n1's tracked endpoint chains, not on n2.
    assert!(
        chain(n1, "wl.app.client.eg")
            .contains(&"ct state invalid drop comment \"conntrack INVALID\"")
    );
    assert!(!n2.contains("ct state invalid drop"));
    // Forward default: with applyOnForward policy for ingress only, neither forward
    // chain accepts by default; without any, both do.
    let open = artifacts(&[]);
    for dir in ["fwd-in", "fwd-eg"] {
        let accepts = |script: &str| {
            chain(script, &format!("hep.n1-eth0.{dir}"))
                .iter()
                .any(|r| r.starts_with("accept"))
        };
        assert!(!accepts(n1), "{dir}");
        assert!(accepts(&open["n1"]), "{dir}");
    }
}

#[test]
fn encapsulation_settings_merge_over_a_selector_scoped_configuration() {
    let felix = r#"
apiVersion: v1
kind: Node
metadata: {name: n2, labels: {zone: b}}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: zone-b}
spec: {nodeSelector: zone == 'b', vxlanPort: 8472, allowIPIPPacketsFromWorkloads: false}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: node.n2}
spec: {allowIPIPPacketsFromWorkloads: true}
"#;
    let m = model(&[felix]);
    let e = Engine::new(&m);
    let drop = |pod: &str| {
        let i = e.universe.by_name(pod).unwrap();
        e.stage_plan(i, Stage::Normal, Direction::Egress).encap_drop
    };
    // n2: the port from the selector-scoped resource, IP-in-IP from node.n2.
    assert_eq!(
        drop("app/server"),
        EncapDrop {
            vxlan_port: Some(8472),
            ipip: false
        }
    );
    // n1: neither applies.
    assert_eq!(
        drop("app/client"),
        EncapDrop {
            vxlan_port: Some(4789),
            ipip: true
        }
    );
}

/// The tunnels Felix opens come from the IPPools unless FelixConfiguration says
/// (`felix/calc/encapsulation_resolver.go`): IP-in-IP from any pool, VXLAN per family
/// of the pool's CIDR, IPv6 VXLAN from the pools only, WireGuard from
/// FelixConfiguration only.
#[test]
fn ip_pools_enable_tunnels_unless_felix_configuration_says() {
    let pool = |name: &str, cidr: &str, mode: &str| {
        format!(
            "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {{name: {name}}}\nspec: {{cidr: \"{cidr}\", {mode}}}\n---\n"
        )
    };
    let felix = |spec: &str| {
        format!(
            "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {{name: default}}\nspec: {spec}\n"
        )
    };
    let tunnels = |text: &str| {
        let m = model_of(&[("inventory.yaml", INVENTORY), ("pools.yaml", text)]);
        let t = m.felix.tunnels("n1");
        (t.ipip, t.vxlan)
    };
    assert_eq!(tunnels(""), (false, (false, false)), "Felix's defaults");
    let ipip = pool("a", "10.244.0.0/16", "ipipMode: CrossSubnet");
    let vxlan4 = pool("b", "10.245.0.0/16", "vxlanMode: Always");
    let vxlan6 = pool("c", "fd00:10::/64", "vxlanMode: CrossSubnet");
    let never = pool("d", "10.246.0.0/16", "ipipMode: Never, vxlanMode: Never");
    assert_eq!(tunnels(&ipip), (true, (false, false)));
    assert_eq!(tunnels(&vxlan4), (false, (true, false)));
    assert_eq!(tunnels(&vxlan6), (false, (false, true)), "IPv6 pools only");
    assert_eq!(tunnels(&never), (false, (false, false)));
    let all = format!("{ipip}{vxlan4}{vxlan6}");
    assert_eq!(
        tunnels(&format!(
            "{all}{}",
            felix("{ipipEnabled: false, vxlanEnabled: false}")
        )),
        (false, (false, true)),
        "FelixConfiguration overrides IPv4 tunnels; IPv6 VXLAN has no override"
    );
    assert_eq!(
        tunnels(&felix("{ipipEnabled: true, vxlanEnabled: true}")),
        (true, (true, false))
    );
}
