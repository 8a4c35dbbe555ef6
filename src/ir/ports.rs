//! Protocols, port ranges and port sets.

use std::fmt;

/// An IP protocol number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Protocol(pub u8);

impl Protocol {
    /// ICMP.
    pub const ICMP: Protocol = Protocol(1);
    /// TCP.
    pub const TCP: Protocol = Protocol(6);
    /// UDP.
    pub const UDP: Protocol = Protocol(17);
    /// ICMPv6.
    pub const ICMPV6: Protocol = Protocol(58);
    /// SCTP.
    pub const SCTP: Protocol = Protocol(132);
    /// UDP-Lite.
    pub const UDPLITE: Protocol = Protocol(136);

    /// Calico's spelling of a protocol name (`TCP`, `ICMPv6`, ...), exact case.
    pub fn from_calico_name(s: &str) -> Option<Protocol> {
        Some(match s {
            "TCP" => Protocol::TCP,
            "UDP" => Protocol::UDP,
            "ICMP" => Protocol::ICMP,
            "ICMPv6" => Protocol::ICMPV6,
            "SCTP" => Protocol::SCTP,
            "UDPLite" => Protocol::UDPLITE,
            _ => return None,
        })
    }

    /// Whether rules may match ports with this protocol (TCP, UDP, SCTP).
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::TCP | Protocol::UDP | Protocol::SCTP)
    }

    /// Whether this is ICMP or ICMPv6.
    pub fn is_icmp(self) -> bool {
        matches!(self, Protocol::ICMP | Protocol::ICMPV6)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Protocol::TCP => f.write_str("TCP"),
            Protocol::UDP => f.write_str("UDP"),
            Protocol::ICMP => f.write_str("ICMP"),
            Protocol::ICMPV6 => f.write_str("ICMPv6"),
            Protocol::SCTP => f.write_str("SCTP"),
            Protocol::UDPLITE => f.write_str("UDPLite"),
            Protocol(n) => write!(f, "{n}"),
        }
    }
}

/// An inclusive port range `lo..=hi` with `1 <= lo <= hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    /// First port.
    pub lo: u16,
    /// Last port.
    pub hi: u16,
}

impl PortRange {
    /// A single port.
    pub fn single(p: u16) -> PortRange {
        PortRange { lo: p, hi: p }
    }

    /// Whether `p` is in the range.
    pub fn contains(self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// A set of ports as sorted, disjoint, non-adjacent ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSet {
    ranges: Vec<PortRange>,
}

impl PortSet {
    /// The set of the given ranges, merged.
    pub fn from_ranges(ranges: impl IntoIterator<Item = PortRange>) -> PortSet {
        let mut v: Vec<PortRange> = ranges.into_iter().collect();
        v.sort();
        let mut out: Vec<PortRange> = Vec::with_capacity(v.len());
        for r in v {
            match out.last_mut() {
                Some(last) if u32::from(r.lo) <= u32::from(last.hi) + 1 => {
                    last.hi = last.hi.max(r.hi)
                }
                _ => out.push(r),
            }
        }
        PortSet { ranges: out }
    }

    /// The ranges, sorted and merged.
    pub fn ranges(&self) -> &[PortRange] {
        &self.ranges
    }

    /// Whether `p` is in the set.
    pub fn contains(&self, p: u16) -> bool {
        let i = self.ranges.partition_point(|r| r.hi < p);
        self.ranges.get(i).is_some_and(|r| r.contains(p))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_set_merges_adjacent_and_overlapping() {
        let s = PortSet::from_ranges([
            PortRange::single(81),
            PortRange { lo: 10, hi: 20 },
            PortRange::single(80),
            PortRange { lo: 15, hi: 30 },
            PortRange::single(65535),
        ]);
        assert_eq!(s.to_string(), "10-30,80-81,65535");
        for p in [10, 30, 80, 81, 65535] {
            assert!(s.contains(p), "{p}");
        }
        for p in [1, 9, 31, 79, 82, 65534] {
            assert!(!s.contains(p), "{p}");
        }
    }
}
