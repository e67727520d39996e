//! Validated, owned domain types and what follows from them at a given moment ("now").

pub mod text;
pub mod time;
pub mod uptime;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
pub use text::Text;

/// How bad an incident is, as Statuspage names it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    #[default]
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub const ALL: [Impact; 4] = [Impact::None, Impact::Minor, Impact::Major, Impact::Critical];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }

    /// The component status an open incident of this impact causes (Statuspage's mapping).
    #[must_use]
    pub fn component_status(self) -> ComponentStatus {
        match self {
            Impact::None => ComponentStatus::Operational,
            Impact::Minor => ComponentStatus::DegradedPerformance,
            Impact::Major => ComponentStatus::PartialOutage,
            Impact::Critical => ComponentStatus::MajorOutage,
        }
    }
}

/// A component's status, ordered from best to worst.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    #[default]
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl ComponentStatus {
    pub const ALL: [ComponentStatus; 5] = [
        ComponentStatus::Operational,
        ComponentStatus::UnderMaintenance,
        ComponentStatus::DegradedPerformance,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::UnderMaintenance => "under_maintenance",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
        }
    }

    /// Share of a minute counted as downtime (Statuspage: major outage fully, partial outage 30 %).
    #[must_use]
    pub fn downtime_weight(self) -> f64 {
        match self {
            ComponentStatus::MajorOutage => 1.0,
            ComponentStatus::PartialOutage => 0.3,
            _ => 0.0,
        }
    }
}

/// The status word of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Investigating,
    Identified,
    Monitoring,
    Update,
    Resolved,
    Scheduled,
    InProgress,
    Verifying,
    Completed,
}

impl Status {
    pub const INCIDENT: [Status; 5] = [
        Status::Investigating,
        Status::Identified,
        Status::Monitoring,
        Status::Update,
        Status::Resolved,
    ];
    pub const MAINTENANCE: [Status; 4] = [
        Status::Scheduled,
        Status::InProgress,
        Status::Verifying,
        Status::Completed,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Investigating => "investigating",
            Status::Identified => "identified",
            Status::Monitoring => "monitoring",
            Status::Update => "update",
            Status::Resolved => "resolved",
            Status::Scheduled => "scheduled",
            Status::InProgress => "in_progress",
            Status::Verifying => "verifying",
            Status::Completed => "completed",
        }
    }

    #[must_use]
    pub fn parse(word: &str) -> Option<Status> {
        Self::INCIDENT
            .into_iter()
            .chain(Self::MAINTENANCE)
            .find(|s| s.as_str() == word)
    }

    #[must_use]
    pub fn is_maintenance(self) -> bool {
        Self::MAINTENANCE.contains(&self)
    }

    /// Does this status end the incident or maintenance?
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Status::Resolved | Status::Completed)
    }
}

/// A maintenance window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One dated section of an incident file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Update {
    pub at: DateTime<Utc>,
    pub status: Status,
    /// Markdown.
    pub body: Text,
    /// Line of the heading in the file.
    pub line: usize,
}

/// An incident or a maintenance (one with `scheduled`), as read from its file.
#[derive(Debug, Clone, PartialEq, Hash)]
pub struct Incident {
    pub id: String,
    pub path: PathBuf,
    pub title: String,
    pub components: Vec<String>,
    pub impact: Impact,
    pub component_status: BTreeMap<String, ComponentStatus>,
    pub author: Option<String>,
    pub scheduled: Option<Window>,
    pub cancelled: bool,
    /// Markdown before the first update.
    pub summary: Text,
    /// All updates in time order, including those after "now" (not yet published).
    pub updates: Vec<Update>,
    /// Channels this incident may be broadcast to (`None`: all).
    pub channels: Option<Vec<String>>,
    /// `broadcast: false` switches broadcasting off for this incident.
    pub broadcast: bool,
    /// SHA-256 of the file it was read from (its path and bytes), which with the configuration
    /// determines everything above; the parse cache keeps it, so a rebuild can tell what changed
    /// without hashing every text. `None` for an incident made in code.
    pub digest: Option<[u8; 32]>,
}

