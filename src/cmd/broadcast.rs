//! `plan`, `broadcast` and `run`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::broadcast::channels::retry::TokioSleeper;
use crate::broadcast::ledger::Ledger;
use crate::broadcast::plan::{self, Action, Decision};
use crate::broadcast::{self, Outcome, RunOptions};
use crate::cli::{BroadcastArgs, BuildArgs, Global, PlanArgs, RunArgs};
use crate::config::Config;
use crate::model::Incident;

/// `store`: update the parse cache (not for `plan` and `--dry-run`, which write nothing). Only
/// the incidents a run at `now` can post about are read ([`plan::in_window`]).
fn load(global: &Global, store: bool) -> Result<(DateTime<Utc>, Config, Vec<Incident>)> {
    let now = super::now(global)?;
    let config = Config::load(&global.config).map_err(super::problems_error)?;
    let lookback = plan::lookback(&config);
    let incidents =
        crate::source::load_cached_where(&config, store, &|r| plan::in_window(r, now, lookback))
            .map_err(super::problems_error)?;
    Ok((now, config, incidents))
}

fn local(config: &Config, t: DateTime<Utc>) -> String {
    t.with_timezone(&config.tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn describe(config: &Config, d: &Decision, out: &mut String, show_time: bool) {
    let p = d.post;
    let (len, text) = match &p.text {
        Ok(f) => (format!("{}/{}", f.length, f.max), f.text.as_str()),
        Err(e) => ("—".to_string(), e.as_str()),
    };
    let when = if show_time {
        format!("{}  ", local(config, d.when))
    } else {
        String::new()
    };
    let _ = writeln!(out, "  {when}{}  [{len}]", p.key);
    let _ = writeln!(out, "      {text}");
    match &d.action {
        Action::Wait(why) | Action::Blocked(why) => {
            let _ = writeln!(out, "      ↳ {why}");
        }
        Action::Record { note, .. } => {
            let _ = writeln!(out, "      ↳ {note}");
        }
        Action::Later if p.not_after.is_some_and(|limit| d.when >= limit) => {
            let _ = writeln!(
                out,
                "      ↳ will be skipped: service hours hold it until after the maintenance has started"
            );
        }
        _ => {}
    }
}

/// A plan section: title, which decisions belong to it, whether to show their time.
type Section = (&'static str, fn(&Action) -> bool, bool);

/// The plan as text: what goes out now, what waits and why, what comes within the horizon.
#[must_use]
pub fn render_plan(
    config: &Config,
    decisions: &[Decision],
    now: DateTime<Utc>,
    horizon: Option<std::time::Duration>,
) -> String {
    let mut out = String::new();
    if config.broadcast.channels.is_empty() {
        out.push_str(
            "no channels configured: add broadcast.channels to statuscast.yaml to post updates\n",
        );
        return out;
    }
    let _ = writeln!(
        out,
        "plan at {} for {} channel{}: {}",
        local(config, now),
        config.broadcast.channels.len(),
        if config.broadcast.channels.len() == 1 {
            ""
        } else {
            "s"
        },
        config
            .broadcast
            .channels
            .iter()
            .map(|c| format!("{} ({})", c.id, c.kind()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let sections: [Section; 5] = [
        ("due now", |a| matches!(a, Action::Send { .. }), false),
        (
            "needs a person (failed or in doubt)",
            |a| matches!(a, Action::Blocked(_)),
            false,
        ),
        ("waiting", |a| matches!(a, Action::Wait(_)), true),
        (
            "not sent, recorded as skipped on the next run",
            |a| matches!(a, Action::Record { .. }),
            false,
        ),
        ("coming", |a| matches!(a, Action::Later), true),
    ];
    for (title, pick, timed) in sections {
        let mut list: Vec<&Decision> = decisions.iter().filter(|d| pick(&d.action)).collect();
        if title == "coming" && horizon.is_none() {
            continue;
        }
        list.sort_by(|a, b| (a.when, &a.post.key).cmp(&(b.when, &b.post.key)));
        let title = match (title, horizon) {
            ("coming", Some(h)) => format!("coming within {}", plan::short_duration(h)),
            (t, _) => t.to_string(),
        };
        let _ = writeln!(out, "\n{title} ({}):", list.len());
        // Skips can be many after a long pause: show a few.
        let shown = if title.starts_with("not sent") {
            5
        } else {
            usize::MAX
        };
        for d in list.iter().take(shown) {
            describe(config, d, &mut out, timed);
        }
        if list.len() > shown {
            let _ = writeln!(out, "  … and {} more", list.len() - shown);
        }
    }
    let done = decisions
        .iter()
        .filter(|d| matches!(d.action, Action::Done(_)))
        .count();
    let _ = writeln!(out, "\nalready done: {done}");
    out
}

pub fn plan(global: &Global, args: &PlanArgs) -> Result<ExitCode> {
    let (now, config, incidents) = load(global, false)?;
    let ledger = Ledger::open(&broadcast::ledger_path(&config), false)?;
    let posts = plan::candidates(&config, &incidents, now, args.horizon);
    let decisions = plan::decide(&config, &posts, &ledger, now);
    print!(
        "{}",
        render_plan(&config, &decisions, now, Some(args.horizon))
    );
    Ok(ExitCode::SUCCESS)
}

fn broadcast_with(
    global: &Global,
    args: &BroadcastArgs,
    now: DateTime<Utc>,
    config: &Config,
    incidents: &[Incident],
) -> Result<ExitCode> {
    if args.dry_run {
        let ledger = Ledger::open(&broadcast::ledger_path(config), false)?;
        let posts = plan::candidates(config, incidents, now, std::time::Duration::ZERO);
        let decisions = broadcast::filter_channel(
            config,
            plan::decide(config, &posts, &ledger, now),
            args.channel.as_deref(),
        )?;
        print!("{}", render_plan(config, &decisions, now, None));
        println!("dry run: nothing was sent or recorded");
        return Ok(ExitCode::SUCCESS);
    }
    let _ = global;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let opts = RunOptions {
        channel: args.channel.as_deref(),
        wait: args.wait,
        env: &env,
        sleeper: &TokioSleeper,
        stop: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(broadcast::run(config, incidents, now, &opts))?;
    match outcome {
        Outcome::Locked => {
            println!(
                "another statuscast run is broadcasting; this one leaves the work to the next run (use --wait to wait)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Done {
            summaries,
            repaired,
        } => {
            if let Some(note) = repaired {
                eprintln!("warning: {note}");
            }
            let mut ok = true;
            for (id, s) in &summaries {
                println!(
                    "{id}: {} sent, {} failed, {} in doubt, {} skipped, {} waiting",
                    s.sent, s.failed, s.in_doubt, s.skipped, s.waiting
                );
                for p in &s.problems {
                    println!("  {p}");
                }
                ok &= s.is_ok();
            }
            if summaries.is_empty() {
                println!("no channels configured: nothing to send");
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

pub fn broadcast(global: &Global, args: &BroadcastArgs) -> Result<ExitCode> {
    let (now, config, incidents) = load(global, !args.dry_run)?;
    broadcast_with(global, args, now, &config, &incidents)
}

pub fn run(global: &Global, args: &RunArgs) -> Result<ExitCode> {
    let (now, config, incidents) = super::build::build(
        global,
        &BuildArgs {
            out: args.out.clone(),
        },
    )?;
    broadcast_with(global, &args.broadcast, now, &config, &incidents)
}
