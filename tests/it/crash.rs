//! Crash safety: runs killed with SIGKILL at chosen points (`STATUSCAST_CRASH_AT`, read by debug
//! builds only, see `src/faults.rs`), then run again. Broadcast: nothing is posted twice where the
//! channel has idempotency, every post that may have gone out on X is reported, the ledger stays
//! readable and keeps every complete line. Build: the previous `public/` stays whole, and the next
//! build removes what the killed one left behind.

use std::collections::BTreeSet;
use std::process::Output;

use serde_json::Value;
use statuscast::broadcast::ledger::{Ledger, State};

use crate::broadcast::{ENV, Services, ledger, repo, run, services, write_incident};
use crate::support::Repo;

/// All three updates of the test incident are due at this moment.
const NOW: &str = "2026-11-23T10:55:00Z";
const KEYS: [&str; 3] = [
    "2026-11-23-api-down#0",
    "2026-11-23-api-down#1",
    "2026-11-23-api-down#2",
];

async fn output(mut cmd: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[cfg(unix)]
fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    out.status.signal() == Some(9)
}

/// The texts a channel's server holds, one per post it published.
fn published(s: &Services, channel: &str) -> Vec<String> {
    match channel {
        "x" => s
            .fake_x
            .tweets
            .lock()
            .unwrap()
            .iter()
            .map(|t| t["body"]["text"].as_str().unwrap().to_string())
            .collect(),
        "mastodon" => s
            .fake_mastodon
            .statuses
            .lock()
            .unwrap()
            .iter()
            .map(|t| t["content"].as_str().unwrap().to_string())
            .collect(),
        _ => s
            .pds
            .state()
            .records
            .values()
            .map(|(r, _)| r["text"].as_str().unwrap().to_string())
            .collect(),
    }
}

/// Complete lines of the ledger file (a cut-off last line is not a recorded fact).
fn complete_lines(repo: &Repo) -> Vec<String> {
    let text = std::fs::read_to_string(repo.path(".statuscast/ledger.jsonl")).unwrap_or_default();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if lines.last().is_some_and(|l| !l.ends_with('\n')) {
        lines.pop();
    }
    lines
}

