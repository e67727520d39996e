//! The tool must never be the second outage: slow and dead channels are cut off, secrets stay
//! out of every output, hostile incident text stays text, output stays inside `public/`, and
//! a large history builds.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::broadcast::{ENV, SECRETS, ledger, repo, run, services, write_incident};
use crate::channels::bluesky::PASSWORD;
use crate::channels::x::{CONSUMER_SECRET, TOKEN_SECRET};
use crate::support::Repo;

// --- slow and dead channels ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_hangs_is_cut_off_at_channel_timeout() {
    let s = services().await;
    let repo = repo(&s, "");
    let yaml = repo
        .read("statuscast.yaml")
        .replace("channel_timeout: 5s", "channel_timeout: 2s");
    repo.write("statuscast.yaml", yaml);
    write_incident(&repo);
    // X answers after 30 s (its own request timeout); Mastodon never answers in time.
    s.fake_x
        .queued
        .lock()
        .unwrap()
        .push_back(ResponseTemplate::new(201).set_delay(Duration::from_secs(30)));
    s.fake_mastodon
        .queued
        .lock()
        .unwrap()
        .push_back(ResponseTemplate::new(200).set_delay(Duration::from_mins(10)));
    let started = Instant::now();
    let out = run(&repo, "2026-11-23T10:55:00Z", &["broadcast"]).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "channel_timeout is 2 s, the run took {took:?}:\n{}",
        out.stdout
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "no answer before the channel's time for this run (broadcast.channel_timeout) ran out"
        ),
        "{}",
        out.stdout
    );
    // X cannot re-send safely: in doubt, for a person. Mastodon retries on the next run.
    assert!(
        out.stdout.contains("x: 0 sent, 0 failed, 1 in doubt"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("mastodon: 0 sent, 1 failed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("bluesky: 3 sent, 0 failed"),
        "a slow channel does not hold the others: {}",
        out.stdout
    );
    let states: Vec<(String, String)> = ledger(&repo)
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_string(),
                e["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(states.contains(&("2026-11-23-api-down#0/x".into(), "in_doubt".into())));
    assert!(states.contains(&("2026-11-23-api-down#0/mastodon".into(), "retry".into())));

    // Mastodon is back: the next run sends with the same Idempotency-Key, nothing twice.
    let next = run(
        &repo,
        "2026-11-23T10:56:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(next.code, 0, "{}", next.stdout);
    assert_eq!(s.fake_mastodon.statuses.lock().unwrap().len(), 3);
}

// --- secrets ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_a_failing_run_its_ledger_plan_and_panics() {
    let s = services().await;
    let repo = repo(&s, "");
    write_incident(&repo);
    // Servers that quote the credentials back in their error messages.
    s.fake_x.queued.lock().unwrap().push_back(
        ResponseTemplate::new(400).set_body_json(json!({
            "title": "Invalid Request",
            "detail": format!("bad signature for consumer secret {CONSUMER_SECRET} and token secret {TOKEN_SECRET}"),
        })),
    );
    s.fake_mastodon
        .queued
        .lock()
        .unwrap()
        .push_back(ResponseTemplate::new(422).set_body_json(json!({
            "error": format!("Validation failed: token {} is not allowed", SECRETS[2]),
        })));
    s.pds
        .state()
        .put_failures
        .push_back(ResponseTemplate::new(400).set_body_json(json!({
            "error": "InvalidRequest",
            "message": format!("app password {PASSWORD} may not post"),
        })));
    let mut seen = String::new();
    // `run` asserts that no secret is in stdout or stderr.
    let out = run(&repo, "2026-11-23T10:00:00Z", &["broadcast"]).await;
    assert_eq!(out.code, 1, "every channel failed:\n{}", out.stdout);
    assert!(out.stdout.contains("Invalid Request"), "{}", out.stdout);
    assert!(
        out.stdout.contains("***"),
        "quoted secrets are masked: {}",
        out.stdout
    );
    seen.push_str(&out.stdout);
    seen.push_str(&out.stderr);
    for args in [
        &["plan", "--horizon", "24h"][..],
        &["broadcast", "--dry-run"],
        &["channels", "check"],
        &["check"],
    ] {
        let out = run(&repo, "2026-11-23T10:01:00Z", args).await;
        seen.push_str(&out.stdout);
        seen.push_str(&out.stderr);
    }
    // A panic prints the channel client's Debug form: secrets there print as ***.
    repo.write(
        "incidents/2026-11-23-second.md",
        "---\ntitle: Second\ncomponents: [api]\n---\n## 2026-11-23 05:29 investigating\nAgain.\n",
    );
    let mut cmd = repo.command(&["--now", "2026-11-23T10:30:00Z", "broadcast"], ENV);
    cmd.env("STATUSCAST_CRASH_AT", "panic")
        .env("RUST_BACKTRACE", "1");
    let panicked = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let panic_text = String::from_utf8_lossy(&panicked.stderr).into_owned();
    assert_eq!(panicked.status.code(), Some(101), "{panic_text}");
    assert!(
        panic_text.contains("crash test: a panic while sending"),
        "{panic_text}"
    );
    assert!(panic_text.contains("***"), "{panic_text}");
    seen.push_str(&panic_text);
    seen.push_str(&String::from_utf8_lossy(&panicked.stdout));
    seen.push_str(&std::fs::read_to_string(repo.path(".statuscast/ledger.jsonl")).unwrap());
    let session = s.pds.state().access.clone();
    for secret in SECRETS.iter().copied().chain([session.as_str()]) {
        assert!(!secret.is_empty());
        assert!(
            !seen.contains(secret),
            "a secret leaked: {secret:?} in\n{seen}"
        );
    }
}

// --- hostile content ----------------------------------------------------------------------

/// Every tag of an HTML or XML text: (name, attributes), lower-cased.
fn tags(html: &str) -> Vec<(String, String)> {
    let lower = html.to_lowercase();
    let mut out = Vec::new();
    let mut rest = lower.as_str();
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let inner = &rest[..end];
        if inner.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let name_end = inner
                .find(|c: char| c.is_whitespace() || c == '/')
                .unwrap_or(inner.len());
            out.push((inner[..name_end].to_string(), inner[name_end..].to_string()));
        }
        rest = &rest[end..];
    }
    out
}

