//! Kubernetes label selectors (`matchLabels`, `matchExpressions`) as selector ASTs, the
//! way Calico converts them (`libcalico-go/lib/backend/k8s/conversion/conversion.go`):
//! `matchLabels` terms sorted by key, then the expressions in order; `In` → `in {..}`,
//! `NotIn` → `not in {..}`, `Exists` → `has()`, `DoesNotExist` → `!has()`.

use std::collections::BTreeMap;

use super::Expr;

/// The operator of a `matchExpressions` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSelectorOp {
    /// `In`: the label is one of the values.
    In,
    /// `NotIn`: the label is absent or none of the values.
    NotIn,
    /// `Exists`: the label is present.
    Exists,
    /// `DoesNotExist`: the label is absent.
    DoesNotExist,
}

/// Map a Kubernetes label selector to a selector AST; the empty selector is `all()`.
pub fn from_label_selector(
    match_labels: &BTreeMap<String, String>,
    match_expressions: &[(String, LabelSelectorOp, Vec<String>)],
) -> Expr {
    let mut e = Expr::All;
    for (k, v) in match_labels {
        e = e.and(Expr::Eq(k.clone(), v.clone()));
    }
    for (k, op, values) in match_expressions {
        let set = values.iter().cloned().collect();
        e = e.and(match op {
            LabelSelectorOp::In => Expr::In(k.clone(), set),
            LabelSelectorOp::NotIn => Expr::NotIn(k.clone(), set),
            LabelSelectorOp::Exists => Expr::Has(k.clone()),
            LabelSelectorOp::DoesNotExist => !Expr::Has(k.clone()),
        });
    }
    e
}