/// When an incident last changes and whether it is still going after that: enough to tell, without
/// its texts, whether it matters at a given moment (a cron tick skips years of history with it;
/// the parse cache keeps it beside each file's entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recency {
    /// Its last update, or the end of its maintenance window when that is later.
    pub last_event: DateTime<Utc>,
    /// Still active after its last event (an incident whose last update is not final, a
    /// maintenance left "in progress").
    pub open: bool,
    pub maintenance: bool,
}

impl Recency {
    /// Does the incident have an event at or after `since`, or is it active at `now`? (`since` is
    /// not after `now`.) With `incidents_only`, an open maintenance does not count.
    #[must_use]
    pub fn touches(self, since: DateTime<Utc>, incidents_only: bool) -> bool {
        // Every event lies before `since` otherwise, so the state at `now` is the one after them.
        self.last_event >= since || (self.open && !(incidents_only && self.maintenance))
    }
}

/// Feeds `Hash` into SHA-256, for keys that must not collide.
pub struct ShaHasher(pub sha2::Sha256);

impl std::hash::Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        sha2::Digest::update(&mut self.0, bytes);
    }
}

impl Incident {
    /// What the incident's pages are made from: its [`Incident::digest`], or for an incident made in
    /// code a hash of all its fields. (The configuration is not in it.)
    #[must_use]
    pub fn content_key(&self) -> [u8; 32] {
        self.digest.unwrap_or_else(|| {
            let mut h = ShaHasher(<sha2::Sha256 as sha2::Digest>::new());
            std::hash::Hash::hash(self, &mut h);
            sha2::Digest::finalize(h.0).into()
        })
    }

    /// See [`Recency`].
    #[must_use]
    pub fn recency(&self) -> Recency {
        let last_event = self
            .updates
            .last()
            .map(|u| u.at)
            .into_iter()
            .chain(self.scheduled.map(|w| w.end))
            .max()
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        // No clock dependence after the last event: every update is published, the window over.
        let after = last_event
            .checked_add_signed(chrono::TimeDelta::seconds(1))
            .unwrap_or(last_event);
        Recency {
            last_event,
            open: self.is_active(after),
            maintenance: self.is_maintenance(),
        }
    }

    #[must_use]
    pub fn is_maintenance(&self) -> bool {
        self.scheduled.is_some()
    }

    /// Updates published at `now` (their time is not after it).
    #[must_use]
    pub fn published(&self, now: DateTime<Utc>) -> &[Update] {
        let n = self.updates.partition_point(|u| u.at <= now);
        &self.updates[..n]
    }

    /// Is the incident shown at `now`? An incident is once its first update is published; a
    /// maintenance is from the moment its file exists.
    #[must_use]
    pub fn is_visible(&self, now: DateTime<Utc>) -> bool {
        self.is_maintenance() || !self.published(now).is_empty()
    }

    /// The current status word at `now`.
    #[must_use]
    pub fn status(&self, now: DateTime<Utc>) -> Status {
        let latest = self.published(now).last().map(|u| u.status);
        match self.scheduled {
            None => latest.unwrap_or(Status::Investigating),
            Some(w) => match latest {
                Some(s @ (Status::InProgress | Status::Verifying | Status::Completed)) => s,
                _ if self.cancelled => Status::Completed,
                _ if now < w.start => Status::Scheduled,
                _ if now < w.end => Status::InProgress,
                _ => Status::Completed,
            },
        }
    }

