//! The backends on the generated 10,000-policy / 200-node repository: one node's
//! render model (the largest node) and each target's rendering of it, with the
//! frontend and engine built once.
//!
//! `cargo bench --bench backend` prints each artifact's size and counts, then
//! criterion timings. The whole `polc build` over 200 nodes and the load times are
//! measured with the CLI (see README).

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use polc::backend::nft::{self, NftOptions};
use polc::backend::{Marks, Render, Resolver, build, iptables};
use polc::semantics::Engine;

const NODE: &str = "node-176";

fn bench(c: &mut Criterion) {
    let loaded = polc::frontend::load_sources(support::sources(&support::generate(support::LARGE)));
    assert!(!loaded.diags.has_errors());
    let engine = Engine::new(&loaded.model);
    let marks = Marks::default();
    let resolver = Resolver::new(&engine);
    let model = build::build(&resolver, &loaded.sources, NODE, marks).unwrap();
    let renderers: Vec<Box<dyn Render>> = vec![
        Box::new(nft::Renderer::new(NftOptions::default(), marks, None).unwrap()),
        Box::new(iptables::Renderer::new(marks, None).unwrap()),
    ];
    for r in &renderers {
        for a in r.render(&model).unwrap() {
            eprintln!(
                "{NODE} {}: {} bytes, {} rules, {} sets, {} elements",
                a.file,
                a.content.len(),
                a.rules,
                a.sets,
                a.elements
            );
        }
    }
    let mut g = c.benchmark_group("backend-10k-policies");
    g.sample_size(10);
    g.bench_function("one-node-model", |b| {
        b.iter(|| {
            let resolver = Resolver::new(&engine);
            let m = build::build(&resolver, &loaded.sources, NODE, marks).unwrap();
            black_box(m.chains.len())
        })
    });
    for r in &renderers {
        let name = format!("one-node-{}", r.target().name());
        g.bench_function(&name, |b| {
            b.iter(|| black_box(r.render(&model).unwrap().len()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
