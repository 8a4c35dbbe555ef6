//! Reproducible builds as tested properties: `polc build` writes the same bytes for the
//! same input from any checkout path, however the paths are typed, in any file order;
//! artifacts name sources relative to the repository root (the git top-level, else
//! the input folder); every manifest written conforms to `docs/manifest.schema.json`.
//!
//! Diff locality (typical edits change only what they touch) is in
//! `tests/diff_locality.rs`.

mod common;
#[path = "common/gen.rs"]
mod scenario_gen;

use std::collections::BTreeMap;
use std::path::Path;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

/// `polc build --target all` run in `cwd` over `inputs` (as typed): the output tree
/// (every file's text by path), its manifest checked against the schema. Panics when
/// the build fails.
fn build_in(cwd: &Path, inputs: &[&str]) -> BTreeMap<String, String> {
    let out = tempfile::tempdir().unwrap();
    let o = common::polc()
        .current_dir(cwd)
        // Generated and edited policy may hold rules that never take effect: the
        // artifacts are what these tests compare.
        .args([
            "build",
            "--allow",
            "shadowed-rule",
            "--allow",
            "unreachable-rule",
        ])
        .args(["--target", "all", "--out"])
        .arg(out.path().join("o"))
        .args(inputs)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "build in {} of {inputs:?}: {}",
        cwd.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let tree = common::read_tree(&out.path().join("o"));
    let problems = common::manifest_problems(&tree["manifest.json"], Some(&tree));
    assert!(problems.is_empty(), "manifest.json: {problems:#?}");
    tree
}

/// Copy an example folder to `dest`.
fn copy_example(example: &str, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for (name, text) in common::example_files(&format!("examples/{example}"), |_, t| t) {
        std::fs::write(dest.join(name), text).unwrap();
    }
}

/// The first differing file of two trees, for a failure message.
fn first_difference(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> String {
    if a.keys().ne(b.keys()) {
        return format!("files {:?} vs {:?}", a.keys(), b.keys());
    }
    for (path, text) in a {
        if *text != b[path] {
            let diff = similar::TextDiff::from_lines(text.as_str(), b[path].as_str())
                .unified_diff()
                .header(path, path)
                .to_string();
            return diff.lines().take(30).collect::<Vec<_>>().join("\n");
        }
    }
    String::new()
}

#[test]
fn any_checkout_path_and_any_spelling_of_it_give_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    // Two checkouts of one repository at different depths; the policies in `policy/`.
    let a = tmp.path().join("a");
    let b = tmp.path().join("x/y/checkout-b");
    for repo in [&a, &b] {
        copy_example("host-firewall", &repo.join("policy"));
        std::fs::create_dir_all(repo.join(".git")).unwrap();
    }
    let abs = a.join("policy");
    let reference = build_in(tmp.path(), &[abs.to_str().unwrap()]);
    let variants: Vec<(&Path, String)> = vec![
        (&a, "policy".into()),
        (&a, "./policy/".into()),
        (&abs, ".".into()),
        (&abs, "../policy".into()),
        (tmp.path(), "a/policy".into()),
        (tmp.path(), "x/y/checkout-b/policy".into()),
        (&b, b.join("policy").to_str().unwrap().into()),
    ];
    for (cwd, input) in &variants {
        let tree = build_in(cwd, &[input]);
        assert!(
            tree == reference,
            "`polc build {input}` in {} differs:\n{}",
            cwd.display(),
            first_difference(&reference, &tree)
        );
    }
    // Sources are named from the git top-level, never absolute nor as typed.
    let artifact = &reference["policy-llm-worker/polc.nft"];
    assert!(
        artifact.contains(" policy/firewall.yaml:"),
        "no repository-relative source path in:\n{artifact}"
    );
    let base = tmp.path().to_string_lossy();
    assert!(reference.values().all(|t| !t.contains(base.as_ref())));
    // Files named one by one, in another order, are the same input.
    let files = [
        "policy/tier.yaml",
        "policy/inventory.yaml",
        "policy/host-endpoints.yaml",
        "policy/firewall.yaml",
    ];
    assert!(build_in(&b, &files) == reference);
}

#[test]
fn without_git_sources_are_named_from_the_input_folder() {
    let tmp = tempfile::tempdir().unwrap();
    copy_example("three-tiers", &tmp.path().join("one/policies"));
    copy_example("three-tiers", &tmp.path().join("two/deeper/policies"));
    let one = build_in(tmp.path(), &["one/policies"]);
    let two = build_in(&tmp.path().join("two"), &["deeper/policies/"]);
    assert!(one == two, "{}", first_difference(&one, &two));
    assert!(one["n2/polc.nft"].contains(" policies.yaml:"));
}

/// Split a YAML stream into its documents (every generated document is separated by
/// a `---` line).
fn documents(text: &str) -> Vec<String> {
    text.split("\n---\n")
        .map(|d| d.trim_matches('\n').to_string())
        .filter(|d| !d.trim().is_empty() && d.trim() != "---")
        .collect()
}

