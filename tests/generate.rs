//! `polc generate`, the test tooling behind the benchmarks: every preset and random
//! parameters give valid input (checked and built with no error), the same bytes on
//! every run, and the counts asked for.

mod common;

use common::polc;
use proptest::prelude::*;

fn generate(args: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repo");
    let said = succeed(polc().arg("generate").args(args).arg("--out").arg(&out));
    (dir, said)
}

/// Run a command that must exit 0; its standard output.
fn succeed(cmd: &mut assert_cmd::Command) -> String {
    let run = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    stdout
}

fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

fn walk(root: &std::path::Path, dir: &std::path::Path, v: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            walk(root, &path, v);
        } else {
            let text = std::fs::read(&path).unwrap();
            v.push((path.strip_prefix(root).unwrap().to_path_buf(), text));
        }
    }
}

fn check_clean(repo: &std::path::Path) -> String {
    let stdout = succeed(polc().arg("check").arg(repo));
    assert!(stdout.contains(" 0 errors"), "{stdout}");
    stdout
}

#[test]
fn the_small_fleet_preset_is_deterministic_valid_and_builds() {
    let (a, said) = generate(&["--preset", "fleet-s"]);
    let (b, _) = generate(&["--preset", "fleet-s"]);
    assert_eq!(files(&a.path().join("repo")), files(&b.path().join("repo")));
    assert!(said.contains("100 policies"), "{said}");
    let summary = check_clean(&a.path().join("repo"));
    assert!(
        summary.contains("100 policies with 1000 rules"),
        "{summary}"
    );
    assert!(summary.contains("20 nodes"), "{summary}");
    let out = a.path().join("out");
    succeed(
        polc()
            .args(["build", "--target", "all", "--out"])
            .arg(&out)
            .arg(a.path().join("repo")),
    );
    assert!(out.join("manifest.json").is_file());
}

/// `n` and the noun the summary gives it.
fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn random_sizes_check_clean_with_the_counts_asked_for(
        policies in 1usize..60, rules in 1usize..6, nodes in 1usize..8, pods in 1usize..40,
    ) {
        let (p, r, n, d) = (policies.to_string(), rules.to_string(), nodes.to_string(), pods.to_string());
        let (dir, _) = generate(&["--policies", &p, "--rules", &r, "--nodes", &n, "--pods", &d, "--apps", "1"]);
        let summary = check_clean(&dir.path().join("repo"));
        let want_policies = format!(
            "{} with {}",
            counted(policies, "policy", "policies"),
            counted(policies * rules, "rule", "rules")
        );
        prop_assert!(summary.contains(&want_policies), "{}", summary);
        let want_pods = counted(pods, "pod", "pods");
        prop_assert!(summary.contains(&want_pods), "{}", summary);
        let want_nodes = counted(nodes, "node", "nodes");
        prop_assert!(summary.contains(&want_nodes), "{}", summary);
    }
}
