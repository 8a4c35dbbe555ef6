//! The whole-input pass: built-in tiers and profiles, references between objects,
//! the label sets Calico's selectors see, and Calico's evaluation order.

use std::collections::{BTreeMap, BTreeSet};

use super::Lowerer;
use super::calico::{
    NAMESPACE_LABEL, NS_PREFIX, ORCHESTRATOR_LABEL, SA_PREFIX, SERVICE_ACCOUNT_LABEL,
};
use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{
    Action, AdminPolicy, Interface, Model, Namespace, Pod, Policy, Profile, Rule, Selector, Tier,
    TierAction,
};
use crate::selector::Expr;
use crate::source::{SourceId, Sources, Span};

/// Calico's built-in tiers (≥ v3.32): name, order, default action.
pub const BUILTIN_TIERS: &[(&str, f64, TierAction)] = &[
    ("kube-admin", 1_000.0, TierAction::Pass),
    ("default", 1_000_000.0, TierAction::Deny),
    ("kube-baseline", 10_000_000.0, TierAction::Pass),
];

/// The profile Calico's automatic host endpoints use.
pub const DEFAULT_ALLOW_PROFILE: &str = "projectcalico-default-allow";

impl Lowerer {
    /// Run the whole-input checks and build the model.
    pub fn finish(mut self, sources: &Sources) -> (Model, Diagnostics) {
        let mut diags = std::mem::take(&mut self.diags);
        let mut model = Model::default();

        // Tiers.
        let mut tiers = std::mem::take(&mut self.tiers);
        for &(name, order, action) in BUILTIN_TIERS {
            match tiers.iter().find(|t| t.name == name) {
                Some(t) if t.order != Some(order) || t.default_action != action => diags.push(
                    Diagnostic::error(
                        "builtin-tier",
                        format!(
                            "`{name}` is a built-in tier: Calico fixes its order to {order} and its defaultAction to {action:?}"
                        ),
                    )
                    .at_opt(t.span)
                    .help(format!("set `order: {order}` and `defaultAction: {action:?}`, or remove the Tier")),
                ),
                Some(_) => {}
                None => tiers.push(Tier {
                    name: name.to_string(),
                    order: Some(order),
                    default_action: action,
                    builtin: true,
                    span: None,
                }),
            }
        }
        tiers.sort_by(crate::ir::tier_cmp);
        let tier_index: BTreeMap<&str, usize> = tiers
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();

        // Policies: their tier must exist.
        let mut policies = Vec::new();
        for (p, tier_span) in std::mem::take(&mut self.policies) {
            if tier_index.contains_key(p.tier.as_str()) {
                policies.push(p);
            } else {
                diags.push(
                    Diagnostic::error(
                        "unknown-tier",
                        format!("{} names tier `{}`, which is not defined", p.id, p.tier),
                    )
                    .at(tier_span.unwrap_or(p.span))
                    .help(format!(
                        "add a `kind: Tier` named `{}`, or fix the name",
                        p.tier
                    )),
                );
            }
        }
        crate::ir::sort_policies(&tiers, &mut policies);
        model.tiers = tiers.clone();
        model.policies = policies;

        // Namespaces: declared, plus those namespaced objects imply.
        let mut namespaces: BTreeMap<String, Namespace> = std::mem::take(&mut self.namespaces)
            .into_iter()
            .map(|n| (n.name.clone(), n))
            .collect();
        let implied: BTreeSet<String> = self
            .pods
            .iter()
            .map(|p| p.namespace.clone())
            .chain(self.network_sets.iter().filter_map(|n| n.namespace.clone()))
            .chain(model.policies.iter().filter_map(|p| p.id.namespace.clone()))
            .collect();
        for ns in implied {
            namespaces.entry(ns.clone()).or_insert_with(|| Namespace {
                labels: BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.clone())]),
                name: ns,
                span: None,
            });
        }

        // Nodes.
        let mut nodes = std::mem::take(&mut self.nodes);
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let node_names: BTreeSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();

        // Pods, with the labels Calico gives workload endpoints.
        let mut pods = Vec::new();
        for p in std::mem::take(&mut self.pods) {
            if !node_names.is_empty()
                && let Some((node, span)) = &p.node
                && !node_names.contains(node.as_str())
            {
                diags.push(
                    Diagnostic::warning(
                        "unknown-node",
                        format!(
                            "pod {}/{} runs on node `{node}`, which the inventory does not list",
                            p.namespace, p.name
                        ),
                    )
                    .at(*span)
                    .help("add the Node to the inventory, or fix `spec.nodeName`"),
                );
            }
            if p.ips.is_empty() && !p.host_network {
                diags.push(
                    Diagnostic::warning(
                        "pod-without-ip",
                        format!(
                            "pod {}/{} has no `status.podIP`; rules cannot match its address",
                            p.namespace, p.name
                        ),
                    )
                    .at(p.span)
                    .help("add `status: {podIP: ...}` to the inventory"),
                );
            }
            let mut labels = p.labels;
            labels.insert(NAMESPACE_LABEL.into(), p.namespace.clone());
            labels.insert(ORCHESTRATOR_LABEL.into(), "k8s".into());
            if p.service_account.len() < 63 {
                labels.insert(SERVICE_ACCOUNT_LABEL.into(), p.service_account.clone());
            }
            add_namespace_labels(&mut labels, namespaces.get(&p.namespace));
            labels
                .entry(format!("{SA_PREFIX}projectcalico.org/name"))
                .or_insert_with(|| p.service_account.clone());
            pods.push(Pod {
                namespace: p.namespace,
                name: p.name,
                node: p.node.map(|(n, _)| n),
                host_network: p.host_network,
                service_account: p.service_account,
                ips: p.ips,
                ports: p.ports,
                labels,
                span: p.span,
            });
        }
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        super::addresses::duplicate_pod_addresses(&pods, &mut diags);

        // Network sets.
        let mut network_sets = std::mem::take(&mut self.network_sets);
        for n in &mut network_sets {
            if let Some(ns) = &n.namespace {
                n.labels.insert(NAMESPACE_LABEL.into(), ns.clone());
                add_namespace_labels(&mut n.labels, namespaces.get(ns));
            }
        }
        network_sets.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));

        // Profiles, with the built-in default-allow.
        let mut profiles = std::mem::take(&mut self.profiles);
        if !profiles.iter().any(|p| p.name == DEFAULT_ALLOW_PROFILE) {
            profiles.push(default_allow_profile());
        }
        profiles.sort_by(|a, b| a.name.cmp(&b.name));

        // Host endpoints.
        let mut heps = std::mem::take(&mut self.host_endpoints);
        heps.sort_by(|a, b| a.name.cmp(&b.name));
        super::interfaces::resolve_interfaces(&mut heps, &mut diags);
        let mut claimed: BTreeMap<(&str, &Interface), &str> = BTreeMap::new();
        for h in &heps {
            for prof in &h.profiles {
                if !profiles.iter().any(|p| &p.name == prof) {
                    diags.push(
                        Diagnostic::warning(
                            "unknown-profile",
                            format!("host endpoint `{}` names profile `{prof}`, which is not defined: it allows nothing", h.name),
                        )
                        .at(h.span)
                        .help(format!("define the Profile, or use `{DEFAULT_ALLOW_PROFILE}`")),
                    );
                }
            }
            if !node_names.is_empty() && !node_names.contains(h.node.as_str()) {
                diags.push(
                    Diagnostic::warning(
                        "unknown-node",
                        format!(
                            "host endpoint `{}` is on node `{}`, which the inventory does not list",
                            h.name, h.node
                        ),
                    )
                    .at(h.span)
                    .help("add the Node to the inventory, or fix `spec.node`"),
                );
            }
            if h.interface != Interface::ByExpectedIp {
                match claimed.get(&(h.node.as_str(), &h.interface)) {
                    Some(winner) => diags.push(
                        Diagnostic::warning(
                            "shadowed-host-endpoint",
                            format!("host endpoint `{}` governs the same interface as `{winner}` on node `{}`; Calico uses `{winner}` (alphabetically first) and ignores this one", h.name, h.node),
                        )
                        .at(h.span)
                        .help("merge the two host endpoints"),
                    ),
                    None => {
                        claimed.insert((h.node.as_str(), &h.interface), h.name.as_str());
                    }
                }
            }
        }

        // Felix settings.
        let mut ip_pools = std::mem::take(&mut self.ip_pools);
        ip_pools.sort_by(|a, b| a.name.cmp(&b.name));
        let felix = super::felix::config(
            std::mem::take(&mut self.felix),
            &nodes,
            &ip_pools,
            &mut diags,
        );

        let mut admin = std::mem::take(&mut self.admin_policies);
        admin.sort_by(|a, b| {
            (a.tier as u8, a.priority, &a.name, a.kind.as_str()).cmp(&(
                b.tier as u8,
                b.priority,
                &b.name,
                b.kind.as_str(),
            ))
        });
        for w in admin.windows(2) {
            if w[0].tier == w[1].tier && w[0].priority.is_some() && w[0].priority == w[1].priority {
                diags.push(ambiguous_priority(&w[0], &w[1]));
            }
        }
        let _ = sources;
        intern_selectors(&mut model.policies, &mut profiles);

        model.profiles = profiles;
        model.host_endpoints = heps;
        model.network_sets = network_sets;
        model.admin_policies = admin;
        model.namespaces = namespaces.into_values().collect();
        model.pods = pods;
        model.nodes = nodes;
        model.felix = felix;
        model.ip_pools = ip_pools;
        (model, diags)
    }
}

