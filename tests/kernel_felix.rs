//! Felix parity in the real kernel: scenarios where Calico's Felix does something a
//! simpler reading of the policy would not, each probe checked three ways: the
//! evaluator against what upstream Felix enforces (the upstream source is named on
//! each scenario), and the loaded nft artifact against the evaluator.

mod common;
#[path = "common/netbed.rs"]
mod netbed;

use netbed::{Bed, Probe};
use polc::ir::Protocol;
use polc::semantics::{Engine, Packet};

/// Two nodes: n1 with host endpoint h1 on eth0 and pod app/p, n2 (no host endpoint)
/// with pod app/q.
const INVENTORY: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h1, labels: {role: node}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.0.1]}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: app, labels: {app: p}}
spec: {nodeName: n1}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: q, namespace: app, labels: {app: q}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.2}
"#;

/// Host endpoint h1 allows everything in normal policy, so only the stage under test
/// decides.
const HOST_OPEN: &str = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hep-open}
spec:
  selector: role == 'node'
  types: [Ingress, Egress]
  ingress: [{action: Allow}]
  egress: [{action: Allow}]
"#;

/// One probe: from, to, what, and what Felix does.
type Expect = (&'static str, &'static str, Probe, bool);

/// Build `policies` over [`INVENTORY`], load the artifacts, and check every probe:
/// the evaluator must say what Felix does, the kernel what the evaluator says.
fn scenario(name: &str, policies: &str, probes: &[Expect]) {
    scenario_on(name, INVENTORY, false, policies, probes);
}

/// [`scenario`] over another inventory, in the IPv4 or (`v6`) the IPv6 bed.
fn scenario_on(name: &str, inventory: &str, v6: bool, policies: &str, probes: &[Expect]) {
    let files = [("inventory.yaml", inventory), ("policies.yaml", policies)];
    let (_dir, out) = common::build_all(&files);
    let model = common::model_of(&files);
    let engine = Engine::new(&model);
    // IPv6 scenarios let pods find their gateway by neighbour discovery.
    let bed = if v6 {
        Bed::with_neighbour_discovery(&model, &engine)
    } else {
        Bed::new(&model, &engine)
    };
    for node in bed.nodes.keys() {
        bed.load(node, &out.join(node));
    }
    let mut wrong = Vec::new();
    for &(from, to, probe, felix) in probes {
        let (f, t) = (
            engine.universe.resolve(&model, from).unwrap(),
            engine.universe.resolve(&model, to).unwrap(),
        );
        let packet = match probe {
            Probe::Tcp(p) => Packet::to_port(Protocol::TCP, p),
            Probe::Udp(p) => Packet::to_port(Protocol::UDP, p),
            Probe::Ping if v6 => Packet::to_port(Protocol::ICMPV6, 0),
            Probe::Ping => Packet::to_port(Protocol::ICMP, 0),
        };
        let evaluator = engine.evaluate(f, t, &packet).allowed;
        let kernel = netbed::probe(&bed.places[from], &bed.places[to], probe);
        if evaluator != felix || kernel != evaluator {
            wrong.push(format!(
                "{from} -> {to} {probe:?}: Felix {felix}, evaluator {evaluator}, kernel {kernel}"
            ));
        }
    }
    eprintln!(
        "kernel-felix[{name}]: {} probes, {} agree",
        probes.len(),
        probes.len() - wrong.len()
    );
    assert!(wrong.is_empty(), "{name}:\n{}", wrong.join("\n"));
}

/// Item 1. Felix accepts established and related traffic first in mangle PREROUTING,
/// before the pre-DNAT dispatch (`StaticManglePreroutingChain`,
/// `felix/rules/static.go`): a pre-DNAT Deny of n2's network must not drop the replies
/// to connections n1's host opens to n2. New connections from n2 are denied (the
/// failsafe SSH port excepted).
fn pre_dnat_deny_keeps_replies_of_host_connections() {
    let policies = format!(
        "{HOST_OPEN}---\n{}",
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pre-deny}
spec:
  selector: role == 'node'
  preDNAT: true
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Deny, source: {nets: [192.168.0.0/24]}}]
"#
    );
    scenario(
        "pre-dnat-replies",
        &policies,
        &[
            ("host/h1", "node/n2", Probe::Tcp(8080), true),
            ("host/h1", "node/n2", Probe::Udp(5353), true),
            ("node/n2", "host/h1", Probe::Tcp(8080), false),
            ("node/n2", "host/h1", Probe::Tcp(22), true),
            ("node/n2", "app/p", Probe::Tcp(8080), false),
            ("app/q", "app/p", Probe::Tcp(8080), true),
        ],
    );
}

