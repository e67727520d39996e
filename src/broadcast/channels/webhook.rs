//! Generic webhook: a JSON `POST` signed per the Standard Webhooks specification, so that any
//! system can subscribe to a status page.
//!
//! - `webhook-id`: `msg_` + 32 hex characters of SHA-256 of the post key. The same post always
//!   has the same id, and receivers use it to drop duplicates (the spec's idempotency key), so a
//!   retry or an in-doubt re-send is safe.
//! - `webhook-timestamp`: the real clock in Unix seconds (receivers reject stale requests).
//! - `webhook-signature`: `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}` with the
//!   secret's bytes (the base64 after `whsec_`).
//!
//! The body is `{"type", "timestamp", "data"}` as the spec recommends; `data` carries the post's
//! key, text and language plus the incident, update, components and permalink (see the README).
//! Redirects are not followed (the spec says to update the URL instead); `410 Gone` means the
//! receiver wants no more webhooks and is not retried.

use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{
    ClientOptions, ConfigError, Outgoing, PostMeta, Remote, Reply, Secret, SendError,
    classify_status, execute, header_str, http_client, is_loopback, scrub, secret_from_env,
    sha256_hex, transport_error,
};

/// `type: webhook`
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to `POST` (https; plain http only for loopback).
    pub url: String,
    /// The signing secret, `whsec_` + base64 of 24 to 64 random bytes.
    pub secret_env: String,
}

/// A client for one webhook endpoint.
#[derive(Debug)]
pub struct WebhookClient {
    http: reqwest::Client,
    url: Url,
    secret: Secret,
    key: SigningKey,
    secret_env: String,
}

/// The HMAC key decoded from the secret. `Debug` prints `***`.
struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl WebhookClient {
    pub fn from_config(
        cfg: &WebhookConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<WebhookClient, ConfigError> {
        let secret = secret_from_env("secret_env", &cfg.secret_env, "WEBHOOK_SECRET", env)?;
        let key = decode_secret(secret.expose()).map_err(|reason| ConfigError::Invalid {
            field: "secret_env",
            reason: format!(
                "the value of {} {reason}; generate one with \
                 `echo whsec_$(openssl rand -base64 32)` and give the receiver the same value",
                cfg.secret_env.trim()
            ),
        })?;
        Ok(WebhookClient {
            http: http_client(opts)?,
            url: endpoint_url(&cfg.url)?,
            secret,
            key: SigningKey(key),
            secret_env: cfg.secret_env.trim().to_owned(),
        })
    }

    /// The `webhook-id` of a post: `msg_` + 32 hex characters of SHA-256 of its key.
    pub fn message_id(post_key: &str) -> String {
        format!("msg_{}", &sha256_hex(post_key.as_bytes())[..32])
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the decoded secret.
    pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .expect("HMAC accepts keys of any length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag)
        )
    }

    /// The JSON body of a post: `{"type", "timestamp", "data"}`.
    pub fn body(post: &Outgoing<'_>) -> Value {
        let meta = post.meta;
        let incident = meta.and_then(|m| m.incident.as_ref());
        json!({
            "type": event_type(meta),
            "timestamp": meta.map(|m| m.due.to_rfc3339_opts(SecondsFormat::Secs, true)),
            "data": {
                "key": post.key,
                "kind": meta.map(|m| m.kind.as_str()),
                "label": meta.map(|m| m.label.as_str()),
                "text": post.text,
                "language": post.language,
                "site_title": meta.map(|m| m.site_title.as_str()),
                "incident": incident.map(|i| json!({
                    "id": i.id,
                    "title": i.title,
                    "impact": i.impact,
                    "maintenance": i.maintenance,
                    "status": i.status,
                })),
                "update": incident.and_then(|i| i.update.as_ref()),
                "components": incident.map_or(&[][..], |i| &i.components[..]),
                "permalink": incident.map(|i| i.permalink.as_str()),
                "in_reply_to": post.reply_to.map(|r| r.id.as_str()),
            },
        })
    }

    /// `POST` the signed body; the `webhook-id` is the remote id.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let id = Self::message_id(post.key);
        let body = serde_json::to_vec(&Self::body(post)).unwrap_or_default();
        self.deliver(&id, body).await?;
        Ok(Remote {
            id,
            url: None,
            cid: None,
        })
    }

    /// Sends a signed `statuscast.ping` event (receivers should answer 2xx and ignore it): shows
    /// that the URL works and that the receiver accepts the signature.
    pub async fn check(&self) -> Result<String, SendError> {
        use rand::RngExt as _;
        let nonce: u64 = rand::rng().random();
        let id = format!("msg_ping_{nonce:016x}");
        let body = serde_json::to_vec(&json!({
            "type": "statuscast.ping",
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            "data": {},
        }))
        .unwrap_or_default();
        self.deliver(&id, body).await?;
        Ok(format!(
            "{}://{} (a signed statuscast.ping was accepted)",
            self.url.scheme(),
            self.url.host_str().unwrap_or_default()
        ))
    }

    async fn deliver(&self, id: &str, body: Vec<u8>) -> Result<(), SendError> {
        let timestamp = Utc::now().timestamp();
        let signature = Self::signature(&self.key.0, id, timestamp, &body);
        let req = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let reply = execute(req)
            .await
            .map_err(|e| transport_error(&e, true, &[&self.secret]))?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(self.error(&reply))
        }
    }

    fn error(&self, reply: &Reply) -> SendError {
        let said = reply
            .body
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect::<String>();
        let mut message = if said.is_empty() {
            reply.reason()
        } else {
            format!("{}: {said}", reply.reason())
        };
        match reply.status {
            300..=399 => {
                let to = header_str(&reply.headers, "location").unwrap_or("elsewhere");
                message = format!(
                    "{message} — the receiver redirects to {to}; redirects are not followed, \
                     put the final URL into `url`"
                );
            }
            401 | 403 => {
                message = format!(
                    "{message} — the receiver refused the request; check that it has the same \
                     secret as {} and that its clock is right (signatures are valid for 5 minutes)",
                    self.secret_env
                );
            }
            410 => {
                message = format!(
                    "{message} — the receiver no longer wants these webhooks; remove the channel \
                     or ask for a new URL"
                );
            }
            _ => {}
        }
        classify_status(reply, scrub(&message, &[&self.secret]), None)
    }
}

