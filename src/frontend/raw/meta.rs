//! `metadata`, Kubernetes label selectors and the other parts shared by many kinds.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Ignored, S};

/// `metadata` of any object. Server-populated fields (from `kubectl get -o yaml`) are
/// accepted and ignored; anything else is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ObjectMeta {
    pub name: Option<S<String>>,
    pub namespace: Option<S<String>>,
    pub labels: Option<S<BTreeMap<String, String>>>,
    pub annotations: Option<S<BTreeMap<String, String>>>,
    #[serde(default)]
    pub generate_name: Ignored,
    #[serde(default)]
    pub self_link: Ignored,
    #[serde(default)]
    pub uid: Ignored,
    #[serde(default)]
    pub resource_version: Ignored,
    #[serde(default)]
    pub generation: Ignored,
    #[serde(default)]
    pub creation_timestamp: Ignored,
    #[serde(default)]
    pub deletion_timestamp: Ignored,
    #[serde(default)]
    pub deletion_grace_period_seconds: Ignored,
    #[serde(default)]
    pub owner_references: Ignored,
    #[serde(default)]
    pub finalizers: Ignored,
    #[serde(default)]
    pub managed_fields: Ignored,
}

/// A Kubernetes `LabelSelector`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelector {
    /// `matchLabels`.
    pub match_labels: Option<S<BTreeMap<String, String>>>,
    /// `matchExpressions`.
    #[serde(default)]
    pub match_expressions: Vec<S<LabelSelectorRequirement>>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LabelSelectorRequirement {
    pub key: S<String>,
    pub operator: S<String>,
    #[serde(default)]
    pub values: Option<S<Vec<String>>>,
}
