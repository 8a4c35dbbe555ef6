//! `polc.toml`: the repository's severity configuration, and how its manifests are read.
//!
//! ```toml
//! [lints]
//! redundant-rule = "allow"
//! shadowed-rule = "warn"
//! unknown-label = "deny"
//! warnings = "deny"        # every remaining warning fails, as `--deny warnings`
//!
//! [input]
//! allow-unknown-kinds = true   # as `--allow-unknown-kinds`, for every command
//! ```
//!
//! It is looked up at the repository root: the git top-level of the first input path
//! (the nearest folder above it holding `.git`), else the current folder. Standard
//! input (`-`) counts as the current folder. Every problem is an `invalid-config`
//! diagnostic at `polc.toml:line:col`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{Level, Severities, WARNINGS, configurable};
use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{SourceId, Sources, Span};

/// The file name.
pub const FILE: &str = "polc.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    lints: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    input: Input,
}

/// `[input]`: how the manifests are read.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Input {
    #[serde(default)]
    allow_unknown_kinds: bool,
}

/// Whether the `polc.toml` at `root` sets `[input] allow-unknown-kinds = true`. A
/// missing or unreadable file says no; `load` reports a malformed one (for the
/// commands that read its `[lints]`).
pub fn allow_unknown_kinds(root: &Path) -> bool {
    std::fs::read_to_string(root.join(FILE))
        .ok()
        .and_then(|t| toml::from_str::<Raw>(&t).ok())
        .is_some_and(|r| r.input.allow_unknown_kinds)
}

/// The repository root for these inputs: the git top-level of the first, else the
/// current folder.
pub fn root(paths: &[PathBuf]) -> PathBuf {
    let first = paths.iter().find(|p| p.as_os_str() != "-");
    let start = first.and_then(|p| std::fs::canonicalize(p).ok());
    let mut at = start.as_deref().map(|p| {
        if p.is_dir() {
            p
        } else {
            p.parent().unwrap_or(p)
        }
    });
    while let Some(dir) = at {
        if dir.join(".git").exists() {
            return dir.to_path_buf();
        }
        at = dir.parent();
    }
    PathBuf::from(".")
}

/// Read `polc.toml` at `root`, if there is one, into `severities`; its text joins
/// `sources` so that diagnostics can point into it. An unreadable file is an error
/// string (a usage error).
pub fn load(
    root: &Path,
    sources: &mut Sources,
    severities: &mut Severities,
) -> Result<Diagnostics, String> {
    let path = root.join(FILE);
    if !path.is_file() {
        return Ok(Diagnostics::default());
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    // Shown relative to the current folder when it lies inside it.
    let cwd = std::env::current_dir().and_then(std::fs::canonicalize);
    let shown = cwd
        .ok()
        .and_then(|c| path.strip_prefix(c).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.clone());
    let name = shown.display().to_string();
    let file = sources.add(name, text);
    Ok(parse(sources, file, severities))
}

fn span(file: SourceId, r: Range<usize>) -> Span {
    Span::new(file, r.start, r.end)
}

/// Parse the configuration in `file`.
pub fn parse(sources: &Sources, file: SourceId, severities: &mut Severities) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let text = &sources.get(file).text;
    let raw: Raw = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let at = span(file, e.span().unwrap_or(0..0));
            diags.push(
                Diagnostic::error("invalid-config", e.message().to_string())
                    .at(at)
                    .help("polc.toml has the tables `[lints]`, of `CODE = \"allow\" | \"warn\" | \"deny\"`, and `[input]`, of `allow-unknown-kinds = true | false`"),
            );
            return diags;
        }
    };
    for (code, level) in &raw.lints {
        let Some(lv) = Level::parse(level.get_ref()) else {
            diags.push(
                Diagnostic::error(
                    "invalid-config",
                    format!("`{}` is not a level", level.get_ref()),
                )
                .at(span(file, level.span()))
                .help("write \"allow\", \"warn\" or \"deny\""),
            );
            continue;
        };
        if code.get_ref() == WARNINGS {
            severities.warnings = Some(lv);
            continue;
        }
        match configurable(code.get_ref()) {
            Ok(c) => {
                severities.config.insert(c.code, lv);
            }
            Err(e) => diags.push(
                Diagnostic::error("invalid-config", e)
                    .at(span(file, code.span()))
                    .help("name a code `polc explain-code --list` shows as a warning, a note, or a finding of the analysis"),
            ),
        }
    }
    diags
}
