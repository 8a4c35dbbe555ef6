//! The Kubernetes Network Policy API (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
//! ClusterNetworkPolicy) in the evaluator, against the API's documented semantics as
//! Calico converts them (`libcalico-go/lib/backend/k8s/conversion/clusternetworkpolicy.go`):
//! full truth tables for admin Pass → NetworkPolicy → baseline, priorities, named
//! ports and networks peers, the interop boundary with host endpoints, and the rules
//! Calico cannot convert. Expected tables are written from the API's semantics, by
//! hand, never computed by polc.

mod common;

use polc::ir::{Model, Protocol};
use polc::semantics::{Decider, EndpointKind, Engine, Packet};

use common::{allowed, ep, model_of};

/// Three namespaces with one pod each (named port `web` = TCP 8080 on every pod) on
/// one node.
const PODS: &str = include_str!("policy-api/pods.yaml");

const ENDPOINTS: [&str; 4] = ["app/p", "friends/p", "guests/p", "10.9.9.9"];

/// The admin → NetworkPolicy → baseline stack, in v1alpha1 form:
/// - priority 10 (subject: namespace app): Pass from friends, Deny from guests;
/// - priority 20 (subject: namespace app): Allow from guests and from friends: never
///   reached, the priority-10 rules decide first (Pass leaves the tier);
/// - NetworkPolicy in app: allow friends on TCP 80 only;
/// - baseline: deny from every namespace to every pod.
const STACK_V1ALPHA1: &str = include_str!("policy-api/stack-v1alpha1.yaml");

/// Rows are sources, columns destinations, in `ENDPOINTS` order (the external
/// address is never a destination here); 1 = allowed.
fn check_table(model: &Model, port: u16, want: &[[u8; 3]; 4]) -> Vec<String> {
    let e = Engine::new(model);
    let mut bad = Vec::new();
    for (i, from) in ENDPOINTS.iter().enumerate() {
        for (j, to) in ENDPOINTS[..3].iter().enumerate() {
            let got = allowed(&e, from, to, Protocol::TCP, port);
            if got != (want[i][j] == 1) {
                bad.push(format!(
                    "{from} -> {to} TCP {port}: got {got}, want {}",
                    want[i][j]
                ));
            }
        }
    }
    bad
}

fn stack_tables(policies: &str) {
    let m = model_of(&[("pods.yaml", PODS), ("policies.yaml", policies)]);
    let mut bad = Vec::new();
    // Port 80: friends pass to the NetworkPolicy, which allows; guests are denied by
    // the admin tier; everything else into friends/guests meets the baseline Deny
    // (a pod to itself never leaves it); the external address matches no
    // namespace peer, so only the NetworkPolicy (which selects app/p) decides.
    bad.extend(check_table(
        &m,
        80,
        &[
            // to: app friends guests
            [1, 0, 0], // from app/p
            [1, 1, 0], // from friends/p
            [0, 0, 1], // from guests/p
            [0, 1, 1], // from 10.9.9.9
        ],
    ));
    // Port 81: friends pass, but the NetworkPolicy allows only 80: the default
    // tier's end-of-tier Deny.
    bad.extend(check_table(
        &m,
        81,
        &[[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1]],
    ));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn admin_pass_network_policy_baseline_truth_table_v1alpha1() {
    stack_tables(STACK_V1ALPHA1);
}

/// The same stack as ClusterNetworkPolicies: the same table.
#[test]
fn admin_pass_network_policy_baseline_truth_table_v1alpha2() {
    stack_tables(include_str!("policy-api/stack-v1alpha2.yaml"));
}

/// v1alpha2 `protocols`: a number, a range, every port of a protocol, a named
/// port (any protocol the pod names it with), SCTP (evaluator only: the kernel test
/// bed has no SCTP).
#[test]
fn cluster_network_policy_protocols() {
    let policies = r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: ports}
spec:
  tier: Admin
  priority: 3
  subject: {namespaces: {matchLabels: {team: app}}}
  ingress:
    - name: open
      action: Accept
      from: [{namespaces: {matchLabels: {team: guests}}}]
      protocols:
        - {tcp: {destinationPort: {number: 80}}}
        - {tcp: {destinationPort: {range: {start: 9000, end: 9010}}}}
        - {udp: {destinationPort: {range: {start: 1, end: 65535}}}}
        - {destinationNamedPort: web}
        - {sctp: {destinationPort: {number: 5000}}}
    - {name: rest, action: Deny, from: [{namespaces: {matchLabels: {team: guests}}}]}
"#;
    let m = model_of(&[("pods.yaml", PODS), ("policies.yaml", policies)]);
    let e = Engine::new(&m);
    for (proto, port, want) in [
        (Protocol::TCP, 80, true),
        (Protocol::TCP, 81, false),
        (Protocol::TCP, 9000, true),
        (Protocol::TCP, 9010, true),
        (Protocol::TCP, 9011, false),
        (Protocol::UDP, 1, true),
        (Protocol::UDP, 65535, true),
        (Protocol::TCP, 8080, true),
        (Protocol::SCTP, 5000, true),
        (Protocol::SCTP, 5001, false),
    ] {
        assert_eq!(
            allowed(&e, "guests/p", "app/p", proto, port),
            want,
            "{proto} {port}"
        );
    }
}

