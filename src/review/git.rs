//! The manifests of a git revision, read without a checkout through the `git` binary:
//! `git rev-parse` resolves the revision to a commit, `git ls-tree -r -z` lists the
//! files under each input path at that commit, and one `git cat-file --batch` reads
//! their blobs. Paths are resolved against the repository's top-level folder (the
//! repository holding the first input path), and each file is named as the same file
//! of the working tree would be (`PATH/rest`), so locations read alike on both sides.
//!
//! The files chosen are the ones input discovery would choose in a checkout: under a
//! folder, `*.yaml`, `*.yml` and `*.json`, no name starting with `.`, no folder holding
//! polc's own output (`manifest.json`); a path named itself is read whatever its name.
//! Symbolic links and submodules are passed over (their content is no manifest).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use crate::frontend::MAX_FILE_BYTES;

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// A revision resolved in a repository.
#[derive(Debug, Clone)]
pub struct Revision {
    /// The repository's top-level folder.
    pub top: PathBuf,
    /// The revision as given.
    pub spec: String,
    /// The commit it names (40 or 64 hex digits).
    pub commit: String,
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .arg("--literal-pathspecs")
        .args(["-c", "core.quotePath=false"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    c
}

fn output(mut c: Command) -> Result<Vec<u8>, String> {
    let out = c
        .output()
        .map_err(|e| format!("cannot run `git`: {e}; install git to diff against a revision"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The folder to look for the repository from: the nearest existing folder of the
/// first input path.
fn start(paths: &[PathBuf]) -> PathBuf {
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    let mut p = absolute(&first);
    loop {
        if p.is_dir() {
            return p;
        }
        if !p.pop() {
            return PathBuf::from(".");
        }
    }
}

/// `path` made absolute against the current folder and normalised lexically (`.` and
/// `..` removed), with the longest existing prefix canonicalised.
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    // Canonicalise the existing part, so symbolic links in the current folder's path
    // compare equal to git's top-level.
    let mut existing = out.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(n) => rest.push(n.to_os_string()),
            None => break,
        }
        existing.pop();
    }
    let mut canon = std::fs::canonicalize(&existing).unwrap_or(existing);
    for n in rest.into_iter().rev() {
        canon.push(n);
    }
    canon
}

/// Resolve `spec` as a revision of the repository holding the first input path.
/// `Err` says why it is not one (no repository, unknown revision).
pub fn resolve(paths: &[PathBuf], spec: &str) -> Result<Revision, String> {
    let dir = start(paths);
    let top = output({
        let mut c = git(&dir);
        c.args(["rev-parse", "--show-toplevel"]);
        c
    })
    .map_err(|e| format!("`{}` is in no git repository ({e})", dir.display()))?;
    let top = PathBuf::from(String::from_utf8_lossy(&top).trim_end_matches('\n'));
    let top = std::fs::canonicalize(&top).unwrap_or(top);
    let commit = output({
        let mut c = git(&top);
        c.args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{spec}^{{commit}}"));
        c
    })
    .map_err(|_| {
        format!(
            "`{spec}` is neither a folder nor a revision of `{}`",
            top.display()
        )
    })?;
    Ok(Revision {
        top,
        spec: spec.to_string(),
        commit: String::from_utf8_lossy(&commit).trim().to_string(),
    })
}

/// One file of the tree listing.
struct Entry {
    /// Its path from the top-level.
    path: String,
    /// Its blob.
    oid: String,
}

/// Read the manifests under `paths` (as typed on the command line) at `rev`:
/// `(name, path from the top-level, text)` as the frontend reads files.
pub fn read(rev: &Revision, paths: &[PathBuf]) -> Result<Vec<(String, String, String)>, String> {
    let mut wanted: Vec<(PathBuf, String)> = Vec::new();
    for p in paths {
        let abs = absolute(p);
        let rel = abs.strip_prefix(&rev.top).map_err(|_| {
            format!(
                "`{}` is outside the repository `{}`",
                p.display(),
                rev.top.display()
            )
        })?;
        let rel = rel
            .to_str()
            .ok_or_else(|| format!("`{}` is not UTF-8", p.display()))?
            .to_string();
        wanted.push((p.clone(), rel));
    }
    let listing = output({
        let mut c = git(&rev.top);
        c.args(["ls-tree", "-r", "-z", "--full-tree", &rev.commit, "--"]);
        for (_, rel) in &wanted {
            c.arg(if rel.is_empty() { "." } else { rel.as_str() });
        }
        c
    })
    .map_err(|e| format!("cannot list `{}` at {}: {e}", rev.spec, rev.commit))?;
    let entries = parse_listing(&listing);
    let outputs: Vec<String> = entries
        .iter()
        .filter(|(e, _)| e.path == "manifest.json" || e.path.ends_with("/manifest.json"))
        .map(|(e, _)| e.path.clone())
        .collect();
    let mut chosen: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (typed, rel) in &wanted {
        for (e, plain) in &entries {
            let Some(rest) = below(&e.path, rel) else {
                continue;
            };
            if !plain {
                continue;
            }
            if !rest.is_empty() && !discovered(rest) {
                continue;
            }
            let name = if rest.is_empty() {
                typed.display().to_string()
            } else {
                typed.join(rest).display().to_string()
            };
            chosen
                .entry(e.path.clone())
                .or_insert((name, e.oid.clone()));
        }
    }
    // Folders holding polc's output, below an input folder, are skipped.
    let mut output_dirs = Vec::new();
    if !outputs.is_empty() {
        let oids: Vec<String> = outputs
            .iter()
            .filter_map(|p| entries.iter().find(|(e, _)| &e.path == p))
            .map(|(e, _)| e.oid.clone())
            .collect();
        for (path, bytes) in outputs.iter().zip(blobs(&rev.top, &oids)?) {
            if crate::output_marker::is_polc_manifest(&bytes) {
                output_dirs.push(path.trim_end_matches("manifest.json").to_string());
            }
        }
    }
    chosen.retain(|path, _| {
        !output_dirs
            .iter()
            .any(|d| path.starts_with(d.as_str()) && wanted.iter().all(|(_, r)| r != path))
    });
    let oids: Vec<String> = chosen.values().map(|(_, o)| o.clone()).collect();
    let texts = blobs(&rev.top, &oids)?;
    let mut files = Vec::new();
    for ((path, (name, _)), bytes) in chosen.into_iter().zip(texts) {
        let text = String::from_utf8(bytes).map_err(|e| {
            format!(
                "`{name}` at {} is not UTF-8 (invalid byte at offset {})",
                rev.spec,
                e.utf8_error().valid_up_to()
            )
        })?;
        files.push((name, path, text));
    }
    files.sort();
    Ok(files)
}

/// `path` relative to the folder or file `rel` (`""` for the file itself), when it
/// is at or under it.
fn below<'a>(path: &'a str, rel: &str) -> Option<&'a str> {
    if rel.is_empty() {
        return Some(path);
    }
    if path == rel {
        return Some("");
    }
    path.strip_prefix(rel)?.strip_prefix('/')
}

