//! Per-code severity, as clippy and ruff configure it: `allow`, `warn` or `deny` for
//! a diagnostic code, from `polc.toml` ([`config`]), from `--allow/--warn/--deny`
//! flags, and for one policy from its `polc.dev/allow` annotation.
//!
//! Precedence, most specific first: a policy's `polc.dev/allow` annotation (it names
//! one code, carries a reason and is reviewed with the policy) over the command-line
//! flags, over `polc.toml`, over the code's default severity. When flags give one
//! code several levels, the strictest wins (`deny` over `warn` over `allow`).
//! `warnings` stands for every finding still a warning after that: `--deny warnings`
//! (or `warnings = "deny"` in `polc.toml`) fails on them.
//!
//! Only findings about a valid input can be configured: warnings, notes and the
//! errors of the rule analysis ([`FINDING_ERRORS`]). An input error (a manifest
//! Calico would reject, or polc cannot read) is always an error.

pub mod config;

use std::collections::BTreeMap;

use crate::codes::{self, Code};
use crate::diag::{Diagnostic, Severity};
use crate::ir::Model;

/// Error-severity codes that are findings of the analysis on a valid input, not input
/// errors: they can be lowered.
pub const FINDING_ERRORS: &[&str] = &["shadowed-rule", "unreachable-rule"];

/// What to do with a code's diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Drop them.
    Allow,
    /// Report them as warnings.
    Warn,
    /// Report them as errors (polc exits 1; build writes nothing).
    Deny,
}

impl Level {
    /// Parse `allow`, `warn` or `deny`.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "allow" => Some(Level::Allow),
            "warn" => Some(Level::Warn),
            "deny" => Some(Level::Deny),
            _ => None,
        }
    }
}

/// The name that stands for every remaining warning.
pub const WARNINGS: &str = "warnings";

/// The code a user named, if it can be configured; else what is wrong, in a sentence
/// (with the nearest code when it looks like a typo).
pub fn configurable(code: &str) -> Result<&'static Code, String> {
    let Some(c) = codes::lookup(code) else {
        return Err(match codes::suggest(code) {
            Some(s) => format!("no diagnostic code `{code}`; did you mean `{s}`?"),
            None => format!("no diagnostic code `{code}` (`polc explain-code --list` lists them)"),
        });
    };
    if c.severity == Severity::Error && !FINDING_ERRORS.contains(&c.code) {
        return Err(format!(
            "`{code}` is an input error (Calico would reject the manifest, or polc cannot read it); it cannot be allowed or lowered"
        ));
    }
    Ok(c)
}

/// The levels in force, from `polc.toml` and the command line.
#[derive(Debug, Clone, Default)]
pub struct Severities {
    /// From `polc.toml`.
    pub config: BTreeMap<&'static str, Level>,
    /// From `--allow/--warn/--deny` (strictest per code).
    pub flags: BTreeMap<&'static str, Level>,
    /// The level of remaining warnings (`warnings`), config then flags.
    pub warnings: Option<Level>,
}

impl Severities {
    /// Record a flag's level for a code (the strictest wins).
    pub fn flag(&mut self, code: &'static str, level: Level) {
        let e = self.flags.entry(code).or_insert(level);
        *e = (*e).max(level);
    }

    /// The level a code's diagnostics get (before annotations).
    pub fn level(&self, code: &str) -> Option<Level> {
        self.flags
            .get(code)
            .or_else(|| self.config.get(code))
            .copied()
    }

    /// Whether remaining warnings fail the run.
    pub fn deny_warnings(&self) -> bool {
        self.warnings == Some(Level::Deny)
    }

    /// Apply the levels and the policies' annotations to diagnostics: allowed ones are
    /// dropped, the others get their configured severity. Input errors are kept as
    /// they are.
    pub fn apply(&self, model: &Model, diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
        diags
            .into_iter()
            .filter_map(|mut d| {
                if d.severity == Severity::Error && !FINDING_ERRORS.contains(&d.code) {
                    return Some(d);
                }
                if allowed_by_annotation(model, &d) {
                    return None;
                }
                let level = self.level(d.code).or(match (d.severity, self.warnings) {
                    (Severity::Warning, Some(Level::Allow)) => Some(Level::Allow),
                    _ => None,
                });
                match level {
                    None => {}
                    Some(Level::Allow) => return None,
                    Some(Level::Warn) => d.severity = Severity::Warning,
                    Some(Level::Deny) => d.severity = Severity::Error,
                }
                Some(d)
            })
            .collect()
    }
}

/// Whether a policy whose document holds the diagnostic allows its code.
fn allowed_by_annotation(model: &Model, d: &Diagnostic) -> bool {
    let Some(span) = d.span else { return false };
    model.policies.iter().any(|p| {
        p.allow.iter().any(|a| {
            a.code == d.code
                && a.scope.file == span.file
                && a.scope.start <= span.start
                && span.start < a.scope.end.max(a.scope.start + 1)
        })
    })
}
