//! What the lints ask of the inventory, answered once per distinct label set through
//! the engine's memoised selector matching: which endpoints policy can select, and
//! whether a selector matches any of them or any network set.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::ir::Model;
use crate::selector::Expr;
use crate::semantics::{Endpoint, EndpointKind, Engine, LabelSetId, SelectorOracle};

/// The key Calico gives every namespaced endpoint and network set.
pub(super) const NAMESPACE_LABEL: &str = "projectcalico.org/namespace";
/// The key Calico gives every Kubernetes pod.
pub(super) const ORCHESTRATOR_LABEL: &str = "projectcalico.org/orchestrator";
/// The prefix of namespace labels as endpoints inherit them.
pub(super) const NS_PREFIX: &str = "pcns.";
/// The prefix of service-account labels as endpoints inherit them.
pub(super) const SA_PREFIX: &str = "pcsa.";
/// The prefix of every label Calico sets itself.
pub(super) const CALICO_PREFIX: &str = "projectcalico.org/";

/// Kubernetes and Calico system namespaces: access from them to hosts is
/// infrastructure, not application traffic.
pub(super) fn is_system_namespace(ns: &str) -> bool {
    matches!(ns, "tigera-operator" | "local-path-storage")
        || ns.starts_with("kube-")
        || ns.starts_with("calico-")
}

/// The model's endpoints as the lints see them.
pub(super) struct Inventory<'e, 'm> {
    /// The evaluator.
    pub engine: &'e Engine<'m>,
    /// Pods and host endpoints (universe indices), by label set.
    pub policed: BTreeMap<LabelSetId, Vec<usize>>,
    /// Rule-selector results, by selector address.
    holders_memo: RefCell<HashMap<usize, bool>>,
}

impl<'e, 'm> Inventory<'e, 'm> {
    /// The inventory of an engine's model.
    pub fn new(engine: &'e Engine<'m>) -> Inventory<'e, 'm> {
        let mut policed: BTreeMap<LabelSetId, Vec<usize>> = BTreeMap::new();
        for (i, ep) in engine.universe.endpoints.iter().enumerate() {
            if matches!(ep.kind, EndpointKind::Pod | EndpointKind::Host) {
                policed.entry(ep.labels).or_default().push(i);
            }
        }
        Inventory {
            engine,
            policed,
            holders_memo: RefCell::new(HashMap::new()),
        }
    }

    /// The model.
    pub fn model(&self) -> &'m Model {
        self.engine.model
    }

    /// The endpoint at a universe index.
    pub fn endpoint(&self, i: usize) -> &'e Endpoint {
        &self.engine.universe.endpoints[i]
    }

    /// Universe indices of the endpoints of a kind.
    pub fn of_kind(&self, kind: EndpointKind) -> Vec<usize> {
        let eps = &self.engine.universe.endpoints;
        (0..eps.len()).filter(|&i| eps[i].kind == kind).collect()
    }

    /// Whether the inventory lists pods (not host-network) or host endpoints.
    pub fn has_endpoints(&self) -> bool {
        !self.policed.is_empty()
    }

    /// Whether the inventory lists pods (not host-network).
    pub fn has_pods(&self) -> bool {
        self.engine
            .universe
            .endpoints
            .iter()
            .any(|e| e.kind == EndpointKind::Pod)
    }

    /// Whether a policy selector matches some pod or host endpoint.
    pub fn selects_endpoint(&self, expr: &Expr) -> bool {
        self.policed.keys().any(|&ls| self.engine.matches(expr, ls))
    }

    /// Whether a rule selector matches some pod, host endpoint or network set.
    pub fn selects_holder(&self, expr: &Expr) -> bool {
        let key = expr as *const Expr as usize;
        if let Some(&m) = self.holders_memo.borrow().get(&key) {
            return m;
        }
        let m = self.selects_endpoint(expr)
            || self
                .model()
                .network_sets
                .iter()
                .any(|s| expr.matches(&s.labels));
        self.holders_memo.borrow_mut().insert(key, m);
        m
    }
}
