//! Which `--out` folders polc may replace, decided before anything is written: never
//! `/`, the current folder or one of its parents; never an input or a folder holding
//! one (paths compared canonicalised; a folder that does not exist yet is resolved
//! through its nearest existing ancestor); never a symbolic link, a regular file or any
//! other non-folder; and an existing folder only when it is empty or holds the
//! `manifest.json` of an earlier build ([`crate::output_marker`]); and never a folder
//! inside an input folder, where the next run would read the artifacts back. Input
//! discovery also skips polc's output folders, so `polc check .` after a build to
//! `out/` reads only the manifests.

use std::path::{Component, Path, PathBuf};

use crate::output_marker::{MANIFEST, is_polc_output};

/// What is at the output path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing: the folder is created by a rename.
    Missing,
    /// An empty folder or polc's output: replaced by an atomic exchange.
    Replaceable,
}

/// The canonical form of `out`, which may not exist yet.
pub fn canonical(out: &Path) -> Result<PathBuf, String> {
    if std::fs::symlink_metadata(out).is_ok() {
        return std::fs::canonicalize(out)
            .map_err(|e| format!("cannot resolve `{}`: {e}", out.display()));
    }
    let (base, tail) = nearest_existing(out);
    let meta =
        std::fs::metadata(&base).map_err(|e| format!("cannot read `{}`: {e}", base.display()))?;
    if !meta.is_dir() {
        return Err(format!(
            "--out `{}`: `{}` is not a folder, so nothing can be created inside it",
            out.display(),
            base.display()
        ));
    }
    let mut path = std::fs::canonicalize(&base)
        .map_err(|e| format!("cannot resolve `{}`: {e}", base.display()))?;
    for c in tail.components() {
        match c {
            Component::Normal(n) => path.push(n),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "--out `{}`: `..` after a folder that does not exist yet; write the \
                     path without `..`",
                    out.display()
                ));
            }
        }
    }
    Ok(path)
}

/// The longest existing ancestor of `out` (`.` for a relative path with none) and the
/// rest of the path.
fn nearest_existing(out: &Path) -> (PathBuf, PathBuf) {
    for a in out.ancestors().skip(1) {
        let a = if a.as_os_str().is_empty() {
            Path::new(".")
        } else {
            a
        };
        if std::fs::symlink_metadata(a).is_ok() {
            let tail = out.strip_prefix(a).unwrap_or(out);
            return (a.to_path_buf(), tail.to_path_buf());
        }
    }
    (PathBuf::from("."), out.to_path_buf())
}

/// Refuse an output folder that is `/`, holds the current folder, or is or holds one of
/// the `inputs` (`-` is standard input and is ignored).
pub fn against_inputs(out: &Path, canon: &Path, inputs: &[PathBuf]) -> Result<(), String> {
    if canon.parent().is_none() {
        return Err(format!(
            "--out `{}` is the root folder; polc replaces the output folder as a whole: \
             give a folder of its own, e.g. `--out out`",
            out.display()
        ));
    }
    for input in inputs.iter().filter(|p| p.as_os_str() != "-") {
        let Ok(input_canon) = std::fs::canonicalize(input) else {
            continue; // reported when the inputs are read
        };
        if input_canon.starts_with(canon) {
            let how = if input_canon == canon {
                "is"
            } else {
                "contains"
            };
            return Err(format!(
                "--out `{}` {how} the input `{}`; building would replace the manifests: \
                 write the output to a folder of its own, e.g. `--out out`",
                out.display(),
                input.display()
            ));
        }
        if input_canon.is_dir() && canon.starts_with(&input_canon) {
            return Err(format!(
                "--out `{}` lies inside the input `{}`; the artifacts would be read back as \
                 manifests next time: write them outside it (e.g. `--out ../out`), or name \
                 the manifest folders as inputs (`polc build manifests/ --out out`)",
                out.display(),
                input.display()
            ));
        }
    }
    if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize)
        && cwd.starts_with(canon)
    {
        return Err(format!(
            "--out `{}` is the current folder or one of its parents; polc replaces the \
             output folder as a whole: give a folder of its own, e.g. `--out out`",
            out.display()
        ));
    }
    Ok(())
}

/// What is at `path` (the canonical output path; `shown` is the path as given), or
/// why polc may not replace it.
pub fn state(path: &Path, shown: &Path) -> Result<State, String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::Missing),
        Err(e) => return Err(format!("cannot read `{}`: {e}", shown.display())),
    };
    let what = if meta.file_type().is_symlink() {
        Some("a symbolic link")
    } else if meta.is_file() {
        Some("a regular file")
    } else if !meta.is_dir() {
        Some("not a folder")
    } else {
        None
    };
    if let Some(what) = what {
        return Err(format!(
            "--out `{}` is {what}; polc writes a folder there and would replace it: \
             give a folder path (new, empty, or an earlier output of polc)",
            shown.display()
        ));
    }
    let empty = std::fs::read_dir(path)
        .map_err(|e| format!("cannot read `{}`: {e}", shown.display()))?
        .next()
        .is_none();
    if empty || is_polc_output(path) {
        return Ok(State::Replaceable);
    }
    Err(format!(
        "--out `{}` is a folder that polc did not write (it is not empty and has no {MANIFEST} \
         of polc); polc replaces the output folder as a whole and never deletes what it did \
         not write: choose a new folder, or empty this one",
        shown.display()
    ))
}
