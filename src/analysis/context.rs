//! Analysis contexts: one per (endpoint class, stage, direction, IP family). A
//! context holds the fixed side of its flows (the endpoint's own addresses, or for a
//! host endpoint's raw, pre-DNAT and forward stages also the pods of its node) and
//! the rules that side meets, in evaluation order, grouped by tier. Endpoints that
//! meet the same rules with the same local matches share one context.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::ir::{FailsafePort, IpVersion, NamedPort, Rule, TierAction};
use crate::semantics::{Direction, EndpointKind, Engine, LabelSetId, Side, Stage, family};

use super::space::FamilySpace;

/// A rule's place: policy, direction, index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleId {
    /// Index into `Model::policies`.
    pub policy: usize,
    /// Which rule list.
    pub dir: Direction,
    /// Index in that list.
    pub index: usize,
}

/// One address on the fixed side of a context.
#[derive(Debug, Clone)]
pub struct Local {
    /// The address.
    pub ip: IpAddr,
    /// Label sets holding it.
    pub holders: Vec<LabelSetId>,
    /// Named ports of its endpoint.
    pub ports: Vec<NamedPort>,
    /// Its endpoint (universe index).
    pub endpoint: usize,
}

/// A rule as a context meets it.
#[derive(Debug, Clone)]
pub struct CtxRule<'m> {
    /// Where it is.
    pub id: RuleId,
    /// The rule.
    pub rule: &'m Rule,
    /// Whether its fixed-side criteria hold, per local address.
    pub local_ok: Vec<bool>,
}

/// One tier of a context.
#[derive(Debug, Clone)]
pub struct CtxTier<'m> {
    /// Index into `Model::tiers`.
    pub tier: usize,
    /// Rules of the policies that apply, in order (Log rules included).
    pub rules: Vec<CtxRule<'m>>,
    /// Whether the tier's end drops.
    pub deny_at_end: bool,
}

/// What happens past the last tier.
#[derive(Debug, Clone)]
pub enum CtxEnd<'m> {
    /// Allowed (a pod's namespace profile; forwarded traffic).
    Allow,
    /// No verdict (raw and pre-DNAT stages).
    NoVerdict,
    /// A host endpoint's profiles: their rules, in order; none allowing drops.
    Profiles(Vec<Vec<&'m Rule>>),
}

/// One analysis context.
#[derive(Debug, Clone)]
pub struct Context<'m> {
    /// Endpoints (universe indices) sharing it; the first is shown in findings.
    pub endpoints: Vec<usize>,
    /// Stage.
    pub stage: Stage,
    /// Direction.
    pub dir: Direction,
    /// IP family.
    pub family: IpVersion,
    /// The fixed side: destinations for ingress, sources for egress.
    pub locals: Vec<Local>,
    /// Tiers that count, in order.
    pub tiers: Vec<CtxTier<'m>>,
    /// Past the last tier.
    pub end: CtxEnd<'m>,
    /// Failsafe ports in force (remote nets apply per class).
    pub failsafe: Vec<FailsafePort>,
}

/// Every context of the model, in a deterministic order.
pub fn contexts<'m>(engine: &Engine<'m>, spaces: &[(IpVersion, &FamilySpace)]) -> Vec<Context<'m>> {
    let model = engine.model;
    let u = &engine.universe;
    let mut out: Vec<Context<'m>> = Vec::new();
    let mut seen: HashMap<Vec<u64>, usize> = HashMap::new();
    for (i, ep) in u.endpoints.iter().enumerate() {
        let stages: &[(Stage, Direction)] = match ep.kind {
            EndpointKind::Pod => &[
                (Stage::Normal, Direction::Ingress),
                (Stage::Normal, Direction::Egress),
            ],
            EndpointKind::Host => &[
                (Stage::Untracked, Direction::Ingress),
                (Stage::Untracked, Direction::Egress),
                (Stage::PreDnat, Direction::Ingress),
                (Stage::Normal, Direction::Ingress),
                (Stage::Normal, Direction::Egress),
                (Stage::Forward, Direction::Ingress),
                (Stage::Forward, Direction::Egress),
            ],
            _ => &[],
        };
        for &(fam, space) in spaces {
            for &(stage, dir) in stages {
                let Some(ctx) = build(engine, space, i, stage, dir, fam) else {
                    continue;
                };
                if ctx.tiers.is_empty() && ctx.failsafe.is_empty() {
                    continue;
                }
                let sig = signature(&ctx, model);
                match seen.get(&sig) {
                    Some(&c) => out[c].endpoints.push(i),
                    None => {
                        seen.insert(sig, out.len());
                        out.push(ctx);
                    }
                }
            }
        }
    }
    out
}

