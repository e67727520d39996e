//! What templates see: serializable views built from the model, with every date, duration and
//! status word already in the site's language, and machine values (ISO times, status ids) beside them.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, Support};
use crate::model::time::Clock;
use crate::model::uptime::Uptime;
use crate::model::{ComponentStatus, Incident, Status};
use crate::site::markdown;

/// Texts of the theme, looked up by key; a missing key shows the key itself.
pub struct Texts<'a>(pub &'a std::collections::BTreeMap<String, String>);

impl Texts<'_> {
    #[must_use]
    pub fn get(&self, key: &str) -> String {
        self.0.get(key).cloned().unwrap_or_else(|| key.to_string())
    }

    /// The text for a count of `n`: `<key>_one` when `n` is 1 and the theme has it ("an 1 Tag",
    /// not "an 1 Tagen"), else `<key>`.
    #[must_use]
    pub fn counted(&self, key: &str, n: usize) -> String {
        match self.0.get(&format!("{key}_one")) {
            Some(one) if n == 1 => one.clone(),
            _ => self.get(key),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SiteView<'a> {
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub base_url: &'a str,
    pub lang: &'static str,
    pub timezone: &'a str,
    pub support: Option<&'a Support>,
    /// What the page is as of, for people and machines: the build time for pages that change with
    /// the clock (the front page, an open incident), the last change for a settled incident's page.
    pub generated: String,
    pub generated_iso: String,
}

#[derive(Debug, Serialize)]
pub struct LinkView<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

#[derive(Debug, Serialize)]
pub struct UpdateView {
    /// Stable id, the anchor `#u-<id>` on the incident page (feeds link to it).
    pub id: String,
    pub status: &'static str,
    pub status_label: String,
    pub at: String,
    pub at_iso: String,
    pub body_html: String,
}

#[derive(Debug, Serialize)]
pub struct WindowView {
    pub start: String,
    pub start_iso: String,
    pub end: String,
    pub end_iso: String,
}

#[derive(Debug, Serialize)]
pub struct IncidentView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    /// Path from the site root, e.g. `incidents/2026-11-20-x/`.
    pub path: String,
    pub permalink: String,
    pub maintenance: bool,
    pub cancelled: bool,
    pub impact: &'static str,
    pub impact_label: String,
    pub status: &'static str,
    pub status_label: String,
    pub active: bool,
    pub components: Vec<LinkView<'a>>,
    pub started: String,
    pub started_iso: String,
    pub ended: Option<String>,
    pub ended_iso: Option<String>,
    pub duration: Option<String>,
    pub window: Option<WindowView>,
    pub author: Option<&'a str>,
    pub summary_html: String,
    /// Newest first.
    pub updates: Vec<UpdateView>,
}

#[derive(Debug, Serialize)]
pub struct DayView {
    pub date_iso: String,
    pub label: String,
    pub status: &'static str,
    pub minutes: i64,
    /// `0` for the oldest day: the bar's x position.
    pub x: usize,
}

/// All days of one status in a component's bar, drawn as one SVG path: the bar's size grows with the
/// number of statuses, not with the number of days that had incidents.
#[derive(Debug, Serialize)]
pub struct SegmentView {
    pub status: &'static str,
    /// `12. Nov. 2026: Teilweiser Ausfall` style summary: the status and on how many days, the latest.
    pub label: String,
    /// SVG path data: one `.78`-wide, 10-high rectangle per day.
    pub d: String,
}

#[derive(Debug, Serialize)]
pub struct ComponentView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub status: &'static str,
    pub status_label: String,
    pub uptime: String,
    /// Only the days on which something happened; the rest of the bar is operational.
    pub days: Vec<DayView>,
    /// The same days, one path per status (what the default theme draws).
    pub segments: Vec<SegmentView>,
    pub days_total: usize,
    pub bar_label: String,
}

#[derive(Debug, Serialize)]
pub struct GroupView<'a> {
    pub name: Option<&'a str>,
    pub status: &'static str,
    pub status_label: String,
    pub components: Vec<ComponentView<'a>>,
}

/// Builds views in one language and zone.
pub struct Views<'a> {
    pub config: &'a Config,
    pub texts: Texts<'a>,
    pub clock: Clock,
    pub now: DateTime<Utc>,
}

