//! Addresses that must be unique: two pods (not on the host network) never share a
//! pod IP. Kubernetes' networking model gives every pod a cluster-wide unique IP
//! (and Calico IPAM allocates each address once); an inventory that repeats one
//! cannot be enforced, since a firewall sees the address, not the pod: each pod would
//! get the other's policy.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::Pod;

/// Report every pod whose address an earlier pod (in sorted order) already holds.
pub fn duplicate_pod_addresses(pods: &[Pod], diags: &mut Diagnostics) {
    let mut holders: BTreeMap<IpAddr, &Pod> = BTreeMap::new();
    for p in pods.iter().filter(|p| !p.host_network) {
        for ip in &p.ips {
            match holders.get(ip) {
                Some(first) => diags.push(
                    Diagnostic::error(
                        "duplicate-address",
                        format!(
                            "pods {}/{} and {}/{} both have address {ip}",
                            first.namespace, first.name, p.namespace, p.name
                        ),
                    )
                    .at(p.span)
                    .label("the second pod with this address")
                    .related(first.span, "the first")
                    .help("every pod has an address of its own: fix `status.podIP`/`status.podIPs` in the inventory"),
                ),
                None => {
                    holders.insert(*ip, p);
                }
            }
        }
    }
}
