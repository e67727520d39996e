//! Bluesky: XRPC against the account's service (PDS or the bsky.social entryway).
//!
//! - Session: `com.atproto.server.createSession` with the handle and an app password, cached in
//!   `{state_dir}/bluesky-session-<hash>.json` (mode 0600) so that a per-minute cron does not log
//!   in every run (createSession allows 30 per 5 minutes and 300 per day). On `ExpiredToken` the
//!   client calls `refreshSession` (refresh JWT as bearer, no body), and logs in again only if
//!   that fails.
//! - Post: `com.atproto.repo.putRecord` with a record key derived from the post key, so a retry
//!   writes the same record instead of a second post. When the post is in doubt the record is
//!   looked up first and, if it exists, returned without writing.

use chrono::{SecondsFormat, Utc};
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

use super::{
    BlueskyConfig, ClientOptions, ConfigError, Outgoing, Remote, Reply, Secret, SendError,
    base_url, classify_status, endpoint, epoch_reset, execute, http_client, json_str, retry_after,
    scrub, secret_from_env, sha256_hex, transport_error,
};

const POST_COLLECTION: &str = "app.bsky.feed.post";

/// A client for one Bluesky account.
#[derive(Debug)]
pub struct BlueskyClient {
    http: reqwest::Client,
    service: Url,
    identifier: String,
    password: Secret,
    /// Names of the variables to check when the login is refused.
    env_names: String,
    cache_path: PathBuf,
    session: tokio::sync::Mutex<Option<Session>>,
    /// A refused login is not repeated by this client (one run): createSession is rate-limited
    /// and repeated wrong passwords can lock the account.
    login_refused: std::sync::OnceLock<SendError>,
}

#[derive(Debug)]
struct Session {
    access: Secret,
    refresh: Secret,
    did: String,
}

/// The session cache file.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionFile {
    service: String,
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    handle: String,
}

impl BlueskyClient {
    pub fn from_config(
        cfg: &BlueskyConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<BlueskyClient, ConfigError> {
        let identifier =
            secret_from_env("identifier_env", &cfg.identifier_env, "BLUESKY_HANDLE", env)?
                .expose()
                .trim_start_matches('@')
                .to_owned();
        let password = secret_from_env(
            "password_env",
            &cfg.password_env,
            "BLUESKY_APP_PASSWORD",
            env,
        )?;
        let service = base_url("service", &cfg.service)?;
        let cache_path = session_cache_path(&opts.state_dir, &service, &identifier);
        Ok(BlueskyClient {
            http: http_client(opts)?,
            service,
            identifier,
            password,
            env_names: format!(
                "{} and {}",
                cfg.identifier_env.trim(),
                cfg.password_env.trim()
            ),
            cache_path,
            session: tokio::sync::Mutex::new(None),
            login_refused: std::sync::OnceLock::new(),
        })
    }

    /// Where this account's session is cached.
    pub fn session_cache_path(&self) -> &Path {
        &self.cache_path
    }

    /// Writes the post with `putRecord` under [`record_key`]`(post.key)`.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let did = self.did().await?;
        let rkey = record_key(post.key);
        if post.in_doubt
            && let Some(existing) = self.get_record(&did, POST_COLLECTION, &rkey).await?
        {
            return Ok(Self::remote(&did, &rkey, &existing));
        }
        let mut record = json!({
            "$type": POST_COLLECTION,
            "text": post.text,
            "createdAt": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "langs": [post.language],
        });
        if !post.facets.is_empty() {
            record["facets"] = Value::Array(post.facets.clone());
        }
        if let Some(parent) = post.reply_to {
            let parent_ref = self.strong_ref(parent).await?;
            let root_ref = match post.root {
                Some(root) if root.id != parent.id => self.strong_ref(root).await?,
                _ => parent_ref.clone(),
            };
            record["reply"] = json!({ "root": root_ref, "parent": parent_ref });
        }
        let body = json!({
            "repo": did,
            "collection": POST_COLLECTION,
            "rkey": rkey,
            "record": record,
        });
        let reply = self
            .call(Method::POST, "com.atproto.repo.putRecord", &[], Some(&body))
            .await?;
        if reply.status != 200 {
            return Err(self.error(&reply));
        }
        let written = reply.json().unwrap_or(Value::Null);
        if json_str(&written, "uri").is_none() || json_str(&written, "cid").is_none() {
            // putRecord is idempotent here: writing the same key again is safe.
            return Err(SendError::Retry {
                after: None,
                message: "Bluesky answered putRecord without uri and cid".to_owned(),
            });
        }
        Ok(Self::remote(&did, &rkey, &written))
    }