/// Item 9. Felix's mangle (and raw) failsafe chains accept without the accept mark
/// (`failsafeInChain`, `felix/rules/static.go`), and forward chains have no failsafe
/// (`HostEndpointToFilterChains`, `felix/rules/endpoints.go`): a packet forwarded to
/// a pod on a failsafe port still meets the host endpoint's applyOnForward policy.
fn pre_dnat_failsafe_does_not_skip_apply_on_forward() {
    let policies = format!(
        "{HOST_OPEN}---\n{}",
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pre-allow}
spec:
  selector: role == 'node'
  preDNAT: true
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [9999]}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: aof}
spec:
  order: 10
  selector: role == 'node'
  applyOnForward: true
  types: [Ingress, Egress]
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [22]}}, {action: Allow}]
  egress: [{action: Allow}]
"#
    );
    scenario(
        "pre-dnat-failsafe",
        &policies,
        &[
            ("node/n2", "app/p", Probe::Tcp(22), false),
            ("node/n2", "app/p", Probe::Tcp(80), true),
            ("app/q", "app/p", Probe::Tcp(22), false),
            ("node/n2", "host/h1", Probe::Tcp(22), true),
        ],
    );
}

/// Item 2 and the untracked accept mark. Felix's raw failsafe chains also accept the
/// other direction's failsafe ports as *source* ports (`failsafeInChain` and
/// `failsafeOutChain` with table "raw", `felix/rules/static.go`), so the replies of
/// the host's DNS queries (outbound failsafe UDP 53) pass an untracked UDP Deny; and
/// filter OUTPUT accepts what an untracked egress Allow marked (`filterOutputChain`),
/// so a normal egress Deny does not undo it.
fn untracked_failsafe_replies_and_allow() {
    let policies = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: raw}
spec:
  selector: role == 'node'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:
    - {action: Allow, protocol: TCP, source: {ports: [8080]}}
    - {action: Deny, protocol: UDP}
  egress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hep-normal}
spec:
  selector: role == 'node'
  types: [Ingress, Egress]
  ingress: [{action: Allow}]
  egress: [{action: Deny}]
"#;
    scenario(
        "untracked",
        policies,
        &[
            ("host/h1", "node/n2", Probe::Udp(53), true),
            ("host/h1", "node/n2", Probe::Tcp(8080), true),
            ("host/h1", "node/n2", Probe::Tcp(8081), false),
            ("node/n2", "host/h1", Probe::Udp(5353), false),
        ],
    );
}

/// Item 7. Every workload egress chain drops UDP to `vxlanPort` (and IP protocol 4)
/// before policy unless FelixConfiguration allows it (`endpointIptablesChain`,
/// `felix/rules/endpoints.go`; `WorkloadEndpointToIptablesChains` passes
/// `AllowVXLANPacketsFromWorkloads` for the egress chain only): with no policy at
/// all, a pod's UDP to 4789 is dropped, to a pod on another node and to its own
/// host; with `allowVXLANPacketsFromWorkloads: true` it passes. Other UDP ports and
/// VXLAN *to* a pod are not affected.
fn workload_vxlan_dropped_unless_allowed() {
    let probes = |allowed: bool| -> Vec<Expect> {
        vec![
            ("app/p", "app/q", Probe::Udp(4789), allowed),
            ("app/q", "app/p", Probe::Udp(4789), allowed),
            ("app/p", "host/h1", Probe::Udp(4789), allowed),
            ("app/p", "app/q", Probe::Udp(4790), true),
            ("node/n2", "app/p", Probe::Udp(4789), true),
        ]
    };
    scenario("workload-vxlan", HOST_OPEN, &probes(false));
    let allow = format!(
        "{HOST_OPEN}---\n{}",
        r#"
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {allowVXLANPacketsFromWorkloads: true}
"#
    );
    scenario("workload-vxlan-allowed", &allow, &probes(true));
}

