//! Fan-out: one update to 8 channels that each take 300 ms to answer goes to all of them at once,
//! so the run takes about 300 ms, not 8 × 300 ms. The test asserts the overlap (every request had
//! arrived before the first answer went out), not a wall-clock limit; `bench/run.sh` reports the time.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{NOW, Repo};

const CHANNELS: usize = 8;
const DELAY: Duration = Duration::from_millis(300);

/// Notes when each request arrived, then answers like Mastodon after `DELAY`.
struct Slow(Arc<Mutex<Vec<Instant>>>);

impl Respond for Slow {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(Instant::now());
        ResponseTemplate::new(200)
            .set_body_json(json!({ "id": "1", "url": "https://social.example/@x/1" }))
            .set_delay(DELAY)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_sends_one_update_to_every_channel_at_once() {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let mut servers = Vec::new();
    for _ in 0..CHANNELS {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v1/statuses"))
            .respond_with(Slow(arrivals.clone()))
            .mount(&server)
            .await;
        servers.push(server);
    }
    let mut channels = String::new();
    for (n, s) in servers.iter().enumerate() {
        writeln!(
            channels,
            "    - {{ id: m{n}, type: mastodon, instance: \"{}\", token_env: MASTODON_TOKEN }}",
            s.uri()
        )
        .unwrap();
    }
    let repo = Repo::fixture("english");
    let config = repo.read("statuscast.yaml");
    let config = config.split("\nbroadcast:").next().unwrap().to_string();
    repo.write(
        "statuscast.yaml",
        format!("{config}\nbroadcast:\n  channels:\n{channels}"),
    );
    // Only one incident: one post per channel.
    for entry in std::fs::read_dir(repo.path("incidents")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    repo.write(
        "incidents/2026-11-23-api.md",
        "---\ntitle: API errors\ncomponents: [api]\nimpact: major\n---\n## 2026-11-23 09:50 UTC investigating\nWe are looking into it.\n",
    );
    let mut cmd = repo.command(
        &["--now", NOW, "broadcast"],
        &[("MASTODON_TOKEN", "token-for-the-fan-out-test")],
    );
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("1 sent").count(), CHANNELS, "{stdout}");
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), CHANNELS);
    let first = *arrivals.iter().min().unwrap();
    let last = *arrivals.iter().max().unwrap();
    assert!(
        last - first < DELAY,
        "every request must arrive before the first answer: they came over {:?}",
        last - first
    );
    println!(
        "fan-out: {CHANNELS} channels × {} ms each in {:.2} s (requests spread over {} ms)",
        DELAY.as_millis(),
        took.as_secs_f64(),
        (last - first).as_millis()
    );
}
