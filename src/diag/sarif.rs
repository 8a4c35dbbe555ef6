//! SARIF 2.1.0 rendering of diagnostics (`polc check --format sarif`), shaped for
//! GitHub code scanning so findings annotate the lines of a pull request.
//!
//! One run, tool `polc`. Every code that occurs becomes one rule (`reportingDescriptor`,
//! sorted by code); every diagnostic one result, in the order given (callers pass
//! [`Diagnostics::sorted`](super::Diagnostics::sorted)), so output is deterministic.
//!
//! - `message.text` is the message, then one line per note, then the help; a place in
//!   `related` becomes a `relatedLocations` entry (ids from 1) linked from the message
//!   as `[label](id)`. The caret label is the primary location's message.
//! - Files are named as given on the command line, as relative URI references (forward
//!   slashes, percent-encoded); GitHub resolves them against the repository root, so
//!   run polc from there. Absolute paths become `file://` URIs.
//! - Regions are 1-based, columns counted in Unicode code points (`columnKind`), end
//!   column exclusive; a point is widened to the character under it, as the text
//!   rendering underlines it.
//! - GitHub rejects a result without a location, so a diagnostic without a place in an
//!   input file (no span, or a span in Calico's built-in definitions) is attached to
//!   line 1 of the first input file. With no input file at all it becomes a
//!   tool-execution notification of the run's invocation instead of a result.
//! - `partialFingerprints["polcDiagnostic/v1"]` is the SHA-256 of code, file, message
//!   and the ordinal of that triple among the results, so an alert survives edits that
//!   only move it.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, Message, MultiformatMessageString, Notification,
    PhysicalLocation, Region, ReportingConfiguration, ReportingDescriptor,
    ReportingDescriptorReference, Result as SarifResult, ResultLevel, Run, Sarif, Tool,
    ToolComponent,
};
use sha2::{Digest, Sha256};

use super::{Diagnostic, Severity};
use crate::source::{SourceFile, SourceId, Sources, Span};

/// The schema the log declares (the OASIS standard's, errata 01).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The key of polc's entry in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "polcDiagnostic/v1";

/// What stays literal in a URI path: unreserved characters and `/`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The SARIF log of these diagnostics.
pub fn log(diags: &[&Diagnostic], sources: &Sources) -> Sarif {
    let rules = rules(diags);
    let index: BTreeMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let fallback = sources.iter().next().map(|(id, _)| id);
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    let mut seen: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    for d in diags {
        let place = d
            .span
            .filter(|s| s.file != SourceId::BUILTIN)
            .map(|s| (s.file, Some(s)))
            .or(fallback.map(|f| (f, None)));
        let Some((file, span)) = place else {
            notifications.push(notification(d, index[d.code]));
            continue;
        };
        let name = span.map_or("", |_| sources.get(file).name.as_str());
        let ordinal = seen.entry((d.code, name, &d.message)).or_default();
        results.push(result(d, index[d.code], sources, file, span, *ordinal));
        *ordinal += 1;
    }
    let mut driver = ToolComponent::builder()
        .name("polc".to_string())
        .version(env!("CARGO_PKG_VERSION").to_string())
        .rules(rules)
        .build();
    driver.information_uri = information_uri();
    let invocation = Invocation::builder().execution_successful(true);
    let invocation = if notifications.is_empty() {
        invocation.build()
    } else {
        invocation
            .tool_execution_notifications(notifications)
            .build()
    };
    let run = Run::builder()
        .tool(Tool::from(driver))
        .results(results)
        .invocations(vec![invocation])
        .column_kind(serde_json::json!("unicodeCodePoints"))
        .build();
    Sarif::builder()
        .schema(SCHEMA_URI.to_string())
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build()
}

/// Where polc is documented: the manifest's homepage or repository, if set.
fn information_uri() -> Option<String> {
    [env!("CARGO_PKG_HOMEPAGE"), env!("CARGO_PKG_REPOSITORY")]
        .into_iter()
        .find(|u| !u.is_empty())
        .map(str::to_string)
}

/// One rule per code, sorted; the default level is the most severe one seen.
fn rules(diags: &[&Diagnostic]) -> Vec<ReportingDescriptor> {
    let mut codes: BTreeMap<&str, Severity> = BTreeMap::new();
    for d in diags {
        let s = codes.entry(d.code).or_insert(d.severity);
        *s = (*s).min(d.severity);
    }
    codes
        .into_iter()
        .map(|(code, severity)| {
            ReportingDescriptor::builder()
                .id(code.to_string())
                .short_description(MultiformatMessageString::from(&describe(code)))
                .default_configuration(
                    ReportingConfiguration::builder()
                        .level(serde_json::json!(severity.as_str()))
                        .build(),
                )
                .build()
        })
        .collect()
}

/// A code as a phrase: `unknown-field` -> `Unknown field`.
fn describe(code: &str) -> String {
    let words = code.replace('-', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Note => ResultLevel::Note,
    }
}

