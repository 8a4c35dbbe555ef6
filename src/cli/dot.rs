//! Graphviz DOT text for the precedence graph: petgraph's `Dot` writes the nodes and
//! edges, with attributes from getters; clusters (one per tier, and one per chain of
//! an endpoint) are listed after them by node id.
//!
//! Every string that reaches the output passes through [`quote`]: manifest names can
//! hold quotes, backslashes, newlines or braces, and none of them may end a string or
//! start DOT syntax. Node and cluster ids are numbers polc makes up.

use std::fmt::Write;

use petgraph::dot::{Config, Dot};
use petgraph::graph::NodeIndex;

use crate::ir::{Model, TierAction};
use crate::semantics::precedence::{End, Flow, PrecedenceGraph, Section, Step};
use crate::semantics::{Direction, Engine, Stage};
use crate::source::{SourceId, Sources, Span};

/// A DOT quoted string of `text`, lines joined with DOT's `\n`: `"` and `\` are
/// escaped and every control character is written out visibly (`\u{1b}`), so nothing
/// in `text` can end the string or reach Graphviz's own escapes.
pub fn quote(lines: &[&str]) -> String {
    let mut out = String::from("\"");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("\\n");
        }
        for c in line.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let _ = write!(out, "\\\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
    out
}

/// `file:line` of a span, or `built in`.
fn file_line(sources: &Sources, span: Span) -> String {
    if span.file == SourceId::BUILTIN {
        return "built in".to_string();
    }
    let at = sources.locate(span);
    format!("{}:{}", at.file, at.line)
}

fn order(o: Option<f64>) -> String {
    o.map_or_else(|| "order none (last)".to_string(), |o| format!("order {o}"))
}

