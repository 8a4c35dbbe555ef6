//! The what-if of enforcing staged policies (`ir::enforce_staged`, `matrix --staged`,
//! `diff --staged`, `explain --staged`): Set replaces the enforced policy of the same
//! identity, a new staged policy adds to the model, Delete removes, Learn counts as
//! Set and Ignore stays staged, a tier only staged policies populate gets its
//! end-of-tier verdict once they are enforced, StagedKubernetesNetworkPolicy replaces
//! the Kubernetes NetworkPolicy of its name; the result is the model of the same input
//! written with enforced kinds; `diff --staged` lists exactly the cells whose matrix
//! entry changes, naming the staged rules; and `build` never enforces a staged policy.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{model_of, polc};
use serde_json::Value;

const PODS: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {app: web}}
spec: {nodeName: n1}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: app, labels: {app: db}}
spec: {nodeName: n1}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: app, labels: {app: cache}}
spec: {nodeName: n1}
status: {podIP: 10.0.0.3}
";

/// A Calico policy of `kind` on `app/db`: one ingress rule from `app/web`.
fn db_policy(kind: &str, name: &str, action: &str, port: u16, extra: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3
kind: {kind}
metadata: {{name: {name}, namespace: app}}
spec:
  selector: app == 'db'
{extra}  ingress:
    - action: {action}
      protocol: TCP
      source: {{selector: app == 'web'}}
      destination: {{ports: [{port}]}}
"
    )
}

/// The enforced input: `db-in` allows web to db on TCP 5432.
fn enforced() -> String {
    db_policy("NetworkPolicy", "db-in", "Allow", 5432, "  order: 100\n")
}

/// Write `files` into a fresh folder.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// Run polc in `dir` on `.`: exit code and standard output.
fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = polc()
        .args(&args[..1])
        .arg(".")
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .unwrap();
    let code = o.status.code().unwrap_or(-1);
    assert!(
        code != 2,
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (code, String::from_utf8_lossy(&o.stdout).into_owned())
}

fn json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let (code, out) = run(dir, &args);
    (code, serde_json::from_str(&out).unwrap())
}

/// The matrix cells (without --port): (from, to) → allowed-set summary.
fn matrix(dir: &Path, staged: bool) -> BTreeMap<(String, String), String> {
    let args: &[&str] = if staged {
        &["matrix", "--staged"]
    } else {
        &["matrix"]
    };
    let (code, v) = json(dir, args);
    assert_eq!(code, 0);
    assert_eq!(v.get("what_if").is_some(), staged, "{v}");
    v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (
                    c["from"].as_str().unwrap().to_string(),
                    c["to"].as_str().unwrap().to_string(),
                ),
                c["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn cell(m: &BTreeMap<(String, String), String>, from: &str, to: &str) -> String {
    m[&(from.to_string(), to.to_string())].clone()
}

/// `diff --staged --format json`: exit code and report; checks the report against
/// the JSON Schema and that its cells are exactly those the two matrices differ in.
fn diff_staged(dir: &Path) -> (i32, Value) {
    let (code, v) = json(dir, &["diff", "--staged"]);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::root().join("tests/schemas/polc-diff-semantic.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options().build(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(v["base"]["kind"], "staged");
    let (before, after) = (matrix(dir, false), matrix(dir, true));
    let differ: Vec<(String, String)> = before
        .iter()
        .filter(|(k, s)| after.get(*k) != Some(*s))
        .map(|(k, _)| k.clone())
        .collect();
    let listed: Vec<(String, String)> = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["before"], before[&key(c)].as_str());
            assert_eq!(c["after"], after[&key(c)].as_str());
            key(c)
        })
        .collect();
    assert_eq!(
        listed, differ,
        "diff --staged lists exactly the changed cells"
    );
    assert_eq!(code, if differ.is_empty() { 0 } else { 1 });
    (code, v)
}

fn key(c: &Value) -> (String, String) {
    (
        c["from"].as_str().unwrap().to_string(),
        c["to"].as_str().unwrap().to_string(),
    )
}

