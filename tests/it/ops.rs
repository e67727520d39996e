//! The ops commands: `init`, `update`/`resolve`, `report`, GitHub annotations in `check`,
//! `completions` and `man`.

use serde_json::Value;

use crate::support::{Repo, manifest};

fn empty() -> Repo {
    Repo {
        dir: tempfile::tempdir().unwrap(),
    }
}

// --- init ---------------------------------------------------------------------------------

#[test]
fn init_writes_a_repository_that_checks_and_builds() {
    let repo = empty();
    let out = repo.run(&["init", "status"]).ok();
    assert!(
        out.stdout.contains("cd status && statuscast serve"),
        "{}",
        out.stdout
    );
    for f in [
        "status/statuscast.yaml",
        "status/incidents/2026-11-23-example.md",
        "status/.gitignore",
        "status/.github/workflows/status.yml",
    ] {
        assert!(repo.path(f).is_file(), "{f} missing");
    }
    assert_eq!(
        repo.read("status/.github/workflows/status.yml"),
        std::fs::read_to_string(manifest("examples/github/status.yml")).unwrap(),
        "the workflow is the documented example"
    );
    let ignore = repo.read("status/.gitignore");
    for line in ["/public/*", "!/public/README.md", ".statuscast/private/"] {
        assert!(ignore.lines().any(|l| l == line), "{line} in {ignore}");
    }
    let config = repo.read("status/statuscast.yaml");
    assert!(config.contains("# Required, at least one"), "commented");
    assert!(config.contains("language: en"));

    repo.run(&["--config", "status/statuscast.yaml", "check"])
        .ok();
    repo.run(&[
        "--config",
        "status/statuscast.yaml",
        "build",
        "--out",
        "status/public",
    ])
    .ok();
    let page = repo.read("status/public/index.html");
    assert!(page.contains("Example Status"));
    assert!(
        repo.path("status/public/incidents/2026-11-23-example/index.html")
            .is_file()
    );
    // The example is never posted.
    let incident = repo.read("status/incidents/2026-11-23-example.md");
    assert!(incident.contains("broadcast: false"));
    assert!(
        incident.contains("## 2026-11-23 09:15 investigating"),
        "{incident}"
    );
    assert!(
        incident.contains("## 2026-11-23 09:45 resolved"),
        "{incident}"
    );
}

#[test]
fn init_in_german_uses_the_site_zone_and_german_texts() {
    let repo = empty();
    repo.run(&["init", "--lang", "de", "netz"]).ok();
    let config = repo.read("netz/statuscast.yaml");
    assert!(config.contains("language: de") && config.contains("timezone: Europe/Berlin"));
    assert!(config.contains("# Pflicht, mindestens eine"));
    // 10:00Z is 11:00 in Berlin: the example is stamped in local time.
    let incident = repo.read("netz/incidents/2026-11-23-example.md");
    assert!(
        incident.contains("## 2026-11-23 10:15 investigating"),
        "{incident}"
    );
    repo.run(&[
        "--config",
        "netz/statuscast.yaml",
        "build",
        "--out",
        "netz/public",
    ])
    .ok();
    assert!(repo.read("netz/public/index.html").contains("lang=\"de\""));
}

#[test]
fn init_refuses_to_overwrite_anything_and_writes_nothing() {
    let repo = empty();
    repo.write("status/.gitignore", "mine\n");
    let before = repo.snapshot("");
    let out = repo.run(&["init", "status"]).fails();
    assert!(
        out.stderr
            .contains("status/.gitignore already exists; nothing was written"),
        "{}",
        out.stderr
    );
    assert_eq!(repo.snapshot(""), before);
    assert!(!repo.path("status/statuscast.yaml").exists());

    let repo = empty();
    repo.run(&["init"]).ok();
    let before = repo.snapshot("");
    let out = repo.run(&["init", "--lang", "de"]).fails();
    assert!(out.stderr.contains("statuscast.yaml, "), "{}", out.stderr);
    assert_eq!(repo.snapshot(""), before);
}

// --- update and resolve -------------------------------------------------------------------

