//! The nftables artifacts in the real kernel: every cell of each scenario's matrix,
//! over TCP, UDP and ICMP, through network namespaces loaded with the artifacts,
//! compared with the reference evaluator cell by cell.

mod common;
#[path = "common/netbed.rs"]
mod netbed;

use std::path::Path;

use netbed::{Bed, Families, Probe};
use polc::ir::Protocol;
use polc::semantics::{EndpointRef, Engine, Packet};

/// Build the artifacts of `files` with the CLI, load them into a bed, probe every
/// ordered pair of endpoints, and compare with the evaluator.
fn check(name: &str, files: &[(String, String)], extra_ports: &[u16], generic: bool) {
    check_family(name, files, extra_ports, generic, false);
}

fn check_family(
    name: &str,
    files: &[(String, String)],
    extra_ports: &[u16],
    generic: bool,
    v6: bool,
) {
    let families = Families { v4: !v6, v6 };
    check_families(name, files, extra_ports, generic, families);
}

/// [`check`] over the given families at once: each pair talks over the family the
/// evaluator picks (IPv4 when both have it).
fn check_families(
    name: &str,
    files: &[(String, String)],
    extra_ports: &[u16],
    generic: bool,
    families: Families,
) {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (_dir, out) = common::build_all(&refs);
    let model = common::model_of(&refs);
    let engine = Engine::new(&model);
    let bed = Bed::build(&model, &engine, families, false);
    for node in bed.nodes.keys() {
        bed.load(node, &out.join(node));
    }
    let names: Vec<String> = bed.places.keys().cloned().collect();
    let mut cases = Vec::new();
    let mut port = 20000u16;
    for from in &names {
        for to in &names {
            if from == to {
                continue;
            }
            for p in extra_ports.iter().copied() {
                cases.push((from.clone(), to.clone(), Probe::Tcp(p)));
            }
            if generic {
                port += 1;
                cases.push((from.clone(), to.clone(), Probe::Tcp(port)));
                cases.push((from.clone(), to.clone(), Probe::Udp(port)));
                cases.push((from.clone(), to.clone(), Probe::Ping));
            }
        }
    }
    let expected = |from: &str, to: &str, probe: Probe| {
        let (f, t) = (resolve(&engine, from), resolve(&engine, to));
        let v6 = engine.addresses(f, t).is_some_and(|(_, d)| d.is_ipv6());
        let packet = match probe {
            Probe::Tcp(p) => Packet::to_port(Protocol::TCP, p),
            Probe::Udp(p) => Packet::to_port(Protocol::UDP, p),
            Probe::Ping if v6 => Packet::to_port(Protocol::ICMPV6, 0),
            Probe::Ping => Packet::to_port(Protocol::ICMP, 0),
        };
        engine.evaluate(f, t, &packet).allowed
    };
    // Probes run in parallel batches in which no two share a destination namespace,
    // protocol and port (their servers would collide).
    let mut results = Vec::new();
    let mut pending = cases;
    while !pending.is_empty() {
        let mut batch = Vec::new();
        let mut keys = std::collections::BTreeSet::new();
        let mut rest = Vec::new();
        for c in pending {
            let key = (bed.places[&c.1].ns.clone(), format!("{:?}", c.2));
            if batch.len() < 32 && keys.insert(key) {
                batch.push(c);
            } else {
                rest.push(c);
            }
        }
        pending = rest;
        let wants: Vec<bool> = batch.iter().map(|(f, t, p)| expected(f, t, *p)).collect();
        let got: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .zip(&wants)
                .map(|((f, t, p), want)| {
                    let (a, b) = (&bed.places[f], &bed.places[t]);
                    s.spawn(move || netbed::probe_expecting(a, b, *p, *want))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("probe"))
                .collect()
        });
        results.extend(batch.into_iter().zip(wants).zip(got));
    }
    let mut mismatches = Vec::new();
    for (((from, to, probe), want), got) in &results {
        if want != got {
            mismatches.push(format!(
                "{from} -> {to} {probe:?}: kernel {got}, evaluator {want}"
            ));
        }
    }
    eprintln!(
        "kernel[{name}][{}]: {} cells checked, {} agree",
        netbed::loader_name(),
        results.len(),
        results.len() - mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{name}: {} of {} cells differ:\n{}",
        mismatches.len(),
        results.len(),
        mismatches.join("\n")
    );
}

