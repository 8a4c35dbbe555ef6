//! `polc diff --base OLD [--intent FILE]`: the cells whose verdict changes between the
//! model at OLD (a folder or a git revision) and the current one, as text, Markdown,
//! JSON or an HTML page of the before and after matrices.
//!
//! `polc diff --staged` is the same diff with the current model before and the
//! what-if model after ([`crate::ir::enforce_staged`]: every staged policy enforced),
//! so it lists the cells enforcing the staged policies would change, the staged rules
//! that would decide them named by `file:line:col`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::budget::{Budget, md_escape};
use super::{DiffFormat, status};
use crate::cli::describe::decider;
use crate::cli::{EXIT_INPUT, Inputs, Out, load_clean, usage_error};
use crate::diag::{Diagnostics, render_text};
use crate::frontend::Loaded;
use crate::frontend::intent::parse_intent;
use crate::review::cells::{CellChange, Change, SemanticDiff, What, diff};
use crate::review::git;
use crate::review::intent::{IntentReport, check};
use crate::semantics::Engine;
use crate::semantics::matrix::CellSet;
use crate::source::Sources;

/// What the semantic diff compares the current input with.
#[derive(Clone, Copy)]
pub enum Before<'a> {
    /// `--base OLD`: the model at OLD before, the current one after.
    Base(&'a str),
    /// `--staged`: the current model before, with its staged policies enforced after.
    Staged,
}

/// What `diff --base` or `diff --staged` was asked.
pub struct Request<'a> {
    pub inputs: &'a Inputs,
    pub before: Before<'a>,
    pub intent: Option<&'a Path>,
    pub format: DiffFormat,
    pub max_bytes: usize,
    pub color: bool,
}

/// The base, as reports name it (`kind` is `folder`, `revision` or `staged`).
#[derive(Serialize)]
struct Base {
    kind: &'static str,
    spec: String,
    commit: Option<String>,
}

impl Base {
    /// The base of `--staged`.
    fn staged() -> Base {
        Base {
            kind: "staged",
            spec: "staged".to_string(),
            commit: None,
        }
    }

    fn is_staged(&self) -> bool {
        self.kind == "staged"
    }

    /// The command line that names this base: `polc diff --base OLD` or `polc diff --staged`.
    fn command(&self) -> String {
        if self.is_staged() {
            return "polc diff --staged".to_string();
        }
        match &self.commit {
            Some(c) => format!("polc diff --base {} ({})", self.spec, &c[..c.len().min(12)]),
            None => format!("polc diff --base {}", self.spec),
        }
    }

    /// The titles of the two matrices of the HTML page.
    fn sides(&self) -> (&'static str, &'static str) {
        if self.is_staged() {
            ("Before (enforced now)", "After (staged policies enforced)")
        } else {
            ("Before (base)", "After (this change)")
        }
    }
}

/// Load the base model: a folder as any input, a revision through git.
fn load_base(spec: &str, req: &Request<'_>, out: &Out) -> Result<(Loaded, Base), i32> {
    if Path::new(spec).is_dir() {
        let inputs = Inputs {
            paths: vec![PathBuf::from(spec)],
            ..*req.inputs
        };
        let loaded = load_clean(&inputs, out)?;
        return Ok((
            loaded,
            Base {
                kind: "folder",
                spec: spec.to_string(),
                commit: None,
            },
        ));
    }
    let paths = req.inputs.paths();
    if paths.iter().any(|p| p.as_os_str() == "-") {
        return Err(usage_error(
            "--base REVISION reads the same paths at the revision; standard input (`-`) has none",
        ));
    }
    let rev = git::resolve(&paths, spec).map_err(|e| usage_error(format!("--base: {e}")))?;
    let files = git::read(&rev, &paths).map_err(|e| usage_error(format!("--base: {e}")))?;
    let mut sources = Sources::default();
    for (name, path, text) in files {
        sources.add_at(name, path, text);
    }
    let loaded = crate::frontend::load_sources_with(sources, req.inputs.options());
    if loaded.diags.has_errors() {
        print_errors(&loaded.diags, &loaded.sources, out);
        eprintln!(
            "polc: the base `{}` ({}) has errors; a semantic diff needs both sides valid",
            spec, rev.commit
        );
        return Err(EXIT_INPUT);
    }
    Ok((
        loaded,
        Base {
            kind: "revision",
            spec: spec.to_string(),
            commit: Some(rev.commit),
        },
    ))
}

