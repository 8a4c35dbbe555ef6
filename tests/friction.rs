//! What a new user trips over: `build` refuses what `check` rejects and then writes
//! nothing; inputs without manifests fail; `--node` typos get suggestions; `-o` and
//! `--out` on every command that writes; `--exit-code` for `explain` and `selector`.

mod common;

use std::path::Path;

use common::{polc, root};

const SHADOWED: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: shop, labels: {app: db}}\n\
spec: {nodeName: node-a, containers: [{name: db}]}\nstatus: {podIP: 10.0.0.5}\n---\n\
apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\n\
spec:\n  selector: app == 'db'\n  ingress:\n    - action: Allow\n      protocol: TCP\n      \
destination: {ports: [5432]}\n    - action: Deny\n      protocol: TCP\n      \
source: {nets: [10.9.0.0/16]}\n      destination: {ports: [5432]}\n";

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = polc().args(args).current_dir(dir).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every file under `dir` with its bytes, sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn build_refuses_what_check_rejects_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pol")).unwrap();
    std::fs::write(dir.path().join("pol/db.yaml"), SHADOWED).unwrap();
    let (check_code, _, check_err) = run(dir.path(), &["check", "pol"]);
    assert_eq!(check_code, Some(1));
    assert!(check_err.contains("error[shadowed-rule]"));
    // No output folder yet: none is created.
    let (code, stdout, stderr) = run(
        dir.path(),
        &["build", "--target", "nft", "-o", "out", "pol"],
    );
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("pol/db.yaml:20:7: error[shadowed-rule]"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was built"), "{stderr}");
    assert!(stdout.is_empty());
    assert!(!dir.path().join("out").exists());
    // An earlier output stays exactly as it was.
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "build",
            "--target",
            "nft",
            "-o",
            "out",
            "pol",
            "--allow",
            "shadowed-rule",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let before = tree(&dir.path().join("out"));
    assert!(!before.is_empty());
    std::fs::write(
        dir.path().join("pol/db.yaml"),
        SHADOWED.replace("podIP: 10.0.0.5", "podIP: 10.0.0.6"),
    )
    .unwrap();
    let (code, _, _) = run(
        dir.path(),
        &["build", "--target", "nft", "--out", "out", "pol"],
    );
    assert_eq!(code, Some(1));
    assert_eq!(tree(&dir.path().join("out")), before);
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn build_denies_warnings_like_check() {
    // An unresolvable service: a warning only.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("svc.yaml"),
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n\
         metadata:\n  name: svc\n  namespace: prod\nspec:\n  egress:\n    - action: Allow\n      \
         destination:\n        services:\n          name: api\n",
    )
    .unwrap();
    let args = ["build", "--target", "nft", "-o", "out", "svc.yaml"];
    let (code, _, stderr) = run(dir.path(), &[&args[..], &["--deny", "warnings"]].concat());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("warning[services-unresolved]"));
    assert!(!dir.path().join("out").exists());
    let (code, _, stderr) = run(dir.path(), &args);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("warning[services-unresolved]"),
        "build shows warnings: {stderr}"
    );
}

