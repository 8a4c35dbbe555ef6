//! The CLI documents itself: every subcommand's `--help` ends with examples and exit
//! codes; `polc completions SHELL` and `polc man` are generated from the CLI
//! definition and name every subcommand; the LICENSE file is the license Cargo.toml
//! names.

mod common;

use clap::CommandFactory;

/// Every subcommand's name, from the CLI definition itself.
fn subcommands() -> Vec<String> {
    let names: Vec<String> = polc::cli::Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    assert!(names.len() >= 9, "{names:?}");
    names
}

fn stdout(args: &[&str]) -> String {
    let o = common::polc().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn every_help_has_examples_and_exit_codes() {
    let mut missing = Vec::new();
    for name in std::iter::once(None).chain(subcommands().into_iter().map(Some)) {
        let mut args: Vec<&str> = name.iter().map(String::as_str).collect();
        args.push("--help");
        let help = stdout(&args);
        for section in ["Examples:", "Exit codes:"] {
            if !help.contains(section) {
                missing.push(format!(
                    "polc {} --help: no {section}",
                    name.as_deref().unwrap_or("")
                ));
            }
        }
        // Every example runs polc (or pipes its output) with this subcommand.
        if let Some(n) = &name {
            let examples = help.split("Examples:").nth(1).unwrap_or_default();
            let examples = examples.split("\n\n").next().unwrap_or_default();
            for line in examples.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if !line.contains(&format!("polc {n}")) {
                    missing.push(format!(
                        "polc {n} --help: example `{line}` does not run `polc {n}`"
                    ));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn completions_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&["completions", shell]);
        for name in subcommands() {
            assert!(script.contains(&name), "{shell} completions lack `{name}`");
        }
    }
    let bad = common::polc()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_man_pages_name_every_subcommand() {
    let page = stdout(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH polc 1"),
        "{page}"
    );
    for name in subcommands().iter().filter(|n| *n != "help") {
        // roff escapes `-` as `\-`.
        let roff = format!("polc\\-{}(1)", name.replace('-', "\\-"));
        assert!(page.contains(&roff), "polc(1) lacks {roff}");
        let sub = stdout(&["man", name]);
        assert!(
            sub.contains(&format!(".TH polc-{name} 1")),
            "polc man {name}"
        );
        assert!(
            sub.contains("Exit codes:"),
            "polc-{name}(1) has no exit codes"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    stdout(&["man", "--dir", tmp.path().to_str().unwrap()]);
    let mut files: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut want: Vec<String> = subcommands()
        .iter()
        .filter(|n| *n != "help")
        .map(|n| format!("polc-{n}.1"))
        .chain(["polc.1".to_string()])
        .collect();
    want.sort();
    assert_eq!(files, want);
    let bad = common::polc().args(["man", "nosuch"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_license_file_is_the_license_cargo_toml_names() {
    let root = common::root();
    let toml = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(toml.contains("license = \"Apache-2.0\""));
    let license = std::fs::read_to_string(root.join("LICENSE")).unwrap();
    assert!(
        license.contains("Apache License\n                           Version 2.0, January 2004")
    );
    assert!(license.contains("END OF TERMS AND CONDITIONS"));
}
