//! Telegram: a local Bot API that checks the token in the path, the chat, HTML parse mode
//! (tags and entities parsed as Telegram does), the 4096 UTF-16 code unit limit after entity
//! parsing and `reply_parameters`, and answers with the Bot API's error objects.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::common::*;
use crate::channels::slack::assert_clean;

pub(crate) const BOT_TOKEN: &str = "7012345678:AAH-telegramSECRET_token42";
pub(crate) const CHAT: &str = "@fernwerk_status";
const CHAT_ID: i64 = -1_001_234_567_890;

#[derive(Default)]
pub(crate) struct TgChannel {
    /// Posted messages: `{message_id, text (as displayed), reply_to, entities}`.
    pub messages: Vec<Value>,
    pub queued: VecDeque<ResponseTemplate>,
    pub bot_removed: bool,
}

#[derive(Clone, Default)]
pub(crate) struct FakeTelegram(Arc<Mutex<TgChannel>>);

fn bot_error(code: u16, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "ok": false, "error_code": code, "description": description,
    }))
}

const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

/// Telegram's HTML mode: supported tags become entities (counted in `entities`), `&lt;`, `&gt;`,
/// `&amp;`, `&quot;` and numeric entities are decoded, an unsupported tag is an error.
fn parse_html(text: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut entities = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next().unwrap();
        if c == '<' {
            let end = rest.find('>').ok_or(format!(
                "Bad Request: can't parse entities: Can't find end of the tag starting at byte offset {i}"
            ))?;
            let inner = &rest[1..end];
            let name = inner
                .trim_start_matches('/')
                .split_whitespace()
                .next()
                .unwrap_or("");
            if !TAGS.contains(&name) {
                return Err(format!(
                    "Bad Request: can't parse entities: Unsupported start tag \"{name}\" at byte offset {i}"
                ));
            }
            if !inner.starts_with('/') {
                entities += 1;
            }
            i += end + 1;
        } else if c == '&' {
            let semi = rest[..rest.len().min(12)].find(';');
            let decoded = semi.and_then(|s| match &rest[1..s] {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                n if n.starts_with('#') => n[1..].parse::<u32>().ok().and_then(char::from_u32),
                _ => None,
            });
            if let (Some(d), Some(s)) = (decoded, semi) {
                out.push(d);
                i += s + 1;
            } else {
                // An '&' that starts no entity is shown as it is.
                out.push('&');
                i += 1;
            }
        } else {
            out.push(c);
            i += c.len_utf8();
        }
    }
    Ok((out, entities))
}

impl FakeTelegram {
    pub(crate) fn state(&self) -> MutexGuard<'_, TgChannel> {
        self.0.lock().unwrap()
    }

    fn chat() -> Value {
        json!({ "id": CHAT_ID, "title": "Fernwerk Status", "username": "fernwerk_status", "type": "channel" })
    }

    fn chat_matches(v: &Value) -> bool {
        v.as_str() == Some(CHAT)
            || v.as_i64() == Some(CHAT_ID)
            || v.as_str() == Some(&CHAT_ID.to_string())
    }

    fn send_message(s: &mut TgChannel, body: &Value) -> ResponseTemplate {
        if !Self::chat_matches(&body["chat_id"]) {
            return bot_error(400, "Bad Request: chat not found");
        }
        if s.bot_removed {
            return bot_error(403, "Forbidden: bot is not a member of the channel chat");
        }
        let raw = body["text"].as_str().unwrap_or_default();
        let (text, entities) = if body["parse_mode"] == "HTML" {
            match parse_html(raw) {
                Ok(parsed) => parsed,
                Err(e) => return bot_error(400, &e),
            }
        } else {
            (raw.to_owned(), 0)
        };
        if text.trim().is_empty() {
            return bot_error(400, "Bad Request: message text is empty");
        }
        if text.encode_utf16().count() > 4096 {
            return bot_error(400, "Bad Request: message is too long");
        }
        let mut reply_to = Value::Null;
        if let Some(rp) = body.get("reply_parameters") {
            let id = rp["message_id"].as_i64();
            if id.is_some_and(|id| s.messages.iter().any(|m| m["message_id"] == id)) {
                reply_to = json!(id);
            } else if rp["allow_sending_without_reply"] != true {
                return bot_error(400, "Bad Request: message to be replied not found");
            }
        }
        let id = 100 + s.messages.len() as i64;
        let message = json!({
            "message_id": id, "sender_chat": Self::chat(), "chat": Self::chat(), "date": 1_764_000_000,
            "text": text, "reply_to": reply_to, "entities": entities,
        });
        s.messages.push(message.clone());
        ResponseTemplate::new(200).set_body_json(json!({ "ok": true, "result": message }))
    }
}

