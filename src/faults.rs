//! Crash points for the crash-safety tests: `STATUSCAST_CRASH_AT=<point>[:<n>]` kills a **debug**
//! build with SIGKILL the `n`-th time (default: the first) it passes the named point, so a test can
//! stop a run exactly between two steps and check what the next run makes of it.
//!
//! Points: `before-send` (the `sending` line is on disk, the request not made), `after-send` (the
//! service answered, the result is not recorded), `ledger-write` (half of a ledger line is written),
//! `build-write` (some files of a build are in the temporary folder).
//!
//! Release builds read no variable and never crash here: [`hit`] is `false` there.

/// Whether the run must crash now at `point` (counts the passes; debug builds only).
#[must_use]
pub fn hit(point: &str) -> bool {
    #[cfg(debug_assertions)]
    {
        use std::sync::OnceLock;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static TARGET: OnceLock<Option<(String, usize)>> = OnceLock::new();
        static PASSES: AtomicUsize = AtomicUsize::new(0);
        let target = TARGET.get_or_init(|| {
            let spec = std::env::var("STATUSCAST_CRASH_AT").ok()?;
            let (name, n) = match spec.split_once(':') {
                Some((name, n)) => (name.to_string(), n.parse().ok()?),
                None => (spec, 1),
            };
            Some((name, n))
        });
        if let Some((name, n)) = target
            && name == point
        {
            return PASSES.fetch_add(1, Ordering::SeqCst) + 1 == *n;
        }
        false
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = point;
        false
    }
}

/// Kill this process with SIGKILL (no destructors, no flushing), as a power cut or the OOM killer
/// would; `abort` where `kill` cannot be run.
pub fn crash() -> ! {
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    if killed {
        // The signal may arrive a moment after `kill` returns; never go on meanwhile.
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    std::process::abort()
}

/// Crash here if the test asked for it.
pub fn point(name: &str) {
    if hit(name) {
        crash();
    }
}
