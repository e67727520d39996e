//! Every kind of bad input gives a precise `file:line:column: error: …` with a hint, exit code 1, and
//! leaves the previous `public/` exactly as it was.

use crate::support::Repo;

const HEAD: &str = "---\ntitle: Broken\ncomponents: [api]\nimpact: minor\n---\n";

/// Build once, break a file, build again: the second build must fail with `expected` (all of its
/// lines must appear in stderr) and leave `public/` untouched.
#[track_caller]
fn rejects(file: &str, content: &[u8], expected: &[&str]) -> String {
    let repo = Repo::fixture("english");
    repo.run(&["build"]).ok();
    let before = repo.snapshot("public");
    assert!(before.len() > 5);
    repo.write(file, content);
    let run = repo.run(&["build"]).fails();
    for e in expected {
        assert!(run.stderr.contains(e), "expected {e:?} in:\n{}", run.stderr);
    }
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert_eq!(
        before,
        repo.snapshot("public"),
        "public/ must be left as it was"
    );
    // `check` finds the same problems.
    let check = repo.run(&["check"]).fails();
    for e in expected {
        assert!(
            check.stderr.contains(e),
            "check: expected {e:?} in:\n{}",
            check.stderr
        );
    }
    // No leftovers beside the output.
    let stray: Vec<_> = std::fs::read_dir(repo.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".public"))
        .collect();
    assert!(stray.is_empty());
    run.stderr
}

const F: &str = "incidents/2026-11-22-broken.md";

#[test]
fn bad_yaml() {
    rejects(
        F,
        b"---\ntitle: [Broken\ncomponents: [api]\n---\n",
        &["incidents/2026-11-22-broken.md:3:", "not valid YAML"],
    );
}

#[test]
fn missing_required_key() {
    rejects(
        F,
        b"---\ncomponents: [api]\n---\n## 2026-11-22 08:00 investigating\nx\n",
        &["incidents/2026-11-22-broken.md:2:1: error: missing field `title`"],
    );
}

#[test]
fn unknown_key_with_suggestion() {
    let err = rejects(F, b"---\ntitle: X\ncomponents: [api]\nimpcat: minor\n---\n## 2026-11-22 08:00 investigating\nx\n", &[
        "incidents/2026-11-22-broken.md:4:1: error: unknown key \"impcat\"",
        "did you mean \"impact\"?",
    ]);
    assert!(
        err.contains("4 | impcat: minor\n  | ^^^^^^"),
        "excerpt with caret: {err}"
    );
}

#[test]
fn unknown_component_with_suggestion() {
    rejects(
        F,
        b"---\ntitle: X\ncomponents: [api, dashbord]\n---\n## 2026-11-22 08:00 investigating\nx\n",
        &[
            "incidents/2026-11-22-broken.md:3:19: error: unknown component \"dashbord\"",
            "did you mean \"dashboard\"?",
        ],
    );
}

#[test]
fn unknown_author() {
    rejects(
        F,
        format!(
            "{}author: xx\n---\n## 2026-11-22 08:00 investigating\nx\n",
            &HEAD[..HEAD.len() - 4]
        )
        .as_bytes(),
        &[
            "incidents/2026-11-22-broken.md:5:9: error: unknown author \"xx\"",
            "team member ids",
        ],
    );
}

#[test]
fn bad_impact_word() {
    rejects(F, b"---\ntitle: X\ncomponents: [api]\nimpact: severe\n---\n## 2026-11-22 08:00 investigating\nx\n", &[
        "incidents/2026-11-22-broken.md:4:9: error: impact: unknown variant `severe`",
    ]);
}

#[test]
fn bad_status_word_in_german() {
    rejects(
        F,
        format!("{HEAD}## 2026-11-22 08:00 untersuchung\nx\n").as_bytes(),
        &[
            "incidents/2026-11-22-broken.md:6:21: error: unknown status \"untersuchung\"",
            "did you mean \"investigating\"?",
        ],
    );
}

#[test]
fn unparsable_update_time() {
    rejects(
        F,
        format!("{HEAD}## 22.11.2026 08:00 investigating\nx\n").as_bytes(),
        &[
            "incidents/2026-11-22-broken.md:6:4: error: \"22.11.2026\" is not a date",
            "YYYY-MM-DD HH:MM",
        ],
    );
}

#[test]
fn update_time_in_the_dst_gap() {
    rejects(
        F,
        format!("{HEAD}## 2026-03-08 02:30 investigating\nx\n").as_bytes(),
        &[
            "incidents/2026-11-22-broken.md:6:4: error: 2026-03-08 02:30 does not exist in America/New_York",
            "explicit UTC offset",
        ],
    );
}

