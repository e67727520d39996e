//! The message of one post: headers for threading and a `multipart/alternative` body.

use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::super::{Outgoing, SendError, escape_html, sha256_hex, text_to_html};

/// Who a message goes from and to.
pub(super) struct Addresses<'a> {
    pub from: &'a Mailbox,
    pub to: &'a [Mailbox],
    pub bcc: &'a [Mailbox],
}

/// The `Message-ID` of a post: `<first 32 hex of SHA-256(post key, sender)@sender's domain>`.
pub(super) fn message_id(post_key: &str, from: &Mailbox) -> String {
    let hash = sha256_hex(format!("{post_key}\n{}", from.email).as_bytes());
    format!("<{}@{}>", &hash[..32], from.email.domain())
}

/// The subject: `[site] incident title` for every post of an incident (one subject per thread),
/// `[site] first words` for posts that belong to no incident.
pub(super) fn subject(post: &Outgoing<'_>) -> String {
    let meta = post.meta;
    let topic = match meta.and_then(|m| m.incident.as_ref()) {
        Some(incident) => incident.title.clone(),
        None => first_words(post.text, 70),
    };
    match meta.map(|m| m.site_title.trim()) {
        Some(site) if !site.is_empty() => format!("[{site}] {topic}"),
        _ => topic,
    }
}

/// The complete message of a post (lettre adds `Date` from the real clock and `MIME-Version`).
pub(super) fn build(
    post: &Outgoing<'_>,
    addresses: &Addresses<'_>,
    user_agent: &str,
) -> Result<Message, SendError> {
    let subject = subject(post);
    let mut builder = Message::builder()
        .from(addresses.from.clone())
        .subject(subject.clone())
        .message_id(Some(message_id(post.key, addresses.from)))
        .user_agent(user_agent.to_owned())
        .header(AutoSubmitted);
    for to in addresses.to {
        builder = builder.to(to.clone());
    }
    for bcc in addresses.bcc {
        builder = builder.bcc(bcc.clone());
    }
    if let Some(parent) = post.reply_to {
        builder = builder.in_reply_to(parent.id.clone());
        let references = match post.root {
            Some(root) if root.id != parent.id => format!("{} {}", root.id, parent.id),
            _ => parent.id.clone(),
        };
        builder = builder.references(references);
    }
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n<p>{}</p>\n</body>\n</html>\n",
        escape_html(post.language),
        escape_html(&subject),
        text_to_html(post.text)
    );
    // Strings become 7bit or quoted-printable (never 8bit): any server takes them.
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(format!("{}\n", post.text)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| SendError::Rejected {
            status: 0,
            message: format!("cannot build the message: {e}"),
        })
}

/// `Auto-Submitted: auto-generated` (RFC 3834): vacation responders do not answer it.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// The first words of a text, at most `max` characters, with `…` when cut.
fn first_words(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let mut out = String::new();
    for word in text.split(' ') {
        if out.chars().count() + word.chars().count() + 1 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        out = text.chars().take(max).collect();
    }
    out + "…"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_per_post_and_sender() {
        let from: Mailbox = "Fernwerk <status@fernwerk.example>".parse().unwrap();
        let id = message_id("2026-11-20-mobilfunk#0/mail", &from);
        assert_eq!(id, message_id("2026-11-20-mobilfunk#0/mail", &from));
        assert_ne!(id, message_id("2026-11-20-mobilfunk#1/mail", &from));
        let other: Mailbox = "noc@fernwerk.example".parse().unwrap();
        assert_ne!(id, message_id("2026-11-20-mobilfunk#0/mail", &other));
        assert!(
            id.starts_with('<') && id.ends_with("@fernwerk.example>"),
            "{id}"
        );
        assert_eq!(id.len(), 1 + 32 + 1 + "fernwerk.example".len() + 1);
    }

    #[test]
    fn first_words_cut_at_a_word() {
        assert_eq!(first_words("Kurz  und\nknapp", 70), "Kurz und knapp");
        assert_eq!(first_words("eins zwei drei", 9), "eins zwei…");
        assert_eq!(first_words("Donaudampfschifffahrt", 5), "Donau…");
    }
}
