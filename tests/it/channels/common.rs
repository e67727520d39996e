//! Shared helpers: environment, options, posts, a recording sleeper.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

// The one line to change when these tests move into the statuscast crate.
pub use statuscast::broadcast::channels as ch;

pub use ch::retry::{DEFAULT_BUDGET, Sleeper, send_with_retry};
pub use ch::{Channel, ChannelConfig, ClientOptions, ConfigError, Outgoing, Remote, SendError};

/// An environment made of fixed pairs (tests never touch the process environment).
pub fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

pub fn options(state_dir: &Path) -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        ..ClientOptions::new(state_dir)
    }
}

/// Parses one channel entry written in YAML, as in statuscast.yaml.
pub fn config(yaml: &str) -> ChannelConfig {
    serde_yaml::from_str(yaml).expect("valid channel config")
}

pub fn post<'a>(key: &'a str, text: &'a str) -> Outgoing<'a> {
    Outgoing {
        key,
        text,
        language: "de",
        reply_to: None,
        root: None,
        facets: Vec::new(),
        in_doubt: false,
        meta: None,
    }
}

/// Records every requested sleep and returns at once.
#[derive(Default)]
pub struct FakeSleeper {
    pub slept: Mutex<Vec<Duration>>,
}

impl FakeSleeper {
    pub fn slept(&self) -> Vec<Duration> {
        self.slept.lock().unwrap().clone()
    }
}

impl Sleeper for FakeSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.slept.lock().unwrap().push(duration);
        Box::pin(async {})
    }
}

pub fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Asserts `actual` lies within `expected ± tolerance`.
pub fn assert_about(actual: Duration, expected: Duration, tolerance: Duration) {
    assert!(
        actual + tolerance >= expected && actual <= expected + tolerance,
        "{actual:?} is not within {tolerance:?} of {expected:?}"
    );
}

pub fn retry_after(err: &SendError) -> Duration {
    match err {
        SendError::Retry {
            after: Some(after), ..
        } => *after,
        other => panic!("expected Retry with after, got {other:?}"),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}
