//! Model → plan → ledger → channels: every due post sent exactly once where the channel allows it,
//! at most once (and reported) where it does not.
//!
//! `candidates` lists what could be posted with its final text, `decide` compares it with the
//! ledger and the clock, and `send` carries the decisions out, channels in parallel.

pub mod channels;
pub mod compose;
pub mod config;
pub mod ledger;
pub mod plan;
pub mod schedule;
pub mod send;
pub mod text;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::model::Incident;
use channels::retry::Sleeper;
use channels::{Channel, ClientOptions};
use ledger::{Ledger, LedgerError};
use plan::{Action, Decision};
use send::{ChannelSummary, Runner};

#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot use the state folder {path}: {reason}")]
    State { path: String, reason: String },
    #[error("unknown channel \"{0}\"; channels are declared under broadcast.channels")]
    UnknownChannel(String),
}

/// The result of one run.
#[derive(Debug)]
pub enum Outcome {
    /// Another run holds the lock; nothing was done.
    Locked,
    Done {
        summaries: BTreeMap<String, ChannelSummary>,
        /// A note when the ledger's cut-off last line was repaired.
        repaired: Option<String>,
    },
}

/// What a run may do.
pub struct RunOptions<'a> {
    pub channel: Option<&'a str>,
    /// Wait for the lock instead of leaving the work to the next run.
    pub wait: bool,
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub sleeper: &'a dyn Sleeper,
    /// Set by the daemon on SIGTERM/SIGINT: posts in flight finish and are recorded, no new one starts.
    pub stop: Option<&'a AtomicBool>,
}

#[must_use]
pub fn ledger_path(config: &Config) -> PathBuf {
    config.root.join(&config.broadcast.ledger)
}

#[must_use]
pub fn state_dir(config: &Config) -> PathBuf {
    config.root.join(&config.broadcast.state_dir)
}

/// Hold the run lock in the state folder. `Ok(None)`: another run holds it.
///
/// # Errors
/// When the state folder cannot be created or the lock file opened.
pub fn lock(config: &Config, wait: bool) -> Result<Option<File>, BroadcastError> {
    let dir = state_dir(config);
    let err = |e: &std::io::Error| BroadcastError::State {
        path: crate::diagnostics::display_path(&dir),
        reason: crate::io_reason(e),
    };
    std::fs::create_dir_all(&dir).map_err(|e| err(&e))?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .map_err(|e| err(&e))?;
    if wait {
        file.lock().map_err(|e| err(&e))?;
        return Ok(Some(file));
    }
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(err(&e)),
    }
}

/// Keep only the decisions of one channel when `--channel` is given.
///
/// # Errors
/// An unknown channel id.
pub fn filter_channel<'a>(
    config: &Config,
    decisions: Vec<Decision<'a>>,
    channel: Option<&str>,
) -> Result<Vec<Decision<'a>>, BroadcastError> {
    match channel {
        None => Ok(decisions),
        Some(c) if config.broadcast.channel(c).is_some() => Ok(decisions
            .into_iter()
            .filter(|d| d.post.channel == c)
            .collect()),
        Some(c) => Err(BroadcastError::UnknownChannel(c.to_string())),
    }
}

/// One broadcast run: lock, read the ledger, decide, send, record.
///
/// # Errors
/// Ledger or state-folder problems (the run stops before sending anything it cannot record).
pub async fn run(
    config: &Config,
    incidents: &[Incident],
    now: DateTime<Utc>,
    opts: &RunOptions<'_>,
) -> Result<Outcome, BroadcastError> {
    let Some(_lock) = lock(config, opts.wait)? else {
        return Ok(Outcome::Locked);
    };
    let ledger = Ledger::open_filtered(
        &ledger_path(config),
        true,
        &plan::ledger_keys(config, incidents, now),
    )?;
    let repaired = ledger.repaired.clone();
    let posts =
        plan::candidates_skipping(config, incidents, now, std::time::Duration::ZERO, &|key| {
            ledger.get(key).is_some_and(|s| s.state.is_final())
        });
    let decisions = filter_channel(
        config,
        plan::decide(config, &posts, &ledger, now),
        opts.channel,
    )?;

    let client_opts = ClientOptions::new(state_dir(config));
    let mut summaries: BTreeMap<String, ChannelSummary> = BTreeMap::new();
    let mut clients: BTreeMap<String, Channel> = BTreeMap::new();
    for entry in &config.broadcast.channels {
        if opts.channel.is_some_and(|c| c != entry.id) {
            continue;
        }
        let busy = decisions
            .iter()
            .any(|d| d.post.channel == entry.id && matches!(d.action, Action::Send { .. }));
        if !busy {
            continue;
        }
        match Channel::from_config(&entry.service, opts.env, &client_opts) {
            Ok(c) => {
                clients.insert(entry.id.clone(), c);
            }
            Err(e) => {
                summaries
                    .entry(entry.id.clone())
                    .or_default()
                    .problems
                    .push(format!("not configured: {e}"));
            }
        }
    }
    let runner = Runner {
        ledger: Arc::new(Mutex::new(ledger)),
        channels: &clients,
        budget: config.broadcast.channel_timeout,
        sleeper: opts.sleeper,
        now,
        stop: opts.stop,
    };
    let ids: Vec<&str> = config
        .broadcast
        .channels
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| opts.channel.is_none_or(|c| c == *id))
        .collect();
    let results =
        futures_util::future::join_all(ids.iter().map(|id| runner.run_channel(id, &decisions)))
            .await;
    for (id, mut s) in ids.into_iter().zip(results) {
        let existing = summaries.entry(id.to_string()).or_default();
        // "Not configured" problems come first; what was due on such a channel keeps waiting.
        existing.problems.append(&mut s.problems);
        s.problems = std::mem::take(&mut existing.problems);
        *existing = s;
    }
    Ok(Outcome::Done {
        summaries,
        repaired,
    })
}
