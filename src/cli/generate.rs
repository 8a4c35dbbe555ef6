//! `polc generate`: write a generated policy repository (see `crate::testgen`) into a
//! folder, for benchmarks and tests: a named preset, or the fleet shape at any size.

use std::path::PathBuf;

use super::{EXIT_OK, usage_error};
use crate::testgen::{self, Counts, Fleet, Shape, fleet::DEFAULT_APPS};

/// Arguments of `polc generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// A named shape and size: fleet-s, fleet-m, fleet-l (the fleet shape at the
    /// sizes of issue 14's table), bench-large, bench-matrix (the benchmarks'
    /// original shape, whose rules shadow one another).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["policies", "rules", "nodes", "pods", "apps"])]
    preset: Option<String>,
    /// Policies of the fleet shape (a tenth in the host-firewall tier).
    #[arg(long, value_name = "N")]
    policies: Option<usize>,
    /// Rules per policy.
    #[arg(long, value_name = "N")]
    rules: Option<usize>,
    /// Nodes, each with a host endpoint.
    #[arg(long, value_name = "N")]
    nodes: Option<usize>,
    /// Pods.
    #[arg(long, value_name = "N")]
    pods: Option<usize>,
    /// Apps the app policies and pods spread over (default 50, or --pods if fewer).
    #[arg(long, value_name = "N")]
    apps: Option<usize>,
    /// The folder to write: new, empty, or an earlier `polc generate` output (only the
    /// files that run wrote are replaced).
    #[arg(long, short, value_name = "DIR")]
    out: PathBuf,
}

impl GenerateArgs {
    /// The shape asked for, and how to describe it.
    fn shape(&self) -> Result<(Shape, String), String> {
        if let Some(name) = &self.preset {
            let shape = testgen::preset(name).ok_or_else(|| {
                let names: Vec<&str> = testgen::PRESETS.iter().map(|(n, _)| *n).collect();
                format!("unknown preset `{name}`; the presets: {}", names.join(", "))
            })?;
            return Ok((shape, format!("--preset {name}")));
        }
        let (Some(policies), Some(rules), Some(nodes), Some(pods)) =
            (self.policies, self.rules, self.nodes, self.pods)
        else {
            return Err(
                "give --preset NAME, or all of --policies, --rules, --nodes and --pods".into(),
            );
        };
        let apps = self.apps.unwrap_or(DEFAULT_APPS.min(pods.max(1)));
        let fleet = Fleet {
            policies,
            rules,
            nodes,
            pods,
            apps,
        };
        fleet.validate()?;
        let about = format!(
            "--policies {policies} --rules {rules} --nodes {nodes} --pods {pods} --apps {apps}"
        );
        Ok((Shape::Fleet(fleet), about))
    }
}

/// Run `polc generate`.
pub fn run(args: &GenerateArgs) -> i32 {
    let (shape, about) = match args.shape() {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let (files, counts) = match shape.generate() {
        Ok(g) => g,
        Err(e) => return usage_error(e),
    };
    if let Err(e) = testgen::write::write(&args.out, &files, &about) {
        return usage_error(e);
    }
    println!("{}", summary(&args.out, &counts));
    EXIT_OK
}

fn summary(dir: &std::path::Path, c: &Counts) -> String {
    format!(
        "generated {}: {} files, {} bytes; {} policies ({} host firewall) with {} rules, \
         {} network sets ({} networks), {} namespaces, {} pods, {} nodes, {} host endpoints",
        dir.display(),
        c.files,
        c.bytes,
        c.policies,
        c.host_policies,
        c.rules,
        c.network_sets,
        c.set_nets,
        c.namespaces,
        c.pods,
        c.nodes,
        c.host_endpoints
    )
}
