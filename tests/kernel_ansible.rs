//! The Ansible role of `examples/ansible/` for real: `ansible-playbook` (from `PATH`,
//! or `POLC_ANSIBLE_PLAYBOOK`, which `.ci/run` points at its venv) runs the example
//! playbook against localhost (`ansible_connection=local`), each node of
//! `examples/host-firewall` standing for itself with its artifact folder in a scratch
//! folder and its rules loaded into a network namespace of its own
//! (`polc_exec_prefix: ip netns exec NS`), never the host's ruleset.
//!
//! The same scenario runs once per target of the role (one build with `--target
//! all`): `nft` (`polc.nft`), and `iptables` (`polc.iptables`, `polc.ip6tables`,
//! `polc.ipset` and `polc-iptables-load`) with `polc_iptables_variant` `-nft` and,
//! where the kernel has x_tables, `-legacy`. A node keeps each target's files in
//! `polc_dest_dir/<target>/{current,prev,failed}`.
//!
//! One sequence of runs, each starting from what the one before left: a first deploy
//! changes every node, a second changes nothing, a tampered artifact is refused, an
//! edited policy with a failing post-load check is rolled back (the rules the check
//! saw were the new ones, the rules after are the first load's, the rollout stops at
//! the first node), the same edit with a passing check is deployed and keeps the
//! previous artifact, a manual rollback restores it, and a deploy whose control node
//! dies during the check is rolled back by the on-node timer.
//!
//! Needs root, `ip`, `nft`, `iptables`, `ipset` and `ansible-playbook`: mandatory under
//! `POLC_KERNEL_TESTS=1`, elsewhere skipped with what is missing printed.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The nodes of `examples/host-firewall`, in inventory (and rollout) order.
const NODES: [&str; 2] = ["policy-llm-control-plane", "policy-llm-worker"];

/// The edit of the policy between the first and the later deploys: admit TCP 443.
const EDIT_FROM: &str = "  ingress:\n";
const EDIT_TO: &str = "  ingress:\n    - action: Allow\n      protocol: TCP\n      destination:\n        ports: [443]\n";

/// `ansible-playbook` when this test can run, else what is missing (a failure
/// under `POLC_KERNEL_TESTS=1`).
fn enabled() -> Result<PathBuf, String> {
    let mandatory = std::env::var("POLC_KERNEL_TESTS").is_ok_and(|v| v == "1");
    let mut missing = Vec::new();
    if !nix::unistd::Uid::effective().is_root() {
        missing.push("root".to_string());
    }
    for tool in ["ip", "nft", "iptables", "ipset"] {
        if Command::new(tool).arg("-V").output().is_err() {
            missing.push(tool.to_string());
        }
    }
    let playbook = find_playbook();
    if playbook.is_none() {
        missing.push(
            "ansible-playbook (on PATH or in POLC_ANSIBLE_PLAYBOOK; `pip install ansible-core`)"
                .to_string(),
        );
    }
    match playbook {
        Some(p) if missing.is_empty() => Ok(p),
        _ => {
            assert!(
                !mandatory,
                "POLC_KERNEL_TESTS=1 but kernel_ansible lacks {}",
                missing.join(", ")
            );
            Err(format!("missing {}", missing.join(", ")))
        }
    }
}

/// A target the role deploys, as the test sees it in a node's namespace.
#[derive(Clone, Copy, Debug)]
struct Target {
    /// `polc_target`.
    name: &'static str,
    /// `polc_iptables_variant` (`-nft`, `-legacy`); empty for nft.
    variant: &'static str,
}

const TARGETS: [Target; 3] = [
    Target {
        name: "nft",
        variant: "",
    },
    Target {
        name: "iptables",
        variant: "-nft",
    },
    Target {
        name: "iptables",
        variant: "-legacy",
    },
];

impl Target {
    /// The trial's and the namespaces' tag: `nft`, `iptables-nft`, `iptables-legacy`.
    fn label(self) -> String {
        format!("{}{}", self.name, self.variant)
    }

