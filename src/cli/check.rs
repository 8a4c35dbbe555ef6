//! `polc check`: read and validate manifests, analyse and lint a valid model, print
//! every diagnostic and a summary (as text, JSON or SARIF); `--deny warnings` makes
//! warnings fail the check.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use clap::ValueEnum;

use super::lints::LintArgs;
use super::{EXIT_INPUT, EXIT_OK, Inputs, Out, usage_error};
use crate::diag::{self, Diagnostic, Severity};
use crate::frontend::{self, Loaded};
use crate::ir::Model;
use crate::lint;
use crate::semantics::Engine;
use crate::severity::Severities;

/// Arguments of `polc check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    format: CheckFormat,
    /// Print errors only (no warnings, notes or summary); denied warnings count as
    /// errors.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    lints: LintArgs,
}

/// Output format of `polc check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// For people: diagnostics on stderr, a summary on stdout.
    Text,
    /// For machines (a stable contract): one object on stdout.
    Json,
    /// A SARIF 2.1.0 log on stdout, for GitHub code scanning and other SARIF viewers.
    Sarif,
}

/// What a check read, in numbers (part of the JSON contract).
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Files read.
    pub files: usize,
    /// Tiers, built-in ones included.
    pub tiers: usize,
    /// Built-in tiers that the input did not declare.
    pub builtin_tiers: usize,
    /// Enforced policies (Calico and Kubernetes).
    pub policies: usize,
    /// Staged policies.
    pub staged_policies: usize,
    /// Rules over all policies.
    pub rules: usize,
    /// Admin and baseline admin network policies.
    pub admin_policies: usize,
    /// Declared profiles.
    pub profiles: usize,
    /// Host endpoints.
    pub host_endpoints: usize,
    /// Network sets.
    pub network_sets: usize,
    /// Namespaces (declared or implied).
    pub namespaces: usize,
    /// Pods.
    pub pods: usize,
    /// Nodes.
    pub nodes: usize,
    /// Skipped documents by `apiVersion/kind`.
    pub skipped: BTreeMap<String, usize>,
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
}

impl Summary {
    fn new(loaded: &Loaded) -> Summary {
        let m: &Model = &loaded.model;
        let staged = m.policies.iter().filter(|p| p.staged.is_some()).count();
        Summary {
            files: loaded.sources.iter().count(),
            tiers: m.tiers.len(),
            builtin_tiers: m.tiers.iter().filter(|t| t.builtin).count(),
            policies: m.policies.len() - staged - m.admin_policies.len(),
            staged_policies: staged,
            rules: m.rule_count(),
            admin_policies: m.admin_policies.len(),
            profiles: m.profiles.iter().filter(|p| !p.builtin).count(),
            host_endpoints: m.host_endpoints.len(),
            network_sets: m.network_sets.len(),
            namespaces: m.namespaces.len(),
            pods: m.pods.len(),
            nodes: m.nodes.len(),
            skipped: loaded.skipped.clone(),
            errors: loaded.diags.count(Severity::Error),
            warnings: loaded.diags.count(Severity::Warning),
        }
    }

