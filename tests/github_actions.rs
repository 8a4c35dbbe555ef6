//! The GitHub Actions workflow of `examples/github-actions/` run locally: its `run`
//! steps, read from `polc.yml` with the job's and each step's environment, run in
//! order under bash as Actions runs them, on a scratch repository with a base commit
//! on `main` (pushed to a bare `origin`) and a pull request's head commit. `uses`
//! steps are not run; the SARIF upload is checked to read the file the check step
//! writes. `gh` is a stub on `PATH` that records how it was called.
//!
//! The `polc diff` steps need `polc diff`; where `polc diff --help` fails they are
//! skipped with a loud note (the check step is always run).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Workflow {
    jobs: BTreeMap<String, Job>,
}

#[derive(Deserialize)]
struct Job {
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    permissions: BTreeMap<String, String>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    id: Option<String>,
    uses: Option<String>,
    run: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    with: BTreeMap<String, String>,
}

/// The example workflow's one job.
fn job() -> Job {
    let text = std::fs::read_to_string(common::root().join("examples/github-actions/polc.yml"))
        .expect("the workflow");
    let wf: Workflow = serde_saphyr::from_str(&text).expect("the workflow parses");
    assert_eq!(wf.jobs.len(), 1, "one job");
    wf.jobs.into_values().next().unwrap()
}

