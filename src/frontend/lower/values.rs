//! Validation of the scalar values manifests are made of: names, labels, CIDRs, IPs,
//! ports, protocols and selectors. Each check reports a diagnostic at the value's
//! location and returns `None` when the value is unusable.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::Ctx;
use crate::diag::Diagnostic;
use crate::frontend::kinds::Kind;
use crate::frontend::raw::scalar::NumOrString;
use crate::frontend::raw::{S, StrMap};
use crate::ir::{PortMatch, PortRange, Protocol};
use crate::selector::{self, Expr};
use crate::source::Span;

/// Longest selector Calico's CRDs accept.
const MAX_SELECTOR_LEN: usize = 1024;
/// Most CIDRs a rule's `nets`/`notNets` may list.
pub const MAX_NETS: usize = 256;
/// Most entries a rule's `ports`/`notPorts` may list.
pub const MAX_PORTS: usize = 50;

/// Report a list that is longer than Calico's CRD allows.
pub fn check_len<T>(ctx: &mut Ctx<'_>, list: &S<Vec<T>>, max: usize, what: &str) -> bool {
    if list.value.len() <= max {
        return true;
    }
    let d = ctx.error_at(
        list,
        "too-many-items",
        format!(
            "`{what}` lists {} entries; Calico allows at most {max}",
            list.value.len()
        ),
    );
    ctx.push(d.help("use a (Global)NetworkSet for long address lists, or split the rule"));
    false
}

/// Whether `s` is a DNS-1123 label: 1–63 of `[a-z0-9-]`, alphanumeric at both ends.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Whether `name` is valid for `kind` (Calico's `validateObjectMeta` and its
/// per-kind name regexes), and the rule to quote when it is not.
pub fn name_rule(kind: Kind, name: &str) -> (bool, &'static str) {
    const LABEL: &str = "a DNS label: at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit";
    const SUBDOMAIN: &str =
        "a DNS subdomain: lowercase letters, digits, `-` and `.`, at most 253 characters";
    match kind {
        Kind::Tier | Kind::Namespace => (is_dns_label(name), LABEL),
        Kind::GlobalNetworkPolicy | Kind::StagedGlobalNetworkPolicy => (
            is_dns_subdomain(name) && name.matches('.').count() <= 1,
            "at most two DNS labels joined by one `.` (lowercase letters, digits and `-`)",
        ),
        Kind::NetworkPolicy | Kind::StagedNetworkPolicy => {
            let knp = ["knp.default.", "ossg.default."]
                .iter()
                .any(|p| name.strip_prefix(p).is_some_and(is_dns_subdomain));
            (
                knp || (is_dns_subdomain(name) && name.matches('.').count() <= 1),
                "at most two DNS labels joined by one `.` (lowercase letters, digits and `-`)",
            )
        }
        _ => (is_dns_subdomain(name), SUBDOMAIN),
    }
}

/// Kubernetes' `IsValidPortName` (IANA service name): 1–15 of `[a-z0-9-]`, at least
/// one letter, no leading, trailing or doubled `-`.
pub fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// How strictly a CIDR field is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CidrRule {
    /// Calico rule `nets`: a prefix is required and host bits are an error.
    Strict,
    /// Kubernetes `ipBlock`, admin policy `networks`: a prefix is required; host bits
    /// are accepted (the API server only warns) and truncated, with a warning.
    Prefix,
    /// Network sets and failsafe nets: a bare address is a /32 or /128; host bits are
    /// truncated with a warning.
    Loose,
}

/// Whether `s` is a Kubernetes qualified name segment: 1–63 of `[A-Za-z0-9-_.]`,
/// alphanumeric at both ends.
fn is_qualified_segment(s: &str) -> bool {
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && ends_ok(s.chars().next())
        && ends_ok(s.chars().last())
}

/// `text` quoted for a message: at most 64 characters, with its length when cut.
fn quoted(text: &str) -> String {
    let n = text.chars().count();
    if n <= 64 {
        return format!("`{text}`");
    }
    let head: String = text.chars().take(40).collect();
    format!("`{head}…` ({n} characters)")
}

/// Why a label key is invalid, if it is.
pub fn label_key_problem(key: &str) -> Option<String> {
    let problem = key_problem(key)?;
    Some(problem.replace(&format!("`{key}`"), &quoted(key)))
}

fn key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns_subdomain(p)
    {
        return Some(format!(
            "label key `{key}` has an invalid prefix `{p}`: it must be a DNS subdomain \
             (lowercase letters, digits, `-` and `.`, at most 253 characters)"
        ));
    }
    if !is_qualified_segment(name) {
        return Some(format!(
            "label key `{key}` is invalid: the name part must be 1-63 characters of letters, \
             digits, `-`, `_` and `.`, starting and ending with a letter or digit"
        ));
    }
    None
}

