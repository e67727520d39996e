//! `statuscast daemon` as a process: runs on an every-second schedule against a local Mastodon,
//! survives broken files, and on SIGTERM finishes and records the post in flight, starts nothing
//! new, and exits 0.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::broadcast::{FakeMastodon, MASTODON_TOKEN};
use crate::support::Repo;

/// The fake Mastodon, with its first answer taking `delay`.
struct SlowFirst {
    inner: FakeMastodon,
    first: AtomicBool,
    delay: Duration,
}

impl Respond for SlowFirst {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let answer = self.inner.respond(req);
        if self.first.swap(false, Ordering::SeqCst) {
            answer.set_delay(self.delay)
        } else {
            answer
        }
    }
}

/// A running daemon whose stdout lines are collected as they come.
struct Daemon {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Daemon {
    fn start(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut child = repo
            .command(args, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            *sink.lock().unwrap() = s;
        });
        Daemon {
            child,
            lines,
            stderr,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn runs(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.contains(" run: "))
            .collect()
    }

    /// Wait (polling, bounded) until `ready` holds.
    fn wait_for(&self, what: &str, ready: impl Fn(&Daemon) -> bool) {
        let started = Instant::now();
        while !ready(self) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}; output so far: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit code, within a bounded time (the process is killed and the test fails otherwise).
    fn exit_code(&mut self) -> i32 {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(50));
                return status.code().unwrap_or(-1);
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("the daemon did not stop; output: {:#?}", self.lines());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The English fixture without its incidents, broadcasting to `mastodon` every second.
fn repo(mastodon: &str) -> Repo {
    let repo = Repo::fixture("english");
    std::fs::remove_dir_all(repo.path("incidents")).unwrap();
    std::fs::create_dir(repo.path("incidents")).unwrap();
    let yaml = repo.read("statuscast.yaml");
    repo.write(
        "statuscast.yaml",
        format!(
            "{yaml}\nbroadcast:\n  schedule: \"* * * * * *\"\n  channel_timeout: 5s\n  channels:\n    - {{ id: mastodon, type: mastodon, instance: \"{mastodon}\", token_env: MASTODON_TOKEN }}\n"
        ),
    );
    repo
}

fn incident(repo: &Repo, id: &str, title: &str) {
    // America/New_York: 04:50 EST = 09:50Z, due at the daemon's start (--now 10:00Z).
    repo.write(
        &format!("incidents/{id}.md"),
        format!("---\ntitle: {title}\ncomponents: [api]\nimpact: major\n---\n## 2026-11-23 04:50 investigating\n{title}: we are on it.\n"),
    );
}

fn ledger(repo: &Repo) -> Vec<Value> {
    std::fs::read_to_string(repo.path(".statuscast/ledger.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_send_finishes_and_records_the_post_then_stops() {
    let server = MockServer::start().await;
    let fake = FakeMastodon::default();
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(SlowFirst {
            inner: fake.clone(),
            first: AtomicBool::new(true),
            delay: Duration::from_secs(1),
        })
        .mount(&server)
        .await;
    let repo = repo(&server.uri());
    // Two posts are due; the channel sends them one after the other.
    incident(&repo, "2026-11-23-api-errors", "API errors");
    incident(&repo, "2026-11-23-api-latency", "API latency");

    // The local server answers on tokio's worker threads; this thread may block.
    let mut daemon = Daemon::start(
        &repo,
        &["--now", "2026-11-23T10:00:00Z", "daemon"],
        &[("MASTODON_TOKEN", MASTODON_TOKEN)],
    );
    daemon.wait_for("the first request to reach Mastodon", |_| {
        !fake.requests.lock().unwrap().is_empty()
    });
    daemon.terminate();
    let signalled_at = Instant::now();
    let code = daemon.exit_code();
    let lines = daemon.lines();
    let stderr = daemon.stderr.lock().unwrap().clone();
    assert_eq!(code, 0, "stdout: {lines:#?}\nstderr: {stderr}");
    // The process waited for the answer in flight (delayed by 1 s) instead of dying at once.
    let took = signalled_at.elapsed();
    assert!(
        took > Duration::from_millis(500) && took < Duration::from_secs(10),
        "{took:?}"
    );

    // Sent once, recorded with its remote id; the second post was not started.
    assert_eq!(fake.statuses.lock().unwrap().len(), 1);
    assert_eq!(fake.requests.lock().unwrap().len(), 1);
    let entries = ledger(&repo);
    let sent: Vec<&Value> = entries.iter().filter(|e| e["state"] == "sent").collect();
    assert_eq!(sent.len(), 1, "{entries:#?}");
    assert_eq!(sent[0]["remote"]["id"], "110000");
    let key = sent[0]["key"].as_str().unwrap();
    assert!(key.ends_with("#0/mastodon"), "{key}");
    assert_eq!(
        entries.len(),
        2,
        "only the sending and sent lines of the post in flight: {entries:#?}"
    );

    // One run, logged in one line, and no run after the signal.
    let runs: Vec<&String> = lines.iter().filter(|l| l.contains(" run: ")).collect();
    assert_eq!(runs.len(), 1, "{lines:#?}");
    assert!(
        runs[0].starts_with("2026-11-23T10:00:01Z run: built "),
        "{}",
        runs[0]
    );
    assert!(
        runs[0].ends_with("; mastodon 1 sent, 1 waiting"),
        "{}",
        runs[0]
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("daemon: stopped after 1 run")
    );
    assert!(repo.path("public/index.html").is_file());

    // The post left waiting goes out with the next run.
    let out = repo.run_env(
        &["--now", "2026-11-23T10:00:05Z", "broadcast"],
        &[("MASTODON_TOKEN", MASTODON_TOKEN)],
    );
    assert!(out.stdout.contains("mastodon: 1 sent"), "{}", out.stdout);
    assert_eq!(fake.statuses.lock().unwrap().len(), 2);
}

#[test]
fn a_broken_file_is_reported_once_and_the_daemon_keeps_running() {
    let repo = repo("http://127.0.0.1:9");
    repo.write(
        "incidents/2026-11-23-broken.md",
        "---\ntitle: Broken\ncomponents: [nope]\n---\n## 2026-11-23 04:50 investigating\nx\n",
    );
    let mut daemon = Daemon::start(&repo, &["--now", "2026-11-23T10:00:00Z", "daemon"], &[]);
    assert!(daemon.lines().is_empty() || daemon.lines()[0].starts_with("daemon: schedule"));
    daemon.wait_for("two runs", |d| d.runs().len() >= 2);
    // Fixed while it runs: the next run builds.
    repo.write(
        "incidents/2026-11-23-broken.md",
        "---\ntitle: Fixed\ncomponents: [api]\nbroadcast: false\n---\n## 2026-11-23 04:50 investigating\nx\n",
    );
    daemon.wait_for("a run that builds", |d| {
        d.runs().iter().any(|l| l.contains("run: built "))
    });
    daemon.terminate();
    assert_eq!(daemon.exit_code(), 0);
    let lines = daemon.lines();
    assert!(
        lines[0].starts_with("daemon: schedule \"* * * * * *\" (America/New_York)"),
        "{lines:#?}"
    );
    let runs = daemon.runs();
    assert!(
        runs[0].ends_with(
            "run: 1 problem (see above; reported again when they change); nothing built or sent"
        ),
        "{runs:#?}"
    );
    let stderr = daemon.stderr.lock().unwrap().clone();
    assert_eq!(
        stderr.matches("unknown component \"nope\"").count(),
        1,
        "reported once, not every second: {stderr}"
    );
    let last_run = runs.last().unwrap();
    assert!(last_run.contains("run: built "), "{last_run}");
    assert!(last_run.ends_with("; mastodon idle"), "{last_run}");
}

#[test]
fn sigterm_while_waiting_stops_at_once() {
    let repo = Repo::fixture("english");
    // Once a year: the daemon only waits.
    let yaml = repo.read("statuscast.yaml");
    repo.write(
        "statuscast.yaml",
        format!("{yaml}\nbroadcast:\n  schedule: \"0 0 1 1 *\"\n"),
    );
    let mut daemon = Daemon::start(&repo, &["--now", "2026-11-23T10:00:00Z", "daemon"], &[]);
    daemon.wait_for("the start line", |d| !d.lines().is_empty());
    assert!(
        daemon.lines()[0].contains("first run at 2027-01-01T05:00:00Z"),
        "{:?}",
        daemon.lines()
    );
    let started = Instant::now();
    daemon.terminate();
    assert_eq!(daemon.exit_code(), 0);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        daemon.lines().last().map(String::as_str),
        Some("daemon: stopped after 0 runs")
    );
}

#[test]
fn a_broken_config_stops_the_daemon_before_it_starts() {
    let repo = Repo::fixture("english");
    let yaml = repo.read("statuscast.yaml");
    repo.write(
        "statuscast.yaml",
        format!("{yaml}\nbroadcast:\n  schedule: \"61 * * * *\"\n"),
    );
    let out = repo.run(&["daemon"]).fails();
    assert!(out.stderr.contains("statuscast.yaml:"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}
