//! Discord: a local webhook endpoint that checks the token, `wait`, `allowed_mentions`, the
//! 2000-character limit and the forum rules (`thread_name` xor `thread_id`), answers with
//! Discord's JSON errors (codes 10003, 10015, 50027, 50035, 220001, 220003) and float
//! `retry_after`, and resolves mentions the way Discord would.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::common::*;
use crate::channels::slack::assert_clean;

pub(crate) const HOOK_ID: &str = "1180000000000000001";
pub(crate) const HOOK_TOKEN: &str = "dWebhookTOKEN-secret_abcdef123456";
const CHANNEL_ID: &str = "1170000000000000009";

#[derive(Default)]
pub(crate) struct Guild {
    /// Every saved message: `{id, channel_id, content, pings, thread_name}`.
    pub messages: Vec<Value>,
    /// Forum threads: thread id → name.
    pub threads: BTreeMap<String, String>,
    pub forum: bool,
    pub deleted: bool,
    pub queued: VecDeque<ResponseTemplate>,
    pub requests: usize,
    next: u64,
}

#[derive(Clone, Default)]
pub(crate) struct FakeDiscord(Arc<Mutex<Guild>>);

fn error(status: u16, code: u64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "message": message, "code": code }))
}

/// Who a message would ping, given its content and `allowed_mentions` (Discord's default without
/// `allowed_mentions` is to parse everything).
fn pings(content: &str, allowed: &Value) -> Vec<String> {
    let parse: Vec<&str> = match allowed.get("parse") {
        Some(p) => p
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect(),
        None if allowed.is_null() => vec!["everyone", "users", "roles"],
        None => Vec::new(),
    };
    let mut out = Vec::new();
    if parse.contains(&"everyone") {
        out.extend(
            ["@everyone", "@here"]
                .iter()
                .filter(|m| content.contains(*m))
                .map(|m| (*m).to_owned()),
        );
    }
    if parse.contains(&"roles") && content.contains("<@&") {
        out.push("role".into());
    }
    if parse.contains(&"users") && content.contains("<@") && !content.contains("<@&") {
        out.push("user".into());
    }
    out
}

impl FakeDiscord {
    pub(crate) fn state(&self) -> MutexGuard<'_, Guild> {
        self.0.lock().unwrap()
    }

    fn execute(s: &mut Guild, req: &Request) -> ResponseTemplate {
        let query: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, 50109, "The request body contains invalid JSON.");
        };
        let content = body["content"].as_str().unwrap_or_default();
        if content.is_empty() {
            return error(400, 50006, "Cannot send an empty message");
        }
        if content.chars().count() > 2000 {
            return ResponseTemplate::new(400).set_body_json(json!({
                "message": "Invalid Form Body", "code": 50035,
                "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}
            }));
        }
        let thread_name = body["thread_name"].as_str();
        let thread_id = query.get("thread_id");
        let channel_id = match (s.forum, thread_name, thread_id) {
            (true, None, None) => {
                return error(
                    400,
                    220_001,
                    "Webhooks posted to forum channels must have a thread_name or thread_id",
                );
            }
            (true, Some(_), Some(_)) => {
                return error(
                    400,
                    220_002,
                    "Webhooks posted to forum channels cannot have both a thread_name and thread_id",
                );
            }
            (false, Some(_), _) => {
                return error(
                    400,
                    220_003,
                    "Webhooks can only create threads in forum channels",
                );
            }
            (_, None, Some(t)) if !s.threads.contains_key(t) => {
                return error(404, 10003, "Unknown Channel");
            }
            (_, None, Some(t)) => t.clone(),
            (_, Some(name), None) => {
                if name.is_empty() || name.chars().count() > 100 {
                    return ResponseTemplate::new(400).set_body_json(json!({
                        "message": "Invalid Form Body", "code": 50035,
                        "errors": {"thread_name": {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}]}}
                    }));
                }
                String::new() // the new thread, named below
            }
            (false, None, None) => CHANNEL_ID.to_owned(),
        };
        s.next += 1;
        let id = format!("{}", 1_190_000_000_000_000_000u64 + s.next);
        // A forum thread's id is its starter message's id.
        let channel_id = if channel_id.is_empty() {
            s.threads
                .insert(id.clone(), thread_name.unwrap_or_default().to_owned());
            id.clone()
        } else {
            channel_id
        };
        let message = json!({
            "id": id, "channel_id": channel_id, "content": content, "type": 0,
            "webhook_id": HOOK_ID, "pings": pings(content, &body["allowed_mentions"]),
            "thread_name": thread_name,
        });
        s.messages.push(message.clone());
        if query.get("wait").map(String::as_str) == Some("true") {
            ResponseTemplate::new(200).set_body_json(message)
        } else {
            ResponseTemplate::new(204)
        }
    }
}