/// Two nodes over IPv6, a pod on each, no host endpoints.
const INVENTORY_V6: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: "fd00:2::1"}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status: {addresses: [{type: InternalIP, address: "fd00:2::2"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: app, labels: {app: a}}
spec: {nodeName: n1}
status: {podIPs: [{ip: "fd00::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: app, labels: {app: b}}
spec: {nodeName: n2}
status: {podIPs: [{ip: "fd00::2"}]}
"#;

/// Item 6. `cali-wl-to-host` accepts ICMPv6 types 130-133, 135 and 136 from a pod
/// before its egress policy and before `defaultEndpointToHostAction`
/// (`ICMPv6Filter`, `filterWorkloadToHostChain`, `felix/rules/static.go`). Pod a may
/// send only TCP 8080 to b, and pods may not reach their host
/// (`defaultEndpointToHostAction: Drop`): a still reaches b, because its neighbour
/// solicitation for its gateway (and b's, and their advertisements to the nodes)
/// pass. The ND verdict itself is checked in `tests/felix_settings.rs`; here the
/// kernel shows the rule works for the link-local and global sources the kernel
/// picks, matched by workload interface (`cali*`).
fn workload_icmpv6_nd_to_own_host_before_policy() {
    let policies = r#"
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-egress, namespace: app}
spec:
  selector: app == 'a'
  types: [Egress]
  egress: [{action: Allow, protocol: TCP, destination: {selector: app == 'b', ports: [8080]}}]
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {defaultEndpointToHostAction: Drop}
"#;
    scenario_on(
        "workload-icmpv6-nd",
        INVENTORY_V6,
        true,
        policies,
        &[
            ("app/a", "app/b", Probe::Tcp(8080), true),
            ("app/a", "app/b", Probe::Tcp(8081), false),
            ("app/b", "app/a", Probe::Tcp(8080), true),
            ("app/a", "node/n1", Probe::Ping, false),
            ("app/b", "node/n2", Probe::Tcp(8080), false),
        ],
    );
}

/// Item 4. A host endpoint with only `expectedIPs` is policed by the interface that
/// holds the address (`resolveHostEndpoints`, `felix/dataplane/linux/endpoint_mgr.go`),
/// like a named one, untracked policy included (only `*` endpoints skip it). The
/// inventory names no interface here, so polc warns and takes the node's uplink:
/// traffic arriving for the host and forwarded to its pod meets the untracked and
/// pre-DNAT policy, not only traffic addressed to the endpoint's own address.
fn expected_ips_host_endpoint_polices_its_interface() {
    let inventory = INVENTORY.replace(
        "spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.0.1]}",
        "spec: {node: n1, expectedIPs: [192.168.0.1]}",
    );
    let policies = format!(
        "{HOST_OPEN}---\n{}",
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: raw-deny}
spec:
  selector: role == 'node'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [8080]}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pre-deny}
spec:
  selector: role == 'node'
  preDNAT: true
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [9090]}}]
"#
    );
    scenario_on(
        "expected-ips",
        &inventory,
        false,
        &policies,
        &[
            ("node/n2", "host/h1", Probe::Tcp(8080), false),
            ("node/n2", "host/h1", Probe::Tcp(9090), false),
            ("node/n2", "host/h1", Probe::Tcp(80), true),
            ("node/n2", "app/p", Probe::Tcp(8080), false),
            ("node/n2", "app/p", Probe::Tcp(9090), false),
            ("node/n2", "app/p", Probe::Tcp(80), true),
            ("app/q", "app/p", Probe::Tcp(9090), false),
            ("host/h1", "node/n2", Probe::Tcp(8080), true),
        ],
    );
}

/// n1 with an all-interfaces host endpoint s1 and pods app/a and app/b; n2 (no host
/// endpoint) with pod app/q.
const INVENTORY_STAR: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: s1, labels: {role: node}}
spec: {node: n1, interfaceName: "*", expectedIPs: [192.168.0.1]}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: app, labels: {app: a}}
spec: {nodeName: n1}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: app, labels: {app: b}}
spec: {nodeName: n1}
status: {podIP: 10.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: q, namespace: app, labels: {app: q}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.2}
"#;

