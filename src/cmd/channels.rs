//! `channels check`: log in to every channel without posting.

use std::process::ExitCode;

use anyhow::Result;

use crate::broadcast::{
    self,
    channels::{Channel, ClientOptions},
};
use crate::cli::Global;
use crate::config::Config;

pub fn check(global: &Global) -> Result<ExitCode> {
    let config = Config::load(&global.config).map_err(super::problems_error)?;
    if config.broadcast.channels.is_empty() {
        println!("no channels configured");
        return Ok(ExitCode::SUCCESS);
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let opts = ClientOptions::new(broadcast::state_dir(&config));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut ok = true;
    for entry in &config.broadcast.channels {
        let line = match Channel::from_config(&entry.service, &env, &opts) {
            Err(e) => {
                ok = false;
                format!("✗ {} ({}): {e}", entry.id, entry.kind())
            }
            Ok(channel) => match runtime.block_on(channel.check()) {
                // X, Mastodon, Bluesky and Matrix name the account; the others say what they checked.
                Ok(account)
                    if matches!(channel.kind(), "x" | "mastodon" | "bluesky" | "matrix") =>
                {
                    format!("✓ {} ({}): signed in as {account}", entry.id, entry.kind())
                }
                Ok(what) => format!("✓ {} ({}): {what}", entry.id, entry.kind()),
                Err(e) => {
                    ok = false;
                    format!("✗ {} ({}): {e}", entry.id, entry.kind())
                }
            },
        };
        println!("{line}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
