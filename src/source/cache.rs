//! A cache of parsed incidents in `.statuscast/cache/`, so a build or a cron tick parses only the
//! files that changed since the last run instead of thousands of unchanged ones.
//!
//! A file is taken from the cache when its path, size, modification time and inode are the ones
//! recorded, and it was not modified within two seconds before the cache was written (a change in
//! the same clock tick could keep its time, as git's "racy" index entries). The whole cache is void
//! when statuscast itself or `statuscast.yaml` changed. Only files that parsed without problems are
//! cached, so error messages are always fresh. Deleting the folder is always safe.
//!
//! Two files: `incidents.idx`, the index (each file's stamp, id, [`Recency`], digest and where its
//! record lies, and each folder's entries with its inode, modification and change time, so a
//! folder nobody added to, removed from or renamed in is not read again), rewritten whole on every
//! change; and `incidents-<generation>.rec`, the records,
//! only ever appended to, so editing one incident writes one record, not the texts of all. When more
//! than half of the records file is stale, the next change writes a new generation with only the live
//! records and removes the old one. A run that finds only a handful of files changed (one in 512 of
//! those the cache knows) parses them and leaves the cache as it is: parsing a few files again next
//! time costs less than rewriting the index of ten thousand. The index names its generation and length, so an index never
//! reads another file's records, nor records appended after it was written.

use rustc_hash::FxHashMap as HashMap;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::codec::{R, W};
use crate::config::Config;
use crate::model::{ComponentStatus, Impact, Incident, Recency, Status, Text, Update, Window};

const MAGIC: &[u8; 8] = b"SCIDX004";
const RACY: Duration = Duration::from_secs(2);
const INDEX: &str = "incidents.idx";
/// Stale records tolerated in the records file (besides as many as live ones) before a new
/// generation is written.
const SLACK: u64 = if cfg!(test) { 2048 } else { 1 << 20 };
/// The cache is written when more than one in this many of the files it knows were not served
/// from it (see `source::load_cached_where`).
pub const REWRITE_AFTER: usize = 512;

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub inode: u64,
}

impl Stamp {
    #[must_use]
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp::from(crate::folder::Lstat::of(meta))
    }
}

impl From<crate::folder::Lstat> for Stamp {
    fn from(st: crate::folder::Lstat) -> Stamp {
        Stamp {
            size: st.size,
            mtime_ns: st.mtime_ns,
            inode: st.inode,
        }
    }
}

/// The folder of statuscast's caches for the repository of `config`.
#[must_use]
pub fn dir(config: &Config) -> PathBuf {
    config.root.join(".statuscast").join("cache")
}

fn records_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("incidents-{generation}.rec"))
}

/// What the cache is valid for: this statuscast binary and this configuration.
fn fingerprint(config: &Config) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    if let Ok(meta) = std::env::current_exe().and_then(std::fs::metadata) {
        h.update(meta.len().to_le_bytes());
        h.update(Stamp::of(&meta).mtime_ns.to_le_bytes());
    }
    h.update(format!("{config:?}").as_bytes());
    h.finalize().into()
}

/// Raw records: a buffer, and where in it each asked-for record lies.
type Records = (Arc<Vec<u8>>, Vec<Option<Range<usize>>>);

/// One file's entry in the cache's index.
#[derive(Debug, Clone)]
struct Entry {
    stamp: Stamp,
    id: String,
    recency: Recency,
    /// See [`Incident::digest`].
    digest: [u8; 32],
    /// Where its incident's record lies in the records file.
    offset: u64,
    len: u64,
}

/// A folder of the incidents folder as it was listed (see [`Cache::listing`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The folder's inode, modification time and change time: adding, removing or renaming an
    /// entry changes both times, and nothing can set the change time back.
    pub stamp: (u64, i128, i128),
    /// Its incident files and subfolders, by name (`true`: a folder), in name order.
    pub entries: Vec<(String, bool)>,
}

