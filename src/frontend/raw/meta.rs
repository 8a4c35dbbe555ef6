//! `metadata`, Kubernetes label selectors and the other parts shared by many kinds.

use super::{S, StrMap};

crate::raw_struct! {
    /// `metadata` of any object. Server-populated fields (from `kubectl get -o yaml`)
    /// are accepted and ignored; anything else is an error.
    strict ObjectMeta ("metadata") {
        "name" => name: Option<S<String>>,
        "namespace" => namespace: Option<S<String>>,
        "labels" => labels: Option<S<StrMap>>,
        "annotations" => annotations: Option<S<StrMap>>,
    }
    ignore [
        "generateName", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers",
        "managedFields",
    ]
}

crate::raw_struct! {
    /// A Kubernetes `LabelSelector`.
    strict LabelSelector ("a label selector") {
        "matchLabels" => match_labels: Option<S<StrMap>>,
        "matchExpressions" => match_expressions: Vec<S<LabelSelectorRequirement>>,
    }
}

crate::raw_struct! {
    /// One `matchExpressions` entry.
    strict LabelSelectorRequirement ("a matchExpressions entry") {
        "key" => key: Option<S<String>>,
        "operator" => operator: Option<S<String>>,
        "values" => values: Option<S<Vec<S<String>>>>,
    }
}
