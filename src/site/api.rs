//! A read-only API under `api/v2/` with the endpoints, field names, types, enum values and nesting
//! of Atlassian Statuspage's public v2 API, so clients written for a Statuspage page work unchanged.
//!
//! How statuscast's model maps onto Statuspage's:
//! - Ids are stable 12-character ids (see [`super::ids`]); `shortlink` is the incident's permalink.
//! - Component groups are components with `group: true` and the ids of their members; members have
//!   `group_id` and a `position` within their group, as on Statuspage.
//! - `status.indicator` follows the worst component status: operational → `none`, degraded
//!   performance → `minor`, partial outage → `major`, major outage → `critical`, and, as Statuspage
//!   pages do, `maintenance` while a maintenance is in progress. `description` is the page's headline
//!   in the site's language.
//! - An incident update with the status `update` has no Statuspage counterpart: it keeps the status the
//!   incident was in. Maintenance have `impact: "maintenance"`, as on Statuspage.
//! - `incidents.json` lists incidents, `scheduled-maintenances.json` maintenance (50 each, newest
//!   first); `body` is the update's Markdown text; every time is UTC (`2026-11-23T08:12:00.000Z`).
//! - `affected_components` shows what each update did to each component (`old_status` → `new_status`).

use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Output;
use super::ids;
use super::machine::{Machine, changed_at, created_at, ended_at, write_error};
use crate::config::Component as ConfigComponent;
use crate::diagnostics::Diagnostic;
use crate::model::{ComponentStatus, Incident, Status};

/// Incidents in `incidents.json` and maintenance in `scheduled-maintenances.json`.
pub const API_LIST_LIMIT: usize = 50;

/// Statuspage's time format: UTC with milliseconds.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Serialize)]
struct Page<'a> {
    id: String,
    name: &'a str,
    url: &'a str,
    time_zone: &'a str,
    updated_at: String,
}

#[derive(Serialize)]
struct Rollup {
    indicator: &'static str,
    description: String,
}

#[derive(Serialize, Clone)]
struct Component<'a> {
    id: String,
    name: &'a str,
    status: &'static str,
    created_at: String,
    updated_at: String,
    position: usize,
    description: Option<&'a str>,
    showcase: bool,
    start_date: Option<String>,
    group_id: Option<String>,
    page_id: String,
    group: bool,
    only_show_if_degraded: bool,
    /// Only groups have it: the ids of their members.
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Vec<String>>,
}

#[derive(Serialize)]
struct AffectedComponent {
    code: String,
    name: String,
    old_status: &'static str,
    new_status: &'static str,
}

#[derive(Serialize)]
struct IncidentUpdate<'a> {
    id: String,
    status: &'static str,
    body: &'a str,
    incident_id: String,
    created_at: String,
    updated_at: String,
    display_at: String,
    affected_components: Vec<AffectedComponent>,
    deliver_notifications: bool,
    custom_tweet: Option<String>,
    tweet_id: Option<String>,
}

#[derive(Serialize)]
struct ApiIncident<'a> {
    id: String,
    name: &'a str,
    status: &'static str,
    created_at: String,
    updated_at: String,
    monitoring_at: Option<String>,
    resolved_at: Option<String>,
    impact: &'static str,
    shortlink: String,
    started_at: String,
    page_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_for: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_until: Option<String>,
    incident_updates: Vec<IncidentUpdate<'a>>,
    components: Vec<Component<'a>>,
    /// Incidents carry `"reminder_intervals": null`; maintenance do not have the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    reminder_intervals: Option<Null>,
}

/// A JSON `null` (statuscast has no reminder intervals to show).
#[derive(Serialize)]
struct Null;

#[derive(Serialize)]
struct StatusDoc<'a> {
    page: &'a Page<'a>,
    status: &'a Rollup,
}

#[derive(Serialize)]
struct ComponentsDoc<'a> {
    page: &'a Page<'a>,
    components: &'a [Component<'a>],
}

#[derive(Serialize)]
struct IncidentsDoc<'a> {
    page: &'a Page<'a>,
    incidents: Vec<&'a ApiIncident<'a>>,
}

#[derive(Serialize)]
struct MaintenancesDoc<'a> {
    page: &'a Page<'a>,
    scheduled_maintenances: Vec<&'a ApiIncident<'a>>,
}

#[derive(Serialize)]
struct SummaryDoc<'a> {
    page: &'a Page<'a>,
    components: &'a [Component<'a>],
    incidents: Vec<&'a ApiIncident<'a>>,
    scheduled_maintenances: Vec<&'a ApiIncident<'a>>,
    status: &'a Rollup,
}