fn dir_word(d: Direction) -> &'static str {
    match d {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

/// The title of a chain.
pub fn section_title(engine: &Engine<'_>, s: &Section) -> String {
    let Some((ep, dir)) = s.endpoint else {
        return "every enforced policy".to_string();
    };
    let name = &engine.universe.endpoints[ep].name;
    let dir = dir_word(dir);
    match s.stage {
        Stage::Normal => format!("{dir} of {name}"),
        Stage::Forward => format!("{dir} of {name}, forwarded (applyOnForward policy)"),
        Stage::PreDnat => format!("{dir} of {name}, pre-DNAT policy"),
        Stage::Untracked => format!("{dir} of {name}, untracked (doNotTrack) policy"),
    }
}

fn node_label(model: &Model, sources: &Sources, step: &Step) -> String {
    match step {
        Step::Start { failsafe: false } => quote(&["start"]),
        Step::Start { failsafe: true } => quote(&["start", "failsafe ports accepted first"]),
        Step::TierEntry(t) => {
            let tier = &model.tiers[*t];
            quote(&[&format!("enter tier {}", tier.name), &order(tier.order)])
        }
        Step::Policy(p) => {
            let p = &model.policies[*p];
            let mut id = String::from(p.id.kind.as_str());
            if let Some(ns) = &p.id.namespace {
                id.push('/');
                id.push_str(ns);
            }
            id.push('/');
            id.push_str(&p.id.name);
            let flags: Vec<&str> = [
                (p.pre_dnat, "preDNAT"),
                (p.do_not_track, "doNotTrack"),
                (p.apply_on_forward, "applyOnForward"),
            ]
            .into_iter()
            .filter_map(|(on, f)| on.then_some(f))
            .collect();
            let (order, at, flags) = (order(p.order), file_line(sources, p.span), flags.join(" "));
            let mut lines = vec![id.as_str(), order.as_str(), at.as_str()];
            if !flags.is_empty() {
                lines.push(&flags);
            }
            quote(&lines)
        }
        Step::TierEnd { tier, action } => {
            let t = &model.tiers[*tier];
            let what = match (action, t.default_action) {
                (TierAction::Deny, _) => "defaultAction Deny",
                (TierAction::Pass, TierAction::Pass) => "defaultAction Pass",
                (TierAction::Pass, TierAction::Deny) => "Pass (forced in this stage)",
            };
            quote(&[&format!("end of tier {}", t.name), what])
        }
        Step::End(End::Profiles) => quote(&["end of chain", "profiles"]),
        Step::End(End::NamespaceProfile) => quote(&["end of chain", "namespace profile (allows)"]),
        Step::End(End::HostProfiles(names)) if names.is_empty() => {
            quote(&["end of chain", "no profile: drop"])
        }
        Step::End(End::HostProfiles(names)) => {
            let list = format!("profiles {}", names.join(", "));
            quote(&["end of chain", &list, "none allowing: drop"])
        }
        Step::End(End::ForwardDefault) => quote(&["end of chain", "forwarded traffic allowed"]),
        Step::End(End::NextStage) => quote(&["end of stage", "no verdict: the next stage decides"]),
    }
}

fn node_attrs(model: &Model, sources: &Sources, step: &Step) -> String {
    let style = match step {
        Step::Start { .. } => "shape=\"oval\"",
        Step::TierEntry(_) => "shape=\"cds\", style=\"filled\", fillcolor=\"lightgrey\"",
        Step::Policy(_) => "shape=\"box\"",
        Step::TierEnd {
            action: TierAction::Deny,
            ..
        } => "shape=\"octagon\", color=\"red3\"",
        Step::TierEnd { .. } => "shape=\"diamond\", color=\"blue3\"",
        Step::End(_) => "shape=\"doubleoctagon\"",
    };
    format!("label={}, {style} ", node_label(model, sources, step))
}

fn edge_attrs(flow: &Flow) -> String {
    match flow {
        Flow::Enter => "label=\"first packet\" ".to_string(),
        Flow::Next => "label=\"next\" ".to_string(),
        Flow::NotSelected => {
            "label=\"not selected\", style=\"dashed\", color=\"grey40\" ".to_string()
        }
        Flow::Pass(rules) => {
            let rules: Vec<String> = rules
                .iter()
                .map(|(d, i)| format!("{} rule {i}", dir_word(*d)))
                .collect();
            let label = format!("Pass: {}", rules.join(", "));
            format!(
                "label={}, color=\"blue3\", fontcolor=\"blue3\" ",
                quote(&[&label])
            )
        }
        Flow::DefaultPass => {
            "label=\"default Pass\", color=\"blue3\", fontcolor=\"blue3\" ".to_string()
        }
        Flow::Order => "style=\"invis\" ".to_string(),
    }
}

fn ids(nodes: impl IntoIterator<Item = NodeIndex>) -> String {
    nodes
        .into_iter()
        .map(|n| n.index().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The precedence graph as DOT, titled `title`.
pub fn render(engine: &Engine<'_>, sources: &Sources, g: &PrecedenceGraph, title: &str) -> String {
    let model = engine.model;
    let node_getter = |_, (_, step): (NodeIndex, &Step)| node_attrs(model, sources, step);
    let edge_getter = |_, e: petgraph::graph::EdgeReference<'_, Flow>| edge_attrs(e.weight());
    let dot = Dot::with_attr_getters(
        &g.graph,
        &[
            Config::GraphContentOnly,
            Config::NodeNoLabel,
            Config::EdgeNoLabel,
        ],
        &edge_getter,
        &node_getter,
    );
    let mut out = String::from("digraph polc {\n");
    let _ = writeln!(
        out,
        "    graph [label={}, labelloc=\"t\", compound=true, fontname=\"sans-serif\"]",
        quote(&[title])
    );
    out.push_str("    node [fontname=\"sans-serif\"]\n");
    out.push_str("    edge [fontname=\"sans-serif\", fontsize=10]\n");
    // No weight is printed (the labels come from the getters): `Debug` only satisfies
    // the bound.
    let _ = write!(out, "{dot:?}");
    let nested = g.sections.iter().any(|s| s.endpoint.is_some());
    for (i, s) in g.sections.iter().enumerate() {
        let mut indent = "    ";
        if nested {
            let _ = writeln!(
                out,
                "    subgraph cluster_s{i} {{\n        label={}; style=\"rounded\";\n        {};",
                quote(&[&section_title(engine, s)]),
                ids([s.start, s.end])
            );
            indent = "        ";
        }
        for (j, block) in s.tiers.iter().enumerate() {
            let tier = &model.tiers[block.tier];
            let _ = writeln!(
                out,
                "{indent}subgraph cluster_s{i}_t{j} {{ label={}; style=\"filled\"; fillcolor=\"grey95\"; {}; }}",
                quote(&[&format!("tier {}", tier.name)]),
                ids(block.nodes.iter().copied())
            );
        }
        if nested {
            out.push_str("    }\n");
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::precedence::PrecedenceGraph;

    const HOSTILE: &str = "a\"b\\c\nd\r}e{ -> 0 [label=<x>]; \\N \u{1b}[31m";

    /// Characters outside quoted strings, and whether every string is closed with no
    /// raw line break in it.
    fn outside_quotes(dot: &str) -> String {
        let mut out = String::new();
        let (mut quoted, mut escaped) = (false, false);
        for c in dot.chars() {
            if quoted {
                assert!(
                    c != '\n' && c != '\r',
                    "a raw line break in a string: {dot}"
                );
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => quoted = false,
                    _ => {}
                }
            } else if c == '"' {
                quoted = true;
            } else {
                out.push(c);
            }
        }
        assert!(!quoted, "an unclosed string: {dot}");
        out
    }

    #[test]
    fn quoting_escapes_everything_that_could_end_a_string() {
        let q = quote(&[HOSTILE, "second"]);
        assert_eq!(
            q,
            "\"a\\\"b\\\\c\\\\u{a}d\\\\u{d}}e{ -> 0 [label=<x>]; \\\\N \\\\u{1b}[31m\\nsecond\""
        );
        assert_eq!(outside_quotes(&q), "");
    }

    #[test]
    fn hostile_names_in_the_model_stay_inside_their_strings() {
        let mut sources = Sources::default();
        sources.add(
            "p.yaml".into(),
            "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: 1}\n---\n\
             apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: \"n\"}\n\
             spec: {tier: t, selector: all(), ingress: [{action: Pass}]}\n---\n\
             apiVersion: v1\nkind: Namespace\nmetadata: {name: \"n\"}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: w, namespace: \"n\"}\n\
             spec: {nodeName: k}\nstatus: {podIP: 10.0.0.1}\n"
                .into(),
        );
        let loaded = crate::frontend::load_sources(sources);
        assert!(!loaded.diags.has_errors());
        let clean = {
            let engine = Engine::new(&loaded.model);
            let g = PrecedenceGraph::all(&engine);
            render(&engine, &loaded.sources, &g, "title")
        };
        // Names the frontend would refuse, put straight into the model.
        let mut model = loaded.model;
        for t in model.tiers.iter_mut().filter(|t| t.name == "t") {
            t.name = HOSTILE.to_string();
        }
        for p in &mut model.policies {
            p.tier = HOSTILE.to_string();
            p.id.name = HOSTILE.to_string();
            p.id.namespace = Some(HOSTILE.to_string());
        }
        let engine = Engine::new(&model);
        let all = PrecedenceGraph::all(&engine);
        let dot = render(&engine, &loaded.sources, &all, HOSTILE);
        assert_eq!(outside_quotes(&dot), outside_quotes(&clean));
        assert_eq!(dot.lines().count(), clean.lines().count());
        for ep in 0..engine.universe.endpoints.len() {
            let g = PrecedenceGraph::endpoint(&engine, ep);
            let dot = render(&engine, &loaded.sources, &g, HOSTILE);
            let skeleton = outside_quotes(&dot);
            assert!(
                skeleton
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " \n_-=>[]{};,".contains(c)),
                "{skeleton}"
            );
            let parsed: Result<
                petgraph::graph::DiGraph<
                    petgraph::dot::dot_parser::DotNodeWeight<'_>,
                    petgraph::dot::dot_parser::DotAttrList<'_>,
                >,
                _,
            > = petgraph::dot::dot_parser::ParseFromDot::try_from(dot.as_str());
            assert!(parsed.is_ok(), "{dot}");
        }
    }
}
