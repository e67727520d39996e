//! The parse cache and the cron tick's shortcut (only recent incidents are read): what they skip
//! must never change a result, hide a problem or let a link out of the repository.

use crate::support::Repo;

const CACHE: &str = ".statuscast/cache/incidents.idx";

/// The incident files of `repo`, made an hour old: the cache trusts no file changed within two
/// seconds of its writing (git's "racy" rule), and fixtures are copied just before a test builds.
fn aged(repo: Repo) -> Repo {
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_hours(1);
    let mut stack = vec![repo.path("incidents")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let f = std::fs::File::options().write(true).open(e.path()).unwrap();
                f.set_modified(hour_ago).unwrap();
            }
        }
    }
    repo
}

/// `plan` from a warm cache (records read lazily, old incidents skipped) shows what a run that
/// parses every file shows, at moments around the demo's incidents and maintenances.
#[test]
fn a_warm_cache_plans_exactly_what_parsing_plans() {
    let repo = aged(Repo::demo());
    let moments = [
        "2026-08-28T12:00:00Z",
        "2026-10-25T01:00:00Z",
        "2026-11-23T10:00:00Z",
        "2026-12-02T09:00:00Z",
    ];
    let mut shown = 0;
    for now in moments {
        std::fs::remove_dir_all(repo.path(".statuscast/cache")).ok();
        let cold = repo
            .run_raw(&["--now", now, "plan", "--horizon", "48h"])
            .ok();
        assert!(!repo.path(CACHE).exists(), "plan never writes the cache");
        repo.run(&["build"]).ok();
        assert!(repo.path(CACHE).exists(), "build writes the cache");
        let warm = repo
            .run_raw(&["--now", now, "plan", "--horizon", "48h"])
            .ok();
        assert_eq!(cold.stdout, warm.stdout, "at {now}");
        shown += warm.stdout.lines().filter(|l| l.contains("/x")).count();
    }
    assert!(shown > 0, "the moments show posts at all");
}

