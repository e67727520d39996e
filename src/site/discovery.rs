//! `robots.txt` (everything may be crawled; it names the sitemap) and `sitemap.xml` (every page, with
//! the time an incident page last changed). The feed links in every page's head and the footer links
//! are in the theme's `base.html`.

use std::collections::HashMap;

use super::machine::{Machine, changed_at, rfc3339, xml_safe};
use super::view::Views;
use super::{Output, theme::escape_html};

/// `robots.txt` and `sitemap.xml`; `pages` are the rendered files, whose `index.html` pages are listed.
#[must_use]
pub fn render(m: &Machine, pages: &[&str]) -> Vec<Output> {
    let robots = format!(
        "User-agent: *\nAllow: /\n\nSitemap: {}\n",
        m.url("sitemap.xml")
    );

    let lastmod: HashMap<String, String> = m
        .visible
        .iter()
        .map(|i| {
            (
                format!("{}index.html", Views::incident_path(&i.id)),
                rfc3339(changed_at(i, m.now)),
            )
        })
        .chain([("index.html".to_string(), rfc3339(m.last_change))])
        .collect();
    let mut paths: Vec<&str> = pages
        .iter()
        .copied()
        .filter(|p| *p == "index.html" || p.ends_with("/index.html"))
        .collect();
    paths.sort_unstable();
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for path in paths {
        let dir = path.trim_end_matches("index.html");
        xml.push_str("  <url>\n    <loc>");
        xml.push_str(&escape_html(&xml_safe(&m.url(dir))));
        xml.push_str("</loc>\n");
        if let Some(t) = lastmod.get(path) {
            xml.push_str("    <lastmod>");
            xml.push_str(t);
            xml.push_str("</lastmod>\n");
        }
        xml.push_str("  </url>\n");
    }
    xml.push_str("</urlset>\n");
    vec![
        Output {
            path: "robots.txt".to_string(),
            bytes: robots.into_bytes(),
        },
        Output {
            path: "sitemap.xml".to_string(),
            bytes: xml.into_bytes(),
        },
    ]
}