/// Whether folder discovery picks the file at `rest` below an input folder.
fn discovered(rest: &str) -> bool {
    !rest.split('/').any(|c| c.starts_with('.'))
        && Path::new(rest)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
}

/// Parse `ls-tree -r -z`: `MODE TYPE OID\tPATH\0`; the flag says whether it is a
/// plain file (a blob of mode 100644 or 100755).
fn parse_listing(bytes: &[u8]) -> Vec<(Entry, bool)> {
    let mut out = Vec::new();
    for record in bytes.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(record);
        let Some((meta, path)) = text.split_once('\t') else {
            continue;
        };
        let fields: Vec<&str> = meta.split(' ').collect();
        let [mode, kind, oid] = fields[..] else {
            continue;
        };
        let plain = kind == "blob" && (mode == "100644" || mode == "100755");
        out.push((
            Entry {
                path: path.to_string(),
                oid: oid.to_string(),
            },
            plain,
        ));
    }
    out
}

/// Read blobs through one `git cat-file --batch`, in order.
fn blobs(top: &Path, oids: &[String]) -> Result<Vec<Vec<u8>>, String> {
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = git(top);
    c.args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| format!("cannot run `git`: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("git cat-file: no stdin")?;
    let request: String = oids.iter().map(|o| format!("{o}\n")).collect();
    // Write from a thread, so a large answer cannot block the request.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(request.as_bytes());
    });
    let mut reader = BufReader::new(child.stdout.take().ok_or("git cat-file: no stdout")?);
    let mut out = Vec::with_capacity(oids.len());
    for oid in oids {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|e| format!("git cat-file: {e}"))?;
        let fields: Vec<&str> = header.split_whitespace().collect();
        let size: u64 = match fields[..] {
            [_, "blob", size] => size
                .parse()
                .map_err(|_| format!("git cat-file: {header}"))?,
            _ => {
                return Err(format!(
                    "git cat-file: cannot read blob {oid}: {}",
                    header.trim()
                ));
            }
        };
        if size > MAX_FILE_BYTES {
            return Err(format!(
                "blob {oid} is larger than {MAX_FILE_BYTES} bytes; polc reads at most that per file"
            ));
        }
        let mut bytes = vec![0; size as usize + 1];
        reader
            .read_exact(&mut bytes)
            .map_err(|e| format!("git cat-file: {e}"))?;
        bytes.pop();
        out.push(bytes);
    }
    let _ = writer.join();
    drop(reader);
    let _ = child.wait();
    Ok(out)
}
