//! Lowering: raw objects → validated IR.
//!
//! Each object is checked and converted on its own ([`Lowerer::object`]); problems
//! become diagnostics and the object (or the offending part) is dropped, so one run
//! reports every problem. [`Lowerer::finish`] then does what needs the whole input:
//! duplicates, references between objects (tiers, profiles, nodes, namespaces),
//! built-in tiers and profiles, the labels Calico's selectors see, and the sort into
//! Calico's evaluation order.

mod addresses;
mod admin;
mod admin_calico;
mod allow;
mod calico;
mod cluster_policy;
mod felix;
mod finish;
mod interfaces;
mod inventory;
mod k8s;
mod rule;
mod staged;
mod values;

use std::collections::{BTreeMap, HashSet};

use serde_saphyr::Location;

use super::document::{Body, Object};
use super::kinds::Kind;
use super::raw::meta::ObjectMeta;
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::ir::{AdminPolicy, HostEndpoint, Namespace, NetworkSet, Node, Policy, Profile, Tier};
use crate::source::{SourceId, Sources, Span};

pub use values::{is_dns_label, is_dns_subdomain};

/// Where the object being lowered came from, and where its diagnostics go.
pub struct Ctx<'a> {
    sources: &'a Sources,
    file: SourceId,
    base: usize,
    base_line: usize,
    diags: &'a mut Diagnostics,
}

impl<'a> Ctx<'a> {
    /// A context for one document of a file.
    pub fn new(
        sources: &'a Sources,
        file: SourceId,
        base: usize,
        base_line: usize,
        diags: &'a mut Diagnostics,
    ) -> Ctx<'a> {
        Ctx {
            sources,
            file,
            base,
            base_line,
            diags,
        }
    }

    /// Record a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn file_text(&self) -> &str {
        &self.sources.get(self.file).text
    }

    /// The file span of a location inside this document.
    pub fn span(&self, loc: &Location) -> Span {
        if loc.line() == 0 {
            return Span::new(self.file, self.base, self.base);
        }
        let sp = loc.span();
        if let Some(off) = sp.byte_offset() {
            let start = self.base + off as usize;
            let len = sp.byte_len().unwrap_or(0) as usize;
            return Span::new(self.file, start, start + len);
        }
        let file = self.sources.get(self.file);
        let start = file.offset_of(
            self.base_line + loc.line() as usize - 1,
            loc.column() as usize,
        );
        Span::new(self.file, start, start)
    }

    /// The span of byte `offset` inside a string scalar's content (skipping an opening
    /// quote), for errors inside selectors.
    pub fn string_content_span(&self, loc: &Location, offset: usize) -> Span {
        let s = self.span(loc);
        let text = self.file_text();
        let quoted = matches!(text.as_bytes().get(s.start as usize), Some(b'"' | b'\''));
        let block = matches!(text.as_bytes().get(s.start as usize), Some(b'|' | b'>'));
        if block {
            return Span::new(self.file, s.start as usize, s.start as usize + 1);
        }
        let start = (s.start as usize + usize::from(quoted) + offset).min(text.len());
        let start = (start..=text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        Span::new(self.file, start, start)
    }
}

