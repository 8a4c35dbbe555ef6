//! Findings in words: each names the rules involved (with their places as related
//! spans) and shows a witness packet, whose fate the reference evaluator confirms.

use crate::diag::Diagnostic;
use crate::ir::{Action, IpVersion, Rule};
use crate::semantics::{Decider, Direction, Engine, Side, Stage, StageProgram, StageTrace};
use crate::source::Span;

use super::context::{Context, CtxEnd, RuleId, local_matches};
use super::space::FamilySpace;
use super::sweep::Witness;

/// What is wrong with a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No packet on any endpoint matches it.
    MatchesNothing,
    /// Never reached; earlier rules decide some of its packets otherwise.
    Shadowed,
    /// Never reached; earlier rules decide its packets the same way.
    Covered,
    /// Reached, but removing it changes no verdict.
    Removable,
    /// After a catch-all rule of its own policy.
    Unreachable,
    /// Effective, but failsafe ports accept some packets it would deny.
    FailsafeOverrides,
    /// Never reached: failsafe ports accept everything it matches.
    ShadowedByFailsafe,
    /// Overlaps an earlier rule of its tier with another action; neither contains
    /// the other (or the earlier one contains it on the endpoints they share).
    Correlated,
    /// Contains an earlier rule of its tier with another action: the earlier rule
    /// is an exception to it.
    Generalising,
}

/// A witness packet as plain data: in stage `stage`, direction `dir` of
/// `endpoint`, a packet from `src` to `dst`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPacket {
    /// Universe index of the endpoint whose policy it meets.
    pub endpoint: usize,
    /// The stages of its path, in order.
    pub stages: Vec<crate::semantics::ChainStage>,
    /// Direction.
    pub dir: Direction,
    /// Source address.
    pub src: std::net::IpAddr,
    /// Destination address.
    pub dst: std::net::IpAddr,
    /// Header.
    pub packet: crate::semantics::Packet,
}

/// Turns facts into diagnostics.
pub struct Describer<'a, 'm, F: Fn(IpVersion) -> &'a FamilySpace> {
    /// The evaluator.
    pub engine: &'a Engine<'m>,
    /// The contexts the witnesses refer to.
    pub contexts: &'a [Context<'m>],
    /// The address space of a family.
    pub space_of: &'a F,
    /// Compiled stages of witness addresses: (context, local, class).
    pub programs: std::cell::RefCell<
        std::collections::HashMap<(usize, usize, usize), std::rc::Rc<StageProgram<'m>>>,
    >,
}

fn dir_word(d: Direction) -> &'static str {
    match d {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

fn stage_word(s: Stage) -> &'static str {
    match s {
        Stage::Untracked => "untracked (doNotTrack) ",
        Stage::PreDnat => "pre-DNAT ",
        Stage::Normal => "",
        Stage::Forward => "forwarded (applyOnForward) ",
    }
}

/// A protocol without ports or ICMP header by number and, when well known, name:
/// `protocol 47 (GRE)`.
fn protocol_words(p: crate::ir::Protocol) -> String {
    let name = match p.0 {
        2 => "IGMP",
        4 => "IP in IP",
        41 => "IPv6 in IPv4",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        89 => "OSPF",
        112 => "VRRP",
        136 => "UDPLite",
        _ => return format!("protocol {}", p.0),
    };
    format!("protocol {} ({name})", p.0)
}

fn verb_it(a: Action) -> &'static str {
    match a {
        Action::Allow => "allow it",
        Action::Deny => "deny it",
        Action::Pass => "pass it to the next tier",
        Action::Log => "log it",
    }
}

fn verb(a: Action) -> &'static str {
    match a {
        Action::Allow => "allow",
        Action::Deny => "deny",
        Action::Pass => "pass to the next tier",
        Action::Log => "log",
    }
}

