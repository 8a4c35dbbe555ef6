//! The corpus of bad inputs under `tests/bad/`: every file must make `polc check` exit 1
//! and report exactly the diagnostics (location, severity, code, message) listed in its
//! `.expected` file, without panicking.

mod common;

use std::path::Path;

fn headers(stderr: &str) -> String {
    let mut out = String::new();
    for line in stderr.lines() {
        let is_header = line.split(": ").nth(1).is_some_and(|rest| {
            ["error[", "warning[", "note["]
                .iter()
                .any(|p| rest.starts_with(p))
        });
        if is_header {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn every_bad_input_is_reported_at_its_line() {
    let dir = common::root().join("tests/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/bad exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "the corpus has {} files", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let output = common::polc()
            .current_dir(&dir)
            .args(["check", name])
            .output()
            .expect("polc runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(1) {
            failures.push(format!(
                "{name}: exit {:?}, expected 1\n{stderr}",
                output.status.code()
            ));
            continue;
        }
        if stderr.contains("panicked") {
            failures.push(format!("{name}: panicked\n{stderr}"));
            continue;
        }
        let got = headers(&stderr);
        if !got
            .lines()
            .any(|l| l.starts_with(&format!("{name}:")) && l.contains(": error["))
        {
            failures.push(format!("{name}: no error located in the file\n{stderr}"));
            continue;
        }
        let expected = dir.join(format!(
            "{}.expected",
            Path::new(name).with_extension("").display()
        ));
        if let Err(diff) = common::check_expected(&expected, &got) {
            failures.push(diff);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_format_reports_the_same_locations() {
    let dir = common::root().join("tests/bad");
    let output = common::polc()
        .current_dir(&dir)
        .args(["check", "--format", "json", "many-errors.yaml"])
        .output()
        .expect("polc runs");
    assert_eq!(output.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(v["ok"], false);
    let diags = v["diagnostics"].as_array().expect("a diagnostics array");
    let lines: Vec<(i64, &str)> = diags
        .iter()
        .map(|d| {
            (
                d["line"].as_i64().unwrap_or(0),
                d["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (7, "invalid-selector"),
            (9, "invalid-action"),
            (12, "invalid-port"),
            (19, "scalar-type"),
            (26, "invalid-action")
        ]
    );
    assert_eq!(v["summary"]["errors"], 5);
    for d in diags {
        assert_eq!(d["file"], "many-errors.yaml");
        assert!(d["help"].is_string(), "every error says how to fix it: {d}");
    }
}
