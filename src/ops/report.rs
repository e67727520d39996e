//! `report`: how fast and how often customers heard from you, and how available each component was.
//!
//! Per incident (maintenance is left out: it is announced ahead, not reacted to): the time from its
//! first update to the first post on each channel (from the ledger's `sent` entries), the number of
//! published updates, and the longest silence between updates (for an open incident, up to now).
//! Per component: uptime per calendar month in the site zone, weighted as on the page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;

use crate::broadcast::ledger::{Ledger, State};
use crate::config::Config;
use crate::model::Incident;
use crate::model::uptime::month_uptime;

/// The first post of an incident on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirstPost {
    /// RFC 3339, UTC.
    pub at: String,
    /// Seconds after the incident's first update.
    pub after_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRow {
    pub id: String,
    pub title: String,
    pub impact: &'static str,
    /// RFC 3339, UTC: the first update.
    pub started_at: String,
    /// RFC 3339, UTC, if resolved.
    pub resolved_at: Option<String>,
    pub updates: usize,
    /// The longest time between two updates (for an open incident, up to now); `None` with a
    /// single update of a resolved incident.
    pub longest_silence_seconds: Option<i64>,
    /// Per channel id; `None` when nothing of this incident was posted there.
    pub first_post: BTreeMap<String, Option<FirstPost>>,
    #[serde(skip)]
    started_local: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthUptime {
    /// `YYYY-MM`.
    pub month: String,
    /// 0 ..= 100, three decimals.
    pub percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentUptime {
    pub id: String,
    pub name: String,
    pub months: Vec<MonthUptime>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// RFC 3339, UTC.
    pub generated_at: String,
    /// `YYYY-MM-DD` in the site zone.
    pub since: Option<String>,
    pub timezone: String,
    /// Channel ids in config order (then ids seen only in the ledger).
    pub channels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incidents: Option<Vec<IncidentRow>>,
    /// Median seconds to the first post per channel, over the incidents posted there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_first_post_seconds: Option<BTreeMap<String, Option<i64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<Vec<ComponentUptime>>,
}

/// What to put into the report.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub since: Option<NaiveDate>,
    pub incidents: bool,
    pub uptime: bool,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// When each post key was sent: by a run at its `sent` line; settled by hand, at the request
/// the person confirmed (the last attempt).
fn sent_times(ledger: &Ledger) -> BTreeMap<(String, String), DateTime<Utc>> {
    let mut out: BTreeMap<(String, String), DateTime<Utc>> = BTreeMap::new();
    for (key, post) in ledger.posts() {
        if post.state != State::Sent {
            continue;
        }
        let (Some((incident, _)), Some((_, channel))) = (key.split_once('#'), key.rsplit_once('/'))
        else {
            continue;
        };
        let at = if post.remote.is_some() {
            post.at
        } else {
            post.last_attempt.unwrap_or(post.at)
        };
        out.entry((incident.to_string(), channel.to_string()))
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }
    out
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        i64::midpoint(v[n / 2 - 1], v[n / 2])
    })
}

