//! `statuscast build` on the demo and fixtures: what customers see, in both languages.

use crate::support::{NOW, Repo, section};

const OPEN: &str = "public/incidents/2026-11-23-mobilfunk-sms-hamburg/index.html";

#[test]
fn demo_front_page_shows_status_incidents_and_maintenance() {
    let repo = Repo::demo();
    let run = repo.run(&["build"]).ok();
    assert!(run.stdout.starts_with("built "), "{}", run.stdout);
    assert!(
        run.stdout.trim_end().ends_with("→ public/"),
        "{}",
        run.stdout
    );
    let html = repo.read("public/index.html");

    // Banner: the worst component status (the open incident has impact major → partial outage).
    assert!(
        html.contains("<section class=\"banner s-partial_outage\""),
        "banner"
    );
    assert!(html.contains("Teilweiser Ausfall"));

    // The open incident with its published updates, newest first; the 11:40 update is in the future.
    let active = section(&html, "h-active");
    assert!(active.contains("Mobilfunk und SMS im Raum Hamburg gestört"));
    let identified = active
        .find("Wir haben die Ursache gefunden")
        .expect("09:05 update shown");
    let investigating = active
        .find("Seit etwa 7:50 Uhr")
        .expect("08:12 update shown");
    assert!(identified < investigating, "newest update first");
    assert!(
        !html.contains("Die Netzkarte ist getauscht"),
        "an update after --now is not published"
    );
    assert!(
        active.contains("<strong>WLAN Call</strong>"),
        "Markdown rendered"
    );

    // Upcoming maintenance, in start order, with the window in the site's zone.
    let maint = section(&html, "h-maint");
    let saxony = maint
        .find("DSL und Festnetz-Telefonie in Sachsen")
        .expect("first maintenance");
    let tv = maint
        .find("Fernwerk TV erhält neue Senderliste")
        .expect("second maintenance");
    assert!(saxony < tv);
    assert!(maint.contains("26. November 2026, 02:00 MEZ</time> – <time datetime=\"2026-11-26T03:00:00Z\">04:00 MEZ"), "{maint}");

    // Components: status per component, incl. the per-component override for SMS.
    let comps = section(&html, "h-components");
    let row = |name: &str| {
        let at = comps
            .find(&format!("<span class=\"cname\">{name}</span>"))
            .unwrap_or_else(|| panic!("{name}"));
        &comps[at..at + comps[at..].find("</div>").unwrap()]
    };
    assert!(row("Mobilfunk (LTE/5G)").contains("Teilausfall"));
    assert!(row("SMS &amp; MMS").contains("Eingeschränkt"));
    assert!(row("DSL &amp; Glasfaser").contains("Betriebsbereit"));
    assert!(comps.contains("% Verfügbarkeit"));

    // The last 14 days, today first; resolved incidents of yesterday are listed.
    let recent = section(&html, "h-recent");
    assert!(recent.find("23. November 2026").unwrap() < recent.find("22. November 2026").unwrap());
    assert!(recent.contains("Keine Störungen gemeldet."));
    assert!(
        !recent.contains("Sachsen"),
        "upcoming maintenance is not history"
    );

    // Support contact.
    assert!(section(&html, "h-support").contains("href=\"tel:"));
}

#[test]
fn every_visible_incident_has_a_permalink_page_and_history_lists_them() {
    let repo = Repo::demo();
    repo.run(&["build"]).ok();
    let page = repo.read(OPEN);
    assert!(page.contains("<h1>Mobilfunk und SMS im Raum Hamburg gestört</h1>"));
    assert!(page.contains("Maria Krüger"), "author's name");
    assert!(
        page.contains("2 Std. 48 Min. (andauernd)"),
        "duration so far"
    );
    assert!(
        page.contains("href=\"../../style.css\""),
        "relative links work from any path"
    );

    let dst = repo.read("public/incidents/2026-10-25-wartung-mobilfunk-kernnetz/index.html");
    // 02:50 +02:00 (summer time) then 02:10 +01:00 (winter time): shown as local times with zone names.
    assert!(
        dst.contains("25. Oktober 2026, 02:50 MESZ"),
        "DST night, summer time"
    );
    assert!(
        dst.contains("25. Oktober 2026, 02:10 MEZ"),
        "DST night, winter time"
    );
    assert!(dst.contains("Abgeschlossen"));

    let history = repo.read("public/history/index.html");
    for entry in std::fs::read_dir(repo.path("incidents")).unwrap() {
        let id = entry
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            repo.path(&format!("public/incidents/{id}/index.html"))
                .is_file(),
            "{id} page"
        );
        let upcoming = id.starts_with("2026-11-26") || id.starts_with("2026-12-03");
        assert_eq!(
            history.contains(&format!("incidents/{id}/")),
            !upcoming,
            "{id} in history"
        );
    }
    assert!(history.find("November 2026").unwrap() < history.find("Oktober 2026").unwrap());
}

