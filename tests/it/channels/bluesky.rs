//! Bluesky: a local PDS with sessions, token expiry and record validation.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::Digest;
use unicode_segmentation::UnicodeSegmentation;
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::channels::common::*;

pub(crate) const HANDLE: &str = "fernwerk.bsky.social";
pub(crate) const PASSWORD: &str = "abcd-efgh-ijkl-mnop";
pub(crate) const DID: &str = "did:plc:fernwerk7xq2";

#[derive(Default)]
pub(crate) struct Pds {
    pub(crate) seq: u32,
    pub(crate) access: String,
    pub(crate) refresh: String,
    pub(crate) access_expired: bool,
    pub(crate) refresh_expired: bool,
    pub(crate) create_session_calls: u32,
    pub(crate) refresh_calls: u32,
    pub(crate) get_record_calls: u32,
    /// rkey → (record, cid)
    pub(crate) records: BTreeMap<String, (Value, String)>,
    /// Bodies of every putRecord request that passed authentication.
    pub(crate) puts: Vec<Value>,
    /// Answers for the next putRecord requests, before any processing.
    pub(crate) put_failures: VecDeque<ResponseTemplate>,
}

#[derive(Clone, Default)]
pub(crate) struct FakePds(Arc<Mutex<Pds>>);

fn xrpc_error(status: u16, error: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "error": error, "message": message }))
}

fn is_tid(s: &str) -> bool {
    const ALPHABET: &str = "234567abcdefghijklmnopqrstuvwxyz";
    s.len() == 13 && s.chars().all(|c| ALPHABET.contains(c)) && "234567abcdefghij".contains(&s[..1])
}

fn strong_ref_ok(v: &Value) -> bool {
    v["uri"].as_str().is_some_and(|u| u.starts_with("at://")) && v["cid"].as_str().is_some()
}

impl FakePds {
    pub(crate) fn state(&self) -> MutexGuard<'_, Pds> {
        self.0.lock().unwrap()
    }

    fn bearer(req: &Request) -> Option<String> {
        let v = req.headers.get("authorization")?.to_str().ok()?;
        v.strip_prefix("Bearer ").map(str::to_owned)
    }

    fn issue(s: &mut Pds) -> ResponseTemplate {
        s.seq += 1;
        s.access = format!("access-jwt-{}", s.seq);
        s.refresh = format!("refresh-jwt-{}", s.seq);
        s.access_expired = false;
        s.refresh_expired = false;
        ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": s.access, "refreshJwt": s.refresh,
            "handle": HANDLE, "did": DID, "active": true,
        }))
    }

    /// Checks the access token like a PDS: `None` if fine, else the error answer.
    fn authenticate(s: &Pds, req: &Request) -> Option<ResponseTemplate> {
        match Self::bearer(req) {
            None => Some(xrpc_error(
                401,
                "AuthenticationRequired",
                "Authentication Required",
            )),
            Some(t) if t == s.access && s.access_expired => {
                Some(xrpc_error(400, "ExpiredToken", "Token has expired"))
            }
            Some(t) if t == s.access => None,
            Some(_) => Some(xrpc_error(
                400,
                "InvalidToken",
                "Token could not be verified",
            )),
        }
    }

    fn create_session(s: &mut Pds, req: &Request) -> ResponseTemplate {
        s.create_session_calls += 1;
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        if body["identifier"] == HANDLE && body["password"] == PASSWORD {
            Self::issue(s)
        } else {
            xrpc_error(
                401,
                "AuthenticationRequired",
                "Invalid identifier or password",
            )
        }
    }

    fn refresh_session(s: &mut Pds, req: &Request) -> ResponseTemplate {
        s.refresh_calls += 1;
        // The XRPC server refuses a body on a procedure that takes no input.
        if !req.body.is_empty() || req.headers.contains_key("content-type") {
            return xrpc_error(
                400,
                "InvalidRequest",
                "A request body was provided when none was expected",
            );
        }
        match Self::bearer(req) {
            Some(t) if t == s.refresh && !s.refresh_expired => Self::issue(s),
            Some(t) if t == s.refresh => xrpc_error(400, "ExpiredToken", "Token has expired"),
            _ => xrpc_error(400, "InvalidToken", "Token could not be verified"),
        }
    }

    fn put_record(s: &mut Pds, req: &Request) -> ResponseTemplate {
        if let Some(denied) = Self::authenticate(s, req) {
            return denied;
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        s.puts.push(body.clone());
        if let Some(failure) = s.put_failures.pop_front() {
            return failure;
        }
        if body["repo"] != DID || body["collection"] != "app.bsky.feed.post" {
            return xrpc_error(400, "InvalidRequest", "Invalid repo or collection");
        }
        let rkey = body["rkey"].as_str().unwrap_or_default().to_owned();
        if !is_tid(&rkey) {
            return xrpc_error(400, "InvalidRequest", "Invalid record key: must be a TID");
        }
        let record = &body["record"];
        let text = record["text"].as_str().unwrap_or_default();
        let invalid = |m: &str| {
            xrpc_error(
                400,
                "InvalidRecord",
                &format!("Invalid app.bsky.feed.post record: {m}"),
            )
        };
        if record["$type"] != "app.bsky.feed.post" {
            return invalid("Record/$type must be app.bsky.feed.post");
        }
        if text.graphemes(true).count() > 300 || text.len() > 3000 {
            return invalid("Record/text must not be longer than 300 graphemes");
        }
        let created = record["createdAt"].as_str().unwrap_or_default();
        if chrono::DateTime::parse_from_rfc3339(created).is_err() {
            return invalid("Record/createdAt must be an valid atproto datetime");
        }
        if let Some(reply) = record.get("reply")
            && !(strong_ref_ok(&reply["root"]) && strong_ref_ok(&reply["parent"]))
        {
            return invalid("Record/reply must have root and parent strong refs");
        }
        let digest = sha2::Sha256::digest(serde_json::to_vec(record).unwrap());
        let cid = format!("bafyrei{}", &hex(&digest)[..33]);
        s.records
            .insert(rkey.clone(), (record.clone(), cid.clone()));
        ResponseTemplate::new(200).set_body_json(json!({
            "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"),
            "cid": cid,
            "commit": { "cid": "bafyreicommit", "rev": "3l2abcdefgh22" },
            "validationStatus": "valid",
        }))
    }

    fn get_record(s: &mut Pds, req: &Request) -> ResponseTemplate {
        s.get_record_calls += 1;
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let (repo, collection, rkey) = (&q["repo"], &q["collection"], &q["rkey"]);
        match s.records.get(rkey) {
            Some((value, cid)) if repo == DID && collection == "app.bsky.feed.post" => {
                ResponseTemplate::new(200).set_body_json(json!({
                    "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"),
                    "cid": cid, "value": value,
                }))
            }
            _ => xrpc_error(
                400,
                "RecordNotFound",
                &format!("Could not locate record: at://{repo}/{collection}/{rkey}"),
            ),
        }
    }
}

