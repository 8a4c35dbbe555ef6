//! The reference evaluator against Calico's documented semantics: the host-firewall
//! lesson cell by cell, tiers and Pass, default actions, host-endpoint stages,
//! failsafe ports, rule criteria, and the Kubernetes network-policy e2e truth tables.

mod common;

use polc::ir::{Model, Protocol};
use polc::semantics::{Decider, Engine, Packet};

use common::{allowed, ep, model_of};

fn example(dir: &str, edit: impl Fn(&str, String) -> String) -> Model {
    let files = common::example_files(dir, edit);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    model_of(&refs)
}

const KUBELET: u16 = 10250;

#[test]
fn lesson_cells_on_a_port_outside_the_failsafe_lists() {
    let m = example("examples/host-firewall", |_, t| t);
    let e = Engine::new(&m);
    let cell = |from: &str, to: &str| allowed(&e, from, to, Protocol::TCP, KUBELET);
    assert!(
        cell("calico-system/calico-node", "host/node-worker"),
        "infrastructure reaches the hosts"
    );
    assert!(
        cell("kube-system/kube-apiserver", "host/node-control-plane"),
        "the control plane reaches its host"
    );
    assert!(
        !cell("prod/backend", "host/node-worker"),
        "an app pod has no business on the host"
    );
    assert!(
        !cell("dev/frontend", "host/node-control-plane"),
        "same, on the other node"
    );
    assert!(
        cell("host/node-control-plane", "host/node-worker"),
        "node to node, with the egress policy"
    );
    assert!(cell("host/node-worker", "host/node-control-plane"));
    // App pods still reach each other: the firewall selects host endpoints only.
    assert!(cell("prod/backend", "dev/frontend"));
    // The denial is the host-firewall tier's default action.
    let v = e.evaluate(
        ep(&e, "prod/backend"),
        ep(&e, "host/node-worker"),
        &Packet::to_port(Protocol::TCP, KUBELET),
    );
    let tier = m
        .tiers
        .iter()
        .position(|t| t.name == "host-firewall")
        .unwrap();
    assert_eq!(v.decider, Decider::TierDefault { tier });
}

#[test]
fn lesson_trap_lets_app_pods_reach_the_hosts() {
    let m = example("examples/host-firewall", |name, t| {
        if name == "firewall.yaml" {
            t.replace(
                "selector: role == 'node' || has(k8s-app) || tier == 'control-plane'",
                "selector: all()",
            )
        } else {
            t
        }
    });
    let e = Engine::new(&m);
    assert!(allowed(
        &e,
        "prod/backend",
        "host/node-worker",
        Protocol::TCP,
        KUBELET
    ));
    assert!(allowed(
        &e,
        "dev/frontend",
        "host/node-control-plane",
        Protocol::TCP,
        KUBELET
    ));
}

#[test]
fn lesson_as_written_drops_what_the_hosts_send_except_failsafe() {
    // The lesson's own policy is ingress-only: with no egress policy, a host endpoint
    // with no profiles drops what its host sends.
    let m = example("examples/host-firewall", |name, t| {
        if name == "firewall.yaml" {
            t.split("\n---\n").next().unwrap().to_string()
        } else {
            t
        }
    });
    assert_eq!(m.policies.len(), 1);
    let e = Engine::new(&m);
    assert!(!allowed(
        &e,
        "host/node-control-plane",
        "host/node-worker",
        Protocol::TCP,
        KUBELET
    ));
    let v = e.evaluate(
        ep(&e, "host/node-control-plane"),
        ep(&e, "host/node-worker"),
        &Packet::to_port(Protocol::TCP, KUBELET),
    );
    assert_eq!(v.decider, Decider::NoProfileAllowed);
    // Failsafe ports still work both ways: SSH in (inbound list), etcd out and in.
    assert!(allowed(
        &e,
        "host/node-control-plane",
        "host/node-worker",
        Protocol::TCP,
        2379
    ));
    // SSH is only an inbound failsafe port: the sending host drops it.
    assert!(!allowed(
        &e,
        "host/node-control-plane",
        "host/node-worker",
        Protocol::TCP,
        22
    ));
    // Pods still reach the hosts' failsafe ports.
    assert!(allowed(
        &e,
        "prod/backend",
        "host/node-worker",
        Protocol::TCP,
        22
    ));
}

