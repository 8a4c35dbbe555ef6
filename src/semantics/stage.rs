//! One policy stage on one endpoint and direction: failsafe ports, then the tiers,
//! then the end of the chain (profiles, or the stage's default).
//!
//! Per tier (`felix/rules/endpoints.go`; `tigera/docs: policy-tiers`): a tier counts
//! only when a non-staged policy in it selects the endpoint and governs the direction;
//! the first matching rule decides: Allow is final for all tiers, Deny drops, Pass
//! leaves the tier, Log continues; no match ends with the tier's default action.
//! Pre-DNAT and untracked stages force the tier default to Pass.
//!
//! A pod's egress drops encapsulated packets before its tiers (the plan's
//! `encap_drop`, see `guard.rs`), so no policy can allow them.

use serde::Serialize;

use super::Engine;
use super::guard::{EncapDrop, Encapsulation};
use super::ifaces::ChainStage;
use super::packet::{
    Packet, SelectorOracle, Side, named_ports_visible, rule_matches_addresses, rule_matches_packet,
};
use super::plan::{PlannedEnd, RulesOf, failsafe_resume, reply_resume};
use crate::ir::{Action, EndpointToHostAction, FailsafePort, NamedPort, Protocol, Rule};

/// Traffic to (ingress) or from (egress) an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// To the endpoint.
    Ingress,
    /// From the endpoint.
    Egress,
}

/// Which of Calico's policy stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// `doNotTrack` policy of a host endpoint (raw table).
    Untracked,
    /// `preDNAT` policy of a host endpoint (mangle table).
    PreDnat,
    /// Normal policy: a workload's, or a host endpoint's for its own processes.
    Normal,
    /// `applyOnForward` policy of a host endpoint, for traffic the host forwards.
    Forward,
}

/// What a stage decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Accepted.
    Allow,
    /// Dropped.
    Deny,
    /// No verdict: later stages decide.
    NoVerdict,
}

/// Why a stage (or the whole flow) came out as it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Decider {
    /// A rule matched.
    Rule {
        /// Index into `Model::policies`.
        policy: usize,
        /// Which rule list.
        direction: Direction,
        /// Index in that list.
        index: usize,
        /// Its action.
        action: String,
    },
    /// A tier's default action.
    TierDefault {
        /// Index into `Model::tiers`.
        tier: usize,
    },
    /// A pod fell through every tier to its namespace profile, which allows.
    NamespaceProfile,
    /// A host endpoint's profile rule.
    Profile {
        /// Profile name.
        name: String,
        /// Index of the matching rule.
        index: usize,
    },
    /// A host endpoint fell through every tier and no profile allowed: dropped.
    NoProfileAllowed,
    /// A failsafe port.
    Failsafe {
        /// Protocol.
        protocol: String,
        /// Port.
        port: u16,
    },
    /// A source port of the other direction's failsafe ports, in the untracked stage:
    /// the reply of a failsafe connection (ends the stage, later stages decide).
    FailsafeReply {
        /// Protocol.
        protocol: String,
        /// Port.
        port: u16,
    },
    /// Forwarded traffic through a host endpoint with no `applyOnForward` policy in
    /// either direction: allowed.
    ForwardDefault,
    /// Forwarded traffic no `applyOnForward` policy decided, through a host endpoint
    /// that has such policy: Felix gives no verdict (the host's other rules decide).
    ForwardNoVerdict,
    /// A stage that no policy decided.
    NoPolicy,
    /// A pod's encapsulated packet, dropped before its egress policy because the
    /// FelixConfiguration setting that allows it is false.
    WorkloadEncapsulation {
        /// Which encapsulation.
        encapsulation: Encapsulation,
    },
    /// ICMPv6 from a pod to its own host that Felix accepts before the pod's egress
    /// policy and `defaultEndpointToHostAction` (neighbour and router discovery,
    /// MLD).
    WorkloadIcmpv6ToHost {
        /// The ICMPv6 type.
        icmp_type: u8,
    },
    /// A pod to its own host: `defaultEndpointToHostAction`.
    EndpointToHost {
        /// The action in force.
        action: String,
    },
    /// An endpoint talking to itself never leaves it.
    Loopback,
    /// A host to its own pods is never policed.
    HostToLocalWorkload,
    /// An endpoint Calico does not police (a node without host endpoints, or an
    /// address outside the cluster).
    NotPoliced,
    /// The two endpoints share no IP family.
    NoCommonFamily,
    /// The reply of a connection left untracked on a node is INVALID to conntrack
    /// (a TCP SYN-ACK or ICMP echo reply without an entry), and a tracked endpoint
    /// chain drops INVALID (`appendConntrackRules`, `felix/rules/endpoints.go`).
    ConntrackInvalid,
}

