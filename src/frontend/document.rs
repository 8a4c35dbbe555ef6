//! From one file's text to raw objects: split the YAML stream into documents, then
//! deserialize each document into a typed object chosen by its `apiVersion` and `kind`,
//! in one pass, whatever the key order.
//!
//! Each document is parsed on its own, so a type error in one document does not hide
//! the errors of the others. Dispatch happens inside the map visitor: once `apiVersion`
//! and `kind` have been read, `spec`/`status`/`items` deserialize straight into the
//! right type (keeping every value's location). A document that puts `spec` before
//! `kind` is parsed a second time with its kind known in advance.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DefaultMessageFormatter, MessageFormatter};

use super::kinds::{Kind, Resolution, resolve};
use super::raw::S;
use super::raw::calico::{
    FelixSpec, HostEndpointSpec, IpPoolSpec, NetworkSetSpec, PolicySpec, ProfileSpec, TierSpec,
};
use super::raw::inventory::{NodeStatus, OpenObject, PodSpec, PodStatus};
use super::raw::k8s::{AdminSpec, ClusterPolicySpec, NetworkPolicySpec};
use super::raw::meta::ObjectMeta;

/// One YAML document's place in its file.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// The document's text, from its `---` line (if any) to the next one.
    pub text: &'a str,
    /// Byte offset of `text` in the file.
    pub base: usize,
    /// 1-based line of `text`'s first line in the file.
    pub base_line: usize,
}

/// Split a YAML stream at its `---` document markers (a line starting with `---` followed
/// by a blank or the end of the line). The YAML spec forbids such a line inside any
/// scalar, so this split is exact, and it lets each document be parsed on its own.
pub fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let (mut start, mut start_line) = (0usize, 1usize);
    let (mut offset, mut line) = (0usize, 1usize);
    for l in text.split_inclusive('\n') {
        let is_marker = l.starts_with("---")
            && l[3..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        if is_marker && offset > start {
            chunks.push(Chunk {
                text: &text[start..offset],
                base: start,
                base_line: start_line,
            });
            start = offset;
            start_line = line;
        }
        offset += l.len();
        line += 1;
    }
    if offset > start || chunks.is_empty() {
        chunks.push(Chunk {
            text: &text[start..],
            base: start,
            base_line: start_line,
        });
    }
    chunks
}

/// The body of an object, by kind.
#[derive(Debug)]
#[allow(missing_docs)]
pub enum Body {
    Tier(TierSpec),
    Policy(PolicySpec),
    K8sPolicy(NetworkPolicySpec),
    HostEndpoint(HostEndpointSpec),
    NetworkSet(NetworkSetSpec),
    Profile(ProfileSpec),
    Felix(FelixSpec),
    IpPool(IpPoolSpec),
    Admin(AdminSpec),
    ClusterPolicy(ClusterPolicySpec),
    Namespace,
    Pod(PodSpec, PodStatus),
    Node(NodeStatus),
}

impl Body {
    fn default_for(kind: Kind) -> Body {
        match kind {
            Kind::Tier => Body::Tier(TierSpec::default()),
            Kind::GlobalNetworkPolicy
            | Kind::NetworkPolicy
            | Kind::StagedGlobalNetworkPolicy
            | Kind::StagedNetworkPolicy => Body::Policy(PolicySpec::default()),
            Kind::KubernetesNetworkPolicy | Kind::StagedKubernetesNetworkPolicy => {
                Body::K8sPolicy(NetworkPolicySpec::default())
            }
            Kind::HostEndpoint => Body::HostEndpoint(HostEndpointSpec::default()),
            Kind::GlobalNetworkSet | Kind::NetworkSet => {
                Body::NetworkSet(NetworkSetSpec::default())
            }
            Kind::Profile => Body::Profile(ProfileSpec::default()),
            Kind::FelixConfiguration => Body::Felix(FelixSpec::default()),
            Kind::IPPool => Body::IpPool(IpPoolSpec::default()),
            Kind::AdminNetworkPolicy | Kind::BaselineAdminNetworkPolicy => {
                Body::Admin(AdminSpec::default())
            }
            Kind::ClusterNetworkPolicy => Body::ClusterPolicy(ClusterPolicySpec::default()),
            Kind::Namespace => Body::Namespace,
            Kind::Pod => Body::Pod(PodSpec::default(), PodStatus::default()),
            Kind::Node => Body::Node(NodeStatus::default()),
        }
    }
}