const TWO_PODS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {team: blue}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app, labels: {role: client}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: app, labels: {role: server}}
spec: {nodeName: n2, containers: [{name: s, ports: [{name: web, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
"#;

fn with_pods(policies: &str) -> Model {
    model_of(&[("inventory.yaml", TWO_PODS), ("policies.yaml", policies)])
}

#[test]
fn pass_chains_across_three_tiers() {
    let m = with_pods(
        r#"
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 10, defaultAction: Deny}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 20, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: apps}
spec: {order: 30, defaultAction: Deny}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security-gate}
spec:
  tier: security
  selector: role == 'server'
  ingress:
    - {action: Deny, protocol: TCP, destination: {ports: [23]}}
    - {action: Pass, protocol: TCP, destination: {ports: ["80:90"]}}
    - {action: Allow, protocol: TCP, destination: {ports: [443]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform-observe}
spec:
  tier: platform
  selector: role == 'server'
  ingress:
    - {action: Log, protocol: TCP}
    - {action: Deny, protocol: TCP, destination: {ports: [81]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: apps-web}
spec:
  tier: apps
  selector: role == 'server'
  ingress:
    - {action: Allow, protocol: TCP, destination: {ports: [80, 82]}}
"#,
    );
    let e = Engine::new(&m);
    let tcp = |port| allowed(&e, "app/client", "app/server", Protocol::TCP, port);
    assert!(!tcp(23), "denied in the first tier");
    assert!(tcp(443), "allowed in the first tier: final for all tiers");
    assert!(
        tcp(80),
        "passed by security, through platform's default Pass, allowed by apps"
    );
    assert!(!tcp(81), "passed by security, denied by platform");
    assert!(!tcp(85), "passed twice, then apps' default Deny");
    assert!(
        !tcp(8080),
        "no rule in security: its default Deny, later tiers never run"
    );
    let v = e.evaluate(
        ep(&e, "app/client"),
        ep(&e, "app/server"),
        &Packet::to_port(Protocol::TCP, 80),
    );
    let ingress = v.stages.last().unwrap();
    let names: Vec<&str> = ingress
        .tiers
        .iter()
        .map(|t| m.tiers[t.tier].name.as_str())
        .collect();
    assert_eq!(names, ["security", "platform", "apps"]);
    assert!(ingress.tiers[0].passed_by.is_some());
    assert!(ingress.tiers[1].default_reached && !ingress.tiers[1].logged.is_empty());
}

#[test]
fn tiers_without_a_selecting_policy_are_skipped() {
    let m = with_pods(
        r#"
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: strict}
spec: {order: 10, defaultAction: Deny}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: only-clients}
spec: {tier: strict, selector: role == 'client', ingress: [{action: Allow}]}
"#,
    );
    let e = Engine::new(&m);
    // The strict tier selects only the client: the server's ingress skips it.
    assert!(allowed(&e, "app/client", "app/server", Protocol::TCP, 9999));
    // The client's policy is ingress-only: no egress default-deny for it either.
    assert!(allowed(&e, "app/client", "app/server", Protocol::UDP, 53));
    // Ingress to the client is allowed by its rule.
    assert!(allowed(&e, "app/server", "app/client", Protocol::TCP, 1));
}

#[test]
fn default_tier_default_deny_applies_once_a_policy_selects() {
    let m = with_pods(
        r#"
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: server-web, namespace: app}
spec:
  selector: role == 'server'
  ingress:
    - {action: Allow, protocol: TCP, destination: {ports: [web]}}
    - {action: Allow, protocol: UDP, destination: {ports: [dns]}}
"#,
    );
    let e = Engine::new(&m);
    assert!(
        allowed(&e, "app/client", "app/server", Protocol::TCP, 8080),
        "named port web"
    );
    assert!(
        !allowed(&e, "app/client", "app/server", Protocol::TCP, 53),
        "dns is a UDP port"
    );
    assert!(allowed(&e, "app/client", "app/server", Protocol::UDP, 53));
    assert!(!allowed(&e, "app/client", "app/server", Protocol::TCP, 80));
    let cell = e.cell_set(ep(&e, "app/client"), ep(&e, "app/server"));
    assert_eq!(cell.to_string(), "TCP 8080; UDP 53");
}

#[test]
fn not_nets_and_not_selector() {
    let m = with_pods(
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: guard}
spec:
  selector: role == 'server'
  ingress:
    - {action: Deny, source: {notNets: [10.0.0.0/30]}}
    - {action: Deny, source: {notSelector: role == 'client'}}
    - {action: Allow}
"#,
    );
    let e = Engine::new(&m);
    assert!(
        allowed(&e, "app/client", "app/server", Protocol::TCP, 1),
        "in 10.0.0.0/30 and a client"
    );
    assert!(
        !allowed(&e, "10.0.0.3", "app/server", Protocol::TCP, 1),
        "inside the net but not a client"
    );
    assert!(
        !allowed(&e, "10.9.9.9", "app/server", Protocol::TCP, 1),
        "outside the net"
    );
}

