//! Diff locality as a tested property: a typical edit of a policy repository changes
//! only the artifact lines of what was edited (and the sets it uses), so a reviewer
//! reading the artifact diff of a PR reads the change and nothing else.
//!
//! The base is `examples/three-tiers` plus two policies of tier `apps` whose rules
//! name pods by selector (so pods' addresses are in sets). Each edit is made to the
//! manifests' text, both trees are built with the CLI, and every artifact's line diff
//! (`similar`) is measured twice: as written, and with source locations cut out of
//! the rule comments. The difference is the rules of the edited file whose line moved:
//! a rule comment carries its `file:line:col` (that is how `polc explain` and a
//! reviewer go from bytes to manifest), so a rule below an inserted or removed line
//! changes in its comment only, and the test checks that every such line names the
//! edited file. The counts without locations are held to a bound derived from the
//! base artifact itself (the size of the chain a pod like the new one has, the jump
//! lines to a policy, ...), stated per edit below; the test prints every count.

mod common;

use std::collections::BTreeMap;

const EXTRA: &str = "\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: apps-a}
spec:
  tier: apps
  order: 100
  selector: role == 'server'
  ingress:
    - {action: Allow, protocol: TCP, source: {selector: role == 'server'}, destination: {ports: [9000]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: apps-b}
spec:
  tier: apps
  order: 200
  selector: role == 'server'
  ingress:
    - {action: Allow, protocol: TCP, source: {selector: role == 'client'}, destination: {ports: [9001]}}
";

/// The base repository: file name → text.
fn base() -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> =
        common::example_files("examples/three-tiers", |_, t| t)
            .into_iter()
            .collect();
    files.insert("extra.yaml".into(), EXTRA.into());
    files
}

/// Build `files` with the CLI: artifact path → text.
fn build(files: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for (name, text) in files {
        std::fs::write(input.join(name), text).unwrap();
    }
    let out = tmp.path().join("out");
    let o = common::polc()
        // Generated and edited policy may hold rules that never take effect: the
        // artifacts are what these tests compare.
        .args([
            "build",
            "--allow",
            "shadowed-rule",
            "--allow",
            "unreachable-rule",
        ])
        .args(["--target", "nft", "--out"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut tree = common::read_tree(&out);
    tree.remove("manifest.json");
    tree
}

/// The lines a line diff of `a` to `b` deletes or inserts.
fn changed_lines(a: &str, b: &str) -> Vec<String> {
    similar::TextDiff::from_lines(a, b)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| c.value().trim_end_matches('\n').to_string())
        .collect()
}

/// How many lines of `text` contain `needle`.
fn lines_with(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// The lines chain `name` takes in `text`: its comment line, the chain, the blank
/// line after it (0 when absent).
fn chain_lines(text: &str, name: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let head = format!("\tchain {name} {{");
    let Some(start) = lines.iter().position(|l| *l == head) else {
        return 0;
    };
    let end = start + lines[start..].iter().position(|l| *l == "\t}").unwrap();
    let comment = usize::from(start > 0 && lines[start - 1].starts_with("\t#"));
    comment + (end - start + 1) + 1
}

/// How many set and map element lines of `text` hold `addr` (as itself or inside
/// an aggregated net).
fn elements_holding(text: &str, addr: std::net::IpAddr) -> usize {
    text.lines()
        .filter_map(|l| l.strip_prefix("\t\t\t"))
        .filter_map(|l| l.split([' ', ',']).next())
        .filter(|first| {
            first.parse::<std::net::IpAddr>().is_ok_and(|a| a == addr)
                || first
                    .parse::<ipnet::IpNet>()
                    .is_ok_and(|n| n.contains(&addr))
        })
        .count()
}

/// One typical edit: its name, the file it edits, the edit, and the bound on each
/// artifact's changed lines (without locations), from the base artifact's text.
struct Edit {
    name: &'static str,
    file: &'static str,
    apply: fn(&str) -> String,
    bound: fn(&str) -> usize,
}

fn edits() -> Vec<Edit> {
    vec![
        Edit {
            // One Allow rule without addresses: one line in the policy's chain.
            name: "add a rule",
            file: "policies.yaml",
            apply: |t| {
                t.replace(
                    "    - {action: Allow, protocol: ICMP, icmp: {type: 8}}\n",
                    "    - {action: Allow, protocol: ICMP, icmp: {type: 8}}\n    - {action: Allow, protocol: UDP, destination: {ports: [53]}}\n",
                )
            },
            bound: |a| usize::from(a.contains("\tchain pol.gnp.security-gate.in {")),
        },
        Edit {
            // The policy's chain goes, each endpoint chain's jump to it, and the
            // entry of its tier, which no other policy fills.
            name: "remove a policy",
            file: "policies.yaml",
            apply: |t| {
                let start = t.find("---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: platform-observe}").unwrap();
                let end = start + 4 + t[start + 4..].find("---\n").unwrap();
                format!("{}{}", &t[..start], &t[end..])
            },
            bound: |a| {
                chain_lines(a, "pol.gnp.platform-observe.in")
                    + lines_with(a, "jump pol.gnp.platform-observe.")
                    + lines_with(a, "comment \"tier platform\"")
            },
        },
        Edit {
            // apps-a moves behind apps-b. A tier's first policy is jumped to
            // unconditionally, later ones only while no verdict is marked, so the
            // two jump lines of each endpoint chain are rewritten: two deletions
            // and two insertions per jump to apps-a.
            name: "change a policy order",
            file: "extra.yaml",
            apply: |t| t.replace("order: 100", "order: 300"),
            bound: |a| 4 * lines_with(a, "jump pol.gnp.apps-a."),
        },
        Edit {
            // A second pod like app/neighbour on n2: chains of its own the size of
            // the neighbour's, and its address beside the neighbour's in every set
            // and map holding it: at most the element, and the line before it
            // rewritten (its comma, or an aggregated net split: 10.0.0.2/31 stays
            // and 10.0.0.4/32 joins).
            name: "add a pod",
            file: "inventory.yaml",
            apply: |t| {
                t.to_string()
                    + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: twin, namespace: app, labels: {role: server}}\nspec: {nodeName: n2, containers: [{name: s}]}\nstatus: {podIP: 10.0.0.4}\n"
            },
            bound: |a| {
                chain_lines(a, "wl.app.neighbour.in")
                    + chain_lines(a, "wl.app.neighbour.eg")
                    + 3 * elements_holding(a, "10.0.0.3".parse().unwrap())
            },
        },
        Edit {
            // A namespace with no pods: nothing on any node changes.
            name: "add a namespace",
            file: "inventory.yaml",
            apply: |t| {
                t.to_string()
                    + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: staging, labels: {team: green}}\n"
            },
            bound: |_| 0,
        },
    ]
}

