//! `polc diff` and `polc bless`: review a change.
//!
//! - `--golden DIR`: render the artifacts in memory, as `build` would, and compare them
//!   with a checked-in artifact tree (`golden.rs`); `--bless` (or `polc bless`)
//!   rewrites the tree through the build's atomic writer.
//! - `--base OLD`: the semantic diff of the model at OLD (a folder or a git revision)
//!   and the current one, cell by cell of the exact matrix (`semantic.rs`), checked
//!   against a change intent with `--intent FILE`.
//!
//! - `--staged`: the same semantic diff between the current model and the model with
//!   every staged policy enforced (`crate::ir::enforce_staged`), a what-if of
//!   enforcing them; `--intent` works as with `--base`.
//!
//! Exit codes: 0 equal (or the intent holds), 1 different (or the intent fails, or
//! the input has errors), 2 usage errors.

mod budget;
mod golden;
mod semantic;

use std::io::Write;
use std::path::PathBuf;

use clap::ValueEnum;

use super::build::{RenderArgs, TargetArg};
use super::{EXIT_INPUT, EXIT_OK, Inputs, Out, usage_error};

/// Output format of `polc diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// For people (coloured on a terminal).
    Text,
    /// A pull-request comment: a summary table and collapsible sections, cut at
    /// `--max-bytes`.
    Markdown,
    /// For machines (a stable contract, documented in the README).
    Json,
    /// One self-contained page: the before and after matrices with the changed
    /// cells highlighted (`--base` or `--staged`).
    Html,
}

/// Arguments of `polc diff`.
#[derive(Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("mode").required(true).args(["golden", "base", "staged"])),
    group(clap::ArgGroup::new("semantic").args(["base", "staged"]))
)]
pub struct DiffArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Compare the rendered artifacts with this artifact tree (as `build --out` writes it).
    #[arg(long, value_name = "DIR", conflicts_with = "base")]
    golden: Option<PathBuf>,
    /// Rewrite the golden tree with the rendered artifacts (atomically), after showing the diff.
    #[arg(long, requires = "golden")]
    bless: bool,
    /// Semantic diff: compare the connectivity of this base (a folder, or a git
    /// revision such as origin/main, HEAD~1 or a commit) with the current input.
    #[arg(long, value_name = "OLD")]
    base: Option<String>,
    /// What-if semantic diff: the cells that enforcing every staged policy
    /// (StagedNetworkPolicy, StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy)
    /// would change, against what the input enforces now.
    #[arg(long)]
    staged: bool,
    /// With --base or --staged: a YAML list of the flows the change means to alter;
    /// fail when any other cell changes or a listed one does not end as stated.
    #[arg(long, value_name = "FILE", requires = "semantic")]
    intent: Option<PathBuf>,
    /// The artifact kinds (--golden); default: those the golden tree's
    /// manifest.json lists (nft for a tree without one).
    #[arg(long, value_enum)]
    target: Option<TargetArg>,
    #[command(flatten)]
    render: RenderArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// The largest Markdown report, in bytes (GitHub comments hold 65536 characters).
    #[arg(long, value_name = "N", default_value_t = 60_000)]
    max_bytes: usize,
    /// Write the report to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Arguments of `polc bless`.
#[derive(Debug, clap::Args)]
pub struct BlessArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// The artifact tree to rewrite (new, empty, or an earlier output of polc).
    #[arg(long, value_name = "DIR")]
    golden: PathBuf,
    /// The artifact kinds; default: those the tree's manifest.json lists (nft for a
    /// new tree).
    #[arg(long, value_enum)]
    target: Option<TargetArg>,
    #[command(flatten)]
    render: RenderArgs,
}

/// Run `polc diff`.
pub fn run(args: &DiffArgs, out: &Out) -> i32 {
    if args.max_bytes < 1000 {
        return usage_error("--max-bytes must be at least 1000");
    }
    let color = args.output.is_none() && out.stdout_color();
    let before = match (&args.base, args.staged) {
        (Some(base), _) => Some(semantic::Before::Base(base)),
        (None, true) => Some(semantic::Before::Staged),
        (None, false) => None,
    };
    let result = match (&args.golden, before) {
        (Some(dir), _) => {
            if args.format == DiffFormat::Html {
                return usage_error(
                    "--format html draws a semantic diff: use it with --base or --staged",
                );
            }
            golden::run(
                &golden::Request {
                    inputs: &args.inputs,
                    golden: dir,
                    target: args.target,
                    render: &args.render,
                    bless: args.bless,
                    format: args.format,
                    max_bytes: args.max_bytes,
                    color,
                },
                out,
            )
        }
        (None, Some(before)) => semantic::run(
            &semantic::Request {
                inputs: &args.inputs,
                before,
                intent: args.intent.as_deref(),
                format: args.format,
                max_bytes: args.max_bytes,
                color,
            },
            out,
        ),
        (None, None) => return usage_error("give --golden DIR, --base OLD or --staged"),
    };
    match result {
        Ok((text, status)) => emit(&text, args.output.as_ref(), status),
        Err(status) => status,
    }
}

/// Run `polc bless`.
pub fn run_bless(args: &BlessArgs, out: &Out) -> i32 {
    match golden::bless(&args.inputs, &args.golden, args.target, &args.render, out) {
        Ok(n) => {
            println!("blessed {n} file(s) into {}", args.golden.display());
            EXIT_OK
        }
        Err(status) => status,
    }
}

/// Print or write the report; the status stands unless writing fails.
fn emit(text: &str, output: Option<&PathBuf>, status: i32) -> i32 {
    match output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                return usage_error(format!("cannot write `{}`: {e}", path.display()));
            }
        }
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    status
}

/// The status of a report: 0 when equal, 1 when not.
fn status(equal: bool) -> i32 {
    if equal { EXIT_OK } else { EXIT_INPUT }
}
