//! X: API v2 `POST /2/tweets` with OAuth 1.0a user context (HMAC-SHA1).
//!
//! X offers no idempotency key. A request that may have reached the server (timeout, broken
//! connection) yields [`SendError::InDoubt`], never [`SendError::Retry`], and `Outgoing::in_doubt`
//! is ignored: the engine never calls `send` for an in-doubt X post on its own — `plan` shows it
//! and `ledger resolve KEY sent|retry` settles it. If the post did go out, a re-send is answered
//! with 403 duplicate content, which maps to [`SendError::Duplicate`].

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng as _;
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Url};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    ClientOptions, ConfigError, Outgoing, Remote, Reply, Secret, SendError, XConfig, base_url,
    classify_status, endpoint, epoch_reset, execute, header_str, http_client, json_str,
    retry_after, scrub, secret_from_env, transport_error,
};

/// A client for one X account.
#[derive(Debug)]
pub struct XClient {
    http: reqwest::Client,
    api_base: Url,
    keys: OAuthKeys,
    /// Names of the variables to check when X answers 401.
    env_names: String,
}

/// The four OAuth 1.0a credentials of a user-context app.
#[derive(Debug)]
struct OAuthKeys {
    consumer_key: Secret,
    consumer_secret: Secret,
    token: Secret,
    token_secret: Secret,
}

impl XClient {
    pub fn from_config(
        cfg: &XConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<XClient, ConfigError> {
        let keys = OAuthKeys {
            consumer_key: secret_from_env(
                "consumer_key_env",
                &cfg.consumer_key_env,
                "X_CONSUMER_KEY",
                env,
            )?,
            consumer_secret: secret_from_env(
                "consumer_secret_env",
                &cfg.consumer_secret_env,
                "X_CONSUMER_SECRET",
                env,
            )?,
            token: secret_from_env(
                "access_token_env",
                &cfg.access_token_env,
                "X_ACCESS_TOKEN",
                env,
            )?,
            token_secret: secret_from_env(
                "access_token_secret_env",
                &cfg.access_token_secret_env,
                "X_ACCESS_TOKEN_SECRET",
                env,
            )?,
        };
        Ok(XClient {
            http: http_client(opts)?,
            api_base: base_url("api_base", &cfg.api_base)?,
            keys,
            env_names: [
                &cfg.consumer_key_env,
                &cfg.consumer_secret_env,
                &cfg.access_token_env,
                &cfg.access_token_secret_env,
            ]
            .map(|s| s.trim())
            .join(", "),
        })
    }

    /// `POST /2/tweets`; a reply when `post.reply_to` is set.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let mut body = json!({ "text": post.text });
        if let Some(parent) = post.reply_to {
            body["reply"] = json!({ "in_reply_to_tweet_id": parent.id });
        }
        let url = endpoint(&self.api_base, "2/tweets");
        let reply = self.request(Method::POST, url, Some(&body), false).await?;
        if !(200..300).contains(&reply.status) {
            return Err(self.error(&reply));
        }
        let id = reply
            .json()
            .and_then(|v| json_str(&v["data"], "id").map(str::to_owned));
        match id {
            Some(id) => Ok(Remote {
                url: Some(format!("https://x.com/i/web/status/{id}")),
                id,
                cid: None,
            }),
            None => Err(SendError::InDoubt {
                message: format!("X answered {} without a post id", reply.reason()),
            }),
        }
    }

    /// `GET /2/users/me`: returns `@username`.
    pub async fn check(&self) -> Result<String, SendError> {
        let mut url = endpoint(&self.api_base, "2/users/me");
        url.set_query(Some("user.fields=username"));
        let reply = self.request(Method::GET, url, None, true).await?;
        if reply.status != 200 {
            return Err(self.error(&reply));
        }
        reply
            .json()
            .and_then(|v| json_str(&v["data"], "username").map(|u| format!("@{u}")))
            .ok_or_else(|| SendError::Retry {
                after: None,
                message: "X answered /2/users/me without a username".to_owned(),
            })
    }

