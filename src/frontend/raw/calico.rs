//! Raw `projectcalico.org/v3` specs: Tier, (Staged)(Global)NetworkPolicy, HostEndpoint,
//! (Global)NetworkSet, Profile and FelixConfiguration.

use super::scalar::NumOrString;
use super::{S, StrMap};

crate::raw_struct! {
    /// `Tier.spec`.
    strict TierSpec ("a Tier spec") {
        "order" => order: Option<S<f64>>,
        "defaultAction" => default_action: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// `spec` of GlobalNetworkPolicy, NetworkPolicy and their staged forms. Fields only
    /// a GlobalNetworkPolicy may carry are rejected for namespaced kinds during lowering.
    strict PolicySpec ("a policy spec") {
        "tier" => tier: Option<S<String>>,
        "order" => order: Option<S<f64>>,
        "selector" => selector: Option<S<String>>,
        "namespaceSelector" => namespace_selector: Option<S<String>>,
        "serviceAccountSelector" => service_account_selector: Option<S<String>>,
        "types" => types: Option<S<Vec<S<String>>>>,
        "ingress" => ingress: Option<S<Vec<S<Rule>>>>,
        "egress" => egress: Option<S<Vec<S<Rule>>>>,
        "doNotTrack" => do_not_track: Option<S<bool>>,
        "preDNAT" => pre_dnat: Option<S<bool>>,
        "applyOnForward" => apply_on_forward: Option<S<bool>>,
        "performanceHints" => performance_hints: Option<S<Vec<S<String>>>>,
        "stagedAction" => staged_action: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// A Calico rule.
    strict Rule ("a rule") {
        "action" => action: Option<S<String>>,
        "protocol" => protocol: Option<S<NumOrString>>,
        "notProtocol" => not_protocol: Option<S<NumOrString>>,
        "icmp" => icmp: Option<S<IcmpFields>>,
        "notICMP" => not_icmp: Option<S<IcmpFields>>,
        "ipVersion" => ip_version: Option<S<i64>>,
        "source" => source: EntityRule,
        "destination" => destination: EntityRule,
        "http" => http: Option<S<HttpMatch>>,
        "metadata" => metadata: Option<RuleMetadata>,
    }
}

crate::raw_struct! {
    /// `icmp` / `notICMP`.
    strict IcmpFields ("an ICMP match") {
        "type" => type_: Option<S<i64>>,
        "code" => code: Option<S<i64>>,
    }
}

crate::raw_struct! {
    /// `http` match (L7 only; never enforced by L3/L4 dataplanes).
    strict HttpMatch ("an http match") {
        "methods" => methods: Vec<S<String>>,
        "paths" => paths: Vec<StrMap>,
    }
}

crate::raw_struct! {
    /// Rule `metadata` (annotations become comments only).
    strict RuleMetadata ("rule metadata") {
        "annotations" => annotations: StrMap,
    }
}

crate::raw_struct! {
    /// `source` / `destination` of a rule.
    strict EntityRule ("a rule's source or destination") {
        "nets" => nets: Option<S<Vec<S<String>>>>,
        "notNets" => not_nets: Option<S<Vec<S<String>>>>,
        "selector" => selector: Option<S<String>>,
        "notSelector" => not_selector: Option<S<String>>,
        "namespaceSelector" => namespace_selector: Option<S<String>>,
        "ports" => ports: Option<S<Vec<S<NumOrString>>>>,
        "notPorts" => not_ports: Option<S<Vec<S<NumOrString>>>>,
        "serviceAccounts" => service_accounts: Option<S<ServiceAccountMatch>>,
        "services" => services: Option<S<ServiceMatch>>,
    }
}

crate::raw_struct! {
    /// `serviceAccounts` of an entity rule.
    strict ServiceAccountMatch ("a serviceAccounts match") {
        "names" => names: Vec<S<String>>,
        "selector" => selector: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// `services` of an entity rule.
    strict ServiceMatch ("a services match") {
        "name" => name: Option<S<String>>,
        "namespace" => namespace: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// `HostEndpoint.spec`.
    strict HostEndpointSpec ("a HostEndpoint spec") {
        "node" => node: Option<S<String>>,
        "interfaceName" => interface_name: Option<S<String>>,
        "expectedIPs" => expected_ips: Option<S<Vec<S<String>>>>,
        "profiles" => profiles: Vec<S<String>>,
        "ports" => ports: Vec<S<EndpointPort>>,
    }
}

crate::raw_struct! {
    /// A named port of a host endpoint.
    strict EndpointPort ("a host endpoint port") {
        "name" => name: Option<S<String>>,
        "port" => port: Option<S<i64>>,
        "protocol" => protocol: Option<S<NumOrString>>,
    }
}

crate::raw_struct! {
    /// `GlobalNetworkSet.spec` / `NetworkSet.spec`.
    strict NetworkSetSpec ("a network set spec") {
        "nets" => nets: Vec<S<String>>,
    }
    ignore ["allowedEgressDomains"]
}

crate::raw_struct! {
    /// `Profile.spec`.
    strict ProfileSpec ("a Profile spec") {
        "ingress" => ingress: Option<S<Vec<S<Rule>>>>,
        "egress" => egress: Option<S<Vec<S<Rule>>>>,
        "labelsToApply" => labels_to_apply: Option<S<StrMap>>,
    }
}

crate::raw_struct! {
    /// `FelixConfiguration.spec`: the fields that change what a dataplane enforces.
    /// Felix has many more; they are accepted and ignored, but a near miss of one of
    /// these (`failSafeInboundHostPorts`) is an error.
    open FelixSpec ("a FelixConfiguration spec") {
        "failsafeInboundHostPorts" => failsafe_inbound_host_ports: Option<S<Vec<S<FailsafeEntry>>>>,
        "failsafeOutboundHostPorts" => failsafe_outbound_host_ports: Option<S<Vec<S<FailsafeEntry>>>>,
        "defaultEndpointToHostAction" => default_endpoint_to_host_action: Option<S<String>>,
        "vxlanPort" => vxlan_port: Option<S<i64>>,
        "allowVXLANPacketsFromWorkloads" => allow_vxlan_packets_from_workloads: Option<S<bool>>,
        "allowIPIPPacketsFromWorkloads" => allow_ipip_packets_from_workloads: Option<S<bool>>,
        "interfacePrefix" => interface_prefix: Option<S<String>>,
        "disableConntrackInvalidCheck" => disable_conntrack_invalid_check: Option<S<bool>>,
        "ipipEnabled" => ipip_enabled: Option<S<bool>>,
        "vxlanEnabled" => vxlan_enabled: Option<S<bool>>,
        "vxlanEnabledV6" => vxlan_enabled_v6: Option<S<bool>>,
        "wireguardEnabled" => wireguard_enabled: Option<S<bool>>,
        "wireguardEnabledV6" => wireguard_enabled_v6: Option<S<bool>>,
        "wireguardListeningPort" => wireguard_listening_port: Option<S<i64>>,
        "wireguardListeningPortV6" => wireguard_listening_port_v6: Option<S<i64>>,
        "nodeSelector" => node_selector: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// `IPPool.spec`: what decides the tunnels Felix opens (`cidr`, `ipipMode`,
    /// `vxlanMode`); the IPAM fields are accepted and ignored.
    open IpPoolSpec ("an IPPool spec") {
        "cidr" => cidr: Option<S<String>>,
        "ipipMode" => ipip_mode: Option<S<String>>,
        "vxlanMode" => vxlan_mode: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// One failsafe entry: `{protocol, port, net}`.
    strict FailsafeEntry ("a failsafe port") {
        "protocol" => protocol: Option<S<String>>,
        "port" => port: Option<S<i64>>,
        "net" => net: Option<S<String>>,
    }
}
