//! What the frontend makes of valid input: Calico's defaults, conversions, implicit
//! labels and evaluation order, checked on the IR.

use polc::frontend::{Loaded, load_sources};
use polc::ir::{
    Action, Interface, IpVersion, PolicyKind, PortMatch, PortRange, Protocol, TierAction,
};
use polc::source::Sources;

fn load(yaml: &str) -> Loaded {
    let mut sources = Sources::default();
    sources.add("test.yaml".into(), yaml.to_string());
    let loaded = load_sources(sources);
    let errors: Vec<String> = loaded
        .diags
        .sorted()
        .iter()
        .filter(|d| d.severity == polc::diag::Severity::Error)
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    loaded
}

fn gnp(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: {name}\nspec:\n{spec}---\n"
    )
}

#[test]
fn calico_types_default_from_the_rules() {
    let m = load(
        &[
            gnp("none", "  selector: all()\n"),
            gnp("ing", "  ingress: [{action: Allow}]\n"),
            gnp("eg", "  egress: [{action: Allow}]\n"),
            gnp(
                "both",
                "  ingress: [{action: Allow}]\n  egress: [{action: Deny}]\n",
            ),
            gnp("explicit", "  types: [Egress]\n"),
        ]
        .concat(),
    )
    .model;
    let types = |n: &str| {
        let p = m.policies.iter().find(|p| p.id.name == n).unwrap();
        (p.types.ingress, p.types.egress)
    };
    assert_eq!(types("none"), (true, false));
    assert_eq!(types("ing"), (true, false));
    assert_eq!(types("eg"), (false, true));
    assert_eq!(types("both"), (true, true));
    assert_eq!(types("explicit"), (false, true));
}

#[test]
fn tiers_sort_by_order_then_name_with_unordered_last_and_builtins_present() {
    let yaml = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: zeta}\nspec: {order: 100}\n---\n\
                apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: alpha}\nspec: {order: 100}\n---\n\
                apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: last}\nspec: {defaultAction: Pass}\n---\n\
                apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: early}\nspec: {order: 0.5}\n";
    let m = load(yaml).model;
    let names: Vec<&str> = m.tiers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "early",
            "alpha",
            "zeta",
            "kube-admin",
            "default",
            "kube-baseline",
            "last"
        ]
    );
    assert_eq!(m.tier("last").unwrap().default_action, TierAction::Pass);
    assert_eq!(m.tier("alpha").unwrap().default_action, TierAction::Deny);
    assert!(m.tier("default").unwrap().builtin);
}

#[test]
fn policies_sort_by_tier_order_then_name_namespace_kind() {
    let yaml = [
        gnp("b", "  order: 10\n"),
        gnp("a", "  order: 10\n"),
        gnp("z", "  order: 5\n"),
        gnp("unordered", ""),
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: a, namespace: x}\nspec: {order: 10}\n---\n".into(),
    ]
    .concat();
    let m = load(&yaml).model;
    let ids: Vec<String> = m.policies.iter().map(|p| p.id.sort_key()).collect();
    assert_eq!(
        ids,
        [
            "z//GlobalNetworkPolicy",
            "a//GlobalNetworkPolicy",
            "a/x/NetworkPolicy",
            "b//GlobalNetworkPolicy",
            "unordered//GlobalNetworkPolicy"
        ]
    );
}

#[test]
fn namespaced_policy_selectors_are_scoped_as_calico_scopes_them() {
    let yaml = r#"
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p, namespace: prod}
spec:
  selector: app == 'db'
  ingress:
    - {action: Allow}
    - {action: Allow, source: {selector: app == 'web'}}
    - {action: Allow, source: {notSelector: app == 'web'}}
    - {action: Allow, source: {namespaceSelector: env == 'dev'}}
    - {action: Allow, source: {namespaceSelector: global(), selector: role == 'node'}}
    - {action: Allow, source: {serviceAccounts: {names: [api]}}}
