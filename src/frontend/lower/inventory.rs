//! Lowering of endpoints: HostEndpoints, (Global)NetworkSets, and the inventory
//! (Pods, Nodes).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::values::{CidrRule, is_port_name};
use super::{Ctx, Named};
use crate::diag::Diagnostic;
use crate::frontend::raw::S;
use crate::frontend::raw::calico::{EndpointPort, HostEndpointSpec, NetworkSetSpec};
use crate::frontend::raw::inventory::{Container, NodeStatus, PodSpec, PodStatus};
use crate::frontend::raw::scalar::NumOrString;
use crate::ir::{HostEndpoint, Interface, NamedPort, NetworkSet, Protocol};
use crate::source::Span;

/// A pod before the whole-input pass adds namespace and service-account labels.
pub struct PendingPod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.nodeName`, with its span.
    pub node: Option<(String, Span)>,
    /// `spec.hostNetwork`.
    pub host_network: bool,
    /// Service account.
    pub service_account: String,
    /// Pod IPs.
    pub ips: Vec<IpAddr>,
    /// Named container ports.
    pub ports: Vec<NamedPort>,
    /// The pod's own labels.
    pub labels: BTreeMap<String, String>,
    /// Where it was declared.
    pub span: Span,
}

/// A protocol for ports: TCP, UDP or SCTP, any case accepted only where `lenient`.
fn port_protocol(ctx: &mut Ctx<'_>, p: &Option<S<NumOrString>>) -> Option<Protocol> {
    let Some(p) = p else {
        return Some(Protocol::TCP);
    };
    let proto = match &p.value {
        NumOrString::Str(s) => Protocol::from_calico_name(s),
        NumOrString::Num(_) => None,
    };
    match proto {
        Some(x) if x.has_ports() => Some(x),
        _ => {
            let shown = match &p.value {
                NumOrString::Str(s) => s.clone(),
                NumOrString::Num(n) => n.to_string(),
            };
            let d = ctx.error_at(
                p,
                "invalid-protocol",
                format!("`{shown}` is not a port protocol"),
            );
            ctx.push(d.help("use TCP, UDP or SCTP"));
            None
        }
    }
}

fn endpoint_port(ctx: &mut Ctx<'_>, p: &S<EndpointPort>) -> Option<NamedPort> {
    let name = ctx.required(&p.value.name, p, "name", "a host endpoint port");
    let port = ctx.required(&p.value.port, p, "port", "a host endpoint port");
    let (name, port) = (name?, port?);
    if !is_port_name(&name.value) {
        let d = ctx.error_at(
            name,
            "invalid-port",
            format!("`{}` is not a valid port name", name.value),
        );
        ctx.push(d.help("port names have at most 15 lowercase letters, digits and `-`, with at least one letter"));
        return None;
    }
    let span = ctx.span(&port.referenced);
    let port = ctx.port_number(port.value, span, "port")?;
    let protocol = port_protocol(ctx, &p.value.protocol)?;
    Some(NamedPort {
        name: name.value.clone(),
        protocol,
        port,
    })
}

/// Lower a HostEndpoint.
pub fn host_endpoint(
    ctx: &mut Ctx<'_>,
    named: &Named,
    labels: BTreeMap<String, String>,
    spec: &HostEndpointSpec,
) -> Option<HostEndpoint> {
    let mut ok = true;
    let node = match &spec.node {
        Some(n) if super::is_dns_subdomain(&n.value) => Some(n.value.clone()),
        Some(n) => {
            let d = ctx.error_at(
                n,
                "invalid-name",
                format!("`{}` is not a valid node name", n.value),
            );
            ctx.push(d);
            None
        }
        None => {
            ctx.push(
                Diagnostic::error(
                    "missing-field",
                    format!("HostEndpoint `{}` has no `spec.node`", named.name),
                )
                .at(named.span)
                .help("name the node this interface belongs to"),
            );
            None
        }
    };
    let interface = match &spec.interface_name {
        None => Interface::ByExpectedIp,
        Some(i) if i.value.is_empty() => Interface::ByExpectedIp,
        Some(i) if i.value == "*" => Interface::All,
        Some(i) => {
            let valid = i.value.len() <= 15
                && i.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !valid {
                let d = ctx.error_at(
                    i,
                    "invalid-interface",
                    format!("`{}` is not a valid interface name", i.value),
                );
                ctx.push(d.help("interface names are at most 15 characters of letters, digits, `.`, `_`, `-`; use \"*\" for all interfaces"));
                ok = false;
            }
            Interface::Named(i.value.clone())
        }
    };
    let mut expected_ips = Vec::new();
    if let Some(list) = &spec.expected_ips {
        for ip in &list.value {
            match ctx.ip(ip, "expected IP") {
                Some(a) => expected_ips.push(a),
                None => ok = false,
            }
        }
    }
    if interface == Interface::ByExpectedIp
        && spec
            .expected_ips
            .as_ref()
            .is_none_or(|l| l.value.is_empty())
    {
        ctx.push(
            Diagnostic::error(
                "hep-without-interface",
                format!(
                    "HostEndpoint `{}` has neither `interfaceName` nor `expectedIPs`",
                    named.name
                ),
            )
            .at(named.span)
            .help("set `interfaceName` (a name, or \"*\" for all interfaces) or `expectedIPs`"),
        );
        ok = false;
    }
    let profiles: Vec<String> = spec.profiles.iter().map(|p| p.value.clone()).collect();
    let mut ports = Vec::new();
    for p in &spec.ports {
        match endpoint_port(ctx, p) {
            Some(x) => ports.push(x),
            None => ok = false,
        }
    }
    let node = node?;
    ok.then(|| HostEndpoint {
        name: named.name.clone(),
        node,
        interface,
        expected_ips,
        profiles,
        ports,
        labels,
        span: named.span,
    })
}

/// Lower a GlobalNetworkSet or NetworkSet.
pub fn network_set(
    ctx: &mut Ctx<'_>,
    named: &Named,
    labels: BTreeMap<String, String>,
    spec: &NetworkSetSpec,
) -> Option<NetworkSet> {
    if labels.contains_key(super::calico::NAMESPACE_LABEL) {
        ctx.push(
            Diagnostic::error(
                "invalid-label",
                format!(
                    "network sets may not set the `{}` label",
                    super::calico::NAMESPACE_LABEL
                ),
            )
            .at(named.span)
            .help("Calico sets it itself on namespaced NetworkSets"),
        );
        return None;
    }
    let nets = ctx.cidrs(&spec.nets, CidrRule::Loose);
    if nets.len() != spec.nets.len() {
        return None;
    }
    Some(NetworkSet {
        namespace: named.namespace.clone(),
        name: named.name.clone(),
        labels,
        nets,
        span: named.span,
    })
}

fn container_ports(ctx: &mut Ctx<'_>, c: &S<Container>, out: &mut Vec<NamedPort>, ok: &mut bool) {
    for p in &c.value.ports {
        let Some(name) = &p.value.name else { continue };
        let Some(cp) = &p.value.container_port else {
            let d = ctx.error_at(p, "missing-field", "a container port needs `containerPort`");
            ctx.push(d);
            *ok = false;
            continue;
        };
        let span = ctx.span(&cp.referenced);
        let Some(port) = ctx.port_number(cp.value, span, "containerPort") else {
            *ok = false;
            continue;
        };
        let Some(protocol) = port_protocol(ctx, &p.value.protocol) else {
            *ok = false;
            continue;
        };
        out.push(NamedPort {
            name: name.value.clone(),
            protocol,
            port,
        });
    }
}

/// Lower a Pod.
pub fn pod(
    ctx: &mut Ctx<'_>,
    named: &Named,
    labels: BTreeMap<String, String>,
    spec: &PodSpec,
    status: &PodStatus,
) -> Option<PendingPod> {
    let mut ok = true;
    let mut ports = Vec::new();
    for c in &spec.containers {
        container_ports(ctx, c, &mut ports, &mut ok);
    }
    // Sidecars (init containers that keep running) expose ports too.
    for c in spec.init_containers.iter().filter(|c| {
        c.value
            .restart_policy
            .as_ref()
            .is_some_and(|r| r.value == "Always")
    }) {
        container_ports(ctx, c, &mut ports, &mut ok);
    }
    ports.sort();
    ports.dedup();
    let mut ips = Vec::new();
    if let Some(ip) = &status.pod_ip {
        match ctx.ip(ip, "podIP") {
            Some(a) => ips.push(a),
            None => ok = false,
        }
    }
    for p in &status.pod_ips {
        let Some(ip) = ctx.required(&p.value.ip, p, "ip", "a podIPs entry") else {
            ok = false;
            continue;
        };
        match ctx.ip(ip, "podIPs entry") {
            Some(a) if !ips.contains(&a) => ips.push(a),
            Some(_) => {}
            None => ok = false,
        }
    }
    let service_account = spec
        .service_account_name
        .as_ref()
        .or(spec.service_account.as_ref())
        .map_or_else(|| "default".to_string(), |s| s.value.clone());
    // A node name becomes a folder of the build output: it must be a DNS subdomain,
    // as the API server requires (no `/`, no `..`).
    let node = match spec.node_name.as_ref() {
        Some(n) if !super::is_dns_subdomain(&n.value) => {
            let d = ctx.error_at(
                n,
                "invalid-name",
                format!("`{}` is not a valid node name", n.value),
            );
            ctx.push(
                d.help("node names are DNS subdomains: lowercase letters, digits, `-` and `.`"),
            );
            ok = false;
            None
        }
        n => n.map(|n| (n.value.clone(), ctx.span(&n.referenced))),
    };
    ok.then(|| PendingPod {
        namespace: named.namespace.clone().unwrap_or_else(|| "default".into()),
        name: named.name.clone(),
        node,
        host_network: spec.host_network.as_ref().is_some_and(|h| h.value),
        service_account,
        ips,
        ports,
        labels,
        span: named.span,
    })
}

/// The IP addresses of a node: InternalIP entries first, then ExternalIP.
pub fn node_addresses(ctx: &mut Ctx<'_>, status: &NodeStatus) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for kind in ["InternalIP", "ExternalIP"] {
        for a in status
            .addresses
            .iter()
            .filter(|a| a.value.type_.as_ref().is_some_and(|t| t.value == kind))
        {
            let Some(address) = ctx.required(&a.value.address, a, "address", "a node address")
            else {
                continue;
            };
            if let Some(ip) = ctx.ip(address, kind)
                && !out.contains(&ip)
            {
                out.push(ip);
            }
        }
    }
    out
}
