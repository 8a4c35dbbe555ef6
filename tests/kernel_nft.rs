//! The nftables artifacts in the real kernel: every cell of each scenario's matrix,
//! over TCP, UDP and ICMP, through network namespaces loaded with the artifacts,
//! compared with the reference evaluator cell by cell.

mod common;
#[path = "common/netbed.rs"]
mod netbed;

use std::path::Path;

use netbed::{Bed, Probe};
use polc::ir::Protocol;
use polc::semantics::{Engine, EndpointRef, Packet};

/// Build the artifacts of `files` with the CLI, load them into a bed, probe every
/// ordered pair of endpoints, and compare with the evaluator.
fn check(name: &str, files: &[(String, String)], extra_ports: &[u16]) {
    if !netbed::enabled(name) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    for (n, text) in files {
        std::fs::write(input.join(n), text).unwrap();
    }
    let out = dir.path().join("out");
    let status = common::polc().args(["build", "--target", "nft", "--out"]).arg(&out).arg(&input).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let model = common::model_of(&refs);
    let engine = Engine::new(&model);
    let bed = Bed::new(&model, &engine);
    for node in bed.nodes.keys() {
        bed.load(node, &out.join(node).join("polc.nft"));
    }
    let names: Vec<String> = bed.places.keys().cloned().collect();
    let mut cases = Vec::new();
    let mut port = 20000u16;
    for from in &names {
        for to in &names {
            if from == to {
                continue;
            }
            for p in extra_ports.iter().copied() {
                cases.push((from.clone(), to.clone(), Probe::Tcp(p)));
            }
            port += 1;
            cases.push((from.clone(), to.clone(), Probe::Tcp(port)));
            cases.push((from.clone(), to.clone(), Probe::Udp(port)));
            cases.push((from.clone(), to.clone(), Probe::Ping));
        }
    }
    let expected = |from: &str, to: &str, probe: Probe| {
        let (f, t) = (resolve(&engine, from), resolve(&engine, to));
        let packet = match probe {
            Probe::Tcp(p) => Packet::to_port(Protocol::TCP, p),
            Probe::Udp(p) => Packet::to_port(Protocol::UDP, p),
            Probe::Ping => Packet::to_port(Protocol::ICMP, 0),
        };
        engine.evaluate(f, t, &packet).allowed
    };
    // Probes with distinct ports run in parallel; fixed ports (failsafe) one at a time.
    let mut results = Vec::new();
    let (fixed, unique): (Vec<_>, Vec<_>) = cases.into_iter().partition(|(_, _, p)| matches!(p, Probe::Tcp(x) if extra_ports.contains(x)));
    for chunk in unique.chunks(16) {
        let got: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk.iter().map(|(f, t, p)| {
                let (a, b) = (&bed.places[f], &bed.places[t]);
                s.spawn(move || netbed::probe(a, b, *p))
            }).collect();
            handles.into_iter().map(|h| h.join().expect("probe")).collect()
        });
        results.extend(chunk.iter().cloned().zip(got));
    }
    for c in fixed {
        let got = netbed::probe(&bed.places[&c.0], &bed.places[&c.1], c.2);
        results.push((c, got));
    }
    let mut mismatches = Vec::new();
    for ((from, to, probe), got) in &results {
        let want = expected(from, to, *probe);
        if want != *got {
            mismatches.push(format!("{from} -> {to} {probe:?}: kernel {got}, evaluator {want}"));
        }
    }
    eprintln!("kernel[{name}]: {} cells checked, {} agree", results.len(), results.len() - mismatches.len());
    assert!(mismatches.is_empty(), "{name}: {} of {} cells differ:\n{}", mismatches.len(), results.len(), mismatches.join("\n"));
}

fn resolve(engine: &Engine<'_>, name: &str) -> EndpointRef {
    engine.universe.resolve(engine.model, name).unwrap()
}

#[test]
fn lesson() {
    let files = common::example_files("examples/host-firewall", |_, t| t);
    check("lesson", &files, &[22]);
}

#[test]
fn lesson_trap() {
    let files = common::example_files("examples/host-firewall", |name, t| {
        if name == "firewall.yaml" { t.replace("selector: role == 'node' || has(k8s-app) || tier == 'control-plane'", "selector: all()") } else { t }
    });
    check("lesson-trap", &files, &[]);
}

#[test]
fn lesson_as_written_and_failsafe() {
    let files = common::example_files("examples/host-firewall", |name, t| {
        if name == "firewall.yaml" { t.split("\n---\n").next().unwrap().to_string() } else { t }
    });
    check("lesson-as-written", &files, &[22, 2379]);
}

#[test]
fn artifacts_pass_nft_check() {
    if !netbed::enabled("artifacts_pass_nft_check") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let status = common::polc().args(["build", "--target", "nft", "--out"]).arg(&out).arg("examples").current_dir(common::root()).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    for entry in std::fs::read_dir(&out).unwrap() {
        let p = entry.unwrap().path().join("polc.nft");
        if Path::new(&p).exists() {
            let c = std::process::Command::new("nft").args(["-c", "-f"]).arg(&p).output().unwrap();
            assert!(c.status.success(), "{}: {}", p.display(), String::from_utf8_lossy(&c.stderr));
        }
    }
}