#[test]
fn icmp_types_and_codes() {
    let m = with_pods(
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: ping}
spec:
  selector: role == 'server'
  ingress:
    - {action: Allow, protocol: ICMP, icmp: {type: 8}}
    - {action: Allow, protocol: ICMP, icmp: {type: 3, code: 4}}
"#,
    );
    let e = Engine::new(&m);
    let (c, s) = (ep(&e, "app/client"), ep(&e, "app/server"));
    let icmp = |t, code| {
        e.evaluate(
            c,
            s,
            &Packet {
                protocol: Protocol::ICMP,
                sport: 0,
                dport: 0,
                icmp: Some((t, code)),
            },
        )
        .allowed
    };
    assert!(icmp(8, 0));
    assert!(!icmp(0, 0));
    assert!(icmp(3, 4));
    assert!(!icmp(3, 3));
    assert_eq!(e.cell_set(c, s).to_string(), "ICMP 8,3/4");
}

#[test]
fn ipv6_endpoints_and_family_scoped_rules() {
    let inventory = r#"
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: v6, labels: {app: a}}
spec: {nodeName: n1}
status: {podIPs: [{ip: "fd00::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: v6, labels: {app: b}}
spec: {nodeName: n1}
status: {podIPs: [{ip: "fd00::2"}]}
"#;
    let policies = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: v6-only}
spec:
  selector: app == 'b'
  ingress:
    - {action: Allow, protocol: TCP, source: {nets: ["10.0.0.0/8"]}}
    - {action: Allow, protocol: TCP, destination: {ports: [443]}, source: {nets: ["fd00::/64"]}}
    - {action: Allow, protocol: ICMPv6, icmp: {type: 128}}
"#;
    let m = model_of(&[("inv.yaml", inventory), ("pol.yaml", policies)]);
    let e = Engine::new(&m);
    assert!(allowed(&e, "v6/a", "v6/b", Protocol::TCP, 443));
    assert!(
        !allowed(&e, "v6/a", "v6/b", Protocol::TCP, 80),
        "the IPv4 rule cannot match IPv6"
    );
    assert_eq!(
        e.cell_set(ep(&e, "v6/a"), ep(&e, "v6/b")).to_string(),
        "TCP 443; ICMPv6 128"
    );
}

const HOSTS: &str = r#"
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: n1-eth0, labels: {role: node}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.0.1]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: n2-eth0, labels: {role: node}}
spec: {node: n2, interfaceName: eth0, expectedIPs: [192.168.0.2]}
"#;

fn with_hosts(policies: &str) -> Model {
    model_of(&[
        ("inventory.yaml", TWO_PODS),
        ("hosts.yaml", HOSTS),
        ("policies.yaml", policies),
    ])
}

#[test]
fn failsafe_ports_come_before_policy_and_felix_can_change_them() {
    let deny_all = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: lockdown}
spec: {selector: role == 'node', types: [Ingress, Egress], ingress: [{action: Deny}], egress: [{action: Deny}]}
"#;
    let m = with_hosts(deny_all);
    let e = Engine::new(&m);
    assert!(
        allowed(&e, "app/client", "host/n2-eth0", Protocol::TCP, 22),
        "inbound failsafe SSH"
    );
    assert!(
        allowed(&e, "app/client", "host/n2-eth0", Protocol::UDP, 68),
        "inbound failsafe DHCP"
    );
    assert!(!allowed(
        &e,
        "app/client",
        "host/n2-eth0",
        Protocol::TCP,
        23
    ));
    assert!(
        allowed(&e, "host/n1-eth0", "10.9.9.9", Protocol::UDP, 53),
        "outbound failsafe DNS"
    );
    assert!(!allowed(&e, "host/n1-eth0", "10.9.9.9", Protocol::TCP, 80));
    let felix = r#"
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec:
  failsafeInboundHostPorts: [{protocol: TCP, port: 2222, net: 10.0.0.0/24}]