    /// Open incident, or maintenance in progress or verifying, at `now`.
    #[must_use]
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.is_visible(now)
            && !self.status(now).is_final()
            && !(self.is_maintenance() && self.status(now) == Status::Scheduled)
    }

    /// A maintenance that has not started at `now`.
    #[must_use]
    pub fn is_upcoming(&self, now: DateTime<Utc>) -> bool {
        self.is_maintenance() && !self.cancelled && self.status(now) == Status::Scheduled
    }

    /// When it began: the first update of an incident, the start of a maintenance window (or its
    /// first in-progress update, when that came earlier).
    #[must_use]
    pub fn started_at(&self) -> DateTime<Utc> {
        match self.scheduled {
            Some(w) => self
                .updates
                .iter()
                .find(|u| u.status == Status::InProgress)
                .map_or(w.start, |u| u.at.min(w.start)),
            None => self
                .updates
                .first()
                .map_or(DateTime::<Utc>::MIN_UTC, |u| u.at),
        }
    }

    /// When it ended, if it has at `now`.
    #[must_use]
    pub fn ended_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if let Some(u) = self.published(now).iter().find(|u| u.status.is_final()) {
            return Some(u.at);
        }
        match self.scheduled {
            Some(w) if self.status(now) == Status::Completed => Some(w.end.min(now)),
            _ => None,
        }
    }

    /// The status the incident gives `component` while it is active.
    #[must_use]
    pub fn effect_on(&self, component: &str) -> ComponentStatus {
        if self.is_maintenance() {
            ComponentStatus::UnderMaintenance
        } else {
            self.component_status
                .get(component)
                .copied()
                .unwrap_or_else(|| self.impact.component_status())
        }
    }

    /// From when on nothing about the incident depends on the clock any more: every update is
    /// published and its status, end and duration are final. `None`: it is still going on (an open
    /// incident, a maintenance in progress until an update completes it). Pages of settled
    /// incidents can be reused from an earlier build.
    #[must_use]
    pub fn settled_at(&self) -> Option<DateTime<Utc>> {
        let last = self.updates.last().map(|u| u.at);
        match self.scheduled {
            None => {
                // Open until an update resolves it; every update published after the last one.
                self.updates
                    .iter()
                    .any(|u| u.status.is_final())
                    .then_some(last?)
            }
            Some(w) => {
                let latest = last.map(|_| self.updates[self.updates.len() - 1].status);
                match latest {
                    // Overran: in progress until an update completes it.
                    Some(Status::InProgress | Status::Verifying) => None,
                    Some(Status::Completed) => last,
                    // By the clock: settled once the window is over.
                    _ => Some(last.map_or(w.end, |t| t.max(w.end))),
                }
            }
        }
    }

    /// The time of the last published update, or the window start for a maintenance without one.
    #[must_use]
    pub fn updated_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.published(now)
            .last()
            .map_or_else(|| self.started_at(), |u| u.at)
    }
}

/// Every component's status at `now`: the worst effect of the active incidents touching it.
#[must_use]
pub fn component_statuses(
    config: &Config,
    incidents: &[Incident],
    now: DateTime<Utc>,
) -> BTreeMap<String, ComponentStatus> {
    statuses_of(config, incidents.iter().filter(|i| i.is_active(now)))
}

/// Every component's status, given the incidents active now.
pub fn statuses_of<'a>(
    config: &Config,
    active: impl Iterator<Item = &'a Incident>,
) -> BTreeMap<String, ComponentStatus> {
    let mut out: BTreeMap<String, ComponentStatus> = config
        .components
        .iter()
        .map(|c| (c.id.clone(), ComponentStatus::Operational))
        .collect();
    for incident in active {
        for c in &incident.components {
            if let Some(s) = out.get_mut(c) {
                *s = (*s).max(incident.effect_on(c));
            }
        }
    }
    out
}

