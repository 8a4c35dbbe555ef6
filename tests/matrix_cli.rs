//! `polc matrix` and `polc explain` as a user drives them: formats, filters, the JSON
//! contract, the self-contained HTML heatmap, and escaping of hostile names.

mod common;

use common::{polc, root};
use serde_json::Value;

fn run_json(args: &[&str]) -> Value {
    let out = polc().args(args).current_dir(root()).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn matrix_json_contract_with_ports() {
    let v = run_json(&[
        "matrix",
        "examples/host-firewall",
        "--port",
        "10250/TCP",
        "--port",
        "53/udp",
        "--format",
        "json",
    ]);
    let endpoints: Vec<&str> = v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        endpoints,
        [
            "calico-system/calico-node",
            "dev/frontend",
            "kube-system/kube-apiserver",
            "prod/backend",
            "host/node-control-plane",
            "host/node-worker"
        ]
    );
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 6 * 6 * 2);
    let cell = cells
        .iter()
        .find(|c| {
            c["from"] == "prod/backend" && c["to"] == "host/node-worker" && c["port"] == 10250
        })
        .unwrap();
    assert_eq!(cell["protocol"], "TCP");
    assert_eq!(cell["allowed"], false);
    assert!(
        cell["decided_by"]
            .as_str()
            .unwrap()
            .contains("tier host-firewall"),
        "{cell}"
    );
    for c in cells {
        for key in ["from", "to", "port", "protocol", "allowed"] {
            assert!(c.get(key).is_some(), "cell lacks {key}: {c}");
        }
    }
}

#[test]
fn matrix_without_ports_shows_exact_sets() {
    let v = run_json(&[
        "matrix",
        "examples/host-firewall",
        "--from",
        "prod/backend",
        "--to",
        "role == 'node'",
        "--format",
        "json",
    ]);
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    let worker = cells
        .iter()
        .find(|c| c["to"] == "host/node-worker")
        .unwrap();
    assert_eq!(
        worker["summary"],
        "TCP 22,179,2379-2380,5473,6443,6666-6667; UDP 68"
    );
    assert_eq!(worker["ports"]["UDP"], serde_json::json!([[68, 68]]));
    assert_eq!(worker["none"], false);
    let own_host = cells
        .iter()
        .find(|c| c["to"] == "host/node-control-plane")
        .unwrap();
    // A pod to its own host: defaultEndpointToHostAction Accept, except what Felix
    // drops from pods before their egress policy (VXLAN to UDP 4789, IP-in-IP).
    assert_eq!(
        own_host["summary"],
        "TCP; UDP 1-4788,4790-65535; SCTP; ICMP; other protocols except 4"
    );
    assert_eq!(own_host["denied_protocols"], serde_json::json!([4]));
    assert_eq!(own_host["protocols"], serde_json::json!([]));
}

#[test]
fn matrix_markdown_and_table() {
    let out = polc()
        .args([
            "matrix",
            "examples/host-firewall",
            "--port",
            "10250/tcp",
            "--format",
            "markdown",
            "--to",
            "host/node-worker",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("| from \\\\ to | host/node-worker |"), "{md}");
    assert!(md.contains("| **prod/backend** | ❌ ✗ |"), "{md}");
    assert!(
        md.contains("| **calico-system/calico-node** | ✅ ✓ |"),
        "{md}"
    );

    let out = polc()
        .args(["matrix", "examples/host-firewall", "--port", "10250/tcp"])
        .current_dir(root())
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(!table.contains('\u{1b}'), "no colour when piped");
    let row = table
        .lines()
        .find(|l| l.starts_with("prod/backend"))
        .unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["prod/backend", "✓", "✓", "✓", "✓", "✓", "✗"]
    );
}

#[test]
fn matrix_html_is_one_self_contained_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.html");
    let status = polc()
        .args([
            "matrix",
            "examples/host-firewall",
            "--port",
            "10250/tcp",
            "--format",
            "html",
            "-o",
        ])
        .arg(&file)
        .current_dir(root())
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<script src")
            && !html.contains("<link")
            && !html.contains("http://")
            && !html.contains("https://")
    );
    assert!(html.contains("class=\"deny\""));
    assert!(
        html.contains("end of tier host-firewall: defaultAction Deny"),
        "the deciding policy is on hover"
    );
}

#[test]
fn hostile_file_names_are_escaped_in_html_and_markdown() {
    // Resource names are DNS names, but file paths reach the output through the
    // `file:line` of deciding rules.
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app}
spec: {nodeName: n1}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: app}
spec: {nodeName: n1}
status: {podIP: 10.0.0.2}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: closed, namespace: app}
spec: {ingress: [{action: Deny}]}
"#;
    let dir = tempfile::tempdir().unwrap();
    let hostile = "<img src=x onerror=alert(1)>|`*.yaml";
    std::fs::write(dir.path().join(hostile), yaml).unwrap();
    let out = polc()
        .args(["matrix", hostile, "--port", "80/tcp", "--format", "html"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(
        html.contains("Deny by NetworkPolicy app&#x2f;closed"),
        "{html}"
    );
    assert!(!html.contains("<img"), "the file name is escaped");
    assert!(html.contains("&lt;img"));
    let out = polc()
        .args(["matrix", hostile, "--format", "markdown"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("| **app/web** |"), "{md}");
}

#[test]
fn explain_traces_tier_by_tier() {
    let out = polc()
        .args([
            "explain",
            "examples/host-firewall",
            "--from",
            "prod/backend",
            "--to",
            "host/node-worker",
            "--port",
            "10250/tcp",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("ingress of host/node-worker (host endpoint, to/from its host): DENY"),
        "{text}"
    );
    assert!(
        text.contains("tier host-firewall (order 1000000): GlobalNetworkPolicy node-host-firewall"),
        "{text}"
    );
    assert!(text.contains("verdict: DENIED"), "{text}");

    let v = run_json(&[
        "explain",
        "examples/host-firewall",
        "--from",
        "calico-system/calico-node",
        "--to",
        "172.18.0.3",
        "--port",
        "10250/tcp",
        "--format",
        "json",
    ]);
    assert_eq!(v["allowed"], true);
    assert_eq!(
        v["to"], "host/node-worker",
        "a node's address resolves to its host endpoint"
    );
    assert!(
        v["decided_by"]
            .as_str()
            .unwrap()
            .contains("firewall.yaml:14:7"),
        "{v}"
    );
    let last = v["stages"].as_array().unwrap().last().unwrap();
    assert_eq!(last["tiers"][0]["tier"], "host-firewall");
}

#[test]
fn explain_to_an_outside_address_and_usage_errors() {
    let v = run_json(&[
        "explain",
        "examples/host-firewall",
        "--from",
        "host/node-worker",
        "--to",
        "8.8.8.8",
        "--port",
        "53/udp",
        "--format",
        "json",
    ]);
    assert_eq!(v["allowed"], true);
    let out = polc()
        .args([
            "explain",
            "examples/host-firewall",
            "--from",
            "prod/backnd",
            "--to",
            "host/node-worker",
            "--port",
            "80/tcp",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `prod/backend`?"));
    let out = polc()
        .args([
            "explain",
            "examples/host-firewall",
            "--from",
            "prod/backend",
            "--to",
            "host/node-worker",
            "--port",
            "80/gre",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn commands_refuse_input_with_errors() {
    let out = polc()
        .args(["matrix", "tests/bad/unknown-field-spec.yaml"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[unknown-field]"));
    assert!(out.stdout.is_empty());
}
