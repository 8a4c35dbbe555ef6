//! Calico's selector language: parsing, evaluation, canonical form, and the mapping of
//! Kubernetes label selectors into the same AST.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! let expr = polc::selector::parse("role == 'node' || has(k8s-app)").unwrap();
//! assert_eq!(expr.to_string(), r#"(role == "node" || has(k8s-app))"#);
//! let labels = BTreeMap::from([("k8s-app".to_string(), "calico-node".to_string())]);
//! assert!(expr.matches(&labels));
//! assert_eq!(polc::selector::parse("role = 'node'").unwrap_err().column, 6);
//! ```

mod ast;
mod k8s;
mod parser;

pub use ast::{Expr, Labels};
pub use k8s::{LabelSelectorOp, from_label_selector};
pub use parser::{SelectorError, parse};

#[cfg(test)]
mod tests;
