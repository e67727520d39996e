//! One incident file: `---` YAML front matter `---`, an optional Markdown summary, then one
//! `## <date> <time>[ <zone>] <status>` section per update.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::config::{Config, is_valid_id};
use crate::diagnostics::{Diagnostic, Diagnostics, Span, did_you_mean};
use crate::model::time::parse_time;
use crate::model::{ComponentStatus, Impact, Incident, Status, Update, Window};
use crate::source::yaml::{Doc, Seg, fields_of, path_is};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    components: Vec<String>,
    #[serde(default)]
    impact: Impact,
    #[serde(default)]
    component_status: BTreeMap<String, ComponentStatus>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    scheduled: Option<RawWindow>,
    #[serde(default)]
    cancelled: bool,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default = "yes")]
    broadcast: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    start: String,
    end: String,
}

fn schema(path: &[Seg]) -> Option<&'static [&'static str]> {
    if path.is_empty() {
        Some(fields_of::<FrontMatter>())
    } else if path_is(path, &["scheduled"]) {
        Some(fields_of::<RawWindow>())
    } else {
        None
    }
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// German and other common words ops type for a status, mapped to the word statuscast knows.
pub(crate) fn status_hint(word: &str) -> Option<&'static str> {
    let w = word.to_lowercase();
    Some(match w.as_str() {
        "untersuchung" | "wird untersucht" | "analyse" | "störung" => "investigating",
        "identifiziert" | "ursache" | "erkannt" => "identified",
        "beobachtung" | "überwachung" | "monitoring" => "monitoring",
        "behoben" | "gelöst" | "erledigt" | "fixed" | "closed" | "solved" => "resolved",
        "geplant" | "angekündigt" | "planned" => "scheduled",
        "in_arbeit" | "läuft" | "laufend" | "in-progress" | "inprogress" | "started" => {
            "in_progress"
        }
        "prüfung" | "verifizierung" | "verifying" => "verifying",
        "abgeschlossen" | "beendet" | "done" | "finished" => "completed",
        "aktualisierung" | "info" | "hinweis" => "update",
        _ => return None,
    })
}

