//! Markdown → HTML with comrak. Raw HTML in incident text is escaped, never passed through, and
//! dangerous link schemes (`javascript:`, `data:`…) are dropped by comrak's safe mode.

use comrak::{Options, markdown_to_html};

fn options() -> Options<'static> {
    let mut o = Options::default();
    o.extension.strikethrough = true;
    o.extension.table = true;
    o.extension.autolink = true;
    o.render.escape = true;
    o
}

/// Render incident Markdown to an HTML fragment that is safe to embed.
#[must_use]
pub fn to_html(markdown: &str) -> String {
    if markdown.trim().is_empty() {
        return String::new();
    }
    markdown_to_html(markdown, &options())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_and_escapes_raw_html() {
        let html = to_html(
            "**Achtung**: <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        );
        assert!(html.contains("<strong>Achtung</strong>"));
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            to_html("https://www.fernwerk.example/hilfe")
                .contains("<a href=\"https://www.fernwerk.example/hilfe\">")
        );
    }
}
