//! Finding and reading input files: explicit files, folders searched recursively for
//! `*.yaml`, `*.yml` and `*.json`, and `-` for standard input. Files are returned in a
//! deterministic order (sorted by path within each argument, arguments in order) and
//! each file is read once even if named twice.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A problem with the paths given on the command line (exit code 2).
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Collect `(display name, text)` for every input.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<(String, String)>, InputError> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stdin_read = false;
    for p in paths {
        if p.as_os_str() == "-" {
            if !stdin_read {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| InputError(format!("cannot read standard input: {e}")))?;
                out.push(("<stdin>".to_string(), text));
                stdin_read = true;
            }
            continue;
        }
        let meta = std::fs::metadata(p)
            .map_err(|e| InputError(format!("cannot read `{}`: {e}", p.display())))?;
        let mut files = Vec::new();
        if meta.is_dir() {
            walk(p, &mut files)?;
            files.sort();
        } else {
            files.push(p.clone());
        }
        for f in files {
            let key = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
            if !seen.insert(key) {
                continue;
            }
            let bytes = std::fs::read(&f)
                .map_err(|e| InputError(format!("cannot read `{}`: {e}", f.display())))?;
            let text = match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    return Err(InputError(format!(
                        "`{}` is not UTF-8 text (invalid byte at offset {})",
                        f.display(),
                        e.utf8_error().valid_up_to()
                    )));
                }
            };
            out.push((f.display().to_string(), text));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
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
            walk(&path, out)?;
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
