//! `polc graph`: the golden DOT of `examples/three-tiers` (`POLC_BLESS=1` refreshes
//! it), the structure it encodes (tier order, Pass edges, node labels), the endpoint
//! view, and output that hostile names cannot break. When Graphviz's `dot` is
//! installed it must accept every output.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use petgraph::dot::dot_parser::{DotAttrList, DotNodeWeight, ParseFromDot};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

/// `polc graph ARGS` run from the project root: its standard output.
fn graph(args: &[&str]) -> String {
    let o = common::polc()
        .arg("graph")
        .args(args)
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The value of a DOT quoted string, unescaped (`\n` stays a line break).
fn unquote(s: &str) -> String {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(c) => out.push(c),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Check that `text` is valid DOT and return its nodes and edges without the cluster
/// lists that close it: petgraph's parser lets a bare mention of a node in a cluster
/// replace the node's attributes, where Graphviz adds the node to the cluster.
fn content(text: &str) -> String {
    let whole: Result<DiGraph<DotNodeWeight<'_>, DotAttrList<'_>>, _> =
        ParseFromDot::try_from(text);
    if let Err(e) = whole {
        panic!("not valid DOT: {e}\n{text}");
    }
    let cut = text
        .find("\n    subgraph ")
        .map_or(text.len() - 2, |i| i + 1);
    format!("{}}}\n", &text[..cut])
}

/// Nodes and edges of [`content`], parsed back by petgraph's parser.
struct Parsed<'a> {
    graph: DiGraph<DotNodeWeight<'a>, DotAttrList<'a>>,
}

impl<'a> Parsed<'a> {
    fn new(content: &'a str) -> Parsed<'a> {
        let graph = ParseFromDot::try_from(content)
            .unwrap_or_else(|e| panic!("not valid DOT: {e}\n{content}"));
        Parsed { graph }
    }

    fn attr(list: &DotAttrList<'a>, key: &str) -> Option<String> {
        list.elems
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| unquote(v))
    }

    fn label(&self, n: NodeIndex) -> String {
        Self::attr(&self.graph[n].attr, "label").unwrap_or_default()
    }

    /// The node whose label is `label`.
    fn node(&self, label: &str) -> NodeIndex {
        let found: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|&n| self.label(n) == label)
            .collect();
        assert_eq!(found.len(), 1, "one node labelled {label:?}");
        found[0]
    }

    /// The node whose label starts with `prefix`.
    fn node_starting(&self, prefix: &str) -> NodeIndex {
        let found: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|&n| self.label(n).starts_with(prefix))
            .collect();
        assert_eq!(found.len(), 1, "one node labelled {prefix:?}...");
        found[0]
    }

    /// Labels of the edges from `a` to `b`.
    fn edges(&self, a: NodeIndex, b: NodeIndex) -> Vec<String> {
        self.graph
            .edges_connecting(a, b)
            .map(|e| Self::attr(e.weight(), "label").unwrap_or_default())
            .collect()
    }

    /// Whether `a` has an edge to `b` labelled `label`.
    fn has_edge(&self, a: NodeIndex, b: NodeIndex, label: &str) -> bool {
        self.edges(a, b).iter().any(|l| l == label)
    }
}

/// If Graphviz is installed, `dot` must accept the text.
fn graphviz_accepts(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("skipped the Graphviz check: no `dot` binary on PATH");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "dot rejected the output: {}\n{text}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn three_tiers_matches_its_golden_dot() {
    let text = graph(&["examples/three-tiers"]);
    if let Err(d) =
        common::check_expected(&common::root().join("golden/three-tiers/graph.dot"), &text)
    {
        panic!("{d}");
    }
    graphviz_accepts(&text);
}

#[test]
fn three_tiers_has_tiers_in_order_with_their_pass_edges() {
    let text = graph(&["examples/three-tiers"]);
    let c = content(&text);
    let g = Parsed::new(&c);
    let start = g.node("start");
    let security = g.node("enter tier security\norder 10");
    let platform = g.node("enter tier platform\norder 20");
    let apps = g.node("enter tier apps\norder 30");
    let default = g.node_starting("enter tier default\n");
    let end = g.node("end of chain\nprofiles");
    assert_eq!(g.edges(start, security).len(), 1);
    // Tier order: an endpoint no policy of a tier selects skips to the next.
    assert!(g.has_edge(security, platform, "not selected"));
    assert!(g.has_edge(platform, apps, "not selected"));
    assert!(g.has_edge(apps, default, "not selected"));
    assert!(g.has_edge(default, end, "not selected"));
    // Within a tier: entry, policies in order, the default action.
    let gate = g.node(
        "GlobalNetworkPolicy/security-gate\norder none (last)\nexamples/three-tiers/policies.yaml:20",
    );
    let security_end = g.node("end of tier security\ndefaultAction Deny");
    assert!(g.has_edge(security, gate, "next"));
    assert!(g.has_edge(gate, security_end, "next"));
    // The Pass rule of security-gate and platform's default Pass.
    assert!(g.has_edge(gate, platform, "Pass: ingress rule 1"));
    let platform_end = g.node("end of tier platform\ndefaultAction Pass");
    assert!(g.has_edge(platform_end, apps, "default Pass"));
    // A Deny default ends the chain: no edge leaves it.
    assert_eq!(g.graph.edges(security_end).count(), 0);
    // applyOnForward shows on the node.
    g.node("GlobalNetworkPolicy/node-forward\norder none (last)\nexamples/three-tiers/policies.yaml:51\napplyOnForward");
    // One cluster per tier, in order.
    let clusters: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("subgraph cluster_"))
        .collect();
    assert_eq!(clusters.len(), 4, "{text}");
    for (c, tier) in clusters
        .iter()
        .zip(["security", "platform", "apps", "default"])
    {
        assert!(c.contains(&format!("label=\"tier {tier}\"")), "{c}");
    }
}

