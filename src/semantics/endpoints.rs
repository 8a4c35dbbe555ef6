//! The endpoints flows run between, and what Calico's selectors see of an address.
//!
//! - Pods (not host-network) are `NAMESPACE/POD`: workload endpoints.
//! - Host endpoints are `host/NAME`; a host-network pod counts as its node.
//! - Nodes that have no host endpoint are `node/NAME`: Calico does not police them.
//! - Any other address is an external endpoint, named by the address.
//!
//! A rule selector matches an address when some *holder* of the address matches it:
//! the pod with that IP, the host endpoint with that expected IP, or a network set
//! whose nets contain it (`felix/labelindex/named_port_index.go`). Label sets are
//! interned, so caches key on small ids instead of maps.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::ir::{Interface, Model, NamedPort};

/// An interned label set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelSetId(pub u32);

/// What kind of endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointKind {
    /// A pod's workload endpoint.
    Pod,
    /// A host endpoint.
    Host,
    /// A node without host endpoints (not policed).
    Node,
    /// An address outside the inventory.
    External,
}

/// One endpoint of the universe.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `NAMESPACE/POD`, `host/NAME`, `node/NAME` or an address.
    pub name: String,
    /// What kind.
    pub kind: EndpointKind,
    /// The node it is on (pods, host endpoints and nodes).
    pub node: Option<String>,
    /// Its addresses, in preference order.
    pub ips: Vec<IpAddr>,
    /// The labels policy selectors see (pods: the IR's full set; host endpoints: their
    /// labels plus their profiles' `labelsToApply`).
    pub labels: LabelSetId,
    /// Named ports, as rules see them (a host endpoint's only when it has expected
    /// IPs).
    pub ports: Vec<NamedPort>,
    /// Index into `Model::host_endpoints`, for host endpoints.
    pub hep: Option<usize>,
    /// Index into `Model::pods`, for pods.
    pub pod: Option<usize>,
}

/// Every endpoint, and the address holders rule selectors resolve against.
#[derive(Debug)]
pub struct Universe {
    /// Pods, then host endpoints, then nodes without host endpoints; each sorted by name.
    pub endpoints: Vec<Endpoint>,
    label_sets: Vec<BTreeMap<String, String>>,
    label_ids: HashMap<BTreeMap<String, String>, LabelSetId>,
    /// Exact addresses held by pods and host endpoints.
    host_holders: HashMap<IpAddr, Vec<(LabelSetId, usize)>>,
    /// Network-set nets.
    net_holders: Vec<(IpNet, LabelSetId)>,
    by_name: HashMap<String, usize>,
    /// The host endpoint that governs traffic a node forwards, by node.
    forward_hep: BTreeMap<String, usize>,
}

/// A reference to an endpoint: one of the universe, or an external address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointRef {
    /// Index into [`Universe::endpoints`].
    Known(usize),
    /// An address outside the inventory.
    External(IpAddr),
}

