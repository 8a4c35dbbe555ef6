//! Analysis contexts: one per (endpoint class, stage, direction, IP family). A
//! context holds the fixed side of its flows (the endpoint's own addresses, or for a
//! host endpoint's raw, pre-DNAT and forward stages also the pods of its node) and
//! the rules that side meets, in evaluation order, grouped by tier. Endpoints that
//! meet the same rules with the same local matches share one context.

use std::collections::HashMap;
use std::net::IpAddr;

use fixedbitset::FixedBitSet;

use crate::ir::{FailsafePort, IpVersion, NamedPort, Rule};
use crate::semantics::{
    ChainStage, Direction, EncapDrop, EndpointKind, Engine, LabelSetId, PlannedEnd, RulesOf, Side,
    Stage, StagePlan, Traffic, family,
};

use super::space::FamilySpace;
use super::sweep::AddressMemo;

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
    /// Its endpoint's labels.
    pub labels: LabelSetId,
}

/// A rule as a context meets it.
#[derive(Debug, Clone)]
pub struct CtxRule<'m> {
    /// Where it is.
    pub id: RuleId,
    /// The rule.
    pub rule: &'m Rule,
    /// Its position among the context's rules (for [`Context::local_ok`]).
    pub flat: usize,
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
    /// The stages the flows meet, in order (a host endpoint's raw, pre-DNAT and
    /// normal or forward stages chain: an Allow or Deny ends the path, no verdict
    /// goes on to the next stage).
    pub stages: Vec<ChainStage>,
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
    /// Where a failsafe hit continues: `None` accepts, `Some(k)` skips to tier `k`
    /// (untracked and pre-DNAT failsafe only ends its stage).
    pub failsafe_resume: Option<usize>,
    /// The other direction's failsafe ports, matched as source ports (replies of
    /// failsafe connections, untracked stage only).
    pub reply_failsafe: Vec<FailsafePort>,
    /// Where a reply-failsafe hit continues (a tier index).
    pub reply_resume: usize,
    /// What is dropped before the tiers (a pod's egress: encapsulated packets).
    pub encap_drop: EncapDrop,
    /// Whether each rule's fixed-side criteria hold for each local address: bit
    /// `flat * locals.len() + local`.
    pub local_ok: FixedBitSet,
}

impl Context<'_> {
    /// The last stage of the path, which names it.
    pub fn stage(&self) -> Stage {
        self.stages.last().expect("a path has a stage").1
    }

    /// The local-address verdicts of the rule at `flat`, per local address.
    pub fn local_ok(&self, flat: usize) -> Vec<bool> {
        let n = self.locals.len();
        (0..n)
            .map(|l| self.local_ok.contains(flat * n + l))
            .collect()
    }
}

/// What decides a pod's context: labels, stage, direction, family, the classes of
/// its addresses, and what its node drops before its egress policy.
type PodKey = (LabelSetId, Direction, IpVersion, Vec<usize>, EncapDrop);

/// Every context of the model, in a deterministic order.
pub fn contexts<'m>(
    engine: &Engine<'m>,
    spaces: &[(IpVersion, &FamilySpace)],
    memos: &mut HashMap<IpVersion, AddressMemo>,
) -> Vec<Context<'m>> {
    let u = &engine.universe;
    let mut out: Vec<Context<'m>> = Vec::new();
    let mut seen: HashMap<Vec<u64>, usize> = HashMap::new();
    // Pods with the same labels whose addresses fall in the same classes meet the
    // same rules the same way: build their context once.
    let mut pods: HashMap<PodKey, Option<usize>> = HashMap::new();
    for (i, ep) in u.endpoints.iter().enumerate() {
        let paths = paths(engine, i);
        for &(fam, space) in spaces {
            for path in &paths {
                let dir = path.1;
                let key = (ep.kind == EndpointKind::Pod).then(|| {
                    let classes = ep
                        .ips
                        .iter()
                        .filter(|ip| family(**ip) == fam)
                        .filter_map(|ip| space.of_ip.get(ip).copied())
                        .collect();
                    let encap = if dir == Direction::Egress {
                        engine.workload_encap_drop(ep.node.as_deref().unwrap_or(""))
                    } else {
                        EncapDrop::default()
                    };
                    (ep.labels, dir, fam, classes, encap)
                });
                if let Some(known) = key.as_ref().and_then(|k| pods.get(k)) {
                    if let Some(c) = known {
                        out[*c].endpoints.push(i);
                    }
                    continue;
                }
                let memo = memos.entry(fam).or_default();
                let ctx = build(engine, space, memo, i, path, fam)
                    .filter(|c| !(c.tiers.is_empty() && c.failsafe.is_empty()));
                let index = ctx.map(|ctx| {
                    let sig = signature(&ctx);
                    match seen.get(&sig) {
                        Some(&c) => {
                            out[c].endpoints.push(i);
                            c
                        }
                        None => {
                            seen.insert(sig, out.len());
                            out.push(ctx);
                            out.len() - 1
                        }
                    }
                });
                if let Some(k) = key {
                    pods.insert(k, index);
                }
            }
        }
    }
    out
}

/// Stages in order, direction, and the endpoints on the fixed side.
type StagePath = (Vec<ChainStage>, Direction, Vec<usize>);

/// The stage paths an endpoint's policy meets, from the stage plan (as the
/// evaluator's flows meet them): (stages, direction, endpoints whose addresses are
/// the fixed side). Forwarded traffic has the node's pods on the fixed side.
fn paths(engine: &Engine<'_>, i: usize) -> Vec<StagePath> {
    let u = &engine.universe;
    let ep = &u.endpoints[i];
    let pods = || -> Vec<usize> {
        u.endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == EndpointKind::Pod && e.node == ep.node)
            .map(|(j, _)| j)
            .collect()
    };
    engine
        .traffics(i)
        .into_iter()
        .map(|t| {
            let owners = match t {
                Traffic::ForwardedIn | Traffic::ForwardedOut => pods(),
                _ => vec![i],
            };
            (engine.stages(i, t), t.direction(), owners)
        })
        .collect()
}

