//! The analysis of 10,000 policies (125,000 rules) over 5,000 pods on 200 nodes:
//! exact shadowed, redundant and order-dependent rules.
//!
//! `cargo bench --bench analysis` prints, once, the findings by kind, the contexts
//! and cells swept and the peak heap growth of one analysis, then criterion's
//! timing of an analysis (evaluator construction included, parsing excluded).

mod support;

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use polc::analysis::analyze;
use polc::semantics::Engine;

#[global_allocator]
static ALLOC: support::PeakAlloc = support::PeakAlloc;

fn bench(c: &mut Criterion) {
    let loaded = polc::frontend::load_sources(support::sources(&support::generate(support::LARGE)));
    assert!(!loaded.diags.has_errors());
    let model = &loaded.model;
    {
        let start = std::time::Instant::now();
        let (result, peak) = support::peak_during(|| {
            let engine = Engine::new(model);
            analyze(&engine)
        });
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &result.diagnostics {
            *kinds.entry(d.code).or_default() += 1;
        }
        eprintln!(
            "analysis: {} policies, {} rules, {} pods; {} contexts, {} cells, {} skipped; \
             {:.2?} once, peak heap growth {} MiB; findings: {kinds:?}",
            model.policies.len(),
            model.rule_count(),
            model.pods.len(),
            result.contexts,
            result.cells,
            result.incomplete,
            start.elapsed(),
            peak >> 20
        );
    }
    let mut g = c.benchmark_group("analysis-10k-policies");
    g.sample_size(10);
    g.bench_function("analyze", |b| {
        b.iter(|| {
            let engine = Engine::new(model);
            black_box(analyze(&engine).diagnostics.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
