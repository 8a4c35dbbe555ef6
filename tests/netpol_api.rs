//! The evaluator against the Kubernetes network-policy-api conformance suites:
//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (`v1alpha1`, upstream tag v0.1.8)
//! and ClusterNetworkPolicy (`v1alpha2`, upstream HEAD), each probe of each upstream
//! test step with upstream's expectation (`tests/netpol-api/`, `docs/netpol-api-conformance.md`).

mod common;

use std::collections::BTreeMap;

use polc::ir::Protocol;
use polc::semantics::{Engine, Packet};

/// What was transcribed: a loader that finds fewer scenarios or probes is broken.
const SCENARIOS: usize = 178;
const CASES: usize = 572;

fn protocol(name: &str) -> Protocol {
    match name {
        "TCP" => Protocol::TCP,
        "UDP" => Protocol::UDP,
        "SCTP" => Protocol::SCTP,
        other => panic!("unknown protocol {other}"),
    }
}

/// Whether the evaluator lets `case`'s first packet through, or why it cannot say.
fn verdict(engine: &Engine<'_>, case: &common::ApiCase) -> Result<bool, String> {
    let ep = |name: &str| engine.universe.resolve(engine.model, name);
    let (from, to) = (ep(&case.from)?, ep(&case.to)?);
    let packet = Packet::to_port(protocol(&case.protocol), case.port);
    Ok(engine.evaluate(from, to, &packet).allowed)
}

/// The model of the inventory and one step's policies, or the input errors; a
/// document polc skips (a kind it does not model) counts as one, so a policy that
/// did not load cannot pass as one that allows.
fn load(inventory: &str, policies: &str) -> Result<polc::ir::Model, String> {
    let loaded = common::load_files(&[("inventory.yaml", inventory), ("policies.yaml", policies)]);
    let errors: Vec<String> = common::input_errors(&loaded)
        .into_iter()
        .chain(
            loaded
                .skipped
                .iter()
                .map(|(kind, n)| format!("{n} document(s) of {kind} skipped")),
        )
        .collect();
    if errors.is_empty() {
        Ok(loaded.model)
    } else {
        Err(errors.join("; "))
    }
}

#[test]
fn network_policy_api_conformance_truth_tables() {
    let scenarios = common::api_scenarios();
    let mut names = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    // suite → protocol → (cells, mismatches)
    let mut tally: BTreeMap<String, BTreeMap<String, (usize, usize)>> = BTreeMap::new();
    for (path, s) in &scenarios {
        assert!(
            names.insert(s.name.clone()),
            "{path}: name {} twice",
            s.name
        );
        assert!(!s.cases.is_empty(), "{path}: no cases");
        assert_eq!(
            path.rsplit('/').next(),
            Some(format!("{}.yaml", s.name).as_str()),
            "{path}: the file is named after the scenario"
        );
        let inventory = common::api_inventory_with(&s.namespace_labels);
        let suite = path.split('/').next().unwrap_or_default().to_string();
        let m = match load(&inventory, &s.policies) {
            Ok(m) => m,
            Err(e) => {
                for c in &s.cases {
                    let cell = tally.entry(suite.clone()).or_default();
                    let cell = cell.entry(c.protocol.clone()).or_default();
                    cell.0 += 1;
                    cell.1 += 1;
                }
                failures.push(format!(
                    "{path}: {} cells not evaluated: {e}",
                    s.cases.len()
                ));
                continue;
            }
        };
        let engine = Engine::new(&m);
        for c in &s.cases {
            let cell = tally
                .entry(suite.clone())
                .or_default()
                .entry(c.protocol.clone())
                .or_default();
            cell.0 += 1;
            let got = verdict(&engine, c);
            if got.as_ref() != Ok(&c.allowed) {
                cell.1 += 1;
                failures.push(format!(
                    "{path}: {} -> {} {} {}: polc {got:?}, upstream expects {}",
                    c.from, c.to, c.protocol, c.port, c.allowed
                ));
            }
        }
    }
    let cases: usize = tally.values().flat_map(|p| p.values()).map(|c| c.0).sum();
    let mut per_protocol: BTreeMap<&str, usize> = BTreeMap::new();
    for (p, (n, _)) in tally.values().flat_map(|p| p.iter()) {
        *per_protocol.entry(p.as_str()).or_default() += n;
    }
    let per_protocol: Vec<String> = per_protocol
        .iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    println!(
        "{} scenarios, {cases} cells ({}), {} problems",
        scenarios.len(),
        per_protocol.join(", "),
        failures.len()
    );
    for (suite, protos) in &tally {
        let cells: Vec<String> = protos
            .iter()
            .map(|(p, (n, bad))| format!("{p} {n} ({bad} mismatching)"))
            .collect();
        println!("  {suite}: {}", cells.join(", "));
    }
    assert!(
        scenarios.len() >= SCENARIOS,
        "{} scenarios, {SCENARIOS} transcribed",
        scenarios.len()
    );
    assert!(cases >= CASES, "{cases} cases, {CASES} transcribed");
    assert!(
        failures.is_empty(),
        "{} of {cases} cells disagree with upstream:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
