//! Words the lints share: counted nouns, short name lists, what traffic a rule
//! matches, which rule of which policy, and the nearest existing label key.

use crate::ir::{Policy, PortMatch, Rule};
use crate::semantics::Direction;

/// How many names a list shows before "and N more".
pub(super) const SHOWN: usize = 3;

/// `1 pod`, `2 pods`.
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a, b, c and 2 more` (the names as given, at most [`SHOWN`] of them).
pub(super) fn names<S: AsRef<str>>(all: &[S]) -> String {
    let shown: Vec<&str> = all.iter().take(SHOWN).map(AsRef::as_ref).collect();
    let mut s = shown.join(", ");
    if all.len() > SHOWN {
        s += &format!(" and {} more", all.len() - SHOWN);
    }
    s
}

/// `ingress` or `egress`.
pub(super) fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

/// `ingress rule 0 of GlobalNetworkPolicy x` (0-based, as `polc explain` counts).
pub(super) fn rule_of(policy: &Policy, dir: Direction, index: usize) -> String {
    let rules = if dir == Direction::Ingress {
        &policy.ingress
    } else {
        &policy.egress
    };
    let rule = rules
        .get(index)
        .map_or_else(|| format!("rule {index}"), |r| r.title(index));
    format!("{} {rule} of {}", direction(dir), policy.title())
}

fn port_items(items: &[PortMatch]) -> String {
    items
        .iter()
        .map(|p| match p {
            PortMatch::Range(r) => r.to_string(),
            PortMatch::Named(n) => n.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What traffic a rule matches by protocol and destination port: `any protocol and
/// port`, `TCP (any port)`, `TCP ports 22, 80-90`, `ICMP type 8`, ...
pub(super) fn traffic(rule: &Rule) -> String {
    let ports = &rule.destination.ports;
    let plural = if ports.len() == 1 && matches!(&ports[0], PortMatch::Range(r) if r.lo == r.hi)
        || matches!(ports.as_slice(), [PortMatch::Named(_)])
    {
        "port"
    } else {
        "ports"
    };
    let mut s = match (rule.protocol, ports.is_empty()) {
        (None, true) => match rule.not_protocol {
            Some(np) => format!("any protocol but {np}"),
            None => "any protocol and port".to_string(),
        },
        (None, false) => format!("named {plural} {}", port_items(ports)),
        (Some(p), true) if p.has_ports() => format!("{p} (any port)"),
        (Some(p), true) => p.to_string(),
        (Some(p), false) => format!("{p} {plural} {}", port_items(ports)),
    };
    if !rule.destination.not_ports.is_empty() {
        s += &format!(" except {}", port_items(&rule.destination.not_ports));
    }
    if let Some(m) = rule.icmp {
        s += &format!(" type {}", m.type_);
        if let Some(c) = m.code {
            s += &format!(" code {c}");
        }
    }
    s
}

/// The candidate nearest to `word` if it is close enough to be a likely typo.
pub(super) fn nearest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| {
            let max = if c.len() <= 4 { 1 } else { 2.max(c.len() / 5) };
            *d <= max && *d < c.len()
        })
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_after_three() {
        assert_eq!(names(&["a"]), "a");
        assert_eq!(names(&["a", "b", "c"]), "a, b, c");
        assert_eq!(names(&["a", "b", "c", "d", "e"]), "a, b, c and 2 more");
    }

    #[test]
    fn nearest_finds_typos_only() {
        let keys = ["app", "role", "k8s-app"];
        assert_eq!(nearest("aap", keys.iter().copied()), Some("app"));
        assert_eq!(nearest("rloe", keys.iter().copied()), Some("role"));
        assert_eq!(nearest("zone", keys.iter().copied()), None);
    }
}
