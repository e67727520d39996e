//! `serve`: build, serve the output folder on 127.0.0.1, rebuild when an incident, the config or
//! a theme changes, and reload the browser.
//!
//! The server is `tiny_http`; changes are watched with `notify` (debounced, so an editor's
//! save-by-rename is one rebuild). Every HTML response gets a small script that polls
//! `/__statuscast/version` and reloads the page when a rebuild has happened. A build that fails
//! keeps the last good files on disk and serves an error page with the problems instead, until
//! the next change fixes them. Files on disk are never changed by serving: what `serve` writes is
//! exactly what `build` writes.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use notify_debouncer_mini::notify::RecursiveMode;
use tiny_http::{Header, Request, Response, Server};

use crate::config::Config;
use crate::diagnostics::display_path;
use crate::site::theme::escape_html;

/// Stands in for a broken config at the start, for its default folders.
const FALLBACK_CONFIG: &str =
    "site: { title: x, base_url: \"https://x.invalid\" }\ncomponents: [{ id: x, name: x }]\n";

/// The path the live-reload script polls.
pub const VERSION_PATH: &str = "/__statuscast/version";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "error: cannot listen on 127.0.0.1:{port}: {reason}\n  = hint: another program uses the port; pick another with --port, or --port 0 for any free one"
    )]
    Bind { port: u16, reason: String },
    #[error("error: cannot watch {path} for changes: {reason}")]
    Watch { path: String, reason: String },
    #[error("{0}")]
    Config(crate::diagnostics::Diagnostics),
}

/// What `serve` needs.
pub struct Options<'a> {
    pub config_path: &'a Path,
    pub out: &'a Path,
    /// A fixed `--now`; else the clock at each build.
    pub now: Option<DateTime<Utc>>,
    /// One line per build (stdout).
    pub log: &'a (dyn Fn(&str) + Sync),
    /// Build problems in full (stderr).
    pub detail: &'a (dyn Fn(&str) + Sync),
}

/// The state the request handlers read.
#[derive(Debug, Default)]
pub struct State {
    version: AtomicU64,
    /// The last build's problems as text, while it failed.
    error: Mutex<Option<String>>,
}

impl State {
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

/// Build once and record the outcome in `state` (a new version either way).
pub fn rebuild(opts: &Options, state: &State) {
    let started = Instant::now();
    let now = opts.now.unwrap_or_else(Utc::now);
    let result = super::build_site(opts.config_path, opts.out, now);
    let error = match result {
        Ok(built) => {
            (opts.log)(&format!(
                "built {} pages from {} incidents in {:.2} s",
                built.stats.pages,
                built.incidents.len(),
                started.elapsed().as_secs_f64()
            ));
            None
        }
        Err(d) => {
            let n = d.len();
            let text = d.to_string();
            (opts.detail)(&text);
            (opts.log)(&format!(
                "build failed: {n} problem{} (also shown in the browser); serving the error page until a change fixes {}",
                if n == 1 { "" } else { "s" },
                if n == 1 { "it" } else { "them" }
            ));
            Some(text)
        }
    };
    if let Ok(mut e) = state.error.lock() {
        *e = error;
    }
    state.version.fetch_add(1, Ordering::SeqCst);
}

/// The live-reload script for a page served at `version`.
fn reload_script(version: u64) -> String {
    format!(
        "<script>(function(){{var v=\"{version}\";function poll(){{fetch(\"{VERSION_PATH}\",{{cache:\"no-store\"}}).then(function(r){{return r.text()}}).then(function(t){{if(t!==v){{location.reload()}}else{{setTimeout(poll,500)}}}}).catch(function(){{setTimeout(poll,2000)}})}}setTimeout(poll,500)}})();</script>"
    )
}

/// `html` with the live-reload script before its closing body tag.
#[must_use]
pub fn inject_reload(html: &str, version: u64) -> String {
    let script = reload_script(version);
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(i) => format!("{}{script}{}", &html[..i], &html[i..]),
        None => format!("{html}{script}"),
    }
}

/// The page shown while the build fails.
#[must_use]
pub fn error_page(problems: &str, version: u64) -> String {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>statuscast: the build failed</title>\n<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#1a1a1a}}h1{{color:#b00020;font-size:1.4rem}}pre{{background:#fff4f4;border-left:4px solid #b00020;padding:1rem;overflow:auto;white-space:pre-wrap;font-size:.9rem}}</style>\n</head>\n<body>\n<h1>The build failed</h1>\n<p>Fix the problems below and save: this page reloads by itself. The files in the output folder are those of the last good build.</p>\n<pre>{}</pre>\n</body>\n</html>\n",
        escape_html(problems)
    );
    inject_reload(&body, version)
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("xml") => "application/xml",
        Some("atom") => "application/atom+xml",
        Some("rss") => "application/rss+xml",
        Some("ics") => "text/calendar; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// What a request path asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    File(PathBuf),
    /// A folder asked for without its slash: redirect, so that relative links work.
    Redirect(String),
    NotFound,
}

