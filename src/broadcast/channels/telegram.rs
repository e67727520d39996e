//! Telegram: Bot API `sendMessage` to a channel, by a bot that is an administrator there.
//!
//! - `POST <api_base>/bot<token>/sendMessage` with `chat_id`, the text in HTML parse mode
//!   (`<`, `>` and `&` escaped as entities, so nothing in an incident becomes markup) and, for
//!   later posts of an incident, `reply_parameters: {message_id, allow_sending_without_reply}`
//!   pointing at the previous post: a reply chain per incident. A deleted parent does not stop the
//!   post (it goes out without the reply).
//! - The text holds 1–4096 characters after entity parsing, counted in UTF-16 code units: the
//!   escaped entities count as the one character they stand for, so the caller's count of the
//!   plain text is Telegram's count.
//! - Answers are `{"ok": true, "result": Message}` or `{"ok": false, "error_code": 429,
//!   "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}`;
//!   `retry_after` is honoured. 401 (a wrong token), 403 (the bot is not a member of the channel
//!   or may not post) and 404 make the channel [`SendError::Unusable`], as does a group that
//!   became a supergroup (`migrate_to_chat_id`: the message names the new id).
//!
//! The bot token is part of the request path: every URL built here is a secret and never shown
//! (reqwest's errors are stripped of their URL, and the token is scrubbed from every message).
//! The Bot API offers no idempotency key: a request that may have reached Telegram is in doubt.

use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use std::time::Duration;

use super::{
    ClientOptions, ConfigError, Outgoing, Remote, Reply, Secret, SendError, TelegramConfig,
    base_url, endpoint, execute, http_client, json_str, retry_after, scrub, secret_from_env,
    transport_error,
};

/// Telegram's limit for a message text, in UTF-16 code units after entity parsing.
pub const TEXT_MAX: usize = 4096;

/// A client for one Telegram channel.
#[derive(Debug)]
pub struct TelegramClient {
    http: reqwest::Client,
    api_base: Url,
    token: Secret,
    chat_id: String,
    env_name: String,
}

