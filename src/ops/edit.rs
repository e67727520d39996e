//! `update` and `resolve`: append a correctly stamped update section to an incident file.
//!
//! [`prepare`] finds the file by id and checks that the status fits the incident as it stands;
//! [`append`] writes the section only if the whole file still passes `check` afterwards (the
//! file is replaced atomically, so it is either as it was or complete). [`edit_text`] asks
//! `$EDITOR` for the text, git-style: everything below a scissors line is ignored.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Timelike, Utc};

use crate::config::Config;
use crate::diagnostics::{Diagnostics, did_you_mean, display_path};
use crate::model::time::parse_time;
use crate::model::{Incident, Status};
use crate::source::incident::{id_of, parse};
use crate::source::{incident::status_hint, incident_files};

/// Why an update was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(
        "error: no incident \"{id}\" in {dir}\n  = hint: {suggestion}the id is the file name without .md; `ls {dir}` lists them"
    )]
    UnknownIncident {
        id: String,
        dir: String,
        suggestion: String,
    },
    #[error("{0}\n\nerror: {path} has problems already; fix them first (`statuscast check`)", path = .1)]
    Broken(Diagnostics, String),
    #[error(
        "error: unknown status \"{word}\"\n  = hint: {suggestion}statuses of {what}: {allowed}"
    )]
    UnknownStatus {
        word: String,
        suggestion: String,
        what: &'static str,
        allowed: String,
    },
    #[error(
        "error: \"{status}\" is not a status of {what}\n  = hint: statuses of {what}: {allowed}"
    )]
    WrongKind {
        status: &'static str,
        what: &'static str,
        allowed: String,
    },
    #[error(
        "error: {id} is already {status} (update of {at})\n  = hint: nothing can follow; if it happens again, open a new incident with `statuscast new`"
    )]
    AlreadyEnded {
        id: String,
        status: &'static str,
        at: String,
    },
    #[error(
        "error: a maintenance that has started cannot be scheduled again\n  = hint: to move it, open a new maintenance with `statuscast new --maintenance`"
    )]
    StartedMaintenance,
    #[error(
        "error: the latest update of {id} is dated {at}, after now\n  = hint: updates must be in time order; edit the file by hand, or wait until then"
    )]
    LatestInFuture { id: String, at: String },
    #[error("error: the text is empty; nothing was written")]
    EmptyText,
    #[error(
        "error: the text has a line that starts a new update (\"{line}\")\n  = hint: lines starting with `## ` and a digit are update headings; reword that line"
    )]
    HeadingInText { line: String },
    #[error("{0}\n\nerror: with this update {path} would not pass `statuscast check`; nothing was written", path = .1)]
    WouldBreak(Diagnostics, String),
    #[error(
        "error: the editor \"{editor}\" {reason}\n  = hint: set EDITOR to your editor (e.g. EDITOR=nano), or pass the text with -m"
    )]
    Editor { editor: String, reason: String },
    #[error("error: cannot {what} {path}: {reason}")]
    Io {
        what: &'static str,
        path: String,
        reason: String,
    },
}

fn io(what: &'static str, path: &Path, e: &std::io::Error) -> EditError {
    EditError::Io {
        what,
        path: display_path(path),
        reason: crate::io_reason(e),
    }
}

/// An incident ready for a new update.
#[derive(Debug)]
pub struct Target {
    pub path: PathBuf,
    pub incident: Incident,
    pub status: Status,
    /// The heading's time: `2026-11-23 11:05`, with an offset where the local time is ambiguous.
    pub stamp: String,
    text: String,
}

/// The file of incident `id` (also in subfolders).
///
/// # Errors
/// No such incident (with the closest id), or an unreadable folder.
pub fn find(config: &Config, id: &str) -> Result<PathBuf, EditError> {
    let dir = config.incidents_path();
    let files = incident_files(&dir).map_err(|d| EditError::Io {
        what: "read",
        path: display_path(&dir),
        reason: d.message,
    })?;
    if let Some(p) = files.iter().find(|p| id_of(p) == id) {
        return Ok(p.clone());
    }
    let ids: Vec<String> = files.iter().map(|p| id_of(p)).collect();
    Err(EditError::UnknownIncident {
        id: id.to_string(),
        dir: display_path(&dir),
        suggestion: did_you_mean(id, ids.iter().map(String::as_str)),
    })
}

