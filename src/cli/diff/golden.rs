//! `polc diff --golden DIR` and `polc bless`: the rendered artifacts against a
//! checked-in artifact tree, as text, Markdown or JSON.

use std::fmt::Write;
use std::path::Path;

use serde_json::json;

use super::budget::{Budget, fence, md_escape};
use super::{DiffFormat, status};
use crate::backend::{OutDir, Target};
use crate::cli::build::{RenderArgs, TargetArg, render};
use crate::cli::{Inputs, Out, load_clean, usage_error};
use crate::review::golden::{GoldenDiff, Status, compare, read_tree, rendered_tree};

/// What `diff --golden` was asked.
pub struct Request<'a> {
    pub inputs: &'a Inputs,
    pub golden: &'a Path,
    pub target: Option<TargetArg>,
    pub render: &'a RenderArgs,
    pub bless: bool,
    pub format: DiffFormat,
    pub max_bytes: usize,
    pub color: bool,
}

/// Render, compare, report (and bless); `Err` is an exit status already reported.
pub fn run(req: &Request<'_>, out: &Out) -> Result<(String, i32), i32> {
    // A refused golden folder is found before any input is read, as for `build --out`.
    let out_dir = if req.bless {
        Some(OutDir::check(req.golden, &req.inputs.paths()).map_err(usage_error)?)
    } else {
        None
    };
    let loaded = load_clean(req.inputs, out)?;
    let targets = targets_of(req.golden, req.target);
    let (artifacts, _) = render(&loaded, &targets, req.render).map_err(usage_error)?;
    let input = crate::backend::InputDigest::of(&loaded.sources);
    let rendered = rendered_tree(&artifacts, &input).map_err(usage_error)?;
    let golden = read_tree(req.golden).map_err(usage_error)?;
    let diff = compare(&rendered, &golden);
    let shown = req.golden.display().to_string();
    let text = match req.format {
        DiffFormat::Text => text(&diff, &shown, req.color),
        DiffFormat::Markdown => markdown(&diff, &shown, req.max_bytes),
        DiffFormat::Json => json(&diff, &shown),
        DiffFormat::Html => return Err(usage_error("--format html needs --base")),
    };
    if let Some(dir) = out_dir {
        let mut on_wait =
            || eprintln!("polc: waiting for another polc writing `{shown}` to finish");
        dir.write(&artifacts, &input, &mut on_wait)
            .map_err(usage_error)?;
        eprintln!("polc: blessed {} file(s) into {shown}", rendered.len());
        return Ok((text, crate::cli::EXIT_OK));
    }
    Ok((text, status(diff.is_equal())))
}

/// `polc bless`: render and write the golden tree atomically; the number of files.
pub fn bless(
    inputs: &Inputs,
    golden: &Path,
    target: Option<TargetArg>,
    args: &RenderArgs,
    out: &Out,
) -> Result<usize, i32> {
    let out_dir = OutDir::check(golden, &inputs.paths()).map_err(usage_error)?;
    let loaded = load_clean(inputs, out)?;
    let targets = targets_of(golden, target);
    let (artifacts, _) = render(&loaded, &targets, args).map_err(usage_error)?;
    let input = crate::backend::InputDigest::of(&loaded.sources);
    let shown = golden.display();
    let mut on_wait = || eprintln!("polc: waiting for another polc writing `{shown}` to finish");
    out_dir
        .write(&artifacts, &input, &mut on_wait)
        .map_err(usage_error)?;
    Ok(artifacts.len() + 1)
}

