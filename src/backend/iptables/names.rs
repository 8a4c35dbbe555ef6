//! iptables chain and ipset names: the kernel limits chain names to 28 characters
//! and set names to 31, so the render model's names are shortened, injectively.
//!
//! A model name that fits after the prefix is kept as is (the model's names are
//! already injective and in `[a-z0-9._-]`); a longer one keeps its first characters
//! and ends in `_` and 32 bits of its SHA-256, and the per-artifact registry refuses
//! a second meaning for any name handed out, so even a hash collision is a build
//! error, never two objects sharing a chain or set.

use sha2::{Digest, Sha256};

use crate::backend::names::Registry;

/// Longest iptables chain name (`XT_EXTENSION_MAXNAMELEN` - 1).
pub const MAX_CHAIN: usize = 28;

/// Longest ipset name polc gives: `IPSET_MAXNAMELEN` - 1 is 31, and a load fills
/// each set under its name with `tmp-` inserted after the prefix ([`TMP_PREFIX`]).
pub const MAX_SET: usize = 27;

/// Prefix of every chain polc owns.
pub const CHAIN_PREFIX: &str = "POLC-";

/// Prefix of every set polc owns.
pub const SET_PREFIX: &str = "polc-";

/// Prefix of the sets a load fills before swapping them in.
pub const TMP_PREFIX: &str = "polc-tmp-";

/// The names one artifact hands out.
#[derive(Default)]
pub struct Names {
    registry: Registry,
    clash: Option<String>,
}

impl Names {
    /// The chain name of model chain `name`.
    pub fn chain(&mut self, name: &str) -> String {
        self.short(CHAIN_PREFIX, name, MAX_CHAIN, "chain")
    }

    /// The ipset name of model set `name`.
    pub fn set(&mut self, name: &str) -> String {
        self.short(SET_PREFIX, name, MAX_SET, "set")
    }

    /// The first clash, if any (an internal error).
    pub fn clash(&mut self) -> Option<String> {
        self.clash.take()
    }

    fn short(&mut self, prefix: &str, name: &str, max: usize, what: &str) -> String {
        let whole = format!("{prefix}{name}");
        let short = if whole.len() <= max {
            whole
        } else {
            let digest = Sha256::digest(name.as_bytes());
            let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
            let keep = max - prefix.len() - hash.len() - 1;
            let head: String = name.chars().take(keep).collect();
            format!("{prefix}{head}_{hash}")
        };
        if let Err(e) = self.registry.claim(&short, &format!("{what} {name}")) {
            self.clash.get_or_insert(e);
        }
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_stay_apart() {
        let mut n = Names::default();
        assert_eq!(n.chain("wl.prod.web.in"), "POLC-wl.prod.web.in");
        let a = n.chain("pol.gnp.a-very-long-policy-name-number-one.in");
        let b = n.chain("pol.gnp.a-very-long-policy-name-number-two.in");
        assert!(
            a.len() <= MAX_CHAIN && b.len() <= MAX_CHAIN && a != b,
            "{a} {b}"
        );
        let s = n.set("sel.app-web-and-more-words.1a2b3c4d.v4");
        assert!(s.len() <= MAX_SET && s.starts_with(SET_PREFIX), "{s}");
        assert!(!s.starts_with(TMP_PREFIX));
        assert!(n.clash().is_none());
    }
}
