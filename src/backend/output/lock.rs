//! The lock that serialises builds writing one output folder: an exclusive `flock` on
//! `.NAME.polc-lock` beside it, taken before anything is staged and released after the
//! swap. A second build waits for the first, then replaces its output.
//!
//! The holder removes the lock file before closing it, so no lock file outlives a
//! build. That is safe because a build that waited on a file checks, once it holds the
//! lock, that the file is still the one at the path (same device and inode); if the
//! path was removed or re-created meanwhile it starts over. A build killed while holding
//! the lock leaves the file behind; the kernel drops the lock with the process and the
//! next build takes it.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A held lock; dropping it removes the file and releases the lock.
pub struct Lock {
    path: PathBuf,
    _file: File,
}

impl Lock {
    /// Take the lock at `path`, waiting for the build holding it; `on_wait` runs once,
    /// before the first wait.
    pub fn acquire(path: &Path, on_wait: &mut dyn FnMut()) -> Result<Lock, String> {
        let fail = |e: std::io::Error| format!("cannot lock `{}`: {e}", path.display());
        let mut waited = false;
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(path)
                .map_err(fail)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    if !waited {
                        on_wait();
                        waited = true;
                    }
                    file.lock().map_err(fail)?;
                }
                Err(TryLockError::Error(e)) => return Err(fail(e)),
            }
            if still_at(&file, path) {
                return Ok(Lock {
                    path: path.to_path_buf(),
                    _file: file,
                });
            }
        }
    }
}

/// Whether `path` still names the file `file` holds open.
fn still_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
        _ => false,
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked (the file closes after this): see the module doc.
        let _ = std::fs::remove_file(&self.path);
    }
}
