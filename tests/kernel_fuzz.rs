//! The differential kernel fuzzer: random scenarios (`tests/common/gen.rs`) built with
//! the CLI, loaded into a kernel bed (`tests/common/netbed.rs`), and a sample of
//! (from, to, probe) cells sent as real packets, each compared with the evaluator.
//!
//! Per seed: `polc build --target nft` must succeed; every node's artifact must pass
//! `nft -c` and load; then a seeded sample of cells over the endpoints the bed can
//! tell apart (pods, nodes, host endpoints alone on their node, an outside address
//! per family) is probed: TCP and UDP to the ports the scenario names and to a free
//! port, ICMP echo, in whichever family the evaluator picks for the pair (IPv4 when
//! both ends have it, so IPv6 wherever one end has only IPv6: the evaluator cannot be
//! asked for IPv6 between two dual-stack endpoints). A probe that disagrees is re-run
//! with a long wait before it counts; a seed that panics (a bed that cannot be built)
//! is a failure of that seed.
//!
//! Host endpoints sharing a node are probed where the bed is what the evaluator
//! assumes (every one of them governs the node's one interface, `eth0`), as sources
//! only when their addresses are the ones the kernel sends from; a host to itself
//! goes over `lo`. Three seeds in four add doNotTrack, preDNAT and applyOnForward
//! host-endpoint policy (`Knobs::host_stages`). Forwarding between two interfaces
//! is fuzzed by `kernel_transit.rs`.
//!
//! Runs once per loader (nft, iptables-nft, iptables-legacy). `POLC_FUZZ_CASES=N` (default 330 for nft, so that at least 300 valid scenarios reach the kernel, and 110 for each iptables variant), `POLC_FUZZ_SEED=S` (one seed),
//! `POLC_FUZZ_HOST_STAGES=1` or `0` (host-endpoint stages in every seed, or in none),
//! `POLC_FUZZ_JOBS=J` (scenarios at once, default 4), `POLC_FUZZ_CELLS=C` (cells per
//! scenario, default 96).

mod common;
#[path = "common/netbed.rs"]
mod netbed;
#[path = "common/gen.rs"]
mod scenario_gen;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use netbed::{Bed, Families, Place, Probe};
use polc::ir::{Model, Protocol};
use polc::semantics::{EndpointKind, EndpointRef, Engine, Iface, Packet};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use scenario_gen::{Knobs, Scenario};

/// A TCP/UDP port no generated rule names.
const FREE_PORT: u16 = 31_000;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().map_or(default, |v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is a number"))
    })
}

/// What one seed came to.
#[derive(Default)]
struct Tally {
    skipped: bool,
    artifacts: usize,
    probes: usize,
    allowed: usize,
    reruns: usize,
    /// Network Policy API policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy).
    api_policies: usize,
    /// What loaded the artifacts (`netbed::loader_name`).
    loader: String,
}