    /// The target's files in each node's folder of the build (and on the node).
    fn files(self) -> &'static [&'static str] {
        match self.name {
            "nft" => &["polc.nft"],
            _ => &[
                "polc-iptables-load",
                "polc.ip6tables",
                "polc.ipset",
                "polc.iptables",
            ],
        }
    }

    /// A shell command printing the rules (and sets) polc's files leave, the same
    /// for two loads of the same files: nft's ruleset, or `iptables-save`,
    /// `ip6tables-save` and the sorted `ipset save` without comments, counters and
    /// hash seeds. `prefix` runs each tool in a namespace.
    fn state_shell(self, prefix: &str) -> String {
        let v = self.variant;
        match self.name {
            "nft" => format!("{prefix} nft list ruleset"),
            _ => format!(
                "{{ {prefix} iptables{v}-save && echo --- && {prefix} ip6tables{v}-save && echo --- && \
                 {prefix} ipset save | sort; }} | sed -e '/^#/d' -e 's/ \\[[0-9]*:[0-9]*\\]$//' -e 's/ initval .*//'"
            ),
        }
    }

    /// A shell command that succeeds when polc's rules are loaded (the passing
    /// post-load check).
    fn loaded_shell(self, prefix: &str) -> String {
        match self.name {
            "nft" => format!("{prefix} nft list table inet polc >/dev/null"),
            _ => format!(
                "{prefix} iptables{} -w -t filter -S POLC-INPUT >/dev/null",
                self.variant
            ),
        }
    }

    /// The state (of [`Target::state_shell`]) in a namespace, or on the host
    /// without one.
    fn state(self, ns: Option<&str>) -> String {
        let prefix = ns.map(|n| format!("ip netns exec {n}")).unwrap_or_default();
        let out = run_ok(Command::new("sh").arg("-c").arg(self.state_shell(&prefix)));
        String::from_utf8(out.stdout).unwrap()
    }

    /// The host's own polc rules, which no run may touch.
    fn host_state(self) -> String {
        match self.name {
            "nft" => {
                let out = Command::new("nft")
                    .args(["list", "table", "inet", "polc"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
            _ => self
                .state(None)
                .lines()
                .filter(|l| l.to_lowercase().contains("polc"))
                .map(|l| format!("{l}\n"))
                .collect(),
        }
    }

    /// Panics unless `state` shows polc's rules loaded (and, for iptables, hooked
    /// into INPUT exactly once, the sets present).
    fn assert_loaded(self, node: &str, state: &str) {
        match self.name {
            "nft" => assert!(state.contains("table inet polc"), "{node}: {state}"),
            _ => {
                let jumps = state.lines().filter(|l| *l == "-A INPUT -j POLC-INPUT");
                assert_eq!(jumps.count(), 2, "{node}: one jump per family:\n{state}");
                assert!(state.contains("create polc-"), "{node}: {state}");
            }
        }
    }

    /// One of the target's files made invalid for the kernel (its validation on the
    /// node fails): the file's name and its new text.
    fn broken(self, built: &Files) -> (&'static str, String) {
        let (name, text) = match self.name {
            "nft" => (
                "polc.nft",
                "table inet polc {\n  chain nonsense {\n    no such statement\n  }\n}\n",
            ),
            _ => (
                "polc.iptables",
                "*filter\n-A POLC-INPUT -m no-such-match -j ACCEPT\nCOMMIT\n",
            ),
        };
        let mut old = String::from_utf8(built[name].clone()).unwrap();
        old.push_str(text);
        (name, old)
    }

    /// Why this target cannot run here (iptables-legacy without x_tables), if so.
    fn unsupported(self) -> Option<String> {
        if self.variant != "-legacy" {
            return None;
        }
        let ns = Netns::new(format!("polc-ans-{}-probe", std::process::id() % 100_000));
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.0,
                "iptables-legacy",
                "-w",
                "-t",
                "filter",
            ])
            .args(["-L", "INPUT"])
            .output();
        match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!(
                "this kernel has no iptables-legacy (x_tables): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Some(format!("iptables-legacy: {e}")),
        }
    }
}

