//! The selector AST, its evaluation against a label set, and its canonical text.
//!
//! Semantics follow Calico's `libcalico-go/lib/selector/parser/ast.go`: `!=` and
//! `not in` are true when the label is absent; `==`, `in`, `contains`, `starts with`
//! and `ends with` need the label present. The canonical text (the `Display` impl)
//! follows Calico's too: `&&`/`||` groups in parentheses, `!` glued to its operand,
//! literals in double quotes unless they contain one, set members sorted and
//! de-duplicated, and the empty selector printed as `all()`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Anything that can answer "what is the value of label `key`?".
pub trait Labels {
    /// The value of `key`, if the label is present.
    fn get(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, key).map(String::as_str)
    }
}

/// A parsed selector expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Expr {
    /// `all()` (also the empty selector): matches everything.
    All,
    /// `global()`: true as an expression; only meaningful as a rule `namespaceSelector`.
    Global,
    /// `has(key)`.
    Has(String),
    /// `key == "value"`.
    Eq(String, String),
    /// `key != "value"`: true when the label is absent.
    Ne(String, String),
    /// `key in {"a", "b"}`.
    In(String, BTreeSet<String>),
    /// `key not in {"a", "b"}`: true when the label is absent.
    NotIn(String, BTreeSet<String>),
    /// `key contains "s"`.
    Contains(String, String),
    /// `key starts with "s"`.
    StartsWith(String, String),
    /// `key ends with "s"`.
    EndsWith(String, String),
    /// `!expr`.
    Not(Box<Expr>),
    /// `a && b && ...` (at least two operands).
    And(Vec<Expr>),
    /// `a || b || ...` (at least two operands).
    Or(Vec<Expr>),
}

impl Expr {
    /// Whether a label set satisfies this selector.
    pub fn matches(&self, labels: &impl Labels) -> bool {
        match self {
            Expr::All | Expr::Global => true,
            Expr::Has(k) => labels.get(k).is_some(),
            Expr::Eq(k, v) => labels.get(k) == Some(v.as_str()),
            Expr::Ne(k, v) => labels.get(k) != Some(v.as_str()),
            Expr::In(k, vs) => labels.get(k).is_some_and(|x| vs.contains(x)),
            Expr::NotIn(k, vs) => !labels.get(k).is_some_and(|x| vs.contains(x)),
            Expr::Contains(k, s) => labels.get(k).is_some_and(|x| x.contains(s.as_str())),
            Expr::StartsWith(k, s) => labels.get(k).is_some_and(|x| x.starts_with(s.as_str())),
            Expr::EndsWith(k, s) => labels.get(k).is_some_and(|x| x.ends_with(s.as_str())),
            Expr::Not(e) => !e.matches(labels),
            Expr::And(es) => es.iter().all(|e| e.matches(labels)),
            Expr::Or(es) => es.iter().any(|e| e.matches(labels)),
        }
    }

    /// `a && b`, flattening nested conjunctions and dropping `all()` operands.
    pub fn and(self, other: Expr) -> Expr {
        let mut parts = Vec::new();
        for e in [self, other] {
            match e {
                Expr::All => {}
                Expr::And(es) => parts.extend(es),
                e => parts.push(e),
            }
        }
        match parts.len() {
            0 => Expr::All,
            1 => parts.pop().unwrap_or(Expr::All),
            _ => Expr::And(parts),
        }
    }

    /// Every label key the expression mentions, in order of appearance.
    pub fn label_keys(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_keys(&mut out);
        out
    }

