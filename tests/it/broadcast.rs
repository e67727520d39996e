//! `statuscast broadcast` end to end: the real binary against local X, Mastodon and Bluesky servers
//! that check what the real services check (OAuth 1.0a signatures, bearer tokens, idempotency keys,
//! AT Protocol records), over several runs at different `--now` moments.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::bluesky::{FakePds, HANDLE, PASSWORD, pds};
use crate::channels::x::{
    CONSUMER_KEY, CONSUMER_SECRET, OAuthChecked, TOKEN, TOKEN_SECRET, oauth_checked,
};
use crate::support::{Repo, Run};

pub(crate) const MASTODON_TOKEN: &str = "masto-SECRET-token-93jf";

// --- local services -----------------------------------------------------------------------

/// X API v2: verifies every signature, hands out increasing tweet ids, remembers bodies.
#[derive(Clone)]
pub(crate) struct FakeX {
    oauth: Arc<OAuthChecked>,
    pub(crate) tweets: Arc<Mutex<Vec<Value>>>,
    /// Answers for the next requests, before normal processing.
    pub(crate) queued: Arc<Mutex<VecDeque<ResponseTemplate>>>,
}

impl Respond for FakeX {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if let Err(why) = self.oauth.verify(req) {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"title": "Unauthorized", "detail": why, "status": 401}));
        }
        if let Some(r) = self.queued.lock().unwrap().pop_front() {
            return r;
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let mut tweets = self.tweets.lock().unwrap();
        if let Some(parent) = body
            .pointer("/reply/in_reply_to_tweet_id")
            .and_then(Value::as_str)
            && !tweets.iter().any(|t| t["id"] == parent)
        {
            return ResponseTemplate::new(400).set_body_json(
                json!({"title": "Invalid Request", "detail": "reply parent does not exist"}),
            );
        }
        let id = format!("{}", 1_900_000_000_000_000_000u64 + tweets.len() as u64);
        tweets.push(json!({"id": id, "body": body}));
        ResponseTemplate::new(201).set_body_json(json!({"data": {"id": id, "text": "…"}}))
    }
}

/// Mastodon: bearer token, statuses deduplicated by `Idempotency-Key` as the server does.
#[derive(Clone, Default)]
pub(crate) struct FakeMastodon {
    pub(crate) statuses: Arc<Mutex<Vec<Value>>>,
    by_key: Arc<Mutex<HashMap<String, usize>>>,
    pub(crate) queued: Arc<Mutex<VecDeque<ResponseTemplate>>>,
    pub(crate) requests: Arc<Mutex<Vec<Option<String>>>>,
}

impl Respond for FakeMastodon {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|h| h.to_str().ok());
        if auth != Some(&format!("Bearer {MASTODON_TOKEN}")) {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"error": "The access token is invalid"}));
        }
        let key = req
            .headers
            .get("idempotency-key")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        self.requests.lock().unwrap().push(key.clone());
        if let Some(r) = self.queued.lock().unwrap().pop_front() {
            return r;
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let mut statuses = self.statuses.lock().unwrap();
        let status_for =
            |i: usize, s: &Vec<Value>| ResponseTemplate::new(200).set_body_json(s[i].clone());
        if let Some(k) = &key
            && let Some(&i) = self.by_key.lock().unwrap().get(k)
        {
            return status_for(i, &statuses);
        }
        let text = body["status"].as_str().unwrap_or_default();
        if text.chars().count() > 500 {
            return ResponseTemplate::new(422).set_body_json(
                json!({"error": "Validation failed: Text character limit of 500 exceeded"}),
            );
        }
        if let Some(parent) = body["in_reply_to_id"].as_str()
            && !statuses.iter().any(|s| s["id"] == parent)
        {
            return ResponseTemplate::new(404).set_body_json(json!({"error": "Record not found"}));
        }
        let id = format!("{}", 110_000 + statuses.len());
        statuses.push(json!({
            "id": id, "url": format!("https://mastodon.example/@fernwerk/{id}"), "content": text,
            "in_reply_to_id": body["in_reply_to_id"], "language": body["language"], "visibility": body["visibility"],
        }));
        if let Some(k) = key {
            self.by_key.lock().unwrap().insert(k, statuses.len() - 1);
        }
        status_for(statuses.len() - 1, &statuses)
    }
}

