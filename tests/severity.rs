//! Per-code severity: `polc.toml` at the repository root (the git top-level of the
//! inputs, else the current folder), `--allow/--warn/--deny CODE`, a policy's
//! `polc.dev/allow` annotation, their precedence, and the errors for codes that do
//! not exist or cannot be configured; for `check` and `build` alike.

mod common;

use std::path::Path;

use common::polc;

/// A namespace with one pod and a policy whose Deny rule is shadowed by the Allow
/// before it (`error[shadowed-rule]`), optionally annotated.
fn shadowed(ns: &str, ip: &str, annotation: Option<&str>) -> String {
    let meta = match annotation {
        None => format!("metadata: {{name: db, namespace: {ns}}}"),
        Some(a) => format!(
            "metadata:\n  name: db\n  namespace: {ns}\n  annotations:\n    polc.dev/allow: \"{a}\""
        ),
    };
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: db, namespace: {ns}, labels: {{app: db}}}}\n\
         spec: {{nodeName: node-a, containers: [{{name: db}}]}}\nstatus: {{podIP: {ip}}}\n---\n\
         apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n{meta}\nspec:\n  selector: app == 'db'\n  ingress:\n\
         \x20   - action: Allow\n      protocol: TCP\n      destination: {{ports: [5432]}}\n\
         \x20   - action: Deny\n      protocol: TCP\n      source: {{nets: [10.9.0.0/16]}}\n      destination: {{ports: [5432]}}\n"
    )
}