/// A typed object of a kind polc models.
#[derive(Debug)]
pub struct Object {
    /// Which kind.
    pub kind: Kind,
    /// `kind:` as written (for its location).
    pub kind_name: S<String>,
    /// `metadata`.
    pub metadata: Option<S<ObjectMeta>>,
    /// `spec` and `status`, typed by kind.
    pub body: Body,
    /// Whether `spec` was present.
    pub has_spec: bool,
    /// Top-level keys that this kind does not have.
    pub unknown_keys: Vec<S<String>>,
}

/// What one document (or one `items` entry of a List) turned out to be.
#[derive(Debug)]
pub enum Parsed {
    /// A modelled object.
    Object(Box<Object>),
    /// A `List` (or `FooList`) and its items, or a document that is a sequence of
    /// objects.
    List(Vec<Parsed>),
    /// A kind polc does not model.
    Skipped {
        /// `apiVersion`, if given.
        api_version: Option<S<String>>,
        /// `kind`.
        kind: S<String>,
        /// Why it was skipped, and how bad that is.
        resolution: Resolution,
    },
    /// `spec` (or another kind-specific key) came before `kind`; parse again forced.
    Late(Decided),
    /// A mapping without `apiVersion`/`kind`, or not a mapping at all.
    NotAnObject {
        /// What is missing.
        problem: String,
        /// Where to point, if known.
        at: Option<S<String>>,
    },
    /// An empty document (only comments).
    Empty,
}

/// What a re-parse knows in advance about an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// A modelled kind.
    Kind(Kind),
    /// A List.
    List,
}

/// Kinds decided in advance for a re-parse, by path: `None` for the document itself,
/// `Some(i)` for item `i` of a List.
pub type Forced = BTreeMap<Option<usize>, Decided>;

/// Parse one document. A YAML or type error aborts only this document.
pub fn parse_document(chunk: &str) -> Result<Parsed, serde_saphyr::Error> {
    let mut forced = Forced::new();
    for _ in 0..3 {
        // What an earlier, abandoned pass recorded must not be reported twice.
        super::raw::take_unknown();
        super::raw::take_scalar_problems();
        let parsed = super::raw::with_document(chunk, || {
            serde_saphyr::with_deserializer_from_str_with_options(chunk, options(), |de| {
                ObjectSeed {
                    forced: &forced,
                    path: None,
                }
                .deserialize(de)
            })
        })?;
        let mut again = false;
        match &parsed {
            Parsed::Late(decided) => {
                forced.insert(None, *decided);
                again = true;
            }
            Parsed::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Parsed::Late(decided) = item {
                        forced.insert(Some(i), *decided);
                        again = true;
                    }
                }
            }
            _ => {}
        }
        if !again {
            return Ok(parsed);
        }
    }
    Ok(Parsed::NotAnObject {
        problem: "could not determine the kind of this document".into(),
        at: None,
    })
}

/// The plain message of a YAML error, without its location.
pub fn error_message(err: &serde_saphyr::Error) -> String {
    let msg = DefaultMessageFormatter.format_message(err);
    msg.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Parser options: no snippets (polc renders its own), explicit budgets sized for
/// large GitOps repositories, duplicate keys rejected (the default), null scalars
/// handed over as text like any other (scalars are typed by [`super::raw::spanned`],
/// which reads them as go-yaml v2 does).
pub(super) fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        null_as_string: true,
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::AsString,
        budget: serde_saphyr::budget! {
            max_documents: 4,
            max_nodes: 50_000_000,
            max_events: 100_000_000,
        },
    }
}

