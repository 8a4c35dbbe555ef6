//! Scalars that Kubernetes and Calico accept as either a number or a string: ports
//! (`80`, `"80:90"`, `"http"`) and protocols (`TCP`, `6`).

use serde::Deserialize;
use serde::de::{self, Visitor};

/// A YAML scalar that may be a number or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumOrString {
    /// An integer as written (may be out of range; validation decides).
    Num(i64),
    /// A string.
    Str(String),
}

impl<'de> Deserialize<'de> for NumOrString {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumOrString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumOrString, E> {
                Ok(NumOrString::Num(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumOrString, E> {
                Ok(NumOrString::Num(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NumOrString, E> {
                Ok(NumOrString::Str(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
