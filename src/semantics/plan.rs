//! The stage plan: which stages an endpoint's traffic meets, in order, and which
//! tiers and policies apply to the endpoint in each stage and direction. It is the
//! one address-independent answer to "what applies where": the evaluator's flows
//! (`flow.rs`) and stages (`stage.rs`) walk it, the analysis sweeps it, the lints
//! and `polc graph` read it and the backends render it, so they cannot disagree on
//! applicability.
//!
//! Upstream: `felix/rules/static.go` lays out the raw, mangle and filter chains a
//! packet meets; `felix/rules/endpoints.go` (`endpointIptablesChain`) the tiers of one
//! endpoint chain: a tier is rendered only when one of its policies selects the
//! endpoint and governs the direction, and `doNotTrack` and `preDNAT` chains end
//! their tiers without a drop (the packet goes on to the next stage).
//! `felix/dataplane/linux/endpoint_mgr.go` skips untracked policy on
//! `interfaceName: "*"` host endpoints.

use super::Engine;
use super::endpoints::EndpointKind;
use super::stage::{Direction, Stage};
use crate::ir::{Interface, Policy, TierAction};

/// One tier as it applies to an endpoint in one stage and direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlannedTier {
    /// Index into `Model::tiers`.
    pub tier: usize,
    /// The policies of the tier that apply (indices into `Model::policies`), in
    /// evaluation order.
    pub policies: Vec<usize>,
    /// Whether reaching the end of the tier drops (default Deny in a stage that does
    /// not force Pass).
    pub deny_at_end: bool,
}

/// What a stage does when no tier decided.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PlannedEnd {
    /// A pod's namespace profile: allow.
    NamespaceProfile,
    /// A host endpoint's profiles (indices into `Model::profiles`, in the endpoint's
    /// order; names that no profile defines are left out): none allowing drops.
    Profiles(Vec<usize>),
    /// Forwarded traffic no `applyOnForward` policy decided: allow.
    ForwardDefault,
    /// Untracked and pre-DNAT stages: no verdict, the next stage decides.
    NextStage,
}

/// One stage of one endpoint in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StagePlan {
    /// The endpoint (universe index).
    pub endpoint: usize,
    /// Which stage.
    pub stage: Stage,
    /// Which direction.
    pub direction: Direction,
    /// Whether the failsafe ports are checked before the tiers.
    pub failsafe: bool,
    /// Whether a failsafe hit is final (accept): in the normal stage. In the
    /// untracked and pre-DNAT stages it only ends the stage: Felix's raw and mangle
    /// failsafe chains (`failsafeInChain`/`failsafeOutChain`, `felix/rules/static.go`)
    /// accept without the accept mark, so the packet goes on to the filter table,
    /// where a forwarded one meets `applyOnForward` policy (forward chains have no
    /// failsafe) and a host-bound one the normal stage's failsafe again.
    pub failsafe_final: bool,
    /// Whether the other direction's failsafe ports are also accepted as *source*
    /// ports (the replies of failsafe connections): in the untracked stage only,
    /// which runs before conntrack (`failsafeInChain`/`failsafeOutChain` with table
    /// "raw", `felix/rules/static.go`). A hit ends the stage, as above.
    pub reply_failsafe: bool,
    /// Tiers that count, in order.
    pub tiers: Vec<PlannedTier>,
    /// Past the last tier.
    pub end: PlannedEnd,
}

/// The kinds of traffic an endpoint's policy governs, each met as a chain of stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Traffic {
    /// To (ingress) or from (egress) a pod.
    Workload(Direction),
    /// Arriving at a host endpoint for a process of its host.
    ToHost,
    /// Sent by a process of the host out of a host endpoint.
    FromHost,
    /// Arriving at the host endpoint its node forwards through, for a local pod.
    ForwardedIn,
    /// From a local pod, leaving through the host endpoint its node forwards through.
    ForwardedOut,
}

impl Traffic {
    /// The direction of the endpoint's policy this traffic meets.
    pub fn direction(self) -> Direction {
        match self {
            Traffic::Workload(d) => d,
            Traffic::ToHost | Traffic::ForwardedIn => Direction::Ingress,
            Traffic::FromHost | Traffic::ForwardedOut => Direction::Egress,
        }
    }
}