/// The result of one diagnostic placed in `file`, at `span` or else at line 1.
fn result(
    d: &Diagnostic,
    rule_index: usize,
    sources: &Sources,
    file: SourceId,
    span: Option<Span>,
    ordinal: usize,
) -> SarifResult {
    let f = sources.get(file);
    let place = match span {
        Some(span) => region(f, span),
        None => Region::builder().start_line(1).build(),
    };
    let mut primary = Location::builder()
        .physical_location(physical(f, place))
        .build();
    primary.message = d.label.as_deref().map(Message::from);
    let mut text = body(d);
    let mut related = Vec::new();
    for (span, label) in &d.related {
        if span.file == SourceId::BUILTIN {
            text += &format!("\nsee: {label} ({})", sources.get(span.file).name);
            continue;
        }
        let id = related.len() + 1;
        text += &format!("\nsee: [{}]({id})", escape_link_text(label));
        let rf = sources.get(span.file);
        related.push(
            Location::builder()
                .id(id as i64)
                .physical_location(physical(rf, region(rf, *span)))
                .message(Message::from(label.as_str()))
                .build(),
        );
    }
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(
        FINGERPRINT_KEY.to_string(),
        fingerprint(d, span.map_or("", |_| f.name.as_str()), ordinal),
    );
    let mut r = SarifResult::builder()
        .rule_id(d.code.to_string())
        .rule_index(rule_index as i64)
        .level(level(d.severity))
        .message(Message::from(&text))
        .locations(vec![primary])
        .partial_fingerprints(fingerprints)
        .build();
    if !related.is_empty() {
        r.related_locations = Some(related);
    }
    r
}

/// The message, then a line per note, then the help.
fn body(d: &Diagnostic) -> String {
    let mut text = d.message.clone();
    for note in &d.notes {
        text += &format!("\nnote: {note}");
    }
    if let Some(help) = &d.help {
        text += &format!("\nhelp: {help}");
    }
    text
}

/// A diagnostic with nowhere to go, as a notification about the run.
fn notification(d: &Diagnostic, rule_index: usize) -> Notification {
    Notification::builder()
        .message(Message::from(&body(d)))
        .level(serde_json::json!(d.severity.as_str()))
        .associated_rule(
            ReportingDescriptorReference::builder()
                .id(d.code.to_string())
                .index(rule_index as i64)
                .build(),
        )
        .build()
}

fn physical(file: &SourceFile, region: Region) -> PhysicalLocation {
    PhysicalLocation::builder()
        .artifact_location(ArtifactLocation::builder().uri(uri(&file.name)).build())
        .region(region)
        .build()
}

/// The 1-based region of a span; a point covers the character under it.
fn region(file: &SourceFile, span: Span) -> Region {
    let start = span.start as usize;
    let mut end = (span.end as usize).min(file.text.len());
    if end <= start {
        end = file
            .text
            .get(start..)
            .and_then(|rest| rest.chars().next())
            .filter(|c| *c != '\n' && *c != '\r')
            .map_or(start, |c| start + c.len_utf8());
    }
    let (start_line, start_column) = file.line_col(start);
    let (end_line, end_column) = file.line_col(end);
    Region::builder()
        .start_line(start_line as i64)
        .start_column(start_column as i64)
        .end_line(end_line as i64)
        .end_column(end_column as i64)
        .build()
}

/// A file name as given, as a URI: relative names stay relative references with
/// forward slashes (a leading `./` dropped), absolute ones become `file://` URIs.
fn uri(name: &str) -> String {
    let name = if cfg!(windows) {
        name.replace('\\', "/")
    } else {
        name.to_string()
    };
    let mut rel = name.as_str();
    while let Some(rest) = rel.strip_prefix("./") {
        rel = rest;
    }
    let encoded = utf8_percent_encode(rel, PATH).to_string();
    if std::path::Path::new(&name).is_absolute() {
        if encoded.starts_with('/') {
            format!("file://{encoded}")
        } else {
            // A Windows drive path: `C:/x` -> `file:///C:/x`.
            format!("file:///{}", encoded.replacen("%3A", ":", 1))
        }
    } else {
        encoded
    }
}

/// Escape `\`, `[` and `]` in the text of an embedded link (SARIF 3.11.6).
fn escape_link_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// SHA-256 (hex) of code, file, message and ordinal, NUL-separated.
fn fingerprint(d: &Diagnostic, file: &str, ordinal: usize) -> String {
    let mut h = Sha256::new();
    for part in [d.code, file, &d.message, &ordinal.to_string()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_references_or_file_uris() {
        assert_eq!(uri("tests/bad/x.yaml"), "tests/bad/x.yaml");
        assert_eq!(uri("./a b/ü.yaml"), "a%20b/%C3%BC.yaml");
        assert_eq!(uri("../up:x.yaml"), "../up%3Ax.yaml");
        assert_eq!(uri("<stdin>"), "%3Cstdin%3E");
        if cfg!(unix) {
            assert_eq!(uri("/srv/p.yaml"), "file:///srv/p.yaml");
        }
    }

    #[test]
    fn link_text_escapes_brackets() {
        assert_eq!(escape_link_text(r"a[0]\b"), r"a\[0\]\\b");
    }

    #[test]
    fn codes_read_as_phrases() {
        assert_eq!(describe("shadowed-rule"), "Shadowed rule");
        assert_eq!(describe(""), "");
    }

    #[test]
    fn points_cover_one_character() {
        let mut sources = Sources::default();
        let id = sources.add("f.yaml".into(), "ab\ncd\n".into());
        let f = sources.get(id);
        let r = region(f, Span::new(id, 3, 3));
        assert_eq!(
            (r.start_line, r.start_column, r.end_line, r.end_column),
            (Some(2), Some(1), Some(2), Some(2))
        );
        let r = region(f, Span::new(id, 2, 2));
        assert_eq!((r.start_column, r.end_column), (Some(3), Some(3)));
    }
}