impl Respond for FakePds {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state();
        let nsid = req.url.path().trim_start_matches("/xrpc/");
        match (req.method.as_str(), nsid) {
            ("POST", "com.atproto.server.createSession") => Self::create_session(&mut s, req),
            ("POST", "com.atproto.server.refreshSession") => Self::refresh_session(&mut s, req),
            ("GET", "com.atproto.server.getSession") => {
                Self::authenticate(&s, req).unwrap_or_else(|| {
                    ResponseTemplate::new(200)
                        .set_body_json(json!({ "handle": HANDLE, "did": DID }))
                })
            }
            ("POST", "com.atproto.repo.putRecord") => Self::put_record(&mut s, req),
            ("GET", "com.atproto.repo.getRecord") => Self::get_record(&mut s, req),
            _ => xrpc_error(501, "MethodNotImplemented", "Method Not Implemented"),
        }
    }
}

pub(crate) async fn pds() -> (MockServer, FakePds) {
    let server = MockServer::start().await;
    let fake = FakePds::default();
    Mock::given(path_regex("^/xrpc/"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

fn client_with(server: &MockServer, state_dir: &std::path::Path, password: &str) -> Channel {
    let cfg = config(&format!(
        "type: bluesky\nservice: {}\nidentifier_env: BLUESKY_HANDLE\npassword_env: BLUESKY_APP_PASSWORD\n",
        server.uri()
    ));
    let env = env_of(&[
        ("BLUESKY_HANDLE", HANDLE),
        ("BLUESKY_APP_PASSWORD", password),
    ]);
    Channel::from_config(&cfg, &env, &options(state_dir)).unwrap()
}

fn client(server: &MockServer, state_dir: &std::path::Path) -> Channel {
    client_with(server, state_dir, PASSWORD)
}

fn session_file(dir: &std::path::Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("bluesky-session-")
        })
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[tokio::test]
async fn session_is_cached_and_shared_by_clients_of_one_state_dir() {
    let (server, pds) = pds().await;
    let dir = tempfile::tempdir().unwrap();
    client(&server, dir.path())
        .send(&post("inc#0/bluesky", "eins"))
        .await
        .unwrap();
    // A second client (the next cron run) reuses the cached session.
    client(&server, dir.path())
        .send(&post("inc#1/bluesky", "zwei"))
        .await
        .unwrap();
    assert_eq!(pds.state().create_session_calls, 1);
    assert_eq!(pds.state().puts.len(), 2);
    let file = session_file(dir.path());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let cached = std::fs::read_to_string(&file).unwrap();
    assert!(
        !cached.contains(PASSWORD),
        "the app password is never cached"
    );
}

#[tokio::test]
async fn expired_token_is_refreshed_with_an_empty_body() {
    let (server, pds) = pds().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&server, dir.path());
    c.send(&post("inc#0/bluesky", "eins")).await.unwrap();
    pds.state().access_expired = true;
    c.send(&post("inc#1/bluesky", "zwei")).await.unwrap();
    {
        let s = pds.state();
        assert_eq!(s.refresh_calls, 1);
        assert_eq!(s.create_session_calls, 1);
        assert_eq!(s.records.len(), 2);
    }
    // The refreshed session was written to the cache: a new client needs no login.
    client(&server, dir.path())
        .send(&post("inc#2/bluesky", "drei"))
        .await
        .unwrap();
    assert_eq!(pds.state().create_session_calls, 1);
    assert_eq!(pds.state().refresh_calls, 1);
}

#[tokio::test]
async fn failed_refresh_logs_in_again() {
    let (server, pds) = pds().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&server, dir.path());
    c.send(&post("inc#0/bluesky", "eins")).await.unwrap();
    {
        let mut s = pds.state();
        s.access_expired = true;
        s.refresh_expired = true;
    }
    c.send(&post("inc#1/bluesky", "zwei")).await.unwrap();
    let s = pds.state();
    assert_eq!(s.refresh_calls, 1);
    assert_eq!(s.create_session_calls, 2);
    assert_eq!(s.records.len(), 2);
}

