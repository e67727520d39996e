//! Channel clients: one post in, one remote id out.
//!
//! Each service speaks its real API: X (API v2, OAuth 1.0a user context), Mastodon (REST with a
//! bearer token and `Idempotency-Key`), Bluesky (XRPC with a cached session and deterministic
//! record keys), Matrix (client-server API, transaction ids from the post key), generic webhooks
//! (Standard Webhooks signatures) and e-mail (SMTP via lettre). The caller fits texts to each
//! channel's length rules, keeps the ledger and decides what is due; this module only sends and
//! classifies the outcome into [`SendError`].
//!
//! Secrets come from environment variables named in the config, live in [`Secret`] (whose
//! `Debug` prints `***`) and are scrubbed from every error message.

pub mod bluesky;
pub mod email;
pub mod mastodon;
pub mod matrix;
mod meta;
pub mod retry;
pub mod webhook;
pub mod x;

pub use email::{EmailConfig, EmailTls};
pub use matrix::MatrixConfig;
pub use meta::{ComponentMeta, IncidentMeta, PostMeta, UpdateMeta};
pub use webhook::WebhookConfig;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// One post to send, already fitted to the channel's length rules by the caller.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// Stable post key, e.g. `2026-11-20-mobilfunk#0/mastodon`; idempotency keys and Bluesky
    /// record keys derive from it.
    pub key: &'a str,
    /// Final text (contains the permalink URL).
    pub text: &'a str,
    /// `de` or `en` (any ISO 639-1 code is passed through).
    pub language: &'a str,
    /// Previous post of this thread on this channel (the parent).
    pub reply_to: Option<&'a Remote>,
    /// First post of this thread on this channel (Bluesky needs root and parent).
    pub root: Option<&'a Remote>,
    /// Bluesky link facets computed by the caller; ignored by the other channels.
    pub facets: Vec<serde_json::Value>,
    /// A previous attempt of this key may have reached the server. Mastodon re-sends with the same
    /// `Idempotency-Key`; Bluesky first looks the record up; X ignores it (the engine never
    /// re-sends an in-doubt X post automatically, see [`x`]).
    pub in_doubt: bool,
    /// What the post is about, for channels that send structured data (webhook body, e-mail
    /// subject). `None` in tests and for callers that have nothing to add.
    pub meta: Option<&'a PostMeta>,
}

/// A post as the service knows it. For Bluesky `id` is the `at://` URI and `cid` is set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Remote {
    pub id: String,
    pub url: Option<String>,
    pub cid: Option<String>,
}

/// Why a send did not produce a [`Remote`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 429, 5xx, timeout, connection error: worth trying again, after `after` if the server said.
    #[error("temporary failure, try again later: {message}")]
    Retry {
        after: Option<Duration>,
        message: String,
    },
    /// 4xx auth or validation error: not retried automatically.
    #[error("rejected by the server (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// X 403 "duplicate content": the same text is already posted.
    #[error("duplicate content: {message}")]
    Duplicate { message: String },
    /// The request may have reached a server that offers no idempotency (X): the post may or may
    /// not exist. Never retried automatically; the engine records the post as in doubt.
    #[error("the post may or may not have been published: {message}")]
    InDoubt { message: String },
}

/// A channel's settings as written in `statuscast.yaml` (the `id`, `min_impact`, … keys belong to
/// the surrounding entry, which flattens this enum into itself).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChannelConfig {
    X(XConfig),
    Mastodon(MastodonConfig),
    Bluesky(BlueskyConfig),
    Matrix(MatrixConfig),
    Webhook(WebhookConfig),
    Email(EmailConfig),
}

/// `type: x`
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct XConfig {
    #[serde(default = "XConfig::default_api_base")]
    pub api_base: String,
    pub consumer_key_env: String,
    pub consumer_secret_env: String,
    pub access_token_env: String,
    pub access_token_secret_env: String,
}

impl XConfig {
    fn default_api_base() -> String {
        "https://api.x.com".to_owned()
    }
}

/// `type: mastodon`
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MastodonConfig {
    pub instance: String,
    pub token_env: String,
    #[serde(default)]
    pub visibility: Visibility,
    /// The instance's character limit (default 500), used by the caller's length rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u32>,
}

