//! Per-component day bars and uptime over the last N days, from incident history.
//!
//! A day (midnight to midnight in the site zone, so 23 or 25 hours around DST changes) takes the worst
//! status any incident gave the component that day; its affected minutes are the union of those
//! incidents' times. Uptime counts downtime as Statuspage does: a major outage fully, a partial outage
//! at 30 %, degraded performance and maintenance not at all.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use rayon::prelude::*;

use super::{ComponentStatus, Incident};
use crate::model::time::resolve_local;

/// One day of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub date: NaiveDate,
    pub worst: ComponentStatus,
    /// Minutes in which any incident touched the component.
    pub affected_minutes: i64,
    /// Ids of the incidents that touched it that day, in start order.
    pub incidents: Vec<String>,
    /// Day lies before the history starts (no data).
    pub future: bool,
}

/// The bars and the uptime percentage of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Uptime {
    pub days: Vec<Day>,
    /// 0.0 ..= 100.0
    pub percent: f64,
}

/// The incidents that can touch the last `days` days before `now`: those with an event in that
/// time or still going on. Filtering once saves every component a pass over years of history.
#[must_use]
pub fn within(incidents: &[Incident], now: DateTime<Utc>, days: u32) -> Vec<&Incident> {
    // A day more than asked: local midnight can lie before `now - days` in UTC.
    let from = now - TimeDelta::days(i64::from(days) + 1);
    // On both cores: a pass over the whole history.
    incidents
        .par_iter()
        .filter(|i| i.recency().touches(from, false))
        .collect()
}

struct Interval<'a> {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    status: ComponentStatus,
    id: &'a str,
}

fn midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    // Midnight can fall into a DST gap in a few zones; the first valid minute after it then starts the day.
    (0..=120)
        .find_map(|m| resolve_local(date.and_hms_opt(0, 0, 0)? + TimeDelta::minutes(m), tz).ok())
        .unwrap_or_else(|| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// The time each incident touched `component`, up to `now`.
fn intervals<'a>(
    incidents: impl IntoIterator<Item = &'a Incident>,
    component: &str,
    now: DateTime<Utc>,
) -> Vec<Interval<'a>> {
    incidents
        .into_iter()
        .filter(|i| i.is_visible(now) && i.components.iter().any(|c| c == component))
        .filter_map(|i| {
            let start = if i.is_maintenance() {
                if i.cancelled || i.started_at() > now {
                    return None;
                }
                i.started_at()
            } else {
                i.published(now).first()?.at
            };
            let end = i.ended_at(now).unwrap_or(now).min(now);
            (end > start).then_some(Interval {
                start,
                end,
                status: i.effect_on(component),
                id: &i.id,
            })
        })
        .collect()
}

/// What the intervals did within `[from, to)`.
struct Span {
    /// Seconds in which any interval was active.
    affected: i64,
    /// Seconds of downtime, weighted by status.
    down: f64,
    worst: ComponentStatus,
}

fn span(intervals: &[Interval], from: DateTime<Utc>, to: DateTime<Utc>) -> Span {
    let touching: Vec<&Interval> = intervals
        .iter()
        .filter(|iv| iv.start < to && iv.end > from)
        .collect();
    let mut points: Vec<DateTime<Utc>> = vec![from, to];
    for iv in &touching {
        points.push(iv.start.clamp(from, to));
        points.push(iv.end.clamp(from, to));
    }
    points.sort();
    points.dedup();
    let mut out = Span {
        affected: 0,
        down: 0.0,
        worst: ComponentStatus::Operational,
    };
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let worst = touching
            .iter()
            .filter(|iv| iv.start <= a && iv.end >= b)
            .map(|iv| iv.status)
            .max();
        if let Some(w) = worst {
            let secs = (b - a).num_seconds();
            out.affected += secs;
            out.down += secs as f64 * w.downtime_weight();
            out.worst = out.worst.max(w);
        }
    }
    out
}

/// Bars for `days` days ending today (the local date of `now`), and uptime over them.
#[must_use]
pub fn uptime<'a>(
    incidents: impl IntoIterator<Item = &'a Incident>,
    component: &str,
    tz: Tz,
    now: DateTime<Utc>,
    days: u32,
) -> Uptime {
    let intervals = intervals(incidents, component, now);
    let today = now.with_timezone(&tz).date_naive();
    let first = today - Days::new(u64::from(days.saturating_sub(1)));
    let mut out = Vec::with_capacity(days as usize);
    let (mut total, mut down) = (0.0f64, 0.0f64);
    let mut date = first;
    while date <= today {
        let day_start = midnight(date, tz);
        let day_end = midnight(date + Days::new(1), tz).min(now);
        let mut day = Day {
            date,
            worst: ComponentStatus::Operational,
            affected_minutes: 0,
            incidents: Vec::new(),
            future: false,
        };
        if day_end > day_start {
            total += (day_end - day_start).num_seconds() as f64;
            for iv in intervals
                .iter()
                .filter(|iv| iv.start < day_end && iv.end > day_start)
            {
                if !day.incidents.iter().any(|id| id == iv.id) {
                    day.incidents.push(iv.id.to_string());
                }
            }
            let s = span(&intervals, day_start, day_end);
            down += s.down;
            day.worst = s.worst;
            day.affected_minutes = (s.affected + 59) / 60;
        }
        out.push(day);
        date = date + Days::new(1);
    }
    Uptime {
        days: out,
        percent: percent(total, down),
    }
}

fn percent(total: f64, down: f64) -> f64 {
    if total > 0.0 {
        (100.0 * (1.0 - down / total)).clamp(0.0, 100.0)
    } else {
        100.0
    }
}

