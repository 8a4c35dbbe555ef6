//! ClusterNetworkPolicy (`policy.networking.k8s.io/v1alpha2`) read into the IR's
//! `AdminPolicy`: every field, both tiers, `Accept` as Allow, each `protocols` form;
//! and the unknown kinds of policy API groups, which are errors unless allowed.

mod common;

use polc::diag::Severity;
use polc::frontend::{Loaded, Options, load_sources, load_sources_with};
use polc::ir::{
    AdminAction, AdminPeer, AdminPolicy, AdminPort, AdminTier, PolicyKind, PortRange, Protocol,
};
use polc::selector::{Expr, parse};
use polc::source::Sources;

fn read(yaml: &str, options: Options) -> Loaded {
    let mut sources = Sources::default();
    sources.add("test.yaml".into(), yaml.to_string());
    load_sources_with(sources, options)
}

fn load(yaml: &str) -> Loaded {
    let loaded = read(yaml, Options::default());
    let errors: Vec<&str> = loaded
        .diags
        .sorted()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.message.as_str())
        .collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    loaded
}

fn sel(s: &str) -> Expr {
    parse(s).expect("a valid selector")
}

fn by_name<'a>(loaded: &'a Loaded, name: &str) -> &'a AdminPolicy {
    loaded
        .model
        .admin_policies
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no admin policy `{name}`"))
}

const ADMIN: &str = r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: guard
spec:
  tier: Admin
  priority: 7
  subject:
    pods:
      namespaceSelector: {matchLabels: {env: prod}}
      podSelector: {matchLabels: {app: web}}
  ingress:
    - name: from-monitoring
      action: Accept
      from:
        - namespaces: {matchLabels: {team: mon}}
        - pods:
            podSelector: {matchLabels: {app: prom}}
      protocols:
        - tcp: {destinationPort: {number: 8080}}
        - udp: {destinationPort: {range: {start: 5000, end: 5010}}}
        - sctp: {destinationPort: {number: 9}}
        - destinationNamedPort: metrics
    - action: Pass
      from: [{namespaces: {}}]
  egress:
    - name: no-internal
      action: Deny
      to:
        - networks: [10.0.0.0/8, "fd00::/8"]
        - nodes: {matchExpressions: [{key: role, operator: In, values: [infra]}]}
    - name: dns
      action: Accept
      to:
        - domainNames: ["*.example.com", example.org]
"#;

#[test]
fn an_admin_tier_policy_reads_every_field() {
    let loaded = load(ADMIN);
    let p = by_name(&loaded, "guard");
    assert_eq!(p.kind, PolicyKind::ClusterNetworkPolicy);
    assert_eq!(p.tier, AdminTier::Admin);
    assert_eq!(p.priority, Some(7));
    assert_eq!(
        p.subject,
        AdminPeer::Pods {
            namespaces: sel("env == 'prod'"),
            pods: sel("app == 'web'"),
        }
    );
    let [monitoring, pass] = &p.ingress[..] else {
        panic!("two ingress rules: {:?}", p.ingress)
    };
    assert_eq!(monitoring.name, "from-monitoring");
    assert_eq!(monitoring.action, AdminAction::Allow, "Accept is Allow");
    assert_eq!(
        monitoring.peers,
        vec![
            AdminPeer::Namespaces(sel("team == 'mon'")),
            // `namespaceSelector` left out: every namespace.
            AdminPeer::Pods {
                namespaces: Expr::All,
                pods: sel("app == 'prom'"),
            },
        ]
    );
    assert_eq!(
        monitoring.ports,
        vec![
            AdminPort::Range(Protocol::TCP, PortRange::single(8080)),
            AdminPort::Range(Protocol::UDP, PortRange { lo: 5000, hi: 5010 }),
            AdminPort::Range(Protocol::SCTP, PortRange::single(9)),
            AdminPort::Named("metrics".into()),
        ]
    );
    assert_eq!((pass.name.as_str(), pass.action), ("", AdminAction::Pass));
    assert!(pass.ports.is_empty(), "no protocols: every port");
    let [internal, dns] = &p.egress[..] else {
        panic!("two egress rules: {:?}", p.egress)
    };
    assert_eq!(internal.action, AdminAction::Deny);
    assert_eq!(
        internal.peers,
        vec![
            AdminPeer::Networks(vec![
                "10.0.0.0/8".parse().unwrap(),
                "fd00::/8".parse().unwrap()
            ]),
            AdminPeer::Nodes(sel("role in {'infra'}")),
        ]
    );
    assert_eq!(
        dns.peers,
        vec![AdminPeer::DomainNames(vec![
            "*.example.com".into(),
            "example.org".into()
        ])]
    );
}

