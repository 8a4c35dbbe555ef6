//! A whole flow: the stages a connection's first packet meets between two endpoints,
//! in the order Calico applies them, and the verdict.
//!
//! A flow is allowed only when every stage on its path allows it
//! (`felix/rules/static.go`; `tigera/docs: host-endpoints/summary.mdx`):
//!
//! | path | stages |
//! |---|---|
//! | pod → anything | the pod's egress policy |
//! | pod → its own host | ICMPv6 neighbour/router discovery and MLD accepted first; then the pod's egress and `defaultEndpointToHostAction` (never the host endpoint's ingress) |
//! | pod → off its node | then the node's `applyOnForward` egress policy |
//! | host process → anything | untracked, then normal egress of the host endpoint (outbound failsafe first) |
//! | host → its own pods | never policed |
//! | arriving at a node → its pod | untracked, pre-DNAT, then `applyOnForward` ingress of the node's host endpoint |
//! | → pod | the pod's ingress policy |
//! | → host process | untracked, pre-DNAT, then normal ingress of the host endpoint (inbound failsafe first) |
//! | → node without host endpoint, or outside the cluster | not policed |
//!
//! An Allow in an untracked or pre-DNAT stage skips the later host-endpoint stages of
//! that side (for a forwarded packet the pod's own ingress still applies).

use std::net::IpAddr;

use serde::Serialize;

use super::Engine;
use super::endpoints::{EndpointKind, EndpointRef, LabelSetId};
use super::guard::{PacketGuard, TunnelRule};
use super::ifaces::{ChainStage, Hop, Iface};
use super::packet::{Packet, Side, family};
use super::reply::{Reply, handshake_broken, reply_packet, run_reply};
use super::stage::{
    Decider, Direction, Outcome, Stage, StageProgram, StageTrace, endpoint_to_host_name,
};
use crate::ir::{EndpointToHostAction, IpVersion, NamedPort};

/// The verdict on a flow, with every stage it met.
#[derive(Debug, Clone, Serialize)]
pub struct FlowVerdict {
    /// Whether the connection is allowed.
    pub allowed: bool,
    /// Source address used.
    pub src_ip: Option<IpAddr>,
    /// Destination address used.
    pub dst_ip: Option<IpAddr>,
    /// The stages, in order.
    pub stages: Vec<StageTrace>,
    /// What decided: the denying stage's decider, or the last allowing one's.
    pub decider: Decider,
}

/// One step of a flow's path.
#[derive(Debug, Clone)]
pub enum PathStep<'m> {
    /// A policy stage; after an Allow, continue at step `on_allow`.
    Stage {
        /// The compiled stage.
        program: StageProgram<'m>,
        /// Where an Allow continues (the next step, or past the stages it skips).
        on_allow: usize,
    },
    /// ICMPv6 of these types (from a pod to its own host) is allowed here, before
    /// any policy; other packets go on to the next step.
    Icmpv6Accept {
        /// The ICMPv6 types.
        types: &'static [u8],
    },
    /// Felix's host tunnel rules: the first that matches accepts (continue at
    /// `on_accept`: past an outbound hop's remaining host-endpoint stages, or past
    /// every step for a packet a process of the node receives) or drops; no match
    /// goes on to the next step.
    Tunnel {
        /// The rules, in order.
        rules: Vec<TunnelRule>,
        /// Where an accept continues.
        on_accept: usize,
    },
    /// A decision that needs no policy.
    Terminal {
        /// Allowed or not.
        allowed: bool,
        /// Why.
        decider: Decider,
    },
}

/// The stages between two endpoints, compiled for their addresses: run it on as many
/// packets as needed.
#[derive(Debug, Clone)]
pub struct Path<'m> {
    /// Source address.
    pub src_ip: Option<IpAddr>,
    /// Destination address.
    pub dst_ip: Option<IpAddr>,
    /// Named ports of the source endpoint.
    pub src_ports: Vec<NamedPort>,
    /// Named ports of the destination endpoint.
    pub dst_ports: Vec<NamedPort>,
    /// The steps.
    pub steps: Vec<PathStep<'m>>,
    /// The ways back that policy sees (see `reply.rs`).
    pub replies: Vec<Reply<'m>>,
}

