//! The `broadcast:` section of `statuscast.yaml`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::broadcast::channels::ChannelConfig;
use crate::model::Impact;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastConfig {
    /// Append-only JSON-lines ledger of every post's state; meant to be committed back to git.
    #[serde(default = "default_ledger")]
    pub ledger: PathBuf,
    /// Private state (lock, Bluesky session); keep it out of git.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// A post older than this when a run first sees it is recorded as skipped, never sent.
    #[serde(
        default = "default_max_age",
        with = "crate::broadcast::schedule::duration_serde"
    )]
    pub max_age: Duration,
    /// A post that keeps failing is given up (recorded as expired) this long after its due time.
    #[serde(
        default = "default_give_up",
        with = "crate::broadcast::schedule::duration_serde"
    )]
    pub give_up_after: Duration,
    /// Time one channel may spend (incl. waiting for rate limits) in one run.
    #[serde(
        default = "default_channel_timeout",
        with = "crate::broadcast::schedule::duration_serde"
    )]
    pub channel_timeout: Duration,
    /// When non-urgent posts (maintenance announcements and reminders, recurring posts) may go out,
    /// e.g. "Mon-Fri 08:00-20:00" in the site's time zone. Default: any time.
    #[serde(default)]
    pub service_hours: Option<String>,
    /// Hold incident updates for service hours too (default: they go out at once).
    #[serde(default)]
    pub updates_wait_for_service_hours: bool,
    /// Reminders before a maintenance starts.
    #[serde(
        default = "default_reminders",
        with = "crate::broadcast::schedule::duration_serde"
    )]
    pub reminders: Vec<Duration>,
    /// Post "still working on it" when an open incident had no update for this long.
    #[serde(default, with = "crate::broadcast::schedule::duration_serde")]
    pub still_working_after: Option<Duration>,
    /// The daemon's cron schedule (default: every minute).
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub channels: Vec<ChannelEntry>,
    #[serde(default)]
    pub recurring: Vec<Recurring>,
}

/// One channel: an id of your choosing, filters, and the service's own settings.
#[derive(Debug, Clone, Deserialize)]
pub struct ChannelEntry {
    pub id: String,
    /// Only incidents at or above this impact are posted here (default: all).
    #[serde(default)]
    pub min_impact: Impact,
    /// A Tera template for this channel's posts (see the README for its variables).
    #[serde(default)]
    pub template: Option<String>,
    #[serde(flatten)]
    pub service: ChannelConfig,
}

/// A post sent on a cron schedule (site time zone).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recurring {
    /// Names the post in its key; default: its position in the list.
    #[serde(default)]
    pub name: Option<String>,
    /// 5-field crontab (`0 9 * * 1`) or 6/7 fields with seconds.
    pub cron: String,
    pub text: String,
    /// Channel ids (default: all).
    #[serde(default)]
    pub channels: Option<Vec<String>>,
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        serde_yaml::from_str("{}").expect("defaults are valid")
    }
}

fn default_ledger() -> PathBuf {
    PathBuf::from(".statuscast/ledger.jsonl")
}
fn default_state_dir() -> PathBuf {
    PathBuf::from(".statuscast/private")
}
fn default_max_age() -> Duration {
    Duration::from_hours(2)
}
fn default_give_up() -> Duration {
    Duration::from_hours(12)
}
fn default_channel_timeout() -> Duration {
    Duration::from_mins(1)
}
fn default_reminders() -> Vec<Duration> {
    vec![Duration::from_hours(24), Duration::from_hours(1)]
}

impl BroadcastConfig {
    #[must_use]
    pub fn channel(&self, id: &str) -> Option<&ChannelEntry> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// Reminder offsets, longest first.
    #[must_use]
    pub fn reminder_offsets(&self) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.reminders.clone();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.dedup();
        v
    }
}

impl ChannelEntry {
    /// `x`, `mastodon`, `bluesky`, `slack`, `discord`, `teams`, `telegram`, `matrix`, `webhook` or `email`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self.service {
            ChannelConfig::X(_) => "x",
            ChannelConfig::Mastodon(_) => "mastodon",
            ChannelConfig::Bluesky(_) => "bluesky",
            ChannelConfig::Slack(_) => "slack",
            ChannelConfig::Discord(_) => "discord",
            ChannelConfig::Teams(_) => "teams",
            ChannelConfig::Telegram(_) => "telegram",
            ChannelConfig::Matrix(_) => "matrix",
            ChannelConfig::Webhook(_) => "webhook",
            ChannelConfig::Email(_) => "email",
        }
    }

    /// The `*_env` settings (field name, variable name), for validation.
    #[must_use]
    pub fn env_fields(&self) -> Vec<(String, String)> {
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&self.service) else {
            return Vec::new();
        };
        map.into_iter()
            .filter(|(k, _)| k.ends_with("_env"))
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect()
    }
}
