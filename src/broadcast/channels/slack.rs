//! Slack: an incoming webhook, or `chat.postMessage` with a bot token.
//!
//! - Webhook: `POST <webhook URL>` with the message; Slack answers `200 ok` in plain text and
//!   errors as plain-text codes with an HTTP status (`400 invalid_payload`, `403 invalid_token`,
//!   `404 no_service`, `410 channel_is_archived`, `429` with `Retry-After`). No message id comes
//!   back, so webhook posts cannot be threaded: every post stands alone.
//! - Bot token: `POST /api/chat.postMessage` with `Authorization: Bearer xoxb-…`. Errors arrive as
//!   HTTP 200 with `{"ok": false, "error": "channel_not_found"}` (rate limits as 429 with
//!   `Retry-After` and `"error": "ratelimited"`). The reply's `ts` is the message id; later posts
//!   of an incident are thread replies with `thread_ts` set to the first post's `ts`.
//!
//! The message is one Block Kit `section` with `mrkdwn` text (more sections if the escaped text
//! exceeds a section's 3000 characters) and the same text as the top-level `text` fallback that
//! notifications show. `&`, `<` and `>` are escaped as Slack requires, so incident text can never
//! form a link, a mention (`<!channel>`) or a user reference.
//!
//! Slack offers no idempotency key: a request that may have reached Slack is in doubt, never
//! retried automatically.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use super::{
    ClientOptions, ConfigError, Outgoing, Remote, Reply, Secret, SendError, SlackConfig, base_url,
    body_line, endpoint, execute, http_client, json_str, retry_after, scrub, secret_from_env,
    transport_error, url_secrets, webhook_url,
};

/// A Block Kit section's text holds at most this many characters.
pub const SECTION_MAX: usize = 3000;

const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A client for one Slack channel.
#[derive(Debug)]
pub struct SlackClient {
    http: reqwest::Client,
    mode: Mode,
    reply_broadcast: bool,
    /// The variable to check when Slack refuses the credential.
    env_name: String,
}

#[derive(Debug)]
enum Mode {
    Webhook {
        url: Secret,
        /// The URL and its token part, scrubbed from messages.
        secrets: Vec<Secret>,
    },
    Bot {
        api_base: Url,
        token: Secret,
        channel: String,
    },
}

impl SlackClient {
    pub fn from_config(
        cfg: &SlackConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<SlackClient, ConfigError> {
        super::ChannelConfig::Slack(cfg.clone()).validate()?;
        let (mode, env_name) = match (&cfg.webhook_url_env, &cfg.token_env, &cfg.channel) {
            (Some(var), _, _) => {
                let url = secret_from_env("webhook_url_env", var, "SLACK_WEBHOOK_URL", env)?;
                let parsed = webhook_url("webhook_url_env", &url)?;
                (
                    Mode::Webhook {
                        secrets: url_secrets(&parsed),
                        url,
                    },
                    var.trim().to_owned(),
                )
            }
            (None, Some(var), Some(channel)) => (
                Mode::Bot {
                    api_base: base_url("api_base", &cfg.api_base)?,
                    token: secret_from_env("token_env", var, "SLACK_BOT_TOKEN", env)?,
                    channel: channel.trim().to_owned(),
                },
                var.trim().to_owned(),
            ),
            // validate() has ruled these out.
            _ => {
                return Err(ConfigError::Settings {
                    reason: "incomplete Slack settings".to_owned(),
                });
            }
        };
        Ok(SlackClient {
            http: http_client(opts)?,
            mode,
            reply_broadcast: cfg.reply_broadcast,
            env_name,
        })
    }

    /// Posts the message; with a bot token, a reply in the thread of `post.root` if it has a `ts`.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let mut body = message(post.text);
        match &self.mode {
            Mode::Webhook { url, secrets } => {
                let req = self
                    .http
                    .post(url.expose())
                    .header(CONTENT_TYPE, JSON_UTF8)
                    .body(body.to_string());
                let secrets: Vec<&Secret> = secrets.iter().collect();
                let reply = execute(req)
                    .await
                    .map_err(|e| transport_error(&e, false, &secrets))?;
                if reply.status == 200 {
                    // Webhooks answer "ok" and no id: nothing to reply to later.
                    return Ok(Remote {
                        id: String::new(),
                        url: None,
                        cid: None,
                    });
                }
                Err(self.webhook_error(&reply, &secrets))
            }
            Mode::Bot { channel, .. } => {
                body["channel"] = json!(channel);
                // Replies go to the thread's parent message (Slack: never to a reply's ts).
                if let Some(root) = post.root.or(post.reply_to).filter(|r| !r.id.is_empty()) {
                    body["thread_ts"] = json!(root.id);
                    if self.reply_broadcast {
                        body["reply_broadcast"] = json!(true);
                    }
                }
                let reply = self.api("chat.postMessage", &body, false).await?;
                let json = reply.json().unwrap_or(Value::Null);
                match json_str(&json, "ts") {
                    Some(ts) => Ok(Remote {
                        id: ts.to_owned(),
                        url: None,
                        cid: None,
                    }),
                    None => Err(SendError::InDoubt {
                        message: "Slack answered ok without the message's ts".to_owned(),
                    }),
                }
            }
        }
    }

