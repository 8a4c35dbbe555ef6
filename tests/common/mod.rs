//! Helpers shared by the integration tests: running the binary and comparing text with
//! an expected file (a unified diff on mismatch; `POLC_BLESS=1` rewrites the file).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// An endpoint of the engine's universe by name (`ns/pod`, `host/NAME`, an address);
/// panics on an unknown name.
pub fn ep(engine: &polc::semantics::Engine<'_>, name: &str) -> polc::semantics::EndpointRef {
    engine
        .universe
        .resolve(engine.model, name)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Whether the evaluator allows the first packet of a connection from `from` to
/// `to` on `protocol`/`port`.
pub fn allowed(
    engine: &polc::semantics::Engine<'_>,
    from: &str,
    to: &str,
    protocol: polc::ir::Protocol,
    port: u16,
) -> bool {
    engine
        .evaluate(
            ep(engine, from),
            ep(engine, to),
            &polc::semantics::Packet::to_port(protocol, port),
        )
        .allowed
}

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `polc` command with colour off.
pub fn polc() -> Command {
    let mut c = Command::cargo_bin("polc").expect("the polc binary is built");
    c.env("NO_COLOR", "1").arg("--color").arg("never");
    c
}

/// Whether expected files should be rewritten instead of compared.
pub fn blessing() -> bool {
    std::env::var_os("POLC_BLESS").is_some_and(|v| v == "1")
}

/// Compare `actual` with the file at `expected`; on mismatch return a unified diff.
pub fn check_expected(expected: &Path, actual: &str) -> Result<(), String> {
    if blessing() {
        std::fs::write(expected, actual).map_err(|e| format!("{}: {e}", expected.display()))?;
        return Ok(());
    }
    let want = std::fs::read_to_string(expected).unwrap_or_default();
    if want == actual {
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(want.as_str(), actual)
        .unified_diff()
        .header(&expected.display().to_string(), "actual")
        .to_string();
    Err(format!(
        "{} differs (POLC_BLESS=1 cargo test to accept):\n{diff}",
        expected.display()
    ))
}

/// Build every target's artifacts of `files` (name, text) with the CLI into a scratch folder:
/// the folder (deleted when dropped) and the output folder inside it. Panics when the
/// build fails.
pub fn build_all(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let input = dir.path().join("input");
    std::fs::create_dir(&input).expect("the input folder");
    for (name, text) in files {
        std::fs::write(input.join(name), text).expect("an input file");
    }
    let out = dir.path().join("out");
    let built = polc()
        .args(["build", "--target", "all", "--out"])
        .arg(&out)
        .arg(&input)
        // These beds compare artifacts with the evaluator: rules the analysis finds
        // shadowed or unreachable are built like any other.
        .args(["--allow", "shadowed-rule", "--allow", "unreachable-rule"])
        .output()
        .expect("polc runs");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    (dir, out)
}

/// In-memory files (name, text) loaded as the CLI loads its inputs.
pub fn load_files(files: &[(&str, &str)]) -> polc::frontend::Loaded {
    let mut sources = polc::source::Sources::default();
    for (name, text) in files {
        sources.add(name.to_string(), text.to_string());
    }
    polc::frontend::load_sources(sources)
}

/// The input errors of a load, as `code: message`.
pub fn input_errors(loaded: &polc::frontend::Loaded) -> Vec<String> {
    loaded
        .diags
        .sorted()
        .iter()
        .filter(|d| d.severity == polc::diag::Severity::Error)
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect()
}

/// The model of in-memory files; panics on input errors.
pub fn model_of(files: &[(&str, &str)]) -> polc::ir::Model {
    let loaded = load_files(files);
    let errors = input_errors(&loaded);
    assert!(errors.is_empty(), "input errors: {errors:?}");
    loaded.model
}

/// The files of an example folder, each passed through `edit(name, text)`.
pub fn example_files(dir: &str, edit: impl Fn(&str, String) -> String) -> Vec<(String, String)> {
    let root = root().join(dir);
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            (
                n.clone(),
                edit(n, std::fs::read_to_string(root.join(n)).unwrap()),
            )
        })
        .collect()
}

/// The Kubernetes network-policy e2e model: namespaces x, y, z; pods a, b, c.
/// (`y` is quoted: kubectl would read it as the boolean true.)
pub fn e2e_inventory() -> String {
    let mut out = String::new();
    for (n, ns) in ["x", "y", "z"].iter().enumerate() {
        out.push_str(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: \"{ns}\", labels: {{ns: \"{ns}\"}}}}\n---\n"
        ));
        for (i, pod) in ["a", "b", "c"].iter().enumerate() {
            out.push_str(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}, namespace: \"{ns}\", labels: {{pod: {pod}}}}}\n\
                 spec:\n  nodeName: node-1\n  containers:\n    - name: cont\n      ports:\n        - {{name: serve-80-tcp, containerPort: 80}}\n        - {{name: serve-81-tcp, containerPort: 81}}\n\
                 status: {{podIP: 10.0.{}.{}}}\n---\n",
                n + 1,
                i + 1
            ));
        }
    }
    out
}

#[derive(serde::Deserialize)]
/// One scenario of `tests/netpol-e2e/`.
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// The probed TCP port.
    pub port: u16,
    /// The NetworkPolicy manifests.
    pub policies: String,
    /// Expected reachability, row by row.
    pub expect: std::collections::BTreeMap<String, Vec<u8>>,
}