/// What `incidents.idx` holds.
#[derive(Debug, Default)]
struct Index {
    written_ns: i128,
    /// The records file it belongs to, and how much of it.
    generation: u64,
    records_len: u64,
    entries: HashMap<String, Entry>,
    /// Each folder's listing, by its path relative to the incidents folder (`""`, `2026/`).
    folders: HashMap<String, Listing>,
}

/// The cached incidents, by path relative to the incidents folder. Only the index (paths, stamps,
/// ids, [`Recency`]) is read up front; records are read when asked for, so a cron tick that needs
/// a few recent incidents does not decode years of texts.
pub struct Cache {
    /// See [`fingerprint`].
    fingerprint: [u8; 32],
    index: Index,
    /// The records file, opened when the index was read (it stays readable even if a newer
    /// generation replaces it meanwhile).
    file: Option<std::fs::File>,
    /// The whole records file, once read (see [`Cache::preload`]); the texts of the incidents
    /// read from it point into it.
    all: std::sync::OnceLock<Option<Arc<Vec<u8>>>>,
}

/// When asking for more records than this, the whole records file is read at once.
const READ_ALL: usize = 256;

impl Cache {
    fn empty(fingerprint: [u8; 32]) -> Cache {
        Cache {
            fingerprint,
            index: Index::default(),
            file: None,
            all: std::sync::OnceLock::new(),
        }
    }

    /// Read the cache's index; a missing, old or damaged one is empty.
    #[must_use]
    pub fn load(config: &Config) -> Cache {
        let dir = dir(config);
        let fingerprint = fingerprint(config);
        let Some(index) = std::fs::read(dir.join(INDEX))
            .ok()
            .and_then(|bytes| decode_index(&bytes, &fingerprint))
        else {
            return Cache::empty(fingerprint);
        };
        let file = std::fs::File::open(records_path(&dir, index.generation))
            .ok()
            .filter(|f| f.metadata().is_ok_and(|m| m.len() >= index.records_len));
        match file {
            Some(file) => Cache {
                fingerprint,
                index,
                file: Some(file),
                all: std::sync::OnceLock::new(),
            },
            None => Cache::empty(fingerprint),
        }
    }

    /// The id and [`Recency`] of the cached incident of `rel`, if the file is unchanged.
    #[must_use]
    pub fn get(&self, rel: &str, stamp: Stamp) -> Option<(&str, Recency)> {
        let e = self.index.entries.get(rel)?;
        let racy = stamp.mtime_ns + RACY.as_nanos() as i128 >= self.index.written_ns;
        (e.stamp == stamp && !racy).then_some((e.id.as_str(), e.recency))
    }

    /// The entries of the folder `rel_dir` (relative to the incidents folder), if it is as it was
    /// when the cache was written: same inode and times, and not changed within two seconds before
    /// (a change in the same clock tick could keep its times, as with files).
    #[must_use]
    pub fn listing(&self, rel_dir: &str, stamp: (u64, i128, i128)) -> Option<&[(String, bool)]> {
        let l = self.index.folders.get(rel_dir)?;
        let racy = stamp.1.max(stamp.2) + RACY.as_nanos() as i128 >= self.index.written_ns;
        (l.stamp == stamp && !racy).then_some(l.entries.as_slice())
    }

