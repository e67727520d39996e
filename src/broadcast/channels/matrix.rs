//! Matrix: client-server API `PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}`
//! with an access token as bearer.
//!
//! The transaction id is the hex SHA-256 of the post key, so every attempt of one post carries the
//! same id and the homeserver answers a repeated request with the event it already created
//! (idempotency per access token and transaction id; Synapse keeps the mapping for 24 hours, so
//! the engine re-sends an in-doubt post only within that time). Follow-ups of an incident form a
//! thread: `m.relates_to` with `rel_type: m.thread` on the first post, and an `m.in_reply_to`
//! fallback to the previous post for clients without thread support. A room alias (`#room:server`)
//! is resolved to its room id once per run.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

use super::{
    ClientOptions, ConfigError, Outgoing, Remote, Reply, Secret, SendError, base_url,
    classify_status, endpoint, execute, http_client, json_str, retry_after, scrub, secret_from_env,
    sha256_hex, text_to_html, transport_error,
};

/// `type: matrix`
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// The homeserver's client-server API base, e.g. `https://matrix.example.org`.
    pub homeserver: String,
    /// A room id (`!abc:example.org`) or alias (`#status:example.org`) the account has joined.
    pub room: String,
    pub access_token_env: String,
}

/// Characters left as they are in a path segment (RFC 3986 unreserved); everything else,
/// including the `!`, `#`, `:` and `$` of Matrix identifiers, is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A client for one Matrix account posting into one room.
#[derive(Debug)]
pub struct MatrixClient {
    http: reqwest::Client,
    homeserver: Url,
    room: String,
    token: Secret,
    token_env: String,
    /// The room id, once an alias has been resolved.
    room_id: tokio::sync::OnceCell<String>,
}

impl MatrixClient {
    pub fn from_config(
        cfg: &MatrixConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<MatrixClient, ConfigError> {
        let room = cfg.room.trim().to_owned();
        let valid = matches!(room.chars().next(), Some('!' | '#'))
            && room
                .split_once(':')
                .is_some_and(|(l, s)| l.len() > 1 && !s.is_empty());
        if !valid {
            return Err(ConfigError::Invalid {
                field: "room",
                reason: "write a room id like \"!AbCdEf:example.org\" or an alias like \
                         \"#status:example.org\" (in Element: Room settings → Advanced)"
                    .to_owned(),
            });
        }
        let room_id = tokio::sync::OnceCell::new();
        if room.starts_with('!') {
            let _ = room_id.set(room.clone());
        }
        Ok(MatrixClient {
            token: secret_from_env(
                "access_token_env",
                &cfg.access_token_env,
                "MATRIX_ACCESS_TOKEN",
                env,
            )?,
            token_env: cfg.access_token_env.trim().to_owned(),
            homeserver: base_url("homeserver", &cfg.homeserver)?,
            http: http_client(opts)?,
            room,
            room_id,
        })
    }

    /// The transaction id of a post: hex SHA-256 of its stable key (URL-safe by construction).
    pub fn transaction_id(post_key: &str) -> String {
        sha256_hex(post_key.as_bytes())
    }

    /// The `m.room.message` content of a post: plain `body`, HTML `formatted_body` with the
    /// links clickable, and the thread relation when the post follows earlier ones.
    pub fn content(post: &Outgoing<'_>) -> Value {
        let mut content = json!({
            "msgtype": "m.text",
            "body": post.text,
            "format": "org.matrix.custom.html",
            "formatted_body": text_to_html(post.text),
        });
        if let Some(parent) = post.reply_to {
            let root = post.root.unwrap_or(parent);
            content["m.relates_to"] = json!({
                "rel_type": "m.thread",
                "event_id": root.id,
                "is_falling_back": true,
                "m.in_reply_to": { "event_id": parent.id },
            });
        }
        content
    }

    /// `PUT …/rooms/{roomId}/send/m.room.message/{txnId}`.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let room_id = self.room_id().await?;
        let path = format!(
            "_matrix/client/v3/rooms/{}/send/m.room.message/{}",
            utf8_percent_encode(&room_id, SEGMENT),
            Self::transaction_id(post.key)
        );
        let req = self.request(Method::PUT, &path).json(&Self::content(post));
        let reply = execute(req)
            .await
            .map_err(|e| transport_error(&e, true, &[&self.token]))?;
        if reply.status != 200 {
            return Err(self.error(&reply));
        }
        let json = reply.json().unwrap_or(Value::Null);
        let Some(event_id) = json_str(&json, "event_id") else {
            // Re-sending with the same transaction id returns the event if it was created.
            return Err(SendError::Retry {
                after: None,
                message: format!("Matrix answered {} without an event_id", reply.reason()),
            });
        };
        Ok(Remote {
            url: Some(format!(
                "https://matrix.to/#/{}/{}",
                utf8_percent_encode(&room_id, SEGMENT),
                utf8_percent_encode(event_id, SEGMENT)
            )),
            id: event_id.to_owned(),
            cid: None,
        })
    }