fn resolve(engine: &Engine<'_>, name: &str) -> EndpointRef {
    engine.universe.resolve(engine.model, name).unwrap()
}

fn lesson() {
    let files = common::example_files("examples/host-firewall", |_, t| t);
    check("lesson", &files, &[22], true);
}

fn lesson_trap() {
    let files = common::example_files("examples/host-firewall", |name, t| {
        if name == "firewall.yaml" {
            t.replace(
                "selector: role == 'node' || has(k8s-app) || tier == 'control-plane'",
                "selector: all()",
            )
        } else {
            t
        }
    });
    check("lesson-trap", &files, &[], true);
}

fn lesson_as_written_and_failsafe() {
    let files = common::example_files("examples/host-firewall", |name, t| {
        if name == "firewall.yaml" {
            t.split("\n---\n").next().unwrap().to_string()
        } else {
            t
        }
    });
    check("lesson-as-written", &files, &[22, 2379], true);
}

fn pass_chain_across_three_tiers_named_ports_and_forwarding() {
    let files = common::example_files("examples/three-tiers", |_, t| t);
    check("pass-chain", &files, &[23, 80, 81, 82, 85, 443, 8080], true);
}

fn ipv6() {
    let inventory = r#"
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app, labels: {role: client}}
spec: {nodeName: n1}
status: {podIPs: [{ip: "fd00:10::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: app, labels: {role: server}}
spec: {nodeName: n2, containers: [{name: s, ports: [{name: web, containerPort: 8080}]}]}
status: {podIPs: [{ip: "fd00:10::2"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: app, labels: {role: other}}
spec: {nodeName: n2}
status: {podIPs: [{ip: "fd00:20::3"}]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: n1-eth0, labels: {role: node}}
spec: {node: n1, interfaceName: eth0, expectedIPs: ["fd00:1::1"]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: n2-eth0, labels: {role: node}}
spec: {node: n2, interfaceName: eth0, expectedIPs: ["fd00:1::2"]}
"#;
    let policies = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: server-in}
spec:
  selector: role == 'server'
  ingress:
    - {action: Allow, protocol: TCP, source: {nets: ["fd00:10::/64"]}, destination: {ports: [web]}}
    - {action: Allow, protocol: ICMPv6, icmp: {type: 128}}
    - {action: Deny, source: {selector: role == 'other'}}
    - {action: Allow, protocol: UDP}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hosts}
spec:
  selector: role == 'node'
  types: [Ingress, Egress]
  ingress:
    # IPv6 host endpoints need neighbour discovery: polc, like Calico, adds no
    # implicit ICMPv6 rule, so the policy allows it.
    - {action: Allow, protocol: ICMPv6}
    - {action: Allow, protocol: TCP, source: {selector: role == 'node'}}
  egress:
    - {action: Allow}
"#;
    let files = vec![
        ("inventory.yaml".to_string(), inventory.to_string()),
        ("policies.yaml".to_string(), policies.to_string()),
    ];
    check_family("ipv6", &files, &[8080, 22], true, true);
}

fn kubernetes_network_policy_truth_tables() {
    let inventory = common::e2e_inventory();
    for s in common::e2e_scenarios() {
        let files = vec![
            ("inventory.yaml".to_string(), inventory.clone()),
            ("policies.yaml".to_string(), s.policies.clone()),
        ];
        check(&format!("k8s-{}", s.name), &files, &[s.port], false);
    }
}

/// The Kubernetes Network Policy API in the kernel, cell by cell against the
/// evaluator: the admin Pass → NetworkPolicy → baseline stack of `tests/policy_api.rs`
/// (priorities, Pass, named ports), and the interop boundary (an admin Deny of
/// everything beside the lesson's host firewall: host cells unchanged, pods shut).
fn network_policy_api_stack_and_interop_boundary() {
    let dir = common::root().join("tests/policy-api");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let files = vec![
        ("pods.yaml".to_string(), read("pods.yaml")),
        ("stack.yaml".to_string(), read("stack-v1alpha1.yaml")),
    ];
    check("api-stack-v1alpha1", &files, &[80, 81, 8080], true);
    let files = vec![
        ("pods.yaml".to_string(), read("pods.yaml")),
        ("stack.yaml".to_string(), read("stack-v1alpha2.yaml")),
    ];
    check("api-stack-v1alpha2", &files, &[80, 81, 8080], true);
    let mut lesson = common::example_files("examples/host-firewall", |_, t| t);
    lesson.push(("deny-everything.yaml".into(), read("deny-everything.yaml")));
    check(
        "api-deny-everything-beside-the-lesson",
        &lesson,
        &[22, 10250],
        true,
    );
}

/// The Network Policy API conformance scenarios (`tests/netpol-api/`, upstream's
/// tests re-expressed; `tests/netpol_api.rs` checks the evaluator against upstream's
/// expectations) in the kernel: every TCP and UDP case of every scenario, the nft
/// artifact against the evaluator (SCTP stays evaluator-only: the kernel has none).
/// One bed serves every scenario: each load replaces polc's table.
fn network_policy_api_conformance() {
    let scenarios = common::api_scenarios();
    let first = common::api_inventory();
    let model = common::model_of(&[("inventory.yaml", &first)]);
    let engine = Engine::new(&model);
    let bed = Bed::build(
        &model,
        &engine,
        Families {
            v4: true,
            v6: false,
        },
        false,
    );
    let (mut cells, mut wrong) = (0, Vec::new());
    for (path, s) in &scenarios {
        let inventory = common::api_inventory_with(&s.namespace_labels);
        let files = [
            ("inventory.yaml", inventory.as_str()),
            ("policies.yaml", s.policies.as_str()),
        ];
        let (_dir, out) = common::build_all(&files);
        let model = common::model_of(&files);
        let engine = Engine::new(&model);
        for node in bed.nodes.keys() {
            bed.load(node, &out.join(node));
        }
        let probes: Vec<(&str, &str, Probe, bool)> = s
            .cases
            .iter()
            .filter_map(|c| {
                let (probe, protocol) = match c.protocol.as_str() {
                    "TCP" => (Probe::Tcp(c.port), Protocol::TCP),
                    "UDP" => (Probe::Udp(c.port), Protocol::UDP),
                    _ => return None,
                };
                let packet = Packet::to_port(protocol, c.port);
                let (f, t) = (resolve(&engine, &c.from), resolve(&engine, &c.to));
                let want = engine.evaluate(f, t, &packet).allowed;
                Some((c.from.as_str(), c.to.as_str(), probe, want))
            })
            .collect();
        // One scenario's cases share few servers: probe them one by one.
        for (from, to, probe, want) in probes {
            cells += 1;
            let got = netbed::probe_expecting(&bed.places[from], &bed.places[to], probe, want);
            if got != want {
                wrong.push(format!(
                    "{path}: {from} -> {to} {probe:?}: kernel {got}, evaluator {want}"
                ));
            }
        }
    }
    eprintln!(
        "kernel[api-conformance]: {} scenarios, {cells} TCP/UDP cells checked, {} agree",
        scenarios.len(),
        cells - wrong.len()
    );
    assert!(
        scenarios.len() >= 178 && cells >= 400,
        "{} scenarios, {cells} cells",
        scenarios.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {cells} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn artifacts_pass_their_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Every example in one build: rules of one shadow rules of another, which is
    // not what this test is about.
    let status = common::polc()
        .args([
            "build",
            "--allow",
            "shadowed-rule",
            "--allow",
            "unreachable-rule",
        ])
        .args(["--target", "all", "--out"])
        .arg(&out)
        .args(
            common::policy_examples()
                .iter()
                .map(|e| format!("examples/{e}")),
        )
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let scratch = netbed::Scratch::new();
    let (mut checked, mut nodes) = (0, 0);
    for entry in std::fs::read_dir(&out).unwrap() {
        let node = entry.unwrap().path();
        nodes += usize::from(node.is_dir());
        if node.join("polc-iptables-load").exists() {
            // iptables-restore --test needs the sets: the loader fills them under
            // temporary names, checks both rule files and removes them again.
            for variant in ["-nft", "-legacy"] {
                netbed::iptables_load(&scratch.ns, variant, &node, true)
                    .unwrap_or_else(|e| panic!("{e}"));
                checked += 1;
            }
        }
        let p = node.join("polc.nft");
        if Path::new(&p).exists() {
            let c = std::process::Command::new("nft")
                .args(["-c", "-f"])
                .arg(&p)
                .output()
                .unwrap();
            assert!(
                c.status.success(),
                "{}: {}",
                p.display(),
                String::from_utf8_lossy(&c.stderr)
            );
            checked += 1;
        }
    }
    eprintln!(
        "artifacts of every example: {checked} checks (nft -c; iptables-nft and iptables-legacy --test)"
    );
    // Each node: nft -c, and the iptables files with both tool variants.
    assert!(nodes >= 5 && checked == 3 * nodes, "{checked} checks for {nodes} nodes");
}

/// What outside testers broke (issue: artifact integrity), in one scenario whose every
/// cell must agree with the evaluator in the kernel:
/// - names that sanitise alike (`allow.all` / `allow-all` policies with opposite
///   actions, namespaced `x.y` / `x-y`, Kubernetes `k.1` / `k-1`, pods `web.1` /
///   `web-1` on one node): before, one chain served both and the locked pod was open;
/// - overlapping intervals in one set (nets inside nets, `0.0.0.0/0` with others,
///   `ipBlock.except`, port lists `[80, 70:90, 85:100]`, notPorts): before, `nft -f`
///   refused the artifact;
/// - a host endpoint with only `expectedIPs`: before, a rule mixed `ip` and `ip6`;
/// - `notICMP` with a code: before, a singleton concatenation nft refuses.
const INTEGRITY_INVENTORY: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app, labels: {role: client}}
spec: {nodeName: n1}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: open, namespace: app, labels: {app: open}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: locked, namespace: app, labels: {app: locked}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: web.1, namespace: app, labels: {app: w1}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.4}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: app, labels: {app: w2}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: k1, namespace: app, labels: {app: k}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.6}
---
apiVersion: v1
kind: Pod
metadata: {name: k2, namespace: app, labels: {app: k2}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.7}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h.1, labels: {role: node, which: a}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.0.1]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h-1, labels: {role: node, which: b}}
spec: {node: n2, expectedIPs: [192.168.0.2]}
"#;

