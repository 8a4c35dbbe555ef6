//! A seeded generator of small random scenarios, written as manifest text so that the
//! whole CLI path (files, YAML, lowering, evaluation, rendering) is exercised.
//!
//! A seed means the same scenario for as long as this file is unchanged (regressions
//! are kept as files in `tests/regressions/`, not as seeds): the generator draws from
//! `rand::rngs::ChaCha8Rng` (a portable, reproducible stream) and never from hash
//! order or the clock. A scenario has 1-3 nodes (IPv4, IPv6 or dual-stack), 2-6 pods
//! over 1-3 namespaces (now and then a host-network one), host endpoints
//! (`interfaceName: eth0`, `"*"`, expectedIPs only) and their Profiles, tiers, Calico
//! policies (some staged), Kubernetes policies, AdminNetworkPolicies and a
//! BaselineAdminNetworkPolicy, network sets and, now and then, a
//! FelixConfiguration (failsafe ports, defaultEndpointToHostAction) and an IPPool.
//! Values are drawn to hit what broke before: names that collide once sanitised
//! (`allow.all`/`allow-all`, `web.1`/`web-1`, `h.1`/`h-1`), nets inside nets and
//! duplicates, overlapping port ranges, `notICMP` with a code, every selector
//! operator, named ports on pods and host endpoints, service accounts, prefixed label
//! keys. Duplicate pod addresses are an input error (`duplicate-address`): they are
//! one of the deliberate errors.
//!
//! Everything generated is valid unless [`Knobs::invalid`] asks for one deliberate
//! error (then [`Scenario::broken`] says which). Host-endpoint policy is normal-stage
//! in every other seed (doNotTrack, preDNAT, applyOnForward in the odd ones: see
//! [`Knobs::host_stages`]).

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Write;

use rand::rngs::ChaCha8Rng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};

/// What the generator may produce beyond plain valid, normal-stage scenarios.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// Emit host-endpoint policy for the other stages too: `doNotTrack`, `preDNAT`
    /// and `applyOnForward` on GlobalNetworkPolicies: always (`Some(true)`), never
    /// (`Some(false)`), or in three seeds of four (`None`, the default), so a run covers both.
    pub host_stages: Option<bool>,
    /// Probability of one deliberate input error in a scenario.
    pub invalid: f64,
}

impl Default for Knobs {
    fn default() -> Knobs {
        Knobs {
            host_stages: None,
            invalid: 0.05,
        }
    }
}

impl Knobs {
    /// The defaults, with `POLC_FUZZ_HOST_STAGES=1` (or `0`) turning
    /// [`Knobs::host_stages`] on (off) for every seed.
    pub fn from_env() -> Knobs {
        let host_stages = match std::env::var("POLC_FUZZ_HOST_STAGES").as_deref() {
            Ok("1") => Some(true),
            Ok("0") => Some(false),
            _ => None,
        };
        Knobs {
            host_stages,
            ..Knobs::default()
        }
    }
}

/// One generated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its seed.
    pub seed: u64,
    /// Manifest files: (file name, YAML text).
    pub files: Vec<(String, String)>,
    /// TCP/UDP ports that rules or named ports mention: worth probing.
    pub ports: BTreeSet<u16>,
    /// Whether some node has both IPv4 and IPv6 addresses.
    pub dual_stack: bool,
    /// The deliberate error, if one was drawn.
    pub broken: Option<&'static str>,
}

impl Scenario {
    /// Write the files into a new folder `input` under `dir`; returns its path.
    pub fn write(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let input = dir.join("input");
        std::fs::create_dir_all(&input).expect("create the input folder");
        for (name, text) in &self.files {
            std::fs::write(input.join(name), text).expect("write a manifest");
        }
        input
    }

    /// The files as the library reads them.
    pub fn sources(&self) -> polc::source::Sources {
        let mut sources = polc::source::Sources::default();
        for (name, text) in &self.files {
            sources.add(name.clone(), text.clone());
        }
        sources
    }

    /// Every file, each headed by its name, for a failure report.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for (name, text) in &self.files {
            let _ = writeln!(out, "# ---- {name}\n{text}");
        }
        out
    }
}

/// The seeds to run: `POLC_FUZZ_SEED=S` alone, else `0..POLC_FUZZ_CASES` (default
/// `default_cases`).
pub fn seeds(default_cases: u64) -> Vec<u64> {
    if let Ok(s) = std::env::var("POLC_FUZZ_SEED") {
        let seed = s.trim().parse().expect("POLC_FUZZ_SEED is a number");
        return vec![seed];
    }
    let cases = std::env::var("POLC_FUZZ_CASES")
        .ok()
        .map_or(default_cases, |c| {
            c.trim().parse().expect("POLC_FUZZ_CASES is a number")
        });
    (0..cases).collect()
}

/// Generate the scenario of `seed`.
pub fn scenario(seed: u64, knobs: &Knobs) -> Scenario {
    let mut g = Gen::new(seed, knobs.clone());
    g.namespaces();
    g.nodes();
    g.pods();
    g.host_network_pod();
    g.profiles();
    g.host_endpoints();
    g.tiers();
    g.network_sets();
    g.policies();
    g.felix();
    let broken = g.maybe_break();
    Scenario {
        seed,
        files: vec![
            ("inventory.yaml".into(), g.inventory),
            ("policies.yaml".into(), g.policy),
        ],
        ports: g.ports,
        dual_stack: g.family == Family::Dual,
        broken,
    }
}

/// The address families of a scenario's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
    Dual,
}

/// What later sections need to know of a node.
struct NodeInfo {
    name: String,
    addresses: Vec<String>,
}

/// Policy kinds, by how their names and namespaces are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Global,
    Namespaced,
    Kubernetes,
}

