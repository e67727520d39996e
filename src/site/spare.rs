//! Rebuilds that write only what changed, and still swap the whole output atomically.
//!
//! Beside the live output (`public/`) statuscast keeps the previous build's tree as a spare in
//! `.statuscast/cache/site/spare/`, with a manifest of its files' SHA-256. A build brings the spare
//! up to date, writing only the files whose bytes differ and removing those that are gone, then
//! swaps it with the live folder by renaming; the old live folder becomes the next spare. A cron
//! rebuild of 10 000 incidents thus writes a handful of files instead of re-creating 10 000 folders
//! and deleting the old ones. The output is the same as a fresh build's, file for file.
//!
//! Each manifest names the inode of the folder it describes, so a manifest that does not belong to
//! the folder (a crash between two renames, a folder replaced by hand) is never trusted: the spare
//! is then rewritten completely. Files added by hand at the top of `public/` are removed when that
//! folder comes back as the spare; a known file that is missing or has another size is written again
//! (one `lstat` each), and a page is reused only when the live copy is intact; an edit that keeps a
//! file's size is not noticed (the output folder says "Do not edit it"). Deleting
//! `.statuscast/cache/` is always safe.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Output;
use super::write::{check_contained, io_error, swap_in};
use crate::diagnostics::Diagnostic;

/// What a folder holds: every file's hash and size, and the input key of each page that has one.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Inode of the folder this manifest describes.
    ino: u64,
    /// Path → SHA-256 (hex) of every file.
    files: BTreeMap<String, String>,
    /// Path → size in bytes.
    #[serde(default)]
    sizes: BTreeMap<String, u64>,
    /// Path → input key (see `site::render_with`).
    #[serde(default)]
    keys: BTreeMap<String, String>,
}

impl Manifest {
    /// Does the folder hold the page `path` rendered from `key`?
    #[must_use]
    pub fn has(&self, path: &str, key: &str) -> bool {
        self.keys.get(path).is_some_and(|k| k == key) && self.files.contains_key(path)
    }

    /// [`Manifest::has`], and the file in `dir` (the folder this manifest describes) is still
    /// there with its size: a page deleted or cut short by hand is rendered again, not copied.
    #[must_use]
    pub fn has_intact(&self, dir: &Path, path: &str, key: &str) -> bool {
        self.has(path, key) && intact(&dir.join(path), self.size(path))
    }

    /// The size of `path` in the folder.
    #[must_use]
    pub fn size(&self, path: &str) -> u64 {
        self.sizes.get(path).copied().unwrap_or(0)
    }
}

/// Can the spare in `state` be swapped with `out` (the same file system)?
#[must_use]
pub fn usable(out: &Path, state: &Path) -> bool {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).is_ok()
        && std::fs::create_dir_all(state).is_ok()
        && same_device(state, &parent)
}

/// The manifest of the live output `out`, if it belongs to it.
#[must_use]
pub fn live(out: &Path, state: &Path) -> Option<Manifest> {
    read_manifest(&state.join("live.json"), out)
}

