//! Mastodon: a local instance that checks the bearer token and records Idempotency-Keys.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::Digest;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::common::*;

const TOKEN: &str = "mastodon-token-SECRET-9f8e7d";

fn client(server: &MockServer) -> Channel {
    let cfg = config(&format!(
        "type: mastodon\ninstance: {}\ntoken_env: MASTODON_TOKEN\nvisibility: unlisted\nmax_chars: 500\n",
        server.uri()
    ));
    let env = env_of(&[("MASTODON_TOKEN", TOKEN)]);
    Channel::from_config(&cfg, &env, &options(&std::env::temp_dir())).unwrap()
}

/// Checks `Authorization: Bearer` like Mastodon does (401 with its error text), then answers.
struct BearerChecked(ResponseTemplate);

impl Respond for BearerChecked {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth == Some(&format!("Bearer {TOKEN}")) {
            self.0.clone()
        } else {
            ResponseTemplate::new(401)
                .set_body_json(json!({ "error": "The access token is invalid" }))
        }
    }
}

fn status_created(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": id,
        "uri": format!("https://social.example/users/fernwerk/statuses/{id}"),
        "url": format!("https://social.example/@fernwerk/{id}"),
        "content": "<p>…</p>",
    }))
}

async fn mount_statuses(
    server: &MockServer,
    responder: impl Respond + 'static,
    times: Option<u64>,
) {
    let mut mock = Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(responder);
    if let Some(n) = times {
        mock = mock.up_to_n_times(n).with_priority(1);
    }
    mock.mount(server).await;
}

fn idempotency_keys(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .expect("Idempotency-Key header")
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn posts_a_status_with_bearer_language_visibility_and_idempotency_key() {
    let server = MockServer::start().await;
    mount_statuses(&server, BearerChecked(status_created("1001")), None).await;
    let remote = client(&server)
        .send(&post(
            "2026-11-20-mobilfunk#0/mastodon",
            "Störung im Mobilfunk",
        ))
        .await
        .unwrap();
    assert_eq!(
        remote,
        Remote {
            id: "1001".into(),
            url: Some("https://social.example/@fernwerk/1001".into()),
            cid: None
        }
    );
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body,
        json!({ "status": "Störung im Mobilfunk", "language": "de", "visibility": "unlisted" })
    );
    let expected_key = hex(&sha2::Sha256::digest(b"2026-11-20-mobilfunk#0/mastodon"));
    assert_eq!(idempotency_keys(&requests), [expected_key]);
}

#[tokio::test]
async fn reply_sets_in_reply_to_id() {
    let server = MockServer::start().await;
    mount_statuses(&server, BearerChecked(status_created("1002")), None).await;
    let parent = Remote {
        id: "1001".into(),
        url: None,
        cid: None,
    };
    let mut p = post("inc#1/mastodon", "Update");
    p.reply_to = Some(&parent);
    client(&server).send(&p).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["in_reply_to_id"], "1001");
}

#[tokio::test]
async fn idempotency_key_is_stable_across_retries_and_distinct_per_post() {
    let server = MockServer::start().await;
    mount_statuses(&server, ResponseTemplate::new(500), Some(1)).await;
    mount_statuses(&server, BearerChecked(status_created("1003")), None).await;
    let c = client(&server);
    let sleeper = FakeSleeper::default();
    let remote = send_with_retry(&c, &post("inc#0/mastodon", "a"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap();
    assert_eq!(remote.id, "1003");
    assert_eq!(sleeper.slept().len(), 1);
    c.send(&post("inc#1/mastodon", "b")).await.unwrap();
    let keys = idempotency_keys(&server.received_requests().await.unwrap());
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0], keys[1], "a retry re-uses the key");
    assert_ne!(keys[1], keys[2], "another post gets another key");
}

#[tokio::test]
async fn invalid_token_is_rejected_with_the_servers_error() {
    let server = MockServer::start().await;
    mount_statuses(&server, BearerChecked(status_created("1")), None).await;
    let cfg = config(&format!(
        "type: mastodon\ninstance: {}\ntoken_env: MASTODON_TOKEN\n",
        server.uri()
    ));
    let env = env_of(&[("MASTODON_TOKEN", "wrong-token-SECRET")]);
    let c = Channel::from_config(&cfg, &env, &options(&std::env::temp_dir())).unwrap();
    let err = c.send(&post("a#0/mastodon", "x")).await.unwrap_err();
    let SendError::Rejected { status, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 401);
    assert!(
        message.starts_with("The access token is invalid"),
        "{message}"
    );
    assert!(message.contains("MASTODON_TOKEN"));
    assert!(!format!("{err:?}").contains("wrong-token-SECRET"));
}

#[tokio::test]
async fn validation_failure_is_rejected() {
    let server = MockServer::start().await;
    mount_statuses(
        &server,
        BearerChecked(ResponseTemplate::new(422).set_body_json(
            json!({ "error": "Validation failed: Text character limit of 500 exceeded" }),
        )),
        None,
    )
    .await;
    let err = client(&server)
        .send(&post("a#0/mastodon", "x"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Rejected {
            status: 422,
            message: "Validation failed: Text character limit of 500 exceeded".into()
        }
    );
}

#[tokio::test]
async fn rate_limit_reset_iso8601_becomes_retry_after() {
    let server = MockServer::start().await;
    let reset = Utc::now() + chrono::Duration::seconds(45);
    mount_statuses(
        &server,
        BearerChecked(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Limit", "300")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header(
                    "X-RateLimit-Reset",
                    reset.to_rfc3339_opts(SecondsFormat::Micros, true).as_str(),
                )
                .set_body_json(json!({ "error": "Too many requests" })),
        ),
        None,
    )
    .await;
    let err = client(&server)
        .send(&post("a#0/mastodon", "x"))
        .await
        .unwrap_err();
    assert_about(
        retry_after(&err),
        Duration::from_secs(45),
        Duration::from_secs(2),
    );
}

#[tokio::test]
async fn timeout_is_retry_because_the_key_makes_resending_safe() {
    let server = MockServer::start().await;
    mount_statuses(
        &server,
        BearerChecked(status_created("1").set_delay(Duration::from_secs(3))),
        None,
    )
    .await;
    let cfg = config(&format!(
        "type: mastodon\ninstance: {}\ntoken_env: MASTODON_TOKEN\n",
        server.uri()
    ));
    let opts = ClientOptions {
        timeout: Duration::from_millis(150),
        ..options(&std::env::temp_dir())
    };
    let c = Channel::from_config(&cfg, &env_of(&[("MASTODON_TOKEN", TOKEN)]), &opts).unwrap();
    let err = c.send(&post("a#0/mastodon", "x")).await.unwrap_err();
    assert!(
        matches!(err, SendError::Retry { after: None, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn check_verifies_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .respond_with(BearerChecked(ResponseTemplate::new(200).set_body_json(
            json!({ "id": "7", "username": "fernwerk", "acct": "fernwerk", "display_name": "Fernwerk" }),
        )))
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(c.check().await.unwrap(), "@fernwerk@127.0.0.1");
}