impl Engine<'_> {
    /// Whether `policy` takes part in `stage` for direction `dir`.
    pub fn in_stage(policy: &Policy, stage: Stage, dir: Direction) -> bool {
        let governs = match dir {
            Direction::Ingress => policy.types.ingress,
            Direction::Egress => policy.types.egress,
        };
        governs
            && match stage {
                Stage::Normal => !policy.pre_dnat && !policy.do_not_track,
                Stage::Forward => {
                    policy.apply_on_forward && !policy.pre_dnat && !policy.do_not_track
                }
                Stage::PreDnat => policy.pre_dnat && dir == Direction::Ingress,
                Stage::Untracked => policy.do_not_track,
            }
    }

    /// Whether untracked (`doNotTrack`) policy applies to endpoint `ep`: only to host
    /// endpoints, and Felix skips it on `interfaceName: "*"` ones.
    pub fn untracked_applies(&self, ep: usize) -> bool {
        self.universe.endpoints[ep]
            .hep
            .is_some_and(|h| self.model.host_endpoints[h].interface != Interface::All)
    }

    /// The universe index of the host endpoint a node forwards through.
    pub fn forward_endpoint(&self, node: &str) -> Option<usize> {
        self.universe
            .forward_hep(node)
            .and_then(|h| self.universe.hep_endpoint(h))
    }

    /// The kinds of traffic endpoint `ep` governs: a pod its ingress and egress; a
    /// host endpoint traffic to and from its host, and, when its node forwards
    /// through it, traffic between the node's pods and the outside.
    pub fn traffics(&self, ep: usize) -> Vec<Traffic> {
        let e = &self.universe.endpoints[ep];
        match (e.kind, e.hep) {
            (EndpointKind::Pod, _) => vec![
                Traffic::Workload(Direction::Ingress),
                Traffic::Workload(Direction::Egress),
            ],
            (EndpointKind::Host, Some(_)) => {
                let mut v = vec![Traffic::ToHost, Traffic::FromHost];
                let forwards = e
                    .node
                    .as_deref()
                    .and_then(|n| self.forward_endpoint(n))
                    .is_some_and(|f| f == ep);
                if forwards {
                    v.extend([Traffic::ForwardedIn, Traffic::ForwardedOut]);
                }
                v
            }
            _ => Vec::new(),
        }
    }

    /// The stages `traffic` meets at endpoint `ep`, in order. An Allow or Deny in one
    /// ends the chain for this endpoint; an untracked or pre-DNAT stage without a
    /// verdict goes on to the next.
    pub fn stages(&self, ep: usize, traffic: Traffic) -> Vec<Stage> {
        let raw = self
            .untracked_applies(ep)
            .then_some(Stage::Untracked)
            .into_iter();
        match traffic {
            Traffic::Workload(_) => vec![Stage::Normal],
            Traffic::ToHost => raw.chain([Stage::PreDnat, Stage::Normal]).collect(),
            Traffic::FromHost => raw.chain([Stage::Normal]).collect(),
            Traffic::ForwardedIn => raw.chain([Stage::PreDnat, Stage::Forward]).collect(),
            Traffic::ForwardedOut => vec![Stage::Forward],
        }
    }

    /// What applies to endpoint `ep` in `stage` and direction `dir`.
    pub fn stage_plan(&self, ep: usize, stage: Stage, dir: Direction) -> StagePlan {
        let model = self.model;
        let endpoint = &self.universe.endpoints[ep];
        let selected = self.selecting(endpoint.labels);
        let forced_pass = matches!(stage, Stage::PreDnat | Stage::Untracked);
        let tiers: Vec<PlannedTier> = self
            .tiers
            .order
            .iter()
            .filter_map(|&t| {
                let policies: Vec<usize> = selected
                    .iter()
                    .copied()
                    .filter(|&p| {
                        self.policy_tier[p] == t && Self::in_stage(&model.policies[p], stage, dir)
                    })
                    .collect();
                (!policies.is_empty()).then(|| PlannedTier {
                    tier: t,
                    policies,
                    deny_at_end: model.tiers[t].default_action == TierAction::Deny && !forced_pass,
                })
            })
            .collect();
        let end = match (stage, endpoint.hep) {
            (Stage::Normal, None) => PlannedEnd::NamespaceProfile,
            (Stage::Normal, Some(h)) => PlannedEnd::Profiles(
                model.host_endpoints[h]
                    .profiles
                    .iter()
                    .filter_map(|name| model.profiles.iter().position(|p| &p.name == name))
                    .collect(),
            ),
            (Stage::Forward, _) => PlannedEnd::ForwardDefault,
            (Stage::Untracked | Stage::PreDnat, _) => PlannedEnd::NextStage,
        };
        // Felix renders a raw or mangle endpoint chain (and so its failsafe rules)
        // only for a host endpoint with policy in that stage (`updateHostEndpoints`,
        // `felix/dataplane/linux/endpoint_mgr.go`).
        let hep = endpoint.hep.is_some();
        let rendered = stage == Stage::Normal || !tiers.is_empty();
        StagePlan {
            endpoint: ep,
            stage,
            direction: dir,
            failsafe: hep && stage != Stage::Forward && rendered,
            failsafe_final: stage == Stage::Normal,
            reply_failsafe: hep && stage == Stage::Untracked && rendered,
            tiers,
            end,
        }
    }
}

/// Where a failsafe hit continues when `plans` (consecutive stages of one endpoint,
/// as [`Engine::stages`] lists them) run as one program whose failsafe check is the
/// first stage's: `None` when the hit is final (a stage with a final failsafe is
/// reached first), else the index, among all the stages' tiers, of the first tier
/// the packet still meets (the first tier of the first stage without failsafe).
/// Every stage that checks failsafe ports checks the same ones (the node's list for
/// the direction), so the program checks them once, first.
pub fn failsafe_resume(plans: &[StagePlan]) -> Option<usize> {
    let mut tiers = 0;
    for p in plans {
        if !p.failsafe {
            if p.tiers.is_empty() {
                // A stage with nothing in it: the packet passes it either way.
                continue;
            }
            return Some(tiers);
        }
        if p.failsafe_final {
            return None;
        }
        tiers += p.tiers.len();
    }
    Some(tiers)
}

/// Where a reply-failsafe hit (see `StagePlan::reply_failsafe`) continues when
/// `plans` run as one program: after the tiers of the first stage, the only one that
/// checks reply ports; `None` when the first stage does not.
pub fn reply_resume(plans: &[StagePlan]) -> Option<usize> {
    plans
        .first()
        .filter(|p| p.reply_failsafe)
        .map(|p| p.tiers.len())
}

/// Rule lists by direction: a policy's or a profile's ingress or egress rules.
pub trait RulesOf {
    /// The rules of direction `dir`.
    fn rules(&self, dir: Direction) -> &[crate::ir::Rule];
}

impl RulesOf for Policy {
    fn rules(&self, dir: Direction) -> &[crate::ir::Rule] {
        match dir {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

impl RulesOf for crate::ir::Profile {
    fn rules(&self, dir: Direction) -> &[crate::ir::Rule] {
        match dir {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}