#[tokio::test]
async fn put_record_carries_the_documented_fields() {
    let (server, pds) = pds().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&server, dir.path());
    let root = c.send(&post("inc#0/bluesky", "Störung")).await.unwrap();
    let parent = c.send(&post("inc#1/bluesky", "Update 1")).await.unwrap();
    let facet = json!({
        "index": { "byteStart": 9, "byteEnd": 37 },
        "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": "https://status.example/i/a" }]
    });
    let text = "Behoben: https://status.example/i/a";
    let mut p = post("inc#2/bluesky", text);
    p.language = "en";
    p.reply_to = Some(&parent);
    p.root = Some(&root);
    p.facets = vec![facet.clone()];
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let remote = c.send(&p).await.unwrap();

    let s = pds.state();
    let body = s.puts.last().unwrap();
    let rkey = body["rkey"].as_str().unwrap();
    assert!(is_tid(rkey), "{rkey}");
    assert_eq!(body["repo"], DID);
    assert_eq!(body["collection"], "app.bsky.feed.post");
    let record = &body["record"];
    assert_eq!(record["$type"], "app.bsky.feed.post");
    assert_eq!(record["text"], text);
    assert_eq!(record["langs"], json!(["en"]));
    assert_eq!(record["facets"], json!([facet]));
    assert_eq!(
        record["reply"],
        json!({
            "root": { "uri": root.id, "cid": root.cid.clone().unwrap() },
            "parent": { "uri": parent.id, "cid": parent.cid.clone().unwrap() },
        })
    );
    let created = record["createdAt"].as_str().unwrap();
    assert_eq!(created.len(), "2026-11-20T08:12:00.000Z".len(), "{created}");
    assert!(
        created.ends_with('Z') && created.as_bytes()[19] == b'.',
        "{created}"
    );
    let created = chrono::DateTime::parse_from_rfc3339(created).unwrap();
    assert!(created >= before && created <= chrono::Utc::now() + chrono::Duration::seconds(1));

    assert_eq!(remote.id, format!("at://{DID}/app.bsky.feed.post/{rkey}"));
    assert_eq!(
        remote.url.as_deref(),
        Some(format!("https://bsky.app/profile/{DID}/post/{rkey}").as_str())
    );
    assert_eq!(remote.cid.as_deref(), Some(s.records[rkey].1.as_str()));
    // The first post has neither reply nor facets.
    assert!(s.puts[0]["record"].get("reply").is_none());
    assert!(s.puts[0]["record"].get("facets").is_none());
}