#[test]
fn an_endpoint_view_has_only_its_policies_per_direction() {
    let text = graph(&["examples/three-tiers", "--endpoint", "app/server"]);
    graphviz_accepts(&text);
    assert!(text.contains("label=\"ingress of app/server\""), "{text}");
    assert!(text.contains("label=\"egress of app/server\""), "{text}");
    assert!(!text.contains("node-forward"), "{text}");
    let c = content(&text);
    let g = Parsed::new(&c);
    // Egress: no policy, straight to the namespace profile.
    let starts: Vec<NodeIndex> = g
        .graph
        .node_indices()
        .filter(|&n| g.label(n) == "start")
        .collect();
    assert_eq!(starts.len(), 2);
    let profile = "end of chain\nnamespace profile (allows)";
    let egress_start = starts
        .iter()
        .copied()
        .find(|&s| g.graph.edges(s).any(|e| g.label(e.target()) == profile))
        .expect("egress goes straight to the profile");
    assert_eq!(g.graph.edges(egress_start).count(), 1);
    // Ingress: security, platform, apps; no `not selected` edges in an endpoint view.
    let platform = g.node("enter tier platform\norder 20");
    let gate = g.node_starting("GlobalNetworkPolicy/security-gate\n");
    assert!(g.has_edge(gate, platform, "Pass: ingress rule 1"));
    assert!(!text.contains("not selected"));

    // A host endpoint: failsafe ports first, its profiles at the end, forwarded stages.
    let text = graph(&["examples/three-tiers", "--endpoint", "host/n2-eth0"]);
    graphviz_accepts(&text);
    assert!(text.contains("failsafe ports accepted first"));
    assert!(text.contains("profiles projectcalico-default-allow"));
    assert!(text.contains("ingress of host/n2-eth0, forwarded (applyOnForward policy)"));
}

#[test]
fn unknown_endpoints_are_usage_errors() {
    let o = common::polc()
        .args(["graph", "examples/three-tiers", "--endpoint", "app/servr"])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `app/server`"));
}

#[test]
fn output_goes_to_a_file_with_out() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("g.dot");
    let o = common::polc()
        .args(["graph", "examples/three-tiers", "--out"])
        .arg(&file)
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        graph(&["examples/three-tiers"])
    );
}

#[test]
fn hostile_file_names_cannot_inject_dot() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "x\"]; 0 -> 1; } digraph pwn { \\\"\n\r{label=\\N}.yaml";
    let policies =
        std::fs::read_to_string(common::root().join("examples/three-tiers/policies.yaml")).unwrap();
    std::fs::write(tmp.path().join(name), policies).unwrap();
    std::fs::copy(
        common::root().join("examples/three-tiers/inventory.yaml"),
        tmp.path().join("inventory.yaml"),
    )
    .unwrap();
    let o = common::polc()
        .arg("graph")
        .arg(".")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let clean = graph(&["examples/three-tiers"]);
    // Same shape as the clean graph: nothing injected.
    assert_eq!(text.lines().count(), clean.lines().count(), "{text}");
    let (text_content, clean_content) = (content(&text), content(&clean));
    let (g, c) = (Parsed::new(&text_content), Parsed::new(&clean_content));
    assert_eq!(g.graph.node_count(), c.graph.node_count());
    assert_eq!(g.graph.edge_count(), c.graph.edge_count());
    let ids: BTreeMap<String, usize> = g
        .graph
        .node_indices()
        .map(|n| (g.graph[n].id.clone(), 0))
        .collect();
    assert!(
        ids.keys().all(|id| id.chars().all(|c| c.is_ascii_digit())),
        "{ids:?}"
    );
    // The name survives, visibly escaped.
    let gate = g.node_starting("GlobalNetworkPolicy/security-gate\n");
    let label = g.label(gate);
    assert!(
        label.contains("x\"]; 0 -> 1; } digraph pwn { \\\"\\u{a}\\u{d}{label=\\N}.yaml:20"),
        "{label}"
    );
    graphviz_accepts(&text);
    let _ = Path::new(name);
}
