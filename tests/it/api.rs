//! The Statuspage-compatible API under `api/v2/`: every file has the keys, JSON types, enum values
//! and nesting of real Statuspage v2 responses (`tests/fixtures/statuspage/`), ids are stable, and
//! the values say what the demo says.

use std::collections::{BTreeMap, BTreeSet};

use chrono::DateTime;
use serde_json::Value;

use crate::outputs::{BASE, HAMBURG, SAXONY};
use crate::support::{Repo, json, manifest};

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compare the shape of `actual` with `expected`: the same keys in objects, the same JSON types
/// (`null` on either side matches anything), and every array element shaped like some element of
/// the expected array.
fn shape(actual: &Value, expected: &Value, path: &str, errors: &mut Vec<String>) {
    match (actual, expected) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(a), Value::Object(e)) => {
            let ak: BTreeSet<&String> = a.keys().collect();
            let ek: BTreeSet<&String> = e.keys().collect();
            for k in ek.difference(&ak) {
                errors.push(format!("{path}: missing key \"{k}\""));
            }
            for k in ak.difference(&ek) {
                errors.push(format!("{path}: unexpected key \"{k}\""));
            }
            for k in ak.intersection(&ek) {
                shape(&a[*k], &e[*k], &format!("{path}.{k}"), errors);
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if e.is_empty() {
                return;
            }
            for (n, item) in a.iter().enumerate() {
                let here = format!("{path}[{n}]");
                let tries: Vec<Vec<String>> = e
                    .iter()
                    .map(|candidate| {
                        let mut errs = Vec::new();
                        shape(item, candidate, &here, &mut errs);
                        errs
                    })
                    .collect();
                if tries.iter().all(|t| !t.is_empty()) {
                    let best = tries.into_iter().min_by_key(Vec::len).unwrap_or_default();
                    errors.extend(best);
                }
            }
        }
        (a, e) => {
            if kind(a) != kind(e) {
                errors.push(format!(
                    "{path}: {} where Statuspage has {}",
                    kind(a),
                    kind(e)
                ));
            }
        }
    }
}

const COMPONENT_STATUSES: [&str; 5] = [
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];
const INCIDENT_STATUSES: [&str; 9] = [
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "postmortem",
    "scheduled",
    "in_progress",
    "verifying",
    "completed",
];

/// Enum values, time formats and id formats, as Statuspage has them. `list` is the name of the
/// nearest enclosing array (`components`, `incidents`, `incident_updates`, …).
fn values(v: &Value, list: &str, path: &str, errors: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let here = format!("{path}.{k}");
                let allowed: Option<&[&str]> = match (k.as_str(), list) {
                    ("indicator", _) => {
                        Some(&["none", "minor", "major", "critical", "maintenance"])
                    }
                    ("impact", _) => Some(&["none", "minor", "major", "critical", "maintenance"]),
                    ("old_status" | "new_status", _) | ("status", "components") => {
                        Some(&COMPONENT_STATUSES)
                    }
                    ("status", "incidents" | "incident_updates" | "scheduled_maintenances") => {
                        Some(&INCIDENT_STATUSES)
                    }
                    _ => None,
                };
                let text = x.as_str();
                if let (Some(allowed), Some(s)) = (allowed, text)
                    && !allowed.contains(&s)
                {
                    errors.push(format!("{here}: \"{s}\" is not one of {allowed:?}"));
                }
                let is_time = k.ends_with("_at") || k == "scheduled_for" || k == "scheduled_until";
                if let Some(s) = text
                    && is_time
                    && (DateTime::parse_from_rfc3339(s).is_err() || !s.ends_with('Z'))
                {
                    errors.push(format!("{here}: \"{s}\" is not an RFC 3339 UTC time"));
                }
                let is_id = matches!(
                    k.as_str(),
                    "id" | "page_id" | "group_id" | "incident_id" | "code"
                );
                if let Some(s) = text
                    && is_id
                    && (s.len() != 12
                        || !s
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
                {
                    errors.push(format!("{here}: \"{s}\" is not a Statuspage-like id"));
                }
                values(x, if x.is_array() { k } else { list }, &here, errors);
            }
        }
        Value::Array(items) => {
            for (n, x) in items.iter().enumerate() {
                values(x, list, &format!("{path}[{n}]"), errors);
            }
        }
        _ => {}
    }
}

