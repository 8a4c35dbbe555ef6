//! FelixConfiguration: lowering one resource, and which resources govern which node;
//! and IPPools, whose encapsulation enables Felix's tunnels where FelixConfiguration
//! does not say (`felix/calc/encapsulation_resolver.go`).
//!
//! Felix merges, per setting, `node.<nodename>` over the one selector-scoped
//! resource whose `nodeSelector` matches the node's labels over `default`
//! (`felix/config/config_params.go`: `SourcesInDescendingOrder` lists
//! `DatastorePerHost`, `DatastorePerSelector`, `DatastoreGlobal`). A resource with
//! another name is selector-scoped when it has a `nodeSelector`
//! (`felix/daemon/daemon.go`, `felix/calc/config_batcher.go`); without one Felix never
//! reads it. Of several matching selector-scoped resources Felix uses the oldest by
//! creation time, then by name (`MergeSelectorConfigs`); manifests carry no creation
//! time, so polc takes the first by name and warns. The API rejects a `nodeSelector`
//! on `default` and on `node.*` (the CEL rule on `FelixConfiguration` in
//! `api/pkg/apis/projectcalico/v3/felixconfig.go`).

use super::values::CidrRule;
use super::{Ctx, Named};
use crate::diag::{Diagnostic, Diagnostics};
use crate::frontend::raw::S;
use crate::frontend::raw::calico::{FailsafeEntry, FelixSpec, IpPoolSpec};
use crate::ir::{
    EndpointToHostAction, FailsafePort, FelixConfig, FelixSettings, IpPool, Node,
    PoolEncapsulation, Protocol, TunnelSettings,
};
use crate::selector::Expr;

/// One lowered FelixConfiguration.
pub struct Felix {
    /// `metadata.name`.
    pub name: String,
    /// Its settings.
    pub settings: FelixSettings,
    /// `nodeSelector`, for a selector-scoped resource.
    pub node_selector: Option<Expr>,
}

/// Lower a FelixConfiguration.
pub fn felix(ctx: &mut Ctx<'_>, named: &Named, spec: &FelixSpec) -> Option<Felix> {
    let scoped_by_name = named.name == "default" || named.name.starts_with("node.");
    let selector = spec.node_selector.as_ref().filter(|s| !s.value.is_empty());
    let mut ok = true;
    let node_selector = match (selector, scoped_by_name) {
        (Some(s), true) => {
            let d = ctx.error_at(
                s,
                "invalid-felix-configuration",
                format!(
                    "`nodeSelector` must not be set on FelixConfiguration `{}`",
                    named.name
                ),
            );
            ctx.push(d.help(
                "`default` applies to every node and `node.<nodename>` to one node: remove `nodeSelector`, or rename the resource to scope it by selector",
            ));
            ok = false;
            None
        }
        (Some(s), false) => {
            let e = ctx.selector(s, "nodeSelector");
            ok &= e.is_some();
            e
        }
        (None, true) => None,
        (None, false) => {
            ctx.push(
                Diagnostic::warning(
                    "ignored-felix-configuration",
                    format!("FelixConfiguration `{}` is never used by Felix", named.name),
                )
                .at(named.span)
                .help("Felix reads `default` (cluster-wide), `node.<nodename>` (one node) and resources with a `nodeSelector` (the nodes it selects)"),
            );
            None
        }
    };
    let failsafe_inbound = failsafe_list(ctx, &spec.failsafe_inbound_host_ports, &mut ok);
    let failsafe_outbound = failsafe_list(ctx, &spec.failsafe_outbound_host_ports, &mut ok);
    let default_endpoint_to_host_action = endpoint_to_host(ctx, spec, &mut ok);
    let vxlan_port = spec.vxlan_port.as_ref().and_then(|p| {
        let port = ctx.port_number(p.value, ctx.span(&p.referenced), "vxlanPort");
        ok &= port.is_some();
        port
    });
    let interface_prefixes = interface_prefixes(ctx, &spec.interface_prefix, &mut ok);
    let mut port = |p: &Option<S<i64>>, what: &str| {
        p.as_ref().and_then(|p| {
            let port = ctx.port_number(p.value, ctx.span(&p.referenced), what);
            ok &= port.is_some();
            port
        })
    };
    let wireguard_port = port(&spec.wireguard_listening_port, "wireguardListeningPort");
    let wireguard_port_v6 = port(
        &spec.wireguard_listening_port_v6,
        "wireguardListeningPortV6",
    );
    if let Some(v6) = &spec.vxlan_enabled_v6 {
        let d = ctx.error_at(
            v6,
            "unknown-field",
            "FelixConfiguration has no `vxlanEnabledV6`: Felix enables IPv6 VXLAN when an IPv6 IPPool has `vxlanMode` Always or CrossSubnet",
        );
        ctx.push(d.help("remove it, and declare the IPv6 IPPool with its vxlanMode"));
        ok = false;
    }
    let flag = |f: &Option<S<bool>>| f.as_ref().map(|b| b.value);
    let tunnels = TunnelSettings {
        ipip: flag(&spec.ipip_enabled),
        vxlan: flag(&spec.vxlan_enabled),
        wireguard: flag(&spec.wireguard_enabled),
        wireguard_v6: flag(&spec.wireguard_enabled_v6),
        wireguard_port,
        wireguard_port_v6,
    };
    ok.then(|| Felix {
        name: named.name.clone(),
        settings: FelixSettings {
            failsafe_inbound,
            failsafe_outbound,
            default_endpoint_to_host_action,
            vxlan_port,
            allow_vxlan_from_workloads: flag(&spec.allow_vxlan_packets_from_workloads),
            allow_ipip_from_workloads: flag(&spec.allow_ipip_packets_from_workloads),
            interface_prefixes,
            disable_conntrack_invalid_check: flag(&spec.disable_conntrack_invalid_check),
            tunnels,
            span: Some(named.span),
        },
        node_selector,
    })
}

