//! The iptables target (in progress).

use super::model::NodeModel;
use super::{Artifact, Marks, Target};

/// The iptables renderer.
pub struct Renderer {
    #[allow(dead_code)]
    marks: Marks,
}

impl Renderer {
    /// A renderer.
    pub fn new(marks: Marks, _templates: Option<&std::path::Path>) -> Result<Renderer, String> {
        Ok(Renderer { marks })
    }
}

impl super::Render for Renderer {
    fn target(&self) -> Target {
        Target::Iptables
    }

    fn render(&self, _m: &NodeModel) -> Result<Vec<Artifact>, String> {
        Err("the iptables target is not built yet".into())
    }
}
