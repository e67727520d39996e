//! X: a local API v2 that verifies OAuth 1.0a signatures the way X does.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::common::*;

pub(crate) const CONSUMER_KEY: &str = "ck-Zx81kQ";
pub(crate) const CONSUMER_SECRET: &str = "cs-SUPERSECRET-4711";
pub(crate) const TOKEN: &str = "12345-at-Tt9q";
pub(crate) const TOKEN_SECRET: &str = "ts-SUPERSECRET-0815";

fn env_with(consumer_secret: &str) -> impl Fn(&str) -> Option<String> + use<> {
    env_of(&[
        ("X_CONSUMER_KEY", CONSUMER_KEY),
        ("X_CONSUMER_SECRET", consumer_secret),
        ("X_ACCESS_TOKEN", TOKEN),
        ("X_ACCESS_TOKEN_SECRET", TOKEN_SECRET),
    ])
}

fn client_for(server: &MockServer, consumer_secret: &str, timeout: Duration) -> Channel {
    let cfg = config(&format!(
        "type: x\napi_base: {}\nconsumer_key_env: X_CONSUMER_KEY\nconsumer_secret_env: X_CONSUMER_SECRET\naccess_token_env: X_ACCESS_TOKEN\naccess_token_secret_env: X_ACCESS_TOKEN_SECRET\n",
        server.uri()
    ));
    let dir = std::env::temp_dir();
    let opts = ClientOptions {
        timeout,
        ..options(&dir)
    };
    Channel::from_config(&cfg, &env_with(consumer_secret), &opts).unwrap()
}

fn client(server: &MockServer) -> Channel {
    client_for(server, CONSUMER_SECRET, Duration::from_secs(5))
}

// --- the server side of OAuth 1.0a, written independently of the client ---------------------

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn pct(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Responds with `then` if the request carries a valid OAuth 1.0a signature for the known
/// credentials, else with X's 401. The JSON body is deliberately left out of the signature.
pub(crate) struct OAuthChecked {
    then: ResponseTemplate,
    seen_nonces: Arc<Mutex<HashSet<String>>>,
}

pub(crate) fn oauth_checked(then: ResponseTemplate) -> OAuthChecked {
    OAuthChecked {
        then,
        seen_nonces: Arc::default(),
    }
}

impl OAuthChecked {
    pub(crate) fn verify(&self, req: &Request) -> Result<(), String> {
        let header = req
            .headers
            .get("authorization")
            .ok_or("no Authorization header")?
            .to_str()
            .map_err(|e| e.to_string())?;
        let fields = header.strip_prefix("OAuth ").ok_or("not an OAuth header")?;
        let mut oauth = Vec::new();
        for field in fields.split(", ") {
            let (k, v) = field.split_once('=').ok_or("malformed field")?;
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or("unquoted")?;
            let v = percent_decode_str(v)
                .decode_utf8()
                .map_err(|e| e.to_string())?;
            oauth.push((k.to_owned(), v.into_owned()));
        }
        let get = |name: &str| {
            oauth
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or(format!("missing {name}"))
        };
        let mut names: Vec<&str> = oauth.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        if names
            != [
                "oauth_consumer_key",
                "oauth_nonce",
                "oauth_signature",
                "oauth_signature_method",
                "oauth_timestamp",
                "oauth_token",
                "oauth_version",
            ]
        {
            return Err(format!("unexpected header fields {names:?}"));
        }
        if get("oauth_consumer_key")? != CONSUMER_KEY || get("oauth_token")? != TOKEN {
            return Err("unknown consumer key or token".into());
        }
        if get("oauth_signature_method")? != "HMAC-SHA1" || get("oauth_version")? != "1.0" {
            return Err("unsupported signature method".into());
        }
        let ts: u64 = get("oauth_timestamp")?
            .parse()
            .map_err(|_| "bad timestamp")?;
        if ts.abs_diff(epoch_now()) > 300 {
            return Err("timestamp out of bounds".into());
        }
        let nonce = get("oauth_nonce")?;
        if nonce.len() < 16 || !self.seen_nonces.lock().unwrap().insert(nonce) {
            return Err("nonce reused or too short".into());
        }
        // Parameters: every oauth_* field except the signature, plus the query. Not the body.
        let mut params: Vec<(String, String)> = oauth
            .iter()
            .filter(|(k, _)| k != "oauth_signature")
            .map(|(k, v)| (pct(k), pct(v)))
            .collect();
        params.extend(req.url.query_pairs().map(|(k, v)| (pct(&k), pct(&v))));
        params.sort();
        let param_string = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        // The URL as the client addressed it: scheme and Host header, path, no query.
        let host = req
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .ok_or("no Host header")?;
        let base_url = format!("http://{host}{}", req.url.path());
        let base = format!(
            "{}&{}&{}",
            req.method.as_str(),
            pct(&base_url),
            pct(&param_string)
        );
        let key = format!("{}&{}", pct(CONSUMER_SECRET), pct(TOKEN_SECRET));
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(base.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        if get("oauth_signature")? == expected {
            Ok(())
        } else {
            Err("signature mismatch".into())
        }
    }
}

impl Respond for OAuthChecked {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match self.verify(req) {
            Ok(()) => self.then.clone(),
            Err(why) => ResponseTemplate::new(401)
                .insert_header("x-test-reason", why.as_str())
                .set_body_json(json!({
                    "title": "Unauthorized", "type": "about:blank", "status": 401,
                    "detail": "Unauthorized"
                })),
        }
    }
}

fn created(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({ "data": { "id": id, "text": "…" } }))
}