"#;
    let m = load(yaml).model;
    let p = &m.policies[0];
    assert_eq!(
        p.selector.to_string(),
        "(app == \"db\" && projectcalico.org/namespace == \"prod\")"
    );
    let sel = |i: usize| {
        p.ingress[i]
            .source
            .selector
            .as_ref()
            .map(ToString::to_string)
    };
    assert_eq!(sel(0), None);
    assert_eq!(
        sel(1).unwrap(),
        "(projectcalico.org/namespace == \"prod\" && app == \"web\")"
    );
    assert_eq!(sel(2).unwrap(), "projectcalico.org/namespace == \"prod\"");
    assert_eq!(
        p.ingress[2]
            .source
            .not_selector
            .as_ref()
            .unwrap()
            .to_string(),
        "app == \"web\""
    );
    assert_eq!(sel(3).unwrap(), "pcns.env == \"dev\"");
    assert_eq!(
        sel(4).unwrap(),
        "(!has(projectcalico.org/namespace) && role == \"node\")"
    );
    assert_eq!(
        sel(5).unwrap(),
        "(projectcalico.org/namespace == \"prod\" && projectcalico.org/serviceaccount in {\"api\"})"
    );
}

#[test]
fn global_policy_namespace_selector_all_becomes_has_namespace() {
    let m = load(&gnp(
        "g",
        "  namespaceSelector: all()\n  selector: app == 'x'\n",
    ))
    .model;
    assert_eq!(
        m.policies[0].selector.to_string(),
        "(app == \"x\" && has(projectcalico.org/namespace))"
    );
}

#[test]
fn kubernetes_network_policy_converts_as_calico_converts_it() {
    let yaml = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from:
        - podSelector: {matchLabels: {role: client}}
        - namespaceSelector: {matchLabels: {team: a}}
        - ipBlock: {cidr: 192.0.2.0/24, except: [192.0.2.128/25]}
      ports:
        - {port: 80}
        - {port: 81}
        - {protocol: UDP, port: 53}
        - {port: http}
  egress:
    - ports: [{protocol: TCP, port: 30000, endPort: 30100}]
"#;
    let m = load(yaml).model;
    let p = &m.policies[0];
    assert_eq!(p.id.kind, PolicyKind::KubernetesNetworkPolicy);
    assert_eq!((p.tier.as_str(), p.order), ("default", Some(1000.0)));
    assert_eq!(
        p.selector.to_string(),
        "(projectcalico.org/orchestrator == \"k8s\" && app == \"web\" && projectcalico.org/namespace == \"prod\")"
    );
    // policyTypes defaulted by the API server: egress rules exist.
    assert!(p.types.ingress && p.types.egress);
    // 3 peers x 2 protocols (TCP, UDP), all Allow.
    assert_eq!(p.ingress.len(), 6);
    assert!(p.ingress.iter().all(|r| r.action == Action::Allow));
    let tcp = &p.ingress[0];
    assert_eq!(tcp.protocol, Some(Protocol::TCP));
    assert_eq!(
        tcp.destination.ports,
        vec![
            PortMatch::Range(PortRange { lo: 80, hi: 81 }),
            PortMatch::Named("http".into())
        ]
    );
    assert_eq!(
        tcp.source.selector.as_ref().unwrap().to_string(),
        "(projectcalico.org/namespace == \"prod\" && projectcalico.org/orchestrator == \"k8s\" && role == \"client\")"
    );
    // Protocol outer, peer inner, as Calico orders them.
    assert_eq!(p.ingress[3].protocol, Some(Protocol::UDP));
    assert_eq!(
        p.ingress[3].destination.ports,
        vec![PortMatch::Range(PortRange::single(53))]
    );
    assert_eq!(
        p.ingress[1].source.selector.as_ref().unwrap().to_string(),
        "(pcns.team == \"a\" && projectcalico.org/orchestrator == \"k8s\")"
    );
    let block = &p.ingress[2].source;
    assert_eq!(block.nets[0].to_string(), "192.0.2.0/24");
    assert_eq!(block.not_nets[0].to_string(), "192.0.2.128/25");
    assert!(block.selector.is_none());
    assert_eq!(p.ingress[2].ip_version, Some(IpVersion::V4));
    assert_eq!(p.egress.len(), 1);
    assert!(p.egress[0].destination.selector.is_none());
    assert_eq!(
        p.egress[0].destination.ports,
        vec![PortMatch::Range(PortRange {
            lo: 30000,
            hi: 30100
        })]
    );
}

