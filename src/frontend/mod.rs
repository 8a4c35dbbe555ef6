//! The frontend: files → documents → typed raw objects → validated [`ir::Model`].
//!
//! Invariants:
//! - All YAML handling lives here; nothing downstream sees a YAML type.
//! - Reading never stops at the first problem: every file, every document and every
//!   object is checked, and each problem becomes a [`Diagnostic`] with a location.
//! - The result does not depend on the order files are given or found in: files are
//!   read in sorted path order, and the model is sorted by stable keys.
//! - No input makes the frontend panic (a property test feeds it mutated manifests).

pub mod assertions;
mod document;
mod input;
pub mod intent;
mod kinds;
mod lower;
pub mod raw;
mod read;
pub mod root;

use std::path::PathBuf;

pub use document::{Chunk, Parsed, split_documents};
pub use input::{Collected, InputError, InputFile, Skipped, collect_inputs};
pub use kinds::{KINDS, Kind};
pub use read::{MAX_FILE_BYTES, NotRegular};

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir;
use crate::source::{SourceId, Sources, Span};
use kinds::Resolution;
use lower::Lowerer;

/// What one run read.
#[derive(Debug)]
pub struct Loaded {
    /// The files.
    pub sources: Sources,
    /// The model (complete only when `diags` has no errors).
    pub model: ir::Model,
    /// Every problem found.
    pub diags: Diagnostics,
    /// Documents of kinds polc does not model, by `apiVersion/kind`.
    pub skipped: std::collections::BTreeMap<String, usize>,
    /// Paths input discovery passed over (polc output folders, FIFOs, devices).
    pub skipped_inputs: Vec<Skipped>,
    /// YAML documents read that were not empty (objects, lists, skipped kinds, and
    /// documents that failed to parse): zero means the input holds no manifest.
    pub documents: usize,
}

/// The largest YAML document polc parses: 16 MiB. A larger one is reported
/// (`document-too-large`) and not parsed, so no single document can make the parser
/// spend seconds and gigabytes before failing.
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;

/// How a run reads its manifests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Skip, with a warning, the kinds of policy API groups polc does not model
    /// (`--allow-unknown-kinds`); by default each is an error, since its rules would
    /// be missing from the artifacts.
    pub allow_unknown_kinds: bool,
}

/// Read and lower every manifest under `paths` (`-` is standard input).
pub fn load(paths: &[PathBuf]) -> Result<Loaded, InputError> {
    load_with(paths, Options::default())
}

/// [`load`] with options.
pub fn load_with(paths: &[PathBuf], options: Options) -> Result<Loaded, InputError> {
    let collected = collect_inputs(paths)?;
    let mut sources = Sources::default();
    for f in collected.files {
        sources.add_at(f.name, f.path, f.text);
    }
    let mut loaded = load_sources_with(sources, options);
    loaded.skipped_inputs = collected.skipped;
    Ok(loaded)
}

/// Lower already-read sources (used by `load`, tests and benchmarks).
pub fn load_sources(sources: Sources) -> Loaded {
    load_sources_with(sources, Options::default())
}

/// [`load_sources`] with options.
pub fn load_sources_with(sources: Sources, options: Options) -> Loaded {
    let mut lowerer = Lowerer::default();
    lowerer.options = options;
    let mut documents = 0;
    let ids: Vec<SourceId> = sources.iter().map(|(id, _)| id).collect();
    for id in ids {
        let text = sources.get(id).text.as_str();
        for chunk in split_documents(text) {
            if chunk.text.len() > MAX_DOCUMENT_BYTES {
                lowerer.diags.push(too_large(id, &chunk));
                continue;
            }
            let parsed = document::parse_document(chunk.text);
            documents += usize::from(!matches!(parsed, Ok(Parsed::Empty)));
            report_unknown(
                &mut lowerer.diags,
                &sources,
                id,
                &chunk,
                raw::take_unknown(),
            );
            report_scalars(&mut lowerer, &sources, id, &chunk);
            match parsed {
                Ok(parsed) => handle(&mut lowerer, &sources, id, &chunk, parsed),
                Err(_) if let Some((a, b)) = document::long_key(chunk.text) => {
                    let key = chunk.text[a..b].trim_matches(['"', '\'']);
                    let shown: String = key.chars().take(40).collect();
                    lowerer.diags.push(
                        Diagnostic::error(
                            "invalid-label",
                            format!(
                                "the key `{shown}…` is {} characters long: YAML reads no key longer than 1024 characters (nor do kubectl and calicoctl), and a label or annotation key is at most 317 (a 253-character prefix, `/` and a 63-character name)",
                                key.chars().count()
                            ),
                        )
                        .at(Span::new(id, chunk.base + a, chunk.base + b))
                        .help("shorten the key"),
                    );
                }
                Err(err) => {
                    let span = error_span(&sources, id, &chunk, &err);
                    lowerer.diags.push(
                        Diagnostic::error("yaml", document::error_message(&err))
                            .at(span)
                            .help(yaml_help(&err)),
                    );
                }
            }
        }
    }
    let skipped = std::mem::take(&mut lowerer.skipped);
    let (model, diags) = lowerer.finish(&sources);
    Loaded {
        sources,
        model,
        diags,
        skipped,
        skipped_inputs: Vec::new(),
        documents,
    }
}

