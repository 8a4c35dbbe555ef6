//! The command line: argument parsing (clap derive) and one module per subcommand.
//!
//! Exit codes: 0 clean (warnings allowed, unless `--deny warnings`), 1 the input
//! has errors (or holds no manifest, or a `polc test` assertion fails, or `explain`/
//! `selector --exit-code` found a denied flow / no match), 2 usage errors (bad flags,
//! unknown codes, unreadable paths). Diagnostics go to stderr, results to stdout.

mod build;
mod check;
mod completions;
mod describe;
mod diff;
mod dot;
mod explain;
mod explain_code;
mod explain_nft;
mod generate;
mod graph;
mod help;
mod lints;
mod matrix;
mod selector;
mod test;
mod test_report;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit status: the input is fine.
pub const EXIT_OK: i32 = 0;
/// Exit status: the input has errors.
pub const EXIT_INPUT: i32 = 1;
/// Exit status: the command line is wrong.
pub const EXIT_USAGE: i32 = 2;

/// polc compiles Calico and Kubernetes network policy into per-node firewall artifacts.
#[derive(Debug, Parser)]
#[command(name = "polc", version, about, long_about = None, propagate_version = true,
          after_long_help = help::POLC)]
pub struct Cli {
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Output format of diagnostics and results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For machines (a stable contract).
    Json,
}

/// The subcommands. `build`, `diff`, `matrix` and `explain` join `check` here, each
/// in a module of its own, all sharing [`Inputs`].
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read and validate manifests; print every problem and a summary.
    #[command(after_long_help = help::CHECK)]
    Check(check::CheckArgs),
    /// Render per-node firewall artifacts.
    #[command(after_long_help = help::BUILD)]
    Build(build::BuildArgs),
    /// Compare rendered artifacts with a golden tree, or the connectivity of two
    /// versions of the input (semantic diff, with a change intent).
    #[command(after_long_help = help::DIFF)]
    Diff(diff::DiffArgs),
    /// Rewrite a golden artifact tree atomically (`diff --golden DIR --bless`).
    #[command(after_long_help = help::BLESS)]
    Bless(diff::BlessArgs),
    /// Show which endpoints can reach which: per port, or the exact allowed sets.
    #[command(after_long_help = help::MATRIX)]
    Matrix(matrix::MatrixArgs),
    /// Trace how one flow is decided, stage by stage and tier by tier.
    #[command(after_long_help = help::EXPLAIN)]
    Explain(explain::ExplainArgs),
    /// Parse one selector, print its normal form and whether it matches a label set.
    #[command(after_long_help = help::SELECTOR)]
    Selector(selector::SelectorArgs),
    /// Draw the tiers and the order their policies run in, as Graphviz DOT.
    #[command(after_long_help = help::GRAPH)]
    Graph(graph::GraphArgs),
    /// Check policy assertions (a YAML list of expected verdicts) against the input.
    #[command(after_long_help = help::TEST)]
    Test(test::TestArgs),
    /// Explain a diagnostic code, or list every code.
    #[command(after_long_help = help::EXPLAIN_CODE)]
    ExplainCode(explain_code::ExplainCodeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_long_help = help::COMPLETIONS)]
    Completions(completions::CompletionsArgs),
    /// Print polc's man page (or a subcommand's, or write every page to a folder).
    #[command(after_long_help = help::MAN)]
    Man(completions::ManArgs),
    /// Test tooling: write a generated policy repository of any size (for benchmarks).
    #[command(after_long_help = help::GENERATE)]
    Generate(generate::GenerateArgs),
}

/// The manifest inputs every subcommand that reads a repository takes.
#[derive(Debug, clap::Args)]
pub struct Inputs {
    /// Files or folders to read (folders recursively: *.yaml, *.yml, *.json); `-` reads
    /// standard input. Default: the current folder.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Skip, with a warning, the kinds of policy API groups polc does not model
    /// (policy.networking.k8s.io, projectcalico.org, crd.projectcalico.org, and
    /// networking.k8s.io `...Policy` kinds) instead of failing: their rules are then
    /// not in the artifacts.
    #[arg(long)]
    pub allow_unknown_kinds: bool,
}

