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

use std::collections::BTreeSet;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::Output;
use super::write::{check_contained, io_error, swap_in};
use crate::codec::{R, W};
use crate::diagnostics::Diagnostic;
use crate::folder::Folder;

/// A page's input key (see `site::render_with`): the same key, the same bytes.
pub type Key = [u8; 32];

/// One file of a folder, as its manifest has it.
#[derive(Debug, Clone)]
struct Entry {
    hash: [u8; 32],
    size: u64,
    /// The input key of a page that has one.
    key: Option<Key>,
    /// In the live manifest only, worked out when it is read (not stored): the spare has this
    /// page's bytes, intact.
    in_spare: bool,
    /// While the next manifest is made from this one (not stored): the entry stays.
    stays: bool,
}

/// What a folder holds: every file's hash and size, and the input key of each page that has one.
/// Kept in a small binary file (`live.bin`, `spare.bin`): read on every build, it must cost nothing.
#[derive(Debug, Default)]
pub struct Manifest {
    /// Inode of the folder this manifest describes.
    ino: u64,
    /// The key of what every page's key includes (config, theme, statuscast) when it was made.
    global: Key,
    files: HashMap<String, Entry>,
}

const MAGIC: &[u8; 8] = b"SCSITE02";

impl Manifest {
    /// Does the folder hold the page `path` rendered from `key`? Its entry if so.
    fn page(&self, path: &str, key: &Key) -> Option<&Entry> {
        let e = self.files.get(path)?;
        (e.key.as_ref() == Some(key)).then_some(e)
    }

    fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut w = W(Vec::with_capacity(crate::codec::CHUNK + 512));
        w.0.extend_from_slice(MAGIC);
        w.u64(self.ino);
        w.bytes32(&self.global);
        w.u64(self.files.len() as u64);
        for (path, e) in &self.files {
            w.str(path);
            w.bytes32(&e.hash);
            w.u64(e.size);
            match &e.key {
                Some(k) => {
                    w.u8(1);
                    w.bytes32(k);
                }
                None => w.u8(0),
            }
            w.drain_to(out, crate::codec::CHUNK)?;
        }
        w.drain_to(out, 0)
    }

    fn decode(bytes: &[u8]) -> Option<Manifest> {
        let mut r = R(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return None;
        }
        let ino = r.u64()?;
        let global = r.bytes32()?;
        let n = usize::try_from(r.u64()?).ok()?;
        let mut files =
            HashMap::with_capacity_and_hasher(n.min(1 << 20), rustc_hash::FxBuildHasher);
        for _ in 0..n {
            let path = r.str()?;
            let hash = r.bytes32()?;
            let size = r.u64()?;
            let key = match r.u8()? {
                0 => None,
                1 => Some(r.bytes32()?),
                _ => return None,
            };
            files.insert(
                path,
                Entry {
                    hash,
                    size,
                    key,
                    in_spare: false,
                    stays: false,
                },
            );
        }
        r.0.is_empty().then_some(Manifest { ino, global, files })
    }
}

/// How a page of the previous build can be kept (see [`Previous::reuse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// It must be rendered.
    No,
    /// The spare has the same bytes, intact: nothing to do.
    Kept,
    /// The spare's copy is older or damaged: it is copied from the live output.
    Copy,
}

/// What a rebuild starts from: the manifests of the live output and of the spare, read under the
/// build lock, which is held until the build is done (one build at a time per output).
pub struct Previous {
    _lock: std::fs::File,
    out: PathBuf,
    state: PathBuf,
    /// The two folders, opened: a page's file is looked up from there, not from `/` again.
    out_dir: Folder,
    spare_dir: Folder,
    live: Option<Manifest>,
    /// The spare's files and their hashes; `None`: no manifest to trust (a killed build, a first
    /// build), every file the spare has is rewritten.
    spare: Option<Manifest>,
    /// The global key of this build (see `site::global_key`), when known at the start.
    global: Option<Key>,
    /// Whether the live manifest's entries say if the spare has them (see [`Entry::in_spare`]);
    /// otherwise each page is checked when it is asked for.
    spare_checked: bool,
}