/// Statuspage's page indicator for the worst component status.
#[must_use]
pub fn indicator(worst: ComponentStatus) -> &'static str {
    match worst {
        ComponentStatus::Operational => "none",
        ComponentStatus::DegradedPerformance => "minor",
        ComponentStatus::PartialOutage => "major",
        ComponentStatus::MajorOutage => "critical",
        ComponentStatus::UnderMaintenance => "maintenance",
    }
}

/// The Statuspage status of each published update (an `update` keeps the status before it), and of
/// the incident as a whole.
fn statuses(incident: &Incident, now: DateTime<Utc>) -> (Vec<Status>, Status) {
    if incident.is_maintenance() {
        let each = incident.published(now).iter().map(|u| u.status).collect();
        return (each, incident.status(now));
    }
    let mut current = Status::Investigating;
    let each: Vec<Status> = incident
        .published(now)
        .iter()
        .map(|u| {
            if u.status != Status::Update {
                current = u.status;
            }
            current
        })
        .collect();
    (each, current)
}

/// What a component is after an update with this (Statuspage) status.
fn state_after(incident: &Incident, component: &str, status: Status) -> ComponentStatus {
    match status {
        Status::Resolved | Status::Completed | Status::Scheduled => ComponentStatus::Operational,
        Status::InProgress | Status::Verifying => ComponentStatus::UnderMaintenance,
        _ => incident.effect_on(component),
    }
}

/// When each component's status last changed at or before `now`: an incident touching it began or
/// ended, or a maintenance of it started or finished (the page's epoch if none did). One pass over
/// the history for all components.
fn components_updated<'m>(m: &'m Machine) -> HashMap<&'m str, DateTime<Utc>> {
    let mut at: HashMap<&str, DateTime<Utc>> = m
        .config
        .components
        .iter()
        .map(|c| (c.id.as_str(), m.epoch))
        .collect();
    for i in m
        .visible
        .iter()
        .filter(|i| !(i.is_maintenance() && i.cancelled))
    {
        let start = if i.is_maintenance() {
            Some(i.started_at())
        } else {
            i.published(m.now).first().map(|u| u.at)
        };
        let Some(latest) = [start, i.ended_at(m.now)]
            .into_iter()
            .flatten()
            .filter(|t| *t <= m.now)
            .max()
        else {
            continue;
        };
        for c in &i.components {
            if let Some(t) = at.get_mut(c.as_str()) {
                *t = (*t).max(latest);
            }
        }
    }
    at
}

/// A top-level entry of the page: a group with its members, or a component without a group.
enum Top<'a> {
    Group(&'a str, Vec<&'a ConfigComponent>),
    Single(&'a ConfigComponent),
}

struct Built<'a> {
    page: Page<'a>,
    rollup: Rollup,
    /// In page order: each group followed by its members.
    components: Vec<Component<'a>>,
    /// Leaf components by config id.
    by_id: BTreeMap<&'a str, Component<'a>>,
    /// `group - name` for grouped components, as Statuspage names them in `affected_components`.
    long_names: BTreeMap<&'a str, String>,
}