impl Path<'_> {
    /// Run the path on a packet.
    pub fn run(&self, packet: &Packet) -> FlowVerdict {
        let mut v = FlowVerdict {
            allowed: true,
            src_ip: self.src_ip,
            dst_ip: self.dst_ip,
            stages: Vec::new(),
            decider: Decider::NotPoliced,
        };
        let mut i = 0;
        let mut untracked = Vec::new();
        while let Some(step) = self.steps.get(i) {
            match step {
                PathStep::Terminal { allowed, decider } => {
                    v.allowed = *allowed;
                    v.decider = decider.clone();
                    if v.allowed {
                        self.check_replies(packet, &untracked, true, &mut v);
                    }
                    return v;
                }
                PathStep::Tunnel { rules, on_accept } => match tunnel_match(rules, packet) {
                    Some(r) => {
                        v.decider = Decider::HostTunnel {
                            tunnel: r.tunnel,
                            accepted: r.accept,
                        };
                        if !r.accept {
                            v.allowed = false;
                            return v;
                        }
                        i = *on_accept;
                    }
                    None => i += 1,
                },
                PathStep::Icmpv6Accept { types } => {
                    if PacketGuard::Icmpv6Types(types).matches(packet) {
                        v.decider = Decider::WorkloadIcmpv6ToHost {
                            icmp_type: packet.icmp.map_or(0, |(t, _)| t),
                        };
                        return v;
                    }
                    i += 1;
                }
                PathStep::Stage { program, on_allow } => {
                    let t = program.run(packet, &self.src_ports, &self.dst_ports);
                    let (outcome, decider) = (t.outcome, t.decider.clone());
                    v.stages.push(t);
                    match outcome {
                        Outcome::Deny => {
                            v.allowed = false;
                            v.decider = decider;
                            return v;
                        }
                        Outcome::Allow => {
                            if program.stage == Stage::Untracked {
                                untracked.push(i);
                            }
                            v.decider = decider;
                            i = *on_allow;
                        }
                        Outcome::NoVerdict => i += 1,
                    }
                }
            }
        }
        self.check_replies(packet, &untracked, true, &mut v);
        v
    }

    /// Run the ways back on the reply of `packet` (the first packet allowed, with
    /// its untracked Allows at steps `untracked`); a denial denies the flow. With
    /// `traced`, the reply's stages are added to `v`'s trace.
    fn check_replies(
        &self,
        packet: &Packet,
        untracked: &[usize],
        traced: bool,
        v: &mut FlowVerdict,
    ) {
        let Some(reply) = reply_packet(packet) else {
            return;
        };
        for r in &self.replies {
            let here = r.triggers.iter().any(|t| untracked.contains(t));
            let ports = (self.dst_ports.as_slice(), self.src_ports.as_slice());
            let out = run_reply(&r.steps, &reply, here, ports, traced);
            let broken = handshake_broken(r, packet, &out, here);
            v.stages.extend(out.traces);
            if !out.allowed || broken {
                v.allowed = false;
                v.decider = out.decider.unwrap_or(Decider::ConntrackInvalid);
                return;
            }
        }
    }

    /// Whether the replies of `packet` pass (see [`Path::check_replies`]).
    fn replies_pass(&self, packet: &Packet, untracked: &[usize]) -> bool {
        let mut v = FlowVerdict {
            allowed: true,
            src_ip: None,
            dst_ip: None,
            stages: Vec::new(),
            decider: Decider::NotPoliced,
        };
        self.check_replies(packet, untracked, false, &mut v);
        v.allowed
    }

    /// Only whether a packet is allowed: [`Path::run`] without traces.
    pub fn allows(&self, packet: &Packet) -> bool {
        let mut i = 0;
        let mut untracked = Vec::new();
        while let Some(step) = self.steps.get(i) {
            match step {
                PathStep::Terminal { allowed, .. } => {
                    return *allowed && self.replies_pass(packet, &untracked);
                }
                PathStep::Tunnel { rules, on_accept } => match tunnel_match(rules, packet) {
                    Some(r) if !r.accept => return false,
                    Some(_) => i = *on_accept,
                    None => i += 1,
                },
                PathStep::Icmpv6Accept { types } => {
                    if PacketGuard::Icmpv6Types(types).matches(packet) {
                        return true;
                    }
                    i += 1;
                }
                PathStep::Stage { program, on_allow } => {
                    match program.decide(packet, &self.src_ports, &self.dst_ports) {
                        Outcome::Deny => return false,
                        Outcome::Allow => {
                            if program.stage == Stage::Untracked {
                                untracked.push(i);
                            }
                            i = *on_allow;
                        }
                        Outcome::NoVerdict => i += 1,
                    }
                }
            }
        }
        self.replies_pass(packet, &untracked)
    }

    /// The compiled stages of the ways back.
    pub fn reply_programs(&self) -> impl Iterator<Item = &StageProgram<'_>> {
        self.replies
            .iter()
            .flat_map(|r| &r.steps)
            .filter_map(|s| match s {
                PathStep::Stage { program, .. } => Some(program),
                _ => None,
            })
    }

    /// The compiled stages.
    pub fn programs(&self) -> impl Iterator<Item = &StageProgram<'_>> {
        self.steps.iter().filter_map(|s| match s {
            PathStep::Stage { program, .. } => Some(program),
            _ => None,
        })
    }

    /// The fixed matches the path applies besides its rules and failsafe ports: the
    /// matrix cuts the packet space at them too.
    pub fn guards(&self) -> Vec<PacketGuard> {
        let mut out = Vec::new();
        for s in &self.steps {
            match s {
                PathStep::Stage { program, .. } => {
                    out.extend(program.encap_drop.guards().into_iter().map(|(g, _)| g));
                }
                PathStep::Icmpv6Accept { types } => out.push(PacketGuard::Icmpv6Types(types)),
                PathStep::Tunnel { rules, .. } => out.extend(rules.iter().map(|r| r.guard)),
                PathStep::Terminal { .. } => {}
            }
        }
        out
    }
}

