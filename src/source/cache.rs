//! A cache of parsed incidents in `.statuscast/cache/incidents.bin`, so a build or a cron tick
//! parses only the files that changed since the last run instead of thousands of unchanged ones.
//!
//! A file is taken from the cache when its path, size, modification time and inode are the ones
//! recorded, and it was not modified within two seconds before the cache was written (a change in
//! the same clock tick could keep its time, as git's "racy" index entries). The whole cache is void
//! when statuscast itself or `statuscast.yaml` changed. Only files that parsed without problems are
//! cached, so error messages are always fresh. Deleting the folder is always safe.

use std::collections::HashMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::model::{ComponentStatus, Impact, Incident, Recency, Status, Update, Window};

const MAGIC: &[u8; 8] = b"SCINC002";
const RACY: Duration = Duration::from_secs(2);

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
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            size: meta.len(),
            mtime_ns,
            inode,
        }
    }
}

/// The folder of statuscast's caches for the repository of `config`.
#[must_use]
pub fn dir(config: &Config) -> PathBuf {
    config.root.join(".statuscast").join("cache")
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
type Records = (Vec<u8>, Vec<Option<Range<usize>>>);

/// One file's entry in the cache's index.
struct Entry {
    stamp: Stamp,
    id: String,
    recency: Recency,
    /// Where its incident's record lies in the records part of the file.
    offset: u64,
    len: u64,
}

/// The cached incidents, by path relative to the incidents folder. Only the index (paths, stamps,
/// ids, [`Recency`]) is read up front; records are read when asked for, so a cron tick that needs
/// a few recent incidents does not decode years of texts.
pub struct Cache {
    written_ns: i128,
    entries: HashMap<String, Entry>,
    /// The cache file and where its records begin.
    file: Option<(std::fs::File, u64)>,
}

/// When asking for more records than this, the whole records part is read at once.
const READ_ALL: usize = 256;

impl Cache {
    fn empty() -> Cache {
        Cache {
            written_ns: 0,
            entries: HashMap::new(),
            file: None,
        }
    }

    /// Read the cache's index; a missing, old or damaged one is empty.
    #[must_use]
    pub fn load(config: &Config) -> Cache {
        let Ok(mut file) = std::fs::File::open(dir(config).join("incidents.bin")) else {
            return Cache::empty();
        };
        read_index(&mut file, &fingerprint(config)).map_or_else(
            Cache::empty,
            |(written_ns, entries, records)| Cache {
                written_ns,
                entries,
                file: Some((file, records)),
            },
        )
    }

    /// The id and [`Recency`] of the cached incident of `rel`, if the file is unchanged.
    #[must_use]
    pub fn get(&self, rel: &str, stamp: Stamp) -> Option<(&str, Recency)> {
        let e = self.entries.get(rel)?;
        let racy = stamp.mtime_ns + RACY.as_nanos() as i128 >= self.written_ns;
        (e.stamp == stamp && !racy).then_some((e.id.as_str(), e.recency))
    }

    /// How many files the cache knows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache knows no file.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
                let e = self.entries.get(*rel)?;
                let bytes = buf.get(range.clone()?)?;
                decode_record(bytes, e.id.clone(), incidents_dir.join(rel))
            })
            .collect()
    }

    /// The raw records of `rels`: a buffer and where in it each record lies (`None`: unknown or
    /// unreadable). Read one by one when they are few, all at once otherwise.
    fn records(&self, rels: &[&str]) -> Option<Records> {
        let (file, start) = self.file.as_ref()?;
        let mut file = file;
        let located = rels.iter().map(|rel| {
            let e = self.entries.get(*rel)?;
            Some((
                usize::try_from(e.offset).ok()?,
                usize::try_from(e.len).ok()?,
            ))
        });
        let mut buf = Vec::new();
        if rels.len() > READ_ALL {
            file.seek(SeekFrom::Start(*start)).ok()?;
            file.read_to_end(&mut buf).ok()?;
            let ranges = located
                .map(|r| {
                    let (offset, len) = r?;
                    Some(offset..offset.checked_add(len)?)
                })
                .collect();
            return Some((buf, ranges));
        }
        let ranges = located
            .map(|r| {
                let (offset, len) = r?;
                let at = buf.len();
                buf.resize(at + len, 0);
                let read = file
                    .seek(SeekFrom::Start(start.checked_add(offset as u64)?))
                    .and_then(|_| file.read_exact(&mut buf[at..]));
                if read.is_err() {
                    buf.truncate(at);
                    return None;
                }
                Some(at..at + len)
            })
            .collect();
        Some((buf, ranges))
    }

    /// Write the cache of `files` (relative path, stamp, incident), keeping the records of `kept`
    /// (files that were not read this time, unchanged) from this cache; best effort, never an
    /// error: a build that cannot write its cache is only slower next time.
    pub fn store(&self, config: &Config, files: &[(String, Stamp, &Incident)], kept: &[&str]) {
        let dir = dir(config);
        if std::fs::create_dir_all(&dir).is_err() {
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
        let Some((buf, ranges)) = self
            .records(kept)
            .or_else(|| kept.is_empty().then(|| (Vec::new(), Vec::new())))
        else {
            return;
        };
        let mut all: Vec<(&str, Stamp, &str, Recency, Record)> = files
            .iter()
            .map(|(rel, stamp, i)| {
                (
                    rel.as_str(),
                    *stamp,
                    i.id.as_str(),
                    i.recency(),
                    Record::Fresh(i),
                )
            })
            .collect();
        for (rel, range) in kept.iter().zip(ranges) {
            let bytes = range.and_then(|r| buf.get(r));
            let (Some(e), Some(bytes)) = (self.entries.get(*rel), bytes) else {
                // Unreadable now: left out, the file is parsed next time.
                continue;
            };
            all.push((rel, e.stamp, &e.id, e.recency, Record::Raw(bytes)));
        }
        let written_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let bytes = encode(&fingerprint(config), written_ns, &all);
        let tmp = dir.join(format!("incidents.bin.tmp-{}", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join("incidents.bin"));
        }
        let _ = std::fs::remove_file(&tmp);
    }
}