/// The harness (`harness = false`, libtest-mimic, as the other kernel test
/// binaries): a kernel test without its tools is reported `ignored` with what is
/// missing, and a `SKIPPED:` line on stderr, never as passed. The targets run one
/// after the other unless `--test-threads` says otherwise (each run is a few
/// `ansible-playbook` processes and waits on timers).
fn main() {
    let mut args = libtest_mimic::Arguments::from_args();
    args.test_threads = args.test_threads.or(Some(1));
    let mut trials = vec![libtest_mimic::Trial::test("recap_lines_are_parsed", || {
        recap_lines_are_parsed();
        Ok(())
    })];
    for target in TARGETS {
        let name = format!(
            "kernel_ansible_{}_deploys_idempotently_and_rolls_back",
            target.label().replace('-', "_")
        );
        trials.push(libtest_mimic::Trial::ignorable_test(name, move || {
            let reason = match enabled() {
                Ok(playbook) => match target.unsupported() {
                    None => {
                        kernel_ansible_deploys_idempotently_and_rolls_back(playbook, target);
                        return Ok(libtest_mimic::Completion::Completed);
                    }
                    Some(why) => why,
                },
                Err(reason) => reason,
            };
            eprintln!(
                "SKIPPED: kernel_ansible {}: {reason} (set POLC_KERNEL_TESTS=1 to make a missing tool a failure)",
                target.label()
            );
            Ok(libtest_mimic::Completion::ignored_with(reason))
        }));
    }
    libtest_mimic::run(&args, trials).exit()
}

/// `POLC_ANSIBLE_PLAYBOOK`, else `ansible-playbook` on `PATH`, if it runs.
fn find_playbook() -> Option<PathBuf> {
    let candidate = match std::env::var_os("POLC_ANSIBLE_PLAYBOOK") {
        Some(p) => PathBuf::from(p),
        None => std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join("ansible-playbook"))
            .find(|p| p.is_file())?,
    };
    let runs = Command::new(&candidate)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    runs.then_some(candidate)
}

/// A network namespace of this test's, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(name: String) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Run a command; panic with its output unless it succeeds.
fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The scratch world: artifacts, one folder and namespace per node, the inventory.
struct World {
    playbook: PathBuf,
    target: Target,
    dir: tempfile::TempDir,
    ns: BTreeMap<&'static str, Netns>,
}

/// A node's files of one target, by name.
type Files = BTreeMap<String, Vec<u8>>;

/// One `ansible-playbook` run: its exit status, output and PLAY RECAP by host.
struct Run {
    ok: bool,
    output: String,
    recap: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Run {
    fn count(&self, host: &str, what: &str) -> u64 {
        self.recap
            .get(host)
            .and_then(|r| r.get(what))
            .copied()
            .unwrap_or_else(|| panic!("no {what}= for {host} in PLAY RECAP:\n{}", self.output))
    }
}

/// The `PLAY RECAP` lines: `host : ok=N changed=N ...`.
fn recap(output: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let Some((_, tail)) = output.rsplit_once("PLAY RECAP") else {
        return BTreeMap::new();
    };
    tail.lines()
        .filter_map(|l| l.split_once(" : "))
        .map(|(host, counts)| {
            let counts = counts
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                .collect();
            (host.trim().to_string(), counts)
        })
        .collect()
}

impl World {
    fn new(playbook: PathBuf, target: Target) -> World {
        let dir = tempfile::tempdir().unwrap();
        let tag = std::process::id() % 100_000;
        let ns = NODES
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let name = format!("polc-ans-{tag}-{}-{i}", target.label());
                (*n, Netns::new(name))
            })
            .collect();
        let world = World {
            playbook,
            target,
            dir,
            ns,
        };
        std::fs::create_dir(world.path("ansible-home")).unwrap();
        std::fs::write(world.path("ansible.cfg"), "").unwrap();
        world.write_inventory();
        world
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Where node `n` keeps its artifacts (`polc_dest_dir`).
    fn node_dir(&self, n: &str) -> PathBuf {
        self.path("nodes").join(n)
    }

