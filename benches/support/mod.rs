//! Support shared by the benchmarks: a generator of large, realistic inputs and an
//! allocator that records peak heap use.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use polc::source::Sources;

/// The system allocator, counting live and peak bytes.
pub struct PeakAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

/// Run `f` and return its result with the peak heap growth it caused, in bytes.
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - base)
}

/// Sizes of a generated repository.
#[derive(Debug, Clone, Copy)]
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

/// The generated repository as `(file name, text)` pairs, 100 policies per file.
pub fn generate(size: Size) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut tiers = String::new();
    for t in 0..4 {
        writeln!(tiers, "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: tier-{t}\nspec:\n  order: {}\n  defaultAction: {}\n---", 100 * (t + 1), if t % 2 == 0 { "Pass" } else { "Deny" }).unwrap();
    }
    files.push(("tiers.yaml".to_string(), tiers));
    for chunk in 0..size.policies.div_ceil(100) {
        let mut out = String::new();
        for i in chunk * 100..((chunk + 1) * 100).min(size.policies) {
            let ns = i % size.namespaces;
            match i % 4 {
                0 => {
                    writeln!(out, "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: gnp-{i}\nspec:\n  tier: tier-{}\n  order: {}\n  selector: app == '{}'\n  types: [Ingress, Egress]\n  ingress:", i % 4, i % 1000, APPS[i % APPS.len()]).unwrap();
                    for j in 0..size.rules_per_policy / 2 {
                        rule(&mut out, i, j);
                    }
                    out.push_str("  egress:\n");
                    for j in size.rules_per_policy / 2..size.rules_per_policy {
                        rule(&mut out, i, j);
                    }
                }
                3 => {
                    writeln!(out, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: knp-{i}\n  namespace: ns-{ns}\nspec:\n  podSelector:\n    matchLabels:\n      app: {}\n  ingress:", APPS[i % APPS.len()]).unwrap();
                    for j in 0..size.rules_per_policy {
                        k8s_rule(&mut out, i, j);
                    }
                }
                _ => {
                    writeln!(out, "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: np-{i}\n  namespace: ns-{ns}\n  labels:\n    owner: team-{}\nspec:\n  order: {}\n  selector: app == '{}'\n  ingress:", i % 20, i % 500, APPS[i % APPS.len()]).unwrap();
                    for j in 0..size.rules_per_policy {
                        rule(&mut out, i, j);
                    }
                }
            }
            out.push_str("---\n");
        }
        files.push((format!("policies-{chunk:03}.yaml"), out));
    }
    let mut inv = String::new();
    for n in 0..size.namespaces {
        writeln!(inv, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{n}\n  labels:\n    team: t{}\n---", n % 20).unwrap();
    }
    for n in 0..size.nodes {
        writeln!(inv, "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-{n}\n  labels:\n    zone: z{}\nstatus:\n  addresses:\n    - type: InternalIP\n      address: 172.16.{}.{}\n---", n % 3, n / 250, n % 250 + 1).unwrap();
    }
    files.push(("inventory.yaml".to_string(), inv));
    for chunk in 0..size.pods.div_ceil(500) {
        let mut out = String::new();
        for p in chunk * 500..((chunk + 1) * 500).min(size.pods) {
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
        files.push((format!("pods-{chunk:02}.yaml"), out));
    }
    files
}

/// The generated repository as sources.
pub fn sources(files: &[(String, String)]) -> Sources {
    let mut s = Sources::default();
    for (name, text) in files {
        s.add(name.clone(), text.clone());
    }
    s
}
