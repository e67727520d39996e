//! Slack: a local Web API (`chat.postMessage`, `auth.test`) and incoming webhook that check the
//! bearer token, the channel, the JSON shape and Slack's length limits, answer errors the way
//! Slack does (HTTP 200 with `ok: false`; webhooks with plain-text codes), and render mrkdwn the
//! way Slack would: an unescaped `<…>` becomes a link or a mention.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::common::*;

pub(crate) const BOT_TOKEN: &str = "xoxb-1111-2222-SLACKSECRET";
pub(crate) const CHANNEL: &str = "C0FERNWERK";
pub(crate) const HOOK_PATH: &str = "/services/T0FERN/B0HOOK/HOOKSECRET42xyz";

/// What the fake workspace holds.
#[derive(Default)]
pub(crate) struct Workspace {
    /// Posted messages: `{ts, thread_ts, text, blocks, rendered, special, reply_broadcast}`.
    pub messages: Vec<Value>,
    /// Webhook posts: the payloads.
    pub hook_posts: Vec<Value>,
    /// Answers for the next `chat.postMessage` / webhook requests, before normal processing.
    pub queued: VecDeque<ResponseTemplate>,
    pub hook_removed: bool,
    /// Charset warnings Slack would have added to the answer.
    pub warnings: Vec<String>,
}

#[derive(Clone, Default)]
pub(crate) struct FakeSlack(Arc<Mutex<Workspace>>);

fn api_error(error: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "ok": false, "error": error }))
}

/// Slack decodes `&amp;`, `&lt;`, `&gt;`; a raw `<…>` is control syntax: a link, `<!channel>`,
/// `<@U…>`. Returns the displayed text and the control sequences found.
pub(crate) fn render_mrkdwn(text: &str) -> (String, Vec<String>) {
    let mut special = Vec::new();
    let mut shown = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        shown.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            // A raw '<' Slack cannot pair: its docs ask for every '<' to be escaped.
            special.push("unescaped <".to_owned());
            shown.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + end];
        special.push(inner.to_owned());
        shown.push_str(inner.split('|').next_back().unwrap_or(inner));
        rest = &rest[start + end + 1..];
    }
    shown.push_str(rest);
    let shown = shown
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    (shown, special)
}

impl FakeSlack {
    pub(crate) fn state(&self) -> MutexGuard<'_, Workspace> {
        self.0.lock().unwrap()
    }

    fn note_charset(s: &mut Workspace, req: &Request) {
        let ct = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            s.warnings.push(format!("invalid_post_type: {ct}"));
        } else if !ct.contains("charset=utf-8") {
            s.warnings.push("missing_charset".into());
        }
    }

    /// Checks what Slack checks of a message body (text, blocks, limits); `Err` is Slack's answer
    /// (HTTP 200, `ok: false`).
    fn check_message(body: &Value) -> Result<(), Value> {
        let text = body["text"].as_str().unwrap_or_default();
        let blocks = body["blocks"].as_array();
        if text.is_empty() && blocks.is_none_or(Vec::is_empty) {
            return Err(json!({ "ok": false, "error": "no_text" }));
        }
        if text.chars().count() > 40_000 {
            return Err(json!({ "ok": false, "error": "msg_too_long" }));
        }
        for (i, b) in blocks.into_iter().flatten().enumerate() {
            let t = b.pointer("/text/text").and_then(Value::as_str);
            let ok = b["type"] == "section"
                && matches!(
                    b.pointer("/text/type").and_then(Value::as_str),
                    Some("mrkdwn" | "plain_text")
                )
                && t.is_some_and(|t| !t.is_empty() && t.chars().count() <= 3000);
            if !ok {
                return Err(json!({
                    "ok": false, "error": "invalid_blocks",
                    "errors": [format!("must be less than 3001 characters [json-pointer:/blocks/{i}/text/text]")]
                }));
            }
        }
        if blocks.is_some_and(|b| b.len() > 50) {
            return Err(json!({ "ok": false, "error": "invalid_blocks" }));
        }
        Ok(())
    }

    fn post_message(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state();
        Self::note_charset(&mut s, req);
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        match auth {
            None => return api_error("not_authed"),
            Some(a) if a != format!("Bearer {BOT_TOKEN}") => return api_error("invalid_auth"),
            _ => {}
        }
        if let Some(r) = s.queued.pop_front() {
            return r;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return api_error("invalid_json");
        };
        if body["channel"] != CHANNEL {
            return api_error("channel_not_found");
        }
        if let Err(answer) = Self::check_message(&body) {
            return ResponseTemplate::new(200).set_body_json(answer);
        }
        if let Some(parent) = body["thread_ts"].as_str()
            && !s.messages.iter().any(|m| m["ts"] == parent)
        {
            return api_error("thread_not_found");
        }
        let ts = format!("1764000000.{:06}", 100 + s.messages.len());
        let text = body["text"].as_str().unwrap_or_default();
        let section: Vec<&str> = body["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b.pointer("/text/text").and_then(Value::as_str))
            .collect();
        let (rendered, mut special) = render_mrkdwn(&section.join(" "));
        special.extend(render_mrkdwn(text).1);
        s.messages.push(json!({
            "ts": ts, "thread_ts": body["thread_ts"], "text": text, "blocks": body["blocks"],
            "rendered": rendered, "special": special, "reply_broadcast": body["reply_broadcast"],
        }));
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "channel": CHANNEL, "ts": ts,
            "message": { "type": "message", "subtype": "bot_message", "text": text, "ts": ts },
        }))
    }

    fn auth_test(req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {BOT_TOKEN}")) {
            return api_error("invalid_auth");
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "url": "https://fernwerk.slack.com/", "team": "Fernwerk",
            "user": "statusbot", "team_id": "T0FERN", "user_id": "U0BOT", "bot_id": "B0BOT",
        }))
    }

    fn webhook(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state();
        let text = |code: &str, status: u16| ResponseTemplate::new(status).set_body_string(code);
        if req.url.path() != HOOK_PATH || s.hook_removed {
            return text("no_service", 404);
        }
        Self::note_charset(&mut s, req);
        if let Some(r) = s.queued.pop_front() {
            return r;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return text("invalid_payload", 400);
        };
        if body.get("text").is_none() && body.get("blocks").is_none() {
            return text("no_text", 400);
        }
        if Self::check_message(&body).is_err() {
            return text("invalid_blocks", 400);
        }
        s.hook_posts.push(body);
        text("ok", 200)
    }
}

