//! Exact rule analysis: which rules never take effect, and why.
//!
//! For every endpoint class, stage, direction and IP family (a *context*, see
//! [`context`]), the packet space is cut into finitely many pieces that no rule can
//! tell apart: address classes ([`space`]) times header cells ([`cells`]). The
//! sweep ([`sweep`]) pushes every piece through the tiers as bitsets, so each claim
//! is decided on every packet, not sampled: no false positives, no misses. A
//! context too large for the budget is skipped and reported, never guessed.
//!
//! Findings (see `docs/codes/`): `shadowed-rule`, `redundant-rule`,
//! `unreachable-rule`, `rule-matches-nothing`, `failsafe-overrides-deny`,
//! `correlated-rules`, `generalising-rule`, `analysis-incomplete`. Each names the rules involved and a witness packet that
//! the reference evaluator confirms.

pub mod assert;
mod cells;
mod context;
mod describe;
mod space;
mod sweep;

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::diag::Diagnostic;
use crate::ir::{Action, IpVersion, Rule};
use crate::semantics::{Direction, EndpointKind, Engine, Packet, family};

pub use context::RuleId;
pub use describe::{Kind, WitnessPacket};
use space::FamilySpace;
pub use space::representatives;
use sweep::{AddressMemo, Pairs, Prepared, RuleFacts, Witness};

/// Work allowed per context, in bitset words times rules times cells.
pub const DEFAULT_BUDGET: u64 = 4_000_000_000;

/// One finding about one rule, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: RuleId,
    /// What is wrong with it.
    pub kind: Kind,
    /// For a pair: the earlier rule, which decides first.
    pub earlier: Option<RuleId>,
    /// A packet that shows it.
    pub witness: Option<WitnessPacket>,
}

/// The result of an analysis.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Findings, in model order.
    pub diagnostics: Vec<Diagnostic>,
    /// The same findings about single rules, as data.
    pub findings: Vec<Finding>,
    /// Contexts swept.
    pub contexts: usize,
    /// Header cells swept, over all contexts.
    pub cells: usize,
    /// Contexts skipped for the budget.
    pub incomplete: usize,
}

/// Analyse every enforced rule of the engine's model.
pub fn analyze(engine: &Engine<'_>) -> Analysis {
    analyze_with_budget(engine, DEFAULT_BUDGET)
}

