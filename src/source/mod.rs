//! Reading user files: the incidents folder (all file I/O of the input side happens here).

pub mod cache;
pub mod incident;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::Config;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::Incident;

/// Incident files below `dir` (recursively; `README.md` and hidden files are skipped), sorted.
///
/// # Errors
/// When the folder cannot be read.
pub fn incident_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| {
            Diagnostic::new(format!(
                "cannot read the incidents folder {}: {}",
                d.display(),
                crate::io_reason(&e)
            ))
            .hint("create it, or set incidents_dir in statuscast.yaml")
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| {
                Diagnostic::new(format!(
                    "cannot list {}: {}",
                    d.display(),
                    crate::io_reason(&e)
                ))
            })?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| {
                Diagnostic::new(format!(
                    "cannot read {}: {}",
                    path.display(),
                    crate::io_reason(&e)
                ))
            })?;
            if file_type.is_dir() {
                stack.push(path);
            } else if Path::new(&name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("md"))
                && !name.eq_ignore_ascii_case("readme.md")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Read, parse and validate every incident; all problems of all files are returned together.
///
/// # Errors
/// Every problem found, sorted by file and position.
pub fn load(config: &Config) -> Result<Vec<Incident>, Diagnostics> {
    let _t = crate::timings::span("load incidents");
    let files = incident_files(&config.incidents_path())?;
    let results: Vec<Result<Incident, Diagnostics>> = files
        .par_iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(|e| {
                Diagnostic::new(format!("cannot read the file: {}", crate::io_reason(&e)))
                    .at_file(path)
                    .hint("check the file's permissions")
            })?;
            incident::parse(path, &bytes, config)
        })
        .collect();
    let mut problems = Diagnostics::default();
    let mut incidents = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(i) => incidents.push(i),
            Err(d) => problems.extend(d),
        }
    }
    finish(incidents, problems)
}

/// A file read for [`load_cached`]: from the cache, or parsed now.
enum Got {
    Cached,
    Parsed(Box<Incident>),
}

/// Like [`load`], but files unchanged since the last run come from the cache
/// (`.statuscast/cache/`, see [`cache`]) instead of being parsed again. With `store`, the cache is
/// updated when anything changed (read-only commands leave it as it is).
///
/// # Errors
/// Every problem found, sorted by file and position (problems are never cached).
pub fn load_cached(config: &Config, store: bool) -> Result<Vec<Incident>, Diagnostics> {
    let _t = crate::timings::span("load incidents (cached)");
    let dir = config.incidents_path();
    let files = incident_files(&dir)?;
    let mut cache = cache::Cache::load(config);
    let results: Vec<Result<(String, cache::Stamp, Got), Diagnostics>> = files
        .par_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&dir)
                .unwrap_or(path)
                .to_string_lossy()
                .replace('\\', "/");
            let unreadable = |e: &std::io::Error| {
                Diagnostic::new(format!("cannot read the file: {}", crate::io_reason(e)))
                    .at_file(path)
                    .hint("check the file's permissions")
            };
            let stamp = cache::Stamp::of(&std::fs::metadata(path).map_err(|e| unreadable(&e))?);
            if cache.get(&rel, stamp).is_some() {
                return Ok((rel, stamp, Got::Cached));
            }
            let bytes = std::fs::read(path).map_err(|e| unreadable(&e))?;
            let incident = incident::parse(path, &bytes, config)?;
            Ok((rel, stamp, Got::Parsed(Box::new(incident))))
        })
        .collect();
    let mut problems = Diagnostics::default();
    let mut parsed = 0;
    let mut got: Vec<(String, cache::Stamp, Incident)> = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok((rel, stamp, Got::Cached)) => {
                if let Some(i) = cache.take(&rel) {
                    got.push((rel, stamp, i));
                }
            }
            Ok((rel, stamp, Got::Parsed(i))) => {
                parsed += 1;
                got.push((rel, stamp, *i));
            }
            Err(d) => problems.extend(d),
        }
    }
    if store && problems.is_empty() && (parsed > 0 || !cache.is_empty()) {
        let entries: Vec<(String, cache::Stamp, &Incident)> =
            got.iter().map(|(r, s, i)| (r.clone(), *s, i)).collect();
        cache::Cache::store(config, &entries);
    }
    finish(got.into_iter().map(|(_, _, i)| i).collect(), problems)
}

/// Duplicate ids, then newest first.
fn finish(
    mut incidents: Vec<Incident>,
    mut problems: Diagnostics,
) -> Result<Vec<Incident>, Diagnostics> {
    let mut by_id: BTreeMap<&str, &Path> = BTreeMap::new();
    for i in &incidents {
        if let Some(first) = by_id.insert(&i.id, &i.path) {
            problems.push(
                Diagnostic::new(format!("incident id \"{}\" is used twice (also by {})", i.id, crate::diagnostics::display_path(first)))
                    .at_file(&i.path)
                    .hint("ids come from file names, which must be unique across all folders: rename one file"),
            );
        }
    }
    problems.sort();
    // Newest first: the order every page and feed shows.
    incidents.sort_by(|a, b| {
        b.started_at()
            .cmp(&a.started_at())
            .then_with(|| a.id.cmp(&b.id))
    });
    problems.into_result(incidents)
}