impl Respond for FakeSlack {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match req.url.path() {
            "/api/chat.postMessage" => self.post_message(req),
            "/api/auth.test" => Self::auth_test(req),
            p if p.starts_with("/services/") => self.webhook(req),
            _ => ResponseTemplate::new(404),
        }
    }
}

pub(crate) async fn slack() -> (MockServer, FakeSlack) {
    let server = MockServer::start().await;
    let fake = FakeSlack::default();
    Mock::given(method("POST"))
        .and(path_regex("^/(api|services)/"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

fn bot_with(server: &MockServer, token: &str, extra: &str, timeout: Duration) -> Channel {
    let cfg = config(&format!(
        "type: slack\napi_base: {}\ntoken_env: SLACK_BOT_TOKEN\nchannel: {CHANNEL}\n{extra}",
        server.uri()
    ));
    let opts = ClientOptions {
        timeout,
        ..options(&std::env::temp_dir())
    };
    Channel::from_config(&cfg, &env_of(&[("SLACK_BOT_TOKEN", token)]), &opts).unwrap()
}

fn bot(server: &MockServer) -> Channel {
    bot_with(server, BOT_TOKEN, "", Duration::from_secs(5))
}

fn hook_url(server: &MockServer) -> String {
    format!("{}{HOOK_PATH}", server.uri())
}

fn hook(server: &MockServer) -> Channel {
    let cfg = config("type: slack\nwebhook_url_env: SLACK_WEBHOOK_URL\n");
    let url = hook_url(server);
    Channel::from_config(
        &cfg,
        &env_of(&[("SLACK_WEBHOOK_URL", &url)]),
        &options(&std::env::temp_dir()),
    )
    .unwrap()
}

/// Neither the error's text nor its Debug form contain any of `secrets`.
#[track_caller]
pub(crate) fn assert_clean(err: &SendError, secrets: &[&str]) {
    let shown = format!("{err} {err:?}");
    for s in secrets {
        assert!(!shown.contains(s), "{s} leaked into {shown}");
    }
}

const TEXT: &str = "[Störung] Mobilfunk <Berlin> & Umland: Techniker sind unterwegs. <!channel> https://status.fernwerk.example/incidents/2026-11-20-mobilfunk/";

#[tokio::test]
async fn bot_posts_escaped_blocks_with_a_plain_text_fallback() {
    let (server, fake) = slack().await;
    let remote = bot(&server).send(&post("inc#0/slack", TEXT)).await.unwrap();
    assert_eq!(remote.id, "1764000000.000100");
    let s = fake.state();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let m = &s.messages[0];
    // Shown exactly as written, and nothing in the incident text became a mention or link.
    assert_eq!(m["rendered"], TEXT);
    assert_eq!(m["special"], json!([]));
    assert_eq!(render_mrkdwn(m["text"].as_str().unwrap()).0, TEXT);
    assert_eq!(m["blocks"][0]["type"], "section");
    assert_eq!(m["blocks"][0]["text"]["type"], "mrkdwn");
    assert!(m["thread_ts"].is_null());
}

#[tokio::test]
async fn replies_go_to_the_threads_first_message() {
    let (server, fake) = slack().await;
    let c = bot_with(
        &server,
        BOT_TOKEN,
        "reply_broadcast: true\n",
        Duration::from_secs(5),
    );
    let root = c.send(&post("inc#0/slack", "eins")).await.unwrap();
    let second = {
        let mut p = post("inc#1/slack", "zwei");
        p.root = Some(&root);
        p.reply_to = Some(&root);
        c.send(&p).await.unwrap()
    };
    let mut p = post("inc#2/slack", "drei");
    p.root = Some(&root);
    p.reply_to = Some(&second);
    c.send(&p).await.unwrap();
    let s = fake.state();
    assert_eq!(s.messages[1]["thread_ts"], root.id);
    assert_eq!(
        s.messages[2]["thread_ts"], root.id,
        "never a reply's ts (Slack threads only under the parent)"
    );
    assert_eq!(s.messages[2]["reply_broadcast"], true);
}

#[tokio::test]
async fn ok_false_errors_are_classified_by_code() {
    let (server, fake) = slack().await;
    let c = bot(&server);
    fake.state().queued.extend([
        api_error("channel_not_found"),
        api_error("msg_too_long"),
        api_error("fatal_error"),
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "7")
            .set_body_json(json!({"ok": false, "error": "ratelimited"})),
        ResponseTemplate::new(503).set_body_string("upstream connect error"),
    ]);
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    let SendError::Unusable { status, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 200, "Slack reports errors with HTTP 200");
    assert!(
        message.contains("channel_not_found") && message.contains(CHANNEL),
        "{message}"
    );
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { message, .. } if message.contains("msg_too_long")),
        "{err:?}"
    );
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    assert!(
        matches!(err, SendError::InDoubt { .. }),
        "fatal_error may have posted: {err:?}"
    );
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    assert_eq!(retry_after(&err), Duration::from_secs(7));
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    assert!(
        matches!(err, SendError::Retry { after: None, .. }),
        "{err:?}"
    );
    assert!(fake.state().messages.is_empty());
}

