//! The differential fuzzer of forwarded traffic: random applyOnForward, preDNAT and
//! doNotTrack policy on the host endpoints of a node that routes between two
//! networks (`Bed::transit`: x on eth0's network, y on eth1's), each probe sent as
//! real packets through the node and compared with the evaluator's
//! [`Engine::transit`] path, which picks the endpoints by interface as Felix's
//! dispatch does (`hostDispatchChains`, `felix/rules/dispatch.go`) and follows the
//! replies where untracked policy sees them (`semantics/reply.rs`).
//!
//! `POLC_TRANSIT_CASES=N` scenarios (default 40), `POLC_TRANSIT_SEED=S` one seed.

mod common;
#[path = "common/netbed.rs"]
mod netbed;

use std::fmt::Write as _;

use netbed::{Bed, Probe};
use polc::ir::Protocol;
use polc::semantics::{Engine, Iface, Packet};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

const PORTS: [u16; 3] = [7000, 7001, 7002];

/// The inventory: endpoints `a` (eth0) and `b` (eth1), and with `star` a `*` one.
fn inventory(star: bool) -> String {
    let mut s = String::from(
        "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: a, labels: {side: a}}\n\
         spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.1.1], profiles: [projectcalico-default-allow]}\n---\n\
         apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: b, labels: {side: b}}\n\
         spec: {node: n1, interfaceName: eth1, expectedIPs: [192.168.2.1], profiles: [projectcalico-default-allow]}\n",
    );
    if star {
        s.push_str(
            "---\napiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: c, labels: {side: c}}\n\
             spec: {node: n1, interfaceName: \"*\"}\n",
        );
    }
    s
}

/// One random rule.
fn rule(rng: &mut ChaCha8Rng) -> String {
    let action = ["Allow", "Deny", "Pass", "Allow", "Deny"][rng.random_range(0..5)];
    let mut r = format!("{{action: {action}");
    match rng.random_range(0..4) {
        0 => {}
        1 => r.push_str(", protocol: UDP"),
        _ => r.push_str(", protocol: TCP"),
    }
    if r.contains("protocol") && rng.random_bool(0.7) {
        let port = PORTS[rng.random_range(0..PORTS.len())];
        let _ = write!(r, ", destination: {{ports: [{port}]}}");
    }
    if rng.random_bool(0.3) {
        let net = ["192.168.1.0/24", "192.168.2.0/24", "192.168.0.0/16"][rng.random_range(0..3)];
        let _ = write!(r, ", source: {{nets: [{net}]}}");
    }
    r.push('}');
    r
}

/// Random policies over the endpoints.
fn policies(rng: &mut ChaCha8Rng, star: bool) -> String {
    let mut out = Vec::new();
    for k in 0..rng.random_range(1..5) {
        let sides = if star { 4 } else { 3 };
        let selector =
            ["side == 'a'", "side == 'b'", "has(side)", "side == 'c'"][rng.random_range(0..sides)];
        let stage = rng.random_range(0..3);
        let flags = ["", "preDNAT: true, ", "doNotTrack: true, "][stage];
        let mut rules = |n: usize| (0..n).map(|_| rule(rng)).collect::<Vec<_>>().join(", ");
        let ingress = rules(rng_len(k, 1));
        let egress = if stage == 1 {
            String::new()
        } else {
            rules(rng_len(k, 2))
        };
        let mut types = vec!["Ingress"];
        let mut spec = format!(
            "{{selector: \"{selector}\", {flags}applyOnForward: true, order: {}, ingress: [{ingress}]",
            10 * (k + 1)
        );
        if !egress.is_empty() {
            types.push("Egress");
            let _ = write!(spec, ", egress: [{egress}]");
        }
        let _ = write!(spec, ", types: [{}]}}", types.join(", "));
        out.push(format!(
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: p{k}}}\nspec: {spec}\n"
        ));
    }
    out.join("---\n")
}

/// 1 to 3 rules, varied by policy.
fn rng_len(k: usize, salt: usize) -> usize {
    1 + (k * 7 + salt * 3) % 3
}

/// Probes the evaluator allowed, over every seed (the run's summary).
static ALLOWED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Run one seed; the mismatches.
fn run_seed(seed: u64) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let star = rng.random_bool(0.4);
    let (inv, pol) = (inventory(star), policies(&mut rng, star));
    let files = [
        ("inventory.yaml", inv.as_str()),
        ("policies.yaml", pol.as_str()),
    ];
    let (_dir, out) = common::build_all(&files);
    let model = common::model_of(&files);
    let engine = Engine::new(&model);
    let bed = Bed::transit("n1");
    bed.load("n1", &out.join("n1"));
    let eth = |n: &str| Iface::Named(n.to_string());
    let mut probes: Vec<(Protocol, Probe)> = Vec::new();
    for p in PORTS.into_iter().chain([7100]) {
        probes.push((Protocol::TCP, Probe::Tcp(p)));
        probes.push((Protocol::UDP, Probe::Udp(p)));
    }
    probes.push((Protocol::ICMP, Probe::Ping));
    let mut wrong = Vec::new();
    for (from, to, iif, oif) in [("x", "y", "eth0", "eth1"), ("y", "x", "eth1", "eth0")] {
        let (f, t) = (&bed.places[from], &bed.places[to]);
        let path = engine.transit(f.ips[0], t.ips[0], "n1", eth(iif), eth(oif));
        for &(proto, probe) in &probes {
            let port = match probe {
                Probe::Tcp(p) | Probe::Udp(p) => p,
                Probe::Ping => 0,
            };
            let evaluator = path.allows(&Packet::to_port(proto, port));
            ALLOWED.fetch_add(usize::from(evaluator), std::sync::atomic::Ordering::SeqCst);
            if netbed::probe_expecting(f, t, probe, evaluator) != evaluator {
                wrong.push(format!(
                    "{from} -> {to} {probe:?}: evaluator {evaluator}, kernel {}",
                    !evaluator
                ));
            }
        }
    }
    if !wrong.is_empty() {
        wrong.push(format!(
            "seed {seed}:\n# inventory\n{inv}\n# policies\n{pol}"
        ));
    }
    wrong
}

fn kernel_transit_agrees_with_the_evaluator() {
    let seeds: Vec<u64> = match std::env::var("POLC_TRANSIT_SEED") {
        Ok(s) => vec![s.trim().parse().expect("POLC_TRANSIT_SEED is a number")],
        Err(_) => {
            let n = std::env::var("POLC_TRANSIT_CASES")
                .map_or(40, |v| v.trim().parse().expect("a number"));
            (0..n).collect()
        }
    };
    let failing: Vec<String> = seeds
        .iter()
        .map(|&s| run_seed(s))
        .filter(|w| !w.is_empty())
        .map(|w| w.join("\n"))
        .collect();
    eprintln!(
        "kernel_transit: {} scenarios, {} probes each ({} allowed in all), {} failing",
        seeds.len(),
        2 * (2 * (PORTS.len() + 1) + 1),
        ALLOWED.load(std::sync::atomic::Ordering::SeqCst),
        failing.len()
    );
    assert!(failing.is_empty(), "{}", failing.join("\n\n"));
}

fn main() {
    netbed::run_kernel_tests(
        "kernel_transit",
        &[(
            "kernel_transit_agrees_with_the_evaluator",
            kernel_transit_agrees_with_the_evaluator,
            true,
        )],
    );
}
