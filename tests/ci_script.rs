//! `.ci/run`: it writes its log where cargo builds, with or without
//! `CARGO_TARGET_DIR`, and its closing tally counts a kernel test that could not run
//! (reported `ignored` by the kernel harness, `tests/common/netbed.rs`) as skipped,
//! never as passed.

mod common;

fn script() -> String {
    std::fs::read_to_string(common::root().join(".ci/run")).expect(".ci/run")
}

#[test]
fn the_log_follows_cargo_target_dir() {
    let script = script();
    assert!(script.contains("${CARGO_TARGET_DIR:-target}"));
    for line in script.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(
            !line.contains(" target/"),
            "`.ci/run` names `target/` itself: {line}"
        );
    }
}

#[test]
fn the_tally_counts_ignored_kernel_tests_as_skipped() {
    let script = script();
    let awk = script
        .lines()
        .find(|l| l.starts_with("awk "))
        .expect("the tally line");
    let program = awk
        .split('\'')
        .nth(1)
        .expect("the awk program between single quotes");
    // What libtest prints for a normal binary and the kernel harness
    // (libtest-mimic) for one whose tools are missing.
    let log = "\
SKIPPED: 6 kernel tests of kernel_felix: missing `nft` (package nftables)
test result: ok. 41 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.07s

test pre_dnat_deny_keeps_replies_of_host_connections ... ignored (missing `nft` (package nftables))
test result: ok. 0 passed; 0 failed; 6 ignored; 0 measured; 0 filtered out; finished in 0.00s
";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ci-test.log");
    std::fs::write(&path, log).unwrap();
    let out = std::process::Command::new("awk")
        .arg(program)
        .arg(&path)
        .output()
        .expect("awk runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "41 passed, 0 failed, 6 skipped\n"
    );
}

/// The kernel test binaries run under the kernel harness (`harness = false`): a
/// `#[test]` there would never run, so every test must be listed in its `main`.
#[test]
fn kernel_tests_are_registered_with_the_kernel_harness() {
    let toml = std::fs::read_to_string(common::root().join("Cargo.toml")).unwrap();
    for e in std::fs::read_dir(common::root().join("tests")).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("kernel_") || path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            toml.contains(&format!("[[test]]\nname = \"{name}\"\nharness = false")),
            "{name}: not declared `harness = false` in Cargo.toml"
        );
        assert!(
            !text.contains("#[test]"),
            "{name}.rs: a #[test] never runs under the kernel harness; list the function in main()"
        );
        assert!(
            text.contains("netbed::run_kernel_tests(") || text.contains("libtest_mimic::run("),
            "{name}.rs: no kernel harness"
        );
    }
}