#[tokio::test]
async fn a_wrong_token_makes_the_channel_unusable_without_showing_it() {
    let (server, _fake) = slack().await;
    let c = bot_with(&server, "xoxb-WRONG-SECRET-9", "", Duration::from_secs(5));
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Unusable { message, .. } if message.contains("invalid_auth") && message.contains("SLACK_BOT_TOKEN")),
        "{err:?}"
    );
    assert_clean(&err, &["xoxb-WRONG-SECRET-9"]);
    assert!(!format!("{c:?}").contains("WRONG-SECRET"));
    assert!(c.check().await.is_err());
}

#[tokio::test]
async fn escaping_can_grow_past_a_section_and_is_split_into_several() {
    let (server, fake) = slack().await;
    // 3000 characters by Slack's count before escaping, 6000 after.
    let text = "<&> ".repeat(750);
    let text = text.trim_end();
    bot(&server).send(&post("a#0/slack", text)).await.unwrap();
    let s = fake.state();
    let blocks = s.messages[0]["blocks"].as_array().unwrap();
    assert!(blocks.len() >= 2, "{}", blocks.len());
    assert_eq!(s.messages[0]["rendered"], text);
}

#[tokio::test]
async fn the_fake_refuses_what_slack_refuses() {
    let (server, _fake) = slack().await;
    let c = bot(&server);
    let long = "a ".repeat(20_001);
    let err = c.send(&post("a#0/slack", &long)).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { message, .. } if message.contains("msg_too_long")),
        "{err:?}"
    );
}

#[tokio::test]
async fn timeout_after_sending_is_in_doubt() {
    let (server, fake) = slack().await;
    fake.state().queued.push_back(
        ResponseTemplate::new(200)
            .set_body_json(json!({"ok": true, "ts": "1.2"}))
            .set_delay(Duration::from_secs(3)),
    );
    let c = bot_with(&server, BOT_TOKEN, "", Duration::from_millis(200));
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    assert!(matches!(err, SendError::InDoubt { .. }), "{err:?}");
    assert!(!c.resend_is_idempotent());
}