    /// Node `n`'s folder of this target (`current`, `prev`, `failed`, the timer's
    /// files).
    fn target_dir(&self, n: &str) -> PathBuf {
        self.node_dir(n).join(self.target.name)
    }

    /// `ip netns exec NS`: runs a command in node `n`'s namespace.
    fn prefix(&self, n: &str) -> String {
        format!("ip netns exec {}", self.ns[n].0)
    }

    fn write_inventory(&self) {
        let hosts: serde_json::Map<String, Value> = NODES
            .iter()
            .map(|n| {
                let vars = json!({
                    "polc_exec_prefix": self.prefix(n),
                    "polc_dest_dir": self.node_dir(n),
                    "polc_check_command": self.target.loaded_shell(&self.prefix(n)),
                });
                (n.to_string(), vars)
            })
            .collect();
        let inventory = json!({"polc_nodes": {"hosts": hosts, "vars": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "polc_become": false,
            "polc_artifacts_dir": self.path("out"),
            "polc_revert_after": 60,
            "polc_target": self.target.name,
            "polc_iptables_variant": self.target.variant,
        }}});
        std::fs::write(self.path("inventory.json"), inventory.to_string()).unwrap();
    }

    /// `polc build --target all` of `examples/host-firewall`, edited with `edit`,
    /// into `out/`.
    fn build(&self, edit: bool) {
        let input = self.path("manifests");
        let _ = std::fs::remove_dir_all(&input);
        std::fs::create_dir(&input).unwrap();
        for (name, text) in common::example_files("examples/host-firewall", |_, t| t) {
            let text = if edit && name == "firewall.yaml" {
                assert!(
                    text.contains(EDIT_FROM),
                    "the edit applies to firewall.yaml"
                );
                text.replacen(EDIT_FROM, EDIT_TO, 1)
            } else {
                text
            };
            std::fs::write(input.join(name), text).unwrap();
        }
        run_ok(
            Command::new(env!("CARGO_BIN_EXE_polc"))
                .args(["build", "--target", "all", "--out"])
                .arg(self.path("out"))
                .arg(&input),
        );
    }

    /// The target's built files of node `n`.
    fn built(&self, n: &str) -> Files {
        let dir = self.path("out").join(n);
        self.target
            .files()
            .iter()
            .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
            .collect()
    }

    /// Every file of `slot` (`current`, `prev`, `failed`) in node `n`'s target
    /// folder, if the slot exists.
    fn slot(&self, n: &str, slot: &str) -> Option<Files> {
        let entries = std::fs::read_dir(self.target_dir(n).join(slot)).ok()?;
        let files = entries
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(e.path()).unwrap())
            })
            .collect();
        Some(files)
    }

    /// Panics unless node `n`'s `current` files are exactly the ones
    /// `manifest.json` lists for it and this target, by sha256.
    fn assert_current_is_manifests(&self, n: &str) {
        let text = std::fs::read_to_string(self.path("out/manifest.json")).unwrap();
        let manifest: Value = serde_json::from_str(&text).unwrap();
        let listed: BTreeMap<String, String> = manifest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["node"] == n && a["target"] == self.target.name)
            .map(|a| {
                let path = a["path"].as_str().unwrap();
                let name = path.rsplit('/').next().unwrap().to_string();
                (name, a["sha256"].as_str().unwrap().to_string())
            })
            .collect();
        let on_node: BTreeMap<String, String> = self
            .slot(n, "current")
            .unwrap_or_else(|| panic!("{n} has no current {} files", self.target.name))
            .into_iter()
            .map(|(name, bytes)| (name, format!("{:x}", Sha256::digest(&bytes))))
            .collect();
        assert_eq!(on_node, listed, "{n}: the node's files are the manifest's");
        let names: Vec<_> = listed.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            self.target.files(),
            "the manifest lists the target's files"
        );
    }

    /// Every node's state (rules and sets).
    fn rulesets(&self) -> BTreeMap<&'static str, String> {
        self.ns
            .iter()
            .map(|(n, ns)| (*n, self.target.state(Some(&ns.0))))
            .collect()
    }

    /// `ansible-playbook` on the example playbook with extra vars and arguments.
    fn command(&self, extra: Value, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.playbook);
        let home = self.path("ansible-home");
        cmd.current_dir(common::root().join("examples/ansible"))
            .env("ANSIBLE_CONFIG", self.path("ansible.cfg"))
            .env("ANSIBLE_HOME", &home)
            .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
            .env("ANSIBLE_REMOTE_TEMP", home.join("tmp"))
            .env("ANSIBLE_ASYNC_DIR", home.join("async"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env_remove("ANSIBLE_FORCE_COLOR")
            .arg("-i")
            .arg(self.path("inventory.json"))
            .arg("site.yml")
            .arg("-e")
            .arg(extra.to_string())
            .args(args);
        cmd
    }

    fn play(&self, what: &str, extra: Value, args: &[&str]) -> Run {
        let out = self
            .command(extra, args)
            .output()
            .expect("ansible-playbook runs");
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("--- {what}: exit {:?}", out.status.code());
        let recap = recap(&output);
        eprintln!("{recap:?}");
        Run {
            ok: out.status.success(),
            output,
            recap,
        }
    }
}

