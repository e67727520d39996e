//! `statuscast daemon`: `run` (build, then broadcast) on the `broadcast.schedule` cron expression,
//! for hosts without cron.
//!
//! Runs happen one after the other in one task, so the daemon never overlaps itself; a run that
//! takes longer than the interval makes the daemon skip the ticks it missed (no catch-up burst),
//! and the broadcast lock keeps a cron-started `statuscast run` from overlapping it. On SIGTERM or
//! SIGINT the daemon starts no new post and no new run: the posts in flight finish (their
//! retries included, within `broadcast.channel_timeout`) and are recorded, then it exits.
//!
//! The loop ([`run_loop`]) takes the clock, the shutdown signal and the job from outside, so tests
//! drive it on tokio's paused clock.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use tokio::sync::Notify;

use crate::broadcast::channels::retry::TokioSleeper;
use crate::broadcast::schedule::CronSchedule;
use crate::broadcast::{self, Outcome, RunOptions};
use crate::config::Config;
use crate::diagnostics::Diagnostics;

/// The schedule when `broadcast.schedule` is not set: every minute.
pub const DEFAULT_SCHEDULE: &str = "* * * * *";

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a given moment and runs at the speed of tokio's clock (`--now` for the
/// daemon; tests pause tokio's clock to run days in milliseconds).
#[derive(Debug, Clone, Copy)]
pub struct ShiftedClock {
    start: DateTime<Utc>,
    base: tokio::time::Instant,
}

impl ShiftedClock {
    /// Must be called inside a tokio runtime.
    #[must_use]
    pub fn starting_at(start: DateTime<Utc>) -> ShiftedClock {
        ShiftedClock {
            start,
            base: tokio::time::Instant::now(),
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::TimeDelta::from_std(self.base.elapsed()).unwrap_or_default();
        self.start + elapsed
    }
}

/// A stop request (SIGTERM, SIGINT or a test), observed by the loop and by the senders.
#[derive(Debug, Default)]
pub struct Shutdown {
    flag: AtomicBool,
    notify: Notify,
}

impl Shutdown {
    #[must_use]
    pub fn new() -> Arc<Shutdown> {
        Arc::new(Shutdown::default())
    }

    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    #[must_use]
    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The flag the broadcast engine checks before each post.
    #[must_use]
    pub fn flag(&self) -> &AtomicBool {
        &self.flag
    }

    /// Returns once [`Shutdown::trigger`] has been called (at once if it already was).
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before checking the flag, so a trigger in between is not missed.
            notified.as_mut().enable();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }

    /// Trigger on SIGTERM or SIGINT. The handlers are in place when this returns, so a signal
    /// from then on never kills the process mid-send. Call inside a tokio runtime.
    ///
    /// # Errors
    /// When the signal handlers cannot be installed.
    pub fn on_signals(self: &Arc<Self>) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            let me = Arc::clone(self);
            tokio::spawn(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                me.trigger();
            });
        }
        #[cfg(not(unix))]
        {
            let me = Arc::clone(self);
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    me.trigger();
                }
            });
        }
        Ok(())
    }
}

/// What the loop runs at each occurrence.
pub trait Job {
    /// Run once as of `at`. Returns the schedule and zone for the next wait when the config was
    /// read again (it may have changed), `None` to keep the current one.
    fn run(&mut self, at: DateTime<Utc>) -> impl Future<Output = Option<(CronSchedule, Tz)>>;
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(Diagnostics),
    #[error(
        "error: the schedule \"{0}\" has no next occurrence\n  = hint: check broadcast.schedule in statuscast.yaml (a year that has passed?)"
    )]
    NeverFires(String),
}

/// The schedule the config asks for (validated by `Config::load`).
///
/// # Errors
/// A schedule that does not parse (only when the config was not validated).
pub fn schedule_of(config: &Config) -> Result<CronSchedule, DaemonError> {
    let text = config
        .broadcast
        .schedule
        .as_deref()
        .unwrap_or(DEFAULT_SCHEDULE);
    CronSchedule::parse(text)
        .map_err(|e| DaemonError::Config(crate::diagnostics::Diagnostic::new(e.to_string()).into()))
}

