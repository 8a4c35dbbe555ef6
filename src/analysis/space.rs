//! The address half of the packet space, cut into *classes*: two addresses of a
//! class are held by the same label sets, lie in the same CIDRs of every rule,
//! failsafe entry and network set, and belong to endpoints with the same named
//! ports, so no rule and no failsafe entry can tell them apart. One representative
//! address per class decides the whole class.
//!
//! Classes are the elementary intervals drawn by every CIDR boundary (minus the
//! endpoint addresses inside them), plus one class per distinct endpoint address.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use fixedbitset::FixedBitSet;
use ipnet::IpNet;

use crate::ir::{EntityMatch, IpVersion, NamedPort};
use crate::semantics::{EndpointKind, Engine, LabelSetId, Side, family};

/// One class of addresses.
#[derive(Debug, Clone)]
pub struct Class {
    /// A representative address.
    pub ip: IpAddr,
    /// Label sets holding the addresses (pods, host endpoints, network sets).
    pub holders: Vec<LabelSetId>,
    /// Named ports of the endpoint owning the addresses.
    pub ports: Vec<NamedPort>,
    /// The first endpoint (universe index) owning an address of the class.
    pub owner: Option<usize>,
    /// The labels of the endpoint whose `ports` these are (named ports count for a
    /// rule only when it matches the rule's selector).
    pub owner_labels: Option<LabelSetId>,
}

