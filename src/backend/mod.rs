//! Backends: the IR (through the evaluator's view of which policies apply where) to
//! per-node firewall artifacts, and the atomic writing of an output folder with its
//! `manifest.json` (`output.rs`).

pub mod names;
pub mod nft;
pub mod output;

pub use output::{InputDigest, OutDir, manifest_text, write_atomic};

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