/// `interfacePrefix`: a comma-separated list of interface name prefixes, each 1-15
/// letters, digits, `_` or `-` (Felix's `IfaceListRegexp`,
/// `felix/config/config_params.go`; Felix refuses to start on anything else).
fn interface_prefixes(
    ctx: &mut Ctx<'_>,
    prefix: &Option<S<String>>,
    ok: &mut bool,
) -> Option<Vec<String>> {
    // An empty value is an unset one (`omitempty`), as for the other settings.
    let p = prefix.as_ref().filter(|p| !p.value.is_empty())?;
    let items: Vec<String> = p.value.split(',').map(str::to_string).collect();
    let valid = |i: &String| {
        (1..=15).contains(&i.len())
            && i.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    };
    if let Some(bad) = items.iter().find(|i| !valid(i)) {
        let d = ctx.error_at(
            p,
            "invalid-interface",
            format!("`{bad}` is not a valid interfacePrefix item"),
        );
        ctx.push(d.help(
            "interfacePrefix is a comma-separated list of 1-15 letters, digits, `_` or `-` each, e.g. `cali` or `cali,tap`",
        ));
        *ok = false;
        return None;
    }
    Some(items)
}

fn endpoint_to_host(
    ctx: &mut Ctx<'_>,
    spec: &FelixSpec,
    ok: &mut bool,
) -> Option<EndpointToHostAction> {
    let a = spec.default_endpoint_to_host_action.as_ref()?;
    match a.value.to_ascii_lowercase().as_str() {
        "" => None,
        "accept" => Some(EndpointToHostAction::Accept),
        "drop" => Some(EndpointToHostAction::Drop),
        "return" => Some(EndpointToHostAction::Return),
        other => {
            let d = ctx.error_at(
                a,
                "invalid-action",
                format!("`{other}` is not a defaultEndpointToHostAction"),
            );
            ctx.push(d.help("use Accept, Drop or Return"));
            *ok = false;
            None
        }
    }
}

/// Each setting from `first` when it sets it, else from `then`.
fn over(first: &FelixSettings, then: &FelixSettings) -> FelixSettings {
    FelixSettings {
        failsafe_inbound: first
            .failsafe_inbound
            .clone()
            .or_else(|| then.failsafe_inbound.clone()),
        failsafe_outbound: first
            .failsafe_outbound
            .clone()
            .or_else(|| then.failsafe_outbound.clone()),
        default_endpoint_to_host_action: first
            .default_endpoint_to_host_action
            .or(then.default_endpoint_to_host_action),
        vxlan_port: first.vxlan_port.or(then.vxlan_port),
        allow_vxlan_from_workloads: first
            .allow_vxlan_from_workloads
            .or(then.allow_vxlan_from_workloads),
        allow_ipip_from_workloads: first
            .allow_ipip_from_workloads
            .or(then.allow_ipip_from_workloads),
        interface_prefixes: first
            .interface_prefixes
            .clone()
            .or_else(|| then.interface_prefixes.clone()),
        disable_conntrack_invalid_check: first
            .disable_conntrack_invalid_check
            .or(then.disable_conntrack_invalid_check),
        tunnels: first.tunnels.over(then.tunnels),
        span: first.span.or(then.span),
    }
}