/// An incident to write into the cache: parsed now, or its record as the old cache had it.
enum Record<'a> {
    Fresh(&'a Incident),
    Raw(&'a [u8]),
}

// A small binary format: little-endian integers, strings with a u32 length.

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i128(&mut self, v: i128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn time(&mut self, t: DateTime<Utc>) {
        self.0.extend_from_slice(&t.timestamp().to_le_bytes());
        self.0
            .extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
    }
    fn strs(&mut self, v: &[String]) {
        self.u64(v.len() as u64);
        for s in v {
            self.str(s);
        }
    }
}

struct R<'a>(&'a [u8]);

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i128(&mut self) -> Option<i128> {
        Some(i128::from_le_bytes(self.take(16)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn time(&mut self) -> Option<DateTime<Utc>> {
        let secs = i64::from_le_bytes(self.take(8)?.try_into().ok()?);
        DateTime::from_timestamp(secs, self.u32()?)
    }
    fn strs(&mut self) -> Option<Vec<String>> {
        let n = self.u64()?;
        (0..n).map(|_| self.str()).collect()
    }
}

fn statuses() -> impl Iterator<Item = Status> {
    Status::INCIDENT.into_iter().chain(Status::MAINTENANCE)
}

fn index_of<T: PartialEq>(mut all: impl Iterator<Item = T>, v: &T) -> u8 {
    all.position(|x| x == *v).unwrap_or(0) as u8
}

/// The header: magic, fingerprint, time written, number of files, size of the index.
const HEADER: usize = 8 + 32 + 16 + 8 + 8;

fn encode(
    fingerprint: &[u8; 32],
    written_ns: i128,
    files: &[(&str, Stamp, &str, Recency, Record)],
) -> Vec<u8> {
    let mut records = W(Vec::with_capacity(1 << 20));
    let mut index = W(Vec::with_capacity(files.len() * 128));
    for (rel, stamp, id, recency, record) in files {
        let offset = records.0.len();
        match record {
            Record::Fresh(i) => encode_record(&mut records, i),
            Record::Raw(bytes) => records.0.extend_from_slice(bytes),
        }
        index.str(rel);
        index.u64(stamp.size);
        index.i128(stamp.mtime_ns);
        index.u64(stamp.inode);
        index.str(id);
        index.time(recency.last_event);
        index.u8(u8::from(recency.open));
        index.u8(u8::from(recency.maintenance));
        index.u64(offset as u64);
        index.u64((records.0.len() - offset) as u64);
    }
    let mut w = W(Vec::with_capacity(HEADER + index.0.len() + records.0.len()));
    w.0.extend_from_slice(MAGIC);
    w.0.extend_from_slice(fingerprint);
    w.i128(written_ns);
    w.u64(files.len() as u64);
    w.u64(index.0.len() as u64);
    w.0.extend_from_slice(&index.0);
    w.0.extend_from_slice(&records.0);
    w.0
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

/// The header and index of a cache file: time written, entries, where the records begin.
fn read_index(
    file: &mut std::fs::File,
    fingerprint: &[u8; 32],
) -> Option<(i128, HashMap<String, Entry>, u64)> {
    let mut header = [0u8; HEADER];
    file.read_exact(&mut header).ok()?;
    let mut r = R(&header);
    if r.take(8)? != MAGIC || r.take(32)? != fingerprint {
        return None;
    }
    let written_ns = r.i128()?;
    let n = r.u64()?;
    let index_len = r.u64()?;
    let records_len = file
        .metadata()
        .ok()?
        .len()
        .checked_sub(HEADER as u64 + index_len)?;
    let mut index = vec![0u8; usize::try_from(index_len).ok()?];
    file.read_exact(&mut index).ok()?;
    let mut r = R(&index);
    let mut entries = HashMap::with_capacity(usize::try_from(n).ok()?.min(1 << 20));
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
            offset: r.u64()?,
            len: r.u64()?,
        };
        if entry.offset.checked_add(entry.len)? > records_len {
            return None;
        }
        entries.insert(rel, entry);
    }
    r.0.is_empty()
        .then_some((written_ns, entries, HEADER as u64 + index_len))
}

fn decode_record(bytes: &[u8], id: String, path: PathBuf) -> Option<Incident> {
    let mut r = R(bytes);
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
    let summary = r.str()?;
    let mut updates = Vec::new();
    for _ in 0..r.u64()? {
        updates.push(Update {
            at: r.time()?,
            status: statuses().nth(usize::from(r.u8()?))?,
            body: r.str()?,
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_field() {
        let config = Config::for_test();
        let text = "---\ntitle: Mobilfunkstörung\ncomponents: [mobile, sms]\nimpact: major\ncomponent_status: { sms: degraded_performance }\nauthor: mk\nchannels: []\nbroadcast: false\n---\nSummary.\n\n## 2026-11-20 08:12 investigating\nWir untersuchen.\n## 2026-11-20 09:05:30 +01:00 resolved\nBehoben.\n";
        let dir = Path::new("incidents");
        let a = crate::source::incident::parse(&dir.join("2026/a.md"), text.as_bytes(), &config)
            .unwrap();
        let m = crate::source::incident::parse(
            &dir.join("b.md"),
            b"---\ntitle: W\ncomponents: [web]\nscheduled: { start: 2026-12-01 02:00, end: 2026-12-01 04:00 }\ncancelled: true\n---\n",
            &config,
        )
        .unwrap();
        let stamp = Stamp {
            size: 10,
            mtime_ns: 5,
            inode: 7,
        };
        let files = [
            (
                "2026/a.md",
                stamp,
                a.id.as_str(),
                a.recency(),
                Record::Fresh(&a),
            ),
            ("b.md", stamp, m.id.as_str(), m.recency(), Record::Fresh(&m)),
        ];
        let bytes = encode(&[1; 32], 99, &files);
        let tmp = tempfile::tempdir().unwrap();
        let open = |bytes: &[u8], fp: &[u8; 32]| {
            let path = tmp.path().join("c.bin");
            std::fs::write(&path, bytes).unwrap();
            let mut file = std::fs::File::open(&path).unwrap();
            read_index(&mut file, fp).map(|(written_ns, entries, records)| Cache {
                written_ns,
                entries,
                file: Some((file, records)),
            })
        };
        let cache = open(&bytes, &[1; 32]).unwrap();
        assert_eq!(
            cache.get("b.md", stamp),
            None,
            "written within two seconds: racy"
        );
        let cache = Cache {
            written_ns: 6 + RACY.as_nanos() as i128,
            ..cache
        };
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
        // Many at once: the whole records part is read.
        let many: Vec<&str> = std::iter::repeat_n("2026/a.md", READ_ALL + 1).collect();
        assert!(
            cache
                .read(&many, dir)
                .iter()
                .all(|i| i.as_ref() == Some(&a))
        );
        // Raw records are carried over unchanged.
        let (buf, ranges) = cache.records(&["b.md"]).unwrap();
        let raw = &buf[ranges[0].clone().unwrap()];
        let again = encode(
            &[1; 32],
            99,
            &[
                (
                    "2026/a.md",
                    stamp,
                    a.id.as_str(),
                    a.recency(),
                    Record::Fresh(&a),
                ),
                ("b.md", stamp, m.id.as_str(), m.recency(), Record::Raw(raw)),
            ],
        );
        assert_eq!(again, bytes);
        assert!(open(&bytes, &[2; 32]).is_none(), "another binary or config");
        assert!(
            open(&bytes[..bytes.len() - 1], &[1; 32]).is_none(),
            "cut off"
        );
    }
}