fn kernel_agrees_with_the_evaluator_on_random_scenarios() {
    // nft: 330 seeds (about 300 reach the kernel); each iptables variant the first
    // 110 of them, run at the same time (its loader is slower than `nft -f`).
    let default = if netbed::loader() == netbed::Loader::Nft {
        330
    } else {
        110
    };
    let seeds = scenario_gen::seeds(default);
    let jobs = env_number("POLC_FUZZ_JOBS", 4).max(1);
    let cells = env_number("POLC_FUZZ_CELLS", 96);
    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(u64, Result<Tally, String>)>> = Mutex::new(Vec::new());
    // The workers load what this test's loader loads (it is per thread).
    let loader = netbed::loader();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                netbed::set_loader(loader);
                while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let r =
                        std::panic::catch_unwind(|| run_seed(seed, cells)).unwrap_or_else(|e| {
                            Err(format!("seed {seed} panicked: {}", panic_text(&e)))
                        });
                    results.lock().unwrap().push((seed, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(seed, _)| *seed);
    summarise(&results, start);
}

/// The message of a panic.
fn panic_text(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Print the counts and every failure; fail when there is one.
fn summarise(results: &[(u64, Result<Tally, String>)], start: Instant) {
    let ok: Vec<&Tally> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    let failures: Vec<(u64, &String)> = results
        .iter()
        .filter_map(|(s, r)| r.as_ref().err().map(|e| (*s, e)))
        .collect();
    let name = netbed::loader_name();
    let probed = ok.iter().filter(|t| !t.skipped);
    assert!(
        probed.clone().all(|t| t.loader == name),
        "a worker loaded with another loader than {name}"
    );
    eprintln!(
        "kernel_fuzz[{}]: {} scenarios ({} probed, {} with a deliberate input error skipped; {} with {} Network Policy API policies, {} probes there), {} artifacts loaded, {} probes ({} allowed, {} re-run), {} failing, in {:.1} s",
        netbed::loader_name(),
        results.len(),
        ok.iter().filter(|t| !t.skipped).count(),
        ok.iter().filter(|t| t.skipped).count(),
        ok.iter().filter(|t| t.api_policies > 0).count(),
        ok.iter().map(|t| t.api_policies).sum::<usize>(),
        ok.iter()
            .filter(|t| t.api_policies > 0)
            .map(|t| t.probes)
            .sum::<usize>(),
        ok.iter().map(|t| t.artifacts).sum::<usize>(),
        ok.iter().map(|t| t.probes).sum::<usize>(),
        ok.iter().map(|t| t.allowed).sum::<usize>(),
        ok.iter().map(|t| t.reruns).sum::<usize>(),
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    for (seed, e) in &failures {
        eprintln!("seed {seed}: {}", e.lines().next().unwrap_or(""));
    }
    if let Some((_, first)) = failures.first() {
        panic!(
            "{} of {} seeds fail; the first:\n{first}",
            failures.len(),
            results.len()
        );
    }
}

/// A failure's report: the problem, the manifests, the command that reproduces it.
fn failure(s: &Scenario, problem: &str) -> String {
    format!(
        "{problem}\n---- manifests of seed {seed}:\n{}\nreproduce: POLC_FUZZ_SEED={seed} POLC_KERNEL_TESTS=1 cargo test --test kernel_fuzz -- --nocapture\n",
        s.dump(),
        seed = s.seed
    )
}

fn run_seed(seed: u64, cells: usize) -> Result<Tally, String> {
    let s = scenario_gen::scenario(seed, &Knobs::from_env());
    if s.broken.is_some() {
        return Ok(Tally {
            skipped: true,
            ..Tally::default()
        });
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let input = s.write(dir.path());
    let out = dir.path().join("out");
    build(&input, &out).map_err(|e| failure(&s, &e))?;
    let loaded = polc::frontend::load_sources(s.sources());
    if loaded.diags.has_errors() {
        return Err(failure(&s, "the library rejects what build accepted"));
    }
    let engine = Engine::new(&loaded.model);
    let bed = Bed::build(&loaded.model, &engine, families(&engine), true);
    let mut tally = Tally {
        loader: netbed::loader_name(),
        api_policies: (loaded.model.policies.iter())
            .filter(|p| p.id.kind.is_policy_api())
            .count(),
        ..Tally::default()
    };
    for node in bed.nodes.keys() {
        bed.try_load(node, &out.join(node))
            .map_err(|e| failure(&s, &format!("rejected artifact of node {node}: {e}")))?;
        tally.artifacts += 1;
    }
    let ends = probed_endpoints(&loaded.model, &engine, &bed);
    let sample = sample_cells(&s, &ends, &bed, cells);
    let verdicts =
        run_cells(&bed, &engine, &ends, &sample, &mut tally).map_err(|e| failure(&s, &e))?;
    let mismatches: Vec<String> = verdicts
        .iter()
        .filter(|v| v.kernel != v.evaluator)
        .map(|v| describe(&input, v))
        .collect();
    if !mismatches.is_empty() {
        let problem = format!(
            "{} of {} probes differ from the evaluator:\n{}",
            mismatches.len(),
            verdicts.len(),
            mismatches.join("\n")
        );
        return Err(failure(&s, &problem));
    }
    Ok(tally)
}

/// `polc build --target nft`, which must succeed.
fn build(input: &Path, out: &Path) -> Result<(), String> {
    let run = common::polc()
        .args(["build", "--target", "all", "--out"])
        .arg(out)
        .arg(input)
        // Random scenarios often shadow rules; their artifacts are still compared.
        .args(["--allow", "shadowed-rule", "--allow", "unreachable-rule"])
        .output()
        .map_err(|e| e.to_string())?;
    if run.status.success() {
        return Ok(());
    }
    Err(format!(
        "build exits {:?}: {}",
        run.status.code(),
        String::from_utf8_lossy(&run.stderr)
    ))
}

/// The families any endpoint has an address in.
fn families(engine: &Engine<'_>) -> Families {
    let ips = || engine.universe.endpoints.iter().flat_map(|e| e.ips.iter());
    Families {
        v4: ips().any(|ip| ip.is_ipv4()),
        v6: ips().any(|ip| ip.is_ipv6()),
    }
}

/// The endpoints the bed can tell apart, by name: pods and outside addresses it
/// placed, nodes without host endpoints, and host endpoints where the bed is what
/// the evaluator assumes: every host endpoint of the node governs the one interface
/// the bed gives it (`eth0`, its uplink), and, to be a source, its addresses are the
/// ones the kernel sends from (the bed binds no source address).
fn probed_endpoints(model: &Model, engine: &Engine<'_>, bed: &Bed) -> BTreeMap<String, End> {
    let faithful = |node: &str| {
        let uplink = engine.node_ifaces(node).uplink.clone();
        uplink == Iface::Named("eth0".into())
            && (0..engine.universe.endpoints.len()).all(|i| {
                let e = &engine.universe.endpoints[i];
                e.hep.is_none()
                    || e.node.as_deref() != Some(node)
                    || engine.endpoint_iface(i) == uplink
            })
    };
    let mut heps_on: BTreeMap<&str, usize> = BTreeMap::new();
    for h in &model.host_endpoints {
        *heps_on.entry(h.node.as_str()).or_default() += 1;
    }
    let mut out = BTreeMap::new();
    for name in bed.places.keys() {
        let Ok(r) = engine.universe.resolve(model, name) else {
            continue;
        };
        let mut source = true;
        let mut host = false;
        if let EndpointRef::Known(i) = r {
            let e = &engine.universe.endpoints[i];
            if e.name != *name {
                continue;
            }
            host = matches!(e.kind, EndpointKind::Host | EndpointKind::Node);
            if let (EndpointKind::Host, Some(node)) = (e.kind, e.node.as_deref())
                && heps_on.get(node) > Some(&1)
            {
                if !faithful(node) {
                    continue;
                }
                let primary = &bed.primary[node];
                source = bed.places[name].ips.iter().all(|ip| primary.contains(ip));
            }
        }
        out.insert(name.clone(), End { r, source, host });
    }
    out
}

/// A probed endpoint.
#[derive(Debug, Clone, Copy)]
struct End {
    r: EndpointRef,
    /// Whether it is probed as a source.
    source: bool,
    /// A host endpoint or node (probed to itself, over `lo`).
    host: bool,
}

/// One probed cell.
#[derive(Debug, Clone)]
struct Cell {
    from: String,
    to: String,
    probe: Probe,
}

/// A seeded sample of `n` cells out of every ordered pair of probed endpoints
/// sharing a family, with TCP and UDP to each port the scenario names and to a free
/// one, and ICMP echo.
fn sample_cells(s: &Scenario, ends: &BTreeMap<String, End>, bed: &Bed, n: usize) -> Vec<Cell> {
    let mut ports: Vec<u16> = s.ports.iter().copied().collect();
    ports.push(FREE_PORT);
    let mut all = Vec::new();
    for (from, &End { source, host, .. }) in ends {
        for to in ends.keys() {
            // A host to itself goes over `lo`, which `*` host endpoints police.
            if !source
                || (from == to && !host)
                || bed.places[to].address_from(&bed.places[from]).is_none()
            {
                continue;
            }
            let mut probes: Vec<Probe> = ports.iter().map(|&p| Probe::Tcp(p)).collect();
            probes.extend(ports.iter().map(|&p| Probe::Udp(p)));
            probes.push(Probe::Ping);
            for probe in probes {
                all.push(Cell {
                    from: from.clone(),
                    to: to.clone(),
                    probe,
                });
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x5eed_ce11);
    all.shuffle(&mut rng);
    all.truncate(n);
    all
}

/// A probed cell with both verdicts.
struct Verdict {
    cell: Cell,
    /// Whether the evaluator (and the bed) use IPv6 for the pair.
    v6: bool,
    kernel: bool,
    evaluator: bool,
}

/// The evaluator's packet for a probe between two endpoints.
fn packet(engine: &Engine<'_>, from: EndpointRef, to: EndpointRef, probe: Probe) -> Packet {
    let v6 = engine.addresses(from, to).is_some_and(|(_, d)| d.is_ipv6());
    match probe {
        Probe::Tcp(p) => Packet::to_port(Protocol::TCP, p),
        Probe::Udp(p) => Packet::to_port(Protocol::UDP, p),
        Probe::Ping if v6 => Packet::to_port(Protocol::ICMPV6, 0),
        Probe::Ping => Packet::to_port(Protocol::ICMP, 0),
    }
}

/// Probe every cell, in parallel batches in which no two share a destination
/// namespace and probe (their servers would collide).
fn run_cells(
    bed: &Bed,
    engine: &Engine<'_>,
    ends: &BTreeMap<String, End>,
    cells: &[Cell],
    tally: &mut Tally,
) -> Result<Vec<Verdict>, String> {
    let mut wants = Vec::new();
    let mut v6 = Vec::new();
    for c in cells {
        let (f, t) = (ends[&c.from].r, ends[&c.to].r);
        let bed_dst = bed.places[&c.to].address_from(&bed.places[&c.from]);
        let engine_dst = engine.addresses(f, t).map(|(_, d)| d);
        if bed_dst != engine_dst {
            return Err(format!(
                "bed bug: {} -> {} goes to {bed_dst:?} in the bed, {engine_dst:?} in the evaluator",
                c.from, c.to
            ));
        }
        v6.push(engine_dst.is_some_and(|d| d.is_ipv6()));
        wants.push(
            engine
                .evaluate(f, t, &packet(engine, f, t, c.probe))
                .allowed,
        );
    }
    let mut pending: Vec<usize> = (0..cells.len()).collect();
    let mut got = vec![false; cells.len()];
    while !pending.is_empty() {
        let mut keys = BTreeSet::new();
        let (batch, rest): (Vec<usize>, Vec<usize>) = pending.iter().partition(|&&i| {
            let key = (bed.places[&cells[i].to].ns.clone(), cells[i].probe);
            keys.len() < 24 && keys.insert(key)
        });
        pending = rest;
        let answers: Vec<(usize, bool, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|&i| {
                    let (a, b): (&Place, &Place) =
                        (&bed.places[&cells[i].from], &bed.places[&cells[i].to]);
                    let (p, want) = (cells[i].probe, wants[i]);
                    s.spawn(move || {
                        let first = netbed::probe(a, b, p);
                        let last = if first == want {
                            first
                        } else {
                            netbed::probe_with(a, b, p, netbed::LONG)
                        };
                        (i, last, first != want)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("probe"))
                .collect()
        });
        for (i, answer, rerun) in answers {
            got[i] = answer;
            tally.reruns += usize::from(rerun);
        }
    }
    tally.probes += cells.len();
    tally.allowed += got.iter().filter(|&&g| g).count();
    Ok(cells
        .iter()
        .zip(wants)
        .zip(got)
        .zip(v6)
        .map(|(((cell, evaluator), kernel), v6)| Verdict {
            cell: cell.clone(),
            v6,
            kernel,
            evaluator,
        })
        .collect())
}

/// A mismatch: the cell, both verdicts and `polc explain` of the cell.
fn describe(input: &Path, v: &Verdict) -> String {
    let port = match v.cell.probe {
        Probe::Tcp(p) => format!("{p}/tcp"),
        Probe::Udp(p) => format!("{p}/udp"),
        Probe::Ping if v.v6 => "icmpv6".into(),
        Probe::Ping => "icmp".into(),
    };
    let explain = common::polc()
        .args([
            "explain",
            "--from",
            &v.cell.from,
            "--to",
            &v.cell.to,
            "--port",
            &port,
        ])
        .arg(input)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|e| e.to_string());
    format!(
        "  {} -> {} {:?}: kernel {}, evaluator {}\n  polc explain --from {} --to {} --port {port}:\n{}",
        v.cell.from,
        v.cell.to,
        v.cell.probe,
        word(v.kernel),
        word(v.evaluator),
        v.cell.from,
        v.cell.to,
        indent(&explain)
    )
}

fn word(allowed: bool) -> &'static str {
    if allowed { "allows" } else { "denies" }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// The tests, run by the kernel harness: `ignored` (saying what is missing) where root
/// or a tool is missing, failing there under `POLC_KERNEL_TESTS=1`.
fn main() {
    netbed::run_kernel_tests(
        "kernel_fuzz",
        &[(
            "kernel_agrees_with_the_evaluator_on_random_scenarios",
            kernel_agrees_with_the_evaluator_on_random_scenarios,
            true,
        )],
    );
}