/// The settings in force: `default`, and per node `node.<name>` over the matching
/// selector-scoped resource.
pub fn config(
    entries: Vec<Felix>,
    nodes: &[Node],
    pools: &[IpPool],
    diags: &mut Diagnostics,
) -> FelixConfig {
    let mut out = FelixConfig {
        pools: PoolEncapsulation::of(pools),
        ..FelixConfig::default()
    };
    let mut scoped: Vec<Felix> = Vec::new();
    for f in entries {
        if f.name == "default" {
            out.global = f.settings;
        } else if let Some(node) = f.name.strip_prefix("node.") {
            out.nodes.insert(node.to_string(), f.settings);
        } else if f.node_selector.is_some() {
            scoped.push(f);
        }
    }
    scoped.sort_by(|a, b| a.name.cmp(&b.name));
    for node in nodes {
        let mut matching = scoped.iter().filter(|f| {
            f.node_selector
                .as_ref()
                .is_some_and(|e| e.matches(&node.labels))
        });
        let Some(winner) = matching.next() else {
            continue;
        };
        for loser in matching {
            diags.push(
                Diagnostic::warning(
                    "ignored-felix-configuration",
                    format!(
                        "FelixConfigurations `{}` and `{}` both select node `{}`; Felix uses the older one, which polc assumes is `{}` (the first by name)",
                        winner.name, loser.name, node.name, winner.name
                    ),
                )
                .at_opt(loser.settings.span)
                .help("make the nodeSelectors exclusive: at most one selector-scoped FelixConfiguration should match a node"),
            );
        }
        let merged = match out.nodes.get(&node.name) {
            Some(own) => over(own, &winner.settings),
            None => winner.settings.clone(),
        };
        out.nodes.insert(node.name.clone(), merged);
    }
    out
}
fn failsafe_list(
    ctx: &mut Ctx<'_>,
    list: &Option<S<Vec<S<FailsafeEntry>>>>,
    ok: &mut bool,
) -> Option<Vec<FailsafePort>> {
    let list = list.as_ref()?;
    let mut out = Vec::new();
    for e in &list.value {
        // Felix accepts `tcp` or `udp`, in any case (`felix/config/param_types.go`).
        let protocol = match e
            .value
            .protocol
            .as_ref()
            .map(|p| p.value.to_ascii_lowercase())
        {
            Some(p) if p == "tcp" => Protocol::TCP,
            Some(p) if p == "udp" => Protocol::UDP,
            _ => {
                let at = e
                    .value
                    .protocol
                    .as_ref()
                    .map_or(ctx.span(&e.referenced), |p| ctx.span(&p.referenced));
                ctx.push(
                    Diagnostic::error(
                        "invalid-protocol",
                        "a failsafe port needs `protocol: TCP` or `UDP`",
                    )
                    .at(at)
                    .help("Felix rejects other protocols here and fails to apply the whole list"),
                );
                *ok = false;
                continue;
            }
        };
        let Some(port) = ctx.required(&e.value.port, e, "port", "a failsafe entry") else {
            *ok = false;
            continue;
        };
        let span = ctx.span(&port.referenced);
        let Some(port) = ctx.port_number(port.value, span, "failsafe port") else {
            *ok = false;
            continue;
        };
        let net = match &e.value.net {
            Some(n) => match ctx.cidr(n, CidrRule::Loose) {
                Some(x) => Some(x),
                None => {
                    *ok = false;
                    continue;
                }
            },
            None => None,
        };
        out.push(FailsafePort {
            protocol,
            port,
            net,
        });
    }
    Some(out)
}

/// Lower an IPPool: its CIDR and whether it asks for IP-in-IP or VXLAN, checked as
/// the IPPool CRD checks them (`api/pkg/apis/projectcalico/v3/ippool.go`: modes
/// `Never`, `Always`, `CrossSubnet` or unset; not both; no IP-in-IP on IPv6).
pub fn ip_pool(ctx: &mut Ctx<'_>, named: &Named, spec: &IpPoolSpec) -> Option<IpPool> {
    let cidr = match &spec.cidr {
        Some(c) => ctx.cidr(c, CidrRule::Prefix),
        None => {
            ctx.push(
                Diagnostic::error("missing-field", "an IPPool needs `spec.cidr`")
                    .at(named.span)
                    .help("add `cidr:` (for example 10.244.0.0/16)"),
            );
            None
        }
    };
    let ipip = mode(ctx, &spec.ipip_mode, "ipipMode");
    let vxlan = mode(ctx, &spec.vxlan_mode, "vxlanMode");
    let (cidr, ipip, vxlan) = (cidr?, ipip?, vxlan?);
    if ipip && vxlan {
        ctx.push(
            Diagnostic::error(
                "invalid-ip-pool",
                "ipipMode and vxlanMode cannot both be enabled",
            )
            .at(named.span)
            .help("set one of them to Never"),
        );
        return None;
    }
    if ipip && cidr.addr().is_ipv6() {
        ctx.push(
            Diagnostic::error("invalid-ip-pool", "IP-in-IP is not supported on IPv6 pools")
                .at(named.span)
                .help("use `vxlanMode` for an IPv6 pool, or set ipipMode to Never"),
        );
        return None;
    }
    Some(IpPool {
        name: named.name.clone(),
        cidr,
        ipip,
        vxlan,
        span: named.span,
    })
}

/// Whether an encapsulation mode enables it; `None` after an error.
fn mode(ctx: &mut Ctx<'_>, m: &Option<S<String>>, field: &str) -> Option<bool> {
    match m.as_ref().map(|m| m.value.as_str()) {
        None | Some("") | Some("Never") => Some(false),
        Some("Always") | Some("CrossSubnet") => Some(true),
        Some(other) => {
            let m = m.as_ref()?;
            let d = ctx.error_at(
                m,
                "invalid-ip-pool",
                format!("`{other}` is not a valid `{field}`"),
            );
            ctx.push(d.help("use Never, Always or CrossSubnet"));
            None
        }
    }
}