impl Previous {
    /// Lock the output `out` and read what its spare in `state` knows. `Ok(None)`: the spare cannot
    /// be used here (another file system).
    ///
    /// # Errors
    /// When the folders cannot be made or the lock cannot be taken.
    pub fn open(
        out: &Path,
        state: &Path,
        global: Option<Key>,
    ) -> Result<Option<Previous>, Diagnostic> {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| io_error("create", &parent, &e))?;
        if std::fs::create_dir_all(state).is_err() || !same_device(state, &parent) {
            return Ok(None);
        }
        let ignore = state.join(".gitignore");
        if !ignore.exists() {
            let _ = std::fs::write(&ignore, "*\n");
        }
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(state.join("lock"))
            .map_err(|e| io_error("open", &state.join("lock"), &e))?;
        lock.lock()
            .map_err(|e| io_error("lock", &state.join("lock"), &e))?;
        let spare_dir = Folder::open(&state.join("spare"));
        let mut live = read_manifest(&state.join("live.bin"), out);
        let spare = read_manifest(&state.join("spare.bin"), &state.join("spare"));
        // Which pages the spare has intact (one `lstat` each), asked now, while the incidents are
        // still being read, instead of page by page while rendering. Not when the config, the
        // theme or statuscast changed: no page can be kept then.
        let mut spare_checked = false;
        if let (Some(live), Some(spare)) = (&mut live, &spare)
            && global == Some(live.global)
        {
            live.files.par_iter_mut().for_each(|(path, e)| {
                e.in_spare = e.key.is_some() && in_spare(spare, &spare_dir, path, e);
            });
            spare_checked = true;
        }
        Ok(Some(Previous {
            _lock: lock,
            out_dir: Folder::open(out),
            spare_dir,
            out: out.to_path_buf(),
            state: state.to_path_buf(),
            live,
            spare,
            global,
            spare_checked,
        }))
    }

    /// Can the page `path`, whose input key is now `key`, be kept from the previous build? Only
    /// when the live output has it from the same key, and the spare has the same bytes intact or
    /// the live copy is intact (the spare was checked when it was opened): a page deleted or cut
    /// short by hand is rendered again.
    #[must_use]
    pub fn reuse(&self, path: &str, key: &Key) -> Reuse {
        let Some(e) = self.live.as_ref().and_then(|m| m.page(path, key)) else {
            return Reuse::No;
        };
        let kept = if self.spare_checked {
            e.in_spare
        } else {
            self.spare
                .as_ref()
                .is_some_and(|spare| in_spare(spare, &self.spare_dir, path, e))
        };
        if kept {
            Reuse::Kept
        } else if self.out_dir.has_file(path, e.size) {
            Reuse::Copy
        } else {
            Reuse::No
        }
    }
}

/// Does the spare hold `path` as the live output's entry `e` has it, intact (one `lstat`)?
fn in_spare(spare: &Manifest, spare_dir: &Folder, path: &str, e: &Entry) -> bool {
    spare.files.get(path).is_some_and(|s| s.hash == e.hash) && spare_dir.has_file(path, e.size)
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
    let m = Manifest::decode(&std::fs::read(path).ok()?)?;
    (Some(m.ino) == ino(dir)).then_some(m)
}

