//! The reference evaluator: for any flow, allowed or denied, and why, exactly as
//! Calico would enforce it. Every backend is tested against it.
//!
//! Invariants:
//! - It reads only the IR and never mutates it.
//! - Evaluation is per endpoint and direction and only for a connection's first
//!   packet: established traffic is accepted before policy, so replies are never
//!   evaluated.
//! - Its cost scales with distinct label sets, not endpoints: selector results are
//!   memoised per (selector, label set), and the policies selecting an endpoint per
//!   label set.

mod endpoints;
mod flow;
mod guard;
mod ifaces;
pub mod matrix;
mod packet;
mod plan;
pub mod precedence;
mod reply;
mod stage;
mod tiers;

use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::rc::Rc;

pub use endpoints::{Endpoint, EndpointKind, EndpointRef, LabelSetId, Universe};
pub use flow::{FlowVerdict, Path};
pub use guard::{EncapDrop, Encapsulation, IPIP, PacketGuard, WORKLOAD_TO_HOST_ICMPV6};
pub use ifaces::{ChainStage, Hop, HopChains, Iface, NodeIfaces, Owners, Table};
pub use packet::{
    Packet, SelectorOracle, Side, entity_addresses, family, named_ports_visible, rule_matches,
    rule_matches_packet, visible_ports,
};
pub use plan::{
    PlannedEnd, PlannedTier, RulesOf, StagePlan, Traffic, WorkloadToHostPlan, failsafe_resume,
    reply_resume,
};
pub use stage::{
    Decider, Direction, End, NamedVisible, Outcome, Stage, StageProgram, StageTrace, TierProgram,
    TierStep,
};
pub use tiers::{TierEdge, TierGraph, TierNode};

use crate::ir::Model;
use crate::selector::Expr;

/// The evaluator over one model.
pub struct Engine<'m> {
    /// The model.
    pub model: &'m Model,
    /// Its endpoints.
    pub universe: Universe,
    /// Its tier graph.
    pub tiers: TierGraph,
    /// Tier index (into `Model::tiers`) of each policy.
    pub policy_tier: Vec<usize>,
    selectors: RefCell<FxHashMap<(usize, LabelSetId), bool>>,
    selecting: RefCell<FxHashMap<LabelSetId, Rc<[usize]>>>,
    ifaces: RefCell<FxHashMap<String, Rc<ifaces::NodeIfaces>>>,
}

impl<'m> Engine<'m> {
    /// An evaluator for `model`.
    pub fn new(model: &'m Model) -> Engine<'m> {
        Engine {
            model,
            universe: Universe::new(model),
            tiers: TierGraph::new(model),
            policy_tier: model
                .policies
                .iter()
                .map(|p| {
                    model
                        .tiers
                        .iter()
                        .position(|t| t.name == p.tier)
                        .unwrap_or(usize::MAX)
                })
                .collect(),
            selectors: RefCell::new(FxHashMap::default()),
            selecting: RefCell::new(FxHashMap::default()),
            ifaces: RefCell::new(FxHashMap::default()),
        }
    }

    /// Enforced (non-staged) policies whose selector matches a label set, in order.
    pub fn selecting(&self, labels: LabelSetId) -> Rc<[usize]> {
        if let Some(v) = self.selecting.borrow().get(&labels) {
            return v.clone();
        }
        let v: Rc<[usize]> = self
            .model
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.staged.is_none() && self.matches(&p.selector, labels))
            .map(|(i, _)| i)
            .collect();
        self.selecting.borrow_mut().insert(labels, v.clone());
        v
    }
}

impl SelectorOracle for Engine<'_> {
    fn matches(&self, expr: &Expr, labels: LabelSetId) -> bool {
        // Expressions live in the model, which outlives the engine: their address is
        // a stable identity.
        let key = (expr as *const Expr as usize, labels);
        if let Some(&m) = self.selectors.borrow().get(&key) {
            return m;
        }
        let m = expr.matches(self.universe.labels(labels));
        self.selectors.borrow_mut().insert(key, m);
        m
    }
}
