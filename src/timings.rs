//! Stage timings for profiling: with `STATUSCAST_TIMINGS=1` in the environment, each timed stage
//! prints `timing: <stage> <ms> ms` to stderr when it ends. Off by default; costs nothing then.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var_os("STATUSCAST_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0")
    })
}

/// A running stage; reports its duration when dropped.
#[must_use = "the stage ends when this is dropped"]
pub struct Span {
    name: &'static str,
    start: Option<Instant>,
}

/// Start timing the stage `name`.
pub fn span(name: &'static str) -> Span {
    Span {
        name,
        start: enabled().then(Instant::now),
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(start) = self.start {
            eprintln!(
                "timing: {:<24} {:>8.1} ms{}",
                self.name,
                start.elapsed().as_secs_f64() * 1000.0,
                rss().map_or_else(String::new, |kb| format!("  (resident {} MB)", kb / 1024))
            );
        }
    }
}

/// The process's resident memory in KB (Linux), for the timings.
fn rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
