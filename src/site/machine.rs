//! Machine-readable outputs beside the HTML pages: Atom and RSS feeds ([`feeds`]), the maintenance
//! calendar ([`ics`]), the Statuspage-compatible JSON API ([`api`]), status badges ([`badges`]),
//! `robots.txt` and `sitemap.xml` ([`discovery`]).
//!
//! They are written in Rust, not with Tera templates: each format has its own grammar (XML escaping
//! and RFC 3339 dates, iCalendar escaping and line folding, JSON with fixed field types, SVG widths
//! computed from the text), which a template override could silently break. What carries words comes
//! from the theme's texts (`i18n/<lang>.yaml`), so a theme can still reword every title and label.
//! Every time is UTC; nothing depends on the clock except through `now`.
//!
//! [`feeds`]: super::feeds
//! [`ics`]: super::ics
//! [`api`]: super::api
//! [`badges`]: super::badges
//! [`discovery`]: super::discovery

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::view::{Texts, Views};
use super::{Input, Output, api, badges, discovery, feeds, ics};
use crate::config::Config;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::{ComponentStatus, Incident, Status};
use rayon::prelude::*;

/// What every machine-readable output is made from.
pub struct Machine<'a> {
    pub config: &'a Config,
    pub texts: Texts<'a>,
    pub now: DateTime<Utc>,
    /// Visible incidents and maintenance, newest first.
    pub visible: Vec<&'a Incident>,
    /// Every component's status at `now`.
    pub statuses: BTreeMap<String, ComponentStatus>,
    /// The earliest moment the data knows of (`created_at` of components and the page).
    pub epoch: DateTime<Utc>,
    /// The latest moment at or before `now` at which anything visible changed.
    pub last_change: DateTime<Utc>,
    /// When each of `visible` last changed ([`changed_at`]), in the same order: worked out once.
    pub changed: Vec<DateTime<Utc>>,
}

/// What the pages were rendered from and the machine outputs share: the visible incidents (newest
/// first) and every component's status at `now`.
pub struct Live<'a> {
    pub visible: Vec<&'a Incident>,
    pub statuses: BTreeMap<String, ComponentStatus>,
}

impl<'a> Machine<'a> {
    #[must_use]
    pub fn new(input: &Input<'a>, live: Live<'a>) -> Machine<'a> {
        let now = input.now;
        let Live { visible, statuses } = live;
        let (created, changed): (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) = visible
            .par_iter()
            .map(|i| (created_at(i, now), changed_at(i, now)))
            .unzip();
        let epoch = created.into_iter().min().unwrap_or(now);
        let last_change = changed.iter().copied().max().unwrap_or(now);
        Machine {
            config: input.config,
            texts: Texts(&input.theme.texts),
            now,
            statuses,
            visible,
            epoch,
            last_change,
            changed,
        }
    }

    /// The absolute URL of `path` (relative to the site root, no leading `/`).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.config.site.base_url)
    }

    /// The absolute URL of an incident's page.
    #[must_use]
    pub fn permalink(&self, incident: &Incident) -> String {
        self.url(&Views::incident_path(&incident.id))
    }

    /// The display names of an incident's components, in the incident's order.
    #[must_use]
    pub fn component_names(&self, incident: &Incident) -> Vec<&'a str> {
        incident
            .components
            .iter()
            .filter_map(|c| self.config.component(c))
            .map(|c| c.name.as_str())
            .collect()
    }

    #[must_use]
    pub fn status_label(&self, s: ComponentStatus) -> String {
        self.texts.get(&format!("status_{}", s.as_str()))
    }

    #[must_use]
    pub fn update_label(&self, s: Status) -> String {
        self.texts.get(&format!("update_{}", s.as_str()))
    }

    /// The host of the base URL (for calendar UIDs).
    #[must_use]
    pub fn host(&self) -> &str {
        let url = &self.config.site.base_url;
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let end = rest.find(['/', ':', '?', '#']).unwrap_or(rest.len());
        &rest[..end]
    }
}

/// When an incident was first published: its first published update, or (a maintenance announced
/// without one) its start, but never later than `now`.
#[must_use]
pub fn created_at(incident: &Incident, now: DateTime<Utc>) -> DateTime<Utc> {
    incident
        .published(now)
        .first()
        .map_or_else(|| incident.started_at().min(now), |u| u.at)
}