fn too_large(file: SourceId, chunk: &Chunk<'_>) -> Diagnostic {
    Diagnostic::error(
        "document-too-large",
        format!(
            "this YAML document is {} bytes; polc parses at most {MAX_DOCUMENT_BYTES} \
             bytes (16 MiB) per document",
            chunk.text.len()
        ),
    )
    .at(Span::new(file, chunk.base, chunk.base))
    .help("split it into several documents (separated by `---` lines) or files")
}

/// Report the keys the raw structs did not know: every one in a strict struct, and
/// likely typos of a field polc reads in an open one.
fn report_unknown(
    diags: &mut Diagnostics,
    sources: &Sources,
    file: SourceId,
    chunk: &Chunk<'_>,
    keys: Vec<raw::UnknownKey>,
) {
    for k in keys {
        let suggestion = closest(&k.key.value, k.known.iter().copied());
        if !k.strict && suggestion.is_none() {
            continue;
        }
        let span = lower::Ctx::new(sources, file, chunk.base, chunk.base_line, diags)
            .span(&k.key.referenced);
        let help = match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("{} has: {}", k.owner, k.known.join(", ")),
        };
        diags.push(
            Diagnostic::error(
                "unknown-field",
                format!("unknown field `{}` in {}", k.key.value, k.owner),
            )
            .at(span)
            .help(help),
        );
    }
}

/// Report the scalars kubectl and calicoctl read otherwise than their field takes;
/// the lowering's own complaints about the same values are dropped.
fn report_scalars(lowerer: &mut Lowerer, sources: &Sources, file: SourceId, chunk: &Chunk<'_>) {
    for p in raw::take_scalar_problems() {
        let span = lower::Ctx::new(
            sources,
            file,
            chunk.base,
            chunk.base_line,
            &mut lowerer.diags,
        )
        .span(&p.at);
        let d = match p.finding {
            raw::spanned::Finding::Type => {
                lowerer.poison(span);
                Diagnostic::error("scalar-type", p.message)
            }
            raw::spanned::Finding::Octal => Diagnostic::warning("octal-number", p.message),
        };
        lowerer.diags.push(d.at(span).help(p.help));
    }
}

fn yaml_help(err: &serde_saphyr::Error) -> String {
    let msg = document::error_message(err);
    if msg.contains("unknown field") {
        "check the spelling; polc rejects fields the resource does not have so a typo cannot weaken a policy".into()
    } else if msg.contains("invalid type") || msg.starts_with("invalid") || msg.contains("expected")
    {
        "this value has the wrong type for its field; check the resource's schema".into()
    } else {
        "fix the YAML syntax at this position".into()
    }
}

fn error_span(
    sources: &Sources,
    file: SourceId,
    chunk: &Chunk<'_>,
    err: &serde_saphyr::Error,
) -> Span {
    let Some(loc) = err.location().filter(|l| l.line() > 0) else {
        return Span::new(file, chunk.base, chunk.base);
    };
    if let Some(off) = loc.span().byte_offset() {
        let start = chunk.base + off as usize;
        return Span::new(
            file,
            start,
            start + loc.span().byte_len().unwrap_or(0) as usize,
        );
    }
    let f = sources.get(file);
    let offset = f.offset_of(
        chunk.base_line + loc.line() as usize - 1,
        loc.column() as usize,
    );
    Span::new(file, offset, offset)
}

