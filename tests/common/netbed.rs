//! The kernel test bed: a model's nodes and pods as network namespaces, real packets
//! between them, and each node's artifact loaded into its namespace.
//!
//! Topology: one namespace per node, joined by veths to a bridge in a fabric
//! namespace, each node holding its host-endpoint (or Node) addresses; one namespace
//! per pod, joined by a veth to its node, with its addresses as /32 and /128 and a
//! default route through a link-local gateway on the node's end of the veth; with
//! [`Bed::build`]'s `external`, one namespace on the fabric for an address outside the
//! cluster (203.0.113.10, fd00:ee::10). Host endpoints and nodes are their node's
//! namespace: a process there is a host process. IPv4 and IPv6 are set up together,
//! for the families asked for.
//!
//! Every MAC address is fixed and every neighbour entry static, so no ARP or
//! neighbour discovery runs: an IPv6 probe does not depend on the policy letting
//! ICMPv6 neighbour solicitations through. A pod whose address another pod already
//! holds is left out of the bed (one address, one place); the artifacts still carry
//! both.
//!
//! Setup is batched (`ip -batch`, one process per namespace) and sysctls are written
//! from a thread inside the namespace, so a bed of ten namespaces takes a few dozen
//! milliseconds. Several beds can run at once: names carry the process id and a
//! counter.
//!
//! Kernel tests run when `POLC_KERNEL_TESTS=1` (mandatory: a missing tool or a setup
//! failure fails the test) and, elsewhere, only when polc runs as root with `ip`, `nft`
//! and `ping` installed; otherwise [`run_kernel_tests`] reports them `ignored`, saying
//! which tool or privilege is missing.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use polc::ir::Model;
use polc::semantics::{EndpointKind, Engine};

/// The kernel tools the beds run, each with the Debian package that installs it.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nft", "nftables"),
    ("ping", "iputils-ping"),
    ("iptables-nft-restore", "iptables"),
    ("iptables-legacy-restore", "iptables"),
    ("ipset", "ipset"),
    ("bash", "bash"),
];

/// Which of a node folder's artifacts a bed loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// `polc.nft` with `nft -f`.
    Nft,
    /// The iptables target through `polc-iptables-load`, with the tools of this
    /// variant (`-nft`: iptables-nft, Debian's default; `-legacy`: the x_tables
    /// kernel interface).
    Iptables(&'static str),
}

impl Loader {
    /// Every loader a kernel test runs with, and the suffix of its test name.
    pub const ALL: [(Loader, &'static str); 3] = [
        (Loader::Nft, ""),
        (Loader::Iptables("-nft"), "::iptables-nft"),
        (Loader::Iptables("-legacy"), "::iptables-legacy"),
    ];
}

thread_local! {
    static LOADER: std::cell::Cell<Loader> = const { std::cell::Cell::new(Loader::Nft) };
}

/// The loader of the running test (set by [`run_kernel_tests`] per trial).
pub fn loader() -> Loader {
    LOADER.with(|l| l.get())
}

/// The name of the running test's loader, for tallies: `nft`, `iptables-nft`,
/// `iptables-legacy`.
pub fn loader_name() -> String {
    match loader() {
        Loader::Nft => "nft".into(),
        Loader::Iptables(v) => format!("iptables{v}"),
    }
}

/// Set the loader of this thread's test.
pub fn set_loader(l: Loader) {
    LOADER.with(|c| c.set(l));
}

/// Why this kernel cannot run iptables-legacy (no `ip_tables` support), if it cannot.
pub fn legacy_unsupported() -> Option<String> {
    let scratch = Scratch::new();
    let out = in_ns(&scratch.ns, || {
        Command::new("iptables-legacy")
            .args(["-w", "-t", "filter", "-L", "INPUT"])
            .output()
    });
    match out {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "this kernel has no iptables-legacy (x_tables): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("iptables-legacy: {e}")),
    }
}

/// Whether `POLC_KERNEL_TESTS=1`: kernel tests are mandatory, and what they miss is a
/// failure.
pub fn mandatory() -> bool {
    std::env::var("POLC_KERNEL_TESTS").is_ok_and(|v| v == "1")
}

/// What kernel tests need and this process lacks: root, and each missing tool with
/// its package. Empty when they can run.
pub fn missing() -> Vec<String> {
    let mut out = Vec::new();
    let uid = nix::unistd::Uid::effective();
    if !uid.is_root() {
        out.push(format!("root (running as uid {uid})"));
    }
    for (tool, package) in TOOLS {
        if Command::new(tool).arg("-V").output().is_err() {
            out.push(format!("`{tool}` (package {package})"));
        }
    }
    out
}

/// Whether kernel tests run here: with `POLC_KERNEL_TESTS=1` always (panicking, so
/// failing, when something is missing); otherwise when nothing is missing, saying
/// loudly on stderr what is missing when not.
pub fn enabled(test: &str) -> bool {
    let missing = missing();
    if mandatory() {
        assert!(
            missing.is_empty(),
            "POLC_KERNEL_TESTS=1 but {test} lacks {}",
            missing.join(", ")
        );
        return true;
    }
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED: {test}: missing {} (set POLC_KERNEL_TESTS=1 to make this a failure)",
            missing.join(", ")
        );
        return false;
    }
    true
}

