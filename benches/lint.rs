//! The lints over a large repository (10,000 policies, 100,000 rules, 5,000 pods on
//! 200 nodes), with a host endpoint per node and a host firewall that admits every
//! pod, so `host-policy-admits-workloads` evaluates flows.
//!
//! `cargo bench --bench lint` prints criterion timings and the number of findings.

mod support;

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use polc::semantics::Engine;

fn bench(c: &mut Criterion) {
    let size = support::LARGE;
    let mut files = support::generate(size);
    let mut hosts = String::new();
    for n in 0..size.nodes {
        writeln!(hosts, "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node-{n}-eth0\n  labels:\n    role: node\nspec:\n  node: node-{n}\n  interfaceName: eth0\n  expectedIPs: [172.16.{}.{}]\n---", n / 250, n % 250 + 1).unwrap();
    }
    hosts.push_str("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: host-firewall\nspec:\n  selector: role == 'node'\n  types: [Ingress, Egress]\n  ingress:\n    - action: Allow\n      source:\n        selector: all()\n  egress:\n    - action: Allow\n");
    files.push(("hosts.yaml".to_string(), hosts));
    let loaded = polc::frontend::load_sources(support::sources(&files));
    assert!(!loaded.diags.has_errors(), "generated input is valid");
    let model = &loaded.model;
    let found = polc::lint::lints(&Engine::new(model));
    let mut codes = std::collections::BTreeMap::new();
    for d in &found {
        *codes.entry(d.code).or_insert(0usize) += 1;
    }
    eprintln!(
        "lint: {} policies, {} rules, {} pods, {} host endpoints; findings: {codes:?}",
        model.policies.len(),
        model.rule_count(),
        model.pods.len(),
        model.host_endpoints.len()
    );
    let mut g = c.benchmark_group("lint-10k-policies-5k-pods");
    g.sample_size(10);
    g.bench_function("all-lints", |b| {
        b.iter(|| black_box(polc::lint::lints(&Engine::new(model)).len()))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
