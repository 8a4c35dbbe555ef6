//! The frontend's raw types: one serde struct per manifest object part, exactly as the
//! YAML spells it, with [`S`] (a value plus its source location) on every field a
//! diagnostic may point at.
//!
//! Policy kinds are strict (`deny_unknown_fields`): a typo must never silently weaken
//! a firewall. Inventory kinds and FelixConfiguration are *open* objects (see
//! [`open_struct!`]): the fields polc reads are typed, a near miss of one of them is an
//! error, and the many fields Kubernetes and Felix own that never change policy are
//! accepted and ignored.

use serde::Deserialize;

pub mod calico;
pub mod inventory;
pub mod k8s;
pub mod meta;
pub mod scalar;

/// A value with the location it was read from (relative to its YAML document).
pub type S<T> = serde_saphyr::Spanned<T>;

/// A struct whose unknown fields are collected instead of rejected.
///
/// Generates the struct with the listed fields (each `Default`) plus `unknown`, the
/// keys that are not listed, and a `Deserialize` impl that reads a mapping.
#[macro_export]
macro_rules! open_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* $key:literal => $field:ident : $ty:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[$fm])* pub $field: $ty,)*
            /// Keys that polc does not model, with their locations.
            pub unknown: Vec<$crate::frontend::raw::S<String>>,
        }

        impl $name {
            /// The keys polc models, for "did you mean" hints.
            pub const KNOWN: &'static [&'static str] = &[$($key),*];
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a mapping (", stringify!($name), ")"))
                    }
                    fn visit_unit<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_none<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<$crate::frontend::raw::S<String>>()? {
                            match key.value.as_str() {
                                $($key => out.$field = map.next_value()?,)*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                    out.unknown.push(key);
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

/// A field that is accepted and ignored (status blocks of policy kinds, and so on).
#[derive(Debug, Default, Deserialize)]
pub struct Ignored(#[allow(dead_code)] serde::de::IgnoredAny);