/// The heading of an update at `at` with `status`, in the site zone `tz`: `## 2026-11-20 08:12
/// investigating`. Seconds are written when there are any, and the UTC offset when the local time
/// alone would be read as another moment (the second 02:30 of the night the clocks fall back), so
/// that [`parse`] reads back exactly `at` and `status`.
#[must_use]
pub fn format_heading(
    at: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
    status: Status,
) -> String {
    use chrono::Timelike as _;
    let local = at.with_timezone(&tz);
    let format = if local.second() == 0 {
        "%Y-%m-%d %H:%M"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    let stamp = local.format(format).to_string();
    let same = crate::model::time::resolve_local(local.naive_local(), tz).is_ok_and(|t| t == at);
    if same {
        format!("## {stamp} {}", status.as_str())
    } else {
        format!("## {stamp} {} {}", local.format("%:z"), status.as_str())
    }
}

/// Where the id of a file comes from: its stem.
#[must_use]
pub fn id_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// See [`Incident::digest`].
fn digest(path: &Path, bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(path.as_os_str().as_encoded_bytes());
    h.update([0]);
    h.update(bytes);
    h.finalize().into()
}

/// Parse and validate one incident file.
///
/// # Errors
/// Every problem found in the file.
pub fn parse(path: &Path, bytes: &[u8], config: &Config) -> Result<Incident, Diagnostics> {
    let text = crate::source::utf8(path, bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut problems = Diagnostics::default();

    let id = id_of(path);
    if !is_valid_id(&id) {
        problems.push(
            Diagnostic::new(format!("invalid incident id \"{id}\" (the file name)"))
                .at_file(path)
                .hint("name the file with lowercase letters, digits and dashes, e.g. 2026-11-20-mobilfunk-berlin.md"),
        );
    }
    if text.trim().is_empty() {
        problems.push(
            Diagnostic::new("the file is empty")
                .at_file(path)
                .hint("start with front matter between --- lines (title, components, impact); `statuscast new` writes one"),
        );
        return Err(problems);
    }

    if text.contains('\r') && !text.contains('\n') {
        problems.push(
            Diagnostic::new("the lines of this file end with CR only (classic Mac OS line ends)")
                .at(Span::new(path, 1, 1), "")
                .hint("save the file with LF (Unix) or CRLF (Windows) line ends"),
        );
        return Err(problems);
    }
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if lines[0].trim_end() != "---" {
        problems.push(
            Diagnostic::new("the file does not start with front matter")
                .at(Span::new(path, 1, 1).with_width(lines[0].chars().count()), text)
                .hint("the first line must be --- and the front matter (title, components, impact) must end with another --- line"),
        );
        return Err(problems);
    }
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|l| l.trim_end() == "---" || l.trim_end() == "...")
    else {
        problems.push(
            Diagnostic::new("the front matter is not closed")
                .at(Span::new(path, 1, 1).with_width(3), text)
                .hint("end the front matter with a line of three dashes: ---"),
        );
        return Err(problems);
    };
    let close = close + 1; // index of the closing line
    let yaml: String = lines[1..close].join("\n");
    let doc = Doc {
        path,
        text: &yaml,
        file_text: text,
        line_offset: 1,
    };
    // The usual case, a valid front matter, costs one YAML pass: `deny_unknown_fields` means a
    // successful parse has no unknown keys. Only a failure takes the slower path that finds every
    // problem with its position and a suggestion.
    let front: FrontMatter = match serde_yaml::from_str::<FrontMatter>(&yaml) {
        Ok(f) => f,
        Err(_) => match front_matter_problems(&doc, text, &mut problems) {
            Some(f) => f,
            None => return Err(problems),
        },
    };
    if !problems.is_empty() {
        problems.cap();
        return Err(problems);
    }
    check_front_matter(&doc, &front, config, &mut problems);
    let scheduled = front
        .scheduled
        .as_ref()
        .and_then(|w| window(&doc, w, config, &mut problems));
    let maintenance = front.scheduled.is_some();

    let (summary, updates) = body(
        path,
        text,
        &lines,
        close + 1,
        config,
        maintenance,
        &mut problems,
    );
    if !maintenance && updates.is_empty() && problems.is_empty() {
        problems.push(
            Diagnostic::new("the incident has no update")
                .at(Span::new(path, lines.len().min(close + 2), 1), text)
                .hint("add a dated section, e.g. `## 2026-11-20 08:12 investigating`, followed by what customers should know"),
        );
    }
    problems.cap();
    problems.into_result(Incident {
        id,
        path: path.to_path_buf(),
        title: front.title.trim().to_string(),
        components: front.components,
        impact: front.impact,
        component_status: front.component_status,
        author: front.author,
        scheduled,
        cancelled: front.cancelled,
        summary: summary.into(),
        updates,
        channels: front.channels,
        digest: Some(digest(path, bytes)),
        broadcast: front.broadcast,
    })
}

/// Every problem of a front matter that does not parse, or (rarely) the front matter after all.
fn front_matter_problems(doc: &Doc, text: &str, problems: &mut Diagnostics) -> Option<FrontMatter> {
    let value = match doc.parse_value() {
        Ok(v) => v,
        Err(d) => {
            problems.push(d);
            return None;
        }
    };
    if !value.is_mapping() {
        problems.push(
            Diagnostic::new("the front matter is not a list of keys")
                .at(Span::new(doc.path, 2, 1), text)
                .hint("write one `key: value` per line: title, components, impact, …"),
        );
        return None;
    }
    doc.unknown_keys(&value, &schema, problems);
    if !problems.is_empty() {
        return None;
    }
    match doc.parse(
        "front matter keys: title (text), components (list of ids), impact (none|minor|major|critical), component_status, author, scheduled {start, end}",
    ) {
        Ok(f) => Some(f),
        Err(d) => {
            problems.push(d);
            None
        }
    }
}

fn check_front_matter(doc: &Doc, front: &FrontMatter, config: &Config, problems: &mut Diagnostics) {
    if front.title.trim().is_empty() {
        problems.push(
            doc.error_at_key(&[key("title")], "the title is empty")
                .hint("say in a few words what customers notice, e.g. \"Mobile network outage in Berlin\""),
        );
    }
    if front.components.is_empty() {
        problems.push(
            doc.error_at_key(&[key("components")], "no component listed")
                .hint("list the affected components, e.g. components: [mobile]"),
        );
    }
    let known: Vec<&str> = config.components.iter().map(|c| c.id.as_str()).collect();
    let unknown_component = |c: &str, at: &[Seg]| {
        doc.error_at_value(at, c, format!("unknown component \"{c}\""))
            .hint(format!(
                "{}components are declared in statuscast.yaml: {}",
                did_you_mean(c, known.iter().copied()),
                known.join(", ")
            ))
    };
    let mut seen = std::collections::BTreeSet::new();
    for c in &front.components {
        if problems.is_full() {
            break;
        }
        if config.component(c).is_none() {
            problems.push(unknown_component(c, &[key("components")]));
        } else if !seen.insert(c.as_str()) {
            problems.push(doc.error_at_value(
                &[key("components")],
                c,
                format!("component \"{c}\" is listed twice"),
            ));
        }
    }
    for c in front.component_status.keys() {
        if problems.is_full() {
            break;
        }
        if config.component(c).is_none() {
            problems.push(unknown_component(c, &[key("component_status")]));
        } else if !front.components.contains(c) {
            problems.push(
                doc.error_at_value(
                    &[key("component_status")],
                    c,
                    format!("component \"{c}\" has a status but is not in components"),
                )
                .hint("add it to components, or remove it from component_status"),
            );
        }
    }
    let channel_ids: Vec<&str> = config
        .broadcast
        .channels
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    for c in front.channels.iter().flatten() {
        if problems.is_full() {
            break;
        }
        if !channel_ids.contains(&c.as_str()) {
            problems.push(
                doc.error_at_value(&[key("channels")], c, format!("unknown channel \"{c}\""))
                    .hint(format!(
                        "{}channels are declared under broadcast.channels in statuscast.yaml{}",
                        did_you_mean(c, channel_ids.iter().copied()),
                        if channel_ids.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", channel_ids.join(", "))
                        }
                    )),
            );
        }
    }
    if let Some(author) = &front.author
        && config.member(author).is_none()
    {
        let ids: Vec<&str> = config.team.iter().map(|m| m.id.as_str()).collect();
        problems.push(
            doc.error_at_value(
                &[key("author")],
                author,
                format!("unknown author \"{author}\""),
            )
            .hint(format!(
                "{}authors are the team member ids in statuscast.yaml{}",
                did_you_mean(author, ids.iter().copied()),
                if ids.is_empty() {
                    String::new()
                } else {
                    format!(": {}", ids.join(", "))
                }
            )),
        );
    }
}