/// One tier of a stage's trace.
#[derive(Debug, Clone, Serialize)]
pub struct TierStep {
    /// Index into `Model::tiers`.
    pub tier: usize,
    /// Policies of the tier that apply (indices into `Model::policies`), in order.
    pub policies: Vec<usize>,
    /// Log rules that matched on the way: (policy, rule index).
    pub logged: Vec<(usize, usize)>,
    /// The Pass rule that left the tier: (policy, rule index).
    pub passed_by: Option<(usize, usize)>,
    /// Whether the tier's default action was reached.
    pub default_reached: bool,
}

/// A stage's trace.
#[derive(Debug, Clone, Serialize)]
pub struct StageTrace {
    /// The endpoint (universe index).
    pub endpoint: usize,
    /// Which stage.
    pub stage: Stage,
    /// Which direction.
    pub direction: Direction,
    /// The tiers entered.
    pub tiers: Vec<TierStep>,
    /// Whether this stage ran on the reply of the connection (see `reply.rs`).
    pub reply: bool,
    /// The verdict.
    pub outcome: Outcome,
    /// What decided it.
    pub decider: Decider,
}

/// A stage compiled for one pair of addresses: the failsafe ports that can apply and,
/// per tier that counts, the rules whose address half matches. Running it on a packet
/// only tests protocols, ICMP and ports.
#[derive(Debug, Clone)]
pub struct StageProgram<'m> {
    /// The endpoint (universe index).
    pub endpoint: usize,
    /// Which stage.
    pub stage: Stage,
    /// Which direction.
    pub direction: Direction,
    /// Failsafe ports in force for this endpoint, direction and remote address.
    pub failsafe: Vec<FailsafePort>,
    /// Where a failsafe hit continues: `None` accepts; `Some(k)` skips to tier `k`
    /// (an untracked or pre-DNAT failsafe ends only its stage: see
    /// `StagePlan::failsafe_final`).
    pub failsafe_resume: Option<usize>,
    /// The other direction's failsafe ports, matched as source ports (untracked
    /// stage only), with where a hit continues.
    pub reply_failsafe: Vec<FailsafePort>,
    /// Where a reply-failsafe hit continues (a tier index).
    pub reply_resume: usize,
    /// What is dropped before the tiers (a pod's egress: encapsulated packets).
    pub encap_drop: EncapDrop,
    /// Whether conntrack INVALID packets are dropped first (tracked endpoint
    /// chains; see `StagePlan::invalid_drop`). First packets are NEW; the replies
    /// of an untracked connection may be INVALID (`reply.rs`).
    pub invalid_drop: bool,
    /// Tiers that count, in order.
    pub tiers: Vec<TierProgram<'m>>,
    /// What happens past the last tier.
    pub end: End<'m>,
}

/// One tier of a compiled stage.
#[derive(Debug, Clone)]
pub struct TierProgram<'m> {
    /// Index into `Model::tiers`.
    pub tier: usize,
    /// Policies that select the endpoint here (indices into `Model::policies`).
    pub policies: Vec<usize>,
    /// (policy, rule index, rule, whose named ports count) for the rules whose
    /// addresses match, in order.
    pub rules: Vec<(usize, usize, &'m Rule, NamedVisible)>,
    /// Whether reaching the end of the tier drops (default Deny, not forced to Pass).
    pub deny_at_end: bool,
}

/// A profile rule whose addresses match: its index, the rule, whose named ports count.
pub type ProfileRule<'m> = (usize, &'m Rule, NamedVisible);

/// The end of a compiled stage.
#[derive(Debug, Clone)]
pub enum End<'m> {
    /// A pod's namespace profile: allow.
    NamespaceProfile,
    /// A host endpoint's profiles: (name, address-matching rules with their index and
    /// whose named ports count).
    Profiles(Vec<(String, Vec<ProfileRule<'m>>)>),
    /// Forwarded traffic through a host endpoint without `applyOnForward` policy:
    /// allow.
    ForwardDefault,
    /// No verdict: pre-DNAT and untracked stages, forward stages of host endpoints
    /// with `applyOnForward` policy.
    NoVerdict,
}

/// Whether the named ports of the source's and the destination's owner count for a
/// rule's `ports`/`notPorts` (see [`named_ports_visible`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedVisible {
    /// The source's.
    pub src: bool,
    /// The destination's.
    pub dst: bool,
}

