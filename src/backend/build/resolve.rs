//! What every node's model resolves the same way, computed once for all nodes:
//! selectors to addresses, port names to the endpoints that define them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;

use ipnet::IpNet;

use crate::ir::{IpVersion, NamedPort, Protocol, Selector};
use crate::semantics::{EndpointKind, Engine, LabelSetId, SelectorOracle};

/// Resolved selectors by (selector address, IPv4?).
type SelectorNets = HashMap<(usize, bool), Rc<Vec<IpNet>>>;

/// What every node's artifact resolves the same way, computed once for all nodes:
/// selectors to addresses, port names to the endpoints that define them.
pub struct Resolver<'e, 'm> {
    pub(super) engine: &'e Engine<'m>,
    /// Port name → (address, port, labels of the endpoint defining it).
    named: HashMap<String, Vec<(IpAddr, NamedPort, LabelSetId)>>,
    selector_nets: RefCell<SelectorNets>,
}

impl<'e, 'm> Resolver<'e, 'm> {
    /// A resolver over an engine's model.
    pub fn new(engine: &'e Engine<'m>) -> Resolver<'e, 'm> {
        let mut named: HashMap<String, Vec<_>> = HashMap::new();
        for e in &engine.universe.endpoints {
            for ip in selector_ips(engine, e) {
                for p in &e.ports {
                    named
                        .entry(p.name.clone())
                        .or_default()
                        .push((*ip, p.clone(), e.labels));
                }
            }
        }
        Resolver {
            engine,
            named,
            selector_nets: RefCell::new(HashMap::new()),
        }
    }

    /// The addresses a selector resolves to, in one family: pods' IPs, host
    /// endpoints' expected IPs, network sets' nets.
    pub fn selector_nets(&self, sel: &Selector, family: IpVersion) -> Rc<Vec<IpNet>> {
        let key = (
            std::sync::Arc::as_ptr(sel) as usize,
            family == IpVersion::V4,
        );
        if let Some(v) = self.selector_nets.borrow().get(&key) {
            return v.clone();
        }
        let e = self.engine;
        let fam = |ip: &IpAddr| ip.is_ipv4() == (family == IpVersion::V4);
        let mut nets: Vec<IpNet> = Vec::new();
        for ep in &e.universe.endpoints {
            let ips = selector_ips(e, ep);
            if ips.iter().any(fam) && e.matches(sel, ep.labels) {
                nets.extend(ips.iter().filter(|ip| fam(ip)).map(|ip| IpNet::from(*ip)));
            }
        }
        for set in &e.model.network_sets {
            if sel.matches(&set.labels) {
                nets.extend(set.nets.iter().filter(|n| fam(&n.addr())).copied());
            }
        }
        let nets = Rc::new(IpNet::aggregate(&nets));
        self.selector_nets.borrow_mut().insert(key, nets.clone());
        nets
    }

    /// `(address, protocol, port)` of the endpoints defining port `name`
    /// (with `protocol`, in `family`) that a positive selector, if any, selects.
    pub fn named_tuples(
        &self,
        name: &str,
        protocol: Option<Protocol>,
        family: IpVersion,
        selector: Option<&Selector>,
    ) -> Vec<(IpAddr, Protocol, u16)> {
        let Some(list) = self.named.get(name) else {
            return Vec::new();
        };
        list.iter()
            .filter(|(ip, p, labels)| {
                protocol.is_none_or(|x| x == p.protocol)
                    && ip.is_ipv4() == (family == IpVersion::V4)
                    && selector.is_none_or(|s| self.engine.matches(s, *labels))
            })
            .map(|(ip, p, _)| (*ip, p.protocol, p.port))
            .collect()
    }
}

/// The addresses rule selectors see of an endpoint: a pod's IPs, a host endpoint's
/// expected IPs.
fn selector_ips<'a>(engine: &'a Engine<'_>, e: &'a crate::semantics::Endpoint) -> &'a [IpAddr] {
    match e.kind {
        EndpointKind::Pod => &e.ips,
        EndpointKind::Host => {
            e.hep.map_or(
                &[][..],
                |h| &engine.model.host_endpoints[h].expected_ips[..],
            )
        }
        _ => &[],
    }
}
