//! `polc completions SHELL` and `polc man [SUBCOMMAND]`: shell completion scripts
//! (clap_complete) and roff man pages (clap_mangen), generated from the CLI
//! definition itself, so they never go stale.

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, EXIT_OK, usage_error};

/// Arguments of `polc completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

/// Arguments of `polc man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Print the page of this subcommand (`polc-SUBCOMMAND(1)`) instead of polc(1).
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
    subcommand: Option<String>,
    /// Write every page (polc.1 and polc-SUBCOMMAND.1) into this folder instead.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Run `polc completions`.
pub fn completions(args: &CompletionsArgs) -> i32 {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "polc", &mut std::io::stdout());
    EXIT_OK
}

/// The roff text of one page.
fn render(cmd: clap::Command) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| format!("cannot render the man page: {e}"))?;
    Ok(out)
}

/// Every page: `polc` and each subcommand as `polc-NAME` (the display name clap gives
/// a subcommand once the command is built), with that name.
fn pages() -> Vec<(String, clap::Command)> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages: Vec<(String, clap::Command)> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .map(|s| (format!("polc-{}", s.get_name()), s.clone()))
        .collect();
    pages.insert(0, ("polc".to_string(), cmd));
    pages
}

/// Run `polc man`.
pub fn man(args: &ManArgs) -> i32 {
    let pages = pages();
    if let Some(dir) = &args.dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return usage_error(format!("cannot create `{}`: {e}", dir.display()));
        }
        for (name, page) in pages {
            let path = dir.join(format!("{name}.1"));
            match render(page).and_then(|text| {
                std::fs::write(&path, text)
                    .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
            }) {
                Ok(()) => {}
                Err(e) => return usage_error(e),
            }
        }
        return EXIT_OK;
    }
    let want = args
        .subcommand
        .as_ref()
        .map_or("polc".to_string(), |s| format!("polc-{s}"));
    let Some((_, page)) = pages.into_iter().find(|(name, _)| *name == want) else {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        return usage_error(format!(
            "no subcommand `{}`; one of: {}",
            args.subcommand.as_deref().unwrap_or_default(),
            names.join(", ")
        ));
    };
    match render(page) {
        Ok(text) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(&text);
            EXIT_OK
        }
        Err(e) => usage_error(e),
    }
}