#[test]
fn typical_edits_change_only_the_lines_of_what_was_edited() {
    let base_files = base();
    let before = build(&base_files);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for edit in edits() {
        let mut files = base_files.clone();
        let text = files.get_mut(edit.file).unwrap();
        let edited = (edit.apply)(text);
        assert_ne!(*text, edited, "{}: the edit applies", edit.name);
        *text = edited;
        let after = build(&files);
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            "{}: the same artifacts",
            edit.name
        );
        let mut any = 0;
        for (path, old) in &before {
            let new = &after[path];
            let total = changed_lines(old, new);
            let semantic = changed_lines(
                &common::without_locations(old),
                &common::without_locations(new),
            );
            let bound = (edit.bound)(old);
            any += semantic.len();
            report.push(format!(
                "{:<22} {path:<14} {:>3} changed lines ({:>2} without locations, bound {bound})",
                edit.name,
                total.len(),
                semantic.len()
            ));
            if semantic.len() > bound {
                failures.push(format!(
                    "{}: {path}: {} changed lines without locations, bound {bound}:\n{}",
                    edit.name,
                    semantic.len(),
                    semantic.join("\n")
                ));
            }
            let located = format!(" {}:", edit.file);
            for line in &total {
                let moved_only = !semantic.contains(&common::without_locations(line));
                if moved_only && !line.contains(&located) {
                    failures.push(format!(
                        "{}: {path}: a line changed that is neither the edit nor a rule of {} below it: {line}",
                        edit.name, edit.file
                    ));
                }
            }
        }
        if edit.name != "add a namespace" {
            assert!(any > 0, "{}: changes some artifact", edit.name);
        }
    }
    eprintln!("diff locality:\n{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The bound helpers measure what they say, on a text whose answer is known.
#[test]
fn the_bound_helpers_count_chains_and_lines() {
    let text = "table inet polc {\n\t# c\n\tchain a {\n\t\tx\n\t\ty\n\t}\n\n\tchain b {\n\t}\n}\n";
    assert_eq!(chain_lines(text, "a"), 6);
    assert_eq!(chain_lines(text, "b"), 3);
    assert_eq!(chain_lines(text, "z"), 0);
    assert_eq!(lines_with(text, "chain"), 2);
    let sets = "\t\t\t10.0.0.3,\n\t\t\t10.0.0.2/31\n\t\t\t10.0.0.3 : jump x\n\t\t\t10.0.0.30\n";
    assert_eq!(elements_holding(sets, "10.0.0.3".parse().unwrap()), 3);
}