    /// How many files the cache knows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.entries.len()
    }

    /// Read the whole records file now if the incidents `keep` accepts are more than a few (and
    /// so will be read at once): on another core while the files are checked.
    pub fn preload(&self, keep: &(dyn Fn(Recency) -> bool + Sync)) {
        if self
            .index
            .entries
            .values()
            .filter(|e| keep(e.recency))
            .count()
            > READ_ALL
        {
            self.all_records();
        }
    }

    fn all_records(&self) -> Option<&Arc<Vec<u8>>> {
        self.all
            .get_or_init(|| {
                let _t = crate::timings::span("    read all records");
                let mut file = self.file.as_ref()?;
                let mut buf = Vec::new();
                buf.reserve_exact(usize::try_from(self.index.records_len).ok()?);
                file.seek(SeekFrom::Start(0)).ok()?;
                file.take(self.index.records_len)
                    .read_to_end(&mut buf)
                    .ok()?;
                Some(Arc::new(buf))
            })
            .as_ref()
    }

    /// Whether the cache knows no file.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.entries.is_empty()
    }

    /// The incident of `rel` (relative to `incidents_dir`) from the records [`Cache::preload`]
    /// read in one piece; `None` when they were not read that way or its record cannot be
    /// decoded (it is then read with [`Cache::read`] or parsed from its file).
    #[must_use]
    pub fn served(&self, rel: &str, incidents_dir: &Path) -> Option<Incident> {
        let buf = self.all.get()?.as_ref()?;
        let e = self.index.entries.get(rel)?;
        let start = usize::try_from(e.offset).ok()?;
        let range = start..start.checked_add(usize::try_from(e.len).ok()?)?;
        decode_record(buf, range, e.id.clone(), incidents_dir.join(rel), e.digest)
    }

    /// The incidents of `rels` (paths relative to `incidents_dir`), in that order; `None` for one
    /// the cache does not have or cannot read (it is then parsed from its file).
    #[must_use]
    pub fn read(&self, rels: &[&str], incidents_dir: &Path) -> Vec<Option<Incident>> {
        let Some((buf, ranges)) = self.records(rels) else {
            return vec![None; rels.len()];
        };
        rels.par_iter()
            .zip(ranges.par_iter())
            .map(|(rel, range)| {
                let e = self.index.entries.get(*rel)?;
                decode_record(
                    &buf,
                    range.clone()?,
                    e.id.clone(),
                    incidents_dir.join(rel),
                    e.digest,
                )
            })
            .collect()
    }

    /// The raw records of `rels`: a buffer and where in it each record lies (`None`: unknown or
    /// unreadable). Read one by one when they are few, all at once otherwise.
    fn records(&self, rels: &[&str]) -> Option<Records> {
        let mut file = self.file.as_ref()?;
        let located = rels.iter().map(|rel| {
            let e = self.index.entries.get(*rel)?;
            Some((
                usize::try_from(e.offset).ok()?,
                usize::try_from(e.len).ok()?,
            ))
        });
        if rels.len() > READ_ALL {
            let buf = self.all_records()?;
            let ranges = located
                .map(|r| {
                    let (offset, len) = r?;
                    Some(offset..offset.checked_add(len)?)
                })
                .collect();
            return Some((Arc::clone(buf), ranges));
        }
        let mut buf = Vec::new();
        let ranges = located
            .map(|r| {
                let (offset, len) = r?;
                let at = buf.len();
                buf.resize(at + len, 0);
                let read = file
                    .seek(SeekFrom::Start(offset as u64))
                    .and_then(|_| file.read_exact(&mut buf[at..]));
                if read.is_err() {
                    buf.truncate(at);
                    return None;
                }
                Some(at..at + len)
            })
            .collect();
        Some((Arc::new(buf), ranges))
    }

    /// Write the cache of `files` (relative path, stamp, incident), keeping the records of `kept`
    /// (files that were not read this time, unchanged) from this cache, with the listings of
    /// `folders`; best effort, never an error: a build that cannot write its cache is only slower
    /// next time.
    pub fn store(
        &self,
        config: &Config,
        files: &[(String, Stamp, &Incident)],
        kept: &[&str],
        folders: &[(String, Listing)],
    ) {
        self.write(&dir(config), Fresh::encode(files), kept, folders);
    }

    /// [`Cache::store`] on another thread: the records of `files` are encoded now, the files are
    /// written while the caller goes on. [`wait`] waits for it (before the process ends); at most
    /// one such write is under way.
    pub fn store_later(
        self,
        config: &Config,
        files: &[(String, Stamp, &Incident)],
        kept: Vec<String>,
        folders: Vec<(String, Listing)>,
    ) {
        let fresh = Fresh::encode(files);
        let dir = dir(config);
        let mut pending = PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(earlier) = pending.take() {
            let _ = earlier.join();
        }
        let spawned = std::thread::Builder::new()
            .name("cache".into())
            .spawn(move || {
                let kept: Vec<&str> = kept.iter().map(String::as_str).collect();
                self.write(&dir, fresh, &kept, &folders);
            });
        *pending = spawned.ok();
    }

    fn write(&self, dir: &Path, fresh: Fresh, kept: &[&str], folders: &[(String, Listing)]) {
        let _t = crate::timings::span("  cache store");
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        // Keep the cache out of git even when `.statuscast/` is committed for the ledger.
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            let _ = std::fs::write(
                &ignore,
                "# statuscast's caches: safe to delete, never commit\n*\n",
            );
        }
        // One writer at a time: appends must not interleave.
        let Ok(lock) = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("incidents.lock"))
        else {
            return;
        };
        if lock.lock().is_err() {
            return;
        }
        let _ = self.store_locked(dir, fresh, kept, folders);
        drop(lock);
    }

    fn store_locked(
        &self,
        dir: &Path,
        fresh: Fresh,
        kept: &[&str],
        folders: &[(String, Listing)],
    ) -> Option<()> {
        let Fresh {
            records,
            mut entries,
        } = fresh;
        let fresh = W(records);
        let mut kept: Vec<(&str, &Entry)> = kept
            .iter()
            .filter_map(|rel| Some((*rel, self.index.entries.get(*rel)?)))
            .collect();
        let live: u64 = kept.iter().map(|(_, e)| e.len).sum::<u64>() + fresh.0.len() as u64;
        // The records file on disk now: another run may have written since this one read it.
        let current = current_generation(dir, &self.fingerprint);
        let appendable = self.file.is_some() && current == Some(self.index.generation);
        let stale = self.index.records_len.saturating_sub(live);
        let (generation, records_len) = if appendable && stale <= live.max(SLACK) {
            // Appended after whatever the file has; the kept records stay where they are.
            let path = records_path(dir, self.index.generation);
            let mut file = std::fs::File::options().append(true).open(&path).ok()?;
            let at = file.metadata().ok()?.len();
            file.write_all(&fresh.0).ok()?;
            for e in entries.values_mut() {
                e.offset += at;
            }
            (self.index.generation, at + fresh.0.len() as u64)
        } else {
            // A new generation with the live records only.
            let (buf, ranges) = self
                .records(&kept.iter().map(|(rel, _)| *rel).collect::<Vec<_>>())
                .or_else(|| kept.is_empty().then(|| (Arc::new(Vec::new()), Vec::new())))?;
            let mut all = fresh.0;
            for ((rel, e), range) in std::mem::take(&mut kept).into_iter().zip(ranges) {
                // A record unreadable now is left out: its file is parsed next time.
                let Some(bytes) = range.and_then(|r| buf.get(r)) else {
                    continue;
                };
                let offset = all.len() as u64;
                all.extend_from_slice(bytes);
                entries.insert(
                    rel.to_string(),
                    Entry {
                        offset,
                        ..e.clone()
                    },
                );
            }
            let generation = self.index.generation.max(current.unwrap_or(0)) + 1;
            let path = records_path(dir, generation);
            let tmp = path.with_extension("rec.tmp");
            std::fs::write(&tmp, &all).ok()?;
            std::fs::rename(&tmp, &path).ok()?;
            (generation, all.len() as u64)
        };
        let written_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        // Kept entries are written from this cache's index as they are (compacted ones moved
        // into `entries`), not copied.
        let all: Vec<(&str, &Entry)> = entries
            .iter()
            .map(|(rel, e)| (rel.as_str(), e))
            .chain(kept)
            .collect();
        let tmp = dir.join(format!("{INDEX}.tmp-{}", std::process::id()));
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| {
                write_index(
                    &mut f,
                    &self.fingerprint,
                    written_ns,
                    generation,
                    records_len,
                    &all,
                    folders,
                )
            })
            .is_ok()
            && std::fs::rename(&tmp, dir.join(INDEX)).is_ok();
        let _ = std::fs::remove_file(&tmp);
        if written {
            // Other generations (and the single file of earlier versions) are not read any more.
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                let other_generation = name
                    .strip_prefix("incidents-")
                    .and_then(|n| n.strip_suffix(".rec"))
                    .is_some_and(|n| n != generation.to_string());
                // Temporary files of writers killed half-way (one writer at a time: not ours).
                let leftover = name.starts_with(&format!("{INDEX}.tmp-")) && e.path() != tmp
                    || name.ends_with(".rec.tmp");
                if other_generation || leftover || name == "incidents.bin" {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Some(())
    }
}