#[test]
fn english_site_reads_in_english_in_its_own_zone() {
    let repo = Repo::fixture("english");
    repo.run(&["build"]).ok();
    let html = repo.read("public/index.html");
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(
        html.contains("Some services are degraded"),
        "minor open incident"
    );
    assert!(html.contains("Scheduled maintenance"));
    assert!(html.contains("November 23, 2026"));
    assert!(html.contains(" EST"), "times in America/New_York");
    assert!(
        !html.contains("Betriebsbereit"),
        "no German text on an English page"
    );
}

#[test]
fn two_builds_at_the_same_moment_are_byte_identical() {
    let repo = Repo::demo();
    repo.run(&["build"]).ok();
    let first = repo.snapshot("public");
    repo.run(&["build"]).ok();
    assert_eq!(first, repo.snapshot("public"));
    repo.run(&["build", "--out", "elsewhere"]).ok();
    assert_eq!(first, repo.snapshot("elsewhere"));
}

#[test]
fn the_front_page_stays_small() {
    let repo = Repo::demo();
    repo.run(&["build"]).ok();
    let size = repo.read("public/index.html").len() + repo.read("public/style.css").len();
    assert!(size < 50 * 1024, "index.html + style.css = {size} bytes");
}

#[test]
fn the_clock_moves_the_page() {
    let repo = Repo::demo();
    // Two days later the maintenance in Saxony is over and the 11:40 update is published.
    repo.run_raw(&["--now", "2026-11-26T12:00:00Z", "build"])
        .ok();
    let html = repo.read("public/index.html");
    assert!(!section(&html, "h-components").is_empty());
    assert!(
        html.contains("Die Netzkarte ist getauscht"),
        "monitoring update now published"
    );
    assert!(!html.contains("id=\"h-maint\"") || !section(&html, "h-maint").contains("Sachsen"));
    // During the maintenance its components are under maintenance.
    repo.run_raw(&["--now", "2026-11-26T02:00:00Z", "build"])
        .ok();
    let html = repo.read("public/index.html");
    let comps = section(&html, "h-components");
    let at = comps.find("DSL &amp; Glasfaser").unwrap();
    assert!(comps[at..at + comps[at..].find("</div>").unwrap()].contains("Wartung"));
}

#[test]
fn hostile_incident_text_is_escaped() {
    let repo = Repo::fixture("english");
    repo.write(
        "incidents/2026-11-22-hostile.md",
        "---\ntitle: \"<script>alert(1)</script> {{ site.title }}\"\ncomponents: [api]\nimpact: minor\n---\n## 2026-11-22 08:00 investigating\n<img src=x onerror=alert(1)> [click](javascript:alert(1)) {% raw %}\n\n## 2026-11-22 09:00 resolved\nDone.\n",
    );
    repo.run(&["build"]).ok();
    let page = repo.read("public/incidents/2026-11-22-hostile/index.html");
    assert!(!page.contains("<script>alert"), "title escaped");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; {{ site.title }}"),
        "Tera syntax in text stays text"
    );
    assert!(!page.contains("<img src=x"));
    assert!(!page.contains("javascript:"));
}

#[test]
fn a_user_theme_overrides_the_default_file_by_file() {
    let repo = Repo::fixture("english");
    let yaml = repo
        .read("statuscast.yaml")
        .replace("  language: en\n", "  language: en\n  theme: acme\n");
    repo.write("statuscast.yaml", yaml);
    repo.write("themes/acme/templates/incident.html", "{% extends \"base.html\" %}{% block main %}<p>custom {{ incident.title }}</p>{% endblock main %}");
    repo.write("themes/acme/static/style.css", "body{color:red}");
    repo.write("themes/acme/static/logo.svg", "<svg/>");
    repo.write("themes/acme/i18n/en.yaml", "nav_history: Archive\n");
    repo.run(&["build"]).ok();
    assert!(
        repo.read("public/incidents/2026-11-10-api-elevated-errors/index.html")
            .contains("<p>custom ")
    );
    assert!(
        repo.read("public/index.html").contains("class=\"banner"),
        "other templates stay default"
    );
    assert!(
        repo.read("public/index.html").contains(">Archive</a>"),
        "text override"
    );
    assert_eq!(repo.read("public/style.css"), "body{color:red}");
    assert_eq!(repo.read("public/logo.svg"), "<svg/>");

    // A theme that does not exist is an error, not a silent fallback.
    let yaml = repo
        .read("statuscast.yaml")
        .replace("theme: acme", "theme: nope");
    repo.write("statuscast.yaml", yaml);
    let run = repo.run(&["build"]).fails();
    assert!(
        run.stderr.contains("theme \"nope\" not found"),
        "{}",
        run.stderr
    );
}

