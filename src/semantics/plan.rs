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
//! `interfaceName: "*"` host endpoints. What Felix does around policy whatever the
//! policies say (encapsulation from pods, ICMPv6 from pods to their host, conntrack
//! INVALID) is planned here too, with the matches in `guard.rs`.

use std::net::IpAddr;

use super::Engine;
use super::endpoints::EndpointKind;
use super::guard::{EncapDrop, IPIP, PacketGuard, Tunnel, TunnelRule, WORKLOAD_TO_HOST_ICMPV6};
use super::ifaces::{ChainStage, Hop, Iface};
use super::stage::{Direction, Stage};
use crate::ir::{EndpointToHostAction, FailsafePort, Interface, Policy, TierAction};

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
    /// Forwarded traffic through a host endpoint with no `applyOnForward` policy in
    /// either direction: allow.
    ForwardDefault,
    /// No verdict, the next stage decides: untracked and pre-DNAT stages, and the
    /// forward stage of a host endpoint with `applyOnForward` policy (in this
    /// direction, or only in the other one). Felix renders "allow forwarded traffic
    /// by default" only when the endpoint's forward tiers, which hold both
    /// directions, are empty (`endpointIptablesChain`, `felix/rules/endpoints.go`;
    /// `tierInfoToProtoTierInfo`, `felix/calc/event_sequencer.go`); otherwise the
    /// chain returns without a verdict and the host's other rules decide (polc's
    /// nft target: accept).
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
    /// Whether conntrack INVALID packets are dropped first: in every tracked
    /// endpoint chain (all but untracked ones), unless `disableConntrackInvalidCheck`
    /// (`appendConntrackRules`, `felix/rules/endpoints.go`). First packets are NEW,
    /// so only the dataplane artifacts render it.
    pub invalid_drop: bool,
    /// What a pod's egress drops before its tiers (see `guard.rs`); nothing for any
    /// other chain.
    pub encap_drop: EncapDrop,
    /// Tiers that count, in order.
    pub tiers: Vec<PlannedTier>,
    /// Past the last tier.
    pub end: PlannedEnd,
}