fn print_errors(diags: &Diagnostics, sources: &Sources, out: &Out) {
    for d in diags
        .sorted()
        .into_iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
    {
        eprintln!("{}", render_text(d, sources, out.color));
    }
}

/// The intent file, read and checked; `Err` is a reported exit status.
fn intent(
    path: &Path,
    old: &Engine<'_>,
    new: &Engine<'_>,
    d: &SemanticDiff,
    out: &Out,
) -> Result<(IntentReport, Sources), i32> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage_error(format!("cannot read `{}`: {e}", path.display())))?;
    let mut sources = Sources::default();
    let id = sources.add(path.display().to_string(), text);
    let mut diags = Diagnostics::default();
    let entries = parse_intent(&sources, id, &mut diags);
    let report = if diags.has_errors() {
        IntentReport::default()
    } else {
        check(old, new, d, &entries, &mut diags)
    };
    if diags.has_errors() {
        print_errors(&diags, &sources, out);
        eprintln!("polc: the intent file has errors");
        return Err(EXIT_INPUT);
    }
    Ok((report, sources))
}

/// Everything a renderer needs.
struct View<'a> {
    base: Base,
    diff: &'a SemanticDiff,
    /// Per changed cell, per change: (before decider, after decider) as words.
    deciders: Vec<Vec<(String, String)>>,
    intent: Option<(String, &'a IntentReport, Vec<String>)>,
    /// `--staged` with nothing changed: why (no staged policy, or none that matters).
    unchanged: Option<&'static str>,
}

/// The two sides of a semantic diff: (model, sources) before and after.
struct Sides {
    old: Loaded,
    /// `None` when the after side is the what-if model of `old` (`--staged`).
    new: Option<Loaded>,
    staged: Option<crate::ir::Model>,
}

impl Sides {
    fn load(req: &Request<'_>, out: &Out) -> Result<(Sides, Base), i32> {
        Ok(match req.before {
            Before::Base(spec) => {
                let (old, base) = load_base(spec, req, out)?;
                let new = load_clean(req.inputs, out)?;
                let sides = Sides {
                    old,
                    new: Some(new),
                    staged: None,
                };
                (sides, base)
            }
            Before::Staged => {
                let old = load_clean(req.inputs, out)?;
                let staged = crate::ir::enforce_staged(&old.model);
                let sides = Sides {
                    old,
                    new: None,
                    staged: Some(staged),
                };
                (sides, Base::staged())
            }
        })
    }

    fn before(&self) -> (&crate::ir::Model, &Sources) {
        (&self.old.model, &self.old.sources)
    }

    fn after(&self) -> (&crate::ir::Model, &Sources) {
        match (&self.new, &self.staged) {
            (Some(n), _) => (&n.model, &n.sources),
            (None, Some(m)) => (m, &self.old.sources),
            (None, None) => self.before(),
        }
    }
}

/// Run the semantic diff; `Err` is an exit status already reported.
pub fn run(req: &Request<'_>, out: &Out) -> Result<(String, i32), i32> {
    let (sides, base) = Sides::load(req, out)?;
    let ((old_model, old_sources), (new_model, new_sources)) = (sides.before(), sides.after());
    let (old, new) = (Engine::new(old_model), Engine::new(new_model));
    let d = diff(&old, &new);
    let checked = match req.intent {
        Some(p) => Some((p, intent(p, &old, &new, &d, out)?)),
        None => None,
    };
    let deciders = d
        .cells
        .iter()
        .map(|c| {
            c.changes
                .iter()
                .map(|ch| {
                    (
                        decider(&ch.before_decider, old_model, old_sources),
                        decider(&ch.after_decider, new_model, new_sources),
                    )
                })
                .collect()
        })
        .collect();
    let nothing = d.cells.is_empty() && d.added.is_empty() && d.removed.is_empty();
    let unchanged = (base.is_staged() && nothing).then_some(if crate::ir::has_staged(old_model) {
        "no changes: enforcing the staged policies changes no cell"
    } else {
        "no changes: the input has no staged policy to enforce"
    });
    let view = View {
        base,
        unchanged,
        diff: &d,
        deciders,
        intent: checked.as_ref().map(|(p, (r, sources))| {
            let places = intent_places(sources);
            (p.display().to_string(), r, places)
        }),
    };
    let text = match req.format {
        DiffFormat::Text => text(&view, req.color),
        DiffFormat::Markdown => markdown(&view, req.max_bytes),
        DiffFormat::Json => {
            serde_json::to_string_pretty(&json_report(&view)).unwrap_or_default() + "\n"
        }
        DiffFormat::Html => {
            html(&view).map_err(|e| usage_error(format!("rendering the HTML page: {e}")))?
        }
    };
    let ok = match &checked {
        Some((_, (r, _))) => r.holds(),
        None => d.cells.is_empty(),
    };
    Ok((text, status(ok)))
}

