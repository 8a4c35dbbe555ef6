//! Raw inventory objects: v1 Namespace, Pod and Node. These are open objects: the
//! fields polc reads are typed; the rest of the Kubernetes API is ignored.

use super::S;
use super::scalar::NumOrString;

crate::raw_struct! {
    /// `Pod.spec`.
    open PodSpec ("a Pod spec") {
        "nodeName" => node_name: Option<S<String>>,
        "hostNetwork" => host_network: Option<S<bool>>,
        "serviceAccountName" => service_account_name: Option<S<String>>,
        "serviceAccount" => service_account: Option<S<String>>,
        "containers" => containers: Vec<S<Container>>,
        "initContainers" => init_containers: Vec<S<Container>>,
    }
}

crate::raw_struct! {
    /// A container: its name and ports.
    open Container ("a container") {
        "name" => name: Option<S<String>>,
        "ports" => ports: Vec<S<ContainerPort>>,
        "restartPolicy" => restart_policy: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// A container port.
    strict ContainerPort ("a container port") {
        "name" => name: Option<S<String>>,
        "containerPort" => container_port: Option<S<i64>>,
        "protocol" => protocol: Option<S<NumOrString>>,
        "hostPort" => host_port: Option<S<i64>>,
        "hostIP" => host_ip: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// `Pod.status`.
    open PodStatus ("a Pod status") {
        "podIP" => pod_ip: Option<S<String>>,
        "podIPs" => pod_ips: Vec<S<PodIp>>,
    }
}

crate::raw_struct! {
    /// One `status.podIPs` entry.
    strict PodIp ("a podIPs entry") {
        "ip" => ip: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// `Node.status`.
    open NodeStatus ("a Node status") {
        "addresses" => addresses: Vec<S<NodeAddress>>,
    }
}

crate::raw_struct! {
    /// One `status.addresses` entry.
    strict NodeAddress ("a node address") {
        "type" => type_: Option<S<String>>,
        "address" => address: Option<S<String>>,
    }
}

crate::raw_struct! {
    /// `spec` or `status` of an inventory object whose fields polc does not read.
    open OpenObject ("an object") {}
}