/// The one change of `v` from web to db, as (what, before, after, after_decided_by).
fn web_to_db(v: &Value) -> Vec<(String, String, String, String)> {
    v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["from"] == "app/web" && c["to"] == "app/db")
        .flat_map(|c| c["changes"].as_array().unwrap().clone())
        .map(|ch| {
            let s = |k: &str| ch[k].as_str().unwrap().to_string();
            (s("what"), s("before"), s("after"), s("after_decided_by"))
        })
        .collect()
}

#[test]
fn set_replaces_the_enforced_policy_of_the_same_name() {
    let staged = db_policy("StagedNetworkPolicy", "db-in", "Deny", 5432, "");
    let dir = folder(&[
        ("pods.yaml", PODS),
        ("enforced.yaml", &enforced()),
        ("staged.yaml", &staged),
    ]);
    assert_eq!(
        cell(&matrix(dir.path(), false), "app/web", "app/db"),
        "TCP 5432"
    );
    // Enforced, db-in is the Deny policy: nothing from web to db is allowed any more.
    assert_eq!(cell(&matrix(dir.path(), true), "app/web", "app/db"), "none");
    let (code, v) = diff_staged(dir.path());
    assert_eq!(code, 1);
    let changes = web_to_db(&v);
    assert_eq!(changes.len(), 1, "{changes:?}");
    let (what, before, after, by) = &changes[0];
    assert_eq!(
        (what.as_str(), before.as_str(), after.as_str()),
        ("TCP 5432", "allowed", "denied")
    );
    // The staged rule decides, named by its place in the staged file.
    assert!(
        by.starts_with(
            "Deny by NetworkPolicy app/db-in (tier default, enforced from a StagedNetworkPolicy)"
        ),
        "{by}"
    );
    assert!(by.ends_with("staged.yaml:7:7"), "{by}");
    let before_by = v["cells"][0]["changes"][0]["before_decided_by"]
        .as_str()
        .unwrap();
    assert!(before_by.ends_with("enforced.yaml:8:7"), "{before_by}");
}

#[test]
fn a_new_staged_policy_adds_and_ties_break_by_name() {
    // A new name adds a policy: 6379 is allowed too once enforced.
    let extra = db_policy(
        "StagedNetworkPolicy",
        "db-cache",
        "Allow",
        6379,
        "  order: 100\n",
    );
    let dir = folder(&[
        ("pods.yaml", PODS),
        ("enforced.yaml", &enforced()),
        ("staged.yaml", &extra),
    ]);
    assert_eq!(
        cell(&matrix(dir.path(), true), "app/web", "app/db"),
        "TCP 5432,6379"
    );
    let (_, v) = diff_staged(dir.path());
    let changes = web_to_db(&v);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].0, "TCP 6379");
    assert!(changes[0].3.contains("NetworkPolicy app/db-cache"));
    // Same order: Calico's tie-break puts `a-deny` before `db-in`, so the new Deny
    // wins over the enforced Allow.
    let deny = db_policy(
        "StagedNetworkPolicy",
        "a-deny",
        "Deny",
        5432,
        "  order: 100\n",
    );
    let dir = folder(&[
        ("pods.yaml", PODS),
        ("enforced.yaml", &enforced()),
        ("staged.yaml", &deny),
    ]);
    assert_eq!(cell(&matrix(dir.path(), true), "app/web", "app/db"), "none");
    // With a later order it comes after db-in, whose Allow wins.
    let deny = db_policy(
        "StagedNetworkPolicy",
        "a-deny",
        "Deny",
        5432,
        "  order: 200\n",
    );
    let dir = folder(&[
        ("pods.yaml", PODS),
        ("enforced.yaml", &enforced()),
        ("staged.yaml", &deny),
    ]);
    assert_eq!(
        cell(&matrix(dir.path(), true), "app/web", "app/db"),
        "TCP 5432"
    );
    let (code, v) = diff_staged(dir.path());
    assert_eq!((code, v["changed"].clone()), (0, Value::Bool(false)));
}

