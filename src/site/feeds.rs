//! Atom 1.0 (`feed.atom`) and RSS 2.0 (`feed.rss`) feeds: one entry per published update, newest
//! first, for the whole page and for each component (`components/<id>/feed.atom|rss`).
//!
//! An entry's id is the incident's permalink with the update's stable anchor (`…/#u-<id>`, the same
//! anchor the incident page has), so it never changes; its title names the status, the incident and
//! the components; its content is the update rendered from Markdown. Every URL is absolute, every
//! date is UTC (RFC 3339 in Atom, RFC 822 in RSS), and `updated` is the newest entry's time, so a feed
//! only changes when an update is published.

use std::collections::BTreeSet;
use std::io;

use chrono::{DateTime, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use super::machine::{Keyed, Machine, fill, rfc3339, write_error, xml_safe};
use super::{Output, ids, markdown};
use crate::diagnostics::Diagnostic;
use crate::model::{Incident, Update};

/// Entries per feed.
pub const FEED_ENTRIES: usize = 50;

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

struct Entry<'a> {
    incident: &'a Incident,
    update: &'a Update,
    /// Position of the update in its incident (a later one is newer at the same time).
    index: usize,
    /// The update's stable id (its anchor on the incident page); filled in for entries a feed shows.
    id: String,
}

/// One feed: where it lives, what it is called, and which entries (indices, newest first) it has.
struct Feed {
    dir: String,
    title: String,
    subtitle: String,
    entries: Vec<usize>,
}

/// Each feed's files with the key of what the feed shows: its entries (their incidents' content
/// and which update), its time, and `global` (config, theme, statuscast). The same key, the same
/// bytes. [`Selected::render`] makes the feeds it is told to, so editing an incident makes again
/// only the feeds that show it.
pub fn keyed<'m>(m: &'m Machine<'m>, global: &[u8; 32]) -> (Vec<Keyed>, Selected<'m>) {
    let (entries, feeds) = select(m);
    let keyed = feeds
        .iter()
        .map(|feed| {
            let mut h = Sha256::new();
            h.update(global);
            h.update(b"feed 2");
            h.update(feed.dir.as_bytes());
            h.update([0]);
            h.update((feed.entries.len() as u64).to_le_bytes());
            h.update(updated(m, feed, &entries).timestamp().to_le_bytes());
            for &n in &feed.entries {
                let e = &entries[n];
                h.update(e.incident.content_key());
                h.update((e.index as u64).to_le_bytes());
            }
            let paths = vec![
                format!("{}feed.atom", feed.dir),
                format!("{}feed.rss", feed.dir),
            ];
            (paths, h.finalize().into())
        })
        .collect();
    (keyed, Selected { m, entries, feeds })
}

/// The feeds and their entries, as [`keyed`] picked them.
pub struct Selected<'m> {
    m: &'m Machine<'m>,
    entries: Vec<Entry<'m>>,
    feeds: Vec<Feed>,
}

impl Selected<'_> {
    /// The files of the feeds flagged in `wanted` (one flag per feed, in [`keyed`]'s order).
    ///
    /// # Errors
    /// When a feed cannot be serialized.
    pub fn render(self, wanted: &[bool]) -> Result<Vec<Output>, Diagnostic> {
        let feeds: Vec<Feed> = self
            .feeds
            .into_iter()
            .zip(wanted)
            .filter(|(_, w)| **w)
            .map(|(f, _)| f)
            .collect();
        render_selected(self.m, self.entries, &feeds)
    }
}