/// The harness of the `kernel_*` test binaries (`harness = false` in Cargo.toml,
/// libtest-mimic): runs `tests` as libtest would (same flags, filters and output).
/// Where root or a tool is missing and kernel tests are not mandatory, every test is
/// reported `ignored` with what is missing (the `test result:` line counts it there,
/// never as passed) and a `SKIPPED:` line on stderr names it; under
/// `POLC_KERNEL_TESTS=1` each test fails instead.
///
/// Each test marked per-target runs once per [`Loader`] (`NAME`, `NAME::iptables-nft`,
/// `NAME::iptables-legacy`), loading that target's artifacts; iptables-legacy is
/// reported `ignored` where the kernel has no x_tables.
pub fn run_kernel_tests(binary: &str, tests: &[(&'static str, fn(), bool)]) -> ! {
    let mut args = libtest_mimic::Arguments::from_args();
    // The beds wait on the network far more than they compute, and each has
    // namespaces of its own: more at once than there are cores.
    if args.test_threads.is_none() {
        args.test_threads = Some(KERNEL_TEST_THREADS);
    }
    let missing = missing();
    let skip =
        (!mandatory() && !missing.is_empty()).then(|| format!("missing {}", missing.join(", ")));
    if let Some(reason) = &skip {
        eprintln!(
            "SKIPPED: {} kernel tests of {binary}: {reason} (set POLC_KERNEL_TESTS=1 to make this a failure)",
            tests.len()
        );
    }
    let legacy = if skip.is_none() {
        legacy_unsupported()
    } else {
        None
    };
    let mut trials = Vec::new();
    for &(name, test, per_target) in tests {
        for (loader, suffix) in Loader::ALL {
            if !per_target && loader != Loader::Nft {
                continue;
            }
            let skip = match (&skip, loader) {
                (Some(r), _) => Some(r.clone()),
                // The kernel decides, not the machine's tools: reported, never passed.
                (None, Loader::Iptables("-legacy")) => legacy.clone(),
                _ => None,
            };
            let full = format!("{name}{suffix}");
            trials.push(libtest_mimic::Trial::ignorable_test(
                full.clone(),
                move || {
                    if let Some(reason) = skip {
                        eprintln!("SKIPPED: {full}: {reason}");
                        return Ok(libtest_mimic::Completion::ignored_with(reason));
                    }
                    assert!(enabled(&full));
                    set_loader(loader);
                    test();
                    Ok(libtest_mimic::Completion::Completed)
                },
            ));
        }
    }
    libtest_mimic::run(&args, trials).exit()
}

/// Kernel tests run at once unless `--test-threads` says otherwise.
const KERNEL_TEST_THREADS: usize = 4;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh namespace-name prefix, unique across this process's beds.
fn fresh_id(tag: &str) -> String {
    format!(
        "{tag}{}x{}",
        std::process::id() % 100_000,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Run `ip [-n NS] -batch -` over `lines`; panics with ip's error.
fn ip_batch(ns: Option<&str>, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    let mut child = cmd
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ip runs");
    let mut input = lines.join("\n");
    input.push('\n');
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to ip");
    let out = child.wait_with_output().expect("ip finishes");
    assert!(
        out.status.success(),
        "ip {ns:?} -batch failed: {}\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Write sysctls (`net/...` paths under /proc/sys) inside a namespace.
fn sysctls(ns: &str, settings: &[(&str, &str)]) {
    in_ns(ns, || {
        for (key, value) in settings {
            let path = format!("/proc/sys/{key}");
            std::fs::write(&path, value).unwrap_or_else(|e| panic!("{ns}: {path}: {e}"));
        }
    });
}

/// A namespace's sysctls: no duplicate address detection anywhere; forwarding and
/// no reverse-path filter on routers (nodes, the outside).
fn namespace_sysctls(ns: &str, router: bool) {
    let mut s = vec![
        ("net/ipv6/conf/all/accept_dad", "0"),
        ("net/ipv6/conf/default/accept_dad", "0"),
        ("net/ipv6/conf/default/dad_transmits", "0"),
        ("net/ipv6/conf/default/router_solicitations", "0"),
    ];
    if router {
        s.extend([
            ("net/ipv4/ip_forward", "1"),
            ("net/ipv4/conf/all/rp_filter", "0"),
            ("net/ipv4/conf/default/rp_filter", "0"),
            ("net/ipv6/conf/all/forwarding", "1"),
        ]);
    }
    sysctls(ns, &s);
}

/// Which IP families a bed sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    /// IPv4.
    pub v4: bool,
    /// IPv6.
    pub v6: bool,
}

impl Families {
    fn has(self, ip: &IpAddr) -> bool {
        if ip.is_ipv4() { self.v4 } else { self.v6 }
    }
}

/// The address outside the cluster a bed with `external` holds, per family.
pub const EXTERNAL_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));
/// The IPv6 address outside the cluster.
pub const EXTERNAL_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0xee, 0, 0, 0, 0, 0, 0x10));

/// Where an endpoint lives in the bed.
#[derive(Debug, Clone)]
pub struct Place {
    /// Its namespace.
    pub ns: String,
    /// Its addresses in the bed's families, IPv4 first.
    pub ips: Vec<IpAddr>,
}

impl Place {
    /// The address a connection to `self` from `from` uses: IPv4 when both have one,
    /// else IPv6, as the evaluator chooses.
    pub fn address_from(&self, from: &Place) -> Option<IpAddr> {
        [true, false].into_iter().find_map(|v4| {
            from.ips.iter().find(|ip| ip.is_ipv4() == v4)?;
            self.ips.iter().find(|ip| ip.is_ipv4() == v4).copied()
        })
    }
}

/// A running test bed; dropping it deletes every namespace.
pub struct Bed {
    namespaces: Vec<String>,
    /// Node name to namespace.
    pub nodes: BTreeMap<String, String>,
    /// Endpoint name (as the evaluator names it, or an outside address) to its place.
    pub places: BTreeMap<String, Place>,
    /// Node name to its primary addresses (the source addresses of its processes).
    pub primary: BTreeMap<String, Vec<IpAddr>>,
}

impl Drop for Bed {
    fn drop(&mut self) {
        let lines: Vec<String> = self
            .namespaces
            .iter()
            .map(|ns| format!("netns del {ns}"))
            .collect();
        let _ = std::panic::catch_unwind(|| ip_batch(None, &lines));
    }
}

/// A MAC address: a locally administered `02:00:00:KIND:HI:LO`.
fn mac(kind: u8, index: usize) -> String {
    format!(
        "02:00:00:{kind:02x}:{:02x}:{:02x}",
        index >> 8,
        index & 0xff
    )
}

const MAC_NODE: u8 = 1;
const MAC_OUTSIDE: u8 = 2;
const MAC_POD: u8 = 3;
const MAC_GATEWAY: u8 = 4;

fn plen(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn nodad(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() { "" } else { " nodad" }
}

/// The pod-side gateway address per family.
fn gateway(v4: bool) -> &'static str {
    if v4 { "169.254.1.1" } else { "fe80::1" }
}

/// One node or the outside: a namespace on the fabric.
struct Router {
    ns: String,
    ips: Vec<IpAddr>,
    mac: String,
}

/// One pod to wire up.
struct PodPlan {
    name: String,
    node: String,
    ips: Vec<IpAddr>,
}

/// Everything a bed is made of, before any of it exists.
struct Plan {
    id: String,
    families: Families,
    routers: BTreeMap<String, Router>,
    outside: Option<Router>,
    pods: Vec<PodPlan>,
    /// Pods and their nodes find each other by ARP and neighbour discovery instead
    /// of static entries (for tests of what the policy does to discovery).
    discovery: bool,
}

impl Plan {
    fn new(model: &Model, engine: &Engine<'_>, families: Families, external: bool) -> Plan {
        let id = fresh_id("pb");
        let routers = Self::routers(&id, model, engine, families);
        let outside = external.then(|| Router {
            ns: format!("{id}x"),
            ips: [EXTERNAL_V4, EXTERNAL_V6]
                .into_iter()
                .filter(|ip| families.has(ip))
                .collect(),
            mac: mac(MAC_OUTSIDE, 0),
        });
        let mut taken = BTreeSet::new();
        let mut pods = Vec::new();
        for e in engine.universe.endpoints.iter() {
            let ips: Vec<IpAddr> = e
                .ips
                .iter()
                .copied()
                .filter(|ip| families.has(ip))
                .collect();
            let (EndpointKind::Pod, Some(node)) = (e.kind, &e.node) else {
                continue;
            };
            // One address, one place: a pod sharing an address is left out.
            if ips.is_empty() || ips.iter().any(|ip| taken.contains(ip)) {
                continue;
            }
            taken.extend(ips.iter().copied());
            pods.push(PodPlan {
                name: e.name.clone(),
                node: node.clone(),
                ips,
            });
        }
        Plan {
            id,
            families,
            routers,
            outside,
            pods,
            discovery: false,
        }
    }

    /// Node namespaces and addresses: per family, the first host endpoint's or
    /// node's address, else a made-up one.
    fn routers(
        id: &str,
        model: &Model,
        engine: &Engine<'_>,
        families: Families,
    ) -> BTreeMap<String, Router> {
        let mut names: Vec<String> = model.nodes.iter().map(|n| n.name.clone()).collect();
        names.extend(model.host_endpoints.iter().map(|h| h.node.clone()));
        names.extend(model.pods.iter().filter_map(|p| p.node.clone()));
        names.sort();
        names.dedup();
        let mut out = BTreeMap::new();
        for (i, node) in names.iter().enumerate() {
            let mine = |v4: bool| {
                engine
                    .universe
                    .endpoints
                    .iter()
                    .filter(|e| matches!(e.kind, EndpointKind::Host | EndpointKind::Node))
                    .filter(|e| e.node.as_deref() == Some(node))
                    .find_map(|e| e.ips.iter().find(|ip| ip.is_ipv4() == v4).copied())
            };
            let mut ips = Vec::new();
            if families.v4 {
                ips.push(mine(true).unwrap_or(IpAddr::from([198, 18, 0, i as u8 + 1])));
            }
            if families.v6 {
                let made_up = IpAddr::from([0xfd00, 0x198, 0, 0, 0, 0, 0, i as u16 + 1]);
                ips.push(mine(false).unwrap_or(made_up));
            }
            // Every other host-endpoint address of the node, after the primary ones
            // (the source addresses the kernel picks).
            for e in &engine.universe.endpoints {
                if e.kind == EndpointKind::Host && e.node.as_deref() == Some(node) {
                    for ip in e.ips.iter().filter(|ip| families.has(ip)) {
                        if !ips.contains(ip) {
                            ips.push(*ip);
                        }
                    }
                }
            }
            let ns = format!("{id}n{i}");
            out.insert(
                node.clone(),
                Router {
                    ns,
                    ips,
                    mac: mac(MAC_NODE, i),
                },
            );
        }
        out
    }

    fn fabric(&self) -> String {
        format!("{}f", self.id)
    }

    fn namespaces(&self) -> Vec<String> {
        let mut v = vec![self.fabric()];
        v.extend(self.routers.values().map(|r| r.ns.clone()));
        v.extend(self.outside.iter().map(|r| r.ns.clone()));
        v.extend((0..self.pods.len()).map(|j| format!("{}p{j}", self.id)));
        v
    }

    /// Every router on the fabric: nodes, then the outside.
    fn fabric_members(&self) -> Vec<&Router> {
        self.routers.values().chain(self.outside.iter()).collect()
    }

    /// Veths, created from the root namespace straight into their namespaces.
    fn links(&self) -> Vec<String> {
        let fabric = self.fabric();
        let mut lines = Vec::new();
        for (k, r) in self.fabric_members().into_iter().enumerate() {
            lines.push(format!(
                "link add eth0 netns {} address {} type veth peer name f{k} netns {fabric}",
                r.ns, r.mac
            ));
        }
        for (j, p) in self.pods.iter().enumerate() {
            lines.push(format!(
                "link add eth0 netns {}p{j} address {} type veth peer name cali{j} netns {} address {}",
                self.id,
                mac(MAC_POD, j),
                self.routers[&p.node].ns,
                mac(MAC_GATEWAY, j)
            ));
        }
        lines
    }

    fn fabric_lines(&self) -> Vec<String> {
        let mut lines = vec![
            "link set lo up".to_string(),
            "link add br0 type bridge mcast_snooping 0".to_string(),
            "link set br0 up".to_string(),
        ];
        for k in 0..self.fabric_members().len() {
            lines.push(format!("link set f{k} master br0 up"));
        }
        lines
    }

    /// Addresses, routes and neighbours of a router (a node, or the outside).
    fn router_lines(&self, me: &Router, node: Option<&str>) -> Vec<String> {
        let mut lines = vec!["link set lo up".to_string()];
        for ip in &me.ips {
            lines.push(format!("addr add {ip}/{} dev eth0{}", plen(ip), nodad(ip)));
        }
        lines.push("link set eth0 up".into());
        for other in self.fabric_members() {
            if other.ns == me.ns {
                continue;
            }
            for ip in &other.ips {
                lines.push(format!("route add {ip}/{} dev eth0", plen(ip)));
                lines.push(format!(
                    "neigh add {ip} lladdr {} dev eth0 nud permanent",
                    other.mac
                ));
            }
        }
        for (j, p) in self.pods.iter().enumerate() {
            let host = &self.routers[&p.node];
            for ip in &p.ips {
                if node == Some(p.node.as_str()) {
                    lines.extend(self.local_pod_lines(me, j, ip));
                } else if let Some(via) = host.ips.iter().find(|h| h.is_ipv4() == ip.is_ipv4()) {
                    lines.push(format!(
                        "route add {ip}/{} via {via} dev eth0 onlink",
                        plen(ip)
                    ));
                }
            }
        }
        lines
    }

    /// A node's side of its pod `j`'s veth, for one of the pod's addresses.
    fn local_pod_lines(&self, me: &Router, j: usize, ip: &IpAddr) -> Vec<String> {
        let v4 = ip.is_ipv4();
        let mut lines = Vec::new();
        let gw = gateway(v4);
        if v4 {
            lines.push(format!("addr add {gw}/32 dev cali{j} scope link"));
        } else {
            lines.push(format!("addr add {gw}/64 dev cali{j} nodad"));
        }
        lines.push(format!("link set cali{j} up"));
        let src = me
            .ips
            .iter()
            .find(|h| h.is_ipv4() == v4)
            .map_or(String::new(), |s| format!(" src {s}"));
        lines.push(format!("route add {ip}/{} dev cali{j}{src}", plen(ip)));
        if !self.discovery {
            lines.push(format!(
                "neigh add {ip} lladdr {} dev cali{j} nud permanent",
                mac(MAC_POD, j)
            ));
        }
        lines
    }

    fn pod_lines(&self, j: usize) -> Vec<String> {
        let p = &self.pods[j];
        let mut lines = vec!["link set lo up".to_string()];
        for ip in &p.ips {
            lines.push(format!("addr add {ip}/{} dev eth0{}", plen(ip), nodad(ip)));
        }
        lines.push("link set eth0 up".into());
        for v4 in [true, false] {
            if !p.ips.iter().any(|ip| ip.is_ipv4() == v4) {
                continue;
            }
            let gw = gateway(v4);
            if v4 {
                lines.push(format!("route add {gw} dev eth0 scope link"));
            }
            lines.push(format!("route add default via {gw} dev eth0"));
            if !self.discovery {
                lines.push(format!(
                    "neigh add {gw} lladdr {} dev eth0 nud permanent",
                    mac(MAC_GATEWAY, j)
                ));
            }
        }
        lines
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
        let families = Families { v4: !v6, v6 };
        Bed::build(model, engine, families, false)
    }

    /// Build the topology of a model over `families`, with a namespace for an outside
    /// address when `external`.
    pub fn build(model: &Model, engine: &Engine<'_>, families: Families, external: bool) -> Bed {
        Bed::from_plan(engine, Plan::new(model, engine, families, external))
    }

    /// Build the IPv6 topology of a model where pods and their nodes find each other
    /// by neighbour discovery (no static neighbour entries between them), so the
    /// artifact's handling of ICMPv6 ND decides whether pods can talk at all.
    pub fn with_neighbour_discovery(model: &Model, engine: &Engine<'_>) -> Bed {
        let families = Families {
            v4: false,
            v6: true,
        };
        let mut plan = Plan::new(model, engine, families, false);
        plan.discovery = true;
        Bed::from_plan(engine, plan)
    }

    fn from_plan(engine: &Engine<'_>, plan: Plan) -> Bed {
        let mut bed = Bed {
            namespaces: Vec::new(),
            nodes: BTreeMap::new(),
            places: BTreeMap::new(),
            primary: BTreeMap::new(),
        };
        let namespaces = plan.namespaces();
        let adds: Vec<String> = namespaces
            .iter()
            .map(|ns| format!("netns add {ns}"))
            .collect();
        ip_batch(None, &adds);
        bed.namespaces = namespaces;
        let routers: Vec<&str> = plan
            .fabric_members()
            .iter()
            .map(|r| r.ns.as_str())
            .collect();
        for ns in &bed.namespaces {
            namespace_sysctls(ns, routers.contains(&ns.as_str()));
        }
        ip_batch(None, &plan.links());
        ip_batch(Some(&plan.fabric()), &plan.fabric_lines());
        for (node, r) in &plan.routers {
            ip_batch(Some(&r.ns), &plan.router_lines(r, Some(node)));
        }
        if let Some(o) = &plan.outside {
            ip_batch(Some(&o.ns), &plan.router_lines(o, None));
        }
        for j in 0..plan.pods.len() {
            ip_batch(Some(&format!("{}p{j}", plan.id)), &plan.pod_lines(j));
        }
        bed.place(&plan, engine);
        bed
    }

    /// A router's primary addresses: the first of each family, the source
    /// addresses its processes send from.
    fn primary_of(r: &Router) -> Vec<IpAddr> {
        [true, false]
            .into_iter()
            .filter_map(|v4| r.ips.iter().find(|ip| ip.is_ipv4() == v4).copied())
            .collect()
    }

    /// Record where each endpoint is.
    fn place(&mut self, plan: &Plan, engine: &Engine<'_>) {
        for (node, r) in &plan.routers {
            self.nodes.insert(node.clone(), r.ns.clone());
            self.primary.insert(node.clone(), Self::primary_of(r));
        }
        for (j, p) in plan.pods.iter().enumerate() {
            let ns = format!("{}p{j}", plan.id);
            self.places.insert(
                p.name.clone(),
                Place {
                    ns,
                    ips: p.ips.clone(),
                },
            );
        }
        for e in &engine.universe.endpoints {
            if let (EndpointKind::Host | EndpointKind::Node, Some(node)) = (e.kind, &e.node) {
                let r = &plan.routers[node];
                // A host endpoint is reached at its own addresses; one without any
                // (or a node) at the node's primary ones.
                let own: Vec<IpAddr> = e
                    .ips
                    .iter()
                    .copied()
                    .filter(|ip| plan.families.has(ip))
                    .collect();
                let primary = Self::primary_of(r);
                let ips = if e.kind == EndpointKind::Host && !own.is_empty() {
                    own
                } else {
                    primary
                };
                self.places.insert(
                    e.name.clone(),
                    Place {
                        ns: r.ns.clone(),
                        ips,
                    },
                );
            }
        }
        if let Some(o) = &plan.outside {
            for ip in &o.ips {
                self.places.insert(
                    ip.to_string(),
                    Place {
                        ns: o.ns.clone(),
                        ips: vec![*ip],
                    },
                );
            }
        }
    }

    /// A router path through one node: host `x` (192.168.1.2) on the network of the
    /// node's `eth0` (192.168.1.1/24), host `y` (192.168.2.2) on the network of its
    /// `eth1` (192.168.2.1/24), the node forwarding between them. Places `x` and `y`,
    /// node `node`.
    pub fn transit(node: &str) -> Bed {
        let id = fresh_id("pt");
        let (n, x, y) = (format!("{id}n"), format!("{id}x"), format!("{id}y"));
        let namespaces = vec![n.clone(), x.clone(), y.clone()];
        let adds: Vec<String> = namespaces
            .iter()
            .map(|ns| format!("netns add {ns}"))
            .collect();
        ip_batch(None, &adds);
        let bed = Bed {
            namespaces,
            nodes: BTreeMap::from([(node.to_string(), n.clone())]),
            primary: BTreeMap::new(),
            places: BTreeMap::from([
                (
                    "x".to_string(),
                    Place {
                        ns: x.clone(),
                        ips: vec![IpAddr::from([192, 168, 1, 2])],
                    },
                ),
                (
                    "y".to_string(),
                    Place {
                        ns: y.clone(),
                        ips: vec![IpAddr::from([192, 168, 2, 2])],
                    },
                ),
            ]),
        };
        namespace_sysctls(&n, true);
        namespace_sysctls(&x, false);
        namespace_sysctls(&y, false);
        ip_batch(
            None,
            &[
                format!("link add eth0 netns {n} type veth peer name eth0 netns {x}"),
                format!("link add eth1 netns {n} type veth peer name eth0 netns {y}"),
            ],
        );
        ip_batch(
            Some(&n),
            &[
                "link set lo up".into(),
                "addr add 192.168.1.1/24 dev eth0".into(),
                "addr add 192.168.2.1/24 dev eth1".into(),
                "link set eth0 up".into(),
                "link set eth1 up".into(),
            ],
        );
        for (ns, net) in [(&x, 1), (&y, 2)] {
            ip_batch(
                Some(ns),
                &[
                    "link set lo up".into(),
                    format!("addr add 192.168.{net}.2/24 dev eth0"),
                    "link set eth0 up".into(),
                    format!("route add default via 192.168.{net}.1"),
                ],
            );
        }
        bed
    }

    /// Load the artifacts of node folder `dir` into the node's namespace with the
    /// test's [`loader`]: checked first (`nft -c`, `polc-iptables-load --test`), then
    /// loaded twice (loading again must be the same as loading once).
    pub fn try_load(&self, node: &str, dir: &std::path::Path) -> Result<(), String> {
        let ns = &self.nodes[node];
        match loader() {
            Loader::Nft => {
                let script = dir.join("polc.nft");
                nft_in(ns, &["-c", "-f"], &script)?;
                nft_in(ns, &["-f"], &script)?;
                nft_in(ns, &["-f"], &script)
            }
            Loader::Iptables(variant) => {
                iptables_load(ns, variant, dir, true)?;
                iptables_load(ns, variant, dir, false)?;
                let once = iptables_state(ns, variant)?;
                iptables_load(ns, variant, dir, false)?;
                let twice = iptables_state(ns, variant)?;
                if once != twice {
                    return Err(format!("loading {} again changed the rules", dir.display()));
                }
                hooked_once(&once)
            }
        }
    }

    /// [`Bed::try_load`], panicking on failure.
    pub fn load(&self, node: &str, dir: &std::path::Path) {
        if let Err(e) = self.try_load(node, dir) {
            panic!("{e}");
        }
    }
}

/// Run a node folder's `polc-iptables-load` (with `--test` when `test`) inside
/// namespace `ns`, with the tools of `variant`.
pub fn iptables_load(
    ns: &str,
    variant: &str,
    dir: &std::path::Path,
    test: bool,
) -> Result<(), String> {
    let mut args = vec![dir.join("polc-iptables-load").display().to_string()];
    if test {
        args.push("--test".into());
    }
    args.push(dir.display().to_string());
    let out = in_ns(ns, || {
        Command::new("bash")
            .args(&args)
            .env("POLC_IPTABLES_VARIANT", variant)
            .output()
    })
    .map_err(|e| format!("polc-iptables-load: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "polc-iptables-load {} (iptables{variant}) fails: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The rules and sets of namespace `ns` (`iptables-save`, `ip6tables-save`,
/// `ipset save`), without counters.
pub fn iptables_state(ns: &str, variant: &str) -> Result<String, String> {
    let mut text = String::new();
    for tool in [
        format!("iptables{variant}-save"),
        format!("ip6tables{variant}-save"),
        "ipset".to_string(),
    ] {
        let args: &[&str] = if tool == "ipset" { &["save"] } else { &[] };
        let out = in_ns(ns, || Command::new(&tool).args(args).output())
            .map_err(|e| format!("{tool}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{tool}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let mut lines: Vec<String> = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.starts_with('#') {
                continue;
            }
            // Chain counters and ipset's random hash seeds are not state.
            let line = match line.split_once(" [") {
                Some((head, _)) if line.starts_with(':') => head.to_string(),
                _ => line.split(" initval ").next().unwrap_or(line).to_string(),
            };
            lines.push(line);
        }
        // A hash set lists its elements in hash order.
        if tool == "ipset" {
            lines.sort();
        }
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
    }
    Ok(text)
}

/// Each built-in chain polc uses jumps to polc's chain exactly once, in both
/// families.
fn hooked_once(state: &str) -> Result<(), String> {
    for (builtin, chain) in [
        ("PREROUTING", "POLC-PREROUTING"),
        ("OUTPUT", "POLC-OUTPUT"),
        ("INPUT", "POLC-INPUT"),
        ("FORWARD", "POLC-FORWARD"),
    ] {
        let jump = format!("-A {builtin} -j {chain}");
        let n = state.lines().filter(|l| *l == jump).count();
        // raw and mangle PREROUTING, raw and filter OUTPUT: two per family.
        let want = if builtin == "PREROUTING" || builtin == "OUTPUT" {
            4
        } else {
            2
        };
        if n != want {
            return Err(format!("`{jump}` appears {n} times, not {want}"));
        }
    }
    Ok(())
}

/// Run `nft ARGS SCRIPT` inside namespace `ns`.
pub fn nft_in(ns: &str, args: &[&str], script: &std::path::Path) -> Result<(), String> {
    let out = in_ns(ns, || Command::new("nft").args(args).arg(script).output())
        .map_err(|e| format!("nft: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "nft {} {} rejects it: {}",
        args.join(" "),
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// A namespace of its own for `nft -c` (which needs one, as root, but changes
/// nothing in it); deleted on drop.
pub struct Scratch {
    /// Its name.
    pub ns: String,
}

impl Scratch {
    /// A new empty namespace.
    pub fn new() -> Scratch {
        let ns = fresh_id("pc");
        ip_batch(None, &[format!("netns add {ns}")]);
        Scratch { ns }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Run `f` on a thread inside network namespace `ns` (processes it spawns run
/// there too).
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

/// How long a probe waits when nothing answers: short, since everything is local.
pub const SHORT: Duration = Duration::from_millis(200);
/// The wait of a re-run, before a disagreeing probe is called a mismatch.
pub const LONG: Duration = Duration::from_millis(1500);

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Probe {
    /// A TCP connection to a port.
    Tcp(u16),
    /// A UDP request to a port, answered by the server.
    Udp(u16),
    /// An ICMP (or ICMPv6) echo request.
    Ping,
}

/// Whether a connection of `probe` from `from` to `to` gets through, waiting
/// [`SHORT`] for an answer; false when they share no family.
pub fn probe(from: &Place, to: &Place, probe: Probe) -> bool {
    probe_with(from, to, probe, SHORT)
}

/// [`probe`], re-run with the [`LONG`] wait when the first answer is not `want`: a
/// slow answer is not a verdict.
pub fn probe_expecting(from: &Place, to: &Place, p: Probe, want: bool) -> bool {
    let got = probe(from, to, p);
    if got == want {
        return got;
    }
    probe_with(from, to, p, LONG)
}

/// [`probe`] with a given wait.
pub fn probe_with(from: &Place, to: &Place, probe: Probe, wait: Duration) -> bool {
    let Some(ip) = to.address_from(from) else {
        return false;
    };
    match probe {
        Probe::Tcp(port) => tcp(&from.ns, &to.ns, SocketAddr::new(ip, port), wait),
        Probe::Udp(port) => udp(&from.ns, &to.ns, SocketAddr::new(ip, port), wait),
        Probe::Ping => ping(&from.ns, ip, wait),
    }
}

/// A TCP connection from namespace `from` to a server at `addr` in `to`, which
/// answers `ok`; the server gives up once the client has.
fn tcp(from: &str, to: &str, addr: SocketAddr, wait: Duration) -> bool {
    tcp_via(from, to, addr, addr, wait)
}

/// A TCP connection from namespace `from` to `connect`, answered by a server
/// listening at `listen` in `to` (they differ when the path translates the
/// destination, as a Service's DNAT does).
pub fn tcp_via(
    from: &str,
    to: &str,
    connect: SocketAddr,
    listen: SocketAddr,
    wait: Duration,
) -> bool {
    let addr = listen;
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let done = &done;
        let server = s.spawn(move || {
            in_ns(to, || {
                let l = retry_bind(|| TcpListener::bind(addr));
                l.set_nonblocking(true).expect("nonblocking");
                ready_tx.send(()).expect("ready");
                let start = Instant::now();
                while start.elapsed() < wait * 4 {
                    if let Ok((mut c, _)) = l.accept() {
                        let _ = c.write_all(b"ok");
                        return true;
                    }
                    if done.load(Ordering::SeqCst) {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                false
            })
        });
        ready_rx.recv().expect("server ready");
        let client = in_ns(from, || {
            let Ok(mut c) = TcpStream::connect_timeout(&connect, wait) else {
                return false;
            };
            let _ = c.set_read_timeout(Some(wait));
            let mut buf = [0u8; 2];
            c.read_exact(&mut buf).is_ok() && &buf == b"ok"
        });
        done.store(true, Ordering::SeqCst);
        let served = server.join().expect("server");
        client && served
    })
}

/// A UDP request from namespace `from` to a server at `addr` in `to`, which
/// answers `pong`; the server gives up once the client has.
fn udp(from: &str, to: &str, addr: SocketAddr, wait: Duration) -> bool {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let done = &done;
        let server = s.spawn(move || {
            in_ns(to, || {
                let sock = retry_bind(|| UdpSocket::bind(addr));
                sock.set_read_timeout(Some(Duration::from_millis(5)))
                    .expect("timeout");
                ready_tx.send(()).expect("ready");
                let start = Instant::now();
                let mut buf = [0u8; 16];
                while start.elapsed() < wait * 4 {
                    if let Ok((_, peer)) = sock.recv_from(&mut buf) {
                        return sock.send_to(b"pong", peer).is_ok();
                    }
                    if done.load(Ordering::SeqCst) {
                        return false;
                    }
                }
                false
            })
        });
        ready_rx.recv().expect("server ready");
        let client = in_ns(from, || {
            let any = if addr.is_ipv6() {
                IpAddr::from([0u16; 8])
            } else {
                IpAddr::from([0u8; 4])
            };
            let sock = UdpSocket::bind(SocketAddr::new(any, 0)).expect("bind");
            sock.set_read_timeout(Some(wait)).expect("timeout");
            if sock.send_to(b"ping", addr).is_err() {
                return false;
            }
            let mut buf = [0u8; 16];
            matches!(sock.recv_from(&mut buf), Ok((4, _))) && &buf[..4] == b"pong"
        });
        done.store(true, Ordering::SeqCst);
        let served = server.join().expect("server");
        client && served
    })
}

/// One ICMP (or ICMPv6) echo request from namespace `from` to `ip`.
fn ping(from: &str, ip: IpAddr, wait: Duration) -> bool {
    let secs = format!("{:.3}", wait.as_secs_f64());
    in_ns(from, || {
        Command::new("ping")
            .args(["-c", "1", "-W", &secs, "-q", &ip.to_string()])
            .output()
            .expect("ping runs")
            .status
            .success()
    })
}

/// An IP-in-IP packet (IP protocol 4) from namespace `from` to `to`'s IPv4 address,
/// seen by a raw socket there: one way, so whether it arrives is the verdict.
pub fn ipip(from: &Place, to: &Place) -> bool {
    use rustix::net::{AddressFamily, SendFlags, SocketType, ipproto};
    let Some(IpAddr::V4(dst)) = to.address_from(from) else {
        return false;
    };
    let marker = format!("polc-ipip-{}", fresh_id("m"));
    let raw = || {
        rustix::net::socket(AddressFamily::INET, SocketType::RAW, Some(ipproto::IPIP))
            .expect("a raw IP-in-IP socket (root)")
    };
    std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let marker = marker.as_bytes();
        let server = s.spawn(move || {
            in_ns(&to.ns, || {
                let fd = raw();
                rustix::net::sockopt::set_socket_timeout(
                    &fd,
                    rustix::net::sockopt::Timeout::Recv,
                    Some(Duration::from_millis(100)),
                )
                .expect("timeout");
                ready_tx.send(()).expect("ready");
                let start = Instant::now();
                let mut buf = [0u8; 2048];
                while start.elapsed() < LONG {
                    if let Ok(n) = rustix::net::recv(&fd, &mut buf, rustix::net::RecvFlags::empty())
                        && buf[..n.0].windows(marker.len()).any(|w| w == marker)
                    {
                        return true;
                    }
                }
                false
            })
        });
        ready_rx.recv().expect("receiver ready");
        in_ns(&from.ns, || {
            let fd = raw();
            let addr = std::net::SocketAddrV4::new(dst, 0);
            for _ in 0..3 {
                let _ = rustix::net::sendto(&fd, marker, SendFlags::empty(), &addr);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        server.join().expect("receiver")
    })
}

/// Write sysctls inside a namespace (`net/...` paths under /proc/sys).
pub fn set_sysctls(ns: &str, settings: &[(&str, &str)]) {
    sysctls(ns, settings);
}

/// A bare TCP ACK (no connection behind it) from `from` to port `port` of `to`'s
/// IPv4 address: whether a RST comes back. Conntrack without `tcp_loose` finds such
/// a packet INVALID, so this tells whether the path drops INVALID packets.
pub fn bare_ack_answered(from: &Place, to: &Place, port: u16) -> bool {
    use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType, ipproto};
    let (Some(IpAddr::V4(dst)), Some(IpAddr::V4(src))) = (
        to.address_from(from),
        from.ips.iter().find(|ip| ip.is_ipv4()).copied(),
    ) else {
        return false;
    };
    let sport: u16 = 47_000 + (std::process::id() % 1000) as u16;
    let mut seg = [0u8; 20];
    seg[0..2].copy_from_slice(&sport.to_be_bytes());
    seg[2..4].copy_from_slice(&port.to_be_bytes());
    seg[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    seg[8..12].copy_from_slice(&0x0bad_cafeu32.to_be_bytes());
    seg[12] = 5 << 4; // header length: 5 words
    seg[13] = 0x10; // ACK
    seg[14..16].copy_from_slice(&1024u16.to_be_bytes());
    // The checksum over the pseudo-header and the segment.
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for w in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&[0, 6, 0, 20]);
    add(&seg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    seg[16..18].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    in_ns(&from.ns, || {
        let fd = rustix::net::socket(AddressFamily::INET, SocketType::RAW, Some(ipproto::TCP))
            .expect("a raw TCP socket (root)");
        rustix::net::sockopt::set_socket_timeout(
            &fd,
            rustix::net::sockopt::Timeout::Recv,
            Some(Duration::from_millis(100)),
        )
        .expect("timeout");
        let addr = std::net::SocketAddrV4::new(dst, 0);
        let start = Instant::now();
        let mut buf = [0u8; 2048];
        let mut sent = Instant::now() - LONG;
        while start.elapsed() < LONG * 2 {
            if sent.elapsed() > Duration::from_millis(300) {
                let _ = rustix::net::sendto(&fd, &seg, SendFlags::empty(), &addr);
                sent = Instant::now();
            }
            if let Ok((n, _)) = rustix::net::recv(&fd, &mut buf, RecvFlags::empty()) {
                // An IPv4 header, then TCP: from dst:port to our sport, RST set.
                let ihl = usize::from(buf[0] & 0x0f) * 4;
                if n >= ihl + 14
                    && buf[12..16] == dst.octets()
                    && buf[ihl..ihl + 2] == port.to_be_bytes()
                    && buf[ihl + 2..ihl + 4] == sport.to_be_bytes()
                    && buf[ihl + 13] & 0x04 != 0
                {
                    return true;
                }
            }
        }
        false
    })
}
