//! `manifest.json`: every artifact of an output folder with its sha256, node, target
//! and counts, under a top-level `"polc"` key (the version). The same file marks the
//! folder as polc's output ([`crate::output_marker`]).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backend::Artifact;

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

/// The text of `manifest.json` for `artifacts`, sorted by path.
pub fn render(artifacts: &[Artifact]) -> Result<String, String> {
    let mut entries: Vec<ManifestEntry<'_>> = artifacts
        .iter()
        .map(|a| ManifestEntry {
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
        })
        .collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        polc: env!("CARGO_PKG_VERSION"),
        artifacts: entries,
    };
    Ok(serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())? + "\n")
}
