//! Every diagnostic code is documented: the codes that `src/` passes to
//! `Diagnostic::error/warning/note` (and to the frontend's `error_at`) each have a
//! registry entry with the same severity and a `docs/codes/<code>.md`; every registry
//! entry is emitted somewhere in `src/` or is one of the analysis codes being built;
//! each documented example that can be run makes `polc check` report its code; and
//! `polc explain-code` prints the docs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use polc::codes::{CODES, lookup};

/// Analysis codes specified before (or while) they are implemented: documented now,
/// possibly not emitted yet.
const ANALYSIS: &[&str] = &[
    "shadowed-rule",
    "redundant-rule",
    "unreachable-rule",
    "correlated-rules",
    "generalising-rule",
    "failsafe-overrides-deny",
    "pass-in-last-tier",
    "tier-never-entered",
    "policy-selects-nothing",
    "selector-selects-nothing",
    "unknown-label",
    "host-policy-admits-workloads",
    "host-ingress-without-egress",
    "failsafe-lockout",
    "analysis-incomplete",
];

/// Codes whose documented example only illustrates (it would need hundreds of rules).
const ILLUSTRATIVE: &[&str] = &[
    "too-many-rules",
    "analysis-incomplete",
    "document-too-large",
    // Read by `polc diff --intent`, not by `polc check` (tests/diff_cli.rs runs it).
    "invalid-intent",
    // Not manifests: an assertion file (`polc test`) and a `polc.toml`; tests/assertions.rs
    // and tests/cli.rs trigger these.
    "invalid-assertion",
    "invalid-config",
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The arguments of the call whose `(` is just before `text`, as source text, up to
/// `upto` of them. Strings, char literals and nesting are skipped over.
fn arguments(text: &str, upto: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let (mut depth, mut start, mut i) = (0usize, 0usize, 0usize);
    let mut args = Vec::new();
    while i < bytes.len() && args.len() < upto {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            // A char literal ('x', '\n'), not a lifetime.
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\\') => {
                while i + 1 < bytes.len() && bytes[i + 1] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => {
                args.push(text[start..i].trim());
                break;
            }
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                args.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    args
}

/// A kebab-case code written as a string literal.
fn code_literal(arg: &str) -> Option<&str> {
    let s = arg.strip_prefix('"')?.strip_suffix('"')?;
    let kebab = s.split('-').all(|w| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }) && s.starts_with(|c: char| c.is_ascii_lowercase());
    kebab.then_some(s)
}

/// Every code literal passed to a diagnostic constructor in `src/`: code → (severity,
/// places).
fn emitted() -> BTreeMap<String, (String, Vec<String>)> {
    let root = common::root();
    let mut out: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let calls = [
        ("Diagnostic::error(", "error", 0),
        ("Diagnostic::warning(", "warning", 0),
        ("Diagnostic::note(", "note", 0),
        // The frontend's `Ctx::error_at(value, code, message)`.
        ("error_at(", "error", 1),
    ];
    for file in rust_files(&root.join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        for (pattern, severity, index) in calls {
            for (at, _) in text.match_indices(pattern) {
                if text[..at].ends_with("fn ") {
                    continue;
                }
                let args = arguments(&text[at + pattern.len()..], index + 1);
                let Some(code) = args.get(index).and_then(|a| code_literal(a)) else {
                    continue;
                };
                let line = text[..at].lines().count().max(1);
                let entry = out
                    .entry(code.to_string())
                    .or_insert_with(|| (severity.to_string(), Vec::new()));
                assert_eq!(
                    entry.0, severity,
                    "{rel}:{line}: `{code}` is emitted as {severity} here and as {} at {:?}",
                    entry.0, entry.1
                );
                entry.1.push(format!("{rel}:{line}"));
            }
        }
    }
    out
}

/// Whether `code` appears as a string literal anywhere in `src/` but the registry.
fn mentioned(code: &str) -> bool {
    let quoted = format!("\"{code}\"");
    let registry = common::root().join("src/codes.rs");
    rust_files(&common::root().join("src"))
        .iter()
        .filter(|f| **f != registry)
        .any(|f| std::fs::read_to_string(f).unwrap().contains(&quoted))
}

#[test]
fn the_scanner_reads_calls_across_lines() {
    let text = "Diagnostic::warning(\n    \"some-code\",\n    format!(\"a, b\"),\n)";
    let args = arguments(&text["Diagnostic::warning(".len()..], 2);
    assert_eq!(args, ["\"some-code\"", "format!(\"a, b\")"]);
    let text = "ctx.error_at(list, \"too-many-items\", format!(\"{x}\"))";
    let args = arguments(&text["ctx.error_at(".len()..], 2);
    assert_eq!(code_literal(args[1]), Some("too-many-items"));
    assert_eq!(code_literal("\"end of selector\""), None);
    assert_eq!(code_literal("code"), None);
}

#[test]
fn every_emitted_code_has_a_registry_entry_and_a_doc() {
    let emitted = emitted();
    assert!(emitted.len() > 40, "the scan found only {emitted:?}");
    let mut problems = Vec::new();
    for (code, (severity, places)) in &emitted {
        match lookup(code) {
            None => problems.push(format!(
                "`{code}` ({severity}, at {}) has no entry in src/codes.rs and no docs/codes/{code}.md",
                places.join(", ")
            )),
            Some(c) if c.severity.as_str() != severity => problems.push(format!(
                "`{code}` is emitted as {severity} ({}) but registered as {}",
                places.join(", "),
                c.severity.as_str()
            )),
            Some(_) => {}
        }
        if !common::root()
            .join(format!("docs/codes/{code}.md"))
            .is_file()
        {
            problems.push(format!("docs/codes/{code}.md is missing"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_registry_entry_is_emitted_or_a_specified_analysis_code() {
    let stale: Vec<&str> = CODES
        .iter()
        .map(|c| c.code)
        .filter(|c| !mentioned(c) && !ANALYSIS.contains(c))
        .collect();
    assert!(
        stale.is_empty(),
        "registered but never emitted in src/: {stale:?}"
    );
    for a in ANALYSIS {
        assert!(lookup(a).is_some(), "analysis code `{a}` is not documented");
    }
}

#[test]
fn every_doc_file_is_registered_and_indexed() {
    let dir = common::root().join("docs/codes");
    let index = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md")
        .collect();
    let registered: BTreeSet<String> = CODES.iter().map(|c| format!("{}.md", c.code)).collect();
    assert_eq!(files, registered);
    for c in CODES {
        let row = format!(
            "| [`{}`]({}.md) | {} | {} |",
            c.code,
            c.code,
            c.severity.as_str(),
            c.title
        );
        assert!(index.contains(&row), "docs/codes/README.md lacks\n{row}");
    }
}

/// The first ```yaml block of a doc.
fn example(doc: &str) -> &str {
    let start = doc.find("```yaml\n").expect("an example") + "```yaml\n".len();
    let len = doc[start..].find("```").expect("a closed example");
    &doc[start..start + len]
}

#[test]
fn every_runnable_example_triggers_its_code() {
    let bin = assert_cmd::cargo::cargo_bin("polc");
    let mut failures = Vec::new();
    for c in CODES {
        if ILLUSTRATIVE.contains(&c.code) || !mentioned(c.code) {
            continue;
        }
        let mut child = Command::new(&bin)
            .args(["--color", "never", "check", "-"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(example(c.doc).as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        let tag = format!("{}[{}]", c.severity.as_str(), c.code);
        if !stderr.contains(&tag) {
            failures.push(format!(
                "docs/codes/{}.md: its example does not report {tag}:\n{stderr}",
                c.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn explain_code_prints_the_doc() {
    let o = common::polc()
        .args(["explain-code", "shadowed-rule"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let doc = std::fs::read_to_string(common::root().join("docs/codes/shadowed-rule.md")).unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), doc);
    // As diagnostics print it.
    let o = common::polc()
        .args(["explain-code", "error[shadowed-rule]"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), doc);
}

#[test]
fn an_unknown_code_is_a_usage_error_with_a_suggestion() {
    let o = common::polc()
        .args(["explain-code", "shadowed-rul"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("did you mean `shadowed-rule`?"), "{stderr}");
    assert!(o.stdout.is_empty());
    let o = common::polc()
        .args(["explain-code", "zzzzzz"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--list"));
    let o = common::polc().arg("explain-code").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn list_shows_every_code_with_severity_and_title() {
    let o = common::polc()
        .args(["explain-code", "--list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), CODES.len());
    for (line, c) in lines.iter().zip(CODES) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], c.code);
        assert_eq!(words[1], c.severity.as_str());
        assert!(line.ends_with(c.title), "{line}");
    }
}
