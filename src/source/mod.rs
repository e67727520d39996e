//! Reading user files: the incidents folder (all file I/O of the input side happens here).

pub mod cache;
pub mod incident;
pub mod yaml;

use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::Config;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::{Incident, Recency};

/// Incident files below `dir` (recursively; `README.md` and hidden files are skipped), sorted.
///
/// # Errors
/// When the folder cannot be read.
pub fn incident_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    Ok(list(dir, "")?.into_iter().map(|f| f.path).collect())
}

/// An incident file as listed: its path relative to the incidents folder (`2026/x.md`, with `/`
/// between folders on every system) and its full path.
struct Listed {
    rel: String,
    path: PathBuf,
}

/// The incident files of `dir` (whose path relative to the incidents folder is `rel_dir`) and of
/// its subfolders, sorted as their paths' bytes with the separator first (`a/b` before `a-b`):
/// each folder's entries are sorted by name and the subfolders' files put in their place. No sort
/// over all the files, no sort keys to make.
fn list(dir: &Path, rel_dir: &str) -> Result<Vec<Listed>, Diagnostic> {
    Ok(list_with(dir, rel_dir, None)?.files)
}

/// What [`list_with`] found: the incident files, each folder's listing (for the cache), and
/// whether any folder had to be read (the cache did not have it as it is).
struct Found {
    files: Vec<Listed>,
    folders: Vec<(String, cache::Listing)>,
    read: bool,
}

/// [`list`], taking a folder's entries from the parse cache when the folder is as it was then (one
/// `lstat` instead of reading ten thousand names; see [`cache::Cache::listing`]). Editing a file
/// does not change its folder; adding, removing or renaming one does.
fn list_with(
    dir: &Path,
    rel_dir: &str,
    cached: Option<(&crate::folder::Folder, &cache::Cache)>,
) -> Result<Found, Diagnostic> {
    // The folder's stamp before its entries: a change while it is read shows next time.
    let stamp = cached.and_then(|(folder, _)| {
        let st = folder
            .lstat(rel_dir.strip_suffix('/').unwrap_or("."))
            .ok()?;
        Some((st.inode, st.mtime_ns, st.ctime_ns))
    });
    let known = cached
        .zip(stamp)
        .and_then(|((_, cache), stamp)| cache.listing(rel_dir, stamp));
    let (entries, read) = match known {
        Some(entries) => (entries.to_vec(), false),
        None => (read_folder(dir)?, true),
    };
    // Subfolders (years, say) side by side; the first problem in folder order is reported.
    let subs: Vec<Option<Result<Found, Diagnostic>>> = entries
        .par_iter()
        .map(|(name, is_dir)| {
            is_dir.then(|| list_with(&dir.join(name), &format!("{rel_dir}{name}/"), cached))
        })
        .collect();
    let mut found = Found {
        files: Vec::with_capacity(entries.len()),
        folders: Vec::new(),
        read,
    };
    for ((name, _), sub) in entries.iter().zip(subs) {
        match sub {
            Some(sub) => {
                let sub = sub?;
                found.files.extend(sub.files);
                found.folders.extend(sub.folders);
                found.read |= sub.read;
            }
            None => found.files.push(Listed {
                rel: format!("{rel_dir}{name}"),
                path: dir.join(name),
            }),
        }
    }
    if let Some(stamp) = stamp {
        found
            .folders
            .push((rel_dir.to_string(), cache::Listing { stamp, entries }));
    }
    Ok(found)
}