/// Why a label value is invalid, if it is.
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() || is_qualified_segment(value) {
        None
    } else {
        Some(format!(
            "label value {} is invalid: it must be empty or 1-63 characters of letters, \
             digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            quoted(value)
        ))
    }
}

impl Ctx<'_> {
    /// Validate a label map; returns it (with its invalid entries too).
    pub fn labels(&mut self, labels: &Option<S<StrMap>>) -> BTreeMap<String, String> {
        let Some(l) = labels else {
            return BTreeMap::new();
        };
        self.check_labels(&l.value);
        l.value.to_map()
    }

    /// Report every invalid key and value of a label map, each at its place; false
    /// when there was one.
    pub fn check_labels(&mut self, labels: &StrMap) -> bool {
        let mut ok = true;
        for (k, v) in labels.iter() {
            for (s, problem) in [
                (k, label_key_problem(&k.value)),
                (v, label_value_problem(&v.value)),
            ] {
                if let Some(p) = problem {
                    let d = self.error_at(s, "invalid-label", p);
                    self.push(d);
                    ok = false;
                }
            }
        }
        ok
    }

    /// Parse a CIDR under `rule`; the result is truncated to its network address.
    pub fn cidr(&mut self, s: &S<String>, rule: CidrRule) -> Option<IpNet> {
        let span = self.span(&s.referenced);
        let text = s.value.trim();
        let net = match IpNet::from_str(text) {
            Ok(n) => n,
            Err(_) => match IpAddr::from_str(text) {
                Ok(a) if rule == CidrRule::Loose => IpNet::from(a),
                Ok(a) => {
                    let full = IpNet::from(a);
                    self.push(
                        Diagnostic::error(
                            "invalid-cidr",
                            format!("`{}` is an address, not a CIDR", s.value),
                        )
                        .at(span)
                        .help(format!("write `{full}`")),
                    );
                    return None;
                }
                Err(_) => {
                    self.push(
                        Diagnostic::error("invalid-cidr", format!("`{}` is not a valid CIDR", s.value))
                            .at(span)
                            .help("write an IPv4 or IPv6 network such as `10.0.0.0/8` or `fd00::/64`, or a single address"),
                    );
                    return None;
                }
            },
        };
        let trunc = net.trunc();
        if trunc != net && rule == CidrRule::Strict {
            self.push(
                Diagnostic::error("invalid-cidr", format!("CIDR `{net}` has host bits set"))
                    .at(span)
                    .help(format!("Calico rejects it; write `{trunc}`")),
            );
            return None;
        }
        if trunc != net {
            self.push(
                Diagnostic::warning(
                    "cidr-host-bits",
                    format!("CIDR `{net}` has host bits set; it means `{trunc}`"),
                )
                .at(span)
                .help(format!("write `{trunc}`")),
            );
        }
        Some(trunc)
    }

    /// Parse a list of CIDRs, dropping the invalid ones.
    pub fn cidrs(&mut self, list: &[S<String>], rule: CidrRule) -> Vec<IpNet> {
        list.iter().filter_map(|s| self.cidr(s, rule)).collect()
    }

    /// Parse an IP address (no prefix).
    pub fn ip(&mut self, s: &S<String>, what: &str) -> Option<IpAddr> {
        match IpAddr::from_str(s.value.trim()) {
            Ok(a) => Some(a),
            Err(_) => {
                let span = self.span(&s.referenced);
                self.push(
                    Diagnostic::error(
                        "invalid-ip",
                        format!("{what} `{}` is not a valid IP address", s.value),
                    )
                    .at(span),
                );
                None
            }
        }
    }

    /// A port number 1–65535.
    pub fn port_number(&mut self, n: i64, span: Span, what: &str) -> Option<u16> {
        match u16::try_from(n) {
            Ok(p) if p >= 1 => Some(p),
            _ => {
                self.push(
                    Diagnostic::error("invalid-port", format!("{what} {n} is out of range"))
                        .at(span)
                        .help("ports are 1-65535"),
                );
                None
            }
        }
    }

    /// A Calico port item: a number, `"lo:hi"`, or a named port.
    pub fn calico_port(&mut self, p: &S<NumOrString>) -> Option<PortMatch> {
        let span = self.span(&p.referenced);
        match &p.value {
            NumOrString::Num(n) => self
                .port_number(*n, span, "port")
                .map(|x| PortMatch::Range(PortRange::single(x))),
            NumOrString::Str(s) => {
                if let Ok(n) = s.parse::<i64>() {
                    return self
                        .port_number(n, span, "port")
                        .map(|x| PortMatch::Range(PortRange::single(x)));
                }
                if let Some((lo, hi)) = s.split_once(':') {
                    let (Ok(lo), Ok(hi)) = (lo.trim().parse::<i64>(), hi.trim().parse::<i64>())
                    else {
                        self.push(
                            Diagnostic::error(
                                "invalid-port",
                                format!("port range `{s}` is not `lo:hi`"),
                            )
                            .at(span)
                            .help("write a range as \"8000:8080\" (both ends included)"),
                        );
                        return None;
                    };
                    let lo = self.port_number(lo, span, "port range start")?;
                    let hi = self.port_number(hi, span, "port range end")?;
                    if lo > hi {
                        self.push(
                            Diagnostic::error(
                                "invalid-port",
                                format!("port range `{s}` ends before it starts"),
                            )
                            .at(span)
                            .help(format!("write \"{hi}:{lo}\"")),
                        );
                        return None;
                    }
                    return Some(PortMatch::Range(PortRange { lo, hi }));
                }
                if is_port_name(s) {
                    Some(PortMatch::Named(s.clone()))
                } else {
                    self.push(
                        Diagnostic::error("invalid-port", format!("`{s}` is not a port, a range or a port name"))
                            .at(span)
                            .help("use a number (80), a range (\"80:90\") or a port name (at most 15 lowercase letters, digits and `-`, with a letter)"),
                    );
                    None
                }
            }
        }
    }

    /// A Calico protocol: `TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`, `UDPLite` or 1–255.
    pub fn calico_protocol(&mut self, p: &S<NumOrString>) -> Option<Protocol> {
        let span = self.span(&p.referenced);
        let bad = |this: &mut Self, shown: String, help: String| {
            this.push(
                Diagnostic::error("invalid-protocol", format!("`{shown}` is not a protocol"))
                    .at(span)
                    .help(help),
            );
            None
        };
        match &p.value {
            NumOrString::Num(n) => match u8::try_from(*n) {
                Ok(x) if x >= 1 => Some(Protocol(x)),
                _ => bad(self, n.to_string(), "protocol numbers are 1-255".into()),
            },
            NumOrString::Str(s) => {
                if let Some(proto) = Protocol::from_calico_name(s) {
                    return Some(proto);
                }
                if let Ok(n) = s.parse::<u8>()
                    && n >= 1
                {
                    return Some(Protocol(n));
                }
                let canonical = ["TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite"]
                    .into_iter()
                    .find(|c| c.eq_ignore_ascii_case(s));
                let help = match canonical {
                    Some(c) => format!("protocol names are case-sensitive: write `{c}`"),
                    None => "use TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255".into(),
                };
                bad(self, s.clone(), help)
            }
        }
    }

    /// Parse a selector string, reporting syntax errors at their exact column.
    pub fn selector(&mut self, s: &S<String>, what: &str) -> Option<Expr> {
        if s.value.len() > MAX_SELECTOR_LEN {
            let d = self.error_at(
                s,
                "invalid-selector",
                format!(
                    "{what} is {} characters long; Calico allows at most {MAX_SELECTOR_LEN}",
                    s.value.len()
                ),
            );
            self.push(d.help("split the policy, or select by a label that groups these endpoints"));
            return None;
        }
        match selector::parse(&s.value) {
            Ok(e) => Some(e),
            Err(err) => {
                let span = self.string_content_span(&s.referenced, err.offset);
                self.push(
                    Diagnostic::error("invalid-selector", format!("invalid {what}: {}", err.message))
                        .at(span)
                        .help("selectors use Calico syntax, e.g. `role == 'node' && has(app)`; try `polc selector \"...\"`"),
                );
                None
            }
        }
    }

    /// A required field: reports `missing-field` at `at` when absent.
    pub fn required<'b, T>(
        &mut self,
        field: &'b Option<S<T>>,
        at: &S<impl Sized>,
        name: &str,
        owner: &str,
    ) -> Option<&'b S<T>> {
        if field.is_none() {
            let d = self.error_at(at, "missing-field", format!("{owner} has no `{name}`"));
            self.push(d.help(format!("add `{name}:`")));
        }
        field.as_ref()
    }

    /// Report an error at a value.
    pub fn error_at<T>(
        &mut self,
        s: &S<T>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::error(code, message).at(self.span(&s.referenced))
    }
}
