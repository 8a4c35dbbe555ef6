//! Writing a generated repository into a folder. The folder must be empty, missing,
//! or an earlier output of this writer: a [`MARKER`] file lists what it wrote, and
//! only those files are replaced. A file the writer did not list (or a link, or any
//! other special file) makes it refuse, before anything is changed.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file that marks a folder as generated and lists its files (a dot file: input
/// discovery skips it).
pub const MARKER: &str = ".polc-generated";

/// The marker's first line.
const HEADER: &str =
    "# Written by `polc generate`, which may replace the files listed here and nothing else.";

/// Write `files` (relative paths with `/`) into `dir`; `about` (one line) is recorded
/// in the marker. Fails, with a message naming the path, when `dir` holds anything
/// this writer did not write, or on an I/O error.
pub fn write(dir: &Path, files: &[(String, String)], about: &str) -> Result<(), String> {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{shown}`: {e}"))?;
        }
        Err(e) => return Err(format!("cannot read `{shown}`: {e}")),
        Ok(m) if !m.is_dir() => return Err(format!("`{shown}` exists and is not a folder")),
        Ok(_) => clear(dir)?,
    }
    let mut marker = format!("{HEADER}\n# {about}\n");
    for (path, _) in files {
        check_relative(path)?;
        marker.push_str(path);
        marker.push('\n');
    }
    create(&dir.join(MARKER), &marker)?;
    for (path, text) in files {
        let to = dir.join(path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        create(&to, text)?;
    }
    Ok(())
}

/// A generated path must stay inside the folder.
fn check_relative(path: &str) -> Result<(), String> {
    let ok = !path.is_empty()
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\\'));
    if ok && path != MARKER {
        Ok(())
    } else {
        Err(format!(
            "a generated path `{path}` is not a plain relative path"
        ))
    }
}

/// Write a new file; never replaces one.
fn create(path: &Path, text: &str) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

/// Empty an existing folder, if it is empty already or an earlier output.
fn clear(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    let mut found = Vec::new();
    let mut dirs = Vec::new();
    walk(dir, "", &mut found, &mut dirs)?;
    if found.is_empty() && dirs.is_empty() {
        return Ok(());
    }
    let Some(listed) = read_marker(dir) else {
        return Err(format!(
            "`{shown}` is not empty and holds no {MARKER} of an earlier `polc generate`; \
             refusing to write into it (give a new or empty folder)"
        ));
    };
    if let Some((rel, _)) = found.iter().find(|(rel, _)| !listed.contains(rel)) {
        return Err(format!(
            "`{shown}` holds `{rel}`, which `polc generate` did not write; refusing to touch it"
        ));
    }
    for (_, path) in &found {
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove `{}`: {e}", path.display()))?;
    }
    // Deepest first; a folder that still holds something stays.
    for d in dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    Ok(())
}

/// The files an earlier run listed, if `dir` carries its marker (a regular file).
fn read_marker(dir: &Path) -> Option<BTreeSet<String>> {
    let path = dir.join(MARKER);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 64 << 20 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return None;
    }
    let mut listed: BTreeSet<String> = lines
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    listed.insert(MARKER.to_string());
    Some(listed)
}

/// Every entry under `dir`: regular files as `(relative path, path)`, folders in
/// `dirs` (parents first). Anything else (a link, a device) is refused.
fn walk(
    dir: &Path,
    prefix: &str,
    found: &mut Vec<(String, PathBuf)>,
    dirs: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    let mut entries: Vec<_> = entries
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = format!("{prefix}{}", e.file_name().to_string_lossy());
        let ft = std::fs::symlink_metadata(&path)
            .map_err(|err| format!("cannot read `{}`: {err}", path.display()))?
            .file_type();
        if ft.is_dir() {
            dirs.push(path.clone());
            walk(&path, &format!("{rel}/"), found, dirs)?;
        } else if ft.is_file() {
            found.push((rel, path));
        } else {
            return Err(format!(
                "`{}` holds `{rel}`, which is not a regular file; refusing to touch it",
                dir.display()
            ));
        }
    }
    Ok(())
}
