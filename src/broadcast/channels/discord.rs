//! Discord: a channel webhook, `POST <webhook URL>?wait=true`.
//!
//! - `wait=true` makes Discord answer with the created message (its `id`); without it a webhook
//!   answers `204` and an unsaved message is not even an error.
//! - `allowed_mentions: {"parse": []}`: no text in an incident can ping `@everyone`, `@here`, a
//!   role or a user, whatever it contains.
//! - `content` holds at most 2000 characters (the caller fits the text).
//! - Forum channels (`forum: true`): the first post of an incident creates a thread (a forum
//!   post) named after the incident (`thread_name`, at most 100 characters); later posts go into
//!   it with `?thread_id=`. A forum thread's id is its starter message's id, so the thread is the
//!   root post's id. If that thread was deleted (`404 Unknown Channel`), the post starts a new one.
//!   Text channels have no threads for webhooks: every post stands alone.
//! - 429 answers carry `retry_after` in (fractional) seconds in the JSON body; it is honoured.
//! - A deleted webhook (`404 Unknown Webhook`, code 10015) or a wrong token (`401`, 50027) makes
//!   the channel [`SendError::Unusable`]: the engine stops posting there for the run, and the
//!   failed post waits for a person, so a dead webhook is not hammered.
//!
//! The webhook URL contains the webhook's token: it is a secret as a whole and never shown.
//! Discord offers no idempotency key: a request that may have reached Discord is in doubt.

use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use std::time::Duration;

use super::{
    ClientOptions, ConfigError, DiscordConfig, Outgoing, Remote, Reply, Secret, SendError, execute,
    header_str, http_client, json_str, retry_after, scrub, secret_from_env, transport_error,
    url_secrets, webhook_url,
};

/// Discord's limit for a message's `content`.
pub const CONTENT_MAX: usize = 2000;
/// Discord's limit for a thread (channel) name.
pub const THREAD_NAME_MAX: usize = 100;

/// JSON error codes Discord documents.
const UNKNOWN_CHANNEL: u64 = 10003;
const UNKNOWN_WEBHOOK: u64 = 10015;
const INVALID_WEBHOOK_TOKEN: u64 = 50027;
const FORUM_NEEDS_THREAD: u64 = 220_001;
const ONLY_FORUMS_HAVE_THREADS: u64 = 220_003;

/// A client for one Discord webhook.
#[derive(Debug)]
pub struct DiscordClient {
    http: reqwest::Client,
    /// The webhook URL (with its token).
    url: Secret,
    secrets: Vec<Secret>,
    forum: bool,
    env_name: String,
}