fn build_components<'a>(m: &Machine<'a>, page_id: &str) -> Built<'a> {
    let epoch = time(m.epoch);
    let updated = components_updated(m);
    let leaf = |c: &'a ConfigComponent, position: usize| Component {
        id: ids::component(&c.id),
        name: &c.name,
        status: m.statuses.get(&c.id).copied().unwrap_or_default().as_str(),
        created_at: epoch.clone(),
        updated_at: time(updated.get(c.id.as_str()).copied().unwrap_or(m.epoch)),
        position,
        description: c.description.as_deref(),
        showcase: true,
        start_date: None,
        group_id: c.group.as_deref().map(ids::group),
        page_id: page_id.to_string(),
        group: false,
        only_show_if_degraded: false,
        components: None,
    };

    // Top-level entries in page order: a group (at the place of its first member) or a component.
    let mut tops: Vec<Top<'a>> = Vec::new();
    for c in &m.config.components {
        match c.group.as_deref() {
            Some(g) => {
                if let Some(Top::Group(_, members)) = tops
                    .iter_mut()
                    .find(|t| matches!(t, Top::Group(name, _) if *name == g))
                {
                    members.push(c);
                } else {
                    tops.push(Top::Group(g, vec![c]));
                }
            }
            None => tops.push(Top::Single(c)),
        }
    }

    let mut components = Vec::new();
    let mut by_id = BTreeMap::new();
    let mut long_names = BTreeMap::new();
    for (n, top) in tops.iter().enumerate() {
        match top {
            Top::Single(c) => {
                let lc = leaf(c, n + 1);
                by_id.insert(c.id.as_str(), lc.clone());
                long_names.insert(c.id.as_str(), c.name.clone());
                components.push(lc);
            }
            Top::Group(name, members) => {
                let leaves: Vec<Component> = members
                    .iter()
                    .enumerate()
                    .map(|(k, c)| leaf(c, k + 1))
                    .collect();
                let worst = members
                    .iter()
                    .map(|c| m.statuses.get(&c.id).copied().unwrap_or_default())
                    .max()
                    .unwrap_or_default();
                components.push(Component {
                    id: ids::group(name),
                    name,
                    status: worst.as_str(),
                    created_at: epoch.clone(),
                    updated_at: leaves
                        .iter()
                        .map(|l| l.updated_at.clone())
                        .max()
                        .unwrap_or_else(|| epoch.clone()),
                    position: n + 1,
                    description: None,
                    showcase: false,
                    start_date: None,
                    group_id: None,
                    page_id: page_id.to_string(),
                    group: true,
                    only_show_if_degraded: false,
                    components: Some(leaves.iter().map(|l| l.id.clone()).collect()),
                });
                for (c, l) in members.iter().zip(leaves) {
                    by_id.insert(c.id.as_str(), l.clone());
                    long_names.insert(c.id.as_str(), format!("{name} - {}", c.name));
                    components.push(l);
                }
            }
        }
    }

    let worst = crate::model::overall(&m.statuses);
    Built {
        page: Page {
            id: page_id.to_string(),
            name: &m.config.site.title,
            url: &m.config.site.base_url,
            time_zone: &m.config.site.timezone,
            updated_at: time(m.last_change),
        },
        rollup: Rollup {
            indicator: indicator(worst),
            description: m.texts.get(&format!("overall_{}", worst.as_str())),
        },
        components,
        by_id,
        long_names,
    }
}

fn build_incident<'a>(
    m: &Machine<'a>,
    built: &Built<'a>,
    incident: &'a Incident,
) -> ApiIncident<'a> {
    let now = m.now;
    let id = ids::incident(&incident.id);
    let (each, overall) = statuses(incident, now);
    let update_ids = ids::updates(incident);
    let mut before: BTreeMap<&str, ComponentStatus> = incident
        .components
        .iter()
        .map(|c| (c.as_str(), ComponentStatus::Operational))
        .collect();
    let mut updates: Vec<IncidentUpdate> = incident
        .published(now)
        .iter()
        .zip(&each)
        .zip(update_ids)
        .map(|((u, status), uid)| {
            let at = time(u.at);
            let affected = incident
                .components
                .iter()
                .filter(|c| built.by_id.contains_key(c.as_str()))
                .map(|c| {
                    let old = before
                        .get(c.as_str())
                        .copied()
                        .unwrap_or(ComponentStatus::Operational);
                    let new = state_after(incident, c, *status);
                    before.insert(c.as_str(), new);
                    AffectedComponent {
                        code: ids::component(c),
                        name: built
                            .long_names
                            .get(c.as_str())
                            .cloned()
                            .unwrap_or_default(),
                        old_status: old.as_str(),
                        new_status: new.as_str(),
                    }
                })
                .collect();
            IncidentUpdate {
                id: uid,
                status: status.as_str(),
                body: u.body.trim(),
                incident_id: id.clone(),
                created_at: at.clone(),
                updated_at: at.clone(),
                display_at: at,
                affected_components: affected,
                deliver_notifications: incident.broadcast,
                custom_tweet: None,
                tweet_id: None,
            }
        })
        .collect();
    updates.reverse();

    let maintenance = incident.is_maintenance();
    ApiIncident {
        name: &incident.title,
        status: overall.as_str(),
        created_at: time(created_at(incident, now)),
        updated_at: time(changed_at(incident, now)),
        monitoring_at: incident
            .published(now)
            .iter()
            .find(|u| u.status == Status::Monitoring)
            .map(|u| time(u.at)),
        resolved_at: ended_at(incident, now).map(time),
        impact: if maintenance {
            "maintenance"
        } else {
            incident.impact.as_str()
        },
        shortlink: m.permalink(incident),
        started_at: time(incident.started_at()),
        page_id: built.page.id.clone(),
        scheduled_for: incident.scheduled.map(|w| time(w.start)),
        scheduled_until: incident.scheduled.map(|w| time(w.end)),
        incident_updates: updates,
        components: incident
            .components
            .iter()
            .filter_map(|c| built.by_id.get(c.as_str()).cloned())
            .collect(),
        reminder_intervals: if maintenance { None } else { Some(Null) },
        id,
    }
}