/// The classes of one IP family.
#[derive(Debug, Default)]
pub struct FamilySpace {
    /// The classes, in address order of their representatives.
    pub classes: Vec<Class>,
    /// Distinct named-port lists, with the labels of the endpoints owning them (so
    /// that a group's ports count for a rule all or none); `port_group[c]` indexes it.
    pub port_lists: Vec<Vec<NamedPort>>,
    /// The owners' labels of each entry of `port_lists` (none when it is empty).
    pub port_owners: Vec<Option<LabelSetId>>,
    /// The named-port list of each class.
    pub port_group: Vec<usize>,
    /// Class of every endpoint address.
    pub of_ip: HashMap<IpAddr, usize>,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v: u128, f: IpVersion) -> IpAddr {
    match f {
        IpVersion::V4 => IpAddr::V4(Ipv4Addr::from(v as u32)),
        IpVersion::V6 => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// A free address of `lo..=hi` that reads as an example: a documentation address
/// (RFC 5737, RFC 3849) when the interval has one, else one past the unroutable
/// start of the space (`0.0.0.0/8`, `::/3`) ending in 7 or 1, so that a witness never
/// shows `0.0.0.0` or a network address unless the interval is only that.
fn example(lo: u128, hi: u128, f: IpVersion, owned: &[(u128, usize)]) -> Option<u128> {
    let (docs, floor): (&[&str], u128) = match f {
        IpVersion::V4 => (
            &["203.0.113.7", "198.51.100.7", "192.0.2.7"],
            to_u128("1.0.0.0".parse().expect("a literal address")),
        ),
        IpVersion::V6 => (
            &["2001:db8::7"],
            to_u128("2000::".parse().expect("a literal address")),
        ),
    };
    let base = if lo < floor && floor <= hi { floor } else { lo };
    let free =
        |v: &u128| (lo..=hi).contains(v) && owned.binary_search_by_key(v, |(o, _)| *o).is_err();
    docs.iter()
        .map(|s| to_u128(s.parse().expect("a literal address")))
        .chain([base.saturating_add(7), base.saturating_add(1)])
        .find(free)
}

fn net_bounds(n: &IpNet) -> (u128, u128) {
    (to_u128(n.network()), to_u128(n.broadcast()))
}

/// Addresses that stand for every address of `net`: each address an endpoint (pod,
/// host endpoint, node) holds inside it, and one free address per elementary interval
/// that the model's CIDR boundaries cut `net` into. No rule, failsafe entry or network
/// set can tell two free addresses of one interval apart, so a claim that holds for
/// these holds for every address of `net`. Sorted, without duplicates.
pub fn representatives(engine: &Engine<'_>, net: IpNet) -> Vec<IpAddr> {
    let f = family(net.addr());
    let (lo, hi) = net_bounds(&net);
    let mut cuts: BTreeSet<u128> = BTreeSet::from([lo]);
    for n in engine.model.cidrs() {
        if family(n.addr()) != f {
            continue;
        }
        let (a, b) = net_bounds(&n);
        for c in [Some(a), b.checked_add(1)].into_iter().flatten() {
            if lo < c && c <= hi {
                cuts.insert(c);
            }
        }
    }
    let mut owned: Vec<(u128, usize)> = Vec::new();
    for (i, ep) in engine.universe.endpoints.iter().enumerate() {
        for ip in ep.ips.iter().filter(|ip| family(**ip) == f) {
            let v = to_u128(*ip);
            if (lo..=hi).contains(&v) {
                owned.push((v, i));
            }
        }
    }
    owned.sort_unstable();
    owned.dedup_by_key(|(v, _)| *v);
    let cuts: Vec<u128> = cuts.into_iter().collect();
    let mut out: Vec<u128> = owned.iter().map(|(v, _)| *v).collect();
    for (i, &a) in cuts.iter().enumerate() {
        let b = cuts.get(i + 1).map_or(hi, |c| c - 1);
        let free = example(a, b, f, &owned).or_else(|| {
            // The first address of the interval no endpoint holds.
            let mut v = a;
            let mut k = owned.partition_point(|(o, _)| *o < a);
            while k < owned.len() && owned[k].0 == v && v < b {
                v += 1;
                k += 1;
            }
            (k >= owned.len() || owned[k].0 != v).then_some(v)
        });
        out.extend(free);
    }
    out.sort_unstable();
    out.dedup();
    out.into_iter().map(|v| from_u128(v, f)).collect()
}

impl FamilySpace {
    /// The classes of family `f`.
    pub fn new(engine: &Engine<'_>, f: IpVersion) -> FamilySpace {
        let max = match f {
            IpVersion::V4 => u128::from(u32::MAX),
            IpVersion::V6 => u128::MAX,
        };
        let mut cuts: BTreeSet<u128> = BTreeSet::from([0]);
        for n in engine.model.cidrs() {
            if family(n.addr()) != f {
                continue;
            }
            let (lo, hi) = net_bounds(&n);
            cuts.insert(lo);
            if hi < max {
                cuts.insert(hi + 1);
            }
        }
        let cuts: Vec<u128> = cuts.into_iter().collect();
        let interval = |v: u128| cuts.partition_point(|&c| c <= v) - 1;

        // Endpoint addresses of this family, with their owners.
        let mut owned: Vec<(u128, usize)> = Vec::new();
        for (i, ep) in engine.universe.endpoints.iter().enumerate() {
            if !matches!(ep.kind, EndpointKind::Pod | EndpointKind::Host) {
                continue;
            }
            for ip in ep.ips.iter().filter(|ip| family(**ip) == f) {
                owned.push((to_u128(*ip), i));
            }
        }
        owned.sort_unstable();
        owned.dedup_by_key(|(v, _)| *v);

        let mut space = FamilySpace::default();
        let mut keys: HashMap<(usize, Vec<LabelSetId>, usize), usize> = HashMap::new();
        let mut lists: HashMap<(Vec<NamedPort>, Option<LabelSetId>), usize> = HashMap::new();
        let mut add = |space: &mut FamilySpace, v: u128, owner: Option<usize>| -> usize {
            let ip = from_u128(v, f);
            let holders = engine.universe.holders(ip);
            let ports = owner
                .map(|o| engine.universe.endpoints[o].ports.clone())
                .unwrap_or_default();
            let owner_labels = owner.map(|o| engine.universe.endpoints[o].labels);
            let group_owner = owner_labels.filter(|_| !ports.is_empty());
            let group = *lists
                .entry((ports.clone(), group_owner))
                .or_insert_with(|| {
                    space.port_lists.push(ports.clone());
                    space.port_owners.push(group_owner);
                    space.port_lists.len() - 1
                });
            let key = (interval(v), holders.clone(), group);
            *keys.entry(key).or_insert_with(|| {
                space.classes.push(Class {
                    ip,
                    holders,
                    ports,
                    owner,
                    owner_labels,
                });
                space.port_group.push(group);
                space.classes.len() - 1
            })
        };
        // Endpoint addresses first: the sweep takes the lowest class as its witness,
        // so a witness is a concrete endpoint whenever one fits.
        for &(v, owner) in &owned {
            let c = add(&mut space, v, Some(owner));
            space.of_ip.insert(from_u128(v, f), c);
        }
        // Free addresses: per interval, an address no endpoint owns.
        for (i, &lo) in cuts.iter().enumerate() {
            let hi = cuts.get(i + 1).map_or(max, |c| c - 1);
            if let Some(v) = example(lo, hi, f, &owned) {
                add(&mut space, v, None);
                continue;
            }
            let mut v = lo;
            let mut k = owned.partition_point(|(o, _)| *o < lo);
            while k < owned.len() && owned[k].0 == v && v < hi {
                v += 1;
                k += 1;
            }
            if k < owned.len() && owned[k].0 == v {
                continue; // every address of the interval is an endpoint's
            }
            add(&mut space, v, None);
        }
        space
    }

    /// The classes an entity's address criteria (nets, selectors) match, with the
    /// rule's IP version.
    pub fn entity_bits(&self, engine: &Engine<'_>, e: &EntityMatch) -> FixedBitSet {
        let mut bits = FixedBitSet::with_capacity(self.classes.len());
        for (i, c) in self.classes.iter().enumerate() {
            let side = Side {
                ip: c.ip,
                holders: &c.holders,
                ports: &c.ports,
                owner: c.owner_labels,
            };
            if crate::semantics::entity_addresses(e, &side, engine) {
                bits.insert(i);
            }
        }
        bits
    }
}