const OPEN: &str = "incidents/2026-11-23-webhook-delivery-delays.md";

#[test]
fn update_and_resolve_append_stamped_sections_that_check_accepts() {
    let repo = Repo::fixture("english");
    let original = repo.read(OPEN);
    // --now 10:00Z is 05:00 in New York.
    let out = repo
        .run(&[
            "update",
            "2026-11-23-webhook-delivery-delays",
            "monitoring",
            "-m",
            "The backlog has cleared.\n\nWe keep watching.",
        ])
        .ok();
    assert!(
        out.stdout
            .contains("added \"## 2026-11-23 05:00 monitoring\" (update 3"),
        "{}",
        out.stdout
    );
    assert_eq!(
        repo.read(OPEN),
        format!(
            "{}\n\n## 2026-11-23 05:00 monitoring\nThe backlog has cleared.\n\nWe keep watching.\n",
            original.trim_end()
        )
    );
    repo.run(&["check"]).ok();

    repo.run(&[
        "resolve",
        "2026-11-23-webhook-delivery-delays",
        "-m",
        "All events are delivered.",
    ])
    .ok();
    assert!(
        repo.read(OPEN)
            .ends_with("\n\n## 2026-11-23 05:00 resolved\nAll events are delivered.\n")
    );
    repo.run(&["check"]).ok();
    let page = {
        repo.run(&["build"]).ok();
        repo.read("public/incidents/2026-11-23-webhook-delivery-delays/index.html")
    };
    assert!(page.contains("All events are delivered."));

    // Resolving twice is refused, and the file stays as it is.
    let resolved = repo.read(OPEN);
    let out = repo
        .run(&[
            "resolve",
            "2026-11-23-webhook-delivery-delays",
            "-m",
            "again",
        ])
        .fails();
    assert!(
        out.stderr.contains(
            "2026-11-23-webhook-delivery-delays is already resolved (update of 2026-11-23 05:00)"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(repo.read(OPEN), resolved);
}

#[test]
fn statuses_that_do_not_fit_are_refused_with_the_right_words() {
    let repo = Repo::fixture("english");
    let before = repo.snapshot("incidents");
    let out = repo
        .run(&[
            "update",
            "2026-11-23-webhook-delivery-delays",
            "in_progress",
            "-m",
            "x",
        ])
        .fails();
    assert!(
        out.stderr
            .contains("\"in_progress\" is not a status of an incident"),
        "{}",
        out.stderr
    );
    let out = repo
        .run(&[
            "update",
            "2026-11-23-webhook-delivery-delays",
            "behoben",
            "-m",
            "x",
        ])
        .fails();
    assert!(
        out.stderr.contains("did you mean \"resolved\"?"),
        "{}",
        out.stderr
    );
    let out = repo
        .run(&[
            "update",
            "2026-11-28-object-storage-maintenance",
            "identified",
            "-m",
            "x",
        ])
        .fails();
    assert!(
        out.stderr
            .contains("\"identified\" is not a status of a maintenance"),
        "{}",
        out.stderr
    );
    let out = repo
        .run(&[
            "update",
            "2026-11-23-webhook-delivery-delay",
            "identified",
            "-m",
            "x",
        ])
        .fails();
    assert!(
        out.stderr
            .contains("no incident \"2026-11-23-webhook-delivery-delay\" in incidents")
            && out
                .stderr
                .contains("did you mean \"2026-11-23-webhook-delivery-delays\"?"),
        "{}",
        out.stderr
    );
    // A text that would break the file (a broken update heading) is refused as a whole.
    let out = repo
        .run(&[
            "update",
            "2026-11-23-webhook-delivery-delays",
            "identified",
            "-m",
            "Cause found.\n## 2026-13-45 10:00 resolved",
        ])
        .fails();
    assert!(
        out.stderr
            .contains("would not pass `statuscast check`; nothing was written"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("\"2026-13-45\" is not a date"),
        "{}",
        out.stderr
    );
    let out = repo
        .run(&[
            "update",
            "2026-11-23-webhook-delivery-delays",
            "identified",
            "-m",
            "  ",
        ])
        .fails();
    assert!(out.stderr.contains("the text is empty"), "{}", out.stderr);
    assert_eq!(repo.snapshot("incidents"), before, "nothing was written");
}

#[test]
fn resolving_a_maintenance_completes_it_and_subfolders_are_found() {
    let repo = Repo::fixture("english");
    std::fs::create_dir_all(repo.path("incidents/2026")).unwrap();
    std::fs::rename(
        repo.path("incidents/2026-11-28-object-storage-maintenance.md"),
        repo.path("incidents/2026/2026-11-28-object-storage-maintenance.md"),
    )
    .unwrap();
    let out = repo
        .run_raw(&[
            "--now",
            "2026-11-28T08:10:00Z",
            "resolve",
            "2026-11-28-object-storage-maintenance",
            "-m",
            "The upgrade is done.",
        ])
        .ok();
    assert!(
        out.stdout.contains("## 2026-11-28 03:10 completed"),
        "{}",
        out.stdout
    );
    assert!(
        repo.read("incidents/2026/2026-11-28-object-storage-maintenance.md")
            .ends_with("## 2026-11-28 03:10 completed\nThe upgrade is done.\n")
    );
    repo.run(&["check"]).ok();
}

#[test]
fn without_a_message_the_editor_asks_for_the_text() {
    let repo = Repo::fixture("english");
    // An "editor" that writes a text above the template, as a person would.
    repo.write(
        "editor.sh",
        "f=\"$1\"\n{ printf 'Typed in the editor.\\n\\n### Details\\nA queue was stuck.\\n'; cat \"$f\"; } > \"$f.new\" && mv \"$f.new\" \"$f\"\n",
    );
    let editor = format!("sh '{}'", repo.path("editor.sh").display());
    repo.run_env(
        &[
            "--now",
            "2026-11-23T10:00:00Z",
            "update",
            "2026-11-23-webhook-delivery-delays",
            "identified",
        ],
        &[("EDITOR", &editor)],
    )
    .ok();
    let text = repo.read(OPEN);
    assert!(
        text.ends_with("## 2026-11-23 05:00 identified\nTyped in the editor.\n\n### Details\nA queue was stuck.\n"),
        "{text}"
    );
    assert!(!text.contains(">8"), "the template is cut off");

    // Leaving the text empty aborts.
    let before = repo.read(OPEN);
    let out = repo.run_env(
        &[
            "--now",
            "2026-11-23T10:00:00Z",
            "resolve",
            "2026-11-23-webhook-delivery-delays",
        ],
        &[("EDITOR", "true")],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("the text is empty; nothing was written"),
        "{}",
        out.stderr
    );
    // An editor that fails aborts too.
    let out = repo.run_env(
        &[
            "--now",
            "2026-11-23T10:00:00Z",
            "resolve",
            "2026-11-23-webhook-delivery-delays",
        ],
        &[("EDITOR", "false")],
    );
    assert!(
        out.stderr
            .contains("the editor \"false\" exited with code 1"),
        "{}",
        out.stderr
    );
    assert_eq!(repo.read(OPEN), before);
}

// --- report -------------------------------------------------------------------------------

/// The English fixture with a ledger: the webhook incident (first update 09:12Z) was posted on X
/// at 09:15Z and on Mastodon at 09:20Z; Bluesky never got it (still sending).
fn report_repo() -> Repo {
    let repo = Repo::fixture("english");
    let lines = [
        r#"{"key":"2026-11-23-webhook-delivery-delays#0/x","state":"sending","at":"2026-11-23T09:15:00Z"}"#,
        r#"{"key":"2026-11-23-webhook-delivery-delays#0/x","state":"sent","at":"2026-11-23T09:15:00Z","remote":{"id":"19"}}"#,
        r#"{"key":"2026-11-23-webhook-delivery-delays#0/mastodon","state":"sending","at":"2026-11-23T09:20:00Z"}"#,
        r#"{"key":"2026-11-23-webhook-delivery-delays#0/mastodon","state":"sent","at":"2026-11-23T09:20:00Z","remote":{"id":"110"}}"#,
        r#"{"key":"2026-11-23-webhook-delivery-delays#1/mastodon","state":"sent","at":"2026-11-23T09:45:00Z","remote":{"id":"111"}}"#,
        r#"{"key":"2026-11-23-webhook-delivery-delays#0/bluesky","state":"sending","at":"2026-11-23T09:21:00Z"}"#,
        r#"{"key":"recurring/tip@2026-11-23T09:00:00Z/x","state":"sent","at":"2026-11-23T09:00:00Z","remote":{"id":"18"}}"#,
    ];
    repo.write(".statuscast/ledger.jsonl", lines.join("\n") + "\n");
    repo
}

#[test]
fn report_as_json_has_first_posts_updates_silences_and_uptime() {
    let repo = report_repo();
    let out = repo.run(&["report", "--format", "json"]).ok();
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["timezone"], "America/New_York");
    assert_eq!(
        r["channels"],
        serde_json::json!(["bluesky", "mastodon", "x"])
    );
    let incidents = r["incidents"].as_array().unwrap();
    let ids: Vec<&str> = incidents
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "2026-10-30-dashboard-slow-loading",
            "2026-11-10-api-elevated-errors",
            "2026-11-23-webhook-delivery-delays"
        ],
        "incidents only (no maintenance), oldest first"
    );
    let webhook = &incidents[2];
    assert_eq!(webhook["started_at"], "2026-11-23T09:12:00Z");
    assert_eq!(webhook["resolved_at"], Value::Null);
    assert_eq!(webhook["updates"], 2);
    // 04:12 → 04:40 is the longest gap; the open incident's 20 minutes since are shorter.
    assert_eq!(webhook["longest_silence_seconds"], 28 * 60);
    assert_eq!(webhook["first_post"]["x"]["after_seconds"], 180);
    assert_eq!(webhook["first_post"]["x"]["at"], "2026-11-23T09:15:00Z");
    assert_eq!(webhook["first_post"]["mastodon"]["after_seconds"], 480);
    assert_eq!(webhook["first_post"]["bluesky"], Value::Null);
    let api = &incidents[1];
    assert_eq!(api["updates"], 3);
    assert_eq!(api["resolved_at"], "2026-11-10T20:20:00Z");
    assert_eq!(api["longest_silence_seconds"], 50 * 60);
    assert_eq!(r["median_first_post_seconds"]["x"], 180);
    assert_eq!(r["median_first_post_seconds"]["bluesky"], Value::Null);

    // The API had 75 minutes of partial outage (30 % weight) in November, counted up to now.
    let uptime = r["uptime"].as_array().unwrap();
    let api = uptime.iter().find(|c| c["id"] == "api").unwrap();
    let months: Vec<&str> = api["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["month"].as_str().unwrap())
        .collect();
    assert_eq!(months, ["2026-10", "2026-11"]);
    let november = api["months"][1]["percent"].as_f64().unwrap();
    let total: f64 = (22.0 * 24.0 + 6.0) * 3600.0; // Nov 1 00:00 EDT (04:00Z) to Nov 23 10:00Z
    let expected = (100.0 * (1.0 - 0.3 * 75.0 * 60.0 / total) * 1000.0).round() / 1000.0;
    assert!(
        (november - expected).abs() < 1e-9,
        "{november} vs {expected}"
    );
    let storage = uptime.iter().find(|c| c["id"] == "storage").unwrap();
    assert_eq!(
        storage["months"][1]["percent"], 100.0,
        "maintenance is no downtime"
    );
}

#[test]
fn report_as_text_and_csv_with_since_and_sections() {
    let repo = report_repo();
    let out = repo.run(&["report", "--since", "2026-11-01"]).ok();
    let text = out.stdout;
    assert!(
        text.starts_with("incidents since 2026-11-01 (2; times in America/New_York)"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("2026-11-23-webhook-delivery-delays"))
        .unwrap();
    let cells: Vec<&str> = row
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells,
        [
            "2026-11-23-webhook-delivery-delays",
            "2026-11-23 04:12",
            "2 (open)",
            "28m",
            "—",
            "8m",
            "3m"
        ],
        "{text}"
    );
    assert!(!text.contains("dashboard-slow-loading"), "before --since");
    assert!(
        text.contains("median time to the first post: bluesky —, mastodon 8m, x 3m"),
        "{text}"
    );
    assert!(text.contains("uptime per month"), "{text}");
    let api = text.lines().find(|l| l.starts_with("REST API")).unwrap();
    assert!(api.ends_with("99.930"), "{api}");

    let out = repo
        .run(&["report", "--format", "csv", "--section", "incidents"])
        .ok();
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &header[..7],
        [
            "id",
            "title",
            "impact",
            "started_at",
            "resolved_at",
            "updates",
            "longest_silence_seconds"
        ]
    );
    assert!(header.contains(&"mastodon_first_post_seconds".to_string()));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let webhook = &rows[2];
    assert_eq!(&webhook[col("mastodon_first_post_seconds")], "480");
    assert_eq!(&webhook[col("x_first_post_at")], "2026-11-23T09:15:00Z");
    assert_eq!(&webhook[col("bluesky_first_post_seconds")], "");
    assert_eq!(&rows[1][col("title")], "Elevated API error rates");
    assert!(!out.stdout.contains("uptime_percent"));

    let out = repo
        .run(&["report", "--format", "csv", "--section", "uptime"])
        .ok();
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["component", "name", "month", "uptime_percent"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4 * 2, "4 components × 2 months");
    assert!(
        rows.iter()
            .any(|r| &r[0] == "api" && &r[2] == "2026-11" && &r[3] == "99.930")
    );

    let out = repo.run(&["report", "--since", "2026-13-01"]).fails();
    assert!(
        out.stderr.contains("--since \"2026-13-01\" is not a date"),
        "{}",
        out.stderr
    );
}