/// `file:line:col` of each intent entry, in order (re-read from the intent file).
fn intent_places(sources: &Sources) -> Vec<String> {
    let mut diags = Diagnostics::default();
    let Some((id, _)) = sources.iter().next() else {
        return Vec::new();
    };
    parse_intent(sources, id, &mut diags)
        .iter()
        .map(|e| sources.locate(e.span).to_string())
        .collect()
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allowed" } else { "denied" }
}

fn change_line(c: &CellChange, ch: &Change) -> String {
    format!(
        "{} -> {} {}: {} -> {}",
        c.from,
        c.to,
        ch.what.summary(),
        verdict(ch.before),
        verdict(ch.after)
    )
}

fn headline(v: &View<'_>) -> String {
    let d = v.diff;
    let parts: usize = d.cells.iter().map(|c| c.changes.len()).sum();
    let what_if = if v.base.is_staged() {
        " (what-if: every staged policy enforced)"
    } else {
        ""
    };
    format!(
        "{}{what_if}: {} cell(s) changed ({parts} change(s)), {} endpoint(s) added, {} removed",
        v.base.command(),
        d.cells.len(),
        d.added.len(),
        d.removed.len()
    )
}

fn text(v: &View<'_>, color: bool) -> String {
    use anstyle::AnsiColor;
    let mut out = headline(v) + "\n";
    if let Some(why) = v.unchanged {
        let _ = writeln!(out, "{why}");
    }
    for e in &v.diff.added {
        let _ = writeln!(out, "  endpoint added: {e}");
    }
    for e in &v.diff.removed {
        let _ = writeln!(out, "  endpoint removed: {e}");
    }
    for (c, ds) in v.diff.cells.iter().zip(&v.deciders) {
        for (ch, (before, after)) in c.changes.iter().zip(ds) {
            let line = change_line(c, ch);
            if color {
                let style = if ch.after {
                    AnsiColor::Green.on_default()
                } else {
                    AnsiColor::Red.on_default()
                };
                let _ = writeln!(out, "{style}{line}{style:#}");
            } else {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(out, "    before: {before}\n    after:  {after}");
        }
    }
    if let Some((file, r, places)) = &v.intent {
        out.push_str(&intent_text(file, r, places, v.diff));
    }
    out
}

fn intent_text(file: &str, r: &IntentReport, places: &[String], d: &SemanticDiff) -> String {
    let mut out = format!(
        "\nintent {file} ({} entr{}): {}\n",
        r.entries,
        if r.entries == 1 { "y" } else { "ies" },
        if r.holds() {
            "holds: the change did what it meant and nothing else"
        } else {
            "FAILS"
        }
    );
    for o in &r.outside {
        let c = &d.cells[o.cell];
        let _ = writeln!(
            out,
            "  outside the intent: {} -> {} {}: {} -> {}",
            c.from,
            c.to,
            o.what.summary(),
            verdict(o.before),
            verdict(o.after)
        );
    }
    for w in &r.wrong {
        let _ = writeln!(
            out,
            "  not as intended (entry {} at {}): {} -> {} {} is {}, the intent says {}",
            w.entry + 1,
            places.get(w.entry).map_or("?", String::as_str),
            w.from,
            w.to,
            w.what,
            verdict(!w.expected),
            verdict(w.expected)
        );
    }
    out
}

fn markdown(v: &View<'_>, limit: usize) -> String {
    let mut b = Budget::new(limit);
    let mut head = format!("### {}\n\n", md_escape(&headline(v)));
    if v.diff.cells.is_empty() && v.diff.added.is_empty() && v.diff.removed.is_empty() {
        head.push_str("✅ No connectivity changes.\n\n");
    }
    if let Some((file, r, places)) = &v.intent {
        let mut body = String::new();
        for line in intent_text(file, r, places, v.diff).lines().skip(2) {
            body.push_str(&format!("- {}\n", md_escape(line.trim())));
        }
        let (mark, word) = if r.holds() {
            ("✅", "holds: the change did what it meant and nothing else")
        } else {
            ("❌", "fails")
        };
        let head = format!(
            "{head}{mark} **Intent** `{}`: {word}\n\n",
            file.replace('`', "'")
        );
        b.section("the intent check", &head, &body, "\n");
    } else {
        b.section("the headline", &head, "", "");
    }
    if !v.diff.added.is_empty() || !v.diff.removed.is_empty() {
        let body: String = v
            .diff
            .added
            .iter()
            .map(|e| format!("- added: `{}`\n", e.replace('`', "'")))
            .chain(
                v.diff
                    .removed
                    .iter()
                    .map(|e| format!("- removed: `{}`\n", e.replace('`', "'"))),
            )
            .collect();
        b.section("the endpoint list", "**Endpoints**\n\n", &body, "\n");
    }
    if !v.diff.cells.is_empty() {
        let head = "| from | to | what | before | after |\n|---|---|---|---|---|\n";
        let mut rows = String::new();
        for c in &v.diff.cells {
            for ch in &c.changes {
                let mark = if ch.after { "✅" } else { "❌" };
                let _ = writeln!(
                    rows,
                    "| `{}` | `{}` | {} | {} | {mark} {} |",
                    c.from.replace('`', "'"),
                    c.to.replace('`', "'"),
                    md_escape(&ch.what.summary()),
                    verdict(ch.before),
                    verdict(ch.after)
                );
            }
        }
        b.section("the change table", head, &rows, "\n");
        let mut body = String::new();
        for (c, ds) in v.diff.cells.iter().zip(&v.deciders) {
            for (ch, (before, after)) in c.changes.iter().zip(ds) {
                let _ = writeln!(
                    body,
                    "- `{}`\n  - before: {}\n  - after: {}",
                    change_line(c, ch).replace('`', "'"),
                    md_escape(before),
                    md_escape(after)
                );
            }
        }
        b.section(
            "the deciding rules",
            "<details><summary>What decided each change, before and after</summary>\n\n",
            &body,
            "\n</details>\n",
        );
    }
    b.finish(if v.base.is_staged() {
        "Run `polc diff --staged` locally for the whole report."
    } else {
        "Run `polc diff --base` locally for the whole report."
    })
}

fn what_json(w: &What) -> Value {
    match *w {
        What::Ports { protocol, lo, hi } => {
            json!({"protocol": protocol.to_string(), "ports": [lo, hi], "icmp": null})
        }
        What::Icmp {
            protocol,
            icmp_type,
            lo,
            hi,
        } => {
            json!({"protocol": if protocol == crate::ir::Protocol::ICMPV6 { "ICMPv6" } else { "ICMP" },
                    "ports": null, "icmp": {"type": icmp_type, "codes": [lo, hi]}})
        }
        What::Protocol(p) => json!({"protocol": p.to_string(), "ports": null, "icmp": null}),
        What::Other => json!({"protocol": "other", "ports": null, "icmp": null}),
    }
}

fn json_report(v: &View<'_>) -> Value {
    let d = v.diff;
    let cells: Vec<Value> = d
        .cells
        .iter()
        .zip(&v.deciders)
        .map(|(c, ds)| {
            json!({
                "from": c.from,
                "to": c.to,
                "before": c.before.to_string(),
                "after": c.after.to_string(),
                "changes": c.changes.iter().zip(ds).map(|(ch, (b, a))| {
                    let mut w = what_json(&ch.what);
                    w["what"] = json!(ch.what.summary());
                    w["before"] = json!(verdict(ch.before));
                    w["after"] = json!(verdict(ch.after));
                    w["before_decided_by"] = json!(b);
                    w["after_decided_by"] = json!(a);
                    w
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let intent = v.intent.as_ref().map(|(file, r, places)| {
        json!({
            "file": file,
            "entries": r.entries,
            "holds": r.holds(),
            "outside": r.outside.iter().map(|o| {
                let c = &d.cells[o.cell];
                json!({"from": c.from, "to": c.to, "what": o.what.summary(),
                       "before": verdict(o.before), "after": verdict(o.after)})
            }).collect::<Vec<_>>(),
            "wrong": r.wrong.iter().map(|w| json!({
                "entry": w.entry + 1,
                "at": places.get(w.entry),
                "from": w.from, "to": w.to, "what": w.what,
                "expected": verdict(w.expected),
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "schema": "polc-diff-semantic/1",
        "base": v.base,
        "changed": !d.cells.is_empty(),
        "endpoints": {"added": d.added, "removed": d.removed, "common": d.common.len()},
        "cells": cells,
        "intent": intent,
    })
}

/// Changed cells by (from, to), with their deciders in words.
type Changes<'a> =
    std::collections::BTreeMap<(&'a str, &'a str), (&'a CellChange, &'a Vec<(String, String)>)>;

/// The most endpoints drawn in full; above it the page draws only the endpoints in
/// a change (every changed cell is still drawn).
const HTML_FULL: usize = 60;

#[derive(Serialize)]
struct HtmlCell {
    before: String,
    after: String,
    /// allow, deny, partial or absent.
    before_state: &'static str,
    after_state: &'static str,
    changed: bool,
    /// In a changed cell: `+` something became allowed, `−` denied, `±` both.
    mark: &'static str,
    title: String,
}

fn state(set: Option<&CellSet>) -> &'static str {
    match set {
        None => "absent",
        Some(s) if s.is_all() => "allow",
        Some(s) if s.is_none() => "deny",
        Some(_) => "partial",
    }
}

fn html(v: &View<'_>) -> Result<String, minijinja::Error> {
    let d = v.diff;
    let mut names: Vec<String> = d
        .common
        .iter()
        .chain(&d.added)
        .chain(&d.removed)
        .cloned()
        .collect();
    names.sort();
    let trimmed = names.len() > HTML_FULL;
    if trimmed {
        let mut keep: std::collections::BTreeSet<&String> =
            d.added.iter().chain(&d.removed).collect();
        for c in &d.cells {
            keep.insert(&c.from);
            keep.insert(&c.to);
        }
        names.retain(|n| keep.contains(n));
    }
    let changes: Changes<'_> = d
        .cells
        .iter()
        .zip(&v.deciders)
        .map(|(c, ds)| ((c.from.as_str(), c.to.as_str()), (c, ds)))
        .collect();
    let cells: Vec<Vec<HtmlCell>> = names
        .iter()
        .map(|from| {
            names
                .iter()
                .map(|to| {
                    let before = d.cell(false, from, to);
                    let after = d.cell(true, from, to);
                    let show = |s: Option<&CellSet>| {
                        s.map_or("(no endpoint)".to_string(), |s| s.to_string())
                    };
                    let change = changes.get(&(from.as_str(), to.as_str()));
                    let mut title = format!(
                        "{from} → {to}\nbefore: {}\nafter: {}",
                        show(before),
                        show(after)
                    );
                    if let Some((c, ds)) = change {
                        for (ch, (b, a)) in c.changes.iter().zip(ds.iter()) {
                            let _ = write!(
                                title,
                                "\n{}: {} → {}\n  before: {b}\n  after: {a}",
                                ch.what.summary(),
                                verdict(ch.before),
                                verdict(ch.after)
                            );
                        }
                    }
                    let gained = change.is_some_and(|(c, _)| c.changes.iter().any(|ch| ch.after));
                    let lost = change.is_some_and(|(c, _)| c.changes.iter().any(|ch| ch.before));
                    let mark = match (gained, lost) {
                        (true, true) => "±",
                        (true, false) => "+",
                        (false, true) => "−",
                        (false, false) => "",
                    };
                    HtmlCell {
                        mark,
                        before: show(before),
                        after: show(after),
                        before_state: state(before),
                        after_state: state(after),
                        changed: change.is_some() || (before.is_none() != after.is_none()),
                        title,
                    }
                })
                .collect()
        })
        .collect();
    let lines: Vec<(String, String, String)> = d
        .cells
        .iter()
        .zip(&v.deciders)
        .flat_map(|(c, ds)| {
            c.changes
                .iter()
                .zip(ds)
                .map(|(ch, (b, a))| (change_line(c, ch), b.clone(), a.clone()))
        })
        .collect();
    let intent = v
        .intent
        .as_ref()
        .map(|(file, r, places)| intent_text(file, r, places, d));
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("diff.html", HTML_TEMPLATE)?;
    env.get_template("diff.html")?.render(minijinja::context! {
        headline => headline(v),
        sides => v.base.sides(),
        names => minijinja::value::Serde(&names),
        cells => minijinja::value::Serde(&cells),
        lines => minijinja::value::Serde(&lines),
        added => minijinja::value::Serde(&d.added),
        removed => minijinja::value::Serde(&d.removed),
        trimmed => trimmed,
        intent => intent,
        version => env!("CARGO_PKG_VERSION"),
    })
}

const HTML_TEMPLATE: &str = include_str!("../../../templates/diff.html");
