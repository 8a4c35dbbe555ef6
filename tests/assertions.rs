//! `polc test --assertions`: assertions that hold and fail with the right witness,
//! exactness over CIDRs (a violation confined to a sub-range is found, and the
//! verdict agrees with evaluating every address), the JSON and JUnit XML reports, and
//! bad assertion files reported at `path:line:col`.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use common::polc;
use ipnet::IpNet;
use polc::analysis::assert::{Outcome, check};
use polc::frontend::assertions::read_assertions;
use polc::semantics::{EndpointRef, Engine, Packet};
use polc::source::Sources;

/// Two namespaces, a Kubernetes policy admitting dev to prod/backend on TCP 8080, and
/// a host endpoint whose SSH-like port 2222 admits `192.0.2.0/24` except `DENIED`.
fn model(denied: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: prod, labels: {{env: prod}}}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: dev, labels: {{env: dev}}}}
---
apiVersion: v1
kind: Node
metadata: {{name: node-a}}
---
apiVersion: v1
kind: Node
metadata: {{name: node-b}}
---
apiVersion: v1
kind: Pod
metadata: {{name: backend, namespace: prod, labels: {{app: backend}}}}
spec: {{nodeName: node-a, containers: [{{name: c}}]}}
status: {{podIP: 10.0.0.10}}
---
apiVersion: v1
kind: Pod
metadata: {{name: frontend, namespace: dev, labels: {{app: frontend}}}}
spec: {{nodeName: node-b, containers: [{{name: c}}]}}
status: {{podIP: 10.0.1.10}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: backend, namespace: prod}}
spec:
  podSelector: {{matchLabels: {{app: backend}}}}
  ingress:
    - from: [{{namespaceSelector: {{matchLabels: {{env: dev}}}}}}]
      ports: [{{port: 8080, protocol: TCP}}]
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {{name: node-a-eth0, labels: {{role: node}}}}
spec: {{node: node-a, interfaceName: eth0, expectedIPs: [192.168.0.1]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {{name: admin-ssh}}
spec:
  selector: role == 'node'
  types: [Ingress]
  ingress:
    - action: Deny
      protocol: TCP
      source: {{nets: [{denied}]}}
      destination: {{ports: [2222]}}
    - action: Allow
      protocol: TCP
      source: {{nets: [192.0.2.0/24]}}
      destination: {{ports: [2222]}}
"#
    )
}

const ASSERTIONS: &str = r#"- name: dev/frontend reaches prod/backend on 8080
  from: {name: dev/frontend}
  to: {name: prod/backend}
  ports: [8080/tcp]
  expect: allowed
- name: the admin net reaches every host on 2222
  from: {cidr: 192.0.2.0/24}
  to: {kind: host}
  ports: [2222/tcp]
  expect: allowed
- name: dev reaches the backend on 8080-8081
  from: {namespace: dev}
  to: {selector: app == 'backend'}
  ports: ["8080-8081/tcp"]
  expect: allowed
- name: the lower half of the admin net reaches the hosts
  from: {cidr: 192.0.2.0/25}
  to: {kind: host}
  ports: [2222/tcp]
  expect: allowed
- name: some of the admin net is refused
  from: {cidr: 192.0.2.0/24}
  to: {kind: host}
  ports: [2222/tcp]
  expect: denied
  quantifier: any
- name: nothing outside reaches the backend <&"'>
  from: {cidr: 0.0.0.0/0}
  to: {name: prod/backend}
  ports: [tcp, udp, icmp]
  expect: denied
"#;

/// A folder with the model, and the assertion file beside it (outside the inputs).
fn fixture(denied: &str, assertions: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policy")).unwrap();
    std::fs::write(dir.path().join("policy/model.yaml"), model(denied)).unwrap();
    std::fs::write(dir.path().join("assertions.yaml"), assertions).unwrap();
    dir
}