/// Uptime of `component` in the calendar month `year`-`month` of the site zone, counted up to
/// `now` for the current month; `None` for a month that has not begun.
#[must_use]
pub fn month_uptime(
    incidents: &[Incident],
    component: &str,
    tz: Tz,
    (year, month): (i32, u32),
    now: DateTime<Utc>,
) -> Option<f64> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let (from, to) = (midnight(first, tz), midnight(next, tz).min(now));
    if to <= from {
        return None;
    }
    let s = span(&intervals(incidents, component, now), from, to);
    Some(percent((to - from).num_seconds() as f64, s.down))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Impact, Status, Update, Window};
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;
    use std::collections::BTreeMap;

    fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
    }

    fn incident(
        id: &str,
        impact: Impact,
        updates: &[(DateTime<Utc>, Status)],
        scheduled: Option<Window>,
    ) -> Incident {
        Incident {
            id: id.into(),
            path: "x.md".into(),
            title: id.into(),
            components: vec!["mobile".into()],
            impact,
            component_status: BTreeMap::new(),
            author: None,
            scheduled,
            cancelled: false,
            summary: crate::model::Text::default(),
            updates: updates
                .iter()
                .map(|(at, status)| Update {
                    at: *at,
                    status: *status,
                    body: crate::model::Text::default(),
                    line: 1,
                })
                .collect(),
            channels: None,
            broadcast: true,
            digest: None,
        }
    }

    #[test]
    fn worst_status_and_union_of_minutes_per_day() {
        let now = t(23, 12, 0);
        let a = incident(
            "a",
            Impact::Minor,
            &[
                (t(20, 8, 0), Status::Investigating),
                (t(20, 10, 0), Status::Resolved),
            ],
            None,
        );
        let b = incident(
            "b",
            Impact::Critical,
            &[
                (t(20, 9, 0), Status::Investigating),
                (t(20, 9, 30), Status::Resolved),
            ],
            None,
        );
        let u = uptime(&[a, b], "mobile", Berlin, now, 90);
        assert_eq!(u.days.len(), 90);
        let day = u
            .days
            .iter()
            .find(|d| d.date == NaiveDate::from_ymd_opt(2026, 11, 20).unwrap())
            .unwrap();
        assert_eq!(day.worst, ComponentStatus::MajorOutage);
        assert_eq!(day.affected_minutes, 120, "overlap counted once");
        assert_eq!(day.incidents, vec!["a".to_string(), "b".to_string()]);
        // 30 minutes of major outage in the window that ends at now.
        let total_minutes = (now - midnight(NaiveDate::from_ymd_opt(2026, 8, 26).unwrap(), Berlin))
            .num_minutes() as f64;
        let expected = 100.0 * (1.0 - 30.0 / total_minutes);
        assert!(
            (u.percent - expected).abs() < 1e-9,
            "{} vs {expected}",
            u.percent
        );
    }

    #[test]
    fn open_incident_runs_until_now_and_spans_midnight() {
        let now = t(23, 1, 0); // 02:00 in Berlin
        let open = incident(
            "o",
            Impact::Major,
            &[(t(22, 22, 0), Status::Investigating)],
            None,
        );
        let u = uptime(&[open], "mobile", Berlin, now, 3);
        assert_eq!(u.days.len(), 3);
        assert_eq!(u.days[1].affected_minutes, 60); // 23:00–24:00 local on the 22nd
        assert_eq!(u.days[2].affected_minutes, 120); // 00:00–02:00 local on the 23rd
        assert!(u.percent < 100.0 && u.percent > 0.0);
    }

    #[test]
    fn maintenance_colours_the_day_but_is_not_downtime() {
        let now = t(23, 12, 0);
        let m = incident(
            "m",
            Impact::Minor,
            &[],
            Some(Window {
                start: t(21, 1, 0),
                end: t(21, 3, 0),
            }),
        );
        let u = uptime(&[m], "mobile", Berlin, now, 7);
        assert!(
            u.days
                .iter()
                .any(|d| d.worst == ComponentStatus::UnderMaintenance)
        );
        assert!((u.percent - 100.0).abs() < f64::EPSILON);
    }

    #[test]
    fn month_uptime_weights_outages_over_the_local_month() {
        let now = t(23, 12, 0);
        // 60 minutes of partial outage (30 % weight) in November, which began at local midnight.
        let a = incident(
            "a",
            Impact::Major,
            &[
                (t(10, 8, 0), Status::Investigating),
                (t(10, 9, 0), Status::Resolved),
            ],
            None,
        );
        let nov =
            month_uptime(std::slice::from_ref(&a), "mobile", Berlin, (2026, 11), now).unwrap();
        let total = (now - midnight(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), Berlin))
            .num_seconds() as f64;
        assert!(
            (nov - 100.0 * (1.0 - 0.3 * 3600.0 / total)).abs() < 1e-9,
            "{nov}"
        );
        let oct =
            month_uptime(std::slice::from_ref(&a), "mobile", Berlin, (2026, 10), now).unwrap();
        assert!((oct - 100.0).abs() < f64::EPSILON);
        assert_eq!(month_uptime(&[a], "mobile", Berlin, (2026, 12), now), None);
    }

    #[test]
    fn day_lengths_follow_dst() {
        // 2026-10-25 has 25 hours in Berlin.
        let d = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let len = midnight(d + Days::new(1), Berlin) - midnight(d, Berlin);
        assert_eq!(len.num_hours(), 25);
    }
}
