//! The tiers and the policies of a fleet repository: `host-firewall/policies-NNN.yaml`
//! and `apps/policies-NNN.yaml`, 100 policies a file.

use std::fmt::Write;

use super::{Fleet, Kind, Policy, chunks, rules};
use crate::testgen::Counts;
use crate::testgen::mix::Mix;

/// Policies per file.
const PER_FILE: usize = 100;
/// The stream kind of policies (see [`Mix::for_item`]).
const POLICY_STREAM: u64 = 1;

/// The two tiers: the host firewall first, then the apps; both deny what they do not
/// allow.
pub fn tiers() -> String {
    let mut out = String::new();
    for (name, order) in [("host-firewall", 100), ("apps", 200)] {
        let _ = writeln!(
            out,
            "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: {name}\nspec:\n  order: {order}\n  defaultAction: Deny\n---"
        );
    }
    out
}

/// The policy files.
pub fn files(fleet: &Fleet, counts: &mut Counts) -> Vec<(String, String)> {
    let hosts = fleet.host_policies();
    let mut files = Vec::new();
    for (c, range) in chunks(hosts, PER_FILE) {
        let text = range.map(|i| policy(fleet, i, counts)).collect();
        files.push((format!("host-firewall/policies-{c:03}.yaml"), text));
    }
    for (c, range) in chunks(fleet.policies - hosts, PER_FILE) {
        let text = range.map(|j| policy(fleet, hosts + j, counts)).collect();
        files.push((format!("apps/policies-{c:03}.yaml"), text));
    }
    files
}

/// Policy number `i`, as one YAML document.
fn policy(fleet: &Fleet, i: usize, counts: &mut Counts) -> String {
    let p = fleet.policy(i);
    let mut mix = Mix::for_item(POLICY_STREAM, i);
    let mut out = String::new();
    match p.kind {
        Kind::Host => host(&mut out, fleet, &p, &mut mix),
        Kind::Kubernetes => kubernetes(&mut out, fleet, &p, &mut mix),
        Kind::Global | Kind::Namespaced => app(&mut out, fleet, &p, &mut mix),
    }
    out.push_str("---\n");
    counts.policies += 1;
    counts.rules += fleet.rules;
    if p.kind == Kind::Host {
        counts.host_policies += 1;
    }
    out
}

/// A host-firewall policy: every node's host endpoint, the first half of its rules
/// ingress (rounded up), the rest egress.
fn host(out: &mut String, fleet: &Fleet, p: &Policy, mix: &mut Mix) {
    let selector = match mix.below(3) {
        0 => "role == 'node'",
        1 => "role == 'node' && zone in {'z0', 'z1', 'z2'}",
        _ => "has(role) && role == 'node'",
    };
    let _ = writeln!(
        out,
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: host-fw-{:05}\n  labels:\n    owner: platform\nspec:\n  tier: host-firewall\n  order: {}\n  selector: {selector}\n  types: [Ingress, Egress]",
        p.local,
        10 * (p.local + 1)
    );
    let ingress = fleet.rules - fleet.rules / 2;
    let first = p.index * fleet.rules;
    out.push_str("  ingress:\n");
    for g in first..first + ingress {
        rules::calico(out, fleet, p, g, false);
    }
    if ingress < fleet.rules {
        out.push_str("  egress:\n");
        for g in first + ingress..first + fleet.rules {
            rules::calico(out, fleet, p, g, true);
        }
    }
}

/// The selector of a Calico app policy for app `k`.
fn app_selector(k: usize, mix: &mut Mix) -> String {
    match mix.below(5) {
        0 => format!("app == 'app-{k}'"),
        1 => format!("app == 'app-{k}' && tier == '{}'", tier(k)),
        2 => format!("app == 'app-{k}' && version in {{'v1', 'v2'}}"),
        3 => format!("app == 'app-{k}' && !has(debug)"),
        _ => format!("app in {{'app-{k}'}}"),
    }
}

/// The `tier` label of app `k`'s pods.
pub fn tier(k: usize) -> &'static str {
    if k.is_multiple_of(2) { "front" } else { "back" }
}

/// A Calico app policy of the apps tier, ingress only: a NetworkPolicy in its app's
/// namespace, or a GlobalNetworkPolicy scoped to it by a namespaceSelector.
fn app(out: &mut String, fleet: &Fleet, p: &Policy, mix: &mut Mix) {
    let ns = fleet.app_namespace(p.app);
    let selector = app_selector(p.app, mix);
    let (kind, name, scope) = match p.kind {
        Kind::Global => (
            "GlobalNetworkPolicy",
            format!("gnp-{:05}", p.local),
            format!("  namespaceSelector: team == 't{ns}'\n"),
        ),
        _ => (
            "NetworkPolicy",
            format!("np-{:05}\n  namespace: ns-{ns}", p.local),
            String::new(),
        ),
    };
    let _ = write!(
        out,
        "apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata:\n  name: {name}\n  labels:\n    app: app-{}\nspec:\n  tier: apps\n  order: {}\n  selector: {selector}\n{scope}  types: [Ingress]\n  ingress:\n",
        p.app,
        100 + p.local
    );
    let first = p.index * fleet.rules;
    for g in first..first + fleet.rules {
        rules::calico(out, fleet, p, g, false);
    }
}

/// A Kubernetes NetworkPolicy (ingress) for one app.
fn kubernetes(out: &mut String, fleet: &Fleet, p: &Policy, mix: &mut Mix) {
    let ns = fleet.app_namespace(p.app);
    let pods = if mix.chance(1, 2) {
        format!("    matchLabels:\n      app: app-{}", p.app)
    } else {
        format!(
            "    matchExpressions:\n      - key: app\n        operator: In\n        values: [app-{}]",
            p.app
        )
    };
    let _ = writeln!(
        out,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: knp-{:05}\n  namespace: ns-{ns}\nspec:\n  podSelector:\n{pods}\n  policyTypes: [Ingress]\n  ingress:",
        p.local
    );
    let first = p.index * fleet.rules;
    for g in first..first + fleet.rules {
        rules::kubernetes(out, p, g);
    }
}
