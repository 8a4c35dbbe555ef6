//! `polc diff` and `polc bless` as a user drives them: golden trees (equal, changed,
//! added, removed; atomic bless that refuses folders polc did not write; Markdown cut
//! to a size; the JSON contracts), the semantic diff against a git revision of a real
//! temporary repository and against a folder, change intents, the HTML page, and a
//! property: the cells reported as changed are exactly those whose evaluator verdict
//! differs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Std;

use common::{polc, root};
use serde_json::Value;

fn example() -> PathBuf {
    root().join("examples/host-firewall")
}

/// Build the example into `dir` with `polc build`.
fn build_into(dir: &Path) {
    let o = polc()
        .args(["build", "--target", "nft", "--out"])
        .arg(dir)
        .arg(example())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn diff_golden(golden: &Path, extra: &[&str]) -> (i32, String, String) {
    let o = polc()
        .arg("diff")
        .arg(example())
        .arg("--golden")
        .arg(golden)
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn schema_violations(schema: &str, v: &Value) -> Vec<String> {
    let path = root().join("tests/schemas").join(schema);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::options().build(&schema).unwrap();
    validator
        .iter_errors(v)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn golden_equal_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = tmp.path().join("golden");
    build_into(&golden);
    let (code, out, err) = diff_golden(&golden, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("equal"), "{out}");
    let (code, out, _) = diff_golden(&golden, &["--format", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["equal"], true);
    assert!(v["differ"].as_array().unwrap().is_empty());
    assert_eq!(
        schema_violations("polc-diff-golden.schema.json", &v),
        Vec::<String>::new()
    );
    // The checked-in goldens of the repository are what `diff` renders.
    let o = polc()
        .args([
            "diff",
            "examples/host-firewall",
            "--golden",
            "golden/host-firewall",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// A golden tree with one artifact edited, one deleted and one stray file added.
fn tampered() -> (tempfile::TempDir, PathBuf, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let golden = tmp.path().join("golden");
    build_into(&golden);
    let mut nodes: Vec<String> = std::fs::read_dir(&golden)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    nodes.sort();
    assert!(nodes.len() >= 2, "the example has two nodes");
    let edited = golden.join(&nodes[0]).join("polc.nft");
    let text = std::fs::read_to_string(&edited).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(3, "# a line someone added by hand");
    lines.remove(10);
    std::fs::write(&edited, lines.join("\n") + "\n").unwrap();
    std::fs::remove_file(golden.join(&nodes[1]).join("polc.nft")).unwrap();
    std::fs::create_dir(golden.join("retired-node")).unwrap();
    std::fs::write(golden.join("retired-node/polc.nft"), "table inet polc {}\n").unwrap();
    (tmp, golden, nodes[0].clone(), nodes[1].clone())
}

#[test]
fn golden_changed_added_removed() {
    let (_tmp, golden, edited, deleted) = tampered();
    let (code, out, err) = diff_golden(&golden, &["--format", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        schema_violations("polc-diff-golden.schema.json", &v),
        Vec::<String>::new()
    );
    let status = |path: &str| {
        v["differ"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| f["status"].as_str().unwrap().to_string())
    };
    assert_eq!(
        status(&format!("{edited}/polc.nft")).as_deref(),
        Some("changed")
    );
    assert_eq!(
        status(&format!("{deleted}/polc.nft")).as_deref(),
        Some("added")
    );
    assert_eq!(status("retired-node/polc.nft").as_deref(), Some("removed"));
    assert_eq!(
        status("manifest.json"),
        None,
        "the manifest was not touched"
    );
    let changed = v["differ"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["status"] == "changed")
        .unwrap();
    // The hand-added line is removed by the rendering; the dropped line comes back.
    assert_eq!(changed["added_lines"], 1);
    assert_eq!(changed["removed_lines"], 1);
    let unified = changed["unified"].as_str().unwrap();
    assert!(
        unified.contains("-# a line someone added by hand"),
        "{unified}"
    );
    assert!(unified.starts_with(&format!(
        "--- a/{edited}/polc.nft\n+++ b/{edited}/polc.nft\n@@"
    )));
    // Text: a list, then the diffs; no colour when not asked.
    let (code, text, _) = diff_golden(&golden, &[]);
    assert_eq!(code, 1);
    assert!(
        text.contains(&format!("changed  {edited}/polc.nft (+1 -1)")),
        "{text}"
    );
    assert!(text.contains("removed  retired-node/polc.nft"), "{text}");
    assert!(!text.contains('\x1b'));
    // --color always paints the diff lines.
    let o = assert_cmd::Command::cargo_bin("polc")
        .unwrap()
        .args(["--color", "always", "diff"])
        .arg(example())
        .arg("--golden")
        .arg(&golden)
        .output()
        .unwrap();
    let coloured = String::from_utf8_lossy(&o.stdout);
    assert!(
        coloured.contains("\x1b[31m-# a line someone added by hand"),
        "{coloured}"
    );
}

#[test]
fn bless_rewrites_atomically_and_refuses_foreign_folders() {
    let (tmp, golden, _, _) = tampered();
    let (code, _, err) = diff_golden(&golden, &["--bless"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        diff_golden(&golden, &[]).0,
        0,
        "blessed tree equals the rendering"
    );
    assert!(
        !golden.join("retired-node").exists(),
        "the stray file went with the old tree"
    );
    // `polc bless` is the same; it leaves no staged folder or lock behind.
    let o = polc()
        .arg("bless")
        .arg(example())
        .arg("--golden")
        .arg(&golden)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let leftovers: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "golden")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A folder polc did not write is refused, untouched (exit 2), by both spellings.
    let foreign = tmp.path().join("notes");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("todo.txt"), "keep me").unwrap();
    for args in [
        vec!["bless".to_string()],
        vec!["diff".to_string(), "--bless".to_string()],
    ] {
        let o = polc()
            .args(&args)
            .arg(example())
            .arg("--golden")
            .arg(&foreign)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(
            std::fs::read_to_string(foreign.join("todo.txt")).unwrap(),
            "keep me"
        );
        assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
    }
    // An input folder is refused as a golden tree, as for `build --out`.
    let o = polc()
        .arg("bless")
        .arg(example())
        .arg("--golden")
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn markdown_report_is_cut_to_its_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("none");
    std::fs::create_dir(&empty).unwrap();
    let (code, full, _) = diff_golden(&empty, &["--format", "markdown"]);
    assert_eq!(code, 1);
    assert!(
        full.contains("| node | target | file | status | added | removed |"),
        "{full}"
    );
    assert!(
        full.contains("<details><summary><code>manifest.json</code> added"),
        "{full}"
    );
    assert!(
        !full.contains("cut to"),
        "the whole report fits the default limit"
    );
    assert!(
        full.len() > 4000,
        "the example renders more than the cut below"
    );
    let (code, cut, _) = diff_golden(&empty, &["--format", "markdown", "--max-bytes", "3000"]);
    assert_eq!(code, 1);
    assert!(cut.len() <= 3000, "{} bytes", cut.len());
    assert!(cut.contains("this report is cut to 3000 bytes"), "{cut}");
    assert_eq!(
        cut.matches("<details>").count(),
        cut.matches("</details>").count(),
        "every opened section is closed"
    );
    let fences = cut.lines().filter(|l| l.starts_with("```")).count();
    assert_eq!(fences % 2, 0, "every code fence is closed:\n{cut}");
    // Below the smallest useful limit is a usage error.
    assert_eq!(
        diff_golden(&empty, &["--format", "markdown", "--max-bytes", "10"]).0,
        2
    );
}

#[test]
fn usage_errors_exit_2() {
    let o = polc().arg("diff").arg(example()).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "neither --golden nor --base");
    let o = polc()
        .arg("diff")
        .arg(example())
        .args(["--golden", "x", "--base", "y"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = polc()
        .arg("diff")
        .arg(example())
        .args(["--base", "no-such-revision-or-folder"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("neither a folder nor a revision"));
    let o = polc()
        .arg("diff")
        .arg(example())
        .args(["--golden", "golden/host-firewall", "--format", "html"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

// ---- semantic diff ----

fn git(dir: &Path, args: &[&str]) {
    let o = Std::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=polc test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The edit of the semantic tests: the host firewall also admits TCP 10250 from
/// anywhere, before its node-only rule.
const KUBELET_RULE: &str = "  ingress:\n    - action: Allow\n      protocol: TCP\n      destination:\n        ports: [10250]\n";

fn open_kubelet(manifests: &Path) {
    let path = manifests.join("firewall.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("  ingress:\n", KUBELET_RULE, 1);
    assert_ne!(text, edited);
    std::fs::write(&path, edited).unwrap();
}

/// A repository with the example committed, then the edit committed.
fn repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q"]);
    copy_dir(&example(), &repo.join("manifests"));
    std::fs::write(repo.join("README.md"), "not a manifest\n").unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "base"]);
    open_kubelet(&repo.join("manifests"));
    git(repo, &["commit", "-q", "-am", "open the kubelet port"]);
    tmp
}

fn semantic(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = polc()
        .arg("diff")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn semantic_diff_against_a_revision_and_a_folder() {
    let tmp = repo();
    let repo = tmp.path();
    let (code, text, err) = semantic(repo, &["manifests", "--base", "HEAD~1"]);
    assert_eq!(code, 1, "{text}{err}");
    assert!(
        text.contains("prod/backend -> host/node-worker TCP 10250: denied -> allowed"),
        "{text}"
    );
    // The deciding rule on each side, file:line:col, named as in the working tree.
    assert!(
        text.contains(
            "before: end of tier host-firewall: defaultAction Deny (manifests/tier.yaml:"
        ),
        "{text}"
    );
    assert!(
        text.contains("ingress rule 0 at manifests/firewall.yaml:14:7"),
        "{text}"
    );
    // Nothing changed against HEAD itself.
    let (code, text, _) = semantic(repo, &["manifests", "--base", "HEAD"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 cell(s) changed"));
    // Paths are resolved against the top-level: the same from a subfolder.
    let (code, sub, _) = semantic(
        &repo.join("manifests"),
        &[".", "--base", "HEAD~1", "--format", "json"],
    );
    assert_eq!(code, 1);
    let sub: Value = serde_json::from_str(&sub).unwrap();
    // The base as a folder: the old manifests copied out.
    let old = tmp.path().join("old");
    copy_dir(&example(), &old);
    let (code, json, err) = semantic(
        repo,
        &[
            "manifests",
            "--base",
            old.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let folder: Value = serde_json::from_str(&json).unwrap();
    let (_, json, _) = semantic(repo, &["manifests", "--base", "HEAD~1", "--format", "json"]);
    let rev: Value = serde_json::from_str(&json).unwrap();
    for v in [&sub, &folder, &rev] {
        assert_eq!(
            schema_violations("polc-diff-semantic.schema.json", v),
            Vec::<String>::new()
        );
    }
    assert_eq!(rev["base"]["kind"], "revision");
    assert_eq!(folder["base"]["kind"], "folder");
    let pairs = |v: &Value| -> Vec<(String, String, String)> {
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| {
                c["changes"].as_array().unwrap().iter().map(move |ch| {
                    (
                        c["from"].as_str().unwrap().to_string(),
                        c["to"].as_str().unwrap().to_string(),
                        ch["what"].as_str().unwrap().to_string(),
                    )
                })
            })
            .collect()
    };
    assert!(!pairs(&rev).is_empty());
    assert_eq!(
        pairs(&rev),
        pairs(&folder),
        "a folder base and a revision base agree"
    );
    assert_eq!(pairs(&rev), pairs(&sub));
    // Uncommitted edits are the new side; the base stays the revision.
    let fw = repo.join("manifests/firewall.yaml");
    let committed = std::fs::read_to_string(&fw).unwrap();
    std::fs::write(
        &fw,
        committed.replace("ports: [10250]", "ports: [10250, 10255]"),
    )
    .unwrap();
    let (code, text, _) = semantic(repo, &["manifests", "--base", "HEAD"]);
    assert_eq!(code, 1);
    assert!(text.contains("TCP 10255: denied -> allowed"), "{text}");
    assert!(!text.contains("TCP 10250:"), "{text}");
}

#[test]
fn intent_pass_fail_and_bad_files() {
    let tmp = repo();
    let repo = tmp.path();
    let write = |name: &str, text: &str| {
        std::fs::write(repo.join(name), text).unwrap();
        name.to_string()
    };
    // Every changed cell: pods to every host, TCP 10250.
    let all = write(
        "all.yaml",
        "- from: has(app)\n  to: role == 'node'\n  ports: [10250/tcp]\n  verdict: allowed\n  reason: kubelet\n",
    );
    let (code, text, err) = semantic(repo, &["manifests", "--base", "HEAD~1", "--intent", &all]);
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("holds"), "{text}");
    // Too narrow: one cell only; the others are outside the intent and named.
    let narrow = write(
        "narrow.yaml",
        "- from: prod/backend\n  to: host/node-worker\n  ports: [10250/tcp]\n  verdict: allowed\n",
    );
    let (code, text, _) = semantic(
        repo,
        &[
            "manifests",
            "--base",
            "HEAD~1",
            "--intent",
            &narrow,
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema_violations("polc-diff-semantic.schema.json", &v),
        Vec::<String>::new()
    );
    let outside = v["intent"]["outside"].as_array().unwrap();
    assert!(!outside.is_empty());
    assert!(outside.iter().all(|o| o["what"] == "TCP 10250"));
    assert!(
        outside
            .iter()
            .all(|o| !(o["from"] == "prod/backend" && o["to"] == "host/node-worker"))
    );
    assert_eq!(
        outside.len() + 1,
        v["cells"].as_array().unwrap().len(),
        "every changed cell but the intended one is outside"
    );
    // Wrong verdict: the intent says 10250 stays denied, and 10255 opens, which did not happen.
    let wrong = write(
        "wrong.yaml",
        "- from: has(app)\n  to: role == 'node'\n  ports: [10250/tcp]\n  verdict: allowed\n- from: prod/backend\n  to: 172.16.0.0/12\n  ports: [10255/tcp]\n  verdict: allowed\n",
    );
    let (code, text, _) = semantic(repo, &["manifests", "--base", "HEAD~1", "--intent", &wrong]);
    assert_eq!(code, 1);
    assert!(
        text.contains("not as intended (entry 2 at wrong.yaml:5:9): prod/backend -> host/node-worker TCP 10255 is denied, the intent says allowed"),
        "{text}"
    );
    // A bad file: path:line:col through the one diagnostic type; exit 1.
    for (body, at, what) in [
        (
            "- from: prod/backend\n  to: host/node-worker\n  verdict: allow-ish\n",
            "bad.yaml:3:12",
            "verdict `allow-ish`",
        ),
        (
            "- from: prod/backend\n  to: host/node-worker\n  verdict: allowed\n  port: [1]\n",
            "bad.yaml:4:3",
            "unknown field `port`",
        ),
        (
            "- from: prod/backend\n  to: nope/nothing\n  verdict: allowed\n",
            "bad.yaml:2:7",
            "`nope/nothing` names no endpoint",
        ),
        (
            "- from: prod/backend\n  to: host/node-worker\n  ports: [99999/tcp]\n  verdict: allowed\n",
            "bad.yaml:3:11",
            "not a port number",
        ),
        (
            "- from: app == 'nothing-has-this'\n  to: host/node-worker\n  verdict: denied\n",
            "bad.yaml:1:9",
            "names no endpoint of either model",
        ),
    ] {
        let bad = write("bad.yaml", body);
        let (code, _, err) = semantic(repo, &["manifests", "--base", "HEAD~1", "--intent", &bad]);
        assert_eq!(code, 1, "{body}");
        assert!(
            err.contains(&format!("{at}: error[invalid-intent]")),
            "{body}\n{err}"
        );
        assert!(err.contains(what), "{err}");
    }
}

#[test]
fn html_page_draws_both_matrices_with_changed_cells() {
    let tmp = repo();
    let repo = tmp.path();
    let page = repo.join("diff.html");
    let (code, _, err) = semantic(
        repo,
        &[
            "manifests",
            "--base",
            "HEAD~1",
            "--format",
            "html",
            "-o",
            page.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    for tag in ["table", "tr", "thead", "tbody", "ul", "li", "div", "code"] {
        assert_eq!(
            html.matches(&format!("<{tag}")).count(),
            html.matches(&format!("</{tag}>")).count(),
            "<{tag}> opened and closed alike"
        );
    }
    assert!(!html.contains("<script"), "self-contained and inert");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched"
    );
    let (_, json, _) = semantic(repo, &["manifests", "--base", "HEAD~1", "--format", "json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(
        html.matches(" changed\" title=").count(),
        2 * cells.len(),
        "each changed cell is highlighted in the before and the after matrix"
    );
    for c in cells {
        let line = format!(
            "{} -&gt; {} TCP 10250: denied -&gt; allowed",
            c["from"].as_str().unwrap().replace('/', "&#x2f;"),
            c["to"].as_str().unwrap().replace('/', "&#x2f;")
        );
        assert!(html.contains(&line), "{line}");
    }
}

// ---- property: reported cells are exactly the cells whose verdict differs ----

#[path = "common/gen.rs"]
mod scenario_gen;

use polc::semantics::{EndpointRef, Engine, Packet};

/// Drop one document that is a policy (a random edit of the kind PRs make).
fn drop_a_policy(files: &[(String, String)], pick: u64) -> Option<Vec<(String, String)>> {
    let mut docs: Vec<(usize, usize)> = Vec::new();
    for (fi, (_, text)) in files.iter().enumerate() {
        for (di, doc) in text.split("\n---\n").enumerate() {
            if doc.contains("kind: GlobalNetworkPolicy") || doc.contains("kind: NetworkPolicy") {
                docs.push((fi, di));
            }
        }
    }
    if docs.is_empty() {
        return None;
    }
    let (fi, di) = docs[(pick as usize) % docs.len()];
    let mut out = files.to_vec();
    let kept: Vec<&str> = files[fi]
        .1
        .split("\n---\n")
        .enumerate()
        .filter(|(i, _)| *i != di)
        .map(|(_, d)| d)
        .collect();
    out[fi].1 = kept.join("\n---\n");
    Some(out)
}

fn load(files: &[(String, String)]) -> Option<polc::frontend::Loaded> {
    let mut s = polc::source::Sources::default();
    for (n, t) in files {
        s.add(n.clone(), t.clone());
    }
    let l = polc::frontend::load_sources(s);
    (!l.diags.has_errors()).then_some(l)
}

#[test]
fn reported_cells_are_exactly_the_cells_whose_verdict_differs() {
    use polc::ir::Protocol;
    let knobs = scenario_gen::Knobs {
        invalid: 0.0,
        ..scenario_gen::Knobs::default()
    };
    let (mut checked, mut differing) = (0usize, 0usize);
    for seed in scenario_gen::seeds(40) {
        let sc = scenario_gen::scenario(seed, &knobs);
        let Some(edited) = drop_a_policy(&sc.files, seed.wrapping_mul(7919)) else {
            continue;
        };
        let (Some(old), Some(new)) = (load(&sc.files), load(&edited)) else {
            continue;
        };
        let (eo, en) = (Engine::new(&old.model), Engine::new(&new.model));
        let d = polc::review::cells::diff(&eo, &en);
        let reported = |from: &str, to: &str, protocol: Protocol, port: u16| {
            d.cells
                .iter()
                .find(|c| c.from == from && c.to == to)
                .and_then(|c| {
                    c.changes.iter().find(|ch| {
                        matches!(ch.what, polc::review::cells::What::Ports { protocol: p, lo, hi }
                        if p == protocol && lo <= port && port <= hi)
                    })
                })
        };
        let mut probes: Vec<u16> = sc.ports.iter().copied().collect();
        probes.extend([1, 22, 1023, 1024, 65535]);
        for name_from in &d.common {
            for name_to in &d.common {
                if name_from == name_to {
                    continue;
                }
                let io = EndpointRef::Known(eo.universe.by_name(name_from).unwrap());
                let jo = EndpointRef::Known(eo.universe.by_name(name_to).unwrap());
                let in_ = EndpointRef::Known(en.universe.by_name(name_from).unwrap());
                let jn = EndpointRef::Known(en.universe.by_name(name_to).unwrap());
                for protocol in [Protocol::TCP, Protocol::UDP] {
                    for &port in &probes {
                        // A port counts as allowed when every ephemeral source port
                        // is: sample the range's ends and middle, and skip the
                        // probes where the source port decides (not this check's
                        // subject).
                        let verdicts = |e: &Engine<'_>, a, b| -> Option<bool> {
                            let vs: Vec<bool> = [32768u16, 40000, 60999]
                                .iter()
                                .map(|&s| {
                                    let mut p = Packet::to_port(protocol, port);
                                    p.sport = s;
                                    e.evaluate(a, b, &p).allowed
                                })
                                .collect();
                            vs.iter().all(|v| *v == vs[0]).then_some(vs[0])
                        };
                        let (Some(before), Some(after)) =
                            (verdicts(&eo, io, jo), verdicts(&en, in_, jn))
                        else {
                            continue;
                        };
                        checked += 1;
                        let r = reported(name_from, name_to, protocol, port);
                        if before != after {
                            differing += 1;
                            let r = r.unwrap_or_else(|| panic!(
                                "seed {seed}: {name_from} -> {name_to} {protocol} {port}: {before} -> {after} not reported\n{}",
                                sc.dump()
                            ));
                            assert_eq!((r.before, r.after), (before, after), "seed {seed}");
                        } else {
                            assert!(
                                r.is_none(),
                                "seed {seed}: {name_from} -> {name_to} {protocol} {port} reported, but the verdict is {before} on both sides\n{}",
                                sc.dump()
                            );
                        }
                    }
                }
            }
        }
        // The reported parts are all real: evaluate each one's first packet.
        for c in &d.cells {
            for ch in &c.changes {
                if let polc::review::cells::What::Ports { protocol, lo, .. } = ch.what {
                    let p = Packet::to_port(protocol, lo);
                    let o = eo.evaluate(
                        EndpointRef::Known(eo.universe.by_name(&c.from).unwrap()),
                        EndpointRef::Known(eo.universe.by_name(&c.to).unwrap()),
                        &p,
                    );
                    let n = en.evaluate(
                        EndpointRef::Known(en.universe.by_name(&c.from).unwrap()),
                        EndpointRef::Known(en.universe.by_name(&c.to).unwrap()),
                        &p,
                    );
                    assert_eq!(o.decider, ch.before_decider, "seed {seed}");
                    assert_eq!(n.decider, ch.after_decider, "seed {seed}");
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} probes were checked");
    assert!(
        differing > 0,
        "no edit changed a verdict: the property was not exercised"
    );
}
