//! E-mail: SMTP submission with implicit TLS or STARTTLS (lettre, rustls with the Mozilla roots),
//! one message per post to a list of addresses or a mailing list.
//!
//! - The message is `multipart/alternative`: the post as plain text and as HTML (escaped, links
//!   clickable), encoded as 7-bit-safe quoted-printable; the subject is RFC 2047-encoded by lettre.
//! - `Message-ID` is derived from the post key and the sender, `<32 hex@domain of from>`, so a
//!   re-sent message has the same id; it is the post's remote id. Follow-ups carry `In-Reply-To`
//!   (the previous post) and `References` (the first and the previous post), and all messages of
//!   an incident share one subject, so mail clients show one thread per incident.
//! - SMTP offers no idempotency, and mail clients and lists deduplicate by `Message-ID` poorly, so
//!   e-mail is treated like X: a failure before the message was transferred (connection, TLS
//!   handshake, a 4xx to `AUTH`/`MAIL`/`RCPT`/`DATA`) is retried, a 4xx or 5xx reply after the transfer
//!   means the server did not take it, but a connection lost or a reply missing after the final
//!   `.` is [`SendError::InDoubt`] and never re-sent automatically.

use std::time::Duration;

use lettre::Message;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use serde::{Deserialize, Serialize};

use super::{
    ClientOptions, ConfigError, Outgoing, Remote, Secret, SendError, is_loopback, scrub,
    secret_from_env,
};

mod message;

/// `type: email`
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The submission server, e.g. `smtp.example.org`.
    pub host: String,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: EmailTls,
    /// Login (both or neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// The sender, e.g. `"Acme Status <status@acme.example>"`.
    pub from: String,
    /// Recipients shown in `To:` (a mailing list, or your own address when using `bcc`).
    #[serde(default)]
    pub to: Vec<String>,
    /// Recipients not shown to each other.
    #[serde(default)]
    pub bcc: Vec<String>,
}

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Plain connection upgraded with `STARTTLS` (required, never skipped); port 587.
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS", RFC 8314); port 465.
    Tls,
    /// No encryption: only for a server on loopback (a local relay or a test server); port 25.
    None,
}

impl EmailTls {
    /// The port used when the config names none.
    pub fn default_port(self) -> u16 {
        match self {
            EmailTls::Starttls => 587,
            EmailTls::Tls => 465,
            EmailTls::None => 25,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            EmailTls::Starttls => "starttls",
            EmailTls::Tls => "tls",
            EmailTls::None => "none",
        }
    }
}

/// A client for one SMTP account and one list of recipients. Connects per post.
#[derive(Debug)]
pub struct EmailClient {
    host: String,
    port: u16,
    tls: EmailTls,
    /// User name (not secret: usually the sender's address) and password.
    login: Option<(String, Secret)>,
    env_names: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    timeout: Duration,
    user_agent: String,
}

/// How far a send got: a failure before the transfer is safe to retry, one after it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Connecting, TLS, `EHLO`, `AUTH`, `MAIL`, `RCPT`, `DATA`.
    Before,
    /// The message is on the wire or its final reply is awaited.
    Transfer,
}