/// Parsed incidents encoded for the cache: their records, and their index entries (offsets
/// within `records`).
struct Fresh {
    records: Vec<u8>,
    entries: HashMap<String, Entry>,
}

impl Fresh {
    fn encode(files: &[(String, Stamp, &Incident)]) -> Fresh {
        let mut records = W(Vec::with_capacity(files.len() * 2048));
        let mut entries = HashMap::with_capacity_and_hasher(files.len(), rustc_hash::FxBuildHasher);
        for (rel, stamp, i) in files {
            let offset = records.0.len() as u64;
            encode_record(&mut records, i);
            entries.insert(
                rel.clone(),
                Entry {
                    stamp: *stamp,
                    id: i.id.clone(),
                    recency: i.recency(),
                    digest: i.content_key(),
                    offset,
                    len: records.0.len() as u64 - offset,
                },
            );
        }
        Fresh {
            records: records.0,
            entries,
        }
    }
}

/// The write started by [`Cache::store_later`], if any.
static PENDING: std::sync::Mutex<Option<std::thread::JoinHandle<()>>> = std::sync::Mutex::new(None);

/// Wait for the cache write under way, if any (the process must not end before it).
pub fn wait() {
    let pending = PENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(h) = pending {
        let _ = h.join();
    }
}

fn statuses() -> impl Iterator<Item = Status> {
    Status::INCIDENT.into_iter().chain(Status::MAINTENANCE)
}

