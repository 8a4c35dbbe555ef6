//! The exact sweep of one context: for every cell of the packet half, the points
//! of the address half (fixed-side address × remote class) as bitsets, pushed
//! through the tiers in evaluation order. A backward pass computes, for every rule
//! position, the verdict each point would get if evaluation started there; a
//! forward pass computes which points reach each rule. Together they tell, per
//! rule, whether it ever decides a packet, and whether that decision matters.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use fixedbitset::FixedBitSet;
use ipnet::IpNet;

use crate::ir::{Action, EntityMatch, NamedPort, PortMatch, Rule};
use crate::semantics::{Direction, Engine, Packet, named_ports_visible, rule_matches_packet};

use super::context::{Context, CtxEnd, RuleId, local_matches};
use super::space::FamilySpace;

/// A concrete packet of a context: fixed-side address `local`, remote class
/// `class`, header `packet`.
#[derive(Debug, Clone, Copy)]
pub struct Witness {
    /// Index of the context.
    pub ctx: usize,
    /// Index into the context's locals.
    pub local: usize,
    /// Remote class.
    pub class: usize,
    /// The header.
    pub packet: Packet,
}

/// What the sweep learnt about one rule, over every context.
#[derive(Debug, Clone, Default)]
pub struct RuleFacts {
    /// Some packet of some context matches it.
    pub matched: bool,
    /// Some packet reaches it and matches it.
    pub reached: bool,
    /// Some packet it decides would get another verdict without it.
    pub effective: bool,
    /// A packet it matches that earlier rules decide otherwise than it would.
    pub shadow: Option<Witness>,
    /// A packet it matches that earlier rules decide as it would.
    pub covered: Option<Witness>,
    /// A packet it decides that gets the same verdict without it.
    pub removable: Option<Witness>,
    /// A packet it would deny that a failsafe port accepts first.
    pub failsafe: Option<Witness>,
}

/// Two rules of one tier with different actions, the earlier deciding packets the
/// later one also matches: their order matters.
#[derive(Debug, Clone, Default)]
pub struct PairFacts {
    /// A packet both match that the earlier rule decides.
    pub witness: Option<Witness>,
    /// Some packet matches the earlier rule but not the later one.
    pub earlier_only: bool,
    /// Some packet matches the later rule but not the earlier one.
    pub later_only: bool,
}

/// Order-dependent pairs, keyed by (earlier, later).
pub type Pairs = HashMap<(RuleId, RuleId), PairFacts>;

/// Key of an entity's address criteria, to share their class bitsets.
type EntityKey = (usize, usize, Vec<IpNet>, Vec<IpNet>, bool);

/// Class bitsets of entity address criteria, memoised.
#[derive(Default)]
pub struct AddressMemo {
    bits: Vec<FixedBitSet>,
    by_key: HashMap<EntityKey, usize>,
    /// Entities live in the model, which outlives the analysis: their address is a
    /// stable identity.
    by_ptr: rustc_hash::FxHashMap<usize, usize>,
}

impl AddressMemo {
    /// The classes an entity's address criteria match.
    pub fn get(
        &mut self,
        engine: &Engine<'_>,
        space: &FamilySpace,
        e: &EntityMatch,
    ) -> &FixedBitSet {
        let ptr = e as *const EntityMatch as usize;
        if let Some(&i) = self.by_ptr.get(&ptr) {
            return &self.bits[i];
        }
        let sel = |s: &Option<crate::ir::Selector>| {
            s.as_ref().map_or(0, |s| std::sync::Arc::as_ptr(s) as usize)
        };
        let key = (
            sel(&e.selector),
            sel(&e.not_selector),
            e.nets.clone(),
            e.not_nets.clone(),
            e.services.is_some(),
        );
        let i = match self.by_key.get(&key) {
            Some(&i) => i,
            None => {
                self.bits.push(space.entity_bits(engine, e));
                self.by_key.insert(key, self.bits.len() - 1);
                self.bits.len() - 1
            }
        };
        self.by_ptr.insert(ptr, i);
        &self.bits[i]
    }
}

/// Verdict sets: points allowed, points denied (neither: no verdict).
#[derive(Clone)]
struct Verdicts {
    allow: FixedBitSet,
    deny: FixedBitSet,
}