#[test]
fn explain_names_the_api_priority_and_written_rule() {
    let m = model_of(&[("pods.yaml", PODS), ("policies.yaml", STACK_V1ALPHA1)]);
    let e = Engine::new(&m);
    let v = e.evaluate(
        ep(&e, "guests/p"),
        ep(&e, "app/p"),
        &Packet::to_port(Protocol::TCP, 80),
    );
    let Decider::Rule {
        policy,
        direction,
        index,
        ..
    } = v.decider
    else {
        panic!("{:?}", v.decider)
    };
    let p = &m.policies[policy];
    assert_eq!(p.title(), "AdminNetworkPolicy gate priority 10");
    assert_eq!(p.tier, "kube-admin");
    let rule = &p.ingress[index];
    assert_eq!(rule.title(index), "rule 1 `deny-guests`");
    assert_eq!(direction, polc::semantics::Direction::Ingress);
}

/// Two admin policies over the same traffic: the lower priority number decides.
fn priority_pair(deny: u32, allow: u32) -> String {
    format!(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: deny-guests}}
spec:
  priority: {deny}
  subject: {{namespaces: {{matchLabels: {{team: app}}}}}}
  ingress: [{{name: deny, action: Deny, from: [{{namespaces: {{matchLabels: {{team: guests}}}}}}]}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: allow-guests}}
spec:
  priority: {allow}
  subject: {{namespaces: {{matchLabels: {{team: app}}}}}}
  ingress: [{{name: allow, action: Allow, from: [{{namespaces: {{matchLabels: {{team: guests}}}}}}]}}]
"#
    )
}

#[test]
fn priorities_order_admin_policies_and_ties_break_by_name() {
    let cell = |policies: &str| {
        let m = model_of(&[("pods.yaml", PODS), ("policies.yaml", policies)]);
        allowed(&Engine::new(&m), "guests/p", "app/p", Protocol::TCP, 80)
    };
    assert!(
        !cell(&priority_pair(10, 20)),
        "Deny at 10 before Allow at 20"
    );
    assert!(
        cell(&priority_pair(20, 10)),
        "Allow at 10 before Deny at 20"
    );
    // Equal priority: the API leaves the order undefined; Calico sorts equal orders
    // by name (`allow-guests` < `deny-guests`), and polc warns.
    assert!(
        cell(&priority_pair(10, 10)),
        "tie: allow-guests sorts first"
    );
    let out = polc_check(&[("pods.yaml", PODS), ("p.yaml", &priority_pair(10, 10))]);
    assert!(out.contains("ambiguous-priority"), "{out}");
}