fn index_of<T: PartialEq>(mut all: impl Iterator<Item = T>, v: &T) -> u8 {
    all.position(|x| x == *v).unwrap_or(0) as u8
}

/// The generation of the records file the index in `dir` names (its header only is read).
fn current_generation(dir: &Path, fingerprint: &[u8; 32]) -> Option<u64> {
    let mut header = [0u8; 8 + 32 + 16 + 8];
    std::fs::File::open(dir.join(INDEX))
        .and_then(|mut f| f.read_exact(&mut header))
        .ok()?;
    let mut r = R(&header);
    if r.take(8)? != MAGIC || r.bytes32()? != *fingerprint {
        return None;
    }
    r.i128()?;
    r.u64()
}

/// Write the index of `entries` to `out`.
fn write_index(
    out: &mut impl std::io::Write,
    fingerprint: &[u8; 32],
    written_ns: i128,
    generation: u64,
    records_len: u64,
    entries: &[(&str, &Entry)],
    folders: &[(String, Listing)],
) -> std::io::Result<()> {
    let mut w = W(Vec::with_capacity(crate::codec::CHUNK + 512));
    w.0.extend_from_slice(MAGIC);
    w.bytes32(fingerprint);
    w.i128(written_ns);
    w.u64(generation);
    w.u64(records_len);
    w.u64(entries.len() as u64);
    for (rel, e) in entries {
        w.str(rel);
        w.u64(e.stamp.size);
        w.i128(e.stamp.mtime_ns);
        w.u64(e.stamp.inode);
        w.str(&e.id);
        w.time(e.recency.last_event);
        w.u8(u8::from(e.recency.open));
        w.u8(u8::from(e.recency.maintenance));
        w.bytes32(&e.digest);
        w.u64(e.offset);
        w.u64(e.len);
        w.drain_to(out, crate::codec::CHUNK)?;
    }
    w.u64(folders.len() as u64);
    for (rel_dir, l) in folders {
        w.str(rel_dir);
        w.u64(l.stamp.0);
        w.i128(l.stamp.1);
        w.i128(l.stamp.2);
        w.u64(l.entries.len() as u64);
        for (name, is_dir) in &l.entries {
            w.str(name);
            w.u8(u8::from(*is_dir));
        }
        w.drain_to(out, crate::codec::CHUNK)?;
    }
    w.drain_to(out, 0)
}