/// A repository (a folder with `.git`) holding `pol/` and, if given, `polc.toml`; the
/// commands run from the folder above it, so only the git lookup finds the file.
fn repo(files: &[(&str, String)], toml: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("pol")).unwrap();
    for (name, text) in files {
        std::fs::write(repo.join("pol").join(name), text).unwrap();
    }
    if let Some(t) = toml {
        std::fs::write(repo.join("polc.toml"), t).unwrap();
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = polc().args(args).current_dir(dir).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn check(dir: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["check", "repo/pol"];
    args.extend_from_slice(extra);
    run(dir, &args)
}

#[test]
fn without_configuration_a_shadowed_rule_is_an_error() {
    let dir = repo(&[("a.yaml", shadowed("shop", "10.0.0.5", None))], None);
    let (code, _, stderr) = check(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("error[shadowed-rule]"), "{stderr}");
}

#[test]
fn polc_toml_at_the_git_top_level_sets_levels_for_check_and_build() {
    let files = [("a.yaml", shadowed("shop", "10.0.0.5", None))];
    let dir = repo(&files, Some("[lints]\nshadowed-rule = \"warn\"\n"));
    let (code, stdout, stderr) = check(dir.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("repo/pol/a.yaml:20:7: warning[shadowed-rule]"),
        "{stderr}"
    );
    assert!(
        stdout.contains("checked 1 file:"),
        "polc.toml is not a manifest: {stdout}"
    );
    let (code, _, stderr) = run(
        dir.path(),
        &["build", "--target", "nft", "-o", "out", "repo/pol"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("warning[shadowed-rule]"));
    assert!(dir.path().join("out/manifest.json").is_file());

    let dir = repo(&files, Some("[lints]\nshadowed-rule = \"allow\"\n"));
    let (code, _, stderr) = check(dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert!(!stderr.contains("shadowed-rule"), "{stderr}");
}

#[test]
fn outside_a_repository_the_current_folder_holds_polc_toml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        shadowed("shop", "10.0.0.5", None),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("polc.toml"),
        "[lints]\nshadowed-rule = \"allow\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run(dir.path(), &["check", "a.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn flags_override_polc_toml_and_the_strictest_flag_wins() {
    let files = [("a.yaml", shadowed("shop", "10.0.0.5", None))];
    let dir = repo(&files, Some("[lints]\nshadowed-rule = \"allow\"\n"));
    let (code, _, stderr) = check(dir.path(), &["--deny", "shadowed-rule"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("error[shadowed-rule]"));
    let (code, _, stderr) = check(dir.path(), &["--warn", "shadowed-rule"]);
    assert_eq!(code, Some(0));
    assert!(stderr.contains("warning[shadowed-rule]"));
    // `--deny warnings` fails on what is still a warning after the per-code levels.
    let (code, _, _) = check(
        dir.path(),
        &["--warn", "shadowed-rule", "--deny", "warnings"],
    );
    assert_eq!(code, Some(1));
    let (code, _, _) = check(
        dir.path(),
        &["--allow", "shadowed-rule", "--warn", "shadowed-rule"],
    );
    assert_eq!(code, Some(0), "warn is stricter than allow, and passes");
    let (code, _, _) = check(
        dir.path(),
        &["--allow", "shadowed-rule", "--deny", "shadowed-rule"],
    );
    assert_eq!(code, Some(1), "deny is the strictest");
    // `warnings = "deny"` in the file, overridden by a flag.
    let dir = repo(
        &files,
        Some("[lints]\nshadowed-rule = \"warn\"\nwarnings = \"deny\"\n"),
    );
    assert_eq!(check(dir.path(), &[]).0, Some(1));
    assert_eq!(check(dir.path(), &["--warn", "warnings"]).0, Some(0));
}

#[test]
fn an_annotation_allows_its_code_for_its_policy_only_and_over_the_flags() {
    let files = [
        (
            "a.yaml",
            shadowed(
                "shop",
                "10.0.0.5",
                Some("shadowed-rule: kept while the subnet migrates"),
            ),
        ),
        ("b.yaml", shadowed("bank", "10.0.0.6", None)),
    ];
    let dir = repo(&files, None);
    let (code, _, stderr) = check(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr.matches("error[shadowed-rule]").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("repo/pol/b.yaml:"), "{stderr}");
    assert!(!stderr.contains("repo/pol/a.yaml:"), "{stderr}");
    // The annotation is reviewed with the policy: a flag does not override it.
    let (_, _, stderr) = check(dir.path(), &["--deny", "shadowed-rule"]);
    assert_eq!(
        stderr.matches("error[shadowed-rule]").count(),
        1,
        "{stderr}"
    );
    let (code, _, _) = check(dir.path(), &["--allow", "shadowed-rule"]);
    assert_eq!(code, Some(0));
}

#[test]
fn an_annotation_without_a_reason_or_with_a_bad_code_is_an_error() {
    for (annotation, want) in [
        (
            "shadowed-rule",
            "repo/pol/a.yaml:17:21: error[invalid-allow]: `polc.dev/allow` allows `shadowed-rule` without a reason",
        ),
        ("shadowed-rul: typo", "did you mean `shadowed-rule`?"),
        ("unknown-field: never", "is an input error"),
    ] {
        let dir = repo(
            &[("a.yaml", shadowed("shop", "10.0.0.5", Some(annotation)))],
            None,
        );
        let (code, _, stderr) = check(dir.path(), &[]);
        assert_eq!(code, Some(1), "{annotation}");
        assert!(stderr.contains(want), "{annotation}: want {want}\n{stderr}");
    }
}

#[test]
fn unknown_codes_in_flags_are_usage_errors_with_the_nearest_code() {
    let dir = repo(&[("a.yaml", shadowed("shop", "10.0.0.5", None))], None);
    for flag in ["--allow", "--warn", "--deny"] {
        let (code, stdout, stderr) = check(dir.path(), &[flag, "shadowed-rul"]);
        assert_eq!(code, Some(2), "{flag}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains(&format!(
                "{flag} shadowed-rul: no diagnostic code `shadowed-rul`; did you mean `shadowed-rule`?"
            )),
            "{stderr}"
        );
    }
    let (code, _, stderr) = check(dir.path(), &["--allow", "unknown-field"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("is an input error"), "{stderr}");
    let (code, _, _) = run(
        dir.path(),
        &[
            "build", "--target", "nft", "--out", "out", "repo/pol", "--allow", "zzzz",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_bad_polc_toml_is_diagnosed_at_its_place() {
    for (toml, want) in [
        (
            "[lints]\nshadowed-rul = \"warn\"\n",
            "repo/polc.toml:2:1: error[invalid-config]: no diagnostic code `shadowed-rul`; did you mean `shadowed-rule`?",
        ),
        (
            "[lints]\nshadowed-rule = \"loud\"\n",
            "polc.toml:2:17: error[invalid-config]: `loud` is not a level",
        ),
        (
            "[lint]\n",
            "polc.toml:1:2: error[invalid-config]: unknown field `lint`",
        ),
        ("[lints\n", "polc.toml:1:7: error[invalid-config]"),
        ("[lints]\nyaml = \"allow\"\n", "is an input error"),
    ] {
        let dir = repo(
            &[("a.yaml", shadowed("shop", "10.0.0.5", None))],
            Some(toml),
        );
        let (code, _, stderr) = check(dir.path(), &["--allow", "shadowed-rule"]);
        assert_eq!(code, Some(1), "{toml}");
        assert!(stderr.contains(want), "{toml}: want {want}\n{stderr}");
    }
}

#[test]
fn polc_toml_input_allows_unknown_kinds_for_every_command() {
    let unknown = "apiVersion: policy.networking.k8s.io/v1beta1\nkind: NamespaceNetworkPolicy\nmetadata: {name: x}\n".to_string();
    let files = [
        ("a.yaml", shadowed("shop", "10.0.0.5", None)),
        ("u.yaml", unknown),
    ];
    let strict = repo(&files, Some("[lints]\nshadowed-rule = \"warn\"\n"));
    let allowing = repo(
        &files,
        Some("[lints]\nshadowed-rule = \"warn\"\n\n[input]\nallow-unknown-kinds = true\n"),
    );
    for cmd in ["check", "matrix"] {
        let (code, _, stderr) = run(strict.path(), &[cmd, "repo/pol"]);
        assert_eq!(code, Some(1), "{cmd}: {stderr}");
        assert!(stderr.contains("error[unknown-kind]"), "{cmd}: {stderr}");
        let (code, _, stderr) = run(allowing.path(), &[cmd, "repo/pol"]);
        assert_eq!(code, Some(0), "{cmd}: {stderr}");
    }
    let (_, _, stderr) = run(allowing.path(), &["check", "repo/pol"]);
    assert!(stderr.contains("warning[unknown-kind]"), "{stderr}");
    // A misspelt key of `[input]` is reported like any other.
    let typo = repo(&files, Some("[input]\nallow-unknown-kind = true\n"));
    let (code, _, stderr) = run(typo.path(), &["check", "repo/pol"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error[invalid-config]"), "{stderr}");
}