/// Map a URL path (percent-encoded, maybe with a query) to a file below `root`; never outside it.
#[must_use]
pub fn resolve(root: &Path, url: &str) -> Target {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let rel = decoded.trim_start_matches('/');
    let rel_path = Path::new(rel);
    if rel.contains('\\')
        || !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Target::NotFound;
    }
    let full = root.join(rel_path);
    if full.is_dir() {
        if !path.ends_with('/') {
            return Target::Redirect(format!("{path}/"));
        }
        let index = full.join("index.html");
        return if index.is_file() {
            Target::File(index)
        } else {
            Target::NotFound
        };
    }
    if full.is_file() {
        Target::File(full)
    } else {
        Target::NotFound
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn is_page(url: &str, target: &Target) -> bool {
    if let Target::File(p) = target {
        content_type(p).starts_with("text/html")
    } else {
        let path = url.split('?').next().unwrap_or("/");
        path.ends_with('/')
            || Path::new(path)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("html"))
    }
}

/// Answer one request.
fn handle(request: Request, out: &Path, state: &State) {
    let url = request.url().to_string();
    let version = state.version();
    let no_store = header("Cache-Control", "no-store");
    if url.split('?').next() == Some(VERSION_PATH) {
        let _ = request.respond(
            Response::from_string(version.to_string())
                .with_header(header("Content-Type", "text/plain; charset=utf-8"))
                .with_header(no_store),
        );
        return;
    }
    let target = resolve(out, &url);
    if let Some(problems) = state.error()
        && is_page(&url, &target)
    {
        let _ = request.respond(
            Response::from_string(error_page(&problems, version))
                .with_status_code(500)
                .with_header(header("Content-Type", "text/html; charset=utf-8"))
                .with_header(no_store),
        );
        return;
    }
    let response = match target {
        Target::Redirect(to) => Response::from_string(String::new())
            .with_status_code(301)
            .with_header(header("Location", &to)),
        Target::NotFound => Response::from_string(inject_reload(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found</title></head><body><h1>Not found</h1><p><a href=\"/\">The status page</a></p></body></html>\n",
            version,
        ))
        .with_status_code(404)
        .with_header(header("Content-Type", "text/html; charset=utf-8")),
        Target::File(path) => {
            let mut bytes = Vec::new();
            if std::fs::File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .is_ok()
            {
                let kind = content_type(&path);
                if kind.starts_with("text/html") {
                    let html = String::from_utf8_lossy(&bytes);
                    bytes = inject_reload(&html, version).into_bytes();
                }
                Response::from_data(bytes).with_header(header("Content-Type", kind))
            } else {
                Response::from_string("not found".to_string()).with_status_code(404)
            }
        }
    };
    let _ = request.respond(response.with_header(no_store));
}

/// A bound server, before it serves.
pub struct Bound {
    server: Arc<Server>,
    pub addr: SocketAddr,
}

/// Listen on 127.0.0.1 only (`port` 0: any free port).
///
/// # Errors
/// The port is taken or not allowed.
pub fn bind(port: u16) -> Result<Bound, ServeError> {
    let server = Server::http(("127.0.0.1", port)).map_err(|e| ServeError::Bind {
        port,
        reason: e.to_string(),
    })?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| ServeError::Bind {
            port,
            reason: "not an IP address".into(),
        })?;
    Ok(Bound {
        server: Arc::new(server),
        addr,
    })
}

