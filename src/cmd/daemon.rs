//! `daemon`: `run` on the `broadcast.schedule` cron expression until SIGTERM/SIGINT.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{DaemonArgs, Global};
use crate::config::Config;
use crate::diagnostics::display_path;
use crate::ops::daemon::{self, Clock, RunJob, ShiftedClock, Shutdown, SystemClock};

pub fn run(global: &Global, args: &DaemonArgs) -> Result<ExitCode> {
    // Fail early (exit 1) on a broken config; later runs read it again and survive breakage.
    let config = Config::load(&global.config).map_err(super::problems_error)?;
    let schedule = daemon::schedule_of(&config)?;
    let start = global
        .now
        .as_ref()
        .map(|_| super::now(global))
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = Shutdown::new();
        shutdown.on_signals()?;
        let shifted;
        let clock: &dyn Clock = match start {
            Some(t) => {
                shifted = ShiftedClock::starting_at(t);
                &shifted
            }
            None => &SystemClock,
        };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let log = |line: &str| println!("{line}");
        let detail = |text: &str| eprintln!("{text}");
        let mut job = RunJob {
            config_path: &global.config,
            out: &args.out,
            env: &env,
            shutdown: &shutdown,
            log: &log,
            detail: &detail,
            last_problems: None,
        };
        let Some(first) = schedule.after(clock.now(), config.tz) else {
            return Err(daemon::DaemonError::NeverFires(schedule.to_string()).into());
        };
        println!(
            "daemon: schedule \"{schedule}\" ({}), building into {}/; first run at {}; stop with SIGTERM or Ctrl-C",
            config.tz.name(),
            display_path(&args.out),
            first.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let runs = daemon::run_loop(schedule, config.tz, clock, &shutdown, &mut job).await?;
        println!(
            "daemon: stopped after {runs} run{}",
            if runs == 1 { "" } else { "s" }
        );
        Ok(ExitCode::SUCCESS)
    })
}