impl Respond for FakeDiscord {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state();
        s.requests += 1;
        let mut segments = req.url.path_segments().unwrap().skip(2);
        let (id, token) = (segments.next().unwrap_or(""), segments.next().unwrap_or(""));
        if id != HOOK_ID || s.deleted {
            return error(404, 10015, "Unknown Webhook");
        }
        if token != HOOK_TOKEN {
            return error(401, 50027, "Invalid Webhook Token");
        }
        if let Some(r) = s.queued.pop_front() {
            return r;
        }
        if req.method.as_str() == "GET" {
            return ResponseTemplate::new(200).set_body_json(json!({
                "id": HOOK_ID, "type": 1, "name": "Fernwerk Status", "channel_id": CHANNEL_ID,
                "guild_id": "1160000000000000000", "token": HOOK_TOKEN,
            }));
        }
        Self::execute(&mut s, req)
    }
}

pub(crate) async fn discord() -> (MockServer, FakeDiscord) {
    let server = MockServer::start().await;
    let fake = FakeDiscord::default();
    Mock::given(path_regex("^/api/webhooks/"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

pub(crate) fn hook_url(server: &MockServer, token: &str) -> String {
    format!("{}/api/webhooks/{HOOK_ID}/{token}", server.uri())
}

fn client_with(server: &MockServer, token: &str, forum: bool, timeout: Duration) -> Channel {
    let cfg = config(&format!(
        "type: discord\nwebhook_url_env: DISCORD_WEBHOOK_URL\nforum: {forum}\n"
    ));
    let opts = ClientOptions {
        timeout,
        ..options(&std::env::temp_dir())
    };
    let url = hook_url(server, token);
    Channel::from_config(&cfg, &env_of(&[("DISCORD_WEBHOOK_URL", &url)]), &opts).unwrap()
}

fn client(server: &MockServer, forum: bool) -> Channel {
    client_with(server, HOOK_TOKEN, forum, Duration::from_secs(5))
}

#[tokio::test]
async fn posts_with_wait_and_pings_nobody() {
    let (server, fake) = discord().await;
    let text =
        "@everyone <@&1234> Störung bei <@99>: Techniker unterwegs. https://status.example/i/1/";
    let remote = client(&server, false)
        .send(&post("a#0/discord", text))
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let s = fake.state();
    assert_eq!(remote.id, s.messages[0]["id"]);
    assert_eq!(
        s.messages[0]["content"], text,
        "the text goes out as written"
    );
    assert_eq!(s.messages[0]["pings"], json!([]), "nobody is pinged");
    drop(s);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    assert_eq!(requests[0].url.query(), Some("wait=true"));
    assert!(body.get("thread_name").is_none());
}

#[tokio::test]
async fn text_channels_have_no_threads() {
    let (server, fake) = discord().await;
    let c = client(&server, false);
    let root = c.send(&post("a#0/discord", "eins")).await.unwrap();
    let mut p = post("a#1/discord", "zwei");
    p.root = Some(&root);
    p.reply_to = Some(&root);
    p.thread_title = Some("API errors");
    c.send(&p).await.unwrap();
    let s = fake.state();
    assert_eq!(s.messages[1]["channel_id"], CHANNEL_ID);
    assert!(s.threads.is_empty());
}

#[tokio::test]
async fn a_forum_gets_one_thread_per_incident() {
    let (server, fake) = discord().await;
    fake.state().forum = true;
    let c = client(&server, true);
    let title = "Mobilfunkstörung im Raum Berlin ".repeat(5);
    let mut p = post("a#0/discord", "eins");
    p.thread_title = Some(&title);
    let root = c.send(&p).await.unwrap();
    let mut p = post("a#1/discord", "zwei");
    p.thread_title = Some(&title);
    p.root = Some(&root);
    p.reply_to = Some(&root);
    c.send(&p).await.unwrap();
    let mut other = post("b#0/discord", "anderes");
    other.thread_title = Some("Other incident");
    c.send(&other).await.unwrap();
    let s = fake.state();
    assert_eq!(s.threads.len(), 2);
    let name = &s.threads[&root.id];
    assert!(
        name.chars().count() <= 100 && name.starts_with("Mobilfunkstörung im Raum Berlin"),
        "{name}"
    );
    assert_eq!(
        s.messages[1]["channel_id"], root.id,
        "the update is in the incident's thread"
    );
    assert!(s.messages[1]["thread_name"].is_null());
    assert_ne!(s.messages[2]["channel_id"], root.id);
}

#[tokio::test]
async fn a_deleted_forum_thread_is_started_again() {
    let (server, fake) = discord().await;
    fake.state().forum = true;
    let c = client(&server, true);
    let gone = Remote {
        id: "1190000000000000777".into(),
        url: None,
        cid: None,
    };
    let mut p = post("a#1/discord", "zwei");
    p.thread_title = Some("API errors");
    p.root = Some(&gone);
    p.reply_to = Some(&gone);
    let remote = c.send(&p).await.unwrap();
    let s = fake.state();
    assert_eq!(s.requests, 2, "one refused, one new thread");
    assert_eq!(s.messages.len(), 1);
    assert_eq!(s.threads[&remote.id], "API errors");
}

#[tokio::test]
async fn forum_settings_that_do_not_match_the_channel_are_unusable() {
    let (server, fake) = discord().await;
    fake.state().forum = true;
    let err = client(&server, false)
        .send(&post("a#0/discord", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Unusable { message, .. } if message.contains("set `forum: true`")),
        "{err:?}"
    );
    fake.state().forum = false;
    let mut p = post("a#0/discord", "x");
    p.thread_title = Some("T");
    let err = client(&server, true).send(&p).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Unusable { message, .. } if message.contains("not a forum")),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limits_honour_the_float_retry_after() {
    let (server, fake) = discord().await;
    fake.state().queued.push_back(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "2")
            .insert_header("X-RateLimit-Scope", "shared")
            .set_body_json(json!({"message": "You are being rate limited.", "retry_after": 1.337, "global": false})),
    );
    let c = client(&server, false);
    let err = c.send(&post("a#0/discord", "x")).await.unwrap_err();
    assert_eq!(retry_after(&err), Duration::from_millis(1337));
    // The retry loop waits that long (plus jitter) and then sends.
    fake.state()
        .queued
        .push_back(ResponseTemplate::new(429).set_body_json(
            json!({"message": "You are being rate limited.", "retry_after": 0.25, "global": true}),
        ));
    let sleeper = FakeSleeper::default();
    send_with_retry(&c, &post("a#0/discord", "x"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap();
    let slept = sleeper.slept();
    assert_eq!(slept.len(), 1);
    assert_about(
        slept[0],
        Duration::from_millis(500),
        Duration::from_millis(260),
    );
}

#[tokio::test]
async fn a_deleted_webhook_is_unusable_and_its_token_never_shown() {
    let (server, fake) = discord().await;
    fake.state().deleted = true;
    let c = client(&server, false);
    let err = c.send(&post("a#0/discord", "x")).await.unwrap_err();
    let SendError::Unusable { status, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 404);
    assert!(
        message.contains("Unknown Webhook")
            && message.contains("deleted")
            && message.contains("DISCORD_WEBHOOK_URL"),
        "{message}"
    );
    assert_clean(&err, &[HOOK_TOKEN, &hook_url(&server, HOOK_TOKEN)]);
    assert!(!format!("{c:?}").contains(HOOK_TOKEN));
    // A wrong token: the same, with Discord's code.
    fake.state().deleted = false;
    let err = client_with(
        &server,
        "wrong-TOKEN-000000000",
        false,
        Duration::from_secs(5),
    )
    .send(&post("a#0/discord", "x"))
    .await
    .unwrap_err();
    assert!(
        matches!(&err, SendError::Unusable { status: 401, message } if message.contains("50027")),
        "{err:?}"
    );
    assert_clean(&err, &["wrong-TOKEN-000000000"]);
}

#[tokio::test]
async fn over_long_content_is_rejected_with_discords_field_error() {
    let (server, _fake) = discord().await;
    let err = client(&server, false)
        .send(&post("a#0/discord", &"ä".repeat(2001)))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Rejected {
            status: 400,
            message: "Invalid Form Body: content: Must be 2000 or fewer in length. (code 50035)"
                .into()
        }
    );
    // 2000 characters of two bytes each are fine: Discord counts characters.
    client(&server, false)
        .send(&post("a#0/discord", &"ä".repeat(2000)))
        .await
        .unwrap();
}

#[tokio::test]
async fn check_reads_the_webhook_without_posting() {
    let (server, fake) = discord().await;
    let c = client(&server, false);
    let shown = c.check().await.unwrap();
    assert_eq!(
        shown,
        format!("webhook \"Fernwerk Status\" posts to channel {CHANNEL_ID}")
    );
    assert!(fake.state().messages.is_empty());
}

#[tokio::test]
async fn timeout_is_in_doubt() {
    let (server, fake) = discord().await;
    fake.state()
        .queued
        .push_back(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)));
    let c = client_with(&server, HOOK_TOKEN, false, Duration::from_millis(200));
    let err = c.send(&post("a#0/discord", "x")).await.unwrap_err();
    assert!(matches!(err, SendError::InDoubt { .. }), "{err:?}");
    assert_clean(&err, &[HOOK_TOKEN]);
}
