//! Generic webhook: a local receiver that verifies Standard Webhooks signatures the way the spec's
//! reference verifier does (HMAC-SHA256 over `id.timestamp.body`, any of the listed `v1`
//! signatures, constant-time comparison, timestamps within 5 minutes) and deduplicates by
//! `webhook-id`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::common::*;
use ch::{ComponentMeta, IncidentMeta, PostMeta, UpdateMeta};

/// 32 random bytes, as a receiver would hand them out.
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwHt5JgdS+t3E=";
const TOLERANCE: i64 = 5 * 60;

/// Header names and values of a request.
pub(crate) type Headers = Vec<(String, String)>;

#[derive(Default)]
pub(crate) struct Receiver {
    /// Verified deliveries: (webhook-id, body), repeats included.
    pub(crate) deliveries: Vec<(String, Value)>,
    /// Distinct events, as a receiver that deduplicates by webhook-id processes them.
    pub(crate) events: Vec<Value>,
    /// Raw requests, verified or not.
    pub(crate) raw: Vec<(Headers, Vec<u8>)>,
    pub(crate) queued: VecDeque<ResponseTemplate>,
}

#[derive(Clone)]
pub(crate) struct FakeReceiver {
    key: Vec<u8>,
    state: Arc<Mutex<Receiver>>,
}