    /// Bot token: `auth.test`, returns `@bot in <workspace>`. Webhook: posts an empty payload,
    /// which a live webhook refuses with `400 no_text` (nothing is posted) and a revoked one with
    /// 403/404/410.
    pub async fn check(&self) -> Result<String, SendError> {
        match &self.mode {
            Mode::Bot { .. } => {
                let reply = self.api("auth.test", &json!({}), true).await?;
                let json = reply.json().unwrap_or(Value::Null);
                let user = json_str(&json, "user").unwrap_or("the app");
                let team = json_str(&json, "team").unwrap_or("the workspace");
                Ok(format!("signed in as @{user} in {team}"))
            }
            Mode::Webhook { url, secrets } => {
                let req = self
                    .http
                    .post(url.expose())
                    .header(CONTENT_TYPE, JSON_UTF8)
                    .body("{}");
                let secrets: Vec<&Secret> = secrets.iter().collect();
                let reply = execute(req)
                    .await
                    .map_err(|e| transport_error(&e, true, &secrets))?;
                match reply.status {
                    400 | 200 => Ok("the incoming webhook is live (nothing was posted)".to_owned()),
                    _ => Err(self.webhook_error(&reply, &secrets)),
                }
            }
        }
    }

    /// One Web API call with the bot token; `Ok` only for `"ok": true`.
    async fn api(&self, method: &str, body: &Value, idempotent: bool) -> Result<Reply, SendError> {
        let Mode::Bot {
            api_base, token, ..
        } = &self.mode
        else {
            return Err(SendError::Rejected {
                status: 0,
                message: "not a bot-token channel".to_owned(),
            });
        };
        let req = self
            .http
            .request(Method::POST, endpoint(api_base, &format!("api/{method}")))
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
            .header(CONTENT_TYPE, JSON_UTF8)
            .body(body.to_string());
        let reply = execute(req)
            .await
            .map_err(|e| transport_error(&e, idempotent, &[token]))?;
        let json = reply.json();
        let ok = json
            .as_ref()
            .and_then(|v| v.get("ok"))
            .and_then(Value::as_bool);
        if reply.status == 200 && ok == Some(true) {
            return Ok(reply);
        }
        let code = json.as_ref().and_then(|v| json_str(v, "error"));
        Err(self.api_error(&reply, code, idempotent))
    }

    /// Classifies a Web API failure by Slack's error code (or the HTTP status when there is none).
    fn api_error(&self, reply: &Reply, code: Option<&str>, idempotent: bool) -> SendError {
        let Mode::Bot { token, channel, .. } = &self.mode else {
            return SendError::Rejected {
                status: reply.status,
                message: reply.reason(),
            };
        };
        let status = reply.status;
        let Some(code) = code else {
            return generic_status(reply, &reply.reason(), &[token]);
        };
        let hint = match code {
            "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked"
            | "token_expired" => format!(
                " — check {} (the bot token, xoxb-…, of an app installed in the workspace)",
                self.env_name
            ),
            "missing_scope" | "no_permission" => {
                " — the app needs the chat:write scope; reinstall it after adding the scope"
                    .to_owned()
            }
            "not_in_channel" => format!(
                " — invite the app to the channel {channel} (/invite @app) or give it chat:write.public"
            ),
            "channel_not_found" => format!(
                " — check `channel` ({channel}): the channel id from the channel's details; \
                 invite the app first if the channel is private"
            ),
            "is_archived" => format!(" — the channel {channel} is archived"),
            "msg_too_long" | "invalid_blocks" => {
                " — the text is longer than Slack accepts".to_owned()
            }
            _ => String::new(),
        };
        let message = scrub(&format!("Slack error {code}{hint}"), &[token]);
        match code {
            "ratelimited"
            | "rate_limited"
            | "service_unavailable"
            | "request_timeout"
            | "team_added_to_org" => SendError::Retry {
                after: retry_after(&reply.headers),
                message,
            },
            // "It's possible some aspect of the operation succeeded" (Slack's docs).
            "fatal_error" | "internal_error" if !idempotent => SendError::InDoubt { message },
            "fatal_error" | "internal_error" => SendError::Retry {
                after: None,
                message,
            },
            "invalid_auth"
            | "not_authed"
            | "account_inactive"
            | "token_revoked"
            | "token_expired"
            | "missing_scope"
            | "no_permission"
            | "not_in_channel"
            | "channel_not_found"
            | "is_archived"
            | "ekm_access_denied"
            | "restricted_action"
            | "restricted_action_read_only_channel"
            | "team_access_not_granted"
            | "access_denied"
            | "enterprise_is_restricted"
            | "org_login_required" => SendError::Unusable { status, message },
            _ if status == 429 || status >= 500 => SendError::Retry {
                after: retry_after(&reply.headers),
                message,
            },
            _ => SendError::Rejected { status, message },
        }
    }

