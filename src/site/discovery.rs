//! `robots.txt` (everything may be crawled; it names the sitemap) and `sitemap.xml` (every page, with
//! the time an incident page last changed). Past 50 000 pages, the protocol's limit per file,
//! `sitemap.xml` becomes a sitemap index of `sitemap-1.xml`, `sitemap-2.xml`, …. The feed links in
//! every page's head and the footer links are in the theme's `base.html`.

use rustc_hash::FxHashMap as HashMap;

use chrono::{DateTime, Utc};

use super::machine::{Machine, push_rfc3339, xml_safe};
use super::view::Views;
use super::{Output, theme::escape_html, theme::escape_html_into};

/// The most URLs one sitemap file may list (sitemaps.org; the 50 MB limit per file is far away).
const MAX_URLS: usize = 50_000;

/// Is `path` a page (which the sitemap lists)?
pub fn is_page(path: &str) -> bool {
    path == "index.html" || path.ends_with("/index.html")
}

/// The files [`render`] makes for `pages`, and their key: the pages listed (in any order), when each
/// incident last changed, when the site did, and `global` (config, theme, statuscast).
#[must_use]
pub fn keyed(m: &Machine, global: &[u8; 32], pages: &[&str]) -> (Vec<String>, [u8; 32]) {
    use rayon::prelude::*;
    use sha2::Digest as _;
    use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};
    // The set of pages without sorting it: the sum of two hashes of each path.
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    // Sums in any order are the same: on both cores.
    let (sum_a, sum_b, count) = pages
        .par_iter()
        .filter(|p| is_page(p))
        .map(|p| (hasher.hash_one(p), hasher.hash_one((1u8, p)), 1usize))
        .reduce(
            || (0, 0, 0),
            |(a, b, n), (c, d, k)| (a.wrapping_add(c), b.wrapping_add(d), n + k),
        );
    let mut h = sha2::Sha256::new();
    h.update(global);
    h.update(b"sitemap 1");
    h.update(sum_a.to_le_bytes());
    h.update(sum_b.to_le_bytes());
    h.update((count as u64).to_le_bytes());
    h.update(m.last_change.timestamp().to_le_bytes());
    for (i, changed) in m.visible.iter().zip(&m.changed) {
        h.update(i.id.as_bytes());
        h.update([0]);
        h.update(changed.timestamp().to_le_bytes());
    }
    let mut paths = vec!["robots.txt".to_string(), "sitemap.xml".to_string()];
    if count > MAX_URLS {
        paths.extend((1..=count.div_ceil(MAX_URLS)).map(|k| format!("sitemap-{k}.xml")));
    }
    (paths, h.finalize().into())
}

/// `robots.txt` and `sitemap.xml`; `pages` are the rendered files, whose `index.html` pages are listed.
#[must_use]
pub fn render(m: &Machine, pages: &[&str]) -> Vec<Output> {
    let robots = format!(
        "User-agent: *\nAllow: /\n\nSitemap: {}\n",
        m.url("sitemap.xml")
    );
    let by_id: HashMap<&str, DateTime<Utc>> = m
        .visible
        .iter()
        .zip(&m.changed)
        .map(|(i, changed)| (i.id.as_str(), *changed))
        .collect();
    let mut paths: Vec<&str> = pages.iter().copied().filter(|p| is_page(p)).collect();
    paths.sort_unstable();
    let urls: Vec<(&str, Option<DateTime<Utc>>)> = paths
        .into_iter()
        .map(|path| {
            let lastmod = if path == "index.html" {
                Some(m.last_change)
            } else {
                Views::incident_of_page(path)
                    .and_then(|id| by_id.get(id))
                    .copied()
            };
            (path.trim_end_matches("index.html"), lastmod)
        })
        .collect();
    let mut out = vec![Output {
        path: "robots.txt".to_string(),
        bytes: robots.into_bytes(),
    }];
    out.extend(sitemaps(
        &m.url(""),
        &urls,
        &|n| m.url(&format!("sitemap-{n}.xml")),
        MAX_URLS,
    ));
    out
}

