//! `polc explain --target nft`: for each stage of a flow, the chain of the node's nft
//! artifact that runs it and the rule there that decides, as `NODE/polc.nft:LINE` (the
//! path `polc build --target nft` writes inside its `--out` folder, or under
//! `--artifacts DIR`). The artifacts are rendered in memory with the built-in template
//! and default options, exactly as `polc build` renders them; lines are found from the
//! chain names and rule comments the builder gives ([`crate::backend::nft::locate`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::backend::names::comment;
use crate::backend::nft::locate::{
    ScriptIndex, endpoint_chain_name, policy_chain_name, policy_rule_comment, profile_chain_name,
    stage_tag,
};
use crate::backend::nft::{self, NftOptions};
use crate::semantics::{Decider, Engine, Stage, StageTrace};
use crate::source::Sources;

/// Where one stage is enforced.
#[derive(Debug, Clone, Serialize)]
pub struct Enforced {
    /// The artifact, as written in the output folder (`NODE/polc.nft`).
    pub file: String,
    /// The endpoint chain that runs the stage.
    pub chain: String,
    /// Its 1-based line (`chain NAME {`).
    pub chain_line: usize,
    /// The rule that decides, when the decision is a rule line of the artifact.
    pub rule: Option<EnforcingRule>,
}

/// The rule line that decides a stage.
#[derive(Debug, Clone, Serialize)]
pub struct EnforcingRule {
    /// The chain it is in.
    pub chain: String,
    /// Its 1-based line.
    pub line: usize,
    /// The rule (without its comment).
    pub text: String,
    /// Its comment (for a policy rule: policy, direction, index, `path:line:col`).
    pub comment: String,
}

/// The node artifacts a flow's stages run in, rendered in memory and indexed.
pub struct Artifacts {
    indexes: BTreeMap<String, ScriptIndex>,
    folder: Option<String>,
}

impl Artifacts {
    /// Render the artifact of every node a stage of `stages` runs on; `folder` is
    /// the output folder to name the files under (none: relative to it).
    pub fn render(
        engine: &Engine<'_>,
        sources: &Sources,
        stages: &[StageTrace],
        folder: Option<&Path>,
    ) -> Result<Artifacts, String> {
        let marks = crate::backend::Marks::default();
        let renderer = nft::Renderer::new(NftOptions::default(), marks, None)?;
        let resolver = crate::backend::Resolver::new(engine);
        let mut indexes = BTreeMap::new();
        for s in stages {
            let Some(node) = engine.universe.endpoints[s.endpoint].node.clone() else {
                continue;
            };
            if let std::collections::btree_map::Entry::Vacant(slot) = indexes.entry(node) {
                let model = crate::backend::build::build(&resolver, sources, slot.key(), marks)?;
                let artifacts = crate::backend::Render::render(&renderer, &model)?;
                slot.insert(ScriptIndex::of(&artifacts[0].content));
            }
        }
        Ok(Artifacts {
            indexes,
            folder: folder.map(|f| f.display().to_string()),
        })
    }

    /// Where stage `s` is enforced: `None` when its endpoint has no node or its node's
    /// artifact has no chain for it (the stage is not policed there).
    pub fn enforced(
        &self,
        engine: &Engine<'_>,
        sources: &Sources,
        s: &StageTrace,
    ) -> Option<Enforced> {
        let e = &engine.universe.endpoints[s.endpoint];
        let node = e.node.as_deref()?;
        let index = self.indexes.get(node)?;
        let chain = endpoint_chain_name(e, s.stage, s.direction);
        let chain_line = index.chain(&chain)?;
        let file = match &self.folder {
            Some(f) => format!("{f}/{node}/polc.nft"),
            None => format!("{node}/polc.nft"),
        };
        let rule = deciding_line(engine, sources, s, &chain).and_then(|(in_chain, pred)| {
            index.rule(&in_chain, pred).map(|r| EnforcingRule {
                chain: in_chain.clone(),
                line: r.line,
                text: r.text.clone(),
                comment: r.comment.clone(),
            })
        });
        Some(Enforced {
            file,
            chain,
            chain_line,
            rule,
        })
    }
}

type Pred = Box<dyn Fn(&str) -> bool>;

/// The chain and comment test of the line that carries a stage's decision, for the
/// deciders that are a line of the artifact.
fn deciding_line(
    engine: &Engine<'_>,
    sources: &Sources,
    s: &StageTrace,
    endpoint_chain: &str,
) -> Option<(String, Pred)> {
    let model = engine.model;
    let here = endpoint_chain.to_string();
    let is = |want: String| -> Pred { Box::new(move |c: &str| c == want) };
    let starts = |want: String| -> Pred { Box::new(move |c: &str| c.starts_with(&want)) };
    Some(match &s.decider {
        Decider::Rule {
            policy,
            direction,
            index,
            ..
        } => {
            let p = &model.policies[*policy];
            (
                policy_chain_name(p, *direction),
                is(policy_rule_comment(sources, p, *direction, *index)),
            )
        }
        Decider::TierDefault { tier } => (
            here,
            is(comment(
                &format!(
                    "end of tier {}: defaultAction Deny",
                    model.tiers[*tier].name
                ),
                128,
            )),
        ),
        Decider::NamespaceProfile => (here, is("namespace profile: allow".into())),
        Decider::NoProfileAllowed => (here, is("host endpoint: no profile allowed".into())),
        Decider::Profile { name, index } => (
            profile_chain_name(name, s.direction),
            starts(comment(
                &format!(
                    "profile {name} {} rule {index} ",
                    stage_tag(Stage::Normal, s.direction)
                ),
                128,
            )),
        ),
        Decider::Failsafe { .. } => (here, starts("failsafe port".into())),
        Decider::FailsafeReply { .. } => (here, starts("failsafe repl".into())),
        Decider::WorkloadEncapsulation { .. } => {
            (here, Box::new(|c: &str| c.contains("from a workload")))
        }
        Decider::ForwardDefault => (here, is("forwarded: no applyOnForward verdict".into())),
        _ => return None,
    })
}
