//! Carrying out decisions: channels in parallel, posts of one thread in order, every step recorded
//! in the ledger (fsync) before the next one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::broadcast::channels::retry::{Sleeper, send_with_retry};
use crate::broadcast::channels::{Channel, Outgoing, Remote, SendError};
use crate::broadcast::ledger::{Entry, Ledger, LedgerError, State};
use crate::broadcast::plan::{Action, Decision, Post};

/// What happened on one channel in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelSummary {
    pub sent: usize,
    pub failed: usize,
    pub in_doubt: usize,
    pub skipped: usize,
    pub waiting: usize,
    /// One line per problem, for the user.
    pub problems: Vec<String>,
}

impl ChannelSummary {
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.failed == 0 && self.in_doubt == 0 && self.problems.is_empty()
    }
}

/// Shared state of one run.
pub struct Runner<'a> {
    pub ledger: Arc<Mutex<Ledger>>,
    pub channels: &'a BTreeMap<String, Channel>,
    pub budget: Duration,
    pub sleeper: &'a dyn Sleeper,
    pub now: DateTime<Utc>,
}

fn entry(
    post: &Post,
    state: State,
    now: DateTime<Utc>,
    remote: Option<Remote>,
    note: Option<String>,
) -> Entry {
    Entry {
        key: post.key.clone(),
        state,
        at: now,
        remote,
        note,
    }
}

impl Runner<'_> {
    fn record(&self, e: Entry) -> Result<(), LedgerError> {
        self.ledger
            .lock()
            .map_err(|_| LedgerError::Io {
                what: "lock",
                path: String::new(),
                reason: "a sender panicked".into(),
            })?
            .record(e)
    }

    /// Root and parent of a reply: the first and the latest sent post before `seq` in the thread.
    fn thread_refs(&self, thread: &[&Decision], seq: u32) -> (Option<Remote>, Option<Remote>) {
        let Ok(ledger) = self.ledger.lock() else {
            return (None, None);
        };
        let mut root = None;
        let mut parent = None;
        for d in thread.iter().filter(|d| d.post.seq < seq) {
            if let Some(s) = ledger.get(&d.post.key).filter(|s| s.state == State::Sent) {
                // A post settled by hand has no id: the reply goes to the latest known post.
                if let Some(r) = &s.remote {
                    if root.is_none() {
                        root = Some(r.clone());
                    }
                    parent = Some(r.clone());
                }
            }
        }
        (root, parent)
    }

    /// Run every decision of one channel: record skips, send in thread order.
    pub async fn run_channel(
        &self,
        channel_id: &str,
        decisions: &[Decision<'_>],
    ) -> ChannelSummary {
        let mut summary = ChannelSummary::default();
        let started = Instant::now();
        let mine: Vec<&Decision> = decisions
            .iter()
            .filter(|d| d.post.channel == channel_id)
            .collect();
        for d in &mine {
            match &d.action {
                Action::Record { state, note } => {
                    if let Err(e) =
                        self.record(entry(d.post, *state, self.now, None, Some(note.clone())))
                    {
                        summary.problems.push(e.to_string());
                        return summary;
                    }
                    summary.skipped += 1;
                }
                Action::Wait(_) => summary.waiting += 1,
                Action::Blocked(why) => {
                    if why.starts_with("in doubt") {
                        summary.in_doubt += 1;
                    } else {
                        summary.failed += 1;
                    }
                    summary.problems.push(format!("{}: {why}", d.post.key));
                }
                _ => {}
            }
        }
        let Some(channel) = self.channels.get(channel_id) else {
            return summary;
        };
        // Threads (and stand-alone posts) in the order they became due.
        let mut groups: BTreeMap<(Option<&str>, String), Vec<&Decision>> = BTreeMap::new();
        for d in &mine {
            let key = match &d.post.thread {
                Some(t) => (Some(t.as_str()), String::new()),
                None => (None, d.post.key.clone()),
            };
            groups.entry(key).or_default().push(d);
        }
        let mut ordered: Vec<Vec<&Decision>> = groups.into_values().collect();
        for g in &mut ordered {
            g.sort_by_key(|d| d.post.seq);
        }
        ordered.sort_by_key(|g| g.iter().map(|d| d.post.due).min());

        for group in &ordered {
            for d in group {
                let Action::Send { in_doubt } = d.action else {
                    continue;
                };
                let Ok(text) = &d.post.text else { continue };
                let (root, parent) = self.thread_refs(group, d.post.seq);
                let facets = if channel.kind() == "bluesky" {
                    crate::broadcast::text::link_facets(&text.text)
                        .into_iter()
                        .filter_map(|f| serde_json::to_value(f).ok())
                        .collect()
                } else {
                    Vec::new()
                };
                let out = Outgoing {
                    key: &d.post.key,
                    text: &text.text,
                    language: d.post.language,
                    reply_to: parent.as_ref(),
                    root: root.as_ref(),
                    facets,
                    in_doubt,
                    meta: Some(&d.post.meta),
                };
                if let Err(e) = self.record(entry(d.post, State::Sending, self.now, None, None)) {
                    summary.problems.push(e.to_string());
                    return summary;
                }
                let budget = self.budget.saturating_sub(started.elapsed());
                let result = send_with_retry(channel, &out, budget, self.sleeper).await;
                let (state, remote, note) = match result {
                    Ok(remote) => (State::Sent, Some(remote), None),
                    Err(SendError::Duplicate { message }) if in_doubt => (
                        State::Sent,
                        None,
                        Some(format!("already posted (the service answered: {message})")),
                    ),
                    Err(e @ SendError::Retry { .. }) => (State::Retry, None, Some(e.to_string())),
                    Err(e @ SendError::InDoubt { .. }) => {
                        (State::InDoubt, None, Some(e.to_string()))
                    }
                    Err(e @ (SendError::Rejected { .. } | SendError::Duplicate { .. })) => {
                        (State::Failed, None, Some(e.to_string()))
                    }
                };
                let ok = state == State::Sent;
                match state {
                    State::Sent => summary.sent += 1,
                    State::InDoubt => summary.in_doubt += 1,
                    _ => summary.failed += 1,
                }
                if !ok {
                    summary.problems.push(format!(
                        "{}: {}",
                        d.post.key,
                        note.clone().unwrap_or_default()
                    ));
                }
                if let Err(e) = self.record(entry(d.post, state, self.now, remote, note)) {
                    summary.problems.push(e.to_string());
                    return summary;
                }
                if !ok {
                    // Later posts of this thread wait for this one.
                    summary.waiting += group
                        .iter()
                        .filter(|l| {
                            l.post.seq > d.post.seq && matches!(l.action, Action::Send { .. })
                        })
                        .count();
                    break;
                }
            }
        }
        summary
    }
}
