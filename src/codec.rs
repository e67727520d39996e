//! A small binary format for statuscast's caches: little-endian integers, strings with a `u32`
//! length, times as seconds and nanoseconds. Never for files a user edits.

use chrono::{DateTime, Utc};

/// A writer.
pub struct W(pub Vec<u8>);

/// How much [`W::drain_to`] gathers before it writes.
pub const CHUNK: usize = 64 * 1024;

impl W {
    /// Hand what was written so far to `out` once it holds `at_least` bytes (`0`: now) and start
    /// again: a large file goes out through a small buffer instead of being built whole in fresh
    /// memory first (which the system must zero before it is used).
    ///
    /// # Errors
    /// As `out`'s writes.
    pub fn drain_to(
        &mut self,
        out: &mut impl std::io::Write,
        at_least: usize,
    ) -> std::io::Result<()> {
        if self.0.len() >= at_least {
            out.write_all(&self.0)?;
            self.0.clear();
        }
        Ok(())
    }
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i128(&mut self, v: i128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn str(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    pub fn time(&mut self, t: DateTime<Utc>) {
        self.0.extend_from_slice(&t.timestamp().to_le_bytes());
        self.0
            .extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
    }
    pub fn bytes32(&mut self, v: &[u8; 32]) {
        self.0.extend_from_slice(v);
    }
    pub fn strs(&mut self, v: &[String]) {
        self.u64(v.len() as u64);
        for s in v {
            self.str(s);
        }
    }
}

/// A reader; every read is `None` past the end or on a bad value.
pub struct R<'a>(pub &'a [u8]);

impl<'a> R<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub fn i128(&mut self) -> Option<i128> {
        Some(i128::from_le_bytes(self.take(16)?.try_into().ok()?))
    }
    pub fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        simdutf8::basic::from_utf8(self.take(n)?)
            .ok()
            .map(str::to_owned)
    }
    pub fn time(&mut self) -> Option<DateTime<Utc>> {
        let secs = i64::from_le_bytes(self.take(8)?.try_into().ok()?);
        DateTime::from_timestamp(secs, self.u32()?)
    }
    pub fn bytes32(&mut self) -> Option<[u8; 32]> {
        self.take(32)?.try_into().ok()
    }
    pub fn strs(&mut self) -> Option<Vec<String>> {
        let n = self.u64()?;
        (0..n).map(|_| self.str()).collect()
    }
}
