//! Tier order as one graph: a node per tier plus the profiles that follow the last
//! tier, `Next` edges in Calico's evaluation order and `Pass` edges where a tier can
//! hand a packet on (a Pass rule, or `defaultAction: Pass`). The evaluator walks the
//! topological order; the analyses and backends reuse the same graph.

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::ir::{Action, Model, TierAction};

/// A node of the tier graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierNode {
    /// `Model::tiers[i]`.
    Tier(usize),
    /// The endpoint's profiles, after every tier.
    Profiles,
}

/// An edge of the tier graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierEdge {
    /// Evaluation order: the next tier.
    Next,
    /// A Pass rule or a Pass default action continues at the target.
    Pass,
}

/// The tier graph of a model.
#[derive(Debug)]
pub struct TierGraph {
    /// The graph.
    pub graph: DiGraph<TierNode, TierEdge>,
    /// Tier indices in evaluation order.
    pub order: Vec<usize>,
}

impl TierGraph {
    /// Build the graph: `Model::tiers` is already in Calico's `TierLess` order.
    pub fn new(model: &Model) -> TierGraph {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..model.tiers.len())
            .map(|i| graph.add_node(TierNode::Tier(i)))
            .collect();
        let profiles = graph.add_node(TierNode::Profiles);
        for (i, &node) in nodes.iter().enumerate() {
            let next = nodes.get(i + 1).copied().unwrap_or(profiles);
            graph.add_edge(node, next, TierEdge::Next);
            let tier = &model.tiers[i];
            let passes = tier.default_action == TierAction::Pass
                || model
                    .policies
                    .iter()
                    .filter(|p| p.tier == tier.name)
                    .any(|p| {
                        p.ingress
                            .iter()
                            .chain(&p.egress)
                            .any(|r| r.action == Action::Pass)
                    });
            if passes {
                graph.add_edge(node, next, TierEdge::Pass);
            }
        }
        let order = toposort(&graph, None)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| match graph[n] {
                TierNode::Tier(i) => Some(i),
                TierNode::Profiles => None,
            })
            .collect();
        TierGraph { graph, order }
    }

    /// Whether tier `i` can pass packets on to the next tier.
    pub fn passes(&self, i: usize) -> bool {
        self.graph.edge_indices().any(|e| {
            self.graph[e] == TierEdge::Pass
                && self
                    .graph
                    .edge_endpoints(e)
                    .is_some_and(|(a, _)| self.graph[a] == TierNode::Tier(i))
        })
    }
}
