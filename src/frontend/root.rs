//! The repository root of a run's inputs, and each file's path relative to it: the
//! names artifacts and `manifest.json` carry, so their bytes do not depend on where the
//! repository is checked out or how its paths were typed (`polc build /abs/repo` and
//! `cd /abs && polc build repo` write the same bytes).
//!
//! The root is the git top-level shared by every input (the nearest ancestor holding a
//! `.git` folder or file, as a worktree or submodule has; found by walking up, without
//! the `git` binary or a git library), else the deepest folder holding every input (the
//! input folder itself when there is one). Paths are resolved through
//! [`std::fs::canonicalize`] first, so `..`, `.` and symbolic links to folders do not
//! change the result; a file's own name is kept as found. Relative paths use `/` on
//! every platform. Diagnostics keep the paths as typed (see [`crate::source`]).

use std::path::{Component, Path, PathBuf};

/// The folder a path stands for: itself if a folder, else its parent; canonical.
fn folder_of(path: &Path) -> Option<PathBuf> {
    let canonical = std::fs::canonicalize(path).ok()?;
    if canonical.is_dir() {
        Some(canonical)
    } else {
        canonical.parent().map(Path::to_path_buf)
    }
}

/// The nearest ancestor of `dir` (itself included) holding a `.git` entry.
fn git_top_level(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| std::fs::symlink_metadata(d.join(".git")).is_ok())
        .map(Path::to_path_buf)
}

/// The deepest folder that holds both `a` and `b` (both absolute).
fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}

/// The repository root of `paths` (`-`, standard input, does not count); `None` when
/// no path names a file or folder that exists.
pub fn repo_root(paths: &[PathBuf]) -> Option<PathBuf> {
    let folders: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| folder_of(p))
        .collect();
    let first = folders.first()?;
    let top = git_top_level(first);
    if top.is_some() && folders.iter().all(|f| git_top_level(f) == top) {
        return top;
    }
    Some(
        folders
            .iter()
            .fold(first.clone(), |acc, f| common_ancestor(&acc, f)),
    )
}

/// `file`'s path relative to `root`, `/`-separated: its folder resolved, its name as
/// found. `None` when it does not lie inside `root`.
pub fn relative_to(root: &Path, file: &Path) -> Option<String> {
    let name = file.file_name()?;
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let folder = std::fs::canonicalize(parent).ok()?;
    let rel = folder.join(name);
    let rel = rel.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_git_top_level_else_the_common_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(tmp.path()).unwrap();
        let repo = base.join("repo");
        std::fs::create_dir_all(repo.join("a/b")).unwrap();
        std::fs::create_dir_all(repo.join("c")).unwrap();
        std::fs::write(repo.join("a/b/p.yaml"), "").unwrap();
        // No `.git`: the deepest folder holding every input.
        assert_eq!(repo_root(&[repo.join("a/b")]), Some(repo.join("a/b")));
        assert_eq!(
            repo_root(&[repo.join("a/b/p.yaml")]),
            Some(repo.join("a/b"))
        );
        assert_eq!(
            repo_root(&[repo.join("a/b"), repo.join("c")]),
            Some(repo.clone())
        );
        // A `.git` file (a worktree's) marks the top level for every input below it.
        std::fs::write(repo.join(".git"), "gitdir: elsewhere\n").unwrap();
        assert_eq!(repo_root(&[repo.join("a/b")]), Some(repo.clone()));
        assert_eq!(
            relative_to(&repo, &repo.join("a/b/../b/p.yaml")).as_deref(),
            Some("a/b/p.yaml")
        );
        assert_eq!(relative_to(&repo.join("c"), &repo.join("a/b/p.yaml")), None);
        assert_eq!(repo_root(&[PathBuf::from("-")]), None);
    }
}