/// Write `files` into `dir` in the given order (creation order shapes the order
/// `readdir` lists them in on most filesystems).
fn write_files(dir: &Path, files: &[(String, String)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

#[test]
fn any_file_order_and_any_document_order_give_the_same_artifacts() {
    let knobs = scenario_gen::Knobs {
        invalid: 0.0,
        ..scenario_gen::Knobs::default()
    };
    let mut checked = 0;
    for seed in 0..24u64 {
        let scenario = scenario_gen::scenario(seed, &knobs);
        let tmp = tempfile::tempdir().unwrap();
        write_files(&tmp.path().join("in"), &scenario.files);
        let reference = build_in(tmp.path(), &["in"]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // The same files, created in another order and named on the command line in
        // another order: the same bytes, manifest included.
        let mut files = scenario.files.clone();
        files.shuffle(&mut rng);
        write_files(&tmp.path().join("again/in"), &files);
        let names: Vec<String> = files.iter().map(|(n, _)| format!("in/{n}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let again = build_in(&tmp.path().join("again"), &names);
        assert!(
            again == reference,
            "seed {seed}: file order changed the output:\n{}",
            first_difference(&reference, &again)
        );
        // Every document moved to a random place in a random file under a random
        // name: the same artifacts but for the source locations in comments.
        let mut docs: Vec<String> = scenario
            .files
            .iter()
            .flat_map(|(_, t)| documents(t))
            .collect();
        docs.shuffle(&mut rng);
        let mut shuffled: Vec<(String, String)> = (0..3)
            .map(|i| (format!("z{}-{i}.yaml", seed * 7 % 5), String::new()))
            .collect();
        for (i, d) in docs.iter().enumerate() {
            let f = &mut shuffled[(i * 5 + seed as usize) % 3].1;
            f.push_str("---\n");
            f.push_str(d);
            f.push('\n');
        }
        write_files(&tmp.path().join("moved"), &shuffled);
        let moved = build_in(tmp.path(), &["moved"]);
        assert_eq!(moved.len(), reference.len(), "seed {seed}");
        for (path, text) in &reference {
            if path == "manifest.json" {
                continue;
            }
            let (want, got) = (
                common::without_locations(text),
                common::without_locations(&moved[path]),
            );
            assert!(
                want == got,
                "seed {seed}: moving documents changed {path} beyond source locations:\n{}",
                similar::TextDiff::from_lines(want.as_str(), got.as_str()).unified_diff()
            );
        }
        checked += 1;
    }
    eprintln!("determinism: {checked} scenarios, each built from 3 layouts: identical");
}

#[test]
fn every_golden_manifest_conforms_to_the_schema() {
    let golden = common::root().join("golden");
    let mut seen = 0;
    for e in std::fs::read_dir(&golden).unwrap() {
        let dir = e.unwrap().path();
        if !dir.join("manifest.json").is_file() {
            continue;
        }
        let tree = common::read_tree(&dir);
        let built: BTreeMap<String, String> = tree
            .into_iter()
            .filter(|(p, _)| p.contains('/') || p == "manifest.json")
            .collect();
        let problems = common::manifest_problems(&built["manifest.json"], Some(&built));
        assert!(problems.is_empty(), "{}: {problems:#?}", dir.display());
        seen += 1;
    }
    assert!(seen >= 3);
}

#[test]
fn the_manifest_digests_the_input_it_was_built_from() {
    use sha2::Digest;
    let tmp = tempfile::tempdir().unwrap();
    copy_example("three-tiers", &tmp.path().join("p"));
    let tree = build_in(tmp.path(), &["p"]);
    let manifest: serde_json::Value = serde_json::from_str(&tree["manifest.json"]).unwrap();
    // Recomputed as the schema documents it: files by relative path, length-prefixed.
    let mut hash = sha2::Sha256::new();
    for name in ["inventory.yaml", "policies.yaml"] {
        let text = std::fs::read(tmp.path().join("p").join(name)).unwrap();
        for part in [name.as_bytes(), &text] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
    }
    let want: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(manifest["input"]["sha256"], want.as_str());
    assert_eq!(manifest["input"]["files"], 2);
    // A byte of input that changes no artifact still changes the digest.
    std::fs::write(
        tmp.path().join("p/inventory.yaml"),
        std::fs::read_to_string(tmp.path().join("p/inventory.yaml")).unwrap() + "# note\n",
    )
    .unwrap();
    let edited = build_in(tmp.path(), &["p"]);
    let m2: serde_json::Value = serde_json::from_str(&edited["manifest.json"]).unwrap();
    assert_ne!(m2["input"], manifest["input"]);
    assert_eq!(m2["artifacts"], manifest["artifacts"]);
}

#[test]
fn the_repository_root_is_what_git_calls_the_top_level() {
    let Ok(v) = std::process::Command::new("git").arg("--version").output() else {
        eprintln!("SKIPPED: no `git` binary to compare with (the walk needs none)");
        return;
    };
    assert!(v.status.success());
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_example("three-tiers", &repo.join("deploy/policy"));
    let init = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(init.status.success());
    let top = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(repo.join("deploy/policy"))
        .output()
        .unwrap();
    let top = String::from_utf8(top.stdout).unwrap();
    let top = std::fs::canonicalize(top.trim()).unwrap();
    let input = repo.join("deploy/policy");
    assert_eq!(
        polc::frontend::root::repo_root(std::slice::from_ref(&input)),
        Some(top)
    );
    let tree = build_in(&input, &["."]);
    assert!(tree["n2/polc.nft"].contains(" deploy/policy/policies.yaml:"));
}