/// Named ports resolve on the destination pod; `networks` peers match addresses.
#[test]
fn named_ports_and_networks_peers() {
    let policies = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: web-and-nets}
spec:
  priority: 1
  subject: {pods: {namespaceSelector: {matchLabels: {team: app}}, podSelector: {matchLabels: {app: server}}}}
  ingress:
    - {name: web, action: Allow, from: [{namespaces: {matchLabels: {team: guests}}}], ports: [{namedPort: web}]}
    - {name: rest, action: Deny, from: [{namespaces: {matchLabels: {team: guests}}}]}
  egress:
    - {name: no-range, action: Deny, to: [{networks: [10.9.0.0/16]}], ports: [{portRange: {protocol: UDP, start: 50, end: 60}}]}
    - {name: ssh-out, action: Allow, to: [{networks: [10.9.9.0/24]}], ports: [{portNumber: {protocol: TCP, port: 22}}]}
    - {name: rest-of-net, action: Deny, to: [{networks: [10.9.0.0/16]}]}
"#;
    let m = model_of(&[("pods.yaml", PODS), ("policies.yaml", policies)]);
    let e = Engine::new(&m);
    assert!(allowed(&e, "guests/p", "app/p", Protocol::TCP, 8080), "web");
    assert!(
        !allowed(&e, "guests/p", "app/p", Protocol::TCP, 80),
        "not web"
    );
    assert!(
        !allowed(&e, "guests/p", "app/p", Protocol::UDP, 8080),
        "web is a TCP port on the pod"
    );
    assert!(
        allowed(&e, "friends/p", "app/p", Protocol::TCP, 80),
        "no rule"
    );
    for (port, proto, want) in [
        (55, Protocol::UDP, false),
        (61, Protocol::UDP, false),
        (22, Protocol::TCP, true),
        (23, Protocol::TCP, false),
    ] {
        assert_eq!(
            allowed(&e, "app/p", "10.9.9.9", proto, port),
            want,
            "{proto} {port}"
        );
    }
    assert!(
        allowed(&e, "app/p", "10.8.0.1", Protocol::TCP, 23),
        "outside"
    );
    assert!(
        !allowed(&e, "app/p", "10.9.8.1", Protocol::TCP, 22),
        "22 only to 10.9.9.0/24"
    );
}

/// `polc check` over files in a temporary folder: its stderr.
fn polc_check(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = common::polc()
        .arg("check")
        .arg(dir.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Calico's converter knows `namespaces`, `pods` and `networks` peers only: a rule
/// with a `nodes` or `domainNames` peer fails to convert, and Calico fails closed (a
/// Deny or Pass rule becomes deny-all, an Allow rule is dropped). polc compiles the
/// same and warns, naming the rule.
#[test]
fn nodes_and_domain_names_peers_fail_closed_as_calico_converts_them() {
    let policy = |action: &str, peer: &str| {
        format!(
            r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: odd-peer}}
spec:
  priority: 1
  subject: {{namespaces: {{matchLabels: {{team: app}}}}}}
  egress: [{{name: the-rule, action: {action}, to: [{peer}]}}]
"#
        )
    };
    let nodes = "{nodes: {matchLabels: {role: worker}}}";
    let names = "{domainNames: [example.com]}";
    for (action, peer, all_denied) in [
        ("Deny", nodes, true),
        ("Pass", nodes, true),
        ("Allow", nodes, false),
        ("Deny", names, true),
        ("Allow", names, false),
    ] {
        let text = policy(action, peer);
        let m = model_of(&[("pods.yaml", PODS), ("p.yaml", &text)]);
        let e = Engine::new(&m);
        for to in ["friends/p", "10.9.9.9", "node/node-1"] {
            assert_eq!(
                allowed(&e, "app/p", to, Protocol::TCP, 443),
                !all_denied,
                "{action} {peer}: app/p -> {to}"
            );
        }
        assert!(
            allowed(&e, "friends/p", "guests/p", Protocol::TCP, 443),
            "other subjects untouched"
        );
        let out = polc_check(&[("pods.yaml", PODS), ("p.yaml", &text)]);
        assert!(
            out.contains("warning[unenforceable-peer]") && out.contains("`the-rule`"),
            "{out}"
        );
    }
}