/// Mastodon status visibility.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Unlisted,
    Private,
    Direct,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }
}

/// `type: bluesky`
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlueskyConfig {
    #[serde(default = "BlueskyConfig::default_service")]
    pub service: String,
    pub identifier_env: String,
    pub password_env: String,
}

impl BlueskyConfig {
    fn default_service() -> String {
        "https://bsky.social".to_owned()
    }
}

/// A credential read from the environment. `Debug` prints `***`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for building a request. Never format it into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Settings shared by all channel clients.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Where the Bluesky session cache lives (the run's state directory).
    pub state_dir: PathBuf,
    /// Total time for one HTTP request; connecting may take at most 10 s of it.
    pub timeout: Duration,
    pub user_agent: String,
}

impl ClientOptions {
    /// Defaults: 30 s per request, `statuscast/<version>` as user agent.
    pub fn new(state_dir: impl Into<PathBuf>) -> ClientOptions {
        ClientOptions {
            state_dir: state_dir.into(),
            timeout: Duration::from_secs(30),
            user_agent: concat!("statuscast/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A channel config that cannot be used. Never contains a secret's value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "environment variable {var} (named by `{field}`) is not set or empty; \
         set it in the environment statuscast runs in (e.g. the cron job)"
    )]
    MissingEnv { field: &'static str, var: String },
    #[error(
        "`{field}` must be the name of an environment variable (capital letters, digits and \
         underscores, like {example}), but this value does not look like one; \
         put the token in an environment variable and name the variable here"
    )]
    NotAnEnvName {
        field: &'static str,
        example: &'static str,
    },
    #[error("`{field}` is not a usable URL: {reason}")]
    BadUrl { field: &'static str, reason: String },
    /// Any other unusable setting (an e-mail address, a signing secret's format, …).
    #[error("`{field}` is not usable: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("could not set up the HTTP client: {0}")]
    Http(String),
}

/// A ready-to-use client for one configured channel.
#[derive(Debug)]
pub enum Channel {
    X(x::XClient),
    Mastodon(mastodon::MastodonClient),
    Bluesky(bluesky::BlueskyClient),
    Matrix(matrix::MatrixClient),
    Webhook(webhook::WebhookClient),
    Email(email::EmailClient),
}

impl Channel {
    /// Reads the credentials named in `cfg` through `env` (normally `std::env::var(..).ok()`)
    /// and builds the client. Does not touch the network.
    pub fn from_config(
        cfg: &ChannelConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<Channel, ConfigError> {
        Ok(match cfg {
            ChannelConfig::X(c) => Channel::X(x::XClient::from_config(c, env, opts)?),
            ChannelConfig::Mastodon(c) => {
                Channel::Mastodon(mastodon::MastodonClient::from_config(c, env, opts)?)
            }
            ChannelConfig::Bluesky(c) => {
                Channel::Bluesky(bluesky::BlueskyClient::from_config(c, env, opts)?)
            }
            ChannelConfig::Matrix(c) => {
                Channel::Matrix(matrix::MatrixClient::from_config(c, env, opts)?)
            }
            ChannelConfig::Webhook(c) => {
                Channel::Webhook(webhook::WebhookClient::from_config(c, env, opts)?)
            }
            ChannelConfig::Email(c) => {
                Channel::Email(email::EmailClient::from_config(c, env, opts)?)
            }
        })
    }

    /// Publishes one post.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        match self {
            Channel::X(c) => c.send(post).await,
            Channel::Mastodon(c) => c.send(post).await,
            Channel::Bluesky(c) => c.send(post).await,
            Channel::Matrix(c) => c.send(post).await,
            Channel::Webhook(c) => c.send(post).await,
            Channel::Email(c) => c.send(post).await,
        }
    }

    /// Verifies the credentials without posting; returns the account name (`@handle`).
    pub async fn check(&self) -> Result<String, SendError> {
        match self {
            Channel::X(c) => c.check().await,
            Channel::Mastodon(c) => c.check().await,
            Channel::Bluesky(c) => c.check().await,
            Channel::Matrix(c) => c.check().await,
            Channel::Webhook(c) => c.check().await,
            Channel::Email(c) => c.check().await,
        }
    }

