//! The kernel test bed: a model's nodes and pods as network namespaces, real packets
//! between them, and each node's artifact loaded into its namespace.
//!
//! Topology: one namespace per node, joined by veths to a bridge in a fabric
//! namespace, each node holding its host-endpoint (or Node) address; one namespace per
//! pod, joined by a veth to its node (the node's end named `cali<N>`, as Calico's
//! CNI names workload interfaces), with its address as a /32 (/128) and a default
//! route through a link-local gateway address on the node's end of the veth.
//! Host endpoints and nodes are their node's namespace: a process there is a host
//! process.
//!
//! Kernel tests run when `POLC_KERNEL_TESTS=1` (mandatory: a setup failure fails the
//! test) and, elsewhere, only when polc runs as root with `ip` and `nft` installed;
//! otherwise they print why they are skipped.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use polc::ir::Model;
use polc::semantics::{EndpointKind, Engine};

/// Whether kernel tests must run here; `None` (with the reason printed) to skip.
pub fn enabled(test: &str) -> bool {
    let mandatory = std::env::var("POLC_KERNEL_TESTS").is_ok_and(|v| v == "1");
    let root = nix::unistd::Uid::effective().is_root();
    let tools = ["ip", "nft", "ping"]
        .iter()
        .all(|t| Command::new(t).arg("-V").output().is_ok());
    if mandatory {
        assert!(root, "POLC_KERNEL_TESTS=1 but not running as root");
        assert!(tools, "POLC_KERNEL_TESTS=1 but ip, nft or ping is missing");
        return true;
    }
    if !root || !tools {
        eprintln!(
            "skipping kernel test {test}: needs root and ip, nft, ping (set POLC_KERNEL_TESTS=1 to require it)"
        );
        return false;
    }
    true
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where an endpoint lives in the bed.
#[derive(Debug, Clone)]
pub struct Place {
    /// Its namespace.
    pub ns: String,
    /// Its address.
    pub ip: IpAddr,
}

/// A running test bed; dropping it deletes every namespace.
pub struct Bed {
    namespaces: Vec<String>,
    /// Node name to namespace.
    pub nodes: BTreeMap<String, String>,
    /// Endpoint name (as the evaluator names it) to its place.
    pub places: BTreeMap<String, Place>,
}

impl Drop for Bed {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

impl Bed {
    /// Build the IPv4 topology of a model.
    pub fn new(model: &Model, engine: &Engine<'_>) -> Bed {
        Bed::with_family(model, engine, false)
    }

    /// Build the topology of a model over one IP family: endpoints take their address
    /// of that family.
    pub fn with_family(model: &Model, engine: &Engine<'_>, v6: bool) -> Bed {
        let id = format!(
            "pb{}x{}",
            std::process::id() % 100_000,
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut bed = Bed {
            namespaces: Vec::new(),
            nodes: BTreeMap::new(),
            places: BTreeMap::new(),
        };
        let fam = |ip: &&IpAddr| ip.is_ipv6() == v6;
        let (plen, gw, gw_cidr) = if v6 {
            ("128", "fe80::1", "fe80::1/64")
        } else {
            ("32", "169.254.1.1", "169.254.1.1/32")
        };
        let ip_cmd = |ns: &str| -> Vec<String> {
            let mut v = vec!["ip".to_string()];
            if v6 {
                v.push("-6".into());
            }
            v.extend(["-n".to_string(), ns.to_string()]);
            v
        };
        let run = |base: Vec<String>, rest: &[&str]| {
            let mut args: Vec<String> = base;
            args.extend(rest.iter().map(|s| s.to_string()));
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            sh(&refs);
        };
        let addr_add = |ns: &str, cidr: &str, dev: &str| {
            let mut rest = vec!["addr", "add", cidr, "dev", dev];
            if v6 {
                rest.push("nodad");
            }
            run(ip_cmd(ns), &rest);
        };
        let fabric = format!("{id}f");
        bed.add_ns(&fabric);
        sh(&[
            "ip",
            "-n",
            &fabric,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        sh(&["ip", "-n", &fabric, "link", "set", "br0", "up"]);

        // Node addresses: the host endpoint's expected IP, else the Node's address.
        let mut node_ip: BTreeMap<String, IpAddr> = BTreeMap::new();
        for e in &engine.universe.endpoints {
            if let (EndpointKind::Host | EndpointKind::Node, Some(node)) = (e.kind, &e.node)
                && let Some(ip) = e.ips.iter().find(fam)
            {
                node_ip.entry(node.clone()).or_insert(*ip);
            }
        }
        let mut next_free = 1u16;
        let mut node_names: Vec<String> = model.nodes.iter().map(|n| n.name.clone()).collect();
        node_names.extend(model.host_endpoints.iter().map(|h| h.node.clone()));
        node_names.extend(model.pods.iter().filter_map(|p| p.node.clone()));
        node_names.sort();
        node_names.dedup();
        for (i, node) in node_names.iter().enumerate() {
            let ns = format!("{id}n{i}");
            bed.add_ns(&ns);
            let ip = *node_ip.entry(node.clone()).or_insert_with(|| {
                next_free += 1;
                if v6 {
                    IpAddr::from([0xfd00, 2, 0, 0, 0, 0, 0, next_free])
                } else {
                    IpAddr::from([192, 0, 2, next_free as u8])
                }
            });
            let peer = format!("n{i}");
            sh(&[
                "ip", "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &peer,
                "netns", &fabric,
            ]);
            sh(&[
                "ip", "-n", &fabric, "link", "set", &peer, "master", "br0", "up",
            ]);
            addr_add(&ns, &format!("{ip}/{plen}"), "eth0");
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            sh(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0",
                "net.ipv6.conf.all.forwarding=1",
            ]);
            bed.nodes.insert(node.clone(), ns);
        }
        // Routes between nodes.
        for (node, ns) in &bed.nodes {
            for (other, ip) in &node_ip {
                if other != node {
                    run(
                        ip_cmd(ns),
                        &["route", "add", &format!("{ip}/{plen}"), "dev", "eth0"],
                    );
                }
            }
        }
        // Pods.
        let mut pod_index = 0;
        for e in engine
            .universe
            .endpoints
            .iter()
            .filter(|e| e.kind == EndpointKind::Pod)
        {
            let (Some(node), Some(ip)) = (&e.node, e.ips.iter().find(fam)) else {
                continue;
            };
            let node_ns = bed.nodes[node].clone();
            let ns = format!("{id}p{pod_index}");
            // Named as Calico's CNI names them (Felix's `interfacePrefix`, `cali`).
            let veth = format!("cali{pod_index}");
            pod_index += 1;
            bed.add_ns(&ns);
            sh(&[
                "ip", "link", "add", &veth, "netns", &node_ns, "type", "veth", "peer", "name",
                "eth0", "netns", &ns,
            ]);
            addr_add(&ns, &format!("{ip}/{plen}"), "eth0");
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            if !v6 {
                run(ip_cmd(&ns), &["route", "add", gw, "dev", "eth0"]);
            }
            run(
                ip_cmd(&ns),
                &["route", "add", "default", "via", gw, "dev", "eth0"],
            );
            if v6 {
                addr_add(&node_ns, gw_cidr, &veth);
            } else {
                run(
                    ip_cmd(&node_ns),
                    &["addr", "add", gw_cidr, "dev", &veth, "scope", "link"],
                );
            }
            sh(&["ip", "-n", &node_ns, "link", "set", &veth, "up"]);
            sh(&[
                "ip",
                "netns",
                "exec",
                &node_ns,
                "sysctl",
                "-qw",
                &format!("net.ipv4.conf.{veth}.rp_filter=0"),
            ]);
            run(
                ip_cmd(&node_ns),
                &["route", "add", &format!("{ip}/{plen}"), "dev", &veth],
            );
            for (other, other_ns) in &bed.nodes {
                if other != node {
                    let via = node_ip[node].to_string();
                    run(
                        ip_cmd(other_ns),
                        &[
                            "route",
                            "add",
                            &format!("{ip}/{plen}"),
                            "via",
                            &via,
                            "dev",
                            "eth0",
                            "onlink",
                        ],
                    );
                }
            }
            bed.places.insert(e.name.clone(), Place { ns, ip: *ip });
        }
        for e in engine
            .universe
            .endpoints
            .iter()
            .filter(|e| matches!(e.kind, EndpointKind::Host | EndpointKind::Node))
        {
            if let Some(node) = &e.node {
                bed.places.insert(
                    e.name.clone(),
                    Place {
                        ns: bed.nodes[node].clone(),
                        ip: node_ip[node],
                    },
                );
            }
        }
        bed
    }

    fn add_ns(&mut self, ns: &str) {
        sh(&["ip", "netns", "add", ns]);
        self.namespaces.push(ns.to_string());
        // No duplicate address detection: addresses are usable at once.
        sh(&[
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.default.dad_transmits=0",
        ]);
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    }

    /// Load a node's nft artifact into its namespace (and check it with `nft -c`).
    pub fn load(&self, node: &str, script: &std::path::Path) {
        let ns = &self.nodes[node];
        let check = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "-c", "-f"])
            .arg(script)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "nft -c rejects {}: {}",
            script.display(),
            String::from_utf8_lossy(&check.stderr)
        );
        for _ in 0..2 {
            // Twice: loading again must be the same as loading once.
            let out = Command::new("ip")
                .args(["netns", "exec", ns, "nft", "-f"])
                .arg(script)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "nft -f {}: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Run `f` on a thread inside network namespace `ns`.
pub fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = File::open(format!("/var/run/netns/{ns}")).expect("namespace exists");
            setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("probe thread")
    })
}

const TIMEOUT: Duration = Duration::from_millis(700);

/// Bind, retrying while a socket of an earlier probe on the same port is still
/// closing.
fn retry_bind<T>(bind: impl Fn() -> std::io::Result<T>) -> T {
    let mut last = None;
    for _ in 0..50 {
        match bind() {
            Ok(s) => return s,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("bind: {last:?}");
}

/// The protocols a probe can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A TCP connection to a port.
    Tcp(u16),
    /// A UDP request to a port, answered by the server.
    Udp(u16),
    /// An ICMP echo request.
    Ping,
}

/// Whether a connection of `probe` from `from` to `to` gets through.
pub fn probe(from: &Place, to: &Place, probe: Probe) -> bool {
    match probe {
        Probe::Tcp(port) => std::thread::scope(|s| {
            let addr = SocketAddr::new(to.ip, port);
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let server = s.spawn(move || {
                in_ns(&to.ns, || {
                    let l = retry_bind(|| TcpListener::bind(addr));
                    l.set_nonblocking(true).expect("nonblocking");
                    ready_tx.send(()).expect("ready");
                    let start = Instant::now();
                    while start.elapsed() < TIMEOUT * 2 {
                        if let Ok((mut c, _)) = l.accept() {
                            let _ = c.write_all(b"ok");
                            return true;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    false
                })
            });
            ready_rx.recv().expect("server ready");
            let client = in_ns(&from.ns, || {
                let Ok(mut c) = TcpStream::connect_timeout(&addr, TIMEOUT) else {
                    return false;
                };
                let _ = c.set_read_timeout(Some(TIMEOUT));
                let mut buf = [0u8; 2];
                c.read_exact(&mut buf).is_ok() && &buf == b"ok"
            });
            let served = server.join().expect("server");
            client && served
        }),
        Probe::Udp(port) => std::thread::scope(|s| {
            let addr = SocketAddr::new(to.ip, port);
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let server = s.spawn(move || {
                in_ns(&to.ns, || {
                    let sock = retry_bind(|| UdpSocket::bind(addr));
                    sock.set_read_timeout(Some(TIMEOUT * 2)).expect("timeout");
                    ready_tx.send(()).expect("ready");
                    let mut buf = [0u8; 16];
                    match sock.recv_from(&mut buf) {
                        Ok((_, peer)) => sock.send_to(b"pong", peer).is_ok(),
                        Err(_) => false,
                    }
                })
            });
            ready_rx.recv().expect("server ready");
            let client = in_ns(&from.ns, || {
                let any = if addr.is_ipv6() {
                    IpAddr::from([0u16; 8])
                } else {
                    IpAddr::from([0u8; 4])
                };
                let sock = UdpSocket::bind(SocketAddr::new(any, 0)).expect("bind");
                sock.set_read_timeout(Some(TIMEOUT)).expect("timeout");
                if sock.send_to(b"ping", addr).is_err() {
                    return false;
                }
                let mut buf = [0u8; 16];
                matches!(sock.recv_from(&mut buf), Ok((4, _))) && &buf[..4] == b"pong"
            });
            let served = server.join().expect("server");
            client && served
        }),
        Probe::Ping => {
            let out = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &from.ns,
                    "ping",
                    "-c",
                    "1",
                    "-W",
                    "1",
                    "-q",
                    &to.ip.to_string(),
                ])
                .output()
                .expect("ping runs");
            out.status.success()
        }
    }
}