/// Resource identity for duplicate detection: kind family, namespace, name.
type Key = (&'static str, Option<String>, String);

/// Everything lowered so far, before the whole-input checks.
#[derive(Default)]
pub struct Lowerer {
    pub(crate) diags: Diagnostics,
    tiers: Vec<Tier>,
    policies: Vec<(Policy, Option<Span>)>,
    profiles: Vec<Profile>,
    host_endpoints: Vec<HostEndpoint>,
    network_sets: Vec<NetworkSet>,
    admin_policies: Vec<AdminPolicy>,
    namespaces: Vec<Namespace>,
    pods: Vec<inventory::PendingPod>,
    nodes: Vec<Node>,
    felix: Vec<felix::Felix>,
    ip_pools: Vec<crate::ir::IpPool>,
    seen: BTreeMap<Key, Span>,
    /// Values already reported as mistyped: lowering's findings there are dropped.
    poisoned: HashSet<(SourceId, u32)>,
    /// How many documents of each skipped kind were seen.
    pub skipped: BTreeMap<String, usize>,
    /// The YAML document being lowered (the scope of a `polc.dev/allow`).
    pub document: Option<Span>,
    /// How the run reads manifests.
    pub options: crate::frontend::Options,
}

/// The identity of an object after metadata checks.
pub struct Named {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (defaulted for namespaced kinds, `None` otherwise).
    pub namespace: Option<String>,
    /// The span that best names the object (`metadata.name`, else `kind:`).
    pub span: Span,
}

impl Lowerer {
    /// Lower one typed object.
    pub fn object(
        &mut self,
        sources: &Sources,
        file: SourceId,
        base: usize,
        base_line: usize,
        obj: &Object,
    ) {
        let mut diags = Diagnostics::default();
        {
            let mut ctx = Ctx::new(sources, file, base, base_line, &mut diags);
            self.object_in(&mut ctx, obj);
        }
        for d in diags.into_vec() {
            let at = d.span.map(|s| (s.file, s.start));
            if d.severity != Severity::Error || at.is_none_or(|a| !self.poisoned.contains(&a)) {
                self.diags.push(d);
            }
        }
    }

    /// Keep a Network Policy API policy as written, and its Calico form among the
    /// policies.
    fn admin_policy(&mut self, ctx: &mut Ctx<'_>, meta: &ObjectMeta, a: AdminPolicy) {
        let mut diags = Vec::new();
        let mut p = admin_calico::to_calico(&a, &mut diags);
        diags.into_iter().for_each(|d| ctx.push(d));
        p.allow = self.allowances(ctx, meta, a.span);
        self.policies.push((p, None));
        self.admin_policies.push(a);
    }

    fn allowances(&self, ctx: &mut Ctx<'_>, meta: &ObjectMeta, at: Span) -> Vec<crate::ir::Allow> {
        let scope = self.document.filter(|d| d.file == at.file).unwrap_or(at);
        allow::allowances(ctx, &meta.annotations, scope)
    }

    /// Mark a value whose type was already reported: an error of the lowering at the
    /// same place would only restate it.
    pub fn poison(&mut self, span: Span) {
        self.poisoned.insert((span.file, span.start));
    }

    fn object_in(&mut self, ctx: &mut Ctx<'_>, obj: &Object) {
        for key in &obj.unknown_keys {
            let d = ctx.error_at(
                key,
                "unknown-field",
                format!("unknown field `{}` in a {}", key.value, obj.kind.name()),
            );
            ctx.push(d.help("a manifest has `apiVersion`, `kind`, `metadata` and `spec`"));
        }
        let meta_default = ObjectMeta::default();
        let meta = obj.metadata.as_ref().map_or(&meta_default, |m| &m.value);
        let Some(named) = self.named(ctx, obj) else {
            return;
        };
        let family = family(obj.kind);
        let key: Key = (family, named.namespace.clone(), named.name.clone());
        if let Some(first) = self.seen.get(&key) {
            let at = ctx.sources.locate(*first).to_string();
            ctx.push(
                Diagnostic::error(
                    "duplicate-resource",
                    format!(
                        "{} `{}` is defined twice (first at {at})",
                        obj.kind.name(),
                        display_name(&named)
                    ),
                )
                .at(named.span)
                .help("remove one of them, or rename it"),
            );
            return;
        }
        self.seen.insert(key, named.span);
        let labels = ctx.labels(&meta.labels);
        match &obj.body {
            Body::Tier(spec) => {
                if let Some(t) = calico::tier(ctx, &named, spec) {
                    self.tiers.push(t);
                }
            }
            Body::Policy(spec) => {
                if let Some(mut p) = calico::policy(ctx, obj.kind, &named, spec) {
                    p.0.allow = self.allowances(ctx, meta, named.span);
                    self.policies.push(p);
                }
            }
            Body::K8sPolicy(spec) => {
                if let Some(mut p) = k8s::network_policy(ctx, obj.kind, &named, spec) {
                    p.allow = self.allowances(ctx, meta, named.span);
                    self.policies.push((p, None));
                }
            }
            Body::Profile(spec) => {
                if let Some(p) = calico::profile(ctx, &named, spec) {
                    self.profiles.push(p);
                }
            }
            Body::HostEndpoint(spec) => {
                if let Some(h) = inventory::host_endpoint(ctx, &named, labels, spec) {
                    self.host_endpoints.push(h);
                }
            }
            Body::NetworkSet(spec) => {
                if let Some(n) = inventory::network_set(ctx, &named, labels, spec) {
                    self.network_sets.push(n);
                }
            }
            Body::Felix(spec) => {
                if let Some(f) = felix::felix(ctx, &named, spec) {
                    self.felix.push(f);
                }
            }
            Body::IpPool(spec) => {
                if let Some(p) = felix::ip_pool(ctx, &named, spec) {
                    self.ip_pools.push(p);
                }
            }
            Body::Admin(spec) => {
                if let Some(a) = admin::admin_policy(ctx, obj.kind, &named, spec) {
                    self.admin_policy(ctx, meta, a);
                }
            }
            Body::ClusterPolicy(spec) => {
                if let Some(a) = cluster_policy::cluster_policy(ctx, &named, spec) {
                    self.admin_policy(ctx, meta, a);
                }
            }
            Body::Namespace => {
                let mut labels = labels;
                labels.insert("kubernetes.io/metadata.name".into(), named.name.clone());
                self.namespaces.push(Namespace {
                    name: named.name,
                    labels,
                    span: Some(named.span),
                });
            }
            Body::Pod(spec, status) => {
                if let Some(p) = inventory::pod(ctx, &named, labels, spec, status) {
                    self.pods.push(p);
                }
            }
            Body::Node(status) => {
                let addresses = inventory::node_addresses(ctx, status);
                self.nodes.push(Node {
                    name: named.name,
                    labels,
                    addresses,
                    span: named.span,
                });
            }
        }
    }

    /// Check `metadata.name` / `metadata.namespace` for the object's kind.
    fn named(&mut self, ctx: &mut Ctx<'_>, obj: &Object) -> Option<Named> {
        let kind_span = ctx.span(&obj.kind_name.referenced);
        let Some(meta) = &obj.metadata else {
            ctx.push(
                Diagnostic::error(
                    "missing-field",
                    format!("{} has no `metadata`", obj.kind.name()),
                )
                .at(kind_span)
                .help("add `metadata: {name: ...}`"),
            );
            return None;
        };
        let Some(name) = &meta.value.name else {
            ctx.push(
                Diagnostic::error(
                    "missing-field",
                    format!("{} has no `metadata.name`", obj.kind.name()),
                )
                .at(ctx.span(&meta.referenced))
                .help("every resource needs a name"),
            );
            return None;
        };
        let span = ctx.span(&name.referenced);
        let (name_ok, what) = values::name_rule(obj.kind, &name.value);
        if !name_ok {
            ctx.push(
                Diagnostic::error(
                    "invalid-name",
                    format!("`{}` is not a valid {} name", name.value, obj.kind.name()),
                )
                .at(span)
                .help(format!("the name must be {what}")),
            );
            return None;
        }
        let namespace = if obj.kind.is_namespaced() {
            match &meta.value.namespace {
                Some(ns) if is_dns_label(&ns.value) => Some(ns.value.clone()),
                Some(ns) => {
                    let d = ctx.error_at(
                        ns,
                        "invalid-name",
                        format!("`{}` is not a valid namespace name", ns.value),
                    );
                    ctx.push(
                        d.help("namespace names are DNS labels: lowercase letters, digits and `-`"),
                    );
                    return None;
                }
                None => {
                    ctx.push(
                        Diagnostic::warning(
                            "default-namespace",
                            format!("{} `{}` has no `metadata.namespace`; polc assumes `default`", obj.kind.name(), name.value),
                        )
                        .at(span)
                        .help("set `metadata.namespace` so the manifest does not depend on kubectl's context"),
                    );
                    Some("default".to_string())
                }
            }
        } else {
            if let Some(ns) = &meta.value.namespace {
                ctx.push(
                    Diagnostic::warning(
                        "ignored-namespace",
                        format!(
                            "{} is cluster-scoped; `metadata.namespace` is ignored",
                            obj.kind.name()
                        ),
                    )
                    .at(ctx.span(&ns.referenced))
                    .help("remove `metadata.namespace`"),
                );
            }
            None
        };
        Some(Named {
            name: name.value.clone(),
            namespace,
            span,
        })
    }
}

fn display_name(n: &Named) -> String {
    match &n.namespace {
        Some(ns) => format!("{ns}/{}", n.name),
        None => n.name.clone(),
    }
}

/// Kinds that share one name space for duplicate detection.
fn family(kind: Kind) -> &'static str {
    match kind {
        Kind::NetworkPolicy => "NetworkPolicy",
        Kind::KubernetesNetworkPolicy => "KubernetesNetworkPolicy",
        k => k.name(),
    }
}