/// The generator's state while it writes one scenario.
struct Gen {
    rng: ChaCha8Rng,
    knobs: Knobs,
    family: Family,
    namespaces: Vec<&'static str>,
    nodes: Vec<NodeInfo>,
    /// (namespace, name) of every pod, and the IPs given so far.
    pods: Vec<(String, String)>,
    pod_ips: Vec<Vec<String>>,
    tiers: Vec<&'static str>,
    profiles: Vec<&'static str>,
    /// (kind, namespace, name) of every policy so far.
    policy_names: BTreeSet<(String, String, String)>,
    ports: BTreeSet<u16>,
    inventory: String,
    policy: String,
}

const NAMESPACES: &[&str] = &["prod", "dev", "ops"];
const POD_NAMES: &[&str] = &[
    "web.1", "web-1", "db", "api", "cache.a", "cache-a", "client",
];
const HEP_NAMES: &[&str] = &["h.1", "h-1", "edge", "gw.a", "gw-a", "n-eth0"];
const APPS: &[&str] = &["web", "db", "api", "open", "locked"];
const GNP_NAMES: &[&str] = &["allow.all", "allow-all", "web", "db.in", "db-in", "hosts"];
const NP_NAMES: &[&str] = &["x.y", "x-y", "np1", "front"];
const KNP_NAMES: &[&str] = &["k.p", "k-p", "deny-all", "allow-web"];
const NETS_V4: &[&str] = &[
    "10.1.0.0/16",
    "10.1.2.0/24",
    "10.1.2.0/24",
    "10.1.0.0/24",
    "10.1.2.128/25",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "10.1.1.5/32",
    "192.0.2.0/24",
    "203.0.113.0/24",
];
const NETS_V6: &[&str] = &[
    "fd00:10::/32",
    "fd00:10:2::/48",
    "fd00:10:2::/48",
    "fd00:10:1::/48",
    "fd00::/8",
    "::/0",
    "fd00:10:1::5/128",
    "fd00:2::/64",
    "fd00:ee::/64",
];
/// Destination port items: numbers, overlapping ranges, named ports.
const PORTS: &[&str] = &[
    "80",
    "443",
    "8080",
    "53",
    "22",
    "9090",
    "\"70:90\"",
    "\"85:100\"",
    "\"8000:8100\"",
    "\"1:1024\"",
    "http",
    "metrics",
    "dns",
];
/// Source port lists that never split the ephemeral range (32768-60999): the kernel
/// picks a client's source port there, the evaluator assumes 40000.
const SOURCE_PORTS: &[&str] = &["[80, \"70:90\"]", "[\"32768:65535\"]", "[\"1:1024\", 8080]"];

impl Gen {
    fn new(seed: u64, mut knobs: Knobs) -> Gen {
        knobs.host_stages = Some(knobs.host_stages.unwrap_or(!seed.is_multiple_of(4)));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let family = match rng.random_range(0..20) {
            0..=10 => Family::V4,
            11..=17 => Family::Dual,
            _ => Family::V6,
        };
        Gen {
            rng,
            knobs,
            family,
            namespaces: Vec::new(),
            nodes: Vec::new(),
            pods: Vec::new(),
            pod_ips: Vec::new(),
            tiers: Vec::new(),
            profiles: Vec::new(),
            policy_names: BTreeSet::new(),
            ports: BTreeSet::new(),
            inventory: String::new(),
            policy: String::new(),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        *xs.choose(&mut self.rng).expect("a non-empty choice")
    }

    fn count(&mut self, lo: usize, hi: usize) -> usize {
        self.rng.random_range(lo..=hi)
    }

    fn inv(&mut self, doc: &str) {
        self.inventory.push_str(doc);
        self.inventory.push_str("---\n");
    }

    fn pol(&mut self, doc: &str) {
        self.policy.push_str(doc);
        self.policy.push_str("---\n");
    }

    fn namespaces(&mut self) {
        let n = self.count(1, 3);
        self.namespaces = NAMESPACES[..n].to_vec();
        for ns in self.namespaces.clone() {
            let team = self.pick(&["blue", "red"]);
            let doc = format!(
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{env: {ns}, team: {team}}}\n"
            );
            self.inv(&doc);
        }
    }

    fn nodes(&mut self) {
        for i in 1..=self.count(1, 3) {
            let mut addresses = Vec::new();
            if self.family != Family::V6 {
                addresses.push(format!("192.0.2.{i}"));
            }
            if self.family != Family::V4 {
                addresses.push(format!("fd00:2::{i}"));
            }
            let list: Vec<String> = addresses
                .iter()
                .map(|a| format!("    - {{type: InternalIP, address: \"{a}\"}}\n"))
                .collect();
            let name = format!("n{i}");
            self.inv(&format!(
                "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\nstatus:\n  addresses:\n{}",
                list.concat()
            ));
            self.nodes.push(NodeInfo { name, addresses });
        }
    }

    /// Fresh addresses for a pod in this scenario's families (unique: polc rejects a
    /// repeated pod address, see `duplicate-address`).
    fn pod_addresses(&mut self) -> Vec<String> {
        loop {
            let ips = self.draw_addresses();
            let taken = self.pod_ips.iter().flatten().any(|ip| ips.contains(ip));
            if !taken {
                return ips;
            }
        }
    }

    fn draw_addresses(&mut self) -> Vec<String> {
        let (a, b) = (self.count(0, 2), self.count(1, 30));
        let v4 = format!("10.1.{a}.{b}");
        let v6 = format!("fd00:10:{a}::{b:x}");
        match self.family {
            Family::V4 => vec![v4],
            Family::V6 => vec![v6],
            Family::Dual => match self.count(0, 4) {
                0 | 1 => vec![v4],
                2 | 3 => vec![v4, v6],
                _ => vec![v6],
            },
        }
    }