impl Universe {
    /// Build the universe of a model.
    pub fn new(model: &Model) -> Universe {
        let mut u = Universe {
            endpoints: Vec::new(),
            label_sets: Vec::new(),
            label_ids: HashMap::new(),
            host_holders: HashMap::new(),
            net_holders: Vec::new(),
            by_name: HashMap::new(),
            forward_hep: BTreeMap::new(),
        };
        u.intern(BTreeMap::new());
        for (i, pod) in model
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.host_network)
        {
            let labels = u.intern(pod.labels.clone());
            u.push(Endpoint {
                name: format!("{}/{}", pod.namespace, pod.name),
                kind: EndpointKind::Pod,
                node: pod.node.clone(),
                ips: pod.ips.clone(),
                labels,
                ports: pod.ports.clone(),
                hep: None,
                pod: Some(i),
            });
        }
        for (i, hep) in model.host_endpoints.iter().enumerate() {
            let mut labels = hep.labels.clone();
            for name in &hep.profiles {
                if let Some(p) = model.profiles.iter().find(|p| &p.name == name) {
                    for (k, v) in &p.labels_to_apply {
                        labels.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            let labels = u.intern(labels);
            let node_addrs = model
                .nodes
                .iter()
                .find(|n| n.name == hep.node)
                .map(|n| n.addresses.clone());
            let ips = if hep.expected_ips.is_empty() {
                node_addrs.unwrap_or_default()
            } else {
                hep.expected_ips.clone()
            };
            u.push(Endpoint {
                name: format!("host/{}", hep.name),
                kind: EndpointKind::Host,
                node: Some(hep.node.clone()),
                ips,
                labels,
                // Felix builds named-port IP sets from a host endpoint's expected IPs
                // (`felix/labelindex/named_port_index.go`,
                // `extractCIDRsFromHostEndpoint`): without any, its named ports match
                // nothing, even though its node's addresses are its own.
                ports: if hep.expected_ips.is_empty() {
                    Vec::new()
                } else {
                    hep.ports.clone()
                },
                hep: Some(i),
                pod: None,
            });
            // The endpoint of the node's uplink forwards: a named (or expectedIPs)
            // endpoint owns the interface traffic arrives and leaves on, and the raw
            // and pre-DNAT dispatch give it that traffic first; `*` only when the node
            // has no other (Felix dispatches by interface, `*` being the default:
            // `hostDispatchChains`, `felix/rules/dispatch.go`).
            let current = u.forward_hep.get(&hep.node).copied();
            let star = hep.interface == Interface::All;
            let replace = match current {
                None => true,
                Some(c) => !star && model.host_endpoints[c].interface == Interface::All,
            };
            if replace {
                u.forward_hep.insert(hep.node.clone(), i);
            }
        }
        let empty = LabelSetId(0);
        for node in &model.nodes {
            if model.host_endpoints.iter().any(|h| h.node == node.name) {
                continue;
            }
            u.push(Endpoint {
                name: format!("node/{}", node.name),
                kind: EndpointKind::Node,
                node: Some(node.name.clone()),
                ips: node.addresses.clone(),
                labels: empty,
                ports: Vec::new(),
                hep: None,
                pod: None,
            });
        }
        // Selector-visible holders: pods' IPs, host endpoints' expected IPs, network sets.
        for (idx, ep) in u.endpoints.iter().enumerate() {
            let visible: &[IpAddr] = match ep.kind {
                EndpointKind::Pod => &ep.ips,
                EndpointKind::Host => ep
                    .hep
                    .map_or(&[][..], |h| &model.host_endpoints[h].expected_ips[..]),
                _ => &[],
            };
            for ip in visible {
                u.host_holders
                    .entry(*ip)
                    .or_default()
                    .push((ep.labels, idx));
            }
        }
        for set in &model.network_sets {
            let id = u.intern(set.labels.clone());
            for net in &set.nets {
                u.net_holders.push((*net, id));
            }
        }
        u
    }

    fn push(&mut self, ep: Endpoint) {
        self.by_name.insert(ep.name.clone(), self.endpoints.len());
        self.endpoints.push(ep);
    }

    fn intern(&mut self, labels: BTreeMap<String, String>) -> LabelSetId {
        if let Some(id) = self.label_ids.get(&labels) {
            return *id;
        }
        let id = LabelSetId(self.label_sets.len() as u32);
        self.label_sets.push(labels.clone());
        self.label_ids.insert(labels, id);
        id
    }

    /// The labels of an interned set.
    pub fn labels(&self, id: LabelSetId) -> &BTreeMap<String, String> {
        &self.label_sets[id.0 as usize]
    }

    /// Label sets of everything that can hold an address: pods, host endpoints and
    /// network sets.
    pub fn holder_label_sets(&self) -> impl Iterator<Item = LabelSetId> + '_ {
        self.endpoints
            .iter()
            .filter(|e| matches!(e.kind, EndpointKind::Pod | EndpointKind::Host))
            .map(|e| e.labels)
            .chain(self.net_holders.iter().map(|(_, l)| *l))
    }

    /// The label sets of everything that holds `ip`, as rule selectors see it.
    pub fn holders(&self, ip: IpAddr) -> Vec<LabelSetId> {
        let mut out: Vec<LabelSetId> = self
            .host_holders
            .get(&ip)
            .map(|v| v.iter().map(|(l, _)| *l).collect())
            .unwrap_or_default();
        out.extend(
            self.net_holders
                .iter()
                .filter(|(n, _)| n.contains(&ip))
                .map(|(_, l)| *l),
        );
        out.sort();
        out.dedup();
        out
    }

    /// The endpoint with this exact name.
    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The host endpoint that governs what `node` forwards: its first endpoint that is
    /// not `*`, else its `*` endpoint (polc does not model routing between a node's
    /// interfaces).
    pub fn forward_hep(&self, node: &str) -> Option<usize> {
        self.forward_hep.get(node).copied()
    }

    /// The universe index of host endpoint `hep`.
    pub fn hep_endpoint(&self, hep: usize) -> Option<usize> {
        self.endpoints.iter().position(|e| e.hep == Some(hep))
    }

    /// Resolve what a user typed: `NAMESPACE/POD`, `host/NAME`, `node/NAME` (a node
    /// with host endpoints resolves to its forwarding one), or an IP address (an
    /// endpoint's address resolves to that endpoint).
    pub fn resolve(&self, model: &Model, spec: &str) -> Result<EndpointRef, String> {
        if let Some(i) = self.by_name(spec) {
            return Ok(EndpointRef::Known(i));
        }
        if let Some(node) = spec.strip_prefix("node/")
            && let Some(h) = self.forward_hep(node)
            && let Some(i) = self.hep_endpoint(h)
        {
            return Ok(EndpointRef::Known(i));
        }
        if let Ok(ip) = spec.parse::<IpAddr>() {
            if let Some(i) = self.endpoints.iter().position(|e| e.ips.contains(&ip)) {
                return Ok(EndpointRef::Known(i));
            }
            return Ok(EndpointRef::External(ip));
        }
        // A host-network pod is its node.
        if let Some((ns, name)) = spec.split_once('/')
            && let Some(pod) = model
                .pods
                .iter()
                .find(|p| p.namespace == ns && p.name == name && p.host_network)
            && let Some(node) = &pod.node
        {
            return self.resolve(model, &format!("node/{node}"));
        }
        let close = crate::frontend::closest(spec, self.endpoints.iter().map(|e| e.name.as_str()));
        Err(match close {
            Some(c) => format!("no endpoint `{spec}`; did you mean `{c}`?"),
            None => format!(
                "no endpoint `{spec}`; name a pod as NAMESPACE/POD, a host endpoint as host/NAME, a node as node/NAME, or give an IP address"
            ),
        })
    }

    /// The display name of a reference.
    pub fn name(&self, r: EndpointRef) -> String {
        match r {
            EndpointRef::Known(i) => self.endpoints[i].name.clone(),
            EndpointRef::External(ip) => ip.to_string(),
        }
    }
}