/// The latest moment at or before `now` at which the incident changed: an update, or a
/// maintenance starting or ending by the clock.
#[must_use]
pub fn changed_at(incident: &Incident, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut t = created_at(incident, now);
    if let Some(u) = incident.published(now).last() {
        t = t.max(u.at);
    }
    if incident.is_maintenance() && !incident.cancelled && incident.started_at() <= now {
        t = t.max(incident.started_at());
    }
    if let Some(end) = ended_at(incident, now) {
        t = t.max(end.min(now));
    }
    t
}

/// When the incident ended, if it has at `now`. A cancelled maintenance ended when it was called
/// off: at its last published update, or when it was announced (never "now", which would change
/// with every build).
#[must_use]
pub fn ended_at(incident: &Incident, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if incident.is_maintenance() && incident.cancelled {
        return Some(
            incident
                .published(now)
                .last()
                .map_or_else(|| created_at(incident, now), |u| u.at),
        );
    }
    incident.ended_at(now)
}

/// RFC 3339 in UTC with seconds: `2026-11-23T08:12:00Z`.
#[must_use]
pub fn rfc3339(t: DateTime<Utc>) -> String {
    let mut s = String::with_capacity(20);
    push_rfc3339(&mut s, t);
    s
}

/// [`rfc3339`], appended to `out` (without formatting machinery: sitemaps and feeds write
/// thousands of them).
pub fn push_rfc3339(out: &mut String, t: DateTime<Utc>) {
    use chrono::{Datelike as _, Timelike as _};
    let year = t.year();
    // Years of other widths and leap seconds (`:60`) as chrono writes them.
    if !(0..=9999).contains(&year) || t.nanosecond() >= 1_000_000_000 {
        out.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        return;
    }
    let mut buf = *b"0000-00-00T00:00:00Z";
    for (at, width, n) in [
        (0, 4, year.unsigned_abs()),
        (5, 2, t.month()),
        (8, 2, t.day()),
        (11, 2, t.hour()),
        (14, 2, t.minute()),
        (17, 2, t.second()),
    ] {
        let mut n = n;
        for d in buf[at..at + width].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    out.extend(buf.iter().map(|b| char::from(*b)));
}

/// Fill `{name}` placeholders of a theme text in one pass, so that text put in (a title with braces,
/// say) is never filled in again. Unknown placeholders stay as they are.
#[must_use]
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v, close))
        });
        if let Some((v, close)) = value {
            out.push_str(v);
            rest = &after[close + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Keep only characters XML 1.0 allows (incident text could carry stray control characters).
#[must_use]
pub fn xml_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
    };
    if text.chars().all(allowed) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|c| allowed(*c)).collect())
    }
}

/// What [`render_reusing`] made.
pub struct Machined {
    pub files: Vec<Output>,
    /// The input key of the outputs that have one (feeds, calendar, sitemap), as pages have.
    pub keys: Vec<(String, [u8; 32])>,
    /// Outputs not made because `reuse(path, key)` kept the previous build's.
    pub reused: Vec<String>,
}

/// An output made now, or kept: its files, its keys, the paths kept.
type Made = (
    Result<Vec<Output>, Diagnostic>,
    Vec<(String, [u8; 32])>,
    Vec<String>,
);