"#;
    let m = model_of(&[
        ("inventory.yaml", TWO_PODS),
        ("hosts.yaml", HOSTS),
        ("p.yaml", deny_all),
        ("felix.yaml", felix),
    ]);
    let e = Engine::new(&m);
    assert!(
        !allowed(&e, "app/client", "host/n2-eth0", Protocol::TCP, 22),
        "22 is no longer failsafe"
    );
    assert!(allowed(
        &e,
        "app/client",
        "host/n2-eth0",
        Protocol::TCP,
        2222
    ));
    assert!(
        !allowed(&e, "10.9.9.9", "host/n2-eth0", Protocol::TCP, 2222),
        "failsafe net restricts the source"
    );
}

#[test]
fn pod_to_own_host_uses_endpoint_to_host_action_not_host_policy() {
    let deny_ingress = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hosts-closed}
spec: {selector: role == 'node', ingress: [{action: Deny}]}
"#;
    let m = with_hosts(deny_ingress);
    let e = Engine::new(&m);
    assert!(
        allowed(&e, "app/client", "host/n1-eth0", Protocol::TCP, 10250),
        "own host: Accept by default"
    );
    assert!(
        !allowed(&e, "app/client", "host/n2-eth0", Protocol::TCP, 10250),
        "other host: its ingress policy"
    );
    let felix = r#"
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: node.n1}
spec: {defaultEndpointToHostAction: Drop}
"#;
    let m = model_of(&[
        ("inventory.yaml", TWO_PODS),
        ("hosts.yaml", HOSTS),
        ("p.yaml", deny_ingress),
        ("felix.yaml", felix),
    ]);
    let e = Engine::new(&m);
    let v = e.evaluate(
        ep(&e, "app/client"),
        ep(&e, "host/n1-eth0"),
        &Packet::to_port(Protocol::TCP, 10250),
    );
    assert!(!v.allowed);
    assert_eq!(
        v.decider,
        Decider::EndpointToHost {
            action: "Drop".into()
        }
    );
}

#[test]
fn host_to_own_pods_is_never_policed() {
    let m = with_hosts(
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: server-closed}
spec: {selector: role == 'server', ingress: [{action: Deny}]}
"#,
    );
    let e = Engine::new(&m);
    let v = e.evaluate(
        ep(&e, "host/n2-eth0"),
        ep(&e, "app/server"),
        &Packet::to_port(Protocol::TCP, 8080),
    );
    assert!(v.allowed);
    assert_eq!(v.decider, Decider::HostToLocalWorkload);
    assert!(
        !allowed(&e, "host/n1-eth0", "app/server", Protocol::TCP, 8080),
        "another host is policed"
    );
}

#[test]
fn forwarded_traffic_meets_only_apply_on_forward_policy() {
    let base = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: no-forward}
spec: {selector: role == 'node', applyOnForward: APPLY, types: [Ingress, Egress], ingress: [{action: Deny, protocol: TCP, destination: {ports: [8080]}}], egress: [{action: Allow}]}
"#;
    let m = with_hosts(&base.replace("APPLY", "false"));
    let e = Engine::new(&m);
    assert!(
        allowed(&e, "app/client", "app/server", Protocol::TCP, 8080),
        "not applyOnForward: forwarded traffic passes"
    );
    let m = with_hosts(&base.replace("APPLY", "true"));
    let e = Engine::new(&m);
    assert!(
        !allowed(&e, "app/client", "app/server", Protocol::TCP, 8080),
        "applyOnForward: n2 drops it on the way in"
    );
    assert!(
        !allowed(&e, "app/client", "app/server", Protocol::TCP, 8081),
        "other ports: the default tier's end-of-tier deny"
    );
    assert!(
        allowed(&e, "app/client", "10.9.9.9", Protocol::TCP, 8081),
        "egress forwarding out of n1 is allowed by its rule"
    );
}

#[test]
fn pre_dnat_policy_runs_before_normal_policy() {
    let m = with_hosts(
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: edge}
spec:
  selector: role == 'node'
  preDNAT: true
  applyOnForward: true
  ingress:
    - {action: Deny, protocol: TCP, destination: {ports: [6000]}}
    - {action: Allow, protocol: TCP, destination: {ports: [7000]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hosts-closed}
spec: {selector: role == 'node', ingress: [{action: Deny}]}
"#,
    );
    let e = Engine::new(&m);
    assert!(!allowed(
        &e,
        "10.9.9.9",
        "host/n2-eth0",
        Protocol::TCP,
        6000
    ));
    assert!(
        allowed(&e, "10.9.9.9", "host/n2-eth0", Protocol::TCP, 7000),
        "pre-DNAT Allow skips normal policy"
    );
    assert!(
        !allowed(&e, "10.9.9.9", "host/n2-eth0", Protocol::TCP, 8000),
        "no pre-DNAT verdict: normal policy denies"
    );
    assert!(
        !allowed(&e, "10.9.9.9", "app/server", Protocol::TCP, 6000),
        "pre-DNAT applies to forwarded traffic too"
    );
}