#[test]
fn delete_removes_the_enforced_policy() {
    let delete = "apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: db-in, namespace: app}
spec: {stagedAction: Delete, tier: default}
";
    let dir = folder(&[
        ("pods.yaml", PODS),
        ("enforced.yaml", &enforced()),
        ("staged.yaml", delete),
    ]);
    // No policy selects db any more: its namespace profile allows what it allows
    // to cache, which no policy selects.
    let after = matrix(dir.path(), true);
    let open = cell(&after, "app/web", "app/cache");
    assert_ne!(cell(&matrix(dir.path(), false), "app/web", "app/db"), open);
    assert_eq!(cell(&after, "app/web", "app/db"), open);
    assert_eq!(cell(&after, "app/cache", "app/db"), open);
    let (code, v) = diff_staged(dir.path());
    assert_eq!(code, 1);
    let from: Vec<&str> = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["from"].as_str().unwrap())
        .collect();
    assert!(
        from.contains(&"app/cache") && from.contains(&"app/web"),
        "{from:?}"
    );
}

#[test]
fn a_tier_of_staged_policies_denies_at_its_end_only_when_enforced() {
    let tier = "apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: sec}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: db-web}
spec:
  tier: sec
  selector: app == 'db'
  ingress:
    - action: Allow
      protocol: TCP
      source: {selector: app == 'web'}
      destination: {ports: [80]}
";
    let dir = folder(&[("pods.yaml", PODS), ("tier.yaml", tier)]);
    let (before, after) = (matrix(dir.path(), false), matrix(dir.path(), true));
    // Staged, the tier does not count for db: the profile allows what it allows to
    // cache, which no policy selects.
    let open = cell(&before, "app/web", "app/cache");
    assert_eq!(cell(&before, "app/web", "app/db"), open);
    assert_eq!(cell(&before, "app/cache", "app/db"), open);
    // Enforced, the tier's end denies what its policy does not allow.
    assert_eq!(cell(&after, "app/web", "app/db"), "TCP 80");
    assert_eq!(cell(&after, "app/cache", "app/db"), "none");
    let (_, v) = diff_staged(dir.path());
    let cache = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["from"] == "app/cache" && c["to"] == "app/db")
        .unwrap();
    let by = cache["changes"][0]["after_decided_by"].as_str().unwrap();
    assert!(by.contains("end of tier sec"), "{by}");
    // explain --staged says so too, and that it is a what-if.
    let args = [
        "explain",
        "--from",
        "app/cache",
        "--to",
        "app/db",
        "--port",
        "443/tcp",
    ];
    let (_, plain) = run(dir.path(), &args);
    assert!(plain.contains("verdict: ALLOWED"), "{plain}");
    let mut staged = args.to_vec();
    staged.push("--staged");
    let (_, what_if) = run(dir.path(), &staged);
    assert!(
        what_if.starts_with("what-if: every staged policy enforced"),
        "{what_if}"
    );
    assert!(
        what_if.contains("verdict: DENIED: end of tier sec"),
        "{what_if}"
    );
}

#[test]
fn a_staged_kubernetes_policy_replaces_the_kubernetes_policy_of_its_name() {
    let knp = |kind: &str, port: u16| {
        format!(
            "apiVersion: networking.k8s.io/v1
kind: {kind}
metadata: {{name: db, namespace: app}}
spec:
  podSelector: {{matchLabels: {{app: db}}}}
  ingress:
    - from: [{{podSelector: {{matchLabels: {{app: web}}}}}}]
      ports: [{{port: {port}}}]
"
        )
    };
    let staged = knp("StagedKubernetesNetworkPolicy", 6379)
        .replace("networking.k8s.io/v1", "projectcalico.org/v3");
    let dir = folder(&[
        ("pods.yaml", PODS),
        ("knp.yaml", &knp("NetworkPolicy", 5432)),
        ("staged.yaml", &staged),
    ]);
    assert_eq!(
        cell(&matrix(dir.path(), false), "app/web", "app/db"),
        "TCP 5432"
    );
    assert_eq!(
        cell(&matrix(dir.path(), true), "app/web", "app/db"),
        "TCP 6379"
    );
    let (_, v) = diff_staged(dir.path());
    let changes = web_to_db(&v);
    let parts: Vec<(&str, &str)> = changes
        .iter()
        .map(|(w, _, a, _)| (w.as_str(), a.as_str()))
        .collect();
    assert_eq!(parts, [("TCP 5432", "denied"), ("TCP 6379", "allowed")]);
    assert!(
        changes[1].3.contains(
            "KubernetesNetworkPolicy app/db (tier default, enforced from a StagedKubernetesNetworkPolicy)"
        ),
        "{:?}",
        changes[1]
    );
    assert!(changes[1].3.contains("staged.yaml:"), "{:?}", changes[1]);
}