/// Sleep until each occurrence of the schedule and run the job, one run after the other, until
/// `shutdown` is triggered. Returns the number of runs.
///
/// # Errors
/// A schedule without a next occurrence (e.g. a year that has passed).
pub async fn run_loop(
    mut schedule: CronSchedule,
    mut tz: Tz,
    clock: &dyn Clock,
    shutdown: &Shutdown,
    job: &mut impl Job,
) -> Result<usize, DaemonError> {
    let mut runs = 0;
    while !shutdown.is_triggered() {
        let now = clock.now();
        let Some(next) = schedule.after(now, tz) else {
            return Err(DaemonError::NeverFires(schedule.to_string()));
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.wait() => break,
        }
        if shutdown.is_triggered() {
            break;
        }
        // Never before the occurrence, even when the wall clock and the timer disagree a little.
        let at = clock.now().max(next);
        if let Some((s, z)) = job.run(at).await {
            schedule = s;
            tz = z;
        }
        runs += 1;
    }
    Ok(runs)
}

/// The real job: read everything again, build, broadcast, log one line.
pub struct RunJob<'a> {
    pub config_path: &'a Path,
    pub out: &'a Path,
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub shutdown: &'a Shutdown,
    /// One line per run (stdout).
    pub log: &'a dyn Fn(&str),
    /// Details: diagnostics, per-post problems (stderr).
    pub detail: &'a dyn Fn(&str),
    /// The diagnostics last printed, so that a broken file is reported once, not every minute.
    pub last_problems: Option<String>,
}

impl RunJob<'_> {
    fn report_problems(&mut self, d: &Diagnostics) -> String {
        let text = d.to_string();
        if self.last_problems.as_deref() != Some(&text) {
            (self.detail)(&text);
            self.last_problems = Some(text);
        }
        let n = d.len();
        format!(
            "{n} problem{} (see above; reported again when they change); nothing built or sent",
            if n == 1 { "" } else { "s" }
        )
    }
}

