//! `init`: a new status repository that `check` and `build` accept as it is.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::Lang;
use crate::diagnostics::display_path;

/// The GitHub Actions workflow `init` writes (the one in `examples/github/`).
pub const GITHUB_WORKFLOW: &str = include_str!("../../examples/github/status.yml");

const CONFIG_EN: &str = include_str!("templates/statuscast.en.yaml");
const CONFIG_DE: &str = include_str!("templates/statuscast.de.yaml");
const EXAMPLE_EN: &str = include_str!("templates/example.en.md");
const EXAMPLE_DE: &str = include_str!("templates/example.de.md");

const GITIGNORE: &str = "# The built page (statuscast build); only its README is kept.\n/public/*\n!/public/README.md\n# Lock and sessions of the broadcast: never commit them. The ledger beside them is committed.\n.statuscast/private/\n";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("error: {} already exist{}; nothing was written\n  = hint: run `statuscast init` in a new or empty folder, e.g. `statuscast init status`", .0.join(", "), if .0.len() == 1 { "s" } else { "" })]
    Exists(Vec<String>),
    #[error("error: cannot write {path}: {reason}")]
    Io { path: String, reason: String },
}

/// The files of a new repository: relative path and content.
#[must_use]
pub fn files(lang: Lang, now: DateTime<Utc>) -> Vec<(PathBuf, String)> {
    let (config, example, tz) = match lang {
        Lang::En => (CONFIG_EN, EXAMPLE_EN, chrono_tz::UTC),
        Lang::De => (CONFIG_DE, EXAMPLE_DE, chrono_tz::Europe::Berlin),
    };
    let local = |t: DateTime<Utc>| crate::ops::edit::stamp(t, tz);
    // A short incident that is over by now, so the page shows it resolved.
    let example = example
        .replace("{{start}}", &local(now - TimeDelta::minutes(45)))
        .replace("{{end}}", &local(now - TimeDelta::minutes(15)));
    let today = now.with_timezone(&tz).format("%Y-%m-%d");
    vec![
        (PathBuf::from("statuscast.yaml"), config.to_string()),
        (
            PathBuf::from(format!("incidents/{today}-example.md")),
            example,
        ),
        (PathBuf::from(".gitignore"), GITIGNORE.to_string()),
        (
            PathBuf::from(".github/workflows/status.yml"),
            GITHUB_WORKFLOW.to_string(),
        ),
    ]
}

/// Write a new repository into `dir` (created if missing). Refuses, writing nothing, when any of
/// its files exists.
///
/// # Errors
/// Existing files, or a write error.
pub fn init(dir: &Path, lang: Lang, now: DateTime<Utc>) -> Result<Vec<PathBuf>, InitError> {
    let planned = files(lang, now);
    let at = |rel: &Path| {
        if dir.as_os_str().is_empty() || dir == Path::new(".") {
            rel.to_path_buf()
        } else {
            dir.join(rel)
        }
    };
    let existing: Vec<String> = planned
        .iter()
        .map(|(rel, _)| at(rel))
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| display_path(&p))
        .collect();
    if !existing.is_empty() {
        return Err(InitError::Exists(existing));
    }
    let mut written = Vec::new();
    for (rel, content) in planned {
        let path = at(&rel);
        let err = |e: &std::io::Error| InitError::Io {
            path: display_path(&path),
            reason: crate::io_reason(e),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| err(&e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| err(&e))?;
        std::io::Write::write_all(&mut f, content.as_bytes()).map_err(|e| err(&e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn both_configs_parse_and_the_examples_validate() {
        let now = DateTime::parse_from_rfc3339("2026-03-29T01:10:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for lang in [Lang::En, Lang::De] {
            let files = files(lang, now);
            let config = Config::parse(&files[0].1, Path::new("statuscast.yaml"), Path::new("."))
                .unwrap_or_else(|e| panic!("{lang:?}: {e}"));
            assert_eq!(config.site.language, lang);
            let incident =
                crate::source::incident::parse(&files[1].0, files[1].1.as_bytes(), &config)
                    .unwrap_or_else(|e| panic!("{lang:?}: {e}"));
            assert_eq!(incident.updates.len(), 2);
            assert!(incident.updates.iter().all(|u| u.at <= now));
            assert!(!incident.broadcast);
        }
    }
}
