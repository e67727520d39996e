//! Post texts: the first paragraph of an update as plain text, the per-channel Tera template with
//! defaults in both languages, and fitting to the channel's own length rule.

use comrak::nodes::NodeValue;
use comrak::{Arena, Options, parse_document};
use serde::Serialize;
use tera::{Context, Tera};

use crate::broadcast::config::ChannelEntry;
use crate::broadcast::text::{self, Counting, Fitted, PROSE_MARKER, Parts};
use crate::config::Lang;

/// The default template of every channel: label, title, text, permalink, signature.
pub const DEFAULT_TEMPLATE: &str = "[{{ label }}] {{ title }}: {{ text }}{% if link %} {{ link }}{% endif %}{% if initials %} ^{{ initials }}{% endif %}";
/// Recurring posts are their text (and a signature if the config names none).
pub const RECURRING_TEMPLATE: &str = "{{ text }}";

/// The first paragraph of Markdown as plain text: a link becomes its text, emphasis is dropped,
/// line breaks become spaces.
#[must_use]
pub fn first_paragraph(markdown: &str) -> String {
    let arena = Arena::new();
    let root = parse_document(&arena, markdown, &Options::default());
    let Some(para) = root
        .descendants()
        .find(|n| matches!(n.data.borrow().value, NodeValue::Paragraph))
    else {
        return String::new();
    };
    let mut out = String::new();
    for node in para.descendants() {
        match &node.data.borrow().value {
            NodeValue::Text(t) => out.push_str(t),
            NodeValue::Code(c) => out.push_str(&c.literal),
            NodeValue::SoftBreak | NodeValue::LineBreak => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a template can use.
#[derive(Debug, Clone, Serialize)]
pub struct TextContext {
    /// `Störung`, `Update`, `Behoben`, `Wartung`, … in the site's language.
    pub label: String,
    pub title: String,
    /// The prose (update text); may be shortened to fit.
    pub text: String,
    pub link: String,
    pub components: String,
    pub status: String,
    pub initials: String,
    pub author: String,
    pub site_title: String,
    /// `update`, `announce`, `reminder`, `start`, `end`, `still_working` or `recurring`.
    pub kind: String,
}

/// The counting rule of a channel.
#[must_use]
pub fn counting(entry: &ChannelEntry) -> Counting {
    use crate::broadcast::channels::ChannelConfig;
    match &entry.service {
        ChannelConfig::X(_) => Counting::x(),
        ChannelConfig::Mastodon(m) => m.max_chars.map_or_else(Counting::mastodon, |max| {
            Counting::mastodon_instance(max as usize, 23)
        }),
        ChannelConfig::Bluesky(_) => Counting::bluesky(),
        // No tight limits: an event stays well under Matrix's 64 KiB with body and HTML; a
        // webhook stays under the Standard Webhooks' recommended 20 kB.
        ChannelConfig::Matrix(_) => Counting::Chars {
            max: 4000,
            name: "Matrix",
        },
        ChannelConfig::Webhook(_) => Counting::Chars {
            max: 8000,
            name: "webhook",
        },
        ChannelConfig::Email(_) => Counting::Chars {
            max: 8000,
            name: "e-mail",
        },
    }
}

/// Render `template` with `ctx` and fit the prose to `counting`.
///
/// # Errors
/// A template that does not render, or fixed parts (title, link, signature) longer than the limit.
pub fn render(template: &str, ctx: &TextContext, counting: Counting) -> Result<Fitted, String> {
    let prose = ctx.text.clone();
    let mut with_marker = ctx.clone();
    with_marker.text = PROSE_MARKER.to_string();
    let context = Context::from_serialize(&with_marker).map_err(|e| e.to_string())?;
    let rendered = Tera::one_off(template, &context, false).map_err(|e| {
        format!(
            "the post template does not render: {}",
            crate::site::theme::tera_reason(&e)
        )
    })?;
    let rendered = rendered.split_whitespace().collect::<Vec<_>>().join(" ");
    let parts = Parts::from_rendered(&rendered, PROSE_MARKER, &prose).map_err(|e| e.to_string())?;
    text::fit(counting, &parts).map_err(|e| e.to_string())
}

/// Labels and sentences of posts, per language.
pub struct Words {
    pub lang: Lang,
}

impl Words {
    #[must_use]
    pub fn update_label(
        &self,
        status: crate::model::Status,
        impact: crate::model::Impact,
        first: bool,
    ) -> &'static str {
        use crate::model::{Impact, Status};
        let de = self.lang == Lang::De;
        match status {
            Status::Resolved => {
                if de {
                    "Behoben"
                } else {
                    "Resolved"
                }
            }
            Status::Completed => {
                if de {
                    "Wartung beendet"
                } else {
                    "Maintenance completed"
                }
            }
            Status::InProgress => {
                if de {
                    "Wartung läuft"
                } else {
                    "Maintenance in progress"
                }
            }
            Status::Verifying | Status::Scheduled => {
                if de {
                    "Wartung"
                } else {
                    "Maintenance"
                }
            }
            _ if first && impact == Impact::None => {
                if de {
                    "Hinweis"
                } else {
                    "Notice"
                }
            }
            _ if first => {
                if de {
                    "Störung"
                } else {
                    "Outage"
                }
            }
            _ => "Update",
        }
    }

    #[must_use]
    pub fn label(&self, kind: &str) -> &'static str {
        let de = self.lang == Lang::De;
        match kind {
            "announce" => {
                if de {
                    "Wartung"
                } else {
                    "Planned maintenance"
                }
            }
            "reminder" => {
                if de {
                    "Erinnerung"
                } else {
                    "Reminder"
                }
            }
            "start" => {
                if de {
                    "Wartung beginnt"
                } else {
                    "Maintenance started"
                }
            }
            "end" => {
                if de {
                    "Wartung beendet"
                } else {
                    "Maintenance completed"
                }
            }
            "still_working" => "Update",
            _ => "",
        }
    }

    #[must_use]
    pub fn announce(&self, window: &str, components: &str) -> String {
        match self.lang {
            Lang::De => format!("{window}. Betroffen: {components}."),
            Lang::En => format!("{window}. Affected: {components}."),
        }
    }

    #[must_use]
    pub fn reminder(&self, offset: &str, window: &str) -> String {
        match self.lang {
            Lang::De => format!("Beginn in {offset}: {window}."),
            Lang::En => format!("Starts in {offset}: {window}."),
        }
    }

    #[must_use]
    pub fn start(&self, end: &str) -> String {
        match self.lang {
            Lang::De => {
                format!("Die Wartungsarbeiten haben begonnen und dauern voraussichtlich bis {end}.")
            }
            Lang::En => format!("Maintenance has started and is expected to end at {end}."),
        }
    }

    #[must_use]
    pub fn end(&self) -> &'static str {
        match self.lang {
            Lang::De => "Die Wartungsarbeiten sind abgeschlossen. Vielen Dank für Ihre Geduld.",
            Lang::En => "Maintenance is complete. Thank you for your patience.",
        }
    }

    #[must_use]
    pub fn still_working(&self) -> &'static str {
        match self.lang {
            Lang::De => {
                "Wir arbeiten weiterhin an der Behebung und melden uns, sobald es Neuigkeiten gibt."
            }
            Lang::En => {
                "We are still working on this and will post an update as soon as we know more."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_paragraph_is_plain_text() {
        let md = "Seit **7:50 Uhr** gibt es\nStörungen, siehe [WLAN Call](https://x.example/w) und `code`.\n\nZweiter Absatz.";
        assert_eq!(
            first_paragraph(md),
            "Seit 7:50 Uhr gibt es Störungen, siehe WLAN Call und code."
        );
        assert_eq!(first_paragraph("- Liste\n- zwei\n\nText"), "Liste");
        assert_eq!(first_paragraph(""), "");
        assert!(!first_paragraph("<script>x</script> hi").contains("<script"));
        assert_eq!(first_paragraph("Text <b>bold</b> here"), "Text bold here");
    }

    fn ctx(text: &str) -> TextContext {
        TextContext {
            label: "Störung".into(),
            title: "Mobilfunk Hamburg".into(),
            text: text.into(),
            link: "https://status.fernwerk.example/incidents/2026-11-23-x/".into(),
            components: "Mobilfunk".into(),
            status: "investigating".into(),
            initials: "MK".into(),
            author: "Maria Krüger".into(),
            site_title: "Fernwerk".into(),
            kind: "update".into(),
        }
    }

    #[test]
    fn default_template_keeps_link_and_signature_and_fits() {
        let long = "Wir untersuchen eine Störung im Mobilfunknetz. ".repeat(20);
        let f = render(DEFAULT_TEMPLATE, &ctx(&long), Counting::x()).unwrap();
        assert!(f.shortened);
        assert!(f.length <= 280, "{}", f.length);
        assert!(
            f.text
                .starts_with("[Störung] Mobilfunk Hamburg: Wir untersuchen")
        );
        assert!(
            f.text
                .ends_with(" https://status.fernwerk.example/incidents/2026-11-23-x/ ^MK"),
            "{}",
            f.text
        );
        assert!(f.text.contains('…'));
        let short = render(DEFAULT_TEMPLATE, &ctx("Kurz."), Counting::bluesky()).unwrap();
        assert!(!short.shortened);
        assert_eq!(
            short.text,
            "[Störung] Mobilfunk Hamburg: Kurz. https://status.fernwerk.example/incidents/2026-11-23-x/ ^MK"
        );
    }

    #[test]
    fn tera_syntax_in_incident_text_stays_text() {
        let f = render(
            DEFAULT_TEMPLATE,
            &ctx("{{ secret }} {% raw %}"),
            Counting::mastodon(),
        )
        .unwrap();
        assert!(f.text.contains("{{ secret }} {% raw %}"), "{}", f.text);
    }
}