/// `x 1 sent; mastodon 2 sent, 1 waiting; bluesky idle`
fn channel_summaries(
    summaries: &std::collections::BTreeMap<String, broadcast::send::ChannelSummary>,
) -> String {
    if summaries.is_empty() {
        return "no channels".to_string();
    }
    let mut out = String::new();
    for (i, (id, s)) in summaries.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let parts: Vec<String> = [
            (s.sent, "sent"),
            (s.failed, "failed"),
            (s.in_doubt, "in doubt"),
            (s.skipped, "skipped"),
            (s.waiting, "waiting"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let _ = write!(
            out,
            "{id} {}",
            if parts.is_empty() {
                "idle".to_string()
            } else {
                parts.join(", ")
            }
        );
        if !s.problems.is_empty() {
            let _ = write!(
                out,
                " ({} problem{})",
                s.problems.len(),
                if s.problems.len() == 1 { "" } else { "s" }
            );
        }
    }
    out
}

impl Job for RunJob<'_> {
    async fn run(&mut self, at: DateTime<Utc>) -> Option<(CronSchedule, Tz)> {
        let stamp = at.trunc_subsecs(0).format("%Y-%m-%dT%H:%M:%SZ");
        let built = match super::build_site(self.config_path, self.out, at) {
            Ok(b) => {
                self.last_problems = None;
                b
            }
            Err(d) => {
                let line = self.report_problems(&d);
                (self.log)(&format!("{stamp} run: {line}"));
                return None;
            }
        };
        let next = schedule_of(&built.config)
            .ok()
            .map(|s| (s, built.config.tz));
        let opts = RunOptions {
            channel: None,
            wait: false,
            env: self.env,
            sleeper: &TokioSleeper,
            stop: Some(self.shutdown.flag()),
        };
        let pages = built.stats.pages;
        let result = broadcast::run(&built.config, &built.incidents, at, &opts).await;
        let line = match result {
            Err(e) => {
                (self.detail)(&format!("error: {e}"));
                format!("built {pages} pages; broadcast failed: {e}")
            }
            Ok(Outcome::Locked) => format!(
                "built {pages} pages; another statuscast run holds the broadcast lock, its work is left to it"
            ),
            Ok(Outcome::Done {
                summaries,
                repaired,
            }) => {
                if let Some(note) = repaired {
                    (self.detail)(&format!("warning: {note}"));
                }
                for (id, s) in &summaries {
                    for p in &s.problems {
                        (self.detail)(&format!("{id}: {p}"));
                    }
                }
                format!("built {pages} pages; {}", channel_summaries(&summaries))
            }
        };
        (self.log)(&format!("{stamp} run: {line}"));
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Records the moments it runs at; takes `busy` of (virtual) time per run; stops after `stop_after`.
    struct Recorder<'a> {
        at: Vec<DateTime<Utc>>,
        busy: Duration,
        stop_after: usize,
        shutdown: &'a Shutdown,
    }

    impl Job for Recorder<'_> {
        async fn run(&mut self, at: DateTime<Utc>) -> Option<(CronSchedule, Tz)> {
            self.at.push(at);
            tokio::time::sleep(self.busy).await;
            if self.at.len() == self.stop_after {
                self.shutdown.trigger();
            }
            None
        }
    }

    #[tokio::test(start_paused = true)]
    async fn runs_at_each_occurrence_in_the_site_zone() {
        let clock = ShiftedClock::starting_at(t("2026-11-23T08:59:30Z"));
        let shutdown = Shutdown::default();
        let mut job = Recorder {
            at: Vec::new(),
            busy: Duration::from_secs(1),
            stop_after: 3,
            shutdown: &shutdown,
        };
        // 10:00 in Berlin is 09:00Z in November.
        let schedule = CronSchedule::parse("0 10,11 * * *").unwrap();
        let runs = run_loop(
            schedule,
            chrono_tz::Europe::Berlin,
            &clock,
            &shutdown,
            &mut job,
        )
        .await
        .unwrap();
        assert_eq!(runs, 3);
        assert_eq!(
            job.at,
            vec![
                t("2026-11-23T09:00:00Z"),
                t("2026-11-23T10:00:00Z"),
                t("2026-11-24T09:00:00Z")
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_run_skips_the_ticks_it_missed_instead_of_overlapping() {
        let clock = ShiftedClock::starting_at(t("2026-11-23T10:00:03Z"));
        let shutdown = Shutdown::default();
        let mut job = Recorder {
            at: Vec::new(),
            busy: Duration::from_secs(25),
            stop_after: 3,
            shutdown: &shutdown,
        };
        let schedule = CronSchedule::parse("*/10 * * * * *").unwrap();
        run_loop(schedule, Tz::UTC, &clock, &shutdown, &mut job)
            .await
            .unwrap();
        assert_eq!(
            job.at,
            vec![
                t("2026-11-23T10:00:10Z"),
                t("2026-11-23T10:00:40Z"),
                t("2026-11-23T10:01:10Z")
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_while_waiting_ends_the_loop_without_a_run() {
        let clock = ShiftedClock::starting_at(t("2026-11-23T10:00:00Z"));
        let shutdown = Arc::new(Shutdown::default());
        let mut job = Recorder {
            at: Vec::new(),
            busy: Duration::ZERO,
            stop_after: usize::MAX,
            shutdown: &shutdown,
        };
        let stopper = Arc::clone(&shutdown);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            stopper.trigger();
        });
        let schedule = CronSchedule::parse("0 * * * *").unwrap();
        let runs = run_loop(schedule, Tz::UTC, &clock, &shutdown, &mut job)
            .await
            .unwrap();
        assert_eq!(runs, 0);
        assert!(job.at.is_empty());
        assert_eq!(clock.now().format("%H:%M:%S").to_string(), "10:00:30");
    }

    #[test]
    fn summaries_name_only_what_happened() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(
            "mastodon".to_string(),
            broadcast::send::ChannelSummary {
                sent: 1,
                waiting: 2,
                ..Default::default()
            },
        );
        m.insert("x".to_string(), broadcast::send::ChannelSummary::default());
        assert_eq!(channel_summaries(&m), "mastodon 1 sent, 2 waiting; x idle");
    }
}
