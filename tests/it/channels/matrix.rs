//! Matrix: a local homeserver that checks the bearer token, room membership, transaction ids
//! (a reused id returns the event it created) and the shape of thread relations.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::common::*;

pub(crate) const TOKEN: &str = "syt_c3RhdHVz_SECRET_aBcDeF";
pub(crate) const USER: &str = "@status:fernwerk.example";
pub(crate) const ROOM: &str = "!kX9fQ2:fernwerk.example";
pub(crate) const ALIAS: &str = "#status:fernwerk.example";

#[derive(Default)]
pub(crate) struct Homeserver {
    /// Events of the room in order: (event id, content).
    pub(crate) events: Vec<(String, Value)>,
    /// (access token, transaction id) → event id, as the server keeps them.
    pub(crate) txns: BTreeMap<(String, String), String>,
    /// Every accepted send request's transaction id, repeats included.
    pub(crate) send_txns: Vec<String>,
    pub(crate) alias_lookups: u32,
    /// The account has joined the room (else 403 `M_FORBIDDEN`).
    pub(crate) joined: bool,
    /// Answers for the next send requests, after authentication.
    pub(crate) queued: VecDeque<ResponseTemplate>,
}

#[derive(Clone)]
pub(crate) struct FakeHomeserver(Arc<Mutex<Homeserver>>);

fn matrix_error(status: u16, errcode: &str, error: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "errcode": errcode, "error": error }))
}

impl FakeHomeserver {
    pub(crate) fn state(&self) -> MutexGuard<'_, Homeserver> {
        self.0.lock().unwrap()
    }

    /// The event contents in room order.
    pub(crate) fn contents(&self) -> Vec<Value> {
        self.state().events.iter().map(|(_, c)| c.clone()).collect()
    }

    pub(crate) fn event_id(&self, i: usize) -> String {
        self.state().events[i].0.clone()
    }

    fn send(
        s: &mut Homeserver,
        token: &str,
        room: &str,
        txn: &str,
        body: &[u8],
    ) -> ResponseTemplate {
        if room != ROOM {
            return matrix_error(404, "M_NOT_FOUND", "Unknown room");
        }
        if !s.joined {
            return matrix_error(
                403,
                "M_FORBIDDEN",
                &format!("User {USER} not in room {ROOM}"),
            );
        }
        if let Some(r) = s.queued.pop_front() {
            return r;
        }
        s.send_txns.push(txn.to_owned());
        let key = (token.to_owned(), txn.to_owned());
        if let Some(id) = s.txns.get(&key) {
            return ResponseTemplate::new(200).set_body_json(json!({ "event_id": id }));
        }
        let Ok(content) = serde_json::from_slice::<Value>(body) else {
            return matrix_error(400, "M_NOT_JSON", "Content not JSON.");
        };
        if content["msgtype"] != "m.text" || !content["body"].is_string() {
            return matrix_error(400, "M_BAD_JSON", "m.text needs a string body");
        }
        if content.get("format").is_some()
            && (content["format"] != "org.matrix.custom.html"
                || !content["formatted_body"].is_string())
        {
            return matrix_error(400, "M_BAD_JSON", "format needs a formatted_body");
        }
        if let Some(rel) = content.get("m.relates_to") {
            let exists = |id: &Value| s.events.iter().find(|(e, _)| id == e.as_str());
            if rel["rel_type"] != "m.thread" {
                return matrix_error(400, "M_BAD_JSON", "unexpected relation");
            }
            // A thread root must exist and must not itself be part of a relation.
            match exists(&rel["event_id"]) {
                None => return matrix_error(400, "M_UNKNOWN", "thread root not found"),
                Some((_, thread_root)) if thread_root.get("m.relates_to").is_some() => {
                    return matrix_error(
                        400,
                        "M_UNKNOWN",
                        "Cannot start threads from an event with a relation",
                    );
                }
                Some(_) => {}
            }
            if rel["is_falling_back"] != true || exists(&rel["m.in_reply_to"]["event_id"]).is_none()
            {
                return matrix_error(400, "M_BAD_JSON", "fallback reply must name an event");
            }
        }
        let id = format!("$ev{}-{:08x}", s.events.len(), s.events.len() * 7919);
        s.events.push((id.clone(), content));
        s.txns.insert(key, id.clone());
        ResponseTemplate::new(200).set_body_json(json!({ "event_id": id }))
    }
}