/// Make equal selectors share one allocation, so their address identifies them.
fn intern_selectors(policies: &mut [Policy], profiles: &mut [Profile]) {
    let mut table: rustc_hash::FxHashMap<Expr, Selector> = rustc_hash::FxHashMap::default();
    let mut intern = |s: &mut Selector| {
        let canonical = table.entry((**s).clone()).or_insert_with(|| s.clone());
        *s = canonical.clone();
    };
    let rules = |rules: &mut Vec<Rule>, intern: &mut dyn FnMut(&mut Selector)| {
        for r in rules {
            for e in [&mut r.source, &mut r.destination] {
                e.selector
                    .iter_mut()
                    .chain(e.not_selector.iter_mut())
                    .for_each(&mut *intern);
            }
        }
    };
    for p in policies.iter_mut() {
        intern(&mut p.selector);
        rules(&mut p.ingress, &mut intern);
        rules(&mut p.egress, &mut intern);
    }
    for p in profiles.iter_mut() {
        rules(&mut p.ingress, &mut intern);
        rules(&mut p.egress, &mut intern);
    }
}

/// Add a namespace's labels as `pcns.*` (and `pcns.projectcalico.org/name`), the way
/// Calico's `kns.<namespace>` profile passes them on; an endpoint's own labels win.
fn add_namespace_labels(labels: &mut BTreeMap<String, String>, ns: Option<&Namespace>) {
    let Some(ns) = ns else { return };
    for (k, v) in &ns.labels {
        labels
            .entry(format!("{NS_PREFIX}{k}"))
            .or_insert_with(|| v.clone());
    }
    labels
        .entry(format!("{NS_PREFIX}projectcalico.org/name"))
        .or_insert_with(|| ns.name.clone());
}

fn default_allow_profile() -> Profile {
    let allow = Rule::match_all(Action::Allow, Span::new(SourceId::BUILTIN, 0, 0));
    Profile {
        name: DEFAULT_ALLOW_PROFILE.into(),
        ingress: vec![allow.clone()],
        egress: vec![allow],
        labels_to_apply: BTreeMap::new(),
        builtin: true,
        span: None,
    }
}

/// Two policies of one API tier at one priority: the API leaves their order undefined.
fn ambiguous_priority(a: &AdminPolicy, b: &AdminPolicy) -> Diagnostic {
    let (ka, kb) = (a.kind.as_str(), b.kind.as_str());
    let pair = if ka == kb {
        // Every API kind's name ends in `Policy`.
        let plural = ka.strip_suffix("Policy").unwrap_or(ka);
        format!("{plural}Policies `{}` and `{}`", a.name, b.name)
    } else {
        format!("{ka} `{}` and {kb} `{}`", a.name, b.name)
    };
    Diagnostic::warning(
        "ambiguous-priority",
        format!(
            "{pair} share priority {}; their relative order is undefined",
            a.priority.unwrap_or_default()
        ),
    )
    .at(b.span)
    .help("give each policy of a tier a distinct priority")
}
