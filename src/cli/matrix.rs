//! `polc matrix`: every endpoint against every other, as a terminal table, Markdown
//! for a PR comment, JSON (a stable contract) or one self-contained HTML heatmap.

use std::io::Write;
use std::path::PathBuf;

use clap::ValueEnum;
use serde::Serialize;
use serde_json::{Value, json};

use super::describe::{WHAT_IF_STAGED, decider, filter, parse_port, port_name, what_if};
use super::{EXIT_OK, Inputs, Out, load_clean, usage_error};
use crate::ir::Protocol;
use crate::semantics::matrix::{Cell, CellSet, Matrix, matrix};
use crate::semantics::{EndpointKind, EndpointRef, Engine};
use crate::source::Sources;

/// Output format of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatrixFormat {
    /// An aligned table (coloured on a terminal).
    Table,
    /// A Markdown table, for a pull-request comment.
    Markdown,
    /// JSON: `{"endpoints": [...], "cells": [...]}`.
    Json,
    /// One self-contained HTML page: a heatmap with each cell's deciding policy on hover.
    Html,
}

/// Arguments of `polc matrix`.
#[derive(Debug, clap::Args)]
pub struct MatrixArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Evaluate this port: PORT/PROTO (e.g. 22/tcp, 53/UDP) or `icmp`. Repeatable.
    /// Without it, each cell shows exactly which protocols and ports are allowed.
    #[arg(long = "port", value_name = "PORT/PROTO")]
    ports: Vec<String>,
    /// Rows: endpoint names (comma-separated) or a selector over endpoint labels.
    #[arg(long, value_name = "NAMES|SELECTOR")]
    from: Option<String>,
    /// Columns: endpoint names (comma-separated) or a selector over endpoint labels.
    #[arg(long, value_name = "NAMES|SELECTOR")]
    to: Option<String>,
    /// What-if: the matrix as if every staged policy were enforced (StagedNetworkPolicy,
    /// StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy).
    #[arg(long)]
    staged: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = MatrixFormat::Table)]
    format: MatrixFormat,
    /// Write to this file instead of standard output (`--output` is accepted too).
    #[arg(long = "out", short = 'o', alias = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

/// How a cell reads at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum State {
    Allow,
    Deny,
    Partial,
}

#[derive(Debug, Serialize)]
struct ViewCell {
    text: String,
    state: State,
    title: String,
}

/// Run `polc matrix`.
pub fn run(args: &MatrixArgs, out: &Out) -> i32 {
    let mut ports = Vec::new();
    for p in &args.ports {
        match parse_port(p) {
            Ok(x) => ports.push(x),
            Err(e) => return usage_error(format!("--port {p}: {e}")),
        }
    }
    let loaded = match load_clean(&args.inputs, out) {
        Ok(l) => what_if(l, args.staged),
        Err(code) => return code,
    };
    let engine = Engine::new(&loaded.model);
    let all: Vec<EndpointRef> = (0..engine.universe.endpoints.len())
        .map(EndpointRef::Known)
        .collect();
    let (rows, cols) = match (
        filter(&engine, &all, args.from.as_deref()),
        filter(&engine, &all, args.to.as_deref()),
    ) {
        (Ok(r), Ok(c)) => (r, c),
        (Err(e), _) => return usage_error(format!("--from: {e}")),
        (_, Err(e)) => return usage_error(format!("--to: {e}")),
    };
    let m = matrix(&engine, &rows, &cols, &ports);
    let view = view(&engine, &loaded.sources, &m);
    let names = |v: &[EndpointRef]| {
        v.iter()
            .map(|r| engine.universe.name(*r))
            .collect::<Vec<_>>()
    };
    let (row_names, col_names) = (names(&m.rows), names(&m.cols));
    let color = args.output.is_none() && out.stdout_color();
    let title = args.staged.then_some(WHAT_IF_STAGED);
    let text = match args.format {
        MatrixFormat::Table => {
            title.map_or(String::new(), |t| format!("{t}\n"))
                + &table(&row_names, &col_names, &view, &ports, color)
        }
        MatrixFormat::Markdown => {
            title.map_or(String::new(), |t| format!("**{}**\n\n", md_escape(t)))
                + &markdown(&row_names, &col_names, &view, &ports)
        }
        MatrixFormat::Json => {
            let mut v = json_report(&engine, &loaded.sources, &m);
            if let Some(t) = title {
                v["what_if"] = json!({"staged": true, "title": t});
            }
            serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
        }
        MatrixFormat::Html => match html(&row_names, &col_names, &view, &ports, title) {
            Ok(h) => h,
            Err(e) => return usage_error(format!("rendering the HTML template: {e}")),
        },
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                return usage_error(format!("cannot write `{}`: {e}", path.display()));
            }
        }
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    EXIT_OK
}

