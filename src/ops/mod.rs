//! The ops workflow around the two pipelines: starting a repository ([`init`]), writing updates
//! ([`edit`]), previewing ([`serve`]), running on a schedule ([`daemon`]) and looking back
//! ([`report`]).

pub mod daemon;
pub mod edit;
pub mod init;
pub mod report;
pub mod serve;

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::diagnostics::Diagnostics;
use crate::model::Incident;
use crate::site::{self, Stats, theme::Theme};

/// What [`build_site`] read and wrote.
pub struct Built {
    pub config: Config,
    pub incidents: Vec<Incident>,
    pub stats: Stats,
}

/// Load the config, the incidents and the theme, and build the page into `out`: the `build`
/// command as one call, for the commands that build over and over (`daemon`, `serve`).
///
/// # Errors
/// Every problem found; `out` is left as it was then.
pub fn build_site(
    config_path: &Path,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<Built, Diagnostics> {
    let config = Config::load(config_path)?;
    let mut problems = Diagnostics::default();
    let incidents = crate::source::load(&config).unwrap_or_else(|d| {
        problems.extend(d);
        Vec::new()
    });
    let theme = Theme::load(&config).map_err(|d| {
        problems.extend(d);
    });
    let Ok(theme) = theme else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let stats = site::build(
        &site::Input {
            config: &config,
            theme: &theme,
            incidents: &incidents,
            now,
        },
        out,
    )?;
    Ok(Built {
        config,
        incidents,
        stats,
    })
}
