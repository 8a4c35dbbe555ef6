//! `polc build --out`: which folders polc refuses to replace (inputs, their parents,
//! the current folder, `/`, files, links, folders it did not write), the lock that
//! serialises concurrent builds, the removal of staged folders killed builds left, the
//! one-rename swap, and that a build never reads its own output.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{polc, root};

/// Every file under `dir` (recursively) with its bytes, by path relative to `dir`.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else {
                let bytes = if meta.is_file() {
                    std::fs::read(&p).unwrap()
                } else {
                    Vec::new()
                };
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

/// A scratch folder with a copy of the host-firewall example in `repo/`.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let example = root().join("examples/host-firewall");
    for e in std::fs::read_dir(&example).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, repo.join(p.file_name().unwrap())).unwrap();
    }
    (tmp, repo)
}

fn build(cwd: &Path, args: &[&str]) -> std::process::Output {
    polc()
        .args(["build", "--target", "nft"])
        .args(args)
        .current_dir(cwd)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run `args` in `cwd` and assert exit 2 with `needle` in the message, and that
/// nothing under `tmp` changed.
fn refused(tmp: &Path, cwd: &Path, args: &[&str], needle: &str) {
    let before = snapshot(tmp);
    let o = build(cwd, args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    assert_eq!(snapshot(tmp), before, "{args:?} touched the files");
}

#[test]
fn an_input_folder_is_never_the_output() {
    let (tmp, repo) = scratch();
    let t = tmp.path();
    refused(t, t, &["--out", "repo", "repo"], "is the input `repo`");
    refused(t, &repo, &["--out", "."], "is the input `.`");
    refused(t, t, &["--out", ".", "repo"], "contains the input `repo`");
    std::fs::create_dir(t.join("work")).unwrap();
    refused(
        t,
        &t.join("work"),
        &["--out", ".", "../repo"],
        "the current folder",
    );
    refused(t, &repo, &["--out", "..", "."], "contains the input `.`");
    refused(
        t,
        t,
        &["--out", t.to_str().unwrap(), "repo"],
        "contains the input",
    );
    refused(t, &repo, &["--out", "../repo/./", "."], "is the input `.`");
    refused(t, t, &["--out", "/", "repo"], "root folder");
    refused(t, &repo, &["--out", "out"], "lies inside the input `.`");
    refused(
        t,
        t,
        &["--out", "repo/out", "repo"],
        "lies inside the input `repo`",
    );
    let input = repo.join("tier.yaml");
    refused(
        t,
        t,
        &["--out", "repo", input.to_str().unwrap()],
        "contains the input",
    );
}

#[test]
fn a_file_a_link_or_a_foreign_folder_is_never_replaced() {
    let (tmp, repo) = scratch();
    let t = tmp.path();
    std::fs::write(t.join("notes.txt"), "mine").unwrap();
    refused(t, t, &["--out", "notes.txt", "repo"], "is a regular file");
    refused(t, t, &["--out", "notes.txt/sub", "repo"], "is not a folder");
    std::fs::create_dir(t.join("mine")).unwrap();
    std::fs::write(t.join("mine/thesis.tex"), "years of work").unwrap();
    refused(t, t, &["--out", "mine", "repo"], "polc did not write");
    std::os::unix::fs::symlink(t.join("mine"), t.join("link")).unwrap();
    refused(t, t, &["--out", "link", "repo"], "is a symbolic link");
    refused(t, t, &["--out", "new/../out", "repo"], "without `..`");
    assert!(repo.join("tier.yaml").exists());
}

#[test]
fn an_empty_folder_or_an_earlier_output_is_replaced() {
    let (tmp, _repo) = scratch();
    let t = tmp.path();
    std::fs::create_dir(t.join("out")).unwrap();
    let o = build(t, &["--out", "out", "repo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::write(t.join("out/stale.txt"), "from an earlier build").unwrap();
    let o = build(t, &["--out", "out", "repo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !t.join("out/stale.txt").exists(),
        "the old tree is replaced"
    );
    assert!(t.join("out/manifest.json").is_file());
    let names: Vec<String> = std::fs::read_dir(t)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "nothing left beside the output: {names:?}");
}

#[test]
fn staged_folders_of_killed_builds_are_removed() {
    let (tmp, _repo) = scratch();
    let t = tmp.path();
    assert!(build(t, &["--out", "out", "repo"]).status.success());
    for stale in [".out.polc-Ab12Cd", ".out.polc-old", ".out.polc-x9y8z7"] {
        std::fs::create_dir_all(t.join(stale).join("node")).unwrap();
        std::fs::write(t.join(stale).join("node/polc.nft"), "x".repeat(4096)).unwrap();
    }
    // Not staged folders of this output: kept.
    std::fs::create_dir(t.join(".other.polc-Ab12Cd")).unwrap();
    std::fs::create_dir(t.join(".out.polc-keep.me")).unwrap();
    std::fs::write(t.join(".out.polc-file"), "a file").unwrap();
    let o = build(t, &["--out", "out", "repo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut names: Vec<String> = std::fs::read_dir(t)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".other.polc-Ab12Cd",
            ".out.polc-file",
            ".out.polc-keep.me",
            "out",
            "repo"
        ]
    );
}

#[test]
fn a_build_waits_for_the_one_holding_the_lock() {
    let (tmp, _repo) = scratch();
    let t = tmp.path();
    let lock = std::fs::File::create(t.join(".out.polc-lock")).unwrap();
    lock.lock().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("polc"))
        .args([
            "--color", "never", "build", "--target", "nft", "--out", "out",
        ])
        .arg("repo")
        .current_dir(t)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains("waiting for another `polc build`"),
        "{line:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "it waits");
    assert!(!t.join("out").exists(), "nothing is written while waiting");
    drop(lock);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the build never finished");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(t.join("out/manifest.json").is_file());
    assert!(
        !t.join(".out.polc-lock").exists(),
        "the lock file is removed"
    );
}

#[test]
fn concurrent_builds_take_turns_and_the_output_never_disappears() {
    let (tmp, _repo) = scratch();
    let t = tmp.path().to_path_buf();
    assert!(build(&t, &["--out", "out", "repo"]).status.success());
    let want = snapshot(&t.join("out"));
    let done = AtomicBool::new(false);
    let gaps = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut gaps = 0;
            while !done.load(Ordering::Relaxed) {
                if !t.join("out/manifest.json").exists() {
                    gaps += 1;
                }
            }
            gaps
        });
        let builders: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..10)
                        .map(|_| build(&t, &["--out", "out", "repo"]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let outputs: Vec<_> = builders.into_iter().map(|b| b.join()).collect();
        done.store(true, Ordering::Relaxed);
        for o in outputs.into_iter().flat_map(|o| o.unwrap()) {
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        }
        watcher.join().unwrap()
    });
    assert_eq!(gaps, 0, "moments without a complete output");
    assert_eq!(snapshot(&t.join("out")), want);
    let names: Vec<String> = std::fs::read_dir(&t)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "nothing left beside the output: {names:?}");
}