#[test]
fn staged_policies_are_not_enforced_and_log_continues() {
    let m = with_pods(
        r#"
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: would-deny}
spec: {selector: role == 'server', ingress: [{action: Deny}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: log-then-allow}
spec: {selector: role == 'server', ingress: [{action: Log}, {action: Allow, protocol: TCP}]}
"#,
    );
    let e = Engine::new(&m);
    assert!(allowed(&e, "app/client", "app/server", Protocol::TCP, 1));
    assert!(
        !allowed(&e, "app/client", "app/server", Protocol::UDP, 1),
        "Log fell through to the default deny"
    );
}

#[test]
fn host_endpoint_profiles_decide_after_the_tiers() {
    let hosts = HOSTS.replace(
        "expectedIPs: [192.168.0.2]}",
        "expectedIPs: [192.168.0.2], profiles: [projectcalico-default-allow]}",
    );
    let m = model_of(&[("inventory.yaml", TWO_PODS), ("hosts.yaml", &hosts)]);
    let e = Engine::new(&m);
    assert!(
        allowed(&e, "app/client", "host/n2-eth0", Protocol::TCP, 10250),
        "default-allow profile"
    );
    assert!(
        !allowed(&e, "10.9.9.9", "host/n1-eth0", Protocol::TCP, 10250),
        "no profile: drop"
    );
}

#[test]
fn kubernetes_network_policy_e2e_truth_tables() {
    let dir = common::root().join("tests/netpol-e2e");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 12, "{} scenarios", files.len());
    let pods = [
        "x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c",
    ];
    let inventory = common::e2e_inventory();
    let mut failures = Vec::new();
    let mut cells = 0;
    for f in &files {
        let s: common::Scenario =
            serde_saphyr::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let m = model_of(&[
            ("inventory.yaml", &inventory),
            ("policies.yaml", &s.policies),
        ]);
        let e = Engine::new(&m);
        for from in pods {
            let want = &s.expect[from];
            for (j, to) in pods.iter().enumerate() {
                cells += 1;
                let got = allowed(&e, from, to, Protocol::TCP, s.port);
                if got != (want[j] == 1) {
                    failures.push(format!(
                        "{}: {from} -> {to} port {}: got {got}, upstream expects {}",
                        s.name, s.port, want[j]
                    ));
                }
            }
        }
    }
    assert_eq!(cells, files.len() * 81);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cell_sets_are_exact_against_brute_force() {
    let m = with_pods(
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: mixed}
spec:
  selector: role == 'server'
  ingress:
    - {action: Deny, protocol: TCP, destination: {ports: ["100:200"]}}
    - {action: Allow, protocol: TCP, destination: {notPorts: [150, "1000:2000"]}}
    - {action: Allow, protocol: UDP, destination: {ports: [53, web]}}
    - {action: Allow, protocol: 47}
"#,
    );
    let e = Engine::new(&m);
    let (c, s) = (ep(&e, "app/client"), ep(&e, "app/server"));
    let cell = e.cell_set(c, s);
    assert_eq!(
        cell.to_string(),
        "TCP 1-99,201-999,2001-65535; UDP 53; proto 47"
    );
    let path = e.path(c, s);
    for protocol in [Protocol::TCP, Protocol::UDP] {
        let set = &cell.ports[&protocol];
        for port in 1..=u16::MAX {
            let packet = Packet::to_port(protocol, port);
            let truth = e.evaluate(c, s, &packet).allowed;
            assert_eq!(set.contains(port), truth, "{protocol} {port}");
            assert_eq!(
                path.allows(&packet),
                truth,
                "the trace-free path agrees: {protocol} {port}"
            );
        }
    }
}