#[test]
fn learn_is_enforced_and_ignore_stays_staged() {
    for (action, expected) in [("Learn", "none"), ("Ignore", "TCP 5432"), ("Set", "none")] {
        let staged = db_policy(
            "StagedNetworkPolicy",
            "db-in",
            "Deny",
            5432,
            &format!("  stagedAction: {action}\n"),
        );
        let dir = folder(&[
            ("pods.yaml", PODS),
            ("enforced.yaml", &enforced()),
            ("staged.yaml", &staged),
        ]);
        assert_eq!(
            cell(&matrix(dir.path(), true), "app/web", "app/db"),
            expected,
            "{action}"
        );
    }
}

/// The staged input written with enforced kinds (and the policies they replace or
/// delete left out) is the model `enforce_staged` makes: same policies, same order.
#[test]
fn enforcing_is_the_model_written_with_enforced_kinds() {
    let tier =
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: sec}\nspec: {order: 100}\n";
    let keep = db_policy("NetworkPolicy", "keep", "Allow", 22, "  order: 100\n");
    let gone = db_policy("NetworkPolicy", "gone", "Allow", 23, "");
    let global = |kind: &str, tier: &str| {
        format!(
            "apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata: {{name: g}}\nspec:\n  tier: {tier}\n  order: 5\n  selector: app == 'cache'\n  ingress: [{{action: Deny}}]\n"
        )
    };
    let staged = [
        db_policy("StagedNetworkPolicy", "db-in", "Deny", 5432, "  order: 50\n"),
        db_policy("StagedNetworkPolicy", "new", "Allow", 80, "  order: 100\n"),
        global("StagedGlobalNetworkPolicy", "sec"),
        "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: gone, namespace: app}\nspec: {stagedAction: Delete, tier: default}\n".to_string(),
    ]
    .join("---\n");
    let rewritten = [
        db_policy("NetworkPolicy", "db-in", "Deny", 5432, "  order: 50\n"),
        db_policy("NetworkPolicy", "new", "Allow", 80, "  order: 100\n"),
        global("GlobalNetworkPolicy", "sec"),
    ]
    .join("---\n");
    // The enforced `g` sits in tier default: the staged `g` replaces it in tier sec
    // (the tier is part of the spec, not of the identity).
    let enforced_now = [
        enforced(),
        keep.clone(),
        gone,
        global("GlobalNetworkPolicy", "default"),
    ]
    .join("---\n");
    let what_if = polc::ir::enforce_staged(&model_of(&[
        ("pods.yaml", PODS),
        ("tier.yaml", tier),
        ("enforced.yaml", &enforced_now),
        ("staged.yaml", &staged),
    ]));
    let direct = model_of(&[
        ("pods.yaml", PODS),
        ("tier.yaml", tier),
        ("enforced.yaml", &keep),
        ("staged.yaml", &rewritten),
    ]);
    let shape = |m: &polc::ir::Model| {
        m.policies
            .iter()
            .map(|p| {
                (
                    p.id.to_string(),
                    p.tier.clone(),
                    p.order,
                    p.staged.is_some(),
                    p.ingress.len(),
                    p.ingress.iter().map(|r| r.action).collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&what_if), shape(&direct));
    assert!(!polc::ir::has_staged(&what_if));
    // Sorting again changes nothing: the what-if model is in Calico's order.
    let mut sorted = what_if.policies.clone();
    polc::ir::sort_policies(&what_if.tiers, &mut sorted);
    let ids = |ps: &[polc::ir::Policy]| ps.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&sorted), ids(&what_if.policies));
}