async fn mount(server: &MockServer, responder: impl Respond + 'static) {
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(responder)
        .mount(server)
        .await;
}

async fn last_body(server: &MockServer) -> Value {
    let requests = server.received_requests().await.unwrap();
    serde_json::from_slice(&requests.last().unwrap().body).unwrap()
}

#[tokio::test]
async fn posts_a_signed_tweet_with_an_unsigned_json_body() {
    let server = MockServer::start().await;
    mount(&server, oauth_checked(created("1861234567890"))).await;
    // Characters that need percent-encoding make a wrongly signed body show up as a mismatch.
    let text = "Störung behoben: Mobilfunk & SMS (100%) https://status.example/i/x";
    let remote = client(&server).send(&post("inc#0/x", text)).await.unwrap();
    assert_eq!(
        remote,
        Remote {
            id: "1861234567890".into(),
            url: Some("https://x.com/i/web/status/1861234567890".into()),
            cid: None,
        }
    );
    assert_eq!(last_body(&server).await, json!({ "text": text }));
    let requests = server.received_requests().await.unwrap();
    let ct = requests[0].headers.get("content-type").unwrap();
    assert_eq!(ct, "application/json");
}

#[tokio::test]
async fn reply_names_the_parent_tweet() {
    let server = MockServer::start().await;
    mount(&server, oauth_checked(created("2"))).await;
    let parent = Remote {
        id: "1".into(),
        url: None,
        cid: None,
    };
    let mut p = post("inc#1/x", "Update");
    p.reply_to = Some(&parent);
    p.root = Some(&parent);
    client(&server).send(&p).await.unwrap();
    assert_eq!(
        last_body(&server).await,
        json!({ "text": "Update", "reply": { "in_reply_to_tweet_id": "1" } })
    );
}

#[tokio::test]
async fn each_request_gets_a_fresh_nonce() {
    let server = MockServer::start().await;
    // The checker rejects a reused nonce, so two accepted posts prove two nonces.
    mount(&server, oauth_checked(created("3"))).await;
    let c = client(&server);
    c.send(&post("a#0/x", "one")).await.unwrap();
    c.send(&post("a#1/x", "two")).await.unwrap();
}

#[tokio::test]
async fn wrong_secret_is_rejected_with_the_servers_message_and_no_secret() {
    let server = MockServer::start().await;
    mount(&server, oauth_checked(created("4"))).await;
    let c = client_for(&server, "cs-WRONG-SECRET-1234", Duration::from_secs(5));
    let err = c.send(&post("a#0/x", "hello")).await.unwrap_err();
    let SendError::Rejected { status, message } = &err else {
        panic!("expected Rejected, got {err:?}");
    };
    assert_eq!(*status, 401);
    assert!(message.starts_with("Unauthorized"), "{message}");
    assert!(message.contains("X_CONSUMER_SECRET"), "{message}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("cs-WRONG-SECRET-1234") && !shown.contains(TOKEN_SECRET));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
}

#[tokio::test]
async fn check_signs_the_query_and_returns_the_username() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .respond_with(oauth_checked(ResponseTemplate::new(200).set_body_json(
            json!({ "data": { "id": "99", "name": "Fernwerk", "username": "fernwerk_status" } }),
        )))
        .mount(&server)
        .await;
    assert_eq!(client(&server).check().await.unwrap(), "@fernwerk_status");
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests[0].url.query().is_some(),
        "the query takes part in the signature"
    );
}

