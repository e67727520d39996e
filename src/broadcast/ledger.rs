//! The ledger: an append-only JSON-lines file of every post's state changes. Each line is written
//! and fsynced before the next step (`sending` before the request, `sent` with the remote id after),
//! so a crash at any point leaves either a complete line or a truncated last line, which the next
//! run detects and cuts off without losing the lines before it.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::broadcast::channels::Remote;
use crate::diagnostics::display_path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// A request is about to go out. Without a later line, the post is in doubt.
    Sending,
    /// Posted; `remote` holds the id (none when settled by hand or by a duplicate answer).
    Sent,
    /// A temporary failure (429, 5xx, timeout): tried again by later runs until `give_up_after`.
    Retry,
    /// Rejected by the service (auth, validation): waits for `statuscast ledger resolve KEY retry`.
    Failed,
    /// The request may have reached a service without idempotency (X): a person decides.
    InDoubt,
    /// Never sent: too old when first seen, superseded, or outside its window.
    Skipped,
    /// Given up after failing for `give_up_after`.
    Expired,
    /// Settled by hand: send again on the next run.
    Requeued,
}

impl State {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            State::Sending => "sending",
            State::Sent => "sent",
            State::Retry => "retry",
            State::Failed => "failed",
            State::InDoubt => "in_doubt",
            State::Skipped => "skipped",
            State::Expired => "expired",
            State::Requeued => "requeued",
        }
    }

    /// Nothing more will happen to a post in this state.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, State::Sent | State::Skipped | State::Expired)
    }
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub state: State,
    /// When this happened (the run's "now").
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<Remote>,
    /// The service's message, or why a post was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What the ledger knows about one post key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostState {
    pub state: State,
    pub at: DateTime<Utc>,
    pub remote: Option<Remote>,
    pub note: Option<String>,
    /// When the post was first tried (for `give_up_after`).
    pub first_attempt: Option<DateTime<Utc>>,
    /// When the latest request went out (for Mastodon's idempotency-key lifetime).
    pub last_attempt: Option<DateTime<Utc>>,
}

/// A ledger problem that stops the run (never silently ignored).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot {what} the ledger {path}: {reason}")]
    Io {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("ledger {path} line {line} is not a ledger entry: {reason}")]
    Corrupt {
        path: String,
        line: usize,
        reason: String,
    },
}

pub struct Ledger {
    path: PathBuf,
    file: Option<File>,
    posts: BTreeMap<String, PostState>,
    /// A truncated last line was cut off when opening.
    pub repaired: Option<String>,
}

fn io(what: &'static str, path: &Path, e: &std::io::Error) -> LedgerError {
    LedgerError::Io {
        what,
        path: display_path(path),
        reason: crate::io_reason(e),
    }
}

