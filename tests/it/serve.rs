//! `statuscast serve`: the real binary on a free port of 127.0.0.1, rebuilding on changes and
//! showing an error page for a broken file instead of crashing.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::Repo;

struct Serve {
    child: Child,
    addr: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(repo: &Repo) -> Serve {
    let mut child = repo
        .command(&["--now", crate::support::NOW, "serve", "--port", "0"], &[])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("serving http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    // Keep reading, so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in stdout.lines() {});
    Serve { child, addr }
}

/// `GET path` over HTTP/1.0: (status, headers, body).
fn get(addr: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// Poll `GET path` until `ok` holds for the answer (bounded).
fn until(addr: &str, path: &str, what: &str, ok: impl Fn(u16, &str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let (status, _, body) = get(addr, path);
        if ok(status, &body) {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}; last answer {status}:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const INCIDENT: &str = "incidents/2026-11-23-webhook-delivery-delays.md";

#[test]
fn serves_rebuilds_shows_errors_and_recovers() {
    let repo = Repo::fixture("english");
    let serve = start(&repo);
    let addr = &serve.addr;

    let (status, head, body) = get(addr, "/");
    assert_eq!(status, 200, "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html; charset=utf-8")
    );
    assert!(body.contains("Acme Cloud Status"));
    assert!(
        body.contains("/__statuscast/version"),
        "the live-reload script"
    );
    assert!(
        !repo.read("public/index.html").contains("__statuscast"),
        "the files on disk are the build's own"
    );
    let (_, _, v1) = get(addr, "/__statuscast/version");
    let (status, head, _) = get(addr, "/incidents/2026-11-23-webhook-delivery-delays");
    assert_eq!(status, 301);
    assert!(
        head.contains("Location: /incidents/2026-11-23-webhook-delivery-delays/"),
        "{head}"
    );
    let (status, _, page) = get(addr, "/incidents/2026-11-23-webhook-delivery-delays/");
    assert_eq!(status, 200);
    assert!(page.contains("Delayed webhook deliveries"));
    let (status, head, css) = get(addr, "/style.css");
    assert_eq!(status, 200);
    assert!(head.contains("text/css") && !css.contains("__statuscast"));
    assert_eq!(get(addr, "/../../etc/passwd").0, 404);

    // A change rebuilds: the new text is served and the version moves on.
    let original = repo.read(INCIDENT);
    repo.write(
        INCIDENT,
        original.replace("Delayed webhook deliveries", "Webhooks arrive late"),
    );
    until(addr, "/", "the rebuilt page", |s, b| {
        s == 200 && b.contains("Webhooks arrive late")
    });
    // The version moves on once the rebuild is complete (the browser's cue to reload).
    until(addr, "/__statuscast/version", "a new version", |s, b| {
        s == 200 && b != v1
    });

    // A broken file: an error page with the problem, HTML-escaped; the server keeps running.
    repo.write(
        INCIDENT,
        original.replace("components: [webhooks]", "components: [<hooks>]"),
    );
    let error = until(addr, "/", "the error page", |s, _| s == 500);
    assert!(error.contains("The build failed"), "{error}");
    assert!(
        error.contains("unknown component &quot;&lt;hooks&gt;&quot;"),
        "{error}"
    );
    assert!(
        error.contains("2026-11-23-webhook-delivery-delays.md:3:"),
        "{error}"
    );
    assert!(
        error.contains("/__statuscast/version"),
        "it reloads itself when fixed"
    );
    assert!(
        repo.read("public/index.html")
            .contains("Webhooks arrive late"),
        "the last good build stays on disk"
    );

    // Fixed: the page is back.
    repo.write(INCIDENT, &original);
    until(addr, "/", "the page again", |s, b| {
        s == 200 && b.contains("Delayed webhook deliveries")
    });
}

#[test]
fn a_broken_repository_still_serves_the_error_page() {
    let repo = Repo::fixture("english");
    repo.write(
        "incidents/2026-11-24-bad.md",
        "---\ntitle: Bad\ncomponents: [api]\n---\n## 2026-11-24 08:00 kaputt\nx\n",
    );
    let serve = start(&repo);
    let (status, _, body) = get(&serve.addr, "/");
    assert_eq!(status, 500);
    assert!(body.contains("unknown status &quot;kaputt&quot;"), "{body}");
}

#[test]
fn a_broken_config_is_shown_and_picked_up_when_fixed() {
    let repo = Repo::fixture("english");
    let good = repo.read("statuscast.yaml");
    repo.write(
        "statuscast.yaml",
        good.replace("timezone: America/New_York", "timezone: America/New_Yrok"),
    );
    let serve = start(&repo);
    let (status, _, body) = get(&serve.addr, "/");
    assert_eq!(status, 500);
    assert!(
        body.contains("unknown time zone &quot;America/New_Yrok&quot;"),
        "{body}"
    );
    repo.write("statuscast.yaml", &good);
    until(&serve.addr, "/", "the page", |s, b| {
        s == 200 && b.contains("Acme Cloud Status")
    });
}

#[test]
fn a_missing_config_stops_serve() {
    let repo = Repo {
        dir: tempfile::tempdir().unwrap(),
    };
    let out = repo.run(&["serve", "--port", "0"]).fails();
    assert!(
        out.stderr.contains("cannot read the config file"),
        "{}",
        out.stderr
    );
}