impl Verdicts {
    fn of(action: Action, n: usize) -> Verdicts {
        let mut v = Verdicts {
            allow: FixedBitSet::with_capacity(n),
            deny: FixedBitSet::with_capacity(n),
        };
        match action {
            Action::Allow => v.allow.insert_range(..),
            Action::Deny => v.deny.insert_range(..),
            _ => {}
        }
        v
    }

    /// Where `m`: the verdict of `action` (a Pass continues with `next`).
    fn set(&mut self, action: Action, m: &FixedBitSet, next: &Verdicts) {
        match action {
            Action::Allow => {
                self.allow.union_with(m);
                self.deny.difference_with(m);
            }
            Action::Deny => {
                self.deny.union_with(m);
                self.allow.difference_with(m);
            }
            Action::Pass => {
                for (mine, theirs) in [(&mut self.allow, &next.allow), (&mut self.deny, &next.deny)]
                {
                    mine.difference_with(m);
                    let mut x = theirs.clone();
                    x.intersect_with(m);
                    mine.union_with(&x);
                }
            }
            Action::Log => {}
        }
    }

    /// Points where the two differ.
    fn differ(&self, other: &Verdicts) -> FixedBitSet {
        let mut a = self.allow.clone();
        a.symmetric_difference_with(&other.allow);
        let mut d = self.deny.clone();
        d.symmetric_difference_with(&other.deny);
        a.union_with(&d);
        a
    }
}

/// The points of `within` where `action`'s own verdict (a Pass: `next`) differs
/// from `x`.
fn disagree(action: Action, next: &Verdicts, x: &Verdicts, within: &FixedBitSet) -> FixedBitSet {
    let mut out = within.clone();
    match action {
        Action::Allow => out.difference_with(&x.allow),
        Action::Deny => out.difference_with(&x.deny),
        _ => {
            let mut d = next.differ(x);
            d.intersect_with(within);
            out = d;
        }
    }
    out
}

fn has_named(rule: &Rule) -> bool {
    let named = |e: &EntityMatch| {
        e.ports
            .iter()
            .chain(&e.not_ports)
            .any(|p| matches!(p, PortMatch::Named(_)))
    };
    named(&rule.source) || named(&rule.destination)
}

/// A context prepared for sweeping: the address bitset of every rule.
pub struct Prepared<'c, 'm> {
    ctx: &'c Context<'m>,
    space: &'c FamilySpace,
    n: usize,
    ncls: usize,
    /// Per tier, per rule: the points its address criteria match.
    addr: Vec<Vec<FixedBitSet>>,
    /// Per profile, per rule: rule and address points.
    profiles: Vec<Vec<(&'m Rule, FixedBitSet)>>,
    /// Per port list of the space: the classes having it.
    group_classes: Vec<FixedBitSet>,
    /// (tier, index) of each rule.
    position: HashMap<RuleId, (usize, usize)>,
    /// Per rule with named ports (by address): whether each local's and each port
    /// group's named ports count for it.
    named: HashMap<usize, NamedVisibility>,
}

/// Whose named ports count for one rule: Calico matches a named port only on the
/// endpoints the side's positive selector selects (see
/// [`crate::semantics::named_ports_visible`]).
struct NamedVisibility {
    locals: Vec<bool>,
    groups: Vec<bool>,
}

/// The named-port visibility of every rule of a context that has named ports.
fn named_visibility(
    engine: &Engine<'_>,
    ctx: &Context<'_>,
    space: &FamilySpace,
) -> HashMap<usize, NamedVisibility> {
    let mut rules: Vec<&Rule> = ctx
        .tiers
        .iter()
        .flat_map(|t| t.rules.iter().map(|r| r.rule))
        .collect();
    if let CtxEnd::Profiles(ps) = &ctx.end {
        rules.extend(ps.iter().flatten().copied());
    }
    rules
        .into_iter()
        .filter(|r| has_named(r))
        .map(|r| {
            let (remote, fixed) = match ctx.dir {
                Direction::Ingress => (&r.source, &r.destination),
                Direction::Egress => (&r.destination, &r.source),
            };
            let vis = NamedVisibility {
                locals: ctx
                    .locals
                    .iter()
                    .map(|l| named_ports_visible(fixed, Some(l.labels), engine))
                    .collect(),
                groups: space
                    .port_owners
                    .iter()
                    .map(|o| named_ports_visible(remote, *o, engine))
                    .collect(),
            };
            (r as *const Rule as usize, vis)
        })
        .collect()
}

impl<'c, 'm> Prepared<'c, 'm> {
    /// The point of `bits` that makes the best witness: the first (endpoint classes
    /// come first in the space) whose remote address is not the fixed side's own,
    /// since a packet from an endpoint to itself reads as no real packet.
    fn pick(&self, bits: &FixedBitSet) -> Option<usize> {
        let own = |point: usize| {
            self.ctx.locals[point / self.ncls].ip == self.space.classes[point % self.ncls].ip
        };
        bits.ones().find(|&p| !own(p)).or_else(|| bits.minimum())
    }