impl<'a, 'm, F: Fn(IpVersion) -> &'a FamilySpace> Describer<'a, 'm, F> {
    fn rule(&self, id: RuleId) -> &'m Rule {
        let p = &self.engine.model.policies[id.policy];
        match id.dir {
            Direction::Ingress => &p.ingress[id.index],
            Direction::Egress => &p.egress[id.index],
        }
    }

    /// `ingress rule 2 of GlobalNetworkPolicy host-fw (tier security)`.
    pub fn name(&self, id: RuleId) -> String {
        let p = &self.engine.model.policies[id.policy];
        format!(
            "{} {} of {} (tier {})",
            dir_word(id.dir),
            self.rule(id).title(id.index),
            p.title(),
            p.tier
        )
    }

    /// A rule after a catch-all rule of its own policy.
    pub fn unreachable(&self, id: RuleId, catch_all: usize) -> Diagnostic {
        let earlier = RuleId {
            index: catch_all,
            ..id
        };
        let a = self.rule(earlier).action;
        Diagnostic::error(
            "unreachable-rule",
            format!(
                "{} can never run: {} matches every packet first",
                self.name(id),
                self.name(earlier)
            ),
        )
        .at(self.rule(id).span)
        .label("never evaluated")
        .related(
            self.rule(earlier).span,
            format!("{a} with no match criteria: every packet stops here"),
        )
        .help("move this rule above the catch-all rule, or delete it")
    }

    /// The diagnostic of a finding about rule `id`.
    pub fn finding(&self, id: RuleId, kind: Kind, w: Option<Witness>) -> Diagnostic {
        let rule = self.rule(id);
        match (kind, w) {
            (Kind::MatchesNothing | Kind::Unreachable, _) | (_, None) => Diagnostic::warning(
                "rule-matches-nothing",
                format!(
                    "{} matches no packet on any endpoint its policy applies to",
                    self.name(id)
                ),
            )
            .at(rule.span)
            .label("matches nothing")
            .help(format!(
                "its {} side (or ipVersion) excludes every endpoint the policy selects: \
                 fix the criteria or delete the rule",
                match id.dir {
                    Direction::Ingress => "destination",
                    Direction::Egress => "source",
                }
            )),
            (Kind::FailsafeOverrides, Some(w)) => self.failsafe(id, w, false),
            (Kind::Correlated | Kind::Generalising, Some(_)) => {
                unreachable!("pairs are described by Describer::pair")
            }
            (Kind::ShadowedByFailsafe, Some(w)) => self.failsafe(id, w, true),
            (Kind::Removable, Some(w)) => {
                let (next, span) = self.without(id, w);
                let mut d = Diagnostic::warning(
                    "redundant-rule",
                    format!(
                        "{} is redundant: removing it changes no verdict",
                        self.name(id)
                    ),
                )
                .at(rule.span)
                .label(format!("{} here changes nothing", rule.action))
                .with_note(format!(
                    "witness: {}: this rule would {}; without it, {} would too",
                    self.packet(w),
                    verb_it(rule.action),
                    next
                ))
                .help("delete the rule, or change its action if it was meant to differ");
                if let Some(s) = span {
                    d = d.related(s, "decides the same without it");
                }
                d
            }
            (Kind::Shadowed, Some(w)) => {
                let (by, span) = self.preempted_by(id, w);
                let trace = self.trace(w);
                let mut d = Diagnostic::error(
                    "shadowed-rule",
                    format!(
                        "{} never takes effect: every packet it matches is decided earlier, \
                         and on some of them with another outcome",
                        self.name(id)
                    ),
                )
                .at(rule.span)
                .label(format!("this {} is never reached", rule.action))
                .with_note(format!(
                    "witness: {}: {} {} it; this rule would {}",
                    self.packet(w),
                    by,
                    outcome_word(&trace),
                    verb_it(rule.action)
                ))
                .help(match &trace.decider {
                    Decider::WorkloadEncapsulation { encapsulation } => format!(
                        "no policy can allow {} from a pod: set {}: true in \
                         FelixConfiguration if pods must send it, or delete this rule",
                        encapsulation.name(),
                        encapsulation.setting()
                    ),
                    _ => "move this rule above the rule that decides first, narrow that \
                          rule, or delete this one"
                        .to_string(),
                });
                if let Some(s) = span {
                    d = d.related(s, "decides first");
                }
                d
            }
            (Kind::Covered, Some(w)) => {
                let (by, span) = self.preempted_by(id, w);
                let mut d = Diagnostic::warning(
                    "redundant-rule",
                    format!(
                        "{} is redundant: every packet it matches is already decided the \
                         same way earlier",
                        self.name(id)
                    ),
                )
                .at(rule.span)
                .label(format!("this {} is never reached", rule.action))
                .with_note(format!(
                    "witness: {}: {} {} it first",
                    self.packet(w),
                    by,
                    outcome_word(&self.trace(w))
                ))
                .help("delete the rule");
                if let Some(s) = span {
                    d = d.related(s, "decides first, the same way");
                }
                d
            }
        }
    }

    /// The note on an order-dependent pair (`earlier` decides first).
    pub fn pair(&self, earlier: RuleId, later: RuleId, kind: Kind, w: Witness) -> Diagnostic {
        let (a, b) = (self.rule(earlier), self.rule(later));
        let (code, message, help) = if kind == Kind::Generalising {
            (
                "generalising-rule",
                format!(
                    "{} generalises {} with another action: the earlier rule is an exception to it",
                    self.name(later),
                    self.name(earlier)
                ),
                "usually intended (a specific rule before a general one); keep the order",
            )
        } else {
            (
                "correlated-rules",
                format!(
                    "{} and {} overlap with different actions: their order decides the overlap",
                    self.name(later),
                    self.name(earlier)
                ),
                "check that the earlier rule should win on the overlap; narrow one of them \
                 to make the policy order-independent",
            )
        };
        let trace = self.trace(w);
        Diagnostic::note(code, message)
            .at(b.span)
            .label(format!("{} here", b.action))
            .related(a.span, format!("{} first", a.action))
            .with_note(format!(
                "witness: {}: the earlier rule {}, this rule would {}",
                self.packet(w),
                match a.action {
                    Action::Pass => "passes it to the next tier".to_string(),
                    _ => format!("{} it", outcome_word(&trace)),
                },
                verb_it(b.action)
            ))
            .help(help)
    }

    /// A witness as plain data.
    pub fn witness(&self, w: Witness) -> WitnessPacket {
        let ctx = &self.contexts[w.ctx];
        let local = ctx.locals[w.local].ip;
        let remote = (self.space_of)(ctx.family).classes[w.class].ip;
        let (src, dst) = match ctx.dir {
            Direction::Ingress => (remote, local),
            Direction::Egress => (local, remote),
        };
        WitnessPacket {
            endpoint: ctx.endpoints[0],
            stages: ctx.stages.clone(),
            dir: ctx.dir,
            src,
            dst,
            packet: w.packet,
        }
    }

    fn failsafe(&self, id: RuleId, w: Witness, whole: bool) -> Diagnostic {
        let rule = self.rule(id);
        let ctx = &self.contexts[w.ctx];
        let p = w.packet;
        // A witness is accepted by a failsafe destination port, or else it is the
        // reply of a failsafe connection (a source port, untracked stage only).
        let by_dport = ctx
            .failsafe
            .iter()
            .any(|f| f.protocol == p.protocol && f.port == p.dport);
        let what = if by_dport {
            format!("failsafe port {}/{}", p.protocol, p.dport)
        } else {
            format!("failsafe reply source port {}/{}", p.protocol, p.sport)
        };
        let (code, message) = if whole {
            (
                "shadowed-rule",
                format!(
                    "{} never takes effect: failsafe ports accept every packet it matches before policy",
                    self.name(id)
                ),
            )
        } else {
            (
                "failsafe-overrides-deny",
                format!(
                    "{} would {} packets that {what} accepts before any policy",
                    self.name(id),
                    verb(rule.action),
                ),
            )
        };
        let d = if whole {
            Diagnostic::error(code, message)
        } else {
            Diagnostic::warning(code, message)
        };
        d.at(rule.span)
            .label("failsafe traffic is accepted first")
            .with_note(format!(
                "witness: {}: accepted by the {} {what}",
                self.packet(w),
                dir_word(ctx.dir),
            ))
            .help(
                "failsafe ports are accepted before any policy; to block them, change \
                 failsafeInboundHostPorts / failsafeOutboundHostPorts in FelixConfiguration \
                 (keep a way in), or narrow the rule",
            )
    }

    /// The packet of a witness, in words.
    pub fn packet(&self, w: Witness) -> String {
        let ctx = &self.contexts[w.ctx];
        let u = &self.engine.universe;
        let local = &ctx.locals[w.local];
        let class = &(self.space_of)(ctx.family).classes[w.class];
        let remote_name = class.owner.map_or_else(
            || "outside the inventory".to_string(),
            |o| u.endpoints[o].name.clone(),
        );
        let (src, dst, sname, dname) = match ctx.dir {
            Direction::Ingress => (
                class.ip,
                local.ip,
                remote_name,
                u.endpoints[local.endpoint].name.clone(),
            ),
            Direction::Egress => (
                local.ip,
                class.ip,
                u.endpoints[local.endpoint].name.clone(),
                remote_name,
            ),
        };
        let header = match (w.packet.protocol.has_ports(), w.packet.icmp) {
            (true, _) => format!(
                "{} {}:{} -> {}:{}",
                w.packet.protocol,
                bracket(src),
                w.packet.sport,
                bracket(dst),
                w.packet.dport
            ),
            (false, Some((t, c))) => {
                format!("{} type {t} code {c} {src} -> {dst}", w.packet.protocol)
            }
            _ => format!("{} {src} -> {dst}", protocol_words(w.packet.protocol)),
        };
        format!(
            "{header} ({sname} to {dname}), {}{} of {}",
            stage_word(ctx.stage()),
            dir_word(ctx.dir),
            u.endpoints[ctx.endpoints[0]].name
        )
    }

    /// The evaluator's trace of a witness packet in its stage.
    fn trace(&self, w: Witness) -> StageTrace {
        let ctx = &self.contexts[w.ctx];
        let local = &ctx.locals[w.local];
        let class = &(self.space_of)(ctx.family).classes[w.class];
        let l = Side {
            ip: local.ip,
            holders: &local.holders,
            ports: &local.ports,
            owner: Some(local.labels),
        };
        let r = Side {
            ip: class.ip,
            holders: &class.holders,
            ports: &class.ports,
            owner: class.owner_labels,
        };
        let (src, dst) = match ctx.dir {
            Direction::Ingress => (r, l),
            Direction::Egress => (l, r),
        };
        let program = self
            .programs
            .borrow_mut()
            .entry((w.ctx, w.local, w.class))
            .or_insert_with(|| {
                std::rc::Rc::new(self.engine.compile_stages(&ctx.stages, ctx.dir, &src, &dst))
            })
            .clone();
        program.run(&w.packet, src.ports, dst.ports)
    }

    /// What decides a witness before rule `id` can: a rule, a Pass, a tier default or
    /// a failsafe port (from the evaluator's trace), with its span.
    fn preempted_by(&self, id: RuleId, w: Witness) -> (String, Option<Span>) {
        let trace = self.trace(w);
        // The trace's tiers are the context's, in the same order.
        let ctx = &self.contexts[w.ctx];
        let position = ctx
            .tiers
            .iter()
            .position(|t| t.rules.iter().any(|r| r.id == id));
        if let Some(step) = position.and_then(|k| trace.tiers.get(k))
            && let Some((p, i)) = step.passed_by
        {
            let pass = RuleId {
                policy: p,
                dir: id.dir,
                index: i,
            };
            return (
                format!("Pass {} sends it to the next tier, which", self.name(pass)),
                Some(self.rule(pass).span),
            );
        }
        self.decider(&trace.decider, id.dir)
    }

    fn decider(&self, d: &Decider, dir: Direction) -> (String, Option<Span>) {
        let model = self.engine.model;
        match d {
            Decider::Rule {
                policy,
                index,
                action,
                ..
            } => {
                let id = RuleId {
                    policy: *policy,
                    dir,
                    index: *index,
                };
                (
                    format!("{action} {}", self.name(id)),
                    Some(self.rule(id).span),
                )
            }
            Decider::TierDefault { tier } => (
                format!(
                    "the end of tier {} (defaultAction Deny)",
                    model.tiers[*tier].name
                ),
                model.tiers[*tier].span,
            ),
            Decider::Failsafe { protocol, port } => {
                (format!("failsafe port {protocol}/{port}"), None)
            }
            Decider::WorkloadEncapsulation { encapsulation } => (
                format!(
                    "Felix's drop of {} from pods before policy ({} is false)",
                    encapsulation.name(),
                    encapsulation.setting()
                ),
                None,
            ),
            other => (format!("{other:?}"), None),
        }
    }

    /// What decides a witness once rule `id` is removed.
    fn without(&self, id: RuleId, w: Witness) -> (String, Option<Span>) {
        let ctx = &self.contexts[w.ctx];
        let space = (self.space_of)(ctx.family);
        let class = &space.classes[w.class];
        let local = &ctx.locals[w.local];
        let matches = |rule: &Rule| {
            let r = Side {
                ip: class.ip,
                holders: &class.holders,
                ports: &class.ports,
                owner: class.owner_labels,
            };
            let l = Side {
                ip: local.ip,
                holders: &local.holders,
                ports: &local.ports,
                owner: Some(local.labels),
            };
            let (remote, local_e) = match ctx.dir {
                Direction::Ingress => (&rule.source, &rule.destination),
                Direction::Egress => (&rule.destination, &rule.source),
            };
            let (rp, lp) = (
                crate::semantics::visible_ports(remote, &r, self.engine),
                crate::semantics::visible_ports(local_e, &l, self.engine),
            );
            let (sp, dp) = match ctx.dir {
                Direction::Ingress => (rp, lp),
                Direction::Egress => (lp, rp),
            };
            local_matches(self.engine, rule, ctx.dir, local)
                && crate::semantics::entity_addresses(remote, &r, self.engine)
                && crate::semantics::rule_matches_packet(rule, &w.packet, sp, dp)
        };
        let model = self.engine.model;
        let mut started = false;
        for tier in &ctx.tiers {
            let mut passed = false;
            for r in &tier.rules {
                if r.id == id {
                    started = true;
                    continue;
                }
                if !started || r.rule.action == Action::Log || !matches(r.rule) {
                    continue;
                }
                if r.rule.action == Action::Pass {
                    passed = true;
                    break;
                }
                return (
                    format!("{} {}", r.rule.action, self.name(r.id)),
                    Some(r.rule.span),
                );
            }
            if started && !passed && tier.deny_at_end {
                let t = &model.tiers[tier.tier];
                return (
                    format!("the end of tier {} (defaultAction Deny)", t.name),
                    t.span,
                );
            }
        }
        let end = match &ctx.end {
            CtxEnd::Allow if ctx.stage() == Stage::Forward => "the forward default (allow)",
            CtxEnd::Allow => "the namespace profile (allow)",
            CtxEnd::NoVerdict => "the later stages",
            CtxEnd::Profiles(_) => "the host endpoint's profiles",
        };
        (end.to_string(), None)
    }
}

fn outcome_word(t: &StageTrace) -> &'static str {
    match t.outcome {
        crate::semantics::Outcome::Allow => "allows",
        crate::semantics::Outcome::Deny => "denies",
        crate::semantics::Outcome::NoVerdict => "passes on",
    }
}

fn bracket(ip: std::net::IpAddr) -> String {
    if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}

/// The note for a context skipped for the budget.
pub fn incomplete(engine: &Engine<'_>, ctx: &Context<'_>, work: u64, budget: u64) -> Diagnostic {
    Diagnostic::note(
        "analysis-incomplete",
        format!(
            "the {}{} rules of {} were not analysed: {work} units of work exceed the budget of {budget}",
            stage_word(ctx.stage()),
            dir_word(ctx.dir),
            engine.universe.endpoints[ctx.endpoints[0]].name
        ),
    )
    .help("findings about these rules may be missing; split large policies or raise the budget")
}
