//! Machine-readable outputs: feeds (checked with Python's feedparser), the maintenance calendar
//! (checked with Python's icalendar), badges, discovery files, both languages, and how all of them
//! move with the clock. The Statuspage-compatible API has its own module, `api`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::api::ENDPOINTS;
use crate::support::{NOW, Repo, json, manifest};

pub const BASE: &str = "https://status.fernwerk.example";
pub const SAXONY: &str = "2026-11-26-wartung-dsl-telefonie-sachsen";
pub const HAMBURG: &str = "2026-11-23-mobilfunk-sms-hamburg";
const COMPONENTS: [&str; 9] = [
    "mobile", "sms", "dsl", "voice", "tv", "email", "app", "hotline", "shop",
];

fn time(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

/// Run `tests/python/<script>` with `args`; `None` (after a loud note) when Python or its packages
/// are missing outside CI. In CI (`CI` set) missing packages fail the test.
fn python(script: &str, args: &[&str]) -> Option<Value> {
    let probe = Command::new("python3")
        .args(["-c", "import feedparser, icalendar"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        let why = match &probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the Python checkers (python3 -m pip install feedparser icalendar, see .ci/run): {why}"
        );
        // Straight to stderr, past the test harness's output capture, so the skip is seen.
        let note = format!(
            "\n!!! SKIPPED {script}: python3 with feedparser and icalendar is not available ({why}).\n!!! Install them with: python3 -m pip install feedparser==6.0.14 icalendar==7.3.0\n\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
        return None;
    }
    let out = Command::new("python3")
        .arg(manifest("tests/python").join(script))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("the checker prints JSON"))
}

// ---------------------------------------------------------------------------------------------
// Feeds.

#[test]
fn feeds_are_valid_for_feedparser_and_follow_the_w3c_rules() {
    let repo = Repo::demo();
    repo.run(&["build"]).ok();
    let public = repo.path("public");
    let Some(report) = python("check_feeds.py", &[public.to_str().unwrap(), BASE]) else {
        return;
    };
    eprintln!("feedparser {}", report["feedparser"]);
    let feeds = &report["feeds"];
    assert_eq!(feeds.as_object().unwrap().len(), 1 + COMPONENTS.len());

    // One entry per published update of every visible incident and maintenance.
    let published: usize = ["incidents.json", "scheduled-maintenances.json"]
        .iter()
        .map(|f| {
            let doc = json(&repo, &format!("public/api/v2/{f}"));
            doc.as_object()
                .unwrap()
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .map(|i| i["incident_updates"].as_array().unwrap().len())
                .sum::<usize>()
        })
        .sum();
    let root = &feeds[""]["atom"];
    let ids: Vec<&str> = root["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), published.min(50));
    assert_eq!(root["title"], "Fernwerk Telekom – Netzstatus: Meldungen");

    // Newest first: the TV maintenance announcement (08:30 UTC) before the Hamburg update (08:05 UTC).
    assert_eq!(
        root["titles"][0],
        "Geplant: Geplante Wartung: Fernwerk TV erhält neue Senderliste – Fernwerk TV"
    );
    assert_eq!(
        root["titles"][1],
        "Ursache gefunden: Mobilfunk und SMS im Raum Hamburg gestört – Mobilfunk (LTE/5G), SMS & MMS"
    );

    // Entry ids are the permalink with the update's anchor, which the incident page has.
    let page = repo.read(&format!("public/incidents/{HAMBURG}/index.html"));
    let prefix = format!("{BASE}/incidents/{HAMBURG}/#");
    let hamburg: Vec<&str> = ids
        .iter()
        .filter(|i| i.starts_with(&prefix))
        .copied()
        .collect();
    assert_eq!(hamburg.len(), 2);
    for id in hamburg {
        let anchor = &id[prefix.len()..];
        assert!(
            page.contains(&format!("<li id=\"{anchor}\">")),
            "{anchor} on the page"
        );
    }

    // The rendered update is the content; a future update is in no feed.
    let mobile = &feeds["components/mobile/"]["atom"];
    assert_eq!(
        mobile["title"],
        "Fernwerk Telekom – Netzstatus: Mobilfunk (LTE/5G)"
    );
    assert!(
        mobile["first_content"]
            .as_str()
            .unwrap()
            .contains("Wir haben die Ursache gefunden")
    );
    for (_, f) in feeds.as_object().unwrap() {
        assert!(!f.to_string().contains("Die Netzkarte ist getauscht"));
    }
    assert!(
        feeds["components/tv/"]["atom"]["titles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !t.as_str().unwrap().contains("Hamburg")),
        "component feeds only carry their component's incidents"
    );
    let atom = repo.read("public/feed.atom");
    assert!(
        atom.contains("&lt;strong&gt;WLAN Call&lt;/strong&gt;"),
        "Markdown rendered, then escaped"
    );
    assert!(report["sitemap"].as_array().unwrap().len() >= 18);
}

#[test]
fn hostile_text_stays_well_formed_in_every_format() {
    let repo = Repo::fixture("english");
    repo.write(
        "incidents/2026-11-22-hostile.md",
        "---\ntitle: \"<script>alert(1)</script> & ]]> \\u0001 {components}\"\ncomponents: [api]\nimpact: minor\n---\n## 2026-11-22 08:00 investigating\n<img src=x onerror=alert(1)> \u{1} ]]> &amp; [x](javascript:alert(1)); a, b\\c\n\n## 2026-11-22 09:00 resolved\nDone.\n",
    );
    repo.run(&["build"]).ok();
    for f in [
        "public/feed.atom",
        "public/feed.rss",
        "public/sitemap.xml",
        "public/badges/api.svg",
    ] {
        let text = repo.read(f);
        let mut reader = quick_xml::Reader::from_str(&text);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("{f} is not well-formed XML: {e}\n{text}"),
            }
        }
        assert!(!text.contains("<script"), "{f}");
        assert!(!text.contains('\u{1}'), "{f}");
    }
    let atom = repo.read("public/feed.atom");
    assert!(
        atom.contains("Investigating: &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt;  {components} – REST API"),
        "placeholders in text are not filled: {atom}"
    );
    if let Some(report) = python(
        "check_feeds.py",
        &[
            repo.path("public").to_str().unwrap(),
            "https://status.acme.example",
        ],
    ) {
        assert!(
            report["feeds"][""]["atom"]["titles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t.as_str().unwrap().contains("<script>alert(1)</script>")),
            "feedparser reads the title back as text"
        );
    }
}

/// A minor incident with `count` updates ten minutes apart from midnight of `day`, each with the
/// text `body(n)`.
fn every_ten_minutes(
    title: &str,
    components: &str,
    day: &str,
    count: u32,
    body: &dyn Fn(u32) -> String,
) -> String {
    let mut text = format!("---\ntitle: {title}\ncomponents: {components}\nimpact: minor\n---\n");
    for n in 0..count {
        let (h, m) = (n / 6, n % 6 * 10);
        writeln!(text, "## {day} {h:02}:{m:02} update\n{}\n", body(n)).unwrap();
    }
    text
}

#[test]
fn feeds_pick_their_newest_entries_in_order_even_among_ties() {
    // Three incidents with updates at the same 25 moments: newest first, at the same moment by
    // incident id; the global feed's fifty end in the middle of a moment.
    let repo = Repo::fixture("english");
    for (name, components) in [("a", "[storage]"), ("b", "[api, storage]"), ("c", "[api]")] {
        let text = every_ten_minutes(&format!("Tie {name}"), components, "2026-12-05", 25, &|n| {
            format!("Tie {name} update {n}.")
        });
        repo.write(&format!("incidents/2026-12-05-tie-{name}.md"), text);
    }
    repo.run_raw(&["--now", "2026-12-06T00:00:00Z", "build"])
        .ok();
    let shown = |feed: &str| -> Vec<(String, u32)> {
        let atom = repo.read(feed);
        atom.match_indices("Tie ")
            .filter_map(|(at, _)| {
                // The body ("Tie a update 7."), not the title ("Tie a – Object Storage").
                let rest = atom[at + 4..].strip_prefix(['a', 'b', 'c'])?;
                let n = rest
                    .strip_prefix(" update ")?
                    .split_once('.')?
                    .0
                    .parse()
                    .ok()?;
                Some((atom[at + 4..at + 5].to_string(), n))
            })
            .collect()
    };
    // Newest first, then by id (a, b, c), then the later update of one incident first.
    let expected = |names: &[&str], take: usize| -> Vec<(String, u32)> {
        (0..25)
            .rev()
            .flat_map(|n| names.iter().map(move |name| (name.to_string(), n)))
            .take(take)
            .collect()
    };
    assert_eq!(shown("public/feed.atom"), expected(&["a", "b", "c"], 50));
    assert_eq!(
        shown("public/components/storage/feed.atom"),
        expected(&["a", "b"], 50)
    );
    assert_eq!(
        shown("public/components/api/feed.atom"),
        expected(&["b", "c"], 50)
    );
    assert!(shown("public/components/webhooks/feed.atom").is_empty());
}

#[test]
fn a_feed_picks_the_newest_updates_wherever_they_are_in_a_long_history() {
    // The incident that started first (and is looked at last) has the newest update; the other
    // has more than twice a feed's entries, older ones first in its file.
    let repo = Repo::fixture("english");
    let busy = every_ten_minutes("Busy", "[storage]", "2026-12-05", 120, &|n| {
        format!("Busy update {n}.")
    });
    repo.write("incidents/2026-12-05-busy.md", busy);
    repo.write(
        "incidents/2026-12-01-old.md",
        "---\ntitle: Old\ncomponents: [storage]\nimpact: minor\n---\n\
         ## 2026-12-01 08:00 update\nOld first.\n\n## 2026-12-05 23:55 update\nOld latest.\n",
    );
    repo.run_raw(&["--now", "2026-12-07T00:00:00Z", "build"])
        .ok();
    let expected: Vec<String> = std::iter::once("Old latest.".to_string())
        .chain((71..120).rev().map(|n| format!("Busy update {n}.")))
        .collect();
    for feed in ["public/feed.atom", "public/components/storage/feed.atom"] {
        let atom = repo.read(feed);
        let shown: Vec<String> = atom
            .split("<entry>")
            .skip(1)
            .filter_map(|e| {
                ["Old latest.", "Old first.", "Busy update "]
                    .iter()
                    .find_map(|p| e.find(p))
                    .map(|at| {
                        e[at..]
                            .split_inclusive('.')
                            .next()
                            .unwrap_or("")
                            .to_string()
                    })
            })
            .collect();
        assert_eq!(shown, expected, "{feed}");
    }
}

#[test]
fn a_feed_keeps_the_newest_fifty_entries() {
    let repo = Repo::fixture("english");
    let text = every_ten_minutes("Long night", "[storage]", "2026-11-22", 60, &|n| {
        format!("Update number {n}.")
    });
    repo.write("incidents/2026-11-22-long-night.md", text);
    repo.run(&["build"]).ok();
    let entries = |f: &str| repo.read(f).matches("<entry>").count();
    assert_eq!(entries("public/feed.atom"), 50);
    assert_eq!(entries("public/components/storage/feed.atom"), 50);
    assert_eq!(repo.read("public/feed.rss").matches("<item>").count(), 50);
    let storage = repo.read("public/components/storage/feed.atom");
    assert!(storage.contains("Update number 59."), "the newest is kept");
    assert!(
        !storage.contains("Update number 9."),
        "the oldest ten are dropped"
    );
    let api = json(&repo, "public/api/v2/incidents.json");
    let long = &api["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "Long night")
        .unwrap();
    assert_eq!(long["incident_updates"].as_array().unwrap().len(), 60);
    assert_eq!(
        long["status"], "investigating",
        "`update` keeps the status before it"
    );
}

// ---------------------------------------------------------------------------------------------
// Calendar.

/// The properties of the VEVENT with `uid` in an iCalendar text (unfolded).
fn vevent(ics: &str, uid: &str) -> BTreeMap<String, String> {
    let unfolded = ics.replace("\r\n ", "");
    let mut current: Option<BTreeMap<String, String>> = None;
    for line in unfolded.split("\r\n") {
        match line {
            "BEGIN:VEVENT" => current = Some(BTreeMap::new()),
            "END:VEVENT" => {
                if let Some(ev) = current.take()
                    && ev.get("UID").is_some_and(|u| u == uid)
                {
                    return ev;
                }
            }
            _ => {
                if let (Some(ev), Some((k, v))) = (current.as_mut(), line.split_once(':')) {
                    ev.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    panic!("no VEVENT {uid} in\n{ics}");
}

#[test]
fn the_calendar_parses_in_icalendar_and_has_every_window() {
    let repo = Repo::demo();
    repo.run(&["build"]).ok();
    let raw = std::fs::read(repo.path("public/maintenance.ics")).unwrap();
    assert!(
        raw.windows(2).filter(|w| w == b"\r\n").count() > 20,
        "CRLF line ends"
    );
    let Some(report) = python(
        "check_calendar.py",
        &[repo.path("public").to_str().unwrap()],
    ) else {
        return;
    };
    eprintln!("icalendar {}", report["icalendar"]);
    assert!(
        report["folded_lines"].as_u64().unwrap() > 0,
        "long lines are folded"
    );
    let events = report["events"].as_array().unwrap();
    let maintenance = json(&repo, "public/api/v2/scheduled-maintenances.json");
    let windows = maintenance["scheduled_maintenances"].as_array().unwrap();
    assert_eq!(events.len(), windows.len(), "one VEVENT per maintenance");
    for w in windows {
        let url = w["shortlink"].as_str().unwrap();
        let ev = events
            .iter()
            .find(|e| e["url"] == url)
            .unwrap_or_else(|| panic!("no event for {url}"));
        assert_eq!(time(&ev["start"]), time(&w["scheduled_for"]), "{url}");
        assert_eq!(time(&ev["end"]), time(&w["scheduled_until"]), "{url}");
        assert!(ev["description"].as_str().unwrap().contains(url));
    }
    let saxony = events
        .iter()
        .find(|e| e["uid"] == format!("{SAXONY}@status.fernwerk.example"))
        .unwrap();
    assert_eq!(saxony["start"], "2026-11-26T01:00:00Z");
    assert_eq!(saxony["end"], "2026-11-26T03:00:00Z");
    assert_eq!(
        saxony["summary"],
        "[Wartung] Geplante Wartung: DSL und Festnetz-Telefonie in Sachsen"
    );
    assert_eq!(saxony["status"], "CONFIRMED");
    assert_eq!(saxony["sequence"], 1);
    assert!(
        saxony["description"]
            .as_str()
            .unwrap()
            .starts_with("Betroffen: DSL & Glasfaser, Festnetz-Telefonie\n\n")
    );
}

#[test]
fn rescheduling_and_cancelling_raise_the_sequence() {
    let repo = Repo::demo();
    let uid = format!("{SAXONY}@status.fernwerk.example");
    let file = format!("incidents/{SAXONY}.md");
    repo.run(&["build"]).ok();
    let before = vevent(&repo.read("public/maintenance.ics"), &uid);
    assert_eq!(before["DTSTART"], "20261126T010000Z");
    assert_eq!(before["STATUS"], "CONFIRMED");

    // Moved by a day, announced with an update (as the README says to): same UID, higher SEQUENCE.
    let moved = repo.read(&file).replace(
        "2026-11-26 02:00, end: 2026-11-26 04:00",
        "2026-11-27 02:00, end: 2026-11-27 04:00",
    ) + "\n## 2026-11-23 09:30 scheduled\nNeuer Termin: Die Arbeiten finden eine Nacht später statt, am 27. November von 2:00 bis 4:00 Uhr.\n";
    repo.write(&file, &moved);
    repo.run(&["build"]).ok();
    let after = vevent(&repo.read("public/maintenance.ics"), &uid);
    assert_eq!(after["DTSTART"], "20261127T010000Z");
    assert_eq!(after["DTEND"], "20261127T030000Z");
    let seq = |ev: &BTreeMap<String, String>| ev["SEQUENCE"].parse::<u32>().unwrap();
    assert!(
        seq(&after) > seq(&before),
        "{} > {}",
        seq(&after),
        seq(&before)
    );
    assert!(after["DESCRIPTION"].contains("Neuer Termin"));
    assert_eq!(
        after["DTSTAMP"], "20261123T083000Z",
        "changed at the announcing update"
    );

    // Cancelled: STATUS:CANCELLED, SEQUENCE up again, and no longer upcoming in the API.
    repo.write(
        &file,
        moved.replacen("scheduled:", "cancelled: true\nscheduled:", 1),
    );
    repo.run(&["build"]).ok();
    let cancelled = vevent(&repo.read("public/maintenance.ics"), &uid);
    assert_eq!(cancelled["STATUS"], "CANCELLED");
    assert!(seq(&cancelled) > seq(&after));
    assert!(cancelled["SUMMARY"].starts_with("[Abgesagt] "));
    let upcoming = json(&repo, "public/api/v2/scheduled-maintenances/upcoming.json");
    assert!(!upcoming.to_string().contains(SAXONY));
    // Called off at the last update: later builds say the same.
    repo.run_raw(&["--now", "2026-11-23T10:30:00Z", "build", "--out", "later"])
        .ok();
    for f in ["maintenance.ics", "api/v2/scheduled-maintenances.json"] {
        assert_eq!(
            repo.read(&format!("public/{f}")),
            repo.read(&format!("later/{f}")),
            "{f}"
        );
    }
    let all = json(&repo, "later/api/v2/scheduled-maintenances.json");
    let saxony = all["scheduled_maintenances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["shortlink"].as_str().unwrap().contains(SAXONY))
        .unwrap();
    assert_eq!(saxony["status"], "completed");
    assert_eq!(saxony["resolved_at"], "2026-11-23T08:30:00.000Z");
}

// ---------------------------------------------------------------------------------------------
// Badges, discovery, both languages, determinism.

#[test]
fn the_demo_build_writes_every_machine_readable_file() {
    let repo = Repo::demo();
    repo.run(&["build"]).ok();
    let mut files: Vec<String> = [
        "feed.atom",
        "feed.rss",
        "maintenance.ics",
        "robots.txt",
        "sitemap.xml",
        "badges/status.svg",
        "badges/status.json",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    files.extend(ENDPOINTS.iter().map(|(e, _)| format!("api/v2/{e}")));
    for c in COMPONENTS {
        files.push(format!("components/{c}/feed.atom"));
        files.push(format!("components/{c}/feed.rss"));
        files.push(format!("badges/{c}.svg"));
        files.push(format!("badges/{c}.json"));
    }
    for f in &files {
        assert!(repo.path(&format!("public/{f}")).is_file(), "{f}");
    }

    assert_eq!(
        repo.read("public/robots.txt"),
        format!("User-agent: *\nAllow: /\n\nSitemap: {BASE}/sitemap.xml\n")
    );
    let sitemap = repo.read("public/sitemap.xml");
    assert!(sitemap.contains(&format!("<loc>{BASE}/</loc>")));
    assert!(sitemap.contains(&format!("<loc>{BASE}/history/</loc>")));
    assert!(sitemap.contains(&format!(
        "<loc>{BASE}/incidents/{HAMBURG}/</loc>\n    <lastmod>2026-11-23T08:05:00Z</lastmod>"
    )));

    // Discovery in every page's head; the footer links every format.
    let index = repo.read("public/index.html");
    assert!(index.contains(
        "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Meldungen (Atom)\" href=\"feed.atom\">"
    ));
    assert!(index.contains("<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Meldungen (RSS)\" href=\"feed.rss\">"));
    for link in [
        "feed.atom",
        "feed.rss",
        "maintenance.ics",
        "api/v2/summary.json",
        "badges/status.svg",
    ] {
        assert!(
            index.contains(&format!("<a href=\"{link}\"")),
            "footer links {link}"
        );
    }
    let page = repo.read(&format!("public/incidents/{HAMBURG}/index.html"));
    assert!(page.contains("href=\"../../feed.atom\""));
    assert!(page.contains(
        "title=\"SMS &amp; MMS – Meldungen (Atom)\" href=\"../../components/sms/feed.atom\""
    ));
    assert!(
        repo.read("public/history/index.html")
            .contains("href=\"../feed.rss\"")
    );

    // Badges: the status word in the site's language, its colour, an accessible name.
    let mobile = repo.read("public/badges/mobile.svg");
    assert!(mobile.contains("<title>Mobilfunk (LTE/5G): Teilausfall</title>"));
    assert!(mobile.contains("aria-label=\"Mobilfunk (LTE/5G): Teilausfall\""));
    assert!(mobile.contains("fill=\"#bc4c00\""));
    assert!(
        repo.read("public/badges/status.svg")
            .contains("<title>Status: Teilausfall</title>")
    );
    let endpoint = json(&repo, "public/badges/sms.json");
    assert_eq!(
        endpoint,
        serde_json::json!({"schemaVersion": 1, "label": "SMS & MMS", "message": "Eingeschränkt", "color": "9a6700"})
    );
    assert_eq!(
        json(&repo, "public/badges/dsl.json")["message"],
        "Betriebsbereit"
    );
}

#[test]
fn an_english_site_gets_english_outputs() {
    let repo = Repo::fixture("english");
    repo.run(&["build"]).ok();
    let atom = repo.read("public/feed.atom");
    assert!(atom.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">"));
    assert!(atom.contains("<title>Acme Cloud Status: Updates</title>"));
    assert!(atom.contains("<title>Identified: Delayed webhook deliveries – Webhooks</title>"));
    assert!(
        repo.read("public/feed.rss")
            .contains("<language>en</language>")
    );
    let ics = repo.read("public/maintenance.ics");
    assert!(ics.contains("NAME:Acme Cloud Status: Maintenance\r\n"));
    let ev = vevent(
        &ics,
        "2026-11-28-object-storage-maintenance@status.acme.example",
    );
    assert_eq!(
        ev["SUMMARY"],
        "[Maintenance] Scheduled maintenance: Object Storage"
    );
    assert_eq!(
        ev["DTSTART"], "20261128T060000Z",
        "01:00 in New York is 06:00 UTC"
    );
    assert!(ev["DESCRIPTION"].starts_with("Affected: Object Storage\\n\\n"));
    assert!(ev["DESCRIPTION"].contains("Details and latest updates: https://status.acme.example/incidents/2026-11-28-object-storage-maintenance/"));
    assert!(
        repo.read("public/badges/status.svg")
            .contains("<title>Status: Degraded performance</title>")
    );
    let status = json(&repo, "public/api/v2/status.json");
    assert_eq!(status["status"]["indicator"], "minor");
    assert_eq!(
        status["status"]["description"],
        "Some services are degraded"
    );
    assert_eq!(status["page"]["time_zone"], "America/New_York");
    assert!(!atom.contains("Betroffen") && !ics.contains("Wartung"));
    // The update at 19:30 Europe/London is 19:30 UTC, whatever the site's zone.
    let incidents = json(&repo, "public/api/v2/incidents.json");
    assert!(
        incidents
            .to_string()
            .contains("\"created_at\":\"2026-11-10T19:30:00.000Z\"")
    );
}

/// Everything except the HTML pages, which show when they were built.
fn machine_files(repo: &Repo, out: &str) -> BTreeMap<String, Vec<u8>> {
    repo.snapshot(out)
        .into_iter()
        .filter(|(p, _)| {
            !std::path::Path::new(p)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("html"))
        })
        .collect()
}

#[test]
fn machine_outputs_change_only_when_something_happens() {
    let repo = Repo::demo();
    repo.run(&["build"]).ok();
    repo.run_raw(&[
        "--now",
        "2026-11-23T10:01:00Z",
        "build",
        "--out",
        "a_minute_later",
    ])
    .ok();
    let before = machine_files(&repo, "public");
    let after = machine_files(&repo, "a_minute_later");
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &before {
        assert!(
            after[path] == *bytes,
            "{path} changed although nothing happened"
        );
    }
    // The 11:40 local update (10:40 UTC) changes feeds, API and sitemap, but not the calendar.
    repo.run_raw(&["--now", "2026-11-23T10:41:00Z", "build", "--out", "later"])
        .ok();
    let later = machine_files(&repo, "later");
    for changed in [
        "feed.atom",
        "components/sms/feed.rss",
        "api/v2/summary.json",
        "sitemap.xml",
    ] {
        assert_ne!(before[changed], later[changed], "{changed}");
    }
    for same in [
        "maintenance.ics",
        "components/tv/feed.atom",
        "badges/status.svg",
    ] {
        assert_eq!(before[same], later[same], "{same}");
    }
    assert!(NOW < "2026-11-23T10:01:00Z");
}

#[test]
fn a_theme_file_wins_over_a_generated_one_and_status_is_a_reserved_id() {
    let repo = Repo::fixture("english");
    let yaml = repo
        .read("statuscast.yaml")
        .replace("  language: en\n", "  language: en\n  theme: acme\n");
    repo.write("statuscast.yaml", &yaml);
    repo.write(
        "themes/acme/static/robots.txt",
        "User-agent: *\nDisallow: /\n",
    );
    repo.run(&["build"]).ok();
    assert_eq!(
        repo.read("public/robots.txt"),
        "User-agent: *\nDisallow: /\n"
    );
    assert!(repo.path("public/sitemap.xml").is_file());

    repo.write("statuscast.yaml", yaml.replace("id: storage", "id: status"));
    let run = repo.run(&["check"]).fails();
    assert!(
        run.stderr
            .contains("the component id \"status\" is reserved"),
        "{}",
        run.stderr
    );
}