// --- GitHub annotations -------------------------------------------------------------------

#[test]
fn check_prints_github_annotations_only_in_github_actions() {
    let repo = Repo::fixture("english");
    repo.write(
        "incidents/2026-11-24-typo.md",
        "---\ntitle: Typo\ncomponents: [apii]\n---\n## 2026-11-24 08:00 investigating\n50% of requests fail.\n",
    );
    let out = repo
        .run_env(&["check"], &[("GITHUB_ACTIONS", "true")])
        .fails();
    let annotation = out
        .stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation in {}", out.stdout));
    assert!(
        annotation.starts_with(
            "::error title=statuscast,file=incidents/2026-11-24-typo.md,line=3,col=14,endColumn=18::unknown component \"apii\"%0Ahint: did you mean \"api\"?"
        ),
        "{annotation}"
    );
    // The normal output is there too.
    assert!(
        out.stderr
            .contains("incidents/2026-11-24-typo.md:3:14: error: unknown component")
    );

    let out = repo.run(&["check"]).fails();
    assert!(!out.stdout.contains("::error"), "{}", out.stdout);
}

// --- completions and man ------------------------------------------------------------------

#[test]
fn completions_and_man_pages_name_every_command() {
    let repo = empty();
    let commands = [
        "build", "check", "daemon", "init", "update", "resolve", "serve", "report",
    ];
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = repo.run_raw(&["completions", shell]).ok();
        for c in commands {
            assert!(out.stdout.contains(c), "{shell} completion lacks {c}");
        }
    }
    let bash = repo.run_raw(&["completions", "bash"]).ok().stdout;
    assert!(
        bash.contains("complete -F _statuscast"),
        "a bash completion function"
    );
    assert!(bash.contains("--since"), "flags of subcommands too");

    let man = repo.run_raw(&["man"]).ok().stdout;
    assert!(man.contains(".TH statuscast 1"), "{man}");
    for c in commands {
        assert!(man.contains(c), "the man page lacks {c}");
    }
    repo.run_raw(&["man", "--out", "man1"]).ok();
    for page in ["statuscast.1", "statuscast-daemon.1", "statuscast-report.1"] {
        assert!(repo.path(&format!("man1/{page}")).is_file(), "{page}");
    }
    assert!(repo.read("man1/statuscast-report.1").contains("since"));
}