/// Item 3. An `interfaceName: "*"` host endpoint covers every interface, the pods'
/// included: Felix's filter dispatch is built with `applyOnForward` on
/// (`hostDispatchChains`, `felix/rules/dispatch.go`; `updateHostEndpoints`,
/// `felix/dataplane/linux/endpoint_mgr.go`), so a pod's forwarded packets meet the
/// `*` endpoint's applyOnForward ingress (`cali-from-hep-forward` on iif `cali*`)
/// and packets to pods its applyOnForward egress (`cali-to-hep-forward` on oif
/// `cali*`): FV "AOF policy on all-interfaces host endpoints"
/// (`felix/fv/hostendpoints_test.go`). Mangle PREROUTING dispatches pods' packets
/// too, so `*` pre-DNAT policy applies to pod to pod and pod to own host ("no one can
/// connect via NodePorts", `felix/fv/pre_dnat_test.go`; `*` pre-DNAT Deny blocks pod
/// to own host whatever `DefaultEndpointToHostAction`,
/// `felix/fv/ep_to_host_action_test.go`).
fn all_interfaces_host_endpoint_covers_pod_traffic() {
    let policies = format!(
        "{HOST_OPEN}---\n{}",
        r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pre-deny-8080}
spec:
  selector: role == 'node'
  preDNAT: true
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [8080]}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: aof}
spec:
  selector: role == 'node'
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:
  - {action: Deny, protocol: TCP, destination: {ports: [9090]}}
  - {action: Allow}
  egress:
  - {action: Deny, protocol: TCP, destination: {ports: [6060]}}
  - {action: Allow}
"#
    );
    scenario_on(
        "star-covers-pods",
        INVENTORY_STAR,
        false,
        &policies,
        &[
            // Pod to pod on n1: pre-DNAT, forward ingress and egress of s1.
            ("app/a", "app/b", Probe::Tcp(8080), false),
            ("app/a", "app/b", Probe::Tcp(9090), false),
            ("app/a", "app/b", Probe::Tcp(6060), false),
            ("app/a", "app/b", Probe::Tcp(7070), true),
            // Pod to its own host: s1's pre-DNAT policy, not its normal ingress.
            ("app/a", "host/s1", Probe::Tcp(8080), false),
            ("app/a", "host/s1", Probe::Tcp(9090), true),
            // Leaving n1: s1's forward ingress for the pod's packets.
            ("app/a", "app/q", Probe::Tcp(9090), false),
            ("app/a", "app/q", Probe::Tcp(6060), false),
            ("app/a", "app/q", Probe::Tcp(7070), true),
            // Arriving at n1's pods: pre-DNAT, forward ingress, forward egress.
            ("app/q", "app/b", Probe::Tcp(8080), false),
            ("app/q", "app/b", Probe::Tcp(9090), false),
            ("app/q", "app/b", Probe::Tcp(6060), false),
            ("app/q", "app/b", Probe::Tcp(7070), true),
            // n2's host to n1's pod, n1's host to its own pod (never policed).
            ("node/n2", "app/a", Probe::Tcp(9090), false),
            ("host/s1", "app/a", Probe::Tcp(9090), true),
        ],
    );
}

/// Item 8, loopback. Felix's iptables and nftables chains have no `lo` accept
/// (`filterInputChain`, `filterOutputChain`, `felix/rules/static.go`): `lo` is a host
/// interface, and an all-interfaces host endpoint ("all of a host's real or virtual
/// interfaces", HostEndpoint reference) is the default owner of it in every dispatch.
/// So on n1 (`*` endpoint s1 without policy or profile) the host's traffic to its
/// own address meets s1's normal egress (outbound failsafe ports only), then its
/// ingress (inbound failsafe only): only ports in both lists pass. On a node whose
/// only host endpoint names eth0, `lo` is not policed.
fn loopback_is_policed_by_all_interfaces_host_endpoints() {
    let inventory = r#"
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: s1, labels: {role: node}}
spec: {node: n1, interfaceName: "*", expectedIPs: [192.168.0.1]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h2, labels: {role: closed}}
spec: {node: n2, interfaceName: eth0, expectedIPs: [192.168.0.2]}
"#;
    scenario_on(
        "loopback",
        inventory,
        false,
        "",
        &[
            ("host/s1", "host/s1", Probe::Tcp(8080), false),
            // Inbound failsafe only: egress drops it.
            ("host/s1", "host/s1", Probe::Tcp(22), false),
            // In both failsafe lists.
            ("host/s1", "host/s1", Probe::Tcp(6443), true),
            ("host/h2", "host/h2", Probe::Tcp(8080), true),
        ],
    );
}