/// Kill a run of one channel at `point`, run again, and check every promise.
async fn crash_and_rerun(channel: &str, point: &str) {
    let s = services().await;
    let repo = repo(&s, "");
    write_incident(&repo);
    let args = ["--now", NOW, "broadcast", "--channel", channel];
    let mut cmd = repo.command(&args, ENV);
    cmd.env("STATUSCAST_CRASH_AT", point);
    let first = output(cmd).await;
    let what = format!("{channel} killed at {point}");
    assert!(
        killed(&first),
        "{what}: the run was not killed: {:?}\n{}",
        first.status,
        String::from_utf8_lossy(&first.stdout)
    );
    let before = complete_lines(&repo);
    let before_posts = published(&s, channel);
    // What the ledger says after the crash: `sending` without a result is in doubt.
    let after_crash = Ledger::open(&repo.path(".statuscast/ledger.jsonl"), false)
        .unwrap_or_else(|e| panic!("{what}: the ledger is unreadable: {e}"));
    let in_doubt: Vec<String> = KEYS
        .iter()
        .map(|k| format!("{k}/{channel}"))
        .filter(|k| {
            after_crash
                .get(k)
                .is_some_and(|p| p.state == State::Sending)
        })
        .collect();

    let second = run(&repo, NOW, &["broadcast", "--channel", channel]).await;
    let after = complete_lines(&repo);
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "{what}: recorded lines were lost or changed"
    );
    let entries = ledger(&repo); // every line parses, no secret in it
    assert!(entries.len() >= before.len());
    let posts = published(&s, channel);
    let distinct: BTreeSet<&String> = posts.iter().collect();
    assert_eq!(
        distinct.len(),
        posts.len(),
        "{what}: a post was published twice: {posts:#?}"
    );
    assert!(
        posts.len() <= 3 && posts.len() >= before_posts.len(),
        "{what}: {posts:#?}"
    );
    let state = |k: &str| {
        entries
            .iter()
            .rev()
            .find(|e| e["key"] == format!("{k}/{channel}"))
            .map(|e| e["state"].as_str().unwrap().to_string())
    };
    if channel == "x" {
        // X has no idempotency: what may have gone out is never re-sent, but reported.
        let requests = s.x.received_requests().await.unwrap();
        let texts: Vec<Value> = requests
            .iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["text"].clone())
            .collect();
        let distinct: BTreeSet<String> = texts.iter().map(ToString::to_string).collect();
        assert_eq!(
            distinct.len(),
            texts.len(),
            "{what}: X got the same post twice"
        );
        for k in &in_doubt {
            assert_eq!(second.code, 1, "{what}: in doubt is not success");
            assert!(
                second
                    .stdout
                    .contains(&format!("statuscast ledger resolve {k} sent")),
                "{what}: {k} is in doubt but not reported:\n{}",
                second.stdout
            );
        }
        if in_doubt.is_empty() {
            assert_eq!(second.code, 0, "{what}:\n{}", second.stdout);
            assert_eq!(posts.len(), 3, "{what}");
        }
    } else {
        // Mastodon (Idempotency-Key) and Bluesky (same record key): everything ends up sent once.
        assert_eq!(
            second.code, 0,
            "{what}:\n{}{}",
            second.stdout, second.stderr
        );
        assert_eq!(posts.len(), 3, "{what}: {posts:#?}");
        for k in KEYS {
            assert_eq!(state(k).as_deref(), Some("sent"), "{what}: {k}");
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_killed_at_any_point_posts_nothing_twice_and_loses_nothing() {
    // Three posts on one channel: lines 1, 3, 5 of the ledger are `sending`, 2, 4, 6 the results.
    let points = [
        "before-send:1",
        "before-send:3",
        "after-send:1",
        "after-send:2",
        "ledger-write:1",
        "ledger-write:2",
        "ledger-write:3",
        "ledger-write:4",
        "ledger-write:6",
    ];
    for channel in ["x", "mastodon", "bluesky"] {
        let runs = points.iter().map(|p| crash_and_rerun(channel, p));
        futures_util::future::join_all(runs).await;
    }
}

#[cfg(unix)]
#[test]
fn build_killed_mid_write_leaves_the_previous_site_whole() {
    let repo = Repo::fixture("english");
    repo.run(&["build"]).ok();
    let before = repo.snapshot("public");
    repo.write(
        "incidents/2026-11-22-new.md",
        "---\ntitle: New incident\ncomponents: [api]\n---\n## 2026-11-22 08:00 investigating\nx\n",
    );
    for point in ["build-write:1", "build-write:20"] {
        let out = repo
            .command(&["--now", crate::support::NOW, "build"], &[])
            .env("STATUSCAST_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(killed(&out), "{point}: {:?}", out.status);
        assert_eq!(before, repo.snapshot("public"), "{point}: public/ changed");
        // It was killed halfway: the spare folder it was filling holds part of the new site.
        let spare: usize = spares(&repo).iter().map(|s| repo.snapshot(s).len()).sum();
        assert!(spare > 0, "{point}: nothing was written before the kill");
    }
    // Killed after the swap: the new site is whole, the old one waits to be removed.
    let out = repo
        .command(&["--now", crate::support::NOW, "build"], &[])
        .env("STATUSCAST_CRASH_AT", "build-swap")
        .output()
        .unwrap();
    assert!(killed(&out), "{:?}", out.status);
    assert!(
        repo.path("public/incidents/2026-11-22-new/index.html")
            .exists()
    );
    // The next build cleans up after the killed ones, and its output is a fresh build's.
    repo.run(&["build"]).ok();
    assert_eq!(leftovers(&repo), Vec::<String>::new());
    assert!(
        repo.read("public/index.html").contains("New incident"),
        "the new build is in place"
    );
    repo.run(&["build", "--out", "fresh"]).ok();
    assert_eq!(repo.snapshot("public"), repo.snapshot("fresh"));
}

/// The spare output folders in the repository's cache (relative paths).
fn spares(repo: &Repo) -> Vec<String> {
    std::fs::read_dir(repo.path(".statuscast/cache"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("site-"))
        .map(|n| format!(".statuscast/cache/{n}/spare"))
        .collect()
}

fn leftovers(repo: &Repo) -> Vec<String> {
    std::fs::read_dir(repo.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".public"))
        .collect()
}
