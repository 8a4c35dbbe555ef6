//! Interfaces and who owns them: which host endpoint's chain Felix's dispatch picks
//! for a packet, per table, by the interface it crosses, and the chains of stages a
//! packet meets on one hop through a node. The evaluator's flows (`flow.rs`), the
//! analysis and the backends read this, so they agree on which endpoint polices
//! what.
//!
//! Upstream: `resolveHostEndpoints` (`felix/dataplane/linux/endpoint_mgr.go`) gives
//! each host interface the alphabetically first host endpoint that names it (or, by
//! `expectedIPs`, lives on it), and the first `interfaceName: "*"` endpoint becomes
//! the default of the dispatch chains (`hostDispatchChains`, `felix/rules/dispatch.go`):
//! - filter (normal and `applyOnForward` chains): every resolved endpoint, default
//!   `*`. Forward dispatch covers workload interfaces too: a pod's forwarded packets
//!   meet the `*` endpoint's forward chains (FV "AOF policy on all-interfaces host
//!   endpoints", `felix/fv/hostendpoints_test.go`);
//! - mangle (pre-DNAT): endpoints with pre-DNAT policy, default `*`, for every
//!   packet, pods' included ("no one can connect via NodePorts",
//!   `felix/fv/pre_dnat_test.go`);
//! - raw (untracked): endpoints with untracked policy, no default, never for packets
//!   from pods (`StaticRawPreroutingChain`, `felix/rules/static.go`).
//!
//! polc compiles offline, so where a packet enters and leaves is an assumption made
//! from the inventory, the same everywhere: traffic to or from a host endpoint's
//! address crosses that endpoint's interface; traffic between a node and anything
//! off the node (pods' included) crosses the node's uplink, the interface of its
//! first host endpoint that is not `*` (an interface no host endpoint names when it
//! has none); a host process talking to its own host crosses `lo`.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::Engine;
use super::stage::{Direction, Stage};
use crate::ir::Interface;

/// An interface a packet crosses on a node, as Felix's dispatch tells them apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Iface {
    /// A host interface a host endpoint names.
    Named(String),
    /// A host interface no host endpoint names (an `expectedIPs` endpoint the
    /// inventory could not place governs it, else `*`).
    #[default]
    Other,
    /// A pod's interface (`interfacePrefix`).
    Workload,
    /// `lo`.
    Loopback,
}

/// Felix's tables, each with its own dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Untracked policy.
    Raw,
    /// Pre-DNAT policy.
    Mangle,
    /// Normal and `applyOnForward` policy.
    Filter,
}

/// Who owns which interface in one table of one node (universe indices).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    /// By interface name: the alphabetically first endpoint naming it.
    pub named: BTreeMap<String, usize>,
    /// The first `expectedIPs` endpoint the inventory could not place: it governs
    /// every host interface no named endpoint owns (not `lo`).
    pub unplaced: Option<usize>,
    /// The first `*` endpoint: the default (never in raw).
    pub any: Option<usize>,
}

impl Owners {
    /// The endpoint whose chain a packet crossing `iface` meets, if any.
    pub fn owner(&self, iface: &Iface) -> Option<usize> {
        match iface {
            Iface::Named(n) => self.named.get(n).copied().or(self.unplaced).or(self.any),
            Iface::Other => self.unplaced.or(self.any),
            Iface::Workload => self.any,
            Iface::Loopback => self.named.get("lo").copied().or(self.any),
        }
    }
}

/// The owners of one node's interfaces, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeIfaces {
    /// Raw (untracked) dispatch.
    pub raw: Owners,
    /// Mangle (pre-DNAT) dispatch.
    pub mangle: Owners,
    /// Filter (normal and forward) dispatch.
    pub filter: Owners,
    /// The interface traffic between the node and anything off it crosses.
    pub uplink: Iface,
}

impl NodeIfaces {
    /// The owners of `table`.
    pub fn table(&self, table: Table) -> &Owners {
        match table {
            Table::Raw => &self.raw,
            Table::Mangle => &self.mangle,
            Table::Filter => &self.filter,
        }
    }
}

/// One stage of one endpoint, as a chain lists them.
pub type ChainStage = (usize, Stage);

/// Where a packet is on one hop through a node: which interfaces it crosses (`None`:
/// a process of the node, on that side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Where it enters (`None`: sent by a process of the node).
    pub iif: Option<Iface>,
    /// Where it leaves (`None`: for a process of the node).
    pub oif: Option<Iface>,
}

/// The host-endpoint stages one hop meets, as two chains: the ingress chain of the
/// interface it enters by (raw, pre-DNAT, then normal or forward; an Allow in one
/// skips the rest of the chain), then the egress chain of the interface it leaves by
/// (raw and normal for a packet of the node, forward for a forwarded one). Pods'
/// own stages and the workload-to-host steps come between and after them; the
/// flow lays them out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HopChains {
    /// Ingress stages of the entry interface's owners.
    pub ingress: Vec<ChainStage>,
    /// Egress stages of the exit interface's owners.
    pub egress: Vec<ChainStage>,
}

