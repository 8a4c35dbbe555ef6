//! The command line as a user drives it: exit codes, summaries, formats, stdin, and
//! output that does not depend on file order.

mod common;

use common::{polc, root};

#[test]
fn check_on_the_bundled_example_is_clean() {
    let out = polc()
        .args(["check", "examples/host-firewall"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "checked 4 files: 4 tiers (3 built in), 2 policies with 2 rules, 2 host endpoints, \
         0 network sets, 0 profiles, 4 namespaces, 4 pods, 2 nodes; 0 errors, 0 warnings"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_defaults_to_the_current_folder() {
    let out = polc()
        .arg("check")
        .current_dir(root().join("examples/host-firewall"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("checked 4 files"));
}

#[test]
fn check_json_summary_is_a_stable_contract() {
    let out = polc()
        .args(["check", "--format", "json", "examples/host-firewall"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["diagnostics"], serde_json::json!([]));
    let s = &v["summary"];
    for (key, want) in [
        ("files", 4),
        ("tiers", 4),
        ("policies", 2),
        ("rules", 2),
        ("host_endpoints", 2),
        ("pods", 4),
        ("nodes", 2),
        ("namespaces", 4),
    ] {
        assert_eq!(s[key], want, "summary.{key}");
    }
}

#[test]
fn stdin_is_read_with_a_dash() {
    let text = std::fs::read_to_string(root().join("tests/bad/unknown-field-spec.yaml")).unwrap();
    let out = polc()
        .args(["check", "-"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("<stdin>:7:3: error[unknown-field]: unknown field `ingres`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("7 |   ingres:"),
        "the source line is shown: {stderr}"
    );
    assert!(
        stderr.contains("^^^^^^"),
        "a caret marks the field: {stderr}"
    );
    assert!(stderr.contains("help: did you mean `ingress`?"), "{stderr}");
}

#[test]
fn other_kinds_are_skipped_with_a_count() {
    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n---\n\
                apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n---\n\
                apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: peer}\nspec: {peerIP: 10.0.0.1, asNumber: 64512}\n";
    let out = polc()
        .args(["check", "-"])
        .write_stdin(yaml)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("skipped 3 documents (apps/v1/Deployment x1, projectcalico.org/v3/BGPPeer x1, v1/Service x1)"),
        "{stdout}"
    );
}

#[test]
fn a_calico_kind_typo_is_an_error_with_a_suggestion_unless_unknown_kinds_are_allowed() {
    let yaml =
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicies\nmetadata: {name: x}\n";
    let out = polc()
        .args(["check", "-"])
        .write_stdin(yaml)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[unknown-kind]"), "{stderr}");
    assert!(
        stderr.contains("did you mean `GlobalNetworkPolicy`?"),
        "{stderr}"
    );
    let out = polc()
        .args(["check", "--allow-unknown-kinds", "-"])
        .write_stdin(yaml)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning[unknown-kind]"), "{stderr}");
}

#[test]
fn kubectl_json_lists_with_items_before_kind_are_read() {
    let json = r#"{"apiVersion": "v1", "items": [
        {"spec": {"selector": "all()"}, "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {"env": "prod"}}}
    ], "kind": "List", "metadata": {"resourceVersion": ""}}"#;
    let out = polc()
        .args(["check", "--format", "json", "-"])
        .write_stdin(json)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["policies"], 1);
    assert_eq!(v["summary"]["namespaces"], 1);
}

#[test]
fn output_does_not_depend_on_file_order() {
    let src = root().join("examples/host-firewall");
    let mut names: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let run = |prefixes: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        for (name, prefix) in names.iter().zip(prefixes) {
            std::fs::copy(src.join(name), dir.path().join(format!("{prefix}-{name}"))).unwrap();
        }
        let out = polc()
            .args(["check", "--format", "json", "."])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        out.stdout
    };
    let a = run(&["a", "b", "c", "d"]);
    let b = run(&["d", "c", "b", "a"]);
    assert_eq!(a, b);
}

#[test]
fn selector_command_normalises_and_matches() {
    let out = polc()
        .args([
            "selector",
            "role=='node'||has(k8s-app)",
            "--labels",
            r#"{"k8s-app": "calico-node"}"#,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"valid": true, "matches": true, "normalized": "(role == \"node\" || has(k8s-app))"})
    );

    let out = polc()
        .args([
            "selector",
            "role == 'node'",
            "--labels",
            r#"{"role": "app"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "role == \"node\"\ndoes not match\n"
    );
}

#[test]
fn selector_command_reports_errors_with_a_column() {
    let out = polc()
        .args(["selector", "a == 'b' & c", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"]["column"], 10);

    let out = polc().args(["selector", "a == 'b' & c"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("<selector>:1:10: error[invalid-selector]"),
        "{stderr}"
    );
    assert!(stderr.contains("1 | a == 'b' & c"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        polc().arg("frobnicate").output().unwrap().status.code(),
        Some(2)
    );
    assert_eq!(
        polc()
            .args(["check", "does/not/exist"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        polc()
            .args(["selector", "all()", "--labels", "[1]"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        polc()
            .args(["check", "--format", "xml"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn help_and_version_exit_0() {
    assert_eq!(
        polc().arg("--help").output().unwrap().status.code(),
        Some(0)
    );
    assert_eq!(
        polc().arg("--version").output().unwrap().status.code(),
        Some(0)
    );
}

#[test]
fn deny_warnings_makes_warnings_fail_the_check_in_every_format() {
    // An egress rule naming a service polc cannot resolve: one warning, no error.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("svc.yaml"),
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n\
         metadata:\n  name: svc\n  namespace: prod\nspec:\n  egress:\n    - action: Allow\n      \
         destination:\n        services:\n          name: api\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        polc()
            .arg("check")
            .args(extra)
            .arg("svc.yaml")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for format in ["text", "json", "sarif"] {
        let allowed = run(&["--format", format]);
        assert_eq!(allowed.status.code(), Some(0), "{format} without --deny");
        let denied = run(&["--format", format, "--deny", "warnings"]);
        assert_eq!(
            denied.status.code(),
            Some(1),
            "{format} with --deny warnings"
        );
        if format == "json" {
            let v: serde_json::Value = serde_json::from_slice(&denied.stdout).unwrap();
            assert_eq!(v["ok"], false);
            assert_eq!(v["summary"]["warnings"], 1);
            assert_eq!(v["diagnostics"][0]["code"], "services-unresolved");
        }
    }
    let text = run(&["--deny", "warnings"]);
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(stderr.contains("warning[services-unresolved]"), "{stderr}");
    assert!(
        stderr.contains("1 warning denied by `--deny warnings`"),
        "{stderr}"
    );
    // --quiet hides warnings, unless they are denied.
    let quiet = run(&["--quiet"]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("warning["));
    let quiet = run(&["--quiet", "--deny", "warnings"]);
    assert_eq!(quiet.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&quiet.stderr).contains("warning[services-unresolved]"));
    // A clean input stays clean; only `warnings` is a level to deny.
    let clean = polc()
        .args(["check", "--deny", "warnings", "examples/host-firewall"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(clean.status.code(), Some(0));
    let bad = polc()
        .args(["check", "--deny", "notes", "examples/host-firewall"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// `explain --via NODE:IN:OUT`: a transit flow meets the applyOnForward policy of
/// the host endpoints owning the two interfaces, each in its direction.
#[test]
fn explain_via_traces_a_transit_flow_by_interface() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("n1.yaml"),
        "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: a, labels: {side: a}}\n\
         spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.1.1]}\n---\n\
         apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: b, labels: {side: b}}\n\
         spec: {node: n1, interfaceName: eth1, expectedIPs: [192.168.2.1]}\n---\n\
         apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: b-fwd}\n\
         spec: {selector: side == 'b', applyOnForward: true, types: [Egress], egress: [{action: Deny, protocol: TCP, destination: {ports: [8080]}}, {action: Allow}]}\n",
    )
    .unwrap();
    let run = |via: &str, port: &str| {
        let o = polc()
            .args([
                "explain",
                "--format",
                "json",
                "--from",
                "192.168.1.2",
                "--to",
                "192.168.2.2",
            ])
            .args(["--port", port, "--via", via])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let out = run("n1:eth0:eth1", "8080/tcp");
    assert_eq!(out["allowed"], false, "{out}");
    assert!(out.to_string().contains("b-fwd"), "{out}");
    // The other way round, b's egress is not met.
    assert_eq!(run("n1:eth1:eth0", "8080/tcp")["allowed"], true);
    assert_eq!(run("n1:eth0:eth1", "7070/tcp")["allowed"], true);
    let bad = polc()
        .args([
            "explain",
            "--from",
            "192.168.1.2",
            "--to",
            "192.168.2.2",
            "--port",
            "80",
        ])
        .args(["--via", "n1:eth0"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