struct EpInfo<'a> {
    kind: EndpointKind,
    node: Option<&'a str>,
    ips: Vec<IpAddr>,
    ports: &'a [NamedPort],
    index: Option<usize>,
    labels: Option<LabelSetId>,
}

/// A chain split into its stages before the normal one and the normal one.
fn split_normal(chain: &[ChainStage]) -> (Vec<ChainStage>, Vec<ChainStage>) {
    chain.iter().partition(|(_, st)| *st != Stage::Normal)
}

/// The first of `rules` that matches `p`.
fn tunnel_match<'r>(rules: &'r [TunnelRule], p: &Packet) -> Option<&'r TunnelRule> {
    rules.iter().find(|r| r.guard.matches(p))
}

/// The pods whose own stages a hop meets: a source pod's egress, a destination
/// pod's ingress.
#[derive(Debug, Clone, Copy, Default)]
struct HopPods {
    egress: Option<usize>,
    ingress: Option<usize>,
}

/// Builds a path, patching jump targets once the steps they skip are known.
#[derive(Default)]
struct Builder<'m> {
    steps: Vec<PathStep<'m>>,
    /// Steps whose `on_allow` must point past the next `patch` call.
    pending: Vec<usize>,
}

impl<'m> Builder<'m> {
    fn stage(&mut self, program: StageProgram<'m>) -> usize {
        let i = self.steps.len();
        self.steps.push(PathStep::Stage {
            program,
            on_allow: i + 1,
        });
        i
    }

    /// A stage whose Allow skips to the next `land` point.
    fn skipping_stage(&mut self, program: StageProgram<'m>) {
        let i = self.stage(program);
        self.pending.push(i);
    }