#[test]
fn empty_kubernetes_rules_mean_what_the_api_says() {
    let yaml = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec:\n  podSelector: {}\n  ingress: []\n---\n\
                apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow, namespace: a}\nspec:\n  podSelector: {}\n  ingress: [{}]\n  policyTypes: [Ingress, Egress]\n";
    let m = load(yaml).model;
    let deny = m.policies.iter().find(|p| p.id.name == "deny").unwrap();
    assert!(deny.types.ingress && !deny.types.egress && deny.ingress.is_empty());
    let allow = m.policies.iter().find(|p| p.id.name == "allow").unwrap();
    assert_eq!(allow.ingress.len(), 1);
    assert!(allow.ingress[0].source.is_any() && allow.ingress[0].protocol.is_none());
    assert!(allow.types.egress && allow.egress.is_empty());
}

#[test]
fn pods_carry_the_labels_calico_selectors_see() {
    let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {env: prod}}\n---\n\
                apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: prod, labels: {app: web}}\n\
                spec: {nodeName: n1, serviceAccountName: api, containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}\n\
                status: {podIP: 10.0.0.5, phase: Running}\n";
    let m = load(yaml).model;
    let pod = &m.pods[0];
    let get = |k: &str| pod.labels.get(k).map(String::as_str);
    assert_eq!(get("app"), Some("web"));
    assert_eq!(get("projectcalico.org/namespace"), Some("prod"));
    assert_eq!(get("projectcalico.org/orchestrator"), Some("k8s"));
    assert_eq!(get("projectcalico.org/serviceaccount"), Some("api"));
    assert_eq!(get("pcns.env"), Some("prod"));
    assert_eq!(get("pcns.kubernetes.io/metadata.name"), Some("prod"));
    assert_eq!(get("pcns.projectcalico.org/name"), Some("prod"));
    assert_eq!(pod.ports[0].name, "http");
    assert_eq!(
        (pod.ports[0].protocol, pod.ports[0].port),
        (Protocol::TCP, 8080)
    );
    assert_eq!(pod.ips[0].to_string(), "10.0.0.5");
}

#[test]
fn host_endpoints_interfaces_and_felix_settings() {
    let yaml = "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: a}\nspec: {node: n1, interfaceName: '*', expectedIPs: [10.0.0.1]}\n---\n\
                apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: b}\nspec: {node: n1, expectedIPs: [10.0.0.2], ports: [{name: ssh, port: 22, protocol: TCP}]}\n---\n\
                apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: c}\nspec: {node: n2, interfaceName: eth0}\n---\n\
                apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec:\n  bpfEnabled: false\n  failsafeInboundHostPorts: [{protocol: tcp, port: 2222}]\n  defaultEndpointToHostAction: DROP\n---\n\
                apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: node.n2}\nspec:\n  failsafeInboundHostPorts: []\n";
    let m = load(yaml).model;
    let iface: Vec<&Interface> = m.host_endpoints.iter().map(|h| &h.interface).collect();
    assert_eq!(
        iface,
        [
            &Interface::All,
            &Interface::ByExpectedIp,
            &Interface::Named("eth0".into())
        ]
    );
    assert_eq!(m.host_endpoints[1].ports[0].port, 22);
    let inbound: Vec<u16> = m
        .felix
        .failsafe_inbound("n1")
        .iter()
        .map(|f| f.port)
        .collect();
    assert_eq!(inbound, [2222]);
    assert!(m.felix.failsafe_inbound("n2").is_empty());
    let outbound: Vec<u16> = m
        .felix
        .failsafe_outbound("n1")
        .iter()
        .map(|f| f.port)
        .collect();
    assert_eq!(outbound, [53, 67, 179, 2379, 2380, 5473, 6443, 6666, 6667]);
    assert_eq!(
        m.felix.endpoint_to_host_action("n1"),
        polc::ir::EndpointToHostAction::Drop
    );
}