    /// `com.atproto.server.getSession`: returns `@handle`.
    pub async fn check(&self) -> Result<String, SendError> {
        let reply = self
            .call(Method::GET, "com.atproto.server.getSession", &[], None)
            .await?;
        if reply.status != 200 {
            return Err(self.error(&reply));
        }
        reply
            .json()
            .and_then(|v| json_str(&v, "handle").map(|h| format!("@{h}")))
            .ok_or_else(|| SendError::Retry {
                after: None,
                message: "Bluesky answered getSession without a handle".to_owned(),
            })
    }

    fn remote(did: &str, rkey: &str, record: &Value) -> Remote {
        Remote {
            id: json_str(record, "uri").unwrap_or_default().to_owned(),
            url: Some(format!("https://bsky.app/profile/{did}/post/{rkey}")),
            cid: json_str(record, "cid").map(str::to_owned),
        }
    }

    /// `{uri, cid}` of a post; looks the cid up when the caller only knows the URI.
    async fn strong_ref(&self, post: &Remote) -> Result<Value, SendError> {
        if let Some(cid) = &post.cid {
            return Ok(json!({ "uri": post.id, "cid": cid }));
        }
        let rejected = |message: String| SendError::Rejected {
            status: 400,
            message,
        };
        let (repo, collection, rkey) = parse_at_uri(&post.id).ok_or_else(|| {
            rejected(format!(
                "cannot reply to {:?}: not an at:// post URI",
                post.id
            ))
        })?;
        let found = self.get_record(repo, collection, rkey).await?;
        match found.as_ref().and_then(|v| json_str(v, "cid")) {
            Some(cid) => Ok(json!({ "uri": post.id, "cid": cid })),
            None => Err(rejected(format!(
                "cannot reply to {}: the post does not exist (any more)",
                post.id
            ))),
        }
    }

    /// `com.atproto.repo.getRecord`: `Some({uri, cid, value})`, or `None` if there is no record.
    async fn get_record(
        &self,
        repo: &str,
        collection: &str,
        rkey: &str,
    ) -> Result<Option<Value>, SendError> {
        let query = [("repo", repo), ("collection", collection), ("rkey", rkey)];
        let reply = self
            .call(Method::GET, "com.atproto.repo.getRecord", &query, None)
            .await?;
        match reply.status {
            200 => Ok(reply.json()),
            400 | 404 if xrpc_error(&reply) == Some("RecordNotFound") => Ok(None),
            _ => Err(self.error(&reply)),
        }
    }

    /// The account's DID, logging in (or loading the cached session) if needed.
    async fn did(&self) -> Result<String, SendError> {
        let mut guard = self.session.lock().await;
        Ok(self.ensure_session(&mut guard).await?.did.clone())
    }

