//! The set-ups in `examples/`: each file parses as what it claims to be (YAML, systemd units,
//! crontab), every `statuscast …` command in it exists with these flags (parsed by the real clap
//! definitions), and the commands and scripts of the GitHub workflow run on a fresh repository.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use clap::Parser as _;
use serde_yaml::Value;
use statuscast::broadcast::schedule::CronSchedule;
use statuscast::cli::Cli;

use crate::support::{Repo, manifest};

fn read(rel: &str) -> String {
    std::fs::read_to_string(manifest(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

/// The `statuscast` commands in a shell snippet, as argument lists (without redirections).
fn invocations(script: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let joined = script.replace("\\\n", " ");
    for line in joined.lines() {
        // A comment: `#` at the start of a word.
        let code = match line.find(" #") {
            Some(i) => &line[..i],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        for segment in code.split(['&', '|', ';']) {
            let words = shell_words::split(segment)
                .unwrap_or_else(|e| panic!("cannot split {segment:?}: {e}"));
            let mut words = words
                .into_iter()
                .skip_while(|w| {
                    ["if", "then", "else", "do", "!", "{", "exec"].contains(&w.as_str())
                        || (w.contains('=') && !w.starts_with('-'))
                })
                .peekable();
            let Some(first) = words.next() else { continue };
            if Path::new(&first).file_name().and_then(|n| n.to_str()) != Some("statuscast") {
                continue;
            }
            let args: Vec<String> = std::iter::once("statuscast".to_string())
                .chain(words.take_while(|w| {
                    !w.starts_with(['>', '<'])
                        && !w
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_digit() && w.contains('>'))
                }))
                .collect();
            out.push(args);
        }
    }
    out
}

/// Every invocation parses with the real command-line definitions; returns the subcommands.
#[track_caller]
fn check_invocations(file: &str, calls: &[Vec<String>]) -> Vec<String> {
    assert!(!calls.is_empty(), "{file} calls no statuscast command");
    calls
        .iter()
        .map(|args| {
            if let Err(e) = Cli::try_parse_from(args) {
                panic!(
                    "{file}: `{}` is not a valid statuscast command:\n{e}",
                    args.join(" ")
                );
            }
            args.iter()
                .skip(1)
                .find(|a| !a.starts_with('-'))
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn the_command_check_has_teeth() {
    let calls = invocations(
        "cd /srv && statuscast run --out public >> log 2>&1; /usr/local/bin/statuscast check\nif x; then statuscast report --since 2026-01-01; fi # statuscast gone",
    );
    assert_eq!(
        calls,
        [
            vec!["statuscast", "run", "--out", "public"],
            vec!["statuscast", "check"],
            vec!["statuscast", "report", "--since", "2026-01-01"]
        ]
    );
    assert!(Cli::try_parse_from(["statuscast", "run", "--no-such-flag"]).is_err());
    assert!(Cli::try_parse_from(["statuscast", "deploy"]).is_err());
}

// --- GitHub Actions -------------------------------------------------------------------------

fn steps(job: &Value) -> &Vec<Value> {
    job["steps"].as_sequence().expect("steps")
}

fn run_of(step: &Value) -> Option<&str> {
    step.get("run").and_then(Value::as_str)
}

#[test]
fn github_workflow_checks_deploys_and_broadcasts() {
    let file = "examples/github/status.yml";
    let w = yaml(file);
    let on = &w["on"];
    for event in ["pull_request", "push", "schedule"] {
        assert!(on.get(event).is_some(), "{file}: no `on: {event}`");
    }
    for s in on["schedule"].as_sequence().unwrap() {
        let cron = s["cron"].as_str().unwrap();
        assert_eq!(cron.split_whitespace().count(), 5, "GitHub takes 5 fields");
        CronSchedule::parse(cron).unwrap();
    }
    let jobs = w["jobs"].as_mapping().unwrap();
    let mut all = Vec::new();
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, job) in jobs {
        let name = name.as_str().unwrap().to_string();
        assert!(job["runs-on"].as_str().is_some(), "{name}: runs-on");
        for step in steps(job) {
            assert!(
                step.get("uses").is_some() != step.get("run").is_some(),
                "{name}: a step has `uses` or `run`: {step:?}"
            );
            if let Some(run) = run_of(step) {
                let calls = invocations(run);
                if !calls.is_empty() {
                    let subs = check_invocations(file, &calls);
                    by_job.entry(name.clone()).or_default().extend(subs);
                    all.extend(calls);
                }
            }
        }
    }
    let cond = |job: &str| jobs[job]["if"].as_str().unwrap_or_default().to_string();
    assert!(cond("check").contains("pull_request"));
    assert_eq!(by_job["check"], ["check"]);
    assert!(cond("deploy").contains("push"));
    assert_eq!(by_job["deploy"], ["check", "build"]);
    assert!(cond("broadcast").contains("schedule"));
    assert_eq!(by_job["broadcast"], ["run"]);
    let uses = |job: &str| -> Vec<String> {
        steps(&jobs[job])
            .iter()
            .filter_map(|s| s.get("uses").and_then(Value::as_str))
            .map(|u| u.split('@').next().unwrap().to_string())
            .collect()
    };
    for job in ["deploy", "broadcast"] {
        assert!(
            uses(job).contains(&"actions/deploy-pages".to_string()),
            "{job} deploys"
        );
        assert_eq!(jobs[job]["permissions"]["pages"].as_str(), Some("write"));
    }
    assert_eq!(
        jobs["broadcast"]["permissions"]["contents"].as_str(),
        Some("write")
    );
    // The ledger is committed after the run, also when a post failed.
    let steps = steps(&jobs["broadcast"]);
    let run_at = steps
        .iter()
        .position(|s| run_of(s).is_some_and(|r| r.contains("statuscast run")))
        .unwrap();
    let commit_at = steps
        .iter()
        .position(|s| run_of(s).is_some_and(|r| r.contains("git push")))
        .unwrap();
    assert!(commit_at > run_at);
    assert_eq!(
        steps[commit_at]["if"].as_str(),
        Some("success() || failure()")
    );
}

/// The workflow's commands and its ledger commit, run for real on a repository `init` wrote,
/// with a local bare repository as the remote.
#[test]
fn github_workflow_steps_run_on_a_fresh_repository() {
    if Command::new("git").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "git is needed in CI");
        eprintln!("NOTE: git is not installed; skipping the workflow run");
        return;
    }
    let w = yaml("examples/github/status.yml");
    let broadcast = steps(&w["jobs"]["broadcast"]);
    let commit = broadcast
        .iter()
        .filter_map(run_of)
        .find(|r| r.contains("git push"))
        .unwrap()
        .to_string();

    let root = Repo {
        dir: tempfile::tempdir().unwrap(),
    };
    let git = |dir: &str, args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(root.path(dir))
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    std::fs::create_dir(root.path("remote.git")).unwrap();
    git(
        "remote.git",
        &["init", "--quiet", "--bare", "--initial-branch=main"],
    );
    git("", &["clone", "--quiet", "remote.git", "work"]);
    git("work", &["checkout", "--quiet", "-b", "main"]);
    root.run(&["init", "work"]).ok();
    git("work", &["add", "-A"]);
    git("work", &["commit", "--quiet", "-m", "init"]);
    git("work", &["push", "--quiet", "-u", "origin", "main"]);

    // Every statuscast command of the workflow, in order, in the new repository.
    for job in ["check", "deploy", "broadcast"] {
        for run in steps(&w["jobs"][job]).iter().filter_map(run_of) {
            for args in invocations(run) {
                let mut all = vec!["--config", "work/statuscast.yaml"];
                all.extend(args[1..].iter().map(String::as_str));
                let out = root.run(&all);
                assert_eq!(out.code, 0, "{job}: {args:?}\n{}{}", out.stdout, out.stderr);
            }
        }
    }

    let bash = |script: &str| {
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(root.path("work"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let commits = || {
        git("remote.git", &["rev-list", "--count", "main"])
            .trim()
            .to_string()
    };
    // The run created the (empty) ledger: it is committed and pushed, the private state is not.
    assert!(root.path("work/.statuscast/ledger.jsonl").is_file());
    bash(&commit);
    assert_eq!(commits(), "2");
    let tracked = git("work", &["ls-files", ".statuscast"]);
    assert_eq!(tracked.trim(), ".statuscast/ledger.jsonl");
    // Nothing new: nothing to commit, and the step still succeeds.
    bash(&commit);
    assert_eq!(commits(), "2");

    // A new ledger line is committed and pushed, even when the remote moved on meanwhile.
    git("", &["clone", "--quiet", "remote.git", "other"]);
    root.write("other/incidents/README.md", "notes\n");
    git("other", &["add", "-A"]);
    git("other", &["commit", "--quiet", "-m", "someone else"]);
    git("other", &["push", "--quiet"]);
    root.write(
        "work/.statuscast/ledger.jsonl",
        "{\"key\":\"a#0/x\",\"state\":\"sent\",\"at\":\"2026-11-23T10:00:00Z\"}\n",
    );
    bash(&commit);
    assert_eq!(commits(), "4");
    let last = git(
        "remote.git",
        &["show", "--name-only", "--format=%s", "main"],
    );
    assert_eq!(
        last.trim(),
        "statuscast: ledger\n\n.statuscast/ledger.jsonl"
    );
}

// --- GitLab CI ------------------------------------------------------------------------------

#[test]
fn gitlab_ci_checks_deploys_pages_and_broadcasts_on_schedule() {
    let file = "examples/gitlab/gitlab-ci.yml";
    let ci = yaml(file);
    let top = ci.as_mapping().unwrap();
    let stages: Vec<&str> = ci["stages"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let reserved = [
        "image",
        "variables",
        "default",
        "stages",
        "workflow",
        "include",
    ];
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let scripts = |v: &Value| -> Vec<String> {
        ["before_script", "script", "after_script"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(Value::as_sequence))
            .flatten()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let before = scripts(&ci["default"]);
    assert!(
        before
            .iter()
            .any(|s| s.contains("cargo install statuscast")),
        "installs statuscast"
    );
    for (name, job) in top {
        let name = name.as_str().unwrap();
        if reserved.contains(&name) || name.starts_with('.') {
            continue;
        }
        let stage = job["stage"].as_str().unwrap();
        assert!(stages.contains(&stage), "{name}: unknown stage {stage}");
        assert!(job.get("script").is_some(), "{name}: no script");
        assert!(job.get("rules").is_some(), "{name}: no rules");
        for s in scripts(job) {
            let calls = invocations(&s);
            if !calls.is_empty() {
                let subs = check_invocations(file, &calls);
                by_job.entry(name.to_string()).or_default().extend(subs);
            }
        }
    }
    let rules = |job: &str| serde_yaml::to_string(&ci[job]["rules"]).unwrap();
    assert_eq!(by_job["check"], ["check"]);
    assert!(rules("check").contains("merge_request_event"));
    assert_eq!(by_job["pages"], ["check", "build"]);
    assert!(rules("pages").contains("push") && rules("pages").contains("schedule"));
    assert_eq!(
        ci["pages"]["artifacts"]["paths"][0].as_str(),
        Some("public")
    );
    assert_eq!(by_job["broadcast"], ["run"]);
    assert!(rules("broadcast").contains("schedule"));
    let broadcast = scripts(&ci["broadcast"]).join("\n");
    assert!(broadcast.contains("git push") && broadcast.contains(".statuscast/ledger.jsonl"));
}

// --- systemd --------------------------------------------------------------------------------

/// A systemd unit file: sections of `Key=value` lines (a key may repeat), comments, blank lines.
fn unit(rel: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (i, line) in read(rel).lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            assert!(
                sections.insert(name.to_string(), Vec::new()).is_none(),
                "{rel}:{}: section [{name}] twice",
                i + 1
            );
            current = Some(name.to_string());
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{rel}:{}: not Key=value: {line}", i + 1));
        assert!(
            key.chars().all(|c| c.is_ascii_alphanumeric()),
            "{rel}:{}: bad key {key:?}",
            i + 1
        );
        let section = current
            .clone()
            .unwrap_or_else(|| panic!("{rel}:{}: key outside a section", i + 1));
        sections
            .get_mut(&section)
            .unwrap()
            .push((key.to_string(), value.to_string()));
    }
    sections
}

fn value<'a>(
    u: &'a BTreeMap<String, Vec<(String, String)>>,
    section: &str,
    key: &str,
) -> Vec<&'a str> {
    u.get(section)
        .map(|s| {
            s.iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn systemd_units_run_existing_commands() {
    let service = unit("examples/systemd/statuscast.service");
    assert_eq!(value(&service, "Service", "Type"), ["oneshot"]);
    let exec = value(&service, "Service", "ExecStart");
    assert_eq!(exec.len(), 1);
    assert!(exec[0].starts_with('/'), "systemd wants an absolute path");
    let subs = check_invocations("statuscast.service", &invocations(exec[0]));
    assert_eq!(subs, ["run"]);
    assert_eq!(
        value(&service, "Service", "WorkingDirectory"),
        ["/srv/status"]
    );

    let timer = unit("examples/systemd/statuscast.timer");
    assert_eq!(value(&timer, "Timer", "OnCalendar"), ["*:0/2"]);
    let target = value(&timer, "Timer", "Unit");
    assert_eq!(target, ["statuscast.service"]);
    assert!(manifest("examples/systemd").join(target[0]).is_file());
    assert_eq!(value(&timer, "Install", "WantedBy"), ["timers.target"]);

    let daemon = unit("examples/systemd/statuscast-daemon.service");
    let exec = value(&daemon, "Service", "ExecStart");
    let subs = check_invocations("statuscast-daemon.service", &invocations(exec[0]));
    assert_eq!(subs, ["daemon"]);
    let stop: u64 = value(&daemon, "Service", "TimeoutStopSec")[0]
        .parse()
        .unwrap();
    assert!(
        stop > 60,
        "longer than the default channel_timeout, so posts in flight can finish"
    );
    assert_eq!(value(&daemon, "Install", "WantedBy"), ["multi-user.target"]);
}

// --- cron -----------------------------------------------------------------------------------

#[test]
fn crontab_lines_have_valid_schedules_and_commands() {
    let file = "examples/cron/crontab";
    let mut subs = Vec::new();
    for line in read(file).lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Environment lines (SHELL=/bin/sh).
        if line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.contains('='))
        {
            continue;
        }
        let fields: Vec<&str> = line.splitn(6, ' ').collect();
        assert_eq!(fields.len(), 6, "{line}");
        CronSchedule::parse(&fields[..5].join(" ")).unwrap_or_else(|e| panic!("{file}: {e}"));
        subs.extend(check_invocations(file, &invocations(fields[5])));
    }
    assert_eq!(subs, ["run"]);
}