/// Compute the report as of `now`.
#[must_use]
pub fn report(
    config: &Config,
    incidents: &[Incident],
    ledger: &Ledger,
    now: DateTime<Utc>,
    opts: Options,
) -> Report {
    let tz = config.tz;
    let since_utc = opts
        .since
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| crate::model::time::resolve_local(t, tz).unwrap_or_else(|_| t.and_utc()));
    let sent = sent_times(ledger);
    let mut channels: Vec<String> = config
        .broadcast
        .channels
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let mut selected: Vec<&Incident> = incidents
        .iter()
        .filter(|i| !i.is_maintenance() && !i.published(now).is_empty())
        .filter(|i| since_utc.is_none_or(|s| i.started_at() >= s))
        .collect();
    selected.sort_by(|a, b| (a.started_at(), &a.id).cmp(&(b.started_at(), &b.id)));
    // Channels that are no longer configured but did (or tried to) post one of these incidents.
    for (key, _) in ledger.posts() {
        if let (Some((id, _)), Some((_, channel))) = (key.split_once('#'), key.rsplit_once('/'))
            && selected.iter().any(|i| i.id == id)
            && !channels.iter().any(|c| c == channel)
        {
            channels.push(channel.to_string());
        }
    }

    let rows: Vec<IncidentRow> = selected
        .iter()
        .map(|i| {
            let published = i.published(now);
            let start = i.started_at();
            let resolved = i.ended_at(now);
            let mut gaps: Vec<TimeDelta> =
                published.windows(2).map(|w| w[1].at - w[0].at).collect();
            if resolved.is_none()
                && let Some(last) = published.last()
            {
                gaps.push(now - last.at);
            }
            let first_post = channels
                .iter()
                .map(|c| {
                    let post = sent.get(&(i.id.clone(), c.clone())).map(|t| FirstPost {
                        at: rfc3339(*t),
                        after_seconds: (*t - start).num_seconds(),
                    });
                    (c.clone(), post)
                })
                .collect();
            IncidentRow {
                id: i.id.clone(),
                title: i.title.clone(),
                impact: i.impact.as_str(),
                started_at: rfc3339(start),
                resolved_at: resolved.map(rfc3339),
                updates: published.len(),
                longest_silence_seconds: gaps.iter().max().map(TimeDelta::num_seconds),
                first_post,
                started_local: start
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
            }
        })
        .collect();
    let medians = channels
        .iter()
        .map(|c| {
            let secs: Vec<i64> = rows
                .iter()
                .filter_map(|r| {
                    r.first_post
                        .get(c)
                        .and_then(Option::as_ref)
                        .map(|p| p.after_seconds)
                })
                .collect();
            (c.clone(), median(secs))
        })
        .collect();

    let uptime = opts.uptime.then(|| {
        let first_month = opts
            .since
            .or_else(|| {
                incidents
                    .iter()
                    .filter(|i| i.is_visible(now))
                    .map(Incident::started_at)
                    .min()
                    .map(|t| t.with_timezone(&tz).date_naive())
            })
            .unwrap_or_else(|| now.with_timezone(&tz).date_naive());
        let last = now.with_timezone(&tz).date_naive();
        let mut months = Vec::new();
        let (mut y, mut m) = (first_month.year(), first_month.month());
        while (y, m) <= (last.year(), last.month()) {
            months.push((y, m));
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
        config
            .components
            .iter()
            .map(|c| ComponentUptime {
                id: c.id.clone(),
                name: c.name.clone(),
                months: months
                    .iter()
                    .filter_map(|&ym| {
                        month_uptime(incidents, &c.id, tz, ym, now).map(|p| MonthUptime {
                            month: format!("{:04}-{:02}", ym.0, ym.1),
                            percent: (p * 1000.0).round() / 1000.0,
                        })
                    })
                    .collect(),
            })
            .collect()
    });

    Report {
        generated_at: rfc3339(now),
        since: opts.since.map(|d| d.format("%Y-%m-%d").to_string()),
        timezone: tz.name().to_string(),
        channels,
        incidents: opts.incidents.then_some(rows),
        median_first_post_seconds: opts.incidents.then_some(medians),
        uptime,
    }
}

/// `45s`, `4m`, `1h 05m`, `2d 3h`; negative with a leading minus.
#[must_use]
pub fn human(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let body = match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    };
    format!("{sign}{body}")
}