/// What makes two contexts behave the same.
fn signature(ctx: &Context<'_>) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&ctx.stages, ctx.dir, ctx.family).hash(&mut h);
    for l in &ctx.locals {
        l.ports.hash(&mut h);
        // Named ports count only where the endpoint matches a rule's selector.
        if !l.ports.is_empty() {
            l.labels.hash(&mut h);
        }
    }
    for t in &ctx.tiers {
        (t.tier, t.deny_at_end).hash(&mut h);
        for r in &t.rules {
            r.id.hash(&mut h);
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
    ctx.failsafe_resume.hash(&mut h);
    ctx.encap_drop.hash(&mut h);
    for f in &ctx.reply_failsafe {
        (f.protocol, f.port, f.net).hash(&mut h);
    }
    ctx.reply_resume.hash(&mut h);
    ctx.local_ok.as_slice().hash(&mut h);
    // Two 64-bit hashes of different seeds: collisions would merge contexts.
    let a = h.finish();
    a.hash(&mut h);
    vec![a, h.finish(), ctx.locals.len() as u64]
}

fn build<'m>(
    engine: &Engine<'m>,
    space: &FamilySpace,
    memo: &mut AddressMemo,
    i: usize,
    path: &StagePath,
    fam: IpVersion,
) -> Option<Context<'m>> {
    let (stages, dir, owners) = (&path.0, path.1, &path.2);
    let model = engine.model;
    let u = &engine.universe;
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
                    labels: e.labels,
                })
        })
        .collect();
    if locals.is_empty() {
        return None;
    }
    let plans: Vec<StagePlan> = stages
        .iter()
        .map(|&(ep, stage)| engine.stage_plan(ep, stage, dir))
        .collect();
    // Every stage that checks failsafe ports checks the node's list of the direction;
    // only the first (untracked) stage checks reply ports.
    let failsafe = plans
        .iter()
        .find(|p| p.failsafe)
        .map_or_else(Vec::new, |p| engine.failsafe_ports(p).0);
    let reply_failsafe = engine.failsafe_ports(&plans[0]).1;
    let mut tiers = Vec::new();
    let mut count = 0;
    let mut ok_bits: Vec<usize> = Vec::new();
    for t in plans.iter().flat_map(|p| &p.tiers) {
        let mut rules = Vec::new();
        for &p in &t.policies {
            for (index, rule) in model.policies[p].rules(dir).iter().enumerate() {
                let flat = count;
                count += 1;
                for (l, local) in locals.iter().enumerate() {
                    if local_ok(engine, space, memo, rule, dir, fam, local) {
                        ok_bits.push(flat * locals.len() + l);
                    }
                }
                rules.push(CtxRule {
                    id: RuleId {
                        policy: p,
                        dir,
                        index,
                    },
                    rule,
                    flat,
                });
            }
        }
        tiers.push(CtxTier {
            tier: t.tier,
            rules,
            deny_at_end: t.deny_at_end,
        });
    }
    let end = match &plans.last().expect("a path has a stage").end {
        PlannedEnd::NamespaceProfile | PlannedEnd::ForwardDefault => CtxEnd::Allow,
        PlannedEnd::Profiles(list) => CtxEnd::Profiles(
            list.iter()
                .map(|&p| model.profiles[p].rules(dir).iter().collect())
                .collect(),
        ),
        PlannedEnd::NextStage => CtxEnd::NoVerdict,
    };
    let failsafe_resume = crate::semantics::failsafe_resume(&plans);
    let reply_resume = crate::semantics::reply_resume(&plans).unwrap_or(0);
    let mut local_ok = FixedBitSet::with_capacity(count * locals.len());
    local_ok.extend(ok_bits);
    Some(Context {
        local_ok,
        endpoints: vec![i],
        stages: stages.to_vec(),
        dir,
        family: fam,
        locals,
        tiers,
        end,
        failsafe,
        failsafe_resume,
        reply_failsafe,
        reply_resume,
        encap_drop: plans[0].encap_drop,
    })
}

/// Whether a rule's fixed-side criteria hold for a local address, through the
/// memoised class sets where the address has a class.
fn local_ok(
    engine: &Engine<'_>,
    space: &FamilySpace,
    memo: &mut AddressMemo,
    rule: &Rule,
    dir: Direction,
    fam: IpVersion,
    l: &Local,
) -> bool {
    let e = local_entity(rule, dir);
    let no_address = e.nets.is_empty()
        && e.not_nets.is_empty()
        && e.selector.is_none()
        && e.not_selector.is_none()
        && e.services.is_none();
    if no_address {
        return rule.ip_version.is_none_or(|v| v == fam);
    }
    match space.of_ip.get(&l.ip) {
        Some(&c) => {
            rule.ip_version.is_none_or(|v| v == fam) && memo.get(engine, space, e).contains(c)
        }
        None => local_matches(engine, rule, dir, l),
    }
}

/// The criteria of a rule on the fixed side: the destination of an ingress rule,
/// the source of an egress rule.
fn local_entity(rule: &Rule, dir: Direction) -> &crate::ir::EntityMatch {
    match dir {
        Direction::Ingress => &rule.destination,
        Direction::Egress => &rule.source,
    }
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
        owner: Some(l.labels),
    };
    let e = match dir {
        Direction::Ingress => &rule.destination,
        Direction::Egress => &rule.source,
    };
    crate::semantics::entity_addresses(e, &side, engine)
}