/// What makes two contexts behave the same.
fn signature(ctx: &Context<'_>, model: &crate::ir::Model) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (ctx.stage, ctx.dir, ctx.family).hash(&mut h);
    for l in &ctx.locals {
        l.ports.hash(&mut h);
    }
    for t in &ctx.tiers {
        (t.tier, t.deny_at_end).hash(&mut h);
        for r in &t.rules {
            (r.id, &r.local_ok).hash(&mut h);
        }
    }
    match &ctx.end {
        CtxEnd::Allow => 1u8.hash(&mut h),
        CtxEnd::NoVerdict => 2u8.hash(&mut h),
        CtxEnd::Profiles(p) => {
            3u8.hash(&mut h);
            for rules in p {
                for r in rules {
                    (*r as *const Rule as usize).hash(&mut h);
                }
                0usize.hash(&mut h);
            }
        }
    }
    for f in &ctx.failsafe {
        (f.protocol, f.port, f.net).hash(&mut h);
    }
    let _ = model;
    // Two 64-bit hashes of different seeds: collisions would merge contexts.
    let a = h.finish();
    a.hash(&mut h);
    vec![a, h.finish(), ctx.locals.len() as u64]
}

fn build<'m>(
    engine: &Engine<'m>,
    space: &FamilySpace,
    i: usize,
    stage: Stage,
    dir: Direction,
    fam: IpVersion,
) -> Option<Context<'m>> {
    let model = engine.model;
    let u = &engine.universe;
    let ep = &u.endpoints[i];
    let node_pods = || {
        u.endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == EndpointKind::Pod && e.node.is_some() && e.node == ep.node)
            .map(|(j, _)| j)
            .collect::<Vec<_>>()
    };
    let owners: Vec<usize> = match (ep.kind, stage, dir) {
        (EndpointKind::Pod, ..)
        | (_, Stage::Normal, _)
        | (_, Stage::Untracked, Direction::Egress) => {
            vec![i]
        }
        (_, Stage::Untracked | Stage::PreDnat, Direction::Ingress) => {
            std::iter::once(i).chain(node_pods()).collect()
        }
        (_, Stage::Forward, _) => node_pods(),
        _ => return None,
    };
    let locals: Vec<Local> = owners
        .iter()
        .flat_map(|&o| {
            let e = &u.endpoints[o];
            e.ips
                .iter()
                .filter(|ip| family(**ip) == fam)
                .map(move |ip| Local {
                    ip: *ip,
                    holders: space
                        .of_ip
                        .get(ip)
                        .map(|&c| space.classes[c].holders.clone())
                        .unwrap_or_else(|| u.holders(*ip)),
                    ports: e.ports.clone(),
                    endpoint: o,
                })
        })
        .collect();
    if locals.is_empty() {
        return None;
    }
    let is_host = ep.hep.is_some();
    let failsafe = if is_host && stage != Stage::Forward {
        let node = ep.node.as_deref().unwrap_or("");
        match dir {
            Direction::Ingress => model.felix.failsafe_inbound(node),
            Direction::Egress => model.felix.failsafe_outbound(node),
        }
    } else {
        Vec::new()
    };
    let selected = engine.selecting(ep.labels);
    let forced_pass = matches!(stage, Stage::PreDnat | Stage::Untracked);
    let mut tiers = Vec::new();
    for &t in &engine.tiers.order {
        let policies: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|&p| {
                engine.policy_tier[p] == t && Engine::in_stage(&model.policies[p], stage, dir)
            })
            .collect();
        if policies.is_empty() {
            continue;
        }
        let mut rules = Vec::new();
        for p in policies {
            let list = match dir {
                Direction::Ingress => &model.policies[p].ingress,
                Direction::Egress => &model.policies[p].egress,
            };
            for (index, rule) in list.iter().enumerate() {
                let local_ok = locals
                    .iter()
                    .map(|l| local_matches(engine, rule, dir, l))
                    .collect();
                rules.push(CtxRule {
                    id: RuleId {
                        policy: p,
                        dir,
                        index,
                    },
                    rule,
                    local_ok,
                });
            }
        }
        tiers.push(CtxTier {
            tier: t,
            rules,
            deny_at_end: model.tiers[t].default_action == TierAction::Deny && !forced_pass,
        });
    }
    let end = match (stage, ep.hep) {
        (Stage::Normal, None) | (Stage::Forward, _) => CtxEnd::Allow,
        (Stage::Normal, Some(h)) => CtxEnd::Profiles(
            model.host_endpoints[h]
                .profiles
                .iter()
                .filter_map(|name| model.profiles.iter().find(|p| &p.name == name))
                .map(|p| match dir {
                    Direction::Ingress => p.ingress.iter().collect(),
                    Direction::Egress => p.egress.iter().collect(),
                })
                .collect(),
        ),
        _ => CtxEnd::NoVerdict,
    };
    Some(Context {
        endpoints: vec![i],
        stage,
        dir,
        family: fam,
        locals,
        tiers,
        end,
        failsafe,
    })
}

/// Whether a rule's criteria on the fixed side (its IP version, and the destination
/// of an ingress rule or the source of an egress rule) hold for a local address.
pub fn local_matches(engine: &Engine<'_>, rule: &Rule, dir: Direction, l: &Local) -> bool {
    if rule.ip_version.is_some_and(|v| v != family(l.ip)) {
        return false;
    }
    let side = Side {
        ip: l.ip,
        holders: &l.holders,
        ports: &l.ports,
    };
    let e = match dir {
        Direction::Ingress => &rule.destination,
        Direction::Egress => &rule.source,
    };
    crate::semantics::entity_addresses(e, &side, engine)
}