/// The index in `bytes`, if it is whole and was written for `fingerprint`.
fn decode_index(bytes: &[u8], fingerprint: &[u8; 32]) -> Option<Index> {
    let mut r = R(bytes);
    if r.take(8)? != MAGIC || r.bytes32()? != *fingerprint {
        return None;
    }
    let written_ns = r.i128()?;
    let generation = r.u64()?;
    let records_len = r.u64()?;
    let n = usize::try_from(r.u64()?).ok()?;
    let mut entries = HashMap::with_capacity_and_hasher(n.min(1 << 20), rustc_hash::FxBuildHasher);
    for _ in 0..n {
        let rel = r.str()?;
        let entry = Entry {
            stamp: Stamp {
                size: r.u64()?,
                mtime_ns: r.i128()?,
                inode: r.u64()?,
            },
            id: r.str()?,
            recency: Recency {
                last_event: r.time()?,
                open: r.u8()? == 1,
                maintenance: r.u8()? == 1,
            },
            digest: r.bytes32()?,
            offset: r.u64()?,
            len: r.u64()?,
        };
        if entry.offset.checked_add(entry.len)? > records_len {
            return None;
        }
        entries.insert(rel, entry);
    }
    let n = usize::try_from(r.u64()?).ok()?;
    let mut folders = HashMap::with_capacity_and_hasher(n.min(1 << 16), rustc_hash::FxBuildHasher);
    for _ in 0..n {
        let rel_dir = r.str()?;
        let stamp = (r.u64()?, r.i128()?, r.i128()?);
        let count = usize::try_from(r.u64()?).ok()?;
        let mut listed = Vec::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            listed.push((r.str()?, r.u8()? == 1));
        }
        folders.insert(
            rel_dir,
            Listing {
                stamp,
                entries: listed,
            },
        );
    }
    r.0.is_empty().then_some(Index {
        written_ns,
        generation,
        records_len,
        entries,
        folders,
    })
}

fn encode_record(w: &mut W, i: &Incident) {
    w.str(&i.title);
    w.strs(&i.components);
    w.u8(index_of(Impact::ALL.into_iter(), &i.impact));
    w.u64(i.component_status.len() as u64);
    for (c, s) in &i.component_status {
        w.str(c);
        w.u8(index_of(ComponentStatus::ALL.into_iter(), s));
    }
    match &i.author {
        Some(a) => {
            w.u8(1);
            w.str(a);
        }
        None => w.u8(0),
    }
    match i.scheduled {
        Some(win) => {
            w.u8(1);
            w.time(win.start);
            w.time(win.end);
        }
        None => w.u8(0),
    }
    w.u8(u8::from(i.cancelled));
    w.str(&i.summary);
    w.u64(i.updates.len() as u64);
    for u in &i.updates {
        w.time(u.at);
        w.u8(index_of(statuses(), &u.status));
        w.str(&u.body);
        w.u64(u.line as u64);
    }
    match &i.channels {
        Some(c) => {
            w.u8(1);
            w.strs(c);
        }
        None => w.u8(0),
    }
    w.u8(u8::from(i.broadcast));
}

