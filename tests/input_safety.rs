//! Inputs that used to hang polc, eat memory or crash it: FIFOs and devices (in folders
//! and named explicitly), endless or oversized standard input, oversized files and
//! documents, invalid UTF-8, deeply nested selectors and out-of-range chain priorities.
//! Every case must end fast with the right exit code and a message naming the input.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{polc, root};
use polc::frontend::{MAX_DOCUMENT_BYTES, MAX_FILE_BYTES};

/// Generous for a debug build on a loaded machine; the hangs these tests guard against
/// never end, and the old oversized-input path took tens of seconds.
const FAST: Duration = Duration::from_secs(20);

fn run(cwd: &Path, args: &[&str]) -> std::process::Output {
    polc()
        .args(args)
        .current_dir(cwd)
        .timeout(FAST)
        .output()
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch folder `repo/` with the host-firewall example.
fn repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    for e in std::fs::read_dir(root().join("examples/host-firewall")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, repo.join(p.file_name().unwrap())).unwrap();
    }
    tmp
}

fn summary(cwd: &Path) -> Vec<u8> {
    let o = run(cwd, &["check", "repo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    o.stdout
}

#[test]
fn a_fifo_in_a_folder_is_skipped_with_a_warning() {
    let tmp = repo();
    let t = tmp.path();
    let clean = summary(t);
    let fifo = t.join("repo/pipe.yaml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for args in [
        &["check", "repo"][..],
        &["build", "--target", "nft", "--out", "out", "repo"][..],
    ] {
        let o = run(t, args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("warning: skipped `repo/pipe.yaml`: it is a named pipe (FIFO)"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(
        run(t, &["check", "repo"]).stdout,
        clean,
        "the same files are read"
    );
    let o = run(t, &["check", "repo/pipe.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot read `repo/pipe.yaml`: it is a named pipe (FIFO)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_symlink_to_dev_zero_is_never_read() {
    let tmp = repo();
    let t = tmp.path();
    let clean = summary(t);
    std::os::unix::fs::symlink("/dev/zero", t.join("repo/zero.yaml")).unwrap();
    let o = run(t, &["check", "repo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout, clean);
    assert!(
        stderr(&o).contains("skipped `repo/zero.yaml`: it is a character device"),
        "{}",
        stderr(&o)
    );
    let o = run(t, &["check", "repo/zero.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("it is a character device, not a regular file"));
}

#[test]
fn endless_standard_input_ends_at_the_cap() {
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin!("polc"))
        .args(["--color", "never", "check", "-"])
        .stdin(zero)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = finish(child);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`<stdin>` is more than 64 MiB"),
        "{}",
        stderr(&o)
    );
}

/// Wait for `child`, killing it (and failing) after [`FAST`].
fn finish(mut child: std::process::Child) -> std::process::Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > FAST {
            let _ = child.kill();
            panic!("polc did not finish in {FAST:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn oversized_standard_input_is_an_error() {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("polc"))
        .args(["--color", "never", "check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // YAML comments, a little more than the cap; polc may stop reading (and close
        // the pipe) as soon as it has seen one byte too many.
        let line = format!("#{}\n", "x".repeat(1023));
        let mut left = MAX_FILE_BYTES as usize + 4096;
        while left > 0 {
            let n = left.min(line.len());
            if stdin.write_all(&line.as_bytes()[..n]).is_err() {
                break;
            }
            left -= n;
        }
    });
    let o = finish(child);
    writer.join().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`<stdin>` is more than 64 MiB"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_oversized_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.yaml");
    // Sparse: the size is over the cap but no data is written.
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(MAX_FILE_BYTES + 1).unwrap();
    let o = run(tmp.path(), &["check", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let want = format!(
        "`./big.yaml` is {} bytes; polc reads at most {MAX_FILE_BYTES} bytes",
        MAX_FILE_BYTES + 1
    );
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
}

#[test]
fn an_oversized_document_is_reported_at_its_line_and_the_rest_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dump.yaml");
    let mut text = String::from(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n\
         metadata: {name: small}\nspec: {selector: all()}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n  blob: \"",
    );
    text.push_str(&"a".repeat(MAX_DOCUMENT_BYTES));
    text.push_str("\"\n---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: 10}\nextra: 1\n");
    std::fs::write(&path, &text).unwrap();
    let o = run(tmp.path(), &["check", "--format", "json", "dump.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<(&str, u64)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap(), d["line"].as_u64().unwrap()))
        .collect();
    let second_doc_line = text[..text.find("---\napiVersion: v1").unwrap()]
        .matches('\n')
        .count() as u64
        + 1;
    assert!(
        codes.contains(&("document-too-large", second_doc_line)),
        "{codes:?}"
    );
    assert!(
        codes.iter().any(|(c, _)| *c == "unknown-field"),
        "the third document is read: {codes:?}"
    );
    assert_eq!(v["summary"]["policies"], 1, "the first document is read");
}

#[test]
fn invalid_utf8_is_reported_with_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bad.yaml"),
        b"kind: Tier\nname: \xc3\xa9t\xff\n",
    )
    .unwrap();
    let o = run(tmp.path(), &["check", "bad.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("bad.yaml:2:9: not UTF-8 text: invalid byte 0xff (byte offset 20)"),
        "{}",
        stderr(&o)
    );
    let o = polc()
        .args(["check", "-"])
        .write_stdin(b"a: b\n\xfe".to_vec())
        .timeout(FAST)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("<stdin>:2:1: not UTF-8 text"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_deeply_nested_selector_is_an_error_with_a_column() {
    let deep = format!("{}a == 'x'{}", "(".repeat(10_000), ")".repeat(10_000));
    let o = polc()
        .args(["selector", "--format", "json"])
        .arg(&deep)
        .timeout(FAST)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let column = v["error"]["column"].as_u64().unwrap();
    assert!(column > 1 && column < 10_000, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nested more than")
    );
    let o = polc()
        .arg("selector")
        .arg(&deep)
        .timeout(FAST)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("<selector>:1:{column}: error[invalid-selector]")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn chain_priorities_are_range_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let example = root().join("examples/host-firewall");
    let build = |flag: &str, value: String| {
        polc()
            .args(["build", "--target", "nft", "--out"])
            .arg(tmp.path().join("out"))
            .arg(&example)
            .arg(flag)
            .arg(value)
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap()
    };
    let max_filter = i32::MAX - 3;
    for (flag, bad) in [
        ("--filter-priority", i64::from(max_filter) + 1),
        ("--filter-priority", i64::from(i32::MIN) - 1),
        ("--raw-priority", i64::from(i32::MAX) + 1),
        ("--mangle-priority", i64::from(i32::MIN) - 1),
    ] {
        let o = build(flag, bad.to_string());
        assert_eq!(o.status.code(), Some(2), "{flag} {bad}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("{bad} is not in")),
            "{flag} {bad}: {}",
            stderr(&o)
        );
        assert!(!tmp.path().join("out").exists());
    }
    let o = build("--filter-priority", max_filter.to_string());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let nft = std::fs::read_to_string(tmp.path().join("out/policy-llm-worker/polc.nft")).unwrap();
    // The filter stages (input and forward hooks) take N to N+3: none wrapped around.
    let filter: Vec<i64> = nft
        .lines()
        .filter(|l| l.contains("hook input") || l.contains("hook forward"))
        .map(|l| {
            let p = l.split("priority ").nth(1).unwrap();
            p[..p.find(';').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(
        filter.iter().min(),
        Some(&i64::from(max_filter)),
        "{filter:?}"
    );
    assert_eq!(
        filter.iter().max(),
        Some(&i64::from(i32::MAX)),
        "{filter:?}"
    );
}
