//! Backends: the IR (through the evaluator's view of which policies apply where) to
//! per-node firewall artifacts, and the atomic writing of an output folder with its
//! `manifest.json` (`output.rs`).
//!
//! One way through: `build` makes each node's target-neutral [`model::NodeModel`]
//! from the stage plan, and one [`Render`] per target turns it into that target's
//! files (`nft/`, `iptables/`).

pub mod build;
pub mod iptables;
pub mod model;
pub mod names;
pub mod nft;
pub mod output;

pub use build::{Marks, Resolver};
pub use output::{InputDigest, OutDir, manifest_text, write_atomic};

/// A kind of artifact polc renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// nftables scripts (`nft -f`).
    Nft,
    /// iptables-restore, ip6tables-restore and ipset restore files.
    Iptables,
}

impl Target {
    /// Every target, in rendering order.
    pub const ALL: [Target; 2] = [Target::Nft, Target::Iptables];

    /// Its name in `--target`, `manifest.json` and the templates folder.
    pub fn name(self) -> &'static str {
        match self {
            Target::Nft => "nft",
            Target::Iptables => "iptables",
        }
    }
}

/// A renderer of one target: a node's model to that target's files.
pub trait Render {
    /// The target it renders.
    fn target(&self) -> Target;
    /// The files of one node.
    fn render(&self, node: &model::NodeModel) -> Result<Vec<Artifact>, String>;
}

/// One rendered artifact.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The node it is for.
    pub node: String,
    /// The target.
    pub target: Target,
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
