//! Property tests: no input, however broken, makes the frontend or the selector parser
//! panic, and what parses round-trips through its canonical form.

use std::collections::BTreeMap;

use polc::frontend::load_sources;
use polc::selector;
use polc::source::Sources;
use proptest::prelude::*;

mod common;

/// Fragments that stress the selector grammar.
const SELECTOR_TOKENS: &[&str] = &[
    "a",
    "b.c/d-e_f",
    "has(",
    "has(a)",
    "all()",
    "global()",
    "(",
    ")",
    "!",
    "!=",
    "==",
    "=",
    "&&",
    "||",
    "&",
    "|",
    " in ",
    " not in ",
    " notin ",
    " contains ",
    " starts with ",
    " ends with ",
    "{",
    "}",
    ",",
    "'x'",
    "\"y\"",
    "'",
    "\"",
    " ",
    "\t",
    "\n",
    "é",
    "🔥",
    "",
    "in",
    "not",
];

fn selector_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(SELECTOR_TOKENS), 0..16)
            .prop_map(|v| v.concat()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn selector_parser_never_panics_and_round_trips(text in selector_text()) {
        match selector::parse(&text) {
            Ok(expr) => {
                let canonical = expr.to_string();
                let again = selector::parse(&canonical);
                prop_assert_eq!(again.as_ref(), Ok(&expr), "canonical form {:?} of {:?}", canonical, text);
                let labels: BTreeMap<String, String> =
                    [("a".to_string(), "x".to_string())].into_iter().collect();
                prop_assert_eq!(expr.matches(&labels), again.map(|e| e.matches(&labels)).unwrap_or(false));
            }
            Err(err) => {
                prop_assert!(err.column >= 1 && err.column <= text.chars().count() + 1);
                prop_assert!(err.offset <= text.len());
                prop_assert!(text.is_char_boundary(err.offset));
            }
        }
    }
}

/// Seed manifests: the bundled examples and the bad-input corpus.
fn seeds() -> Vec<String> {
    let root = common::root();
    let mut out = Vec::new();
    for dir in ["examples/host-firewall", "tests/bad"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("seed folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "json"))
            .collect();
        files.sort();
        out.extend(
            files
                .iter()
                .map(|f| std::fs::read_to_string(f).expect("utf-8 seed")),
        );
    }
    out
}

const INSERTS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "'",
    "\"",
    "\n",
    "\n---\n",
    "  ",
    "\t",
    "null",
    "~",
    "[]",
    "{}",
    "99999999999999999999",
    "-1",
    "0",
    "1.5e309",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "? ",
    "|\n",
    ">-\n",
    "é",
    "\u{feff}",
    "#",
    "kind: List\nitems:\n",
    "apiVersion: v1\n",
    "spec:\n",
    "yes",
    "0x1F",
    ",",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), 0..INSERTS.len()).prop_map(|(a, i)| Mutation::Insert(a, i)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    match *m {
        Mutation::Delete(at, n) => {
            let at = at % (chars.len() + 1);
            let end = (at + n).min(chars.len());
            chars[..at].iter().chain(&chars[end..]).collect()
        }
        Mutation::Insert(at, i) => {
            let at = at % (chars.len() + 1);
            let mut s: String = chars[..at].iter().collect();
            s.push_str(INSERTS[i]);
            s.extend(&chars[at..]);
            s
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let i = i % lines.len();
            lines.insert(i, lines[i]);
            lines.concat()
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => {
            let (a, b) = (a % lines.len(), b % lines.len());
            lines.swap(a, b);
            lines.concat()
        }
        _ => text.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn mutated_manifests_never_panic(seed in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 1..6)) {
        let seeds = seeds();
        let mut text = seeds[seed.index(seeds.len())].clone();
        for m in &muts {
            text = apply(&text, m);
        }
        let mut sources = Sources::default();
        sources.add("mutated.yaml".into(), text.clone());
        let loaded = load_sources(sources);
        // Every diagnostic points inside the file.
        for d in loaded.diags.sorted() {
            if let Some(span) = d.span {
                prop_assert!(span.start as usize <= text.len() && span.end as usize <= text.len(), "{:?} outside {} bytes", d, text.len());
                let _ = polc::diag::render_text(d, &loaded.sources, false);
            }
        }
    }
}

/// Generated policies with random field values: exercise every validation path.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("TCP".to_string()),
        Just("tcp".to_string()),
        Just("ICMPv6".to_string()),
        (-5i64..70000).prop_map(|n| n.to_string()),
        Just("\"80:90\"".to_string()),
        Just("\"90:80\"".to_string()),
        Just("http".to_string()),
        Just("10.0.0.0/8".to_string()),
        Just("\"fd00::/64\"".to_string()),
        Just("10.0.0.1/33".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("null".to_string()),
        selector_text().prop_map(|s| format!("{:?}", s)),
    ]
}

const FIELDS: &[&str] = &[
    "action",
    "protocol",
    "notProtocol",
    "ipVersion",
    "icmp",
    "notICMP",
    "source",
    "destination",
    "nets",
    "notNets",
    "ports",
    "notPorts",
    "selector",
    "notSelector",
    "namespaceSelector",
    "type",
    "code",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn generated_policies_never_panic(
        kind in prop::sample::select(&["GlobalNetworkPolicy", "NetworkPolicy", "StagedNetworkPolicy", "Profile"][..]),
        fields in prop::collection::vec((prop::sample::select(FIELDS), value(), 0usize..3), 0..12),
    ) {
        let mut yaml = format!(
            "apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata:\n  name: gen\n  namespace: ns\nspec:\n  ingress:\n    - action: Allow\n"
        );
        for (field, value, depth) in fields {
            let indent = "  ".repeat(3 + depth);
            yaml.push_str(&format!("{indent}{field}: {value}\n"));
        }
        let mut sources = Sources::default();
        sources.add("gen.yaml".into(), yaml);
        let _ = load_sources(sources);
    }
}