impl Respond for FakeHomeserver {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|h| h.to_str().ok());
        let token = match auth.and_then(|a| a.strip_prefix("Bearer ")) {
            None => return matrix_error(401, "M_MISSING_TOKEN", "Missing access token"),
            Some(t) if t != TOKEN => {
                return matrix_error(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.");
            }
            Some(t) => t.to_owned(),
        };
        // Segments as the server decodes them.
        let segments: Vec<String> = req
            .url
            .path()
            .trim_start_matches("/_matrix/client/v3/")
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8().unwrap().into_owned())
            .collect();
        let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
        let mut s = self.state();
        match (req.method.as_str(), seg.as_slice()) {
            ("PUT", ["rooms", room, "send", "m.room.message", txn]) => {
                Self::send(&mut s, &token, room, txn, &req.body)
            }
            ("GET", ["directory", "room", alias]) => {
                s.alias_lookups += 1;
                if *alias == ALIAS {
                    ResponseTemplate::new(200)
                        .set_body_json(json!({ "room_id": ROOM, "servers": ["fernwerk.example"] }))
                } else {
                    matrix_error(404, "M_NOT_FOUND", &format!("Room alias {alias} not found"))
                }
            }
            ("GET", ["account", "whoami"]) => ResponseTemplate::new(200)
                .set_body_json(json!({ "user_id": USER, "device_id": "STATUSCAST" })),
            ("GET", ["joined_rooms"]) => {
                let rooms: Vec<&str> = if s.joined { vec![ROOM] } else { vec![] };
                ResponseTemplate::new(200).set_body_json(json!({ "joined_rooms": rooms }))
            }
            _ => matrix_error(404, "M_UNRECOGNIZED", "Unrecognized request"),
        }
    }
}

