//! E-mail against a real SMTP server: Python's aiosmtpd on 127.0.0.1 (`tests/python/smtp_sink.py`),
//! which requires a login, refuses or delays on request, and writes every accepted message with
//! what Python's own e-mail parser reads from it.
//!
//! The server speaks plain SMTP (`tls: none`, allowed for loopback only): STARTTLS and implicit TLS
//! need a certificate the client trusts, so their mapping is unit-tested in the crate instead,
//! and here only the refusal of a server that offers no STARTTLS.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::channels::common::*;
use crate::support::manifest;
use ch::{IncidentMeta, PostMeta};

pub(crate) const USER: &str = "status@fernwerk.example";
pub(crate) const PASSWORD: &str = "smtp-SECRET-pw-4711";

/// A running `smtp_sink.py`; killed when dropped (also when a test fails).
pub(crate) struct SmtpSink {
    child: Child,
    pub(crate) port: u16,
    pub(crate) dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    /// Starts the server, or `None` after a loud note when aiosmtpd is missing outside CI (in CI,
    /// `CI` set, a missing aiosmtpd fails the test).
    pub(crate) fn start() -> Option<SmtpSink> {
        let probe = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output();
        if !probe.as_ref().is_ok_and(|o| o.status.success()) {
            let why = match &probe {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install aiosmtpd (python3 -m pip install aiosmtpd, see .ci/run): {why}"
            );
            let note = format!(
                "\n!!! SKIPPED the e-mail tests against a real SMTP server: python3 with aiosmtpd is not available ({why}).\n!!! Install it with: python3 -m pip install aiosmtpd==1.4.6\n\n"
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(manifest("tests/python/smtp_sink.py"))
            .arg(dir.path())
            .args([USER, PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut sink = SmtpSink {
            child,
            port: 0,
            dir,
        };
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .expect("smtp_sink.py says READY within 15 s");
        sink.port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("smtp_sink.py did not start: {line:?}"));
        Some(sink)
    }

    /// The parsed report of the `n`-th accepted message (from 1), waiting up to 10 s for it.
    pub(crate) fn message(&self, n: usize) -> Value {
        let path = self.dir.path().join(format!("{n:03}.json"));
        let started = Instant::now();
        while !path.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "message {n} did not arrive"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    pub(crate) fn count(&self) -> usize {
        count_json(self.dir.path())
    }

    pub(crate) fn yaml(&self, extra: &str) -> String {
        format!(
            "type: email\nhost: 127.0.0.1\nport: {}\ntls: none\nusername_env: SMTP_USER\npassword_env: SMTP_PASSWORD\nfrom: \"Fernwerk Störungsmeldung <status@fernwerk.example>\"\n{extra}",
            self.port
        )
    }
}

fn count_json(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count()
}

fn client_with(yaml: &str, password: &str, timeout: Duration) -> Channel {
    let opts = ClientOptions {
        timeout,
        ..options(&std::env::temp_dir())
    };
    Channel::from_config(
        &config(yaml),
        &env_of(&[("SMTP_USER", USER), ("SMTP_PASSWORD", password)]),
        &opts,
    )
    .unwrap()
}

fn client(sink: &SmtpSink, recipients: &str) -> Channel {
    client_with(&sink.yaml(recipients), PASSWORD, Duration::from_secs(5))
}

fn meta(title: &str) -> PostMeta {
    PostMeta {
        kind: "update".into(),
        due: "2026-11-23T09:50:00Z".parse().unwrap(),
        label: "Störung".into(),
        site_title: "Fernwerk".into(),
        incident: Some(IncidentMeta {
            id: "2026-11-23-mobilfunk".into(),
            title: title.into(),
            impact: "major".into(),
            maintenance: false,
            permalink: "https://status.fernwerk.example/incidents/2026-11-23-mobilfunk/".into(),
            components: Vec::new(),
            status: "investigating".into(),
            update: None,
        }),
    }
}

fn header<'v>(report: &'v Value, name: &str) -> Option<&'v str> {
    report["headers"].as_object().and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    })
}

