//! What marks a folder as polc's own output: a `manifest.json` that `polc build` wrote,
//! recognised by its top-level `"polc"` (the version) and `"artifacts"` keys.
//!
//! Two rules rest on it: `polc build` replaces an existing `--out` folder only when it
//! is empty or carries this marker (polc never deletes a folder it did not write), and
//! input discovery skips a folder that carries it (polc never reads its own output as
//! manifests).

use std::io::Read;
use std::path::Path;

use serde::Deserialize;

/// The file, inside an output folder, that lists the artifacts and marks the folder.
pub const MANIFEST: &str = "manifest.json";

/// The largest `manifest.json` read to recognise it (a manifest lists a few hundred
/// bytes per artifact; this is ample for tens of thousands of nodes).
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// The keys that make a `manifest.json` polc's.
#[derive(Deserialize)]
struct Marker {
    #[allow(dead_code)]
    polc: String,
    #[allow(dead_code)]
    artifacts: Vec<serde_json::Value>,
}

/// Whether `dir` holds a `manifest.json` written by `polc build`. Never follows a
/// symbolic link for the manifest itself and never blocks on a special file: only a
/// regular file is opened.
pub fn is_polc_output(dir: &Path) -> bool {
    let path = dir.join(MANIFEST);
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return false;
    };
    if !meta.is_file() || meta.len() > MAX_MANIFEST_BYTES {
        return false;
    }
    let Ok(file) = std::fs::File::open(&path) else {
        return false;
    };
    let mut bytes = Vec::new();
    if file
        .take(MAX_MANIFEST_BYTES)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return false;
    }
    is_polc_manifest(&bytes)
}

/// Whether `bytes` are a `manifest.json` written by `polc build`.
pub fn is_polc_manifest(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Marker>(bytes).is_ok()
}