    /// The one-line human summary.
    pub fn line(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut s = format!(
            "checked {}: {} ({} built in), {}",
            plural(self.files, "file", "files"),
            plural(self.tiers, "tier", "tiers"),
            self.builtin_tiers,
            plural(self.policies, "policy", "policies"),
        );
        if self.staged_policies > 0 {
            s += &format!(" + {} staged", self.staged_policies);
        }
        s += &format!(" with {}", plural(self.rules, "rule", "rules"));
        if self.admin_policies > 0 {
            s += &format!(
                ", {}",
                plural(self.admin_policies, "admin policy", "admin policies")
            );
        }
        s += &format!(
            ", {}, {}, {}, {}, {}, {}",
            plural(self.host_endpoints, "host endpoint", "host endpoints"),
            plural(self.network_sets, "network set", "network sets"),
            plural(self.profiles, "profile", "profiles"),
            plural(self.namespaces, "namespace", "namespaces"),
            plural(self.pods, "pod", "pods"),
            plural(self.nodes, "node", "nodes"),
        );
        let skipped: usize = self.skipped.values().sum();
        if skipped > 0 {
            let kinds: Vec<String> = self
                .skipped
                .iter()
                .map(|(k, n)| format!("{k} x{n}"))
                .collect();
            s += &format!(
                "; skipped {} ({})",
                plural(skipped, "document", "documents"),
                kinds.join(", ")
            );
        }
        s += &format!(
            "; {}, {}",
            plural(self.errors, "error", "errors"),
            plural(self.warnings, "warning", "warnings")
        );
        s
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    ok: bool,
    diagnostics: Vec<diag::JsonDiagnostic<'a>>,
    summary: &'a Summary,
}

/// Load the inputs and run every check `polc check` runs (validation; on a valid
/// model, the analysis and the lints), with the severities of `polc.toml` and the
/// flags applied: the one function `check`, `build` and `test` share. Usage errors
/// (unreadable paths, unknown codes in flags) are the `Err`.
pub fn diagnose(inputs: &Inputs, lints: &LintArgs) -> Result<Diagnosed, String> {
    let paths = inputs.paths();
    let mut loaded = frontend::load_with(&paths, inputs.options()).map_err(|e| e.to_string())?;
    let files = loaded.sources.iter().count();
    let (severities, config_diags) = lints.severities(&paths, &mut loaded.sources)?;
    if loaded.documents == 0 && !loaded.diags.has_errors() {
        let shown: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
        loaded.diags.push(
            Diagnostic::error(
                "no-manifests",
                format!("found no manifests under {}", shown.join(", ")),
            )
            .help("check the paths; polc reads *.yaml, *.yml and *.json files, and folders recursively"),
        );
    }
    if !loaded.diags.has_errors() {
        let engine = Engine::new(&loaded.model);
        let found = crate::analysis::analyze(&engine).diagnostics;
        loaded.diags.extend(found);
        loaded.diags.extend(lint::lints(&engine));
    }
    let items = std::mem::take(&mut loaded.diags).into_vec();
    loaded.diags.extend(severities.apply(&loaded.model, items));
    loaded.diags.extend(config_diags.into_vec());
    Ok(Diagnosed {
        loaded,
        severities,
        files,
    })
}

/// What [`diagnose`] found.
pub struct Diagnosed {
    /// The input, its diagnostics with severities applied.
    pub loaded: Loaded,
    /// The severities in force.
    pub severities: Severities,
    /// Manifest files read (`polc.toml` not counted).
    pub files: usize,
}

impl Diagnosed {
    /// Whether the run fails: an error, or a warning under `--deny warnings`.
    pub fn fails(&self) -> bool {
        let deny = self.severities.deny_warnings();
        self.loaded
            .diags
            .sorted()
            .iter()
            .any(|d| d.severity == Severity::Error || (deny && d.severity == Severity::Warning))
    }
}

/// Run `polc check`.
pub fn run(args: &CheckArgs, out: &Out) -> i32 {
    let Diagnosed {
        loaded,
        severities,
        files,
    } = match diagnose(&args.inputs, &args.lints) {
        Ok(l) => l,
        Err(e) => return usage_error(e),
    };
    if !args.quiet {
        super::report_skipped(&loaded.skipped_inputs);
    }
    let mut summary = Summary::new(&loaded);
    summary.files = files;
    let deny_warnings = severities.deny_warnings();
    let fails = |s: Severity| s == Severity::Error || (deny_warnings && s == Severity::Warning);
    let mut shown = loaded.diags.sorted();
    let ok = !shown.iter().any(|d| fails(d.severity));
    if args.quiet {
        shown.retain(|d| fails(d.severity));
    }
    match args.format {
        CheckFormat::Sarif => {
            let log = diag::sarif::log(&shown, &loaded.sources);
            let mut stdout = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut stdout, &log);
            let _ = writeln!(stdout);
        }
        CheckFormat::Json => {
            let report = JsonReport {
                ok,
                diagnostics: shown
                    .iter()
                    .map(|d| diag::to_json(d, &loaded.sources))
                    .collect(),
                summary: &summary,
            };
            let mut stdout = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut stdout, &report);
            let _ = writeln!(stdout);
        }
        CheckFormat::Text => {
            let mut stderr = std::io::stderr().lock();
            for d in &shown {
                let _ = write!(
                    stderr,
                    "{}",
                    diag::render_text(d, &loaded.sources, out.color)
                );
                let _ = writeln!(stderr);
            }
            if !args.quiet {
                let _ = writeln!(std::io::stdout(), "{}", summary.line());
            }
            if deny_warnings && summary.warnings > 0 {
                let _ = writeln!(
                    stderr,
                    "polc: {} denied by `--deny warnings`",
                    if summary.warnings == 1 {
                        "1 warning".to_string()
                    } else {
                        format!("{} warnings", summary.warnings)
                    }
                );
            }
        }
    }
    if ok { EXIT_OK } else { EXIT_INPUT }
}
