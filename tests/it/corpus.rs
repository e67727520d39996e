//! The bad-input corpus: `tests/corpus/<case>/` holds files laid over `tests/corpus/_base/` (a small
//! repository) and `expected.txt`, the exact stderr of `statuscast check` for that repository, or
//! `accepted` when the input is fine on purpose. Huge and special files (10 MB bodies, 100 000
//! updates, alias bombs, symlinks, unreadable files) are made here at test time, see [`generate`].
//!
//! Every case must give its golden answer, exit with 0 or 1 (never a panic's 101 or a signal) and
//! finish within [`CASE_LIMIT`] (a hang is killed after [`HANG_LIMIT`]).
//! `UPDATE_GOLDEN=1 cargo test --test it corpus` rewrites the goldens; review the diff.
//! `CORPUS_TIMINGS=1` prints the time of every case.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{NOW, manifest};

/// CPU time a case may take in a debug build (the release binary's timings are in the README).
/// CPU time, not wall-clock time: other builds on a shared machine must not fail the test.
const CASE_LIMIT: Duration = Duration::from_secs(5);
/// Wall-clock time after which a case counts as hanging and is killed.
const HANG_LIMIT: Duration = Duration::from_secs(30);

/// The CPU time (user + system) of a finished child that has not been reaped yet, on Linux;
/// `None` while it runs or elsewhere.
fn cpu_time_of_exited(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name in parentheses: state is the 1st, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if fields.first() != Some(&"Z") {
        return None;
    }
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux system statuscast runs on.
    Some(Duration::from_millis(ticks * 10))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "expected.txt" || name == ".keep" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const FRONT: &str =
    "---\ntitle: Mobilfunkstörung in Berlin\ncomponents: [mobile]\nimpact: major\n---\n";
const UPDATE: &str = "## 2026-11-23 08:12 investigating\nWir untersuchen die Störung.\n";

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `count` updates a minute apart from 2026-01-01 00:00; the one at `bad` (if any) has a German
/// status word.
fn many_updates(count: usize, bad: Option<usize>) -> String {
    let mut text = String::with_capacity(count * 60);
    text.push_str(FRONT);
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    for i in 0..count {
        let at = start + chrono::TimeDelta::minutes(i as i64);
        let status = if Some(i) == bad { "behoben" } else { "update" };
        let _ = write!(
            text,
            "## {} {status}\nStand {i}.\n\n",
            at.format("%Y-%m-%d %H:%M")
        );
    }
    text
}

/// Billion laughs: ten levels, each repeating the one before ten times (10^10 values expanded).
fn alias_bomb(key: &str) -> String {
    let mut text =
        format!("{key}:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let prev = format!("*l{}", level - 1);
        let list = [prev.as_str(); 10].join(", ");
        let _ = writeln!(text, "  l{level}: &l{level} [{list}]");
    }
    text
}

/// One anchor of 20 000 values used 20 000 times: 400 million values, no nesting.
fn alias_quadratic(key: &str) -> String {
    let items = vec!["x"; 20_000].join(", ");
    let uses = vec!["*a"; 20_000].join(", ");
    format!("{key}:\n  a: &a [{items}]\n  b: [{uses}]\n")
}

fn nested_flow(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_block(key: &str, depth: usize) -> String {
    let mut text = format!("{key}:\n");
    for level in 1..=depth {
        text.push_str(&"  ".repeat(level));
        let _ = writeln!(text, "k{level}:");
    }
    text.push_str(&"  ".repeat(depth + 1));
    text.push_str("end\n");
    text
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// Make the files of a generated case in `repo`; `outside` is a folder outside the repository.
/// `Err(note)` skips the case here (with the note printed).
fn generate(case: &str, repo: &Path, outside: &Path) -> Result<(), String> {
    let incident = repo.join("incidents/2026-11-23-case.md");
    let config = repo.join("statuscast.yaml");
    let base_config = std::fs::read_to_string(&config).unwrap();
    match case {
        "incident-10mb-body" => {
            let line = "Wir untersuchen die Störung im Mobilfunknetz und melden uns gleich. ";
            let mut text = format!("{FRONT}{UPDATE}");
            while text.len() < 10 * 1024 * 1024 {
                text.push_str(line);
                text.push_str(line);
                text.push('\n');
            }
            write(&incident, text);
        }
        "incident-100k-updates" => write(&incident, many_updates(100_000, None)),
        "incident-100k-updates-one-bad" => write(&incident, many_updates(100_000, Some(77_777))),
        "incident-100k-bad-updates" => write(
            &incident,
            many_updates(100_000, None).replace(" update\n", " aktualisiert\n"),
        ),
        "incident-20k-unknown-components" => {
            let list: Vec<String> = (0..20_000).map(|i| format!("komponente-{i}")).collect();
            write(
                &incident,
                format!(
                    "---\ntitle: Störung\ncomponents: [{}]\n---\n{UPDATE}",
                    list.join(", ")
                ),
            );
        }
        "config-40k-unknown-keys" => {
            let mut text = base_config.clone();
            for i in 0..40_000 {
                let _ = writeln!(text, "x-key-{i}: {i}");
            }
            write(&config, text);
        }
        "config-200k-values" => {
            let items = vec!["0"; 200_000].join(", ");
            write(&config, format!("{base_config}x-list: [{items}]\n"));
        }
        "incident-deeply-nested-flow" => write(
            &incident,
            format!(
                "---\ntitle: {}\ncomponents: [mobile]\n---\n{UPDATE}",
                nested_flow(10_000)
            ),
        ),
        "incident-deeply-nested-block" => write(
            &incident,
            format!(
                "---\ntitle: Störung\ncomponents: [mobile]\n{}---\n{UPDATE}",
                nested_block("extra", 200)
            ),
        ),
        "incident-alias-bomb" => write(
            &incident,
            format!(
                "---\ntitle: Störung\ncomponents: [mobile]\n{}---\n{UPDATE}",
                alias_bomb("lol")
            ),
        ),
        "incident-alias-quadratic" => write(
            &incident,
            format!(
                "---\ntitle: Störung\ncomponents: [mobile]\n{}---\n{UPDATE}",
                alias_quadratic("many")
            ),
        ),
        "config-alias-bomb" => write(&config, format!("{base_config}{}", alias_bomb("x-lol"))),
        "config-deeply-nested" => write(
            &config,
            format!("{base_config}{}", nested_block("x-deep", 200)),
        ),
        "config-10mb" => {
            let mut text = base_config.clone();
            while text.len() < 10 * 1024 * 1024 {
                text.push_str("# Kommentar: Wartungsfenster sind dienstags von 02:00 bis 04:00.\n");
            }
            write(&config, text);
        }
        #[cfg(unix)]
        "incident-symlink-outside-repo" => {
            let target = outside.join("secret.md");
            write(&target, format!("{FRONT}{UPDATE}"));
            symlink(&target, &incident);
        }
        #[cfg(unix)]
        "incident-symlink-inside-repo" => {
            write(
                &repo.join("drafts/mobilfunk.md"),
                format!("{FRONT}{UPDATE}"),
            );
            symlink(Path::new("../drafts/mobilfunk.md"), &incident);
        }
        #[cfg(unix)]
        "incident-symlink-dangling" => symlink(Path::new("../drafts/gone.md"), &incident),
        #[cfg(unix)]
        "incident-symlink-to-folder" => {
            write(
                &repo.join("archive/2026-11-23-case.md"),
                format!("{FRONT}{UPDATE}"),
            );
            symlink(Path::new("../archive"), &repo.join("incidents/2026"));
        }
        #[cfg(unix)]
        "incident-unreadable-file" => {
            use std::os::unix::fs::PermissionsExt as _;
            write(&incident, format!("{FRONT}{UPDATE}"));
            std::fs::set_permissions(&incident, std::fs::Permissions::from_mode(0o000)).unwrap();
            if std::fs::read(&incident).is_ok() {
                return Err("this user can read a file with mode 000 (root): the permission-denied case is skipped here and runs for non-root users".into());
            }
        }
        other if other.contains("symlink") || other.contains("unreadable") => {
            return Err("symlinks and permissions are tested on Unix".into());
        }
        other => panic!("case {other} has no files and no generator"),
    }
    Ok(())
}

/// Cases whose files are made by [`generate`] (their folder holds only `expected.txt`).
fn is_generated(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .all(|e| e.file_name() == "expected.txt")
}

struct Outcome {
    case: String,
    actual: Option<String>,
    elapsed: Duration,
    problem: Option<String>,
    note: Option<String>,
}

fn run_case(case: &str, dir: &Path) -> Outcome {
    let repo = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    copy_tree(&manifest("tests/corpus/_base"), repo.path());
    let mut outcome = Outcome {
        case: case.to_string(),
        actual: None,
        elapsed: Duration::ZERO,
        problem: None,
        note: None,
    };
    if is_generated(dir) {
        if let Err(note) = generate(case, repo.path(), outside.path()) {
            outcome.note = Some(note);
            return outcome;
        }
    } else {
        copy_tree(dir, repo.path());
    }
    let out_dir = tempfile::tempdir().unwrap();
    let stderr_path = out_dir.path().join("stderr");
    let started = Instant::now();
    let mut child = Command::new(crate::support::binary())
        .args(["--now", NOW, "check"])
        .current_dir(repo.path())
        .env_remove("STATUSCAST_CRASH_AT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut cpu = None;
    let status = loop {
        if Path::new("/proc/self/stat").exists() {
            cpu = cpu.or_else(|| cpu_time_of_exited(child.id()));
            if cpu.is_none() && started.elapsed() < HANG_LIMIT {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            outcome.problem = Some(format!("hangs: killed after {HANG_LIMIT:?}"));
            return outcome;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    outcome.elapsed = cpu.unwrap_or_else(|| started.elapsed());
    let stderr = String::from_utf8_lossy(&std::fs::read(&stderr_path).unwrap()).into_owned();
    // Paths of the temporary folders are not stable.
    let stderr = stderr
        .replace(&outside.path().display().to_string(), "<outside>")
        .replace(&repo.path().display().to_string(), "<repo>");
    outcome.actual = Some(match status.code() {
        Some(0) => "accepted\n".to_string(),
        Some(1) => stderr.clone(),
        other => {
            outcome.problem = Some(format!(
                "exit status {other:?} (a panic is 101, None is a signal); stderr:\n{stderr}"
            ));
            stderr.clone()
        }
    });
    if stderr.contains("panicked") {
        outcome.problem = Some(format!("panicked:\n{stderr}"));
    }
    if outcome.elapsed > CASE_LIMIT {
        outcome.problem = Some(format!("took {:?}", outcome.elapsed));
    }
    outcome
}

#[test]
fn every_corpus_case_gives_its_golden_answer() {
    let root = manifest("tests/corpus");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| name != "_base")
        .collect();
    cases.sort();
    assert!(cases.len() >= 60, "the corpus has {} cases", cases.len());

    // Two at a time: most cases are a process start, a few are big files.
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((case, dir)) = cases.get(i) else {
                        break;
                    };
                    let o = run_case(case, dir);
                    outcomes.lock().unwrap().push(o);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by(|a, b| a.case.cmp(&b.case));

    let mut failures = Vec::new();
    let mut accepted = 0;
    for o in &outcomes {
        if let Some(note) = &o.note {
            eprintln!("corpus: {} skipped: {note}", o.case);
            continue;
        }
        if std::env::var_os("CORPUS_TIMINGS").is_some() {
            eprintln!(
                "corpus: {:>8.1} ms CPU  {}",
                o.elapsed.as_secs_f64() * 1000.0,
                o.case
            );
        }
        if let Some(p) = &o.problem {
            failures.push(format!("{}: {p}", o.case));
            continue;
        }
        let actual = o.actual.as_deref().unwrap_or_default();
        accepted += usize::from(actual == "accepted\n");
        let golden = root.join(&o.case).join("expected.txt");
        if update {
            std::fs::write(&golden, actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{}: stderr differs from {}\n--- expected\n{expected}\n--- actual\n{actual}",
                o.case,
                golden.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed (UPDATE_GOLDEN=1 rewrites the goldens):\n\n{}",
        failures.len(),
        outcomes.len(),
        failures.join("\n\n")
    );
    assert!(
        accepted < outcomes.len() / 2,
        "most of the corpus must be rejected"
    );
}