/// Item 5. Felix dispatches forwarded packets by interface: `cali-from-hep-forward`
/// on the incoming interface, `cali-to-hep-forward` on the outgoing one
/// (`StaticFilterForwardChains`, `felix/rules/static.go`; `hostDispatchChains`,
/// `felix/rules/dispatch.go`), each to the host endpoint resolved for that interface
/// (`resolveHostEndpoints`, `felix/dataplane/linux/endpoint_mgr.go`). A packet from
/// x (network of eth0, endpoint `a`) to y (network of eth1, endpoint `b`) meets a's
/// applyOnForward ingress and b's applyOnForward egress, and nothing of the other
/// two directions.
fn forwarding_is_dispatched_per_interface() {
    let name = "transit";
    let inventory = r#"
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: a, labels: {side: a}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.1.1]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: b, labels: {side: b}}
spec: {node: n1, interfaceName: eth1, expectedIPs: [192.168.2.1]}
"#;
    let policies = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: a-fwd}
spec:
  selector: side == 'a'
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:
  - {action: Deny, protocol: TCP, destination: {ports: [9090]}}
  - {action: Allow}
  egress:
  - {action: Deny, protocol: TCP, destination: {ports: [7070]}}
  - {action: Allow}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-fwd}
spec:
  selector: side == 'b'
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:
  - {action: Deny, protocol: TCP, destination: {ports: [6060]}}
  - {action: Allow}
  egress:
  - {action: Deny, protocol: TCP, destination: {ports: [8080]}}
  - {action: Allow}
"#;
    let files = [("inventory.yaml", inventory), ("policies.yaml", policies)];
    let (_dir, out) = common::build_all(&files);
    let model = common::model_of(&files);
    let engine = Engine::new(&model);
    let bed = Bed::transit("n1");
    bed.load("n1", &out.join("n1"));
    let eth = |n: &str| polc::semantics::Iface::Named(n.to_string());
    // (from, to, port, Felix): x -> y enters by eth0 (a's ingress) and leaves by
    // eth1 (b's egress); y -> x the other way round.
    let probes = [
        ("x", "y", 8080, false),
        ("x", "y", 9090, false),
        ("x", "y", 7070, true),
        ("x", "y", 6060, true),
        ("x", "y", 5050, true),
        ("y", "x", 6060, false),
        ("y", "x", 7070, false),
        ("y", "x", 8080, true),
        ("y", "x", 9090, true),
    ];
    let mut wrong = Vec::new();
    for (from, to, port, felix) in probes {
        let (f, t) = (&bed.places[from], &bed.places[to]);
        let (iif, oif) = if from == "x" {
            (eth("eth0"), eth("eth1"))
        } else {
            (eth("eth1"), eth("eth0"))
        };
        let path = engine.transit(f.ips[0], t.ips[0], "n1", iif, oif);
        let evaluator = path.allows(&Packet::to_port(Protocol::TCP, port));
        let kernel = netbed::probe(f, t, Probe::Tcp(port));
        if evaluator != felix || kernel != evaluator {
            wrong.push(format!(
                "{from} -> {to} TCP {port}: Felix {felix}, evaluator {evaluator}, kernel {kernel}"
            ));
        }
    }
    eprintln!(
        "kernel-felix[{name}]: {} probes, {} agree",
        probes.len(),
        probes.len() - wrong.len()
    );
    assert!(wrong.is_empty(), "{name}:\n{}", wrong.join("\n"));
}

/// The tests, run by the kernel harness: `ignored` (saying what is missing) where root
/// or a tool is missing, failing there under `POLC_KERNEL_TESTS=1`.
/// Item 7, hosts. With IP-in-IP, VXLAN or WireGuard on, Felix's filter INPUT accepts
/// IP protocol 4 and UDP `vxlanPort` from Calico hosts (and drops them from anyone
/// else, host endpoint or not) and UDP to the WireGuard port from anyone, before the
/// host-endpoint dispatch (`filterInputChain`, `felix/rules/static.go`); OUTPUT
/// accepts them to Calico hosts (`filterOutputChain`). n1's host endpoint h1 denies
/// every inbound connection; n2 (a Calico host) and an outside address probe it.
fn host_tunnels_pass_before_host_endpoint_policy() {
    let name = "host-tunnels";
    if !netbed::enabled(name) {
        return;
    }
    let closed = r#"
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hep-closed}
spec:
  selector: role == 'node'
  types: [Ingress, Egress]
  ingress: [{action: Deny}]
  egress: [{action: Allow}]
