//! Policy assertions (`polc test --assertions FILE`): expectations people write to
//! pin what a policy set must keep doing, read by `frontend::assertions` and checked
//! by `analysis::assert`. No YAML here.

use ipnet::IpNet;

use super::{PortRange, Protocol, Selector};
use crate::source::Span;

/// One expectation: every (or some) flow from one side to the other, on the listed
/// ports, is allowed (or denied).
#[derive(Debug, Clone)]
pub struct Assertion {
    /// What it pins, in words (the JUnit test case name).
    pub name: String,
    /// The list item it was read from.
    pub span: Span,
    /// The sources.
    pub from: AssertSide,
    /// The destinations.
    pub to: AssertSide,
    /// The destination ports.
    pub ports: Vec<AssertPort>,
    /// The verdict expected.
    pub expect: Expect,
    /// Whether every case must have it or one is enough.
    pub quantifier: Quantifier,
}

/// One side of an assertion.
#[derive(Debug, Clone)]
pub struct AssertSide {
    /// What it names.
    pub what: SideSpec,
    /// Where it was written.
    pub span: Span,
}

/// Which endpoints or addresses a side stands for.
#[derive(Debug, Clone)]
pub enum SideSpec {
    /// One endpoint, as `polc explain` names it: `NAMESPACE/POD`, `host/NAME`,
    /// `node/NAME` or an IP address.
    Name(String),
    /// Every address of a CIDR (the endpoints holding some of them, and every other
    /// address).
    Cidr(IpNet),
    /// The endpoints meeting every given criterion.
    Select {
        /// A Calico selector over the endpoint's labels.
        selector: Option<Selector>,
        /// Pods of this namespace.
        namespace: Option<String>,
        /// Endpoints of this kind.
        kind: Option<SideKind>,
    },
}

/// The endpoint kinds a side can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideKind {
    /// Pods.
    Pod,
    /// Host endpoints.
    Host,
}

/// Destination ports of an assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertPort {
    /// A range of ports of TCP, UDP or SCTP.
    Ports(Protocol, PortRange),
    /// An ICMP (or ICMPv6) echo request.
    Icmp(Protocol),
}

/// The verdict an assertion expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Allowed from every client source port.
    Allowed,
    /// Denied from every client source port.
    Denied,
}

/// How many cases must have the expected verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// Every (source, destination, port) case.
    All,
    /// At least one.
    Any,
}
