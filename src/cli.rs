//! The command line: global options and one variant per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "statuscast",
    version,
    about = "Incidents as Markdown in git → a static status page and timely posts to your channels",
    long_about = "statuscast reads statuscast.yaml and the incident files in incidents/, validates them, \
                  and builds a static status page into public/.",
    after_help = "Examples:\n  statuscast check\n  statuscast build --out public\n  statuscast --now 2026-11-23T10:00:00Z build\n  statuscast new \"Mobilfunkstörung Berlin\" --component mobile --impact major"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The config file; every path in it is relative to its folder.
    #[arg(
        long,
        global = true,
        default_value = "statuscast.yaml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
    /// Run as of this moment (RFC 3339, e.g. 2026-11-23T10:00:00Z) instead of the clock.
    #[arg(long, global = true, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the status page into a folder (atomically: a failed build leaves the old one).
    #[command(after_help = "Example:\n  statuscast build --out public")]
    Build(BuildArgs),
    /// Validate the config and every incident file; print all problems (for CI on pull requests).
    #[command(after_help = "Example:\n  statuscast check")]
    Check,
    /// Write a new incident (or maintenance) file stamped now, and print its path.
    #[command(
        after_help = "Examples:\n  statuscast new \"Mobilfunkstörung Berlin\" --component mobile --component sms --impact major\n  statuscast new \"DSL-Wartung\" --component dsl --impact minor --maintenance --start \"2026-12-01 02:00\" --end \"2026-12-01 04:00\""
    )]
    New(NewArgs),
    /// Show what is due now and in the coming hours, per channel, with the final text and its length.
    #[command(
        after_help = "Examples:\n  statuscast plan\n  statuscast --now 2026-11-23T10:00:00Z plan --horizon 48h"
    )]
    Plan(PlanArgs),
    /// Send what is due to the configured channels (the cron job); each post exactly once.
    #[command(
        after_help = "Examples:\n  statuscast broadcast\n  statuscast broadcast --dry-run\n  statuscast broadcast --channel mastodon"
    )]
    Broadcast(BroadcastArgs),
    /// Build the page, then broadcast: the one entry point for cron.
    #[command(after_help = "Example (crontab):\n  */2 * * * * cd /srv/status && statuscast run")]
    Run(RunArgs),
    /// Channel commands.
    #[command(subcommand)]
    Channels(ChannelsCommand),
    /// Ledger commands.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// How far ahead to look.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub horizon: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct BroadcastArgs {
    /// Show what would be sent; send nothing, write nothing, touch no network.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this channel id.
    #[arg(long, value_name = "ID")]
    pub channel: Option<String>,
    /// Wait for a running broadcast to finish instead of leaving the work to the next run.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Output folder of the page.
    #[arg(long, default_value = "public", value_name = "DIR")]
    pub out: std::path::PathBuf,
    #[command(flatten)]
    pub broadcast: BroadcastArgs,
}

#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// Verify each channel's credentials without posting (webhooks get a signed ping).
    #[command(after_help = "Example:\n  MASTODON_TOKEN=... statuscast channels check")]
    Check,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Settle a post that failed or is in doubt: `sent` (it is on the channel) or `retry` (send again).
    #[command(
        after_help = "Examples:\n  statuscast ledger resolve '2026-11-23-mobilfunk#1/x' sent\n  statuscast ledger resolve '2026-11-23-mobilfunk#1/x' retry"
    )]
    Resolve {
        /// The post key, as `plan` shows it.
        key: String,
        /// `sent` or `retry`.
        #[arg(value_parser = ["sent", "retry"])]
        decision: String,
    },
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Output folder, relative to the current directory.
    #[arg(long, default_value = "public", value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The title customers read.
    pub title: String,
    /// An affected component id (repeat for several).
    #[arg(long = "component", short = 'c', required = true, value_name = "ID")]
    pub components: Vec<String>,
    /// none, minor, major or critical.
    #[arg(long, default_value = "minor", value_name = "LEVEL")]
    pub impact: String,
    /// A maintenance window instead of an incident (needs --start and --end).
    #[arg(long, requires_all = ["start", "end"])]
    pub maintenance: bool,
    /// Maintenance start, `YYYY-MM-DD HH:MM` in the site time zone.
    #[arg(long, value_name = "TIME", requires = "maintenance")]
    pub start: Option<String>,
    /// Maintenance end, `YYYY-MM-DD HH:MM` in the site time zone.
    #[arg(long, value_name = "TIME", requires = "maintenance")]
    pub end: Option<String>,
    /// Team member id to sign as.
    #[arg(long, value_name = "ID")]
    pub author: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