impl Engine<'_> {
    /// The owners of `node`'s interfaces (computed once per node).
    pub fn node_ifaces(&self, node: &str) -> Rc<NodeIfaces> {
        if let Some(v) = self.ifaces.borrow().get(node) {
            return v.clone();
        }
        let v = Rc::new(self.compute_ifaces(node));
        self.ifaces.borrow_mut().insert(node.to_string(), v.clone());
        v
    }

    fn compute_ifaces(&self, node: &str) -> NodeIfaces {
        let u = &self.universe;
        let model = self.model;
        let mut heps: Vec<usize> = (0..u.endpoints.len())
            .filter(|&i| {
                u.endpoints[i].hep.is_some() && u.endpoints[i].node.as_deref() == Some(node)
            })
            .collect();
        heps.sort_by(|&a, &b| u.endpoints[a].name.cmp(&u.endpoints[b].name));
        let has = |ep: usize, stage: Stage| {
            [Direction::Ingress, Direction::Egress]
                .into_iter()
                .any(|d| !self.planned_tiers(ep, stage, d).is_empty())
        };
        // The winners: per interface the first endpoint naming it, the first
        // unplaced one, the first `*`. Each is in the mangle and raw dispatch only
        // with policy of that stage; a loser is in none.
        let mut filter = Owners::default();
        for &ep in &heps {
            match &model.host_endpoints[u.endpoints[ep].hep.unwrap_or(0)].interface {
                Interface::Named(n) => {
                    filter.named.entry(n.clone()).or_insert(ep);
                }
                Interface::ByExpectedIp => {
                    filter.unplaced.get_or_insert(ep);
                }
                Interface::All => {
                    filter.any.get_or_insert(ep);
                }
            }
        }
        let only = |stage: Stage, any: bool| Owners {
            named: filter
                .named
                .iter()
                .filter(|(_, ep)| has(**ep, stage))
                .map(|(n, ep)| (n.clone(), *ep))
                .collect(),
            unplaced: filter.unplaced.filter(|ep| has(*ep, stage)),
            any: filter.any.filter(|ep| any && has(*ep, stage)),
        };
        let mut out = NodeIfaces {
            raw: only(Stage::Untracked, false),
            mangle: only(Stage::PreDnat, true),
            filter: filter.clone(),
            uplink: Iface::Other,
        };
        // The uplink: the interface of the first endpoint that is not `*`.
        out.uplink = heps
            .iter()
            .find_map(|&ep| {
                match &model.host_endpoints[u.endpoints[ep].hep.unwrap_or(0)].interface {
                    Interface::Named(n) => Some(Iface::Named(n.clone())),
                    Interface::ByExpectedIp => Some(Iface::Other),
                    Interface::All => None,
                }
            })
            .unwrap_or(Iface::Other);
        out
    }

    /// The interface traffic to and from host endpoint `ep`'s addresses crosses: its
    /// own when it names one, else its node's uplink.
    pub fn endpoint_iface(&self, ep: usize) -> Iface {
        let e = &self.universe.endpoints[ep];
        match e.hep.map(|h| &self.model.host_endpoints[h].interface) {
            Some(Interface::Named(n)) => Iface::Named(n.clone()),
            Some(Interface::ByExpectedIp) => Iface::Other,
            _ => self
                .node_ifaces(e.node.as_deref().unwrap_or(""))
                .uplink
                .clone(),
        }
    }

    /// The host-endpoint chains of one hop through `node`.
    pub fn hop_chains(&self, node: &str, hop: &Hop) -> HopChains {
        let ifs = self.node_ifaces(node);
        let own = |t: Table, i: &Iface| ifs.table(t).owner(i);
        let mut out = HopChains::default();
        let forwarded = hop.iif.is_some() && hop.oif.is_some();
        if let Some(i) = &hop.iif {
            // Raw dispatch skips packets from pods.
            if *i != Iface::Workload
                && let Some(o) = own(Table::Raw, i)
            {
                out.ingress.push((o, Stage::Untracked));
            }
            if let Some(o) = own(Table::Mangle, i) {
                out.ingress.push((o, Stage::PreDnat));
            }
            // A pod's packets to its own host go to `cali-wl-to-host` before the
            // host-endpoint dispatch of filter INPUT.
            let filter = match (forwarded, i) {
                (true, _) => own(Table::Filter, i).map(|o| (o, Stage::Forward)),
                (false, Iface::Workload) => None,
                (false, _) => own(Table::Filter, i).map(|o| (o, Stage::Normal)),
            };
            out.ingress.extend(filter);
        }
        if let Some(o) = &hop.oif {
            if forwarded {
                out.egress
                    .extend(own(Table::Filter, o).map(|e| (e, Stage::Forward)));
            } else if *o != Iface::Workload {
                // The host to its own pods is never policed (`oifname cali*`
                // RETURN in filter OUTPUT); raw OUTPUT dispatches by oif.
                out.egress
                    .extend(own(Table::Raw, o).map(|e| (e, Stage::Untracked)));
                out.egress
                    .extend(own(Table::Filter, o).map(|e| (e, Stage::Normal)));
            }
        }
        out
    }
}

impl Engine<'_> {
    /// Every hop a packet can make through `node`, as the evaluator models them:
    /// into and out of each host interface (those host endpoints name, and any
    /// other) and `lo` for the node's processes, a pod to its host, and forwarded
    /// between any two of the host interfaces and the pods' interfaces. Together
    /// they meet every endpoint chain a backend renders for the node.
    pub fn node_hops(&self, node: &str) -> Vec<Hop> {
        let ifs = self.node_ifaces(node);
        let mut host: Vec<Iface> = ifs.filter.named.keys().cloned().map(Iface::Named).collect();
        host.push(Iface::Other);
        let mut hops = Vec::new();
        for i in host.iter().cloned().chain([Iface::Loopback]) {
            hops.push(Hop {
                iif: Some(i.clone()),
                oif: None,
            });
            hops.push(Hop {
                iif: None,
                oif: Some(i),
            });
        }
        hops.push(Hop {
            iif: Some(Iface::Workload),
            oif: None,
        });
        host.push(Iface::Workload);
        for a in &host {
            for b in &host {
                hops.push(Hop {
                    iif: Some(a.clone()),
                    oif: Some(b.clone()),
                });
            }
        }
        hops
    }
}
