//! Names and text that reach an artifact. Every string from a manifest passes through
//! here: identifiers keep only a safe alphabet (and stay unique by a hash of the
//! *name*, never of content), comments keep only printable characters that cannot
//! end a quoted string.

use sha2::{Digest, Sha256};

/// Longest identifier polc emits (nftables allows 256 for chains and sets; iptables
/// chain names are shorter, and their backend shortens further).
pub const MAX_IDENT: usize = 200;

/// An identifier built from name parts: each part keeps `[a-z0-9-]`, parts are joined
/// with `.`, and over-long results are cut and suffixed with a short hash of the full
/// name, so distinct names stay distinct and the same name always maps the same way.
pub fn ident(parts: &[&str]) -> String {
    let cleaned: Vec<String> = parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect()
        })
        .collect();
    let full = cleaned.join(".");
    if full.len() <= MAX_IDENT && full.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return full;
    }
    let digest = Sha256::digest(parts.join("\u{0}").as_bytes());
    let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let keep: String = full.chars().take(MAX_IDENT - 12).collect();
    format!("x{keep}.{hash}")
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
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
            "{hostile}"
        );
        let long = "a".repeat(300);
        let (a, b) = (ident(&[&long, "1"]), ident(&[&long, "2"]));
        assert!(a.len() <= MAX_IDENT + 1 && a != b);
        assert_eq!(a, ident(&[&long, "1"]));
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
