//! `polc graph`: the tiers and the order their policies really run in, as Graphviz
//! DOT; with `--endpoint`, only what applies to one endpoint, per direction.

use std::io::Write;
use std::path::PathBuf;

use super::dot::render;
use super::{EXIT_OK, Inputs, Out, load_clean, usage_error};
use crate::semantics::precedence::PrecedenceGraph;
use crate::semantics::{EndpointKind, EndpointRef, Engine};

/// Arguments of `polc graph`.
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Only the policies that select this endpoint (NAMESPACE/POD or host/NAME), per
    /// direction and policy stage.
    #[arg(long, value_name = "EP")]
    endpoint: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Run `polc graph`.
pub fn run(args: &GraphArgs, out: &Out) -> i32 {
    let loaded = match load_clean(&args.inputs, out) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let engine = Engine::new(&loaded.model);
    let (graph, title) = match &args.endpoint {
        None => (
            PrecedenceGraph::all(&engine),
            "tiers and rule precedence: every enforced policy".to_string(),
        ),
        Some(spec) => {
            let ep = match engine.universe.resolve(&loaded.model, spec) {
                Ok(EndpointRef::Known(i)) => i,
                Ok(EndpointRef::External(ip)) => {
                    return usage_error(format!(
                        "--endpoint: {ip} is not an endpoint of the inventory; no policy applies to it"
                    ));
                }
                Err(e) => return usage_error(format!("--endpoint: {e}")),
            };
            let e = &engine.universe.endpoints[ep];
            if e.kind == EndpointKind::Node {
                return usage_error(format!(
                    "--endpoint: {} has no host endpoint, so Calico polices no traffic of it",
                    e.name
                ));
            }
            (
                PrecedenceGraph::endpoint(&engine, ep),
                format!("tiers and rule precedence for {}", e.name),
            )
        }
    };
    let text = render(&engine, &loaded.sources, &graph, &title);
    match &args.out {
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