#[test]
fn updates_out_of_order() {
    rejects(
        F,
        format!("{HEAD}## 2026-11-22 09:00 investigating\nx\n\n## 2026-11-22 08:00 resolved\ny\n")
            .as_bytes(),
        &[
            "incidents/2026-11-22-broken.md:9:4: error: this update is dated before the one above it",
        ],
    );
}

#[test]
fn maintenance_ends_before_it_starts() {
    rejects(F, b"---\ntitle: W\ncomponents: [api]\nscheduled: { start: 2026-12-01 04:00, end: 2026-12-01 02:00 }\n---\n", &[
        "incidents/2026-11-22-broken.md:4:39: error: the maintenance ends before it starts",
    ]);
}

#[test]
fn incident_status_in_a_maintenance() {
    rejects(F, b"---\ntitle: W\ncomponents: [api]\nscheduled: { start: 2026-12-01 02:00, end: 2026-12-01 04:00 }\n---\n## 2026-11-22 08:00 resolved\n", &[
        "incidents/2026-11-22-broken.md:6:21: error: \"resolved\" is not a status of a maintenance",
    ]);
}

#[test]
fn duplicate_ids_across_folders() {
    let ok = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/english/incidents/2026-11-10-api-elevated-errors.md"
    ))
    .unwrap();
    rejects(
        "incidents/archive/2026-11-10-api-elevated-errors.md",
        &ok,
        &[
            "error: incident id \"2026-11-10-api-elevated-errors\" is used twice",
            "rename one file",
        ],
    );
}

#[test]
fn invalid_id_characters() {
    rejects(
        "incidents/2026_11_22 Störung.md",
        format!("{HEAD}## 2026-11-22 08:00 investigating\nx\n").as_bytes(),
        &[
            "incidents/2026_11_22 Störung.md:1:1: error: invalid incident id \"2026_11_22 Störung\"",
            "lowercase letters, digits and dashes",
        ],
    );
}

#[test]
fn non_utf8_file() {
    rejects(
        F,
        b"---\ntitle: St\xf6rung\ncomponents: [api]\n---\n",
        &[
            "incidents/2026-11-22-broken.md:2:10: error: the file is not UTF-8 text",
            "save the file as UTF-8",
        ],
    );
}

#[test]
fn empty_file() {
    rejects(
        F,
        b"",
        &["incidents/2026-11-22-broken.md:1:1: error: the file is empty"],
    );
}

#[test]
fn unclosed_front_matter() {
    rejects(
        F,
        b"---\ntitle: X\ncomponents: [api]\n## 2026-11-22 08:00 investigating\n",
        &["incidents/2026-11-22-broken.md:1:1: error: the front matter is not closed"],
    );
}

#[test]
fn config_unknown_key_and_bad_zone_reported_together() {
    let repo = Repo::fixture("english");
    repo.run(&["build"]).ok();
    let before = repo.snapshot("public");
    let yaml = repo.read("statuscast.yaml").replace(
        "  timezone: America/New_York",
        "  timezone: America/NewYork",
    );
    repo.write(
        "statuscast.yaml",
        yaml.replace(
            "  title: \"Acme Cloud Status\"",
            "  titel: \"Acme Cloud Status\"",
        ),
    );
    let run = repo.run(&["build"]).fails();
    assert!(
        run.stderr
            .contains("statuscast.yaml:3:3: error: unknown key \"titel\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean \"title\"?"),
        "{}",
        run.stderr
    );
    assert_eq!(before, repo.snapshot("public"));
    // With the key fixed, the zone is reported with a suggestion.
    repo.write("statuscast.yaml", yaml);
    let run = repo.run(&["build"]).fails();
    assert!(
        run.stderr
            .contains("error: unknown time zone \"America/NewYork\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean \"America/New_York\"?"),
        "{}",
        run.stderr
    );
}

#[test]
fn all_problems_of_all_files_in_one_run() {
    let repo = Repo::fixture("english");
    repo.write(
        "incidents/a.md",
        b"---\ntitle: A\ncomponents: [nope]\n---\n## 2026-11-22 08:00 investigating\n",
    );
    repo.write(
        "incidents/b.md",
        b"---\ntitle: B\ncomponents: [api]\n---\n## 2026-11-22 08:00 kaputt\n",
    );
    let run = repo.run(&["check"]).fails();
    assert!(
        run.stderr
            .contains("incidents/a.md:3:14: error: unknown component \"nope\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("incidents/b.md:5:21: error: unknown status \"kaputt\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.trim_end().ends_with("error: 2 problems found"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_config_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo { dir };
    let run = repo.run(&["build"]).fails();
    assert!(
        run.stderr
            .contains("statuscast.yaml:1:1: error: cannot read the config file: not found"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--config PATH"));
}
