//! Property test over random scenarios (`tests/common/gen.rs`): what `polc check`
//! accepts, `polc build --target all` turns into artifacts the kernel accepts, with one
//! policy chain per (enforced policy, direction) the evaluator applies on the node.
//!
//! For each seed: `polc check` exits 0 or 1 (never 2, never a panic) and every error
//! it reports has a file, line and column; the library agrees on whether the input is
//! valid (the generator writes valid input unless it drew a deliberate error); `polc
//! build` exits 0 for valid input and writes one artifact per node, or exits 1 and
//! writes nothing. Then, per node, the artifact's distinct `pol.*` chains are counted
//! against the (policy, direction) pairs the evaluator's stage plan applies on that
//! node's endpoints, its endpoint chains against the plan's (endpoint, stage,
//! direction), the iptables rules' chains against the nft script's (one render model,
//! two renderings), and under kernel tests (`netbed::enabled`) `nft -c -f` and
//! `polc-iptables-load --test` (`iptables-restore --test` with the sets filled)
//! must accept every artifact, in a scratch network namespace.
//!
//! `POLC_FUZZ_CASES=N` runs seeds `0..N` (default 400), `POLC_FUZZ_SEED=S` only seed S,
//! `POLC_FUZZ_HOST_STAGES=1` or `0` puts host-endpoint stages in every seed or in none
//! (default: three seeds in four).

mod common;
#[path = "common/netbed.rs"]
mod netbed;
#[path = "common/gen.rs"]
mod scenario_gen;

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::time::Instant;

use polc::semantics::{Direction, EndpointKind, Engine, Stage};
use rayon::prelude::*;
use scenario_gen::Knobs;

/// What one seed came to.
#[derive(Default)]
struct Outcome {
    valid: bool,
    artifacts: usize,
    chains: usize,
}