impl<'a> Views<'a> {
    #[must_use]
    pub fn site(&self) -> SiteView<'a> {
        self.site_as_of(self.now)
    }

    /// The site view of a page whose content is as of `t` (its footer's "updated"): the build time
    /// for pages that change with the clock, the last change for pages of settled incidents.
    #[must_use]
    pub fn site_as_of(&self, t: DateTime<Utc>) -> SiteView<'a> {
        let c = self.config;
        SiteView {
            title: &c.site.title,
            description: c.site.description.as_deref(),
            base_url: &c.site.base_url,
            lang: c.site.language.code(),
            timezone: &c.site.timezone,
            support: c.support.as_ref(),
            generated: self.clock.date_time(t),
            generated_iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    #[must_use]
    pub fn status_label(&self, s: ComponentStatus) -> String {
        self.texts.get(&format!("status_{}", s.as_str()))
    }

    #[must_use]
    pub fn update_label(&self, s: Status) -> String {
        self.texts.get(&format!("update_{}", s.as_str()))
    }

    #[must_use]
    pub fn incident_path(id: &str) -> String {
        format!("incidents/{id}/")
    }

    /// The id of the incident whose page is the file `path` (`incidents/<id>/index.html`).
    #[must_use]
    pub fn incident_of_page(path: &str) -> Option<&str> {
        path.strip_prefix("incidents/")?
            .strip_suffix("/index.html")
            .filter(|id| !id.contains('/'))
    }

    #[must_use]
    pub fn incident(&self, i: &'a Incident) -> IncidentView<'a> {
        let now = self.now;
        let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let status = i.status(now);
        let started = i.started_at();
        let ended = i.ended_at(now);
        let path = Self::incident_path(&i.id);
        IncidentView {
            id: &i.id,
            title: &i.title,
            permalink: format!("{}/{path}", self.config.site.base_url),
            path,
            maintenance: i.is_maintenance(),
            cancelled: i.cancelled,
            impact: i.impact.as_str(),
            impact_label: self.texts.get(&format!("impact_{}", i.impact.as_str())),
            status: status.as_str(),
            status_label: if i.cancelled {
                self.texts.get("maintenance_cancelled")
            } else {
                self.update_label(status)
            },
            active: i.is_active(now),
            components: i
                .components
                .iter()
                .filter_map(|c| self.config.component(c))
                .map(|c| LinkView {
                    id: &c.id,
                    name: &c.name,
                })
                .collect(),
            started: self.clock.date_time(started),
            started_iso: iso(started),
            ended: ended.map(|t| self.clock.date_time(t)),
            ended_iso: ended.map(iso),
            duration: if i.is_upcoming(now) || i.cancelled {
                None
            } else {
                Some(self.clock.duration(ended.unwrap_or(now) - started))
            },
            window: i.scheduled.map(|w| WindowView {
                start: self.clock.date_time(w.start),
                start_iso: iso(w.start),
                // Same day: `26. November 2026, 02:00 MEZ – 04:00 MEZ`.
                end: if self.clock.local(w.start).date_naive()
                    == self.clock.local(w.end).date_naive()
                {
                    self.clock.time(w.end)
                } else {
                    self.clock.date_time(w.end)
                },
                end_iso: iso(w.end),
            }),
            author: i
                .author
                .as_deref()
                .and_then(|a| self.config.member(a))
                .map(|m| m.name.as_str()),
            summary_html: markdown::to_html(&i.summary),
            updates: i
                .published(now)
                .iter()
                .zip(crate::site::ids::updates(i))
                .rev()
                .map(|(u, id)| UpdateView {
                    id,
                    status: u.status.as_str(),
                    status_label: self.update_label(u.status),
                    at: self.clock.date_time(u.at),
                    at_iso: iso(u.at),
                    body_html: markdown::to_html(&u.body),
                })
                .collect(),
        }
    }

    #[must_use]
    pub fn component(
        &self,
        c: &'a crate::config::Component,
        status: ComponentStatus,
        uptime: &Uptime,
    ) -> ComponentView<'a> {
        let percent = format!("{:.2}", (uptime.percent * 100.0).floor() / 100.0);
        let percent = match self.config.site.language {
            crate::config::Lang::De => percent.replace('.', ","),
            crate::config::Lang::En => percent,
        };
        let days: Vec<DayView> = uptime
            .days
            .iter()
            .enumerate()
            .filter(|(_, d)| d.worst != ComponentStatus::Operational)
            .map(|(x, d)| {
                let date = d.date.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
                let minutes = self
                    .clock
                    .duration(chrono::TimeDelta::minutes(d.affected_minutes));
                DayView {
                    date_iso: d.date.to_string(),
                    label: format!(
                        "{}: {} – {minutes}",
                        self.clock.date(date),
                        self.status_label(d.worst)
                    ),
                    status: d.worst.as_str(),
                    minutes: d.affected_minutes,
                    x,
                }
            })
            .collect();
        let mut segments: Vec<SegmentView> = Vec::new();
        for status in ComponentStatus::ALL {
            let of: Vec<&DayView> = days
                .iter()
                .filter(|d| d.status == status.as_str())
                .collect();
            let Some(latest) = of.last() else { continue };
            let mut d = String::with_capacity(of.len() * 18);
            for day in &of {
                let _ = write!(d, "M{} 0h.78v10h-.78z", day.x);
            }
            segments.push(SegmentView {
                status: status.as_str(),
                label: self
                    .texts
                    .counted("uptime_segment_label", of.len())
                    .replace("{status}", &self.status_label(status))
                    .replace("{count}", &of.len().to_string())
                    .replace("{latest}", &latest.label),
                d,
            });
        }
        let bar_label = self
            .texts
            .counted("uptime_bar_label", days.len())
            .replace("{days}", &uptime.days.len().to_string())
            .replace("{uptime}", &percent)
            .replace("{incident_days}", &days.len().to_string());
        ComponentView {
            id: &c.id,
            name: &c.name,
            description: c.description.as_deref(),
            status: status.as_str(),
            status_label: self.status_label(status),
            uptime: percent,
            days,
            segments,
            days_total: uptime.days.len(),
            bar_label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_texts_take_the_singular_for_one() {
        let map: std::collections::BTreeMap<String, String> = [
            ("days", "{count} Tagen"),
            ("days_one", "{count} Tag"),
            ("more", "{count} more"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let t = Texts(&map);
        assert_eq!(t.counted("days", 1), "{count} Tag");
        assert_eq!(t.counted("days", 2), "{count} Tagen");
        assert_eq!(t.counted("days", 0), "{count} Tagen");
        assert_eq!(
            t.counted("more", 1),
            "{count} more",
            "no _one form: the plain one"
        );
        assert_eq!(t.counted("missing", 1), "missing");
    }
}