    /// `GET /account/whoami`, then `GET /joined_rooms` to see that the account is in the room.
    /// Returns the user id, e.g. `@status:example.org in !AbC:example.org`.
    pub async fn check(&self) -> Result<String, SendError> {
        let reply = self.get("_matrix/client/v3/account/whoami").await?;
        let user = reply
            .json()
            .and_then(|v| json_str(&v, "user_id").map(str::to_owned))
            .ok_or_else(|| SendError::Retry {
                after: None,
                message: "Matrix answered whoami without a user_id".to_owned(),
            })?;
        let room_id = self.room_id().await?;
        let reply = self.get("_matrix/client/v3/joined_rooms").await?;
        let joined = reply.json().is_some_and(|v| {
            v["joined_rooms"]
                .as_array()
                .is_some_and(|rooms| rooms.iter().any(|r| r.as_str() == Some(&room_id)))
        });
        if !joined {
            return Err(SendError::Rejected {
                status: 403,
                message: format!(
                    "{user} has not joined {}; invite the account to the room and accept the \
                     invitation (log in as it once, or `POST /_matrix/client/v3/join/{{room}}`)",
                    self.room
                ),
            });
        }
        Ok(if room_id == self.room {
            format!("{user} in {room_id}")
        } else {
            format!("{user} in {} ({room_id})", self.room)
        })
    }

    async fn get(&self, path: &str) -> Result<Reply, SendError> {
        let reply = execute(self.request(Method::GET, path))
            .await
            .map_err(|e| transport_error(&e, true, &[&self.token]))?;
        if reply.status == 200 {
            Ok(reply)
        } else {
            Err(self.error(&reply))
        }
    }

    /// The room id: configured, or resolved from the alias with `GET /directory/room/{alias}`.
    async fn room_id(&self) -> Result<String, SendError> {
        self.room_id
            .get_or_try_init(|| async {
                let path = format!(
                    "_matrix/client/v3/directory/room/{}",
                    utf8_percent_encode(&self.room, SEGMENT)
                );
                let reply = execute(self.request(Method::GET, &path))
                    .await
                    .map_err(|e| transport_error(&e, true, &[&self.token]))?;
                if reply.status == 404 {
                    return Err(SendError::Rejected {
                        status: 404,
                        message: format!(
                            "the room alias {} does not exist on its server; check `room`",
                            self.room
                        ),
                    });
                }
                if reply.status != 200 {
                    return Err(self.error(&reply));
                }
                reply
                    .json()
                    .and_then(|v| json_str(&v, "room_id").map(str::to_owned))
                    .ok_or_else(|| SendError::Retry {
                        after: None,
                        message: format!("Matrix resolved {} without a room_id", self.room),
                    })
            })
            .await
            .cloned()
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, endpoint(&self.homeserver, path))
            .header(AUTHORIZATION, format!("Bearer {}", self.token.expose()))
    }

    /// A Matrix error (`{"errcode": "M_…", "error": "…"}`) as a [`SendError`].
    fn error(&self, reply: &Reply) -> SendError {
        let json = reply.json();
        let errcode = json.as_ref().and_then(|v| json_str(v, "errcode"));
        let text = json.as_ref().and_then(|v| json_str(v, "error"));
        let mut message = match (errcode, text) {
            (Some(c), Some(t)) => format!("{c}: {t}"),
            (Some(t), None) | (None, Some(t)) => t.to_owned(),
            (None, None) => reply.reason(),
        };
        match errcode {
            Some("M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN") => {
                message = format!(
                    "{message} — check {} (an access token of the posting account; log in \
                     once and copy it from Element: Settings → Help & About → Access token)",
                    self.token_env
                );
            }
            Some("M_FORBIDDEN") => {
                message = format!(
                    "{message} — the account must have joined {} and be allowed to post there",
                    self.room
                );
            }
            _ => {}
        }
        let after = (reply.status == 429)
            .then(|| rate_limit_wait(reply))
            .flatten();
        classify_status(reply, scrub(&message, &[&self.token]), after)
    }
}