/// Every file under `api/v2/`.
///
/// # Errors
/// When a document cannot be serialized.
pub fn render(m: &Machine) -> Result<Vec<Output>, Diagnostic> {
    let built = build_components(m, &ids::page(&m.config.site.base_url));
    let now = m.now;
    // Pick what the documents list first (by position in `visible`), then build only those.
    let visible = &m.visible;
    let incidents: Vec<usize> = (0..visible.len())
        .filter(|&n| !visible[n].is_maintenance())
        .take(API_LIST_LIMIT)
        .collect();
    let unresolved: Vec<usize> = (0..visible.len())
        .filter(|&n| !visible[n].is_maintenance() && visible[n].is_active(now))
        .collect();
    let mut maintenances: Vec<usize> = (0..visible.len())
        .filter(|&n| visible[n].is_maintenance())
        .collect();
    // Soonest first; the full list is shown newest first.
    maintenances.sort_by(|&a, &b| {
        let (a, b) = (visible[a], visible[b]);
        a.started_at()
            .cmp(&b.started_at())
            .then_with(|| a.id.cmp(&b.id))
    });
    let upcoming: Vec<usize> = maintenances
        .iter()
        .copied()
        .filter(|&n| visible[n].is_upcoming(now))
        .collect();
    let active: Vec<usize> = maintenances
        .iter()
        .copied()
        .filter(|&n| visible[n].is_active(now))
        .collect();
    let current: Vec<usize> = maintenances
        .iter()
        .copied()
        .filter(|&n| visible[n].is_upcoming(now) || visible[n].is_active(now))
        .collect();
    let recent: Vec<usize> = maintenances
        .iter()
        .rev()
        .take(API_LIST_LIMIT)
        .copied()
        .collect();
    let needed: std::collections::BTreeSet<usize> = [
        &incidents,
        &unresolved,
        &upcoming,
        &active,
        &current,
        &recent,
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect();
    let built_incidents: BTreeMap<usize, ApiIncident> = needed
        .into_iter()
        .map(|n| (n, build_incident(m, &built, visible[n])))
        .collect();
    let pick = |list: &[usize]| -> Vec<&ApiIncident> {
        list.iter().map(|n| &built_incidents[n]).collect()
    };
    let (incidents, unresolved, current, upcoming, active, recent) = (
        pick(&incidents),
        pick(&unresolved),
        pick(&current),
        pick(&upcoming),
        pick(&active),
        pick(&recent),
    );

    let page = &built.page;
    let mut out = Vec::new();
    let mut put = |path: &str, value: Result<Vec<u8>, serde_json::Error>| {
        value
            .map(|bytes| {
                out.push(Output {
                    path: format!("api/v2/{path}"),
                    bytes,
                });
            })
            .map_err(|e| write_error(&format!("api/v2/{path}"), &e))
    };
    put(
        "summary.json",
        serde_json::to_vec(&SummaryDoc {
            page,
            components: &built.components,
            incidents: unresolved.clone(),
            scheduled_maintenances: current,
            status: &built.rollup,
        }),
    )?;
    put(
        "status.json",
        serde_json::to_vec(&StatusDoc {
            page,
            status: &built.rollup,
        }),
    )?;
    put(
        "components.json",
        serde_json::to_vec(&ComponentsDoc {
            page,
            components: &built.components,
        }),
    )?;
    put(
        "incidents.json",
        serde_json::to_vec(&IncidentsDoc { page, incidents }),
    )?;
    put(
        "incidents/unresolved.json",
        serde_json::to_vec(&IncidentsDoc {
            page,
            incidents: unresolved,
        }),
    )?;
    put(
        "scheduled-maintenances.json",
        serde_json::to_vec(&MaintenancesDoc {
            page,
            scheduled_maintenances: recent,
        }),
    )?;
    put(
        "scheduled-maintenances/upcoming.json",
        serde_json::to_vec(&MaintenancesDoc {
            page,
            scheduled_maintenances: upcoming,
        }),
    )?;
    put(
        "scheduled-maintenances/active.json",
        serde_json::to_vec(&MaintenancesDoc {
            page,
            scheduled_maintenances: active,
        }),
    )?;
    Ok(out)
}