/// Every entry some feed shows, newest first, and the feeds with the entries each shows.
fn select<'a>(m: &Machine<'a>) -> (Vec<Entry<'a>>, Vec<Feed>) {
    // Each published update as (time, position in its incident, incident). Newest first; at the
    // same moment by incident id, then the later update first. Every feed needs only its newest
    // FEED_ENTRIES, picked without sorting years of updates.
    type Pick = (DateTime<Utc>, u32, u32);
    let id = |p: &Pick| m.visible[p.2 as usize].id.as_str();
    let newest_first = |a: &Pick, b: &Pick| {
        b.0.cmp(&a.0)
            .then_with(|| id(a).cmp(id(b)))
            .then(b.1.cmp(&a.1))
    };
    // The newest FEED_ENTRIES of `picks`, in any order.
    let cut = |picks: &mut Vec<Pick>| {
        if picks.len() > FEED_ENTRIES {
            picks.select_nth_unstable_by(FEED_ENTRIES - 1, newest_first);
            picks.truncate(FEED_ENTRIES);
        }
    };
    let components = &m.config.components;
    // The whole page's feed, then one per component. Each keeps at most twice what it shows,
    // cut back as it fills: a few hundred picks, not every update of the history.
    let mut feeds_picks: Vec<Vec<Pick>> =
        vec![Vec::with_capacity(2 * FEED_ENTRIES); components.len() + 1];
    // Per feed, once it has FEED_ENTRIES picks: the time of the oldest it keeps. An update older
    // than that cannot be among the newest, so it is not even kept (the history comes newest
    // first: after the first few hundred updates, hardly any is).
    let mut floor: Vec<Option<DateTime<Utc>>> = vec![None; components.len() + 1];
    let mut member: Vec<usize> = Vec::with_capacity(components.len() + 1);
    for (n, incident) in m.visible.iter().enumerate() {
        member.clear();
        member.push(0);
        member.extend(
            components
                .iter()
                .enumerate()
                .filter(|(_, c)| incident.components.contains(&c.id))
                .map(|(c, _)| c + 1),
        );
        for (index, update) in incident.published(m.now).iter().enumerate() {
            for &f in &member {
                if floor[f].is_some_and(|t| update.at < t) {
                    continue;
                }
                let picks = &mut feeds_picks[f];
                picks.push((update.at, index as u32, n as u32));
                if picks.len() == 2 * FEED_ENTRIES {
                    cut(picks);
                    floor[f] = picks.iter().map(|p| p.0).min();
                }
            }
        }
    }
    for picks in &mut feeds_picks {
        cut(picks);
        picks.sort_unstable_by(newest_first);
    }
    // The entries shown by any feed, once each, newest first; feeds point into them.
    let mut shown: Vec<Pick> = feeds_picks.iter().flatten().copied().collect();
    shown.sort_unstable_by(newest_first);
    shown.dedup();
    let position = |p: &Pick| {
        shown
            .binary_search_by(|q| newest_first(q, p))
            .unwrap_or_else(|at| at) // always found: every pick is among them
    };

    let site = m.config.site.title.as_str();
    let description = m
        .config
        .site
        .description
        .clone()
        .unwrap_or_else(|| m.texts.get("feed_description"));
    let mut feeds = vec![Feed {
        dir: String::new(),
        title: fill(&m.texts.get("feed_title"), &[("site", site)]),
        subtitle: description.clone(),
        entries: Vec::new(),
    }];
    for c in components {
        feeds.push(Feed {
            dir: format!("components/{}/", c.id),
            title: fill(
                &m.texts.get("feed_component_title"),
                &[("site", site), ("component", &c.name)],
            ),
            subtitle: c.description.clone().unwrap_or_else(|| description.clone()),
            entries: Vec::new(),
        });
    }
    // The whole page's feed first, then one per component, as picked.
    for (feed, picks) in feeds.iter_mut().zip(&feeds_picks) {
        feed.entries = picks.iter().map(position).collect();
    }
    let entries = shown
        .iter()
        .map(|&(_, index, n)| {
            let incident = m.visible[n as usize];
            Entry {
                incident,
                update: &incident.published(m.now)[index as usize],
                index: index as usize,
                id: String::new(),
            }
        })
        .collect();
    (entries, feeds)
}

fn render_selected(
    m: &Machine,
    mut entries: Vec<Entry>,
    feeds: &[Feed],
) -> Result<Vec<Output>, Diagnostic> {
    // Render each update's Markdown once, and only those some feed shows.
    let used: BTreeSet<usize> = feeds
        .iter()
        .flat_map(|f| f.entries.iter().copied())
        .collect();
    // Ids too: a SHA-256 per update adds up over years of history.
    let mut update_ids: std::collections::BTreeMap<&str, Vec<String>> =
        std::collections::BTreeMap::new();
    for &n in &used {
        let incident = entries[n].incident;
        let ids = update_ids
            .entry(incident.id.as_str())
            .or_insert_with(|| ids::updates(incident));
        let index = entries[n].index;
        entries[n].id.clone_from(&ids[index]);
    }
    let mut html: Vec<String> = vec![String::new(); entries.len()];
    let rendered: Vec<(usize, String)> = used
        .into_par_iter()
        .map(|n| {
            let e = &entries[n];
            let body = markdown::to_html(&e.update.body);
            let body = if body.is_empty() {
                format!(
                    "<p>{}</p>",
                    super::theme::escape_html(&m.update_label(e.update.status))
                )
            } else {
                body
            };
            (n, body)
        })
        .collect();
    for (n, body) in rendered {
        html[n] = body;
    }

    let mut out = Vec::with_capacity(feeds.len() * 2);
    for feed in feeds {
        let path = format!("{}feed.atom", feed.dir);
        let bytes = atom(m, feed, &entries, &html).map_err(|e| write_error(&path, &e))?;
        out.push(Output { path, bytes });
        let path = format!("{}feed.rss", feed.dir);
        let bytes = rss(m, feed, &entries, &html).map_err(|e| write_error(&path, &e))?;
        out.push(Output { path, bytes });
    }
    Ok(out)
}

