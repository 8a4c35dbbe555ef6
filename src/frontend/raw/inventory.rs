//! Raw inventory objects: v1 Namespace, Pod and Node. These are open objects: the
//! fields polc reads are typed; the rest of the Kubernetes API is ignored.

use serde::Deserialize;

use super::S;
use super::scalar::NumOrString;

crate::open_struct! {
    /// `Pod.spec`.
    pub struct PodSpec {
        "nodeName" => node_name: Option<S<String>>,
        "hostNetwork" => host_network: Option<S<bool>>,
        "serviceAccountName" => service_account_name: Option<S<String>>,
        "serviceAccount" => service_account: Option<S<String>>,
        "containers" => containers: Vec<S<Container>>,
        "initContainers" => init_containers: Vec<S<Container>>,
    }
}

crate::open_struct! {
    /// A container: its name and ports.
    pub struct Container {
        "name" => name: Option<S<String>>,
        "ports" => ports: Vec<S<ContainerPort>>,
        "restartPolicy" => restart_policy: Option<S<String>>,
    }
}

/// A container port.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ContainerPort {
    pub name: Option<S<String>>,
    pub container_port: Option<S<i64>>,
    pub protocol: Option<S<NumOrString>>,
    pub host_port: Option<S<i64>>,
    #[serde(rename = "hostIP")]
    pub host_ip: Option<S<String>>,
}

crate::open_struct! {
    /// `Pod.status`.
    pub struct PodStatus {
        "podIP" => pod_ip: Option<S<String>>,
        "podIPs" => pod_ips: Vec<S<PodIp>>,
    }
}

/// One `status.podIPs` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PodIp {
    pub ip: S<String>,
}

crate::open_struct! {
    /// `Node.status`.
    pub struct NodeStatus {
        "addresses" => addresses: Vec<S<NodeAddress>>,
    }
}

/// One `status.addresses` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct NodeAddress {
    #[serde(rename = "type")]
    pub type_: S<String>,
    pub address: S<String>,
}

crate::open_struct! {
    /// `spec` or `status` of an inventory object whose fields polc does not read.
    pub struct OpenObject {}
}
