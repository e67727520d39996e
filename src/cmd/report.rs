//! `report [--since DATE] [--format text|json|csv] [--section incidents|uptime]`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use chrono::NaiveDate;

use crate::broadcast::{self, ledger::Ledger};
use crate::cli::{Global, ReportArgs, ReportFormat, ReportSection};
use crate::config::Config;
use crate::ops::report::{self, Options};

pub fn run(global: &Global, args: &ReportArgs) -> Result<ExitCode> {
    let now = super::now(global)?;
    let since = match &args.since {
        None => None,
        Some(text) => match NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => bail!(
                "error: --since {text:?} is not a date\n  = hint: write YYYY-MM-DD, e.g. --since 2026-01-01 (a day in the site's time zone)"
            ),
        },
    };
    let config = Config::load(&global.config).map_err(super::problems_error)?;
    let incidents = crate::source::load(&config).map_err(super::problems_error)?;
    let ledger = Ledger::open(&broadcast::ledger_path(&config), false)?;
    let r = report::report(
        &config,
        &incidents,
        &ledger,
        now,
        Options {
            since,
            incidents: args.section != Some(ReportSection::Uptime),
            uptime: args.section != Some(ReportSection::Incidents),
        },
    );
    match args.format {
        ReportFormat::Text => print!("{}", report::to_text(&r)),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        ReportFormat::Csv => print!("{}", report::to_csv(&r)?),
    }
    Ok(ExitCode::SUCCESS)
}