impl EmailClient {
    pub fn from_config(
        cfg: &EmailConfig,
        env: &dyn Fn(&str) -> Option<String>,
        opts: &ClientOptions,
    ) -> Result<EmailClient, ConfigError> {
        let host = cfg.host.trim().to_owned();
        if host.is_empty() || host.contains(['/', ':', ' ']) && !host.starts_with('[') {
            return Err(ConfigError::Invalid {
                field: "host",
                reason: "write the server's host name, like smtp.example.org (the port goes \
                         into `port`)"
                    .to_owned(),
            });
        }
        if cfg.tls == EmailTls::None && !is_loopback(&host) {
            return Err(ConfigError::Invalid {
                field: "tls",
                reason: "`tls: none` would send the login and the messages unencrypted; it is \
                         only allowed for a server on this machine (localhost, 127.0.0.1). Use \
                         `starttls` (port 587) or `tls` (port 465)"
                    .to_owned(),
            });
        }
        let login = match (&cfg.username_env, &cfg.password_env) {
            (Some(user), Some(password)) => Some((
                secret_from_env("username_env", user, "SMTP_USERNAME", env)?
                    .expose()
                    .to_owned(),
                secret_from_env("password_env", password, "SMTP_PASSWORD", env)?,
            )),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid {
                    field: "username_env",
                    reason: "set both `username_env` and `password_env`, or neither (for a \
                             server that needs no login)"
                        .to_owned(),
                });
            }
        };
        let from = mailbox("from", &cfg.from)?;
        let to = cfg
            .to
            .iter()
            .map(|a| mailbox("to", a))
            .collect::<Result<Vec<_>, _>>()?;
        let bcc = cfg
            .bcc
            .iter()
            .map(|a| mailbox("bcc", a))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() && bcc.is_empty() {
            return Err(ConfigError::Invalid {
                field: "to",
                reason: "name at least one recipient in `to` or `bcc`".to_owned(),
            });
        }
        Ok(EmailClient {
            port: cfg.port.unwrap_or_else(|| cfg.tls.default_port()),
            tls: cfg.tls,
            login,
            env_names: [&cfg.username_env, &cfg.password_env]
                .into_iter()
                .flatten()
                .map(|s| s.trim())
                .collect::<Vec<_>>()
                .join(" and "),
            from,
            to,
            bcc,
            timeout: opts.timeout,
            user_agent: opts.user_agent.clone(),
            host,
        })
    }

    /// The `Message-ID` of a post: `<first 32 hex of SHA-256(post key, sender)@sender's domain>`.
    pub fn message_id(&self, post_key: &str) -> String {
        message::message_id(post_key, &self.from)
    }

    /// The complete message of a post.
    pub fn message(&self, post: &Outgoing<'_>) -> Result<Message, SendError> {
        let addresses = message::Addresses {
            from: &self.from,
            to: &self.to,
            bcc: &self.bcc,
        };
        message::build(post, &addresses, &self.user_agent)
    }

    /// Sends the post as one message; the remote id is its `Message-ID`.
    pub async fn send(&self, post: &Outgoing<'_>) -> Result<Remote, SendError> {
        let message = self.message(post)?;
        let bytes = message.formatted();
        let envelope = message.envelope();
        let mut conn = self.connect().await?;
        let result = self.transaction(&mut conn, envelope, &bytes).await;
        match &result {
            Ok(()) => {
                let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
            }
            // The server is not answering: closing the connection is all that is left.
            Err(SendError::InDoubt { .. }) => drop(conn),
            Err(_) => {
                let _ = tokio::time::timeout(self.timeout, conn.abort()).await;
            }
        }
        result.map(|()| Remote {
            id: self.message_id(post.key),
            url: None,
            cid: None,
        })
    }

    /// Connects, logs in and says `NOOP`; returns `user via host:port (tls)`.
    pub async fn check(&self) -> Result<String, SendError> {
        let mut conn = self.connect().await?;
        let noop = self
            .step(
                Phase::Before,
                conn.command(lettre::transport::smtp::commands::Noop),
            )
            .await;
        let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
        noop?;
        let who = match &self.login {
            Some((user, _)) => user.clone(),
            None => "no login".to_owned(),
        };
        Ok(format!(
            "{who} at {}:{} ({}), sending as {}",
            self.host,
            self.port,
            self.tls.as_str(),
            self.from.email
        ))
    }

    /// `MAIL`, `RCPT` for every recipient, `DATA`, the message.
    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> Result<(), SendError> {
        // As lettre's own transport does: SMTPUTF8 for non-ASCII addresses, 8BITMIME for a
        // non-ASCII message (the bodies are quoted-printable, so only such addresses make one).
        let supports = |ext| conn.server_info().supports_feature(ext);
        let mut options = Vec::new();
        let ascii_addresses = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .all(|a: &lettre::Address| AsRef::<str>::as_ref(a).is_ascii());
        if !ascii_addresses {
            if !supports(Extension::SmtpUtfEight) {
                return Err(SendError::Rejected {
                    status: 0,
                    message: "an address has non-ASCII characters, which this server does not                               accept (no SMTPUTF8)"
                        .to_owned(),
                });
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() && supports(Extension::EightBitMime) {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let from = Mail::new(envelope.from().cloned(), options);
        self.step(Phase::Before, conn.command(from)).await?;
        for rcpt in envelope.to() {
            self.step(
                Phase::Before,
                conn.command(Rcpt::new(rcpt.clone(), Vec::new())),
            )
            .await
            .map_err(|e| with_recipient(e, rcpt))?;
        }
        self.step(Phase::Before, conn.command(Data)).await?;
        self.step(Phase::Transfer, conn.message(bytes)).await?;
        Ok(())
    }

    /// A TCP (and TLS) connection after `EHLO`, `STARTTLS` and `AUTH` as configured.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let hello = ClientId::default();
        let implicit = match self.tls {
            EmailTls::Tls => Some(self.tls_parameters()?),
            EmailTls::Starttls | EmailTls::None => None,
        };
        let mut conn = self
            .step(
                Phase::Before,
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &hello,
                    implicit,
                    None,
                ),
            )
            .await?;
        if self.tls == EmailTls::Starttls {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(SendError::Rejected {
                    status: 0,
                    message: format!(
                        "{}:{} does not offer STARTTLS; use `tls: tls` if it expects TLS from \
                         the start (usually port 465), or the server's submission port (587)",
                        self.host, self.port
                    ),
                });
            }
            let params = self.tls_parameters()?;
            self.step(Phase::Before, conn.starttls(params, &hello))
                .await?;
        }
        if let Some((user, password)) = &self.login {
            let credentials = Credentials::new(user.clone(), password.expose().to_owned());
            let mechanisms = [Mechanism::Plain, Mechanism::Login];
            if let Err(e) = self
                .step(Phase::Before, conn.auth(&mechanisms, &credentials))
                .await
            {
                conn.abort().await;
                return Err(match e {
                    SendError::Rejected { status, message } => SendError::Rejected {
                        status,
                        message: format!(
                            "{message} — the login was refused; check {}",
                            self.env_names
                        ),
                    },
                    other => other,
                });
            }
        }
        Ok(conn)
    }

    fn tls_parameters(&self) -> Result<TlsParameters, SendError> {
        TlsParameters::new(self.host.clone()).map_err(|e| SendError::Rejected {
            status: 0,
            message: format!("cannot set up TLS for {}: {e}", self.host),
        })
    }

    /// Runs one SMTP step within the timeout and classifies its failure.
    async fn step<T>(
        &self,
        phase: Phase,
        fut: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.classify(&e, phase)),
            Err(_) => {
                let message = format!("{}:{} did not answer in time", self.host, self.port);
                Err(match phase {
                    Phase::Before => SendError::Retry {
                        after: None,
                        message,
                    },
                    Phase::Transfer => SendError::InDoubt {
                        message: format!("{message} after the message was sent"),
                    },
                })
            }
        }
    }

    fn classify(&self, e: &lettre::transport::smtp::Error, phase: Phase) -> SendError {
        let secrets: Vec<&Secret> = self.login.iter().map(|(_, p)| p).collect();
        let text = scrub(&describe(e), &secrets);
        if let Some(code) = e.status() {
            let message = format!("SMTP {text}");
            return if e.is_transient() {
                SendError::Retry {
                    after: None,
                    message,
                }
            } else {
                SendError::Rejected {
                    status: u16::from(code),
                    message,
                }
            };
        }
        if e.is_client() {
            return SendError::Rejected {
                status: 0,
                message: text,
            };
        }
        let message = format!("{}:{}: {text}", self.host, self.port);
        match phase {
            Phase::Before => SendError::Retry {
                after: None,
                message,
            },
            Phase::Transfer => SendError::InDoubt {
                message: format!(
                    "{message} (after the message was sent; the server may have accepted it)"
                ),
            },
        }
    }
}