impl TelegramClient {
    pub fn from_config(
        cfg: &TelegramConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<TelegramClient, ConfigError> {
        super::ChannelConfig::Telegram(cfg.clone()).validate()?;
        let token = secret_from_env("token_env", &cfg.token_env, "TELEGRAM_BOT_TOKEN", env)?;
        // `<bot id>:<secret>`; anything else would change the request path (or its query).
        let well_formed = token.expose().split_once(':').is_some_and(|(id, key)| {
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_digit())
                && !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if !well_formed {
            return Err(ConfigError::Settings {
                reason: format!(
                    "{} does not hold a bot token: @BotFather gives tokens like \
                     123456789:AAH…, digits, a colon, then letters, digits, '_' and '-'",
                    cfg.token_env.trim()
                ),
            });
        }
        Ok(TelegramClient {
            token,
            api_base: base_url("api_base", &cfg.api_base)?,
            http: http_client(opts)?,
            chat_id: cfg.chat_id.trim().to_owned(),
            env_name: cfg.token_env.trim().to_owned(),
        })
    }

    /// `sendMessage`; a reply to `post.reply_to` when it has a message id.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let mut body = json!({
            "chat_id": self.chat_id_value(),
            "text": escape_html(post.text),
            "parse_mode": "HTML",
        });
        if let Some(parent) = post
            .reply_to
            .and_then(|r| r.id.parse::<i64>().ok())
            .filter(|id| *id > 0)
        {
            body["reply_parameters"] = json!({
                "message_id": parent,
                "allow_sending_without_reply": true,
            });
        }
        let result = self.call("sendMessage", &body, false).await?;
        let Some(id) = result.get("message_id").and_then(Value::as_i64) else {
            return Err(SendError::InDoubt {
                message: "Telegram answered ok without a message_id".to_owned(),
            });
        };
        Ok(Remote {
            id: id.to_string(),
            url: message_url(result.get("chat").unwrap_or(&Value::Null), id),
            cid: None,
        })
    }

    /// `getMe` and `getChat`: the bot's name and that it can see the channel.
    pub async fn check(&self) -> Result<String, SendError> {
        let me = self.call("getMe", &json!({}), true).await?;
        let bot = json_str(&me, "username").unwrap_or("?").to_owned();
        let chat = self
            .call("getChat", &json!({ "chat_id": self.chat_id_value() }), true)
            .await?;
        let title = json_str(&chat, "title").unwrap_or(&self.chat_id);
        Ok(format!("signed in as @{bot}, posting to \"{title}\""))
    }

    /// A numeric chat id goes out as a number, a `@username` as a string.
    fn chat_id_value(&self) -> Value {
        self.chat_id
            .parse::<i64>()
            .map_or_else(|_| json!(self.chat_id), |n| json!(n))
    }

    /// One Bot API method; the `result` of `"ok": true`, or the classified error.
    async fn call(&self, method: &str, body: &Value, idempotent: bool) -> Result<Value, SendError> {
        // `bot<token>/<method>` under the base: the token is in the path. "./" keeps
        // "bot123:ABC" from reading as a URL scheme.
        let url = endpoint(
            &self.api_base,
            &format!("./bot{}/{method}", self.token.expose()),
        );
        let req = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let reply = execute(req)
            .await
            .map_err(|e| transport_error(&e, idempotent, &[&self.token]))?;
        let json = reply.json().unwrap_or(Value::Null);
        if reply.status == 200 && json.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(json.get("result").cloned().unwrap_or(Value::Null));
        }
        Err(self.error(&reply, &json))
    }

    fn error(&self, reply: &Reply, json: &Value) -> SendError {
        let status = json
            .get("error_code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(reply.status);
        let description =
            json_str(json, "description").map_or_else(|| reply.reason(), str::to_owned);
        let parameters = json.get("parameters").unwrap_or(&Value::Null);
        let migrated = parameters.get("migrate_to_chat_id").and_then(Value::as_i64);
        let hint = match (status, migrated) {
            (_, Some(new_id)) => Some(format!(
                "the group became a supergroup; set chat_id to {new_id}"
            )),
            (401 | 404, _) => Some(format!(
                "check {} (the token @BotFather gave the bot, like 123456:ABC-DEF…)",
                self.env_name
            )),
            (403, _) => Some(format!(
                "add the bot to {} as an administrator that may post messages",
                self.chat_id
            )),
            _ => None,
        };
        let message = match &hint {
            Some(h) => format!("{description} — {h}"),
            None => description,
        };
        let message = scrub(&message, &[&self.token]);
        match status {
            429 | 500.. => SendError::Retry {
                after: parameters
                    .get("retry_after")
                    .and_then(Value::as_u64)
                    .map(Duration::from_secs)
                    .or_else(|| retry_after(&reply.headers)),
                message,
            },
            _ if hint.is_some() => SendError::Unusable { status, message },
            _ => SendError::Rejected { status, message },
        }
    }
}

/// Escapes text for `parse_mode: HTML`: `&`, `<` and `>` become `&amp;`, `&lt;`, `&gt;`, the
/// entities Telegram decodes. Quotes need no escaping outside attributes.
pub fn escape_html(text: &str) -> String {
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

/// `https://t.me/<username>/<id>` for a public channel, `https://t.me/c/<id>/<id>` for a private
/// one (its chat id without the `-100` prefix).
fn message_url(chat: &Value, message_id: i64) -> Option<String> {
    if let Some(username) = json_str(chat, "username") {
        return Some(format!("https://t.me/{username}/{message_id}"));
    }
    let id = chat.get("id")?.as_i64()?.to_string();
    let internal = id.strip_prefix("-100")?;
    Some(format!("https://t.me/c/{internal}/{message_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html("<b>AT&T</b> > 5 & \"x\""),
            "&lt;b&gt;AT&amp;T&lt;/b&gt; &gt; 5 &amp; \"x\""
        );
    }

    #[test]
    fn message_urls() {
        assert_eq!(
            message_url(&json!({"id": -1_001_234, "username": "fernwerk"}), 7).as_deref(),
            Some("https://t.me/fernwerk/7")
        );
        assert_eq!(
            message_url(&json!({"id": -1_001_234_567_890_i64}), 7).as_deref(),
            Some("https://t.me/c/1234567890/7")
        );
        assert_eq!(message_url(&json!({"id": 42}), 7), None);
    }
}