fn entry_title(m: &Machine, e: &Entry) -> String {
    fill(
        &m.texts.get("feed_entry_title"),
        &[
            ("status", &m.update_label(e.update.status)),
            ("title", &e.incident.title),
            ("components", &m.component_names(e.incident).join(", ")),
        ],
    )
}

fn entry_id(m: &Machine, e: &Entry) -> String {
    format!("{}#u-{}", m.permalink(e.incident), e.id)
}

/// The newest entry's time, or when the page last changed for a feed without entries.
fn updated(m: &Machine, feed: &Feed, entries: &[Entry]) -> DateTime<Utc> {
    feed.entries
        .first()
        .map_or(m.last_change, |n| entries[*n].update.at)
}

fn text(w: &mut Writer<Vec<u8>>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(&xml_safe(value)))?;
    Ok(())
}

fn finish(w: Writer<Vec<u8>>) -> Vec<u8> {
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    bytes
}

fn atom(m: &Machine, feed: &Feed, entries: &[Entry], html: &[String]) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    let self_url = m.url(&format!("{}feed.atom", feed.dir));
    let home = m.url("");
    w.create_element("feed")
        .with_attribute(("xmlns", ATOM_NS))
        .with_attribute(("xml:lang", m.config.site.language.code()))
        .write_inner_content(|w| {
            text(w, "id", &self_url)?;
            text(w, "title", &feed.title)?;
            text(w, "subtitle", &feed.subtitle)?;
            text(w, "updated", &rfc3339(updated(m, feed, entries)))?;
            w.create_element("link")
                .with_attribute(("rel", "self"))
                .with_attribute(("type", "application/atom+xml"))
                .with_attribute(("href", self_url.as_str()))
                .write_empty()?;
            w.create_element("link")
                .with_attribute(("rel", "alternate"))
                .with_attribute(("type", "text/html"))
                .with_attribute(("href", home.as_str()))
                .write_empty()?;
            w.create_element("author").write_inner_content(|w| {
                text(w, "name", &m.config.site.title)?;
                text(w, "uri", &home)
            })?;
            w.create_element("generator")
                .with_attribute(("version", env!("CARGO_PKG_VERSION")))
                .write_text_content(BytesText::new("statuscast"))?;
            for n in &feed.entries {
                let e = &entries[*n];
                let at = rfc3339(e.update.at);
                let permalink = m.permalink(e.incident);
                w.create_element("entry").write_inner_content(|w| {
                    text(w, "id", &entry_id(m, e))?;
                    text(w, "title", &entry_title(m, e))?;
                    text(w, "published", &at)?;
                    text(w, "updated", &at)?;
                    w.create_element("link")
                        .with_attribute(("rel", "alternate"))
                        .with_attribute(("type", "text/html"))
                        .with_attribute(("href", permalink.as_str()))
                        .write_empty()?;
                    for c in e
                        .incident
                        .components
                        .iter()
                        .filter_map(|c| m.config.component(c))
                    {
                        w.create_element("category")
                            .with_attribute(("term", c.id.as_str()))
                            .with_attribute(("label", xml_safe(&c.name).as_ref()))
                            .write_empty()?;
                    }
                    w.create_element("content")
                        .with_attribute(("type", "html"))
                        .write_text_content(BytesText::new(&xml_safe(&html[*n])))?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(finish(w))
}

fn rss(m: &Machine, feed: &Feed, entries: &[Entry], html: &[String]) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    let self_url = m.url(&format!("{}feed.rss", feed.dir));
    let home = m.url("");
    w.create_element("rss")
        .with_attribute(("version", "2.0"))
        .with_attribute(("xmlns:atom", ATOM_NS))
        .write_inner_content(|w| {
            w.create_element("channel").write_inner_content(|w| {
                text(w, "title", &feed.title)?;
                text(w, "link", &home)?;
                text(w, "description", &feed.subtitle)?;
                text(w, "language", m.config.site.language.code())?;
                text(w, "lastBuildDate", &updated(m, feed, entries).to_rfc2822())?;
                text(
                    w,
                    "generator",
                    &format!("statuscast {}", env!("CARGO_PKG_VERSION")),
                )?;
                w.create_element("atom:link")
                    .with_attribute(("href", self_url.as_str()))
                    .with_attribute(("rel", "self"))
                    .with_attribute(("type", "application/rss+xml"))
                    .write_empty()?;
                for n in &feed.entries {
                    let e = &entries[*n];
                    w.create_element("item").write_inner_content(|w| {
                        text(w, "title", &entry_title(m, e))?;
                        text(w, "link", &m.permalink(e.incident))?;
                        w.create_element("guid")
                            .with_attribute(("isPermaLink", "true"))
                            .write_text_content(BytesText::new(&entry_id(m, e)))?;
                        text(w, "pubDate", &e.update.at.to_rfc2822())?;
                        for name in m.component_names(e.incident) {
                            text(w, "category", name)?;
                        }
                        text(w, "description", &html[*n])
                    })?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(finish(w))
}
