//! Change-intent files for `polc diff --intent`: a YAML list of the flows a change
//! means to alter, each with its new verdict.
//!
//! ```yaml
//! - from: prod/backend            # endpoint names (comma-separated), a selector, or a CIDR
//!   to: host/node-worker
//!   ports: [10250/tcp, 53/udp]    # optional; omitted: every protocol and port
//!   verdict: allowed              # or denied
//!   reason: kubelet metrics       # optional, free text
//! ```
//!
//! Ports are `PORT/PROTO`, `LO-HI/PROTO` (tcp, udp, sctp; a bare number is TCP),
//! `icmp` or `icmpv6`. Every problem is an `invalid-intent` diagnostic at its place;
//! the file is read whole (no entry is dropped silently). What the `from` and `to`
//! texts name is decided against a model, later (`review::intent`).

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_saphyr::{Location, Spanned};

use super::document;
use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::Protocol;
use crate::source::{SourceId, Sources, Span};

/// One port item of an intent entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentPort {
    /// Destination ports `lo..=hi` of TCP, UDP or SCTP.
    Ports {
        /// The protocol.
        protocol: Protocol,
        /// First port.
        lo: u16,
        /// Last port.
        hi: u16,
    },
    /// Every ICMP (or ICMPv6) message.
    Icmp(Protocol),
}

/// One flow a change means to alter.
#[derive(Debug, Clone)]
pub struct IntentEntry {
    /// The source side as written, and where.
    pub from: (String, Span),
    /// The destination side.
    pub to: (String, Span),
    /// The ports (`None`: every protocol and port).
    pub ports: Option<Vec<IntentPort>>,
    /// The verdict the flows must end with: allowed (`true`) or denied.
    pub allowed: bool,
    /// The entry's place (its `from`).
    pub span: Span,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default)]
    ports: Option<Vec<Spanned<PortText>>>,
    verdict: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    reason: Option<String>,
}

/// A port item: text, or a bare number.
struct PortText(String);

impl<'de> Deserialize<'de> for PortText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PortText, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PortText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a port such as 443/tcp, 53/udp, 8000-8100/tcp or icmp")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortText, E> {
                Ok(PortText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortText, E> {
                Ok(PortText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortText, E> {
                Ok(PortText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Read the intent file `file` of `sources`; problems go to `diags`.
pub fn parse_intent(
    sources: &Sources,
    file: SourceId,
    diags: &mut Diagnostics,
) -> Vec<IntentEntry> {
    let text = sources.get(file).text.as_str();
    let options = serde_saphyr::options! { with_snippet: false };
    let raw: Vec<RawEntry> = if text.trim().is_empty() {
        Vec::new()
    } else {
        match serde_saphyr::from_str_with_options::<Option<Vec<RawEntry>>>(text, options) {
            Ok(r) => r.unwrap_or_default(),
            Err(e) => {
                let span = e
                    .location()
                    .map_or(Span::new(file, 0, 0), |l| span(sources, file, &l));
                diags.push(
                    Diagnostic::error("invalid-intent", document::error_message(&e))
                        .at(span)
                        .help(HELP),
                );
                return Vec::new();
            }
        }
    };
    let mut out = Vec::new();
    for r in raw {
        let at = |s: &Location| span(sources, file, s);
        let allowed = match r.verdict.value.as_str() {
            "allowed" | "allow" => true,
            "denied" | "deny" => false,
            other => {
                diags.push(
                    Diagnostic::error(
                        "invalid-intent",
                        format!("verdict `{other}` is neither `allowed` nor `denied`"),
                    )
                    .at(at(&r.verdict.referenced))
                    .help("write `verdict: allowed` or `verdict: denied`"),
                );
                continue;
            }
        };
        let mut ports = None;
        if let Some(items) = &r.ports {
            let mut parsed = Vec::new();
            for item in items {
                match parse_port(&item.value.0) {
                    Ok(p) => parsed.push(p),
                    Err(e) => diags.push(
                        Diagnostic::error("invalid-intent", e)
                            .at(at(&item.referenced))
                            .help("write ports as 443/tcp, 53/udp, 8000-8100/tcp or icmp"),
                    ),
                }
            }
            ports = Some(parsed);
        }
        let from_span = at(&r.from.referenced);
        out.push(IntentEntry {
            from: (r.from.value, from_span),
            to: (r.to.value, at(&r.to.referenced)),
            ports,
            allowed,
            span: from_span,
        });
    }
    out
}

const HELP: &str = "an intent file is a YAML list of entries with `from`, `to`, optional \
                    `ports` and `verdict: allowed|denied` (see `polc diff --help`)";

fn span(sources: &Sources, file: SourceId, loc: &Location) -> Span {
    let sp = loc.span();
    if let Some(off) = sp.byte_offset() {
        let start = off as usize;
        return Span::new(file, start, start + sp.byte_len().unwrap_or(0) as usize);
    }
    if loc.line() == 0 {
        return Span::new(file, 0, 0);
    }
    let offset = sources
        .get(file)
        .offset_of(loc.line() as usize, loc.column() as usize);
    Span::new(file, offset, offset)
}

/// Parse one port item.
pub fn parse_port(text: &str) -> Result<IntentPort, String> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "icmp" => return Ok(IntentPort::Icmp(Protocol::ICMP)),
        "icmpv6" => return Ok(IntentPort::Icmp(Protocol::ICMPV6)),
        _ => {}
    }
    let (range, proto) = lower.split_once('/').unwrap_or((lower.as_str(), "tcp"));
    let protocol = match proto {
        "tcp" => Protocol::TCP,
        "udp" => Protocol::UDP,
        "sctp" => Protocol::SCTP,
        other => {
            return Err(format!(
                "`{other}` in `{text}` is not a port protocol (tcp, udp, sctp; or `icmp`)"
            ));
        }
    };
    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
    let port = |s: &str| match s.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{s}` in `{text}` is not a port number (1-65535)")),
    };
    let (lo, hi) = (port(lo)?, port(hi)?);
    if lo > hi {
        return Err(format!("the range `{text}` runs backwards"));
    }
    Ok(IntentPort::Ports { protocol, lo, hi })
}
