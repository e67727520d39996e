use std::process::ExitCode;

use anyhow::Result;

use crate::cli::Global;
use crate::config::Config;
use crate::diagnostics::Diagnostics;
use crate::site::theme::Theme;

pub fn run(global: &Global) -> Result<ExitCode> {
    let config = Config::load(&global.config).map_err(super::problems_error)?;
    let mut problems = Diagnostics::default();
    let incidents = crate::source::load(&config).unwrap_or_else(|d| {
        problems.extend(d);
        Vec::new()
    });
    if let Err(d) = Theme::load(&config) {
        problems.extend(d);
    }
    if !problems.is_empty() {
        if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
            // Annotations on the files in the run and the pull request, besides the normal output.
            print!("{}", problems.github_annotations());
        }
        let n = problems.len();
        return Err(anyhow::anyhow!(
            "{problems}\n\nerror: {n} problem{} found",
            if n == 1 { "" } else { "s" }
        ));
    }
    println!(
        "checked statuscast.yaml and {} incident files: no problems",
        incidents.len()
    );
    Ok(ExitCode::SUCCESS)
}
