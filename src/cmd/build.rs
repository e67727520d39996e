use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::cli::{BuildArgs, Global};
use crate::config::Config;
use crate::diagnostics::display_path;
use crate::model::Incident;
use crate::site::{self, theme::Theme};

pub fn run(global: &Global, args: &BuildArgs) -> Result<ExitCode> {
    let built = build(global, args)?;
    // The process ends here: freeing ten thousand incidents one string at a time would only delay
    // the exit (by ~6 ms at 10 000), the system takes the memory back at once.
    std::mem::forget(built);
    Ok(ExitCode::SUCCESS)
}

/// Build the site; the moment, the config and the incidents it was built from are handed on (to
/// `run`, which broadcasts from them instead of reading everything again).
pub fn build(global: &Global, args: &BuildArgs) -> Result<(DateTime<Utc>, Config, Vec<Incident>)> {
    // On a worker of the thread pool, not beside it: the many short parallel steps of a rebuild
    // then start on a thread that is awake instead of waking one (tens of microseconds each).
    rayon::scope(|_| build_here(global, args))
}

fn build_here(global: &Global, args: &BuildArgs) -> Result<(DateTime<Utc>, Config, Vec<Incident>)> {
    let started = Instant::now();
    let now = super::now(global)?;
    let t = crate::timings::span("config");
    let config = Config::load(&global.config).map_err(super::problems_error)?;
    drop(t);
    // Independent reads side by side: the incidents, the theme, what the last build left.
    let (incidents, (theme, previous)) = rayon::join(
        || crate::source::load_cached(&config, true),
        || {
            let t = crate::timings::span("theme");
            let theme = Theme::load(&config);
            drop(t);
            let global = theme.as_ref().ok().map(|t| site::global_key_of(&config, t));
            (theme, site::previous(&config, &args.out, global))
        },
    );
    let incidents = incidents.map_err(super::problems_error)?;
    let theme = theme.map_err(super::problems_error)?;
    let previous = previous.map_err(|d| super::problems_error(d.into()))?;
    let stats = site::build_on(
        &site::Input {
            config: &config,
            theme: &theme,
            incidents: &incidents,
            now,
        },
        &args.out,
        previous,
    )
    .map_err(super::problems_error)?;
    println!(
        "built {} pages ({} files, {} KB) from {} incidents in {:.2} s → {}/",
        stats.pages,
        stats.files,
        stats.bytes.div_ceil(1024),
        incidents.len(),
        started.elapsed().as_secs_f64(),
        display_path(&args.out)
    );
    Ok((now, config, incidents))
}
