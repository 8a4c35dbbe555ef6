//! [`StrMap`]: a mapping of text to text (labels, annotations, `matchLabels`), every
//! key and value with its place and typed as kubectl and calicoctl type it.
//!
//! `sigs.k8s.io/yaml` turns a non-string key into text (`convertToJSONableObject`: an
//! integer in decimal, a float by `FormatFloat(f, 'g', -1, 32)`, a boolean as
//! `true`/`false`) and rejects a null key; so the key `yes:` is the label `true` and
//! `017:` the label `15` upstream. Such keys are reported like any mistyped scalar.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::spanned::{Field, Finding, Raw, S, Seen, report, seen, text_from};
use super::yaml11::{Resolved, go_format_float32};

/// Key/value pairs in the order written (YAML forbids duplicate keys).
#[derive(Debug, Clone, Default)]
pub struct StrMap(pub Vec<(S<String>, S<String>)>);

impl StrMap {
    /// As a plain map.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect()
    }

    /// The pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&S<String>, &S<String>)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Field<'_> for StrMap {}

/// A key's text as `sigs.k8s.io/yaml` makes it, and what to report.
fn key_from(s: &Seen<'_>) -> (String, Option<(String, String)>) {
    let upstream = match s.resolved {
        Resolved::Str(v) => return (v.to_string(), None),
        Resolved::Null => {
            return (
                String::new(),
                Some((
                    format!(
                        "the key `{}` is read as null by kubectl and calicoctl, which reject a null key",
                        s.text
                    ),
                    format!("quote it: \"{}\"", s.text),
                )),
            );
        }
        Resolved::Bool(b) => b.to_string(),
        Resolved::Int(n) => n.to_string(),
        Resolved::Float(f) if f == f64::INFINITY => ".inf".into(),
        Resolved::Float(f) if f == f64::NEG_INFINITY => "-.inf".into(),
        Resolved::Float(f) if f.is_nan() => ".nan".into(),
        Resolved::Float(f) => go_format_float32(f),
    };
    if upstream == s.text {
        return (upstream, None);
    }
    let problem = (
        format!(
            "the key `{}` is read as {} {}, so the key is `{upstream}`",
            s.text,
            s.reading(),
            s.readers()
        ),
        format!("quote it to keep the text: \"{}\"", s.text),
    );
    (s.text.to_string(), Some(problem))
}

struct Entry {
    text: String,
    at: Location,
}

fn read_key(k: &Spanned<Raw<String>>) -> (Entry, Option<(String, String)>) {
    seen(&k.referenced, &k.value.0, k.value.1, |s| {
        let (text, problem) = key_from(s);
        let entry = Entry {
            text,
            at: k.referenced,
        };
        (entry, problem)
    })
}

fn read_value(v: &Spanned<Raw<String>>) -> Entry {
    let (text, problem) = seen(&v.referenced, &v.value.0, v.value.1, text_from);
    if let Some((finding, message, help)) = problem {
        report(&v.referenced, finding, message, help);
    }
    Entry {
        text,
        at: v.referenced,
    }
}

impl<'de> Deserialize<'de> for StrMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StrMap, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of strings to strings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<StrMap, E> {
                Ok(StrMap::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<StrMap, E> {
                Ok(StrMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrMap, A::Error> {
                let mut out: Vec<(Entry, Entry)> = Vec::new();
                while let Some(k) = map.next_key::<Spanned<Raw<String>>>()? {
                    let v = map.next_value::<Spanned<Raw<String>>>()?;
                    let (key, problem) = read_key(&k);
                    let value = read_value(&v);
                    if let Some((message, help)) = problem {
                        report(&key.at, Finding::Type, message, help);
                    }
                    out.push((key, value));
                }
                let s = |e: Entry| S {
                    value: e.text,
                    referenced: e.at,
                };
                Ok(StrMap(out.into_iter().map(|(k, v)| (s(k), s(v))).collect()))
            }
        }
        d.deserialize_any(V)
    }
}