/// `sitemap.xml` listing `urls` (path below `base`, last change), or, past `max` of them,
/// `sitemap.xml` as an index of files of `max` URLs each, located by `file_url(n)` (`n` from 1).
fn sitemaps(
    base: &str,
    urls: &[(&str, Option<DateTime<Utc>>)],
    file_url: &dyn Fn(usize) -> String,
    max: usize,
) -> Vec<Output> {
    let base = escape_html(&xml_safe(base));
    if urls.len() <= max {
        return vec![Output {
            path: "sitemap.xml".to_string(),
            bytes: urlset(&base, urls).into_bytes(),
        }];
    }
    let mut index = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let mut out = Vec::new();
    for (n, chunk) in urls.chunks(max).enumerate() {
        let n = n + 1;
        index.push_str("  <sitemap>\n    <loc>");
        index.push_str(&escape_html(&xml_safe(&file_url(n))));
        index.push_str("</loc>\n");
        if let Some(t) = chunk.iter().filter_map(|(_, t)| *t).max() {
            index.push_str("    <lastmod>");
            push_rfc3339(&mut index, t);
            index.push_str("</lastmod>\n");
        }
        index.push_str("  </sitemap>\n");
        out.push(Output {
            path: format!("sitemap-{n}.xml"),
            bytes: urlset(&base, chunk).into_bytes(),
        });
    }
    index.push_str("</sitemapindex>\n");
    out.push(Output {
        path: "sitemap.xml".to_string(),
        bytes: index.into_bytes(),
    });
    out
}

/// `base` is escaped already.
fn urlset(base: &str, urls: &[(&str, Option<DateTime<Utc>>)]) -> String {
    let mut xml = String::with_capacity(urls.len() * (base.len() + 100) + 128);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (path, lastmod) in urls {
        xml.push_str("  <url>\n    <loc>");
        xml.push_str(base);
        escape_html_into(&mut xml, &xml_safe(path));
        xml.push_str("</loc>\n");
        if let Some(t) = lastmod {
            xml.push_str("    <lastmod>");
            push_rfc3339(&mut xml, *t);
            xml.push_str("</lastmod>\n");
        }
        xml.push_str("  </url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_the_sitemap_becomes_an_index() {
        let at = |t: &str| Some(t.parse::<DateTime<Utc>>().unwrap());
        let urls: Vec<(&str, Option<DateTime<Utc>>)> = vec![
            ("", at("2026-11-23T10:00:00Z")),
            ("a/", at("2026-01-01T00:00:00Z")),
            ("b/?x=1&y=2", None),
            ("c/", at("2025-05-05T05:05:05Z")),
            ("d/", None),
        ];
        let file = |n: usize| format!("https://s.example/sitemap-{n}.xml");
        let text = |o: &Output| String::from_utf8(o.bytes.clone()).unwrap();

        let one = sitemaps("https://s.example/", &urls, &file, 5);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].path, "sitemap.xml");
        assert_eq!(text(&one[0]).matches("<url>").count(), 5);
        assert!(text(&one[0]).contains("<loc>https://s.example/b/?x=1&amp;y=2</loc>"));

        let split = sitemaps("https://s.example/", &urls, &file, 2);
        let paths: Vec<&str> = split.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "sitemap-1.xml",
                "sitemap-2.xml",
                "sitemap-3.xml",
                "sitemap.xml"
            ]
        );
        let counts: Vec<usize> = split[..3]
            .iter()
            .map(|o| text(o).matches("<url>").count())
            .collect();
        assert_eq!(counts, [2, 2, 1], "every URL once, at most 2 per file");
        let index = text(&split[3]);
        assert!(
            index.contains("<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">")
        );
        assert_eq!(index.matches("<sitemap>").count(), 3);
        assert!(index.contains(
            "<loc>https://s.example/sitemap-1.xml</loc>\n    <lastmod>2026-11-23T10:00:00Z</lastmod>"
        ));
        assert!(index.contains(
            "<loc>https://s.example/sitemap-2.xml</loc>\n    <lastmod>2025-05-05T05:05:05Z</lastmod>"
        ));
        assert!(
            index.contains("<loc>https://s.example/sitemap-3.xml</loc>\n  </sitemap>"),
            "no date known, no lastmod"
        );
    }
}