/// The word for "it is over": `resolved`, or `completed` for a maintenance.
#[must_use]
pub fn final_status(incident: &Incident) -> Status {
    if incident.is_maintenance() {
        Status::Completed
    } else {
        Status::Resolved
    }
}

fn allowed(maintenance: bool) -> (&'static str, String) {
    let list = if maintenance {
        &Status::MAINTENANCE[..]
    } else {
        &Status::INCIDENT[..]
    };
    (
        if maintenance {
            "a maintenance"
        } else {
            "an incident"
        },
        list.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// Read a status word as ops type it (German words get a suggestion).
///
/// # Errors
/// An unknown word, or one of the other kind (a maintenance word on an incident).
pub fn parse_status(word: &str, maintenance: bool) -> Result<Status, EditError> {
    let (what, allowed_list) = allowed(maintenance);
    match Status::parse(&word.to_lowercase()) {
        Some(s) if s.is_maintenance() == maintenance => Ok(s),
        Some(s) => Err(EditError::WrongKind {
            status: s.as_str(),
            what,
            allowed: allowed_list,
        }),
        None => {
            let suggestion = status_hint(word)
                .and_then(Status::parse)
                .filter(|s| s.is_maintenance() == maintenance)
                .map_or_else(
                    || {
                        let list: Vec<&str> = allowed_list.split(", ").collect();
                        did_you_mean(word, list)
                    },
                    |s| format!("did you mean \"{}\"? ", s.as_str()),
                );
            Err(EditError::UnknownStatus {
                word: word.to_string(),
                suggestion,
                what,
                allowed: allowed_list,
            })
        }
    }
}

/// Does `status` fit the incident as it stands at `now`?
///
/// # Errors
/// After a final update nothing follows; a started maintenance does not go back to scheduled;
/// the new update must not be dated before the latest one.
pub fn check_status(
    incident: &Incident,
    status: Status,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<(), EditError> {
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    if let Some(last) = incident.updates.last() {
        if last.status.is_final() {
            return Err(EditError::AlreadyEnded {
                id: incident.id.clone(),
                status: last.status.as_str(),
                at: local(last.at),
            });
        }
        if last.at > now {
            return Err(EditError::LatestInFuture {
                id: incident.id.clone(),
                at: local(last.at),
            });
        }
    }
    if status == Status::Scheduled
        && incident
            .updates
            .iter()
            .any(|u| matches!(u.status, Status::InProgress | Status::Verifying))
    {
        return Err(EditError::StartedMaintenance);
    }
    Ok(())
}

/// The heading time for `now` in `tz`: local minutes, plus the UTC offset when the local time
/// alone would mean another instant (the second pass of the hour the clocks go back).
#[must_use]
pub fn stamp(now: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let minute = now.trunc_subsecs(0).with_second(0).unwrap_or(now);
    let local = minute.with_timezone(&tz);
    let plain = local.format("%Y-%m-%d %H:%M").to_string();
    if parse_time(&plain, tz).ok() == Some(minute) {
        plain
    } else {
        format!("{plain} {}", local.format("%:z"))
    }
}

/// Find incident `id`, read it, and check that `status` fits it now. `status: None` resolves.
///
/// # Errors
/// See [`EditError`].
pub fn prepare(
    config: &Config,
    id: &str,
    status: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Target, EditError> {
    let path = find(config, id)?;
    let bytes = std::fs::read(&path).map_err(|e| io("read", &path, &e))?;
    let incident =
        parse(&path, &bytes, config).map_err(|d| EditError::Broken(d, display_path(&path)))?;
    let text = String::from_utf8(bytes).unwrap_or_default();
    let status = match status {
        Some(word) => parse_status(word, incident.is_maintenance())?,
        None => final_status(&incident),
    };
    check_status(&incident, status, now, config.tz)?;
    Ok(Target {
        path,
        incident,
        status,
        stamp: stamp(now, config.tz),
        text,
    })
}

const SCISSORS: &str = "# ------------------------ >8 ------------------------";

/// What the editor shows: an empty first line for the text, then the scissors and some context.
#[must_use]
pub fn editor_template(target: &Target) -> String {
    let mut t = format!(
        "\n{SCISSORS}\n# Do not change or remove the line above: everything below it is ignored.\n\
         # Write the update above it, in Markdown. The first paragraph is what the channels post.\n\
         # An empty text aborts: nothing is written.\n#\n\
         # {}: {}\n# New update: ## {} {}\n",
        target.incident.id,
        target.incident.title,
        target.stamp,
        target.status.as_str()
    );
    if let Some(last) = target.incident.updates.last() {
        let _ = writeln!(t, "#\n# Latest update ({}):", last.status.as_str());
        for line in last.body.lines().take(12) {
            let _ = writeln!(t, "#   {line}");
        }
    }
    t
}

/// The text above the scissors line, trimmed.
#[must_use]
pub fn strip_template(text: &str) -> String {
    let above = match text.lines().position(|l| l.trim_end() == SCISSORS) {
        Some(i) => text.lines().take(i).collect::<Vec<_>>().join("\n"),
        None => text.to_string(),
    };
    above.trim().to_string()
}

/// Open `editor` (a command line, e.g. `code --wait`) on a temporary file holding `template`,
/// and return what was written above the scissors.
///
/// # Errors
/// The editor cannot be started or fails; an empty text.
pub fn edit_text(editor: &str, template: &str) -> Result<String, EditError> {
    let editor_error = |reason: String| EditError::Editor {
        editor: editor.to_string(),
        reason,
    };
    let words =
        shell_words::split(editor).map_err(|e| editor_error(format!("cannot be read: {e}")))?;
    let Some((program, args)) = words.split_first() else {
        return Err(editor_error("is empty".to_string()));
    };
    let file = tempfile::Builder::new()
        .prefix("statuscast-update-")
        .suffix(".md")
        .tempfile()
        .map_err(|e| io("create", Path::new("a temporary file"), &e))?;
    std::fs::write(file.path(), template).map_err(|e| io("write", file.path(), &e))?;
    let status = std::process::Command::new(program)
        .args(args)
        .arg(file.path())
        .status()
        .map_err(|e| editor_error(format!("cannot be started: {}", crate::io_reason(&e))))?;
    if !status.success() {
        return Err(editor_error(format!(
            "exited with {}; nothing was written",
            status
                .code()
                .map_or_else(|| "a signal".to_string(), |c| format!("code {c}"))
        )));
    }
    let text = std::fs::read_to_string(file.path()).map_err(|e| io("read", file.path(), &e))?;
    let text = strip_template(&text);
    if text.is_empty() {
        return Err(EditError::EmptyText);
    }
    Ok(text)
}

/// The editor to use: `$EDITOR`, `$VISUAL`, else `vi`.
#[must_use]
pub fn editor_from(env: &dyn Fn(&str) -> Option<String>) -> String {
    env("EDITOR")
        .or_else(|| env("VISUAL"))
        .unwrap_or_else(|| "vi".to_string())
}

/// The file's text with the new section appended (in the file's own line endings).
fn appended(original: &str, heading: &str, text: &str) -> String {
    let nl = if original.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let body = text
        .trim()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join(nl);
    let head = original.trim_end();
    format!("{head}{nl}{nl}{heading}{nl}{body}{nl}")
}

/// Append the update and write the file, if the result passes `check`.
///
/// # Errors
/// An empty text, a text with an update heading, a result that does not validate, a write error.
pub fn append(config: &Config, target: &Target, text: &str) -> Result<Incident, EditError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(EditError::EmptyText);
    }
    let heading = format!("## {} {}", target.stamp, target.status.as_str());
    let new_text = appended(&target.text, &heading, text);
    let incident = parse(&target.path, new_text.as_bytes(), config)
        .map_err(|d| EditError::WouldBreak(d, display_path(&target.path)))?;
    if incident.updates.len() != target.incident.updates.len() + 1 {
        let line = text
            .lines()
            .find(|l| {
                l.strip_prefix("## ")
                    .is_some_and(|r| r.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            })
            .unwrap_or_default()
            .to_string();
        return Err(EditError::HeadingInText { line });
    }
    let dir = target.path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".statuscast-")
        .tempfile_in(dir)
        .map_err(|e| io("write beside", &target.path, &e))?;
    std::fs::write(tmp.path(), new_text.as_bytes()).map_err(|e| io("write", &target.path, &e))?;
    if let Ok(meta) = std::fs::metadata(&target.path) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(&target.path)
        .map_err(|e| io("replace", &target.path, &e.error))?;
    Ok(incident)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn incident(text: &str) -> Incident {
        parse(
            Path::new("incidents/2026-11-20-test.md"),
            text.as_bytes(),
            &Config::for_test(),
        )
        .unwrap()
    }

    const OPEN: &str = "---\ntitle: T\ncomponents: [web]\nimpact: minor\n---\n## 2026-11-20 08:00 investigating\nLooking.\n";
    const MAINT: &str = "---\ntitle: W\ncomponents: [web]\nscheduled: { start: 2026-11-21 02:00, end: 2026-11-21 04:00 }\n---\n## 2026-11-20 08:00 scheduled\nPlanned.\n";

    #[test]
    fn stamps_are_local_minutes_with_an_offset_only_when_ambiguous() {
        let tz = chrono_tz::Europe::Berlin;
        assert_eq!(stamp(t("2026-11-23T10:05:42Z"), tz), "2026-11-23 11:05");
        // 02:30 happens twice on 2026-10-25; the first pass needs no offset, the second does.
        assert_eq!(stamp(t("2026-10-25T00:30:00Z"), tz), "2026-10-25 02:30");
        assert_eq!(
            stamp(t("2026-10-25T01:30:00Z"), tz),
            "2026-10-25 02:30 +01:00"
        );
        assert_eq!(
            parse_time("2026-10-25 02:30 +01:00", tz).unwrap(),
            t("2026-10-25T01:30:00Z")
        );
    }

    #[test]
    fn statuses_must_fit_the_kind_and_the_state() {
        let now = t("2026-11-20T09:00:00Z");
        let tz = chrono_tz::Europe::Berlin;
        let open = incident(OPEN);
        assert!(matches!(
            parse_status("in_progress", false),
            Err(EditError::WrongKind { .. })
        ));
        let e = parse_status("behoben", false).unwrap_err().to_string();
        assert!(e.contains("did you mean \"resolved\"?"), "{e}");
        assert_eq!(
            parse_status("Identified", false).unwrap(),
            Status::Identified
        );
        check_status(&open, Status::Resolved, now, tz).unwrap();

        let done = incident(&format!("{OPEN}\n## 2026-11-20 08:30 resolved\nFixed.\n"));
        let e = check_status(&done, Status::Resolved, now, tz)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("already resolved (update of 2026-11-20 08:30)"),
            "{e}"
        );
        assert!(check_status(&done, Status::Update, now, tz).is_err());

        let maint = incident(MAINT);
        assert_eq!(final_status(&maint), Status::Completed);
        assert!(matches!(
            parse_status("resolved", true),
            Err(EditError::WrongKind { .. })
        ));
        check_status(&maint, Status::InProgress, now, tz).unwrap();
        let started = incident(&format!("{MAINT}\n## 2026-11-20 08:30 in_progress\nGo.\n"));
        assert!(matches!(
            check_status(&started, Status::Scheduled, now, tz),
            Err(EditError::StartedMaintenance)
        ));
        // The latest update lies after now: a new one would break the order.
        assert!(matches!(
            check_status(&open, Status::Identified, t("2026-11-20T06:00:00Z"), tz),
            Err(EditError::LatestInFuture { .. })
        ));
    }

    #[test]
    fn the_template_is_cut_at_the_scissors() {
        let target = Target {
            path: PathBuf::from("incidents/2026-11-20-test.md"),
            incident: incident(OPEN),
            status: Status::Identified,
            stamp: "2026-11-20 09:05".into(),
            text: OPEN.into(),
        };
        let template = editor_template(&target);
        assert!(template.contains("## 2026-11-20 09:05 identified"));
        assert!(template.contains("#   Looking."));
        assert_eq!(strip_template(&template), "");
        let written = format!("### Details\nA *cause*.\n{template}");
        assert_eq!(strip_template(&written), "### Details\nA *cause*.");
    }

    #[test]
    fn sections_are_appended_in_the_files_line_endings() {
        assert_eq!(
            appended("a\n\n\n", "## x resolved", "Done.  \nOK\n"),
            "a\n\n## x resolved\nDone.\nOK\n"
        );
        assert_eq!(
            appended("a\r\nb\r\n", "## h", "t"),
            "a\r\nb\r\n\r\n## h\r\nt\r\n"
        );
    }
}