/// `M_LIMIT_EXCEEDED`: `retry_after_ms` in the body, or the `Retry-After` header (Matrix 1.10+).
fn rate_limit_wait(reply: &Reply) -> Option<Duration> {
    reply
        .json()
        .and_then(|v| v.get("retry_after_ms").and_then(Value::as_u64))
        .map(Duration::from_millis)
        .or_else(|| retry_after(&reply.headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post<'a>(key: &'a str, text: &'a str) -> Outgoing<'a> {
        Outgoing {
            key,
            text,
            language: "de",
            reply_to: None,
            root: None,
            facets: Vec::new(),
            in_doubt: false,
            meta: None,
        }
    }

    #[test]
    fn identifiers_are_percent_encoded_as_path_segments() {
        assert_eq!(
            utf8_percent_encode("!AbC:example.org", SEGMENT).to_string(),
            "%21AbC%3Aexample.org"
        );
        assert_eq!(
            utf8_percent_encode("#status/de:example.org", SEGMENT).to_string(),
            "%23status%2Fde%3Aexample.org"
        );
        let txn = MatrixClient::transaction_id("2026-11-20-mobilfunk#0/matrix");
        assert_eq!(txn.len(), 64);
        assert!(txn.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn first_post_has_no_relation_and_follow_ups_thread_on_the_root() {
        let first =
            MatrixClient::content(&post("k#0/m", "Störung <API> & mehr: https://s.example/i/"));
        assert_eq!(first["msgtype"], "m.text");
        assert_eq!(first["format"], "org.matrix.custom.html");
        assert_eq!(
            first["formatted_body"],
            "Störung &lt;API&gt; &amp; mehr: <a href=\"https://s.example/i/\">https://s.example/i/</a>"
        );
        assert!(first.get("m.relates_to").is_none());

        let root = Remote {
            id: "$root".into(),
            url: None,
            cid: None,
        };
        let parent = Remote {
            id: "$second".into(),
            url: None,
            cid: None,
        };
        let mut p = post("k#2/m", "Behoben");
        p.reply_to = Some(&parent);
        p.root = Some(&root);
        assert_eq!(
            MatrixClient::content(&p)["m.relates_to"],
            json!({
                "rel_type": "m.thread",
                "event_id": "$root",
                "is_falling_back": true,
                "m.in_reply_to": { "event_id": "$second" },
            })
        );
        // The second post: its parent is the root.
        let mut p = post("k#1/m", "Update");
        p.reply_to = Some(&root);
        let rel = &MatrixClient::content(&p)["m.relates_to"];
        assert_eq!(rel["event_id"], "$root");
        assert_eq!(rel["m.in_reply_to"]["event_id"], "$root");
    }

    #[test]
    fn rooms_must_look_like_ids_or_aliases() {
        let cfg = |room: &str| MatrixConfig {
            homeserver: "https://matrix.example.org".into(),
            room: room.into(),
            access_token_env: "MATRIX_TOKEN".into(),
        };
        let env = |_: &str| Some("syt_token".to_owned());
        let opts = ClientOptions::new(std::env::temp_dir());
        assert!(MatrixClient::from_config(&cfg("!abc:example.org"), &env, &opts).is_ok());
        assert!(MatrixClient::from_config(&cfg("#status:example.org"), &env, &opts).is_ok());
        for bad in ["status", "!abc", "@user:example.org", "#:example.org"] {
            let err = MatrixClient::from_config(&cfg(bad), &env, &opts).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { field: "room", .. }),
                "{bad}"
            );
        }
    }
}