#[test]
fn random_scenarios_build_artifacts_that_match_the_evaluator() {
    let kernel = netbed::enabled("artifact_props (nft -c)");
    let scratch = kernel.then(netbed::Scratch::new);
    let scratch_ns = scratch.as_ref().map(|s| s.ns.as_str());
    let seeds = scenario_gen::seeds(400);
    let start = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let results: Vec<(u64, Result<Outcome, String>)> = pool.install(|| {
        seeds
            .par_iter()
            .map(|&seed| (seed, check_seed(seed, scratch_ns)))
            .collect()
    });
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(seed, r)| r.as_ref().err().map(|e| report(*seed, e, kernel)))
        .collect();
    let ok: Vec<&Outcome> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    eprintln!(
        "artifact_props: {} scenarios ({} valid), {} artifacts, {} policy chains{}, {} failing, in {:.1} s",
        results.len(),
        ok.iter().filter(|o| o.valid).count(),
        ok.iter().map(|o| o.artifacts).sum::<usize>(),
        ok.iter().map(|o| o.chains).sum::<usize>(),
        if kernel { " checked by nft -c" } else { "" },
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    for (seed, r) in &results {
        if let Err(e) = r {
            eprintln!("seed {seed}: {}", e.lines().next().unwrap_or(""));
        }
    }
    let shown: Vec<&String> = failures.iter().take(3).collect();
    assert!(
        failures.is_empty(),
        "{} of {} seeds fail; the first {}:\n{}",
        failures.len(),
        results.len(),
        shown.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A failure: seed, problem, manifests, and the command that reproduces it.
fn report(seed: u64, problem: &str, kernel: bool) -> String {
    let s = scenario_gen::scenario(seed, &Knobs::from_env());
    let env = if kernel { " POLC_KERNEL_TESTS=1" } else { "" };
    format!(
        "==== seed {seed}: {problem}\n{}\nreproduce: POLC_FUZZ_SEED={seed}{env} cargo test --test artifact_props -- --nocapture\n",
        s.dump()
    )
}

fn check_seed(seed: u64, scratch: Option<&str>) -> Result<Outcome, String> {
    let s = scenario_gen::scenario(seed, &Knobs::from_env());
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let input = s.write(dir.path());
    let check_failed = check_cli(&input)?;
    let loaded = polc::frontend::load_sources(s.sources());
    let invalid = loaded.diags.has_errors();
    match (s.broken, invalid) {
        (None, true) => {
            let errors: Vec<String> = loaded
                .diags
                .sorted()
                .iter()
                .filter(|d| d.severity == polc::diag::Severity::Error)
                .map(|d| format!("{}: {}", d.code, d.message))
                .collect();
            return Err(format!("valid input rejected: {errors:?}"));
        }
        (Some(what), false) => return Err(format!("deliberate error not reported: {what}")),
        _ => {}
    }
    if invalid && !check_failed {
        return Err("check exits 0 on input with errors".into());
    }
    if !invalid && check_failed {
        // Findings `check` rejects (a shadowed or unreachable rule): `build` refuses
        // them as `check` does, and writes nothing.
        build_cli(&input, &dir.path().join("refused"), true, &[])?;
    }
    // The artifacts of every valid input, those findings allowed.
    let out = dir.path().join("out");
    let allow = ["--allow", "shadowed-rule", "--allow", "unreachable-rule"];
    build_cli(&input, &out, invalid, &allow)?;
    if invalid {
        return Ok(Outcome::default());
    }
    let engine = Engine::new(&loaded.model);
    let mut outcome = Outcome {
        valid: true,
        ..Outcome::default()
    };
    for node in nodes(&loaded.model) {
        let script = out.join(&node).join("polc.nft");
        let text = std::fs::read_to_string(&script)
            .map_err(|e| format!("no artifact for node {node}: {e}"))?;
        outcome.chains += check_chains(&engine, &node, &text)?;
        let dir = out.join(&node);
        let mut rules = String::new();
        for file in ["polc.iptables", "polc.ip6tables"] {
            let t = std::fs::read_to_string(dir.join(file))
                .map_err(|e| format!("no {file} for node {node}: {e}"))?;
            rules.push_str(&t);
        }
        check_iptables_chains(&text, &rules).map_err(|e| format!("node {node} iptables: {e}"))?;
        if let Some(ns) = scratch {
            netbed::nft_in(ns, &["-c", "-f"], &script).map_err(|e| format!("node {node}: {e}"))?;
            netbed::iptables_load(ns, "-nft", &dir, true)
                .map_err(|e| format!("node {node}: {e}"))?;
        }
        outcome.artifacts += 1;
    }
    Ok(outcome)
}

/// Run `polc check --format json`: exit 0 or 1, no panic, every error located in an
/// input file. Returns whether it failed (exit 1).
fn check_cli(input: &Path) -> Result<bool, String> {
    let out = common::polc()
        .args(["check", "--format", "json"])
        .arg(input)
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") {
        return Err(format!("check panicked: {stderr}"));
    }
    let code = out.status.code();
    if !matches!(code, Some(0 | 1)) {
        return Err(format!("check exits {code:?}: {stderr}"));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("check's JSON does not parse: {e}"))?;
    if json["ok"].as_bool() != Some(code == Some(0)) {
        return Err(format!("check exits {code:?} but says ok = {}", json["ok"]));
    }
    let diags = json["diagnostics"].as_array().cloned().unwrap_or_default();
    for d in diags.iter().filter(|d| d["severity"] == "error") {
        let file = d["file"].as_str().unwrap_or("");
        let located = file.starts_with(&*input.to_string_lossy())
            && d["line"].as_u64().is_some_and(|l| l >= 1)
            && d["column"].as_u64().is_some_and(|c| c >= 1);
        if !located {
            return Err(format!("an error without a place in an input file: {d}"));
        }
    }
    Ok(code == Some(1))
}

/// Run `polc build --target nft`: exit 0 with a manifest for valid input; exit 1,
/// located errors and no output folder for invalid input.
fn build_cli(input: &Path, out: &Path, invalid: bool, extra: &[&str]) -> Result<(), String> {
    let run = common::polc()
        .args(["build", "--target", "all", "--out"])
        .arg(out)
        .arg(input)
        .args(extra)
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&run.stderr);
    if stderr.contains("panicked") {
        return Err(format!("build panicked: {stderr}"));
    }
    let code = run.status.code();
    if !invalid {
        if code != Some(0) || !out.join("manifest.json").exists() {
            return Err(format!("build of valid input exits {code:?}: {stderr}"));
        }
        return Ok(());
    }
    if code != Some(1) || out.exists() {
        return Err(format!(
            "build of invalid input exits {code:?} (output written: {}): {stderr}",
            out.exists()
        ));
    }
    let located = stderr.lines().any(|l| {
        let rest = l.split(".yaml:").nth(1).unwrap_or("");
        let mut nums = rest.split(':').take(2).map(|n| n.parse::<u32>().is_ok());
        l.starts_with(&*input.to_string_lossy())
            && nums.next() == Some(true)
            && nums.next() == Some(true)
    });
    if !located {
        return Err(format!("build's errors carry no path:line:col: {stderr}"));
    }
    Ok(())
}

