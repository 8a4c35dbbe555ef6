//! The network sets of a fleet repository (`network-sets/sets-NNN.yaml`, 100 sets a
//! file): set `s` is the one rule number `20 s + 7` names, a GlobalNetworkSet when
//! that rule's policy is global, a NetworkSet of the policy's namespace when it is a
//! Calico NetworkPolicy (Kubernetes policies name no sets), each of 8 to 40 networks.

use std::fmt::Write;

use super::addr::{self, SET_NETS};
use super::{Fleet, Kind, chunks, rules};
use crate::testgen::Counts;
use crate::testgen::mix::Mix;

/// Sets per file.
const PER_FILE: usize = 100;
/// The stream kind of network sets (see [`Mix::for_item`]).
const SET_STREAM: u64 = 3;

/// The network set files.
pub fn files(fleet: &Fleet, counts: &mut Counts) -> Vec<(String, String)> {
    let total = fleet.policies * fleet.rules;
    // Sets are numbered by the rules g = 20 s + 7 below `total`.
    let sets = (total + 12) / 20;
    let mut files = Vec::new();
    for (c, range) in chunks(sets, PER_FILE) {
        let mut text = String::new();
        for s in range {
            set(&mut text, fleet, s, counts);
        }
        if !text.is_empty() {
            files.push((format!("network-sets/sets-{c:03}.yaml"), text));
        }
    }
    files
}

/// Network set `s`, if its rule names one.
fn set(out: &mut String, fleet: &Fleet, s: usize, counts: &mut Counts) {
    let g = 20 * s + 7;
    let p = fleet.policy(g / fleet.rules);
    if rules::class(p.kind, g) != rules::Class::NetSet(s) {
        return;
    }
    let name = rules::set_name(p.kind, s);
    let (kind, namespace) = match p.kind {
        Kind::Namespaced => (
            "NetworkSet",
            format!("\n  namespace: ns-{}", fleet.app_namespace(p.app)),
        ),
        _ => ("GlobalNetworkSet", String::new()),
    };
    let mut mix = Mix::for_item(SET_STREAM, s);
    let n = mix.between(8, SET_NETS);
    let _ = writeln!(
        out,
        "apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata:\n  name: {name}{namespace}\n  labels:\n    netset: {name}\nspec:\n  nets:"
    );
    for c in 0..n {
        let _ = writeln!(
            out,
            "    - {}",
            addr::net(addr::set_block(fleet, s, c), &mut mix)
        );
    }
    out.push_str("---\n");
    counts.network_sets += 1;
    counts.set_nets += n;
}