#[tokio::test]
async fn check_calls_auth_test() {
    let (server, _fake) = slack().await;
    assert_eq!(
        bot(&server).check().await.unwrap(),
        "signed in as @statusbot in Fernwerk"
    );
}

#[tokio::test]
async fn webhook_posts_without_an_id_and_without_threads() {
    let (server, fake) = slack().await;
    let c = hook(&server);
    let first = c.send(&post("inc#0/slack", TEXT)).await.unwrap();
    assert_eq!(first.id, "", "webhooks give no id");
    let mut p = post("inc#1/slack", "Update");
    p.root = Some(&first);
    p.reply_to = Some(&first);
    c.send(&p).await.unwrap();
    let s = fake.state();
    assert_eq!(s.hook_posts.len(), 2);
    assert!(s.hook_posts[1].get("thread_ts").is_none());
    assert!(s.hook_posts[0].get("channel").is_none());
    assert_eq!(
        render_mrkdwn(
            s.hook_posts[0]["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
        ),
        (TEXT.to_owned(), Vec::new())
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[tokio::test]
async fn removed_webhook_is_unusable_and_its_url_never_shown() {
    let (server, fake) = slack().await;
    let c = hook(&server);
    assert_eq!(
        c.check().await.unwrap(),
        "the incoming webhook is live (nothing was posted)"
    );
    assert!(fake.state().hook_posts.is_empty(), "check posts nothing");
    fake.state().hook_removed = true;
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    let SendError::Unusable { status, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 404);
    assert!(
        message.contains("no_service") && message.contains("SLACK_WEBHOOK_URL"),
        "{message}"
    );
    assert_clean(&err, &["HOOKSECRET42xyz", &hook_url(&server)]);
    assert!(c.check().await.is_err());
    assert!(!format!("{c:?}").contains("HOOKSECRET"));
}

#[tokio::test]
async fn webhook_transport_errors_do_not_show_the_url() {
    // Nothing listens on this port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}{HOOK_PATH}");
    let cfg = config("type: slack\nwebhook_url_env: SLACK_WEBHOOK_URL\n");
    let c = Channel::from_config(
        &cfg,
        &env_of(&[("SLACK_WEBHOOK_URL", &url)]),
        &options(&std::env::temp_dir()),
    )
    .unwrap();
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    assert!(
        matches!(err, SendError::Retry { .. }),
        "never connected: {err:?}"
    );
    assert_clean(&err, &["HOOKSECRET42xyz"]);
}

#[test]
fn settings_are_either_webhook_or_bot() {
    for (yaml, says) in [
        (
            "type: slack\nwebhook_url_env: A\ntoken_env: B\nchannel: C1\n",
            "not both",
        ),
        ("type: slack\ntoken_env: B\n", "needs `channel`"),
        (
            "type: slack\nwebhook_url_env: A\nchannel: C1\n",
            "only works with `token_env`",
        ),
        ("type: slack\n", "needs `webhook_url_env`"),
    ] {
        let err = config(yaml).validate().unwrap_err().to_string();
        assert!(err.contains(says), "{yaml}: {err}");
        let env = env_of(&[("A", "https://hooks.slack.com/services/x"), ("B", "xoxb-1")]);
        assert!(
            Channel::from_config(&config(yaml), &env, &options(&std::env::temp_dir())).is_err()
        );
    }
    // A webhook URL must be https (or loopback).
    let err = Channel::from_config(
        &config("type: slack\nwebhook_url_env: A\n"),
        &env_of(&[("A", "http://hooks.slack.com/services/T/B/SECRETSECRET")]),
        &options(&std::env::temp_dir()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    assert!(!err.to_string().contains("SECRETSECRET"));
}

#[tokio::test]
async fn api_base_is_configurable() {
    let (server, fake) = slack().await;
    Mock::given(method("POST"))
        .and(path("/prefix/api/chat.postMessage"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    let cfg = config(&format!(
        "type: slack\napi_base: {}/prefix\ntoken_env: T\nchannel: {CHANNEL}\n",
        server.uri()
    ));
    let c = Channel::from_config(
        &cfg,
        &env_of(&[("T", BOT_TOKEN)]),
        &options(&std::env::temp_dir()),
    )
    .unwrap();
    // The fake routes by path: under /prefix it answers 404, which shows the base was used.
    let err = c.send(&post("a#0/slack", "x")).await.unwrap_err();
    assert!(
        matches!(err, SendError::Rejected { status: 404, .. }),
        "{err:?}"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].url.path(), "/prefix/api/chat.postMessage");
}
