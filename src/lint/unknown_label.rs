//! `unknown-label`: a selector mentions a label key that nothing in the inventory
//! carries, most likely a typo; the nearest existing key is suggested.
//!
//! Keys are checked where they are looked up: plain keys against the labels of pods,
//! host endpoints (with their profiles' `labelsToApply`) and network sets; `pcns.*`
//! keys (what a `namespaceSelector` becomes) against namespace labels; the keys of
//! admin policies' namespace, pod and node selectors against namespaces, pods and
//! nodes. Keys Calico sets itself (`projectcalico.org/*`, and `pcsa.*`, since polc
//! does not read ServiceAccounts) are never reported. A plain key that only
//! namespaces or only nodes carry is reported too: a plain selector never sees
//! namespace labels, and selectors see host endpoints, not nodes.
//!
//! A key that only ever appears negated (`!has(k)`, `k != v`, `k not in {..}`, or
//! anywhere in a `notSelector`, which excludes what it matches) is
//! often an opt-out label nothing carries yet; it is reported only when an existing
//! key is close enough to make a typo likely.
//!
//! Each family of keys is checked only when the input lists such objects (pods for
//! plain keys; a declared Namespace for namespace keys), so a repository of policies
//! alone is not flooded with findings. Without pods a plain key may well be a pod
//! label: it is reported only as a near miss of a key the listed host endpoints or
//! network sets carry (`rol` beside `role`), or when only namespaces or nodes carry it.

use std::collections::{BTreeSet, HashSet};

use super::inventory::{CALICO_PREFIX, Inventory, NS_PREFIX, SA_PREFIX};
use super::words::{direction, nearest};
use crate::diag::Diagnostic;
use crate::ir::{AdminPeer, Rule};
use crate::selector::Expr;
use crate::semantics::Direction;
use crate::source::Span;

/// How a selector's keys are looked up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// A Calico selector: plain keys on endpoints, `pcns.*` on namespaces.
    Calico,
    /// Raw keys on namespaces.
    Namespaces,
    /// Raw keys on pods.
    Pods,
    /// Raw keys on nodes.
    Nodes,
}

/// The label keys the inventory holds, by object kind.
struct Keys<'m> {
    endpoints: BTreeSet<&'m str>,
    pods: BTreeSet<&'m str>,
    namespaces: BTreeSet<&'m str>,
    nodes: BTreeSet<&'m str>,
    /// Whether pods, host endpoints or network sets are listed.
    check_endpoints: bool,
    /// Whether pods are listed.
    pods_listed: bool,
    /// Whether a Namespace is declared.
    check_namespaces: bool,
}

impl<'m> Keys<'m> {
    fn new(inv: &Inventory<'_, 'm>) -> Keys<'m> {
        let m = inv.model();
        let pods: BTreeSet<&str> = m
            .pods
            .iter()
            .flat_map(|p| p.labels.keys())
            .map(String::as_str)
            .collect();
        let mut endpoints = pods.clone();
        endpoints.extend(m.host_endpoints.iter().flat_map(|h| {
            h.labels.keys().map(String::as_str).chain(
                h.profiles
                    .iter()
                    .filter_map(|name| m.profiles.iter().find(|p| &p.name == name))
                    .flat_map(|p| p.labels_to_apply.keys().map(String::as_str)),
            )
        }));
        endpoints.extend(
            m.network_sets
                .iter()
                .flat_map(|s| s.labels.keys())
                .map(String::as_str),
        );
        let namespaces = m
            .namespaces
            .iter()
            .flat_map(|n| n.labels.keys())
            .map(String::as_str)
            .collect();
        let nodes = m
            .nodes
            .iter()
            .flat_map(|n| n.labels.keys())
            .map(String::as_str)
            .collect();
        Keys {
            endpoints,
            pods,
            namespaces,
            nodes,
            check_endpoints: !m.pods.is_empty()
                || !m.host_endpoints.is_empty()
                || !m.network_sets.is_empty(),
            pods_listed: !m.pods.is_empty(),
            check_namespaces: m.namespaces.iter().any(|n| n.span.is_some()),
        }
    }
}

/// What is wrong with one key.
enum Problem<'m> {
    /// Nothing carries it.
    Unknown {
        /// What was searched, in words.
        carriers: &'static str,
        /// The nearest existing key.
        nearest: Option<&'m str>,
    },
    /// Only namespaces carry it, but a plain selector cannot see namespace labels.
    NamespaceOnly,
    /// Only nodes carry it, but selectors see host endpoints.
    NodeOnly,
}

fn plain(k: &&str) -> bool {
    !k.starts_with(NS_PREFIX) && !k.starts_with(SA_PREFIX) && !k.starts_with(CALICO_PREFIX)
}

