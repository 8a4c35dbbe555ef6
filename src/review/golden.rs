//! Rendered artifacts against a checked-in artifact tree (`polc diff --golden`): which
//! files were added, removed or changed, with a unified diff of each (the `similar`
//! crate, Myers, no deadline, so the same inputs give the same diff).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::backend::{Artifact, InputDigest};
use crate::output_marker::MANIFEST;

/// The largest golden file read (as the frontend's input cap).
const MAX_GOLDEN_FILE: u64 = crate::frontend::MAX_FILE_BYTES;

/// How a file differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Rendered, not in the golden tree.
    Added,
    /// In the golden tree, not rendered.
    Removed,
    /// In both, with other bytes.
    Changed,
}

/// One file that differs.
#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    /// Its path inside the tree, `/`-separated (`node/polc.nft`, `manifest.json`).
    pub path: String,
    /// The node folder it is in (`None` for `manifest.json` and other top-level files).
    pub node: Option<String>,
    /// The target of the artifact (`nft`), when it is one.
    pub target: Option<String>,
    /// How it differs.
    pub status: Status,
    /// Lines only in the rendered file.
    pub added_lines: usize,
    /// Lines only in the golden file.
    pub removed_lines: usize,
    /// The unified diff, golden (`a/`) to rendered (`b/`), 3 lines of context.
    pub unified: String,
}

/// The comparison of a rendered tree with a golden one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GoldenDiff {
    /// Files compared (rendered and golden together).
    pub files: usize,
    /// The files that differ, by path.
    pub differ: Vec<FileDiff>,
}

impl GoldenDiff {
    /// Whether the trees are equal.
    pub fn is_equal(&self) -> bool {
        self.differ.is_empty()
    }
}

/// A rendered tree: path → (bytes, the target of the artifact there).
pub type Rendered = BTreeMap<String, (Vec<u8>, Option<String>)>;

/// The tree `polc build` writes for `artifacts` built from `input`.
pub fn rendered_tree(artifacts: &[Artifact], input: &InputDigest) -> Result<Rendered, String> {
    let mut tree = BTreeMap::new();
    for a in artifacts {
        tree.insert(
            format!("{}/{}", a.node, a.file),
            (
                a.content.clone().into_bytes(),
                Some(a.target.name().to_string()),
            ),
        );
    }
    tree.insert(
        MANIFEST.to_string(),
        (
            crate::backend::output::manifest_text(artifacts, input)?.into_bytes(),
            None,
        ),
    );
    Ok(tree)
}

/// Read every regular file under `dir` (not following symbolic links): path → bytes.
/// A missing `dir` is an empty tree; a symbolic link or special file inside is an
/// error (a golden tree is polc's output and holds neither).
pub fn read_tree(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut tree = BTreeMap::new();
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(tree),
        Err(e) => return Err(format!("cannot read `{}`: {e}", dir.display())),
        Ok(m) if !m.is_dir() => {
            return Err(format!(
                "--golden `{}` is not a folder (a symbolic link or a file)",
                dir.display()
            ));
        }
        Ok(_) => {}
    }
    walk(dir, "", &mut tree)?;
    Ok(tree)
}

fn walk(dir: &Path, prefix: &str, tree: &mut BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let rel = format!("{prefix}{name}");
        let kind = entry
            .file_type()
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), tree)?;
        } else if kind.is_file() {
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if len > MAX_GOLDEN_FILE {
                return Err(format!(
                    "`{}` is larger than {MAX_GOLDEN_FILE} bytes",
                    path.display()
                ));
            }
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            tree.insert(rel, bytes);
        } else {
            return Err(format!(
                "`{}` in the golden tree is not a regular file or folder (a symbolic link \
                 or a special file); a tree `polc build` wrote holds neither",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Compare the rendered tree with the golden one.
pub fn compare(rendered: &Rendered, golden: &BTreeMap<String, Vec<u8>>) -> GoldenDiff {
    let mut paths: Vec<&String> = rendered.keys().chain(golden.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut diff = GoldenDiff {
        files: paths.len(),
        differ: Vec::new(),
    };
    for path in paths {
        let new = rendered.get(path);
        let old = golden.get(path);
        let status = match (old, new) {
            (Some(o), Some((n, _))) if o == n => continue,
            (Some(_), Some(_)) => Status::Changed,
            (None, Some(_)) => Status::Added,
            (Some(_), None) => Status::Removed,
            (None, None) => continue,
        };
        let old_text = old.map(|b| String::from_utf8_lossy(b)).unwrap_or_default();
        let new_text = new
            .map(|(b, _)| String::from_utf8_lossy(b))
            .unwrap_or_default();
        diff.differ
            .push(file_diff(path, status, &old_text, &new_text, new));
    }
    diff
}

fn file_diff(
    path: &str,
    status: Status,
    old: &str,
    new: &str,
    rendered: Option<&(Vec<u8>, Option<String>)>,
) -> FileDiff {
    let text = TextDiff::from_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    for change in text.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    let a = if status == Status::Added {
        "/dev/null".to_string()
    } else {
        format!("a/{path}")
    };
    let b = if status == Status::Removed {
        "/dev/null".to_string()
    } else {
        format!("b/{path}")
    };
    let unified = text
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string();
    let node = path.split_once('/').map(|(n, _)| n.to_string());
    FileDiff {
        path: path.to_string(),
        target: rendered.and_then(|(_, t)| t.clone()).or_else(|| {
            // A removed artifact: the target is its file's extension (`polc.nft`).
            node.as_ref()
                .and_then(|_| path.rsplit_once('.').map(|(_, ext)| ext.to_string()))
        }),
        node,
        status,
        added_lines: added,
        removed_lines: removed,
        unified,
    }
}