/// Write the manifest for `path` to its temporary file, which [`put_manifest`] puts in place.
fn stage_manifest(path: &Path, m: &Manifest) -> Result<(), Diagnostic> {
    let tmp = path.with_extension("bin.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_error("write", &tmp, &e))?;
    m.write_to(&mut f).map_err(|e| io_error("write", &tmp, &e))
}

fn put_manifest(path: &Path) -> Result<(), Diagnostic> {
    std::fs::rename(path.with_extension("bin.tmp"), path).map_err(|e| io_error("write", path, &e))
}

/// Make `out` hold exactly `files`, through the spare in `state` (see the module documentation).
/// `Ok(false)`: the spare cannot be used here (another file system); nothing was done.
///
/// # Errors
/// When a file cannot be written; `out` is untouched then.
pub fn sync(out: &Path, files: &[Output], state: &Path) -> Result<bool, Diagnostic> {
    match Previous::open(out, state, None)? {
        Some(previous) => {
            sync_reusing(files, &[], &[], &[], previous)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// [`sync`] with the output and spare `previous` locked and read, where the pages `reused` are
/// kept as [`Previous::reuse`] decided: from the spare, or copied from the live output for those
/// in `from_live`. The input `keys` of the pages rendered now are recorded. Returns the size of the
/// reused pages.
///
/// # Errors
/// When a file cannot be written; `out` is untouched then.
pub fn sync_reusing(
    files: &[Output],
    reused: &[String],
    from_live: &[String],
    keys: &[(String, Key)],
    previous: Previous,
) -> Result<u64, Diagnostic> {
    check_contained(files)?;
    let Previous {
        _lock: held,
        out,
        state,
        out_dir: _,
        spare_dir,
        live,
        spare: spare_files,
        global,
        spare_checked: _,
    } = previous;
    let spare = state.join("spare");
    let (spare_manifest, live_manifest) = (state.join("spare.bin"), state.join("live.bin"));
    // What the spare holds. Without a manifest to trust (a build was killed, a first build) every
    // file the spare has is rewritten in place, links are removed, nothing is believed to be up
    // to date.
    let have = match spare_files {
        Some(m) => Have::Known(m.files),
        None => Have::Unknown(unknown_files(&spare).into_iter().collect()),
    };
    // The spare is being changed: its manifest is void until the swap.
    let _ = std::fs::remove_file(&spare_manifest);
    std::fs::create_dir_all(&spare).map_err(|e| io_error("create", &spare, &e))?;
    // Top-level entries nobody wrote (a CNAME added to the live folder by hand) go.
    let top: HashSet<&str> = have
        .paths()
        .map(|p| p.split('/').next().unwrap_or(p))
        .collect();
    for e in std::fs::read_dir(&spare).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !top.contains(name.as_str()) {
            remove_tree_or_file(&e.path());
        }
    }

    let t = crate::timings::span("  hash outputs");
    let hashes: Vec<[u8; 32]> = files
        .par_iter()
        .map(|f| Sha256::digest(&f.bytes).into())
        .collect();
    drop(t);
    // The new output's manifest, made from the old one in place: the entries of the pages kept
    // stay (with the key they were made from), the files written now are put in, the rest goes.
    let had_live = live.is_some();
    let mut new_live = live.map(|m| m.files).unwrap_or_default();
    let to_copy: HashSet<&str> = from_live.iter().map(String::as_str).collect();
    let mut copy: Vec<&str> = Vec::new();
    let mut reused_bytes = 0;
    for p in reused {
        if let Some(e) = new_live.get_mut(p) {
            e.stays = true;
            reused_bytes += e.size;
        }
        if !to_copy.is_empty() && to_copy.contains(p.as_str()) {
            copy.push(p);
        }
    }
    for (f, hash) in files.iter().zip(&hashes) {
        let size = f.bytes.len() as u64;
        new_live.insert(
            f.path.clone(),
            Entry {
                hash: *hash,
                size,
                key: None,
                in_spare: false,
                stays: true,
            },
        );
    }
    new_live.retain(|_, e| std::mem::take(&mut e.stays));
    for (p, k) in keys {
        if let Some(e) = new_live.get_mut(p) {
            e.key = Some(*k);
        }
    }
    // The new output's manifest (the spare folder becomes the output, inode and all) is written
    // beside the spare's update, and put in place after the swap.
    let new_live = Manifest {
        ino: ino(&spare).unwrap_or(0),
        global: global.unwrap_or_default(),
        files: new_live,
    };
    let update = || -> Result<(), Diagnostic> {
        let t = crate::timings::span("  gone + changed");
        // Gone files, then folders left empty.
        let gone: Vec<&String> = have
            .paths()
            .filter(|p| !new_live.files.contains_key(p.as_str()))
            .collect();
        for p in gone {
            let _ = std::fs::remove_file(spare.join(p));
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
        let changed: Vec<&Output> = files
            .par_iter()
            .zip(&hashes)
            .filter(|(f, h)| {
                have.hash(&f.path) != Some(**h)
                    || !spare_dir.has_file(&f.path, f.bytes.len() as u64)
            })
            .map(|(f, _)| f)
            .collect();
        drop(t);
        let t = crate::timings::span("  write changed");
        changed.par_iter().try_for_each(|f| {
            let path = spare.join(&f.path);
            // Overwritten in place: the spare is not served, and shares no file with the live folder
            // (reused pages are copied, never linked). Keeping the inode spares the file system the
            // allocation of a new one, its most expensive step when thousands of pages change. A
            // missing folder is made here, on both cores: a first build makes one per incident.
            let mut written = overwrite(&path, &f.bytes);
            if written
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, &e))?;
                }
                written = overwrite(&path, &f.bytes);
            }
            if written.is_err() {
                // A folder where a file belongs now, or a file that cannot be opened for writing.
                remove_tree_or_file(&path);
                std::fs::write(&path, &f.bytes).map_err(|e| io_error("write", &path, &e))?;
            }
            crate::faults::point("build-write");
            Ok(())
        })?;
        drop(t);
        let t = crate::timings::span("  copy reused");
        // Reused pages the spare does not have (intact) come from the live output.
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
            // Written over the spare's old copy, like a changed file (see `overwrite`).
            let copied = std::fs::read(&from).and_then(|bytes| overwrite(&to, &bytes));
            if copied.is_err() {
                remove_tree_or_file(&to);
                std::fs::copy(&from, &to).map_err(|e| io_error("copy", &to, &e))?;
            }
            Ok(())
        })?;
        drop(t);
        Ok(())
    };
    let (staged, updated) = rayon::join(|| stage_manifest(&live_manifest, &new_live), update);
    updated?;
    staged?;

    let t = crate::timings::span("  manifests + swap");
    // Swap: the spare becomes the output, the output the next spare. Where the system swaps two
    // folders in one step (Linux), `out` is never missing, not even for a moment.
    swap_in(&spare, &out, &state.join("swap"))?;
    crate::faults::point("build-swap");
    // The old output's manifest describes the new spare (same folder, same inode).
    if had_live {
        let _ = std::fs::rename(&live_manifest, &spare_manifest);
    }
    put_manifest(&live_manifest)?;
    drop(t);
    drop(held);
    Ok(reused_bytes)
}

