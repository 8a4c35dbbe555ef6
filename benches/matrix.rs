//! The connectivity matrix of 1,000 endpoints (800 pods in 100 deployments, 200 nodes)
//! under 10,000 policies, with exact port-set cells and with one port.
//!
//! `cargo bench --bench matrix` prints criterion timings and the number of endpoint
//! classes and distinct cells computed: the work follows distinct label sets, not
//! endpoints.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use polc::ir::Protocol;
use polc::semantics::matrix::matrix;
use polc::semantics::{EndpointRef, Engine};

fn bench(c: &mut Criterion) {
    let loaded =
        polc::frontend::load_sources(support::sources(&support::generate(support::MATRIX)));
    assert!(!loaded.diags.has_errors());
    let model = &loaded.model;
    let all = |e: &Engine<'_>| {
        (0..e.universe.endpoints.len())
            .map(EndpointRef::Known)
            .collect::<Vec<_>>()
    };
    {
        let engine = Engine::new(model);
        let eps = all(&engine);
        let m = matrix(&engine, &eps, &eps, &[]);
        let cells = m.rows.len() * m.cols.len();
        let allowed = m.index.iter().flatten().filter(|&&i| matches!(&m.distinct[i as usize], polc::semantics::matrix::Cell::Set(s, _) if !s.is_none())).count();
        eprintln!(
            "matrix: {} endpoints, {} policies, {} rules; {cells} cells, {} computed, {allowed} with something allowed",
            eps.len(),
            model.policies.len(),
            model.rule_count(),
            m.computed()
        );
    }
    let mut g = c.benchmark_group("matrix-1000-endpoints-10k-policies");
    g.sample_size(10);
    g.bench_function("exact-port-sets", |b| {
        b.iter(|| {
            let engine = Engine::new(model);
            let eps = all(&engine);
            black_box(matrix(&engine, &eps, &eps, &[]).computed())
        })
    });
    g.bench_function("one-port", |b| {
        b.iter(|| {
            let engine = Engine::new(model);
            let eps = all(&engine);
            black_box(matrix(&engine, &eps, &eps, &[(Protocol::TCP, 443)]).computed())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