#[test]
fn rule_selectors_see_network_sets_host_endpoints_and_namespaces() {
    let m = with_hosts(
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: office, labels: {zone: office}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: server-in}
spec:
  selector: role == 'server'
  ingress:
    - {action: Allow, protocol: TCP, destination: {ports: [1]}, source: {selector: zone == 'office'}}
    - {action: Allow, protocol: TCP, destination: {ports: [2]}, source: {namespaceSelector: global(), selector: role == 'node'}}
    - {action: Allow, protocol: TCP, destination: {ports: [3]}, source: {namespaceSelector: team == 'blue'}}
    - {action: Allow, protocol: TCP, destination: {ports: [4]}, source: {serviceAccounts: {names: [default]}}}
    - {action: Allow, protocol: TCP, destination: {ports: [5]}, source: {selector: all()}}
---
# Host endpoints drop what their host sends unless something allows it.
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hosts-out}
spec: {selector: role == 'node', egress: [{action: Allow}]}
"#,
    );
    let e = Engine::new(&m);
    let a = |from: &str, port| allowed(&e, from, "app/server", Protocol::TCP, port);
    assert!(
        a("203.0.113.7", 1),
        "a network set's nets hold outside addresses"
    );
    assert!(!a("198.51.100.7", 1));
    assert!(
        a("host/n1-eth0", 2),
        "global() matches non-namespaced holders: host endpoints' expected IPs"
    );
    assert!(!a("app/client", 2));
    assert!(a("app/client", 3), "namespace labels via pcns.*");
    assert!(!a("host/n1-eth0", 3));
    assert!(a("app/client", 4), "service account label");
    assert!(a("app/client", 5), "all() matches known endpoints");
    assert!(
        !a("198.51.100.7", 5),
        "all() does not match unknown addresses"
    );
}

#[test]
fn untracked_policy_runs_first_on_named_interfaces() {
    let m = with_hosts(
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: raw}
spec:
  selector: role == 'node'
  doNotTrack: true
  applyOnForward: true
  ingress:
    - {action: Deny, protocol: UDP, destination: {ports: [9999]}}
    - {action: Allow, protocol: UDP, destination: {ports: [4789]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hosts-closed}
spec: {selector: role == 'node', ingress: [{action: Deny}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hosts-out}
spec: {selector: role == 'node', egress: [{action: Allow}]}
"#,
    );
    let e = Engine::new(&m);
    assert!(!allowed(
        &e,
        "10.9.9.9",
        "host/n2-eth0",
        Protocol::UDP,
        9999
    ));
    assert!(
        allowed(&e, "10.9.9.9", "host/n2-eth0", Protocol::UDP, 4789),
        "untracked Allow skips later host stages"
    );
    // The connection stays untracked on n2, so its replies are new there and meet
    // n2-eth0's egress policy (Calico's doNotTrack: allow both directions).
    let no_out = model_of(&[
        ("inventory.yaml", TWO_PODS),
        ("hosts.yaml", HOSTS),
        (
            "p.yaml",
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: raw}\nspec: {selector: role == 'node', doNotTrack: true, applyOnForward: true, ingress: [{action: Allow, protocol: UDP}]}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: closed}\nspec: {selector: role == 'node', ingress: [{action: Deny}]}\n",
        ),
    ]);
    let e2 = Engine::new(&no_out);
    let v = e2.evaluate(
        ep(&e2, "10.9.9.9"),
        ep(&e2, "host/n2-eth0"),
        &Packet::to_port(Protocol::UDP, 4789),
    );
    assert!(
        !v.allowed,
        "the reply of an untracked flow meets egress policy"
    );
    assert!(
        v.stages.iter().any(|s| s.reply),
        "the trace shows the reply"
    );
    assert!(
        !allowed(&e, "10.9.9.9", "host/n2-eth0", Protocol::UDP, 5000),
        "normal policy still denies the rest"
    );
    // Felix ignores doNotTrack on `interfaceName: "*"` host endpoints.
    let star = HOSTS.replace(
        "interfaceName: eth0, expectedIPs: [192.168.0.2]",
        "interfaceName: '*', expectedIPs: [192.168.0.2]",
    );
    let m = model_of(&[
        ("inventory.yaml", TWO_PODS),
        ("hosts.yaml", &star),
        (
            "p.yaml",
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: raw}\nspec: {selector: role == 'node', doNotTrack: true, applyOnForward: true, ingress: [{action: Allow, protocol: UDP}]}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: closed}\nspec: {selector: role == 'node', ingress: [{action: Deny}]}\n",
        ),
    ]);
    let e = Engine::new(&m);
    assert!(
        !allowed(&e, "10.9.9.9", "host/n2-eth0", Protocol::UDP, 4789),
        "untracked policy ignored on a * endpoint"
    );
}
