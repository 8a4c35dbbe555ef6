//! The severity flags `check`, `build` and `test` share (`--allow`, `--warn`,
//! `--deny`, each repeatable), and `polc.toml` at the repository root: the
//! [`Severities`] a run applies (see `crate::severity` for the precedence).

use std::path::PathBuf;

use crate::diag::Diagnostics;
use crate::severity::{Level, Severities, WARNINGS, config, configurable};
use crate::source::Sources;

/// Per-code severity flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LintArgs {
    /// Drop the diagnostics of this code (repeatable; `warnings`: every warning).
    #[arg(long, value_name = "CODE")]
    allow: Vec<String>,
    /// Report this code as a warning (repeatable).
    #[arg(long, value_name = "CODE")]
    warn: Vec<String>,
    /// Fail (exit 1) on this code (repeatable); `--deny warnings` fails on every
    /// warning.
    #[arg(long, value_name = "CODE")]
    deny: Vec<String>,
}

impl LintArgs {
    /// The severities in force: `polc.toml` at the repository root of `paths` (its
    /// problems as diagnostics, its text added to `sources`), then these flags. An
    /// unknown code in a flag is a usage error.
    pub fn severities(
        &self,
        paths: &[PathBuf],
        sources: &mut Sources,
    ) -> Result<(Severities, Diagnostics), String> {
        let mut s = Severities::default();
        let diags = config::load(&config::root(paths), sources, &mut s)?;
        let flags = [
            ("--allow", Level::Allow, &self.allow),
            ("--warn", Level::Warn, &self.warn),
            ("--deny", Level::Deny, &self.deny),
        ];
        let mut warnings: Option<Level> = None;
        for (flag, level, codes) in flags {
            for code in codes {
                if code == WARNINGS {
                    warnings = Some(warnings.map_or(level, |w| w.max(level)));
                    continue;
                }
                let c = configurable(code).map_err(|e| format!("{flag} {code}: {e}"))?;
                s.flag(c.code, level);
            }
        }
        // Flags override the file for `warnings` too.
        s.warnings = warnings.or(s.warnings);
        Ok((s, diags))
    }
}
