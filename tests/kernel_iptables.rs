//! The iptables artifacts beside kube-proxy: a node namespace that already holds
//! kube-proxy-like chains and rules (`KUBE-SERVICES` jumped to from nat PREROUTING
//! and OUTPUT with a Service's DNAT, `KUBE-FORWARD` and `KUBE-FIREWALL` jumped to
//! from filter FORWARD and INPUT) gets polc's artifacts loaded twice, with
//! iptables-nft and with iptables-legacy. Their chains and rules stay exactly as they
//! were (polc only adds one jump to its own chain at the top of each built-in chain
//! it uses), the Service still answers through its DNAT where policy allows the
//! translated port and not where it does not (as the evaluator says for the pod's
//! address and port), and kube-proxy's filter rules still see the traffic.

mod common;
#[path = "common/netbed.rs"]
mod netbed;

use std::net::SocketAddr;
use std::process::Command;

use netbed::{Bed, Loader};
use polc::ir::Protocol;
use polc::semantics::{Engine, Packet};

const INVENTORY: &str = r#"
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {app: web}}
spec: {nodeName: n1}
status: {podIPs: [{ip: 10.0.0.2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app, labels: {app: client}}
spec: {nodeName: n1}
status: {podIPs: [{ip: 10.0.0.3}]}
"#;

const POLICY: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: app}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{protocol: TCP, port: 8080}]
"#;

/// kube-proxy's shape (iptables mode): Services in nat, its filter chains jumped to
/// from the built-in chains. Two Services: :80 to web:8080 (allowed), :81 to
/// web:9090 (not allowed).
const KUBE: &str = "*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-WEB - [0:0]
:KUBE-SVC-WEB2 - [0:0]
-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES
-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-WEB
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 81 -j KUBE-SVC-WEB2
-A KUBE-SVC-WEB -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:8080
-A KUBE-SVC-WEB2 -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:9090
COMMIT
*filter
:KUBE-FORWARD - [0:0]
:KUBE-FIREWALL - [0:0]
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD
-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
";

/// Run `tool args` in `ns` with `stdin`; its stdout, panicking on failure.
fn run(ns: &str, tool: &str, args: &[&str], stdin: Option<&str>) -> String {
    let out = netbed::in_ns(ns, || {
        let mut c = Command::new(tool)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        if let Some(text) = stdin {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        c.wait_with_output().expect("wait")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// kube-proxy's chains and rules in `ns` (every line naming a `KUBE-` chain, with
/// its table; sorted by table, in order within a chain), without counters.
fn others(ns: &str, variant: &str) -> Vec<String> {
    let mut table = String::new();
    let mut lines = Vec::new();
    for l in run(ns, &format!("iptables{variant}-save"), &[], None).lines() {
        if let Some(t) = l.strip_prefix('*') {
            table = t.to_string();
        } else if l.contains("KUBE-") {
            lines.push((table.clone(), l.split(" [").next().unwrap_or(l).to_string()));
        }
    }
    // Tables in a fixed order, lines in their order within each (a stable sort).
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    lines
        .into_iter()
        .map(|(t, l)| format!("{t}: {l}"))
        .collect()
}

/// The packet counter of the rule of `chain` in `table` that jumps to `target`.
fn packets(ns: &str, variant: &str, table: &str, chain: &str, target: &str) -> u64 {
    let text = run(
        ns,
        &format!("iptables{variant}"),
        &["-w", "-t", table, "-L", chain, "-v", "-n", "-x"],
        None,
    );
    text.lines()
        .filter(|l| l.split_whitespace().nth(2) == Some(target))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn kube_proxy_rules_stay_untouched_and_working() {
    let files = [("inventory.yaml", INVENTORY), ("policy.yaml", POLICY)];
    let (_dir, out) = common::build_all(&files);
    let model = common::model_of(&files);
    let engine = Engine::new(&model);
    let web = engine.universe.resolve(&model, "app/web").unwrap();
    let client = engine.universe.resolve(&model, "app/client").unwrap();
    let allowed = |port| {
        engine
            .evaluate(client, web, &Packet::to_port(Protocol::TCP, port))
            .allowed
    };
    assert!(allowed(8080) && !allowed(9090), "the scenario's premise");
    let mut variants = vec!["-nft"];
    match netbed::legacy_unsupported() {
        None => variants.push("-legacy"),
        Some(why) => eprintln!("SKIPPED: iptables-legacy: {why}"),
    }
    for variant in variants {
        netbed::set_loader(Loader::Iptables(variant));
        let bed = Bed::new(&model, &engine);
        let ns = bed.nodes["n1"].clone();
        run(
            &ns,
            &format!("iptables{variant}-restore"),
            &["-w", "--noflush"],
            Some(KUBE),
        );
        let before = others(&ns, variant);
        // Loads twice (checked to change nothing the second time, one jump per
        // built-in chain).
        bed.load("n1", &out.join("n1"));
        assert_eq!(
            others(&ns, variant),
            before,
            "iptables{variant}: kube-proxy's rules changed"
        );
        // polc's jump comes first in each built-in chain it shares with kube-proxy.
        for (table, chain) in [("filter", "INPUT"), ("filter", "FORWARD")] {
            let rules = run(
                &ns,
                &format!("iptables{variant}"),
                &["-w", "-t", table, "-S", chain],
                None,
            );
            let first = rules.lines().find(|l| l.starts_with("-A"));
            assert_eq!(
                first,
                Some(format!("-A {chain} -j POLC-{chain}").as_str()),
                "{rules}"
            );
        }
        let vip = |port| SocketAddr::from(([10, 96, 0, 10], port));
        let pod = |port| SocketAddr::from(([10, 0, 0, 2], port));
        let (from, to) = (&bed.places["app/client"].ns, &bed.places["app/web"].ns);
        let wait = netbed::LONG;
        let through = netbed::tcp_via(from, to, vip(80), pod(8080), wait);
        let blocked = netbed::tcp_via(from, to, vip(81), pod(9090), wait);
        eprintln!(
            "iptables{variant}: Service :80 -> web:8080 {through}, :81 -> web:9090 {blocked}"
        );
        assert_eq!((through, blocked), (allowed(8080), allowed(9090)));
        assert!(packets(&ns, variant, "nat", "PREROUTING", "KUBE-SERVICES") > 0);
        assert!(
            packets(&ns, variant, "filter", "FORWARD", "KUBE-FORWARD") > 0,
            "kube-proxy's FORWARD rules no longer see traffic"
        );
        // Loading once more, after traffic, still leaves kube-proxy's rules alone.
        bed.load("n1", &out.join("n1"));
        assert_eq!(others(&ns, variant), before);
    }
}

/// Run by the kernel harness: `ignored` (saying what is missing) where root or a
/// tool is missing, failing there under `POLC_KERNEL_TESTS=1`.
fn main() {
    netbed::run_kernel_tests(
        "kernel_iptables",
        &[(
            "kube_proxy_rules_stay_untouched_and_working",
            kube_proxy_rules_stay_untouched_and_working,
            false,
        )],
    );
}
