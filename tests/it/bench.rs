//! The benchmark's generator (`gen-incidents`) in small: deterministic, and what it writes passes
//! `check`, builds, and leaves a cron tick with nothing to do.

use std::path::Path;
use std::process::Command;

use crate::support::NOW;

fn generate(out: &Path, n: &str) {
    let run = Command::new(env!("CARGO_BIN_EXE_gen-incidents"))
        .args(["--n", n, "--seed", "7", "--end", NOW, "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

fn statuscast(dir: &Path, args: &[&str]) -> String {
    let run = Command::new(env!("CARGO_BIN_EXE_statuscast"))
        .arg("--now")
        .arg(NOW)
        .args(args)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "statuscast {args:?}:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    stdout
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn generated_history_is_deterministic_valid_and_settled() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    generate(&a, "200");
    generate(&b, "200");
    let (fa, fb) = (files(&a), files(&b));
    assert!(fa.len() > 200, "config, 200 incidents and a ledger");
    assert!(fa == fb, "the same seed gives the same files");
    let incident = fa
        .iter()
        .find(|(p, _)| {
            p.starts_with("incidents/")
                && std::path::Path::new(p)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("md"))
        })
        .unwrap();
    assert!(String::from_utf8_lossy(&incident.1).starts_with("---\ntitle: "));

    assert!(statuscast(&a, &["check"]).contains("200 incident files: no problems"));
    let built = statuscast(&a, &["build"]);
    assert!(built.contains("from 200 incidents"), "{built}");
    let html = std::fs::read_to_string(a.join("public/index.html")).unwrap();
    assert!(html.contains("Fernwerk Telekom"));
    // The generated ledger holds every post: a cron tick at the end has nothing to send.
    let plan = statuscast(&a, &["plan", "--horizon", "0s"]);
    assert!(plan.contains("due now (0)"), "{plan}");
    assert!(
        plan.contains("not sent, recorded as skipped on the next run (0)"),
        "{plan}"
    );
}

#[test]
fn an_incremental_rebuild_equals_a_full_build() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    generate(&repo, "120");
    statuscast(&repo, &["build"]);
    statuscast(&repo, &["build"]); // now the previous output is kept as the spare
    // Edit one settled incident and add a new one.
    let mut md: Vec<std::path::PathBuf> = Vec::new();
    let mut stack = vec![repo.join("incidents")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                md.push(e.path());
            }
        }
    }
    md.sort();
    let edited = &md[md.len() / 2];
    let mut text = std::fs::read_to_string(edited).unwrap();
    text.push_str("\nEin Nachtrag: **alles** wieder gut.\n");
    std::fs::write(edited, text).unwrap();
    std::fs::write(
        repo.join("incidents/2026-11-23-neu.md"),
        "---\ntitle: Neu\ncomponents: [mobile]\nimpact: minor\n---\n## 2026-11-23 09:00 investigating\nNeu.\n",
    )
    .unwrap();
    let incremental = statuscast(&repo, &["build"]);
    statuscast(&repo, &["build", "--out", "full"]);
    let (a, b) = (files(&repo.join("public")), files(&repo.join("full")));
    assert_eq!(a.len(), b.len(), "{incremental}");
    for ((pa, ba), (pb, bb)) in a.iter().zip(&b) {
        assert_eq!(pa, pb);
        assert!(ba == bb, "{pa} differs from a full build");
    }
    let page = String::from_utf8(
        a.iter()
            .find(|(p, _)| p.contains("2026-11-23-neu"))
            .expect("the new incident's page")
            .1
            .clone(),
    )
    .unwrap();
    assert!(page.contains("Neu."));
    // Nothing changed: the next build keeps every file.
    statuscast(&repo, &["build"]);
    assert!(files(&repo.join("public")) == a);

    // Feeds and calendar are kept when what they show did not change, and made again when it did:
    // each rebuild equals a full build into a new folder.
    let same_as_full = |n: usize, what: &str| {
        statuscast(&repo, &["build"]);
        let full = format!("full{n}");
        statuscast(&repo, &["build", "--out", &full]);
        assert!(
            files(&repo.join("public")) == files(&repo.join(&full)),
            "after {what}: the rebuild differs from a full build"
        );
    };
    let append = |path: &std::path::Path, text: &str| {
        let mut t = std::fs::read_to_string(path).unwrap();
        t.push_str(text);
        std::fs::write(path, t).unwrap();
    };
    // An old incident: neither feeds nor calendar change.
    append(&md[3], "\nNoch ein Nachtrag.\n");
    same_as_full(1, "an old incident");
    // The newest update's text: the feeds change.
    append(
        &repo.join("incidents/2026-11-23-neu.md"),
        "Jetzt mit **mehr** Text.\n",
    );
    same_as_full(2, "the newest update");
    let feed = std::fs::read_to_string(repo.join("public/feed.atom")).unwrap();
    assert!(feed.contains("mehr"), "the feed shows the new text");
    // A later update: the pages stay the same, but the sitemap's time of the incident changes.
    append(
        &repo.join("incidents/2026-11-23-neu.md"),
        "\n## 2026-11-23 09:40 resolved\nBehoben.\n",
    );
    same_as_full(4, "a later update");
    let sitemap = std::fs::read_to_string(repo.join("public/sitemap.xml")).unwrap();
    assert!(sitemap.contains("2026-11-23T08:40:00Z"), "{sitemap}");
    // An old incident ends a minute later: only its time in the sitemap changes there.
    let old = std::fs::read_to_string(&md[3]).unwrap();
    let at = old.rfind("\n## ").unwrap() + 1;
    let line_end = at + old[at..].find('\n').unwrap_or(old.len() - at);
    let mut words: Vec<String> = old[at..line_end].split(' ').map(String::from).collect();
    let (hour, minute) = words[2].split_once(':').unwrap();
    let minute: u32 = minute.parse().unwrap();
    let later = if minute < 59 { minute + 1 } else { minute - 1 };
    words[2] = format!("{hour}:{later:02}");
    std::fs::write(
        &md[3],
        format!("{}{}{}", &old[..at], words.join(" "), &old[line_end..]),
    )
    .unwrap();
    same_as_full(5, "an old incident's last time");
    // A maintenance's text: the calendar changes.
    let maintenance = md
        .iter()
        .find(|p| std::fs::read_to_string(p).unwrap().contains("\nscheduled:"))
        .expect("the generator writes maintenance");
    let text = std::fs::read_to_string(maintenance).unwrap();
    let (front, body) = text[4..].split_once("\n---\n").unwrap();
    std::fs::write(
        maintenance,
        format!("---\n{front}\n---\nGeänderte Ankündigung.\n{body}"),
    )
    .unwrap();
    same_as_full(3, "a maintenance");
    let ics = std::fs::read_to_string(repo.join("public/maintenance.ics"))
        .unwrap()
        .replace("\r\n ", "");
    assert!(
        ics.contains("Geänderte Ankündigung"),
        "the calendar shows the new text"
    );
    // A page that gets shorter by pages of text: the spare's longer copy is written over and cut
    // to length, with nothing of the longer text left at its end.
    let before = std::fs::read_to_string(&md[5]).unwrap();
    append(&md[5], &"\nEin sehr langer Nachtrag.".repeat(400));
    same_as_full(6, "a long addition");
    statuscast(&repo, &["build"]); // both folders now hold the long page
    std::fs::write(&md[5], &before).unwrap();
    same_as_full(7, "the addition taken back");
}