/// Every scenario of `tests/netpol-e2e/`, sorted by file name.
pub fn e2e_scenarios() -> Vec<Scenario> {
    let dir = root().join("tests/netpol-e2e");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| serde_saphyr::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}

/// Every file under `dir`, by `/`-separated path relative to it, with its text.
pub fn read_tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).expect("a readable folder") {
            let p = e.expect("a folder entry").path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).expect("a text file"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The problems of a `manifest.json` text against `docs/manifest.schema.json` (JSON
/// Schema 2020-12), plus a check that every listed sha256 and size is that of `files`
/// (the output tree, by path), when given. Empty when it conforms.
pub fn manifest_problems(
    text: &str,
    files: Option<&std::collections::BTreeMap<String, String>>,
) -> Vec<String> {
    use sha2::Digest;
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/manifest.schema.json"))
            .expect("the manifest schema"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    let manifest: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    let mut problems: Vec<String> = validator
        .iter_errors(&manifest)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if let (Some(files), Some(list)) = (files, manifest["artifacts"].as_array()) {
        let listed: Vec<&str> = list.iter().filter_map(|a| a["path"].as_str()).collect();
        let present: Vec<&str> = files
            .keys()
            .map(String::as_str)
            .filter(|p| *p != "manifest.json")
            .collect();
        if listed != present {
            problems.push(format!("lists {listed:?}, the folder holds {present:?}"));
        }
        for a in list {
            let path = a["path"].as_str().unwrap_or_default();
            let Some(text) = files.get(path) else {
                continue;
            };
            let sha: String = sha2::Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if a["sha256"].as_str() != Some(sha.as_str()) {
                problems.push(format!("{path}: sha256 is not that of the file"));
            }
            if a["bytes"].as_u64() != Some(text.len() as u64) {
                problems.push(format!("{path}: bytes is not the file's size"));
            }
        }
    }
    problems
}

/// An artifact with every source location (`FILE:LINE:COL` in a rule comment) cut
/// out: what must not change when documents move between and within files.
pub fn without_locations(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.split(' ')
                .filter(|w| {
                    let w = w.trim_end_matches('"');
                    let mut parts = w.rsplitn(3, ':');
                    let (col, ln, file) = (parts.next(), parts.next(), parts.next());
                    !(file.is_some_and(|f| f.ends_with(".yaml"))
                        && [col, ln]
                            .iter()
                            .all(|n| n.is_some_and(|n| n.parse::<u32>().is_ok())))
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The example repositories of policy under `examples/` (sorted): every folder but
/// the deploy and CI examples (`ansible`, `github-actions`), which hold no manifests.
#[allow(dead_code)]
pub fn policy_examples() -> Vec<String> {
    let dir = root().join("examples");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| dir.join(n).is_dir() && !["ansible", "github-actions"].contains(&n.as_str()))
        .collect();
    out.sort();
    out
}

/// The Network Policy API conformance cluster (`tests/netpol-api/inventory.yaml`).
pub fn api_inventory() -> String {
    std::fs::read_to_string(root().join("tests/netpol-api/inventory.yaml"))
        .expect("the conformance inventory")
}

/// The conformance inventory with each namespace of `labels` relabelled, as the
/// upstream tests' `SetLabels` does (the API server, and polc, add
/// `kubernetes.io/metadata.name` again).
pub fn api_inventory_with(
    labels: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
) -> String {
    api_inventory()
        .split("\n---\n")
        .map(|doc| {
            let relabelled = labels.iter().find(|(ns, _)| {
                doc.contains("\nkind: Namespace\n") && doc.contains(&format!("  name: {ns}\n"))
            });
            match relabelled {
                Some((ns, l)) => {
                    let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}: \"{v}\"")).collect();
                    format!(
                        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{{}}}}}\n",
                        l.join(", ")
                    )
                }
                None => doc.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n---\n")
}

#[derive(serde::Deserialize)]
/// One scenario of `tests/netpol-api/`: the policies at one step of an upstream
/// conformance test and the probes the test makes there.
pub struct ApiScenario {
    /// Its name (unique).
    pub name: String,
    /// Namespaces relabelled at this step (namespace → its whole label set).
    #[serde(default)]
    pub namespace_labels:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// The manifests applied at this step.
    pub policies: String,
    /// The probes, with upstream's expectation.
    pub cases: Vec<ApiCase>,
}

#[derive(serde::Deserialize)]
/// One probe of an upstream conformance test.
pub struct ApiCase {
    /// The client pod, `namespace/name`.
    pub from: String,
    /// The server pod, `namespace/name`.
    pub to: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The destination port.
    pub port: u16,
    /// Whether upstream expects the connection to succeed.
    pub allowed: bool,
}

/// Every scenario under `tests/netpol-api/` (every subfolder, recursively), by
/// `/`-separated path relative to it, sorted by path.
pub fn api_scenarios() -> Vec<(String, ApiScenario)> {
    let dir = root().join("tests/netpol-api");
    read_tree(&dir)
        .into_iter()
        .filter(|(path, _)| path.contains('/') && path.ends_with(".yaml"))
        .map(|(path, text)| {
            let s = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            (path, s)
        })
        .collect()
}
