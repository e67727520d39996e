//! Writing the output: everything goes into a fresh folder beside the target, which then takes the
//! target's place, so a failed or killed build never leaves a half-written or emptied site.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use crate::diagnostics::{Diagnostic, display_path};
use crate::site::Output;

pub(crate) fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::new(format!(
        "cannot {what} {}: {}",
        display_path(path),
        crate::io_reason(e)
    ))
    .hint("check that the output folder's parent exists and is writable")
}

/// Is `rel` a plain relative path that stays inside the output folder?
#[must_use]
pub fn is_contained(rel: &str) -> bool {
    let p = Path::new(rel);
    !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Replace the folder `out` by one holding exactly `files`.
///
/// # Errors
/// When a file cannot be written; `out` is untouched then.
pub fn replace_dir(out: &Path, files: &[Output]) -> Result<(), Diagnostic> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            Diagnostic::new(format!("{} is not a folder name", out.display()))
                .hint("pass --out DIR")
        })?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| io_error("create", &parent, &e))?;
    remove_stale(&parent, &name);
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.tmp-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);

    let written = (|| {
        std::fs::create_dir(&tmp).map_err(|e| io_error("create", &tmp, &e))?;
        check_contained(files)?;
        // Folders first, each once; then the files on all cores (each write is its own syscalls).
        let dirs: BTreeSet<&str> = files
            .iter()
            .filter_map(|f| f.path.rsplit_once('/').map(|(d, _)| d))
            .collect();
        for d in dirs {
            let dir = tmp.join(d);
            std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, &e))?;
        }
        files.par_iter().try_for_each(|f| {
            let path = tmp.join(&f.path);
            std::fs::write(&path, &f.bytes).map_err(|e| io_error("write", &path, &e))?;
            crate::faults::point("build-write");
            Ok(())
        })
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }

    // The old site, if any, then sits at `tmp` (or, if the last rename failed, at `old`).
    let had_old = swap_in(&tmp, out, &old).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&tmp);
    })?;
    crate::faults::point("build-swap");
    if had_old {
        remove_tree(&tmp);
        remove_tree(&old);
    }
    Ok(())
}

/// Refuse output paths that would land outside the output folder.
pub(crate) fn check_contained(files: &[Output]) -> Result<(), Diagnostic> {
    match files.iter().find(|f| !is_contained(&f.path)) {
        Some(f) => Err(Diagnostic::new(format!(
            "refusing to write {:?}: it would land outside the output folder",
            f.path
        ))),
        None => Ok(()),
    }
}

/// Put the folder `new` in the place of `out`; the previous `out`, if there was one, ends up at
/// `new` (the result says whether there was). Where the system can swap two folders in one step
/// (Linux), `out` is never missing, not even for a moment; elsewhere two renames through `aside`,
/// a moment apart. On failure `out` is as it was.
pub(crate) fn swap_in(new: &Path, out: &Path, aside: &Path) -> Result<bool, Diagnostic> {
    if out.is_dir() && exchange(new, out) {
        return Ok(true);
    }
    let had_old = out.exists();
    if had_old {
        let _ = std::fs::remove_dir_all(aside);
        std::fs::rename(out, aside).map_err(|e| io_error("move aside", out, &e))?;
    }
    if let Err(e) = std::fs::rename(new, out) {
        if had_old {
            let _ = std::fs::rename(aside, out);
        }
        return Err(io_error("move into place", out, &e));
    }
    if had_old {
        // Best effort: if this fails, the old folder stays at `aside`.
        let _ = std::fs::rename(aside, new);
    }
    Ok(had_old)
}

/// Swap two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`); `false` where that is not
/// supported (other systems, some network file systems): the caller then renames twice.
fn exchange(a: &Path, b: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        false
    }
}

/// Remove what builds that were killed left beside the output (`.public.tmp-<pid>`,
/// `.public.old-<pid>`), unless that build is still running.
fn remove_stale(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let Some(pid) = [".tmp-", ".old-"].iter().find_map(|kind| {
            file_name
                .strip_prefix(&format!(".{name}{kind}"))
                .and_then(|pid| pid.parse::<u32>().ok())
        }) else {
            continue;
        };
        if pid != std::process::id() && !running(pid, &entry.path()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Is the build that made `path` still running?
fn running(pid: u32, path: &Path) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // No cheap process check: a folder untouched for ten minutes belongs to a dead build.
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < std::time::Duration::from_mins(10))
    }
}

/// Remove a folder with everything in it, its subfolders on all cores (best effort).
pub(crate) fn remove_tree(dir: &Path) {
    let mut entries: Vec<PathBuf> = Vec::new();
    if let Ok(list) = std::fs::read_dir(dir) {
        for e in list.flatten() {
            let path = e.path();
            // The one big folder (a page per incident) is split further.
            if e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() == "incidents" {
                entries.extend(
                    std::fs::read_dir(&path)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.path()),
                );
            } else {
                entries.push(path);
            }
        }
    }
    entries.par_iter().for_each(|p| {
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(p);
        } else {
            let _ = std::fs::remove_file(p);
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn leftovers_of_dead_builds_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        // No process has this id (above the kernel's maximum); pid 1 always runs.
        let dead = dir.path().join(".public.tmp-4294967295");
        let dead_old = dir.path().join(".public.old-4294967294");
        let live = dir.path().join(".public.tmp-1");
        let other = dir.path().join(".publicity.tmp-4294967295");
        for d in [&dead, &dead_old, &live, &other] {
            std::fs::create_dir_all(d.join("x")).unwrap();
        }
        let f = Output {
            path: "index.html".into(),
            bytes: b"new".to_vec(),
        };
        replace_dir(&out, std::slice::from_ref(&f)).unwrap();
        replace_dir(&out, &[f]).unwrap();
        assert!(!dead.exists() && !dead_old.exists());
        assert!(live.exists(), "a build that still runs keeps its folder");
        assert!(other.exists(), "another output's folders are not touched");
        assert_eq!(std::fs::read(out.join("index.html")).unwrap(), b"new");
    }

    #[test]
    fn paths_must_stay_inside() {
        assert!(is_contained("index.html"));
        assert!(is_contained("incidents/a-b/index.html"));
        assert!(!is_contained("../x"));
        assert!(!is_contained("/etc/passwd"));
        assert!(!is_contained("a/../../x"));
        assert!(!is_contained(""));
    }

    #[test]
    fn replaces_the_folder_and_keeps_it_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let f = |p: &str, b: &str| Output {
            path: p.into(),
            bytes: b.as_bytes().to_vec(),
        };
        replace_dir(&out, &[f("index.html", "one"), f("a/b.txt", "x")]).unwrap();
        std::fs::write(out.join("stale.html"), "old").unwrap();
        replace_dir(&out, &[f("index.html", "two")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("index.html")).unwrap(),
            "two"
        );
        assert!(
            !out.join("stale.html").exists(),
            "the new build replaces the folder whole"
        );
        let err = replace_dir(&out, &[f("index.html", "three"), f("../escape", "x")]).unwrap_err();
        assert!(err.message.contains("outside the output folder"));
        assert_eq!(
            std::fs::read_to_string(out.join("index.html")).unwrap(),
            "two"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "no temporary folders left: {leftovers:?}"
        );
    }
}