fn integrity_regressions() {
    let policies = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow.all}
spec:
  selector: app == 'open'
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-all}
spec:
  selector: app == 'locked'
  ingress: [{action: Deny}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: x.y, namespace: app}
spec:
  selector: app == 'w1'
  ingress:
    - action: Deny
      protocol: TCP
      source: {nets: [10.0.0.0/16, 10.0.0.0/24, 10.0.0.1/32]}
      destination: {ports: [80, "70:90", "85:100"]}
    - {action: Allow, protocol: UDP, source: {notNets: [10.0.0.0/24, 10.0.0.0/8]}}
    - {action: Allow, protocol: TCP, destination: {notPorts: [22, "20:25", 8080]}}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: x-y, namespace: app}
spec:
  selector: app == 'w2'
  ingress:
    - {action: Allow, protocol: TCP, source: {nets: [0.0.0.0/0, 10.0.0.0/8]}, destination: {ports: [80]}}
    - {action: Deny}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hosts}
spec:
  selector: role == 'node'
  types: [Ingress, Egress]
  ingress:
    - {action: Deny, protocol: ICMP, notICMP: {type: 8, code: 0}}
    - {action: Deny, protocol: TCP, source: {notNets: [10.0.0.0/24, 10.0.0.0/8, 192.168.0.0/24]}}
    - {action: Allow, protocol: TCP, destination: {ports: [22, 80, "20:30"]}}
    - {action: Allow, protocol: ICMP}
  egress: [{action: Allow}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k.1, namespace: app}