#[tokio::test]
async fn duplicate_content_is_reported_as_duplicate() {
    let server = MockServer::start().await;
    mount(
        &server,
        oauth_checked(ResponseTemplate::new(403).set_body_json(json!({
            "detail": "You are not allowed to create a Tweet with duplicate content.",
            "type": "about:blank", "title": "Forbidden", "status": 403
        }))),
    )
    .await;
    let err = client(&server)
        .send(&post("a#0/x", "same"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Duplicate { message } if message.contains("duplicate content")),
        "{err:?}"
    );
}

#[tokio::test]
async fn other_403_is_rejected_not_duplicate() {
    let server = MockServer::start().await;
    mount(
        &server,
        oauth_checked(ResponseTemplate::new(403).set_body_json(json!({
            "detail": "You are not permitted to perform this action.",
            "type": "about:blank", "title": "Forbidden", "status": 403
        }))),
    )
    .await;
    let err = client(&server).send(&post("a#0/x", "x")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Rejected {
            status: 403,
            message: "Forbidden: You are not permitted to perform this action.".into()
        }
    );
}

#[tokio::test]
async fn validation_error_is_rejected_with_detail() {
    let server = MockServer::start().await;
    mount(
        &server,
        oauth_checked(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{ "parameters": { "text": ["…"] }, "message": "Text is too long" }],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"
        }))),
    )
    .await;
    let err = client(&server).send(&post("a#0/x", "x")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { status: 400, message }
            if message.contains("One or more parameters")),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limit_reset_becomes_retry_after() {
    let server = MockServer::start().await;
    let reset = epoch_now() + 90;
    mount(
        &server,
        oauth_checked(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-limit", "100")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str())
                .set_body_json(json!({ "title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429 })),
        ),
    )
    .await;
    let err = client(&server).send(&post("a#0/x", "x")).await.unwrap_err();
    assert_about(
        retry_after(&err),
        Duration::from_secs(90),
        Duration::from_secs(2),
    );
}

#[tokio::test]
async fn exhausted_daily_cap_waits_for_its_own_reset() {
    let server = MockServer::start().await;
    let now = epoch_now();
    mount(
        &server,
        oauth_checked(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-remaining", "99")
                .insert_header("x-rate-limit-reset", (now + 60).to_string().as_str())
                .insert_header("x-user-limit-24hour-limit", "17")
                .insert_header("x-user-limit-24hour-remaining", "0")
                .insert_header(
                    "x-user-limit-24hour-reset",
                    (now + 7200).to_string().as_str(),
                ),
        ),
    )
    .await;
    let err = client(&server).send(&post("a#0/x", "x")).await.unwrap_err();
    assert_about(
        retry_after(&err),
        Duration::from_hours(2),
        Duration::from_secs(2),
    );
}

#[tokio::test]
async fn server_error_is_retry() {
    let server = MockServer::start().await;
    mount(&server, oauth_checked(ResponseTemplate::new(503))).await;
    let err = client(&server).send(&post("a#0/x", "x")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Retry {
            after: None,
            message: "HTTP 503 Service Unavailable".into()
        }
    );
}

#[tokio::test]
async fn timeout_after_sending_is_in_doubt_and_not_retried() {
    let server = MockServer::start().await;
    mount(
        &server,
        oauth_checked(created("5").set_delay(Duration::from_secs(3))),
    )
    .await;
    let c = client_for(&server, CONSUMER_SECRET, Duration::from_millis(150));
    let sleeper = FakeSleeper::default();
    let err = send_with_retry(&c, &post("a#0/x", "x"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::InDoubt { .. }), "{err:?}");
    assert!(sleeper.slept().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn connection_refused_is_retry() {
    // A port nobody listens on (wiremock recycles dropped servers, so take a fresh one).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let cfg = config(&format!(
        "type: x\napi_base: http://127.0.0.1:{port}\nconsumer_key_env: X_CONSUMER_KEY\nconsumer_secret_env: X_CONSUMER_SECRET\naccess_token_env: X_ACCESS_TOKEN\naccess_token_secret_env: X_ACCESS_TOKEN_SECRET\n"
    ));
    let c = Channel::from_config(
        &cfg,
        &env_with(CONSUMER_SECRET),
        &options(&std::env::temp_dir()),
    )
    .unwrap();
    let err = c.send(&post("a#0/x", "x")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Retry { message, .. } if message.starts_with("could not connect")),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("127.0.0.1"), "{err:?}");
}
