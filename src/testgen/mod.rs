//! Generated policy repositories, for the benchmarks and for `polc generate`: the
//! same sizes give the same bytes, on every machine and every run (no randomness but
//! a fixed-seed [`mix::Mix`]).
//!
//! Two shapes:
//! - [`classic`]: the benchmarks' original shape ([`LARGE`], [`MATRIX`]), kept byte
//!   for byte so their numbers stay comparable. Its rules shadow one another, so
//!   `polc check` reports errors on it.
//! - [`fleet`]: a host-firewall tier over every node's host endpoint and an apps tier
//!   over many apps, with network sets, Kubernetes NetworkPolicies, namespaces, pods,
//!   nodes and host endpoints, sized by policies, rules per policy, nodes, pods and
//!   apps ([`FLEET_S`], [`FLEET_M`], [`FLEET_L`]). It is valid input: no errors.
//!
//! [`write`] puts a repository into a folder, marking it as generated so that a
//! later run may replace it and nothing else.

pub mod classic;
pub mod fleet;
pub mod mix;
pub mod write;

pub use classic::{LARGE, MATRIX, Size, generate};
pub use fleet::{FLEET_L, FLEET_M, FLEET_S, Fleet};

use crate::source::Sources;

/// What a generated repository holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Files.
    pub files: usize,
    /// Bytes of all files.
    pub bytes: usize,
    /// Policies of every kind.
    pub policies: usize,
    /// Of which in the host-firewall tier.
    pub host_policies: usize,
    /// Rules, as written (a Kubernetes rule with two peers counts once).
    pub rules: usize,
    /// Nodes.
    pub nodes: usize,
    /// Host endpoints.
    pub host_endpoints: usize,
    /// Pods.
    pub pods: usize,
    /// Namespaces.
    pub namespaces: usize,
    /// GlobalNetworkSets and NetworkSets.
    pub network_sets: usize,
    /// Networks listed by the network sets.
    pub set_nets: usize,
}

/// A shape and its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The benchmarks' original shape.
    Classic(Size),
    /// The fleet shape.
    Fleet(Fleet),
}

/// The named presets, in the order `polc generate --help` lists them.
pub const PRESETS: &[(&str, Shape)] = &[
    ("fleet-s", Shape::Fleet(FLEET_S)),
    ("fleet-m", Shape::Fleet(FLEET_M)),
    ("fleet-l", Shape::Fleet(FLEET_L)),
    ("bench-large", Shape::Classic(LARGE)),
    ("bench-matrix", Shape::Classic(MATRIX)),
];

/// The preset of this name.
pub fn preset(name: &str) -> Option<Shape> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

impl Shape {
    /// The repository as `(path, text)` pairs (paths relative, with `/`) and its
    /// counts; an error says which size is out of range.
    pub fn generate(&self) -> Result<(Vec<(String, String)>, Counts), String> {
        match self {
            Shape::Fleet(f) => fleet::generate(f),
            Shape::Classic(size) => {
                if size.namespaces == 0 || size.nodes == 0 || size.replicas == 0 {
                    return Err("namespaces, nodes and replicas must be at least 1".into());
                }
                let files = classic::generate(*size);
                let counts = Counts {
                    files: files.len(),
                    bytes: files.iter().map(|(_, t)| t.len()).sum(),
                    policies: size.policies,
                    rules: size.policies * size.rules_per_policy,
                    nodes: size.nodes,
                    pods: size.pods,
                    namespaces: size.namespaces,
                    ..Counts::default()
                };
                Ok((files, counts))
            }
        }
    }
}

/// Generated files as sources, named by their paths.
pub fn sources(files: &[(String, String)]) -> Sources {
    let mut s = Sources::default();
    for (name, text) in files {
        s.add(name.clone(), text.clone());
    }
    s
}