#[cfg(unix)]
fn ino(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

#[cfg(not(unix))]
fn ino(_: &Path) -> Option<u64> {
    None
}

#[cfg(unix)]
fn same_device(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_device(_: &Path, _: &Path) -> bool {
    false
}

fn read_manifest(path: &Path, dir: &Path) -> Option<Manifest> {
    let m: Manifest = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (Some(m.ino) == ino(dir)).then_some(m)
}

fn write_manifest(path: &Path, m: &Manifest) -> Result<(), Diagnostic> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(m).map_err(|e| Diagnostic::new(e.to_string()))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_error("write", &tmp, &e))?;
    f.write_all(&bytes)
        .map_err(|e| io_error("write", &tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error("write", path, &e))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Make `out` hold exactly `files`, through the spare in `state` (see the module documentation).
/// `Ok(false)`: the spare cannot be used here (another file system); nothing was done.
///
/// # Errors
/// When a file cannot be written; `out` is untouched then.
pub fn sync(out: &Path, files: &[Output], state: &Path) -> Result<bool, Diagnostic> {
    sync_reusing(out, files, &[], &BTreeMap::new(), None, state)
}

/// [`sync`], where the pages `reused` are kept as `previous` (the live output's manifest) has
/// them, copied from the live output where the spare's copy differs; `keys` are recorded.
///
/// # Errors
/// When a file cannot be written; `out` is untouched then.
pub fn sync_reusing(
    out: &Path,
    files: &[Output],
    reused: &[String],
    keys: &BTreeMap<String, String>,
    previous: Option<&Manifest>,
    state: &Path,
) -> Result<bool, Diagnostic> {
    check_contained(files)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| io_error("create", &parent, &e))?;
    if std::fs::create_dir_all(state).is_err() || !same_device(state, &parent) {
        return Ok(false);
    }
    let ignore = state.join(".gitignore");
    if !ignore.exists() {
        let _ = std::fs::write(&ignore, "*\n");
    }
    // One build at a time per output.
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("lock"))
        .map_err(|e| io_error("open", &state.join("lock"), &e))?;
    lock.lock()
        .map_err(|e| io_error("lock", &state.join("lock"), &e))?;

    let spare = state.join("spare");
    let (spare_manifest, live_manifest) = (state.join("spare.json"), state.join("live.json"));
    let mut have = if let Some(m) = read_manifest(&spare_manifest, &spare) {
        m.files
    } else {
        // No manifest to trust (a build was killed, a first build): every file the spare has is
        // rewritten in place, links are removed, nothing is believed to be up to date.
        unknown_files(&spare)
    };
    // The spare is being changed: its manifest is void until the swap.
    let _ = std::fs::remove_file(&spare_manifest);
    std::fs::create_dir_all(&spare).map_err(|e| io_error("create", &spare, &e))?;

    // Top-level entries nobody wrote (a CNAME added to the live folder by hand) go.
    let top: BTreeSet<&str> = have
        .keys()
        .map(|p| p.split('/').next().unwrap_or(p))
        .collect();
    for e in std::fs::read_dir(&spare).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !top.contains(name.as_str()) {
            remove_tree_or_file(&e.path());
        }
    }

    let hashes: Vec<String> = files
        .par_iter()
        .map(|f| hex(&Sha256::digest(&f.bytes)))
        .collect();
    let reused: Vec<(&str, &str, u64)> = reused
        .iter()
        .filter_map(|p| {
            let m = previous?;
            Some((p.as_str(), m.files.get(p)?.as_str(), m.size(p)))
        })
        .collect();
    let wanted: BTreeSet<&str> = files
        .iter()
        .map(|f| f.path.as_str())
        .chain(reused.iter().map(|(p, _, _)| *p))
        .collect();
    // Gone files, then folders left empty.
    let gone: Vec<String> = have
        .keys()
        .filter(|p| !wanted.contains(p.as_str()))
        .cloned()
        .collect();
    for p in &gone {
        let _ = std::fs::remove_file(spare.join(p));
        have.remove(p);
        let mut dir = Path::new(p).parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if std::fs::remove_dir(spare.join(d)).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    // A file the manifest knows is checked to be there with its size (one `lstat`): a file
    // deleted or changed by hand in the live folder, which comes back as the spare, is written.
    let changed: Vec<(&Output, &String)> = files
        .par_iter()
        .zip(&hashes)
        .filter(|(f, h)| {
            have.get(&f.path) != Some(*h) || !intact(&spare.join(&f.path), f.bytes.len() as u64)
        })
        .collect();
    let dirs: BTreeSet<&str> = changed
        .iter()
        .filter_map(|(f, _)| f.path.rsplit_once('/').map(|(d, _)| d))
        .collect();
    for d in dirs {
        let dir = spare.join(d);
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, &e))?;
    }
    changed.par_iter().try_for_each(|(f, _)| {
        let path = spare.join(&f.path);
        // Overwritten in place: the spare is not served, and shares no file with the live folder
        // (reused pages are copied, never linked). Keeping the inode spares the file system the
        // allocation of a new one, its most expensive step when thousands of pages change.
        if overwrite(&path, &f.bytes).is_err() {
            // A folder where a file belongs now, or a file that cannot be opened for writing.
            remove_tree_or_file(&path);
            std::fs::write(&path, &f.bytes).map_err(|e| io_error("write", &path, &e))?;
        }
        crate::faults::point("build-write");
        Ok(())
    })?;
    // Reused pages the spare does not have yet come from the live output.
    let copy: Vec<&str> = reused
        .iter()
        .filter(|(p, h, size)| {
            have.get(*p).map(String::as_str) != Some(*h) || !intact(&spare.join(p), *size)
        })
        .map(|(p, _, _)| *p)
        .collect();
    for d in copy
        .iter()
        .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d))
        .collect::<BTreeSet<&str>>()
    {
        let dir = spare.join(d);
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, &e))?;
    }
    copy.par_iter().try_for_each(|p| {
        let (from, to) = (out.join(p), spare.join(p));
        if std::fs::copy(&from, &to).is_err() {
            remove_tree_or_file(&to);
            std::fs::copy(&from, &to).map_err(|e| io_error("copy", &to, &e))?;
        }
        Ok(())
    })?;

    // Swap: the spare becomes the output, the output the next spare. Where the system swaps two
    // folders in one step (Linux), `out` is never missing, not even for a moment.
    let old_live = read_manifest(&live_manifest, out);
    swap_in(&spare, out, &state.join("swap"))?;
    crate::faults::point("build-swap");
    // The old output's manifest describes the new spare (same folder, same inode).
    if old_live.is_some() {
        let _ = std::fs::rename(&live_manifest, &spare_manifest);
    }
    let mut new_live = Manifest {
        ino: ino(out).unwrap_or(0),
        files: files
            .iter()
            .zip(hashes)
            .map(|(f, h)| (f.path.clone(), h))
            .collect(),
        sizes: files
            .iter()
            .map(|f| (f.path.clone(), f.bytes.len() as u64))
            .collect(),
        keys: keys.clone(),
    };
    for (p, h, size) in &reused {
        new_live.files.insert((*p).to_string(), (*h).to_string());
        new_live.sizes.insert((*p).to_string(), *size);
    }
    write_manifest(&live_manifest, &new_live)?;
    Ok(true)
}

