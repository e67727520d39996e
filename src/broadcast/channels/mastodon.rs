//! Mastodon: `POST /api/v1/statuses` with a bearer token and an `Idempotency-Key`.
//!
//! The key is the hex SHA-256 of the post key, so every attempt of one post carries the same key
//! and the server answers a repeated request with the status it already created. Mastodon keeps
//! idempotency keys for one hour: the engine re-sends an in-doubt post only within that hour.

use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Url};
use serde_json::{Value, json};
use std::time::Duration;

use super::{
    ClientOptions, ConfigError, MastodonConfig, Outgoing, Remote, Reply, Secret, SendError,
    Visibility, base_url, classify_status, endpoint, execute, header_str, http_client, json_str,
    scrub, secret_from_env, sha256_hex, transport_error, until_epoch_millis,
};

/// A client for one Mastodon account.
#[derive(Debug)]
pub struct MastodonClient {
    http: reqwest::Client,
    instance: Url,
    token: Secret,
    token_env: String,
    visibility: Visibility,
}

impl MastodonClient {
    pub fn from_config(
        cfg: &MastodonConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<MastodonClient, ConfigError> {
        Ok(MastodonClient {
            token: secret_from_env("token_env", &cfg.token_env, "MASTODON_TOKEN", env)?,
            token_env: cfg.token_env.trim().to_owned(),
            instance: base_url("instance", &cfg.instance)?,
            http: http_client(opts)?,
            visibility: cfg.visibility,
        })
    }

    /// The `Idempotency-Key` of a post: hex SHA-256 of its stable key.
    pub fn idempotency_key(post_key: &str) -> String {
        sha256_hex(post_key.as_bytes())
    }

    /// `POST /api/v1/statuses`; a reply when `post.reply_to` is set.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let mut body = json!({
            "status": post.text,
            "language": post.language,
            "visibility": self.visibility.as_str(),
        });
        if let Some(parent) = post.reply_to {
            body["in_reply_to_id"] = json!(parent.id);
        }
        let req = self
            .request(Method::POST, "api/v1/statuses")
            .header("Idempotency-Key", Self::idempotency_key(post.key))
            .json(&body);
        let reply = execute(req)
            .await
            .map_err(|e| transport_error(&e, true, &[&self.token]))?;
        if !(200..300).contains(&reply.status) {
            return Err(self.error(&reply));
        }
        let json = reply.json().unwrap_or(Value::Null);
        let Some(id) = json_str(&json, "id") else {
            // Re-sending with the same Idempotency-Key returns the status if it was created.
            return Err(SendError::Retry {
                after: None,
                message: format!("Mastodon answered {} without a status id", reply.reason()),
            });
        };
        Ok(Remote {
            id: id.to_owned(),
            url: json_str(&json, "url")
                .or_else(|| json_str(&json, "uri"))
                .map(str::to_owned),
            cid: None,
        })
    }

    /// `GET /api/v1/accounts/verify_credentials`: returns `@user@instance`.
    pub async fn check(&self) -> Result<String, SendError> {
        let req = self.request(Method::GET, "api/v1/accounts/verify_credentials");
        let reply = execute(req)
            .await
            .map_err(|e| transport_error(&e, true, &[&self.token]))?;
        if reply.status != 200 {
            return Err(self.error(&reply));
        }
        let json = reply.json().unwrap_or(Value::Null);
        let host = self.instance.host_str().unwrap_or_default();
        json_str(&json, "username")
            .map(|u| format!("@{u}@{host}"))
            .ok_or_else(|| SendError::Retry {
                after: None,
                message: "Mastodon answered verify_credentials without a username".to_owned(),
            })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, endpoint(&self.instance, path))
            .header(AUTHORIZATION, format!("Bearer {}", self.token.expose()))
    }

    fn error(&self, reply: &Reply) -> SendError {
        let mut message = reply
            .json()
            .and_then(|v| {
                let error = json_str(&v, "error")?.to_owned();
                Some(match json_str(&v, "error_description") {
                    Some(d) if !error.contains(d) => format!("{error}: {d}"),
                    _ => error,
                })
            })
            .unwrap_or_else(|| reply.reason());
        match reply.status {
            401 => {
                message = format!(
                    "{message} — check {} (an access token of this instance with the \
                     write:statuses scope)",
                    self.token_env
                );
            }
            403 => message = format!("{message} — the token needs the write:statuses scope"),
            _ => {}
        }
        let after = (reply.status == 429)
            .then(|| rate_limit_reset(reply))
            .flatten();
        classify_status(reply, scrub(&message, &[&self.token]), after)
    }
}

/// `X-RateLimit-Reset` is an ISO 8601 instant (e.g. `2026-11-20T08:15:00.123456Z`).
fn rate_limit_reset(reply: &Reply) -> Option<Duration> {
    let value = header_str(&reply.headers, "x-ratelimit-reset")?;
    let at = chrono::DateTime::parse_from_rfc3339(value).ok()?;
    Some(until_epoch_millis(at.timestamp_millis()))
}