    /// Point pending skips here.
    fn land(&mut self) {
        let here = self.steps.len();
        for i in self.pending.drain(..) {
            if let PathStep::Stage { on_allow, .. } = &mut self.steps[i] {
                *on_allow = here;
            }
        }
    }

    /// A tunnel step; its `on_accept` is set by [`Builder::patch_tunnels`].
    fn tunnel(&mut self, rules: Vec<TunnelRule>) -> usize {
        self.steps.push(PathStep::Tunnel {
            rules,
            on_accept: usize::MAX,
        });
        self.steps.len() - 1
    }

    /// Point the tunnel steps `at` to step `end` (`usize::MAX`: past every step,
    /// the flow accepted).
    fn patch_tunnels(&mut self, at: &[usize], end: usize) {
        for &i in at {
            if let PathStep::Tunnel { on_accept, .. } = &mut self.steps[i] {
                *on_accept = end;
            }
        }
    }

    fn terminal(&mut self, allowed: bool, decider: Decider) {
        self.steps.push(PathStep::Terminal { allowed, decider });
    }
}

impl<'m> Engine<'m> {
    /// A chain of stages (see `ifaces.rs`): an Allow in one skips the rest.
    fn push_chain(
        &self,
        b: &mut Builder<'m>,
        stages: &[ChainStage],
        dir: Direction,
        (src, dst): (&Side<'_>, &Side<'_>),
    ) {
        if let Some((last, first)) = stages.split_last() {
            for &(ep, st) in first {
                b.skipping_stage(self.compile_stage(ep, st, dir, src, dst));
            }
            b.stage(self.compile_stage(last.0, last.1, dir, src, dst));
        }
        b.land();
    }

    /// Push one hop's stages: the ingress chain of the interface it enters by, the pods' own stages, the
    /// egress chain of the interface it leaves by. Returns the range of its steps.
    fn push_hop(
        &self,
        b: &mut Builder<'m>,
        node: &str,
        hop: &Hop,
        pods: HopPods,
        sides: (&Side<'_>, &Side<'_>),
    ) -> std::ops::Range<usize> {
        let h = self.hop_chains(node, hop);
        let start = b.steps.len();
        let (src, dst) = sides;
        let host = |ip: IpAddr| self.is_calico_host(ip);
        match (&hop.iif, &hop.oif) {
            (Some(_), None) => {
                let rules = self.tunnel_rules(node, true, src.ip.is_ipv4(), host(src.ip));
                return self.push_input_with_tunnels(b, &h.ingress, rules, sides, start);
            }
            (None, Some(o)) if *o != Iface::Workload => {
                let rules = self.tunnel_rules(node, false, dst.ip.is_ipv4(), host(dst.ip));
                if !rules.is_empty() {
                    // filter OUTPUT: after the accept-mark check (an untracked Allow
                    // skips all), before the host endpoint's egress.
                    let (raw, normal) = split_normal(&h.egress);
                    for &(ep, st) in &raw {
                        b.skipping_stage(self.compile_stage(ep, st, Direction::Egress, src, dst));
                    }
                    let t = b.tunnel(rules);
                    self.push_chain(b, &normal, Direction::Egress, sides);
                    let end = b.steps.len();
                    b.patch_tunnels(&[t], end);
                    return start..b.steps.len();
                }
            }
            _ => {}
        }
        self.push_chain(b, &h.ingress, Direction::Ingress, sides);
        if let Some(i) = pods.egress {
            self.push_chain(b, &[(i, Stage::Normal)], Direction::Egress, sides);
        }
        if let Some(j) = pods.ingress {
            self.push_chain(b, &[(j, Stage::Normal)], Direction::Ingress, sides);
        }
        self.push_chain(b, &h.egress, Direction::Egress, sides);
        start..b.steps.len()
    }

