//! `serve [--port N]`: build, serve on 127.0.0.1, rebuild and reload on changes.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Global, ServeArgs};
use crate::ops::serve;

pub fn run(global: &Global, args: &ServeArgs) -> Result<ExitCode> {
    let now = global
        .now
        .as_ref()
        .map(|_| super::now(global))
        .transpose()?;
    let bound = serve::bind(args.port)?;
    let log = |line: &str| println!("{line}");
    let detail = |text: &str| eprintln!("{text}\n");
    serve::serve(
        &bound,
        &serve::Options {
            config_path: &global.config,
            out: &args.out,
            now,
            log: &log,
            detail: &detail,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
