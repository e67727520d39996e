//! `maintenance.ics`: every maintenance window as an RFC 5545 VEVENT, for calendar subscriptions.
//!
//! - `UID` is `<incident id>@<host>`: it never changes, so a calendar updates the event in place.
//! - `DTSTART`/`DTEND` are the window in UTC; `STATUS` is `CONFIRMED`, or `CANCELLED` for a
//!   maintenance marked `cancelled: true`; `TRANSP:TRANSPARENT` keeps it from blocking anyone's time.
//! - `SEQUENCE` is the number of published updates, plus one once the maintenance is cancelled. A
//!   build keeps no state, and a number computed from the window alone cannot grow with every change
//!   (moving a window back to where it was would have to lower it), so revisions are counted instead:
//!   rescheduling means changing `scheduled:` *and* publishing an update that tells customers the new
//!   time, which raises `SEQUENCE`; starting, finishing and cancelling raise it too.
//! - `DTSTAMP` is the last time the maintenance changed (an update, or the window starting or ending).
//! - Lines end with CRLF and are folded at 75 octets, never inside a UTF-8 character.

use super::Output;
use super::machine::{Machine, changed_at, fill};
use crate::model::Incident;

/// `YYYYMMDDTHHMMSSZ`.
fn utc(t: chrono::DateTime<chrono::Utc>) -> String {
    // `2026-11-23T10:00:00Z` without its separators, for the four-digit years a calendar has.
    let text = super::machine::rfc3339(t);
    if text.len() == 20 {
        text.replace(['-', ':'], "")
    } else {
        t.format("%Y%m%dT%H%M%SZ").to_string()
    }
}

/// Escape a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines; control
/// characters other than tab are dropped.
#[must_use]
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Fold a content line at 75 octets (RFC 5545 3.1) and end it with CRLF.
#[must_use]
pub fn fold(line: &str) -> String {
    if line.len() <= 75 {
        return format!("{line}\r\n");
    }
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut len = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if len + n > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += n;
    }
    out.push_str("\r\n");
    out
}

/// The calendar's `SEQUENCE` for a maintenance (see the module documentation).
#[must_use]
pub fn sequence(m: &Machine, incident: &Incident) -> usize {
    incident.published(m.now).len() + usize::from(incident.cancelled)
}

fn description(m: &Machine, incident: &Incident) -> String {
    let mut parts: Vec<String> = Vec::new();
    parts.push(format!(
        "{}: {}",
        m.texts.get("label_affected"),
        m.component_names(incident).join(", ")
    ));
    if !incident.summary.trim().is_empty() {
        parts.push(incident.summary.trim().to_string());
    }
    if let Some(u) = incident.published(m.now).last()
        && !u.body.trim().is_empty()
    {
        parts.push(format!("{}: {}", m.update_label(u.status), u.body.trim()));
    }
    parts.push(format!(
        "{}: {}",
        m.texts.get("ics_details"),
        m.permalink(incident)
    ));
    parts.join("\n\n")
}

/// The key of the calendar: each maintenance's content, how many of its updates are published and
/// when it last changed (all it depends on besides `global`: config, theme, statuscast).
#[must_use]
pub fn key(m: &Machine, global: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(global);
    h.update(b"calendar 1");
    for i in m.visible.iter().filter(|i| i.scheduled.is_some()) {
        h.update(i.content_key());
        h.update((i.published(m.now).len() as u64).to_le_bytes());
        h.update(changed_at(i, m.now).timestamp().to_le_bytes());
    }
    h.finalize().into()
}

/// The calendar of all maintenance windows, in start order.
#[must_use]
pub fn render(m: &Machine) -> Output {
    let site = m.config.site.title.as_str();
    let name = fill(&m.texts.get("calendar_name"), &[("site", site)]);
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        format!(
            "PRODID:-//statuscast//statuscast {}//{}",
            env!("CARGO_PKG_VERSION"),
            m.config.site.language.code().to_uppercase()
        ),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        format!("NAME:{}", escape_text(&name)),
        format!("X-WR-CALNAME:{}", escape_text(&name)),
        format!("URL:{}", m.url("maintenance.ics")),
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H".into(),
        "X-PUBLISHED-TTL:PT1H".into(),
    ];
    if let Some(d) = &m.config.site.description {
        lines.push(format!("X-WR-CALDESC:{}", escape_text(d)));
    }
    let mut windows: Vec<(&Incident, crate::model::Window)> = m
        .visible
        .iter()
        .filter_map(|i| i.scheduled.map(|w| (*i, w)))
        .collect();
    windows.sort_by(|(a, wa), (b, wb)| wa.start.cmp(&wb.start).then_with(|| a.id.cmp(&b.id)));
    for (incident, window) in windows {
        let label = if incident.cancelled {
            m.texts.get("maintenance_cancelled")
        } else {
            m.texts.get("label_maintenance")
        };
        let summary = fill(
            &m.texts.get("ics_summary"),
            &[("label", &label), ("title", &incident.title)],
        );
        lines.extend([
            "BEGIN:VEVENT".into(),
            format!("UID:{}@{}", incident.id, m.host()),
            format!("DTSTAMP:{}", utc(changed_at(incident, m.now))),
            format!("SEQUENCE:{}", sequence(m, incident)),
            format!("DTSTART:{}", utc(window.start)),
            format!("DTEND:{}", utc(window.end)),
            format!("SUMMARY:{}", escape_text(&summary)),
            format!("DESCRIPTION:{}", escape_text(&description(m, incident))),
            format!("URL:{}", m.permalink(incident)),
            format!(
                "STATUS:{}",
                if incident.cancelled {
                    "CANCELLED"
                } else {
                    "CONFIRMED"
                }
            ),
            "TRANSP:TRANSPARENT".into(),
            "END:VEVENT".into(),
        ]);
    }
    lines.push("END:VCALENDAR".into());
    let text: String = lines.iter().map(|l| fold(l)).collect();
    Output {
        path: "maintenance.ics".to_string(),
        bytes: text.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_is_the_basic_format() {
        for secs in [
            0,
            1_483_228_799,
            1_795_428_000,
            -62_167_219_200,
            253_402_300_799,
        ] {
            for nanos in [0, 999_999_999, 1_500_000_000] {
                let Some(t) = chrono::DateTime::from_timestamp(secs, nanos) else {
                    continue;
                };
                assert_eq!(utc(t), t.format("%Y%m%dT%H%M%SZ").to_string(), "{t:?}");
            }
        }
    }

    #[test]
    fn folds_at_75_octets_without_splitting_characters() {
        let line = format!("DESCRIPTION:{}", "ä".repeat(60));
        let folded = fold(&line);
        assert!(folded.ends_with("\r\n"));
        for physical in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(physical.len() <= 75, "{} octets", physical.len());
        }
        let unfolded = folded.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, line, "unfolding gives the line back");
        assert_eq!(fold("SHORT"), "SHORT\r\n");
        let exact = "X".repeat(75);
        assert_eq!(fold(&exact), format!("{exact}\r\n"));
        assert_eq!(
            fold(&"X".repeat(76)),
            format!("{}\r\n X\r\n", "X".repeat(75))
        );
    }

    #[test]
    fn escapes_text_values() {
        assert_eq!(escape_text("a;b,c\\d\ne\r\u{7}"), "a\\;b\\,c\\\\d\\ne");
    }
}