/// The problem with key `key` looked up as `lookup`, and the key as the user wrote it.
fn problem<'m, 'k>(
    keys: &Keys<'m>,
    lookup: Lookup,
    key: &'k str,
) -> Option<(&'k str, Problem<'m>)> {
    if key.starts_with(CALICO_PREFIX) {
        return None;
    }
    let unknown = |raw: &str, set: &BTreeSet<&'m str>, carriers| Problem::Unknown {
        carriers,
        nearest: nearest(raw, set.iter().copied().filter(plain)),
    };
    match lookup {
        Lookup::Calico if key.starts_with(SA_PREFIX) => None,
        Lookup::Calico if key.starts_with(NS_PREFIX) => {
            let raw = &key[NS_PREFIX.len()..];
            (keys.check_namespaces
                && !raw.starts_with(CALICO_PREFIX)
                && !keys.namespaces.contains(raw))
            .then(|| (raw, unknown(raw, &keys.namespaces, "no namespace")))
        }
        Lookup::Calico => {
            let carriers = "no pod, host endpoint or network set";
            if !keys.check_endpoints || keys.endpoints.contains(key) {
                None
            } else if keys.namespaces.contains(key) {
                Some((key, Problem::NamespaceOnly))
            } else if keys.nodes.contains(key) {
                Some((key, Problem::NodeOnly))
            } else if !keys.pods_listed {
                match unknown(key, &keys.endpoints, carriers) {
                    p @ Problem::Unknown {
                        nearest: Some(_), ..
                    } => Some((key, p)),
                    _ => None,
                }
            } else {
                Some((key, unknown(key, &keys.endpoints, carriers)))
            }
        }
        Lookup::Namespaces => (keys.check_namespaces && !keys.namespaces.contains(key))
            .then(|| (key, unknown(key, &keys.namespaces, "no namespace"))),
        Lookup::Pods => (!keys.pods.is_empty() && !keys.pods.contains(key))
            .then(|| (key, unknown(key, &keys.pods, "no pod"))),
        Lookup::Nodes => (!keys.nodes.is_empty() && !keys.nodes.contains(key))
            .then(|| (key, unknown(key, &keys.nodes, "no node"))),
    }
}

/// One selector to check.
struct Site<'m> {
    span: Span,
    what: String,
    expr: &'m Expr,
    lookup: Lookup,
    /// What it selects.
    role: Role,
    /// Whether the selector excludes what it matches (a `notSelector`).
    negated: bool,
}

/// What a selector selects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The endpoints a policy applies to.
    Policy,
    /// The addresses a rule matches (endpoints and network sets).
    Rule,
    /// Anything else (a `notSelector`, an admin policy's selectors).
    Other,
}

fn rule_sites<'m>(rules: &'m [Rule], dir: Direction, owner: &str, out: &mut Vec<Site<'m>>) {
    for (i, r) in rules.iter().enumerate() {
        for (side, e) in [("source", &r.source), ("destination", &r.destination)] {
            for (field, sel) in [("selector", &e.selector), ("notSelector", &e.not_selector)] {
                if let Some(sel) = sel {
                    out.push(Site {
                        span: r.span,
                        what: format!(
                            "the {side} {field} of {} rule {i} of {owner}",
                            direction(dir)
                        ),
                        expr: sel,
                        lookup: Lookup::Calico,
                        role: if field == "selector" {
                            Role::Rule
                        } else {
                            Role::Other
                        },
                        negated: field == "notSelector",
                    });
                }
            }
        }
    }
}

fn admin_sites<'m>(peer: &'m AdminPeer, span: Span, what: &str, out: &mut Vec<Site<'m>>) {
    let mut push = |expr, lookup, part: &str| {
        out.push(Site {
            span,
            what: format!("the {part} selector of {what}"),
            expr,
            lookup,
            role: Role::Other,
            negated: false,
        });
    };
    match peer {
        AdminPeer::Namespaces(namespaces) => push(namespaces, Lookup::Namespaces, "namespace"),
        AdminPeer::Pods { namespaces, pods } => {
            push(namespaces, Lookup::Namespaces, "namespace");
            push(pods, Lookup::Pods, "pod");
        }
        AdminPeer::Nodes(e) => push(e, Lookup::Nodes, "node"),
        AdminPeer::Networks(_) | AdminPeer::DomainNames(_) => {}
    }
}

/// Every selector of the model, with where it is and what it belongs to.
fn sites<'m>(inv: &Inventory<'_, 'm>) -> Vec<Site<'m>> {
    let m = inv.model();
    let mut out = Vec::new();
    // The Network Policy API's policies are checked as written, below.
    for p in m.policies.iter().filter(|p| !p.id.kind.is_policy_api()) {
        let owner = p.id.to_string();
        out.push(Site {
            span: p.span,
            what: format!("the selector of {owner}"),
            expr: &p.selector,
            lookup: Lookup::Calico,
            role: Role::Policy,
            negated: false,
        });
        rule_sites(&p.ingress, Direction::Ingress, &owner, &mut out);
        rule_sites(&p.egress, Direction::Egress, &owner, &mut out);
    }
    for p in m.profiles.iter().filter(|p| !p.builtin) {
        let owner = format!("Profile {}", p.name);
        rule_sites(&p.ingress, Direction::Ingress, &owner, &mut out);
        rule_sites(&p.egress, Direction::Egress, &owner, &mut out);
    }
    for a in &m.admin_policies {
        let owner = format!("{} {}", a.kind.as_str(), a.name);
        admin_sites(
            &a.subject,
            a.span,
            &format!("the subject of {owner}"),
            &mut out,
        );
        for r in a.ingress.iter().chain(&a.egress) {
            for peer in &r.peers {
                admin_sites(
                    peer,
                    r.span,
                    &format!("a peer of rule `{}` of {owner}", r.name),
                    &mut out,
                );
            }
        }
    }
    out
}