/// Columns padded to their widest cell (counted in characters); columns from `right_from` on
/// (the numbers) are right-aligned.
fn table(rows: &[Vec<String>], right_from: usize, out: &mut String) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let pad = " ".repeat(widths[c] - cell.chars().count());
            if c > 0 {
                line.push_str("  ");
            }
            if c >= right_from {
                let _ = write!(line, "{pad}{cell}");
            } else {
                let _ = write!(line, "{cell}{pad}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn opt_human(s: Option<i64>) -> String {
    s.map_or_else(|| "—".to_string(), human)
}

/// The report as plain-text tables.
#[must_use]
pub fn to_text(r: &Report) -> String {
    let mut out = String::new();
    if let Some(rows) = &r.incidents {
        let _ = writeln!(
            out,
            "incidents{} ({}; times in {}): time from the first update to the first post per channel",
            r.since
                .as_ref()
                .map(|s| format!(" since {s}"))
                .unwrap_or_default(),
            rows.len(),
            r.timezone
        );
        if rows.is_empty() {
            out.push_str("  none\n");
        } else {
            let mut t = vec![
                ["incident", "started", "updates", "longest silence"]
                    .iter()
                    .map(ToString::to_string)
                    .chain(r.channels.iter().cloned())
                    .collect::<Vec<_>>(),
            ];
            for row in rows {
                let mut cells = vec![
                    row.id.clone(),
                    row.started_local.clone(),
                    format!(
                        "{}{}",
                        row.updates,
                        if row.resolved_at.is_none() {
                            " (open)"
                        } else {
                            ""
                        }
                    ),
                    opt_human(row.longest_silence_seconds),
                ];
                for c in &r.channels {
                    cells.push(opt_human(
                        row.first_post
                            .get(c)
                            .and_then(Option::as_ref)
                            .map(|p| p.after_seconds),
                    ));
                }
                t.push(cells);
            }
            table(&t, 2, &mut out);
            if let Some(m) = &r.median_first_post_seconds
                && !m.is_empty()
            {
                let parts: Vec<String> = r
                    .channels
                    .iter()
                    .map(|c| format!("{c} {}", opt_human(m.get(c).copied().flatten())))
                    .collect();
                let _ = writeln!(out, "median time to the first post: {}", parts.join(", "));
            }
        }
    }
    if let Some(components) = &r.uptime {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "uptime per month (%; major outage counts fully, partial outage 30 %):"
        );
        let months: Vec<String> = components
            .first()
            .map(|c| c.months.iter().map(|m| m.month.clone()).collect())
            .unwrap_or_default();
        let mut t = vec![
            std::iter::once("component".to_string())
                .chain(months.iter().cloned())
                .collect::<Vec<_>>(),
        ];
        for c in components {
            t.push(
                std::iter::once(c.name.clone())
                    .chain(c.months.iter().map(|m| format!("{:.3}", m.percent)))
                    .collect(),
            );
        }
        table(&t, 1, &mut out);
    }
    out
}

/// The report as CSV: the incidents table, a blank line, the uptime table (one row per component
/// and month); or only the one asked for.
///
/// # Errors
/// Only if the CSV writer fails (it writes into memory).
pub fn to_csv(r: &Report) -> Result<String, csv::Error> {
    let mut blocks = Vec::new();
    if let Some(rows) = &r.incidents {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = [
            "id",
            "title",
            "impact",
            "started_at",
            "resolved_at",
            "updates",
            "longest_silence_seconds",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        for c in &r.channels {
            header.push(format!("{c}_first_post_at"));
            header.push(format!("{c}_first_post_seconds"));
        }
        w.write_record(&header)?;
        for row in rows {
            let mut rec = vec![
                row.id.clone(),
                row.title.clone(),
                row.impact.to_string(),
                row.started_at.clone(),
                row.resolved_at.clone().unwrap_or_default(),
                row.updates.to_string(),
                row.longest_silence_seconds
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ];
            for c in &r.channels {
                let p = row.first_post.get(c).and_then(Option::as_ref);
                rec.push(p.map(|p| p.at.clone()).unwrap_or_default());
                rec.push(p.map(|p| p.after_seconds.to_string()).unwrap_or_default());
            }
            w.write_record(&rec)?;
        }
        blocks.push(w.into_inner().map_err(csv::IntoInnerError::into_error)?);
    }
    if let Some(components) = &r.uptime {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["component", "name", "month", "uptime_percent"])?;
        for c in components {
            for m in &c.months {
                w.write_record([
                    c.id.as_str(),
                    c.name.as_str(),
                    m.month.as_str(),
                    &format!("{:.3}", m.percent),
                ])?;
            }
        }
        blocks.push(w.into_inner().map_err(csv::IntoInnerError::into_error)?);
    }
    let text: Vec<String> = blocks
        .into_iter()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    Ok(text.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(42), "42s");
        assert_eq!(human(240), "4m");
        assert_eq!(human(3900), "1h 05m");
        assert_eq!(human(2 * 86_400 + 3 * 3600 + 59), "2d 3h");
        assert_eq!(human(-120), "-2m");
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![300, 60, 120]), Some(120));
        assert_eq!(median(vec![60, 120, 300, 600]), Some(210));
    }
}