/// Every node polc builds an artifact for.
fn nodes(model: &polc::ir::Model) -> BTreeSet<String> {
    let mut nodes: BTreeSet<String> = model.nodes.iter().map(|n| n.name.clone()).collect();
    nodes.extend(model.host_endpoints.iter().map(|h| h.node.clone()));
    nodes.extend(model.pods.iter().filter_map(|p| p.node.clone()));
    nodes
}

/// One `pol.*` chain per (policy, direction) and one endpoint chain (`wl.*`,
/// `hep.*`) per (endpoint, stage, direction) the evaluator applies on the node:
/// fewer means two names collided, more that the artifact applies what the evaluator
/// does not. Returns the number of policy chains.
fn check_chains(engine: &Engine<'_>, node: &str, text: &str) -> Result<usize, String> {
    let declared = chains(text);
    let count = |prefixes: &[&str]| {
        declared
            .iter()
            .filter(|c| prefixes.iter().any(|p| c.starts_with(p)))
            .count()
    };
    let met = Met::on(engine, node);
    let policies = count(&["pol."]);
    if policies != met.policies.len() {
        let named: BTreeSet<String> = met
            .policies
            .iter()
            .map(|&(p, dir)| format!("{} {dir:?}", engine.model.policies[p].id))
            .collect();
        return Err(format!(
            "node {node}: {policies} policy chains, but the evaluator applies {} (policy, direction) pairs there: {named:?}; chains: {declared:?}",
            met.policies.len()
        ));
    }
    let endpoints = count(&["wl.", "hep."]);
    if endpoints != met.stages.len() {
        let named: BTreeSet<String> = met
            .stages
            .iter()
            .map(|&(e, stage, dir)| {
                format!("{} {stage:?} {dir:?}", engine.universe.endpoints[e].name)
            })
            .collect();
        return Err(format!(
            "node {node}: {endpoints} endpoint chains, but the evaluator applies {} (endpoint, stage, direction) there: {named:?}; chains: {declared:?}",
            met.stages.len()
        ));
    }
    Ok(policies)
}

/// The iptables rules of a node (both families) hold a chain for every policy,
/// endpoint and profile chain of its nft script (the one render model, two
/// renderings), and no other.
fn check_iptables_chains(nft: &str, rules: &str) -> Result<(), String> {
    let declared: BTreeSet<&str> = rules
        .lines()
        .filter_map(|l| l.strip_prefix(":POLC-"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let count = |set: &BTreeSet<&str>, prefixes: &[&str]| {
        set.iter()
            .filter(|c| prefixes.iter().any(|p| c.starts_with(p)))
            .count()
    };
    let nft_chains = chains(nft);
    let nft_set: BTreeSet<&str> = nft_chains.iter().map(String::as_str).collect();
    for prefixes in [&["pol."][..], &["wl.", "hep."], &["prof."]] {
        let (a, b) = (count(&nft_set, prefixes), count(&declared, prefixes));
        if a != b {
            return Err(format!("{b} chains {prefixes:?}, the nft script has {a}"));
        }
    }
    Ok(())
}

/// The distinct chains an artifact declares.
fn chains(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("chain "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// What the evaluator applies on one node's endpoints, from its stage plan (which
/// its flows walk): every stage of every kind of traffic each endpoint governs, and
/// the policies of each.
struct Met {
    /// (policy, direction) of every policy applied.
    policies: HashSet<(usize, Direction)>,
    /// (endpoint, stage, direction) of every stage.
    stages: HashSet<(usize, Stage, Direction)>,
}

impl Met {
    fn on(engine: &Engine<'_>, node: &str) -> Met {
        let mut met = Met {
            policies: HashSet::new(),
            stages: HashSet::new(),
        };
        let u = &engine.universe;
        let mut add = |ep: usize, stage: Stage, dir: Direction| {
            met.stages.insert((ep, stage, dir));
            for tier in engine.stage_plan(ep, stage, dir).tiers {
                met.policies.extend(tier.policies.iter().map(|&p| (p, dir)));
            }
        };
        for ep in (0..u.endpoints.len()).filter(|&e| u.endpoints[e].node.as_deref() == Some(node)) {
            if u.endpoints[ep].kind == EndpointKind::Pod {
                add(ep, Stage::Normal, Direction::Ingress);
                add(ep, Stage::Normal, Direction::Egress);
            }
        }
        for hop in engine.node_hops(node) {
            let chains = engine.hop_chains(node, &hop);
            for (ep, stage) in chains.ingress {
                add(ep, stage, Direction::Ingress);
            }
            for (ep, stage) in chains.egress {
                add(ep, stage, Direction::Egress);
            }
        }
        met
    }
}