    fn pods(&mut self) {
        let want = self.count(2, 6);
        let mut tries = 0;
        while self.pods.len() < want && tries < 50 {
            tries += 1;
            let ns = self.pick(&self.namespaces.clone()).to_string();
            let name = self.pick(POD_NAMES).to_string();
            if self.pods.contains(&(ns.clone(), name.clone())) {
                continue;
            }
            self.pod(&ns, &name);
            // The twin whose name sanitises the same way, in the same namespace.
            let twin = twin_name(&name);
            if self.pods.len() < want
                && self.chance(0.3)
                && !self.pods.contains(&(ns.clone(), twin.clone()))
                && twin != name
            {
                self.pod(&ns, &twin);
            }
        }
    }

    /// Now and then a host-network pod: it is its node as far as policy goes.
    fn host_network_pod(&mut self) {
        if !self.chance(0.15) {
            return;
        }
        let node = self.rng.random_range(0..self.nodes.len());
        let (name, ip) = (
            self.nodes[node].name.clone(),
            self.nodes[node].addresses[0].clone(),
        );
        let ns = self.namespaces[0];
        let app = self.pick(APPS);
        self.inv(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: agent, namespace: {ns}, labels: {{app: {app}}}}}\n\
             spec: {{nodeName: {name}, hostNetwork: true}}\nstatus: {{podIP: \"{ip}\"}}\n"
        ));
    }

    fn pod(&mut self, ns: &str, name: &str) {
        let node = self.rng.random_range(0..self.nodes.len());
        let node = self.nodes[node].name.clone();
        let app = self.pick(APPS);
        let mut labels = format!("app: {app}");
        if self.chance(0.5) {
            let tier = self.pick(&["front", "back"]);
            let _ = write!(labels, ", tier: {tier}");
        }
        if self.chance(0.3) {
            let v = self.pick(&["v1.2", "v2.0"]);
            let _ = write!(labels, ", version: \"{v}\"");
        }
        if self.chance(0.2) {
            let owner = self.pick(&["team-a", "team-b"]);
            let _ = write!(labels, ", example.com/owner: {owner}");
        }
        let account = if self.chance(0.5) {
            format!("  serviceAccountName: {}\n", self.pick(&["api", "web"]))
        } else {
            String::new()
        };
        let ips = self.pod_addresses();
        let ip_list: Vec<String> = ips.iter().map(|ip| format!("{{ip: \"{ip}\"}}")).collect();
        let ports = self.container_ports();
        self.inv(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\n\
             spec:\n  nodeName: {node}\n{account}  containers:\n    - name: main\n{ports}\
             status:\n  podIP: \"{}\"\n  podIPs: [{}]\n",
            ips[0],
            ip_list.join(", ")
        ));
        self.pods.push((ns.to_string(), name.to_string()));
        self.pod_ips.push(ips);
    }

    /// Named container ports: `http` on 80 or 8080 (so one name means different
    /// ports on different pods), `metrics` on 9090, `dns` on UDP 53.
    fn container_ports(&mut self) -> String {
        let mut items = Vec::new();
        if self.chance(0.5) {
            let p = self.pick(&[80u16, 8080]);
            self.ports.insert(p);
            items.push(format!("{{name: http, containerPort: {p}}}"));
        }
        if self.chance(0.3) {
            self.ports.insert(9090);
            items.push("{name: metrics, containerPort: 9090, protocol: TCP}".into());
        }
        if self.chance(0.2) {
            self.ports.insert(53);
            items.push("{name: dns, containerPort: 53, protocol: UDP}".into());
        }
        if items.is_empty() {
            return String::new();
        }
        format!("      ports: [{}]\n", items.join(", "))
    }

    /// 0-2 Profiles for host endpoints (`edge.p`, and its twin `edge-p`), with rules
    /// and labels to apply.
    fn profiles(&mut self) {
        for name in ["edge.p", "edge-p"].into_iter().take(self.count(0, 2)) {
            let zone = self.pick(&["dmz", "core"]);
            let mut doc = format!(
                "apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {{name: {name}}}\nspec:\n  labelsToApply: {{zone: {zone}}}\n"
            );
            for key in ["ingress", "egress"] {
                let n = self.count(0, 2);
                if n > 0 {
                    let _ = writeln!(doc, "  {key}:");
                }
                for _ in 0..n {
                    let rule = self.calico_rule(true);
                    let _ = writeln!(doc, "    - {rule}");
                }
            }
            self.pol(&doc);
            self.profiles.push(name);
        }
    }

    /// 0-2 host endpoints per node; a node's second is the first's twin when it can be.
    fn host_endpoints(&mut self) {
        let mut free: Vec<String> = HEP_NAMES.iter().map(|n| n.to_string()).collect();
        for i in 0..self.nodes.len() {
            let n = match self.count(0, 19) {
                0..=5 => 0,
                6..=16 => 1,
                _ => 2,
            };
            let mut last: Option<String> = None;
            for _ in 0..n {
                let twin = last.as_deref().map(twin_name);
                let name = match twin {
                    Some(t) if free.contains(&t) && self.chance(0.6) => t,
                    _ if free.is_empty() => break,
                    _ => free[self.rng.random_range(0..free.len())].clone(),
                };
                free.retain(|x| *x != name);
                self.host_endpoint(i, &name);
                last = Some(name);
            }
        }
    }

    fn host_endpoint(&mut self, node: usize, name: &str) {
        let info = &self.nodes[node];
        let (node_name, addrs) = (info.name.clone(), info.addresses.clone());
        let quoted: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
        let expected = format!("expectedIPs: [{}]", quoted.join(", "));
        let spec = match self.count(0, 9) {
            0..=3 => {
                if self.chance(0.5) {
                    format!("interfaceName: eth0, {expected}")
                } else {
                    "interfaceName: eth0".to_string()
                }
            }
            4..=6 => {
                if self.chance(0.5) {
                    format!("interfaceName: \"*\", {expected}")
                } else {
                    "interfaceName: \"*\"".to_string()
                }
            }
            _ => expected,
        };
        let role = self.pick(&["node", "edge"]);
        let mut names: Vec<&str> = self
            .profiles
            .clone()
            .into_iter()
            .filter(|_| self.chance(0.6))
            .collect();
        if self.chance(0.25) {
            names.push("projectcalico-default-allow");
        }
        let mut profiles = if names.is_empty() {
            String::new()
        } else {
            format!(", profiles: [{}]", names.join(", "))
        };
        if self.chance(0.2) {
            self.ports.insert(8080);
            profiles.push_str(", ports: [{name: http, port: 8080, protocol: TCP}]");
        }
        self.inv(&format!(
            "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: {name}\n  labels: {{role: {role}}}\n\
             spec: {{node: {node_name}, {spec}{profiles}}}\n"
        ));
    }

    fn tiers(&mut self) {
        let n = self.count(0, 2);
        for name in ["security", "platform"].into_iter().take(n) {
            // 1000000 ties with the default tier: the name decides.
            let order = self.pick(&["10", "20", "20", "100.5", "1000000"]);
            let action = self.pick(&["Deny", "Pass"]);
            let order_line = if self.chance(0.85) {
                format!("  order: {order}\n")
            } else {
                String::new()
            };
            self.pol(&format!(
                "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {{name: {name}}}\nspec:\n{order_line}  defaultAction: {action}\n"
            ));
            self.tiers.push(name);
        }
    }

    fn network_sets(&mut self) {
        for i in 0..self.count(0, 2) {
            let family = self.any_family();
            let nets = self.net_list(family, false);
            let set = self.pick(&["a", "b"]);
            if self.chance(0.5) {
                let name = ["ext.a", "ext-a"][i];
                self.pol(&format!(
                    "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: {name}\n  labels: {{netset: {set}}}\nspec:\n  nets: {nets}\n"
                ));
            } else {
                let ns = self.pick(&self.namespaces.clone());
                let name = ["near.a", "near-a"][i];
                self.pol(&format!(
                    "apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{netset: {set}}}\nspec:\n  nets: {nets}\n"
                ));
            }
        }
    }

    /// The family a rule's CIDRs are drawn from.
    fn any_family(&mut self) -> Family {
        match self.family {
            Family::Dual => self.pick(&[Family::V4, Family::V6]),
            f => f,
        }
    }

    /// A flow list of 1-3 CIDRs of one family, drawn with repetition; `/0` left out
    /// when `no_default` (Calico rejects it in `notNets`).
    fn net_list(&mut self, family: Family, no_default: bool) -> String {
        let pool = if family == Family::V6 {
            NETS_V6
        } else {
            NETS_V4
        };
        let pool: Vec<&str> = pool
            .iter()
            .copied()
            .filter(|n| !(no_default && n.ends_with("/0")))
            .collect();
        let items: Vec<String> = (0..self.count(1, 3))
            .map(|_| format!("\"{}\"", self.pick(&pool)))
            .collect();
        format!("[{}]", items.join(", "))
    }

    fn policies(&mut self) {
        let want = self.count(1, 6);
        for _ in 0..want {
            let kind = match self.count(0, 9) {
                0..=5 => Kind::Global,
                6..=7 => Kind::Namespaced,
                _ => Kind::Kubernetes,
            };
            let Some((ns, name)) = self.policy_name(kind) else {
                continue;
            };
            self.policy_doc(kind, &ns, &name);
            let twin = twin_name(&name);
            if twin != name && self.chance(0.4) && self.claim(kind, &ns, &twin) {
                self.policy_doc(kind, &ns, &twin);
            }
        }
        self.admin_policies();
    }

    /// Now and then, AdminNetworkPolicies (names that collide once sanitised, equal
    /// priorities now and then) and a BaselineAdminNetworkPolicy: Allow, Deny and Pass
    /// over namespace, pod and networks peers, number, range and named ports, and, rarely, a
    /// `nodes` peer (which Calico's converter fails closed on).
    fn admin_policies(&mut self) {
        if self.chance(0.35) {
            let names = ["admin.gate", "admin-gate", "quarantine"];
            for _ in 0..self.count(1, 2) {
                let name = self.pick(&names);
                if !self.claim(Kind::Global, "anp", name) {
                    continue;
                }
                let priority = self.pick(&[0u32, 5, 10, 10, 1000]);
                let doc = self.admin_doc("AdminNetworkPolicy", name, Some(priority));
                self.pol(&doc);
            }
        }
        if self.chance(0.25) {
            let doc = self.admin_doc("BaselineAdminNetworkPolicy", "default", None);
            self.pol(&doc);
        }
    }

    fn admin_doc(&mut self, kind: &str, name: &str, priority: Option<u32>) -> String {
        let mut doc = format!(
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
        );
        if let Some(p) = priority {
            let _ = writeln!(doc, "  priority: {p}");
        }
        let subject = if self.chance(0.5) {
            format!("{{namespaces: {}}}", self.namespace_label_selector())
        } else {
            format!(
                "{{pods: {{namespaceSelector: {}, podSelector: {}}}}}",
                self.namespace_label_selector(),
                self.label_selector()
            )
        };
        let _ = writeln!(doc, "  subject: {subject}");
        let actions: &[&str] = if priority.is_some() {
            &["Allow", "Deny", "Pass"]
        } else {
            &["Allow", "Deny"]
        };
        for (key, peer_key, ingress) in [("ingress", "from", true), ("egress", "to", false)] {
            let n = self.count(0, 3);
            if n == 0 {
                continue;
            }
            let _ = writeln!(doc, "  {key}:");
            for i in 0..n {
                let action = self.pick(actions);
                doc.push_str(&self.admin_rule(i, action, peer_key, ingress));
            }
        }
        doc
    }

    fn admin_rule(&mut self, i: usize, action: &str, peer_key: &str, ingress: bool) -> String {
        let mut peers = Vec::new();
        let mut pods_only = true;
        for _ in 0..self.count(1, 2) {
            let pick = if ingress {
                self.count(0, 1)
            } else {
                self.count(0, 4)
            };
            peers.push(match pick {
                0 => format!("{{namespaces: {}}}", self.namespace_label_selector()),
                1 => format!(
                    "{{pods: {{namespaceSelector: {}, podSelector: {}}}}}",
                    self.namespace_label_selector(),
                    self.label_selector()
                ),
                2 | 3 => {
                    pods_only = false;
                    let family = self.any_family();
                    format!("{{networks: {}}}", self.net_list(family, false))
                }
                _ if self.chance(0.3) => {
                    pods_only = false;
                    "{nodes: {matchLabels: {kubernetes.io/os: linux}}}".to_string()
                }
                _ => format!("{{namespaces: {}}}", self.namespace_label_selector()),
            });
        }
        let mut fields = vec![
            format!("name: r{i}.{}", action.to_lowercase()),
            format!("action: {action}"),
            format!("{peer_key}: [{}]", peers.join(", ")),
        ];
        if self.chance(0.6) {
            let ports: Vec<String> = (0..self.count(1, 2))
                .map(|_| self.admin_port(pods_only))
                .collect();
            fields.push(format!("ports: [{}]", ports.join(", ")));
        }
        format!("    - {{{}}}\n", fields.join(", "))
    }

    fn admin_port(&mut self, named_ok: bool) -> String {
        match self.count(0, 4) {
            0 | 1 => {
                let p = self.pick(&[80u16, 443, 8080]);
                self.ports.insert(p);
                format!("{{portNumber: {{protocol: TCP, port: {p}}}}}")
            }
            2 => {
                self.ports.insert(53);
                "{portNumber: {protocol: UDP, port: 53}}".into()
            }
            3 => {
                self.ports.extend([8000, 8050, 8100]);
                "{portRange: {start: 8000, end: 8100}}".into()
            }
            _ if named_ok => format!("{{namedPort: {}}}", self.pick(&["http", "metrics", "dns"])),
            _ => "{portNumber: {port: 9090}}".into(),
        }
    }

    fn policy_doc(&mut self, kind: Kind, ns: &str, name: &str) {
        match kind {
            Kind::Kubernetes => self.k8s_policy(ns, name),
            _ => self.calico_policy(kind, ns, name),
        }
    }

    /// Record a policy name; false when it is taken.
    fn claim(&mut self, kind: Kind, ns: &str, name: &str) -> bool {
        self.policy_names
            .insert((format!("{kind:?}"), ns.to_string(), name.to_string()))
    }

    fn policy_name(&mut self, kind: Kind) -> Option<(String, String)> {
        let pool = match kind {
            Kind::Global => GNP_NAMES,
            Kind::Namespaced => NP_NAMES,
            Kind::Kubernetes => KNP_NAMES,
        };
        for _ in 0..10 {
            let ns = if kind == Kind::Global {
                String::new()
            } else {
                self.pick(&self.namespaces.clone()).to_string()
            };
            let name = self.pick(pool);
            if self.claim(kind, &ns, name) {
                return Some((ns, name.to_string()));
            }
        }
        None
    }

    fn calico_policy(&mut self, kind: Kind, ns: &str, name: &str) {
        let global = kind == Kind::Global;
        let mut doc = String::from("apiVersion: projectcalico.org/v3\n");
        // Staged policies are never enforced: they must leave no chain behind.
        let staged = if self.chance(0.08) { "Staged" } else { "" };
        if global {
            let _ = write!(
                doc,
                "kind: {staged}GlobalNetworkPolicy\nmetadata:\n  name: {name}\n"
            );
        } else {
            let _ = write!(
                doc,
                "kind: {staged}NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
            );
        }
        doc.push_str("spec:\n");
        if !self.tiers.is_empty() && self.chance(0.6) {
            let tier = self.pick(&self.tiers.clone());
            let _ = writeln!(doc, "  tier: {tier}");
        }
        if self.chance(0.7) {
            let order = self.pick(&["10", "100", "100", "250.5", "1000"]);
            let _ = writeln!(doc, "  order: {order}");
        }
        let sel = self.selector(2, false);
        let _ = writeln!(doc, "  selector: \"{sel}\"");
        if global && self.chance(0.15) {
            let ns_sel = self.namespace_selector(false);
            let _ = writeln!(doc, "  namespaceSelector: \"{ns_sel}\"");
        }
        if global && self.knobs.host_stages == Some(true) {
            doc.push_str(&self.host_stage_flags());
        }
        let pre_dnat = doc.contains("preDNAT: true");
        let (ni, ne) = (
            self.count(0, 3),
            if pre_dnat { 0 } else { self.count(0, 3) },
        );
        let types = match (ni > 0, ne > 0) {
            _ if pre_dnat => "[Ingress]",
            (true, true) => "[Ingress, Egress]",
            (true, false) => "[Ingress]",
            (false, true) => "[Egress]",
            (false, false) => self.pick(&["[Ingress]", "[Egress]", "[Ingress, Egress]"]),
        };
        if self.chance(0.5) || (ni == 0 && ne == 0) {
            let _ = writeln!(doc, "  types: {types}");
        }
        for (key, n) in [("ingress", ni), ("egress", ne)] {
            if n > 0 {
                let _ = writeln!(doc, "  {key}:");
                for _ in 0..n {
                    let rule = self.calico_rule(global);
                    let _ = writeln!(doc, "    - {rule}");
                }
            }
        }
        self.pol(&doc);
    }

    /// `doNotTrack`/`preDNAT`/`applyOnForward` flags of a global policy, valid
    /// together (see [`Knobs::host_stages`]).
    fn host_stage_flags(&mut self) -> String {
        match self.count(0, 9) {
            0 => "  doNotTrack: true\n  applyOnForward: true\n".into(),
            1 => "  preDNAT: true\n  applyOnForward: true\n".into(),
            2..=3 => "  applyOnForward: true\n".into(),
            _ => String::new(),
        }
    }

    /// One Calico rule as a YAML flow mapping.
    fn calico_rule(&mut self, global: bool) -> String {
        let action = self.pick(&[
            "Allow", "Allow", "Allow", "Allow", "Deny", "Deny", "Deny", "Pass", "Log",
        ]);
        let mut parts = vec![format!("action: {action}")];
        let protocol = self.pick(&[
            None,
            None,
            Some("TCP"),
            Some("TCP"),
            Some("TCP"),
            Some("UDP"),
            Some("ICMP"),
            Some("ICMPv6"),
        ]);
        // A rule's CIDRs share one family, which ICMP names fix.
        let mut family = self.any_family();
        if let Some(p) = protocol {
            parts.push(format!("protocol: {p}"));
            if p == "ICMP" {
                family = Family::V4;
            } else if p == "ICMPv6" {
                family = Family::V6;
            }
        } else if self.chance(0.1) {
            let not = self.pick(&["TCP", "UDP", "ICMP", "ICMPv6"]);
            parts.push(format!("notProtocol: {not}"));
            // ICMP needs ipVersion 4, ICMPv6 6, in `notProtocol` too.
            if not.starts_with("ICMP") {
                family = if not == "ICMP" {
                    Family::V4
                } else {
                    Family::V6
                };
            }
        }
        if protocol.is_some_and(|p| p.starts_with("ICMP")) {
            parts.extend(self.icmp_parts(protocol == Some("ICMP")));
        } else if protocol.is_none() && self.chance(0.1) && self.family == Family::Dual {
            parts.push(format!(
                "ipVersion: {}",
                if family == Family::V4 { 4 } else { 6 }
            ));
        }
        let ports = protocol.is_some_and(|p| p == "TCP" || p == "UDP");
        for (key, dest) in [("source", false), ("destination", true)] {
            let entity = self.entity(global, family, ports, dest);
            if !entity.is_empty() {
                parts.push(format!("{key}: {{{}}}", entity.join(", ")));
            }
        }
        format!("{{{}}}", parts.join(", "))
    }

    /// `icmp`/`notICMP` of an ICMP rule: echo request with or without its code,
    /// destination unreachable, echo reply.
    fn icmp_parts(&mut self, v4: bool) -> Vec<String> {
        let (echo, reply, unreach) = if v4 { (8, 0, 3) } else { (128, 129, 1) };
        let mut out = Vec::new();
        let field = |t: u8, code: bool| {
            if code {
                format!("{{type: {t}, code: 0}}")
            } else {
                format!("{{type: {t}}}")
            }
        };
        if self.chance(0.4) {
            let t = self.pick(&[echo, echo, reply, unreach]);
            let code = self.chance(0.5);
            out.push(format!("icmp: {}", field(t, code)));
        }
        if self.chance(0.35) {
            let t = self.pick(&[echo, echo, unreach]);
            let code = self.chance(0.6);
            out.push(format!("notICMP: {}", field(t, code)));
        }
        out
    }

    /// The fields of a rule's source or destination.
    fn entity(&mut self, global: bool, family: Family, ports: bool, dest: bool) -> Vec<String> {
        let mut out = Vec::new();
        if ports && dest && self.chance(0.12) {
            // Addresses selected through the network sets holding them, with the
            // named ports of the pods there (seed 274 of an earlier generator).
            out.push(format!(
                "selector: \"{}\"",
                self.pick(&["has(netset)", "netset == 'a'"])
            ));
            out.push(format!(
                "ports: [{}]",
                self.pick(&["http", "http, 443", "metrics"])
            ));
            self.ports.extend([80, 443, 8080, 9090]);
            return out;
        }
        if self.chance(0.3) {
            out.push(format!("selector: \"{}\"", self.selector(2, true)));
        }
        if self.chance(0.08) {
            out.push(format!("notSelector: \"{}\"", self.selector(1, true)));
        }
        if self.chance(0.12) {
            out.push(format!(
                "namespaceSelector: \"{}\"",
                self.namespace_selector(true)
            ));
        }
        if self.chance(0.06) {
            out.push(format!(
                "serviceAccounts: {{names: [{}]}}",
                self.pick(&["api", "web"])
            ));
        }
        if self.chance(0.25) {
            out.push(format!("nets: {}", self.net_list(family, false)));
        }
        if self.chance(0.1) {
            out.push(format!("notNets: {}", self.net_list(family, true)));
        }
        if ports && dest && self.chance(0.6) {
            out.push(format!("ports: {}", self.port_list()));
        }
        if ports && dest && self.chance(0.15) {
            out.push(format!("notPorts: {}", self.port_list()));
        }
        if ports && !dest && self.chance(0.1) {
            let key = self.pick(&["ports", "notPorts"]);
            out.push(format!("{key}: {}", self.pick(SOURCE_PORTS)));
        }
        let _ = global;
        out
    }

    /// 1-3 destination port items (numbers, ranges, names), noting every number
    /// worth a probe: the ports, both ends of ranges and a port inside.
    fn port_list(&mut self) -> String {
        let items: Vec<&str> = (0..self.count(1, 3)).map(|_| self.pick(PORTS)).collect();
        for item in &items {
            let t = item.trim_matches('"');
            if let Some((lo, hi)) = t.split_once(':') {
                let (lo, hi): (u16, u16) = (lo.parse().unwrap(), hi.parse().unwrap());
                self.ports.extend([lo, hi, lo + (hi - lo) / 3]);
            } else if let Ok(p) = t.parse() {
                self.ports.insert(p);
            }
        }
        format!("[{}]", items.join(", "))
    }

    /// A Calico selector over endpoint labels, nesting up to `depth`; in rules, also
    /// over network-set labels.
    fn selector(&mut self, depth: u32, in_rule: bool) -> String {
        if depth == 0 || self.chance(0.55) {
            return self.selector_atom(in_rule);
        }
        let (a, b) = (
            self.selector(depth - 1, in_rule),
            self.selector(depth - 1, in_rule),
        );
        match self.count(0, 2) {
            0 => format!("({a} && {b})"),
            1 => format!("({a} || {b})"),
            _ => format!("!({a})"),
        }
    }

    fn selector_atom(&mut self, in_rule: bool) -> String {
        let app = self.pick(APPS);
        let other = self.pick(APPS);
        let n = if in_rule { 13 } else { 11 };
        match self.count(0, n) {
            0 => format!("app == '{app}'"),
            1 => format!("app != '{app}'"),
            2 => format!("app in {{'{app}', '{other}'}}"),
            3 => format!("app not in {{'{app}'}}"),
            4 => "has(tier)".into(),
            5 => "!has(tier)".into(),
            6 => format!("app contains '{}'", &app[1..2]),
            7 => format!("app starts with '{}'", &app[..2]),
            8 => format!("app ends with '{}'", &app[app.len() - 2..]),
            9 => "all()".into(),
            10 if self.chance(0.2) => format!("zone == '{}'", self.pick(&["dmz", "core"])),
            10 => format!("role == '{}'", self.pick(&["node", "edge"])),
            11 if self.chance(0.3) => "has(example.com/owner)".into(),
            11 if self.chance(0.5) => "example.com/owner == 'team-a'".into(),
            11 => "version starts with 'v1'".into(),
            12 => format!("netset == '{}'", self.pick(&["a", "b"])),
            _ => "has(netset)".into(),
        }
    }

    /// A selector over namespace labels; `global()` only where a rule may use it.
    fn namespace_selector(&mut self, in_rule: bool) -> String {
        let ns = self.pick(NAMESPACES);
        match self.count(0, if in_rule { 5 } else { 4 }) {
            0 => format!("env == '{ns}'"),
            1 => "has(team)".into(),
            2 => "team in {'blue'}".into(),
            3 => format!("env != '{ns}'"),
            4 => "all()".into(),
            _ => "global()".into(),
        }
    }

    fn k8s_policy(&mut self, ns: &str, name: &str) {
        let mut doc = format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector: {}\n",
            self.label_selector()
        );
        let (ni, ne) = (self.count(0, 2), self.count(0, 2));
        let explicit = self.chance(0.5) || ne == 0 && ni == 0;
        if explicit {
            let types = self.pick(&["[Ingress]", "[Egress]", "[Ingress, Egress]"]);
            let _ = writeln!(doc, "  policyTypes: {types}");
        }
        for (key, peer_key, n) in [("ingress", "from", ni), ("egress", "to", ne)] {
            if n == 0 {
                continue;
            }
            let _ = writeln!(doc, "  {key}:");
            for _ in 0..n {
                doc.push_str(&self.k8s_rule(peer_key));
            }
        }
        self.pol(&doc);
    }

    fn k8s_rule(&mut self, peer_key: &str) -> String {
        let mut fields = Vec::new();
        if self.chance(0.75) {
            let peers: Vec<String> = (0..self.count(1, 2)).map(|_| self.k8s_peer()).collect();
            fields.push(format!("{peer_key}: [{}]", peers.join(", ")));
        }
        if self.chance(0.6) {
            let ports: Vec<String> = (0..self.count(1, 2)).map(|_| self.k8s_port()).collect();
            fields.push(format!("ports: [{}]", ports.join(", ")));
        }
        format!("    - {{{}}}\n", fields.join(", "))
    }

    fn k8s_peer(&mut self) -> String {
        match self.count(0, 4) {
            0 => format!("{{podSelector: {}}}", self.label_selector()),
            1 => format!("{{namespaceSelector: {}}}", self.namespace_label_selector()),
            2 => format!(
                "{{podSelector: {}, namespaceSelector: {}}}",
                self.label_selector(),
                self.namespace_label_selector()
            ),
            _ => self.ip_block(),
        }
    }

    /// An ipBlock whose excepts lie inside its cidr, overlapping each other now and
    /// then.
    fn ip_block(&mut self) -> String {
        let v6 = self.any_family() == Family::V6;
        let (cidr, excepts): (&str, &[&str]) = if v6 {
            self.pick(&[
                ("::/0", &["fd00:10::/32", "fd00:10:2::/48"][..]),
                (
                    "fd00:10::/32",
                    &["fd00:10:2::/48", "fd00:10:2::/48", "fd00:10:1::5/128"][..],
                ),
            ])
        } else {
            self.pick(&[
                ("10.1.0.0/16", &["10.1.2.0/24", "10.1.2.128/25"][..]),
                (
                    "0.0.0.0/0",
                    &["10.1.0.0/16", "10.1.2.0/24", "192.0.2.0/24"][..],
                ),
                ("10.0.0.0/8", &["10.1.1.5/32", "10.1.0.0/24"][..]),
            ])
        };
        let chosen: Vec<String> = excepts
            .iter()
            .filter(|_| self.chance(0.6))
            .map(|e| format!("\"{e}\""))
            .collect();
        if chosen.is_empty() {
            format!("{{ipBlock: {{cidr: \"{cidr}\"}}}}")
        } else {
            format!(
                "{{ipBlock: {{cidr: \"{cidr}\", except: [{}]}}}}",
                chosen.join(", ")
            )
        }
    }

    fn k8s_port(&mut self) -> String {
        match self.count(0, 6) {
            0 | 1 => {
                let p = self.pick(&[80u16, 443, 8080, 9090]);
                self.ports.insert(p);
                format!("{{protocol: TCP, port: {p}}}")
            }
            2 => {
                self.ports.insert(53);
                "{protocol: UDP, port: 53}".into()
            }
            3 => format!("{{port: {}}}", self.pick(&["http", "metrics"])),
            4 => "{protocol: UDP, port: dns}".into(),
            5 => {
                self.ports.extend([8000, 8050, 8100]);
                "{protocol: TCP, port: 8000, endPort: 8100}".into()
            }
            _ => {
                self.ports.insert(80);
                "{port: 80}".into()
            }
        }
    }

    /// A Kubernetes label selector over pod labels (`{}` selects all).
    fn label_selector(&mut self) -> String {
        let app = self.pick(APPS);
        match self.count(0, 5) {
            0 => "{}".into(),
            1 | 2 => format!("{{matchLabels: {{app: {app}}}}}"),
            3 => format!(
                "{{matchExpressions: [{{key: app, operator: In, values: [{app}, {}]}}]}}",
                self.pick(APPS)
            ),
            4 => format!(
                "{{matchExpressions: [{{key: app, operator: NotIn, values: [{app}]}}, {{key: tier, operator: Exists}}]}}"
            ),
            _ => "{matchExpressions: [{key: tier, operator: DoesNotExist}]}".into(),
        }
    }

    fn namespace_label_selector(&mut self) -> String {
        let ns = self.pick(NAMESPACES);
        match self.count(0, 3) {
            0 => "{}".into(),
            1 => format!("{{matchLabels: {{env: {ns}}}}}"),
            2 => "{matchExpressions: [{key: team, operator: In, values: [blue]}]}".into(),
            _ => format!("{{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}"),
        }
    }

    /// Now and then, a FelixConfiguration: what pods may send their host, failsafe
    /// ports (one limited to a net), VXLAN from pods, host tunnels (VXLAN and
    /// WireGuard, probed on their ports), the INVALID check.
    fn felix(&mut self) {
        // IPPools enable VXLAN (per family) where FelixConfiguration does not say.
        if self.chance(0.15) {
            self.ports.insert(4789);
            let (cidr, mode) = self.pick(&[
                ("10.244.0.0/16", "vxlanMode: Always"),
                ("10.244.0.0/16", "vxlanMode: Never"),
                ("fd00:244::/64", "vxlanMode: CrossSubnet"),
            ]);
            self.pol(&format!(
                "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {{name: pool}}\nspec: {{cidr: \"{cidr}\", {mode}}}\n"
            ));
        }
        if !self.chance(0.2) {
            return;
        }
        let mut spec = String::new();
        if self.chance(0.7) {
            let action = self.pick(&["Drop", "Accept"]);
            let _ = writeln!(spec, "  defaultEndpointToHostAction: {action}");
        }
        if self.chance(0.4) {
            self.ports.extend([22, 8080]);
            spec.push_str(
                "  failsafeInboundHostPorts: [{protocol: tcp, port: 22}, {protocol: tcp, port: 8080, net: \"192.0.2.0/24\"}]\n",
            );
        }
        if self.chance(0.3) {
            self.ports.insert(443);
            spec.push_str("  failsafeOutboundHostPorts: [{protocol: tcp, port: 443}]\n");
        }
        // The settings around policy: encapsulation from pods, host tunnels,
        // conntrack INVALID.
        if self.chance(0.3) {
            self.ports.insert(4789);
            let allow = self.pick(&["true", "false"]);
            let _ = writeln!(spec, "  allowVXLANPacketsFromWorkloads: {allow}");
        }
        if self.chance(0.3) {
            self.ports.extend([4789, 51820]);
            let (v, w) = (self.pick(&["true", "false"]), self.pick(&["true", "false"]));
            let _ = writeln!(spec, "  vxlanEnabled: {v}\n  wireguardEnabled: {w}");
        }
        if self.chance(0.2) {
            spec.push_str("  disableConntrackInvalidCheck: true\n");
        }
        if spec.is_empty() {
            spec.push_str("  defaultEndpointToHostAction: Accept\n");
        }
        self.pol(&format!(
            "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {{name: default}}\nspec:\n{spec}"
        ));
    }

    /// With probability [`Knobs::invalid`], one deliberate error: a pod with another
    /// pod's address (on the same node or another), or a policy with a bad value.
    fn maybe_break(&mut self) -> Option<&'static str> {
        if !self.chance(self.knobs.invalid) {
            return None;
        }
        if self.chance(0.3) {
            let ips = self.pod_ips[self.rng.random_range(0..self.pod_ips.len())].clone();
            self.pod_ips.push(ips.clone());
            let node = self.nodes[self.rng.random_range(0..self.nodes.len())]
                .name
                .clone();
            let list: Vec<String> = ips.iter().map(|ip| format!("{{ip: \"{ip}\"}}")).collect();
            self.inv(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: copy, namespace: {}}}\nspec: {{nodeName: {node}}}\nstatus: {{podIPs: [{}]}}\n",
                self.namespaces[0],
                list.join(", ")
            ));
            return Some("duplicate pod address");
        }
        let (what, rule) = self.pick(&[
            (
                "reversed port range",
                "{action: Allow, protocol: TCP, destination: {ports: [\"90:70\"]}}",
            ),
            (
                "CIDR with host bits",
                "{action: Allow, source: {nets: [\"10.1.2.1/24\"]}}",
            ),
            ("action in the wrong case", "{action: allow}"),
            (
                "ports without a protocol",
                "{action: Deny, destination: {ports: [80]}}",
            ),
            (
                "notNets with 0.0.0.0/0",
                "{action: Deny, source: {notNets: [\"0.0.0.0/0\"]}}",
            ),
            (
                "unclosed selector",
                "{action: Allow, source: {selector: \"app == 'web\"}}",
            ),
        ]);
        self.pol(&format!(
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: broken\nspec:\n  selector: all()\n  ingress:\n    - {rule}\n"
        ));
        Some(what)
    }
}

/// The name that sanitises like `name` (`.` and `-` swapped), or `name` itself.
fn twin_name(name: &str) -> String {
    if name.contains('.') {
        name.replace('.', "-")
    } else if let Some(i) = name.rfind('-') {
        format!("{}.{}", &name[..i], &name[i + 1..])
    } else {
        name.to_string()
    }
}