/// Is `path` one whose change needs a rebuild: the config, or a visible file below the
/// incidents or the theme folder?
fn relevant(path: &Path, config: &Path, watched: &[PathBuf]) -> bool {
    if path == config {
        return true;
    }
    watched.iter().any(|dir| {
        path.strip_prefix(dir).is_ok_and(|rel| {
            !rel.components().any(|c| {
                c.as_os_str().to_string_lossy().starts_with('.')
                    || c.as_os_str().to_string_lossy().ends_with('~')
            })
        })
    })
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Build, then serve until the process ends: requests on a few threads, rebuilds on the
/// watcher's thread, one at a time.
///
/// # Errors
/// The config cannot be read at all at the start (its folders are needed for watching), or the
/// folders cannot be watched.
pub fn serve(bound: &Bound, opts: &Options) -> Result<(), ServeError> {
    let config_path = absolute(opts.config_path);
    // A missing config is a wrong folder: stop. A broken one is shown in the browser until it is
    // fixed; meanwhile the default folders are watched.
    let config = match Config::load(&config_path) {
        Ok(c) => c,
        Err(d) if !config_path.is_file() => return Err(ServeError::Config(d)),
        Err(_) => {
            let root = config_path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            Config::parse(FALLBACK_CONFIG, &config_path, &root).map_err(ServeError::Config)?
        }
    };
    (opts.log)(&format!(
        "serving http://{}/ from {}/; rebuilding when the config, an incident or the theme changes (Ctrl-C to stop)",
        bound.addr,
        display_path(opts.out)
    ));
    let state = Arc::new(State::default());
    rebuild(opts, &state);

    let (tx, rx) = std::sync::mpsc::channel();
    let mut debouncer = notify_debouncer_mini::new_debouncer(Duration::from_millis(150), tx)
        .map_err(|e| ServeError::Watch {
            path: display_path(&config.root),
            reason: e.to_string(),
        })?;
    let root = absolute(&config.root);
    let root = if root.as_os_str().is_empty() {
        absolute(Path::new("."))
    } else {
        root
    };
    let watched = vec![
        absolute(&config.incidents_path()),
        absolute(&config.root.join(&config.themes_dir)),
    ];
    let watch =
        |path: &Path, mode: RecursiveMode, debouncer: &mut notify_debouncer_mini::Debouncer<_>| {
            debouncer
                .watcher()
                .watch(path, mode)
                .map_err(|e| ServeError::Watch {
                    path: display_path(path),
                    reason: e.to_string(),
                })
        };
    // The config's folder catches saves by rename; the others are watched as far as they exist.
    watch(&root, RecursiveMode::NonRecursive, &mut debouncer)?;
    for dir in watched.iter().filter(|d| d.is_dir()) {
        watch(dir, RecursiveMode::Recursive, &mut debouncer)?;
    }

    let mut workers = Vec::new();
    for _ in 0..4 {
        let server = Arc::clone(&bound.server);
        let state = Arc::clone(&state);
        let out = absolute(opts.out);
        workers.push(std::thread::spawn(move || {
            while let Ok(request) = server.recv() {
                handle(request, &out, &state);
            }
        }));
    }

    for events in rx {
        let Ok(events) = events else { continue };
        if events
            .iter()
            .any(|e| relevant(&absolute(&e.path), &config_path, &watched))
        {
            rebuild(opts, &state);
        }
    }
    drop(debouncer);
    bound.server.unblock();
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("incidents/a b")).unwrap();
        std::fs::write(root.join("index.html"), "x").unwrap();
        std::fs::write(root.join("incidents/a b/index.html"), "x").unwrap();
        assert_eq!(resolve(root, "/"), Target::File(root.join("index.html")));
        assert_eq!(
            resolve(root, "/?x=1"),
            Target::File(root.join("index.html"))
        );
        assert_eq!(
            resolve(root, "/incidents/a%20b/"),
            Target::File(root.join("incidents/a b/index.html"))
        );
        assert_eq!(
            resolve(root, "/incidents/a%20b"),
            Target::Redirect("/incidents/a%20b/".into())
        );
        assert_eq!(resolve(root, "/../etc/passwd"), Target::NotFound);
        assert_eq!(resolve(root, "/%2e%2e/etc/passwd"), Target::NotFound);
        assert_eq!(resolve(root, "/missing.css"), Target::NotFound);
    }

    #[test]
    fn the_script_goes_before_the_body_ends_and_errors_are_escaped() {
        let html = inject_reload("<html><body><p>x</p></BODY></html>", 7);
        assert!(html.contains("var v=\"7\""));
        assert!(html.find("<script>").unwrap() < html.find("</BODY>").unwrap());
        let page = error_page("x.md:1:1: error: <script>alert(1)</script> & more", 3);
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
        assert_eq!(
            page.matches("<script>").count(),
            1,
            "only the reload script"
        );
    }

    #[test]
    fn only_visible_files_in_watched_folders_count() {
        let config = Path::new("/r/statuscast.yaml");
        let watched = vec![PathBuf::from("/r/incidents"), PathBuf::from("/r/themes")];
        assert!(relevant(config, config, &watched));
        assert!(relevant(
            Path::new("/r/incidents/2026/x.md"),
            config,
            &watched
        ));
        assert!(relevant(
            Path::new("/r/themes/t/templates/base.html"),
            config,
            &watched
        ));
        assert!(!relevant(
            Path::new("/r/incidents/.x.md.swp"),
            config,
            &watched
        ));
        assert!(!relevant(Path::new("/r/incidents/x.md~"), config, &watched));
        assert!(!relevant(
            Path::new("/r/public/index.html"),
            config,
            &watched
        ));
        assert!(!relevant(
            Path::new("/r/.public.tmp-1/index.html"),
            config,
            &watched
        ));
    }
}
