//! `polc check --format sarif`: the log validates against the official SARIF 2.1.0
//! schema (vendored in `tests/schemas/`) and places each finding where GitHub code
//! scanning needs it: rule, level, file, 1-based region, related places, fingerprint.

mod common;

use common::{polc, root};
use polc::diag::{Diagnostic, sarif};
use polc::source::{SourceId, Sources, Span};
use serde_json::Value;

/// Every schema violation of `log` (strict: formats such as `uri` are checked too).
fn violations(log: &Value) -> Vec<String> {
    let path = root().join("tests/schemas/sarif-schema-2.1.0.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema vendored"))
            .expect("schema is JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    validator
        .iter_errors(log)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Run `polc check --format sarif ARGS` from the project root: exit status and log.
fn check_sarif(args: &[&str]) -> (Option<i32>, Value) {
    let out = polc()
        .args(["check", "--format", "sarif"])
        .args(args)
        .current_dir(root())
        .output()
        .expect("polc runs");
    let log: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let bad = violations(&log);
    assert!(bad.is_empty(), "not valid SARIF 2.1.0:\n{}", bad.join("\n"));
    (out.status.code(), log)
}

#[test]
fn a_bad_input_is_a_valid_log_with_each_finding_at_its_line() {
    let (code, log) = check_sarif(&["tests/bad/cidr-invalid.yaml"]);
    assert_eq!(code, Some(1), "errors exit 1 as with text and JSON");
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["$schema"], sarif::SCHEMA_URI);
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "polc");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "invalid-cidr");
    assert_eq!(result["level"], "error");
    let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    let rule = &driver["rules"][index];
    assert_eq!(rule["id"], "invalid-cidr");
    assert_eq!(rule["defaultConfiguration"]["level"], "error");
    assert_eq!(rule["shortDescription"]["text"], "Invalid cidr");
    let text = result["message"]["text"].as_str().expect("message text");
    assert!(
        text.starts_with("`10.0.0.0/33` is not a valid CIDR"),
        "{text}"
    );
    let physical = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        physical["artifactLocation"]["uri"],
        "tests/bad/cidr-invalid.yaml"
    );
    let region = &physical["region"];
    assert_eq!(region["startLine"], 9);
    assert_eq!(region["startColumn"], 16);
    assert_eq!(region["endLine"], 9);
    assert_eq!(region["endColumn"], 27);
    let fingerprint = result["partialFingerprints"][sarif::FINGERPRINT_KEY]
        .as_str()
        .expect("a fingerprint");
    assert_eq!(fingerprint.len(), 64);
    assert!(fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn results_follow_the_sorted_diagnostics_and_rules_are_one_per_code() {
    let (code, log) = check_sarif(&["tests/bad/many-errors.yaml"]);
    assert_eq!(code, Some(1));
    let run = &log["runs"][0];
    let results = run["results"].as_array().expect("results");
    let lines: Vec<u64> = results
        .iter()
        .map(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64())
        .collect::<Option<_>>()
        .expect("every result has a start line");
    assert_eq!(lines, [7, 9, 12, 19, 26]);
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "invalid-action",
            "invalid-port",
            "invalid-selector",
            "scalar-type"
        ]
    );
    for r in results {
        let i = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
    }
    // `invalid-action` twice, with different messages: different fingerprints.
    let prints: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r["partialFingerprints"][sarif::FINGERPRINT_KEY].as_str())
        .collect();
    assert_eq!(prints.len(), results.len());
    let (_, again) = check_sarif(&["tests/bad/many-errors.yaml"]);
    assert_eq!(log, again, "output is deterministic");
}

#[test]
fn a_clean_example_is_a_valid_log_without_results() {
    let (code, log) = check_sarif(&["examples/host-firewall"]);
    assert_eq!(code, Some(0));
    let run = &log["runs"][0];
    assert_eq!(run["results"], serde_json::json!([]));
    assert_eq!(run["tool"]["driver"]["rules"], serde_json::json!([]));
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);

    // The validator is not a rubber stamp.
    let mut broken = log.clone();
    broken["runs"][0]["results"] = serde_json::json!([{"level": "fatal", "message": {}}]);
    broken["runs"][0]["tool"]["driver"]["informationUri"] = "not a uri".into();
    assert_eq!(violations(&broken).len(), 3, "{:?}", violations(&broken));
}