/// Every machine-readable output. `existing` are the files rendered so far (pages and theme assets):
/// the sitemap lists their pages, and a theme's static file with the same path as a generated one
/// (its own `robots.txt`, say) wins. The feeds, the calendar and the sitemap, whose input keys (with
/// `global`, see `site::render_with`) `reuse` accepts for every file, are not made again.
///
/// # Errors
/// When an output cannot be serialized.
pub fn render_reusing<'a>(
    input: &Input<'a>,
    live: Live<'a>,
    existing: &[&str],
    global: &[u8; 32],
    reuse: &(dyn Fn(&str, &[u8; 32]) -> bool + Sync),
) -> Result<Machined, Diagnostics> {
    let t = crate::timings::span("  machine model");
    let m = Machine::new(input, live);
    // A theme's static files can take a machine output's place; pages cannot (no machine output is
    // an `index.html`), so the set holds a few names, not every page.
    let taken: BTreeSet<&str> = existing
        .iter()
        .copied()
        .filter(|p| !discovery::is_page(p))
        .collect();
    drop(t);
    // A keyed output is kept when every one of its files can be, and no theme file takes its place.
    let timed = |name: &'static str, f: &dyn Fn() -> Result<Vec<Output>, Diagnostic>| {
        let _t = crate::timings::span(name);
        f()
    };
    let feeds = || -> Made {
        let _t = crate::timings::span("  feeds");
        let (groups, selected) = feeds::keyed(&m, global);
        kept_or_made(groups, &taken, reuse, |wanted| selected.render(wanted))
    };
    let calendar = || -> Made {
        let _t = crate::timings::span("  calendar");
        let paths = vec!["maintenance.ics".to_string()];
        kept_or_made(vec![(paths, ics::key(&m, global))], &taken, reuse, |_| {
            Ok(vec![ics::render(&m)])
        })
    };
    let sitemap = || -> Made {
        let _t = crate::timings::span("  sitemap");
        let (paths, key) = discovery::keyed(&m, global, existing);
        kept_or_made(vec![(paths, key)], &taken, reuse, |_| {
            Ok(discovery::render(&m, existing))
        })
    };
    // Independent of each other: on both cores.
    let ((feeds, ics), (api, discovery)) = rayon::join(
        || rayon::join(feeds, calendar),
        || rayon::join(|| timed("  api", &|| api::render(&m)), sitemap),
    );
    let mut problems = Diagnostics::default();
    let mut made = Machined {
        files: Vec::new(),
        keys: Vec::new(),
        reused: Vec::new(),
    };
    let mut add = |r: Result<Vec<Output>, Diagnostic>| match r {
        Ok(files) => made.files.extend(files),
        Err(d) => problems.push(d),
    };
    add(api);
    add(Ok(badges::render(&m)));
    for (files, keys, reused) in [feeds, ics, discovery] {
        add(files);
        made.keys.extend(keys);
        made.reused.extend(reused);
    }
    made.files.retain(|o| !taken.contains(o.path.as_str()));
    made.keys.retain(|(p, _)| !taken.contains(p.as_str()));
    problems.into_result(made)
}

/// Files made together, with the key of what they show (the same key, the same bytes).
pub type Keyed = (Vec<String>, [u8; 32]);

/// Keyed outputs, each a group of `paths` with one key: a group is kept when every one of its
/// paths can be (`reuse`) and no theme file takes its place (`taken`). `make` is given one flag
/// per group, set for the groups to make, and called only when there is one.
fn kept_or_made(
    groups: Vec<Keyed>,
    taken: &BTreeSet<&str>,
    reuse: &(dyn Fn(&str, &[u8; 32]) -> bool + Sync),
    make: impl FnOnce(&[bool]) -> Result<Vec<Output>, Diagnostic>,
) -> Made {
    let mut keys = Vec::new();
    let mut kept = Vec::new();
    let mut wanted = Vec::with_capacity(groups.len());
    for (paths, key) in groups {
        let keep = !paths.iter().any(|p| taken.contains(p.as_str()))
            && paths.iter().all(|p| reuse(p, &key));
        wanted.push(!keep);
        if keep {
            kept.extend(paths);
        } else {
            keys.extend(paths.into_iter().map(|p| (p, key)));
        }
    }
    let files = if wanted.contains(&true) {
        make(&wanted)
    } else {
        Ok(Vec::new())
    };
    (files, keys, kept)
}

/// A serialization error of an output, for the user.
pub fn write_error(path: &str, e: &dyn std::fmt::Display) -> Diagnostic {
    Diagnostic::new(format!("cannot write {path}: {e}"))
        .hint("this is a bug in statuscast; please report it with the incident files that cause it")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_chronos_format() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Any second from year -500 to 12 000, and the edges of the four-digit years.
            let secs = (seed % 394_000_000_000) as i64 - 77_900_000_000;
            for secs in [secs, -62_167_219_200, 253_402_300_799, 0, 1_483_228_799] {
                // Leap seconds too (nanoseconds past a whole second, on a :59).
                let nanos =
                    (seed % 1_000_000_000) as u32 + if secs % 60 == 59 { 1_000_000_000 } else { 0 };
                let t = DateTime::from_timestamp(secs, nanos).unwrap();
                assert_eq!(
                    rfc3339(t),
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "{secs}"
                );
            }
        }
    }

    #[test]
    fn fill_replaces_once_and_keeps_unknown_placeholders() {
        assert_eq!(
            fill(
                "{status}: {title} – {components} {x}",
                &[
                    ("status", "Behoben"),
                    ("title", "Ausfall {components}"),
                    ("components", "DSL")
                ]
            ),
            "Behoben: Ausfall {components} – DSL {x}"
        );
        assert_eq!(fill("{ open", &[]), "{ open");
    }

    #[test]
    fn xml_safe_drops_control_characters() {
        assert_eq!(xml_safe("a\u{1}b\tc\n"), "ab\tc\n");
        assert!(matches!(xml_safe("plain"), std::borrow::Cow::Borrowed(_)));
    }
}
