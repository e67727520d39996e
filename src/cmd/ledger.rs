//! `ledger resolve KEY sent|retry`: a person settles a post that failed or is in doubt.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::broadcast::{
    self,
    ledger::{Entry, Ledger, State},
};
use crate::cli::Global;
use crate::config::Config;

pub fn resolve(global: &Global, key: &str, decision: &str) -> Result<ExitCode> {
    let now = super::now(global)?;
    let config = Config::load(&global.config).map_err(super::problems_error)?;
    let Some(_lock) = broadcast::lock(&config, true)? else {
        bail!("error: cannot take the broadcast lock");
    };
    let mut ledger = Ledger::open(&broadcast::ledger_path(&config), true)?;
    let Some(current) = ledger.get(key).cloned() else {
        bail!(
            "error: the ledger has no post \"{key}\"\n  = hint: `statuscast plan` lists the keys of posts that need a person"
        );
    };
    if current.state == State::Sent
        || current.state == State::Skipped
        || current.state == State::Expired
    {
        bail!(
            "error: \"{key}\" is already {}; nothing to resolve",
            current.state.as_str()
        );
    }
    let (state, note) = match decision {
        "sent" => (State::Sent, "settled by hand: it is on the channel"),
        _ => (State::Requeued, "settled by hand: send again"),
    };
    ledger.record(Entry {
        key: key.to_string(),
        state,
        at: now,
        remote: None,
        note: Some(note.to_string()),
    })?;
    println!("{key}: {} → {}", current.state.as_str(), state.as_str());
    Ok(ExitCode::SUCCESS)
}
