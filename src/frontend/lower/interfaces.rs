//! Which interface a host endpoint without `interfaceName` governs. Felix resolves
//! such an endpoint at run time to the interface that holds one of its
//! `expectedIPs` (`resolveHostEndpoints`, `felix/dataplane/linux/endpoint_mgr.go`) and
//! from then on polices it by that interface, like a named one. polc compiles
//! offline, so it learns where an address lives from the inventory: another host
//! endpoint of the node that names its interface and lists the address. Where the
//! inventory does not say, polc warns and assumes the endpoint governs the node's
//! uplink: every interface but the pods' (exact on a node with one network
//! interface).

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{HostEndpoint, Interface};

/// Resolve every `expectedIPs`-only host endpoint that a named one on its node
/// places; warn about the others.
pub fn resolve_interfaces(heps: &mut [HostEndpoint], diags: &mut Diagnostics) {
    let named: Vec<(String, String, Vec<std::net::IpAddr>)> = heps
        .iter()
        .filter_map(|h| match &h.interface {
            Interface::Named(n) => Some((h.node.clone(), n.clone(), h.expected_ips.clone())),
            _ => None,
        })
        .collect();
    for h in heps.iter_mut() {
        if h.interface != Interface::ByExpectedIp {
            continue;
        }
        let found = named.iter().find(|(node, _, ips)| {
            node == &h.node && h.expected_ips.iter().any(|ip| ips.contains(ip))
        });
        match found {
            Some((_, iface, _)) => h.interface = Interface::Named(iface.clone()),
            None => diags.push(
                Diagnostic::warning(
                    "unresolved-interface",
                    format!(
                        "host endpoint `{}` names no interface, and no host endpoint of node `{}` says which interface holds {}: polc assumes it governs the node's uplink (every interface but the pods')",
                        h.name,
                        h.node,
                        h.expected_ips
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .at(h.span)
                .help("set `interfaceName` to the interface that holds these addresses (Felix polices it by interface)"),
            ),
        }
    }
}