/// An id used twice is found even when one of the two files is old history the tick skips.
#[test]
fn duplicate_ids_are_found_among_skipped_incidents() {
    let repo = aged(Repo::demo());
    repo.run(&["build"]).ok();
    let old = "2026-08-28-dsl-ausfall-leipzig-sued.md";
    repo.write(
        &format!("incidents/archive/{old}"),
        repo.read(&format!("incidents/{old}")),
    );
    for args in [&["broadcast", "--dry-run"][..], &["plan"], &["build"]] {
        let run = repo.run(args).fails();
        assert!(
            run.stderr
                .contains("\"2026-08-28-dsl-ausfall-leipzig-sued\" is used twice"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

/// A cached incident file replaced by a link out of the repository is refused by every command,
/// and what the link points to is never shown.
#[cfg(unix)]
#[test]
fn a_link_out_of_the_repository_is_refused_with_a_warm_cache() {
    let repo = aged(Repo::demo());
    repo.run(&["build"]).ok();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.md");
    std::fs::write(
        &secret,
        "---\ntitle: TOP-SECRET-TITLE\ncomponents: [mobile]\n---\n## 2026-11-23 09:00 investigating\nx\n",
    )
    .unwrap();
    let victim = repo.path("incidents/2026-08-28-dsl-ausfall-leipzig-sued.md");
    std::fs::remove_file(&victim).unwrap();
    std::os::unix::fs::symlink(&secret, &victim).unwrap();
    for args in [
        &["broadcast", "--dry-run"][..],
        &["plan"],
        &["build"],
        &["check"],
    ] {
        let run = repo.run(args).fails();
        assert!(
            run.stderr
                .contains("the link points outside the repository"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stdout.contains("TOP-SECRET") && !run.stderr.contains("TOP-SECRET"));
    }
    assert!(!repo.read("public/index.html").contains("TOP-SECRET"));
}

/// An incident edited after the cache was written is read again, even when only its modification
/// time tells (same size, same inode, an older time than the cache's); a new file is seen too.
#[test]
fn an_edited_incident_is_read_again() {
    let repo = Repo::demo();
    let file = "incidents/2026-11-23-mobilfunk-sms-hamburg.md";
    let older = std::fs::metadata(repo.path(file))
        .unwrap()
        .modified()
        .unwrap()
        - std::time::Duration::from_mins(1);
    repo.run(&["build"]).ok();
    let before = repo.run(&["plan"]).ok().stdout;
    assert!(before.contains("Hamburg gestört"));
    let text = repo.read(file);
    let edited = text.replacen("Hamburg gestört", "Hamburg GESTÖRT", 1);
    assert_eq!(text.len(), edited.len());
    repo.write(file, &edited);
    std::fs::File::options()
        .write(true)
        .open(repo.path(file))
        .unwrap()
        .set_modified(older)
        .unwrap();
    repo.write(
        "incidents/2026-11-23-new.md",
        "---\ntitle: Brand-new outage\ncomponents: [mobile]\n---\n## 2026-11-23 09:55 investigating\nLooking.\n",
    );
    let after = repo.run(&["plan"]).ok().stdout;
    assert!(
        after.contains("Hamburg GESTÖRT") && !after.contains("Hamburg gestört"),
        "{after}"
    );
    assert!(after.contains("Brand-new outage"), "{after}");
}

/// Damage in the cache's records is never trusted: the file is parsed again, and when it is broken
/// too (same size and time as the cached one, so only its content can tell), that is reported.
/// Overwrite the cache's one records file with `byte`s, keeping its length.
fn damage_records(repo: &Repo, byte: u8) {
    let records: Vec<_> = std::fs::read_dir(repo.path(".statuscast/cache"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".rec"))
        .collect();
    assert_eq!(records.len(), 1, "one records file");
    let len = records[0].metadata().unwrap().len() as usize;
    std::fs::write(records[0].path(), vec![byte; len]).unwrap();
}

/// With hundreds of incidents the records are read in one piece and decoded right after each
/// file's `lstat`: a damaged record there falls back to the file as well, and one left intact
/// gives the same site as parsing.
#[test]
fn damaged_records_read_in_one_piece_fall_back_to_their_files() {
    let repo = Repo::fixture("english");
    for n in 0..300 {
        repo.write(
            &format!("incidents/2025/2025-01-01-bulk-{n:03}.md"),
            format!(
                "---\ntitle: Bulk {n}\ncomponents: [api]\nimpact: minor\n---\n\
                 ## 2025-01-01 08:00 investigating\nLooking at {n}.\n\n\
                 ## 2025-01-01 09:{:02} resolved\nFixed {n}.\n",
                n % 60
            ),
        );
    }
    let repo = aged(repo);
    repo.run(&["build"]).ok();
    let built = repo.snapshot("public");
    // From the cache, every record decoded where it lies: the same site.
    repo.run(&["build", "--out", "cached"]).ok();
    assert_eq!(built, repo.snapshot("cached"));
    // Every record damaged: each incident is parsed from its file again, the same site.
    damage_records(&repo, 0xff);
    repo.run(&["build", "--out", "again"]).ok();
    assert_eq!(built, repo.snapshot("again"));
}

#[test]
fn a_damaged_cache_record_falls_back_to_the_file() {
    let repo = Repo::fixture("english");
    let keep = "incidents/2026-11-10-api-elevated-errors.md";
    for e in std::fs::read_dir(repo.path("incidents")).unwrap().flatten() {
        if !e.path().ends_with(keep.rsplit('/').next().unwrap()) {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    // Older than the cache by more than its two "racy" seconds, so the cache is believed.
    let mtime = std::time::SystemTime::now() - std::time::Duration::from_hours(1);
    let set_mtime = || {
        std::fs::File::options()
            .write(true)
            .open(repo.path(keep))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    };
    set_mtime();
    repo.run(&["build"]).ok();
    let built = repo.snapshot("public");
    let zero_records = || damage_records(&repo, 0);
    zero_records();
    // The file is fine: parsed again, same page, and the cache is written anew.
    repo.run(&["build", "--out", "again"]).ok();
    assert_eq!(built, repo.snapshot("again"));
    // Broken with the cached size and time: the damaged record cannot hide it.
    zero_records();
    let text = repo.read(keep);
    let broken = text.replacen("---\n", "--x\n", 1);
    assert_eq!(broken.len(), text.len());
    repo.write(keep, &broken);
    set_mtime();
    let run = repo.run(&["build"]).fails();
    assert!(
        run.stderr.contains("2026-11-10-api-elevated-errors.md:1:"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
}
