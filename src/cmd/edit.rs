//! `update <id> <status> [-m TEXT]` and `resolve <id> [-m TEXT]`.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Global, ResolveArgs, UpdateArgs};
use crate::config::Config;
use crate::diagnostics::display_path;
use crate::ops::edit;

fn add(global: &Global, id: &str, status: Option<&str>, message: Option<&str>) -> Result<ExitCode> {
    let now = super::now(global)?;
    let config = Config::load(&global.config).map_err(super::problems_error)?;
    let target = edit::prepare(&config, id, status, now)?;
    let text = if let Some(m) = message {
        m.to_string()
    } else {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        edit::edit_text(&edit::editor_from(&env), &edit::editor_template(&target))?
    };
    let incident = edit::append(&config, &target, &text)?;
    println!(
        "{}: added \"## {} {}\" (update {} of {})",
        display_path(&target.path),
        target.stamp,
        target.status.as_str(),
        incident.updates.len(),
        incident.id
    );
    Ok(ExitCode::SUCCESS)
}

pub fn update(global: &Global, args: &UpdateArgs) -> Result<ExitCode> {
    add(
        global,
        &args.id,
        Some(&args.status),
        args.message.as_deref(),
    )
}

pub fn resolve(global: &Global, args: &ResolveArgs) -> Result<ExitCode> {
    add(global, &args.id, None, args.message.as_deref())
}