/// The incident whose record lies at `range` of `buf`; its texts point into `buf`.
fn decode_record(
    buf: &Arc<Vec<u8>>,
    range: Range<usize>,
    id: String,
    path: PathBuf,
    digest: [u8; 32],
) -> Option<Incident> {
    let end = range.end;
    let mut r = R(buf.get(range)?);
    // A text: its length, then its bytes, which stay where they are.
    let text = |r: &mut R| {
        let n = r.u32()? as usize;
        let start = end - r.0.len();
        r.take(n)?;
        Text::shared(buf, start..start + n)
    };
    let title = r.str()?;
    let components = r.strs()?;
    let impact = *Impact::ALL.get(usize::from(r.u8()?))?;
    let mut component_status = std::collections::BTreeMap::new();
    for _ in 0..r.u64()? {
        let c = r.str()?;
        component_status.insert(c, *ComponentStatus::ALL.get(usize::from(r.u8()?))?);
    }
    let author = if r.u8()? == 1 { Some(r.str()?) } else { None };
    let scheduled = if r.u8()? == 1 {
        Some(Window {
            start: r.time()?,
            end: r.time()?,
        })
    } else {
        None
    };
    let cancelled = r.u8()? == 1;
    let summary = text(&mut r)?;
    let mut updates = Vec::new();
    for _ in 0..r.u64()? {
        updates.push(Update {
            at: r.time()?,
            status: statuses().nth(usize::from(r.u8()?))?,
            body: text(&mut r)?,
            line: r.u64()? as usize,
        });
    }
    let channels = if r.u8()? == 1 { Some(r.strs()?) } else { None };
    let broadcast = r.u8()? == 1;
    r.0.is_empty().then_some(Incident {
        id,
        path,
        title,
        components,
        impact,
        component_status,
        author,
        scheduled,
        cancelled,
        summary,
        updates,
        channels,
        broadcast,
        digest: Some(digest),
    })
}