/// Verifies a request like the reference implementation; `Err` says why not.
pub(crate) fn verify(
    key: &[u8],
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
) -> Result<String, String> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .ok_or(format!("missing header {name}"))
    };
    let id = get("webhook-id")?;
    let ts: i64 = get("webhook-timestamp")?
        .parse()
        .map_err(|_| "bad timestamp".to_owned())?;
    if now - ts > TOLERANCE {
        return Err("timestamp too old".into());
    }
    if ts > now + TOLERANCE {
        return Err("timestamp too far in the future".into());
    }
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let matches = get("webhook-signature")?
        .split(' ')
        .filter_map(|s| s.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .any(|(_, sig)| {
            sig.len() == expected.len()
                && sig
                    .bytes()
                    .zip(expected.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
    if matches {
        Ok(id.to_owned())
    } else {
        Err("no matching signature".into())
    }
}

pub(crate) fn decode(secret: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap()
}

impl FakeReceiver {
    pub(crate) fn state(&self) -> MutexGuard<'_, Receiver> {
        self.state.lock().unwrap()
    }
}

impl Respond for FakeReceiver {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let mut s = self.state();
        s.raw.push((headers.clone(), req.body.clone()));
        if req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            != Some("application/json")
        {
            return ResponseTemplate::new(415);
        }
        let id = match verify(&self.key, &headers, &req.body, epoch_now() as i64) {
            Ok(id) => id,
            Err(why) => return ResponseTemplate::new(401).set_body_string(why),
        };
        if let Some(r) = s.queued.pop_front() {
            return r;
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        if !s.deliveries.iter().any(|(seen, _)| *seen == id) {
            s.events.push(body.clone());
        }
        s.deliveries.push((id, body));
        ResponseTemplate::new(204)
    }
}

pub(crate) async fn receiver() -> (MockServer, FakeReceiver) {
    let server = MockServer::start().await;
    let fake = FakeReceiver {
        key: decode(SECRET),
        state: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/hooks/statuscast"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

fn client_with(server: &MockServer, secret: &str) -> Channel {
    let cfg = config(&format!(
        "type: webhook\nurl: {}/hooks/statuscast\nsecret_env: WEBHOOK_SECRET\n",
        server.uri()
    ));
    Channel::from_config(
        &cfg,
        &env_of(&[("WEBHOOK_SECRET", secret)]),
        &options(&std::env::temp_dir()),
    )
    .unwrap()
}

fn client(server: &MockServer) -> Channel {
    client_with(server, SECRET)
}

fn meta() -> PostMeta {
    PostMeta {
        kind: "update".into(),
        due: "2026-11-23T09:50:00Z".parse().unwrap(),
        label: "Update".into(),
        site_title: "Fernwerk".into(),
        incident: Some(IncidentMeta {
            id: "2026-11-23-mobilfunk".into(),
            title: "Mobilfunk Hamburg".into(),
            impact: "major".into(),
            maintenance: false,
            permalink: "https://status.fernwerk.example/incidents/2026-11-23-mobilfunk/".into(),
            components: vec![ComponentMeta {
                id: "mobile".into(),
                name: "Mobilfunk".into(),
            }],
            status: "identified".into(),
            update: Some(UpdateMeta {
                index: 1,
                status: "identified".into(),
                at: "2026-11-23T09:50:00Z".parse().unwrap(),
            }),
        }),
    }
}

#[tokio::test]
async fn delivers_a_signed_event_with_incident_update_components_and_permalink() {
    let (server, rx) = receiver().await;
    let m = meta();
    let parent = Remote {
        id: "msg_0123".into(),
        url: None,
        cid: None,
    };
    let mut p = post(
        "2026-11-23-mobilfunk#1/hooks",
        "[Update] Mobilfunk Hamburg: Ursache gefunden.",
    );
    p.meta = Some(&m);
    p.reply_to = Some(&parent);
    let remote = client(&server).send(&p).await.unwrap();
    let s = rx.state();
    assert_eq!(s.events.len(), 1, "the receiver verified the signature");
    let (id, body) = &s.deliveries[0];
    assert_eq!(remote.id, *id);
    assert!(id.starts_with("msg_") && !id.contains('.'));
    assert_eq!(
        *body,
        json!({
            "type": "incident.update",
            "timestamp": "2026-11-23T09:50:00Z",
            "data": {
                "key": "2026-11-23-mobilfunk#1/hooks",
                "kind": "update",
                "label": "Update",
                "text": "[Update] Mobilfunk Hamburg: Ursache gefunden.",
                "language": "de",
                "site_title": "Fernwerk",
                "incident": {
                    "id": "2026-11-23-mobilfunk", "title": "Mobilfunk Hamburg",
                    "impact": "major", "maintenance": false, "status": "identified",
                },
                "update": { "index": 1, "status": "identified", "at": "2026-11-23T09:50:00Z" },
                "components": [{ "id": "mobile", "name": "Mobilfunk" }],
                "permalink": "https://status.fernwerk.example/incidents/2026-11-23-mobilfunk/",
                "in_reply_to": "msg_0123",
            }
        })
    );
    // The timestamp header is the real clock.
    let ts: i64 = s.raw[0]
        .0
        .iter()
        .find(|(k, _)| k == "webhook-timestamp")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!((ts - epoch_now() as i64).abs() < 60);
}

#[tokio::test]
async fn the_receiver_rejects_tampered_bodies_stale_timestamps_and_wrong_secrets() {
    let (server, rx) = receiver().await;
    client(&server)
        .send(&post("t#0/hooks", "Störung"))
        .await
        .unwrap();
    let (headers, body) = rx.state().raw[0].clone();
    let key = decode(SECRET);
    let now = epoch_now() as i64;
    assert!(verify(&key, &headers, &body, now).is_ok());
    // One byte changed.
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'S').unwrap();
    tampered[at] = b's';
    assert_eq!(
        verify(&key, &headers, &tampered, now).unwrap_err(),
        "no matching signature"
    );
    // Replayed more than 5 minutes later.
    assert_eq!(
        verify(&key, &headers, &body, now + TOLERANCE + 2).unwrap_err(),
        "timestamp too old"
    );
    // Signed with another secret: the receiver says 401, which is not retried.
    let other = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([9u8; 32])
    );
    let err = client_with(&server, &other)
        .send(&post("t#1/hooks", "x"))
        .await
        .unwrap_err();
    let SendError::Rejected {
        status: 401,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("no matching signature"), "{message}");
    assert!(message.contains("WEBHOOK_SECRET"), "{message}");
    assert!(!format!("{err:?}").contains(&other[6..]));
    assert_eq!(rx.state().events.len(), 1);
}

#[tokio::test]
async fn retries_carry_the_same_webhook_id_so_the_receiver_processes_it_once() {
    let (server, rx) = receiver().await;
    // The receiver processed the event but its proxy answered 503.
    rx.state()
        .queued
        .push_back(ResponseTemplate::new(503).insert_header("Retry-After", "3"));
    let c = client(&server);
    let sleeper = FakeSleeper::default();
    send_with_retry(&c, &post("r#0/hooks", "x"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap();
    assert_about(
        sleeper.slept()[0],
        Duration::from_millis(3250),
        Duration::from_millis(260),
    );
    // A later run re-sends the in-doubt post: same id again.
    let mut again = post("r#0/hooks", "x");
    again.in_doubt = true;
    c.send(&again).await.unwrap();
    let s = rx.state();
    let ids: Vec<String> = s
        .raw
        .iter()
        .map(|(h, _)| h.iter().find(|(k, _)| k == "webhook-id").unwrap().1.clone())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| *i == ids[0]));
    assert_eq!(s.events.len(), 1, "deduplicated by webhook-id");
}

#[tokio::test]
async fn gone_and_redirects_are_not_retried_and_429_is() {
    let (server, rx) = receiver().await;
    let c = client(&server);
    rx.state().queued.push_back(ResponseTemplate::new(410));
    let err = c.send(&post("g#0/hooks", "x")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { status: 410, message } if message.contains("no longer wants")),
        "{err:?}"
    );
    rx.state().queued.push_back(
        ResponseTemplate::new(308).insert_header("Location", "https://elsewhere.example/hook"),
    );
    let err = c.send(&post("g#1/hooks", "x")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { status: 308, message } if message.contains("https://elsewhere.example/hook")),
        "{err:?}"
    );
    rx.state()
        .queued
        .push_back(ResponseTemplate::new(429).insert_header("Retry-After", "11"));
    let err = c.send(&post("g#2/hooks", "x")).await.unwrap_err();
    assert_eq!(retry_after(&err), Duration::from_secs(11));
    assert_eq!(rx.state().raw.len(), 3, "no redirect was followed");
}

#[tokio::test]
async fn check_sends_a_signed_ping() {
    let (server, rx) = receiver().await;
    let account = client(&server).check().await.unwrap();
    assert_eq!(
        account,
        "http://127.0.0.1 (a signed statuscast.ping was accepted)"
    );
    let s = rx.state();
    assert_eq!(s.events[0]["type"], "statuscast.ping");
}