#[test]
fn new_writes_a_stamped_file_that_check_accepts() {
    let repo = Repo::demo();
    let run = repo
        .run(&[
            "new",
            "Störung im Festnetz Köln",
            "--component",
            "voice",
            "--impact",
            "major",
        ])
        .ok();
    let path = run.stdout.trim();
    assert_eq!(path, "incidents/2026-11-23-stoerung-im-festnetz-koeln.md");
    let text = repo.read(path);
    assert!(
        text.contains("title: \"Störung im Festnetz Köln\"\ncomponents: [voice]\nimpact: major\n"),
        "{text}"
    );
    assert!(
        text.contains("## 2026-11-23 11:00 investigating"),
        "stamped now in Europe/Berlin: {text}"
    );
    repo.run(&["check"]).ok();
    // Same title again: a second file, never an overwrite.
    let again = repo
        .run(&[
            "new",
            "Störung im Festnetz Köln",
            "-c",
            "voice",
            "--impact",
            "major",
        ])
        .ok();
    assert_eq!(
        again.stdout.trim(),
        "incidents/2026-11-23-stoerung-im-festnetz-koeln-2.md"
    );

    let m = repo
        .run(&[
            "new",
            "DSL-Wartung",
            "-c",
            "dsl",
            "--maintenance",
            "--start",
            "2026-12-01 02:00",
            "--end",
            "2026-12-01 04:00",
        ])
        .ok();
    let text = repo.read(m.stdout.trim());
    assert!(
        text.contains("scheduled: { start: 2026-12-01 02:00, end: 2026-12-01 04:00 }"),
        "{text}"
    );
    assert!(text.contains("## 2026-11-23 11:00 scheduled"));
    repo.run(&["check"]).ok();

    let bad = repo
        .run(&["new", "X", "-c", "mobil", "--impact", "major"])
        .fails();
    assert!(
        bad.stderr.contains("unknown component \"mobil\"")
            && bad.stderr.contains("did you mean \"mobile\"?"),
        "{}",
        bad.stderr
    );
    let bad = repo
        .run(&["new", "X", "-c", "mobile", "--impact", "majr"])
        .fails();
    assert!(
        bad.stderr.contains("did you mean \"major\"?"),
        "{}",
        bad.stderr
    );
}

#[test]
fn check_reports_success_in_one_line() {
    let run = Repo::demo().run(&["check"]).ok();
    assert_eq!(
        run.stdout,
        "checked statuscast.yaml and 16 incident files: no problems\n"
    );
    assert!(NOW.starts_with("2026-11-23"));
}

/// Rebuilds reuse pages and the previous output (the spare folder), but never trust them blindly:
/// a page deleted or cut short by hand in `public/` is back after the next build, and stays right
/// when that folder later comes back as the spare.
#[test]
fn pages_deleted_or_damaged_by_hand_come_back() {
    let repo = Repo::fixture("english");
    repo.run(&["build"]).ok();
    repo.run(&["build"]).ok(); // the spare exists from here on
    let settled = "public/incidents/2026-10-30-dashboard-slow-loading/index.html";
    let other = "public/incidents/2026-11-10-api-elevated-errors/index.html";
    let whole = repo.snapshot("public");
    std::fs::remove_file(repo.path(settled)).unwrap();
    repo.write(other, "cut");
    std::fs::remove_file(repo.path("public/style.css")).unwrap();
    for n in 1..=3 {
        repo.run(&["build"]).ok();
        assert!(
            repo.snapshot("public") == whole,
            "build {n} after the damage differs from the whole output"
        );
    }
}

#[test]
fn the_front_page_lists_twenty_recent_incidents_and_counts_the_rest() {
    // 23 short incidents on the day before. Twenty cards in all, newest first: the fixture's open
    // incident of today, then 19 of them; the day says "4 more", the fixture's November 10 "1 more".
    let repo = Repo::fixture("english");
    for n in 0..23 {
        repo.write(
            &format!("incidents/2026-11-22-blip-{n:02}.md"),
            format!(
                "---\ntitle: Blip {n:02}\ncomponents: [api]\nimpact: minor\n---\n\n\
                 ## 2026-11-22 {h:02}:{m:02} UTC investigating\nBlip body {n:02}.\n\n\
                 ## 2026-11-22 {h:02}:{m2:02} UTC resolved\nFixed.\n",
                h = 1 + n / 2,
                m = n % 2 * 20,
                m2 = n % 2 * 20 + 10,
            ),
        );
    }
    repo.run(&["build"]).ok();
    let html = repo.read("public/index.html");
    let recent = section(&html, "h-recent");
    let blips: Vec<&str> = recent
        .match_indices("Blip ")
        .map(|(at, _)| &recent[at + 5..at + 7])
        .collect();
    let newest: Vec<String> = (4..23).rev().map(|n| format!("{n:02}")).collect();
    assert_eq!(blips, newest, "the newest twenty, newest first");
    assert!(
        recent.contains("Delayed webhook deliveries"),
        "today's incident"
    );
    assert!(
        recent.contains("4 more on this day: see the history"),
        "{recent}"
    );
    assert!(
        recent.contains("1 more on this day: see the history"),
        "{recent}"
    );
    assert!(
        !recent.contains("Blip body"),
        "recent cards show no timeline"
    );
}