fn lesson(extra: &[(&str, &str)]) -> Model {
    let files = common::example_files("examples/host-firewall", |_, t| t);
    let mut refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    refs.extend_from_slice(extra);
    model_of(&refs)
}

/// Every cell between host endpoints and external addresses, on a few ports.
fn host_cells(model: &Model) -> Vec<(String, String, u16, bool, String)> {
    let e = Engine::new(model);
    let mut names: Vec<String> = e
        .universe
        .endpoints
        .iter()
        .filter(|x| x.kind == EndpointKind::Host)
        .map(|x| x.name.clone())
        .collect();
    assert!(names.len() >= 2, "the lesson has host endpoints");
    names.push("203.0.113.9".into());
    let mut out = Vec::new();
    for from in &names {
        for to in &names {
            if from == to || !to.starts_with("host/") && !from.starts_with("host/") {
                continue;
            }
            for port in [22, 443, 10250] {
                let v = e.evaluate(
                    ep(&e, from),
                    ep(&e, to),
                    &Packet::to_port(Protocol::TCP, port),
                );
                // Policy indices shift when policies are added: name the policy.
                let decider = match v.decider {
                    Decider::Rule {
                        policy,
                        direction,
                        index,
                        action,
                    } => format!(
                        "{} {direction:?} {index} {action}",
                        model.policies[policy].id
                    ),
                    d => format!("{d:?}"),
                };
                out.push((from.clone(), to.clone(), port, v.allowed, decider));
            }
        }
    }
    out
}

const DENY_EVERYTHING: &str = include_str!("policy-api/deny-everything.yaml");

/// The interop boundary: the admin tier governs pods only (its subjects always carry
/// the orchestrator label), so the lesson's host-firewall tier still decides every
/// host cell exactly as before, while pods are shut.
#[test]
fn an_admin_deny_of_everything_never_matches_host_endpoints() {
    let before = host_cells(&lesson(&[]));
    let after = host_cells(&lesson(&[("anp.yaml", DENY_EVERYTHING)]));
    assert_eq!(before, after);
    let m = lesson(&[("anp.yaml", DENY_EVERYTHING)]);
    let e = Engine::new(&m);
    assert!(!allowed(
        &e,
        "prod/backend",
        "dev/frontend",
        Protocol::TCP,
        80
    ));
    assert!(
        !allowed(
            &e,
            "calico-system/calico-node",
            "host/node-worker",
            Protocol::TCP,
            10250
        ),
        "the pod's own egress is the admin tier's"
    );
    let admin = m
        .policies
        .iter()
        .position(|p| p.id.name == "deny-everything")
        .unwrap();
    for x in e
        .universe
        .endpoints
        .iter()
        .filter(|x| x.kind == EndpointKind::Host)
    {
        assert!(
            !e.selecting(x.labels).contains(&admin),
            "{} is selected by the admin policy",
            x.name
        );
    }
}

/// A NetworkPolicy's selector always carries the orchestrator label and its
/// namespace: it never selects a host endpoint, whatever labels it asks for.
#[test]
fn a_network_policy_never_selects_a_host_endpoint() {
    let knp = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: lock-nodes, namespace: default}
spec:
  podSelector: {matchLabels: {role: node}}
  policyTypes: [Ingress, Egress]
"#;
    assert_eq!(
        host_cells(&lesson(&[])),
        host_cells(&lesson(&[("knp.yaml", knp)]))
    );
}