#[tokio::test]
async fn reply_to_a_post_without_cid_looks_the_cid_up() {
    let (server, pds) = pds().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&server, dir.path());
    let root = c.send(&post("inc#0/bluesky", "eins")).await.unwrap();
    let known = Remote {
        cid: None,
        ..root.clone()
    };
    let mut p = post("inc#1/bluesky", "zwei");
    p.reply_to = Some(&known);
    c.send(&p).await.unwrap();
    let s = pds.state();
    assert_eq!(s.get_record_calls, 1);
    assert_eq!(
        s.puts[1]["record"]["reply"]["parent"]["cid"],
        json!(root.cid)
    );
}

#[tokio::test]
async fn retry_rewrites_the_same_record_key() {
    let (server, pds) = pds().await;
    pds.state().put_failures.push_back(xrpc_error(
        500,
        "InternalServerError",
        "Internal Server Error",
    ));
    let dir = tempfile::tempdir().unwrap();
    let c = client(&server, dir.path());
    let sleeper = FakeSleeper::default();
    let remote = send_with_retry(&c, &post("inc#0/bluesky", "eins"), DEFAULT_BUDGET, &sleeper)
        .await
        .unwrap();
    let s = pds.state();
    assert_eq!(s.puts.len(), 2);
    assert_eq!(s.puts[0]["rkey"], s.puts[1]["rkey"]);
    assert_eq!(s.records.len(), 1);
    assert!(remote.id.ends_with(s.puts[0]["rkey"].as_str().unwrap()));
    assert_eq!(
        s.get_record_calls, 1,
        "the retry first looks for the record"
    );
    assert_eq!(sleeper.slept().len(), 1);
}

#[tokio::test]
async fn in_doubt_post_that_exists_is_not_written_again() {
    let (server, pds) = pds().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&server, dir.path());
    let first = c.send(&post("inc#0/bluesky", "eins")).await.unwrap();
    let mut again = post("inc#0/bluesky", "eins");
    again.in_doubt = true;
    let second = c.send(&again).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(pds.state().puts.len(), 1);
}

#[tokio::test]
async fn rate_limit_reset_and_retry_after_become_retry_after() {
    let (server, pds) = pds().await;
    let reset = epoch_now() + 40;
    pds.state().put_failures.extend([
        xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            .insert_header("RateLimit-Limit", "5000")
            .insert_header("RateLimit-Remaining", "0")
            .insert_header("RateLimit-Reset", reset.to_string().as_str())
            .insert_header("RateLimit-Policy", "5000;w=3600"),
        xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            .insert_header("Retry-After", "12"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let c = client(&server, dir.path());
    let err = c.send(&post("inc#0/bluesky", "eins")).await.unwrap_err();
    assert_about(
        retry_after(&err),
        Duration::from_secs(40),
        Duration::from_secs(2),
    );
    let err = c.send(&post("inc#0/bluesky", "eins")).await.unwrap_err();
    assert_eq!(retry_after(&err), Duration::from_secs(12));
}

#[tokio::test]
async fn wrong_password_is_rejected_with_the_servers_message() {
    let (server, pds) = pds().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client_with(&server, dir.path(), "wrong-pass-word-SECRET");
    let err = c.send(&post("inc#0/bluesky", "eins")).await.unwrap_err();
    let SendError::Rejected { status, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 401);
    assert!(
        message.starts_with("AuthenticationRequired: Invalid identifier or password"),
        "{message}"
    );
    assert!(message.contains("BLUESKY_APP_PASSWORD"));
    assert!(!format!("{err} {err:?}").contains("wrong-pass-word-SECRET"));
    // Further posts of the same run do not try the refused password again.
    let again = c.send(&post("inc#1/bluesky", "zwei")).await.unwrap_err();
    assert_eq!(again, err);
    assert_eq!(pds.state().create_session_calls, 1);
    assert!(pds.state().puts.is_empty());
}

#[tokio::test]
async fn text_over_300_graphemes_is_rejected_by_the_server() {
    let (server, _pds) = pds().await;
    let dir = tempfile::tempdir().unwrap();
    // 301 graphemes, each of several code points: byte or char counts would disagree.
    let long = "👩‍🚒".repeat(301);
    let err = client(&server, dir.path())
        .send(&post("inc#0/bluesky", &long))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { status: 400, message } if message.contains("300 graphemes")),
        "{err:?}"
    );
    // 300 of them pass (the text is 3000 bytes at most).
    let ok = "é".repeat(300);
    client(&server, dir.path())
        .send(&post("inc#1/bluesky", &ok))
        .await
        .unwrap();
}

#[tokio::test]
async fn check_returns_the_handle() {
    let (server, pds) = pds().await;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        client(&server, dir.path()).check().await.unwrap(),
        format!("@{HANDLE}")
    );
    assert!(pds.state().puts.is_empty());
}