pub(crate) async fn homeserver() -> (MockServer, FakeHomeserver) {
    let server = MockServer::start().await;
    let fake = FakeHomeserver(Arc::new(Mutex::new(Homeserver {
        joined: true,
        ..Homeserver::default()
    })));
    Mock::given(path_regex("^/_matrix/client/v3/"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

fn client_for(server: &MockServer, room: &str, token: &str, timeout: Duration) -> Channel {
    let cfg = config(&format!(
        "type: matrix\nhomeserver: {}\nroom: \"{room}\"\naccess_token_env: MATRIX_TOKEN\n",
        server.uri()
    ));
    let opts = ClientOptions {
        timeout,
        ..options(&std::env::temp_dir())
    };
    Channel::from_config(&cfg, &env_of(&[("MATRIX_TOKEN", token)]), &opts).unwrap()
}

fn client(server: &MockServer) -> Channel {
    client_for(server, ROOM, TOKEN, Duration::from_secs(5))
}

#[tokio::test]
async fn posts_a_text_message_with_html_into_the_room() {
    let (server, hs) = homeserver().await;
    let text = "[Störung] Mobilfunk <Hamburg>: SMS verzögert. https://status.fernwerk.example/incidents/x/";
    let remote = client(&server)
        .send(&post("2026-11-23-mobilfunk#0/matrix", text))
        .await
        .unwrap();
    assert_eq!(remote.id, hs.event_id(0));
    assert_eq!(
        remote.url.as_deref(),
        Some("https://matrix.to/#/%21kX9fQ2%3Afernwerk.example/%24ev0-00000000")
    );
    let content = &hs.contents()[0];
    assert_eq!(content["body"], text);
    assert_eq!(
        content["formatted_body"],
        "[Störung] Mobilfunk &lt;Hamburg&gt;: SMS verzögert. <a href=\"https://status.fernwerk.example/incidents/x/\">https://status.fernwerk.example/incidents/x/</a>"
    );
    assert!(content.get("m.relates_to").is_none());
    // The transaction id is URL-safe and derived from the post key.
    let txn = hs.state().send_txns[0].clone();
    assert_eq!(
        txn,
        hex(&<sha2::Sha256 as sha2::Digest>::digest(
            b"2026-11-23-mobilfunk#0/matrix"
        ))
    );
}

#[tokio::test]
async fn a_resent_transaction_id_returns_the_first_event_not_a_second() {
    let (server, hs) = homeserver().await;
    // The first attempt fails on the way back (502 from a proxy); the event was created.
    let c = client(&server);
    let first = c.send(&post("inc#0/matrix", "Störung")).await.unwrap();
    hs.state()
        .queued
        .push_back(ResponseTemplate::new(502).set_body_string("Bad Gateway"));
    let sleeper = FakeSleeper::default();
    let mut again = post("inc#0/matrix", "Störung");
    again.in_doubt = true;
    let second = send_with_retry(&c, &again, DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(
        hs.state().events.len(),
        1,
        "one event for one transaction id"
    );
    assert_eq!(sleeper.slept().len(), 1);
    // Another post gets another transaction id.
    c.send(&post("inc#1/matrix", "Update")).await.unwrap();
    let s = hs.state();
    assert_eq!(s.events.len(), 2);
    assert_eq!(s.send_txns[0], s.send_txns[1]);
    assert_ne!(s.send_txns[1], s.send_txns[2]);
}

#[tokio::test]
async fn follow_ups_thread_on_the_first_post_with_a_reply_fallback() {
    let (server, hs) = homeserver().await;
    let c = client(&server);
    let root = c.send(&post("inc#0/matrix", "Störung")).await.unwrap();
    let mut p = post("inc#1/matrix", "Update");
    p.reply_to = Some(&root);
    p.root = Some(&root);
    let second = c.send(&p).await.unwrap();
    let mut p = post("inc#2/matrix", "Behoben");
    p.reply_to = Some(&second);
    p.root = Some(&root);
    c.send(&p).await.unwrap();
    let contents = hs.contents();
    assert_eq!(contents.len(), 3, "the homeserver accepted every relation");
    assert_eq!(
        contents[2]["m.relates_to"],
        json!({
            "rel_type": "m.thread",
            "event_id": root.id,
            "is_falling_back": true,
            "m.in_reply_to": { "event_id": second.id },
        })
    );
    // A thread rooted at a threaded event is refused, as Synapse does.
    let mut p = post("inc#3/matrix", "x");
    p.reply_to = Some(&second);
    p.root = Some(&second);
    let err = c.send(&p).await.unwrap_err();
    assert!(
        matches!(err, SendError::Rejected { status: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_alias_is_resolved_once_per_client() {
    let (server, hs) = homeserver().await;
    let c = client_for(&server, ALIAS, TOKEN, Duration::from_secs(5));
    c.send(&post("a#0/matrix", "eins")).await.unwrap();
    c.send(&post("a#1/matrix", "zwei")).await.unwrap();
    assert_eq!(hs.state().alias_lookups, 1);
    assert_eq!(hs.state().events.len(), 2);
    let err = client_for(
        &server,
        "#nope:fernwerk.example",
        TOKEN,
        Duration::from_secs(5),
    )
    .send(&post("a#2/matrix", "drei"))
    .await
    .unwrap_err();
    let SendError::Rejected {
        status: 404,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("#nope:fernwerk.example"), "{message}");
}

#[tokio::test]
async fn limit_exceeded_waits_retry_after_ms() {
    let (server, hs) = homeserver().await;
    hs.state()
        .queued
        .push_back(ResponseTemplate::new(429).set_body_json(json!({
            "errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 2500
        })));
    let c = client(&server);
    let sleeper = FakeSleeper::default();
    let remote = send_with_retry(&c, &post("r#0/matrix", "x"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap();
    assert!(remote.id.starts_with('$'));
    let slept = sleeper.slept();
    assert_eq!(slept.len(), 1);
    assert_about(
        slept[0],
        Duration::from_millis(2750),
        Duration::from_millis(260),
    );

    // Without retrying: the error carries the wait.
    hs.state().queued.push_back(
        ResponseTemplate::new(429)
            .set_body_json(json!({ "errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests" }))
            .insert_header("Retry-After", "7"),
    );
    let err = c.send(&post("r#1/matrix", "y")).await.unwrap_err();
    assert_eq!(retry_after(&err), Duration::from_secs(7));
}

#[tokio::test]
async fn a_bad_token_or_a_foreign_room_is_rejected_without_leaking_the_token() {
    let (server, hs) = homeserver().await;
    let wrong = "syt_wrong_SECRET_value";
    let err = client_for(&server, ROOM, wrong, Duration::from_secs(5))
        .send(&post("t#0/matrix", "x"))
        .await
        .unwrap_err();
    let SendError::Rejected {
        status: 401,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.starts_with("M_UNKNOWN_TOKEN"), "{message}");
    assert!(message.contains("MATRIX_TOKEN"), "{message}");
    assert!(!format!("{err:?}{err}").contains(wrong));

    hs.state().joined = false;
    let err = client(&server)
        .send(&post("t#0/matrix", "x"))
        .await
        .unwrap_err();
    let SendError::Rejected {
        status: 403,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.starts_with("M_FORBIDDEN"), "{message}");
    assert!(hs.state().events.is_empty());
    let c = client(&server);
    assert!(!format!("{c:?}").contains(TOKEN));
}

#[tokio::test]
async fn check_names_the_account_and_requires_membership() {
    let (server, hs) = homeserver().await;
    let c = client_for(&server, ALIAS, TOKEN, Duration::from_secs(5));
    assert_eq!(
        c.check().await.unwrap(),
        format!("{USER} in {ALIAS} ({ROOM})")
    );
    hs.state().joined = false;
    let err = client(&server).check().await.unwrap_err();
    assert!(err.to_string().contains("has not joined"), "{err}");
}

#[tokio::test]
async fn a_timeout_is_retried_because_the_transaction_id_makes_it_safe() {
    let (server, hs) = homeserver().await;
    hs.state().queued.push_back(
        ResponseTemplate::new(200)
            .set_body_json(json!({ "event_id": "$late" }))
            .set_delay(Duration::from_secs(3)),
    );
    let c = client_for(&server, ROOM, TOKEN, Duration::from_millis(200));
    let err = c.send(&post("slow#0/matrix", "x")).await.unwrap_err();
    assert!(
        matches!(err, SendError::Retry { after: None, .. }),
        "{err:?}"
    );
}
