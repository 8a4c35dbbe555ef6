//! The semantic diff (`polc diff --base`) of the generated 10,000-policy input over
//! 1,000 endpoints (`support::MATRIX`) against the same input with one rule edited:
//! both exact matrices and their cell-by-cell comparison.
//!
//! `cargo bench --bench diff` prints the criterion timing and the number of changed
//! cells. `POLC_BENCH_WRITE=DIR cargo bench --bench diff` writes `DIR/base` and
//! `DIR/head` instead (the `MATRIX` input and the input with [`EDIT`]; `POLC_BENCH_SIZE=large` the
//! 5,000-pod `LARGE` one), to time the CLI: `polc diff --base DIR/base DIR/head`.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use polc::semantics::Engine;

/// The edit a pull request makes: one policy added, first in the first tier, denying
/// TCP 9090 (the pods' `metrics` port, which rules allow) into the front `db` pods.
const EDIT: &str = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: aaa-close-db-metrics\nspec:\n  tier: tier-0\n  order: 0\n  selector: app == 'db' && tier == 'front'\n  types: [Ingress]\n  ingress:\n    - action: Deny\n      protocol: TCP\n      destination:\n        ports: [9090]\n";

fn edit(files: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = files.to_vec();
    out.push(("edit.yaml".to_string(), EDIT.to_string()));
    out
}

fn bench(c: &mut Criterion) {
    let base = support::generate(support::MATRIX);
    let head = edit(&base);
    let old = polc::frontend::load_sources(support::sources(&base));
    let new = polc::frontend::load_sources(support::sources(&head));
    assert!(!old.diags.has_errors() && !new.diags.has_errors());
    {
        let (eo, en) = (Engine::new(&old.model), Engine::new(&new.model));
        let d = polc::review::cells::diff(&eo, &en);
        eprintln!(
            "diff: {} endpoints, {} policies; {} cells changed",
            d.common.len(),
            new.model.policies.len(),
            d.cells.len()
        );
    }
    let mut g = c.benchmark_group("semantic-diff-1000-endpoints-10k-policies");
    g.sample_size(10);
    g.bench_function("one-rule-edited", |b| {
        b.iter(|| {
            let (eo, en) = (Engine::new(&old.model), Engine::new(&new.model));
            black_box(polc::review::cells::diff(&eo, &en).cells.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Some(dir) = std::env::var_os("POLC_BENCH_WRITE") {
        let dir = std::path::PathBuf::from(dir);
        let size = if std::env::var("POLC_BENCH_SIZE").as_deref() == Ok("large") {
            support::LARGE
        } else {
            support::MATRIX
        };
        let base = support::generate(size);
        for (side, files) in [("base", base.clone()), ("head", edit(&base))] {
            let d = dir.join(side);
            std::fs::create_dir_all(&d).expect("create the output folder");
            for (name, text) in files {
                std::fs::write(d.join(name), text).expect("write a generated file");
            }
        }
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
