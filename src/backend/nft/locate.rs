//! Where a rendered script enforces what: the names the builder gives endpoint,
//! policy and profile chains and the comments it gives policy rules (one definition,
//! used by the builder and by `polc explain --target nft`), and [`ScriptIndex`], the
//! line of every chain and rule of a rendered script, so a verdict can be traced to
//! the bytes a node loads.

use std::collections::HashMap;

use super::dir_tag;
use super::kind_short;
use crate::backend::names::{comment, ident};
use crate::ir::Policy;
use crate::semantics::{Direction, Endpoint, EndpointKind, Stage};
use crate::source::Sources;

/// The tag of a stage and direction in endpoint chain names and comments.
pub fn stage_tag(stage: Stage, dir: Direction) -> String {
    match (stage, dir) {
        (Stage::Normal, d) => dir_tag(d).to_string(),
        (Stage::Forward, d) => format!("fwd-{}", dir_tag(d)),
        (Stage::PreDnat, _) => "pre-in".to_string(),
        (Stage::Untracked, d) => format!("raw-{}", dir_tag(d)),
    }
}

/// The chain of one endpoint, stage and direction (`wl.NS.POD.TAG`, `hep.NAME.TAG`).
pub fn endpoint_chain_name(e: &Endpoint, stage: Stage, dir: Direction) -> String {
    let tag = stage_tag(stage, dir);
    match e.kind {
        EndpointKind::Pod => {
            let (ns, pod) = e.name.split_once('/').unwrap_or(("", &e.name));
            ident(&["wl", ns, pod, &tag])
        }
        _ => ident(&["hep", e.name.trim_start_matches("host/"), &tag]),
    }
}

/// The chain of one policy's rules in one direction (`pol.KIND.[NS.]NAME.DIR`).
pub fn policy_chain_name(policy: &Policy, dir: Direction) -> String {
    let kind = kind_short(policy.id.kind);
    match policy.id.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        None => ident(&["pol", kind, &policy.id.name, dir_tag(dir)]),
        Some(ns) => ident(&["pol", kind, ns, &policy.id.name, dir_tag(dir)]),
    }
}

/// The chain of one profile's rules in one direction (`prof.NAME.DIR`).
pub fn profile_chain_name(name: &str, dir: Direction) -> String {
    ident(&["prof", name, dir_tag(dir)])
}

/// The comment of every nft line of a policy's rule: the policy, direction, index,
/// the rule's `path:line:col` relative to the repository root and, for a converted
/// rule, the rule as written.
pub fn policy_rule_comment(
    sources: &Sources,
    policy: &Policy,
    dir: Direction,
    index: usize,
) -> String {
    let rules = if dir == Direction::Ingress {
        &policy.ingress
    } else {
        &policy.egress
    };
    let at = rules
        .get(index)
        .map(|r| sources.locate_in_repo(r.span).to_string())
        .unwrap_or_default();
    // A converted rule also names the rule as written (after the location, so a
    // long name is what a cut shortens).
    let written = rules
        .get(index)
        .and_then(|r| r.written.as_ref())
        .map(|w| format!(" (written rule {} {})", w.index, w.name))
        .unwrap_or_default();
    comment(
        &format!("{} {} rule {index} {at}{written}", policy.id, dir_tag(dir)),
        128,
    )
}

/// One rule line of a chain: its 1-based line, its text and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLine {
    /// 1-based line in the script.
    pub line: usize,
    /// The rule, without its comment.
    pub text: String,
    /// The comment's text.
    pub comment: String,
}

/// The chains of a rendered script, by name: the line of `chain NAME {` and its
/// rules in order.
#[derive(Debug, Default)]
pub struct ScriptIndex {
    chains: HashMap<String, (usize, Vec<RuleLine>)>,
}

impl ScriptIndex {
    /// Index a rendered script (laid out as `templates/nft/polc.nft` lays it out: one
    /// `chain NAME {` line, a rule per line, each with its `comment "..."`, `}`).
    pub fn of(script: &str) -> ScriptIndex {
        let mut chains = HashMap::new();
        let mut open: Option<(String, usize, Vec<RuleLine>)> = None;
        for (i, raw) in script.lines().enumerate() {
            let line = raw.trim();
            if let Some(rest) = line.strip_prefix("chain ")
                && let Some(name) = rest.strip_suffix(" {")
            {
                open = Some((name.to_string(), i + 1, Vec::new()));
            } else if line == "}" {
                if let Some((name, at, rules)) = open.take() {
                    chains.insert(name, (at, rules));
                }
            } else if let Some((_, _, rules)) = open.as_mut()
                && let Some((text, c)) = line.rsplit_once(" comment \"")
            {
                rules.push(RuleLine {
                    line: i + 1,
                    text: text.to_string(),
                    comment: c.strip_suffix('"').unwrap_or(c).to_string(),
                });
            }
        }
        ScriptIndex { chains }
    }

    /// The 1-based line of `chain NAME {`.
    pub fn chain(&self, name: &str) -> Option<usize> {
        self.chains.get(name).map(|(line, _)| *line)
    }

    /// The first rule of chain `name` whose comment satisfies `pred`.
    pub fn rule(&self, name: &str, pred: impl Fn(&str) -> bool) -> Option<&RuleLine> {
        self.chains
            .get(name)
            .and_then(|(_, rules)| rules.iter().find(|r| pred(&r.comment)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_finds_chains_and_rules_by_line() {
        let script = "table inet polc {\n\t# c\n\tchain a.b {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tjump x comment \"to x\"\n\t\taccept comment \"say \"hi\"\"\n\t}\n}\n";
        let index = ScriptIndex::of(script);
        assert_eq!(index.chain("a.b"), Some(3));
        assert_eq!(index.chain("x"), None);
        let r = index.rule("a.b", |c| c == "to x").unwrap();
        assert_eq!((r.line, r.text.as_str()), (5, "jump x"));
        assert_eq!(index.rule("a.b", |c| c.starts_with("say")).unwrap().line, 6);
        assert!(index.rule("a.b", |c| c == "none").is_none());
    }
}
