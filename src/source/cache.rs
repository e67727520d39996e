//! A cache of parsed incidents in `.statuscast/cache/incidents.bin`, so a build or a cron tick
//! parses only the files that changed since the last run instead of thousands of unchanged ones.
//!
//! A file is taken from the cache when its path, size, modification time and inode are the ones
//! recorded, and it was not modified within two seconds before the cache was written (a change in
//! the same clock tick could keep its time, as git's "racy" index entries). The whole cache is void
//! when statuscast itself or `statuscast.yaml` changed. Only files that parsed without problems are
//! cached, so error messages are always fresh. Deleting the folder is always safe.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::model::{ComponentStatus, Impact, Incident, Status, Update, Window};

const MAGIC: &[u8; 8] = b"SCINC001";
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

/// The cached incidents, by path relative to the incidents folder.
pub struct Cache {
    written_ns: i128,
    entries: HashMap<String, (Stamp, Incident)>,
}

impl Cache {
    /// Read the cache; a missing, old or damaged one is empty.
    #[must_use]
    pub fn load(config: &Config) -> Cache {
        let empty = Cache {
            written_ns: 0,
            entries: HashMap::new(),
        };
        let Ok(bytes) = std::fs::read(dir(config).join("incidents.bin")) else {
            return empty;
        };
        decode(&bytes, &fingerprint(config), &config.incidents_path()).unwrap_or(empty)
    }

    /// The cached incident for `rel` if the file is unchanged.
    #[must_use]
    pub fn get(&self, rel: &str, stamp: Stamp) -> Option<&Incident> {
        let (s, incident) = self.entries.get(rel)?;
        let racy = stamp.mtime_ns + RACY.as_nanos() as i128 >= self.written_ns;
        (*s == stamp && !racy).then_some(incident)
    }

    /// Take the cached incident of `rel` out of the cache.
    pub fn take(&mut self, rel: &str) -> Option<Incident> {
        self.entries.remove(rel).map(|(_, i)| i)
    }

    /// Whether entries are left (files that were deleted since, when all others were taken).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Write the cache of `files` (relative path, stamp, incident); best effort, never an error:
    /// a build that cannot write its cache is only slower next time.
    pub fn store(config: &Config, files: &[(String, Stamp, &Incident)]) {
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
        let written_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let bytes = encode(&fingerprint(config), written_ns, files);
        let tmp = dir.join(format!("incidents.bin.tmp-{}", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join("incidents.bin"));
        }
        let _ = std::fs::remove_file(&tmp);
    }
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

fn encode(
    fingerprint: &[u8; 32],
    written_ns: i128,
    files: &[(String, Stamp, &Incident)],
) -> Vec<u8> {
    let mut w = W(Vec::with_capacity(1 << 20));
    w.0.extend_from_slice(MAGIC);
    w.0.extend_from_slice(fingerprint);
    w.i128(written_ns);
    w.u64(files.len() as u64);
    for (rel, stamp, i) in files {
        w.str(rel);
        w.u64(stamp.size);
        w.i128(stamp.mtime_ns);
        w.u64(stamp.inode);
        w.str(&i.id);
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
    w.0
}

fn decode(bytes: &[u8], fingerprint: &[u8; 32], incidents_dir: &Path) -> Option<Cache> {
    let mut r = R(bytes);
    if r.take(8)? != MAGIC || r.take(32)? != fingerprint {
        return None;
    }
    let written_ns = r.i128()?;
    let n = r.u64()?;
    let mut entries = HashMap::with_capacity(n as usize);
    for _ in 0..n {
        let rel = r.str()?;
        let stamp = Stamp {
            size: r.u64()?,
            mtime_ns: r.i128()?,
            inode: r.u64()?,
        };
        let id = r.str()?;
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
        let incident = Incident {
            id,
            path: incidents_dir.join(&rel),
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
        };
        entries.insert(rel, (stamp, incident));
    }
    r.0.is_empty().then_some(Cache {
        written_ns,
        entries,
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
        let bytes = encode(
            &[1; 32],
            99,
            &[("2026/a.md".into(), stamp, &a), ("b.md".into(), stamp, &m)],
        );
        let cache = decode(&bytes, &[1; 32], dir).unwrap();
        assert_eq!(cache.entries["2026/a.md"], (stamp, a));
        assert_eq!(cache.entries["b.md"], (stamp, m));
        assert!(
            decode(&bytes, &[2; 32], dir).is_none(),
            "another binary or config"
        );
        assert!(
            decode(&bytes[..bytes.len() - 1], &[1; 32], dir).is_none(),
            "cut off"
        );
        // A file written within two seconds of the cache is parsed again.
        let cache = Cache {
            written_ns: 5 + RACY.as_nanos() as i128,
            entries: cache.entries,
        };
        assert!(cache.get("b.md", stamp).is_none());
        let cache = Cache {
            written_ns: 6 + RACY.as_nanos() as i128,
            entries: cache.entries,
        };
        assert!(cache.get("b.md", stamp).is_some());
        assert!(cache.get("b.md", Stamp { size: 11, ..stamp }).is_none());
    }
}
