//! Raw `projectcalico.org/v3` specs: Tier, (Staged)(Global)NetworkPolicy, HostEndpoint,
//! (Global)NetworkSet, Profile and FelixConfiguration.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::scalar::NumOrString;
use super::{Ignored, S};

/// `Tier.spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TierSpec {
    pub order: Option<S<f64>>,
    pub default_action: Option<S<String>>,
}

/// `spec` of GlobalNetworkPolicy, NetworkPolicy and their staged forms. Fields only
/// a GlobalNetworkPolicy may carry are rejected for namespaced kinds during lowering.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct PolicySpec {
    pub tier: Option<S<String>>,
    pub order: Option<S<f64>>,
    pub selector: Option<S<String>>,
    pub namespace_selector: Option<S<String>>,
    pub service_account_selector: Option<S<String>>,
    pub types: Option<S<Vec<S<String>>>>,
    pub ingress: Option<S<Vec<S<Rule>>>>,
    pub egress: Option<S<Vec<S<Rule>>>>,
    pub do_not_track: Option<S<bool>>,
    #[serde(rename = "preDNAT")]
    pub pre_dnat: Option<S<bool>>,
    pub apply_on_forward: Option<S<bool>>,
    pub performance_hints: Option<S<Vec<String>>>,
    pub staged_action: Option<S<String>>,
}

/// A Calico rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Rule {
    pub action: Option<S<String>>,
    pub protocol: Option<S<NumOrString>>,
    pub not_protocol: Option<S<NumOrString>>,
    pub icmp: Option<S<IcmpFields>>,
    #[serde(rename = "notICMP")]
    pub not_icmp: Option<S<IcmpFields>>,
    pub ip_version: Option<S<i64>>,
    #[serde(default)]
    pub source: EntityRule,
    #[serde(default)]
    pub destination: EntityRule,
    pub http: Option<S<HttpMatch>>,
    #[serde(default)]
    pub metadata: Option<RuleMetadata>,
}

/// `icmp` / `notICMP`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct IcmpFields {
    #[serde(rename = "type")]
    pub type_: Option<S<i64>>,
    pub code: Option<S<i64>>,
}

/// `http` match (L7 only; never enforced by L3/L4 dataplanes).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct HttpMatch {
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub paths: Vec<BTreeMap<String, String>>,
}

/// Rule `metadata` (annotations become comments only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RuleMetadata {
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// `source` / `destination` of a rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct EntityRule {
    pub nets: Option<S<Vec<S<String>>>>,
    pub not_nets: Option<S<Vec<S<String>>>>,
    pub selector: Option<S<String>>,
    pub not_selector: Option<S<String>>,
    pub namespace_selector: Option<S<String>>,
    pub ports: Option<S<Vec<S<NumOrString>>>>,
    pub not_ports: Option<S<Vec<S<NumOrString>>>>,
    pub service_accounts: Option<S<ServiceAccountMatch>>,
    pub services: Option<S<ServiceMatch>>,
}

/// `serviceAccounts` of an entity rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ServiceAccountMatch {
    #[serde(default)]
    pub names: Vec<S<String>>,
    pub selector: Option<S<String>>,
}

/// `services` of an entity rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ServiceMatch {
    pub name: Option<S<String>>,
    pub namespace: Option<S<String>>,
}

/// `HostEndpoint.spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct HostEndpointSpec {
    pub node: Option<S<String>>,
    pub interface_name: Option<S<String>>,
    #[serde(rename = "expectedIPs")]
    pub expected_ips: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub profiles: Vec<S<String>>,
    #[serde(default)]
    pub ports: Vec<S<EndpointPort>>,
}

/// A named port of a host endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct EndpointPort {
    pub name: S<String>,
    pub port: S<i64>,
    pub protocol: Option<S<NumOrString>>,
}

/// `GlobalNetworkSet.spec` / `NetworkSet.spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NetworkSetSpec {
    #[serde(default)]
    pub nets: Vec<S<String>>,
    #[serde(default)]
    pub allowed_egress_domains: Ignored,
}

/// `Profile.spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ProfileSpec {
    pub ingress: Option<S<Vec<S<Rule>>>>,
    pub egress: Option<S<Vec<S<Rule>>>>,
    pub labels_to_apply: Option<S<BTreeMap<String, String>>>,
}

crate::open_struct! {
    /// `FelixConfiguration.spec`: the fields that change what a dataplane enforces.
    /// Felix has many more; they are accepted and ignored, but a near miss of one of
    /// these (`failSafeInboundHostPorts`) is an error.
    pub struct FelixSpec {
        "failsafeInboundHostPorts" => failsafe_inbound_host_ports: Option<S<Vec<S<FailsafeEntry>>>>,
        "failsafeOutboundHostPorts" => failsafe_outbound_host_ports: Option<S<Vec<S<FailsafeEntry>>>>,
        "defaultEndpointToHostAction" => default_endpoint_to_host_action: Option<S<String>>,
    }
}

/// One failsafe entry: `{protocol, port, net}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FailsafeEntry {
    pub protocol: Option<S<String>>,
    pub port: S<i64>,
    pub net: Option<S<String>>,
}
