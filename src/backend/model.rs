//! The target-neutral render model of one node: what every target renders, built
//! once from the stage plan (`build/`), with no target's syntax in it.
//!
//! A node is a list of [`Chain`]s (base chains hooked into the packet path, then
//! endpoint, policy and profile chains), named [`Set`]s of addresses and ports, and
//! [`VerdictMap`]s that send a local pod's packets to its chain by address. A rule is
//! a conjunction of typed [`Match`]es and one [`Verdict`].
//!
//! The meaning every renderer keeps: a base chain is one *stage* of its hook; an
//! `Accept` ends that stage only (the next base chain of the hook still runs, as the
//! next nft base chain or iptables stage chain does), `Drop` is final, falling off a
//! base chain passes the stage, falling off any other chain returns to its caller.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use ipnet::IpNet;

use crate::ir::{IpVersion, Protocol};

/// One node's render model.
#[derive(Debug, Clone, Default)]
pub struct NodeModel {
    /// The node's name.
    pub node: String,
    /// The IP families the node has addresses in.
    pub families: Vec<IpVersion>,
    /// Named sets, by name.
    pub sets: Vec<Set>,
    /// Verdict maps, in rendering order.
    pub maps: Vec<VerdictMap>,
    /// Base chains in hook and stage order, then the other chains by name.
    pub chains: Vec<Chain>,
}

/// A named set.
#[derive(Debug, Clone)]
pub struct Set {
    /// Its name (an identifier from `names::ident`, or a fixed one).
    pub name: String,
    /// The family of its addresses; `None` for port sets.
    pub family: Option<IpVersion>,
    /// Its elements, normalised (sorted, no overlaps).
    pub elements: Elements,
    /// What it holds, for the artifact's reader.
    pub comment: String,
}

/// The elements of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elements {
    /// Networks (an interval set): aggregated, so no two overlap.
    Nets(Vec<IpNet>),
    /// Single addresses.
    Hosts(Vec<IpAddr>),
    /// Port ranges, merged.
    Ports(Vec<RangeInclusive<u16>>),
    /// `(address, protocol, port)` of named ports.
    Named(Vec<(IpAddr, Protocol, u16)>),
}

impl Elements {
    /// How many elements.
    pub fn len(&self) -> usize {
        match self {
            Elements::Nets(v) => v.len(),
            Elements::Hosts(v) => v.len(),
            Elements::Ports(v) => v.len(),
            Elements::Named(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Local pods by address, each to the chain of its policy in one direction.
#[derive(Debug, Clone)]
pub struct VerdictMap {
    /// Its name.
    pub name: String,
    /// The family of its keys.
    pub family: IpVersion,
    /// Which address is the key.
    pub side: Side,
    /// What it maps, for the artifact's reader.
    pub comment: String,
    /// `(address, chain)`, sorted by address text.
    pub elements: Vec<(IpAddr, String)>,
}

/// Where a base chain hooks into the packet path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    /// Before conntrack, inbound (untracked policy).
    RawPrerouting,
    /// Before conntrack, outbound (untracked policy).
    RawOutput,
    /// Before DNAT, inbound (pre-DNAT policy).
    ManglePrerouting,
    /// To a local process.
    Input,
    /// From a local process.
    Output,
    /// Routed through the node.
    Forward,
}

/// A base chain's place: its hook and its stage's rank among that hook's base
/// chains (0 first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Base {
    /// The hook.
    pub hook: Hook,
    /// The rank of this stage in its hook.
    pub stage: i32,
}

/// A chain.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Its name.
    pub name: String,
    /// Set for a base chain.
    pub base: Option<Base>,
    /// What it is, for the artifact's reader.
    pub comment: String,
    /// Its rules in order.
    pub rules: Vec<Rule>,
}

/// One rule: every match holds, then the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The family the rule is for; `None`: both.
    pub family: Option<IpVersion>,
    /// The matches, ANDed, in rendering order.
    pub matches: Vec<Match>,
    /// What happens on a match.
    pub verdict: Verdict,
    /// Where it comes from (already cleaned by `names::comment`).
    pub comment: String,
}

impl Rule {
    /// A rule for both families.
    pub fn new(matches: Vec<Match>, verdict: Verdict, comment: impl Into<String>) -> Rule {
        Rule {
            family: None,
            matches,
            verdict,
            comment: comment.into(),
        }
    }