    async fn request(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Reply, SendError> {
        let auth = authorization_header(method.as_str(), &url, &self.keys, &nonce(), timestamp());
        let mut req = self.http.request(method, url).header(AUTHORIZATION, auth);
        if let Some(body) = body {
            req = req.json(body);
        }
        execute(req)
            .await
            .map_err(|e| transport_error(&e, idempotent, &self.secrets()))
    }

    fn secrets(&self) -> [&Secret; 4] {
        let k = &self.keys;
        [
            &k.consumer_key,
            &k.consumer_secret,
            &k.token,
            &k.token_secret,
        ]
    }

    /// Turns an error response into a [`SendError`].
    fn error(&self, reply: &Reply) -> SendError {
        let json = reply.json();
        let mut message = json
            .as_ref()
            .and_then(problem_text)
            .unwrap_or_else(|| reply.reason());
        if reply.status == 403 && json.as_ref().is_some_and(is_duplicate) {
            return SendError::Duplicate {
                message: scrub(&message, &self.secrets()),
            };
        }
        if reply.status == 401 {
            message = format!(
                "{message} — check the values of {} (the app needs Read and Write permission, \
                 and the access token must be regenerated after changing it)",
                self.env_names
            );
        }
        let after = if reply.status == 429 {
            rate_limit_reset(reply)
        } else {
            None
        };
        classify_status(reply, scrub(&message, &self.secrets()), after)
    }
}

/// The text of an X error body: v2 problem (`title`, `detail`) or v1.1-style `errors[]`.
fn problem_text(v: &Value) -> Option<String> {
    let detail = json_str(v, "detail");
    let title = json_str(v, "title");
    match (title, detail) {
        (Some(t), Some(d)) if !d.contains(t) => return Some(format!("{t}: {d}")),
        (_, Some(d)) => return Some(d.to_owned()),
        (Some(t), None) => return Some(t.to_owned()),
        (None, None) => {}
    }
    let first = v.get("errors")?.get(0)?;
    json_str(first, "message")
        .or_else(|| json_str(first, "detail"))
        .map(str::to_owned)
}

/// X signals a duplicate post only in prose (v2 `detail`: "You are not allowed to create a Tweet
/// with duplicate content.") or with the v1.1 error code 187, so this one check reads the text.
fn is_duplicate(v: &Value) -> bool {
    let says_duplicate =
        |s: Option<&str>| s.is_some_and(|s| s.to_ascii_lowercase().contains("duplicate"));
    says_duplicate(json_str(v, "detail"))
        || v.get("errors")
            .and_then(Value::as_array)
            .is_some_and(|errors| {
                errors.iter().any(|e| {
                    e.get("code").and_then(Value::as_u64) == Some(187)
                        || says_duplicate(json_str(e, "message"))
                })
            })
}

/// When a 429 may be retried: the 24-hour user or app cap's reset if that cap is exhausted,
/// else the 15-minute window's `x-rate-limit-reset`, else `Retry-After`.
fn rate_limit_reset(reply: &Reply) -> Option<Duration> {
    let h = &reply.headers;
    let daily = [
        ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
        ("x-app-limit-24hour-remaining", "x-app-limit-24hour-reset"),
    ]
    .into_iter()
    .filter(|(remaining, _)| header_str(h, remaining) == Some("0"))
    .filter_map(|(_, reset)| epoch_reset(h, reset))
    .max();
    daily
        .or_else(|| epoch_reset(h, "x-rate-limit-reset"))
        .or_else(|| retry_after(h))
}

/// RFC 3986 unreserved characters stay, everything else is percent-encoded (upper-case hex),
/// as OAuth 1.0a (RFC 5849 §3.6) requires.
const OAUTH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, OAUTH_ENCODE).to_string()
}

/// `METHOD&enc(base URL)&enc(sorted, encoded parameters)`.
fn signature_base_string(method: &str, base_url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    pairs.sort();
    let joined = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        enc(base_url),
        enc(&joined)
    )
}