/// The incident files and subfolders of `dir` (name, is a folder), sorted by name: a folder's
/// files then come where the separator-first order of whole paths puts them (a name that is a
/// prefix of another sorts first, as `a/…` before `a-b` and `a.md`).
fn read_folder(dir: &Path) -> Result<Vec<(String, bool)>, Diagnostic> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Diagnostic::new(format!(
            "cannot read the incidents folder {}: {}",
            dir.display(),
            crate::io_reason(&e)
        ))
        .hint("create it, or set incidents_dir in statuscast.yaml")
    })?;
    let mut found: Vec<(String, bool)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Diagnostic::new(format!(
                "cannot list {}: {}",
                dir.display(),
                crate::io_reason(&e)
            ))
        })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type().map_err(|e| {
            Diagnostic::new(format!(
                "cannot read {}: {}",
                entry.path().display(),
                crate::io_reason(&e)
            ))
        })?;
        if file_type.is_dir() {
            found.push((name.into_owned(), true));
        } else if file_type.is_symlink() && entry.path().is_dir() {
            return Err(Diagnostic::new(
                "this is a link to a folder; statuscast does not follow folder links",
            )
            .at_file(&entry.path())
            .hint("move the incident files into the incidents folder, or link each file"));
        } else if Path::new(&*name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("md"))
            && !name.eq_ignore_ascii_case("readme.md")
        {
            found.push((name.into_owned(), false));
        }
    }
    found.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    Ok(found)
}

/// The text of a user file, or a diagnostic at the first byte that is not UTF-8.
///
/// # Errors
/// The file is not UTF-8 (UTF-16 files, as some Windows editors save them, are named as such).
pub fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, Diagnostic> {
    let e = match std::str::from_utf8(bytes) {
        Ok(t) => return Ok(t),
        Err(e) => e,
    };
    let hint =
        "save the file as UTF-8 (most editors: \"Save with encoding\" or \"Reopen with encoding\")";
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(Diagnostic::new("the file is UTF-16 text, not UTF-8")
            .at(crate::diagnostics::Span::new(path, 1, 1), "")
            .hint(hint));
    }
    let valid = &bytes[..e.valid_up_to()];
    let line = valid.split(|&b| b == b'\n').count();
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    // Columns count characters, as everywhere else.
    let column = std::str::from_utf8(&valid[line_start..]).map_or(1, |l| l.chars().count() + 1);
    let excerpt = String::from_utf8_lossy(&bytes[line_start..])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let mut d = Diagnostic::new("the file is not UTF-8 text")
        .at(crate::diagnostics::Span::new(path, line, column), "")
        .hint(hint);
    d.source_line = Some(excerpt);
    Err(d)
}

/// An incident file may be a link, but only to a file inside the repository (the folder of
/// `statuscast.yaml`): a link to `/etc/passwd` or `~/.ssh/id_rsa` is never read, let alone quoted
/// in an error message or published.
fn check_link(path: &Path, root: &Path) -> Result<(), Diagnostic> {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return Ok(());
    }
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    let hint = "incident files are read only from inside the repository: copy the file here instead of linking it";
    let resolved = std::fs::canonicalize(path).map_err(|e| {
        Diagnostic::new(format!(
            "the link points to {target}, which cannot be read: {}",
            crate::io_reason(&e)
        ))
        .at_file(path)
        .hint("remove the link, or point it at an incident file in this repository")
    })?;
    let root = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    let inside = std::fs::canonicalize(root).is_ok_and(|root| resolved.starts_with(root));
    if inside {
        Ok(())
    } else {
        Err(Diagnostic::new(format!(
            "the link points outside the repository, to {target}"
        ))
        .at_file(path)
        .hint(hint))
    }
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
            check_link(path, &config.root)?;
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
    let ids: Vec<(String, PathBuf)> = incidents
        .iter()
        .map(|i| (i.id.clone(), i.path.clone()))
        .collect();
    finish(incidents, &ids, problems)
}

/// A file read for [`load_cached_where`]: unchanged since the cache was written, or parsed now.
enum Got {
    /// Unchanged: its id and [`Recency`] as the cache's index has them, and its path.
    Cached(String, PathBuf, Recency),
    /// Unchanged, wanted, and decoded from the cache's records at once.
    Served(Box<Incident>),
    Parsed(Box<Incident>),
}