    /// A hop into a process of the node: the raw and pre-DNAT stages, then filter
    /// INPUT's host tunnel rules (before its accept-mark check, so they also see
    /// what an untracked or pre-DNAT Allow let through), then the normal stage.
    fn push_input_with_tunnels(
        &self,
        b: &mut Builder<'m>,
        chain: &[ChainStage],
        rules: Vec<TunnelRule>,
        sides: (&Side<'_>, &Side<'_>),
        start: usize,
    ) -> std::ops::Range<usize> {
        if rules.is_empty() {
            self.push_chain(b, chain, Direction::Ingress, sides);
            return start..b.steps.len();
        }
        let (before, normal) = split_normal(chain);
        for &(ep, st) in &before {
            b.skipping_stage(self.compile_stage(ep, st, Direction::Ingress, sides.0, sides.1));
        }
        // The skips stay pending past the normal stage.
        let first = b.tunnel(rules.clone());
        for &(ep, st) in &normal {
            b.stage(self.compile_stage(ep, st, Direction::Ingress, sides.0, sides.1));
        }
        // Where an Allow before the normal stage lands: the tunnel rules again, then
        // past the normal stage.
        b.land();
        let again = b.tunnel(rules);
        // Accepted in filter INPUT: delivered, whatever follows (a pod's packets
        // to its host skip `cali-wl-to-host`).
        b.patch_tunnels(&[first, again], usize::MAX);
        start..b.steps.len()
    }

    /// The way back over a hop, when policy can see it there: untracked stages on
    /// the way back, or on the way there (`there`: the hop's steps in `steps`).
    fn reply_over(
        &self,
        node: &str,
        back: &Hop,
        pods: HopPods,
        (steps, there): (&[PathStep<'m>], std::ops::Range<usize>),
        sides: (&Side<'_>, &Side<'_>),
    ) -> Option<Reply<'m>> {
        let programs = |s: &'_ [PathStep<'m>]| -> Vec<(usize, Stage, bool)> {
            s.iter()
                .enumerate()
                .filter_map(|(k, st)| match st {
                    PathStep::Stage { program, .. } => {
                        Some((k, program.stage, program.invalid_drop))
                    }
                    _ => None,
                })
                .collect()
        };
        let mine = programs(&steps[there.clone()]);
        let triggers: Vec<usize> = mine
            .iter()
            .filter(|(_, st, _)| *st == Stage::Untracked)
            .map(|(k, _, _)| there.start + k)
            .collect();
        let there_drops_invalid = mine
            .iter()
            .any(|(_, st, drops)| *st != Stage::Untracked && *drops);
        let mut b = Builder::default();
        self.push_hop(&mut b, node, back, pods, sides);
        let back_untracked = programs(&b.steps)
            .iter()
            .any(|(_, st, _)| *st == Stage::Untracked);
        (!triggers.is_empty() || back_untracked).then_some(Reply {
            triggers,
            steps: b.steps,
            there_drops_invalid,
        })
    }