fn kernel_ansible_deploys_idempotently_and_rolls_back(playbook: PathBuf, target: Target) {
    let w = World::new(playbook, target);
    let host_before = target.host_state();

    // First deploy: every node changes, runs its artifacts, and the host is untouched.
    w.build(false);
    let first = w.play("first deploy", json!({}), &[]);
    assert!(first.ok, "{}", first.output);
    let loaded = w.rulesets();
    for n in NODES {
        assert!(first.count(n, "changed") > 0, "{}", first.output);
        target.assert_loaded(n, &loaded[n]);
        assert_eq!(w.slot(n, "current"), Some(w.built(n)), "{n}");
        w.assert_current_is_manifests(n);
    }
    assert_eq!(
        target.host_state(),
        host_before,
        "the host's own polc rules changed"
    );
    let first_artifacts: BTreeMap<_, _> = NODES.iter().map(|n| (*n, w.built(n))).collect();

    // Second deploy of the same build: nothing changes.
    let second = w.play("second deploy", json!({}), &[]);
    assert!(second.ok, "{}", second.output);
    for n in NODES {
        assert_eq!(second.count(n, "changed"), 0, "{}", second.output);
    }
    assert_eq!(w.rulesets(), loaded);

    tampered_artifact_is_refused(&w, &loaded);
    invalid_artifact_is_not_loaded(&w, &loaded);

    // The edited policy with a failing check: the first node loads it, the check
    // fails, the node is rolled back and the rollout stops there.
    w.build(true);
    for n in NODES {
        assert_ne!(w.built(n), first_artifacts[n], "the edit changes {n}");
    }
    let during = w.path("during");
    let failing = format!(
        "{} > {}; echo the node stopped answering >&2; exit 3",
        target.state_shell(&w.prefix(NODES[0])),
        during.display()
    );
    let third = w.play(
        "edited policy, failing check",
        json!({ "polc_check_command": failing }),
        &[],
    );
    assert!(!third.ok, "a failed check fails the run:\n{}", third.output);
    assert_eq!(third.count(NODES[0], "failed"), 1, "{}", third.output);
    assert_eq!(third.count(NODES[0], "rescued"), 1, "{}", third.output);
    assert!(
        !third.recap.contains_key(NODES[1]),
        "the rollout stops at the first failed node:\n{}",
        third.output
    );
    assert!(third.output.contains("rolled back to"), "{}", third.output);
    let seen = std::fs::read_to_string(&during).expect("the check ran");
    assert_ne!(seen, loaded[NODES[0]], "the check saw the new rules");
    assert!(seen.contains("443"), "the check saw the edit: {seen}");
    assert_eq!(w.rulesets(), loaded, "the rollback restores the first load");
    assert_eq!(
        w.slot(NODES[0], "current"),
        Some(first_artifacts[NODES[0]].clone())
    );
    assert_eq!(w.slot(NODES[0], "failed"), Some(w.built(NODES[0])));
    assert_eq!(w.slot(NODES[0], "new"), None, "nothing is left staged");
    assert_no_armed_timer(&w);

    // The same edit with a passing check: deployed, the previous artifacts kept.
    let fourth = w.play("edited policy, passing check", json!({}), &[]);
    assert!(fourth.ok, "{}", fourth.output);
    let edited = w.rulesets();
    for n in NODES {
        assert!(fourth.count(n, "changed") > 0, "{}", fourth.output);
        assert_ne!(edited[n], loaded[n], "{n}");
        target.assert_loaded(n, &edited[n]);
        assert_eq!(w.slot(n, "current"), Some(w.built(n)), "{n}");
        w.assert_current_is_manifests(n);
        assert_eq!(w.slot(n, "prev"), Some(first_artifacts[n].clone()));
    }
    assert_no_armed_timer(&w);

    // A rollback by hand restores the first load.
    let fifth = w.play("rollback", json!({ "polc_action": "rollback" }), &[]);
    assert!(fifth.ok, "{}", fifth.output);
    assert_eq!(w.rulesets(), loaded, "the rollback restores the first load");
    for n in NODES {
        assert_eq!(w.slot(n, "current"), Some(first_artifacts[n].clone()));
        assert_eq!(w.slot(n, "prev"), Some(w.built(n)));
    }

    control_node_dies_during_check(&w, &loaded);
    assert_eq!(
        target.host_state(),
        host_before,
        "the host's own polc rules changed"
    );
}