impl NamedVisible {
    /// For `rule` on a flow from `src` to `dst`.
    pub fn of(rule: &Rule, src: &Side<'_>, dst: &Side<'_>, sel: &impl SelectorOracle) -> Self {
        NamedVisible {
            src: named_ports_visible(&rule.source, src.owner, sel),
            dst: named_ports_visible(&rule.destination, dst.owner, sel),
        }
    }

    /// The named ports a rule sees: the owners' where they count, else none.
    pub fn pick<'p>(
        self,
        src: &'p [NamedPort],
        dst: &'p [NamedPort],
    ) -> (&'p [NamedPort], &'p [NamedPort]) {
        (
            if self.src { src } else { &[] },
            if self.dst { dst } else { &[] },
        )
    }
}

impl<'m> Engine<'m> {
    /// Compile stage `stage` of endpoint `ep` (a universe index) in direction `dir`
    /// for a flow from `src` to `dst`: the stage plan, with the failsafe ports and
    /// rules whose addresses match.
    pub fn compile_stage(
        &self,
        ep: usize,
        stage: Stage,
        dir: Direction,
        src: &Side<'_>,
        dst: &Side<'_>,
    ) -> StageProgram<'m> {
        let model: &'m crate::ir::Model = self.model;
        let plan = self.stage_plan(ep, stage, dir);
        let remote = match dir {
            Direction::Ingress => src.ip,
            Direction::Egress => dst.ip,
        };
        let for_remote = |list: Vec<FailsafePort>| -> Vec<FailsafePort> {
            list.into_iter()
                .filter(|f| f.net.is_none_or(|n| n.contains(&remote)))
                .collect()
        };
        let (own, replies) = self.failsafe_ports(&plan);
        let (failsafe, reply_failsafe) = (for_remote(own), for_remote(replies));
        let one = std::slice::from_ref(&plan);
        let (failsafe_resume, reply_resume) = (failsafe_resume(one), reply_resume(one));
        let tiers: Vec<TierProgram<'m>> = plan
            .tiers
            .into_iter()
            .map(|t| {
                let mut rules = Vec::new();
                for &p in &t.policies {
                    for (i, rule) in model.policies[p].rules(dir).iter().enumerate() {
                        if rule_matches_addresses(rule, src, dst, self) {
                            rules.push((p, i, rule, NamedVisible::of(rule, src, dst, self)));
                        }
                    }
                }
                TierProgram {
                    tier: t.tier,
                    policies: t.policies,
                    rules,
                    deny_at_end: t.deny_at_end,
                }
            })
            .collect();
        let end = match plan.end {
            PlannedEnd::NamespaceProfile => End::NamespaceProfile,
            PlannedEnd::Profiles(list) => End::Profiles(
                list.into_iter()
                    .map(|i| {
                        let p = &model.profiles[i];
                        let rules = p
                            .rules(dir)
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| rule_matches_addresses(r, src, dst, self))
                            .map(|(i, r)| (i, r, NamedVisible::of(r, src, dst, self)))
                            .collect();
                        (p.name.clone(), rules)
                    })
                    .collect(),
            ),
            PlannedEnd::ForwardDefault => End::ForwardDefault,
            PlannedEnd::NextStage => End::NoVerdict,
        };
        StageProgram {
            endpoint: ep,
            stage,
            direction: dir,
            failsafe,
            failsafe_resume,
            reply_failsafe,
            reply_resume: reply_resume.unwrap_or(0),
            encap_drop: plan.encap_drop,
            invalid_drop: plan.invalid_drop,
            tiers,
            end,
        }
    }
}

