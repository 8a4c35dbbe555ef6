//! `polc build`: per-node firewall artifacts and `manifest.json`, written atomically.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::ValueEnum;

use std::io::Write;

use super::check::diagnose;
use super::lints::LintArgs;
use super::{EXIT_INPUT, EXIT_OK, Inputs, Out, usage_error};
use crate::backend::nft::NftOptions;
use crate::backend::{Artifact, Marks, OutDir, Render, Resolver, Target, iptables, nft};
use crate::diag::render_text;
use crate::frontend::Loaded;
use crate::semantics::Engine;

/// What to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// nftables scripts (`polc.nft`, for `nft -f`).
    Nft,
    /// iptables-restore, ip6tables-restore and ipset restore files (`polc.iptables`,
    /// `polc.ip6tables`, `polc.ipset`, and `polc-iptables-load` that loads them).
    Iptables,
    /// Every target.
    All,
}

impl TargetArg {
    /// The targets it names.
    pub fn targets(self) -> Vec<Target> {
        match self {
            TargetArg::Nft => vec![Target::Nft],
            TargetArg::Iptables => vec![Target::Iptables],
            TargetArg::All => Target::ALL.to_vec(),
        }
    }
}

/// Arguments of `polc build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// The artifact kind.
    #[arg(long, value_enum)]
    target: TargetArg,
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
    #[command(flatten)]
    nft: NftOptions,
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
    let (artifacts, nodes) = match render(loaded, &args.target.targets(), &args.render) {
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

/// Render the artifacts of a clean model in memory, for `targets`: each target's files per node (every node the
/// input names, or `--node`), and how many nodes. Errors are usage errors.
pub fn render(
    loaded: &Loaded,
    targets: &[Target],
    args: &RenderArgs,
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
    // Templates are read (and refused) before any node is rendered.
    let marks = Marks::default();
    let templates = args.templates.as_deref();
    let mut renderers: Vec<Box<dyn Render>> = Vec::new();
    for &t in targets {
        renderers.push(match t {
            Target::Nft => Box::new(nft::Renderer::new(args.nft.clone(), marks, templates)?),
            Target::Iptables => Box::new(iptables::Renderer::new(marks, templates)?),
        });
    }
    let engine = Engine::new(model);
    let resolver = Resolver::new(&engine);
    let mut artifacts = Vec::new();
    for node in &nodes {
        let m = crate::backend::build::build(&resolver, &loaded.sources, node, marks)?;
        for r in &renderers {
            artifacts.extend(r.render(&m)?);
        }
    }
    Ok((artifacts, nodes.len()))
}