/// [`analyze`] with an explicit work budget per context.
pub fn analyze_with_budget(engine: &Engine<'_>, budget: u64) -> Analysis {
    let families: Vec<IpVersion> = [IpVersion::V4, IpVersion::V6]
        .into_iter()
        .filter(|f| {
            engine
                .universe
                .endpoints
                .iter()
                .filter(|e| matches!(e.kind, EndpointKind::Pod | EndpointKind::Host))
                .any(|e| e.ips.iter().any(|ip| family(*ip) == *f))
        })
        .collect();
    let spaces: Vec<(IpVersion, FamilySpace)> = families
        .iter()
        .map(|&f| (f, FamilySpace::new(engine, f)))
        .collect();
    let refs: Vec<(IpVersion, &FamilySpace)> = spaces.iter().map(|(f, s)| (*f, s)).collect();
    let mut memos: HashMap<IpVersion, AddressMemo> = HashMap::new();
    let contexts = context::contexts(engine, &refs, &mut memos);
    let space_of = |f: IpVersion| {
        &spaces
            .iter()
            .find(|(g, _)| *g == f)
            .expect("a space per family of the contexts")
            .1
    };

    let mut out = Analysis::default();
    let mut uncertain: HashSet<RuleId> = HashSet::new();
    let mut present: HashSet<usize> = HashSet::new();
    let mut swept: Vec<(usize, Prepared<'_, '_>, Vec<Packet>)> = Vec::new();
    for (ci, ctx) in contexts.iter().enumerate() {
        let ids = ctx.tiers.iter().flat_map(|t| t.rules.iter().map(|r| r.id));
        present.extend(ids.clone().map(|id| id.policy));
        let space = space_of(ctx.family);
        let memo = memos.entry(ctx.family).or_default();
        let prepared = Prepared::new(engine, ctx, space, memo);
        let rules = prepared.all_rules();
        let failsafe: Vec<_> = ctx.failsafe.iter().map(|f| (f.protocol, f.port)).collect();
        let replies: Vec<_> = ctx
            .reply_failsafe
            .iter()
            .map(|f| (f.protocol, f.port))
            .collect();
        let packets = cells::cells(
            &rules,
            ctx.family,
            &prepared.named_ports(),
            &failsafe,
            &replies,
            &ctx.encap_drop,
        );
        let work = (prepared.points() as u64).div_ceil(64).max(1)
            * (rules.len() as u64).max(1)
            * packets.len() as u64;
        if work > budget {
            out.incomplete += 1;
            uncertain.extend(ids);
            out.diagnostics
                .push(describe::incomplete(engine, ctx, work, budget));
            continue;
        }
        out.contexts += 1;
        out.cells += packets.len();
        swept.push((ci, prepared, packets));
    }
    // First pass, contexts in parallel, merged in context order (so witnesses do
    // not depend on scheduling).
    let mut facts: HashMap<RuleId, RuleFacts> = HashMap::new();
    let mut pairs = Pairs::new();
    let results: Vec<_> = swept
        .par_iter()
        .map(|(ci, prepared, packets)| {
            let (mut f, mut pr) = (HashMap::new(), Pairs::new());
            for p in packets {
                prepared.sweep_cell(*ci, p, &mut f, &mut pr, None);
            }
            (f, pr)
        })
        .collect();
    for (f, pr) in results {
        merge(&mut facts, &mut pairs, f, pr);
    }
    // Second pass, only where it can matter: with the dead rules gone, is each
    // reached but ineffective rule still removable? And for each order-dependent
    // pair, does either rule match packets the other does not?
    let dead: HashSet<RuleId> = facts
        .iter()
        .filter(|(_, f)| f.matched && !f.reached)
        .map(|(id, _)| *id)
        .collect();
    let mut removable: HashSet<RuleId> = facts
        .iter()
        .filter(|(_, f)| f.reached && !f.effective)
        .map(|(id, _)| *id)
        .collect();
    if dead.is_empty() {
        removable.clear();
    }
    // Pairs whose later rule has a finding of its own need no note.
    pairs.retain(|(_, b), _| facts.get(b).is_some_and(|f| f.reached));
    let paired: HashSet<RuleId> = pairs.keys().flat_map(|(a, b)| [*a, *b]).collect();
    let known: Pairs = pairs
        .keys()
        .map(|k| (*k, sweep::PairFacts::default()))
        .collect();
    let results: Vec<_> = swept
        .par_iter()
        .filter(|(ci, _, _)| {
            contexts[*ci]
                .tiers
                .iter()
                .flat_map(|t| &t.rules)
                .any(|r| removable.contains(&r.id) || paired.contains(&r.id))
        })
        .map(|(ci, prepared, packets)| {
            let (mut f, mut pr) = (HashMap::new(), known.clone());
            for p in packets {
                prepared.sweep_cell(*ci, p, &mut f, &mut pr, Some((&dead, &removable, &paired)));
            }
            (f, pr)
        })
        .collect();
    let mut again: HashMap<RuleId, RuleFacts> = HashMap::new();
    for (f, pr) in results {
        merge(&mut again, &mut pairs, f, pr);
    }
    for id in &removable {
        if let (Some(f), Some(g)) = (facts.get_mut(id), again.get(id)) {
            f.effective = g.effective;
            f.removable = g.removable;
        }
    }

    let model = engine.model;
    let d = describe::Describer {
        engine,
        contexts: &contexts,
        space_of: &space_of,
        programs: Default::default(),
    };
    let mut holders: Vec<_> = engine.universe.holder_label_sets().collect();
    holders.sort_unstable();
    holders.dedup();
    let mut empty_selectors = HashMap::new();
    for (pi, policy) in model.policies.iter().enumerate() {
        if policy.staged.is_some() || !present.contains(&pi) {
            continue;
        }
        for (dir, list, governs) in [
            (Direction::Ingress, &policy.ingress, policy.types.ingress),
            (Direction::Egress, &policy.egress, policy.types.egress),
        ] {
            if !governs {
                continue;
            }
            for (index, rule) in list.iter().enumerate() {
                let id = RuleId {
                    policy: pi,
                    dir,
                    index,
                };
                if rule.action == Action::Log || uncertain.contains(&id) {
                    continue;
                }
                if let Some(k) = list[..index].iter().position(is_catch_all) {
                    out.diagnostics.push(d.unreachable(id, k));
                    out.findings.push(Finding {
                        rule: id,
                        kind: Kind::Unreachable,
                        earlier: None,
                        witness: None,
                    });
                    continue;
                }
                let f = facts.get(&id).cloned().unwrap_or_default();
                if !f.matched && selects_nothing(engine, &holders, &mut empty_selectors, rule) {
                    continue;
                }
                if let Some((kind, w)) = classify(&f) {
                    out.diagnostics.push(d.finding(id, kind, w));
                    out.findings.push(Finding {
                        rule: id,
                        kind,
                        earlier: None,
                        witness: w.map(|w| d.witness(w)),
                    });
                }
            }
        }
    }
    let mut ordered: Vec<_> = pairs.into_iter().collect();
    ordered.sort_by_key(|((a, b), _)| (key(b), key(a)));
    for ((a, b), f) in ordered {
        let Some(w) = f.witness else { continue };
        let kind = if f.earlier_only || !f.later_only {
            Kind::Correlated
        } else {
            Kind::Generalising
        };
        out.diagnostics.push(d.pair(a, b, kind, w));
        out.findings.push(Finding {
            rule: b,
            kind,
            earlier: Some(a),
            witness: Some(d.witness(w)),
        });
    }
    out
}

