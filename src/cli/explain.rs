//! `polc explain`: the evaluation of one flow, direction by direction and tier by
//! tier, with the `file:line` of every rule that decided.

use std::fmt::Write;

use serde_json::{Value, json};

use super::describe::{WHAT_IF_STAGED, decider, location, parse_port, port_name, what_if};
use super::explain_nft::{Artifacts, Enforced};
use super::{EXIT_INPUT, EXIT_OK, Format, Inputs, Out, load_clean, usage_error};
use crate::ir::Protocol;
use crate::semantics::{Direction, Engine, FlowVerdict, Outcome, Packet, Stage, StageTrace};
use crate::source::Sources;

/// Arguments of `polc explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// The source: NAMESPACE/POD, host/NAME, node/NAME or an IP address.
    #[arg(long, value_name = "EP")]
    from: String,
    /// The destination, named the same way.
    #[arg(long, value_name = "EP")]
    to: String,
    /// The destination port: PORT/PROTO (e.g. 443/tcp, 53/udp) or `icmp`.
    #[arg(long, value_name = "PORT/PROTO")]
    port: String,
    /// The source port (default: an ephemeral port, 40000).
    #[arg(long, value_name = "PORT")]
    sport: Option<u16>,
    /// A transit flow: NODE forwards it from interface IN to interface OUT (e.g.
    /// `n1:eth0:eth1`); the stages are those of the host endpoints owning the two
    /// interfaces (an interface no host endpoint names is owned by an unplaced
    /// `expectedIPs` endpoint, else `*`).
    #[arg(long, value_name = "NODE:IN:OUT")]
    via: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also name, for each stage, the chain and rule of the node's artifact of this
    /// target that enforce it (`NODE/polc.nft:LINE`, rendered in memory as `polc
    /// build` renders it).
    #[arg(long, value_enum)]
    target: Option<ExplainTarget>,
    /// With --target: the output folder of `polc build` to name the artifacts under
    /// (only names them; nothing is read).
    #[arg(long, value_name = "DIR", requires = "target")]
    artifacts: Option<std::path::PathBuf>,
    /// What-if: evaluate as if every staged policy were enforced (the artifacts of
    /// --target enforce no staged policy, so the two do not go together).
    #[arg(long, conflicts_with = "target")]
    staged: bool,
    /// Exit 1 when the flow is denied (default: 0 either way).
    #[arg(long)]
    exit_code: bool,
}

/// The targets `explain --target` can locate rules in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainTarget {
    /// The nft script (`NODE/polc.nft:LINE`).
    Nft,
}

/// The path of a transit flow `NODE:IN:OUT` between the addresses of two endpoints.
fn transit<'m>(
    engine: &Engine<'m>,
    via: &str,
    from: crate::semantics::EndpointRef,
    to: crate::semantics::EndpointRef,
) -> Result<crate::semantics::Path<'m>, String> {
    let parts: Vec<&str> = via.split(':').collect();
    let [node, iif, oif] = parts[..] else {
        return Err(format!("`{via}` is not NODE:IN:OUT (e.g. n1:eth0:eth1)"));
    };
    let known = engine
        .universe
        .endpoints
        .iter()
        .any(|e| e.node.as_deref() == Some(node));
    if !known {
        return Err(format!("no node `{node}` in the inventory"));
    }
    let ifs = engine.node_ifaces(node);
    let iface = |n: &str| match n {
        "lo" => crate::semantics::Iface::Loopback,
        _ if ifs.filter.named.contains_key(n) => crate::semantics::Iface::Named(n.to_string()),
        _ => crate::semantics::Iface::Other,
    };
    let (src, dst) = engine
        .addresses(from, to)
        .ok_or("the endpoints share no IP family")?;
    Ok(engine.transit(src, dst, node, iface(iif), iface(oif)))
}