    /// `x`, `mastodon`, `bluesky`, `matrix`, `webhook` or `email`.
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::X(_) => "x",
            Channel::Mastodon(_) => "mastodon",
            Channel::Bluesky(_) => "bluesky",
            Channel::Matrix(_) => "matrix",
            Channel::Webhook(_) => "webhook",
            Channel::Email(_) => "email",
        }
    }

    /// Whether re-sending a post whose earlier attempt may have reached the server is safe
    /// (Mastodon: `Idempotency-Key`, valid for one hour; Bluesky: same record key; Matrix: same
    /// transaction id; webhook: same `webhook-id`, which receivers deduplicate). False for X and
    /// e-mail.
    pub fn resend_is_idempotent(&self) -> bool {
        !matches!(self, Channel::X(_) | Channel::Email(_))
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the clients.

/// Reads the secret named by a config field.
fn secret_from_env(
    field: &'static str,
    name: &str,
    example: &'static str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, ConfigError> {
    let name = name.trim();
    if !is_env_name(name) {
        return Err(ConfigError::NotAnEnvName { field, example });
    }
    match env(name) {
        Some(value) if !value.trim().is_empty() => Ok(Secret(value.trim().to_owned())),
        _ => Err(ConfigError::MissingEnv {
            field,
            var: name.to_owned(),
        }),
    }
}

/// `^[A-Z_][A-Z0-9_]*$`
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Parses a service base URL: https (plain http only for loopback test servers), no
/// credentials, query or fragment; the path gets a trailing slash so that `join` appends.
fn base_url(field: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let bad = |reason: &str| ConfigError::BadUrl {
        field,
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(raw.trim()).map_err(|e| {
        bad(&format!(
            "{e}; write an absolute URL like https://example.org"
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url.host_str().unwrap_or("")) => {}
        "http" => {
            return Err(bad(
                "plain http would send the credentials unencrypted; use https://",
            ));
        }
        _ => return Err(bad("only https:// URLs are supported")),
    }
    if url.host().is_none() {
        return Err(bad("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "the URL must not contain a user name or password; credentials belong in environment variables",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("the URL must not have a query (?…) or fragment (#…)"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// `localhost` or a loopback address (`127.0.0.1`, `[::1]`): where unencrypted connections are
/// allowed, for test servers.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `base` joined with a relative API path such as `api/v1/statuses`.
fn endpoint(base: &Url, path: &str) -> Url {
    // `base` always ends in '/', and `path` is a constant relative path: join cannot fail.
    base.join(path).unwrap_or_else(|_| base.clone())
}

/// The one HTTP client of a channel: rustls, connect and total timeouts, no redirects (an API
/// that redirects is misconfigured, and a redirect must not carry credentials elsewhere).
fn http_client(opts: &ClientOptions) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(opts.user_agent.clone())
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ConfigError::Http(describe(&e)))
}

/// A response read to the end.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    async fn read(resp: reqwest::Response) -> Result<Reply, reqwest::Error> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    fn reason(&self) -> String {
        let phrase = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        format!("HTTP {} {phrase}", self.status)
            .trim_end()
            .to_owned()
    }
}

/// Sends a request and reads the whole response.
async fn execute(req: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
    Reply::read(req.send().await?).await
}

/// Classifies a transport error. A connection that was never made is always retryable;
/// anything later (timeout, broken connection) may have reached the server, which only an
/// idempotent channel may retry.
fn transport_error(err: &reqwest::Error, idempotent: bool, secrets: &[&Secret]) -> SendError {
    let what = if err.is_connect() {
        "could not connect"
    } else if err.is_timeout() {
        "no answer in time"
    } else {
        "the connection failed"
    };
    let message = scrub(&format!("{what}: {}", describe(err)), secrets);
    if err.is_connect() || idempotent {
        SendError::Retry {
            after: None,
            message,
        }
    } else {
        SendError::InDoubt { message }
    }
}

/// A reqwest error and its causes, without the request URL (reqwest puts it into `Display`).
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Removes secret values from a text and cuts it to a readable length.
fn scrub(text: &str, secrets: &[&Secret]) -> String {
    const MAX: usize = 400;
    let mut text = text.to_owned();
    for secret in secrets {
        if secret.0.len() >= 4 {
            text = text.replace(&secret.0, "***");
        }
    }
    if text.chars().count() > MAX {
        text = text.chars().take(MAX).collect::<String>() + "…";
    }
    text
}

/// Maps a status code to the generic outcome: 429 and 5xx retry (honouring `Retry-After`),
/// everything else is rejected with `message`.
fn classify_status(reply: &Reply, message: String, after: Option<Duration>) -> SendError {
    if reply.status == 429 || reply.status >= 500 {
        SendError::Retry {
            after: after.or_else(|| retry_after(&reply.headers)),
            message,
        }
    } else {
        SendError::Rejected {
            status: reply.status,
            message,
        }
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = header_str(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(until_epoch_millis(at.timestamp_millis()))
}

/// A header holding a reset instant in epoch seconds (X `x-rate-limit-reset`, Bluesky
/// `RateLimit-Reset`) as the time left until then.
fn epoch_reset(headers: &HeaderMap, name: &str) -> Option<Duration> {
    let secs: i64 = header_str(headers, name)?.parse().ok()?;
    Some(until_epoch_millis(secs.saturating_mul(1000)))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// Time from the real clock until an instant (zero if it has passed). Servers' reset times are
/// on their clocks, so this uses the real clock, not the engine's `--now`.
fn until_epoch_millis(millis: i64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Duration::from_millis(u64::try_from(millis.saturating_sub(now)).unwrap_or(0))
}

/// Plain post text as an HTML fragment: `&`, `<`, `>` and `"` escaped, every `http(s)://` URL
/// a link (found the way Bluesky's link facets are).
fn text_to_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for facet in crate::broadcast::text::link_facets(text) {
        let (start, end) = (facet.index.byte_start, facet.index.byte_end);
        if start < at || end > text.len() {
            continue;
        }
        let url = escape_html(&text[start..end]);
        html.push_str(&escape_html(&text[at..start]));
        html.push_str("<a href=\"");
        html.push_str(&url);
        html.push_str("\">");
        html.push_str(&url);
        html.push_str("</a>");
        at = end;
    }
    html.push_str(&escape_html(&text[at..]));
    html
}

/// Escapes text for HTML element content and double-quoted attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Hex SHA-256.
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

/// A string field of a JSON object.
fn json_str<'v>(value: &'v serde_json::Value, key: &str) -> Option<&'v str> {
    value.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert!(is_env_name("X_CONSUMER_KEY"));
        assert!(is_env_name("_A1"));
        assert!(!is_env_name(""));
        assert!(!is_env_name("1ABC"));
        assert!(!is_env_name("x_key"));
        assert!(!is_env_name("AAAA-BBBB"));
    }

    #[test]
    fn base_urls() {
        let u = base_url("f", "https://mastodon.social").unwrap();
        assert_eq!(
            endpoint(&u, "api/v1/statuses").as_str(),
            "https://mastodon.social/api/v1/statuses"
        );
        let u = base_url("f", "https://example.org/prefix").unwrap();
        assert_eq!(
            endpoint(&u, "2/tweets").as_str(),
            "https://example.org/prefix/2/tweets"
        );
        assert!(base_url("f", "http://127.0.0.1:8080").is_ok());
        assert!(base_url("f", "http://example.org").is_err());
        assert!(base_url("f", "https://user:pw@example.org").is_err());
        assert!(base_url("f", "https://example.org/?token=abc").is_err());
        assert!(base_url("f", "mastodon.social").is_err());
    }

    #[test]
    fn scrub_removes_secrets_and_truncates() {
        let s = Secret::new("hunter22");
        assert_eq!(scrub("bad token hunter22!", &[&s]), "bad token ***!");
        assert_eq!(scrub(&"a".repeat(1000), &[]).chars().count(), 401);
    }

    #[test]
    fn html_escapes_and_links() {
        assert_eq!(
            text_to_html("a<b> & \"c\" https://x.example/?a=1&b=2. Ende"),
            "a&lt;b&gt; &amp; &quot;c&quot; <a href=\"https://x.example/?a=1&amp;b=2\">https://x.example/?a=1&amp;b=2</a>. Ende"
        );
        assert_eq!(text_to_html("kein Link"), "kein Link");
        assert_eq!(
            text_to_html("javascript:alert(1) <script>"),
            "javascript:alert(1) &lt;script&gt;"
        );
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "17".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(17)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