/// Artifacts whose bytes are not the ones `manifest.json` lists are refused before
/// anything reaches a node: one byte appended to one of the target's files (the
/// loader script for iptables).
fn tampered_artifact_is_refused(w: &World, loaded: &BTreeMap<&str, String>) {
    let tampered = w.path("tampered");
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(w.path("out"))
            .arg(&tampered),
    );
    let file = tampered.join(NODES[0]).join(w.target.files()[0]);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"# edited by hand\n");
    std::fs::write(&file, bytes).unwrap();
    let before = w.slot(NODES[0], "current");
    let run = w.play(
        "tampered artifact",
        json!({ "polc_artifacts_dir": tampered }),
        &[],
    );
    assert!(!run.ok, "{}", run.output);
    assert_eq!(run.count(NODES[0], "changed"), 0, "{}", run.output);
    assert!(
        run.output.contains("is not the one manifest.json lists"),
        "{}",
        run.output
    );
    assert_eq!(&w.rulesets(), loaded);
    assert_eq!(w.slot(NODES[0], "current"), before);
    assert_eq!(w.slot(NODES[0], "new"), None, "nothing reached the node");
}

/// Artifacts that `manifest.json` lists (the sha256 fits) but the node's validation
/// rejects (`nft -c`, `polc-iptables-load --test`) are never loaded: the node keeps
/// its rules and its `current` files, the rejected ones land in `failed`.
fn invalid_artifact_is_not_loaded(w: &World, loaded: &BTreeMap<&str, String>) {
    let invalid = w.path("invalid");
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(w.path("out"))
            .arg(&invalid),
    );
    let node = NODES[0];
    let mut files = w.built(node);
    let (name, text) = w.target.broken(&files);
    std::fs::write(invalid.join(node).join(name), &text).unwrap();
    let manifest_path = invalid.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let path = format!("{node}/{name}");
    let entry = manifest["artifacts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["path"] == path.as_str())
        .expect("the manifest lists the file");
    entry["sha256"] = json!(format!("{:x}", Sha256::digest(text.as_bytes())));
    entry["bytes"] = json!(text.len());
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    files.insert(name.to_string(), text.into_bytes());

    let before = w.slot(node, "current");
    let run = w.play(
        "invalid artifact",
        json!({ "polc_artifacts_dir": invalid }),
        &[],
    );
    assert!(!run.ok, "{}", run.output);
    assert_eq!(run.count(node, "failed"), 1, "{}", run.output);
    assert_eq!(run.count(node, "rescued"), 1, "{}", run.output);
    assert!(run.output.contains("nothing was loaded"), "{}", run.output);
    assert!(
        !run.recap.contains_key(NODES[1]),
        "the rollout stops at the first failed node:\n{}",
        run.output
    );
    assert_eq!(
        &w.rulesets(),
        loaded,
        "the validation changed the node's rules"
    );
    assert_eq!(w.slot(node, "current"), before);
    assert_eq!(w.slot(node, "failed"), Some(files));
    assert_eq!(w.slot(node, "new"), None);
    assert_no_armed_timer(w);
}

