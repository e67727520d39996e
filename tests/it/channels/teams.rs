//! Microsoft Teams: a local Workflows trigger that checks the URL's signature, takes the request
//! with `202 Accepted` and no body, and then does what the flow's "post card" step does: read
//! the message's Adaptive Card attachment.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::common::*;
use crate::channels::slack::assert_clean;

const SIG: &str = "Zk3-TEAMSsignature-8a7b6c5d4e";
const TRIGGER: &str = "/workflows/0f1e2d3c4b5a/triggers/manual/paths/invoke";

#[derive(Default)]
struct Flow {
    /// Cards the flow posted (the texts of the card's `TextBlock`s).
    posted: Vec<String>,
    /// Requests the flow accepted but could not post (it fails after answering 202).
    failed_runs: Vec<String>,
    deleted: bool,
    queued: VecDeque<ResponseTemplate>,
}

#[derive(Clone, Default)]
struct FakeTeams(Arc<Mutex<Flow>>);

impl FakeTeams {
    fn state(&self) -> MutexGuard<'_, Flow> {
        self.0.lock().unwrap()
    }
}

fn logic_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({ "error": { "code": code, "message": message } }))
}

/// What the flow's "Post card in a chat or channel" step needs: one Adaptive Card attachment.
fn card_text(body: &Value) -> Result<String, String> {
    if body["type"] != "message" {
        return Err("type is not message".into());
    }
    let attachments = body["attachments"].as_array().ok_or("no attachments")?;
    let [card] = attachments.as_slice() else {
        return Err("not exactly one attachment".into());
    };
    if card["contentType"] != "application/vnd.microsoft.card.adaptive" {
        return Err("not an adaptive card".into());
    }
    let content = &card["content"];
    if content["type"] != "AdaptiveCard" || content["version"].as_str().is_none() {
        return Err("content is not an AdaptiveCard with a version".into());
    }
    let blocks = content["body"].as_array().ok_or("no body")?;
    let texts: Vec<&str> = blocks
        .iter()
        .filter(|b| b["type"] == "TextBlock" && b["wrap"] == true)
        .filter_map(|b| b["text"].as_str())
        .collect();
    if texts.is_empty() {
        return Err("no wrapping TextBlock".into());
    }
    Ok(texts.join("\n"))
}

impl Respond for FakeTeams {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state();
        if req.url.path() != TRIGGER || s.deleted {
            return logic_error(404, "WorkflowNotFound", "The workflow was not found.");
        }
        let sig = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "sig")
            .map(|(_, v)| v.into_owned());
        if sig.as_deref() != Some(SIG) {
            return logic_error(
                401,
                "DirectApiInvalidAuthorizationSignature",
                "The provided authorization signature is not valid.",
            );
        }
        if let Some(r) = s.queued.pop_front() {
            return r;
        }
        match serde_json::from_slice::<Value>(&req.body)
            .map_err(|e| e.to_string())
            .and_then(|b| card_text(&b))
        {
            Ok(text) => s.posted.push(text),
            Err(why) => s.failed_runs.push(why),
        }
        ResponseTemplate::new(202)
    }
}

async fn teams() -> (MockServer, FakeTeams) {
    let server = MockServer::start().await;
    let fake = FakeTeams::default();
    Mock::given(method("POST"))
        .and(path_regex("^/workflows/"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

fn url(server: &MockServer, sig: &str) -> String {
    format!(
        "{}{TRIGGER}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}",
        server.uri()
    )
}

fn client_with(server: &MockServer, sig: &str, timeout: Duration) -> Channel {
    let cfg = config("type: teams\nwebhook_url_env: TEAMS_WEBHOOK_URL\n");
    let opts = ClientOptions {
        timeout,
        ..options(&std::env::temp_dir())
    };
    Channel::from_config(
        &cfg,
        &env_of(&[("TEAMS_WEBHOOK_URL", &url(server, sig))]),
        &opts,
    )
    .unwrap()
}

fn client(server: &MockServer) -> Channel {
    client_with(server, SIG, Duration::from_secs(5))
}

#[tokio::test]
async fn posts_an_adaptive_card_and_gets_no_id() {
    let (server, fake) = teams().await;
    let text =
        "[Störung] API <v2> & Co: Anfragen schlagen fehl. https://status.example/incidents/x/";
    let c = client(&server);
    let remote = c.send(&post("a#0/teams", text)).await.unwrap();
    assert_eq!(remote.id, "", "workflows answer 202 without an id");
    let requests = server.received_requests().await.unwrap();
    let s = fake.state();
    assert_eq!(s.failed_runs, Vec::<String>::new());
    assert_eq!(s.posted, [text]);
    drop(s);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let card = &body["attachments"][0]["content"];
    assert_eq!(card["version"], "1.4");
    assert_eq!(card["lang"], "de");
    assert_eq!(card["body"][0]["wrap"], true);
    assert!(
        requests[0]
            .url
            .query()
            .unwrap()
            .contains("api-version=2016-06-01"),
        "the URL's query is kept"
    );
    assert!(!c.resend_is_idempotent());
}

#[tokio::test]
async fn a_wrong_signature_or_deleted_flow_is_unusable_and_the_url_never_shown() {
    let (server, fake) = teams().await;
    let err = client_with(&server, "bad-SIGNATURE-0000000", Duration::from_secs(5))
        .send(&post("a#0/teams", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Unusable { status: 401, message } if message.contains("DirectApiInvalidAuthorizationSignature") && message.contains("TEAMS_WEBHOOK_URL")),
        "{err:?}"
    );
    assert_clean(&err, &["bad-SIGNATURE-0000000"]);
    fake.state().deleted = true;
    let c = client(&server);
    let err = c.send(&post("a#0/teams", "x")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Unusable { status: 404, message } if message.contains("deleted")),
        "{err:?}"
    );
    assert_clean(&err, &[SIG, &url(&server, SIG)]);
    assert!(!format!("{c:?}").contains(SIG));
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let (server, fake) = teams().await;
    fake.state().queued.extend([
        logic_error(429, "WorkflowRequestsThrottled", "Rate limit is exceeded.")
            .insert_header("Retry-After", "12"),
        logic_error(502, "BadGateway", "…"),
        logic_error(
            400,
            "InvalidRequestContent",
            "The request content is not valid JSON.",
        ),
    ]);
    let c = client(&server);
    let err = c.send(&post("a#0/teams", "x")).await.unwrap_err();
    assert_eq!(retry_after(&err), Duration::from_secs(12));
    let err = c.send(&post("a#0/teams", "x")).await.unwrap_err();
    assert!(
        matches!(err, SendError::Retry { after: None, .. }),
        "{err:?}"
    );
    let err = c.send(&post("a#0/teams", "x")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Rejected {
            status: 400,
            message: "InvalidRequestContent: The request content is not valid JSON.".into()
        }
    );
}

#[tokio::test]
async fn timeout_is_in_doubt() {
    let (server, fake) = teams().await;
    fake.state()
        .queued
        .push_back(ResponseTemplate::new(202).set_delay(Duration::from_secs(3)));
    let c = client_with(&server, SIG, Duration::from_millis(200));
    let err = c.send(&post("a#0/teams", "x")).await.unwrap_err();
    assert!(matches!(err, SendError::InDoubt { .. }), "{err:?}");
    assert_clean(&err, &[SIG]);
}

#[tokio::test]
async fn check_does_not_post() {
    let (server, fake) = teams().await;
    let shown = client(&server).check().await.unwrap();
    assert!(
        shown.contains("cannot be checked without posting"),
        "{shown}"
    );
    assert!(fake.state().posted.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}