#[test]
fn inputs_without_manifests_fail_check_and_build() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/README.md"), "# not a manifest\n").unwrap();
    std::fs::write(dir.path().join("comments.yaml"), "# only a comment\n---\n").unwrap();
    for path in ["empty", "docs", "comments.yaml"] {
        let (code, _, stderr) = run(dir.path(), &["check", path]);
        assert_eq!(code, Some(1), "{path}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "error[no-manifests]: found no manifests under `{path}`"
            )),
            "{stderr}"
        );
        let (code, _, _) = run(dir.path(), &["build", "--target", "nft", "-o", "out", path]);
        assert_eq!(code, Some(1), "{path}");
        assert!(!dir.path().join("out").exists());
    }
    let (code, stdout, _) = run(dir.path(), &["check", "--format", "json", "empty"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["diagnostics"][0]["code"], "no-manifests");
    // Empty standard input (a generator that printed nothing) fails too.
    let o = polc()
        .args(["check", "-"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    // A path that does not exist stays a usage error.
    assert_eq!(run(dir.path(), &["check", "nope"]).0, Some(2));
}

#[test]
fn an_unknown_node_gets_the_nearest_names() {
    let (code, _, stderr) = run(
        &root(),
        &[
            "build",
            "--target",
            "nft",
            "-o",
            "/nonexistent-out",
            "--node",
            "policy-llm-workr",
            "examples/host-firewall",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            "--node policy-llm-workr: no such node in the input; did you mean `policy-llm-worker`?"
        ),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let (code, _, stderr) = run(
        &root(),
        &[
            "build",
            "--target",
            "nft",
            "-o",
            out,
            "--node",
            "gateway",
            "examples/host-firewall",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("--node gateway: no such node in the input; the nearest: `policy-llm-")
            && stderr.contains("`policy-llm-worker`")
            && stderr.contains("`policy-llm-control-plane`"),
        "{stderr}"
    );
    assert!(!Path::new(out).exists());
}

#[test]
fn o_and_out_are_one_spelling_for_every_command_that_writes() {
    let dir = tempfile::tempdir().unwrap();
    let ex = root().join("examples/host-firewall");
    let ex = ex.to_str().unwrap();
    for flag in ["-o", "--out", "--output"] {
        let file = dir.path().join(format!("m{flag}.json"));
        let file = file.to_str().unwrap();
        let (code, stdout, stderr) =
            run(dir.path(), &["matrix", "--format", "json", flag, file, ex]);
        assert_eq!(code, Some(0), "{flag}: {stderr}");
        assert!(stdout.is_empty());
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        assert!(v["endpoints"].is_array());
    }
    for flag in ["-o", "--out"] {
        let out = dir.path().join(format!("b{flag}"));
        let (code, _, stderr) = run(
            dir.path(),
            &["build", "--target", "nft", flag, out.to_str().unwrap(), ex],
        );
        assert_eq!(code, Some(0), "{flag}: {stderr}");
        assert!(out.join("manifest.json").is_file());
    }
}

#[test]
fn explain_and_selector_exit_codes_for_scripts() {
    let explain = |port: &str, extra: &[&str]| {
        let mut args = vec![
            "explain",
            "examples/host-firewall",
            "--from",
            "dev/frontend",
            "--to",
            "host/node-control-plane",
            "--port",
            port,
        ];
        args.extend_from_slice(extra);
        run(&root(), &args)
    };
    let (code, stdout, _) = explain("10250/tcp", &["--exit-code"]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("verdict: DENIED"), "{stdout}");
    assert_eq!(
        explain("10250/tcp", &[]).0,
        Some(0),
        "without the flag the verdict is output only"
    );
    let (code, stdout, _) = explain("22/tcp", &["--exit-code"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("verdict: ALLOWED"), "{stdout}");
    assert_eq!(
        explain("10250/tcp", &["--exit-code", "--format", "json"]).0,
        Some(1)
    );

    let selector = |labels: &str, extra: &[&str]| {
        let mut args = vec!["selector", "role == 'node'", "--labels", labels];
        args.extend_from_slice(extra);
        run(&root(), &args).0
    };
    assert_eq!(selector(r#"{"role": "node"}"#, &["--exit-code"]), Some(0));
    assert_eq!(selector(r#"{"role": "db"}"#, &["--exit-code"]), Some(1));
    assert_eq!(selector(r#"{"role": "db"}"#, &[]), Some(0));
    assert_eq!(
        selector(r#"{"role": "db"}"#, &["--exit-code", "--format", "json"]),
        Some(1)
    );
    // `--exit-code` needs labels to match against.
    assert_eq!(
        run(&root(), &["selector", "all()", "--exit-code"]).0,
        Some(2)
    );
}
