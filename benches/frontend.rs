//! Parsing and validation of a large repository (10,000 policies, 100,000 rules,
//! 5,000 pods) against the floor: parsing the same YAML into untyped values.
//!
//! `cargo bench --bench frontend` prints criterion timings, then one line per variant
//! with its peak heap use, measured by a counting allocator.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group};

#[global_allocator]
static ALLOC: support::PeakAlloc = support::PeakAlloc;

/// The floor: every document of every file into a `serde_json::Value`, all kept, as
/// a tool that parses first and looks later would hold them.
fn parse_untyped(files: &[(String, String)]) -> Vec<Vec<serde_json::Value>> {
    let options = || {
        serde_saphyr::options! {
            budget: serde_saphyr::budget! { max_documents: 100_000, max_nodes: 50_000_000, max_events: 100_000_000 },
        }
    };
    files
        .iter()
        .map(|(_, text)| {
            serde_saphyr::from_multiple_with_options(text, options())
                .expect("generated YAML parses")
        })
        .collect()
}

/// polc's frontend: split, typed parse, validation and lowering into the IR (the
/// result keeps the sources, for diagnostics, and the model).
fn check(files: &[(String, String)]) -> polc::frontend::Loaded {
    let loaded = polc::frontend::load_sources(support::sources(files));
    assert!(!loaded.diags.has_errors(), "generated input is valid");
    loaded
}

fn bench(c: &mut Criterion) {
    let files = support::generate(support::LARGE);
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    let rules = check(&files).model.rule_count();
    // Each Kubernetes rule has two peers, so it becomes two Calico rules.
    assert_eq!(rules, 7_500 * 10 + 2_500 * 10 * 2);
    eprintln!(
        "input: {} files, {:.1} MiB, 10000 policies with 100000 rules ({rules} in Calico form), 5000 pods",
        files.len(),
        bytes as f64 / 1048576.0
    );

    let mut g = c.benchmark_group("frontend-10k-policies");
    g.sample_size(10);
    g.bench_function("untyped-yaml-floor", |b| {
        b.iter(|| black_box(parse_untyped(black_box(&files))))
    });
    g.bench_function("polc-check", |b| {
        b.iter(|| black_box(check(black_box(&files))))
    });
    g.finish();

    let (_, floor_peak) = support::peak_during(|| parse_untyped(&files));
    let (loaded, check_peak) = support::peak_during(|| check(&files));
    let (_, model_peak) =
        support::peak_during(|| polc::frontend::load_sources(support::sources(&files)).model);
    drop(loaded);
    eprintln!(
        "retained model alone: {:.1} MiB",
        model_peak as f64 / 1048576.0
    );
    eprintln!(
        "peak heap: untyped-yaml-floor {:.1} MiB, polc-check {:.1} MiB (ratio {:.2})",
        floor_peak as f64 / 1048576.0,
        check_peak as f64 / 1048576.0,
        check_peak as f64 / floor_peak as f64
    );
}

criterion_group!(benches, bench);

fn main() {
    // `POLC_BENCH_WRITE=DIR cargo bench --bench frontend` writes the generated
    // repository to DIR (to time the CLI end to end) instead of benchmarking.
    if let Some(dir) = std::env::var_os("POLC_BENCH_WRITE") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create the output folder");
        for (name, text) in support::generate(support::LARGE) {
            std::fs::write(dir.join(name), text).expect("write a generated file");
        }
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
