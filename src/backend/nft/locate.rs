//! Where a rendered script enforces what: [`ScriptIndex`], the line of every chain and
//! rule of a rendered script, so a verdict can be traced to the bytes a node loads;
//! the chain names and rule comments it looks for are the builder's
//! (`backend::build::naming`, re-exported here).

use std::collections::HashMap;

pub use crate::backend::build::naming::{
    endpoint_chain_name, policy_chain_name, policy_rule_comment, profile_chain_name, stage_tag,
};

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