/// Run `polc explain`.
pub fn run(args: &ExplainArgs, out: &Out) -> i32 {
    let (protocol, port) = match parse_port(&args.port) {
        Ok(p) => p,
        Err(e) => return usage_error(format!("--port: {e}")),
    };
    let loaded = match load_clean(&args.inputs, out) {
        Ok(l) => what_if(l, args.staged),
        Err(code) => return code,
    };
    let engine = Engine::new(&loaded.model);
    let (from, to) = match (
        engine.universe.resolve(&loaded.model, &args.from),
        engine.universe.resolve(&loaded.model, &args.to),
    ) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) => return usage_error(format!("--from: {e}")),
        (_, Err(e)) => return usage_error(format!("--to: {e}")),
    };
    let mut packet = Packet::to_port(protocol, port);
    if let Some(s) = args.sport {
        packet.sport = s;
    }
    let verdict = match &args.via {
        None => engine.evaluate(from, to, &packet),
        Some(via) => match transit(&engine, via, from, to) {
            Ok(path) => path.run(&packet),
            Err(e) => return usage_error(format!("--via: {e}")),
        },
    };
    let enforced: Vec<Option<Enforced>> = match args.target {
        None => vec![None; verdict.stages.len()],
        Some(ExplainTarget::Nft) => {
            match Artifacts::render(
                &engine,
                &loaded.sources,
                &verdict.stages,
                args.artifacts.as_deref(),
            ) {
                Ok(a) => verdict
                    .stages
                    .iter()
                    .map(|s| a.enforced(&engine, &loaded.sources, s))
                    .collect(),
                Err(e) => return usage_error(e),
            }
        }
    };
    let (from_name, to_name) = (engine.universe.name(from), engine.universe.name(to));
    match args.format {
        Format::Json => {
            let mut v = json!({
                "allowed": verdict.allowed,
                "from": from_name,
                "to": to_name,
                "protocol": protocol.to_string(),
                "port": if protocol.is_icmp() { Value::Null } else { json!(port) },
                "sport": if protocol.has_ports() { json!(packet.sport) } else { Value::Null },
                "src_ip": verdict.src_ip.map(|i| i.to_string()),
                "dst_ip": verdict.dst_ip.map(|i| i.to_string()),
                "decided_by": decider(&verdict.decider, &loaded.model, &loaded.sources),
                "decider": verdict.decider,
                "stages": verdict.stages.iter().zip(&enforced).map(|(s, e)| stage_json(&engine, &loaded.sources, s, e.as_ref(), args.target.is_some())).collect::<Vec<_>>(),
            });
            if args.staged {
                v["what_if"] = json!({"staged": true, "title": WHAT_IF_STAGED});
            }
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Text => print!(
            "{}{}",
            if args.staged {
                format!("{WHAT_IF_STAGED}\n")
            } else {
                String::new()
            },
            text(
                &engine,
                &loaded.sources,
                &from_name,
                &to_name,
                protocol,
                port,
                &packet,
                &verdict,
                args.target.is_some().then_some(&enforced[..]),
            )
        ),
    }
    // The verdict is the output, not an error: explain exits 0 either way, unless
    // asked for a script's exit code.
    if args.exit_code && !verdict.allowed {
        EXIT_INPUT
    } else {
        EXIT_OK
    }
}

fn stage_title(engine: &Engine<'_>, s: &StageTrace) -> String {
    let name = &engine.universe.endpoints[s.endpoint].name;
    let reply = if s.reply { "reply: " } else { "" };
    let dir = if s.direction == Direction::Ingress {
        "ingress"
    } else {
        "egress"
    };
    let title = match s.stage {
        Stage::Normal if name.starts_with("host/") => {
            format!("{dir} of {name} (host endpoint, to/from its host)")
        }
        Stage::Normal => format!("{dir} of {name}"),
        Stage::Forward => format!("{dir} of {name}, forwarded (applyOnForward policy)"),
        Stage::PreDnat => format!("{dir} of {name}, pre-DNAT policy"),
        Stage::Untracked => format!("{dir} of {name}, untracked (doNotTrack) policy"),
    };
    format!("{reply}{title}")
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Allow => "ALLOW",
        Outcome::Deny => "DENY",
        Outcome::NoVerdict => "no verdict",
    }
}