    async fn ensure_session<'s>(
        &self,
        guard: &'s mut Option<Session>,
    ) -> Result<&'s Session, SendError> {
        if guard.is_none() {
            *guard = Some(match self.load_cache() {
                Some(session) => session,
                None => self.login().await?,
            });
        }
        Ok(guard.as_ref().expect("set above"))
    }

    /// One authenticated XRPC call. On an expired or invalid access token: refresh the session,
    /// or log in if refreshing fails, and repeat the call once.
    async fn call(
        &self,
        method: Method,
        nsid: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, SendError> {
        let mut guard = self.session.lock().await;
        let session = self.ensure_session(&mut guard).await?;
        let reply = self
            .xrpc(method.clone(), nsid, query, body, &session.access)
            .await?;
        if !needs_new_session(&reply) {
            return Ok(reply);
        }
        let renewed = match self.refresh(&session.refresh).await {
            Ok(session) => session,
            Err(SendError::Rejected { .. }) => self.login().await?,
            Err(other) => return Err(other),
        };
        let reply = self.xrpc(method, nsid, query, body, &renewed.access).await;
        *guard = Some(renewed);
        reply
    }

    async fn xrpc(
        &self,
        method: Method,
        nsid: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        token: &Secret,
    ) -> Result<Reply, SendError> {
        let mut req = self
            .http
            .request(method, endpoint(&self.service, &format!("xrpc/{nsid}")))
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        execute(req)
            .await
            .map_err(|e| transport_error(&e, true, &[&self.password, token]))
    }

    /// `createSession` with the app password; caches the new session.
    async fn login(&self) -> Result<Session, SendError> {
        if let Some(refused) = self.login_refused.get() {
            return Err(refused.clone());
        }
        let req = self
            .http
            .post(endpoint(
                &self.service,
                "xrpc/com.atproto.server.createSession",
            ))
            .json(&json!({
                "identifier": self.identifier,
                "password": self.password.expose(),
            }));
        let reply = execute(req)
            .await
            .map_err(|e| transport_error(&e, true, &[&self.password]))?;
        if reply.status != 200 {
            let err = self.error(&reply);
            if matches!(err, SendError::Rejected { .. }) {
                let _ = self.login_refused.set(err.clone());
            }
            return Err(err);
        }
        self.store(&reply)
    }

    /// `refreshSession`: the refresh JWT as bearer and no body; caches the new session.
    async fn refresh(&self, refresh: &Secret) -> Result<Session, SendError> {
        let req = self
            .http
            .post(endpoint(
                &self.service,
                "xrpc/com.atproto.server.refreshSession",
            ))
            .header(AUTHORIZATION, format!("Bearer {}", refresh.expose()));
        let reply = execute(req)
            .await
            .map_err(|e| transport_error(&e, true, &[&self.password, refresh]))?;
        if reply.status != 200 {
            return Err(self.error(&reply));
        }
        self.store(&reply)
    }

    /// Reads a session from a createSession/refreshSession answer and writes the cache.
    fn store(&self, reply: &Reply) -> Result<Session, SendError> {
        let json = reply.json().unwrap_or(Value::Null);
        let field = |k: &str| json_str(&json, k).map(str::to_owned);
        let (Some(access), Some(refresh), Some(did)) =
            (field("accessJwt"), field("refreshJwt"), field("did"))
        else {
            return Err(SendError::Retry {
                after: None,
                message: "Bluesky answered without a complete session".to_owned(),
            });
        };
        let file = SessionFile {
            service: self.service.to_string(),
            access_jwt: access,
            refresh_jwt: refresh,
            did,
            handle: field("handle").unwrap_or_default(),
        };
        // A cache that cannot be written only costs a login on the next run; the ledger in the
        // same state_dir reports an unwritable directory loudly.
        let _ = write_private(
            &self.cache_path,
            &serde_json::to_vec(&file).unwrap_or_default(),
        );
        Ok(file.into_session())
    }

    fn load_cache(&self) -> Option<Session> {
        let bytes = std::fs::read(&self.cache_path).ok()?;
        let file: SessionFile = serde_json::from_slice(&bytes).ok()?;
        (file.service == self.service.as_str()).then(|| file.into_session())
    }

    fn error(&self, reply: &Reply) -> SendError {
        let json = reply.json();
        let error = json.as_ref().and_then(|v| json_str(v, "error"));
        let detail = json.as_ref().and_then(|v| json_str(v, "message"));
        let mut message = match (error, detail) {
            (Some(e), Some(m)) => format!("{e}: {m}"),
            (Some(t), None) | (None, Some(t)) => t.to_owned(),
            (None, None) => reply.reason(),
        };
        if reply.status == 401 {
            message = format!(
                "{message} — check {} (the handle and an app password, created under \
                 Settings → Privacy and security → App passwords)",
                self.env_names
            );
        }
        let after = (reply.status == 429)
            .then(|| {
                epoch_reset(&reply.headers, "ratelimit-reset")
                    .or_else(|| retry_after(&reply.headers))
            })
            .flatten();
        classify_status(reply, scrub(&message, &[&self.password]), after)
    }
}

impl SessionFile {
    fn into_session(self) -> Session {
        Session {
            access: Secret::new(self.access_jwt),
            refresh: Secret::new(self.refresh_jwt),
            did: self.did,
        }
    }
}