impl Respond for FakeTelegram {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state();
        let path = req.url.path();
        let Some((token, method)) = path.strip_prefix("/bot").and_then(|p| p.split_once('/'))
        else {
            return bot_error(404, "Not Found");
        };
        if token != BOT_TOKEN {
            return bot_error(401, "Unauthorized");
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match method {
            "getMe" => ResponseTemplate::new(200).set_body_json(json!({ "ok": true, "result": {
                "id": 7_012_345_678_i64, "is_bot": true, "first_name": "Fernwerk Status", "username": "fernwerk_status_bot"
            }})),
            "getChat" if Self::chat_matches(&body["chat_id"]) => {
                ResponseTemplate::new(200).set_body_json(json!({ "ok": true, "result": Self::chat() }))
            }
            "getChat" => bot_error(400, "Bad Request: chat not found"),
            "sendMessage" => match s.queued.pop_front() {
                Some(r) => r,
                None => Self::send_message(&mut s, &body),
            },
            _ => bot_error(404, "Not Found"),
        }
    }
}

pub(crate) async fn telegram() -> (MockServer, FakeTelegram) {
    let server = MockServer::start().await;
    let fake = FakeTelegram::default();
    Mock::given(method("POST"))
        .and(path_regex("^/bot"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

fn client_with(server: &MockServer, token: &str, chat: &str, timeout: Duration) -> Channel {
    let cfg = config(&format!(
        "type: telegram\napi_base: {}\ntoken_env: TELEGRAM_BOT_TOKEN\nchat_id: \"{chat}\"\n",
        server.uri()
    ));
    let opts = ClientOptions {
        timeout,
        ..options(&std::env::temp_dir())
    };
    Channel::from_config(&cfg, &env_of(&[("TELEGRAM_BOT_TOKEN", token)]), &opts).unwrap()
}

fn client(server: &MockServer) -> Channel {
    client_with(server, BOT_TOKEN, CHAT, Duration::from_secs(5))
}

#[tokio::test]
async fn html_mode_shows_the_text_exactly_as_written() {
    let (server, fake) = telegram().await;
    let text = "[Störung] AT&T <b>nicht fett</b> & &lt;wörtlich&gt; 5 > 3 <tg-spoiler> https://status.example/i/1/";
    let remote = client(&server)
        .send(&post("a#0/telegram", text))
        .await
        .unwrap();
    assert_eq!(remote.id, "100");
    assert_eq!(
        remote.url.as_deref(),
        Some("https://t.me/fernwerk_status/100")
    );
    let requests = server.received_requests().await.unwrap();
    let s = fake.state();
    assert_eq!(s.messages[0]["text"], text);
    assert_eq!(s.messages[0]["entities"], 0, "nothing became markup");
    drop(s);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["chat_id"], CHAT);
    assert!(body.get("reply_parameters").is_none());
}

#[tokio::test]
async fn replies_use_reply_parameters_and_survive_a_deleted_parent() {
    let (server, fake) = telegram().await;
    let c = client(&server);
    let root = c.send(&post("a#0/telegram", "eins")).await.unwrap();
    let mut p = post("a#1/telegram", "zwei");
    p.root = Some(&root);
    p.reply_to = Some(&root);
    c.send(&p).await.unwrap();
    let deleted = Remote {
        id: "999".into(),
        url: None,
        cid: None,
    };
    let mut p = post("a#2/telegram", "drei");
    p.reply_to = Some(&deleted);
    c.send(&p).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(
        body["reply_parameters"],
        json!({ "message_id": 100, "allow_sending_without_reply": true })
    );
    let s = fake.state();
    assert_eq!(s.messages[1]["reply_to"], 100);
    assert!(
        s.messages[2]["reply_to"].is_null(),
        "posted without the reply"
    );
}

#[tokio::test]
async fn the_limit_is_4096_utf16_units_after_entity_parsing() {
    let (server, _fake) = telegram().await;
    let c = client(&server);
    // 4096 characters shown, 4096·4 bytes of entities sent: fits.
    let fits = "<".repeat(4096);
    c.send(&post("a#0/telegram", &fits)).await.unwrap();
    // An emoji is two UTF-16 units: 2048 fit, 2049 do not.
    c.send(&post("a#1/telegram", &"🛰".repeat(2048)))
        .await
        .unwrap();
    let err = c
        .send(&post("a#2/telegram", &"🛰".repeat(2049)))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Rejected {
            status: 400,
            message: "Bad Request: message is too long".into()
        }
    );
    // statuscast counts the same way.
    let counting = statuscast::broadcast::text::Counting::Utf16 {
        max: ch::telegram::TEXT_MAX,
        name: "Telegram",
    };
    assert!(statuscast::broadcast::text::fits(
        counting,
        &"🛰".repeat(2048)
    ));
    assert!(!statuscast::broadcast::text::fits(
        counting,
        &"🛰".repeat(2049)
    ));
}

#[tokio::test]
async fn rate_limits_honour_retry_after() {
    let (server, fake) = telegram().await;
    fake.state()
        .queued
        .push_back(ResponseTemplate::new(429).set_body_json(json!({
            "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 3",
            "parameters": { "retry_after": 3 }
        })));
    let err = client(&server)
        .send(&post("a#0/telegram", "x"))
        .await
        .unwrap_err();
    assert_eq!(retry_after(&err), Duration::from_secs(3));
}

#[tokio::test]
async fn a_wrong_token_is_unusable_and_never_shown() {
    let (server, _fake) = telegram().await;
    let wrong = "7012345678:WRONG-telegramSECRET";
    let c = client_with(&server, wrong, CHAT, Duration::from_secs(5));
    let err = c.send(&post("a#0/telegram", "x")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Unusable { status: 401, message } if message.starts_with("Unauthorized") && message.contains("TELEGRAM_BOT_TOKEN")),
        "{err:?}"
    );
    assert_clean(&err, &[wrong, "WRONG-telegramSECRET"]);
    assert!(!format!("{c:?}").contains("telegramSECRET"));
    // The token is in the URL path: a connection error must not show the URL either.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = config(&format!(
        "type: telegram\napi_base: http://127.0.0.1:{port}\ntoken_env: T\nchat_id: \"{CHAT}\"\n"
    ));
    let c = Channel::from_config(
        &cfg,
        &env_of(&[("T", BOT_TOKEN)]),
        &options(&std::env::temp_dir()),
    )
    .unwrap();
    let err = c.send(&post("a#0/telegram", "x")).await.unwrap_err();
    assert!(matches!(err, SendError::Retry { .. }), "{err:?}");
    assert_clean(&err, &[BOT_TOKEN, "telegramSECRET"]);
}

