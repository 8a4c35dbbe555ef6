//! `polc build`: per-node firewall artifacts and `manifest.json`, written atomically.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::ValueEnum;

use std::io::Write;

use super::check::diagnose;
use super::lints::LintArgs;
use super::{EXIT_INPUT, EXIT_OK, Inputs, Out, usage_error};
use crate::backend::nft::NftOptions;
use crate::backend::{Artifact, OutDir, nft};
use crate::diag::render_text;
use crate::frontend::Loaded;
use crate::semantics::Engine;

/// What to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// nftables scripts (`nft -f`).
    Nft,
}

/// Arguments of `polc build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// The artifact kind.
    #[arg(long, value_enum)]
    target: Target,
    /// The output folder (replaced atomically; `DIR/<node>/polc.nft`, `DIR/manifest.json`).
    /// New, empty, or an earlier output of polc; never an input or a folder holding one.
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    render: RenderArgs,
    #[command(flatten)]
    lints: LintArgs,
}

/// The flags that shape the artifacts, shared by `build` and `diff --golden`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Build only these nodes (repeatable). Default: every node the input names.
    #[arg(long = "node", value_name = "NAME")]
    nodes: Vec<String>,
    /// Use the templates in DIR (laid out as this repository's `templates/`).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Priority of the untracked (raw) base chains.
    #[arg(long, default_value_t = NftOptions::default().raw_priority, allow_hyphen_values = true,
          value_parser = priority(0))]
    raw_priority: i32,
    /// Priority of the pre-DNAT base chain.
    #[arg(long, default_value_t = NftOptions::default().mangle_priority, allow_hyphen_values = true,
          value_parser = priority(0))]
    mangle_priority: i32,
    /// Priority of the filter base chains (later stages get +1, +2, +3).
    #[arg(long, default_value_t = NftOptions::default().filter_priority, allow_hyphen_values = true,
          value_parser = priority(FILTER_STAGES))]
    filter_priority: i32,
}

/// How many priorities above `--filter-priority` the later filter stages take.
const FILTER_STAGES: i32 = 3;

/// A chain priority: nft takes a signed 32-bit number, and polc adds up to `above` to
/// it, so the largest accepted value is `i32::MAX - above`; clap's message names the
/// range.
fn priority(above: i32) -> clap::builder::RangedI64ValueParser<i32> {
    clap::value_parser!(i32).range(i64::from(i32::MIN)..=i64::from(i32::MAX - above))
}

/// Nodes to suggest for a `--node` that names none: the nearest (a likely typo),
/// else the nodes closest in spelling, at most five.
fn node_hint(n: &str, nodes: &BTreeSet<String>) -> String {
    if let Some(c) = crate::frontend::closest(n, nodes.iter().map(String::as_str)) {
        return format!("; did you mean `{c}`?");
    }
    let mut near: Vec<(usize, &str)> = nodes
        .iter()
        .map(|m| (strsim::damerau_levenshtein(n, m), m.as_str()))
        .collect();
    near.sort();
    let names: Vec<String> = near.iter().take(5).map(|(_, m)| format!("`{m}`")).collect();
    if names.is_empty() {
        "; the input names no node".to_string()
    } else {
        format!("; the nearest: {}", names.join(", "))
    }
}

/// Run `polc build`.
pub fn run(args: &BuildArgs, out: &Out) -> i32 {
    let out_dir = match OutDir::check(&args.out, &args.inputs.paths()) {
        Ok(d) => d,
        Err(e) => return usage_error(e),
    };
    let template_text = match template_text(&args.render) {
        Ok(t) => t,
        Err(e) => return usage_error(e),
    };
    // The checks `polc check` runs: on an error nothing is written.
    let diagnosed = match diagnose(&args.inputs, &args.lints) {
        Ok(d) => d,
        Err(e) => return usage_error(e),
    };
    let loaded = &diagnosed.loaded;
    super::report_skipped(&loaded.skipped_inputs);
    {
        let mut stderr = std::io::stderr().lock();
        for d in loaded.diags.sorted() {
            let _ = writeln!(stderr, "{}", render_text(d, &loaded.sources, out.color));
        }
        if diagnosed.fails() {
            let _ = writeln!(
                stderr,
                "polc: the input has errors{}; nothing was built",
                if diagnosed.severities.deny_warnings() {
                    " or denied warnings"
                } else {
                    ""
                }
            );
            return EXIT_INPUT;
        }
    }
    let (artifacts, nodes) = match render(loaded, args.target, &args.render, template_text) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    let shown = args.out.display();
    let mut on_wait =
        || eprintln!("polc: waiting for another `polc build` writing `{shown}` to finish");
    let input = crate::backend::InputDigest::of(&loaded.sources);
    if let Err(e) = out_dir.write(&artifacts, &input, &mut on_wait) {
        return usage_error(e);
    }
    let rules: usize = artifacts.iter().map(|a| a.rules).sum();
    println!(
        "built {} artifact(s) for {} node(s) in {}: {rules} rules",
        artifacts.len(),
        nodes,
        args.out.display()
    );
    EXIT_OK
}

/// The text of the nft template: the bundled one, or `DIR/nft/polc.nft` of
/// `--templates DIR`.
pub fn template_text(args: &RenderArgs) -> Result<String, String> {
    match &args.templates {
        None => Ok(nft::template::DEFAULT.to_string()),
        Some(dir) => std::fs::read_to_string(dir.join("nft/polc.nft"))
            .map_err(|e| format!("cannot read `{}`: {e}", dir.join("nft/polc.nft").display())),
    }
}

/// Render the artifacts of a clean model in memory: one per node (every node the
/// input names, or `--node`), and how many nodes. Errors are usage errors.
pub fn render(
    loaded: &Loaded,
    target: Target,
    args: &RenderArgs,
    template_text: String,
) -> Result<(Vec<Artifact>, usize), String> {
    let model = &loaded.model;
    let mut nodes: BTreeSet<String> = model.nodes.iter().map(|n| n.name.clone()).collect();
    nodes.extend(model.host_endpoints.iter().map(|h| h.node.clone()));
    nodes.extend(model.pods.iter().filter_map(|p| p.node.clone()));
    if !args.nodes.is_empty() {
        for n in &args.nodes {
            if !nodes.contains(n) {
                return Err(format!(
                    "--node {n}: no such node in the input{}",
                    node_hint(n, &nodes)
                ));
            }
        }
        nodes = args.nodes.iter().cloned().collect();
    }
    // The one environment every rendering uses (`explain --target nft` too).
    let env = nft::template::environment(template_text)?;
    let template = env
        .get_template(nft::template::NAME)
        .map_err(|_| "the nft template is missing".to_string())?;
    let engine = Engine::new(model);
    let resolver = nft::Resolver::new(&engine);
    let opts = NftOptions {
        raw_priority: args.raw_priority,
        mangle_priority: args.mangle_priority,
        filter_priority: args.filter_priority,
        ..NftOptions::default()
    };
    let mut artifacts = Vec::new();
    for node in &nodes {
        match target {
            Target::Nft => artifacts.push(nft::build(
                &resolver,
                &loaded.sources,
                node,
                &opts,
                &template,
            )?),
        }
    }
    Ok((artifacts, nodes.len()))
}