struct ObjectSeed<'a> {
    forced: &'a Forced,
    path: Option<usize>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Parsed;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object (a mapping with apiVersion and kind)")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Parsed, E> {
        Ok(Parsed::Empty)
    }

    fn visit_none<E: de::Error>(self) -> Result<Parsed, E> {
        Ok(Parsed::Empty)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let decided = self.forced.get(&self.path).copied();
        let forced_list = decided == Some(Decided::List);
        let forced = match decided {
            Some(Decided::Kind(k)) => Some(k),
            _ => None,
        };
        let mut api_version: Option<S<String>> = None;
        let mut kind_name: Option<S<String>> = None;
        let mut resolution: Option<Resolution> = forced.map(Resolution::Known);
        let mut metadata = None;
        let mut body = forced.map(Body::default_for);
        let mut has_spec = false;
        let mut items: Option<Vec<Parsed>> = None;
        let mut late = false;
        let mut unknown_keys = Vec::new();

        while let Some(key) = map.next_key::<serde_saphyr::Spanned<String>>()? {
            let key = S::from(key);
            match key.value.as_str() {
                "apiVersion" => api_version = Some(map.next_value()?),
                "kind" => kind_name = Some(map.next_value()?),
                "metadata" => metadata = Some(map.next_value()?),
                "items" if self.path.is_none() && (forced_list || is_list(&kind_name)) => {
                    items = Some(map.next_value_seed(ItemsSeed {
                        forced: self.forced,
                    })?);
                }
                other => {
                    if resolution.is_none()
                        && let (Some(a), Some(k)) = (&api_version, &kind_name)
                    {
                        let r = resolve(&a.value, &k.value);
                        if let Resolution::Known(kind) = r {
                            body = Some(Body::default_for(kind));
                        }
                        resolution = Some(r);
                    }
                    match (&mut body, other) {
                        (Some(b), "spec") => {
                            has_spec = true;
                            read_spec(b, &mut map)?;
                        }
                        (Some(Body::Pod(_, status)), "status") => *status = map.next_value()?,
                        (Some(Body::Node(status)), "status") => *status = map.next_value()?,
                        (Some(_), "status") => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        (Some(_), _) => {
                            map.next_value::<IgnoredAny>()?;
                            unknown_keys.push(key);
                        }
                        (None, _) => {
                            map.next_value::<IgnoredAny>()?;
                            if resolution.is_none() && matches!(other, "spec" | "status" | "items")
                            {
                                late = true;
                            }
                        }
                    }
                }
            }
        }

        let Some(kind) = kind_name else {
            return Ok(Parsed::NotAnObject {
                problem:
                    "this document has no `kind`; every manifest needs `apiVersion` and `kind`"
                        .into(),
                at: api_version,
            });
        };
        if let Some(items) = items {
            return Ok(Parsed::List(items));
        }
        if is_list(&Some(kind.clone())) && self.path.is_none() {
            // A List whose `items` came before `kind` (as `kubectl get -o json` prints).
            return Ok(if late {
                Parsed::Late(Decided::List)
            } else {
                Parsed::List(Vec::new())
            });
        }
        let Some(api) = &api_version else {
            return Ok(Parsed::NotAnObject {
                problem: format!("`kind: {}` has no `apiVersion`", kind.value),
                at: Some(kind),
            });
        };
        let resolution = resolution.unwrap_or_else(|| resolve(&api.value, &kind.value));
        match (resolution, body) {
            (Resolution::Known(k), _) if late => Ok(Parsed::Late(Decided::Kind(k))),
            (Resolution::Known(k), body) => Ok(Parsed::Object(Box::new(Object {
                kind: k,
                kind_name: kind,
                metadata,
                body: body.unwrap_or_else(|| Body::default_for(k)),
                has_spec,
                unknown_keys,
            }))),
            (resolution, _) => Ok(Parsed::Skipped {
                api_version,
                kind,
                resolution,
            }),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        // A document that is a sequence of resources: calicoctl reads it as a list
        // (`createResourcesFromBytes` in `calicoctl/calicoctl/resourcemgr/
        // resourcemgr.go` tries one object, then a slice of them).
        if self.path.is_none() {
            return ItemsSeed {
                forced: self.forced,
            }
            .visit_seq(seq)
            .map(Parsed::List);
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Parsed::NotAnObject {
            problem: "expected a Kubernetes object (a mapping with apiVersion and kind), found a sequence"
                .into(),
            at: None,
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Parsed, E> {
        Ok(Parsed::NotAnObject {
            problem: format!(
                "expected a Kubernetes object (a mapping with apiVersion and kind), found the scalar `{}`",
                v.chars().take(40).collect::<String>()
            ),
            at: None,
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Parsed, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Parsed, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Parsed, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Parsed, E> {
        self.visit_str(&v.to_string())
    }
}

fn is_list(kind: &Option<S<String>>) -> bool {
    kind.as_ref()
        .is_some_and(|k| k.value == "List" || k.value.ends_with("List"))
}

fn read_spec<'de, A: MapAccess<'de>>(body: &mut Body, map: &mut A) -> Result<(), A::Error> {
    match body {
        Body::Tier(s) => *s = map.next_value()?,
        Body::Policy(s) => *s = map.next_value()?,
        Body::K8sPolicy(s) => *s = map.next_value()?,
        Body::HostEndpoint(s) => *s = map.next_value()?,
        Body::NetworkSet(s) => *s = map.next_value()?,
        Body::Profile(s) => *s = map.next_value()?,
        Body::Felix(s) => *s = map.next_value()?,
        Body::IpPool(s) => *s = map.next_value()?,
        Body::Admin(s) => *s = map.next_value()?,
        Body::ClusterPolicy(s) => *s = map.next_value()?,
        Body::Pod(s, _) => *s = map.next_value()?,
        Body::Namespace | Body::Node(_) => {
            map.next_value::<OpenObject>()?;
        }
    }
    Ok(())
}

struct ItemsSeed<'a> {
    forced: &'a Forced,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = Vec<Parsed>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<Parsed>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = Vec<Parsed>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of objects")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<Parsed>, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Parsed>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element_seed(ObjectSeed {
            forced: self.forced,
            path: Some(out.len()),
        })? {
            out.push(item);
        }
        Ok(out)
    }
}

/// YAML's limit on an implicit (`key: value`) key, in characters.
const IMPLICIT_KEY_LIMIT: usize = 1024;

/// The first mapping key of `text` longer than YAML allows an implicit key to be
/// (1024 characters), as a byte range (quotes included). Parsers stop at such a key
/// with an error about what follows it (go-yaml v2, and so kubectl and calicoctl,
/// too), so polc points at the key itself.
pub fn long_key(text: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.len() > IMPLICIT_KEY_LIMIT
            && let Some((a, b)) = quoted_long_key(line).or_else(|| plain_long_key(line))
        {
            return Some((offset + a, offset + b));
        }
        offset += line.len();
    }
    None
}

/// A quoted string longer than the limit followed by `:` in `line`.
fn quoted_long_key(line: &str) -> Option<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let q = bytes[i];
        if q != b'"' && q != b'\'' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if q == b'"' => i += 2,
                b'\'' if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
                c if c == q => break,
                _ => i += 1,
            }
        }
        let end = (i + 1).min(bytes.len());
        let long = line[start..end].chars().count() > IMPLICIT_KEY_LIMIT + 2;
        if long && line[end..].trim_start().starts_with(':') {
            return Some((start, end));
        }
        i = end;
    }
    None
}

/// A plain `key:` longer than the limit at the start of `line` (after indentation
/// and sequence dashes).
fn plain_long_key(line: &str) -> Option<(usize, usize)> {
    let body = line.trim_start_matches([' ', '\t', '-']);
    let start = line.len() - body.len();
    let end = start
        + body
            .find(": ")
            .or_else(|| body.trim_end().strip_suffix(':').map(str::len))?;
    (line[start..end].chars().count() > IMPLICIT_KEY_LIMIT).then_some((start, end))
}