pub const ENDPOINTS: [(&str, &str); 8] = [
    ("summary.json", "summary.json"),
    ("status.json", "status.json"),
    ("components.json", "components.json"),
    ("incidents.json", "incidents.json"),
    ("incidents/unresolved.json", "incidents-unresolved.json"),
    ("scheduled-maintenances.json", "scheduled-maintenances.json"),
    (
        "scheduled-maintenances/upcoming.json",
        "scheduled-maintenances-upcoming.json",
    ),
    (
        "scheduled-maintenances/active.json",
        "scheduled-maintenances-active.json",
    ),
];

#[track_caller]
fn assert_statuspage_shapes(repo: &Repo, out: &str) {
    let mut errors = Vec::new();
    for (endpoint, fixture) in ENDPOINTS {
        let actual = json(repo, &format!("{out}/api/v2/{endpoint}"));
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(manifest("tests/fixtures/statuspage").join(fixture)).unwrap(),
        )
        .unwrap();
        shape(&actual, &expected, endpoint, &mut errors);
        values(&actual, "", endpoint, &mut errors);
        // Every object names the page it belongs to.
        let page_id = format!("\"page_id\":{}", actual["page"]["id"]);
        let text = repo.read(&format!("{out}/api/v2/{endpoint}"));
        if text.matches("\"page_id\":").count() != text.matches(&page_id).count() {
            errors.push(format!("{endpoint}: a page_id is not the page's id"));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_api_has_the_shape_of_real_statuspage_responses() {
    let repo = Repo::demo();
    repo.run(&["build"]).ok();
    assert_statuspage_shapes(&repo, "public");

    // The comparison has something to compare: the lists the demo fills at this moment.
    let summary = json(&repo, "public/api/v2/summary.json");
    assert_eq!(summary["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(
        summary["scheduled_maintenances"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        summary["components"].as_array().unwrap().len(),
        9 + 3,
        "9 components in 3 groups"
    );
    assert_eq!(summary["status"]["indicator"], "major");
    assert_eq!(summary["status"]["description"], "Teilweiser Ausfall");
    assert_eq!(summary["page"]["url"], BASE);
    assert_eq!(summary["page"]["time_zone"], "Europe/Berlin");
    assert_eq!(
        json(&repo, "public/api/v2/status.json")["status"],
        summary["status"]
    );

    // Groups carry their members' ids; members point back with group_id and count positions within it.
    let comps = summary["components"].as_array().unwrap();
    let net = comps.iter().find(|c| c["name"] == "Netz").unwrap();
    assert_eq!(net["group"], true);
    assert_eq!(net["status"], "partial_outage", "worst member");
    let members = net["components"].as_array().unwrap();
    assert_eq!(members.len(), 4);
    let sms = comps.iter().find(|c| c["name"] == "SMS & MMS").unwrap();
    assert_eq!(sms["group_id"], net["id"]);
    assert_eq!(sms["position"], 2);
    assert_eq!(sms["status"], "degraded_performance");
    assert!(members.contains(&sms["id"]));

    // The open incident, newest update first, with what each update did to each component.
    let open = &summary["incidents"][0];
    assert_eq!(open["name"], "Mobilfunk und SMS im Raum Hamburg gestört");
    assert_eq!(open["status"], "identified");
    assert_eq!(open["impact"], "major");
    assert_eq!(open["shortlink"], format!("{BASE}/incidents/{HAMBURG}/"));
    assert_eq!(open["resolved_at"], Value::Null);
    assert_eq!(open["created_at"], "2026-11-23T07:12:00.000Z");
    let updates = open["incident_updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2, "the 11:40 update is not published yet");
    assert_eq!(updates[0]["status"], "identified");
    assert!(
        updates[1]["body"]
            .as_str()
            .unwrap()
            .starts_with("Seit etwa 7:50 Uhr")
    );
    let first_sms = updates[1]["affected_components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == sms["id"])
        .unwrap();
    assert_eq!(first_sms["name"], "Netz - SMS & MMS");
    assert_eq!(first_sms["old_status"], "operational");
    assert_eq!(first_sms["new_status"], "degraded_performance");
    assert_eq!(open["components"].as_array().unwrap().len(), 2);

    // Maintenance: soonest first, window in UTC, impact "maintenance".
    let upcoming = json(&repo, "public/api/v2/scheduled-maintenances/upcoming.json");
    let first = &upcoming["scheduled_maintenances"][0];
    assert_eq!(first["shortlink"], format!("{BASE}/incidents/{SAXONY}/"));
    assert_eq!(first["scheduled_for"], "2026-11-26T01:00:00.000Z");
    assert_eq!(first["scheduled_until"], "2026-11-26T03:00:00.000Z");
    assert_eq!(first["impact"], "maintenance");
    assert_eq!(first["status"], "scheduled");
    assert!(first.get("reminder_intervals").is_none());
    assert_eq!(open["reminder_intervals"], Value::Null);
    assert!(open.as_object().unwrap().contains_key("reminder_intervals"));

    let all = json(&repo, "public/api/v2/incidents.json");
    assert!(all["incidents"].as_array().unwrap().len() >= 10);
    assert!(
        all["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.get("scheduled_for").is_none()),
        "incidents.json lists incidents, not maintenance"
    );
    assert!(
        json(&repo, "public/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]
            .as_array()
            .unwrap()
            .len()
            >= 5
    );
    assert_eq!(
        json(&repo, "public/api/v2/scheduled-maintenances/active.json")["scheduled_maintenances"],
        Value::Array(vec![])
    );

    // During the maintenance in Saxony, active.json has it and its components are under maintenance.
    repo.run_raw(&["--now", "2026-11-26T02:00:00Z", "build", "--out", "during"])
        .ok();
    assert_statuspage_shapes(&repo, "during");
    let active = json(&repo, "during/api/v2/scheduled-maintenances/active.json");
    let m = &active["scheduled_maintenances"][0];
    assert_eq!(m["status"], "in_progress");
    assert!(
        m["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "under_maintenance")
    );
    let comps = json(&repo, "during/api/v2/components.json");
    let dsl = comps["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "DSL & Glasfaser")
        .unwrap();
    assert_eq!(dsl["status"], "under_maintenance");
    assert_eq!(
        dsl["updated_at"], "2026-11-26T01:00:00.000Z",
        "changed when the window began"
    );
}

#[test]
fn a_page_under_maintenance_says_so_like_statuspage() {
    let repo = Repo::fixture("english");
    // Resolve the open webhook incident, then look during the storage maintenance.
    let path = "incidents/2026-11-23-webhook-delivery-delays.md";
    let text = repo.read(path) + "\n## 2026-11-23 05:30 resolved\nAll caught up.\n";
    repo.write(path, text);
    repo.run_raw(&["--now", "2026-11-28T07:00:00Z", "build"])
        .ok();
    let status = json(&repo, "public/api/v2/status.json");
    assert_eq!(status["status"]["indicator"], "maintenance");
    assert_eq!(status["status"]["description"], "Maintenance in progress");
    assert_eq!(
        json(&repo, "public/api/v2/incidents/unresolved.json")["incidents"],
        Value::Array(vec![])
    );
    assert_statuspage_shapes(&repo, "public");
}

#[test]
fn ids_stay_the_same_when_the_clock_moves() {
    let repo = Repo::demo();
    repo.run(&["build"]).ok();
    repo.run_raw(&["--now", "2026-11-26T12:00:00Z", "build", "--out", "later"])
        .ok();
    let ids = |out: &str| -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let inc = json(&repo, &format!("{out}/api/v2/incidents.json"));
        let maint = json(&repo, &format!("{out}/api/v2/scheduled-maintenances.json"));
        let comps = json(&repo, &format!("{out}/api/v2/components.json"));
        for i in inc["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .chain(maint["scheduled_maintenances"].as_array().unwrap())
        {
            let name = i["name"].as_str().unwrap();
            m.insert(name.to_string(), i["id"].as_str().unwrap().to_string());
            for u in i["incident_updates"].as_array().unwrap() {
                m.insert(
                    format!("{name} @ {}", u["created_at"].as_str().unwrap()),
                    u["id"].as_str().unwrap().to_string(),
                );
            }
        }
        for c in comps["components"].as_array().unwrap() {
            m.insert(
                format!("component {}", c["name"].as_str().unwrap()),
                c["id"].as_str().unwrap().to_string(),
            );
        }
        m.insert("page".into(), comps["page"]["id"].as_str().unwrap().into());
        m
    };
    let (before, after) = (ids("public"), ids("later"));
    for (k, v) in &before {
        assert_eq!(after.get(k), Some(v), "{k}");
    }
    assert!(
        after.len() > before.len(),
        "later builds add the newly published updates"
    );
    let unique: BTreeSet<&String> = after.values().collect();
    assert_eq!(unique.len(), after.len(), "ids are unique");
}
