//! Writing an output folder: `DIR/<node>/<file>` for every artifact plus
//! `DIR/manifest.json`, so that at every moment `DIR` is either the complete previous
//! output or the complete new one.
//!
//! 1. Before the build, [`OutDir::check`] refuses an `--out` polc must not replace
//!    (`check.rs`), touching nothing.
//! 2. Under an exclusive lock beside the folder (`lock.rs`), so concurrent builds to one
//!    `--out` take turns, the check is made again, staged folders of earlier killed
//!    builds (`.NAME.polc-XXXXXX`) are removed, and the new tree is written to a fresh
//!    staged folder beside `DIR` (same filesystem).
//! 3. One rename puts it in place: `renameat2(RENAME_EXCHANGE)` swaps the staged folder
//!    and `DIR` atomically (Linux `rename(2)`; through rustix's `renameat_with`), and
//!    the old tree, now at the staged name, is removed. When `DIR` does not exist yet a
//!    plain rename moves the staged folder in. A filesystem without `RENAME_EXCHANGE` is
//!    an error: polc does not fall back to a swap with a moment without output.
//!
//! On any error the staged folder is removed and `DIR` is left as it was.

mod check;
mod lock;
mod manifest;

pub use manifest::{InputDigest, SCHEMA_VERSION};

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, RenameFlags};

use super::Artifact;
use crate::output_marker::MANIFEST;
use check::State;
use lock::Lock;

/// An output folder polc may replace.
#[derive(Debug, Clone)]
pub struct OutDir {
    /// The path as the user gave it (for messages).
    shown: PathBuf,
    /// The canonical folder it is in (it may not exist yet).
    parent: PathBuf,
    /// Its name.
    name: OsString,
}

impl OutDir {
    /// Check that polc may write `out` for a build reading `inputs`; touches nothing.
    pub fn check(out: &Path, inputs: &[PathBuf]) -> Result<OutDir, String> {
        let canon = check::canonical(out)?;
        check::against_inputs(out, &canon, inputs)?;
        check::state(out, out)?;
        let (Some(parent), Some(name)) = (canon.parent(), canon.file_name()) else {
            return Err(format!("--out `{}` names no folder", out.display()));
        };
        Ok(OutDir {
            shown: out.to_path_buf(),
            parent: parent.to_path_buf(),
            name: name.to_os_string(),
        })
    }

    /// Replace the folder with `artifacts` and their manifest (built from `input`).
    /// `on_wait` runs once if another build holds the folder's lock, before waiting
    /// for it.
    pub fn write(
        &self,
        artifacts: &[Artifact],
        input: &InputDigest,
        on_wait: &mut dyn FnMut(),
    ) -> Result<(), String> {
        check_names(artifacts)?;
        std::fs::create_dir_all(&self.parent)
            .map_err(|e| format!("cannot create `{}`: {e}", self.parent.display()))?;
        let name = self.name.to_string_lossy();
        let _lock = Lock::acquire(&self.parent.join(format!(".{name}.polc-lock")), on_wait)?;
        let target = self.parent.join(&self.name);
        let state = check::state(&target, &self.shown)?;
        self.remove_stale();
        let staged = tempfile::Builder::new()
            .prefix(&self.staged_prefix())
            .tempdir_in(&self.parent)
            .map_err(|e| {
                format!(
                    "cannot create a staging folder in `{}`: {e}",
                    self.parent.display()
                )
            })?;
        fill(staged.path(), artifacts, input)?;
        let staged = staged.keep();
        let swapped = self.swap(&staged, state);
        // After an exchange the staged name holds the previous output; after a failure,
        // the unused new tree. A build killed here leaves it to the next one to remove.
        let _ = std::fs::remove_dir_all(&staged);
        swapped
    }

    /// `.NAME.polc-`: the prefix of staged folders (a random suffix follows).
    fn staged_prefix(&self) -> String {
        format!(".{}.polc-", self.name.to_string_lossy())
    }

    /// Remove the staged folders earlier builds left when killed (the lock is held, so
    /// no running build owns one): `.NAME.polc-` and an alphanumeric suffix.
    fn remove_stale(&self) {
        let prefix = self.staged_prefix();
        let Ok(entries) = std::fs::read_dir(&self.parent) else {
            return;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(suffix) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            let staged_like = !suffix.is_empty()
                && suffix != "lock"
                && suffix.chars().all(|c| c.is_ascii_alphanumeric());
            if staged_like && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Put the staged folder in place with one rename.
    fn swap(&self, staged: &Path, state: State) -> Result<(), String> {
        let fail = |e: rustix::io::Errno| {
            format!(
                "cannot move the new artifacts into `{}`: {e}",
                self.shown.display()
            )
        };
        let dir = rustix::fs::open(
            &self.parent,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("cannot open `{}`: {e}", self.parent.display()))?;
        let from = staged.file_name().unwrap_or_default();
        match state {
            State::Missing => rustix::fs::renameat(&dir, from, &dir, &self.name).map_err(fail),
            State::Replaceable => {
                match rustix::fs::renameat_with(&dir, from, &dir, &self.name, RenameFlags::EXCHANGE)
                {
                    Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
                        Err(format!(
                            "cannot replace `{}` atomically: the filesystem of `{}` does not \
                             support exchanging two folders (renameat2 RENAME_EXCHANGE: {e}); \
                             polc does not replace an output non-atomically: write it to a \
                             local filesystem (ext4, xfs, btrfs, tmpfs)",
                            self.shown.display(),
                            self.parent.display()
                        ))
                    }
                    other => other.map_err(fail),
                }
            }
        }
    }
}

/// Write every artifact and the manifest into the staged folder `dir`.
fn fill(dir: &Path, artifacts: &[Artifact], input: &InputDigest) -> Result<(), String> {
    for a in artifacts {
        let node_dir = dir.join(&a.node);
        std::fs::create_dir_all(&node_dir)
            .map_err(|e| format!("cannot create `{}`: {e}", node_dir.display()))?;
        std::fs::write(node_dir.join(&a.file), &a.content)
            .map_err(|e| format!("cannot write `{}/{}`: {e}", a.node, a.file))?;
    }
    std::fs::write(dir.join(MANIFEST), manifest_text(artifacts, input)?)
        .map_err(|e| format!("cannot write {MANIFEST}: {e}"))
}

/// Refuse an artifact whose node or file name would leave its folder in the output
/// (a pod's `spec.nodeName` of `../x`).
fn check_names(artifacts: &[Artifact]) -> Result<(), String> {
    for a in artifacts {
        for part in [&a.node, &a.file] {
            if !is_plain_name(part) {
                return Err(format!(
                    "node `{}`: `{}` cannot be a file or folder name in the output (it is \
                     empty, `.`, `..` or has a `/`); give the node a valid Kubernetes name",
                    a.node.escape_debug(),
                    part.escape_debug()
                ));
            }
        }
    }
    Ok(())
}

/// Whether `name` is one path component that stays inside its folder.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// The text of `manifest.json` for `artifacts` built from `input` (what
/// [`OutDir::write`] writes beside them).
pub fn manifest_text(artifacts: &[Artifact], input: &InputDigest) -> Result<String, String> {
    manifest::render(artifacts, input)
}

/// Write `artifacts` to `out` as [`OutDir::write`] does, after [`OutDir::check`] with no
/// inputs to compare against.
pub fn write_atomic(out: &Path, artifacts: &[Artifact], input: &InputDigest) -> Result<(), String> {
    OutDir::check(out, &[])?.write(artifacts, input, &mut || {})
}