#[tokio::test]
async fn a_removed_bot_or_migrated_group_is_unusable() {
    let (server, fake) = telegram().await;
    fake.state().bot_removed = true;
    let err = client(&server)
        .send(&post("a#0/telegram", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Unusable { status: 403, message } if message.contains("not a member") && message.contains("administrator")),
        "{err:?}"
    );
    fake.state()
        .queued
        .push_back(ResponseTemplate::new(400).set_body_json(json!({
            "ok": false, "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": { "migrate_to_chat_id": -1_009_876_543_210_i64 }
        })));
    let err = client(&server)
        .send(&post("a#0/telegram", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Unusable { message, .. } if message.contains("set chat_id to -1009876543210")),
        "{err:?}"
    );
    // Any other 400 concerns this post only.
    let err = client_with(&server, BOT_TOKEN, "@other_channel", Duration::from_secs(5))
        .send(&post("a#0/telegram", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { status: 400, message } if message == "Bad Request: chat not found"),
        "{err:?}"
    );
}

#[tokio::test]
async fn numeric_chat_ids_and_private_links() {
    let (server, fake) = telegram().await;
    let cfg = config(&format!(
        "type: telegram\napi_base: {}\ntoken_env: T\nchat_id: {CHAT_ID}\n",
        server.uri()
    ));
    let c = Channel::from_config(
        &cfg,
        &env_of(&[("T", BOT_TOKEN)]),
        &options(&std::env::temp_dir()),
    )
    .unwrap();
    c.send(&post("a#0/telegram", "x")).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["chat_id"], CHAT_ID, "a number goes out as a number");
    assert_eq!(fake.state().messages.len(), 1);
    for bad in ["fernwerk", "@x", "https://t.me/fernwerk"] {
        let cfg = config(&format!(
            "type: telegram\ntoken_env: T\nchat_id: \"{bad}\"\n"
        ));
        assert!(cfg.validate().is_err(), "{bad}");
    }
}

#[test]
fn a_malformed_token_is_refused_without_being_shown() {
    let cfg = config("type: telegram\ntoken_env: T\nchat_id: \"@fernwerk_status\"\n");
    for bad in [
        "7012345678:abc/def?x=SECRETPART",
        "no-colon-SECRETPART",
        ":SECRETPART",
    ] {
        let err = Channel::from_config(
            &cfg,
            &env_of(&[("T", bad)]),
            &options(&std::env::temp_dir()),
        )
        .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains("does not hold a bot token"), "{text}");
        assert!(!text.contains("SECRETPART"), "{text}");
    }
}

#[tokio::test]
async fn timeout_is_in_doubt() {
    let (server, fake) = telegram().await;
    fake.state()
        .queued
        .push_back(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)));
    let c = client_with(&server, BOT_TOKEN, CHAT, Duration::from_millis(200));
    let err = c.send(&post("a#0/telegram", "x")).await.unwrap_err();
    assert!(matches!(err, SendError::InDoubt { .. }), "{err:?}");
    assert_clean(&err, &[BOT_TOKEN]);
}

#[tokio::test]
async fn check_names_bot_and_channel() {
    let (server, _fake) = telegram().await;
    assert_eq!(
        client(&server).check().await.unwrap(),
        "signed in as @fernwerk_status_bot, posting to \"Fernwerk Status\""
    );
    let err = client_with(&server, BOT_TOKEN, "@nowhere_chan", Duration::from_secs(5))
        .check()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("chat not found"), "{err}");
}