/// What Felix does with a pod's traffic to its own host (`cali-wl-to-host`,
/// `filterWorkloadToHostChain`, `felix/rules/static.go`): accept some ICMPv6 first,
/// then the pod's egress policy, then `defaultEndpointToHostAction`; the host
/// endpoint's ingress policy never runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadToHostPlan {
    /// ICMPv6 types accepted before the pod's egress policy (IPv6 only).
    pub icmpv6_accept: &'static [u8],
    /// The name prefixes of workload interfaces (`interfacePrefix`): Felix sends
    /// what arrives on them to `cali-wl-to-host`. Neighbour discovery often uses a
    /// pod's link-local address, so a dataplane that finds pods by address must
    /// accept these ICMPv6 types by interface.
    pub interface_prefixes: Vec<String>,
    /// `defaultEndpointToHostAction` on the node, after an egress Allow.
    pub action: EndpointToHostAction,
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

    /// The universe index of the host endpoint that owns the node's uplink in the
    /// filter table: the one a node forwards its pods' traffic through.
    pub fn forward_endpoint(&self, node: &str) -> Option<usize> {
        let ifs = self.node_ifaces(node);
        ifs.filter.owner(&ifs.uplink)
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

    /// The stages `traffic` meets at endpoint `ep`, in order, each with the endpoint
    /// whose chain it is (the owner of the interface the traffic crosses, see
    /// `ifaces.rs`: not always `ep`). An Allow or Deny in one ends the chain; an
    /// untracked or pre-DNAT stage without a verdict goes on to the next.
    pub fn stages(&self, ep: usize, traffic: Traffic) -> Vec<ChainStage> {
        let node = self.universe.endpoints[ep].node.as_deref().unwrap_or("");
        let uplink = || self.node_ifaces(node).uplink.clone();
        let hop = |iif: Option<Iface>, oif: Option<Iface>| self.hop_chains(node, &Hop { iif, oif });
        match traffic {
            Traffic::Workload(_) => vec![(ep, Stage::Normal)],
            Traffic::ToHost => hop(Some(self.endpoint_iface(ep)), None).ingress,
            Traffic::FromHost => hop(None, Some(self.endpoint_iface(ep))).egress,
            Traffic::ForwardedIn => hop(Some(uplink()), Some(Iface::Workload)).ingress,
            Traffic::ForwardedOut => hop(Some(Iface::Workload), Some(uplink())).egress,
        }
    }

    /// What Felix does with a pod's traffic to its own host on `node`.
    pub fn workload_to_host(&self, node: &str) -> WorkloadToHostPlan {
        WorkloadToHostPlan {
            icmpv6_accept: WORKLOAD_TO_HOST_ICMPV6,
            interface_prefixes: self.model.felix.interface_prefixes(node),
            action: self.model.felix.endpoint_to_host_action(node),
        }
    }

    /// The tiers that count for endpoint `ep` in `stage` and direction `dir`.
    pub(super) fn planned_tiers(
        &self,
        ep: usize,
        stage: Stage,
        dir: Direction,
    ) -> Vec<PlannedTier> {
        let model = self.model;
        let selected = self.selecting(self.universe.endpoints[ep].labels);
        let forced_pass = matches!(stage, Stage::PreDnat | Stage::Untracked);
        self.tiers
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
            .collect()
    }

    /// Felix's host tunnel rules on `node` for a packet to (`inbound`, filter INPUT)
    /// or from (filter OUTPUT) a process of the node, in `family`, whose other end
    /// is (`peer_is_host`) or is not a Calico host: a node's address. In order;
    /// the first that matches decides.
    pub fn tunnel_rules(
        &self,
        node: &str,
        inbound: bool,
        v4: bool,
        peer_is_host: bool,
    ) -> Vec<TunnelRule> {
        let t = self.model.felix.tunnels(node);
        let port = self.model.felix.vxlan_port(node);
        let mut out = Vec::new();
        let mut rule = |guard, accept, tunnel| {
            out.push(TunnelRule {
                guard,
                accept,
                tunnel,
            })
        };
        if t.ipip && v4 && (peer_is_host || inbound) {
            rule(PacketGuard::Protocol(IPIP), peer_is_host, Tunnel::Ipip);
        }
        let vxlan = if v4 { t.vxlan.0 } else { t.vxlan.1 };
        if vxlan && (peer_is_host || inbound) {
            rule(PacketGuard::UdpDport(port), peer_is_host, Tunnel::Vxlan);
        }
        if let Some(p) = if v4 { t.wireguard.0 } else { t.wireguard.1 } {
            rule(PacketGuard::UdpDport(p), true, Tunnel::Wireguard);
        }
        out
    }

    /// Whether `ip` is a Calico host's: a node's address (its Node resource or its
    /// host endpoints'), Felix's `all-hosts-net` and `all-vxlan-net` sets.
    pub fn is_calico_host(&self, ip: IpAddr) -> bool {
        self.calico_hosts().any(|a| a == ip)
    }

    /// Every Calico host's address (see [`Engine::is_calico_host`]), possibly
    /// repeated.
    pub fn calico_hosts(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let model = self.model;
        model
            .nodes
            .iter()
            .flat_map(|n| n.addresses.iter().copied())
            .chain(
                model
                    .host_endpoints
                    .iter()
                    .flat_map(|h| h.expected_ips.iter().copied()),
            )
    }

    /// What a pod's egress chain drops before its tiers on `node` (see `guard.rs`):
    /// the `encap_drop` of its egress stage plan.
    pub fn workload_encap_drop(&self, node: &str) -> EncapDrop {
        let felix = &self.model.felix;
        EncapDrop {
            vxlan_port: (!felix.allow_vxlan_from_workloads(node)).then(|| felix.vxlan_port(node)),
            ipip: !felix.allow_ipip_from_workloads(node),
        }
    }

    /// What applies to endpoint `ep` in `stage` and direction `dir`.
    pub fn stage_plan(&self, ep: usize, stage: Stage, dir: Direction) -> StagePlan {
        let model = self.model;
        let endpoint = &self.universe.endpoints[ep];
        let node = endpoint.node.as_deref().unwrap_or("");
        let tiers = self.planned_tiers(ep, stage, dir);
        let other = match dir {
            Direction::Ingress => Direction::Egress,
            Direction::Egress => Direction::Ingress,
        };
        let forward_default =
            || tiers.is_empty() && self.planned_tiers(ep, stage, other).is_empty();
        let end = match (stage, endpoint.hep) {
            (Stage::Normal, None) => PlannedEnd::NamespaceProfile,
            (Stage::Normal, Some(h)) => PlannedEnd::Profiles(
                model.host_endpoints[h]
                    .profiles
                    .iter()
                    .filter_map(|name| model.profiles.iter().position(|p| &p.name == name))
                    .collect(),
            ),
            (Stage::Forward, _) if forward_default() => PlannedEnd::ForwardDefault,
            (Stage::Forward | Stage::Untracked | Stage::PreDnat, _) => PlannedEnd::NextStage,
        };
        let pod_egress = endpoint.kind == EndpointKind::Pod && dir == Direction::Egress;
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
            invalid_drop: stage != Stage::Untracked && model.felix.invalid_drop(node),
            encap_drop: if pod_egress && stage == Stage::Normal {
                self.workload_encap_drop(node)
            } else {
                EncapDrop::default()
            },
            tiers,
            end,
        }
    }
}

impl Engine<'_> {
    /// The failsafe ports `plan` checks: the node's list of its direction, matched by
    /// destination port, and (untracked stage only) the other direction's list,
    /// matched by source port. Empty where the plan checks none; each entry's net is
    /// the remote side's.
    pub fn failsafe_ports(&self, plan: &StagePlan) -> (Vec<FailsafePort>, Vec<FailsafePort>) {
        let node = self.universe.endpoints[plan.endpoint]
            .node
            .as_deref()
            .unwrap_or("");
        let felix = &self.model.felix;
        let list = |dir: Direction| match dir {
            Direction::Ingress => felix.failsafe_inbound(node),
            Direction::Egress => felix.failsafe_outbound(node),
        };
        let other = match plan.direction {
            Direction::Ingress => Direction::Egress,
            Direction::Egress => Direction::Ingress,
        };
        let own = if plan.failsafe {
            list(plan.direction)
        } else {
            Vec::new()
        };
        let replies = if plan.reply_failsafe {
            list(other)
        } else {
            Vec::new()
        };
        (own, replies)
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
