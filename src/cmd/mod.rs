//! One thin function per subcommand: load → call the library → report.

mod broadcast;
mod build;
mod channels;
mod check;
mod daemon;
mod docs;
mod edit;
mod init;
mod ledger;
mod new;
mod report;
mod serve;

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::cli::{ChannelsCommand, Cli, Command, Global, LedgerCommand};

/// Run the parsed command line.
///
/// # Errors
/// Anything that stops the command; printed once by `main`.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    let result = dispatch(cli);
    // A parse cache still being written is finished before the process ends.
    crate::source::cache::wait();
    result
}

fn dispatch(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Build(args) => build::run(&cli.global, args),
        Command::Check => check::run(&cli.global),
        Command::New(args) => new::run(&cli.global, args),
        Command::Plan(args) => broadcast::plan(&cli.global, args),
        Command::Broadcast(args) => broadcast::broadcast(&cli.global, args),
        Command::Run(args) => broadcast::run(&cli.global, args),
        Command::Channels(ChannelsCommand::Check) => channels::check(&cli.global),
        Command::Ledger(LedgerCommand::Resolve { key, decision }) => {
            ledger::resolve(&cli.global, key, decision)
        }
        Command::Daemon(args) => daemon::run(&cli.global, args),
        Command::Init(args) => init::run(&cli.global, args),
        Command::Update(args) => edit::update(&cli.global, args),
        Command::Resolve(args) => edit::resolve(&cli.global, args),
        Command::Serve(args) => serve::run(&cli.global, args),
        Command::Report(args) => report::run(&cli.global, args),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
    }
}

/// `--now`, or the clock.
pub(crate) fn now(global: &Global) -> Result<DateTime<Utc>> {
    match &global.now {
        Some(text) => crate::model::time::parse_now(text)
            .map_err(|e| anyhow::anyhow!("error: --now {text:?}: {e}")),
        None => Ok(Utc::now()),
    }
}

/// `error: N problems` summary after the diagnostics themselves.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(problems_error)`
pub(crate) fn problems_error(d: crate::diagnostics::Diagnostics) -> anyhow::Error {
    let n = d.len();
    anyhow::anyhow!(
        "{d}\n\nerror: {n} problem{} found; nothing was written",
        if n == 1 { "" } else { "s" }
    )
}
