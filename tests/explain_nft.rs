//! `polc explain --target nft` against the artifacts `polc build` really writes: for
//! every ordered pair of endpoints of the examples and a few ports, every stage it
//! names must point at the line `chain NAME {` of the built file, and its deciding
//! rule at a line of that chain whose text and comment are the ones reported; a
//! deciding policy rule's line carries that rule's index and the `file:line:col` the
//! evaluator names it by.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

const PORTS: &[&str] = &["22/tcp", "80/tcp", "10250/tcp", "53/udp", "icmp"];

fn json(args: &[&str]) -> Value {
    let o = common::polc()
        .current_dir(common::root())
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The lines of chain `name` in `lines` (1-based range of its rules).
fn chain_body(lines: &[&str], header: usize) -> std::ops::Range<usize> {
    let end = header + lines[header..].iter().position(|l| *l == "\t}").unwrap();
    header + 1..end + 1
}

fn check_example(example: &str) -> (usize, usize) {
    let dir = format!("examples/{example}");
    let tmp = tempfile::tempdir().unwrap();
    let o = common::polc()
        .current_dir(common::root())
        .args(["build", "--target", "nft", "--out"])
        .arg(tmp.path().join("out"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success());
    let built: BTreeMap<String, String> = common::read_tree(&tmp.path().join("out"));
    let endpoints: Vec<String> = json(&["matrix", &dir, "--format", "json"])["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    let (mut stages, mut rules) = (0, 0);
    for from in &endpoints {
        for to in endpoints.iter().filter(|t| *t != from) {
            for port in PORTS {
                let v = json(&[
                    "explain", &dir, "--from", from, "--to", to, "--port", port, "--target", "nft",
                    "--format", "json",
                ]);
                for s in v["stages"].as_array().unwrap() {
                    let what = format!(
                        "{example}: {from} -> {to} {port}, {} {}",
                        s["stage"], s["direction"]
                    );
                    let nft = &s["nft"];
                    if nft.is_null() {
                        assert!(
                            s["tiers"].as_array().unwrap().is_empty(),
                            "{what}: a stage with policy names no chain"
                        );
                        continue;
                    }
                    let file = nft["file"].as_str().unwrap();
                    let text = &built[file];
                    let lines: Vec<&str> = text.lines().collect();
                    let at = nft["chain_line"].as_u64().unwrap() as usize;
                    let chain = nft["chain"].as_str().unwrap();
                    assert_eq!(lines[at - 1], format!("\tchain {chain} {{"), "{what}");
                    stages += 1;
                    let rule = &nft["rule"];
                    if rule.is_null() {
                        continue;
                    }
                    let line = rule["line"].as_u64().unwrap() as usize;
                    let in_chain = rule["chain"].as_str().unwrap();
                    let header = lines
                        .iter()
                        .position(|l| *l == format!("\tchain {in_chain} {{"))
                        .unwrap();
                    assert!(
                        chain_body(&lines, header + 1).contains(&line),
                        "{what}: line {line} outside {in_chain}"
                    );
                    let comment = rule["comment"].as_str().unwrap();
                    assert_eq!(
                        lines[line - 1],
                        format!(
                            "\t\t{} comment \"{comment}\"",
                            rule["text"].as_str().unwrap()
                        ),
                        "{what}"
                    );
                    if s["decider"]["kind"] == "rule" {
                        let decided = s["decided_by"].as_str().unwrap();
                        let loc = decided.rsplit(" at ").next().unwrap();
                        let index = s["decider"]["index"].as_u64().unwrap();
                        assert!(
                            comment.contains(&format!(" rule {index} ")) && comment.ends_with(loc),
                            "{what}: {file}:{line} `{comment}` is not the rule decided by: {decided}"
                        );
                        rules += 1;
                    }
                }
            }
        }
    }
    (stages, rules)
}

#[test]
fn every_stage_names_the_chain_and_rule_of_the_built_artifact() {
    for example in ["three-tiers", "host-firewall"] {
        let (stages, rules) = check_example(example);
        eprintln!("explain --target nft, {example}: {stages} stages, {rules} policy rules located");
        assert!(
            stages > 50 && rules > 20,
            "{example}: {stages} stages, {rules} rules"
        );
    }
}

#[test]
fn the_text_names_file_and_line_and_artifacts_prefixes_them() {
    let o = common::polc()
        .current_dir(common::root())
        .args([
            "explain",
            "examples/three-tiers",
            "--from",
            "app/client",
            "--to",
            "app/server",
            "--port",
            "80/tcp",
            "--target",
            "nft",
            "--artifacts",
            "out",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let golden =
        std::fs::read_to_string(common::root().join("golden/three-tiers/n2/polc.nft")).unwrap();
    // The deciding rule of the server's ingress, by the golden artifact's own line.
    let line = golden
        .lines()
        .position(|l| l.contains("comment \"GlobalNetworkPolicy apps-web in rule 0 examples/three-tiers/policies.yaml:47:7\""))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!("out/n2/polc.nft:{line} pol.gnp.apps-web.in: ")),
        "{text}"
    );
    // Without --target nothing changes.
    let plain = common::polc()
        .current_dir(common::root())
        .args([
            "explain",
            "examples/three-tiers",
            "--from",
            "app/client",
            "--to",
            "app/server",
            "--port",
            "80/tcp",
        ])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("nft:"));
    // --artifacts needs --target.
    let bad = common::polc()
        .args([
            "explain",
            "--from",
            "a/b",
            "--to",
            "c/d",
            "--port",
            "80",
            "--artifacts",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
