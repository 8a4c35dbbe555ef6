//! The rule-precedence graph: the order in which policies really run, as one petgraph
//! graph. Tiers in evaluation order, each with its policies in order and its default
//! action, linked by "next" edges; Pass rules and Pass defaults hand on to the next
//! tier; the chain ends in the profiles (or the stage's own end).
//!
//! Two views: every enforced policy ([`PrecedenceGraph::all`]), or only the policies
//! that select one endpoint, per direction and policy stage
//! ([`PrecedenceGraph::endpoint`]). The graph holds indices into the model; turning it
//! into text (`polc graph` writes Graphviz DOT) is the caller's business.

use petgraph::graph::{DiGraph, NodeIndex};

use super::plan::PlannedEnd;
use super::{Direction, Engine, Stage};
use crate::ir::{Action, TierAction};

/// A node of the precedence graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Where evaluation starts.
    Start {
        /// Whether failsafe ports are accepted before any policy here.
        failsafe: bool,
    },
    /// Entering tier `Model::tiers[i]`.
    TierEntry(usize),
    /// Policy `Model::policies[i]`: its rules, in order.
    Policy(usize),
    /// The end of tier `tier`: no rule decided.
    TierEnd {
        /// Index into `Model::tiers`.
        tier: usize,
        /// The action that applies: the tier's `defaultAction`, or Pass where the stage
        /// forces it (pre-DNAT and untracked policy).
        action: TierAction,
    },
    /// Past every tier.
    End(End),
}

/// What happens past the last tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The endpoint's profiles (the view over every policy).
    Profiles,
    /// A pod's namespace profile, which allows.
    NamespaceProfile,
    /// A host endpoint's profiles, in order (none allowing: drop).
    HostProfiles(Vec<String>),
    /// Forwarded traffic that no `applyOnForward` policy decided: allowed.
    ForwardDefault,
    /// A pre-DNAT or untracked stage without a verdict: the next stage decides.
    NextStage,
}

/// An edge of the precedence graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Evaluation starts here.
    Enter,
    /// No rule of the source decided: continue with the target, in order.
    Next,
    /// No policy of the tier selects the endpoint: it skips the tier (the view over
    /// every policy only).
    NotSelected,
    /// These Pass rules of the source policy continue at the target (the next tier).
    Pass(Vec<(Direction, usize)>),
    /// The tier's default action is Pass: continue at the next tier.
    DefaultPass,
    /// Layout only: the next tier in order, which a packet reaches only through a
    /// Pass (never drawn).
    Order,
}

/// One tier's nodes, in order: its entry, its policies, its end.
#[derive(Debug, Clone)]
pub struct TierBlock {
    /// Index into `Model::tiers`.
    pub tier: usize,
    /// The nodes.
    pub nodes: Vec<NodeIndex>,
}

/// One chain: the view over every policy, or one endpoint's direction and stage.
#[derive(Debug, Clone)]
pub struct Section {
    /// The endpoint and direction (universe index), for an endpoint's chains.
    pub endpoint: Option<(usize, Direction)>,
    /// The policy stage.
    pub stage: Stage,
    /// Its start node.
    pub start: NodeIndex,
    /// Its tiers, in evaluation order.
    pub tiers: Vec<TierBlock>,
    /// Its end node.
    pub end: NodeIndex,
}

/// The precedence graph.
#[derive(Debug, Default)]
pub struct PrecedenceGraph {
    /// The graph.
    pub graph: DiGraph<Step, Flow>,
    /// Its chains, in order.
    pub sections: Vec<Section>,
}