/// Make the cache of `config` look written an hour from now: nothing changed until now is racy
/// (tests change files and folders within the two seconds the cache does not trust).
#[cfg(test)]
pub(crate) fn settle_for_test(config: &Config) {
    let path = dir(config).join(INDEX);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = MAGIC.len() + 32;
    let written = i128::from_le_bytes(bytes[at..at + 16].try_into().unwrap());
    let later = written + 3_600 * 1_000_000_000;
    bytes[at..at + 16].copy_from_slice(&later.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_field_appends_and_compacts() {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = Config::for_test();
        config.root = tmp.path().to_path_buf();
        let text = "---\ntitle: Mobilfunkstörung\ncomponents: [mobile, sms]\nimpact: major\ncomponent_status: { sms: degraded_performance }\nauthor: mk\nchannels: []\nbroadcast: false\n---\nSummary.\n\n## 2026-11-20 08:12 investigating\nWir untersuchen.\n## 2026-11-20 09:05:30 +01:00 resolved\nBehoben.\n";
        let dir = Path::new("incidents");
        let parse = |rel: &str, text: &str| {
            crate::source::incident::parse(&dir.join(rel), text.as_bytes(), &config).unwrap()
        };
        let a = parse("2026/a.md", text);
        let m = parse(
            "b.md",
            "---\ntitle: W\ncomponents: [web]\nscheduled: { start: 2026-12-01 02:00, end: 2026-12-01 04:00 }\ncancelled: true\n---\n",
        );
        let stamp = Stamp {
            size: 10,
            mtime_ns: 5,
            inode: 7,
        };
        let empty = Cache::load(&config);
        assert!(empty.is_empty());
        let root = Listing {
            stamp: (3, 4, 5),
            entries: vec![("2026".into(), true), ("b.md".into(), false)],
        };
        empty.store(
            &config,
            &[("2026/a.md".into(), stamp, &a), ("b.md".into(), stamp, &m)],
            &[],
            &[
                (String::new(), root.clone()),
                (
                    "2026/".into(),
                    Listing {
                        stamp: (6, 7, 8),
                        entries: vec![("a.md".into(), false)],
                    },
                ),
            ],
        );
        let cache = Cache::load(&config);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.listing("", (3, 4, 5)), Some(root.entries.as_slice()));
        assert_eq!(
            cache.listing("2026/", (6, 7, 8)),
            Some(&[("a.md".to_string(), false)][..])
        );
        for changed in [(9, 4, 5), (3, 9, 5), (3, 4, 9)] {
            assert_eq!(cache.listing("", changed), None, "{changed:?}");
        }
        let racy = Cache {
            index: Index {
                written_ns: 6,
                ..Index::default()
            },
            ..Cache::empty(fingerprint(&config))
        };
        let mut racy_index = decode_index(
            &std::fs::read(dir_of(&config).join(INDEX)).unwrap(),
            &fingerprint(&config),
        )
        .unwrap();
        racy_index.written_ns = racy.index.written_ns;
        let racy = Cache {
            index: racy_index,
            ..racy
        };
        assert_eq!(
            racy.get("b.md", stamp),
            None,
            "written within two seconds: racy"
        );
        assert_eq!(racy.listing("", (3, 4, 5)), None, "a racy folder too");
        assert_eq!(cache.get("b.md", stamp), Some((m.id.as_str(), m.recency())));
        assert_eq!(
            cache.get("2026/a.md", stamp),
            Some((a.id.as_str(), a.recency()))
        );
        assert!(cache.get("b.md", Stamp { size: 11, ..stamp }).is_none());
        assert_eq!(
            cache.read(&["b.md", "2026/a.md", "gone.md"], dir),
            vec![Some(m.clone()), Some(a.clone()), None]
        );
        assert!(m.digest.is_some() && m.digest != a.digest);
        // Many at once: the whole records file is read.
        let many: Vec<&str> = std::iter::repeat_n("2026/a.md", READ_ALL + 1).collect();
        assert!(
            cache
                .read(&many, dir)
                .iter()
                .all(|i| i.as_ref() == Some(&a))
        );

        // Editing one file appends its record; the other's stays where it was.
        let records = |generation: u64| {
            std::fs::metadata(records_path(&dir_of(&config), generation)).map(|m| m.len())
        };
        let before = records(cache.index.generation).unwrap();
        let mut cache = cache;
        let mut last = a.clone();
        let mut generations = vec![cache.index.generation];
        // Left by writers killed half-way: cleared by the next write.
        let leftovers = [
            dir_of(&config).join(format!("{INDEX}.tmp-999999")),
            dir_of(&config).join("incidents-77.rec.tmp"),
        ];
        for f in &leftovers {
            std::fs::write(f, "half").unwrap();
        }
        for n in 0..40 {
            let edited = parse("2026/a.md", &format!("{text}\nEdit {n}.\n"));
            cache.store(
                &config,
                &[("2026/a.md".into(), stamp, &edited)],
                &["b.md"],
                &[],
            );
            cache = Cache::load(&config);
            assert_eq!(
                cache.read(&["b.md", "2026/a.md"], dir),
                vec![Some(m.clone()), Some(edited.clone())],
                "store {n}"
            );
            generations.push(cache.index.generation);
            last = edited;
        }
        assert_eq!(generations[1], generations[0], "appended, not rewritten");
        assert!(leftovers.iter().all(|f| !f.exists()));
        assert!(
            records(generations[0]).is_err() || generations.iter().all(|g| *g == generations[0])
        );
        assert!(before < SLACK);
        // Stale records beyond the slack make a new generation, and the old file goes.
        let last_gen = *generations.last().unwrap();
        assert!(last_gen > generations[0], "{generations:?}");
        assert!(records(generations[0]).is_err());
        assert!(records(last_gen).unwrap() <= 2 * SLACK.max(1) + 4096);
        assert_eq!(cache.read(&["2026/a.md"], dir), vec![Some(last)]);

        // Another binary or config, a cut-off index, records shorter than the index says: empty.
        let idx = std::fs::read(dir_of(&config).join(INDEX)).unwrap();
        assert!(
            decode_index(&idx, &[2; 32]).is_none(),
            "another binary or config"
        );
        assert!(
            decode_index(&idx[..idx.len() - 1], &fingerprint(&config)).is_none(),
            "cut off"
        );
        let rec = records_path(&dir_of(&config), last_gen);
        let len = std::fs::metadata(&rec).unwrap().len();
        std::fs::File::options()
            .write(true)
            .open(&rec)
            .unwrap()
            .set_len(len - 1)
            .unwrap();
        assert!(Cache::load(&config).is_empty(), "records cut off");
    }

    fn dir_of(config: &Config) -> PathBuf {
        dir(config)
    }
}