/// `{state_dir}/bluesky-session-<first 16 hex of SHA-256(service, identifier)>.json`
fn session_cache_path(state_dir: &Path, service: &Url, identifier: &str) -> PathBuf {
    let hash = sha256_hex(format!("{service}\n{}", identifier.to_lowercase()).as_bytes());
    state_dir.join(format!("bluesky-session-{}.json", &hash[..16]))
}

/// Writes a file readable only by its owner, atomically (temporary file + rename).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Whether an XRPC answer says the access token is no longer good.
fn needs_new_session(reply: &Reply) -> bool {
    matches!(reply.status, 400 | 401)
        && matches!(xrpc_error(reply), Some("ExpiredToken" | "InvalidToken"))
}

fn xrpc_error(reply: &Reply) -> Option<&'static str> {
    let json = reply.json()?;
    let error = json_str(&json, "error")?;
    ["ExpiredToken", "InvalidToken", "RecordNotFound"]
        .into_iter()
        .find(|known| *known == error)
}

/// `at://<repo>/<collection>/<rkey>`
fn parse_at_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let mut parts = uri.strip_prefix("at://")?.split('/');
    let (repo, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && ![repo, collection, rkey].contains(&""))
        .then_some((repo, collection, rkey))
}

const BASE32_SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The record key of a post: a syntactically valid TID derived from the post key.
///
/// A TID is a 64-bit integer (top bit 0, then 53 bits of microseconds since the epoch, then a
/// 10-bit clock id) written as 13 base32-sortable characters. Servers check only the syntax.
/// The timestamp part comes from the key's SHA-256, folded into 2015-01-01 + 2^48 µs (about
/// 8.9 years) so that no key looks like a record from the future; the clock id takes 10 more
/// bits of the hash.
pub fn record_key(post_key: &str) -> String {
    use sha2::Digest;
    const WINDOW_START_MICROS: u64 = 1_420_070_400_000_000; // 2015-01-01T00:00:00Z
    let digest = sha2::Sha256::digest(post_key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let h = u64::from_be_bytes(first);
    let micros = WINDOW_START_MICROS + (h >> 16);
    let clock_id = h & 0x3ff;
    let value = (micros << 10) | clock_id;
    (0..13)
        .rev()
        .map(|i| char::from(BASE32_SORTABLE[usize::try_from((value >> (5 * i)) & 31).unwrap_or(0)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_tid(s: &str) -> bool {
        s.len() == 13
            && s.bytes().all(|b| BASE32_SORTABLE.contains(&b))
            && b"234567abcdefghij".contains(&s.as_bytes()[0])
    }

    #[test]
    fn record_keys_are_valid_stable_tids() {
        let a = record_key("2026-11-20-mobilfunk#0/bluesky");
        assert!(is_tid(&a), "{a}");
        assert_eq!(a, record_key("2026-11-20-mobilfunk#0/bluesky"));
        assert_ne!(a, record_key("2026-11-20-mobilfunk#1/bluesky"));
        // Top bit 0: the first character is one of 2..b (value < 8).
        for i in 0..200 {
            let k = record_key(&format!("k{i}"));
            assert!(is_tid(&k) && b"234567ab".contains(&k.as_bytes()[0]), "{k}");
        }
    }

    #[test]
    fn record_key_decodes_to_a_past_timestamp() {
        let k = record_key("recurring/weekly@2026-11-23T08:00:00Z/bluesky");
        let value = k.bytes().fold(0u64, |acc, b| {
            let digit = BASE32_SORTABLE.iter().position(|c| *c == b).unwrap() as u64;
            (acc << 5) | digit
        });
        let micros = value >> 10;
        assert!(micros >= 1_420_070_400_000_000);
        assert!(micros < 1_420_070_400_000_000 + (1 << 48));
    }

    #[test]
    fn at_uris() {
        assert_eq!(
            parse_at_uri("at://did:plc:abc/app.bsky.feed.post/3kabc"),
            Some(("did:plc:abc", "app.bsky.feed.post", "3kabc"))
        );
        assert_eq!(parse_at_uri("https://bsky.app/x"), None);
        assert_eq!(parse_at_uri("at://did:plc:abc/app.bsky.feed.post"), None);
    }
}