/// The keys of an expression, each with whether some occurrence needs the label
/// present for the expression (negated when `negated`) to hold: not under a
/// negation, not `!=`/`not in`. In order of first appearance.
fn keys(e: &Expr, negated: bool) -> Vec<(&str, bool)> {
    fn walk<'e>(e: &'e Expr, positive: bool, out: &mut Vec<(&'e str, bool)>) {
        let mut push = |k: &'e String, p: bool| match out.iter_mut().find(|(x, _)| x == k) {
            Some((_, q)) => *q |= p,
            None => out.push((k, p)),
        };
        match e {
            Expr::All | Expr::Global => {}
            Expr::Has(k)
            | Expr::Eq(k, _)
            | Expr::In(k, _)
            | Expr::Contains(k, _)
            | Expr::StartsWith(k, _)
            | Expr::EndsWith(k, _) => push(k, positive),
            Expr::Ne(k, _) | Expr::NotIn(k, _) => push(k, !positive),
            Expr::Not(inner) => walk(inner, !positive, out),
            Expr::And(es) | Expr::Or(es) => es.iter().for_each(|x| walk(x, positive, out)),
        }
    }
    let mut out = Vec::new();
    walk(e, !negated, &mut out);
    out
}

/// Report unknown keys; returns the addresses of the selectors reported, whose
/// "matches nothing" findings this one explains.
pub(super) fn check(inv: &Inventory<'_, '_>, out: &mut Vec<Diagnostic>) -> HashSet<usize> {
    let known = Keys::new(inv);
    let mut reported = HashSet::new();
    let mut seen: HashSet<(Span, String)> = HashSet::new();
    for site in sites(inv) {
        for (key, required) in keys(site.expr, site.negated) {
            let Some((shown, problem)) = problem(&known, site.lookup, key) else {
                continue;
            };
            if !required
                && !matches!(
                    problem,
                    Problem::Unknown {
                        nearest: Some(_),
                        ..
                    }
                )
            {
                continue;
            }
            if !seen.insert((site.span, shown.to_string())) {
                continue;
            }
            reported.insert(site.expr as *const Expr as usize);
            let what = &site.what;
            let mut d = match problem {
                Problem::Unknown { carriers, nearest } => {
                    let d = Diagnostic::warning(
                        "unknown-label",
                        format!("{carriers} carries label `{shown}`, used in {what}"),
                    )
                    .label(format!("`{shown}` is not a label of the inventory"));
                    match nearest {
                        Some(n) => d.help(format!("did you mean `{n}`?")),
                        None => d.help(
                            "check the spelling (selectors compare label keys exactly), or label the objects it should select",
                        ),
                    }
                }
                Problem::NamespaceOnly => Diagnostic::warning(
                    "unknown-label",
                    format!(
                        "label `{shown}`, used in {what}, is carried only by namespaces, and a plain selector never sees namespace labels"
                    ),
                )
                .label(format!("`{shown}` is a namespace label"))
                .help(format!("match namespaces with `namespaceSelector: has({shown})` (or a comparison on `{shown}`) instead")),
                Problem::NodeOnly => Diagnostic::warning(
                    "unknown-label",
                    format!(
                        "label `{shown}`, used in {what}, is carried only by Nodes, and selectors see host endpoints, not nodes"
                    ),
                )
                .label(format!("`{shown}` is a node label"))
                .help("put the label on the node's HostEndpoint"),
            }
            .at(site.span);
            let matches_nothing = inv.has_endpoints()
                && match site.role {
                    Role::Policy => !inv.selects_endpoint(site.expr),
                    Role::Rule => !inv.selects_holder(site.expr),
                    Role::Other => false,
                };
            if matches_nothing {
                d = d.with_note(format!("as a result, {what} matches nothing"));
            }
            out.push(d);
        }
    }
    reported
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_polarity() {
        let e = crate::selector::parse(
            "a == 'x' && !has(b) && c != 'y' && !(d not in {'z'}) && !has(a)",
        )
        .unwrap();
        assert_eq!(
            keys(&e, false),
            vec![("a", true), ("b", false), ("c", false), ("d", true)]
        );
        let quarantine = crate::selector::parse("has(quarantine)").unwrap();
        assert_eq!(keys(&quarantine, true), vec![("quarantine", false)]);
    }
}
