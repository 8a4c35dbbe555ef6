//! `polc selector`: parse one selector, print its normal form and, given labels,
//! whether it matches them.

use std::collections::BTreeMap;

use serde_json::json;

use super::{EXIT_INPUT, EXIT_OK, Format, Out, usage_error};
use crate::diag::{Diagnostic, render_text};
use crate::selector;
use crate::source::{Sources, Span};

/// Arguments of `polc selector`.
#[derive(Debug, clap::Args)]
pub struct SelectorArgs {
    /// The selector, e.g. "role == 'node' || has(k8s-app)".
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    expr: String,
    /// A label set as a JSON object, e.g. '{"role": "node"}'.
    #[arg(long, value_name = "JSON")]
    labels: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when the selector does not match `--labels` (default: 0 either way).
    #[arg(long, requires = "labels")]
    exit_code: bool,
}

/// Run `polc selector`.
pub fn run(args: &SelectorArgs, out: &Out) -> i32 {
    let labels: Option<BTreeMap<String, String>> = match &args.labels {
        None => None,
        Some(text) => match serde_json::from_str(text) {
            Ok(l) => Some(l),
            Err(e) => {
                return usage_error(format!("--labels must be a JSON object of strings: {e}"));
            }
        },
    };
    match selector::parse(&args.expr) {
        Ok(expr) => {
            let matches = labels.as_ref().map(|l| expr.matches(l));
            match args.format {
                Format::Json => {
                    println!(
                        "{}",
                        json!({"valid": true, "matches": matches, "normalized": expr.to_string()})
                    );
                }
                Format::Text => {
                    println!("{expr}");
                    if let Some(m) = matches {
                        println!("{}", if m { "matches" } else { "does not match" });
                    }
                }
            }
            if args.exit_code && matches == Some(false) {
                EXIT_INPUT
            } else {
                EXIT_OK
            }
        }
        Err(err) => {
            match args.format {
                Format::Json => println!(
                    "{}",
                    json!({
                        "valid": false,
                        "error": {"message": err.message, "column": err.column, "offset": err.offset}
                    })
                ),
                Format::Text => {
                    let mut sources = Sources::default();
                    let id = sources.add("<selector>".into(), args.expr.clone());
                    let d = Diagnostic::error("invalid-selector", err.message.clone())
                        .at(Span::new(id, err.offset, err.offset));
                    eprint!("{}", render_text(&d, &sources, out.color));
                }
            }
            EXIT_INPUT
        }
    }
}
