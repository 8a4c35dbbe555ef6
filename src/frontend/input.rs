//! Finding input files: explicit files, folders searched recursively for `*.yaml`,
//! `*.yml` and `*.json`, and `-` for standard input. Files are returned in a
//! deterministic order (sorted by path within each argument, arguments in order) and
//! each file is read once even if named twice.
//!
//! What is not read: names starting with `.`; folders `polc build` wrote (they hold its
//! `manifest.json`, see [`crate::output_marker`]), so a build never reads its own
//! output; and, inside folders, matching names that are not regular files (FIFOs,
//! devices, sockets, also behind symbolic links), each reported as [`Skipped`]. A
//! non-regular file named explicitly on the command line is an error instead (exit 2):
//! the user asked for it and would otherwise get a silently empty result.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::read::{Contents, NotRegular, read_file, read_stdin};
use crate::output_marker::{MANIFEST, is_polc_output};

/// A problem with the paths given on the command line (exit code 2).
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// A path input discovery passed over, and why (the CLI reports each one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// A folder holding polc's own output.
    Output(String),
    /// A matching name that is not a regular file.
    NotRegular(String, NotRegular),
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::Output(p) => write!(
                f,
                "skipped `{p}`: it holds the output of `polc build` (its {MANIFEST}), not manifests"
            ),
            Skipped::NotRegular(p, kind) => write!(
                f,
                "skipped `{p}`: it is {}, not a regular file",
                kind.describe()
            ),
        }
    }
}

/// One file discovery read.
#[derive(Debug)]
pub struct InputFile {
    /// The path as typed (or found under a typed folder), or `<stdin>`: for diagnostics.
    pub name: String,
    /// The path relative to the repository root ([`super::root`]): for artifacts.
    pub path: String,
    /// The text.
    pub text: String,
}

/// What discovery read, and what it skipped.
#[derive(Debug, Default)]
pub struct Collected {
    /// The files read, in order.
    pub files: Vec<InputFile>,
    /// The paths passed over.
    pub skipped: Vec<Skipped>,
}

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Collect every input under `paths`.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Collected, InputError> {
    let root = super::root::repo_root(paths);
    let mut out = Collected::default();
    let mut seen = BTreeSet::new();
    let mut stdin_read = false;
    for p in paths {
        if p.as_os_str() == "-" {
            if !stdin_read {
                out.files.push(InputFile {
                    name: "<stdin>".to_string(),
                    path: "<stdin>".to_string(),
                    text: read_stdin()?,
                });
                stdin_read = true;
            }
            continue;
        }
        let meta = std::fs::metadata(p)
            .map_err(|e| InputError(format!("cannot read `{}`: {e}", p.display())))?;
        let mut files = Vec::new();
        if meta.is_dir() {
            walk(p, &mut files, &mut out.skipped)?;
            files.sort();
        } else {
            files.push(p.clone());
        }
        for f in files {
            let key = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
            if !seen.insert(key) {
                continue;
            }
            match read_file(&f)? {
                Contents::Text(text) => {
                    let name = f.display().to_string();
                    let path = root
                        .as_deref()
                        .and_then(|r| super::root::relative_to(r, &f))
                        .unwrap_or_else(|| name.clone());
                    out.files.push(InputFile { name, path, text });
                }
                Contents::Skipped(kind) if f == *p => {
                    return Err(InputError(format!(
                        "cannot read `{}`: it is {}, not a regular file; polc reads only \
                         regular files (pipe a stream through `-` instead)",
                        p.display(),
                        kind.describe()
                    )));
                }
                Contents::Skipped(kind) => out
                    .skipped
                    .push(Skipped::NotRegular(f.display().to_string(), kind)),
            }
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, skipped: &mut Vec<Skipped>) -> Result<(), InputError> {
    if is_polc_output(dir) {
        skipped.push(Skipped::Output(dir.display().to_string()));
        return Ok(());
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| InputError(format!("cannot read `{}`: {e}", dir.display())))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| InputError(format!("cannot read `{}`: {e}", dir.display())))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry
            .file_type()
            .map_err(|e| InputError(format!("cannot read `{}`: {e}", path.display())))?;
        if ft.is_dir() {
            walk(&path, out, skipped)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
    Ok(())
}
