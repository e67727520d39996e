//! Retry as a decision plus a loop: [`should_retry`] decides, [`send_with_retry`] waits (through an
//! injected [`Sleeper`]) while the channel's budget lasts, and otherwise hands the last error back
//! so that the engine leaves the post due for the next run.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rand::RngExt as _;

use super::{Channel, Outgoing, Remote, SendError};

/// Default wait budget per channel per run (`broadcast.channel_timeout`).
pub const DEFAULT_BUDGET: Duration = Duration::from_mins(1);

/// Whether an error is worth another attempt: only [`SendError::Retry`] (429, 5xx, timeouts and
/// connection errors of idempotent requests). Rejections, duplicates and in-doubt X posts are not.
pub fn should_retry(err: &SendError) -> bool {
    matches!(err, SendError::Retry { .. })
}

/// Something that waits. Tests inject a fake that records the durations and returns at once.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Waits with `tokio::time::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Capped exponential backoff with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// Upper bound of one delay computed by doubling.
    pub cap: Duration,
    /// Upper bound of the random time added to a server-given `after` (spreads clients that
    /// were told the same reset instant).
    pub after_jitter: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            after_jitter: Duration::from_millis(500),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based). A server-given `after` wins (plus a
    /// little jitter); otherwise `min(cap, base·2^attempt)`, of which the upper half is random
    /// ("equal jitter": never less than half the computed delay).
    pub fn delay(&self, attempt: u32, after: Option<Duration>) -> Duration {
        let mut rng = rand::rng();
        if let Some(after) = after.filter(|a| !a.is_zero()) {
            return after + self.after_jitter.mul_f64(rng.random::<f64>());
        }
        let doubled = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(31)))
            .min(self.cap);
        let half = doubled / 2;
        half + half.mul_f64(rng.random::<f64>())
    }
}

/// Sends `post`, retrying [`SendError::Retry`] errors while the total waiting time stays within
/// `budget` (pass what is left of the channel's per-run budget, [`DEFAULT_BUDGET`] at the start).
/// A wait that would exceed the budget is not started: the last `Retry` error is returned and the
/// post stays due for the next run.
///
/// After a failed attempt the following ones are sent with `in_doubt: true`, because the failed
/// request may have reached the server (Bluesky then looks the record up before writing).
pub async fn send_with_retry(
    channel: &Channel,
    post: &Outgoing<'_>,
    budget: Duration,
    sleeper: &dyn Sleeper,
) -> Result<Remote, SendError> {
    send_with_backoff(channel, post, budget, &Backoff::default(), sleeper).await
}

/// [`send_with_retry`] with an explicit [`Backoff`].
pub async fn send_with_backoff(
    channel: &Channel,
    post: &Outgoing<'_>,
    budget: Duration,
    backoff: &Backoff,
    sleeper: &dyn Sleeper,
) -> Result<Remote, SendError> {
    let started = std::time::Instant::now();
    let mut waited = Duration::ZERO;
    let mut attempt = 0u32;
    let mut retry_post: Option<Outgoing<'_>> = None;
    loop {
        // The budget bounds the requests too: a service that never answers cannot hold the run.
        let left = budget.saturating_sub(started.elapsed());
        let Ok(result) =
            tokio::time::timeout(left, channel.send(retry_post.as_ref().unwrap_or(post))).await
        else {
            return Err(timed_out(channel));
        };
        let err = match result {
            Ok(remote) => return Ok(remote),
            Err(err) if should_retry(&err) => err,
            Err(err) => return Err(err),
        };
        let SendError::Retry { after, .. } = &err else {
            return Err(err);
        };
        let delay = backoff.delay(attempt, *after);
        // A retry needs time for its request too; one that could only be cut off is not started.
        let room = (budget / 4).min(Duration::from_secs(2));
        if waited + delay > budget || started.elapsed() + delay + room > budget {
            return Err(err);
        }
        sleeper.sleep(delay).await;
        waited += delay;
        attempt += 1;
        if retry_post.is_none() {
            retry_post = Some(Outgoing {
                facets: post.facets.clone(),
                in_doubt: true,
                ..*post
            });
        }
    }
}

/// A request cut off by the budget may have reached the service: only a channel that can
/// re-send safely retries it later; on X it is in doubt.
fn timed_out(channel: &Channel) -> SendError {
    let message =
        "no answer before the channel's time for this run (broadcast.channel_timeout) ran out"
            .to_string();
    if channel.resend_is_idempotent() {
        SendError::Retry {
            after: None,
            message,
        }
    } else {
        SendError::InDoubt { message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let b = Backoff::default();
        for attempt in 0..10 {
            let full = (Duration::from_secs(1) * 2u32.pow(attempt)).min(Duration::from_secs(30));
            let d = b.delay(attempt, None);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert!(b.delay(u32::MAX, None) <= Duration::from_secs(30));
    }

    #[test]
    fn backoff_honours_after() {
        let b = Backoff::default();
        let d = b.delay(0, Some(Duration::from_secs(42)));
        assert!(d >= Duration::from_secs(42) && d <= Duration::from_millis(42_500));
        // A reset that has already passed falls back to the computed backoff.
        assert!(b.delay(0, Some(Duration::ZERO)) <= Duration::from_secs(1));
    }

    #[test]
    fn only_retry_errors_are_retried() {
        assert!(should_retry(&SendError::Retry {
            after: None,
            message: String::new()
        }));
        assert!(!should_retry(&SendError::Rejected {
            status: 401,
            message: String::new()
        }));
        assert!(!should_retry(&SendError::Duplicate {
            message: String::new()
        }));
        assert!(!should_retry(&SendError::InDoubt {
            message: String::new()
        }));
    }
}