fn window(
    doc: &Doc,
    raw: &RawWindow,
    config: &Config,
    problems: &mut Diagnostics,
) -> Option<Window> {
    let mut get = |name: &str, text: &str| match parse_time(text, config.tz) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(
                doc.error_at_key(
                    &[key("scheduled"), key(name)],
                    format!("scheduled {name}: {}", e.message),
                )
                .hint(e.hint),
            );
            None
        }
    };
    let start = get("start", &raw.start);
    let end = get("end", &raw.end);
    let (start, end) = (start?, end?);
    if end <= start {
        problems.push(
            doc.error_at_key(
                &[key("scheduled"), key("end")],
                "the maintenance ends before it starts",
            )
            .hint("scheduled.end must be later than scheduled.start"),
        );
        return None;
    }
    Some(Window { start, end })
}

/// Is this a line that opens or closes a fenced code block?
fn fence(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if t.starts_with("```") {
        Some("```")
    } else if t.starts_with("~~~") {
        Some("~~~")
    } else {
        None
    }
}

fn body(
    path: &Path,
    text: &str,
    lines: &[&str],
    first: usize,
    config: &Config,
    maintenance: bool,
    problems: &mut Diagnostics,
) -> (String, Vec<Update>) {
    let mut summary: Vec<&str> = Vec::new();
    let mut updates: Vec<Update> = Vec::new();
    let mut current: Option<(Update, Vec<&str>)> = None;
    let mut in_fence: Option<&str> = None;
    let mut seen_heading = false;
    for (i, line) in lines.iter().enumerate().skip(first) {
        if problems.is_full() {
            break;
        }
        if let Some(open) = in_fence {
            if fence(line) == Some(open) {
                in_fence = None;
            }
        } else if let Some(f) = fence(line) {
            in_fence = Some(f);
        } else if let Some(rest) = line
            .strip_prefix("##")
            .filter(|r| r.starts_with([' ', '\t']))
            && rest.trim_start().starts_with(|c: char| c.is_ascii_digit())
        {
            let heading = heading(path, text, i + 1, line, config, maintenance, problems);
            if let Some((u, body)) = current.take() {
                updates.push(Update {
                    body: join(&body).into(),
                    ..u
                });
            }
            // A broken heading is reported; its lines are dropped, later headings still get checked.
            current = heading.map(|u| (u, Vec::new()));
            seen_heading = true;
            continue;
        }
        match &mut current {
            Some((_, body)) => body.push(line),
            None if !seen_heading => summary.push(line),
            None => {}
        }
    }
    if let Some((u, body)) = current.take() {
        updates.push(Update {
            body: join(&body).into(),
            ..u
        });
    }
    for pair in updates.windows(2) {
        if problems.is_full() {
            break;
        }
        if pair[1].at < pair[0].at {
            problems.push(
                Diagnostic::new("this update is dated before the one above it")
                    .at(Span::new(path, pair[1].line, 4), text)
                    .hint(format!(
                        "updates must be in time order; the previous one (line {}) is later",
                        pair[0].line
                    )),
            );
        }
    }
    (join(&summary), updates)
}