#[test]
fn felix_defaults_when_nothing_is_configured() {
    let m = load("").model;
    let inbound: Vec<(Protocol, u16)> = m
        .felix
        .failsafe_inbound("any")
        .iter()
        .map(|f| (f.protocol, f.port))
        .collect();
    assert_eq!(inbound[0], (Protocol::TCP, 22));
    assert_eq!(inbound[1], (Protocol::UDP, 68));
    assert_eq!(inbound.len(), 9);
    assert_eq!(
        m.felix.endpoint_to_host_action("any"),
        polc::ir::EndpointToHostAction::Accept
    );
    assert!(
        m.profiles
            .iter()
            .any(|p| p.name == "projectcalico-default-allow" && p.builtin)
    );
}

#[test]
fn rules_take_the_family_of_their_cidrs_and_icmp_names() {
    let m = load(&gnp(
        "fam",
        "  ingress:\n    - {action: Allow, source: {notNets: [10.0.0.0/8]}}\n    - {action: Allow, protocol: ICMPv6, icmp: {type: 128}}\n    - {action: Allow, protocol: 58}\n",
    ))
    .model;
    let r = &m.policies[0].ingress;
    assert_eq!(r[0].ip_version, Some(IpVersion::V4));
    assert_eq!(r[1].ip_version, Some(IpVersion::V6));
    assert_eq!(r[1].icmp.unwrap().type_, 128);
    assert_eq!(r[2].ip_version, None);
}

#[test]
fn staged_and_admin_policies_are_read() {
    let yaml = "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: s, namespace: a}\nspec: {stagedAction: Delete, tier: default}\n---\n\
                apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: guard}\nspec:\n  priority: 10\n  subject: {namespaces: {matchLabels: {env: prod}}}\n  egress:\n    - {name: dns, action: Allow, to: [{networks: [10.96.0.10/32]}], ports: [{portNumber: {protocol: UDP, port: 53}}]}\n---\n\
                apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n";
    let m = load(yaml).model;
    let by_name = |n: &str| m.policies.iter().find(|p| p.id.name == n).unwrap();
    assert_eq!(by_name("s").staged, Some(polc::ir::StagedAction::Delete));
    assert_eq!(m.admin_policies.len(), 2);
    assert_eq!(m.admin_policies[0].priority, Some(10));
    assert_eq!(m.admin_policies[1].name, "default");
    // Their Calico form (Calico's `K8sAdminNetworkPolicyToCalico`): tier, order,
    // types only where there are rules, the orchestrator label on the subject.
    let guard = by_name("guard");
    assert_eq!(guard.id.kind, polc::ir::PolicyKind::AdminNetworkPolicy);
    assert_eq!(
        (guard.tier.as_str(), guard.order),
        ("kube-admin", Some(10.0))
    );
    assert!(!guard.types.ingress && guard.types.egress);
    assert_eq!(
        guard.selector.to_string(),
        "(pcns.env == \"prod\" && projectcalico.org/orchestrator == \"k8s\")"
    );
    let [dns] = guard.egress.as_slice() else {
        panic!("{:?}", guard.egress)
    };
    assert_eq!(dns.action, polc::ir::Action::Allow);
    assert_eq!(dns.protocol, Some(polc::ir::Protocol::UDP));
    assert_eq!(dns.destination.nets, ["10.96.0.10/32".parse().unwrap()]);
    assert_eq!(dns.destination.ports.len(), 1);
    assert_eq!(dns.title(0), "rule 0 `dns`");
    let base = by_name("default");
    assert_eq!(
        (base.tier.as_str(), base.order),
        ("kube-baseline", Some(1000.0))
    );
    assert!(base.types.ingress && !base.types.egress);
    assert_eq!(
        base.ingress[0]
            .source
            .selector
            .as_deref()
            .map(ToString::to_string),
        Some("has(projectcalico.org/namespace)".to_string())
    );
}

#[test]
fn yaml_anchors_and_1_1_scalars_read_as_kubernetes_reads_them() {
    let yaml = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: anchors}\nspec:\n  applyOnForward: yes\n  ingress:\n    - &rule {action: Allow, protocol: TCP, destination: {ports: [22]}}\n    - *rule\n";
    let m = load(yaml).model;
    let p = &m.policies[0];
    assert!(p.apply_on_forward, "YAML 1.1 `yes` is true, as for go-yaml");
    assert_eq!(p.ingress.len(), 2);
    assert_eq!(
        p.ingress[0].destination.ports,
        p.ingress[1].destination.ports
    );
}