fn view(engine: &Engine<'_>, sources: &Sources, m: &Matrix) -> Vec<Vec<ViewCell>> {
    let model = engine.model;
    (0..m.rows.len())
        .map(|i| {
            (0..m.cols.len())
                .map(|j| match m.cell(i, j) {
                    Cell::Ports(vs) => {
                        let allowed = vs.iter().filter(|v| v.allowed).count();
                        let state = match allowed {
                            0 => State::Deny,
                            n if n == vs.len() => State::Allow,
                            _ => State::Partial,
                        };
                        let text = vs
                            .iter()
                            .map(|v| if v.allowed { "✓" } else { "✗" })
                            .collect::<Vec<_>>()
                            .join(" ");
                        let title = vs
                            .iter()
                            .zip(&m.ports)
                            .map(|(v, (p, n))| {
                                format!(
                                    "{} {}: {}",
                                    port_name(*p, *n),
                                    if v.allowed { "allowed" } else { "denied" },
                                    decider(&v.decider, model, sources)
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n");
                        ViewCell { text, state, title }
                    }
                    Cell::Set(set, witnesses) => {
                        let state = if set.is_all() {
                            State::Allow
                        } else if set.is_none() {
                            State::Deny
                        } else {
                            State::Partial
                        };
                        let mut title = set.to_string();
                        for (p, n, v) in witnesses {
                            let word = if v.allowed { "allowed" } else { "denied" };
                            title.push_str(&format!(
                                "\n{} {word}: {}",
                                port_name(*p, *n),
                                decider(&v.decider, model, sources)
                            ));
                        }
                        ViewCell {
                            text: set.to_string(),
                            state,
                            title,
                        }
                    }
                })
                .collect()
        })
        .collect()
}

fn legend(ports: &[(Protocol, u16)]) -> String {
    if ports.is_empty() {
        "each cell: what the row may open to the column (exact protocols and destination ports)"
            .to_string()
    } else {
        let names: Vec<String> = ports.iter().map(|(p, n)| port_name(*p, *n)).collect();
        format!("each cell: ✓ allowed / ✗ denied, for {}", names.join(" "))
    }
}

fn table(
    rows: &[String],
    cols: &[String],
    view: &[Vec<ViewCell>],
    ports: &[(Protocol, u16)],
    color: bool,
) -> String {
    let corner = "from \\ to";
    let first = rows
        .iter()
        .map(|r| r.chars().count())
        .chain([corner.len()])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(j, c)| {
            view.iter()
                .map(|row| row[j].text.chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = format!("{}\n\n{}", legend(ports), pad(corner, first));
    for (c, w) in cols.iter().zip(&widths) {
        out.push_str("  ");
        out.push_str(&pad(c, *w));
    }
    out = out.trim_end().to_string() + "\n";
    for (r, row) in rows.iter().zip(view) {
        let mut line = pad(r, first);
        for (cell, w) in row.iter().zip(&widths) {
            line.push_str("  ");
            let padded = pad(&cell.text, *w);
            if color {
                let style = match cell.state {
                    State::Allow => anstyle::AnsiColor::Green.on_default(),
                    State::Deny => anstyle::AnsiColor::Red.on_default(),
                    State::Partial => anstyle::AnsiColor::Yellow.on_default(),
                };
                line.push_str(&format!("{style}{padded}{style:#}"));
            } else {
                line.push_str(&padded);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn md_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '|' | '\\' | '`' | '*' | '_' | '<' | '>' | '[' | ']' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

fn markdown(
    rows: &[String],
    cols: &[String],
    view: &[Vec<ViewCell>],
    ports: &[(Protocol, u16)],
) -> String {
    let mut out = format!("_{}_\n\n| from \\\\ to |", md_escape(&legend(ports)));
    for c in cols {
        out.push_str(&format!(" {} |", md_escape(c)));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(cols.len()));
    out.push('\n');
    for (r, row) in rows.iter().zip(view) {
        out.push_str(&format!("| **{}** |", md_escape(r)));
        for cell in row {
            let mark = match cell.state {
                State::Allow => "✅",
                State::Deny => "❌",
                State::Partial => "🟨",
            };
            let text = if ports.is_empty() {
                format!("{mark} {}", md_escape(&cell.text))
            } else {
                format!("{mark} {}", cell.text)
            };
            out.push_str(&format!(" {text} |"));
        }
        out.push('\n');
    }
    out
}

fn set_json(set: &CellSet) -> Value {
    let ports: serde_json::Map<String, Value> = set
        .ports
        .iter()
        .map(|(p, s)| {
            (
                p.to_string(),
                json!(s.ranges().iter().map(|r| [r.lo, r.hi]).collect::<Vec<_>>()),
            )
        })
        .collect();
    json!({
        "summary": set.to_string(),
        "all": set.is_all(),
        "none": set.is_none(),
        "family": set.family.map(|f| if f == crate::ir::IpVersion::V4 { 4 } else { 6 }),
        "ports": ports,
        "icmp": set.icmp.iter().map(|(t, lo, hi)| json!({"type": t, "codes": [lo, hi]})).collect::<Vec<_>>(),
        "protocols": set.named_protocols.iter().filter(|(_, a)| **a).map(|(p, _)| *p).collect::<Vec<_>>(),
        "denied_protocols": set.named_protocols.iter().filter(|(_, a)| !**a).map(|(p, _)| *p).collect::<Vec<_>>(),
        "other_protocols": set.other,
    })
}

fn json_report(engine: &Engine<'_>, sources: &Sources, m: &Matrix) -> Value {
    let model = engine.model;
    let mut endpoints: Vec<EndpointRef> = m.rows.clone();
    for c in &m.cols {
        if !endpoints.contains(c) {
            endpoints.push(*c);
        }
    }
    let endpoints: Vec<Value> = endpoints
        .iter()
        .map(|r| match r {
            EndpointRef::Known(i) => {
                let e = &engine.universe.endpoints[*i];
                let kind = match e.kind {
                    EndpointKind::Pod => "pod",
                    EndpointKind::Host => "host",
                    EndpointKind::Node => "node",
                    EndpointKind::External => "external",
                };
                json!({"name": e.name, "kind": kind, "node": e.node, "ips": e.ips.iter().map(|i| i.to_string()).collect::<Vec<_>>()})
            }
            EndpointRef::External(ip) => json!({"name": ip.to_string(), "kind": "external", "node": null, "ips": [ip.to_string()]}),
        })
        .collect();
    let mut cells = Vec::new();
    for i in 0..m.rows.len() {
        for j in 0..m.cols.len() {
            let cell = m.cell(i, j);
            let (from, to) = (
                engine.universe.name(m.rows[i]),
                engine.universe.name(m.cols[j]),
            );
            match cell {
                Cell::Ports(vs) => {
                    for (v, (p, n)) in vs.iter().zip(&m.ports) {
                        cells.push(json!({
                            "from": from,
                            "to": to,
                            "port": if p.is_icmp() { Value::Null } else { json!(n) },
                            "protocol": p.to_string(),
                            "allowed": v.allowed,
                            "decided_by": decider(&v.decider, model, sources),
                        }));
                    }
                }
                Cell::Set(set, _) => {
                    let mut c = set_json(set);
                    c["from"] = json!(from);
                    c["to"] = json!(to);
                    cells.push(c);
                }
            }
        }
    }
    json!({
        "endpoints": endpoints,
        "ports": m.ports.iter().map(|(p, n)| port_name(*p, *n)).collect::<Vec<_>>(),
        "cells": cells,
    })
}

const HTML_TEMPLATE: &str = include_str!("../../templates/matrix.html");

fn html(
    rows: &[String],
    cols: &[String],
    view: &[Vec<ViewCell>],
    ports: &[(Protocol, u16)],
    what_if: Option<&str>,
) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("matrix.html", HTML_TEMPLATE)?;
    let allowed = view
        .iter()
        .flatten()
        .filter(|c| c.state == State::Allow)
        .count();
    let denied = view
        .iter()
        .flatten()
        .filter(|c| c.state == State::Deny)
        .count();
    let partial = view
        .iter()
        .flatten()
        .filter(|c| c.state == State::Partial)
        .count();
    env.get_template("matrix.html")?
        .render(minijinja::context! {
            legend => legend(ports),
            what_if => what_if,
            rows => minijinja::value::Serde(rows),
            cols => minijinja::value::Serde(cols),
            cells => minijinja::value::Serde(view),
            allowed => allowed,
            denied => denied,
            partial => partial,
            version => env!("CARGO_PKG_VERSION"),
        })
}
