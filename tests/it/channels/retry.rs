//! `send_with_retry`: waits only through the injected sleeper and only within the budget.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::channels::common::*;

fn mastodon(server: &MockServer) -> Channel {
    let cfg = config(&format!(
        "type: mastodon\ninstance: {}\ntoken_env: MASTODON_TOKEN\n",
        server.uri()
    ));
    let env = env_of(&[("MASTODON_TOKEN", "tok")]);
    Channel::from_config(&cfg, &env, &options(&std::env::temp_dir())).unwrap()
}

async fn answer_once(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(response)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
}

async fn answer_always(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(response)
        .with_priority(2)
        .mount(server)
        .await;
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "id": "1", "url": "https://m.example/@a/1" }))
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_backoff() {
    let server = MockServer::start().await;
    answer_once(&server, ResponseTemplate::new(500)).await;
    answer_once(&server, ResponseTemplate::new(502)).await;
    answer_always(&server, ok()).await;
    let c = mastodon(&server);
    let sleeper = FakeSleeper::default();
    let remote = send_with_retry(&c, &post("k#0/m", "t"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap();
    assert_eq!(remote.id, "1");
    let slept = sleeper.slept();
    assert_eq!(slept.len(), 2);
    assert!(
        slept[0] >= Duration::from_millis(500) && slept[0] <= Duration::from_secs(1),
        "{slept:?}"
    );
    assert!(
        slept[1] >= Duration::from_secs(1) && slept[1] <= Duration::from_secs(2),
        "{slept:?}"
    );
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn server_given_reset_is_honoured() {
    let server = MockServer::start().await;
    answer_once(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "5"),
    )
    .await;
    answer_always(&server, ok()).await;
    let c = mastodon(&server);
    let sleeper = FakeSleeper::default();
    send_with_retry(&c, &post("k#0/m", "t"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap();
    let slept = sleeper.slept();
    assert_eq!(slept.len(), 1);
    assert_about(
        slept[0],
        Duration::from_millis(5250),
        Duration::from_millis(250),
    );
}

#[tokio::test]
async fn reset_beyond_the_budget_returns_the_retry_error_at_once() {
    let server = MockServer::start().await;
    answer_always(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "120"),
    )
    .await;
    let c = mastodon(&server);
    let sleeper = FakeSleeper::default();
    let err = send_with_retry(&c, &post("k#0/m", "t"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap_err();
    assert_eq!(retry_after(&err), Duration::from_mins(2));
    assert!(sleeper.slept().is_empty());
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn persistent_failure_stops_when_the_budget_is_spent() {
    let server = MockServer::start().await;
    answer_always(&server, ResponseTemplate::new(503)).await;
    let c = mastodon(&server);
    let sleeper = FakeSleeper::default();
    let budget = Duration::from_secs(20);
    let err = send_with_retry(&c, &post("k#0/m", "t"), budget, &sleeper)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Retry { .. }), "{err:?}");
    let slept = sleeper.slept();
    let total: Duration = slept.iter().sum();
    assert!(total <= budget, "{slept:?}");
    assert!(
        slept.len() >= 3,
        "retried until the budget ran out: {slept:?}"
    );
    assert_eq!(requests(&server).await, slept.len() + 1);
}

#[tokio::test]
async fn rejections_are_not_retried() {
    let server = MockServer::start().await;
    answer_always(
        &server,
        ResponseTemplate::new(401).set_body_json(json!({ "error": "The access token is invalid" })),
    )
    .await;
    let c = mastodon(&server);
    let sleeper = FakeSleeper::default();
    let err = send_with_retry(&c, &post("k#0/m", "t"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert!(sleeper.slept().is_empty());
    assert_eq!(requests(&server).await, 1);
}