impl<'m> Engine<'m> {
    /// Compile consecutive stages of one chain as one program: the first stage's
    /// failsafe ports, every stage's tiers in order, the last stage's end. Running it
    /// is running the stages one after the other, as a flow's path does: an Allow or
    /// Deny ends it, a raw or pre-DNAT stage without a verdict (its tiers end in
    /// Pass, its end gives none) goes on to the next stage, and the failsafe ports
    /// each stage checks first are the same for all of them.
    pub fn compile_stages(
        &self,
        stages: &[ChainStage],
        dir: Direction,
        src: &Side<'_>,
        dst: &Side<'_>,
    ) -> StageProgram<'m> {
        let plans: Vec<_> = stages
            .iter()
            .map(|&(ep, stage)| self.stage_plan(ep, stage, dir))
            .collect();
        let resume = failsafe_resume(&plans);
        let mut programs = stages
            .iter()
            .map(|&(ep, stage)| self.compile_stage(ep, stage, dir, src, dst));
        let mut out = programs.next().expect("at least one stage");
        for p in programs {
            if out.failsafe.is_empty() {
                out.failsafe = p.failsafe;
            }
            out.tiers.extend(p.tiers);
            out.stage = p.stage;
            out.endpoint = p.endpoint;
            out.end = p.end;
        }
        out.failsafe_resume = resume;
        out.reply_resume = reply_resume(&plans).unwrap_or(0);
        out
    }
}