    /// Prepare a context.
    pub fn new(
        engine: &Engine<'m>,
        ctx: &'c Context<'m>,
        space: &'c FamilySpace,
        memo: &mut AddressMemo,
    ) -> Prepared<'c, 'm> {
        let ncls = space.classes.len();
        let n = ncls * ctx.locals.len();
        let mut addr_of = |rule: &Rule, local_ok: &[bool]| {
            let remote = match ctx.dir {
                Direction::Ingress => &rule.source,
                Direction::Egress => &rule.destination,
            };
            let bits = memo.get(engine, space, remote);
            let mut out = FixedBitSet::with_capacity(n);
            if bits.is_clear() {
                return out;
            }
            for (l, ok) in local_ok.iter().enumerate() {
                if *ok {
                    for c in bits.ones() {
                        out.insert(l * ncls + c);
                    }
                }
            }
            out
        };
        let addr = ctx
            .tiers
            .iter()
            .map(|t| {
                t.rules
                    .iter()
                    .map(|r| addr_of(r.rule, &ctx.local_ok(r.flat)))
                    .collect()
            })
            .collect();
        let profiles = match &ctx.end {
            CtxEnd::Profiles(ps) => ps
                .iter()
                .map(|rules| {
                    rules
                        .iter()
                        .map(|r| {
                            let ok: Vec<bool> = ctx
                                .locals
                                .iter()
                                .map(|l| local_matches(engine, r, ctx.dir, l))
                                .collect();
                            (*r, addr_of(r, &ok))
                        })
                        .collect()
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut group_classes = vec![FixedBitSet::with_capacity(ncls); space.port_lists.len()];
        for (c, &g) in space.port_group.iter().enumerate() {
            group_classes[g].insert(c);
        }
        let position = ctx
            .tiers
            .iter()
            .enumerate()
            .flat_map(|(t, tier)| {
                tier.rules
                    .iter()
                    .enumerate()
                    .map(move |(j, r)| (r.id, (t, j)))
            })
            .collect();
        let named = named_visibility(engine, ctx, space);
        Prepared {
            ctx,
            space,
            named,
            n,
            ncls,
            addr,
            profiles,
            group_classes,
            position,
        }
    }

    /// Number of address points.
    pub fn points(&self) -> usize {
        self.n
    }

    /// Every rule of the context (tiers and profiles).
    pub fn all_rules(&self) -> Vec<&'m Rule> {
        let mut v: Vec<&'m Rule> = self
            .ctx
            .tiers
            .iter()
            .flat_map(|t| t.rules.iter().map(|r| r.rule))
            .collect();
        v.extend(self.profiles.iter().flatten().map(|(r, _)| *r));
        v
    }

    /// Every named port an endpoint of the context can have on either side.
    pub fn named_ports(&self) -> Vec<NamedPort> {
        let mut v: Vec<NamedPort> = self.space.port_lists.iter().flatten().cloned().collect();
        v.extend(self.ctx.locals.iter().flat_map(|l| l.ports.iter().cloned()));
        v.sort();
        v.dedup();
        v
    }

    /// The points a rule matches on packet `p`, given its address points.
    fn matches<'b>(
        &self,
        rule: &Rule,
        addr: &'b FixedBitSet,
        p: &Packet,
    ) -> Option<Cow<'b, FixedBitSet>> {
        if addr.is_clear() {
            return None;
        }
        if !has_named(rule) {
            return rule_matches_packet(rule, p, &[], &[]).then_some(Cow::Borrowed(addr));
        }
        let mut mask = FixedBitSet::with_capacity(self.n);
        // An owner's named ports count only where it matches the side's selector.
        let vis = &self.named[&(rule as *const Rule as usize)];
        let pick =
            |ok: bool, ports: &'c [NamedPort]| -> &'c [NamedPort] { if ok { ports } else { &[] } };
        for (l, local) in self.ctx.locals.iter().enumerate() {
            let lp = pick(vis.locals[l], &local.ports);
            for (g, list) in self.space.port_lists.iter().enumerate() {
                let rp = pick(vis.groups[g], list);
                let (src, dst) = match self.ctx.dir {
                    Direction::Ingress => (rp, lp),
                    Direction::Egress => (lp, rp),
                };
                if rule_matches_packet(rule, p, src, dst) {
                    for c in self.group_classes[g].ones() {
                        mask.insert(l * self.ncls + c);
                    }
                }
            }
        }
        mask.intersect_with(addr);
        (!mask.is_clear()).then_some(Cow::Owned(mask))
    }

