//! The address plan: nodes in 172.16.0.0/12, pods in 10.0.0.0/8, and every network a
//! rule or a network set names a prefix of a /24 block of its own from 20.0.0.0 up,
//! so that no two networks of the repository overlap (and none holds a pod or a
//! node).

use super::Fleet;
use crate::testgen::mix::Mix;

/// The first /24 block of the rules' and network sets' networks: 20.0.0.0.
const NET_BASE: u64 = 0x1400_0000;
/// Nodes: 172.16.0.0/12.
const NODE_BASE: u64 = 0xac10_0000;
/// Pods: 10.0.0.0/8.
const POD_BASE: u64 = 0x0a00_0000;

/// The most networks of one rule.
pub const RULE_NETS: usize = 2;
/// The most networks of one network set.
pub const SET_NETS: usize = 40;

fn dotted(a: u64) -> String {
    format!(
        "{}.{}.{}.{}",
        (a >> 24) & 255,
        (a >> 16) & 255,
        (a >> 8) & 255,
        a & 255
    )
}

/// A network at the start of block `block`, of a prefix length from /24 to /32.
pub fn net(block: usize, mix: &mut Mix) -> String {
    const LENGTHS: [u8; 8] = [24, 24, 25, 26, 27, 28, 29, 32];
    let len = LENGTHS[mix.below(LENGTHS.len())];
    format!("{}/{len}", dotted(NET_BASE + 256 * block as u64))
}

/// Block `block` as a /24 and the /28 at its middle (an ipBlock with an `except`).
pub fn net_with_hole(block: usize) -> (String, String) {
    let a = NET_BASE + 256 * block as u64;
    (
        format!("{}/24", dotted(a)),
        format!("{}/28", dotted(a + 128)),
    )
}

/// The block of network `c` of rule number `g`.
pub fn rule_block(g: usize, c: usize) -> usize {
    RULE_NETS * g + c
}

/// The block of network `c` of network set `s`: after every rule's blocks.
pub fn set_block(fleet: &Fleet, s: usize, c: usize) -> usize {
    RULE_NETS * fleet.policies * fleet.rules + SET_NETS * s + c
}

/// The address of node `n`.
pub fn node_ip(n: usize) -> String {
    dotted(NODE_BASE + 1 + n as u64)
}

/// The address of pod `p`.
pub fn pod_ip(p: usize) -> String {
    dotted(POD_BASE + 1 + p as u64)
}