#[test]
fn polc_never_reads_its_own_output() {
    let (tmp, repo) = scratch();
    let manifests = repo.join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    for e in std::fs::read_dir(&repo).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::rename(&p, manifests.join(p.file_name().unwrap())).unwrap();
        }
    }
    let check = || polc().arg("check").current_dir(&repo).output().unwrap();
    let before = check();
    let built = build(&repo, &["--out", "out", "manifests"]);
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
    let after = check();
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    assert_eq!(before.stdout, after.stdout, "the same inputs are read");
    assert!(
        stderr(&after).contains("skipped `./out`: it holds the output of `polc build`"),
        "{}",
        stderr(&after)
    );
    let again = build(&repo, &["--out", "out", "manifests"]);
    assert_eq!(built.stdout, again.stdout);
    drop(tmp);
}

#[test]
fn a_node_name_never_leaves_the_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::write(
        t.join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n\
         spec: {nodeName: ../../escaped}\nstatus: {podIP: 10.0.0.5}\n",
    )
    .unwrap();
    std::fs::create_dir(t.join("a")).unwrap();
    let before = snapshot(t);
    let o = build(&t.join("a"), &["--out", "b/out", "../pod.yaml"]);
    // The frontend rejects the name (Kubernetes node names are DNS subdomains); the
    // output writer refuses such a name too, for library callers.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is not a valid node name"),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(t), before);
    assert!(!t.join("a/b").exists() && !t.join("escaped").exists());
}