    /// Points a failsafe port accepts for packet `p`: by destination port, or with
    /// `reply` by source port from the reply list.
    fn failsafe(&self, p: &Packet, reply: bool) -> FixedBitSet {
        let mut out = FixedBitSet::with_capacity(self.n);
        let (list, port) = if reply {
            (&self.ctx.reply_failsafe, p.sport)
        } else {
            (&self.ctx.failsafe, p.dport)
        };
        for f in list {
            if f.protocol != p.protocol || f.port != port {
                continue;
            }
            for (c, class) in self.space.classes.iter().enumerate() {
                if f.net.is_none_or(|n| n.contains(&class.ip)) {
                    for l in 0..self.ctx.locals.len() {
                        out.insert(l * self.ncls + c);
                    }
                }
            }
        }
        out
    }

    /// The verdicts past the last tier.
    fn end(&self, p: &Packet) -> Verdicts {
        match &self.ctx.end {
            CtxEnd::Allow => Verdicts::of(Action::Allow, self.n),
            CtxEnd::NoVerdict => Verdicts::of(Action::Log, self.n),
            CtxEnd::Profiles(_) => {
                let mut v = Verdicts::of(Action::Log, self.n);
                let mut undecided = FixedBitSet::with_capacity(self.n);
                undecided.insert_range(..);
                for profile in &self.profiles {
                    let mut open = undecided.clone();
                    for (rule, addr) in profile {
                        let Some(m) = self.matches(rule, addr, p) else {
                            continue;
                        };
                        let mut hit = m.clone().into_owned();
                        hit.intersect_with(&open);
                        match rule.action {
                            Action::Allow => v.allow.union_with(&hit),
                            Action::Deny => v.deny.union_with(&hit),
                            _ => {}
                        }
                        if rule.action != Action::Log {
                            open.difference_with(&m);
                        }
                        if matches!(rule.action, Action::Allow | Action::Deny) {
                            undecided.difference_with(&hit);
                        }
                    }
                }
                v.deny.union_with(&undecided);
                v
            }
        }
    }