#[test]
fn a_baseline_tier_policy_has_a_priority_and_any_name() {
    let loaded = load(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: baseline-isolation}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {matchLabels: {tenant: a}}}
  ingress:
    - {name: same-tenant, action: Accept, from: [{namespaces: {matchLabels: {tenant: a}}}]}
    - {name: rest, action: Deny, from: [{namespaces: {}}]}
"#,
    );
    let p = by_name(&loaded, "baseline-isolation");
    assert_eq!(p.kind, PolicyKind::ClusterNetworkPolicy);
    assert_eq!(p.tier, AdminTier::Baseline);
    assert_eq!(p.priority, Some(0));
    assert_eq!(p.subject, AdminPeer::Namespaces(sel("tenant == 'a'")));
    let actions: Vec<AdminAction> = p.ingress.iter().map(|r| r.action).collect();
    assert_eq!(actions, [AdminAction::Allow, AdminAction::Deny]);
    assert!(p.egress.is_empty());
}

#[test]
fn a_cluster_network_policy_reads_as_the_equivalent_admin_network_policy() {
    let cnp = load(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: same}
spec:
  tier: Admin
  priority: 3
  subject: {namespaces: {}}
  egress:
    - name: web
      action: Accept
      to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]
      protocols:
        - tcp: {destinationPort: {range: {start: 80, end: 443}}}
"#,
    );
    let anp = load(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: same}
spec:
  priority: 3
  subject: {namespaces: {}}
  egress:
    - name: web
      action: Allow
      to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]
      ports:
        - portRange: {protocol: TCP, start: 80, end: 443}
"#,
    );
    let (c, a) = (by_name(&cnp, "same"), by_name(&anp, "same"));
    assert_eq!(
        (c.kind, a.kind),
        (
            PolicyKind::ClusterNetworkPolicy,
            PolicyKind::AdminNetworkPolicy
        )
    );
    assert_eq!(
        (c.tier, c.priority, &c.subject),
        (a.tier, a.priority, &a.subject)
    );
    let rule = |p: &AdminPolicy| {
        p.egress
            .iter()
            .map(|r| (r.name.clone(), r.action, r.peers.clone(), r.ports.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(rule(c), rule(a));
}

#[test]
fn cluster_network_policies_in_a_list_and_a_multi_document_file_are_read() {
    let item = |name: &str, tier: &str| {
        format!(
            "{{apiVersion: policy.networking.k8s.io/v1alpha2, kind: ClusterNetworkPolicy, metadata: {{name: {name}}}, spec: {{tier: {tier}, priority: 1, subject: {{namespaces: {{}}}}}}}}"
        )
    };
    let yaml = format!(
        "apiVersion: v1\nkind: List\nitems:\n  - {}\n  - {}\n---\n{}\n",
        item("a", "Admin"),
        item("b", "Baseline"),
        item("c", "Admin")
    );
    let loaded = load(&yaml);
    let mut names: Vec<(&str, AdminTier)> = loaded
        .model
        .admin_policies
        .iter()
        .map(|p| (p.name.as_str(), p.tier))
        .collect();
    names.sort_by_key(|(n, _)| *n);
    assert_eq!(
        names,
        [
            ("a", AdminTier::Admin),
            ("b", AdminTier::Baseline),
            ("c", AdminTier::Admin)
        ]
    );
}

#[test]
fn one_priority_in_one_tier_is_ambiguous_across_kinds() {
    let loaded = load(
        r#"
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: a}
spec: {tier: Admin, priority: 5, subject: {namespaces: {}}}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: b}
spec: {priority: 5, subject: {namespaces: {}}}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: c}
spec: {tier: Baseline, priority: 5, subject: {namespaces: {}}}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: d}
spec: {tier: Baseline, priority: 5, subject: {namespaces: {}}}
"#,
    );
    let mut found: Vec<&str> = loaded
        .diags
        .sorted()
        .into_iter()
        .filter(|d| d.code == "ambiguous-priority")
        .map(|d| d.message.as_str())
        .collect();
    found.sort_unstable();
    assert_eq!(
        found,
        [
            "ClusterNetworkPolicies `c` and `d` share priority 5; their relative order is undefined",
            "ClusterNetworkPolicy `a` and AdminNetworkPolicy `b` share priority 5; their relative order is undefined",
        ]
    );
}

