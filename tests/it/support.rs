//! A small harness in the spirit of just's `Test` and mdBook's `BookTest`: copy a fixture repository
//! into a temporary folder, run the real binary in it, look at exit code, output and files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The moment every test runs at, unless it says otherwise.
pub const NOW: &str = "2026-11-23T10:00:00Z";

pub struct Repo {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn fails(self) -> Run {
        assert_eq!(
            self.code, 1,
            "expected exit code 1\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The binary under test: this build's, or `STATUSCAST_BIN` (e.g. a release build for the load
/// test, see .ci/run).
pub fn binary() -> PathBuf {
    // A relative STATUSCAST_BIN is relative to the repository: tests run the binary in temp folders.
    std::env::var_os("STATUSCAST_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_statuscast")),
        |p| manifest_dir().join(p),
    )
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path in the repository (`tests/fixtures/…`, `tests/python/…`).
pub fn manifest(rel: &str) -> PathBuf {
    manifest_dir().join(rel)
}

/// A JSON file of a repository.
pub fn json(repo: &Repo, rel: &str) -> serde_json::Value {
    serde_json::from_str(&repo.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Repo {
    /// A copy of `tests/fixtures/<name>/`.
    pub fn fixture(name: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &manifest_dir().join("tests/fixtures").join(name),
            dir.path(),
        );
        Repo { dir }
    }

    /// A copy of the bundled demo (the repository's own `statuscast.yaml` and `incidents/`).
    pub fn demo() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            manifest_dir().join("statuscast.yaml"),
            dir.path().join("statuscast.yaml"),
        )
        .unwrap();
        copy_dir(
            &manifest_dir().join("incidents"),
            &dir.path().join("incidents"),
        );
        Repo { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Run `statuscast --now NOW <args>` in the repository.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--now", NOW];
        all.extend_from_slice(args);
        self.run_raw(&all)
    }

    /// Run `statuscast <args>` without adding `--now`.
    pub fn run_raw(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// The command `statuscast <args>` with extra environment variables, not started yet.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("GITHUB_ACTIONS");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Run `statuscast <args>` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = self.command(args, env).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Every file below `rel` with its bytes, for before/after comparisons.
    pub fn snapshot(&self, rel: &str) -> BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    out.insert(
                        p.strip_prefix(root).unwrap().display().to_string(),
                        std::fs::read(&p).unwrap(),
                    );
                }
            }
        }
        let mut out = BTreeMap::new();
        let root = self.path(rel);
        walk(&root, &root, &mut out);
        out
    }
}

/// The text of an HTML section starting at the element with `id`, up to the next `<section` or `</main>`.
pub fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id}"));
    let rest = &html[start..];
    let end = rest
        .find("<section")
        .or_else(|| rest.find("</main>"))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Run a prepared command off the async runtime (local test services keep answering meanwhile),
/// and check that none of `secrets` appears in its output.
pub async fn output_without_secrets(mut cmd: Command, secrets: &[&str]) -> Run {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret leaked into the output:\n{}{}",
            run.stdout,
            run.stderr
        );
    }
    run
}