/// Merge one context's facts into the running totals.
fn merge(
    facts: &mut HashMap<RuleId, RuleFacts>,
    pairs: &mut Pairs,
    more: HashMap<RuleId, RuleFacts>,
    more_pairs: Pairs,
) {
    for (id, g) in more {
        let f = facts.entry(id).or_default();
        f.matched |= g.matched;
        f.reached |= g.reached;
        f.effective |= g.effective;
        f.shadow = f.shadow.or(g.shadow);
        f.covered = f.covered.or(g.covered);
        f.removable = f.removable.or(g.removable);
        f.failsafe = f.failsafe.or(g.failsafe);
    }
    for (k, g) in more_pairs {
        let f = pairs.entry(k).or_default();
        f.witness = f.witness.or(g.witness);
        f.earlier_only |= g.earlier_only;
        f.later_only |= g.later_only;
    }
}

/// A sort key of rules: model order.
fn key(id: &RuleId) -> (usize, u8, usize) {
    (id.policy, id.dir as u8, id.index)
}

/// The finding for one rule's facts, if any, with its witness.
fn classify(f: &RuleFacts) -> Option<(Kind, Option<Witness>)> {
    if !f.matched {
        return Some((Kind::MatchesNothing, None));
    }
    if f.effective {
        return f.failsafe.map(|w| (Kind::FailsafeOverrides, Some(w)));
    }
    if f.reached {
        return Some((Kind::Removable, f.removable));
    }
    if let Some(w) = f.shadow {
        return Some((Kind::Shadowed, Some(w)));
    }
    if let Some(w) = f.covered {
        return Some((Kind::Covered, Some(w)));
    }
    f.failsafe.map(|w| (Kind::ShadowedByFailsafe, Some(w)))
}

/// A rule with no criteria at all: it matches every packet.
pub fn is_catch_all(rule: &Rule) -> bool {
    matches!(rule.action, Action::Allow | Action::Deny | Action::Pass)
        && rule.protocol.is_none()
        && rule.not_protocol.is_none()
        && rule.ip_version.is_none()
        && rule.icmp.is_none()
        && rule.not_icmp.is_none()
        && rule.source.is_any()
        && rule.destination.is_any()
}

/// Whether a positive selector of the rule matches nothing in the inventory (the
/// lint `selector-selects-nothing` reports that; the analysis stays quiet).
fn selects_nothing(
    engine: &Engine<'_>,
    holders: &[crate::semantics::LabelSetId],
    memo: &mut HashMap<usize, bool>,
    rule: &Rule,
) -> bool {
    use crate::semantics::SelectorOracle;
    [&rule.source.selector, &rule.destination.selector]
        .into_iter()
        .flatten()
        .any(|s| {
            *memo
                .entry(std::sync::Arc::as_ptr(s) as usize)
                .or_insert_with(|| !holders.iter().any(|l| engine.matches(s, *l)))
        })
}
