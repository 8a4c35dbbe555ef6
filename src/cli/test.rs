//! `polc test`: check the policy assertions of a YAML file against the input and
//! report each as passed or failed, with the deciding rule and the witness flow of a
//! failure (as `polc explain` prints it); as text, JSON or JUnit XML
//! ([`super::test_report`]). Exit 0 when all hold, 1 when one fails or the
//! assertion file is wrong, 2 on usage errors.

use std::io::Write;
use std::path::PathBuf;

use clap::ValueEnum;

use super::describe::decider;
use super::{EXIT_INPUT, EXIT_OK, Inputs, Out, clean, usage_error};
use crate::analysis::assert::{Outcome, Witness, check};
use crate::diag::render_text;
use crate::frontend::assertions::{read_assertions, read_file};
use crate::ir::Assertion;
use crate::semantics::Engine;
use crate::source::Sources;

/// Arguments of `polc test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// The assertion file: a YAML list of expectations (see the README).
    #[arg(long, value_name = "FILE")]
    assertions: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    format: TestFormat,
}

/// Output format of `polc test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    /// For people: one line per assertion, the witness of each failure.
    Text,
    /// For machines (a stable contract): one object.
    Json,
    /// JUnit XML: one test case per assertion, for CI systems to display.
    Junit,
}

/// One assertion with its outcome, and the words shared by every format.
pub struct Report<'a> {
    /// The assertion.
    pub assertion: &'a Assertion,
    /// `file:line:col` of the assertion.
    pub at: String,
    /// Its line.
    pub line: usize,
    /// The outcome.
    pub outcome: Outcome,
}

/// Run `polc test`.
pub fn run(args: &TestArgs, out: &Out) -> i32 {
    let text = match read_file(&args.assertions) {
        Ok(t) => t,
        Err(e) => return usage_error(e),
    };
    let mut loaded = match load_without(&args.inputs, &args.assertions).map(|l| clean(l, out)) {
        Ok(Ok(l)) => l,
        Ok(Err(code)) => return code,
        Err(e) => return usage_error(e),
    };
    let file = loaded
        .sources
        .add(args.assertions.display().to_string(), text);
    let (assertions, diags) = read_assertions(&loaded.sources, file);
    if diags.has_errors() {
        let mut stderr = std::io::stderr().lock();
        for d in diags.sorted() {
            let _ = writeln!(stderr, "{}", render_text(d, &loaded.sources, out.color));
        }
        let _ = writeln!(
            stderr,
            "polc: the assertion file has errors; no assertion was checked"
        );
        return EXIT_INPUT;
    }
    let engine = Engine::new(&loaded.model);
    let reports: Vec<Report<'_>> = assertions
        .iter()
        .zip(check(&engine, &assertions))
        .map(|(assertion, outcome)| Report {
            assertion,
            at: loaded.sources.locate(assertion.span).to_string(),
            line: loaded.sources.locate(assertion.span).line,
            outcome,
        })
        .collect();
    let rendered = match args.format {
        TestFormat::Text => text_report(&engine, &loaded.sources, &reports),
        TestFormat::Json => super::test_report::json(&engine, &loaded.sources, &reports),
        TestFormat::Junit => super::test_report::junit(
            &engine,
            &loaded.sources,
            &args.assertions.display().to_string(),
            &reports,
        ),
    };
    let _ = std::io::stdout().lock().write_all(rendered.as_bytes());
    if reports.iter().all(|r| r.outcome.holds()) {
        EXIT_OK
    } else {
        EXIT_INPUT
    }
}

/// Load the inputs, less the assertion file itself when it lies inside an input
/// folder (it is not a manifest).
fn load_without(
    inputs: &Inputs,
    assertions: &std::path::Path,
) -> Result<crate::frontend::Loaded, crate::frontend::InputError> {
    let mut collected = crate::frontend::collect_inputs(&inputs.paths())?;
    if let Ok(own) = std::fs::canonicalize(assertions) {
        collected
            .files
            .retain(|f| std::fs::canonicalize(&f.name).ok().as_ref() != Some(&own));
    }
    let mut sources = Sources::default();
    for f in collected.files {
        sources.add_at(f.name, f.path, f.text);
    }
    let mut loaded = crate::frontend::load_sources_with(sources, inputs.options());
    loaded.skipped_inputs = collected.skipped;
    Ok(loaded)
}

/// The witness in one line: `dev/frontend (10.0.0.1) -> prod/backend (10.0.0.2),
/// TCP 40000->8080: DENIED`.
pub fn witness_line(engine: &Engine<'_>, w: &Witness) -> String {
    let side = |r, ip: Option<std::net::IpAddr>| {
        let name = engine.universe.name(r);
        match ip {
            Some(ip) if ip.to_string() != name => format!("{name} ({ip})"),
            _ => name,
        }
    };
    let verdict = if w.verdict.allowed {
        "ALLOWED"
    } else {
        "DENIED"
    };
    let mixed = if w.mixed {
        " (other client source ports differ)"
    } else {
        ""
    };
    format!(
        "{} -> {}, {}: {verdict}{mixed}",
        side(w.from, w.verdict.src_ip),
        side(w.to, w.verdict.dst_ip),
        w.packet
    )
}

/// What decided the witness, with `file:line:col`, and the whole trace.
pub fn witness_trace(engine: &Engine<'_>, sources: &Sources, w: &Witness) -> (String, String) {
    let decided = decider(&w.verdict.decider, engine.model, sources);
    let trace = super::explain::text(
        engine,
        sources,
        &engine.universe.name(w.from),
        &engine.universe.name(w.to),
        w.packet.protocol,
        w.packet.dport,
        &w.packet,
        &w.verdict,
        None,
    );
    (decided, trace)
}

fn text_report(engine: &Engine<'_>, sources: &Sources, reports: &[Report<'_>]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for r in reports {
        match &r.outcome {
            Outcome::Holds { pairs } => {
                let _ = writeln!(
                    s,
                    "PASS {} ({pairs} pair{})",
                    r.assertion.name,
                    if *pairs == 1 { "" } else { "s" }
                );
            }
            Outcome::Fails { reason, witness } => {
                let _ = writeln!(s, "FAIL {} ({})", r.assertion.name, r.at);
                let _ = writeln!(s, "  {reason}");
                if let Some(w) = witness {
                    let (decided, trace) = witness_trace(engine, sources, w);
                    let _ = writeln!(s, "  witness: {}", witness_line(engine, w));
                    let _ = writeln!(s, "  decided by: {decided}");
                    for line in trace.lines() {
                        if line.is_empty() {
                            let _ = writeln!(s);
                        } else {
                            let _ = writeln!(s, "    {line}");
                        }
                    }
                }
            }
        }
    }
    let failed = reports.iter().filter(|r| !r.outcome.holds()).count();
    let _ = writeln!(
        s,
        "\n{} assertion{}: {} passed, {failed} failed",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" },
        reports.len() - failed
    );
    s
}