/// The attributes of a tag's inside (after its name): (name, value).
fn attributes(mut rest: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return out;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_string();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, next) = if let Some(q @ ('"' | '\'')) = after.chars().next() {
                let body = &after[1..];
                let end = body.find(q).unwrap_or(body.len());
                (&body[..end], &body[(end + 1).min(body.len())..])
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            value = v.to_string();
            rest = next;
        }
        out.push((name, value));
    }
}

const HOSTILE_TITLE: &str =
    "<script>alert(1)</script>\"><img src=x onerror=alert(2)> {{ site.title }} {% raw %}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_is_inert_on_every_page_and_plain_in_posts() {
    let s = services().await;
    let repo = repo(&s, "");
    let yaml = repo
        .read("statuscast.yaml")
        .replace(
            "name: \"REST API\"",
            "name: \"<b onmouseover=alert(3)>API</b>\"",
        )
        .replace(
            "group: Integrations",
            "group: \"</style><script>alert(4)</script>\"",
        )
        .replace(
            "title: \"Acme Cloud Status\"",
            "title: \"Acme <iframe src=javascript:alert(5)>\"",
        );
    repo.write("statuscast.yaml", yaml);
    repo.write(
        "incidents/2026-11-23-hostile.md",
        format!(
            "---\ntitle: {}\ncomponents: [api, webhooks]\nimpact: major\n---\nSummary <svg onload=alert(6)>\n\n## 2026-11-23 04:50 investigating\n{}\n",
            serde_json::to_string(HOSTILE_TITLE).unwrap(),
            [
                "<style>body{display:none}</style> <div style=\"background:url(javascript:alert(7))\">x</div>",
                "[a](javascript:alert(8)) [b](JaVaScRiPt:alert(9)) [c](data:text/html;base64,PHNjcmlwdD4=)",
                "<a href=\"javascript:alert(10)\">d</a> <javascript:alert(11)> ![e](x\" onerror=\"alert(12))",
                "<iframe src=//evil.example></iframe> {{ config }} {% for x in [1] %}{{ x }}{% endfor %}",
            ]
            .join(" ")
        ),
    );
    repo.run(&["build"]).ok();
    let files = repo.snapshot("public");
    let mut checked = 0;
    for (path, bytes) in &files {
        let ext = path.rsplit('.').next().unwrap_or_default();
        if !["html", "svg", "atom", "rss", "xml"].contains(&ext) {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        for (name, attrs) in tags(&text) {
            assert!(
                !["script", "iframe", "style", "object", "embed"].contains(&name.as_str()),
                "{path}: a <{name}> tag got through"
            );
            for (attr, value) in attributes(&attrs) {
                assert!(
                    !attr.starts_with("on"),
                    "{path}: <{name}{attrs}> has an event handler {attr}"
                );
                let value = value.replace(['\t', '\n', ' '], "");
                for scheme in ["javascript:", "vbscript:", "data:text"] {
                    assert!(
                        !value.starts_with(scheme) && (attr != "style" || !value.contains(scheme)),
                        "{path}: <{name}{attrs}> links to {scheme}"
                    );
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 10, "{checked}");
    let page = repo.read("public/incidents/2026-11-23-hostile/index.html");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt; {{ site.title }} {% raw %}"),
        "the title is shown as text, Tera syntax included:\n{page}"
    );
    assert!(
        page.contains("{{ config }}"),
        "Tera syntax in the body stays text"
    );
    assert!(
        repo.read("public/index.html")
            .contains("&lt;b onmouseover=alert(3)&gt;API&lt;/b&gt;"),
        "component names are text"
    );

    // Posts carry the same characters as plain text: not escaped, not evaluated.
    let out = run(
        &repo,
        "2026-11-23T10:00:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    let statuses = s.fake_mastodon.statuses.lock().unwrap().clone();
    let text = statuses[0]["content"].as_str().unwrap();
    assert!(
        text.contains("<script>alert(1)</script>\"><img src=x onerror=alert(2)> {{ site.title }}"),
        "{text}"
    );
    assert!(!text.contains("&lt;"), "{text}");
}

// --- output paths -------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn theme_file_names_and_links_cannot_write_or_read_outside() {
    let repo = Repo::fixture("english");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "TOP-SECRET-4711").unwrap();
    let yaml = repo
        .read("statuscast.yaml")
        .replace("  language: en\n", "  language: en\n  theme: evil\n");
    repo.write("statuscast.yaml", yaml);
    repo.write("themes/evil/static/ok.css", "body{}");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        repo.path("themes/evil/static/leak.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path("themes/evil/static/dir")).unwrap();
    repo.run(&["build"]).ok();
    let files = repo.snapshot("public");
    assert!(files.contains_key("ok.css"));
    assert!(
        files
            .values()
            .all(|b| !String::from_utf8_lossy(b).contains("TOP-SECRET-4711")),
        "a linked file outside the theme was published"
    );

    // A file name that becomes `../../` on the way: refused, nothing lands outside.
    repo.write("themes/evil/static/x\\..\\..\\escaped.txt", "x");
    let before = repo.snapshot("public");
    let run = repo.run(&["build"]).fails();
    assert!(
        run.stderr
            .contains("it would land outside the output folder"),
        "{}",
        run.stderr
    );
    assert_eq!(before, repo.snapshot("public"));
    assert!(!repo.dir.path().join("escaped.txt").exists());
    assert!(
        !repo
            .dir
            .path()
            .parent()
            .unwrap()
            .join("escaped.txt")
            .exists()
    );

    // A theme name cannot climb out of themes/.
    let yaml = repo
        .read("statuscast.yaml")
        .replace("theme: evil", "theme: ../../etc");
    repo.write("statuscast.yaml", yaml);
    let run = repo.run(&["check"]).fails();
    assert!(
        run.stderr
            .contains("theme \"../../etc\" is not a folder name"),
        "{}",
        run.stderr
    );
}

// --- load ---------------------------------------------------------------------------------

/// 20 000 incidents with 100 000 updates in all, over five years.
fn large_history(repo: &Repo) {
    let start = chrono::NaiveDate::from_ymd_opt(2021, 11, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let components = ["api", "dashboard", "storage", "webhooks"];
    std::fs::remove_dir_all(repo.path("incidents")).unwrap();
    for i in 0..20_000usize {
        let at = start + chrono::TimeDelta::minutes(i as i64 * 131);
        let dir = repo.path(&format!("incidents/{}", at.format("%Y")));
        if i % 1000 == 0 || !dir.exists() {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let mut text = format!(
            "---\ntitle: \"Incident {i}: elevated errors\"\ncomponents: [{}]\nimpact: {}\n---\n",
            components[i % 4],
            ["minor", "major", "critical"][i % 3]
        );
        for (u, status) in [
            "investigating",
            "identified",
            "monitoring",
            "update",
            "resolved",
        ]
        .iter()
        .enumerate()
        {
            let t = at + chrono::TimeDelta::minutes(u as i64 * 20);
            let _ = write!(
                text,
                "## {} Z {status}\nUpdate {u} of incident {i}: we are on it.\n\n",
                t.format("%Y-%m-%d %H:%M")
            );
        }
        std::fs::write(
            dir.join(format!("{}-incident-{i}.md", at.format("%Y-%m-%d"))),
            text,
        )
        .unwrap();
    }
}

/// Slow with a debug binary: `.ci/run` runs it with the release binary,
/// `STATUSCAST_BIN=target/release/statuscast cargo test --test it -- --ignored load`.
#[test]
#[ignore = "slow with a debug binary; run with STATUSCAST_BIN=<release binary> (see .ci/run)"]
fn load_20000_incidents_with_100000_updates_build_and_plan() {
    let repo = Repo::fixture("english");
    large_history(&repo);
    let yaml = repo.read("statuscast.yaml");
    repo.write(
        "statuscast.yaml",
        format!("{yaml}broadcast:\n  channels:\n    - {{ id: mastodon, type: mastodon, instance: \"https://social.example\", token_env: MASTODON_TOKEN }}\n"),
    );
    let started = Instant::now();
    let build = repo.run(&["build"]).ok();
    let build_time = started.elapsed();
    assert!(
        build.stdout.contains("from 20000 incidents"),
        "{}",
        build.stdout
    );
    assert!(repo.path("public/history/page/800/index.html").exists());
    let started = Instant::now();
    let plan = repo.run(&["plan"]).ok();
    let plan_time = started.elapsed();
    assert!(plan.stdout.contains("plan at"), "{}", plan.stdout);
    eprintln!("load: build {build_time:?}, plan {plan_time:?}");
}