/// The values of the `${{ ... }}` expressions the workflow may use, as on a pull
/// request to `main`; any other expression fails the test.
fn expand(text: &str) -> String {
    let known = [
        ("github.base_ref", "main"),
        ("github.event.pull_request.number", "7"),
        ("github.token", "test-token"),
        ("github.repository", "example/policies"),
    ];
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("a closed expression") + start;
        let expr = rest[start + 3..end].trim();
        let value = known
            .iter()
            .find(|(k, _)| *k == expr)
            .unwrap_or_else(|| panic!("the test does not know the value of ${{{{ {expr} }}}}"));
        out.push_str(value.1);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// What one step did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A scratch repository with the workflow, the script, manifests and goldens.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `git ARGS` in the work tree (or `dir`), isolated from the user's config.
    fn git_in(&self, dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "polc test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "polc test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn git(&self, args: &[&str]) {
        self.git_in(&self.work(), args);
    }

    /// `origin` (bare) and a clone of it whose `main` holds `examples/host-firewall`
    /// as `manifests/`, its built artifacts as `golden/`, the workflow and the
    /// script; then branch `pr` checked out.
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        let origin = repo.path("origin.git");
        repo.git_in(
            repo.dir.path(),
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
        );
        repo.git_in(
            repo.dir.path(),
            &["clone", "-q", origin.to_str().unwrap(), "work"],
        );
        let work = repo.work();
        let manifests = work.join("manifests");
        std::fs::create_dir_all(&manifests).unwrap();
        for (name, text) in common::example_files("examples/host-firewall", |_, t| t) {
            std::fs::write(manifests.join(name), text).unwrap();
        }
        let built = common::polc()
            .current_dir(&work)
            .args(["build", "manifests", "--target", "nft", "--out", "golden"])
            .output()
            .unwrap();
        assert!(built.status.success(), "{built:?}");
        let github = work.join(".github");
        std::fs::create_dir_all(github.join("workflows")).unwrap();
        let examples = common::root().join("examples/github-actions");
        std::fs::copy(examples.join("polc.yml"), github.join("workflows/polc.yml")).unwrap();
        std::fs::copy(examples.join("polc-ci.sh"), github.join("polc-ci.sh")).unwrap();
        repo.git(&["checkout", "-q", "-b", "main"]);
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "base"]);
        repo.git(&["push", "-q", "origin", "main"]);
        repo.git(&["checkout", "-q", "-b", "pr"]);
        repo
    }

    /// Replace `from` with `to` in `manifests/NAME` and commit it.
    fn edit(&self, name: &str, from: &str, to: &str) {
        let file = self.work().join("manifests").join(name);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{name} holds {from:?}");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
        self.git(&["commit", "-q", "-am", "edit"]);
    }

    /// Run the job's step `id` as Actions would: bash, the repository as working
    /// folder, the job's and the step's environment, polc and the `gh` stub on PATH.
    fn run(&self, job: &Job, id: &str) -> Ran {
        let step = job
            .steps
            .iter()
            .find(|s| s.id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("the workflow has a step with id {id}"));
        let script = step.run.as_deref().expect("a run step");
        let bin = self.stub_bin();
        let polc_dir = Path::new(env!("CARGO_BIN_EXE_polc")).parent().unwrap();
        let path = std::env::join_paths(
            [polc_dir.to_path_buf(), bin]
                .into_iter()
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        let mut cmd = Command::new("bash");
        cmd.args([
            "--noprofile",
            "--norc",
            "-eo",
            "pipefail",
            "-c",
            &expand(script),
        ])
        .current_dir(self.work())
        .env("PATH", path)
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_WORKSPACE", self.work())
        .env("GITHUB_OUTPUT", self.path("github-output"))
        .env("GITHUB_STEP_SUMMARY", self.path("step-summary"))
        .env("GH_STUB_LOG", self.path("gh-calls"))
        .env("NO_COLOR", "1");
        for (k, v) in job.env.iter().chain(&step.env) {
            cmd.env(k, expand(v));
        }
        let out = cmd.output().expect("bash runs");
        let ran = Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!(
            "--- step {id}: exit {}\n{}{}",
            ran.code, ran.stdout, ran.stderr
        );
        ran
    }

    /// A folder with a `gh` that records its arguments and the token it was given.
    fn stub_bin(&self) -> PathBuf {
        let bin = self.path("bin");
        if !bin.exists() {
            std::fs::create_dir(&bin).unwrap();
            let gh = bin.join("gh");
            std::fs::write(
                &gh,
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$GH_STUB_LOG\"\necho \"GH_TOKEN=$GH_TOKEN\" >> \"$GH_STUB_LOG\"\n",
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        bin
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.work().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

/// Whether this polc has `polc diff`; says loudly when it has not.
fn has_diff(test: &str) -> bool {
    let ok = common::polc()
        .args(["diff", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        // Straight to stderr, past the test harness's capture, so it shows.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! {test}: SKIPPING the polc diff steps (golden, diff-base, comment): \
             `polc diff --help` fails, this polc has no diff command yet !!!\n"
        );
    }
    ok
}

/// The SARIF log the check step wrote, after checking the upload step reads it.
fn sarif(repo: &Repo, job: &Job) -> Value {
    let upload = job
        .steps
        .iter()
        .find(|s| {
            s.uses
                .as_deref()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .expect("an upload-sarif step");
    assert_eq!(
        upload.uses.as_deref(),
        Some("github/codeql-action/upload-sarif@v4")
    );
    let file = upload.with.get("sarif_file").expect("sarif_file");
    serde_json::from_str(&repo.read(file)).expect("the SARIF log is JSON")
}

#[test]
fn workflow_declares_what_its_steps_need() {
    let job = job();
    for (scope, level) in [
        ("contents", "read"),
        ("security-events", "write"),
        ("pull-requests", "write"),
    ] {
        assert_eq!(
            job.permissions.get(scope).map(String::as_str),
            Some(level),
            "{scope}"
        );
    }
    let ids: Vec<_> = job.steps.iter().filter_map(|s| s.id.as_deref()).collect();
    assert_eq!(ids, ["install", "check", "golden", "diff", "comment"]);
    for step in &job.steps {
        if let Some(run) = &step.run {
            assert!(
                !run.contains("${{"),
                "expressions go through env, never into the shell: {run}"
            );
        }
    }
}

#[test]
fn pull_request_steps_on_a_changed_policy() {
    let job = job();
    let repo = Repo::new();
    repo.edit(
        "firewall.yaml",
        "  ingress:\n",
        "  ingress:\n    - action: Allow\n      protocol: TCP\n      destination:\n        ports: [443]\n",
    );

    let check = repo.run(&job, "check");
    assert_eq!(check.code, 0, "{}", check.stderr);
    let log = sarif(&repo, &job);
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["tool"]["driver"]["name"], "polc");
    // The new rule admits pods to the hosts: a warning, annotated on the PR's line,
    // that does not fail the step.
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["ruleId"], "host-policy-admits-workloads");
    assert_eq!(results[0]["level"], "warning");
    let place = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(place["artifactLocation"]["uri"], "manifests/firewall.yaml");
    assert_eq!(place["region"]["startLine"], 14, "the new rule's line");

    if !has_diff("pull_request_steps_on_a_changed_policy") {
        return;
    }
    // The PR changed a policy but not the goldens: the golden step fails.
    let golden = repo.run(&job, "golden");
    assert_eq!(golden.code, 1, "{}", golden.stderr);
    assert!(
        repo.read("polc-report/golden.md").contains("polc.nft"),
        "the golden report names the changed artifacts"
    );
    assert!(
        golden
            .stderr
            .contains("polc build manifests --target nft --out golden")
    );

    let diff = repo.run(&job, "diff");
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    assert!(repo.file("github-output").contains("changed=true"));
    let report = repo.read("polc-report/diff.md");
    assert!(
        report.contains("443"),
        "the report shows the new port: {report}"
    );
    assert!(repo.file("step-summary").contains(&report));

    let comment = repo.run(&job, "comment");
    assert_eq!(comment.code, 0, "{}", comment.stderr);
    let calls: Vec<String> = repo.file("gh-calls").lines().map(String::from).collect();
    assert_eq!(
        calls,
        [
            "pr",
            "comment",
            "7",
            "--edit-last",
            "--create-if-none",
            "--body-file",
            "polc-report/diff.md",
            "GH_TOKEN=test-token"
        ]
    );
}

#[test]
fn unchanged_policy_passes_golden_and_reports_no_change() {
    let job = job();
    let repo = Repo::new();
    let check = repo.run(&job, "check");
    assert_eq!(check.code, 0, "{}", check.stderr);
    let log = sarif(&repo, &job);
    assert_eq!(log["runs"][0]["results"].as_array().map(Vec::len), Some(0));
    if !has_diff("unchanged_policy_passes_golden_and_reports_no_change") {
        return;
    }
    let golden = repo.run(&job, "golden");
    assert_eq!(golden.code, 0, "{}", golden.stderr);
    let diff = repo.run(&job, "diff");
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    assert!(repo.file("github-output").contains("changed=false"));
}

#[test]
fn check_step_reports_findings_at_repository_paths() {
    let job = job();
    let repo = Repo::new();
    repo.edit("firewall.yaml", "  ingress:\n", "  ingres:\n");
    let check = repo.run(&job, "check");
    assert_eq!(check.code, 1, "an error fails the step");
    assert!(
        check.stdout.contains("unknown field `ingres`")
            || check.stderr.contains("unknown field `ingres`"),
        "the log shows the finding as text"
    );
    let log = sarif(&repo, &job);
    let results = log["runs"][0]["results"].as_array().expect("results");
    let hit = results
        .iter()
        .find(|r| r["ruleId"] == "unknown-field")
        .unwrap_or_else(|| panic!("an unknown-field result: {results:?}"));
    let place = &hit["locations"][0]["physicalLocation"];
    assert_eq!(place["artifactLocation"]["uri"], "manifests/firewall.yaml");
    let line = place["region"]["startLine"].as_u64().unwrap();
    let text = repo.read("manifests/firewall.yaml");
    assert_eq!(
        text.lines().nth(line as usize - 1),
        Some("  ingres:"),
        "the region is the typo's line"
    );
}

#[test]
fn script_refuses_what_it_cannot_do() {
    let job = job();
    let repo = Repo::new();
    // A base revision the clone does not have: a clear error, not a diff of nothing.
    let mut broken = Job {
        env: job.env.clone(),
        permissions: BTreeMap::new(),
        steps: vec![Step {
            id: Some("diff".into()),
            uses: None,
            run: job
                .steps
                .iter()
                .find(|s| s.id.as_deref() == Some("diff"))
                .and_then(|s| s.run.clone()),
            env: BTreeMap::from([("POLC_BASE".to_string(), "origin/no-such-branch".to_string())]),
            with: BTreeMap::new(),
        }],
    };
    let ran = repo.run(&broken, "diff");
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("origin/no-such-branch is not in this clone"),
        "{}",
        ran.stderr
    );
    // No report to post: the comment step says so instead of posting nothing.
    broken.steps[0].id = Some("comment".into());
    broken.steps[0].run = Some(".github/polc-ci.sh comment".into());
    broken.steps[0].env = BTreeMap::from([("POLC_PR".to_string(), "7".to_string())]);
    let ran = repo.run(&broken, "comment");
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("no report"), "{}", ran.stderr);
    assert!(repo.file("gh-calls").is_empty(), "gh was not called");
}