pub(crate) struct Services {
    pub(crate) x: MockServer,
    pub(crate) fake_x: FakeX,
    pub(crate) mastodon: MockServer,
    pub(crate) fake_mastodon: FakeMastodon,
    pub(crate) bluesky: MockServer,
    pub(crate) pds: FakePds,
}

pub(crate) async fn services() -> Services {
    let x = MockServer::start().await;
    let fake_x = FakeX {
        oauth: Arc::new(oauth_checked(ResponseTemplate::new(500))),
        tweets: Arc::default(),
        queued: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(fake_x.clone())
        .mount(&x)
        .await;
    let mastodon = MockServer::start().await;
    let fake_mastodon = FakeMastodon::default();
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(fake_mastodon.clone())
        .mount(&mastodon)
        .await;
    let (bluesky, pds) = pds().await;
    Services {
        x,
        fake_x,
        mastodon,
        fake_mastodon,
        bluesky,
        pds,
    }
}

pub(crate) const ENV: &[(&str, &str)] = &[
    ("X_CONSUMER_KEY", CONSUMER_KEY),
    ("X_CONSUMER_SECRET", CONSUMER_SECRET),
    ("X_ACCESS_TOKEN", TOKEN),
    ("X_ACCESS_TOKEN_SECRET", TOKEN_SECRET),
    ("MASTODON_TOKEN", MASTODON_TOKEN),
    ("BLUESKY_HANDLE", HANDLE),
    ("BLUESKY_APP_PASSWORD", PASSWORD),
];

pub(crate) const SECRETS: &[&str] = &[CONSUMER_SECRET, TOKEN_SECRET, MASTODON_TOKEN, PASSWORD];

/// The English fixture with three channels pointing at the local services, and `extra` lines
/// added to the `broadcast:` section.
pub(crate) fn repo(s: &Services, extra: &str) -> Repo {
    let repo = Repo::fixture("english");
    // Only the incidents a test writes.
    std::fs::remove_dir_all(repo.path("incidents")).unwrap();
    std::fs::create_dir(repo.path("incidents")).unwrap();
    let yaml = repo.read("statuscast.yaml");
    repo.write(
        "statuscast.yaml",
        format!(
            "{yaml}\nbroadcast:\n  channel_timeout: 5s\n{extra}  channels:\n    - {{ id: x, type: x, api_base: \"{}\", consumer_key_env: X_CONSUMER_KEY, consumer_secret_env: X_CONSUMER_SECRET, access_token_env: X_ACCESS_TOKEN, access_token_secret_env: X_ACCESS_TOKEN_SECRET }}\n    - {{ id: mastodon, type: mastodon, instance: \"{}\", token_env: MASTODON_TOKEN }}\n    - {{ id: bluesky, type: bluesky, service: \"{}\", identifier_env: BLUESKY_HANDLE, password_env: BLUESKY_APP_PASSWORD }}\n",
            s.x.uri(),
            s.mastodon.uri(),
            s.bluesky.uri()
        ),
    );
    repo
}

/// Run the binary off the async runtime (the local services keep answering meanwhile).
pub(crate) async fn run(repo: &Repo, now: &str, args: &[&str]) -> Run {
    let mut all = vec!["--now", now];
    all.extend_from_slice(args);
    let cmd_args: Vec<String> = all.iter().map(|s| (*s).to_string()).collect();
    let mut cmd = repo.command(&[], ENV);
    cmd.args(&cmd_args);
    crate::support::output_without_secrets(cmd, SECRETS).await
}

pub(crate) fn ledger(repo: &Repo) -> Vec<Value> {
    let text = std::fs::read_to_string(repo.path(".statuscast/ledger.jsonl")).unwrap_or_default();
    for secret in SECRETS {
        assert!(!text.contains(secret), "a secret leaked into the ledger");
    }
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn last_state(repo: &Repo, key: &str) -> String {
    ledger(repo)
        .iter()
        .rev()
        .find(|e| e["key"] == key)
        .map(|e| e["state"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

pub(crate) const INCIDENT: &str = "incidents/2026-11-23-api-down.md";

pub(crate) fn write_incident(repo: &Repo) {
    // America/New_York: 05:00 EST = 10:00Z.
    repo.write(
        INCIDENT,
        "---\ntitle: API errors\ncomponents: [api]\nimpact: major\nauthor: dp\n---\n## 2026-11-23 04:50 investigating\nRequests to the **API** fail. See [our guide](https://www.acme.example/guide).\n\nSecond paragraph.\n\n## 2026-11-23 05:20 identified\nA bad deploy. Rolling back.\n\n## 2026-11-23 05:50 resolved\nFixed.\n",
    );
}

// --- tests --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_update_is_posted_once_and_threaded_across_runs() {
    let s = services().await;
    let repo = repo(&s, "");
    write_incident(&repo);

    let first = run(&repo, "2026-11-23T10:00:00Z", &["broadcast"]).await;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("mastodon: 1 sent, 0 failed"),
        "{}",
        first.stdout
    );
    let tweets = s.fake_x.tweets.lock().unwrap().clone();
    assert_eq!(tweets.len(), 1);
    let text = tweets[0]["body"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("[Outage] API errors: Requests to the API fail. See our guide."),
        "{text}"
    );
    assert!(
        text.ends_with("https://status.acme.example/incidents/2026-11-23-api-down/ ^DP"),
        "{text}"
    );
    assert!(
        tweets[0]["body"].get("reply").is_none(),
        "the first update is the root"
    );

    // Same moment again: nothing new anywhere.
    let again = run(&repo, "2026-11-23T10:00:00Z", &["broadcast"]).await;
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(s.fake_x.tweets.lock().unwrap().len(), 1);
    assert_eq!(s.fake_mastodon.statuses.lock().unwrap().len(), 1);
    assert_eq!(s.pds.state().puts.len(), 1);

    // Later runs post the next updates as replies to the previous post of the same thread.
    run(&repo, "2026-11-23T10:25:00Z", &["broadcast"]).await;
    run(&repo, "2026-11-23T10:55:00Z", &["broadcast"]).await;
    let tweets = s.fake_x.tweets.lock().unwrap().clone();
    assert_eq!(tweets.len(), 3);
    assert_eq!(
        tweets[1]["body"]["reply"]["in_reply_to_tweet_id"],
        tweets[0]["id"]
    );
    assert_eq!(
        tweets[2]["body"]["reply"]["in_reply_to_tweet_id"],
        tweets[1]["id"]
    );
    assert!(
        tweets[2]["body"]["text"]
            .as_str()
            .unwrap()
            .starts_with("[Resolved] API errors: Fixed.")
    );

    let statuses = s.fake_mastodon.statuses.lock().unwrap().clone();
    assert_eq!(statuses.len(), 3);
    assert_eq!(statuses[1]["in_reply_to_id"], statuses[0]["id"]);
    assert_eq!(statuses[2]["in_reply_to_id"], statuses[1]["id"]);
    assert_eq!(statuses[0]["language"], "en");

    let puts = s.pds.state().puts.clone();
    assert_eq!(puts.len(), 3);
    let uri = |i: usize| {
        format!(
            "at://did:plc:fernwerk7xq2/app.bsky.feed.post/{}",
            puts[i]["rkey"].as_str().unwrap()
        )
    };
    assert_eq!(puts[2]["record"]["reply"]["root"]["uri"], uri(0));
    assert_eq!(puts[2]["record"]["reply"]["parent"]["uri"], uri(1));
    let record = &puts[0]["record"];
    let text = record["text"].as_str().unwrap();
    let facet = &record["facets"][0];
    let (start, end) = (
        facet["index"]["byteStart"].as_u64().unwrap() as usize,
        facet["index"]["byteEnd"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        &text.as_bytes()[start..end],
        b"https://status.acme.example/incidents/2026-11-23-api-down/"
    );
    assert_eq!(
        s.pds.state().create_session_calls,
        1,
        "the session is cached between runs"
    );

    // The ledger holds a sending and a sent line per post, with remote ids, and no secret.
    let entries = ledger(&repo);
    assert_eq!(entries.iter().filter(|e| e["state"] == "sent").count(), 9);
    assert_eq!(
        entries.iter().filter(|e| e["state"] == "sending").count(),
        9
    );
    assert_eq!(last_state(&repo, "2026-11-23-api-down#0/x"), "sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_send_double_posts_nothing() {
    let s = services().await;
    let repo = repo(&s, "");
    write_incident(&repo);
    // Both services take their time to answer the first request; the run is killed meanwhile.
    s.fake_x
        .queued
        .lock()
        .unwrap()
        .push_back(ResponseTemplate::new(201).set_delay(Duration::from_secs(30)));
    s.fake_mastodon
        .queued
        .lock()
        .unwrap()
        .push_back(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)));

    let mut cmd = repo.command(
        &[
            "--now",
            "2026-11-23T10:00:00Z",
            "broadcast",
            "--channel",
            "x",
        ],
        ENV,
    );
    let mut child = cmd.spawn().unwrap();
    let mut cmd2 = repo.command(
        &[
            "--now",
            "2026-11-23T10:00:00Z",
            "broadcast",
            "--channel",
            "mastodon",
            "--wait",
        ],
        ENV,
    );
    // Wait until the X request is on the wire, then SIGKILL the run.
    for _ in 0..200 {
        if !s.x.received_requests().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child2 = cmd2.spawn().unwrap();
    for _ in 0..200 {
        if !s.fake_mastodon.requests.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    child2.kill().unwrap();
    child2.wait().unwrap();
    assert_eq!(last_state(&repo, "2026-11-23-api-down#0/x"), "sending");
    assert_eq!(
        last_state(&repo, "2026-11-23-api-down#0/mastodon"),
        "sending"
    );

    // The next run: Mastodon re-sends with the same Idempotency-Key (the server keeps one status),
    // Bluesky writes its record, X is in doubt and not re-sent.
    let next = run(&repo, "2026-11-23T10:02:00Z", &["broadcast"]).await;
    assert_eq!(next.code, 1, "in doubt is not success:\n{}", next.stdout);
    assert!(
        next.stdout.contains("x: 0 sent, 0 failed, 1 in doubt"),
        "{}",
        next.stdout
    );
    assert!(
        next.stdout
            .contains("statuscast ledger resolve 2026-11-23-api-down#0/x sent"),
        "{}",
        next.stdout
    );
    assert_eq!(
        s.x.received_requests().await.unwrap().len(),
        1,
        "X is never re-sent automatically"
    );
    let keys = s.fake_mastodon.requests.lock().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[0], keys[1],
        "the retry carries the same Idempotency-Key"
    );
    assert_eq!(last_state(&repo, "2026-11-23-api-down#0/mastodon"), "sent");
    assert_eq!(s.fake_mastodon.statuses.lock().unwrap().len(), 1);

    // plan says so; a person settles it; the thread goes on.
    let plan = run(&repo, "2026-11-23T10:03:00Z", &["plan"]).await;
    assert!(
        plan.stdout
            .contains("needs a person (failed or in doubt) (1)"),
        "{}",
        plan.stdout
    );
    let resolved = run(
        &repo,
        "2026-11-23T10:04:00Z",
        &["ledger", "resolve", "2026-11-23-api-down#0/x", "sent"],
    )
    .await;
    assert_eq!(resolved.code, 0, "{}", resolved.stderr);
    let later = run(&repo, "2026-11-23T10:25:00Z", &["broadcast"]).await;
    assert_eq!(later.code, 0, "{}", later.stdout);
    assert_eq!(s.x.received_requests().await.unwrap().len(), 2);
    let tweets = s.fake_x.tweets.lock().unwrap().clone();
    assert_eq!(
        tweets.len(),
        1,
        "the in-doubt tweet's id is unknown, so the follow-up starts the thread"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_errors_are_retried_and_a_dead_channel_does_not_stop_the_others() {
    let s = services().await;
    let repo = repo(&s, "");
    write_incident(&repo);
    // Mastodon: rate limited for a moment, then fine. X: down for good.
    let reset = (chrono::Utc::now() + chrono::TimeDelta::seconds(1)).to_rfc3339();
    s.fake_mastodon.queued.lock().unwrap().push_back(
        ResponseTemplate::new(429)
            .insert_header("X-RateLimit-Reset", reset.as_str())
            .set_body_json(json!({"error": "Too many requests"})),
    );
    for _ in 0..20 {
        s.fake_x.queued.lock().unwrap().push_back(
            ResponseTemplate::new(503).set_body_json(json!({"title": "Service Unavailable"})),
        );
    }
    // Bluesky: one server error, then fine.
    s.pds
        .state()
        .put_failures
        .push_back(ResponseTemplate::new(502));
    let started = std::time::Instant::now();
    let out = run(&repo, "2026-11-23T10:00:00Z", &["broadcast"]).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the dead channel is cut off by channel_timeout"
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("mastodon: 1 sent, 0 failed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("bluesky: 1 sent, 0 failed"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("x: 0 sent, 1 failed"), "{}", out.stdout);
    assert_eq!(last_state(&repo, "2026-11-23-api-down#0/x"), "retry");
    assert_eq!(s.fake_mastodon.statuses.lock().unwrap().len(), 1);

    // X is back: the next run sends what was left due, and nothing twice elsewhere.
    s.fake_x.queued.lock().unwrap().clear();
    let out = run(&repo, "2026-11-23T10:05:00Z", &["broadcast"]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(s.fake_x.tweets.lock().unwrap().len(), 1);
    assert_eq!(s.fake_mastodon.statuses.lock().unwrap().len(), 1);
    assert_eq!(s.pds.state().records.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_posts_fail_with_the_servers_message_until_resolved() {
    let s = services().await;
    let repo = repo(&s, "");
    write_incident(&repo);
    s.fake_mastodon.queued.lock().unwrap().push_back(
        ResponseTemplate::new(422)
            .set_body_json(json!({"error": "Validation failed: Text can't be blank"})),
    );
    let out = run(
        &repo,
        "2026-11-23T10:00:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("Validation failed: Text can't be blank"),
        "{}",
        out.stdout
    );
    assert_eq!(
        last_state(&repo, "2026-11-23-api-down#0/mastodon"),
        "failed"
    );
    // Not retried blindly; later posts of the thread wait behind it.
    let out = run(
        &repo,
        "2026-11-23T10:25:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(out.code, 1);
    assert_eq!(s.fake_mastodon.requests.lock().unwrap().len(), 1);
    let plan = run(&repo, "2026-11-23T10:25:00Z", &["plan"]).await;
    assert!(
        plan.stdout
            .contains("waits for the earlier post 2026-11-23-api-down#0/mastodon"),
        "{}",
        plan.stdout
    );
    // A person says: try again.
    run(
        &repo,
        "2026-11-23T10:26:00Z",
        &[
            "ledger",
            "resolve",
            "2026-11-23-api-down#0/mastodon",
            "retry",
        ],
    )
    .await;
    let out = run(
        &repo,
        "2026-11-23T10:27:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    let statuses = s.fake_mastodon.statuses.lock().unwrap().clone();
    assert_eq!(statuses.len(), 2, "root and the first reply");
    assert_eq!(statuses[1]["in_reply_to_id"], statuses[0]["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_updates_are_skipped_not_posted() {
    let s = services().await;
    let repo = repo(&s, "");
    write_incident(&repo);
    // Three hours after the incident: all updates are older than max_age (2h).
    let out = run(&repo, "2026-11-23T13:30:00Z", &["broadcast"]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(s.fake_x.tweets.lock().unwrap().is_empty());
    assert!(s.fake_mastodon.statuses.lock().unwrap().is_empty());
    assert_eq!(
        last_state(&repo, "2026-11-23-api-down#2/bluesky"),
        "skipped"
    );
    // 100 minutes after the last update only that one is young enough: it goes out as a new thread.
    let repo = crate::broadcast::repo(&s, "");
    write_incident(&repo);
    let out = run(
        &repo,
        "2026-11-23T12:30:00Z",
        &["broadcast", "--channel", "x"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    let tweets = s.fake_x.tweets.lock().unwrap().clone();
    assert_eq!(tweets.len(), 1);
    assert!(
        tweets[0]["body"]["text"]
            .as_str()
            .unwrap()
            .starts_with("[Resolved]")
    );
    assert_eq!(last_state(&repo, "2026-11-23-api-down#0/x"), "skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_and_plan_touch_nothing() {
    let s = services().await;
    let repo = repo(&s, "");
    write_incident(&repo);
    let out = run(&repo, "2026-11-23T10:00:00Z", &["broadcast", "--dry-run"]).await;
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("due now (3)"), "{}", out.stdout);
    assert!(out.stdout.contains("dry run: nothing was sent or recorded"));
    let plan = run(&repo, "2026-11-23T10:00:00Z", &["plan", "--horizon", "2h"]).await;
    assert!(
        plan.stdout.contains("coming within 2h (6)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("[Update] API errors: A bad deploy. Rolling back."),
        "{}",
        plan.stdout
    );
    assert!(s.x.received_requests().await.unwrap().is_empty());
    assert!(s.mastodon.received_requests().await.unwrap().is_empty());
    assert!(
        s.bluesky.received_requests().await.unwrap().is_empty(),
        "no login either"
    );
    assert!(
        !repo.path(".statuscast").exists(),
        "no ledger, no lock, no session written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_config_errors_and_output() {
    let s = services().await;
    let repo = repo(&s, "");
    let yaml = repo.read("statuscast.yaml").replace(
        "token_env: MASTODON_TOKEN",
        &format!("token_env: {MASTODON_TOKEN}"),
    );
    repo.write("statuscast.yaml", yaml);
    let out = run(&repo, "2026-11-23T10:00:00Z", &["check"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("token_env must name an environment variable, not hold a value"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: put the secret into an environment variable"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_credential_is_named_and_nothing_is_sent_there() {
    let s = services().await;
    let repo = repo(&s, "");
    write_incident(&repo);
    let mut cmd = repo.command(&["--now", "2026-11-23T10:00:00Z", "broadcast"], ENV);
    cmd.env_remove("MASTODON_TOKEN");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("MASTODON_TOKEN"), "{stdout}");
    assert!(s.mastodon.received_requests().await.unwrap().is_empty());
    assert_eq!(
        s.fake_x.tweets.lock().unwrap().len(),
        1,
        "other channels still post"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_hours_hold_maintenance_posts_but_not_the_start() {
    let s = services().await;
    let repo = repo(&s, "  service_hours: \"Mon-Fri 08:00-20:00\"\n");
    // Thursday 07:00–09:00 in New York (12:00Z–14:00Z).
    repo.write(
        "incidents/2026-11-26-db-upgrade.md",
        "---\ntitle: Database upgrade\ncomponents: [storage]\nimpact: minor\nscheduled: { start: 2026-11-26 07:00, end: 2026-11-26 09:00 }\n---\n",
    );
    let key = |k: &str| format!("2026-11-26-db-upgrade#{k}/mastodon");
    let texts = || -> Vec<String> {
        s.fake_mastodon
            .statuses
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["content"].as_str().unwrap().to_string())
            .collect()
    };
    // Tuesday 07:00 local: the announcement waits for 08:00.
    let out = run(
        &repo,
        "2026-11-24T12:00:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert!(
        out.stdout
            .contains("0 sent, 0 failed, 0 in doubt, 0 skipped, 1 waiting"),
        "{}",
        out.stdout
    );
    run(
        &repo,
        "2026-11-24T13:05:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(texts().len(), 1);
    assert!(
        texts()[0].starts_with(
            "[Planned maintenance] Database upgrade: November 26, 2026, 07:00 EST – 09:00 EST."
        ),
        "{:?}",
        texts()
    );
    // Wednesday 07:00 the 24h reminder is due, 08:00 it goes out.
    run(
        &repo,
        "2026-11-25T12:01:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(texts().len(), 1);
    run(
        &repo,
        "2026-11-25T13:01:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(texts().len(), 2);
    assert!(
        texts()[1].starts_with("[Reminder] Database upgrade: Starts in 1 day"),
        "{:?}",
        texts()
    );
    // Thursday 07:00: the 1h reminder (due 06:00, held until 08:00) is skipped; the start goes out at once.
    let out = run(
        &repo,
        "2026-11-26T12:00:30Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(last_state(&repo, &key("remind-1h")), "skipped");
    assert_eq!(last_state(&repo, &key("start")), "sent");
    assert_eq!(texts().len(), 3);
    assert!(
        texts()[2].starts_with("[Maintenance started]"),
        "{:?}",
        texts()
    );
    let statuses = s.fake_mastodon.statuses.lock().unwrap().clone();
    assert_eq!(
        statuses[2]["in_reply_to_id"], statuses[1]["id"],
        "one thread per maintenance"
    );
    // The end is posted at the end of the window.
    run(
        &repo,
        "2026-11-26T14:00:30Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert!(
        texts()[3].starts_with("[Maintenance completed]"),
        "{:?}",
        texts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_posts_fire_at_the_local_minute_across_dst() {
    let s = services().await;
    let repo = repo(
        &s,
        "  recurring:\n    - { name: tip, cron: \"0 9 * * 1\", text: \"Tip: rotate your API keys.\", channels: [mastodon] }\n",
    );
    let count = || s.fake_mastodon.statuses.lock().unwrap().len();
    // Monday 2026-10-26, 09:00 EDT = 13:00Z.
    run(&repo, "2026-10-26T12:59:00Z", &["broadcast"]).await;
    assert_eq!(count(), 0);
    let out = run(&repo, "2026-10-26T13:00:30Z", &["broadcast"]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(count(), 1);
    assert_eq!(
        last_state(&repo, "recurring/tip@2026-10-26T13:00:00Z/mastodon"),
        "sent"
    );
    run(&repo, "2026-10-26T13:30:00Z", &["broadcast"]).await;
    assert_eq!(count(), 1, "once per occurrence");
    // After the clocks went back (Nov 1), 09:00 EST = 14:00Z: nothing at 13:30Z.
    run(&repo, "2026-11-02T13:30:00Z", &["broadcast"]).await;
    assert_eq!(count(), 1);
    let plan = run(&repo, "2026-11-02T13:30:00Z", &["plan", "--horizon", "1h"]).await;
    assert!(
        plan.stdout
            .contains("2026-11-02 09:00 EST  recurring/tip@2026-11-02T14:00:00Z/mastodon"),
        "{}",
        plan.stdout
    );
    run(&repo, "2026-11-02T14:00:10Z", &["broadcast"]).await;
    assert_eq!(count(), 2);
    assert_eq!(
        s.fake_mastodon.statuses.lock().unwrap()[1]["content"],
        "Tip: rotate your API keys."
    );
    // A week of pause: the missed occurrence is older than max_age and not sent late.
    run(&repo, "2026-11-09T17:00:00Z", &["broadcast"]).await;
    assert_eq!(count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn still_working_reminder_after_silence_goes_into_the_thread() {
    let s = services().await;
    let repo = repo(&s, "  still_working_after: 90m\n");
    repo.write(
        INCIDENT,
        "---\ntitle: API errors\ncomponents: [api]\nimpact: major\n---\n## 2026-11-23 04:50 investigating\nRequests fail.\n",
    );
    run(
        &repo,
        "2026-11-23T10:00:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    run(
        &repo,
        "2026-11-23T11:00:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(
        s.fake_mastodon.statuses.lock().unwrap().len(),
        1,
        "not yet silent for 90 minutes"
    );
    run(
        &repo,
        "2026-11-23T11:21:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    let statuses = s.fake_mastodon.statuses.lock().unwrap().clone();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses[1]["content"]
            .as_str()
            .unwrap()
            .contains("We are still working on this"),
        "{statuses:?}"
    );
    assert_eq!(statuses[1]["in_reply_to_id"], statuses[0]["id"]);
    run(
        &repo,
        "2026-11-23T11:40:00Z",
        &["broadcast", "--channel", "mastodon"],
    )
    .await;
    assert_eq!(
        s.fake_mastodon.statuses.lock().unwrap().len(),
        2,
        "one reminder per silence"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_check_signs_in_without_posting() {
    let s = services().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "1", "username": "acme", "acct": "acme"})),
        )
        .mount(&s.mastodon)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"title": "Unauthorized", "detail": "Unauthorized", "status": 401}),
        ))
        .mount(&s.x)
        .await;
    let repo = repo(&s, "");
    let out = run(&repo, "2026-11-23T10:00:00Z", &["channels", "check"]).await;
    assert_eq!(out.code, 1, "X refuses the credentials:\n{}", out.stdout);
    assert!(
        out.stdout
            .contains("✓ mastodon (mastodon): signed in as @acme@127.0.0.1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("✓ bluesky (bluesky): signed in as"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("✗ x (x):"), "{}", out.stdout);
    assert!(
        s.fake_mastodon.statuses.lock().unwrap().is_empty()
            && s.fake_x.tweets.lock().unwrap().is_empty()
    );
    assert!(s.pds.state().puts.is_empty());
}

#[test]
fn the_demo_plan_shows_german_posts_that_fit() {
    let out = Repo::demo().run(&["plan"]).ok();
    assert!(
        out.stdout
            .contains("2026-11-23-mobilfunk-sms-hamburg#1/x  ["),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(
        "[Update] Mobilfunk und SMS im Raum Hamburg gestört: Wir haben die Ursache gefunden"
    ));
    assert!(out.stdout.contains(
        "https://status.fernwerk.example/incidents/2026-11-23-mobilfunk-sms-hamburg/ ^MK"
    ));
    // Every shown length is within its limit.
    for cap in out
        .stdout
        .lines()
        .filter_map(|l| l.trim_end().strip_suffix(']'))
        .filter_map(|l| l.rsplit_once('['))
    {
        let (len, max) = cap.1.split_once('/').unwrap();
        assert!(
            len.parse::<usize>().unwrap() <= max.parse::<usize>().unwrap(),
            "{cap:?}"
        );
    }
}
