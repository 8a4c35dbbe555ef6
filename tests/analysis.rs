//! The corpus of analysis findings under `tests/analysis/`: each `CODE--CASE.yaml`
//! must make `polc check` report the finding `CODE` (its full text output is kept in
//! `CODE--CASE.expected`, refreshed with `POLC_BLESS=1 cargo test --test analysis`);
//! each `clean--CASE.yaml` must produce no finding at all.

mod common;

#[test]
fn every_case_reports_its_finding() {
    let dir = common::root().join("tests/analysis");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/analysis exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus is empty");
    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let (code, _) = name
            .split_once("--")
            .unwrap_or_else(|| panic!("{name}: name it CODE--CASE.yaml"));
        let output = common::polc()
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .args(["check", name])
            .output()
            .expect("polc runs");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if stderr.contains("panicked") {
            failures.push(format!("{name}: panicked\n{stderr}"));
            continue;
        }
        let has = |c: &str| stderr.contains(&format!("[{c}]:"));
        if code == "clean" {
            if !stderr.trim().is_empty() {
                failures.push(format!("{name}: expected no finding, got\n{stderr}"));
            }
            continue;
        }
        if !has(code) {
            failures.push(format!("{name}: no [{code}] finding in\n{stderr}"));
            continue;
        }
        let expected = file.with_extension("expected");
        if let Err(e) = common::check_expected(&expected, &stderr) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
