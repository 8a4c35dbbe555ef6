//! The frontend's raw types: one serde struct per manifest object part, exactly as the
//! YAML spells it, with [`S`] (a value plus its source location) on every field a
//! diagnostic may point at.
//!
//! Policy kinds are strict: an unknown field is an error, because a typo must never
//! silently weaken a firewall. Inventory kinds and FelixConfiguration are *open*
//! objects: the fields polc reads are typed, a near miss of one of them is an error,
//! and the many fields Kubernetes and Felix own that never change policy are accepted
//! and ignored. See [`raw_struct!`].

pub mod calico;
pub mod inventory;
pub mod k8s;
pub mod meta;
pub mod scalar;
pub mod spanned;
pub mod strmap;
pub mod yaml11;

pub use spanned::{Field, S, ScalarProblem, take_scalar_problems, with_document};
pub use strmap::StrMap;

/// A key that a raw struct does not have, recorded while deserializing.
#[derive(Debug, Clone)]
pub struct UnknownKey {
    /// The key as written, with its location.
    pub key: S<String>,
    /// What was being read (`a GlobalNetworkPolicy spec`, ...).
    pub owner: &'static str,
    /// The keys the struct does have, for "did you mean".
    pub known: &'static [&'static str],
    /// Strict structs reject every unknown key; open structs only near misses.
    pub strict: bool,
}

thread_local! {
    static UNKNOWN: std::cell::RefCell<Vec<UnknownKey>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Record an unknown key (called by the [`raw_struct!`] deserializers).
pub fn record_unknown(key: UnknownKey) {
    UNKNOWN.with(|u| u.borrow_mut().push(key));
}

/// Take the unknown keys recorded on this thread since the last call.
pub fn take_unknown() -> Vec<UnknownKey> {
    UNKNOWN.with(|u| std::mem::take(&mut *u.borrow_mut()))
}

/// Define a raw struct and its `Deserialize` impl over a mapping.
///
/// Every field is listed with its YAML key and must be `Default` (required fields are
/// `Option`s, checked during lowering). Keys listed under `ignore` are accepted and
/// skipped. Any other key is recorded with [`record_unknown`] instead of failing the
/// document, so one typo does not hide the document's other problems: `strict`
/// structs report each one as an error, `open` structs (Kubernetes-owned objects)
/// only those that look like a typo of a field polc reads.
#[macro_export]
macro_rules! raw_struct {
    ($(#[$m:meta])* $mode:ident $name:ident ($owner:literal) {
        $($(#[$fm:meta])* $key:literal => $field:ident : $ty:ty,)*
    } $(ignore [$($ig:literal),* $(,)?])?) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        #[allow(missing_docs)]
        pub struct $name {
            $($(#[$fm])* pub $field: $ty,)*
        }

        impl $crate::frontend::raw::Field<'_> for $name {}

        impl $name {
            /// The keys this struct reads.
            pub const KNOWN: &'static [&'static str] = &[$($key),*];
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a mapping (", $owner, ")"))
                    }
                    fn visit_unit<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_none<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        #[allow(unused_mut)]
                        let mut out = $name::default();
                        // Field names are matched as written (never typed as YAML 1.1
                        // scalars): an unknown one is reported as such.
                        while let Some(key) = map.next_key::<serde_saphyr::Spanned<String>>()? {
                            let key = $crate::frontend::raw::S::from(key);
                            match key.value.as_str() {
                                $($key => out.$field = map.next_value()?,)*
                                $($($ig)|* => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                })?
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                    $crate::frontend::raw::record_unknown($crate::frontend::raw::UnknownKey {
                                        key,
                                        owner: $owner,
                                        known: $name::KNOWN,
                                        strict: $crate::raw_struct!(@strict $mode),
                                    });
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
    (@strict strict) => { true };
    (@strict open) => { false };
}
