//! The replies of a connection, where policy sees them. Conntrack lets a tracked
//! connection's replies through every tracked chain, but untracked (`doNotTrack`)
//! policy runs in the raw table, before conntrack, so it meets replies too
//! (`StaticRawPreroutingChain`, `StaticRawOutputChain`, `felix/rules/static.go`; the
//! raw reverse failsafe rules exist for this reason: `failsafeInChain`). And where an
//! untracked Allow let the first packet through without tracking it
//! (`NOTRACK`, `endpointIptablesChain` in `felix/rules/endpoints.go`), the node has no
//! conntrack entry for the connection: its replies are new there and meet every
//! chain of the way back, the "allow both directions" rule of doNotTrack policy
//! (Calico's doNotTrack documentation). A TCP SYN-ACK or ICMP echo reply without an
//! entry is INVALID to conntrack, which tracked endpoint chains drop.
//!
//! A flow's path holds one [`Reply`] per hop whose way back has untracked stages or
//! whose way there has an untracked stage that may allow; the path runs them on the
//! reply packet once the first packet is allowed.

use super::flow::PathStep;
use super::packet::Packet;
use super::stage::{Decider, Outcome, Stage, StageProgram, StageTrace};
use crate::ir::{NamedPort, Protocol};

/// The way back over one hop of a flow.
#[derive(Debug, Clone)]
pub struct Reply<'m> {
    /// The first packet's untracked stages on this hop (indices into the path's
    /// steps): an Allow in one leaves the connection untracked here.
    pub triggers: Vec<usize>,
    /// Every stage of the way back.
    pub steps: Vec<PathStep<'m>>,
    /// Whether a tracked stage of the way there drops conntrack INVALID. When the
    /// connection is tracked here but an untracked Allow lets the reply through
    /// untracked, conntrack never sees a TCP SYN-ACK, so the client's next packet
    /// (an ACK to a connection in SYN_SENT) is INVALID and such a stage drops it.
    pub there_drops_invalid: bool,
}

/// The reply to `p`: ports swapped, an echo request answered. `None` for ICMP other
/// than echo requests, which has no reply.
pub fn reply_packet(p: &Packet) -> Option<Packet> {
    let icmp = match p.icmp {
        Some((8, c)) if p.protocol == Protocol::ICMP => Some((0, c)),
        Some((128, c)) if p.protocol == Protocol::ICMPV6 => Some((129, c)),
        Some(_) => return None,
        None => None,
    };
    Some(Packet {
        protocol: p.protocol,
        sport: p.dport,
        dport: p.sport,
        icmp,
    })
}

/// Whether the next packet of a TCP connection whose SYN-ACK conntrack did not see
/// is INVALID where a tracked stage of the way there drops it (see
/// [`Reply::there_drops_invalid`]).
pub fn handshake_broken(r: &Reply<'_>, first: &Packet, back: &ReplyVerdict, here: bool) -> bool {
    first.protocol == Protocol::TCP && !here && back.notracked && r.there_drops_invalid
}

/// Whether conntrack finds a reply with no entry INVALID rather than NEW: a TCP
/// SYN-ACK (`tcp_new` refuses it, `net/netfilter/nf_conntrack_proto_tcp.c`) and an
/// ICMP echo reply (not a type that starts a connection).
fn invalid_without_entry(p: &Packet) -> bool {
    p.protocol == Protocol::TCP || p.icmp.is_some()
}

/// The outcome of a reply's steps: allowed or not, the traces, the decider of a
/// denial.
pub struct ReplyVerdict {
    /// Allowed.
    pub allowed: bool,
    /// The stages it met.
    pub traces: Vec<StageTrace>,
    /// What denied it.
    pub decider: Option<Decider>,
    /// Whether an untracked stage allowed it (so conntrack did not see it).
    pub notracked: bool,
}

/// Run the stages of a way back on the reply packet. Where the connection is tracked
/// on this hop, only the untracked stages see the reply, unless one of them allows
/// it: then it is not tracked either (`NOTRACK`), and the stages that accept mark
/// does not skip see it as a new packet (a pod's own chains, the egress chain). `untracked_here`: the
/// connection has no conntrack entry on this hop (then tracked chains that drop
/// INVALID drop what conntrack finds INVALID); `ports`: the named ports of the
/// reply's source and destination endpoints.
pub fn run_reply(
    steps: &[PathStep<'_>],
    packet: &Packet,
    untracked_here: bool,
    ports: (&[NamedPort], &[NamedPort]),
    traced: bool,
) -> ReplyVerdict {
    let mut v = ReplyVerdict {
        allowed: true,
        traces: Vec::new(),
        decider: None,
        notracked: false,
    };
    let mut i = 0;
    while let Some(step) = steps.get(i) {
        let PathStep::Stage { program, on_allow } = step else {
            i += 1;
            continue;
        };
        if program.stage != Stage::Untracked && !untracked_here && !v.notracked {
            // Conntrack knows the connection: the reply is ESTABLISHED.
            return v;
        }
        let invalid = untracked_here && !v.notracked && invalid_without_entry(packet);
        if invalid && drops_invalid(program) {
            v.allowed = false;
            v.decider = Some(Decider::ConntrackInvalid);
            return v;
        }
        let outcome = if traced {
            let mut t = program.run(packet, ports.0, ports.1);
            t.reply = true;
            let (o, d) = (t.outcome, t.decider.clone());
            v.traces.push(t);
            if o == Outcome::Deny {
                v.decider = Some(d);
            }
            o
        } else {
            program.decide(packet, ports.0, ports.1)
        };
        match outcome {
            Outcome::Deny => {
                v.allowed = false;
                return v;
            }
            Outcome::Allow => {
                v.notracked |= program.stage == Stage::Untracked;
                i = *on_allow;
            }
            Outcome::NoVerdict => i += 1,
        }
    }
    v
}

fn drops_invalid(p: &StageProgram<'_>) -> bool {
    p.stage != Stage::Untracked && p.invalid_drop
}