spec:
  podSelector: {matchLabels: {app: k}}
  ingress:
    - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.4/30, 10.0.0.4/31, 10.0.0.5/32]}}]
      ports: [{port: 80}, {port: 70, endPort: 90}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k-1, namespace: app}
spec:
  podSelector: {matchLabels: {app: k2}}
  policyTypes: [Ingress]
"#;
    let files = vec![
        (
            "inventory.yaml".to_string(),
            INTEGRITY_INVENTORY.to_string(),
        ),
        ("policies.yaml".to_string(), policies.to_string()),
    ];
    check("integrity", &files, &[22, 80, 95, 8080], true);
}

/// Names that sanitise alike and nothing else nft could refuse: before, `allow.all`
/// and `allow-all` shared one chain and the kernel let into the locked pod what the
/// evaluator denied; pods `web.1` and `web-1` shared one endpoint chain.
fn name_collisions_fail_closed() {
    let policies = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow.all}
spec:
  selector: app == 'open'
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-all}
spec:
  selector: app == 'locked' || app == 'w1'
  ingress: [{action: Deny}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: x.y, namespace: app}
spec:
  selector: app == 'w2'
  ingress: [{action: Deny, protocol: TCP}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: x-y, namespace: app}
spec:
  selector: app == 'k'
  ingress: [{action: Allow, protocol: TCP}]
