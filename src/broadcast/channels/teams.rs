//! Microsoft Teams: a Workflows (Power Automate) webhook, the successor of the retired Office 365
//! connectors. The flow "Post to a channel when a webhook request is received" takes a message
//! with one Adaptive Card attachment and posts the card to its channel.
//!
//! - `POST <workflow URL>` with `{"type": "message", "attachments": [{"contentType":
//!   "application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard 1.4>}]}`; the card holds
//!   the text in one `TextBlock` with `wrap: true` (Teams cuts unwrapped text at one line).
//! - The workflow answers `202 Accepted` with no body: the flow runs afterwards, so there is no
//!   message id and no thread; every post stands alone. A flow that fails after accepting the
//!   request shows that only in its run history in Power Automate.
//! - Errors come as `{"error": {"code": …, "message": …}}`: 401/403 (a wrong `sig`), 404 (the
//!   flow was deleted) and 409 (turned off) make the channel [`SendError::Unusable`]; 429 and 5xx
//!   are retried (honouring `Retry-After`).
//!
//! The URL carries the flow's signature (`sig=…`): it is a secret as a whole. Workflows offer no
//! idempotency key: a request that may have reached the flow is in doubt.

use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use super::{
    ClientOptions, ConfigError, Outgoing, Remote, Reply, Secret, SendError, TeamsConfig, execute,
    http_client, json_str, retry_after, scrub, secret_from_env, transport_error, url_secrets,
    webhook_url,
};

/// statuscast keeps Teams posts to this many characters (Teams accepts messages up to about
/// 28 KB; 4000 characters stay below that in any script).
pub const TEXT_MAX: usize = 4000;

/// A client for one Teams Workflows webhook.
#[derive(Debug)]
pub struct TeamsClient {
    http: reqwest::Client,
    url: Secret,
    secrets: Vec<Secret>,
    env_name: String,
}

impl TeamsClient {
    pub fn from_config(
        cfg: &TeamsConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<TeamsClient, ConfigError> {
        let url = secret_from_env(
            "webhook_url_env",
            &cfg.webhook_url_env,
            "TEAMS_WEBHOOK_URL",
            env,
        )?;
        let parsed = webhook_url("webhook_url_env", &url)?;
        Ok(TeamsClient {
            http: http_client(opts)?,
            secrets: url_secrets(&parsed),
            url,
            env_name: cfg.webhook_url_env.trim().to_owned(),
        })
    }

    /// Posts the card. Returns a [`Remote`] without id: workflows give none.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let req = self
            .http
            .post(self.url.expose())
            .header(CONTENT_TYPE, "application/json")
            .body(message(post.text, post.language).to_string());
        let reply = execute(req)
            .await
            .map_err(|e| transport_error(&e, false, &self.secrets()))?;
        if (200..300).contains(&reply.status) {
            return Ok(Remote {
                id: String::new(),
                url: None,
                cid: None,
            });
        }
        Err(self.error(&reply))
    }

    /// A workflow cannot be asked anything without running it: only the URL is checked.
    #[allow(clippy::unused_async)] // same shape as the other channels' checks
    pub async fn check(&self) -> Result<String, SendError> {
        Ok(format!(
            "{} holds a well-formed URL (a Teams workflow cannot be checked without posting)",
            self.env_name
        ))
    }

    fn secrets(&self) -> Vec<&Secret> {
        self.secrets.iter().collect()
    }

    fn error(&self, reply: &Reply) -> SendError {
        let json = reply.json().unwrap_or(Value::Null);
        let error = json.get("error").unwrap_or(&Value::Null);
        let mut message = match (json_str(error, "code"), json_str(error, "message")) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_owned(),
            (None, Some(m)) => m.to_owned(),
            (None, None) => reply.reason(),
        };
        let status = reply.status;
        let hint = match status {
            401 | 403 => Some(format!(
                "the workflow refused the URL's signature; copy the whole URL from the \
                 workflow's trigger into {}",
                self.env_name
            )),
            404 | 410 => Some(format!(
                "the workflow was deleted; create a new one and put its URL into {}",
                self.env_name
            )),
            409 => Some("the workflow is turned off; turn it on in Power Automate".to_owned()),
            _ => None,
        };
        if let Some(hint) = &hint {
            message = format!("{message} — {hint}");
        }
        let message = scrub(&message, &self.secrets());
        match status {
            429 | 500.. => SendError::Retry {
                after: retry_after(&reply.headers),
                message,
            },
            _ if hint.is_some() => SendError::Unusable { status, message },
            _ => SendError::Rejected { status, message },
        }
    }
}

/// The webhook body: a message with one Adaptive Card holding the text.
pub fn message(text: &str, language: &str) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "lang": language,
                "body": [{ "type": "TextBlock", "text": text, "wrap": true }],
                "msteams": { "width": "Full" },
            },
        }],
    })
}