fn part<'v>(report: &'v Value, content_type: &str) -> &'v Value {
    report["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_incident_becomes_one_thread_of_multipart_messages() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let c = client(
        &sink,
        "to: [\"Kundeninfo <kunden@lists.fernwerk.example>\"]\nbcc: [ops@fernwerk.example]\n",
    );
    let m = meta("Mobilfunk & SMS – Hamburg");
    let text = "[Störung] Mobilfunk & SMS – Hamburg: SMS <verzögert>. https://status.fernwerk.example/incidents/2026-11-23-mobilfunk/ ^MK";
    let mut p = post("2026-11-23-mobilfunk#0/mail", text);
    p.meta = Some(&m);
    let root = c.send(&p).await.unwrap();
    let mut p = post("2026-11-23-mobilfunk#1/mail", "[Update] Ursache gefunden.");
    p.meta = Some(&m);
    p.reply_to = Some(&root);
    p.root = Some(&root);
    let second = c.send(&p).await.unwrap();
    let mut p = post("2026-11-23-mobilfunk#2/mail", "[Behoben] Alles gut.");
    p.meta = Some(&m);
    p.reply_to = Some(&second);
    p.root = Some(&root);
    let third = c.send(&p).await.unwrap();

    let first = sink.message(1);
    // Envelope: the login, the sender, To and Bcc recipients; Bcc is not in the message.
    assert_eq!(first["auth_login"], USER);
    assert_eq!(first["mail_from"], "status@fernwerk.example");
    assert_eq!(
        first["rcpt_tos"],
        serde_json::json!(["kunden@lists.fernwerk.example", "ops@fernwerk.example"])
    );
    assert_eq!(header(&first, "Bcc"), None);
    assert_eq!(
        header(&first, "To"),
        Some("Kundeninfo <kunden@lists.fernwerk.example>")
    );
    assert_eq!(
        header(&first, "From"),
        Some("Fernwerk Störungsmeldung <status@fernwerk.example>")
    );
    // A UTF-8 subject, RFC 2047-encoded on the wire and decoded by the parser.
    assert_eq!(
        header(&first, "Subject"),
        Some("[Fernwerk] Mobilfunk & SMS – Hamburg")
    );
    assert!(
        first["raw_subject"].as_str().unwrap().contains("=?utf-8?"),
        "{}",
        first["raw_subject"]
    );
    assert_eq!(header(&first, "Auto-Submitted"), Some("auto-generated"));
    assert_eq!(header(&first, "Message-ID"), Some(root.id.as_str()));
    assert!(root.id.ends_with("@fernwerk.example>"), "{}", root.id);
    assert_eq!(header(&first, "In-Reply-To"), None);
    // multipart/alternative with the text and the escaped HTML, no parser complaints.
    assert_eq!(first["content_type"], "multipart/alternative");
    assert_eq!(first["defects"], serde_json::json!([]));
    let plain = part(&first, "text/plain");
    assert_eq!(
        plain["content"].as_str().unwrap().replace("\r\n", "\n"),
        format!("{text}\n")
    );
    assert_eq!(plain["charset"], "utf-8");
    let html = part(&first, "text/html")["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        html.contains("[Störung] Mobilfunk &amp; SMS – Hamburg: SMS &lt;verzögert&gt;. <a href=\"https://status.fernwerk.example/incidents/2026-11-23-mobilfunk/\">"),
        "{html}"
    );
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    // The 7-bit wire form: no raw UTF-8 needed (no 8BITMIME required).
    let raw = std::fs::read(sink.dir.path().join("001.eml")).unwrap();
    assert!(raw.is_ascii());

    // The follow-ups thread: same subject, In-Reply-To the previous, References root + previous.
    let (m2, m3) = (sink.message(2), sink.message(3));
    assert_eq!(header(&m2, "Subject"), header(&first, "Subject"));
    assert_eq!(header(&m2, "In-Reply-To"), Some(root.id.as_str()));
    assert_eq!(header(&m2, "References"), Some(root.id.as_str()));
    assert_eq!(header(&m3, "Message-ID"), Some(third.id.as_str()));
    assert_eq!(header(&m3, "In-Reply-To"), Some(second.id.as_str()));
    assert_eq!(
        header(&m3, "References"),
        Some(format!("{} {}", root.id, second.id).as_str())
    );
    assert_eq!(sink.count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_keeps_the_message_id() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let c = client(&sink, "to: [a@fernwerk.example]\n");
    let a = c.send(&post("k#0/mail", "eins")).await.unwrap();
    let b = c.send(&post("k#0/mail", "eins")).await.unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(
        header(&sink.message(1), "Message-ID"),
        header(&sink.message(2), "Message-ID")
    );
    // Recurring posts (no incident) take the first words as subject.
    let subject = header(&sink.message(1), "Subject").unwrap().to_owned();
    assert_eq!(subject, "eins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_classified_by_their_smtp_code() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    // 550 for one recipient: rejected, naming the address; nothing is sent to the others.
    let err = client(
        &sink,
        "to: [ok@fernwerk.example, unknown@fernwerk.example]\n",
    )
    .send(&post("r#0/mail", "x"))
    .await
    .unwrap_err();
    let SendError::Rejected {
        status: 550,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("User unknown"), "{message}");
    assert!(message.contains("unknown@fernwerk.example"), "{message}");
    // 451 (greylisting): try again later.
    let err = client(&sink, "to: [greylist@fernwerk.example]\n")
        .send(&post("r#1/mail", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Retry { message, .. } if message.contains("451")),
        "{err:?}"
    );
    // A wrong password: rejected, naming the variables, never the value.
    let wrong = "wrong-SECRET-pw";
    let err = client_with(
        &sink.yaml("to: [a@fernwerk.example]\n"),
        wrong,
        Duration::from_secs(5),
    )
    .send(&post("r#2/mail", "x"))
    .await
    .unwrap_err();
    let SendError::Rejected {
        status: 535,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("SMTP_USER and SMTP_PASSWORD"), "{message}");
    assert!(!format!("{err:?}").contains(wrong));
    assert_eq!(sink.count(), 0, "nothing was accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_after_the_message_is_in_doubt_but_before_it_is_retried() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let c = client_with(
        &sink.yaml("to: [slow@fernwerk.example]\n"),
        PASSWORD,
        Duration::from_secs(1),
    );
    let err = c.send(&post("s#0/mail", "x")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::InDoubt { message } if message.contains("after the message was sent")),
        "{err:?}"
    );
    // The server did take it: exactly what "in doubt" means.
    assert_eq!(sink.message(1)["rcpt_tos"][0], "slow@fernwerk.example");

    // Nobody listening: the message never left, so it is safe to retry.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let yaml = sink
        .yaml("to: [a@fernwerk.example]\n")
        .replace(&format!("port: {}", sink.port), &format!("port: {port}"));
    let err = client_with(&yaml, PASSWORD, Duration::from_secs(2))
        .send(&post("s#1/mail", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Retry { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_required_when_configured_and_check_logs_in() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    // `tls: starttls` on a server without STARTTLS: refused before the login is sent.
    let yaml = sink
        .yaml("to: [a@fernwerk.example]\n")
        .replace("tls: none", "tls: starttls")
        .replace("host: 127.0.0.1", "host: localhost");
    let err = client_with(&yaml, PASSWORD, Duration::from_secs(5))
        .send(&post("t#0/mail", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { message, .. } if message.contains("does not offer STARTTLS")),
        "{err:?}"
    );
    // `tls: tls` on a plain server: the TLS handshake fails before anything is sent.
    let yaml = sink
        .yaml("to: [a@fernwerk.example]\n")
        .replace("tls: none", "tls: tls");
    let err = client_with(&yaml, PASSWORD, Duration::from_secs(5))
        .send(&post("t#1/mail", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Retry { message, .. } if message.ends_with(": Connection error: received corrupt message of type InvalidContentType")),
        "{err:?}"
    );
    let account = client(&sink, "to: [a@fernwerk.example]\n")
        .check()
        .await
        .unwrap();
    assert_eq!(
        account,
        format!(
            "{USER} at 127.0.0.1:{} (none), sending as status@fernwerk.example",
            sink.port
        )
    );
    assert_eq!(sink.count(), 0);
}