impl Inputs {
    /// The paths, defaulting to the current folder.
    pub fn paths(&self) -> Vec<PathBuf> {
        if self.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            self.paths.clone()
        }
    }

    /// How the frontend reads these inputs: the flags, or `[input]` of the
    /// `polc.toml` at the repository root.
    pub fn options(&self) -> crate::frontend::Options {
        use crate::severity::config;
        let root = config::root(&self.paths());
        crate::frontend::Options {
            allow_unknown_kinds: self.allow_unknown_kinds || config::allow_unknown_kinds(&root),
        }
    }
}

/// Where output goes, and whether it is coloured.
pub struct Out {
    /// Colour stderr text.
    pub color: bool,
    /// The `--color` choice.
    pub choice: Color,
}

impl Out {
    /// Whether to colour what goes to standard output (a terminal, NO_COLOR unset).
    pub fn stdout_color(&self) -> bool {
        match self.choice {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
            }
        }
    }
}

/// Run polc with these arguments; returns the exit status.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
        }
    };
    let out = Out {
        color,
        choice: cli.color,
    };
    let status = match &cli.command {
        Command::Check(a) => check::run(a, &out),
        Command::Build(a) => build::run(a, &out),
        Command::Diff(a) => diff::run(a, &out),
        Command::Bless(a) => diff::run_bless(a, &out),
        Command::Matrix(a) => matrix::run(a, &out),
        Command::Explain(a) => explain::run(a, &out),
        Command::Selector(a) => selector::run(a, &out),
        Command::Graph(a) => graph::run(a, &out),
        Command::Test(a) => test::run(a, &out),
        Command::ExplainCode(a) => explain_code::run(a),
        Command::Completions(a) => completions::completions(a),
        Command::Man(a) => completions::man(a),
        Command::Generate(a) => generate::run(a),
    };
    let _ = std::io::stdout().flush();
    status
}

/// Load the inputs for a command that needs a valid model: on input errors, print
/// them (as `check` would) and return the exit status.
pub fn load_clean(inputs: &Inputs, out: &Out) -> Result<crate::frontend::Loaded, i32> {
    let loaded =
        crate::frontend::load_with(&inputs.paths(), inputs.options()).map_err(usage_error)?;
    clean(loaded, out)
}

/// [`load_clean`] of an input already loaded.
pub fn clean(loaded: crate::frontend::Loaded, out: &Out) -> Result<crate::frontend::Loaded, i32> {
    report_skipped(&loaded.skipped_inputs);
    if loaded.diags.has_errors() {
        let mut stderr = std::io::stderr().lock();
        for d in loaded
            .diags
            .sorted()
            .into_iter()
            .filter(|d| d.severity == crate::diag::Severity::Error)
        {
            let _ = writeln!(
                stderr,
                "{}",
                crate::diag::render_text(d, &loaded.sources, out.color)
            );
        }
        let _ = writeln!(
            stderr,
            "polc: the input has errors; fix them first (`polc check` lists everything)"
        );
        return Err(EXIT_INPUT);
    }
    Ok(loaded)
}

/// Say on stderr which paths input discovery passed over: a note for polc's own output
/// folders, a warning for files that are not regular files.
pub fn report_skipped(skipped: &[crate::frontend::Skipped]) {
    for s in skipped {
        let level = match s {
            crate::frontend::Skipped::Output(_) => "note",
            crate::frontend::Skipped::NotRegular(..) => "warning",
        };
        eprintln!("polc: {level}: {s}");
    }
}

/// Print a usage-level error (exit 2) to stderr.
pub fn usage_error(msg: impl std::fmt::Display) -> i32 {
    eprintln!("polc: error: {msg}");
    EXIT_USAGE
}
