//! The shape the benchmarks were first written against: four tiers, a quarter
//! GlobalNetworkPolicies, half Calico NetworkPolicies and a quarter Kubernetes
//! NetworkPolicies over eight app names, with pods and nodes but no host endpoints.
//!
//! Its rules shadow one another on purpose (Deny rules among Allows, Pass rules over
//! whole namespaces): `polc check` reports `shadowed-rule` and `unreachable-rule`
//! errors on it. The bytes are fixed: the benchmarks' numbers are measured on them.

use std::fmt::Write;

/// Sizes of a repository of this shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Policies (a quarter GlobalNetworkPolicies, half Calico NetworkPolicies, a
    /// quarter Kubernetes NetworkPolicies).
    pub policies: usize,
    /// Rules per policy.
    pub rules_per_policy: usize,
    /// Pods.
    pub pods: usize,
    /// Namespaces.
    pub namespaces: usize,
    /// Nodes.
    pub nodes: usize,
    /// Pods per deployment: replicas share their labels.
    pub replicas: usize,
}

/// 10,000 policies, 100,000 rules, 5,000 pods.
pub const LARGE: Size = Size {
    policies: 10_000,
    rules_per_policy: 10,
    pods: 5_000,
    namespaces: 50,
    nodes: 200,
    replicas: 1,
};

/// 10,000 policies over 1,000 endpoints: 800 pods in 100 deployments of 8 replicas,
/// and 200 nodes.
pub const MATRIX: Size = Size {
    policies: 10_000,
    rules_per_policy: 10,
    pods: 800,
    namespaces: 50,
    nodes: 200,
    replicas: 8,
};

const APPS: &[&str] = &[
    "web", "api", "db", "cache", "queue", "auth", "search", "batch",
];

fn rule(out: &mut String, i: usize, j: usize) {
    let app = APPS[(i + j) % APPS.len()];
    match j % 5 {
        0 => writeln!(out, "    - action: Allow\n      protocol: TCP\n      source:\n        selector: app == '{app}' && tier in {{'front', 'back'}}\n      destination:\n        ports: [80, 443, \"8000:8100\"]").unwrap(),
        1 => writeln!(out, "    - action: Deny\n      protocol: UDP\n      source:\n        nets: [10.{}.0.0/16, 192.168.{}.0/24]\n      destination:\n        ports: [53]", i % 250, j).unwrap(),
        2 => writeln!(out, "    - action: Allow\n      protocol: ICMP\n      icmp:\n        type: 8").unwrap(),
        3 => writeln!(out, "    - action: Pass\n      source:\n        namespaceSelector: team == 't{}'\n        notSelector: has(quarantine)", i % 20).unwrap(),
        _ => writeln!(out, "    - action: Allow\n      protocol: TCP\n      destination:\n        selector: app == '{app}'\n        ports: [http, 9090]").unwrap(),
    }
}

fn k8s_rule(out: &mut String, i: usize, j: usize) {
    let app = APPS[(i + j) % APPS.len()];
    writeln!(
        out,
        "    - from:\n        - podSelector:\n            matchLabels:\n              app: {app}\n        - namespaceSelector:\n            matchExpressions:\n              - key: team\n                operator: In\n                values: [t{}, t{}]\n      ports:\n        - protocol: TCP\n          port: {}",
        i % 20,
        (i + 1) % 20,
        1000 + j
    )
    .unwrap();
}

fn tiers() -> String {
    let mut tiers = String::new();
    for t in 0..4 {
        writeln!(tiers, "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: tier-{t}\nspec:\n  order: {}\n  defaultAction: {}\n---", 100 * (t + 1), if t % 2 == 0 { "Pass" } else { "Deny" }).unwrap();
    }
    tiers
}

fn policy(out: &mut String, size: Size, i: usize) {
    let ns = i % size.namespaces;
    match i % 4 {
        0 => {
            writeln!(out, "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: gnp-{i}\nspec:\n  tier: tier-{}\n  order: {}\n  selector: app == '{}'\n  types: [Ingress, Egress]\n  ingress:", i % 4, i % 1000, APPS[i % APPS.len()]).unwrap();
            for j in 0..size.rules_per_policy / 2 {
                rule(out, i, j);
            }
            out.push_str("  egress:\n");
            for j in size.rules_per_policy / 2..size.rules_per_policy {
                rule(out, i, j);
            }
        }
        3 => {
            writeln!(out, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: knp-{i}\n  namespace: ns-{ns}\nspec:\n  podSelector:\n    matchLabels:\n      app: {}\n  ingress:", APPS[i % APPS.len()]).unwrap();
            for j in 0..size.rules_per_policy {
                k8s_rule(out, i, j);
            }
        }
        _ => {
            writeln!(out, "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: np-{i}\n  namespace: ns-{ns}\n  labels:\n    owner: team-{}\nspec:\n  order: {}\n  selector: app == '{}'\n  ingress:", i % 20, i % 500, APPS[i % APPS.len()]).unwrap();
            for j in 0..size.rules_per_policy {
                rule(out, i, j);
            }
        }
    }
    out.push_str("---\n");
}

fn inventory(size: Size) -> String {
    let mut inv = String::new();
    for n in 0..size.namespaces {
        writeln!(inv, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{n}\n  labels:\n    team: t{}\n---", n % 20).unwrap();
    }
    for n in 0..size.nodes {
        writeln!(inv, "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-{n}\n  labels:\n    zone: z{}\nstatus:\n  addresses:\n    - type: InternalIP\n      address: 172.16.{}.{}\n---", n % 3, n / 250, n % 250 + 1).unwrap();
    }
    inv
}

fn pod(out: &mut String, size: Size, p: usize) {
    let d = p / size.replicas;
    writeln!(
        out,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-{p}\n  namespace: ns-{}\n  labels:\n    app: {}\n    tier: {}\nspec:\n  nodeName: node-{}\n  serviceAccountName: sa-{}\n  containers:\n    - name: main\n      image: registry.example/app:1.0\n      ports:\n        - name: http\n          containerPort: 8080\n        - name: metrics\n          containerPort: 9090\nstatus:\n  phase: Running\n  podIP: 10.{}.{}.{}\n---",
        d % size.namespaces,
        APPS[d % APPS.len()],
        if d.is_multiple_of(2) { "front" } else { "back" },
        p % size.nodes,
        d % 7,
        100 + p / 65536,
        (p / 256) % 256,
        p % 256
    )
    .unwrap();
}

/// The repository as `(file name, text)` pairs, 100 policies and 500 pods per file.
pub fn generate(size: Size) -> Vec<(String, String)> {
    let mut files = vec![("tiers.yaml".to_string(), tiers())];
    for chunk in 0..size.policies.div_ceil(100) {
        let mut out = String::new();
        for i in chunk * 100..((chunk + 1) * 100).min(size.policies) {
            policy(&mut out, size, i);
        }
        files.push((format!("policies-{chunk:03}.yaml"), out));
    }
    files.push(("inventory.yaml".to_string(), inventory(size)));
    for chunk in 0..size.pods.div_ceil(500) {
        let mut out = String::new();
        for p in chunk * 500..((chunk + 1) * 500).min(size.pods) {
            pod(&mut out, size, p);
        }
        files.push((format!("pods-{chunk:02}.yaml"), out));
    }
    files
}