    /// For the known pairs among this context's rules: does either rule match
    /// packets of this cell that the other does not?
    fn pair_subsets(&self, m: &[Vec<Option<Cow<'_, FixedBitSet>>>], pairs: &mut Pairs) {
        let empty = FixedBitSet::with_capacity(self.n);
        let find = |id: RuleId| -> Option<&FixedBitSet> {
            let (t, j) = *self.position.get(&id)?;
            Some(m[t][j].as_deref().unwrap_or(&empty))
        };
        for ((a, b), f) in pairs.iter_mut() {
            if f.earlier_only && f.later_only {
                continue;
            }
            let (Some(ma), Some(mb)) = (find(*a), find(*b)) else {
                continue;
            };
            f.earlier_only |= !ma.is_subset(mb);
            f.later_only |= !mb.is_subset(ma);
        }
    }

    /// Sweep one packet cell, recording what it shows about each rule.
    ///
    /// In the first pass (`second == None`) every fact is recorded and pairs are
    /// discovered. In the second pass, `Some((dead, candidates, paired))`, rules in
    /// `dead` (never reached anywhere) are left out, as if deleted, and only the
    /// removability of the `candidates` is judged (so of two duplicates only the
    /// later one is reported), with the subset facts of the known pairs, whose
    /// rules are `paired`.
    pub fn sweep_cell(
        &self,
        ctx_index: usize,
        p: &Packet,
        facts: &mut HashMap<RuleId, RuleFacts>,
        pairs: &mut Pairs,
        second: Option<(&HashSet<RuleId>, &HashSet<RuleId>, &HashSet<RuleId>)>,
    ) {
        let n = self.n;
        let tiers = &self.ctx.tiers;
        let discover = second.is_none();
        let empty = HashSet::new();
        let (dead, candidates, paired) = second.unwrap_or((&empty, &empty, &empty));
        if !discover {
            // Only cells where a rule of interest matches can change anything.
            let relevant = tiers.iter().zip(&self.addr).any(|(t, addrs)| {
                t.rules.iter().zip(addrs).any(|(r, a)| {
                    (candidates.contains(&r.id) || paired.contains(&r.id))
                        && self.matches(r.rule, a, p).is_some()
                })
            });
            if !relevant {
                return;
            }
        }
        // The points each rule matches on this packet.
        let m: Vec<Vec<Option<Cow<'_, FixedBitSet>>>> = tiers
            .iter()
            .zip(&self.addr)
            .map(|(t, addrs)| {
                t.rules
                    .iter()
                    .zip(addrs)
                    .map(|(r, a)| self.matches(r.rule, a, p))
                    .collect()
            })
            .collect();
        let fs = self.failsafe(p, false);
        // Replies of failsafe connections (not already failsafe by destination
        // port) skip the untracked stage's tiers.
        let mut rs = self.failsafe(p, true);
        rs.difference_with(&fs);
        if !discover {
            self.pair_subsets(&m, pairs);
        }
        // Whose verdict-without-them is worth keeping.
        let wanted = |id: RuleId, facts: &HashMap<RuleId, RuleFacts>| {
            if discover {
                facts.get(&id).is_none_or(|f| !f.effective)
            } else {
                candidates.contains(&id) && facts.get(&id).is_none_or(|f| !f.effective)
            }
        };

        // Backward: `after[t][j]` is the verdict without rule j (evaluation from
        // j+1); `next_tier[t]` the verdict from the tier after t.
        let mut cur = self.end(p);
        // Failsafe points skip the tiers before `resume` (all of them when the hit is
        // final) and take the verdict from there on.
        let resume = self.ctx.failsafe_resume.unwrap_or(tiers.len());
        let mut resumed = match self.ctx.failsafe_resume {
            None => Verdicts::of(Action::Allow, n),
            Some(_) => cur.clone(),
        };
        let reply_resume = self.ctx.reply_resume;
        let mut reply_resumed = cur.clone();
        let mut after: Vec<Vec<Option<Verdicts>>> = vec![Vec::new(); tiers.len()];
        let mut next_tier: Vec<Verdicts> = Vec::with_capacity(tiers.len());
        for (t, tier) in tiers.iter().enumerate().rev() {
            let from_next = cur.clone();
            if tier.deny_at_end {
                cur.allow.clear();
                cur.deny.insert_range(..);
            }
            let mut col: Vec<Option<Verdicts>> = vec![None; tier.rules.len()];
            for (j, r) in tier.rules.iter().enumerate().rev() {
                let Some(mj) = &m[t][j] else { continue };
                if r.rule.action == Action::Log || dead.contains(&r.id) {
                    continue;
                }
                if wanted(r.id, facts) {
                    col[j] = Some(cur.clone());
                }
                cur.set(r.rule.action, mj, &from_next);
            }
            after[t] = col;
            next_tier.push(from_next);
            if t == resume && self.ctx.failsafe_resume.is_some() {
                resumed = cur.clone();
            }
            if t == reply_resume {
                reply_resumed = cur.clone();
            }
        }
        next_tier.reverse();
        // The actual verdicts: failsafe first; a pod's encapsulated packets are
        // dropped before any tier.
        let encap = self.ctx.encap_drop.matches(p).is_some();
        let mut actual = if encap {
            Verdicts::of(Action::Deny, n)
        } else {
            cur
        };
        for (skipped, from) in [(&fs, &resumed), (&rs, &reply_resumed)] {
            for (mine, theirs) in [
                (&mut actual.allow, &from.allow),
                (&mut actual.deny, &from.deny),
            ] {
                mine.difference_with(skipped);
                let mut taken = theirs.clone();
                taken.intersect_with(skipped);
                mine.union_with(&taken);
            }
        }

        // Forward.
        let mut pending = FixedBitSet::with_capacity(n);
        if !encap {
            pending.insert_range(..);
        }
        pending.difference_with(&fs);
        pending.difference_with(&rs);
        for (t, tier) in tiers.iter().enumerate() {
            if t == resume {
                pending.union_with(&fs);
            }
            if t == reply_resume {
                pending.union_with(&rs);
            }
            // The failsafe points this tier does not see.
            let mut skipped = FixedBitSet::with_capacity(n);
            if t < resume {
                skipped.union_with(&fs);
            }
            if t < reply_resume {
                skipped.union_with(&rs);
            }
            let fs = &skipped;
            let mut open = pending.clone();
            let mut passed = FixedBitSet::with_capacity(n);
            // Which earlier rule of the tier took each point, and what each took.
            let mut taker = vec![u32::MAX; if discover { n } else { 0 }];
            let mut took: Vec<Option<FixedBitSet>> = vec![None; tier.rules.len()];
            for (j, r) in tier.rules.iter().enumerate() {
                let Some(mj) = &m[t][j] else { continue };
                let action = r.rule.action;
                let witness = |point: usize| Witness {
                    ctx: ctx_index,
                    local: point / self.ncls,
                    class: point % self.ncls,
                    packet: *p,
                };
                if discover && action != Action::Log && !mj.is_subset(&open) {
                    let mut rest = mj.clone().into_owned();
                    rest.intersect_with(&pending);
                    rest.difference_with(&open);
                    while let Some(point) = rest.minimum() {
                        let a = taker[point] as usize;
                        let Some(taken) = &took[a] else { break };
                        let earlier = &tier.rules[a];
                        if earlier.rule.action != action {
                            let e = pairs.entry((earlier.id, r.id)).or_default();
                            if e.witness.is_none() {
                                let mut both = rest.clone();
                                both.intersect_with(taken);
                                e.witness = Some(witness(self.pick(&both).unwrap_or(point)));
                            }
                        }
                        rest.difference_with(taken);
                    }
                }
                let f = facts.entry(r.id).or_default();
                f.matched = true;
                if action == Action::Log {
                    continue;
                }
                let mut hit = mj.clone().into_owned();
                hit.intersect_with(&open);
                if !hit.is_clear() {
                    f.reached = true;
                    if let Some(without) = &after[t][j] {
                        let diff = disagree(action, &next_tier[t], without, &hit);
                        if diff.is_clear() {
                            if f.removable.is_none() {
                                f.removable = self.pick(&hit).map(witness);
                            }
                        } else {
                            f.effective = true;
                        }
                    }
                }
                let open_witnesses =
                    f.failsafe.is_none() || f.shadow.is_none() || f.covered.is_none();
                if discover && open_witnesses && !mj.is_subset(&open) {
                    let mut pre = mj.clone().into_owned();
                    pre.difference_with(&open);
                    let mut conflict = disagree(action, &next_tier[t], &actual, &pre);
                    if f.failsafe.is_none() {
                        let mut by_failsafe = conflict.clone();
                        by_failsafe.intersect_with(fs);
                        f.failsafe = self.pick(&by_failsafe).map(witness);
                    }
                    conflict.difference_with(fs);
                    if f.shadow.is_none() {
                        f.shadow = self.pick(&conflict).map(witness);
                    }
                    if f.covered.is_none() {
                        pre.difference_with(fs);
                        pre.difference_with(&conflict);
                        f.covered = self.pick(&pre).map(witness);
                    }
                }
                if action == Action::Pass {
                    passed.union_with(&hit);
                }
                open.difference_with(mj);
                if discover && !hit.is_clear() {
                    for point in hit.ones() {
                        taker[point] = j as u32;
                    }
                    took[j] = Some(hit);
                }
            }
            if !tier.deny_at_end {
                passed.union_with(&open);
            }
            pending = passed;
        }
    }
}