/// No armed rollback timer is left in any node's target folder.
fn assert_no_armed_timer(w: &World) {
    for n in NODES {
        let armed: Vec<_> = std::fs::read_dir(w.target_dir(n))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.starts_with("armed."))
            .collect();
        assert!(armed.is_empty(), "{n}: {armed:?}");
    }
}

/// The control node is killed while the check runs: the on-node timer restores the
/// previous artifacts by itself, and the next run reports it.
fn control_node_dies_during_check(w: &World, loaded: &BTreeMap<&str, String>) {
    let node = NODES[0];
    let during = w.path("during-kill");
    let check = format!(
        "{} > {}.tmp && mv {}.tmp {}; sleep 30",
        w.target.state_shell(&w.prefix(node)),
        during.display(),
        during.display(),
        during.display()
    );
    let mut child = w
        .command(
            json!({ "polc_check_command": check, "polc_revert_after": 20 }),
            &["--limit", node],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ansible-playbook runs");
    let seen = wait_for(Duration::from_secs(180), || {
        std::fs::read_to_string(&during).ok()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let seen = seen.expect("the check ran within 180 s");
    assert_ne!(seen, loaded[node], "the check saw the new rules");
    let restored = wait_for(Duration::from_secs(90), || {
        (w.target.state(Some(&w.ns[node].0)) == loaded[node]).then_some(())
    });
    assert!(
        restored.is_some(),
        "the on-node timer did not restore {node}'s first load: {}",
        w.target.state(Some(&w.ns[node].0))
    );
    assert!(w.target_dir(node).join("fired").exists());
    // The timer moves the staged files to `failed` right after restoring.
    let failed = wait_for(Duration::from_secs(10), || {
        w.slot(node, "failed").filter(|f| *f == w.built(node))
    });
    assert!(
        failed.is_some(),
        "{:?}",
        w.slot(node, "failed")
            .map(|f| f.into_keys().collect::<Vec<_>>())
    );

    // The next run says what the timer did (and deploys again, the check passing).
    let next = w.play("after the timer", json!({}), &["--limit", node]);
    assert!(next.ok, "{}", next.output);
    assert!(
        next.output.contains("the rollback timer on"),
        "{}",
        next.output
    );
    assert_eq!(w.slot(node, "current"), Some(w.built(node)));
    w.assert_current_is_manifests(node);
}

/// Poll `f` every 200 ms until it returns something or `limit` passes.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn recap_lines_are_parsed() {
    let text = "PLAY [x]\n\nPLAY RECAP *****\n\
        node-a   : ok=16   changed=4    unreachable=0    failed=1    skipped=3    rescued=1    ignored=0   \n\
        node-b : ok=2 changed=0\n";
    let r = recap(text);
    assert_eq!(r["node-a"]["changed"], 4);
    assert_eq!(r["node-a"]["rescued"], 1);
    assert_eq!(r["node-b"]["ok"], 2);
    assert!(recap("no recap here").is_empty());
}
