//! Real manifests read as kubectl and calicoctl read them: YAML 1.1 scalars, a file
//! that is a sequence of resources, an omitted `podSelector`, selector-scoped
//! FelixConfigurations; checked on the model, not only for "no error".

use std::collections::BTreeMap;

use polc::diag::{Diagnostic, Severity};
use polc::frontend::{Loaded, load_sources};
use polc::ir::{FailsafePort, PortMatch, PortRange, Protocol};
use polc::source::Sources;

fn load(yaml: &str) -> Loaded {
    let mut sources = Sources::default();
    sources.add("test.yaml".into(), yaml.to_string());
    let loaded = load_sources(sources);
    let errors: Vec<&str> = loaded
        .diags
        .sorted()
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.message.as_str())
        .collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    loaded
}

fn with_code<'a>(l: &'a Loaded, code: &str) -> Vec<&'a Diagnostic> {
    l.diags
        .sorted()
        .into_iter()
        .filter(|d| d.code == code)
        .collect()
}

fn line(l: &Loaded, d: &Diagnostic) -> usize {
    let span = d.span.expect("a located finding");
    l.sources.locate(span).line
}

fn single(p: u16) -> PortMatch {
    PortMatch::Range(PortRange::single(p))
}

#[test]
fn numbers_are_read_as_go_yaml_v2_reads_them() {
    let l = load(
        "apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: ports
spec:
  order: 1e+2
  selector: all()
  applyOnForward: Yes
  doNotTrack: on
  ingress:
    - action: Allow
      protocol: 0x6
      ipVersion: 4.0
      destination:
        ports: [0o17, 017, 0x1F, 1_000, 1e+3, \"y\", !!str 22, 80]
",
    );
    let p = &l.model.policies[0];
    assert_eq!(p.order, Some(100.0));
    assert!(p.apply_on_forward && p.do_not_track, "Yes and on are true");
    let r = &p.ingress[0];
    assert_eq!(r.protocol, Some(Protocol::TCP));
    assert_eq!(
        r.destination.ports,
        vec![
            single(15),
            single(15),
            single(31),
            single(1000),
            single(1000),
            PortMatch::Named("y".into()),
            single(22),
            single(80),
        ]
    );
    // Both octal spellings are read as 15 and said to be, at their places.
    let octal = with_code(&l, "octal-number");
    assert_eq!(octal.len(), 2, "{octal:?}");
    assert!(octal.iter().all(|d| line(&l, d) == 15));
    assert!(octal[0].message.contains("`0o17`") && octal[1].message.contains("`017`"));
}

#[test]
fn text_fields_keep_quoted_and_null_values_as_upstream_does() {
    let l = load(
        "apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    enabled: \"yes\"
    empty: ~
    build: !!str 017
    port: 80
    ? \"on\"
    : edge
",
    );
    let ns = l
        .model
        .namespaces
        .iter()
        .find(|n| n.name == "shop")
        .unwrap();
    let want = [
        ("build", "017"),
        ("empty", ""),
        ("enabled", "yes"),
        ("on", "edge"),
        ("port", "80"),
    ];
    for (k, v) in want {
        assert_eq!(ns.labels.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert!(with_code(&l, "scalar-type").is_empty());
}

#[test]
fn a_file_that_is_a_sequence_of_resources_is_read_as_a_list() {
    let l = load(
        "- apiVersion: projectcalico.org/v3
  kind: Tier
  metadata: {name: security}
  spec: {order: 100}
- spec:
    tier: security
    selector: app == 'web'
    ingress: [{action: Allow}]
  apiVersion: projectcalico.org/v3
  kind: GlobalNetworkPolicy
  metadata: {name: web}
- apiVersion: projectcalico.org/v3
  kind: GlobalNetworkPolicy
  metadata: {name: db}
  spec:
    selector: app == 'db'
",
    );
    let m = &l.model;
    assert!(
        m.tiers
            .iter()
            .any(|t| t.name == "security" && t.order == Some(100.0))
    );
    let names: BTreeMap<&str, usize> = m
        .policies
        .iter()
        .map(|p| (p.id.name.as_str(), l.sources.locate(p.span).line))
        .collect();
    // Each item keeps its own place: `metadata.name` of its own item.
    assert_eq!(names, BTreeMap::from([("web", 11), ("db", 14)]));
    let web = m.policies.iter().find(|p| p.id.name == "web").unwrap();
    assert_eq!(web.tier, "security");
    assert_eq!(web.ingress.len(), 1);
}

#[test]
fn an_omitted_or_null_pod_selector_selects_every_pod_of_the_namespace() {
    let np = |name: &str, spec: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n{spec}---\n"
        )
    };
    let l = load(
        &[
            np("omitted", "  policyTypes: [Ingress]\n"),
            np("nulled", "  podSelector: null\n  ingress: [{}]\n"),
            np("empty", "  podSelector: {}\n"),
        ]
        .concat(),
    );
    let sel = |name: &str| {
        l.model
            .policies
            .iter()
            .find(|p| p.id.name == name)
            .unwrap_or_else(|| panic!("{name} was lowered"))
            .selector
            .clone()
    };
    assert_eq!(sel("omitted"), sel("empty"));
    assert_eq!(sel("nulled"), sel("empty"));
    let pod_of = |ns: &str| {
        BTreeMap::from([
            ("projectcalico.org/namespace".to_string(), ns.to_string()),
            (
                "projectcalico.org/orchestrator".to_string(),
                "k8s".to_string(),
            ),
            ("app".to_string(), "anything".to_string()),
        ])
    };
    assert!(sel("omitted").matches(&pod_of("shop")));
    assert!(!sel("omitted").matches(&pod_of("other")));
}

fn failsafe(port: u16) -> String {
    format!("[{{protocol: tcp, port: {port}}}]")
}

#[test]
fn selector_scoped_felix_configurations_apply_to_the_nodes_they_select() {
    let fc = |name: &str, spec: &str| {
        format!(
            "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {{name: {name}}}\nspec:\n{spec}---\n"
        )
    };
    let node = |name: &str, labels: &str| {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{{labels}}}}}\nstatus: {{addresses: [{{type: InternalIP, address: 10.0.0.{}}}]}}\n---\n",
            name.len()
        )
    };
    let l = load(&[
        fc("default", &format!("  failsafeInboundHostPorts: {}\n", failsafe(22))),
        fc(
            "gpu",
            &format!(
                "  nodeSelector: role == 'gpu'\n  failsafeInboundHostPorts: {}\n  defaultEndpointToHostAction: Drop\n",
                failsafe(2222)
            ),
        ),
        fc("node.g2", "  defaultEndpointToHostAction: Accept\n"),
        node("g1", "role: gpu"),
        node("g2", "role: gpu"),
        node("cpu1", "role: cpu"),
    ]
    .concat());
    let felix = &l.model.felix;
    let ports = |n: &str| -> Vec<u16> {
        felix
            .failsafe_inbound(n)
            .iter()
            .map(|p: &FailsafePort| p.port)
            .collect()
    };
    use polc::ir::EndpointToHostAction::{Accept, Drop};
    assert_eq!(ports("g1"), [2222]);
    assert_eq!(felix.endpoint_to_host_action("g1"), Drop);
    // node.<name> wins per setting; the selector-scoped one fills the rest.
    assert_eq!(ports("g2"), [2222]);
    assert_eq!(felix.endpoint_to_host_action("g2"), Accept);
    assert_eq!(ports("cpu1"), [22]);
    assert_eq!(felix.endpoint_to_host_action("cpu1"), Accept);
    assert!(with_code(&l, "ignored-felix-configuration").is_empty());
}

#[test]
fn two_selector_scoped_configurations_on_one_node_are_reported() {
    let l = load(
        "apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: b-edge}
spec: {nodeSelector: has(edge), defaultEndpointToHostAction: Drop}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: a-all}
spec: {nodeSelector: all(), defaultEndpointToHostAction: Return}
---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {edge: \"\"}}
",
    );
    assert_eq!(
        l.model.felix.endpoint_to_host_action("n1"),
        polc::ir::EndpointToHostAction::Return,
        "the first by name"
    );
    let ignored = with_code(&l, "ignored-felix-configuration");
    assert_eq!(ignored.len(), 1);
    assert!(
        ignored[0]
            .message
            .contains("`a-all` and `b-edge` both select node `n1`")
    );
    assert_eq!(line(&l, ignored[0]), 3);
}
