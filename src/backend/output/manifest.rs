//! `manifest.json`: what an output folder holds, as a versioned schema
//! (`docs/manifest.schema.json`, checked by `tests/manifest_schema.rs`): polc's version
//! under the top-level `"polc"` key, the schema version, a digest of the input, and
//! every artifact with its path, node, target, sha256 and counts. The same file marks
//! the folder as polc's output ([`crate::output_marker`]).
//!
//! Everything in it is a function of the input bytes and their paths relative to the
//! repository root, so it is stable across runs and checkouts.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backend::Artifact;
use crate::source::{SourceId, Sources};

/// The version of the manifest's layout: raised when a field changes meaning or goes
/// away (adding a field keeps it).
pub const SCHEMA_VERSION: u32 = 1;

/// The digest of the files one build read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputDigest {
    /// SHA-256, lowercase hex, over every file in order of its repository path: the
    /// path's length in bytes (8 bytes, little-endian), the path, the text's length
    /// (likewise), the text.
    pub sha256: String,
    /// How many files were read.
    pub files: usize,
}

impl InputDigest {
    /// The digest of every file in `sources`, by repository path
    /// ([`crate::source::SourceFile::path`]), whatever order they were read in.
    pub fn of(sources: &Sources) -> InputDigest {
        let mut files: Vec<(&str, &str)> = sources
            .iter()
            .filter(|(id, _)| *id != SourceId::BUILTIN)
            .map(|(_, f)| (f.path.as_str(), f.text.as_str()))
            .collect();
        files.sort_unstable();
        let mut hash = Sha256::new();
        for (path, text) in &files {
            for part in [path.as_bytes(), text.as_bytes()] {
                hash.update((part.len() as u64).to_le_bytes());
                hash.update(part);
            }
        }
        InputDigest {
            sha256: hex(&hash.finalize()),
            files: files.len(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    schema: u32,
    input: &'a InputDigest,
    artifacts: Vec<ManifestEntry<'a>>,
}

/// The text of `manifest.json` for `artifacts` built from `input`, sorted by path.
pub fn render(artifacts: &[Artifact], input: &InputDigest) -> Result<String, String> {
    let mut entries: Vec<ManifestEntry<'_>> = artifacts
        .iter()
        .map(|a| ManifestEntry {
            path: format!("{}/{}", a.node, a.file),
            node: &a.node,
            target: a.target.name(),
            sha256: hex(&Sha256::digest(a.content.as_bytes())),
            bytes: a.content.len(),
            rules: a.rules,
            sets: a.sets,
            elements: a.elements,
        })
        .collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        polc: env!("CARGO_PKG_VERSION"),
        schema: SCHEMA_VERSION,
        input,
        artifacts: entries,
    };
    Ok(serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(files: &[(&str, &str, &str)]) -> InputDigest {
        let mut sources = Sources::default();
        for (name, path, text) in files {
            sources.add_at(name.to_string(), path.to_string(), text.to_string());
        }
        InputDigest::of(&sources)
    }

    #[test]
    fn the_input_digest_follows_paths_and_bytes_not_order_or_typed_names() {
        let a = digest(&[("/x/a.yaml", "a.yaml", "A"), ("b.yaml", "b.yaml", "B")]);
        let b = digest(&[("./b.yaml", "b.yaml", "B"), ("a.yaml", "a.yaml", "A")]);
        assert_eq!(a, b);
        assert_eq!(a.files, 2);
        // Moving bytes between a path and its text changes it (length prefixes).
        let c = digest(&[("a.yamlA", "a.yamlA", ""), ("b.yaml", "b.yaml", "B")]);
        assert_ne!(a, c);
        assert_ne!(a, digest(&[("a.yaml", "a.yaml", "A")]));
    }
}