"#;
    // Only the collisions: the expectedIPs-only host endpoint gets an interface.
    let inventory = INTEGRITY_INVENTORY.replace(
        "{node: n2, expectedIPs",
        "{node: n2, interfaceName: eth0, expectedIPs",
    );
    let files = vec![
        ("inventory.yaml".to_string(), inventory),
        ("policies.yaml".to_string(), policies.to_string()),
    ];
    check("collisions", &files, &[80], false);
}

/// The files of a scenario of `tests/regressions/` (found by `kernel_fuzz`).
fn regression(name: &str) -> Vec<(String, String)> {
    let path = common::root()
        .join("tests/regressions")
        .join(format!("{name}.yaml"));
    vec![(
        format!("{name}.yaml"),
        std::fs::read_to_string(path).unwrap(),
    )]
}

fn named_port_through_a_network_set() {
    let files = regression("named-port-through-network-set");
    check("named-port-through-network-set", &files, &[80, 443], true);
}

fn rule_of_one_family_matches_only_that_family() {
    let files = regression("rule-of-one-family-matches-both");
    let both = Families { v4: true, v6: true };
    check_families("rule-of-one-family", &files, &[8080], true, both);
}

fn host_endpoint_without_expected_ips_has_no_named_ports() {
    let files = regression("host-endpoint-named-port-without-expected-ips");
    check("hep-named-port", &files, &[8080], false);
}

/// The tests, run by the kernel harness: `ignored` (saying what is missing) where root
/// or a tool is missing, failing there under `POLC_KERNEL_TESTS=1`.
fn main() {
    netbed::run_kernel_tests(
        "kernel_nft",
        &[
            ("lesson", lesson, true),
            ("lesson_trap", lesson_trap, true),
            (
                "lesson_as_written_and_failsafe",
                lesson_as_written_and_failsafe,
                true,
            ),
            (
                "pass_chain_across_three_tiers_named_ports_and_forwarding",
                pass_chain_across_three_tiers_named_ports_and_forwarding,
                true,
            ),
            ("ipv6", ipv6, true),
            (
                "kubernetes_network_policy_truth_tables",
                kubernetes_network_policy_truth_tables,
                true,
            ),
            (
                "network_policy_api_stack_and_interop_boundary",
                network_policy_api_stack_and_interop_boundary,
                true,
            ),
            (
                "network_policy_api_conformance",
                network_policy_api_conformance,
                true,
            ),
            (
                "artifacts_pass_their_checks",
                artifacts_pass_their_checks,
                false,
            ),
            ("integrity_regressions", integrity_regressions, true),
            (
                "name_collisions_fail_closed",
                name_collisions_fail_closed,
                true,
            ),
            (
                "named_port_through_a_network_set",
                named_port_through_a_network_set,
                true,
            ),
            (
                "rule_of_one_family_matches_only_that_family",
                rule_of_one_family_matches_only_that_family,
                true,
            ),
            (
                "host_endpoint_without_expected_ips_has_no_named_ports",
                host_endpoint_without_expected_ips_has_no_named_ports,
                true,
            ),
        ],
    );
}