/// `incident.update`, `maintenance.reminder`, `recurring.post`, … from the post's kind.
fn event_type(meta: Option<&PostMeta>) -> String {
    let Some(meta) = meta else {
        return "statuscast.post".to_owned();
    };
    match &meta.incident {
        None => "recurring.post".to_owned(),
        Some(i) if i.maintenance => format!("maintenance.{}", meta.kind),
        Some(_) => format!("incident.{}", meta.kind),
    }
}

/// The HMAC key: the base64 after `whsec_` (the prefix is optional), 24 to 64 bytes.
fn decode_secret(value: &str) -> Result<Vec<u8>, &'static str> {
    let encoded = value.strip_prefix("whsec_").unwrap_or(value);
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "is not \"whsec_\" followed by base64")?;
    match key.len() {
        n if n < 24 => Err("is too short: a signing secret has at least 24 random bytes"),
        n if n > 64 => Err("is too long: a signing secret has at most 64 bytes"),
        _ => Ok(key),
    }
}

/// An absolute https URL (plain http only for loopback), without user name or fragment; a
/// query is allowed.
fn endpoint_url(raw: &str) -> Result<Url, ConfigError> {
    let bad = |reason: &str| ConfigError::BadUrl {
        field: "url",
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw.trim()).map_err(|e| {
        bad(&format!(
            "{e}; write an absolute URL like https://hooks.example.org/statuscast"
        ))
    })?;
    let host = url.host_str().unwrap_or("");
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(bad(
                "plain http would send the posts unencrypted; use https://",
            ));
        }
        _ => return Err(bad("only https:// URLs are supported")),
    }
    if host.is_empty() {
        return Err(bad("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "the URL must not contain a user name or password; the signature authenticates",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("the URL must not have a fragment (#…)"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_reference_libraries_test_vector() {
        // From the Standard Webhooks reference implementation's tests.
        let key = decode_secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            WebhookClient::signature(
                &key,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn secrets_are_whsec_base64_of_24_to_64_bytes() {
        let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
        assert_eq!(
            decode_secret(&format!("whsec_{}", b64(32))).unwrap().len(),
            32
        );
        assert_eq!(decode_secret(&b64(24)).unwrap().len(), 24);
        assert!(decode_secret(&format!("whsec_{}", b64(16))).is_err());
        assert!(decode_secret(&format!("whsec_{}", b64(65))).is_err());
        assert!(decode_secret("whsec_not base64!").is_err());
    }

    #[test]
    fn message_ids_are_stable_and_dot_free() {
        let a = WebhookClient::message_id("2026-11-20-mobilfunk#0/hooks");
        assert_eq!(a, WebhookClient::message_id("2026-11-20-mobilfunk#0/hooks"));
        assert_ne!(a, WebhookClient::message_id("2026-11-20-mobilfunk#1/hooks"));
        assert!(a.starts_with("msg_") && a.len() == 36 && !a.contains('.'));
    }

    #[test]
    fn urls() {
        assert!(endpoint_url("https://hooks.example/x?team=ops").is_ok());
        assert!(endpoint_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(endpoint_url("http://hooks.example/x").is_err());
        assert!(endpoint_url("https://u:p@hooks.example/x").is_err());
        assert!(endpoint_url("https://hooks.example/x#frag").is_err());
        assert!(endpoint_url("hooks.example/x").is_err());
    }
}
