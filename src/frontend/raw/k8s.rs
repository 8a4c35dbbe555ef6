//! Raw Kubernetes policy specs: `networking.k8s.io/v1` NetworkPolicy,
//! `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy / BaselineAdminNetworkPolicy
//! and `v1alpha2` ClusterNetworkPolicy (which shares the subject and peer shapes).

use super::S;
use super::meta::LabelSelector;
use super::scalar::NumOrString;

crate::raw_struct! {
    /// `NetworkPolicy.spec` (also `StagedKubernetesNetworkPolicy.spec`, which adds
    /// `stagedAction`; lowering rejects it elsewhere).
    strict NetworkPolicySpec ("a NetworkPolicy spec") {
        "podSelector" => pod_selector: Option<S<LabelSelector>>,
        "policyTypes" => policy_types: Option<S<Vec<S<String>>>>,
        "ingress" => ingress: Option<S<Vec<S<IngressRule>>>>,
        "egress" => egress: Option<S<Vec<S<EgressRule>>>>,
        "stagedAction" => staged_action: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// A NetworkPolicy ingress rule.
    strict IngressRule ("a NetworkPolicy ingress rule") {
        "from" => from: Option<S<Vec<S<Peer>>>>,
        "ports" => ports: Option<S<Vec<S<NetworkPolicyPort>>>>,
    }
}

crate::raw_struct! {
    /// A NetworkPolicy egress rule.
    strict EgressRule ("a NetworkPolicy egress rule") {
        "to" => to: Option<S<Vec<S<Peer>>>>,
        "ports" => ports: Option<S<Vec<S<NetworkPolicyPort>>>>,
    }
}

crate::raw_struct! {
    /// A NetworkPolicy peer.
    strict Peer ("a NetworkPolicy peer") {
        "podSelector" => pod_selector: Option<S<LabelSelector>>,
        "namespaceSelector" => namespace_selector: Option<S<LabelSelector>>,
        "ipBlock" => ip_block: Option<S<IpBlock>>,
    }
}

crate::raw_struct! {
    /// `ipBlock`.
    strict IpBlock ("an ipBlock") {
        "cidr" => cidr: Option<S<String>>,
        "except" => except: Vec<S<String>>,
    }
}

crate::raw_struct! {
    /// A NetworkPolicy port.
    strict NetworkPolicyPort ("a NetworkPolicy port") {
        "protocol" => protocol: Option<S<String>>,
        "port" => port: Option<S<NumOrString>>,
        "endPort" => end_port: Option<S<i64>>,
    }
}

crate::raw_struct! {
    /// `AdminNetworkPolicy.spec` / `BaselineAdminNetworkPolicy.spec`.
    strict AdminSpec ("an admin network policy spec") {
        "priority" => priority: Option<S<i64>>,
        "subject" => subject: Option<S<AdminSubject>>,
        "ingress" => ingress: Option<S<Vec<S<AdminRule>>>>,
        "egress" => egress: Option<S<Vec<S<AdminRule>>>>,
    }
}

crate::raw_struct! {
    /// The subject of an admin policy: exactly one of `namespaces` or `pods`.
    strict AdminSubject ("an admin policy subject") {
        "namespaces" => namespaces: Option<S<LabelSelector>>,
        "pods" => pods: Option<S<NamespacedPod>>,
    }
}

crate::raw_struct! {
    /// `{namespaceSelector, podSelector}`.
    strict NamespacedPod ("a pods selector") {
        "namespaceSelector" => namespace_selector: Option<S<LabelSelector>>,
        "podSelector" => pod_selector: Option<S<LabelSelector>>,
    }
}

crate::raw_struct! {
    /// An admin policy rule; `from` for ingress, `to` for egress.
    strict AdminRule ("an admin policy rule") {
        "name" => name: Option<S<String>>,
        "action" => action: Option<S<String>>,
        "from" => from: Option<S<Vec<S<AdminPeer>>>>,
        "to" => to: Option<S<Vec<S<AdminPeer>>>>,
        "ports" => ports: Option<S<Vec<S<AdminPort>>>>,
    }
}

crate::raw_struct! {
    /// An admin policy peer: exactly one field set (`nodes`, `networks` and
    /// `domainNames` egress only).
    strict AdminPeer ("an admin policy peer") {
        "namespaces" => namespaces: Option<S<LabelSelector>>,
        "pods" => pods: Option<S<NamespacedPod>>,
        "nodes" => nodes: Option<S<LabelSelector>>,
        "networks" => networks: Option<S<Vec<S<String>>>>,
        "domainNames" => domain_names: Option<S<Vec<S<String>>>>,
    }
}

crate::raw_struct! {
    /// An admin policy port: exactly one of the three forms.
    strict AdminPort ("an admin policy port") {
        "portNumber" => port_number: Option<S<AdminPortNumber>>,
        "namedPort" => named_port: Option<S<String>>,
        "portRange" => port_range: Option<S<AdminPortRange>>,
    }
}

crate::raw_struct! {
    /// `portNumber`.
    strict AdminPortNumber ("a portNumber") {
        "protocol" => protocol: Option<S<String>>,
        "port" => port: Option<S<i64>>,
    }
}

crate::raw_struct! {
    /// `portRange`.
    strict AdminPortRange ("a portRange") {
        "protocol" => protocol: Option<S<String>>,
        "start" => start: Option<S<i64>>,
        "end" => end: Option<S<i64>>,
    }
}

crate::raw_struct! {
    /// `ClusterNetworkPolicy.spec` (`policy.networking.k8s.io/v1alpha2`).
    strict ClusterPolicySpec ("a ClusterNetworkPolicy spec") {
        "tier" => tier: Option<S<String>>,
        "priority" => priority: Option<S<i64>>,
        "subject" => subject: Option<S<AdminSubject>>,
        "ingress" => ingress: Option<S<Vec<S<ClusterPolicyRule>>>>,
        "egress" => egress: Option<S<Vec<S<ClusterPolicyRule>>>>,
    }
}

crate::raw_struct! {
    /// A ClusterNetworkPolicy rule; `from` for ingress, `to` for egress.
    strict ClusterPolicyRule ("a ClusterNetworkPolicy rule") {
        "name" => name: Option<S<String>>,
        "action" => action: Option<S<String>>,
        "from" => from: Option<S<Vec<S<AdminPeer>>>>,
        "to" => to: Option<S<Vec<S<AdminPeer>>>>,
        "protocols" => protocols: Option<S<Vec<S<ClusterPolicyProtocol>>>>,
    }
}

crate::raw_struct! {
    /// A `protocols` entry: exactly one of `tcp`, `udp`, `sctp` or
    /// `destinationNamedPort`.
    strict ClusterPolicyProtocol ("a ClusterNetworkPolicy protocol") {
        "tcp" => tcp: Option<S<ProtocolPorts>>,
        "udp" => udp: Option<S<ProtocolPorts>>,
        "sctp" => sctp: Option<S<ProtocolPorts>>,
        "destinationNamedPort" => destination_named_port: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// `tcp`, `udp` or `sctp`: the destination port.
    strict ProtocolPorts ("a protocol match") {
        "destinationPort" => destination_port: Option<S<DestinationPort>>,
    }
}

crate::raw_struct! {
    /// `destinationPort`: exactly one of `number` or `range`.
    strict DestinationPort ("a destinationPort") {
        "number" => number: Option<S<i64>>,
        "range" => range: Option<S<DestinationPortRange>>,
    }
}

crate::raw_struct! {
    /// `destinationPort.range`.
    strict DestinationPortRange ("a port range") {
        "start" => start: Option<S<i64>>,
        "end" => end: Option<S<i64>>,
    }
}
