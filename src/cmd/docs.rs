//! `completions <shell>` and `man`: generated from the clap definitions, so they never drift.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::diagnostics::display_path;

pub fn completions(args: &CompletionsArgs) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "statuscast", &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: &ManArgs) -> Result<ExitCode> {
    let cmd = Cli::command();
    match &args.out {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("error: cannot create {}", display_path(dir)))?;
            clap_mangen::generate_to(cmd, dir).with_context(|| {
                format!(
                    "error: cannot write the man pages into {}",
                    display_path(dir)
                )
            })?;
            println!("wrote the man pages into {}/", display_path(dir));
        }
    }
    Ok(ExitCode::SUCCESS)
}