/// The targets to render against a golden tree: `--target` when given, else those
/// its `manifest.json` lists, else nft (a new tree).
fn targets_of(golden: &Path, given: Option<TargetArg>) -> Vec<Target> {
    if let Some(t) = given {
        return t.targets();
    }
    let listed: Vec<Target> = std::fs::read_to_string(golden.join("manifest.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|m| m["artifacts"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a["target"].as_str())
        .filter_map(|name| Target::ALL.into_iter().find(|t| t.name() == name))
        .collect::<std::collections::BTreeSet<Target>>()
        .into_iter()
        .collect();
    if listed.is_empty() {
        vec![Target::Nft]
    } else {
        listed
    }
}

fn word(s: Status) -> &'static str {
    match s {
        Status::Added => "added",
        Status::Removed => "removed",
        Status::Changed => "changed",
    }
}

fn totals(diff: &GoldenDiff) -> (usize, usize) {
    (
        diff.differ.iter().map(|f| f.added_lines).sum(),
        diff.differ.iter().map(|f| f.removed_lines).sum(),
    )
}

fn text(diff: &GoldenDiff, golden: &str, color: bool) -> String {
    let mut out = String::new();
    if diff.is_equal() {
        let _ = writeln!(out, "polc diff: the {} file(s) equal {golden}", diff.files);
        return out;
    }
    let (added, removed) = totals(diff);
    let _ = writeln!(
        out,
        "polc diff: {} of {} file(s) differ from {golden} (+{added} -{removed} lines)",
        diff.differ.len(),
        diff.files
    );
    for f in &diff.differ {
        let _ = writeln!(
            out,
            "  {:<8} {} (+{} -{})",
            word(f.status),
            f.path,
            f.added_lines,
            f.removed_lines
        );
    }
    for f in &diff.differ {
        out.push('\n');
        for line in f.unified.lines() {
            out.push_str(&paint(line, color));
            out.push('\n');
        }
    }
    out
}

/// A unified-diff line, coloured as `git diff` colours it.
fn paint(line: &str, color: bool) -> String {
    if !color {
        return line.to_string();
    }
    use anstyle::{AnsiColor, Style};
    let style = if line.starts_with("+++") || line.starts_with("---") {
        Style::new().bold()
    } else if line.starts_with('+') {
        AnsiColor::Green.on_default()
    } else if line.starts_with('-') {
        AnsiColor::Red.on_default()
    } else if line.starts_with("@@") {
        AnsiColor::Cyan.on_default()
    } else {
        return line.to_string();
    };
    format!("{style}{line}{style:#}")
}

fn markdown(diff: &GoldenDiff, golden: &str, limit: usize) -> String {
    let mut b = Budget::new(limit);
    let (added, removed) = totals(diff);
    let mut head = format!(
        "### polc diff: rendered artifacts against `{}`\n\n",
        md_escape(golden)
    );
    if diff.is_equal() {
        head.push_str(&format!(
            "✅ All {} file(s) equal the golden tree.\n",
            diff.files
        ));
        b.section("summary", &head, "", "");
        return b.finish("");
    }
    head.push_str(&format!(
        "**{} of {} file(s) differ** (+{added} −{removed} lines).\n\n\
         | node | target | file | status | added | removed |\n|---|---|---|---|---:|---:|\n",
        diff.differ.len(),
        diff.files
    ));
    let rows: String = diff
        .differ
        .iter()
        .map(|f| {
            format!(
                "| {} | {} | `{}` | {} | +{} | −{} |\n",
                md_escape(f.node.as_deref().unwrap_or("—")),
                md_escape(f.target.as_deref().unwrap_or("—")),
                f.path.replace('`', "'"),
                word(f.status),
                f.added_lines,
                f.removed_lines
            )
        })
        .collect();
    b.section("the summary table", &head, &rows, "\n");
    for f in &diff.differ {
        let fence = fence(&f.unified);
        let head = format!(
            "<details><summary><code>{}</code> {} (+{} −{})</summary>\n\n{fence}diff\n",
            html_escape(&f.path),
            word(f.status),
            f.added_lines,
            f.removed_lines
        );
        let tail = format!("{fence}\n\n</details>\n\n");
        b.section(&f.path, &head, &f.unified, &tail);
    }
    b.finish("Run `polc diff --golden` locally for the whole diff.")
}

/// Escape text for HTML inside Markdown.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn json(diff: &GoldenDiff, golden: &str) -> String {
    let (added, removed) = totals(diff);
    let count = |s: Status| diff.differ.iter().filter(|f| f.status == s).count();
    let v = json!({
        "schema": "polc-diff-golden/1",
        "golden": golden,
        "equal": diff.is_equal(),
        "files": diff.files,
        "summary": {
            "added": count(Status::Added),
            "removed": count(Status::Removed),
            "changed": count(Status::Changed),
            "added_lines": added,
            "removed_lines": removed,
        },
        "differ": diff.differ,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}
