//! The inventory of a fleet repository, under `inventory/`: the namespaces, the nodes
//! and one host endpoint per node (500 a file), and the pods (500 a file), pod `p`
//! of app `p mod apps` on node `p mod nodes`.

use std::fmt::Write;

use super::{Fleet, addr, chunks, policies};
use crate::testgen::Counts;

/// Nodes, host endpoints or pods per file.
const PER_FILE: usize = 500;

/// The inventory files.
pub fn files(fleet: &Fleet, counts: &mut Counts) -> Vec<(String, String)> {
    let mut files = vec![("inventory/namespaces.yaml".to_string(), namespaces(fleet))];
    counts.namespaces = fleet.namespaces();
    for (c, range) in chunks(fleet.nodes, PER_FILE) {
        let text = range.clone().map(node).collect();
        files.push((format!("inventory/nodes-{c:02}.yaml"), text));
        let text = range.map(host_endpoint).collect();
        files.push((format!("inventory/host-endpoints-{c:02}.yaml"), text));
    }
    counts.nodes = fleet.nodes;
    counts.host_endpoints = fleet.nodes;
    for (c, range) in chunks(fleet.pods, PER_FILE) {
        let text = range.map(|p| pod(fleet, p)).collect();
        files.push((format!("inventory/pods-{c:03}.yaml"), text));
    }
    counts.pods = fleet.pods;
    files
}

fn namespaces(fleet: &Fleet) -> String {
    let mut out = String::new();
    for x in 0..fleet.namespaces() {
        let env = if x % 3 == 2 { "staging" } else { "prod" };
        let _ = writeln!(
            out,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{x}\n  labels:\n    team: t{x}\n    env: {env}\n---"
        );
    }
    out
}

fn node(n: usize) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-{n}\n  labels:\n    kubernetes.io/hostname: node-{n}\n    topology.kubernetes.io/zone: z{}\nstatus:\n  addresses:\n    - type: InternalIP\n      address: {}\n    - type: Hostname\n      address: node-{n}\n---\n",
        n % 3,
        addr::node_ip(n)
    )
}

/// Node `n`'s host endpoint: `eth0` on even nodes, every interface (`*`) on odd ones.
fn host_endpoint(n: usize) -> String {
    let (name, interface) = if n.is_multiple_of(2) {
        ("eth0", "eth0")
    } else {
        ("all", "\"*\"")
    };
    format!(
        "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node-{n}-{name}\n  labels:\n    role: node\n    zone: z{}\nspec:\n  node: node-{n}\n  interfaceName: {interface}\n  expectedIPs: [{}]\n---\n",
        n % 3,
        addr::node_ip(n)
    )
}

fn pod(fleet: &Fleet, p: usize) -> String {
    let k = p % fleet.apps;
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app-{k}-{p}\n  namespace: ns-{}\n  labels:\n    app: app-{k}\n    tier: {}\n    version: v{}\nspec:\n  nodeName: node-{}\n  serviceAccountName: app-{k}\n  containers:\n    - name: main\n      image: registry.example/app-{k}:1.0\n      ports:\n        - name: http\n          containerPort: 8080\nstatus:\n  phase: Running\n  podIP: {}\n---\n",
        fleet.app_namespace(k),
        policies::tier(k),
        1 + (p / fleet.apps) % 2,
        p % fleet.nodes,
        addr::pod_ip(p)
    )
}