#[test]
fn no_staged_policy_is_no_change() {
    let dir = folder(&[("pods.yaml", PODS), ("enforced.yaml", &enforced())]);
    let (code, text) = run(dir.path(), &["diff", "--staged"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("no changes: the input has no staged policy to enforce"),
        "{text}"
    );
    let (code, v) = diff_staged(dir.path());
    assert_eq!((code, v["changed"].clone()), (0, Value::Bool(false)));
    let (code, md) = run(dir.path(), &["diff", "--staged", "--format", "markdown"]);
    assert_eq!(code, 0);
    assert!(md.contains("No connectivity changes"), "{md}");
    assert_eq!(matrix(dir.path(), false), matrix(dir.path(), true));
}

#[test]
fn every_format_says_it_is_a_what_if() {
    let staged = db_policy("StagedNetworkPolicy", "db-in", "Deny", 5432, "");
    let dir = folder(&[
        ("pods.yaml", PODS),
        ("enforced.yaml", &enforced()),
        ("staged.yaml", &staged),
    ]);
    for format in ["table", "markdown", "html"] {
        let (code, out) = run(dir.path(), &["matrix", "--staged", "--format", format]);
        assert_eq!(code, 0);
        assert!(out.contains("what-if"), "matrix {format}: {out}");
        let (_, plain) = run(dir.path(), &["matrix", "--format", format]);
        assert!(!plain.contains("what-if"), "matrix {format}: {plain}");
    }
    for format in ["text", "markdown", "html"] {
        let (code, out) = run(dir.path(), &["diff", "--staged", "--format", format]);
        assert_eq!(code, 1, "diff {format}");
        assert!(
            out.contains("polc diff --staged (what-if"),
            "diff {format}: {out}"
        );
        assert!(out.contains("staged.yaml:7:7"), "diff {format}: {out}");
    }
    let (_, html) = run(dir.path(), &["diff", "--staged", "--format", "html"]);
    assert!(html.contains("After (staged policies enforced)"));
}

#[test]
fn an_intent_checks_the_staged_change() {
    let staged = db_policy("StagedNetworkPolicy", "db-in", "Deny", 5432, "");
    let dir = folder(&[
        ("pods.yaml", PODS),
        ("enforced.yaml", &enforced()),
        ("staged.yaml", &staged),
    ]);
    let intent = |verdict: &str| {
        let p = dir.path().join(format!("intent-{verdict}.txt"));
        std::fs::write(
            &p,
            format!("- {{from: app/web, to: app/db, ports: [5432/tcp], verdict: {verdict}}}\n"),
        )
        .unwrap();
        p
    };
    let (holds, fails) = (intent("denied"), intent("allowed"));
    let (code, out) = run(
        dir.path(),
        &["diff", "--staged", "--intent", holds.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("holds"), "{out}");
    let (code, out) = run(
        dir.path(),
        &["diff", "--staged", "--intent", fails.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILS"), "{out}");
}

#[test]
fn build_never_enforces_staged_policies() {
    let staged = [
        db_policy("StagedNetworkPolicy", "db-in", "Deny", 5432, ""),
        db_policy("StagedNetworkPolicy", "new", "Allow", 80, ""),
        "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: db-in, namespace: app}\nspec: {stagedAction: Delete, tier: default}\n"
            .replace("db-in", "other"),
    ]
    .join("---\n");
    let built = |files: &[(&str, &str)]| {
        let dir = folder(files);
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("out");
        let o = polc()
            .args(["build", "--target", "nft", "--out"])
            .arg(&target)
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut tree = common::read_tree(&target);
        let manifest: Value = serde_json::from_str(&tree.remove("manifest.json").unwrap()).unwrap();
        (tree, manifest["artifacts"].clone())
    };
    let without = built(&[("pods.yaml", PODS), ("enforced.yaml", &enforced())]);
    let with = built(&[
        ("pods.yaml", PODS),
        ("enforced.yaml", &enforced()),
        ("staged.yaml", &staged),
    ]);
    assert!(!without.0.is_empty());
    assert_eq!(
        with, without,
        "artifacts byte-identical with staged policies"
    );
}