    fn collect_keys<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::All | Expr::Global => {}
            Expr::Has(k)
            | Expr::Eq(k, _)
            | Expr::Ne(k, _)
            | Expr::In(k, _)
            | Expr::NotIn(k, _)
            | Expr::Contains(k, _)
            | Expr::StartsWith(k, _)
            | Expr::EndsWith(k, _) => out.push(k),
            Expr::Not(e) => e.collect_keys(out),
            Expr::And(es) | Expr::Or(es) => es.iter().for_each(|e| e.collect_keys(out)),
        }
    }

    /// Whether `global()` appears anywhere in the expression.
    pub fn mentions_global(&self) -> bool {
        match self {
            Expr::Global => true,
            Expr::Not(e) => e.mentions_global(),
            Expr::And(es) | Expr::Or(es) => es.iter().any(Expr::mentions_global),
            _ => false,
        }
    }

    /// The same expression with every label key prefixed (Calico's `pcns.`/`pcsa.`
    /// mechanism); `all()` becomes `has(<all_key>)`.
    pub fn prefixed(&self, prefix: &str, all_key: &str) -> Expr {
        let p = |k: &String| format!("{prefix}{k}");
        match self {
            Expr::All => Expr::Has(all_key.to_string()),
            Expr::Global => Expr::Global,
            Expr::Has(k) => Expr::Has(p(k)),
            Expr::Eq(k, v) => Expr::Eq(p(k), v.clone()),
            Expr::Ne(k, v) => Expr::Ne(p(k), v.clone()),
            Expr::In(k, v) => Expr::In(p(k), v.clone()),
            Expr::NotIn(k, v) => Expr::NotIn(p(k), v.clone()),
            Expr::Contains(k, v) => Expr::Contains(p(k), v.clone()),
            Expr::StartsWith(k, v) => Expr::StartsWith(p(k), v.clone()),
            Expr::EndsWith(k, v) => Expr::EndsWith(p(k), v.clone()),
            Expr::Not(e) => Expr::Not(Box::new(e.prefixed(prefix, all_key))),
            Expr::And(es) => Expr::And(es.iter().map(|e| e.prefixed(prefix, all_key)).collect()),
            Expr::Or(es) => Expr::Or(es.iter().map(|e| e.prefixed(prefix, all_key)).collect()),
        }
    }
}

impl std::ops::Not for Expr {
    type Output = Expr;

    /// `!self`, cancelling a double negation.
    fn not(self) -> Expr {
        match self {
            Expr::Not(e) => *e,
            e => Expr::Not(Box::new(e)),
        }
    }
}

/// A literal in canonical form: double quotes unless it contains one.
struct Lit<'a>(&'a str);

impl fmt::Display for Lit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains('"') {
            write!(f, "'{}'", self.0)
        } else {
            write!(f, "\"{}\"", self.0)
        }
    }
}

fn write_set(f: &mut fmt::Formatter<'_>, vs: &BTreeSet<String>) -> fmt::Result {
    f.write_str("{")?;
    for (i, v) in vs.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}", Lit(v))?;
    }
    f.write_str("}")
}

fn write_group(f: &mut fmt::Formatter<'_>, es: &[Expr], op: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, e) in es.iter().enumerate() {
        if i > 0 {
            write!(f, " {op} ")?;
        }
        write!(f, "{e}")?;
    }
    f.write_str(")")
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::All => f.write_str("all()"),
            Expr::Global => f.write_str("global()"),
            Expr::Has(k) => write!(f, "has({k})"),
            Expr::Eq(k, v) => write!(f, "{k} == {}", Lit(v)),
            Expr::Ne(k, v) => write!(f, "{k} != {}", Lit(v)),
            Expr::In(k, vs) => {
                write!(f, "{k} in ")?;
                write_set(f, vs)
            }
            Expr::NotIn(k, vs) => {
                write!(f, "{k} not in ")?;
                write_set(f, vs)
            }
            Expr::Contains(k, v) => write!(f, "{k} contains {}", Lit(v)),
            Expr::StartsWith(k, v) => write!(f, "{k} starts with {}", Lit(v)),
            Expr::EndsWith(k, v) => write!(f, "{k} ends with {}", Lit(v)),
            Expr::Not(e) => write!(f, "!{e}"),
            Expr::And(es) => write_group(f, es, "&&"),
            Expr::Or(es) => write_group(f, es, "||"),
        }
    }
}
