//! Names and text that reach an artifact. Every string from a manifest passes through
//! here: identifiers keep only a safe alphabet and are injective (two different name
//! tuples never give the same identifier), comments keep only printable characters
//! that cannot end a quoted string.
//!
//! Why [`ident`] is injective:
//! - A *plain* identifier is produced only when every part already is in the safe
//!   alphabet `[a-z0-9-]` and the whole fits in [`MAX_IDENT`]: then it is the parts
//!   joined with `.`, and since no part contains `.`, splitting at `.` gives the
//!   parts back. Two different tuples give two different plain identifiers.
//! - Every other tuple gets a *hashed* identifier: the cleaned, possibly cut text,
//!   then `_` and 64 bits of SHA-256 of the exact parts (length-prefixed, so the
//!   encoding of a tuple is itself unambiguous). `_` is not in the safe alphabet, so
//!   a hashed identifier never equals a plain one. Two hashed identifiers are equal
//!   only if their SHA-256 prefixes collide; the backend's name registry
//!   ([`Registry`]) checks every name it hands out against the tuple it came from,
//!   so even that case is a build error, never two objects sharing a name.
//!
//! Both forms are pure functions of the name, so they are stable across runs and a
//! small policy edit changes only the names of what was edited.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// Longest identifier polc emits (nftables allows 256 for chains and sets; iptables
/// chain names are shorter, and their backend shortens further).
pub const MAX_IDENT: usize = 200;

/// Hex digits of the hash in a hashed identifier (64 bits).
const HASH_HEX: usize = 16;

fn is_safe(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// SHA-256 of the length-prefixed parts, as `HASH_HEX` hex digits.
fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize()
        .iter()
        .take(HASH_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An identifier built from name parts (see the module doc for why it is injective).
/// The first part should be a fixed lowercase prefix (`pol`, `wl`, `sel`, ...), so
/// every identifier starts with a letter, as nft requires.
pub fn ident(parts: &[&str]) -> String {
    let plain = parts.join(".");
    let safe = parts
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(is_safe));
    if safe
        && plain.len() <= MAX_IDENT
        && plain
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
    {
        return plain;
    }
    let cleaned: String = parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    let c = c.to_ascii_lowercase();
                    if is_safe(c) { c } else { '-' }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(".");
    let keep: String = cleaned.chars().take(MAX_IDENT - HASH_HEX - 2).collect();
    let lead = if keep.starts_with(|c: char| c.is_ascii_alphabetic()) {
        ""
    } else {
        "x"
    };
    format!("{lead}{keep}_{}", digest(parts))
}

/// The names one artifact hands out, each with the exact key it was made from: a
/// second, different key for the same name is an error (the backstop of the
/// injectivity argument above).
#[derive(Debug, Default)]
pub struct Registry {
    keys: HashMap<String, String>,
}

impl Registry {
    /// Record that `name` stands for `key`; an error if it already stands for another.
    pub fn claim(&mut self, name: &str, key: &str) -> Result<(), String> {
        match self.keys.get(name) {
            Some(k) if k != key => Err(format!(
                "internal error: `{k}` and `{key}` would share the name `{name}`; please report this"
            )),
            Some(_) => Ok(()),
            None => {
                self.keys.insert(name.to_string(), key.to_string());
                Ok(())
            }
        }
    }
}

/// A comment that cannot break out of its quotes: printable ASCII only, no quotes or
/// backslashes, at most `max` characters.
pub fn comment(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic()
                && !matches!(c, '"' | '\\' | '\'' | '`' | ';' | '#' | '{' | '}' | '$')
                || c == ' '
            {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn identifiers_are_safe_stable_and_distinct() {
        assert_eq!(
            ident(&["pol", "gnp", "node-host-firewall", "in"]),
            "pol.gnp.node-host-firewall.in"
        );
        assert_eq!(ident(&["wl", "prod", "backend"]), "wl.prod.backend");
        let hostile = ident(&["pol", "x\"; flush ruleset; \""]);
        assert!(
            hostile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')),
            "{hostile}"
        );
        let long = "a".repeat(300);
        let (a, b) = (ident(&[&long, "1"]), ident(&[&long, "2"]));
        assert!(a.len() <= MAX_IDENT && a != b);
        assert_eq!(a, ident(&[&long, "1"]));
    }

    #[test]
    fn names_that_sanitise_alike_stay_apart() {
        let pairs = [
            (
                vec!["pol", "gnp", "allow.all", "in"],
                vec!["pol", "gnp", "allow-all", "in"],
            ),
            (
                vec!["wl", "ns", "web.1", "in"],
                vec!["wl", "ns", "web-1", "in"],
            ),
            (vec!["hep", "h.1", "in"], vec!["hep", "h-1", "in"]),
            (
                vec!["pol", "np", "x.y", "p", "in"],
                vec!["pol", "np", "x", "y.p", "in"],
            ),
            (vec!["prof", "kns.a", "in"], vec!["prof", "kns-a", "in"]),
            (vec!["sel", "A"], vec!["sel", "a"]),
        ];
        for (a, b) in pairs {
            assert_ne!(ident(&a), ident(&b), "{a:?} / {b:?}");
        }
    }

    #[test]
    fn registry_refuses_two_keys_for_one_name() {
        let mut r = Registry::default();
        assert!(r.claim("n", "a").is_ok());
        assert!(r.claim("n", "a").is_ok());
        assert!(r.claim("n", "b").is_err());
    }

    proptest! {
        /// Injective over names drawn from a small alphabet, so that sanitising
        /// collides often: distinct tuples, distinct identifiers.
        #[test]
        fn ident_is_injective(
            a in proptest::collection::vec("[a-cA.\\-_/1]{1,4}", 1..4),
            b in proptest::collection::vec("[a-cA.\\-_/1]{1,4}", 1..4),
        ) {
            let pa: Vec<&str> = std::iter::once("p").chain(a.iter().map(String::as_str)).collect();
            let pb: Vec<&str> = std::iter::once("p").chain(b.iter().map(String::as_str)).collect();
            let (x, y) = (ident(&pa), ident(&pb));
            prop_assert!(x.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')));
            prop_assert_eq!(a == b, x == y, "{:?} {:?} -> {} {}", pa, pb, x, y);
        }
    }

    #[test]
    fn comments_cannot_escape() {
        let c = comment("x\" ; flush ruleset # \\ {}\n$(rm)", 128);
        assert!(
            !c.contains('"')
                && !c.contains('\\')
                && !c.contains('\n')
                && !c.contains(';')
                && !c.contains('#')
        );
        assert_eq!(comment(&"y".repeat(300), 128).len(), 128);
    }
}
