//! The one diagnostic type every layer reports problems with, and its renderings:
//! compiler-style text (`path:line:col: error[code]: message`, the source line, a
//! caret, a help line), JSON for machines and SARIF for code-scanning tools
//! ([`sarif`]).
//!
//! Layers never print and never fail on bad input: they push [`Diagnostic`]s into a
//! [`Diagnostics`] list and carry on, so one run reports every problem.

pub mod sarif;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::source::{Sources, Span};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input is wrong; polc exits 1 and writes nothing.
    Error,
    /// Probably a mistake, but the input means something definite.
    Warning,
    /// Information, such as a skipped document.
    Note,
}

impl Severity {
    /// The word output uses: `error`, `warning` or `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One finding about the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error, warning or note.
    pub severity: Severity,
    /// A stable kebab-case code, such as `unknown-field`.
    pub code: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where, if the problem has a place in a file.
    pub span: Option<Span>,
    /// A short label shown under the caret.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places involved (the earlier rule of a shadowed pair, ...), each with a
    /// label.
    pub related: Vec<(Span, String)>,
    /// Further lines of explanation (a witness packet, the endpoints concerned).
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with a code and message.
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, message)
    }

    /// A warning with a code and message.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, message)
    }

    /// A note with a code and message.
    pub fn note(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Note, code, message)
    }

    fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            span: None,
            label: None,
            help: None,
            related: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Attach the place.
    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    /// Attach the place if there is one.
    pub fn at_opt(mut self, span: Option<Span>) -> Diagnostic {
        self.span = span.or(self.span);
        self
    }

    /// Attach a label shown under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Attach a fix.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Attach another place involved, with a label.
    pub fn related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push((span, label.into()));
        self
    }

    /// Attach a line of explanation.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
}

/// The diagnostics of one run.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Record a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// How many diagnostics of a severity were recorded.
    pub fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    /// All diagnostics, sorted by file, position, severity and message, so output does
    /// not depend on the order in which checks ran.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.items.iter().collect();
        v.sort_by(|a, b| {
            let key = |d: &Diagnostic| (d.span.map(|s| (s.file, s.start)), d.severity);
            key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message))
        });
        v.dedup();
        v
    }

    /// Consume into the plain list.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl Extend<Diagnostic> for Diagnostics {
    fn extend<T: IntoIterator<Item = Diagnostic>>(&mut self, iter: T) {
        self.items.extend(iter);
    }
}

/// Render one diagnostic as compiler-style text.
pub fn render_text(d: &Diagnostic, sources: &Sources, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let head = match d.span {
        Some(span) => format!("{}: ", sources.locate(span)),
        None => String::new(),
    };
    let mut out = format!("{head}{}[{}]: {}\n", d.severity.as_str(), d.code, d.message);
    if color {
        let style = match d.severity {
            Severity::Error => anstyle::AnsiColor::BrightRed.on_default().bold(),
            Severity::Warning => anstyle::AnsiColor::BrightYellow.on_default().bold(),
            Severity::Note => anstyle::AnsiColor::BrightCyan.on_default().bold(),
        };
        out = format!("{style}{}{style:#}", out.trim_end()) + "\n";
    }
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };
    let mut group = Group::with_level(level.clone());
    let mut has_elements = false;
    if let Some(span) = d.span {
        group = group.element(snippet(
            sources,
            span,
            AnnotationKind::Primary,
            d.label.as_deref(),
            None,
        ));
        has_elements = true;
    }
    for (span, label) in &d.related {
        let path = Some(sources.get(span.file).name.clone());
        group = group.element(snippet(
            sources,
            *span,
            AnnotationKind::Context,
            Some(label),
            path,
        ));
        has_elements = true;
    }
    for note in &d.notes {
        group = group.element(Level::NOTE.message(note.as_str()));
        has_elements = true;
    }
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
        has_elements = true;
    }
    if has_elements {
        out.push_str(&renderer.render(&[group]));
        out.push('\n');
    }
    out
}

/// One line of source with an annotation; `path` names the file when it differs
/// from the diagnostic's own.
fn snippet<'a>(
    sources: &'a Sources,
    span: Span,
    kind: AnnotationKind,
    label: Option<&'a str>,
    path: Option<String>,
) -> Snippet<'a, annotate_snippets::Annotation<'a>> {
    let file = sources.get(span.file);
    let start = span.start as usize;
    let line = file.line_of(start);
    let range = file.line_range(line);
    let text = &file.text[range.clone()];
    let a = start.saturating_sub(range.start).min(text.len());
    let mut b = (span.end as usize)
        .saturating_sub(range.start)
        .clamp(a, text.len());
    if b == a {
        // A point: underline one character (or the line end).
        b = text[a..].chars().next().map_or(a, |c| a + c.len_utf8());
    }
    let mut ann = kind.span(a..b);
    if let Some(label) = label {
        ann = ann.label(label);
    }
    let mut snip = Snippet::source(text).line_start(line).annotation(ann);
    if let Some(path) = path {
        snip = snip.path(path);
    }
    snip
}

/// The JSON form of one diagnostic (a stable contract: add fields, never rename).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    /// `error`, `warning` or `note`.
    pub severity: Severity,
    /// The stable code.
    pub code: &'a str,
    /// The message.
    pub message: &'a str,
    /// File name, if the diagnostic has a place.
    pub file: Option<&'a str>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// 1-based line of the span's end.
    pub end_line: Option<usize>,
    /// 1-based column of the span's end (exclusive).
    pub end_column: Option<usize>,
    /// Label under the caret.
    pub label: Option<&'a str>,
    /// How to fix it.
    pub help: Option<&'a str>,
    /// Other places involved.
    pub related: Vec<JsonRelated<'a>>,
    /// Further lines of explanation.
    pub notes: &'a [String],
}

/// Another place a diagnostic involves.
#[derive(Debug, Serialize)]
pub struct JsonRelated<'a> {
    /// File name.
    pub file: &'a str,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What it is.
    pub label: &'a str,
}

/// The JSON form of a diagnostic.
pub fn to_json<'a>(d: &'a Diagnostic, sources: &'a Sources) -> JsonDiagnostic<'a> {
    let (file, line, column, end_line, end_column) = match d.span {
        Some(span) => {
            let f = sources.get(span.file);
            let (l, c) = f.line_col(span.start as usize);
            let (el, ec) = f.line_col(span.end as usize);
            (Some(f.name.as_str()), Some(l), Some(c), Some(el), Some(ec))
        }
        None => (None, None, None, None, None),
    };
    JsonDiagnostic {
        severity: d.severity,
        code: d.code,
        message: &d.message,
        file,
        line,
        column,
        end_line,
        end_column,
        label: d.label.as_deref(),
        help: d.help.as_deref(),
        related: d
            .related
            .iter()
            .map(|(span, label)| {
                let f = sources.get(span.file);
                let (line, column) = f.line_col(span.start as usize);
                JsonRelated {
                    file: f.name.as_str(),
                    line,
                    column,
                    label,
                }
            })
            .collect(),
        notes: &d.notes,
    }
}