    /// Classifies an incoming-webhook failure: its plain-text code and HTTP status.
    fn webhook_error(&self, reply: &Reply, secrets: &[&Secret]) -> SendError {
        let code = body_line(reply).unwrap_or_else(|| reply.reason());
        let status = reply.status;
        let message = match code.as_str() {
            "no_service" | "invalid_token" | "no_team" | "team_disabled" | "no_service_id" => {
                format!(
                    "Slack error {code} — the incoming webhook was removed or disabled; create a \
                     new one and put its URL into {}",
                    self.env_name
                )
            }
            "channel_is_archived" => format!("Slack error {code} — the channel is archived"),
            "channel_not_found" => format!(
                "Slack error {code} — the webhook's channel was deleted; create a new webhook"
            ),
            "action_prohibited" | "posting_to_general_channel_denied" => format!(
                "Slack error {code} — a workspace setting does not let this webhook post there"
            ),
            _ => format!("Slack answered {}: {code}", reply.reason()),
        };
        let message = scrub(&message, secrets);
        match status {
            401 | 403 | 404 | 410 => SendError::Unusable { status, message },
            _ => generic_status(reply, &message, secrets),
        }
    }
}

/// 429 and 5xx retry (honouring `Retry-After`); everything else is rejected.
fn generic_status(reply: &Reply, message: &str, secrets: &[&Secret]) -> SendError {
    let message = scrub(message, secrets);
    if reply.status == 429 || reply.status >= 500 {
        SendError::Retry {
            after: retry_after(&reply.headers),
            message,
        }
    } else {
        SendError::Rejected {
            status: reply.status,
            message,
        }
    }
}

/// Slack's escaping for message text: `&`, `<` and `>` become entities; nothing else is touched
/// (Slack decodes only these three).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// The message body: Block Kit sections with the escaped text, and the same text as the
/// notification fallback.
pub fn message(text: &str) -> Value {
    let blocks: Vec<Value> = sections(text, SECTION_MAX)
        .into_iter()
        .map(|part| json!({ "type": "section", "text": { "type": "mrkdwn", "text": part } }))
        .collect();
    json!({ "text": escape(text), "blocks": blocks })
}

/// The escaped text cut into pieces of at most `max` characters after escaping, at spaces where
/// possible and never inside an entity.
fn sections(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut len = 0; // escaped characters in `current`
    // Byte index in `current` just after the last space.
    let mut last_space: Option<usize> = None;
    for c in text.chars() {
        let piece = escape(c.encode_utf8(&mut [0; 4]));
        let cost = piece.chars().count();
        if len + cost > max && len > 0 {
            let cut = last_space.unwrap_or(current.len());
            let rest = current.split_off(cut);
            out.push(current.trim_end().to_owned());
            rest.trim_start().clone_into(&mut current);
            len = current.chars().count();
            last_space = None;
        }
        current.push_str(&piece);
        len += cost;
        if c.is_whitespace() {
            last_space = Some(current.len());
        }
    }
    if !current.trim().is_empty() || out.is_empty() {
        out.push(current.trim_end().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_what_slack_decodes() {
        assert_eq!(
            escape("<!channel> A&B > C *bold* <https://x.example|y>"),
            "&lt;!channel&gt; A&amp;B &gt; C *bold* &lt;https://x.example|y&gt;"
        );
    }

    #[test]
    fn message_has_a_section_and_the_fallback() {
        let m = message("Störung <heute> & morgen https://status.example/i/1/");
        assert_eq!(
            m,
            json!({
                "text": "Störung &lt;heute&gt; &amp; morgen https://status.example/i/1/",
                "blocks": [{ "type": "section", "text": { "type": "mrkdwn",
                    "text": "Störung &lt;heute&gt; &amp; morgen https://status.example/i/1/" } }]
            })
        );
    }

    #[test]
    fn long_escaped_text_is_split_at_spaces_without_breaking_entities() {
        let text = "a&b ".repeat(1000); // 4000 chars, 8000 escaped
        let parts = sections(text.trim_end(), SECTION_MAX);
        assert!(parts.len() >= 3, "{}", parts.len());
        for p in &parts {
            assert!(p.chars().count() <= SECTION_MAX, "{}", p.chars().count());
            assert!(p.starts_with("a&amp;b") && p.ends_with("a&amp;b"), "{p}");
        }
        let joined = parts.join(" ");
        assert_eq!(joined, escape(text.trim_end()));
        // No space at all: a hard cut, still never inside an entity.
        let parts = sections(&"&".repeat(700), SECTION_MAX);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], "&amp;".repeat(600));
        assert_eq!(parts[1], "&amp;".repeat(100));
        assert_eq!(sections("", SECTION_MAX), vec![String::new()]);
    }
}