"#;
    let felix = "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\n\
                 spec: {ipipEnabled: true, vxlanEnabled: true, wireguardEnabled: true}\n";
    let ext = "203.0.113.10";
    // (from, to, probe, Felix with the tunnels on, Felix with them off)
    let ipip = None;
    let probes: [(&str, &str, Option<Probe>, bool, bool); 8] = [
        ("node/n2", "host/h1", ipip, true, false),
        (ext, "host/h1", ipip, false, false),
        (ext, "node/n2", ipip, false, true),
        ("node/n2", "host/h1", Some(Probe::Udp(4789)), true, false),
        (ext, "host/h1", Some(Probe::Udp(4789)), false, false),
        (ext, "host/h1", Some(Probe::Udp(51820)), true, false),
        (ext, "host/h1", Some(Probe::Udp(5000)), false, false),
        ("host/h1", "node/n2", Some(Probe::Udp(4789)), true, true),
    ];
    // IPPools enable IP-in-IP and VXLAN where FelixConfiguration does not say
    // (`felix/calc/encapsulation_resolver.go`), and FelixConfiguration overrides them.
    let pools = "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: ipip}\n\
                 spec: {cidr: 10.244.0.0/16, ipipMode: CrossSubnet}\n---\n\
                 apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: vxlan}\n\
                 spec: {cidr: 10.245.0.0/16, vxlanMode: Always}\n";
    let wireguard = "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\n\
                     spec: {wireguardEnabled: true}\n";
    let overridden = "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\n\
                      spec: {ipipEnabled: false, vxlanEnabled: false}\n";
    let configs = [
        ("felix", format!("{closed}---\n{felix}"), true),
        (
            "pools",
            format!("{closed}---\n{pools}---\n{wireguard}"),
            true,
        ),
        ("off", closed.to_string(), false),
        (
            "pools-overridden",
            format!("{closed}---\n{pools}---\n{overridden}"),
            false,
        ),
    ];
    let mut wrong = Vec::new();
    for (label, policies, on) in &configs {
        let on = *on;
        let files = [
            ("inventory.yaml", INVENTORY),
            ("policies.yaml", policies.as_str()),
        ];
        let (_dir, out) = common::build_all(&files);
        let model = common::model_of(&files);
        let engine = Engine::new(&model);
        let families = netbed::Families {
            v4: true,
            v6: false,
        };
        let bed = Bed::build(&model, &engine, families, true);
        for node in bed.nodes.keys() {
            bed.load(node, &out.join(node));
        }
        for &(from, to, probe, felix_on, felix_off) in &probes {
            let felix = if on { felix_on } else { felix_off };
            let (f, t) = (
                engine.universe.resolve(&model, from).unwrap(),
                engine.universe.resolve(&model, to).unwrap(),
            );
            let packet = match probe {
                Some(Probe::Udp(p)) => Packet::to_port(Protocol::UDP, p),
                _ => Packet::to_port(polc::semantics::IPIP, 0),
            };
            let evaluator = engine.evaluate(f, t, &packet).allowed;
            let (pf, pt) = (&bed.places[from], &bed.places[to]);
            let kernel = match probe {
                Some(p) => netbed::probe_expecting(pf, pt, p, evaluator),
                None => netbed::ipip(pf, pt),
            };
            if evaluator != felix || kernel != evaluator {
                wrong.push(format!(
                    "tunnels {label}: {from} -> {to} {probe:?}: Felix {felix}, evaluator {evaluator}, kernel {kernel}"
                ));
            }
        }
    }
    let total = configs.len() * probes.len();
    eprintln!(
        "kernel-felix[{name}]: {total} probes, {} agree",
        total - wrong.len()
    );
    assert!(wrong.is_empty(), "{name}:\n{}", wrong.join("\n"));
}