/// An analysis-style finding (another rule of a pair, a witness packet), a finding
/// without a place and one placed in Calico's built-in definitions.
#[test]
fn related_places_notes_and_placeless_findings_are_valid_and_linked() {
    let mut sources = Sources::default();
    let a = sources.add(
        "policies/a.yaml".into(),
        "rules:\n  - allow: all\n  - deny: ssh\n".into(),
    );
    let b = sources.add("policies/b c.yaml".into(), "x: [1]\n".into());
    let shadowed = Diagnostic::warning("shadowed-rule", "rule 2 of `a` never matches")
        .at(Span::new(a, 24, 35))
        .label("this rule")
        .related(Span::new(a, 9, 21), "rule [1] matches first")
        .related(Span::new(b, 0, 1), "and so does this")
        .related(Span::new(SourceId::BUILTIN, 0, 0), "a built-in profile")
        .with_note("witness: TCP 10.0.0.1:40000 -> 10.0.0.2:22")
        .help("remove rule 2");
    let placeless = Diagnostic::note("default-namespace", "namespace `default` assumed");
    let builtin =
        Diagnostic::error("builtin-tier", "built in").at(Span::new(SourceId::BUILTIN, 0, 0));
    let diags = [&shadowed, &placeless, &builtin];
    let log = serde_json::to_value(sarif::log(&diags, &sources)).expect("serialises");
    let bad = violations(&log);
    assert!(bad.is_empty(), "not valid SARIF 2.1.0:\n{}", bad.join("\n"));

    let results = &log["runs"][0]["results"];
    let r = &results[0];
    assert_eq!(r["ruleId"], "shadowed-rule");
    assert_eq!(r["level"], "warning");
    assert_eq!(
        r["message"]["text"],
        "rule 2 of `a` never matches\n\
         note: witness: TCP 10.0.0.1:40000 -> 10.0.0.2:22\n\
         help: remove rule 2\n\
         see: [rule \\[1\\] matches first](1)\n\
         see: [and so does this](2)\n\
         see: a built-in profile (<built-in>)"
    );
    let primary = &r["locations"][0];
    assert_eq!(primary["message"]["text"], "this rule");
    assert_eq!(primary["physicalLocation"]["region"]["startLine"], 3);
    let related = r["relatedLocations"].as_array().expect("related");
    assert_eq!(related.len(), 2);
    assert_eq!(related[0]["id"], 1);
    assert_eq!(related[0]["message"]["text"], "rule [1] matches first");
    let region = &related[0]["physicalLocation"]["region"];
    assert_eq!(
        (&region["startLine"], &region["startColumn"]),
        (&2.into(), &3.into())
    );
    assert_eq!(related[1]["id"], 2);
    assert_eq!(
        related[1]["physicalLocation"]["artifactLocation"]["uri"],
        "policies/b%20c.yaml"
    );

    // No place, or a place in the built-in definitions: line 1 of the first file.
    for r in [&results[1], &results[2]] {
        let physical = &r["locations"][0]["physicalLocation"];
        assert_eq!(physical["artifactLocation"]["uri"], "policies/a.yaml");
        assert_eq!(physical["region"]["startLine"], 1);
    }
    assert_eq!(results[1]["level"], "note");

    // With no input file at all, a placeless finding is a notification of the run.
    let empty = Sources::default();
    let log = serde_json::to_value(sarif::log(&[&placeless], &empty)).expect("serialises");
    assert!(violations(&log).is_empty());
    let run = &log["runs"][0];
    assert_eq!(run["results"], serde_json::json!([]));
    let n = &run["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(n["associatedRule"]["id"], "default-namespace");
    assert_eq!(n["level"], "note");
}

#[test]
fn analysis_findings_are_valid_with_their_related_rule() {
    let (code, log) = check_sarif(&["tests/analysis/shadowed-rule--same-policy.yaml"]);
    assert_eq!(code, Some(1));
    let r = &log["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "shadowed-rule");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        36
    );
    let text = r["message"]["text"].as_str().expect("message text");
    assert!(text.contains("\nnote: witness: TCP "), "{text}");
    assert!(text.ends_with("\nsee: [decides first](1)"), "{text}");
    let related = &r["relatedLocations"][0];
    assert_eq!(related["id"], 1);
    assert_eq!(related["physicalLocation"]["region"]["startLine"], 35);

    // Every case of the analysis corpus gives a valid log, one result per finding.
    let dir = root().join("tests/analysis");
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/analysis exists")
        .map(|e| {
            e.expect("readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".yaml"))
        .map(|n| format!("tests/analysis/{n}"))
        .collect();
    cases.sort();
    for case in &cases {
        let (_, log) = check_sarif(&[case]);
        for r in log["runs"][0]["results"].as_array().expect("results") {
            assert!(r["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64());
        }
    }
}
