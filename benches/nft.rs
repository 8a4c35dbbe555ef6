//! The nftables backend on the generated 10,000-policy / 200-node repository: one
//! node's artifact (the largest), with the frontend and engine built once.
//!
//! `cargo bench --bench nft` prints the artifact's size and counts, then criterion
//! timings. The whole `polc build` over 200 nodes and the `nft -f` load time are
//! measured with the CLI (see README).

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use polc::backend::nft::{self, NftOptions, Resolver};
use polc::semantics::Engine;

const TEMPLATE: &str = include_str!("../templates/nft/polc.nft");

fn bench(c: &mut Criterion) {
    let loaded = polc::frontend::load_sources(support::sources(&support::generate(support::LARGE)));
    assert!(!loaded.diags.has_errors());
    let engine = Engine::new(&loaded.model);
    let mut env = minijinja::Environment::new();
    env.add_template("polc.nft", TEMPLATE).unwrap();
    let template = env.get_template("polc.nft").unwrap();
    let opts = NftOptions::default();
    let resolver = Resolver::new(&engine);
    let a = nft::build(&resolver, &loaded.sources, "node-176", &opts, &template).unwrap();
    eprintln!(
        "node-176: {} bytes, {} rules, {} sets, {} elements",
        a.content.len(),
        a.rules,
        a.sets,
        a.elements
    );
    let mut g = c.benchmark_group("nft-10k-policies");
    g.sample_size(10);
    g.bench_function("one-node-artifact", |b| {
        b.iter(|| {
            let resolver = Resolver::new(&engine);
            black_box(
                nft::build(&resolver, &loaded.sources, "node-176", &opts, &template)
                    .unwrap()
                    .rules,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