impl StageProgram<'_> {
    /// Run the stage on a packet. `src_ports`/`dst_ports` are the named ports of the
    /// endpoints owning the source and destination addresses.
    pub fn run(
        &self,
        packet: &Packet,
        src_ports: &[NamedPort],
        dst_ports: &[NamedPort],
    ) -> StageTrace {
        let mut trace = StageTrace {
            endpoint: self.endpoint,
            stage: self.stage,
            direction: self.direction,
            tiers: Vec::new(),
            reply: false,
            outcome: Outcome::NoVerdict,
            decider: Decider::NoPolicy,
        };
        let mut first = 0;
        if let Some(f) = failsafe_match(&self.failsafe, packet) {
            trace.decider = Decider::Failsafe {
                protocol: f.protocol.to_string(),
                port: f.port,
            };
            match self.failsafe_resume {
                None => {
                    trace.outcome = Outcome::Allow;
                    return trace;
                }
                Some(k) => first = k,
            }
        } else if let Some(f) = reply_failsafe_match(&self.reply_failsafe, packet) {
            trace.decider = Decider::FailsafeReply {
                protocol: f.protocol.to_string(),
                port: f.port,
            };
            first = self.reply_resume;
        }
        if let Some(encapsulation) = self.encap_drop.matches(packet) {
            trace.outcome = Outcome::Deny;
            trace.decider = Decider::WorkloadEncapsulation { encapsulation };
            return trace;
        }
        for tier in self.tiers.iter().skip(first) {
            let mut step = TierStep {
                tier: tier.tier,
                policies: tier.policies.clone(),
                logged: Vec::new(),
                passed_by: None,
                default_reached: false,
            };
            let mut verdict = None;
            for &(p, i, rule, named) in &tier.rules {
                let (sp, dp) = named.pick(src_ports, dst_ports);
                if !rule_matches_packet(rule, packet, sp, dp) {
                    continue;
                }
                match rule.action {
                    Action::Log => step.logged.push((p, i)),
                    Action::Pass => {
                        step.passed_by = Some((p, i));
                        break;
                    }
                    Action::Allow | Action::Deny => {
                        let outcome = if rule.action == Action::Allow {
                            Outcome::Allow
                        } else {
                            Outcome::Deny
                        };
                        verdict = Some((
                            outcome,
                            Decider::Rule {
                                policy: p,
                                direction: self.direction,
                                index: i,
                                action: rule.action.to_string(),
                            },
                        ));
                        break;
                    }
                }
            }
            if verdict.is_none() && step.passed_by.is_none() {
                step.default_reached = true;
                if tier.deny_at_end {
                    verdict = Some((Outcome::Deny, Decider::TierDefault { tier: tier.tier }));
                }
            }
            trace.tiers.push(step);
            if let Some((outcome, decider)) = verdict {
                trace.outcome = outcome;
                trace.decider = decider;
                return trace;
            }
        }
        let (outcome, decider) = match &self.end {
            End::NamespaceProfile => (Outcome::Allow, Decider::NamespaceProfile),
            End::ForwardDefault => (Outcome::Allow, Decider::ForwardDefault),
            // A failsafe hit that only ends its stage keeps it as the reason.
            End::NoVerdict
                if matches!(
                    trace.decider,
                    Decider::Failsafe { .. } | Decider::FailsafeReply { .. }
                ) =>
            {
                (Outcome::NoVerdict, trace.decider.clone())
            }
            End::NoVerdict if self.stage == Stage::Forward => {
                (Outcome::NoVerdict, Decider::ForwardNoVerdict)
            }
            End::NoVerdict => (Outcome::NoVerdict, Decider::NoPolicy),
            // A host endpoint's profiles, in order: Allow accepts, Deny drops, Pass
            // moves to the next profile (as iptables and nftables do); none allowing drops.
            End::Profiles(profiles) => {
                let mut result = (Outcome::Deny, Decider::NoProfileAllowed);
                'profiles: for (name, rules) in profiles {
                    for &(index, rule, named) in rules {
                        let (sp, dp) = named.pick(src_ports, dst_ports);
                        if !rule_matches_packet(rule, packet, sp, dp) {
                            continue;
                        }
                        match rule.action {
                            Action::Log => continue,
                            Action::Pass => continue 'profiles,
                            Action::Allow => {
                                result = (
                                    Outcome::Allow,
                                    Decider::Profile {
                                        name: name.clone(),
                                        index,
                                    },
                                );
                                break 'profiles;
                            }
                            Action::Deny => {
                                result = (
                                    Outcome::Deny,
                                    Decider::Profile {
                                        name: name.clone(),
                                        index,
                                    },
                                );
                                break 'profiles;
                            }
                        }
                    }
                }
                result
            }
        };
        trace.outcome = outcome;
        trace.decider = decider;
        trace
    }

    /// Only the outcome of [`StageProgram::run`], without building a trace (the
    /// matrix evaluates many packets per pair).
    pub fn decide(
        &self,
        packet: &Packet,
        src_ports: &[NamedPort],
        dst_ports: &[NamedPort],
    ) -> Outcome {
        let mut first = 0;
        if failsafe_match(&self.failsafe, packet).is_some() {
            match self.failsafe_resume {
                None => return Outcome::Allow,
                Some(k) => first = k,
            }
        } else if reply_failsafe_match(&self.reply_failsafe, packet).is_some() {
            first = self.reply_resume;
        }
        if self.encap_drop.matches(packet).is_some() {
            return Outcome::Deny;
        }
        for tier in self.tiers.iter().skip(first) {
            let mut passed = false;
            for &(_, _, rule, named) in &tier.rules {
                let (sp, dp) = named.pick(src_ports, dst_ports);
                if !rule_matches_packet(rule, packet, sp, dp) {
                    continue;
                }
                match rule.action {
                    Action::Log => {}
                    Action::Pass => {
                        passed = true;
                        break;
                    }
                    Action::Allow => return Outcome::Allow,
                    Action::Deny => return Outcome::Deny,
                }
            }
            if !passed && tier.deny_at_end {
                return Outcome::Deny;
            }
        }
        match &self.end {
            End::NamespaceProfile | End::ForwardDefault => Outcome::Allow,
            End::NoVerdict => Outcome::NoVerdict,
            End::Profiles(_) => self.run(packet, src_ports, dst_ports).outcome,
        }
    }

    /// Every rule the stage can reach, for the matrix's partition of the packet space.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        let tiers = self
            .tiers
            .iter()
            .flat_map(|t| t.rules.iter().map(|(_, _, r, _)| *r));
        let profiles = match &self.end {
            End::Profiles(p) => p
                .iter()
                .flat_map(|(_, rs)| rs.iter().map(|(_, r, _)| *r))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        tiers.chain(profiles)
    }
}

fn failsafe_match(list: &[FailsafePort], packet: &Packet) -> Option<FailsafePort> {
    if !matches!(packet.protocol, Protocol::TCP | Protocol::UDP) {
        return None;
    }
    list.iter()
        .find(|f| f.protocol == packet.protocol && f.port == packet.dport)
        .copied()
}

fn reply_failsafe_match(list: &[FailsafePort], packet: &Packet) -> Option<FailsafePort> {
    if !matches!(packet.protocol, Protocol::TCP | Protocol::UDP) {
        return None;
    }
    list.iter()
        .find(|f| f.protocol == packet.protocol && f.port == packet.sport)
        .copied()
}

/// The name Calico's configuration uses for an endpoint-to-host action.
pub fn endpoint_to_host_name(a: EndpointToHostAction) -> &'static str {
    match a {
        EndpointToHostAction::Accept => "Accept",
        EndpointToHostAction::Drop => "Drop",
        EndpointToHostAction::Return => "Return",
    }
}
