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

#[cfg(test)]
mod tests {
    use crate::ir::Interface;
    use crate::source::Sources;

    fn load(text: &str) -> crate::frontend::Loaded {
        let mut sources = Sources::default();
        sources.add("heps.yaml".into(), text.into());
        crate::frontend::load_sources(sources)
    }

    #[test]
    fn placed_by_a_named_endpoint_or_warned() {
        let loaded = load(
            "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: a-named}\n\
             spec: {node: n1, interfaceName: eth1, expectedIPs: [10.1.0.1, 10.1.0.2]}\n---\n\
             apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: b-by-ip}\n\
             spec: {node: n1, expectedIPs: [10.1.0.2]}\n---\n\
             apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: c-lost}\n\
             spec: {node: n1, expectedIPs: [10.9.0.9]}\n---\n\
             apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: d-other-node}\n\
             spec: {node: n2, expectedIPs: [10.1.0.1]}\n",
        );
        let iface: Vec<(&str, &Interface)> = loaded
            .model
            .host_endpoints
            .iter()
            .map(|h| (h.name.as_str(), &h.interface))
            .collect();
        let eth1 = Interface::Named("eth1".into());
        assert_eq!(
            iface,
            [
                ("a-named", &eth1),
                ("b-by-ip", &eth1),
                ("c-lost", &Interface::ByExpectedIp),
                ("d-other-node", &Interface::ByExpectedIp),
            ]
        );
        let warned: Vec<&str> = loaded
            .diags
            .sorted()
            .iter()
            .filter(|d| d.code == "unresolved-interface")
            .map(|d| d.message.split('`').nth(1).unwrap_or(""))
            .collect();
        assert_eq!(warned, ["c-lost", "d-other-node"]);
        // Felix: one endpoint per interface, the alphabetically first.
        assert!(
            loaded
                .diags
                .sorted()
                .iter()
                .any(|d| d.code == "shadowed-host-endpoint" && d.message.contains("b-by-ip"))
        );
    }
}