/// What the spare holds, as its manifest says, or only which files are there.
enum Have {
    Known(HashMap<String, Entry>),
    Unknown(HashSet<String>),
}

impl Have {
    fn paths(&self) -> Box<dyn Iterator<Item = &String> + '_> {
        match self {
            Have::Known(m) => Box::new(m.keys()),
            Have::Unknown(s) => Box::new(s.iter()),
        }
    }

    /// The hash of the spare's `path`, when known.
    fn hash(&self, path: &str) -> Option<[u8; 32]> {
        match self {
            Have::Known(m) => m.get(path).map(|e| e.hash),
            Have::Unknown(_) => None,
        }
    }
}

/// Write `bytes` to `path`, keeping its inode when it is a file; a link there is not followed.
/// Written over the old bytes and then cut to length, not emptied first: the file system keeps
/// the blocks it has instead of freeing (and discarding) them and allocating new ones.
fn overwrite(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::File::options();
    options.write(true).create(true).truncate(false);
    #[cfg(target_os = "linux")]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NOFOLLOW.bits().cast_signed(),
    );
    #[cfg(not(target_os = "linux"))]
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(path)?;
    }
    let mut file = options.open(path)?;
    // Cut to length only when the old bytes were longer: a new file (every file of a first
    // build) needs no second system call.
    let old = file.metadata()?.len();
    file.write_all(bytes)?;
    if old > bytes.len() as u64 {
        file.set_len(bytes.len() as u64)?;
    }
    Ok(())
}

/// The files below `dir` (relative paths); links and whatever is not a file or folder are
/// removed on the way.
fn unknown_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(root, &path, out),
                Ok(t) if t.is_file() => {
                    if let Some(rel) = path.strip_prefix(root).ok().and_then(Path::to_str) {
                        out.push(rel.replace('\\', "/"));
                    }
                }
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
    let mut out = Vec::new();
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
    use std::collections::BTreeMap;

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
        std::fs::remove_file(state.join("spare.bin")).unwrap();
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
        std::fs::remove_file(state.join("spare.bin")).unwrap();
        std::fs::write(state.join("spare/a/page.html"), "p1").unwrap();
        std::fs::write(state.join("spare/index.html"), "stale").unwrap();
        std::os::unix::fs::symlink(&victim, state.join("spare/extra.html")).unwrap();
        assert!(sync(&out, &v1, &state).unwrap());
        assert_eq!(tree(&out).get("index.html").map(String::as_str), Some("1"));
        assert!(!out.join("extra.html").exists());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    }
}