fn run(dir: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let o = polc()
        .args(["test", "policy", "--assertions", "assertions.yaml"])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn in_net(ip: &str, net: &str) -> bool {
    let ip: IpAddr = ip.parse().unwrap();
    net.parse::<IpNet>().unwrap().contains(&ip)
}

#[test]
fn holding_and_failing_assertions_with_their_witnesses() {
    let dir = fixture("192.0.2.128/28", ASSERTIONS);
    let (code, stdout, stderr) = run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("PASS") || l.starts_with("FAIL"))
        .collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(lines[0].starts_with("PASS dev/frontend reaches prod/backend on 8080"));
    assert!(
        lines[1].starts_with("FAIL the admin net reaches every host on 2222 (assertions.yaml:6:3)")
    );
    assert!(lines[2].starts_with("FAIL dev reaches the backend on 8080-8081"));
    assert!(lines[3].starts_with("PASS the lower half"));
    assert!(lines[4].starts_with("PASS some of the admin net is refused"));
    // A CIDR side includes the endpoints holding its addresses: dev/frontend is in
    // 0.0.0.0/0, and the backend admits it.
    assert!(lines[5].starts_with("FAIL nothing outside"), "{stdout}");
    assert!(stdout.contains(
        "witness: dev/frontend (10.0.1.10) -> prod/backend (10.0.0.10), TCP 40000->8080: ALLOWED"
    ));
    // The port range fails on its second port, denied at the end of the tier the
    // Kubernetes policy lives in.
    assert!(
        stdout.contains(
            "witness: dev/frontend (10.0.1.10) -> prod/backend (10.0.0.10), TCP 40000->8081: DENIED"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("decided by: end of tier default: defaultAction Deny"));
    // The deciding rule is named with its place, as `polc explain` names it.
    assert!(
        stdout.contains("Deny by GlobalNetworkPolicy admin-ssh (tier default), ingress rule 0 at policy/model.yaml:"),
        "{stdout}"
    );
    assert!(stdout.contains("6 assertions: 3 passed, 3 failed"));
}

#[test]
fn a_cidr_violated_only_in_a_sub_range_fails_with_a_witness_inside_it() {
    // Sub-ranges of every size, at the start, middle and end of the /24.
    for denied in [
        "192.0.2.0/32",
        "192.0.2.255/32",
        "192.0.2.77/32",
        "192.0.2.128/28",
        "192.0.2.64/26",
        "192.0.2.200/29",
        "192.0.2.0/25",
    ] {
        let dir = fixture(
            denied,
            "- name: the admin net reaches the host\n  from: {cidr: 192.0.2.0/24}\n  to: {name: host/node-a-eth0}\n  ports: [2222/tcp]\n  expect: allowed\n",
        );
        let (code, stdout, _) = run(dir.path(), &["--format", "json"]);
        assert_eq!(code, Some(1), "{denied}: {stdout}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let w = &v["assertions"][0]["witness"];
        let src = w["src_ip"].as_str().unwrap();
        assert!(in_net(src, denied), "{denied}: witness {src} is outside");
        assert_eq!(w["allowed"], false);
        assert_eq!(w["dport"], 2222);
    }
}

/// The outcome of one assertion over the library, and the truth by evaluating every
/// address of the CIDR.
#[test]
fn cidr_assertions_agree_with_evaluating_every_address() {
    for (denied, net) in [
        ("192.0.2.128/28", "192.0.2.0/24"),
        ("192.0.2.128/28", "192.0.2.0/25"),
        ("192.0.2.128/28", "192.0.2.136/29"),
        ("192.0.2.128/28", "192.0.2.120/29"),
        ("192.0.2.7/32", "192.0.2.0/29"),
        ("192.0.2.7/32", "192.0.2.0/30"),
    ] {
        let mut sources = Sources::default();
        sources.add("model.yaml".into(), model(denied));
        let loaded = polc::frontend::load_sources(sources);
        assert!(!loaded.diags.has_errors());
        let mut sources = loaded.sources;
        let text = format!(
            "- name: n\n  from: {{cidr: {net}}}\n  to: {{name: host/node-a-eth0}}\n  ports: [2222/tcp]\n  expect: allowed\n"
        );
        let file = sources.add("a.yaml".into(), text);
        let (assertions, diags) = read_assertions(&sources, file);
        assert!(!diags.has_errors(), "{:?}", diags.sorted());
        let engine = Engine::new(&loaded.model);
        let outcome = &check(&engine, &assertions)[0];
        let host = EndpointRef::Known(engine.universe.by_name("host/node-a-eth0").unwrap());
        let net: IpNet = net.parse().unwrap();
        let truth = net
            .hosts()
            .chain([net.network(), net.broadcast()])
            .all(|ip| {
                engine
                    .evaluate(
                        EndpointRef::External(ip),
                        host,
                        &Packet::to_port(polc::ir::Protocol::TCP, 2222),
                    )
                    .allowed
            });
        assert_eq!(outcome.holds(), truth, "{denied} over {net}: {outcome:?}");
        if let Outcome::Fails {
            witness: Some(w), ..
        } = outcome
        {
            let EndpointRef::External(IpAddr::V4(ip)) = w.from else {
                panic!("a free address is the witness: {w:?}");
            };
            let d: IpNet = denied.parse().unwrap();
            assert!(d.contains(&IpAddr::V4(ip)) && net.contains(&IpAddr::V4(ip)));
            assert_ne!(ip, Ipv4Addr::UNSPECIFIED);
        }
    }
}

#[test]
fn json_report_is_a_stable_contract() {
    let dir = fixture("192.0.2.128/28", ASSERTIONS);
    let (code, stdout, _) = run(dir.path(), &["--format", "json"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["passed"], 3);
    assert_eq!(v["failed"], 3);
    let a = v["assertions"].as_array().unwrap();
    assert_eq!(a.len(), 6);
    assert_eq!(a[0]["holds"], true);
    assert_eq!(a[0]["pairs"], 1);
    assert_eq!(a[1]["at"], "assertions.yaml:6:3");
    let w = &a[2]["witness"];
    assert_eq!(w["from"], "dev/frontend");
    assert_eq!(w["to"], "prod/backend");
    assert_eq!(w["protocol"], "TCP");
    assert_eq!(w["dport"], 8081);
    assert_eq!(w["sport"], 40000);
    assert!(
        w["trace"]
            .as_str()
            .unwrap()
            .contains("ingress of prod/backend: DENY")
    );
}

#[test]
fn junit_report_is_well_formed_with_one_case_per_assertion() {
    use quick_xml::events::Event;
    let dir = fixture("192.0.2.128/28", ASSERTIONS);
    let (code, stdout, _) = run(dir.path(), &["--format", "junit"]);
    assert_eq!(code, Some(1));
    let mut reader = quick_xml::Reader::from_str(&stdout);
    reader.config_mut().check_end_names = true;
    let (mut names, mut messages) = (Vec::new(), Vec::new());
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed: {e}\n{stdout}"));
        match event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let attr = |k: &str| {
                    e.try_get_attribute(k).unwrap().map(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned()
                    })
                };
                match e.name().as_ref() {
                    "testcase" => names.push(attr("name").unwrap()),
                    "failure" => messages.push(attr("message").unwrap()),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(names.len(), 6, "{stdout}");
    assert_eq!(messages.len(), 3, "{stdout}");
    // Names round-trip through escaping.
    assert_eq!(names[5], "nothing outside reaches the backend <&\"'>");
    assert!(stdout.contains(r#"<testsuites name="polc test" tests="6" failures="3">"#));
    assert_eq!(
        messages[1],
        "a flow that must be allowed is denied: dev/frontend (10.0.1.10) -> prod/backend (10.0.0.10), TCP 40000->8081: DENIED"
    );
    assert!(messages[0].contains("-> host/node-a-eth0 (192.168.0.1), TCP 40000->2222: DENIED"));
}

#[test]
fn every_assertion_holding_exits_zero() {
    let dir = fixture(
        "192.0.2.128/28",
        "- name: dev/frontend reaches prod/backend on 8080\n  from: {name: dev/frontend}\n  to: {name: prod/backend}\n  ports: [8080]\n  expect: allowed\n",
    );
    let (code, stdout, stderr) = run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("1 assertion: 1 passed, 0 failed"));
}

#[test]
fn a_side_that_selects_nothing_fails_rather_than_holding_vacuously() {
    let dir = fixture(
        "192.0.2.128/28",
        "- name: typo in a label\n  from: {selector: app == 'frontent'}\n  to: {name: prod/backend}\n  ports: [8080/tcp]\n  expect: denied\n",
    );
    let (code, stdout, _) = run(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("`from`: selects no endpoint"), "{stdout}");
}

#[test]
fn the_assertion_file_inside_an_input_folder_is_not_read_as_a_manifest() {
    let dir = fixture("192.0.2.128/28", "");
    std::fs::write(
        dir.path().join("policy/assertions.yaml"),
        "- name: dev/frontend reaches prod/backend on 8080\n  from: {name: dev/frontend}\n  to: {name: prod/backend}\n  ports: [8080/tcp]\n  expect: allowed\n",
    )
    .unwrap();
    let o = polc()
        .args(["test", "policy", "--assertions", "policy/assertions.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bad_assertion_files_are_diagnosed_at_their_place() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "- name: a\n  from: {name: dev/frontend}\n  to: {name: prod/backend}\n  ports: [8080/tcpp]\n  expect: allowed\n",
            "assertions.yaml:4:11: error[invalid-assertion]: `tcpp` is not a port protocol",
            "",
        ),
        (
            "- name: a\n  from: {name: dev/frontend}\n  to: {name: prod/backend}\n  ports: [8080]\n  expct: allowed\n",
            "assertions.yaml:5:3: error[unknown-field]: unknown field `expct` in an assertion",
            "did you mean `expect`?",
        ),
        (
            "- name: a\n  from: {name: dev/frontend}\n  to: {name: prod/backend}\n  ports: [8080]\n",
            "assertions.yaml:1:3: error[invalid-assertion]: this assertion has no `expect`",
            "",
        ),
        (
            "- name: a\n  from: {cidr: 192.0.2.1/24}\n  to: {name: prod/backend}\n  ports: [8080]\n  expect: denied\n",
            "assertions.yaml:2:16: error[invalid-assertion]: CIDR `192.0.2.1/24` has host bits set",
            "write `192.0.2.0/24`",
        ),
        (
            "- name: a\n  from: {selector: \"app == \"}\n  to: {name: prod/backend}\n  ports: [8080]\n  expect: denied\n",
            "error[invalid-selector]",
            "",
        ),
        (
            "- name: a\n  from: {name: dev/frontend, cidr: 10.0.0.0/8}\n  to: {kind: pods}\n  ports: [8080]\n  expect: maybe\n  quantifier: most\n",
            "error[invalid-assertion]: this side mixes",
            "`maybe` is not a value of `expect`",
        ),
        (
            "# nothing\n",
            "error[invalid-assertion]: the assertion file lists no assertions",
            "",
        ),
        ("name: a\n", "assertions.yaml:1:1: error[yaml]", ""),
    ];
    for (text, want, also) in cases {
        let dir = fixture("192.0.2.128/28", text);
        let (code, stdout, stderr) = run(dir.path(), &[]);
        assert_eq!(code, Some(1), "{text}: {stderr}");
        assert!(stdout.is_empty(), "{text}: {stdout}");
        assert!(stderr.contains(want), "{text}: want {want}\n{stderr}");
        assert!(stderr.contains(also), "{text}: want {also}\n{stderr}");
        assert!(stderr.contains("no assertion was checked"));
    }
    // Every problem of a file is reported, not only the first.
    let dir = fixture(
        "192.0.2.128/28",
        "- name: a\n  from: {name: dev/frontend, cidr: 10.0.0.0/8}\n  to: {kind: pods}\n  ports: [8080]\n  expect: maybe\n  quantifier: most\n",
    );
    let (_, _, stderr) = run(dir.path(), &[]);
    assert_eq!(
        stderr.matches("error[invalid-assertion]").count(),
        4,
        "{stderr}"
    );
}

#[test]
fn a_missing_assertion_file_is_a_usage_error() {
    let dir = fixture("192.0.2.128/28", "");
    let o = polc()
        .args(["test", "policy", "--assertions", "nope.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read `nope.yaml`"));
}

/// Whether every (`all`) or some (`any`) address of `net` gets `expect` from the host
/// endpoint's port 2222, address by address.
fn brute_force(engine: &Engine<'_>, net: IpNet, allowed: bool, all: bool) -> bool {
    let host = EndpointRef::Known(engine.universe.by_name("host/node-a-eth0").unwrap());
    let packet = Packet::to_port(polc::ir::Protocol::TCP, 2222);
    let mut verdicts = net
        .hosts()
        .chain([net.network(), net.broadcast()])
        .map(|ip| {
            engine
                .evaluate(EndpointRef::External(ip), host, &packet)
                .allowed
                == allowed
        });
    if all {
        verdicts.all(|v| v)
    } else {
        verdicts.any(|v| v)
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Random denied sub-ranges and asserted networks, either verdict, either
    /// quantifier: `polc test`'s outcome is the address-by-address truth, and a
    /// failing `all` names a witness inside the asserted network with the wrong verdict.
    #[test]
    fn cidr_outcomes_match_every_address(
        deny_len in 24u8..=32, deny_at in 0u32..256,
        net_len in 22u8..=32, net_at in 0u32..1024,
        allowed: bool, all: bool,
    ) {
        let base = u32::from(Ipv4Addr::new(192, 0, 0, 0));
        let denied = IpNet::new(IpAddr::V4(Ipv4Addr::from(base + 512 + deny_at)), deny_len).unwrap().trunc();
        let net = IpNet::new(IpAddr::V4(Ipv4Addr::from(base + net_at)), net_len).unwrap().trunc();
        let mut sources = Sources::default();
        sources.add("model.yaml".into(), model(&denied.to_string()));
        let loaded = polc::frontend::load_sources(sources);
        proptest::prop_assert!(!loaded.diags.has_errors());
        let mut sources = loaded.sources;
        let text = format!(
            "- name: n\n  from: {{cidr: {net}}}\n  to: {{name: host/node-a-eth0}}\n  ports: [2222/tcp]\n  expect: {}\n  quantifier: {}\n",
            if allowed { "allowed" } else { "denied" },
            if all { "all" } else { "any" },
        );
        let file = sources.add("a.yaml".into(), text);
        let (assertions, diags) = read_assertions(&sources, file);
        proptest::prop_assert!(!diags.has_errors());
        let engine = Engine::new(&loaded.model);
        let outcome = &check(&engine, &assertions)[0];
        proptest::prop_assert_eq!(outcome.holds(), brute_force(&engine, net, allowed, all), "{:?}", outcome);
        if let (true, Outcome::Fails { witness: Some(w), .. }) = (all, outcome) {
            let EndpointRef::External(ip) = w.from else { panic!("{w:?}") };
            proptest::prop_assert!(net.contains(&ip));
            proptest::prop_assert_eq!(w.verdict.allowed, !allowed);
        }
    }
}
