//! Words for the evaluator's results: what decided a flow, with `file:line:col`, for
//! `matrix` hovers and `explain` traces. Arguments shared by those commands (ports,
//! endpoint filters) are parsed here too.

use crate::ir::{Model, Protocol, TierAction};
use crate::selector;
use crate::semantics::{Decider, Direction, EndpointRef, Engine};
use crate::source::{SourceId, Sources, Span};

/// `file:line:col` of a span, or `built in`.
pub fn location(sources: &Sources, span: Span) -> String {
    if span.file == SourceId::BUILTIN {
        "built in".to_string()
    } else {
        sources.locate(span).to_string()
    }
}

/// One line saying what decided.
pub fn decider(d: &Decider, model: &Model, sources: &Sources) -> String {
    match d {
        Decider::Rule {
            policy,
            direction,
            index,
            action,
        } => {
            let p = &model.policies[*policy];
            let rules = if *direction == Direction::Ingress {
                &p.ingress
            } else {
                &p.egress
            };
            let rule = rules.get(*index);
            let at = rule.map_or_else(|| location(sources, p.span), |r| location(sources, r.span));
            let title = rule.map_or_else(|| format!("rule {index}"), |r| r.title(*index));
            let dir = if *direction == Direction::Ingress {
                "ingress"
            } else {
                "egress"
            };
            format!(
                "{action} by {} (tier {}), {dir} {title} at {at}",
                p.title(),
                p.tier
            )
        }
        Decider::TierDefault { tier } => {
            let t = &model.tiers[*tier];
            let at = t
                .span
                .map_or_else(|| "built in".to_string(), |s| location(sources, s));
            let action = if t.default_action == TierAction::Deny {
                "Deny"
            } else {
                "Pass"
            };
            format!("end of tier {}: defaultAction {action} ({at})", t.name)
        }
        Decider::NamespaceProfile => {
            "no policy decided; the pod's namespace profile allows".to_string()
        }
        Decider::Profile { name, index } => format!("profile {name}, rule {index}"),
        Decider::NoProfileAllowed => {
            "no policy or profile allows: a host endpoint drops by default".to_string()
        }
        Decider::Failsafe { protocol, port } => {
            format!("failsafe port {protocol} {port} (accepted before any policy)")
        }
        Decider::FailsafeReply { protocol, port } => format!(
            "untracked failsafe reply: source port {protocol} {port} of the other direction's failsafe ports"
        ),
        Decider::ForwardDefault => {
            "forwarded traffic through a host endpoint without applyOnForward policy: allowed"
                .to_string()
        }
        Decider::ForwardNoVerdict => "forwarded traffic no applyOnForward policy decided: \
             no Calico verdict, since the host endpoint has applyOnForward policy \
             (Felix allows forwarded traffic by default only without any); the host's \
             other rules decide, and polc's nft table accepts"
            .to_string(),
        Decider::NoPolicy => "no policy".to_string(),
        Decider::WorkloadEncapsulation { encapsulation } => format!(
            "workload {} dropped before policy ({} is false)",
            encapsulation.name(),
            encapsulation.setting()
        ),
        Decider::WorkloadIcmpv6ToHost { icmp_type } => format!(
            "workload ICMPv6 ND: type {icmp_type} ({}) from a pod to its own host, accepted \
             before the pod's egress policy and defaultEndpointToHostAction",
            icmpv6_name(*icmp_type)
        ),
        Decider::EndpointToHost { action } => {
            format!("a pod to its own host: defaultEndpointToHostAction {action}")
        }
        Decider::Loopback => "the same endpoint: traffic never leaves it".to_string(),
        Decider::HostToLocalWorkload => "a host to its own pods is never policed".to_string(),
        Decider::NotPoliced => "no Calico policy applies to these endpoints".to_string(),
        Decider::NoCommonFamily => "the endpoints share no IP family".to_string(),
        Decider::HostTunnel { tunnel, accepted } => {
            let what = match (tunnel, accepted) {
                (crate::semantics::Tunnel::Wireguard, _) => "to its listening port accepted",
                (_, true) => "between Calico hosts accepted",
                (_, false) => "not between Calico hosts dropped",
            };
            format!(
                "{} {what} by Felix's host tunnel rules, before host-endpoint policy",
                tunnel.name()
            )
        }
        Decider::ConntrackInvalid => "conntrack INVALID: the reply of a connection a doNotTrack \
             Allow left untracked has no conntrack entry, and a tracked endpoint chain drops \
             INVALID packets (disableConntrackInvalidCheck is false)"
            .to_string(),
    }
}

/// The name of an ICMPv6 type Felix accepts from pods to their host.
fn icmpv6_name(t: u8) -> &'static str {
    match t {
        130 => "multicast listener query",
        131 => "multicast listener report",
        132 => "multicast listener done",
        133 => "router solicitation",
        135 => "neighbour solicitation",
        136 => "neighbour advertisement",
        _ => "ICMPv6",
    }
}

/// Parse `PORT/PROTO` (`443/tcp`, `53/UDP`), a bare port (TCP), or `icmp`/`icmpv6`
/// (an echo request).
pub fn parse_port(s: &str) -> Result<(Protocol, u16), String> {
    let lower = s.trim().to_ascii_lowercase();
    match lower.as_str() {
        "icmp" => return Ok((Protocol::ICMP, 0)),
        "icmpv6" => return Ok((Protocol::ICMPV6, 0)),
        _ => {}
    }
    let (port, proto) = lower.split_once('/').unwrap_or((lower.as_str(), "tcp"));
    let protocol = match proto {
        "tcp" => Protocol::TCP,
        "udp" => Protocol::UDP,
        "sctp" => Protocol::SCTP,
        other => {
            return Err(format!(
                "`{other}` is not a port protocol; use tcp, udp or sctp (or `icmp`)"
            ));
        }
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((protocol, p)),
        _ => Err(format!("`{port}` is not a port number (1-65535)")),
    }
}

/// Display `PORT/PROTO`.
pub fn port_name(protocol: Protocol, port: u16) -> String {
    if protocol.is_icmp() {
        protocol.to_string()
    } else {
        format!("{port}/{protocol}")
    }
}

/// The endpoints a `--from`/`--to` filter names: an endpoint name, a comma-separated
/// list of names, or a selector over endpoint labels.
pub fn filter(
    engine: &Engine<'_>,
    all: &[EndpointRef],
    spec: Option<&str>,
) -> Result<Vec<EndpointRef>, String> {
    let Some(spec) = spec else {
        return Ok(all.to_vec());
    };
    let names: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let resolved: Vec<Result<EndpointRef, String>> = names
        .iter()
        .map(|n| engine.universe.resolve(engine.model, n))
        .collect();
    if !names.is_empty() && resolved.iter().all(Result::is_ok) {
        return Ok(resolved.into_iter().flatten().collect());
    }
    match selector::parse(spec) {
        Ok(expr) => Ok(all
            .iter()
            .copied()
            .filter(|r| match r {
                EndpointRef::Known(i) => {
                    let e = &engine.universe.endpoints[*i];
                    expr.matches(engine.universe.labels(e.labels))
                }
                EndpointRef::External(_) => false,
            })
            .collect()),
        Err(err) => Err(match resolved.into_iter().find_map(Result::err) {
            Some(name_err) if !spec.contains(['=', '(', '!']) => name_err,
            _ => format!("`{spec}` is neither endpoint names nor a valid selector ({err})"),
        }),
    }
}