/// The text trace of one flow (also `polc test`'s witness).
#[allow(clippy::too_many_arguments)]
pub(super) fn text(
    engine: &Engine<'_>,
    sources: &Sources,
    from: &str,
    to: &str,
    protocol: Protocol,
    port: u16,
    packet: &Packet,
    v: &FlowVerdict,
    enforced: Option<&[Option<Enforced>]>,
) -> String {
    let model = engine.model;
    let mut out = String::new();
    let addrs = match (v.src_ip, v.dst_ip) {
        (Some(s), Some(d)) => format!(" ({s} -> {d})"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "flow {from} -> {to}{addrs}, {}: {packet}",
        port_name(protocol, port)
    );
    for (k, s) in v.stages.iter().enumerate() {
        // Pre-DNAT and untracked stages that no policy has are noise in a trace.
        let failsafe = matches!(
            s.decider,
            crate::semantics::Decider::Failsafe { .. }
                | crate::semantics::Decider::FailsafeReply { .. }
        );
        // A forward stage without a verdict is worth showing: Felix's forward
        // default does not apply there.
        let forward_open = s.decider == crate::semantics::Decider::ForwardNoVerdict;
        if s.tiers.is_empty() && s.outcome == Outcome::NoVerdict && !failsafe && !forward_open {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{}: {}",
            stage_title(engine, s),
            outcome_word(s.outcome)
        );
        if s.outcome == Outcome::NoVerdict && failsafe {
            let _ = writeln!(
                out,
                "  {}: accepted in this stage without the accept mark, so the next stages still apply (Felix's raw and mangle failsafe chains)",
                decider(&s.decider, model, sources)
            );
        }
        if s.tiers.is_empty() && !failsafe {
            let _ = writeln!(
                out,
                "  no tier has a policy for this endpoint and direction"
            );
        }
        for t in &s.tiers {
            let tier = &model.tiers[t.tier];
            let names: Vec<String> = t
                .policies
                .iter()
                .map(|p| model.policies[*p].title())
                .collect();
            let _ = writeln!(
                out,
                "  tier {} (order {}): {}",
                tier.name,
                tier.order.map_or("none".to_string(), |o| o.to_string()),
                names.join(", ")
            );
            for (p, i) in &t.logged {
                let r = rule_at(model, *p, s.direction, *i);
                let _ = writeln!(
                    out,
                    "    Log: {} {} matched at {} (continues)",
                    model.policies[*p].title(),
                    r.map_or(format!("rule {i}"), |r| r.title(*i)),
                    r.map_or(String::new(), |r| location(sources, r.span))
                );
            }
            if let Some((p, i)) = t.passed_by {
                let r = rule_at(model, p, s.direction, i);
                let _ = writeln!(
                    out,
                    "    Pass: {} {} at {} -> next tier",
                    model.policies[p].title(),
                    r.map_or(format!("rule {i}"), |r| r.title(i)),
                    r.map_or(String::new(), |r| location(sources, r.span))
                );
            } else if t.default_reached {
                let action = if tier.default_action == crate::ir::TierAction::Deny
                    && !matches!(s.stage, Stage::PreDnat | Stage::Untracked)
                {
                    "Deny"
                } else {
                    "Pass"
                };
                let _ = writeln!(out, "    no rule matched: end of tier, {action}");
            }
        }
        let _ = writeln!(out, "  decided by: {}", decider(&s.decider, model, sources));
        if let Some(enforced) = enforced {
            out.push_str(&enforced_text(enforced.get(k).and_then(Option::as_ref)));
        }
    }
    let verdict = if v.allowed { "ALLOWED" } else { "DENIED" };
    let _ = writeln!(
        out,
        "\nverdict: {verdict}: {}",
        decider(&v.decider, model, sources)
    );
    out
}

/// The `nft:` lines of a stage: its chain and deciding rule in the node's artifact.
fn enforced_text(e: Option<&Enforced>) -> String {
    let Some(e) = e else {
        return "  nft: no chain of its own in the node's artifact (not policed there)\n".into();
    };
    let mut out = format!("  nft: {}:{} chain {}\n", e.file, e.chain_line, e.chain);
    if let Some(r) = &e.rule {
        let _ = writeln!(out, "       {}:{} {}: {}", e.file, r.line, r.chain, r.text);
    }
    out
}

fn rule_at(
    model: &crate::ir::Model,
    p: usize,
    dir: Direction,
    i: usize,
) -> Option<&crate::ir::Rule> {
    let policy = &model.policies[p];
    if dir == Direction::Ingress {
        policy.ingress.get(i)
    } else {
        policy.egress.get(i)
    }
}

fn stage_json(
    engine: &Engine<'_>,
    sources: &Sources,
    s: &StageTrace,
    enforced: Option<&Enforced>,
    with_target: bool,
) -> Value {
    let model = engine.model;
    let rule_json = |p: usize, i: usize| {
        json!({
            "policy": model.policies[p].id.to_string(),
            "index": i,
            "at": rule_at(model, p, s.direction, i).map(|r| location(sources, r.span)),
        })
    };
    let mut v = json!({
        "endpoint": engine.universe.endpoints[s.endpoint].name,
        "stage": s.stage,
        "direction": s.direction,
        "outcome": s.outcome,
        "decided_by": decider(&s.decider, model, sources),
        "decider": s.decider,
        "tiers": s.tiers.iter().map(|t| json!({
            "tier": model.tiers[t.tier].name,
            "policies": t.policies.iter().map(|p| model.policies[*p].id.to_string()).collect::<Vec<_>>(),
            "logged": t.logged.iter().map(|(p, i)| rule_json(*p, *i)).collect::<Vec<_>>(),
            "passed_by": t.passed_by.map(|(p, i)| rule_json(p, i)),
            "default_action_reached": t.default_reached,
        })).collect::<Vec<_>>(),
    });
    if with_target {
        v["nft"] = json!(enforced);
    }
    v
}
