//! `polc explain-code`: the documentation of a diagnostic code (what it means, why it
//! matters, an example that triggers it, how to fix it), or the list of every code.

use std::io::Write;

use super::{EXIT_OK, usage_error};
use crate::codes::{CODES, lookup, suggest};

/// Arguments of `polc explain-code`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true))]
pub struct ExplainCodeArgs {
    /// The code, as in `error[CODE]` (`shadowed-rule`, `unknown-field`, ...).
    #[arg(value_name = "CODE", group = "what")]
    code: Option<String>,
    /// List every code with its severity and title.
    #[arg(long, group = "what")]
    list: bool,
}

/// Run `polc explain-code`.
pub fn run(args: &ExplainCodeArgs) -> i32 {
    let mut stdout = std::io::stdout().lock();
    if args.list {
        let width = CODES.iter().map(|c| c.code.len()).max().unwrap_or(0);
        for c in CODES {
            let _ = writeln!(
                stdout,
                "{:width$}  {:7}  {}",
                c.code,
                c.severity.as_str(),
                c.title
            );
        }
        return EXIT_OK;
    }
    let typed = args.code.as_deref().unwrap_or_default().trim();
    // Accept the code as diagnostics print it: `error[shadowed-rule]`.
    let code = typed
        .rsplit_once('[')
        .map_or(typed, |(_, c)| c.trim_end_matches([']', ':']));
    match lookup(code) {
        Some(c) => {
            let _ = stdout.write_all(c.doc.as_bytes());
            EXIT_OK
        }
        None => {
            let hint = match suggest(code) {
                Some(s) => format!("; did you mean `{s}`?"),
                None => "; `polc explain-code --list` lists every code".to_string(),
            };
            usage_error(format!("no diagnostic code `{code}`{hint}"))
        }
    }
}