    /// The same rule for one family only.
    pub fn only(mut self, family: IpVersion) -> Rule {
        self.family = Some(family);
        self
    }
}

/// A side of the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The source address or port.
    Source,
    /// The destination address or port.
    Destination,
}

/// The interface a packet crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfaceDir {
    /// The one it arrived on.
    In,
    /// The one it leaves by.
    Out,
}

/// Ports of one side: one range inline, or a named port set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ports {
    /// One port or range.
    Range(RangeInclusive<u16>),
    /// A named set of port ranges.
    Set(String),
}

/// Conntrack states matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtState {
    /// Replies and related flows.
    EstablishedRelated,
    /// Packets conntrack cannot place.
    Invalid,
}

/// One typed match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The packet is of this family (needed where nothing else says so).
    Family(IpVersion),
    /// An address in (or, negated, not in) a named address set.
    AddrSet {
        /// Which address.
        side: Side,
        /// The family of the set.
        family: IpVersion,
        /// The set.
        set: String,
        /// `!=`.
        negate: bool,
    },
    /// An address in one network.
    Net {
        /// Which address.
        side: Side,
        /// The network.
        net: IpNet,
    },
    /// The layer-4 protocol is (or, negated, is not) this one.
    Protocol {
        /// The protocol.
        protocol: Protocol,
        /// `!=`.
        negate: bool,
    },
    /// One protocol and one port of it (`tcp dport 22`).
    ProtocolPort {
        /// The protocol (TCP, UDP or SCTP).
        protocol: Protocol,
        /// Which port.
        side: Side,
        /// The port.
        port: u16,
    },
    /// A port of either side, whatever the protocol (the rule's protocol match says
    /// which).
    Port {
        /// Which port.
        side: Side,
        /// The ports.
        ports: Ports,
        /// `!=`.
        negate: bool,
    },
    /// `(address, protocol, port)` of one side in a named-port set.
    NamedPorts {
        /// Which side.
        side: Side,
        /// The family of the set.
        family: IpVersion,
        /// The set.
        set: String,
        /// `!=`.
        negate: bool,
    },
    /// `(protocol, port)` of one side among these pairs (failsafe ports).
    ProtocolPorts {
        /// Which port.
        side: Side,
        /// The pairs, in order.
        pairs: Vec<(Protocol, u16)>,
    },
    /// ICMP (of the family) type and, optionally, code.
    Icmp {
        /// ICMPv4 or ICMPv6.
        family: IpVersion,
        /// The type.
        type_: u8,
        /// The code.
        code: Option<u8>,
    },
    /// Not this ICMP type (and code).
    NotIcmp {
        /// ICMPv4 or ICMPv6.
        family: IpVersion,
        /// The type.
        type_: u8,
        /// The code.
        code: Option<u8>,
    },
    /// ICMPv6 of one of these types.
    Icmpv6Types(Vec<u8>),
    /// `mark & mask == value`.
    Mark {
        /// The bits looked at.
        mask: u32,
        /// Their value.
        value: u32,
    },
    /// Conntrack state.
    Ct(CtState),
    /// The interface crossed is (or is not) `name`, or starts with it (`prefix`).
    Iface {
        /// Incoming or outgoing.
        dir: IfaceDir,
        /// The name (cleaned by `names::comment`).
        name: String,
        /// `name` is a prefix.
        prefix: bool,
        /// `!=`.
        negate: bool,
    },
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// End this stage: the packet passes it.
    Accept,
    /// Drop the packet: final.
    Drop,
    /// Back to the calling chain.
    Return,
    /// Call a chain; come back here when it returns.
    Jump(String),
    /// Continue in a chain; its return goes to this chain's caller.
    Goto(String),
    /// Call the chain the verdict map gives for the packet's address on `side`
    /// (nothing when no element matches).
    Map {
        /// Which address is the key.
        side: Side,
        /// The map.
        map: String,
    },
    /// Clear mark bits (`mark &= mask`) and continue.
    AndMark(u32),
    /// Pass: set the pass mark and return (to the endpoint chain, which skips the
    /// tier's remaining policies).
    Pass(u32),
    /// Set the accept mark, then accept (a pre-DNAT Allow: later stages let it
    /// through).
    MarkAccept(u32),
    /// Untracked Allow: no conntrack, set the accept mark, accept.
    NotrackAccept(u32),
    /// Log and continue; `prefix` says which rule (a renderer may shorten it).
    Log(String),
}
