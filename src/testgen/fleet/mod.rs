//! The fleet shape, modelled on the generator of issue 14's measurements: a
//! host-firewall tier (a tenth of the policies, each selecting every node's host
//! endpoint) and an apps tier over a number of apps (the other nine tenths: Calico
//! NetworkPolicies and GlobalNetworkPolicies with a mix of selectors, and Kubernetes
//! NetworkPolicies for a fifth of the apps), every rule an Allow of one or two
//! networks (or a network set, or the app's own pods) on one to three ports.
//!
//! Every network is a prefix of a /24 block of its own, so no two networks of the
//! repository overlap: no rule shadows another, and every artifact loads. The input is
//! valid: `polc check` finds no errors and, by design, no warnings.

mod addr;
mod inventory;
mod netsets;
mod policies;
mod rules;

use super::Counts;

/// The sizes of a fleet repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fleet {
    /// Policies: a tenth (rounded up) in the host-firewall tier, the rest app policies.
    pub policies: usize,
    /// Rules per policy (Kubernetes rules have one peer each, so one rule in Calico
    /// form too).
    pub rules: usize,
    /// Nodes, each with one host endpoint.
    pub nodes: usize,
    /// Pods, spread over the apps and the nodes.
    pub pods: usize,
    /// Apps (label `app`), five to a namespace; at most `pods`.
    pub apps: usize,
}

/// The apps when none are given.
pub const DEFAULT_APPS: usize = 50;

/// 100 policies x 10 rules, 20 nodes, 200 pods.
pub const FLEET_S: Fleet = Fleet {
    policies: 100,
    rules: 10,
    nodes: 20,
    pods: 200,
    apps: DEFAULT_APPS,
};

/// 1,000 policies x 10 rules, 200 nodes, 2,000 pods.
pub const FLEET_M: Fleet = Fleet {
    policies: 1_000,
    rules: 10,
    nodes: 200,
    pods: 2_000,
    apps: DEFAULT_APPS,
};

/// 10,000 policies x 10 rules, 2,000 nodes, 20,000 pods.
pub const FLEET_L: Fleet = Fleet {
    policies: 10_000,
    rules: 10,
    nodes: 2_000,
    pods: 20_000,
    apps: DEFAULT_APPS,
};

/// The most rules in all (policies x rules): the address plan's limit.
pub const MAX_RULES: usize = 1_000_000;
/// The most rules per policy.
pub const MAX_RULES_PER_POLICY: usize = 1_000;
/// The most nodes (their addresses come from 172.16.0.0/12).
pub const MAX_NODES: usize = 1_000_000;
/// The most pods (their addresses come from 10.0.0.0/8).
pub const MAX_PODS: usize = 16_000_000;

/// The kind of one policy of the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A GlobalNetworkPolicy of the host-firewall tier.
    Host,
    /// A GlobalNetworkPolicy of the apps tier.
    Global,
    /// A Calico NetworkPolicy of the apps tier.
    Namespaced,
    /// A Kubernetes NetworkPolicy.
    Kubernetes,
}

/// One policy: its kind, its number within its group, and its app.
#[derive(Debug, Clone, Copy)]
struct Policy {
    kind: Kind,
    /// The global policy number.
    index: usize,
    /// The number within the host or the app policies.
    local: usize,
    /// The app it selects (app policies).
    app: usize,
}

impl Fleet {
    /// A usage-level description of what is wrong with these sizes, if anything.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                self.policies >= 1,
                "--policies must be at least 1".to_string(),
            ),
            (self.rules >= 1, "--rules must be at least 1".to_string()),
            (self.nodes >= 1, "--nodes must be at least 1".to_string()),
            (self.apps >= 1, "--apps must be at least 1".to_string()),
            (
                self.pods >= self.apps,
                format!(
                    "--pods ({}) must be at least --apps ({}): every app needs a pod",
                    self.pods, self.apps
                ),
            ),
            (
                self.rules <= MAX_RULES_PER_POLICY,
                format!("--rules must be at most {MAX_RULES_PER_POLICY}"),
            ),
            (
                self.policies.saturating_mul(self.rules) <= MAX_RULES,
                format!("--policies x --rules must be at most {MAX_RULES}"),
            ),
            (
                self.nodes <= MAX_NODES,
                format!("--nodes must be at most {MAX_NODES}"),
            ),
            (
                self.pods <= MAX_PODS,
                format!("--pods must be at most {MAX_PODS}"),
            ),
        ];
        match checks.into_iter().find(|(ok, _)| !ok) {
            Some((_, msg)) => Err(msg),
            None => Ok(()),
        }
    }

    /// The policies of the host-firewall tier: a tenth, rounded up.
    pub fn host_policies(&self) -> usize {
        self.policies.div_ceil(10)
    }

    /// The namespaces: one per five apps.
    pub fn namespaces(&self) -> usize {
        self.apps.div_ceil(5)
    }

    /// The namespace of app `k`: apps 0-4 in `ns-0`, 5-9 in `ns-1`, ...
    fn app_namespace(&self, k: usize) -> usize {
        k / 5
    }

    /// Policy number `i`.
    fn policy(&self, i: usize) -> Policy {
        let hosts = self.host_policies();
        if i < hosts {
            return Policy {
                kind: Kind::Host,
                index: i,
                local: i,
                app: 0,
            };
        }
        let j = i - hosts;
        let app = j % self.apps;
        let kind = if app % 5 == 4 {
            Kind::Kubernetes
        } else if (j / self.apps + app) % 4 == 3 {
            Kind::Global
        } else {
            Kind::Namespaced
        };
        Policy {
            kind,
            index: i,
            local: j,
            app,
        }
    }
}

/// The repository as `(path, text)` pairs (paths use `/`), and what it holds.
pub fn generate(fleet: &Fleet) -> Result<(Vec<(String, String)>, Counts), String> {
    fleet.validate()?;
    let mut counts = Counts::default();
    let mut files = vec![("tiers.yaml".to_string(), policies::tiers())];
    files.extend(policies::files(fleet, &mut counts));
    files.extend(netsets::files(fleet, &mut counts));
    files.extend(inventory::files(fleet, &mut counts));
    counts.files = files.len();
    counts.bytes = files.iter().map(|(_, t)| t.len()).sum();
    Ok((files, counts))
}

/// Split `0..n` items into files of `per` items: `(file number, range)`.
fn chunks(n: usize, per: usize) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> {
    (0..n.div_ceil(per)).map(move |c| (c, c * per..((c + 1) * per).min(n)))
}