/// Item 8, conntrack INVALID. Felix drops INVALID packets only inside tracked
/// endpoint chains (`appendConntrackRules`, `felix/rules/endpoints.go`), never in its
/// static chains: traffic that meets no endpoint chain (a node without host
/// endpoints) is not dropped. With `nf_conntrack_tcp_loose=0` a bare TCP ACK is
/// INVALID: from the outside to n2 (no host endpoint) it reaches n2's kernel, which
/// answers with a RST; through h1's (open) host endpoint it is dropped, both ways,
/// unless n1 sets `disableConntrackInvalidCheck`.
fn conntrack_invalid_dropped_only_in_endpoint_chains() {
    let name = "conntrack-invalid";
    if !netbed::enabled(name) {
        return;
    }
    let disable = "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: node.n1}\n\
                   spec: {disableConntrackInvalidCheck: true}\n";
    let mut wrong = Vec::new();
    for disabled in [false, true] {
        let policies = if disabled {
            format!("{HOST_OPEN}---\n{disable}")
        } else {
            HOST_OPEN.to_string()
        };
        let files = [
            ("inventory.yaml", INVENTORY),
            ("policies.yaml", policies.as_str()),
        ];
        let (_dir, out) = common::build_all(&files);
        let model = common::model_of(&files);
        let engine = Engine::new(&model);
        let families = netbed::Families {
            v4: true,
            v6: false,
        };
        let bed = Bed::build(&model, &engine, families, true);
        for (node, ns) in &bed.nodes {
            bed.load(node, &out.join(node));
            netbed::set_sysctls(ns, &[("net/netfilter/nf_conntrack_tcp_loose", "0")]);
        }
        // (from, to, Felix: answered). h1's egress and ingress chains are tracked:
        // they drop the ACK (leaving n1, or arriving there) unless n1 disables the
        // check; between the outside and n2 no endpoint chain runs.
        let probes = [
            ("host/h1", "node/n2", disabled),
            ("node/n2", "host/h1", disabled),
            ("203.0.113.10", "node/n2", true),
        ];
        for (from, to, felix) in probes {
            let (f, t) = (&bed.places[from], &bed.places[to]);
            let kernel = netbed::bare_ack_answered(f, t, 8080);
            if kernel != felix {
                wrong.push(format!(
                    "disableConntrackInvalidCheck {disabled}: bare ACK {from} -> {to}: Felix answered {felix}, kernel {kernel}"
                ));
            }
        }
    }
    eprintln!("kernel-felix[{name}]: 6 probes, {} agree", 6 - wrong.len());
    assert!(wrong.is_empty(), "{name}:\n{}", wrong.join("\n"));
}

fn main() {
    netbed::run_kernel_tests(
        "kernel_felix",
        &[
            (
                "pre_dnat_deny_keeps_replies_of_host_connections",
                pre_dnat_deny_keeps_replies_of_host_connections,
                true,
            ),
            (
                "pre_dnat_failsafe_does_not_skip_apply_on_forward",
                pre_dnat_failsafe_does_not_skip_apply_on_forward,
                true,
            ),
            (
                "untracked_failsafe_replies_and_allow",
                untracked_failsafe_replies_and_allow,
                true,
            ),
            (
                "workload_vxlan_dropped_unless_allowed",
                workload_vxlan_dropped_unless_allowed,
                true,
            ),
            (
                "workload_icmpv6_nd_to_own_host_before_policy",
                workload_icmpv6_nd_to_own_host_before_policy,
                true,
            ),
            (
                "expected_ips_host_endpoint_polices_its_interface",
                expected_ips_host_endpoint_polices_its_interface,
                true,
            ),
            (
                "all_interfaces_host_endpoint_covers_pod_traffic",
                all_interfaces_host_endpoint_covers_pod_traffic,
                true,
            ),
            (
                "loopback_is_policed_by_all_interfaces_host_endpoints",
                loopback_is_policed_by_all_interfaces_host_endpoints,
                true,
            ),
            (
                "forwarding_is_dispatched_per_interface",
                forwarding_is_dispatched_per_interface,
                true,
            ),
            (
                "host_tunnels_pass_before_host_endpoint_policy",
                host_tunnels_pass_before_host_endpoint_policy,
                true,
            ),
            (
                "conntrack_invalid_dropped_only_in_endpoint_chains",
                conntrack_invalid_dropped_only_in_endpoint_chains,
                true,
            ),
        ],
    );
}
