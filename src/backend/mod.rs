//! Backends: the IR (through the evaluator's view of which policies apply where) to
//! per-node firewall artifacts, and the atomic writing of an output folder with its
//! `manifest.json`.

pub mod names;
pub mod nft;

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// One rendered artifact.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The node it is for.
    pub node: String,
    /// The target (`nft`).
    pub target: &'static str,
    /// File name inside the node's folder.
    pub file: String,
    /// The text.
    pub content: String,
    /// Rules rendered.
    pub rules: usize,
    /// Sets and maps rendered.
    pub sets: usize,
    /// Set and map elements.
    pub elements: usize,
}

#[derive(Serialize)]
struct ManifestEntry<'a> {
    path: String,
    node: &'a str,
    target: &'a str,
    sha256: String,
    bytes: usize,
    rules: usize,
    sets: usize,
    elements: usize,
}

#[derive(Serialize)]
struct Manifest<'a> {
    polc: &'static str,
    artifacts: Vec<ManifestEntry<'a>>,
}

/// Write artifacts to `out/<node>/<file>` plus `out/manifest.json`, atomically: all of
/// it is written to a sibling temporary folder first, which then replaces `out`.
/// On any error the previous `out` is left as it was.
pub fn write_atomic(out: &Path, artifacts: &[Artifact]) -> Result<(), String> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.polc-"))
        .tempdir_in(parent)
        .map_err(|e| {
            format!(
                "cannot create a temporary folder in `{}`: {e}",
                parent.display()
            )
        })?;
    let mut entries = Vec::new();
    for a in artifacts {
        let dir = tmp.path().join(&a.node);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        std::fs::write(dir.join(&a.file), &a.content)
            .map_err(|e| format!("cannot write `{}`: {e}", a.file))?;
        entries.push(ManifestEntry {
            path: format!("{}/{}", a.node, a.file),
            node: &a.node,
            target: a.target,
            sha256: Sha256::digest(a.content.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            bytes: a.content.len(),
            rules: a.rules,
            sets: a.sets,
            elements: a.elements,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        polc: env!("CARGO_PKG_VERSION"),
        artifacts: entries,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())? + "\n";
    std::fs::write(tmp.path().join("manifest.json"), json)
        .map_err(|e| format!("cannot write manifest.json: {e}"))?;
    // Swap: move the old folder aside, move the new one in, remove the old one.
    let staged: PathBuf = tmp.keep();
    let old = parent.join(format!(".{name}.polc-old"));
    let _ = std::fs::remove_dir_all(&old);
    let had_old = out.exists();
    if had_old {
        std::fs::rename(out, &old)
            .map_err(|e| format!("cannot replace `{}`: {e}", out.display()))?;
    }
    if let Err(e) = std::fs::rename(&staged, out) {
        if had_old {
            let _ = std::fs::rename(&old, out);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(format!(
            "cannot move the new artifacts into `{}`: {e}",
            out.display()
        ));
    }
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