/// Like [`load`], but files unchanged since the last run come from the cache
/// (`.statuscast/cache/`, see [`cache`]) instead of being parsed again. With `store`, the cache is
/// updated when anything changed (read-only commands leave it as it is).
///
/// # Errors
/// Every problem found, sorted by file and position (problems are never cached).
pub fn load_cached(config: &Config, store: bool) -> Result<Vec<Incident>, Diagnostics> {
    load_cached_where(config, store, &|_| true)
}

/// Like [`load_cached`], but only the incidents whose [`Recency`] `keep` accepts are returned:
/// those the cache has are not even read (a cron tick skips years of history). Files that changed
/// are parsed and checked in any case, and ids are checked for duplicates across all files.
///
/// # Errors
/// Every problem found, sorted by file and position (problems are never cached).
pub fn load_cached_where(
    config: &Config,
    store: bool,
    keep: &(dyn Fn(Recency) -> bool + Sync),
) -> Result<Vec<Incident>, Diagnostics> {
    let _t = crate::timings::span("load incidents (cached)");
    let dir = config.incidents_path();
    let t = crate::timings::span("  cache index");
    let cache = cache::Cache::load(config);
    drop(t);
    let t = crate::timings::span("  list files");
    let folder = crate::folder::Folder::open(&dir);
    // The records are read (when many are wanted, in one piece) while the folders are listed, so
    // each unchanged file's incident is decoded right after its `lstat`, on both cores.
    let (found, ()) = rayon::join(
        || list_with(&dir, "", Some((&folder, &cache))),
        || cache.preload(keep),
    );
    let Found {
        files,
        folders,
        read: relisted,
    } = found?;
    drop(t);
    let t = crate::timings::span("  stat files");
    let results = files
        .into_par_iter()
        .map(|Listed { rel, path }| {
            let unreadable = |e: &std::io::Error| {
                Diagnostic::new(format!("cannot read the file: {}", crate::io_reason(e)))
                    .at_file(&path)
                    .hint("check the file's permissions")
            };
            // One system call for a plain file; a link is checked before anything is read.
            let st = folder.lstat(&rel).map_err(|e| unreadable(&e))?;
            let stamp = if st.is_symlink {
                check_link(&path, &config.root)?;
                cache::Stamp::of(&std::fs::metadata(&path).map_err(|e| unreadable(&e))?)
            } else {
                cache::Stamp::from(st)
            };
            if let Some((id, recency)) = cache.get(&rel, stamp) {
                if keep(recency)
                    && let Some(i) = cache.served(&rel, &dir)
                {
                    return Ok((rel, stamp, Got::Served(Box::new(i))));
                }
                return Ok((rel, stamp, Got::Cached(id.to_string(), path, recency)));
            }
            let bytes = std::fs::read(&path).map_err(|e| unreadable(&e))?;
            let incident = incident::parse(&path, &bytes, config)?;
            Ok((rel, stamp, Got::Parsed(Box::new(incident))))
        })
        .collect::<Vec<Result<(String, cache::Stamp, Got), Diagnostics>>>();
    drop(t);
    let mut problems = Diagnostics::default();
    // Every file's id, for the duplicate check; the incidents wanted, parsed or to be read.
    let mut ids: Vec<(String, PathBuf)> = Vec::with_capacity(results.len());
    // Parsed now (written to the cache), and unchanged files whose records the cache gives.
    let mut fresh: Vec<(String, cache::Stamp, Incident)> = Vec::new();
    let mut wanted: Vec<(String, cache::Stamp)> = Vec::new();
    let (mut parsed, mut skipped) = (0, Vec::new());
    // Decoded from the cache already: in place at once (and their files kept in the cache).
    let mut incidents: Vec<Incident> = Vec::with_capacity(results.len());
    let mut kept: Vec<String> = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok((rel, _, Got::Served(i))) => {
                ids.push((i.id.clone(), i.path.clone()));
                kept.push(rel);
                incidents.push(*i);
            }
            Ok((rel, stamp, Got::Cached(id, path, recency))) => {
                ids.push((id, path));
                if keep(recency) {
                    wanted.push((rel, stamp));
                } else {
                    skipped.push(rel);
                }
            }
            Ok((rel, stamp, Got::Parsed(i))) => {
                parsed += 1;
                ids.push((i.id.clone(), i.path.clone()));
                fresh.push((rel, stamp, *i));
            }
            Err(d) => problems.extend(d),
        }
    }
    // Read what the cache has (its records are kept as they are); a record it cannot give is
    // parsed from the file after all.
    let rels: Vec<&str> = wanted.iter().map(|(rel, _)| rel.as_str()).collect();
    let t = crate::timings::span("  cache records");
    let read = cache.read(&rels, &dir);
    drop(t);
    let mut hits = skipped.len() + kept.len();
    kept.append(&mut skipped);
    for ((rel, stamp), cached) in wanted.into_iter().zip(read) {
        if let Some(i) = cached {
            hits += 1;
            kept.push(rel);
            incidents.push(i);
            continue;
        }
        parsed += 1;
        let path = dir.join(&rel);
        match std::fs::read(&path) {
            Ok(bytes) => match incident::parse(&path, &bytes, config) {
                Ok(i) => fresh.push((rel, stamp, i)),
                Err(d) => problems.extend(d),
            },
            Err(e) => problems.push(
                Diagnostic::new(format!("cannot read the file: {}", crate::io_reason(&e)))
                    .at_file(&path)
                    .hint("check the file's permissions"),
            ),
        }
    }
    // What the cache does not serve: files parsed now, and its entries no file matched (files
    // edited or deleted since it was written). Rewriting its index costs about as much as parsing
    // a few hundred files again, so a handful (one in 512 of the files it knows) are parsed again
    // on the next run instead; more than that, or a folder that had to be read, and it is written.
    let uncached = parsed + cache.len().saturating_sub(hits);
    if store && problems.is_empty() && (relisted || uncached > cache.len() / cache::REWRITE_AFTER) {
        // Written on another thread while the caller goes on; `cache::wait` before the end.
        let entries: Vec<(String, cache::Stamp, &Incident)> =
            fresh.iter().map(|(r, s, i)| (r.clone(), *s, i)).collect();
        cache.store_later(config, &entries, kept, folders);
    }
    incidents.extend(fresh.into_iter().map(|(_, _, i)| i));
    let _t = crate::timings::span("  ids + order");
    finish(incidents, &ids, problems)
}

