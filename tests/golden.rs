//! Golden artifacts: `polc build --target all` on every example (nft and iptables) must produce exactly
//! the files checked in under `golden/<example>/`. A mismatch prints a unified diff;
//! `POLC_BLESS=1 cargo test --test golden` rewrites the goldens (review the diff).

mod common;

use std::path::{Path, PathBuf};

/// Goldens of other commands that live beside the built artifacts (their own tests
/// compare them): not built, so neither stale nor removed when blessing.
const OTHER_GOLDENS: &[&str] = &["graph.dot"];

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn build(args: &[&str], out: &Path) -> std::process::Output {
    common::polc()
        .args(["build", "--target", "all", "--out"])
        .arg(out)
        .args(args)
        .current_dir(common::root())
        .output()
        .unwrap()
}

#[test]
fn every_example_matches_its_golden_artifacts() {
    let root = common::root();
    let examples = common::policy_examples();
    assert!(examples.len() >= 3);
    let mut failures = Vec::new();
    for ex in &examples {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = build(&[&format!("examples/{ex}")], &out);
        assert!(
            o.status.success(),
            "{ex}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let golden = root.join("golden").join(ex);
        let built: Vec<PathBuf> = files_under(&out)
            .iter()
            .map(|p| p.strip_prefix(&out).unwrap().to_path_buf())
            .collect();
        if common::blessing() {
            for f in files_under(&golden) {
                let rel = f.strip_prefix(&golden).unwrap();
                if !OTHER_GOLDENS.iter().any(|o| rel == Path::new(o)) {
                    let _ = std::fs::remove_file(&f);
                }
            }
        }
        for rel in &built {
            let text = std::fs::read_to_string(out.join(rel)).unwrap();
            let want = golden.join(rel);
            std::fs::create_dir_all(want.parent().unwrap()).unwrap();
            if let Err(d) = common::check_expected(&want, &text) {
                failures.push(d);
            }
        }
        let checked_in: Vec<PathBuf> = files_under(&golden)
            .iter()
            .map(|p| p.strip_prefix(&golden).unwrap().to_path_buf())
            .collect();
        let stale = checked_in
            .iter()
            .filter(|p| !built.contains(p) && !OTHER_GOLDENS.iter().any(|o| *p == Path::new(o)));
        for extra in stale {
            failures.push(format!(
                "golden/{ex}/{} is no longer built",
                extra.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn output_is_byte_identical_whatever_the_file_order() {
    let dir = "examples/host-firewall";
    let mut files: Vec<String> = std::fs::read_dir(common::root().join(dir))
        .unwrap()
        .map(|e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    files.sort();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    assert!(build(&refs, &a).status.success());
    let reversed: Vec<&str> = refs.iter().rev().copied().collect();
    assert!(build(&reversed, &b).status.success());
    for f in files_under(&a) {
        let rel = f.strip_prefix(&a).unwrap();
        assert_eq!(
            std::fs::read(&f).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
            "{}",
            rel.display()
        );
    }
}

#[test]
fn a_one_rule_change_is_a_small_diff() {
    let src = common::root().join("examples/three-tiers");
    let tmp = tempfile::tempdir().unwrap();
    let edited = tmp.path().join("three-tiers");
    std::fs::create_dir(&edited).unwrap();
    for f in ["inventory.yaml", "policies.yaml"] {
        let text = std::fs::read_to_string(src.join(f)).unwrap();
        std::fs::write(
            edited.join(f),
            text.replace(
                "destination: {ports: [80, 82]}",
                "destination: {ports: [80, 83]}",
            ),
        )
        .unwrap();
    }
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    assert!(build(&["examples/three-tiers"], &a).status.success());
    let o = common::polc()
        .args(["build", "--target", "nft", "--out"])
        .arg(&b)
        .arg("three-tiers")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = std::fs::read_to_string(a.join("n2/polc.nft"))
        .unwrap()
        // The copy has no git top-level: its sources are named from the input folder.
        .replace("examples/three-tiers/", "");
    let after = std::fs::read_to_string(b.join("n2/polc.nft")).unwrap();
    let diff = similar::TextDiff::from_lines(&before, &after);
    let changed = diff
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .count();
    // The rule line, and the name and element of the shared port set it uses.
    assert!(
        changed > 0 && changed <= 6,
        "{changed} changed lines:\n{}",
        diff.unified_diff()
    );
}

#[test]
fn bad_input_leaves_the_output_folder_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(build(&["examples/host-firewall"], &out).status.success());
    let before: Vec<(PathBuf, Vec<u8>)> = files_under(&out)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    let o = build(&["tests/bad/unknown-field-spec.yaml"], &out);
    assert_eq!(o.status.code(), Some(1));
    let after: Vec<(PathBuf, Vec<u8>)> = files_under(&out)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    assert_eq!(before, after);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temporary folders left: {leftovers:?}"
    );
}

#[test]
fn manifest_lists_every_artifact_with_its_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(build(&["examples/host-firewall"], &out).status.success());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let arts = m["artifacts"].as_array().unwrap();
    // Two nodes: polc.nft, and polc.iptables, polc.ip6tables, polc.ipset and
    // polc-iptables-load.
    assert_eq!(arts.len(), 10);
    for a in arts {
        let text = std::fs::read(out.join(a["path"].as_str().unwrap())).unwrap();
        use sha2::Digest;
        let hash: String = sha2::Sha256::digest(&text)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(a["sha256"], hash);
        let path = a["path"].as_str().unwrap();
        let file = path.rsplit('/').next().unwrap();
        let target = if file == "polc.nft" {
            "nft"
        } else {
            "iptables"
        };
        assert_eq!(a["target"], target, "{path}");
        if matches!(file, "polc.nft" | "polc.iptables" | "polc.ip6tables") {
            assert!(a["rules"].as_u64().unwrap() > 10, "{path}");
        }
        if file == "polc.ipset" {
            assert!(a["sets"].as_u64().unwrap() >= 2, "{path}");
        }
    }
}

#[test]
fn hostile_file_names_cannot_inject_artifact_syntax() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let hostile = "x\" ; flush ruleset ; #\\{}.yaml";
    let text = std::fs::read_to_string(common::root().join("examples/host-firewall/firewall.yaml"))
        .unwrap();
    std::fs::write(input.join(hostile), text).unwrap();
    for f in ["tier.yaml", "host-endpoints.yaml", "inventory.yaml"] {
        std::fs::copy(
            common::root().join("examples/host-firewall").join(f),
            input.join(f),
        )
        .unwrap();
    }
    // Outside the input folder: polc refuses an `--out` inside an input.
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out");
    let o = common::polc()
        .args(["build", "--target", "all", "--out"])
        .arg(&out)
        .arg(".")
        .current_dir(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let nft = std::fs::read_to_string(out.join("policy-llm-worker/polc.nft")).unwrap();
    for l in nft.lines().filter(|l| l.contains("flush")) {
        let c = l
            .find("comment \"")
            .unwrap_or_else(|| panic!("outside a comment: {l}"));
        assert!(l.find("flush").unwrap() > c, "outside a comment: {l}");
    }
    if std::process::Command::new("nft").arg("-v").output().is_ok()
        && std::env::var("POLC_KERNEL_TESTS").is_ok_and(|v| v == "1")
    {
        let c = std::process::Command::new("nft")
            .args(["-c", "-f"])
            .arg(out.join("policy-llm-worker/polc.nft"))
            .output()
            .unwrap();
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    }
    for line in nft.lines().filter_map(|l| l.split_once("comment \"")) {
        assert!(
            line.1.ends_with('"') && line.1.matches('"').count() == 1,
            "the comment closes once, at the end: {line:?}"
        );
    }
    // iptables-restore: the file name reaches only `--comment "..."`, which closes
    // once, before the target.
    let rules = std::fs::read_to_string(out.join("policy-llm-worker/polc.iptables")).unwrap();
    let mut seen = 0;
    for l in rules
        .lines()
        .filter(|l| l.starts_with("-A") && l.contains("flush"))
    {
        let (_, rest) = l
            .split_once("--comment \"")
            .unwrap_or_else(|| panic!("outside a comment: {l}"));
        let (inside, after) = rest.split_once('"').expect("the comment closes");
        assert!(inside.contains("flush") && after.starts_with(" -"), "{l}");
        seen += 1;
    }
    assert!(seen > 0, "the hostile name reaches no rule comment");
}

#[test]
fn templates_can_be_overridden() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("templates/nft");
    std::fs::create_dir_all(&dir).unwrap();
    let stock = std::fs::read_to_string(common::root().join("templates/nft/polc.nft")).unwrap();
    std::fs::write(
        dir.join("polc.nft"),
        format!("# site header: reviewed by netsec\n{stock}"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = common::polc()
        .args(["build", "--target", "nft", "--templates"])
        .arg(tmp.path().join("templates"))
        .arg("--out")
        .arg(&out)
        .arg("examples/host-firewall")
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let nft = std::fs::read_to_string(out.join("policy-llm-worker/polc.nft")).unwrap();
    assert!(nft.starts_with("# site header: reviewed by netsec\n"));
    // A template that names an undefined variable is an error, not an empty string.
    std::fs::write(dir.join("polc.nft"), "{{ no_such_thing }}").unwrap();
    let o = common::polc()
        .args(["build", "--target", "nft", "--templates"])
        .arg(tmp.path().join("templates"))
        .arg("--out")
        .arg(tmp.path().join("out2"))
        .arg("examples/host-firewall")
        .current_dir(common::root())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!tmp.path().join("out2").exists(), "nothing half-written");
}
