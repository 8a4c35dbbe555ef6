//! Calico's selector language: parsing, evaluation, canonical form, and the mapping of
//! Kubernetes label selectors into the same AST.
//!
//! A [`Selector`] keeps the text it was parsed from beside the [`Expr`], so diagnostics
//! can quote what the user wrote while the evaluator and backends use the AST.

mod ast;
mod k8s;
mod parser;

pub use ast::{Expr, Labels};
pub use k8s::{LabelSelectorOp, from_label_selector};
pub use parser::{SelectorError, parse};

#[cfg(test)]
mod tests;