/// The page's overall status: the worst component status.
#[must_use]
pub fn overall(statuses: &BTreeMap<String, ComponentStatus>) -> ComponentStatus {
    statuses.values().copied().max().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, m, 0).unwrap()
    }

    fn update(h: u32, status: Status) -> Update {
        Update {
            at: at(h, 0),
            status,
            body: Text::default(),
            line: 1,
        }
    }

    fn incident(updates: Vec<Update>, scheduled: Option<Window>) -> Incident {
        Incident {
            id: "x".into(),
            path: "x.md".into(),
            title: "X".into(),
            components: vec!["mobile".into(), "sms".into()],
            impact: Impact::Major,
            component_status: BTreeMap::from([(
                "sms".into(),
                ComponentStatus::DegradedPerformance,
            )]),
            author: None,
            scheduled,
            cancelled: false,
            summary: Text::default(),
            updates,
            channels: None,
            broadcast: true,
            digest: None,
        }
    }

    #[test]
    fn incident_is_open_until_resolved_and_future_updates_are_hidden() {
        let i = incident(
            vec![
                update(8, Status::Investigating),
                update(9, Status::Identified),
                update(11, Status::Resolved),
            ],
            None,
        );
        assert!(!i.is_visible(at(7, 0)));
        assert_eq!(i.status(at(10, 0)), Status::Identified);
        assert_eq!(i.published(at(10, 0)).len(), 2);
        assert!(i.is_active(at(10, 0)));
        assert!(!i.is_active(at(11, 0)));
        assert_eq!(i.ended_at(at(10, 0)), None);
        assert_eq!(i.ended_at(at(12, 0)), Some(at(11, 0)));
    }

    #[test]
    fn a_settled_incident_looks_the_same_at_any_later_time() {
        let w = Window {
            start: at(2, 0),
            end: at(4, 0),
        };
        let cases = [
            incident(vec![update(8, Status::Investigating)], None),
            incident(
                vec![
                    update(8, Status::Investigating),
                    update(11, Status::Resolved),
                ],
                None,
            ),
            incident(
                vec![
                    update(8, Status::Investigating),
                    update(9, Status::Resolved),
                    update(12, Status::Update),
                ],
                None,
            ),
            incident(vec![], Some(w)),
            incident(vec![update(1, Status::Scheduled)], Some(w)),
            incident(vec![update(3, Status::InProgress)], Some(w)),
            incident(
                vec![update(2, Status::InProgress), update(3, Status::Completed)],
                Some(w),
            ),
            Incident {
                cancelled: true,
                ..incident(vec![update(1, Status::Scheduled)], Some(w))
            },
        ];
        let look = |i: &Incident, now| {
            (
                i.published(now).len(),
                i.status(now),
                i.ended_at(now),
                i.is_active(now),
                i.is_upcoming(now),
                i.updated_at(now),
            )
        };
        for i in &cases {
            match i.settled_at() {
                Some(t) => {
                    for h in 0..48 {
                        let later = t + chrono::TimeDelta::hours(h);
                        assert_eq!(look(i, t), look(i, later), "{:?}", i.updates);
                    }
                }
                None => assert!(i.is_active(at(23, 0)) || i.updates.is_empty()),
            }
        }
        assert_eq!(cases[0].settled_at(), None, "open");
        assert_eq!(cases[5].settled_at(), None, "overran");
        assert_eq!(cases[3].settled_at(), Some(w.end));
    }

    #[test]
    fn maintenance_status_follows_the_clock_without_updates() {
        let m = incident(
            vec![],
            Some(Window {
                start: at(2, 0),
                end: at(4, 0),
            }),
        );
        assert_eq!(m.status(at(1, 0)), Status::Scheduled);
        assert!(m.is_upcoming(at(1, 0)));
        assert_eq!(m.status(at(3, 0)), Status::InProgress);
        assert!(m.is_active(at(3, 0)));
        assert_eq!(m.status(at(5, 0)), Status::Completed);
        assert_eq!(m.ended_at(at(5, 0)), Some(at(4, 0)));
    }

    #[test]
    fn component_status_uses_impact_override_and_maintenance() {
        let config = Config::for_test();
        let i = incident(vec![update(8, Status::Investigating)], None);
        let s = component_statuses(&config, std::slice::from_ref(&i), at(9, 0));
        assert_eq!(s["mobile"], ComponentStatus::PartialOutage);
        assert_eq!(s["sms"], ComponentStatus::DegradedPerformance);
        assert_eq!(s["web"], ComponentStatus::Operational);
        assert_eq!(overall(&s), ComponentStatus::PartialOutage);

        let m = incident(
            vec![],
            Some(Window {
                start: at(2, 0),
                end: at(4, 0),
            }),
        );
        let s = component_statuses(&config, &[m], at(3, 0));
        assert_eq!(s["mobile"], ComponentStatus::UnderMaintenance);
        assert_eq!(overall(&s), ComponentStatus::UnderMaintenance);
    }
}
