//! The packet half of the space (protocol, ports, ICMP type and code), cut into
//! cells at every boundary the rules of a context, the named ports of its endpoints
//! its failsafe ports and what a pod's egress drops before policy draw. Inside a cell no rule can tell two packets apart, so
//! one representative packet decides the cell.

use std::collections::BTreeSet;

use crate::ir::{IpVersion, NamedPort, PortMatch, Protocol, Rule};
use crate::semantics::matrix::regions;
use crate::semantics::{EncapDrop, Packet, PacketGuard};

/// Representative packets, one per cell, for the rules `rules` of a context of
/// family `family`. `named` holds every named port an endpoint on either side can
/// have; `failsafe` the failsafe (protocol, port) pairs matched as destination ports,
/// `replies` those matched as source ports; `encap` what is dropped before the tiers.
pub fn cells(
    rules: &[&Rule],
    family: IpVersion,
    named: &[NamedPort],
    failsafe: &[(Protocol, u16)],
    replies: &[(Protocol, u16)],
    encap: &EncapDrop,
) -> Vec<Packet> {
    let mut failsafe = failsafe.to_vec();
    let mut guarded = Vec::new();
    for (g, _) in encap.guards() {
        match g {
            PacketGuard::UdpDport(port) => failsafe.push((Protocol::UDP, port)),
            PacketGuard::Protocol(p) => guarded.push(p),
            PacketGuard::Icmpv6Types(_) => {}
        }
    }
    let icmp = if family == IpVersion::V4 {
        Protocol::ICMP
    } else {
        Protocol::ICMPV6
    };
    let mut mentioned: BTreeSet<Protocol> =
        BTreeSet::from([Protocol::TCP, Protocol::UDP, Protocol::SCTP, icmp]);
    mentioned.extend(
        rules
            .iter()
            .flat_map(|r| [r.protocol, r.not_protocol])
            .flatten()
            .chain(guarded),
    );
    // Witnesses come from the first cells: TCP, UDP and ICMP read best.
    let mut protocols: Vec<Protocol> = vec![Protocol::TCP, Protocol::UDP, icmp, Protocol::SCTP];
    protocols.extend(
        mentioned
            .iter()
            .filter(|p| !protocols.contains(p))
            .copied()
            .collect::<Vec<_>>(),
    );
    // One protocol no rule names stands for all of them: a real one when it can.
    if let Some(other) = OTHERS
        .iter()
        .copied()
        .map(Protocol)
        .chain((1..=255u8).map(Protocol))
        .chain([Protocol(0)])
        .find(|p| !mentioned.contains(p))
    {
        protocols.push(other);
    }
    let mut out = Vec::new();
    for protocol in protocols {
        let applies = |r: &&&Rule| r.protocol.is_none_or(|p| p == protocol);
        if protocol.has_ports() {
            let (mut scuts, mut dcuts) = (BTreeSet::new(), BTreeSet::new());
            for r in rules.iter().filter(applies) {
                port_cuts(&mut scuts, r.source.ports.iter().chain(&r.source.not_ports));
                port_cuts(
                    &mut dcuts,
                    r.destination.ports.iter().chain(&r.destination.not_ports),
                );
            }
            for p in named.iter().filter(|p| p.protocol == protocol) {
                for cuts in [&mut scuts, &mut dcuts] {
                    cuts.insert(u32::from(p.port));
                    cuts.insert(u32::from(p.port) + 1);
                }
            }
            for &(_, port) in failsafe.iter().filter(|(p, _)| *p == protocol) {
                dcuts.insert(u32::from(port));
                dcuts.insert(u32::from(port) + 1);
            }
            for &(_, port) in replies.iter().filter(|(p, _)| *p == protocol) {
                scuts.insert(u32::from(port));
                scuts.insert(u32::from(port) + 1);
            }
            let mut sports = representatives(&scuts, 0, 65535, u32::from(Packet::EPHEMERAL_SPORT));
            // Witnesses come from the first cells: a client's port reads best.
            sports.sort_by_key(|&s| s != u32::from(Packet::EPHEMERAL_SPORT));
            let dports = representatives(&dcuts, 0, 65535, 1);
            for &s in &sports {
                for &d in &dports {
                    out.push(Packet {
                        protocol,
                        sport: s as u16,
                        dport: d as u16,
                        icmp: None,
                    });
                }
            }
        } else if protocol.is_icmp() {
            let (mut tcuts, mut ccuts) = (BTreeSet::new(), BTreeSet::new());
            for r in rules.iter().filter(applies) {
                for m in [r.icmp, r.not_icmp].into_iter().flatten() {
                    tcuts.insert(u32::from(m.type_));
                    tcuts.insert(u32::from(m.type_) + 1);
                    if let Some(c) = m.code {
                        ccuts.insert(u32::from(c));
                        ccuts.insert(u32::from(c) + 1);
                    }
                }
            }
            let echo = if protocol == Protocol::ICMP { 8 } else { 128 };
            for t in representatives(&tcuts, 0, 255, echo) {
                for c in representatives(&ccuts, 0, 255, 0) {
                    out.push(Packet {
                        protocol,
                        sport: 0,
                        dport: 0,
                        icmp: Some((t as u8, c as u8)),
                    });
                }
            }
        } else {
            out.push(Packet {
                protocol,
                sport: 0,
                dport: 0,
                icmp: None,
            });
        }
    }
    out
}

/// Protocols to stand for those no rule names, best known first: GRE, ESP, IP in IP,
/// IPv6 in IPv4, OSPF, VRRP, IGMP, AH.
const OTHERS: &[u8] = &[47, 50, 4, 41, 89, 112, 2, 51];

fn port_cuts<'a>(cuts: &mut BTreeSet<u32>, items: impl Iterator<Item = &'a PortMatch>) {
    for item in items {
        if let PortMatch::Range(r) = item {
            cuts.insert(u32::from(r.lo));
            cuts.insert(u32::from(r.hi) + 1);
        }
    }
}

/// One value per region `cuts` divide `lo..=hi` into: `prefer` in its own region,
/// the region's first value elsewhere.
fn representatives(cuts: &BTreeSet<u32>, lo: u32, hi: u32, prefer: u32) -> Vec<u32> {
    regions(cuts, lo, hi)
        .into_iter()
        .map(|(a, b)| if (a..=b).contains(&prefer) { prefer } else { a })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_prefer_the_given_value() {
        let cuts = BTreeSet::from([80, 81, 443, 444]);
        assert_eq!(
            representatives(&cuts, 0, 65535, 0),
            vec![0, 80, 81, 443, 444]
        );
        assert_eq!(
            representatives(&cuts, 0, 65535, 40000),
            vec![0, 80, 81, 443, 40000]
        );
    }
}