/// Ids come from file names and must be unique across all folders.
fn check_ids(ids: &[(String, PathBuf)], problems: &mut Diagnostics) {
    let mut by_id: HashMap<&str, &Path> =
        HashMap::with_capacity_and_hasher(ids.len(), rustc_hash::FxBuildHasher);
    for (id, path) in ids {
        if let Some(first) = by_id.insert(id, path) {
            problems.push(
                Diagnostic::new(format!("incident id \"{id}\" is used twice (also by {})", crate::diagnostics::display_path(first)))
                    .at_file(path)
                    .hint("ids come from file names, which must be unique across all folders: rename one file"),
            );
        }
    }
}

/// Sorted problems, incidents newest first.
fn finish(
    incidents: Vec<Incident>,
    ids: &[(String, PathBuf)],
    mut problems: Diagnostics,
) -> Result<Vec<Incident>, Diagnostics> {
    // Independent: the duplicate check and the order, side by side.
    let (duplicates, incidents) = rayon::join(
        || {
            let mut found = Diagnostics::default();
            check_ids(ids, &mut found);
            found
        },
        || newest_first(incidents),
    );
    problems.extend(duplicates);
    problems.sort();
    problems.into_result(incidents)
}

fn newest_first(mut incidents: Vec<Incident>) -> Vec<Incident> {
    // Newest first: the order every page and feed shows. Sorted as (start, position) pairs, each
    // start worked out once, then the incidents moved into that order.
    let mut order: Vec<(chrono::DateTime<chrono::Utc>, usize)> = incidents
        .iter()
        .enumerate()
        .map(|(n, i)| (i.started_at(), n))
        .collect();
    order.sort_unstable_by(|(ta, a), (tb, b)| {
        tb.cmp(ta)
            .then_with(|| incidents[*a].id.cmp(&incidents[*b].id))
            .then_with(|| a.cmp(b))
    });
    // Moved into place cycle by cycle: no second vector of 10 000 incidents.
    let mut from: Vec<usize> = order.into_iter().map(|(_, n)| n).collect();
    for start in 0..from.len() {
        let mut at = start;
        while from[at] != start {
            let next = from[at];
            incidents.swap(at, next);
            from[at] = at;
            at = next;
        }
        from[at] = at;
    }
    incidents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_listing_is_used_only_while_its_folder_is_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = Config::for_test();
        config.root = tmp.path().to_path_buf();
        let dir = config.incidents_path();
        std::fs::create_dir_all(dir.join("2026")).unwrap();
        let text = "---\ntitle: T\ncomponents: [sms]\nimpact: minor\n---\n\n## 2026-11-20 08:12 resolved\nFixed.\n";
        let write = |rel: &str| std::fs::write(dir.join(rel), text).unwrap();
        for rel in ["2026/a.md", "2026/b.md", "c.md"] {
            write(rel);
        }
        let folder = crate::folder::Folder::open(&dir);
        let listed = || {
            let cache = cache::Cache::load(&config);
            let found = list_with(&dir, "", Some((&folder, &cache))).unwrap();
            let rels: Vec<String> = found.files.iter().map(|f| f.rel.clone()).collect();
            assert_eq!(
                rels,
                list(&dir, "")
                    .unwrap()
                    .into_iter()
                    .map(|f| f.rel)
                    .collect::<Vec<_>>(),
                "the same files as reading the folders"
            );
            (rels, found.read)
        };
        let store = || {
            load_cached(&config, true).unwrap();
            cache::wait();
            cache::settle_for_test(&config);
        };
        store();
        assert_eq!(
            listed(),
            (
                vec!["2026/a.md".into(), "2026/b.md".into(), "c.md".into()],
                false
            ),
            "unchanged folders are not read"
        );
        // Added, even with the folder's modification time set back: its change time moved.
        let before = std::fs::metadata(dir.join("2026"))
            .unwrap()
            .modified()
            .unwrap();
        write("2026/a-new.md");
        std::fs::File::open(dir.join("2026"))
            .unwrap()
            .set_times(std::fs::FileTimes::new().set_modified(before))
            .unwrap();
        let (rels, read) = listed();
        assert!(
            read && rels.contains(&"2026/a-new.md".to_string()),
            "{rels:?}"
        );
        store();
        assert!(!listed().1);
        // Removed, renamed, a new folder.
        std::fs::remove_file(dir.join("2026/b.md")).unwrap();
        std::fs::rename(dir.join("c.md"), dir.join("d.md")).unwrap();
        std::fs::create_dir(dir.join("2027")).unwrap();
        write("2027/e.md");
        let (rels, read) = listed();
        assert!(read);
        assert_eq!(rels, ["2026/a-new.md", "2026/a.md", "2027/e.md", "d.md"]);
        // An edit in place leaves the folder as it is; the file's own stamp tells.
        store();
        std::fs::write(dir.join("d.md"), text.replace("Fixed.", "Fixed again.")).unwrap();
        assert!(!listed().1);
        let incidents = load_cached(&config, true).unwrap();
        let d = incidents.iter().find(|i| i.id == "d").unwrap();
        assert_eq!(d.updates[0].body.to_string(), "Fixed again.");
    }

    #[test]
    fn a_few_changed_files_are_parsed_again_instead_of_rewriting_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = Config::for_test();
        config.root = tmp.path().to_path_buf();
        let folder = config.incidents_path().join("2026");
        std::fs::create_dir_all(&folder).unwrap();
        // 1100 files: the cache lets two stale ones be (1100 / 512), not three.
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_hours(1);
        let file = |n: usize| folder.join(format!("2026-11-20-outage-{n:04}.md"));
        let text = |n: usize, extra: &str| {
            format!(
                "---\ntitle: Outage {n}\ncomponents: [sms]\nimpact: minor\n---\n\n## 2026-11-20 08:12 resolved\nFixed {n}.{extra}\n"
            )
        };
        for n in 0..1100 {
            std::fs::write(file(n), text(n, "")).unwrap();
            std::fs::File::options()
                .write(true)
                .open(file(n))
                .unwrap()
                .set_modified(hour_ago)
                .unwrap();
        }
        let index = cache::dir(&config).join("incidents.idx");
        let load = || {
            let incidents = load_cached(&config, true).unwrap();
            cache::wait();
            incidents
        };
        let body = |incidents: &[Incident], n: usize| {
            let id = format!("2026-11-20-outage-{n:04}");
            let i = incidents.iter().find(|i| i.id == id).unwrap();
            i.updates[0].body.to_string()
        };
        assert_eq!(load().len(), 1100);
        cache::settle_for_test(&config);
        let written = std::fs::read(&index).unwrap();

        std::fs::write(file(7), text(7, " Edited.")).unwrap();
        for _ in 0..2 {
            let incidents = load();
            assert_eq!(
                body(&incidents, 7),
                "Fixed 7. Edited.",
                "read from the file"
            );
            assert!(
                std::fs::read(&index).unwrap() == written,
                "one edited file: the index is left as it is"
            );
        }

        std::fs::write(file(8), text(8, " Edited too.")).unwrap();
        let incidents = load();
        assert_eq!(body(&incidents, 7), "Fixed 7. Edited.");
        assert_eq!(body(&incidents, 8), "Fixed 8. Edited too.");
        assert!(
            std::fs::read(&index).unwrap() != written,
            "two edited files leave four entries stale: the index is written"
        );
        let incidents = load();
        assert_eq!(
            body(&incidents, 8),
            "Fixed 8. Edited too.",
            "now from the cache"
        );
        assert_eq!(body(&incidents, 1), "Fixed 1.");
    }

    #[test]
    fn files_are_listed_in_separator_first_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "a.md",
            "a-b.md",
            "a/x.md",
            "a/b/y.md",
            "a/b.md",
            "a-b/z.md",
            "ab.md",
            "2025/2025-01-02-x.md",
            "2025-01-01-y.md",
            "2024/12/2024-12-31-z.md",
            "Ärger.md",
            "Z.md",
            "README.md",
            ".hidden.md",
            "notes.txt",
        ];
        for name in names {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "x").unwrap();
        }
        let got: Vec<String> = list(dir.path(), "")
            .unwrap()
            .into_iter()
            .map(|f| {
                assert_eq!(f.path, dir.path().join(&f.rel), "path and rel agree");
                f.rel
            })
            .collect();
        // The order of whole paths compared as bytes with the separator first.
        let mut want: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| {
                Path::new(n).extension().is_some_and(|e| e == "md")
                    && !n.starts_with('.')
                    && *n != "README.md"
            })
            .collect();
        want.sort_by_key(|n| {
            n.bytes()
                .map(|b| if b == b'/' { 0 } else { b })
                .collect::<Vec<u8>>()
        });
        assert_eq!(got, want);
        assert_eq!(
            &got[..4],
            [
                "2024/12/2024-12-31-z.md",
                "2025/2025-01-02-x.md",
                "2025-01-01-y.md",
                "Z.md"
            ]
        );
    }
}