fn handle(
    lowerer: &mut Lowerer,
    sources: &Sources,
    file: SourceId,
    chunk: &Chunk<'_>,
    parsed: Parsed,
) {
    let ctx_span = |loc: &serde_saphyr::Location| {
        let mut d = Diagnostics::default();
        lower::Ctx::new(sources, file, chunk.base, chunk.base_line, &mut d).span(loc)
    };
    match parsed {
        Parsed::Empty => {}
        Parsed::Object(obj) => {
            let end = chunk.base + chunk.text.len();
            lowerer.document = Some(Span::new(file, chunk.base, end));
            lowerer.object(sources, file, chunk.base, chunk.base_line, &obj);
        }
        Parsed::List(items) => {
            for item in items {
                if matches!(item, Parsed::List(_)) {
                    continue;
                }
                handle(lowerer, sources, file, chunk, item);
            }
        }
        Parsed::Late(_) => {}
        Parsed::NotAnObject { problem, at } => {
            let span = at.map_or(Span::new(file, chunk.base, chunk.base), |a| {
                ctx_span(&a.referenced)
            });
            lowerer
                .diags
                .push(Diagnostic::error("not-a-manifest", problem).at(span).help(
                "each YAML document must be a Kubernetes-style object with `apiVersion` and `kind`",
            ));
        }
        Parsed::Skipped {
            api_version,
            kind,
            resolution,
        } => {
            let span = ctx_span(&kind.referenced);
            let api = api_version.as_ref().map_or("", |a| a.value.as_str());
            let name = if api.is_empty() {
                kind.value.clone()
            } else {
                format!("{api}/{}", kind.value)
            };
            match resolution {
                Resolution::Known(_) | Resolution::Skip => {
                    *lowerer.skipped.entry(name).or_default() += 1;
                }
                Resolution::CalicoCrd | Resolution::UnknownPolicyKind { .. } => {
                    let allowed = lowerer.options.allow_unknown_kinds;
                    if allowed {
                        *lowerer.skipped.entry(name).or_default() += 1;
                    }
                    let d = unknown_kind(&resolution, api, &kind.value, allowed);
                    lowerer.diags.push(d.at(span));
                }
                Resolution::WrongApiVersion { expected } => {
                    // A known kind under another version (a typo, or a version newer
                    // than polc): with --allow-unknown-kinds, skipped as unknown kinds are.
                    let allowed = lowerer.options.allow_unknown_kinds;
                    let skipped = if allowed {
                        *lowerer.skipped.entry(name).or_default() += 1;
                        "; it is skipped (--allow-unknown-kinds), so its rules are not in the artifacts"
                    } else {
                        ""
                    };
                    let mut d = Diagnostic::error(
                        "wrong-api-version",
                        format!(
                            "`{}` is read as `apiVersion: {}`, not `{api}`{skipped}",
                            kind.value,
                            expected.join("` or `")
                        ),
                    )
                    .at(api_version
                        .as_ref()
                        .map_or(span, |a| ctx_span(&a.referenced)))
                    .help(format!("write `apiVersion: {}`", expected[0]));
                    if allowed {
                        d.severity = crate::diag::Severity::Warning;
                    }
                    lowerer.diags.push(d);
                }
            }
        }
    }
}

/// The diagnostic for a kind of a policy API group polc does not model: an error, or
/// a warning when the run allows unknown kinds (the document is then skipped).
fn unknown_kind(resolution: &Resolution, api: &str, kind: &str, allowed: bool) -> Diagnostic {
    let fate = if allowed {
        "it is skipped (--allow-unknown-kinds), so its rules are not in the artifacts"
    } else {
        "its rules would be missing from the artifacts"
    };
    let skip = "pass --allow-unknown-kinds to skip it, knowing its rules are not in the artifacts";
    let mut d = if let Resolution::UnknownPolicyKind { suggestion } = resolution {
        let help = match suggestion {
            Some((s, a)) if *s == kind => format!("polc reads `{s}` as `apiVersion: {a}`"),
            Some((s, a)) if *a == api => format!("did you mean `{s}`?"),
            Some((s, a)) => format!("did you mean `{s}`? polc reads it as `apiVersion: {a}`"),
            None => format!("polc does not model this kind; {skip}"),
        };
        Diagnostic::error(
            "unknown-kind",
            format!("`{kind}` (`apiVersion: {api}`) is not a kind polc models; {fate}"),
        )
        .help(help)
    } else {
        Diagnostic::error(
            "calico-crd",
            format!("`{kind}` (`apiVersion: {api}`) is in Calico's internal storage format, which polc does not read; {fate}"),
        )
        .help(format!("export resources with `calicoctl get -o yaml` or `kubectl get <kind>.projectcalico.org -o yaml`; or {skip}"))
    };
    if allowed {
        d.severity = crate::diag::Severity::Warning;
    }
    d
}

/// The candidate closest to `word` (case-insensitively), if it is close enough to be a
/// likely typo.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    candidates
        .map(|c| (strsim::damerau_levenshtein(&w, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 5) && *d < c.len())
        .min()
        .map(|(_, c)| c)
}