/// One document per policy group polc must not drop silently, and two it skips.
const UNKNOWN: &str = r#"
apiVersion: policy.networking.k8s.io/v1beta1
kind: NamespaceNetworkPolicy
metadata: {name: a}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicies
metadata: {name: b}
---
apiVersion: crd.projectcalico.org/v1
kind: NetworkPolicy
metadata: {name: c, namespace: x}
---
apiVersion: networking.k8s.io/v1
kind: ClusterNetworkPolicy
metadata: {name: d}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: e}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: f}
"#;

fn kind_findings(loaded: &Loaded) -> Vec<(Severity, &'static str, String)> {
    loaded
        .diags
        .sorted()
        .into_iter()
        .map(|d| (d.severity, d.code, d.message.clone()))
        .collect()
}

#[test]
fn unknown_kinds_of_policy_groups_are_errors_naming_kind_and_api_version() {
    let loaded = read(UNKNOWN, Options::default());
    let found = kind_findings(&loaded);
    let codes: Vec<(Severity, &str)> = found.iter().map(|(s, c, _)| (*s, *c)).collect();
    assert_eq!(
        codes,
        [
            (Severity::Error, "unknown-kind"),
            (Severity::Error, "unknown-kind"),
            (Severity::Error, "calico-crd"),
            (Severity::Error, "unknown-kind"),
        ],
        "{found:?}"
    );
    for (kind, api) in [
        ("NamespaceNetworkPolicy", "policy.networking.k8s.io/v1beta1"),
        ("GlobalNetworkPolicies", "projectcalico.org/v3"),
        ("NetworkPolicy", "crd.projectcalico.org/v1"),
        ("ClusterNetworkPolicy", "networking.k8s.io/v1"),
    ] {
        assert!(
            found
                .iter()
                .any(|(_, _, m)| m.contains(&format!("`{kind}`")) && m.contains(api)),
            "{kind} {api}: {found:?}"
        );
    }
    let helps: Vec<String> = loaded
        .diags
        .sorted()
        .into_iter()
        .filter_map(|d| d.help.clone())
        .collect();
    assert!(
        helps
            .iter()
            .any(|h| h == "did you mean `GlobalNetworkPolicy`?"),
        "{helps:?}"
    );
    assert!(
        helps
            .iter()
            .any(|h| h == "polc reads `ClusterNetworkPolicy` as `apiVersion: policy.networking.k8s.io/v1alpha2`"),
        "{helps:?}"
    );
    assert!(
        helps
            .iter()
            .any(|h| h.contains("pass --allow-unknown-kinds")),
        "{helps:?}"
    );
    // Only the non-policy kinds count as skipped.
    let skipped: Vec<&str> = loaded.skipped.keys().map(String::as_str).collect();
    assert_eq!(
        skipped,
        ["apps/v1/Deployment", "projectcalico.org/v3/BGPPeer"]
    );
}

#[test]
fn allowing_unknown_kinds_makes_them_warnings_and_skips_them() {
    let options = Options {
        allow_unknown_kinds: true,
    };
    let loaded = read(UNKNOWN, options);
    let found = kind_findings(&loaded);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found.iter().all(|(s, _, m)| *s == Severity::Warning
        && m.contains("--allow-unknown-kinds")
        && m.contains("not in the artifacts")));
    assert_eq!(loaded.skipped.len(), 6, "{:?}", loaded.skipped);
    // Without options the same input fails.
    let strict = load_sources({
        let mut s = Sources::default();
        s.add("t.yaml".into(), UNKNOWN.into());
        s
    });
    assert!(strict.diags.has_errors());
}

#[test]
fn the_flag_turns_the_exit_status_to_zero_on_every_command_that_reads_manifests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("u.yaml"), UNKNOWN).unwrap();
    for cmd in [&["check"][..], &["matrix"], &["graph"]] {
        let run = |allow: bool| {
            let mut c = common::polc();
            c.current_dir(dir.path()).args(cmd).arg("u.yaml");
            if allow {
                c.arg("--allow-unknown-kinds");
            }
            let o = c.output().unwrap();
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        };
        let (code, stderr) = run(false);
        assert_eq!(code, Some(1), "{cmd:?}: {stderr}");
        assert!(stderr.contains("error[unknown-kind]"), "{cmd:?}: {stderr}");
        let (code, stderr) = run(true);
        assert_eq!(code, Some(0), "{cmd:?} --allow-unknown-kinds: {stderr}");
        if cmd == ["check"] {
            assert!(stderr.contains("warning[unknown-kind]"), "{stderr}");
            assert!(stderr.contains("warning[calico-crd]"), "{stderr}");
        }
    }
}