fn join(lines: &[&str]) -> String {
    lines.join("\n").trim().to_string()
}

/// Parse `## 2026-11-20 08:12[ zone] status` at 1-based `line_no`.
fn heading(
    path: &Path,
    text: &str,
    line_no: usize,
    line: &str,
    config: &Config,
    maintenance: bool,
    problems: &mut Diagnostics,
) -> Option<Update> {
    // Words with their character columns.
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut col = 0;
    let mut start: Option<(usize, usize)> = None;
    for (b, c) in line.char_indices() {
        col += 1;
        if c.is_whitespace() {
            if let Some((sc, sb)) = start.take() {
                words.push((sc, &line[sb..b]));
            }
        } else if start.is_none() {
            start = Some((col, b));
        }
    }
    if let Some((sc, sb)) = start {
        words.push((sc, &line[sb..]));
    }
    let words = &words[1..]; // skip "##"
    let at = |col: usize, w: &str| Span::new(path, line_no, col).with_width(w.chars().count());
    let allowed = if maintenance {
        &Status::MAINTENANCE[..]
    } else {
        &Status::INCIDENT[..]
    };
    let allowed_list = allowed
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if words.len() < 3 || words.len() > 4 {
        problems.push(
            Diagnostic::new("an update heading needs a date, a time and a status")
                .at(
                    Span::new(path, line_no, 1).with_width(line.chars().count()),
                    text,
                )
                .hint(format!(
                    "write e.g. `## 2026-11-20 08:12 investigating`; statuses here: {allowed_list}"
                )),
        );
        return None;
    }
    let (status_col, status_word) = words[words.len() - 1];
    let time_text = words[..words.len() - 1]
        .iter()
        .map(|(_, w)| *w)
        .collect::<Vec<_>>()
        .join(" ");
    let at_time = match parse_time(&time_text, config.tz) {
        Ok(t) => Some(t),
        Err(e) => {
            let (c, w) = words[0];
            let width = words[words.len() - 2].0 + words[words.len() - 2].1.chars().count() - c;
            problems.push(
                Diagnostic::new(e.message)
                    .at(at(c, w).with_width(width), text)
                    .hint(e.hint),
            );
            None
        }
    };
    let status = match Status::parse(status_word) {
        Some(s) if s.is_maintenance() == maintenance => Some(s),
        Some(s) => {
            let what = if maintenance {
                "a maintenance"
            } else {
                "an incident"
            };
            problems.push(
                Diagnostic::new(format!("\"{}\" is not a status of {what}", s.as_str()))
                    .at(at(status_col, status_word), text)
                    .hint(if maintenance {
                        format!("maintenance statuses: {allowed_list}")
                    } else {
                        format!("incident statuses: {allowed_list}; a file with `scheduled:` is a maintenance")
                    }),
            );
            None
        }
        None => {
            let suggestion = status_hint(status_word)
                .filter(|s| allowed.iter().any(|a| a.as_str() == *s))
                .map_or_else(
                    || did_you_mean(status_word, allowed.iter().map(|s| s.as_str())),
                    |s| format!("did you mean \"{s}\"? "),
                );
            problems.push(
                Diagnostic::new(format!("unknown status \"{status_word}\""))
                    .at(at(status_col, status_word), text)
                    .hint(format!(
                        "{suggestion}statuses are written in English: {allowed_list}"
                    )),
            );
            None
        }
    };
    Some(Update {
        at: at_time?,
        status: status?,
        body: crate::model::Text::default(),
        line: line_no,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn parse_str(text: &str) -> Result<Incident, Diagnostics> {
        parse(
            Path::new("incidents/2026-11-20-test.md"),
            text.as_bytes(),
            &Config::for_test(),
        )
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const GOOD: &str = "---\ntitle: Mobilfunkstörung\ncomponents: [mobile, sms]\nimpact: major\ncomponent_status: { sms: degraded_performance }\nauthor: mk\n---\nSummary *here*.\n\n## 2026-11-20 08:12 investigating\nWir untersuchen.\n\n```\n## 2026-01-01 00:00 not-a-heading\n```\n## 2026-11-20 09:05 +01:00 identified\nUrsache gefunden.\n## Not an update heading\nstill body\n";

    #[test]
    fn parses_front_matter_summary_and_updates() {
        let i = parse_str(GOOD).unwrap();
        assert_eq!(i.id, "2026-11-20-test");
        assert_eq!(i.title, "Mobilfunkstörung");
        assert_eq!(i.impact, Impact::Major);
        assert_eq!(i.summary, "Summary *here*.");
        assert_eq!(i.updates.len(), 2);
        assert_eq!(i.updates[0].at, utc("2026-11-20T07:12:00Z"));
        assert_eq!(i.updates[0].line, 10);
        assert!(
            i.updates[0]
                .body
                .contains("## 2026-01-01 00:00 not-a-heading"),
            "fenced heading stays body"
        );
        assert_eq!(i.updates[1].status, Status::Identified);
        assert!(
            i.updates[1]
                .body
                .ends_with("## Not an update heading\nstill body")
        );
    }

    #[test]
    fn a_tab_after_the_hashes_still_starts_an_update() {
        let i = parse_str("---\ntitle: T\ncomponents: [web]\n---\n##\t2026-11-20 08:12 investigating\nx\n## 2026-11-20\t09:00\tresolved\ny\n")
            .unwrap();
        assert_eq!(i.updates.len(), 2);
        assert_eq!(i.summary, "");
    }

    #[test]
    fn a_heading_reads_back_as_written() {
        let tz = chrono_tz::Europe::Berlin;
        // The second 02:30 of the night the clocks fall back needs its offset.
        let second = utc("2026-10-25T01:30:00Z");
        assert_eq!(
            format_heading(second, tz, Status::Update),
            "## 2026-10-25 02:30 +01:00 update"
        );
        assert_eq!(
            format_heading(utc("2026-10-25T00:30:00Z"), tz, Status::Update),
            "## 2026-10-25 02:30 update"
        );
        assert_eq!(
            format_heading(utc("2026-11-20T07:12:30Z"), tz, Status::Resolved),
            "## 2026-11-20 08:12:30 resolved"
        );
    }

    #[test]
    fn crlf_and_bom_are_accepted() {
        let text = format!("\u{feff}{}", GOOD.replace('\n', "\r\n"));
        let i = parse_str(&text).unwrap();
        assert_eq!(i.updates.len(), 2);
        assert!(!i.updates[0].body.contains('\r'));
    }

    #[test]
    fn reports_all_problems_with_positions() {
        let text = "---\ntitle: X\ncomponents: [mobil, sms]\nimpact: major\nauthor: zz\n---\n## 2026-11-20 09:00 investigating\n## 2026-11-20 08:00 behoben\n## 2026-11-20 07:00 identified\n";
        let err = parse_str(text).unwrap_err().to_string();
        assert!(
            err.contains("incidents/2026-11-20-test.md:3:14: error: unknown component \"mobil\""),
            "{err}"
        );
        assert!(err.contains("did you mean \"mobile\"?"), "{err}");
        assert!(err.contains(":5:9: error: unknown author \"zz\""), "{err}");
        assert!(
            err.contains(":8:21: error: unknown status \"behoben\""),
            "{err}"
        );
        assert!(err.contains("did you mean \"resolved\"?"), "{err}");
        assert!(
            err.contains(":9:4: error: this update is dated before the one above it"),
            "{err}"
        );
    }

    #[test]
    fn maintenance_checks_window_and_status_words() {
        let text = "---\ntitle: W\ncomponents: [web]\nscheduled: { start: 2026-12-01 04:00, end: 2026-12-01 02:00 }\n---\n## 2026-11-20 08:00 investigating\n";
        let err = parse_str(text).unwrap_err().to_string();
        assert!(err.contains(":4:"), "{err}");
        assert!(
            err.contains("the maintenance ends before it starts"),
            "{err}"
        );
        assert!(
            err.contains("\"investigating\" is not a status of a maintenance"),
            "{err}"
        );
    }

    #[test]
    fn structural_errors() {
        assert!(
            parse_str("")
                .unwrap_err()
                .to_string()
                .contains("the file is empty")
        );
        assert!(
            parse_str("title: x\n")
                .unwrap_err()
                .to_string()
                .contains("does not start with front matter")
        );
        assert!(
            parse_str("---\ntitle: x\n")
                .unwrap_err()
                .to_string()
                .contains("not closed")
        );
        let e = parse_str("---\ntitle: [x\n---\n").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "incidents/2026-11-20-test.md:3:1: error: did not find expected ',' or ']'"
            ),
            "{e}"
        );
        assert!(e.contains("not valid YAML"), "{e}");
        let e = parse_str("---\ntitle: x\ncomponents: [web]\nimpakt: major\n---\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":4:1: error: unknown key \"impakt\""), "{e}");
        assert!(e.contains("did you mean \"impact\"?"), "{e}");
        let e = parse_str("---\ntitle: x\ncomponents: [web]\nimpact: huge\n---\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":4:9: error: impact: unknown variant `huge`"),
            "{e}"
        );
        let e =
            parse_str("---\ntitle: x\ncomponents: [web]\n---\n## 2026-13-01 08:00 investigating\n")
                .unwrap_err()
                .to_string();
        assert!(
            e.contains(":5:4: error: \"2026-13-01\" is not a date"),
            "{e}"
        );
        let e = parse_str("---\ntitle: x\ncomponents: [web]\n---\nno updates\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("the incident has no update"), "{e}");
        let bytes = b"---\ntitle: \xff\n---\n";
        let e = parse(Path::new("x.md"), bytes, &Config::for_test())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.md:2:8: error: the file is not UTF-8 text"),
            "{e}"
        );
    }
}