impl DiscordClient {
    pub fn from_config(
        cfg: &DiscordConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<DiscordClient, ConfigError> {
        let url = secret_from_env(
            "webhook_url_env",
            &cfg.webhook_url_env,
            "DISCORD_WEBHOOK_URL",
            env,
        )?;
        let parsed = webhook_url("webhook_url_env", &url)?;
        Ok(DiscordClient {
            http: http_client(opts)?,
            secrets: url_secrets(&parsed),
            url,
            forum: cfg.forum,
            env_name: cfg.webhook_url_env.trim().to_owned(),
        })
    }

    /// Executes the webhook; in a forum, into the incident's thread or as a new thread.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let mut body = json!({
            "content": post.text,
            "allowed_mentions": { "parse": [] },
        });
        let thread = if self.forum {
            post.root
                .or(post.reply_to)
                .map(|r| r.id.as_str())
                .filter(|id| !id.is_empty())
        } else {
            None
        };
        if let Some(thread) = thread {
            let reply = self.execute(&body, Some(thread)).await?;
            // A deleted thread: nothing was posted, start a new one below.
            if !(reply.status == 404 && error_code(&reply) == Some(UNKNOWN_CHANNEL)) {
                return self.created(&reply);
            }
        }
        if self.forum {
            body["thread_name"] = json!(thread_name(post.thread_title.unwrap_or(post.text)));
        }
        let reply = self.execute(&body, None).await?;
        self.created(&reply)
    }

    /// `GET <webhook URL>`: the webhook's name and channel, without posting.
    pub async fn check(&self) -> Result<String, SendError> {
        let url = self.url(None, false)?;
        let reply = execute(self.http.get(url))
            .await
            .map_err(|e| transport_error(&e, true, &self.secrets()))?;
        if reply.status != 200 {
            return Err(self.error(&reply));
        }
        // The answer also holds the token: only name and channel are read from it.
        let json = reply.json().unwrap_or(Value::Null);
        let name = json_str(&json, "name").unwrap_or("?");
        let channel = json_str(&json, "channel_id").unwrap_or("?");
        Ok(scrub(
            &format!("webhook \"{name}\" posts to channel {channel}"),
            &self.secrets(),
        ))
    }

    fn secrets(&self) -> Vec<&Secret> {
        self.secrets.iter().collect()
    }

    /// The webhook URL with `wait=true` (and `thread_id`) added to its own query.
    fn url(&self, thread_id: Option<&str>, wait: bool) -> Result<Url, SendError> {
        let mut url = Url::parse(self.url.expose()).map_err(|_| SendError::Rejected {
            status: 0,
            message: format!("{} does not hold a URL", self.env_name),
        })?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "wait" && !(thread_id.is_some() && k == "thread_id"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        {
            let mut query = url.query_pairs_mut();
            query.clear().extend_pairs(kept);
            if wait {
                query.append_pair("wait", "true");
            }
            if let Some(id) = thread_id {
                query.append_pair("thread_id", id);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(url)
    }

    async fn execute(&self, body: &Value, thread_id: Option<&str>) -> Result<Reply, SendError> {
        let req = self
            .http
            .post(self.url(thread_id, true)?)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        execute(req)
            .await
            .map_err(|e| transport_error(&e, false, &self.secrets()))
    }

    /// The created message of a 2xx answer, or the error.
    fn created(&self, reply: &Reply) -> Result<Remote, SendError> {
        if !(200..300).contains(&reply.status) {
            return Err(self.error(reply));
        }
        // 2xx means posted; without an id (204) it just cannot be threaded.
        let json = reply.json().unwrap_or(Value::Null);
        Ok(Remote {
            id: json_str(&json, "id").unwrap_or_default().to_owned(),
            url: None,
            cid: None,
        })
    }

    fn error(&self, reply: &Reply) -> SendError {
        let json = reply.json().unwrap_or(Value::Null);
        let code = json.get("code").and_then(Value::as_u64);
        let mut message = json_str(&json, "message").map_or_else(|| reply.reason(), str::to_owned);
        let details = form_errors(json.get("errors").unwrap_or(&Value::Null), "");
        if !details.is_empty() {
            message = format!("{message}: {}", details.join("; "));
        }
        if let Some(code) = code.filter(|c| *c != 0) {
            message = format!("{message} (code {code})");
        }
        let status = reply.status;
        let unusable = |hint: String| SendError::Unusable {
            status,
            message: scrub(&format!("{message} — {hint}"), &self.secrets()),
        };
        match (status, code) {
            (429, _) => {
                let global = json.get("global").and_then(Value::as_bool) == Some(true);
                SendError::Retry {
                    after: rate_limit_wait(reply, &json),
                    message: scrub(
                        &format!(
                            "{message}{}",
                            if global { " (global rate limit)" } else { "" }
                        ),
                        &self.secrets(),
                    ),
                }
            }
            (404, Some(UNKNOWN_WEBHOOK)) | (401, _) => unusable(format!(
                "the webhook was deleted or its token changed; create a new webhook in the \
                 channel's settings (Integrations → Webhooks) and put its URL into {}",
                self.env_name
            )),
            (_, Some(INVALID_WEBHOOK_TOKEN)) => unusable(format!(
                "the webhook's token is wrong; copy the whole webhook URL into {}",
                self.env_name
            )),
            (_, Some(FORUM_NEEDS_THREAD)) => unusable(
                "the webhook belongs to a forum channel: set `forum: true` for this channel"
                    .to_owned(),
            ),
            (_, Some(ONLY_FORUMS_HAVE_THREADS)) => unusable(
                "`forum: true` is set, but the webhook's channel is not a forum; remove it"
                    .to_owned(),
            ),
            (403, _) => unusable("the webhook may not post in its channel".to_owned()),
            _ if status >= 500 => SendError::Retry {
                after: retry_after(&reply.headers),
                message: scrub(&message, &self.secrets()),
            },
            _ => SendError::Rejected {
                status,
                message: scrub(&message, &self.secrets()),
            },
        }
    }
}

/// Discord's JSON error code, if any.
fn error_code(reply: &Reply) -> Option<u64> {
    reply.json()?.get("code")?.as_u64()
}

/// How long a 429 asks to wait: the body's `retry_after` (fractional seconds), else the
/// `Retry-After` or `X-RateLimit-Reset-After` header.
fn rate_limit_wait(reply: &Reply, json: &Value) -> Option<Duration> {
    let secs = |v: f64| Duration::try_from_secs_f64(v).ok();
    json.get("retry_after")
        .and_then(Value::as_f64)
        .and_then(secs)
        .or_else(|| retry_after(&reply.headers))
        .or_else(|| {
            header_str(&reply.headers, "x-ratelimit-reset-after")?
                .parse::<f64>()
                .ok()
                .and_then(secs)
        })
}

/// The messages of an "Invalid Form Body" error tree, as `field: message`
/// (`{"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}`).
fn form_errors(tree: &Value, path: &str) -> Vec<String> {
    let Some(map) = tree.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in map {
        if key == "_errors" {
            for e in value.as_array().into_iter().flatten() {
                if let Some(m) = json_str(e, "message") {
                    out.push(if path.is_empty() {
                        m.to_owned()
                    } else {
                        format!("{path}: {m}")
                    });
                }
            }
        } else {
            let sub = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            out.extend(form_errors(value, &sub));
        }
    }
    out
}

/// A thread name from the incident title: at most 100 characters, never empty.
pub fn thread_name(title: &str) -> String {
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        return "Status".to_owned();
    }
    if title.chars().count() <= THREAD_NAME_MAX {
        return title;
    }
    // Cut at a word boundary (the last space within the limit), with an ellipsis.
    let cut: String = title.chars().take(THREAD_NAME_MAX).collect();
    let head = match cut.rfind(' ') {
        Some(at) if at > cut.len() / 2 => cut[..at].to_owned(),
        _ => title.chars().take(THREAD_NAME_MAX - 1).collect(),
    };
    format!("{}…", head.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_fit() {
        assert_eq!(thread_name("  API   errors "), "API errors");
        assert_eq!(thread_name(""), "Status");
        let long = "Störung ".repeat(30);
        let name = thread_name(&long);
        assert!(name.chars().count() <= THREAD_NAME_MAX);
        assert!(name.ends_with("Störung…"), "{name}");
    }

    #[test]
    fn form_errors_name_the_field() {
        let tree = json!({"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]},
                          "embeds": {"0": {"title": {"_errors": [{"code": "X", "message": "Bad."}]}}}});
        assert_eq!(
            form_errors(&tree, ""),
            [
                "content: Must be 2000 or fewer in length.",
                "embeds.0.title: Bad."
            ]
        );
    }
}