    /// Compile the path of a packet from `src` to `dst` that `node` forwards from
    /// interface `iif` to `oif` (a transit flow: neither end is on the node): the
    /// host-endpoint chains of the two interfaces' owners.
    pub fn transit(
        &self,
        src: IpAddr,
        dst: IpAddr,
        node: &str,
        iif: Iface,
        oif: Iface,
    ) -> Path<'m> {
        let (sh, dh) = (self.universe.holders(src), self.universe.holders(dst));
        let side = |ip: IpAddr, holders| Side {
            ip,
            holders,
            ports: &[],
            owner: None,
        };
        let (s, d) = (side(src, &sh), side(dst, &dh));
        let mut b = Builder::default();
        let there = Hop {
            iif: Some(iif.clone()),
            oif: Some(oif.clone()),
        };
        let none = HopPods::default();
        let range = self.push_hop(&mut b, node, &there, none, (&s, &d));
        let back = Hop {
            iif: Some(oif),
            oif: Some(iif),
        };
        let reply = self.reply_over(node, &back, none, (&b.steps, range), (&d, &s));
        Path {
            src_ip: Some(src),
            dst_ip: Some(dst),
            src_ports: Vec::new(),
            dst_ports: Vec::new(),
            steps: b.steps,
            replies: reply.into_iter().collect(),
        }
    }

    fn info(&self, r: EndpointRef) -> EpInfo<'_> {
        match r {
            EndpointRef::Known(i) => {
                let e = &self.universe.endpoints[i];
                EpInfo {
                    kind: e.kind,
                    node: e.node.as_deref(),
                    ips: e.ips.clone(),
                    ports: &e.ports,
                    index: Some(i),
                    labels: Some(e.labels),
                }
            }
            EndpointRef::External(ip) => EpInfo {
                kind: EndpointKind::External,
                node: None,
                ips: vec![ip],
                ports: &[],
                index: None,
                labels: None,
            },
        }
    }

    /// The addresses a flow between two endpoints uses: IPv4 when both have one,
    /// else IPv6.
    pub fn addresses(&self, from: EndpointRef, to: EndpointRef) -> Option<(IpAddr, IpAddr)> {
        let (a, b) = (self.info(from), self.info(to));
        [IpVersion::V4, IpVersion::V6].into_iter().find_map(|f| {
            let s = a.ips.iter().find(|ip| family(**ip) == f)?;
            let d = b.ips.iter().find(|ip| family(**ip) == f)?;
            Some((*s, *d))
        })
    }

    /// Evaluate the first packet of a connection from `from` to `to`.
    pub fn evaluate(&self, from: EndpointRef, to: EndpointRef, packet: &Packet) -> FlowVerdict {
        self.path(from, to).run(packet)
    }

    /// Compile the path of a flow from `from` to `to`.
    pub fn path(&self, from: EndpointRef, to: EndpointRef) -> Path<'m> {
        let (s, d) = (self.info(from), self.info(to));
        let mut path = Path {
            src_ip: None,
            dst_ip: None,
            src_ports: s.ports.to_vec(),
            dst_ports: d.ports.to_vec(),
            steps: Vec::new(),
            replies: Vec::new(),
        };
        let mut b = Builder::default();
        // A pod (or an outside address) to itself never leaves it; a host to
        // itself goes over `lo`, which host endpoints may police.
        if from == to && !matches!(s.kind, EndpointKind::Host | EndpointKind::Node) {
            b.terminal(true, Decider::Loopback);
            path.steps = b.steps;
            return path;
        }
        let Some((src_ip, dst_ip)) = self.addresses(from, to) else {
            b.terminal(false, Decider::NoCommonFamily);
            path.steps = b.steps;
            return path;
        };
        path.src_ip = Some(src_ip);
        path.dst_ip = Some(dst_ip);
        let (src_holders, dst_holders) =
            (self.universe.holders(src_ip), self.universe.holders(dst_ip));
        let src = Side {
            ip: src_ip,
            holders: &src_holders,
            ports: s.ports,
            owner: s.labels,
        };
        let dst = Side {
            ip: dst_ip,
            holders: &dst_holders,
            ports: d.ports,
            owner: d.labels,
        };
        let chain = |b: &mut Builder<'m>, stages: &[ChainStage], dir: Direction| {
            self.push_chain(b, stages, dir, (&src, &dst));
        };
        fn hop(node: Option<&str>, iif: Option<Iface>, oif: Option<Iface>) -> (&str, Hop) {
            (node.unwrap_or(""), Hop { iif, oif })
        }
        let uplink = |node: Option<&str>| self.node_ifaces(node.unwrap_or("")).uplink.clone();
        let same_node = s.node.is_some() && s.node == d.node;
        let host_like = |k: EndpointKind| matches!(k, EndpointKind::Host | EndpointKind::Node);
        let mut replies = Vec::new();
        // One hop of the flow there, and its way back.
        let mut go = |b: &mut Builder<'m>, (node, there): (&str, Hop), pods: HopPods| {
            let range = self.push_hop(b, node, &there, pods, (&src, &dst));
            let back = Hop {
                iif: there.oif.clone(),
                oif: there.iif.clone(),
            };
            let pods_back = HopPods {
                egress: pods.ingress,
                ingress: pods.egress,
            };
            let reply = self.reply_over(node, &back, pods_back, (&b.steps, range), (&dst, &src));
            replies.extend(reply);
        };

        // The hop on the source's node, and on a shared node the whole path.
        match (s.kind, s.index) {
            (EndpointKind::Pod, Some(i)) if same_node && host_like(d.kind) => {
                // `cali-wl-to-host`, after the `*` endpoint's pre-DNAT policy.
                let (node, h) = hop(s.node, Some(Iface::Workload), None);
                self.push_hop(&mut b, node, &h, HopPods::default(), (&src, &dst));
                let plan = self.workload_to_host(node);
                // The guard matches ICMPv6 only (an IPv4 pair's matrix never asks).
                b.steps.push(PathStep::Icmpv6Accept {
                    types: plan.icmpv6_accept,
                });
                chain(&mut b, &[(i, Stage::Normal)], Direction::Egress);
                let decider = Decider::EndpointToHost {
                    action: endpoint_to_host_name(plan.action).into(),
                };
                b.terminal(plan.action != EndpointToHostAction::Drop, decider);
            }
            (EndpointKind::Pod, Some(i)) => {
                let to_pod = match (d.kind, d.index) {
                    (EndpointKind::Pod, Some(j)) if same_node => Some(j),
                    _ => None,
                };
                let oif = if to_pod.is_some() {
                    Iface::Workload
                } else {
                    uplink(s.node)
                };
                let pods = HopPods {
                    egress: Some(i),
                    ingress: to_pod,
                };
                go(&mut b, hop(s.node, Some(Iface::Workload), Some(oif)), pods);
            }
            (EndpointKind::Host | EndpointKind::Node, Some(_)) if same_node => {
                if d.kind == EndpointKind::Pod {
                    b.terminal(true, Decider::HostToLocalWorkload);
                } else {
                    // The host to itself, over `lo`.
                    let out = hop(s.node, None, Some(Iface::Loopback));
                    let back = hop(s.node, Some(Iface::Loopback), None);
                    let none = HopPods::default();
                    let before = b.steps.len();
                    self.push_hop(&mut b, out.0, &out.1, none, (&src, &dst));
                    self.push_hop(&mut b, back.0, &back.1, none, (&src, &dst));
                    if b.steps.len() == before {
                        b.terminal(true, Decider::Loopback);
                    }
                }
            }
            (EndpointKind::Host, Some(i)) => {
                let oif = self.endpoint_iface(i);
                go(&mut b, hop(s.node, None, Some(oif)), HopPods::default());
            }
            (EndpointKind::Node, Some(_)) => {
                // No host endpoint: only Felix's host tunnel rules can apply.
                go(
                    &mut b,
                    hop(s.node, None, Some(uplink(s.node))),
                    HopPods::default(),
                );
            }
            _ => {}
        }

        // The hop on the destination's node, unless the path stayed on one node.
        match (d.kind, d.index) {
            _ if same_node => {}
            (EndpointKind::Pod, Some(j)) => {
                let pods = HopPods {
                    egress: None,
                    ingress: Some(j),
                };
                go(
                    &mut b,
                    hop(d.node, Some(uplink(d.node)), Some(Iface::Workload)),
                    pods,
                );
            }
            (EndpointKind::Host, Some(j)) => {
                let iif = self.endpoint_iface(j);
                go(&mut b, hop(d.node, Some(iif), None), HopPods::default());
            }
            (EndpointKind::Node, Some(_)) => {
                go(
                    &mut b,
                    hop(d.node, Some(uplink(d.node)), None),
                    HopPods::default(),
                );
            }
            _ => {}
        }
        path.replies = replies;
        b.land();
        path.steps = b.steps;
        path
    }
}