/// The key of a ledger line as written by [`Ledger::record`] (`{"key":"…",…`), when it needs no
/// unescaping; `None` sends the line to the full parser.
fn key_of(line: &[u8]) -> Option<&str> {
    let rest = line.strip_prefix(b"{\"key\":\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

impl Ledger {
    /// Read the ledger (a missing file is an empty ledger). With `writable`, a truncated last line
    /// is cut off and the file is opened for appending.
    ///
    /// # Errors
    /// Unreadable file, or a corrupt line that is not the last one.
    pub fn open(path: &Path, writable: bool) -> Result<Ledger, LedgerError> {
        Self::open_filtered(path, writable, &|_| true)
    }

    /// Like [`Ledger::open`], but only the lines whose key `keep` accepts are read; the others are
    /// skipped without parsing them. A cron tick needs the posts of a few recent incidents, not
    /// years of history.
    ///
    /// # Errors
    /// Unreadable file, or a corrupt line that is not the last one.
    pub fn open_filtered(
        path: &Path,
        writable: bool,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<Ledger, LedgerError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("read", path, &e)),
        };
        let mut ledger = Ledger {
            path: path.to_path_buf(),
            file: None,
            posts: BTreeMap::new(),
            repaired: None,
        };
        let mut good_len = 0usize;
        let mut offset = 0usize;
        let mut line_no = 0usize;
        while offset < bytes.len() {
            line_no += 1;
            let end = memchr::memchr(b'\n', &bytes[offset..]).map(|p| offset + p);
            let line = &bytes[offset..end.unwrap_or(bytes.len())];
            if let (Some(end), Some(key)) = (end, key_of(line))
                && !keep(key)
            {
                offset = end + 1;
                good_len = offset;
                continue;
            }
            let parsed = std::str::from_utf8(line)
                .map_err(|e| e.to_string())
                .and_then(|s| serde_json::from_str::<Entry>(s).map_err(|e| e.to_string()));
            match (parsed, end) {
                (Ok(entry), Some(end)) => {
                    ledger.apply(entry);
                    offset = end + 1;
                    good_len = offset;
                }
                (Ok(_) | Err(_), None) => {
                    // The last line has no newline: a write was cut off. Everything before it stays.
                    ledger.repaired = Some(format!(
                        "the ledger's last line ({line_no}) was cut off by an interrupted run and was removed"
                    ));
                    break;
                }
                (Err(reason), Some(_)) if line.iter().all(u8::is_ascii_whitespace) => {
                    offset = end.unwrap_or(bytes.len()) + 1;
                    good_len = offset;
                    let _ = reason;
                }
                (Err(reason), Some(_)) => {
                    return Err(LedgerError::Corrupt {
                        path: display_path(path),
                        line: line_no,
                        reason,
                    });
                }
            }
        }
        if writable {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| io("create the folder of", path, &e))?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| io("open", path, &e))?;
            if ledger.repaired.is_some() {
                file.set_len(good_len as u64)
                    .map_err(|e| io("repair", path, &e))?;
                file.sync_all().map_err(|e| io("repair", path, &e))?;
            }
            ledger.file = Some(file);
        }
        Ok(ledger)
    }

    fn apply(&mut self, e: Entry) {
        let prev = self.posts.get(&e.key);
        let first_attempt = prev
            .and_then(|p| p.first_attempt)
            .or((e.state == State::Sending).then_some(e.at));
        let last_attempt = if e.state == State::Sending {
            Some(e.at)
        } else {
            prev.and_then(|p| p.last_attempt)
        };
        // A hand-settled or final remote id is kept when a later line has none.
        let remote = e.remote.clone().or_else(|| {
            if e.state == State::Sent {
                None
            } else {
                prev.and_then(|p| p.remote.clone())
            }
        });
        self.posts.insert(
            e.key,
            PostState {
                state: e.state,
                at: e.at,
                remote,
                note: e.note,
                first_attempt,
                last_attempt,
            },
        );
    }

    #[must_use]
    pub fn get(&self, key: &str) -> Option<&PostState> {
        self.posts.get(key)
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All known posts, by key.
    pub fn posts(&self) -> impl Iterator<Item = (&String, &PostState)> {
        self.posts.iter()
    }

    /// Append one entry and fsync it before returning.
    ///
    /// # Errors
    /// When the line cannot be written durably; the caller must stop sending then.
    pub fn record(&mut self, entry: Entry) -> Result<(), LedgerError> {
        let Some(file) = self.file.as_mut() else {
            return Err(LedgerError::Io {
                what: "write",
                path: display_path(&self.path),
                reason: "opened read-only".into(),
            });
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| LedgerError::Io {
            what: "encode an entry for",
            path: display_path(&self.path),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        if crate::faults::hit("ledger-write") {
            // Crash test: half a line reaches the disk, as when a run dies mid-write.
            let _ = file.write_all(&line[..line.len() / 2]);
            let _ = file.sync_data();
            crate::faults::crash();
        }
        file.write_all(&line)
            .map_err(|e| io("write", &self.path, &e))?;
        file.sync_data().map_err(|e| io("sync", &self.path, &e))?;
        self.apply(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, state: State, min: u32) -> Entry {
        Entry {
            key: key.into(),
            state,
            at: DateTime::parse_from_rfc3339(&format!("2026-11-23T10:{min:02}:00Z"))
                .unwrap()
                .with_timezone(&Utc),
            remote: (state == State::Sent).then(|| Remote {
                id: format!("id-{key}"),
                url: None,
                cid: None,
            }),
            note: None,
        }
    }

    #[test]
    fn a_filtered_open_reads_only_the_kept_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let mut l = Ledger::open(&path, true).unwrap();
        l.record(entry("old#0/x", State::Sent, 0)).unwrap();
        l.record(entry("new#0/x", State::Sent, 1)).unwrap();
        l.record(entry("we\"ird#0/x", State::Sent, 2)).unwrap();
        drop(l);
        let l = Ledger::open_filtered(&path, false, &|k| k.starts_with("new#")).unwrap();
        assert!(l.get("old#0/x").is_none());
        assert_eq!(l.get("new#0/x").unwrap().state, State::Sent);
        assert!(
            l.get("we\"ird#0/x").is_some(),
            "escaped keys are parsed in full"
        );
    }

    #[test]
    fn folds_entries_per_key_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ledger.jsonl");
        let mut l = Ledger::open(&path, true).unwrap();
        l.record(entry("a", State::Sending, 0)).unwrap();
        l.record(entry("a", State::Retry, 1)).unwrap();
        l.record(entry("a", State::Sending, 5)).unwrap();
        l.record(entry("a", State::Sent, 6)).unwrap();
        l.record(entry("b", State::Sending, 7)).unwrap();
        drop(l);
        let l = Ledger::open(&path, false).unwrap();
        let a = l.get("a").unwrap();
        assert_eq!(a.state, State::Sent);
        assert_eq!(a.remote.as_ref().unwrap().id, "id-a");
        assert_eq!(a.first_attempt.unwrap().format("%M").to_string(), "00");
        assert_eq!(a.last_attempt.unwrap().format("%M").to_string(), "05");
        assert_eq!(l.get("b").unwrap().state, State::Sending);
        assert!(l.repaired.is_none());
    }

    #[test]
    fn a_truncated_last_line_is_cut_off_and_earlier_lines_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let mut l = Ledger::open(&path, true).unwrap();
        l.record(entry("a", State::Sent, 0)).unwrap();
        drop(l);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"key\":\"b\",\"state\":\"sen").unwrap();
        drop(f);
        let mut l = Ledger::open(&path, true).unwrap();
        assert!(
            l.repaired
                .as_deref()
                .unwrap()
                .contains("line (2) was cut off")
        );
        assert_eq!(l.get("a").unwrap().state, State::Sent);
        assert!(l.get("b").is_none());
        l.record(entry("c", State::Sent, 1)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            text.lines()
                .all(|line| serde_json::from_str::<Entry>(line).is_ok())
        );
    }

    #[test]
    fn a_corrupt_middle_line_stops_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        std::fs::write(
            &path,
            "garbage\n{\"key\":\"a\",\"state\":\"sent\",\"at\":\"2026-11-23T10:00:00Z\"}\n",
        )
        .unwrap();
        let err = Ledger::open(&path, true).err().unwrap().to_string();
        assert!(err.contains("line 1 is not a ledger entry"), "{err}");
    }
}