/// HMAC-SHA1 over the base string with `enc(consumer secret)&enc(token secret)`, base64.
fn sign(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!("{}&{}", enc(consumer_secret), enc(token_secret));
    let mut mac =
        <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(base_string.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization: OAuth …` header for a request. Signs the `oauth_*` parameters and the
/// URL's query parameters; a JSON body is not signed (only form bodies would be).
fn authorization_header(
    method: &str,
    url: &Url,
    keys: &OAuthKeys,
    nonce: &str,
    timestamp: u64,
) -> String {
    let timestamp = timestamp.to_string();
    let mut oauth: Vec<(String, String)> = [
        ("oauth_consumer_key", keys.consumer_key.expose()),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", &timestamp),
        ("oauth_token", keys.token.expose()),
        ("oauth_version", "1.0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut params = oauth.clone();
    params.extend(
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    let mut base = url.clone();
    base.set_query(None);
    base.set_fragment(None);
    let signature = sign(
        &signature_base_string(method, base.as_str(), &params),
        keys.consumer_secret.expose(),
        keys.token_secret.expose(),
    );
    oauth.push(("oauth_signature".to_owned(), signature));
    oauth.sort();
    let fields = oauth
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("OAuth {fields}")
}

/// 32 hex characters from the thread-local CSPRNG.
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    super::hex(&bytes)
}

/// Seconds since the epoch on the real clock (X rejects timestamps far from its own clock).
fn timestamp() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of X's "Creating a signature" page (developer.x.com, OAuth 1.0a). It
    /// signs a v1.1 form POST, so the body and query parameters are part of the parameter set.
    /// The page's base URL is api.twitter.com: its published signature was computed over that.
    #[test]
    fn signature_matches_the_documented_example() {
        let params: Vec<(String, String)> = [
            (
                "status",
                "Hello Ladies + Gentlemen, a signed OAuth request!",
            ),
            ("include_entities", "true"),
            ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
            ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1318622958"),
            (
                "oauth_token",
                "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            ),
            ("oauth_version", "1.0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let base = signature_base_string(
            "post",
            "https://api.twitter.com/1.1/statuses/update.json",
            &params,
        );
        assert_eq!(
            base,
            "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
        );
        let sig = sign(
            &base,
            "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        );
        assert_eq!(sig, "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
    }

    fn doc_keys() -> OAuthKeys {
        OAuthKeys {
            consumer_key: Secret::new("xvz1evFS4wEEPTGEFPHBog"),
            consumer_secret: Secret::new("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
            token: Secret::new("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
            token_secret: Secret::new("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
        }
    }

    /// The header for a URL with a query signs the query: the documented example's query
    /// parameter plus a body parameter reproduce the documented signature when the body
    /// parameter is put into the query (same parameter set, same base URL).
    #[test]
    fn header_signs_query_parameters() {
        let url = Url::parse(
            "https://api.twitter.com/1.1/statuses/update.json?include_entities=true&status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21",
        )
        .unwrap();
        let header = authorization_header(
            "POST",
            &url,
            &doc_keys(),
            "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
            1_318_622_958,
        );
        assert_eq!(
            header,
            "OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", \
             oauth_nonce=\"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg\", \
             oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\", \
             oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1318622958\", \
             oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\", \
             oauth_version=\"1.0\""
        );
    }

    #[test]
    fn encoding_is_rfc3986() {
        assert_eq!(enc("a b+c~d-e.f_g*h!é"), "a%20b%2Bc~d-e.f_g%2Ah%21%C3%A9");
    }

    #[test]
    fn nonces_differ() {
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn duplicate_detection() {
        assert!(is_duplicate(&json!({
            "detail": "You are not allowed to create a Tweet with duplicate content.",
            "type": "about:blank", "title": "Forbidden", "status": 403
        })));
        assert!(is_duplicate(
            &json!({"errors": [{"code": 187, "message": "Status is a duplicate."}]})
        ));
        assert!(!is_duplicate(&json!({
            "detail": "You are not permitted to perform this action.", "title": "Forbidden"
        })));
    }
}