/// Is `path` a file (not a link) of `size` bytes?
fn intact(path: &Path, size: u64) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == size)
}

/// Write `bytes` to `path`, keeping its inode when it is a file; a link there is not followed.
fn overwrite(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::File::options();
    options.write(true).create(true).truncate(true);
    #[cfg(target_os = "linux")]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NOFOLLOW.bits().cast_signed(),
    );
    #[cfg(not(target_os = "linux"))]
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(path)?;
    }
    options.open(path)?.write_all(bytes)
}

/// The files below `dir` (relative paths), each with a hash nothing matches; links and whatever
/// is not a file or folder are removed on the way.
fn unknown_files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(root, &path, out),
                Ok(t) if t.is_file() => {
                    if let Some(rel) = path.strip_prefix(root).ok().and_then(Path::to_str) {
                        out.insert(rel.replace('\\', "/"), String::new());
                    }
                }
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    if std::fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
        let _ = std::fs::remove_file(dir);
    }
    walk(dir, dir, &mut out);
    out
}

fn remove_tree_or_file(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(p: &str, b: &str) -> Output {
        Output {
            path: p.into(),
            bytes: b.as_bytes().to_vec(),
        }
    }

    fn tree(dir: &Path) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.insert(
                        e.path().strip_prefix(dir).unwrap().display().to_string(),
                        std::fs::read_to_string(e.path()).unwrap(),
                    );
                }
            }
        }
        out
    }

    #[test]
    fn every_build_leaves_exactly_its_files_whatever_the_spare_held() {
        let dir = tempfile::tempdir().unwrap();
        let (out, state) = (dir.path().join("public"), dir.path().join("cache"));
        let builds: [&[Output]; 4] = [
            &[
                f("index.html", "1"),
                f("a/b/x.html", "x"),
                f("a/y.html", "y"),
            ],
            &[f("index.html", "2"), f("a/b/x.html", "x")],
            &[f("index.html", "3"), f("c/z.html", "z")],
            &[
                f("index.html", "3"),
                f("a/b/x.html", "x2"),
                f("c/z.html", "z"),
            ],
        ];
        for (n, files) in builds.iter().enumerate() {
            if n == 2 {
                // Added by hand to the live folder, which comes back as the spare next time.
                std::fs::write(out.join("CNAME"), "status.example").unwrap();
            }
            assert!(sync(&out, files, &state).unwrap());
            let want: BTreeMap<String, String> = files
                .iter()
                .map(|f| (f.path.clone(), String::from_utf8(f.bytes.clone()).unwrap()))
                .collect();
            let got = tree(&out);
            if n == 2 {
                assert_eq!(got.get("CNAME").map(String::as_str), None);
            }
            assert_eq!(got, want, "build {n}");
        }
        assert!(!out.join("a/y.html").exists());
        assert!(!state.join("spare/a/y.html").exists());
        // A spare whose manifest does not match is emptied, not trusted.
        std::fs::remove_file(state.join("spare.json")).unwrap();
        std::fs::write(state.join("spare/index.html"), "stale").unwrap();
        assert!(sync(&out, builds[0], &state).unwrap());
        assert_eq!(
            tree(&out),
            builds[0]
                .iter()
                .map(|f| (f.path.clone(), String::from_utf8(f.bytes.clone()).unwrap()))
                .collect()
        );
    }

    /// Files are rewritten in place (same inode), but a link put into the output is replaced, never
    /// written through; a spare without manifest gets every file rewritten.
    #[cfg(unix)]
    #[test]
    fn rewrites_in_place_and_never_through_a_link() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (out, state) = (dir.path().join("public"), dir.path().join("cache"));
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "keep me").unwrap();
        let v1 = [f("index.html", "1"), f("a/page.html", "p1")];
        let v2 = [f("index.html", "2"), f("a/page.html", "p2")];
        assert!(sync(&out, &v1, &state).unwrap());
        assert!(sync(&out, &v2, &state).unwrap());
        // The spare is now the first build's folder; its page is rewritten in place next time.
        let ino = std::fs::metadata(state.join("spare/a/page.html"))
            .unwrap()
            .ino();
        // Someone links a file of the live folder elsewhere; it comes back as the spare.
        std::fs::remove_file(out.join("index.html")).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("index.html")).unwrap();
        let v3 = [f("index.html", "3"), f("a/page.html", "p3")];
        assert!(sync(&out, &v3, &state).unwrap());
        assert_eq!(
            std::fs::metadata(out.join("a/page.html")).unwrap().ino(),
            ino
        );
        assert!(sync(&out, &v1, &state).unwrap());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(
            std::fs::read_to_string(out.join("index.html")).unwrap(),
            "1"
        );
        assert!(
            !std::fs::symlink_metadata(out.join("index.html"))
                .unwrap()
                .is_symlink()
        );
        // Without a manifest nothing in the spare is trusted, whatever its bytes.
        std::fs::remove_file(state.join("spare.json")).unwrap();
        std::fs::write(state.join("spare/a/page.html"), "p1").unwrap();
        std::fs::write(state.join("spare/index.html"), "stale").unwrap();
        std::os::unix::fs::symlink(&victim, state.join("spare/extra.html")).unwrap();
        assert!(sync(&out, &v1, &state).unwrap());
        assert_eq!(tree(&out).get("index.html").map(String::as_str), Some("1"));
        assert!(!out.join("extra.html").exists());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    }
}