/// A mailbox from the config (`Name <user@example.org>` or `user@example.org`).
fn mailbox(field: &'static str, raw: &str) -> Result<Mailbox, ConfigError> {
    raw.trim()
        .parse::<Mailbox>()
        .map_err(|e| ConfigError::Invalid {
            field,
            reason: format!(
                "{raw:?} is not an e-mail address ({e}); write user@example.org or \
             \"Name <user@example.org>\""
            ),
        })
}

/// An SMTP error in one line: `550 5.1.1 <x@example.org>: user unknown` for a reply, else the
/// kind of failure and its innermost cause (lettre nests its own errors).
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut deepest = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        deepest = Some(s.to_string());
        source = s.source();
    }
    let deepest = deepest.filter(|d| !d.trim().is_empty());
    match (e.status(), deepest) {
        (Some(code), Some(text)) => format!("{code} {text}"),
        (Some(code), None) => code.to_string(),
        (None, Some(text)) => {
            let display = e.to_string();
            let kind = display.split(": ").next().unwrap_or_default();
            format!("{kind}: {text}")
        }
        (None, None) => e.to_string(),
    }
}

/// Names the recipient in a refused `RCPT`.
fn with_recipient(err: SendError, rcpt: &lettre::Address) -> SendError {
    match err {
        SendError::Rejected { status, message } => SendError::Rejected {
            status,
            message: format!("{message} (recipient {rcpt}; fix or remove it in `to`/`bcc`)"),
        },
        SendError::Retry { after, message } => SendError::Retry {
            after,
            message: format!("{message} (recipient {rcpt})"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(tls: EmailTls, host: &str) -> EmailConfig {
        EmailConfig {
            host: host.into(),
            port: None,
            tls,
            username_env: Some("SMTP_USER".into()),
            password_env: Some("SMTP_PASSWORD".into()),
            from: "Fernwerk Störungsmeldung <status@fernwerk.example>".into(),
            to: vec!["kunden@lists.fernwerk.example".into()],
            bcc: Vec::new(),
        }
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "SMTP_USER" => Some("status@fernwerk.example".into()),
            "SMTP_PASSWORD" => Some("pw-SECRET-123".into()),
            _ => None,
        }
    }

    fn client(c: &EmailConfig) -> Result<EmailClient, ConfigError> {
        EmailClient::from_config(c, &env, &ClientOptions::new(std::env::temp_dir()))
    }

    #[test]
    fn tls_modes_map_to_ports_and_none_only_on_loopback() {
        let c = client(&cfg(EmailTls::Starttls, "smtp.example.org")).unwrap();
        assert_eq!((c.tls, c.port), (EmailTls::Starttls, 587));
        let c = client(&cfg(EmailTls::Tls, "smtp.example.org")).unwrap();
        assert_eq!((c.tls, c.port), (EmailTls::Tls, 465));
        assert!(c.tls_parameters().is_ok());
        let c = client(&cfg(EmailTls::None, "127.0.0.1")).unwrap();
        assert_eq!((c.tls, c.port), (EmailTls::None, 25));
        let err = client(&cfg(EmailTls::None, "smtp.example.org")).unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { field: "tls", .. }),
            "{err}"
        );
        let mut with_port = cfg(EmailTls::Tls, "smtp.example.org");
        with_port.port = Some(2465);
        assert_eq!(client(&with_port).unwrap().port, 2465);
        let parsed: EmailConfig = serde_yaml::from_str(
            "host: smtp.example.org\ntls: tls\nfrom: a@example.org\nto: [b@example.org]\n",
        )
        .unwrap();
        assert_eq!(parsed.tls, EmailTls::Tls);
        let parsed: EmailConfig =
            serde_yaml::from_str("host: smtp.example.org\nfrom: a@example.org\nbcc: [b@x.org]\n")
                .unwrap();
        assert_eq!(parsed.tls, EmailTls::Starttls);
        assert!(
            serde_yaml::from_str::<EmailConfig>(
                "host: h\ntls: ssl\nfrom: a@example.org\nto: [b@example.org]\n"
            )
            .is_err()
        );
    }

    #[test]
    fn config_mistakes_are_named() {
        let mut c = cfg(EmailTls::Starttls, "smtp.example.org");
        c.password_env = None;
        assert!(matches!(
            client(&c).unwrap_err(),
            ConfigError::Invalid {
                field: "username_env",
                ..
            }
        ));
        let mut c = cfg(EmailTls::Starttls, "smtp.example.org");
        c.to = vec!["not an address".into()];
        assert!(matches!(
            client(&c).unwrap_err(),
            ConfigError::Invalid { field: "to", .. }
        ));
        let mut c = cfg(EmailTls::Starttls, "smtp.example.org:587");
        assert!(matches!(
            client(&c).unwrap_err(),
            ConfigError::Invalid { field: "host", .. }
        ));
        c.host = "smtp.example.org".into();
        c.to.clear();
        assert!(matches!(
            client(&c).unwrap_err(),
            ConfigError::Invalid { field: "to", .. }
        ));
        let debug = format!(
            "{:?}",
            client(&cfg(EmailTls::Tls, "smtp.example.org")).unwrap()
        );
        assert!(!debug.contains("pw-SECRET-123"), "{debug}");
    }
}