impl PrecedenceGraph {
    /// Every enforced (non-staged) policy, in the order Calico evaluates them. Tiers
    /// without enforced policies are left out.
    pub fn all(engine: &Engine<'_>) -> PrecedenceGraph {
        let model = engine.model;
        let tiers: Vec<(usize, Vec<usize>)> = engine
            .tiers
            .order
            .iter()
            .map(|&t| {
                let policies = (0..model.policies.len())
                    .filter(|&p| engine.policy_tier[p] == t && model.policies[p].staged.is_none())
                    .collect::<Vec<_>>();
                (t, policies)
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        let mut g = PrecedenceGraph::default();
        g.section(engine, None, Stage::Normal, &tiers, End::Profiles, false);
        g
    }

    /// The policies that select endpoint `ep` (a universe index), per direction and
    /// policy stage: pods have their normal policy; host endpoints add untracked,
    /// pre-DNAT and forwarded stages where some policy takes part in them.
    pub fn endpoint(engine: &Engine<'_>, ep: usize) -> PrecedenceGraph {
        let model = engine.model;
        let endpoint = &engine.universe.endpoints[ep];
        let is_host = endpoint.hep.is_some();
        let node = endpoint.node.as_deref().unwrap_or("");
        let mut g = PrecedenceGraph::default();
        for dir in [Direction::Ingress, Direction::Egress] {
            let stages: &[Stage] = if is_host {
                &[
                    Stage::Untracked,
                    Stage::PreDnat,
                    Stage::Normal,
                    Stage::Forward,
                ]
            } else {
                &[Stage::Normal]
            };
            for &stage in stages {
                if stage == Stage::Untracked && !engine.untracked_applies(ep) {
                    continue;
                }
                let plan = engine.stage_plan(ep, stage, dir);
                let tiers: Vec<(usize, Vec<usize>)> = plan
                    .tiers
                    .iter()
                    .map(|t| (t.tier, t.policies.clone()))
                    .collect();
                if tiers.is_empty() && stage != Stage::Normal {
                    continue;
                }
                let end = match &plan.end {
                    PlannedEnd::NextStage => End::NextStage,
                    PlannedEnd::ForwardDefault => End::ForwardDefault,
                    PlannedEnd::Profiles(list) => End::HostProfiles(
                        list.iter()
                            .map(|&p| model.profiles[p].name.clone())
                            .collect(),
                    ),
                    PlannedEnd::NamespaceProfile => End::NamespaceProfile,
                };
                let failsafe = plan.failsafe
                    && !match dir {
                        Direction::Ingress => model.felix.failsafe_inbound(node),
                        Direction::Egress => model.felix.failsafe_outbound(node),
                    }
                    .is_empty();
                g.section(engine, Some((ep, dir)), stage, &tiers, end, failsafe);
            }
        }
        g
    }

    /// Add one chain over `tiers` (tier index, its policies in order).
    fn section(
        &mut self,
        engine: &Engine<'_>,
        endpoint: Option<(usize, Direction)>,
        stage: Stage,
        tiers: &[(usize, Vec<usize>)],
        end: End,
        failsafe: bool,
    ) {
        let model = engine.model;
        let forced_pass = matches!(stage, Stage::PreDnat | Stage::Untracked);
        let g = &mut self.graph;
        let start = g.add_node(Step::Start { failsafe });
        let mut blocks = Vec::new();
        for (t, policies) in tiers {
            let mut nodes = vec![g.add_node(Step::TierEntry(*t))];
            nodes.extend(policies.iter().map(|&p| g.add_node(Step::Policy(p))));
            let action = if forced_pass {
                TierAction::Pass
            } else {
                model.tiers[*t].default_action
            };
            nodes.push(g.add_node(Step::TierEnd { tier: *t, action }));
            for w in nodes.windows(2) {
                g.add_edge(w[0], w[1], Flow::Next);
            }
            blocks.push(TierBlock { tier: *t, nodes });
        }
        let end = g.add_node(Step::End(end));
        g.add_edge(
            start,
            blocks.first().map_or(end, |b| b.nodes[0]),
            Flow::Enter,
        );
        for (i, block) in blocks.iter().enumerate() {
            let next = blocks.get(i + 1).map_or(end, |b| b.nodes[0]);
            let entry = block.nodes[0];
            if endpoint.is_none() {
                g.add_edge(entry, next, Flow::NotSelected);
            }
            let dirs: &[Direction] = match endpoint {
                Some((_, Direction::Ingress)) => &[Direction::Ingress],
                Some(_) => &[Direction::Egress],
                None => &[Direction::Ingress, Direction::Egress],
            };
            for &n in &block.nodes[1..block.nodes.len() - 1] {
                let Step::Policy(p) = g[n] else { continue };
                let policy = &model.policies[p];
                let passes: Vec<(Direction, usize)> = dirs
                    .iter()
                    .flat_map(|&d| {
                        let rules = match d {
                            Direction::Ingress if policy.types.ingress => &policy.ingress[..],
                            Direction::Egress if policy.types.egress => &policy.egress[..],
                            _ => &[],
                        };
                        rules
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| r.action == Action::Pass)
                            .map(move |(i, _)| (d, i))
                    })
                    .collect();
                if !passes.is_empty() {
                    g.add_edge(n, next, Flow::Pass(passes));
                }
            }
            let last = block.nodes[block.nodes.len() - 1];
            match g[last] {
                Step::TierEnd {
                    action: TierAction::Pass,
                    ..
                } => {
                    g.add_edge(last, next, Flow::DefaultPass);
                }
                _ if endpoint.is_some() => {
                    g.add_edge(last, next, Flow::Order);
                }
                _ => {}
            }
        }
        self.sections.push(Section {
            endpoint,
            stage,
            start,
            tiers: blocks,
            end,
        });
    }
}
