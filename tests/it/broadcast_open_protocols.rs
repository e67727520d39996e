//! `statuscast broadcast` end to end on the open-protocol channels: the real binary against a
//! local Matrix homeserver, a Standard Webhooks receiver and a real SMTP server (aiosmtpd), over
//! several runs at different `--now` moments.

use std::time::Duration;

use serde_json::Value;
use wiremock::{MockServer, ResponseTemplate};

use crate::channels::email::{self as mail, SmtpSink};
use crate::channels::matrix::{self, homeserver};
use crate::channels::webhook::{self, receiver};
use crate::support::{Repo, Run};

const INCIDENT: &str = "incidents/2026-11-23-api-down.md";
const KEY: &str = "2026-11-23-api-down";

const ENV: &[(&str, &str)] = &[
    ("MATRIX_TOKEN", matrix::TOKEN),
    ("WEBHOOK_SECRET", webhook::SECRET),
    ("SMTP_USER", mail::USER),
    ("SMTP_PASSWORD", mail::PASSWORD),
];
const SECRETS: &[&str] = &[matrix::TOKEN, webhook::SECRET, mail::PASSWORD];

/// The English fixture without incidents, with `channels` (YAML list items) in `broadcast:`.
fn repo(channels: &str) -> Repo {
    let repo = Repo::fixture("english");
    std::fs::remove_dir_all(repo.path("incidents")).unwrap();
    std::fs::create_dir(repo.path("incidents")).unwrap();
    let yaml = repo.read("statuscast.yaml");
    repo.write(
        "statuscast.yaml",
        format!("{yaml}\nbroadcast:\n  channel_timeout: 5s\n  channels:\n{channels}"),
    );
    // America/New_York: 04:50 EST = 09:50Z.
    repo.write(
        INCIDENT,
        "---\ntitle: API errors\ncomponents: [api]\nimpact: major\nauthor: dp\n---\n## 2026-11-23 04:50 investigating\nRequests to the **API** fail.\n\n## 2026-11-23 05:20 identified\nA bad deploy. Rolling back.\n",
    );
    repo
}

fn matrix_channel(hs: &MockServer) -> String {
    format!(
        "    - {{ id: ops-room, type: matrix, homeserver: \"{}\", room: \"{}\", access_token_env: MATRIX_TOKEN }}\n",
        hs.uri(),
        matrix::ALIAS
    )
}

fn webhook_channel(rx: &MockServer) -> String {
    format!(
        "    - {{ id: hooks, type: webhook, url: \"{}/hooks/statuscast\", secret_env: WEBHOOK_SECRET }}\n",
        rx.uri()
    )
}

async fn run(repo: &Repo, now: &str, args: &[&str]) -> Run {
    let mut cmd = repo.command(&["--now", now], ENV);
    cmd.args(args);
    crate::support::output_without_secrets(cmd, SECRETS).await
}

fn ledger(repo: &Repo) -> Vec<Value> {
    let text = std::fs::read_to_string(repo.path(".statuscast/ledger.jsonl")).unwrap_or_default();
    for secret in SECRETS {
        assert!(!text.contains(secret), "a secret leaked into the ledger");
    }
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn last(repo: &Repo, key: &str) -> Value {
    ledger(repo)
        .into_iter()
        .rev()
        .find(|e| e["key"] == key)
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_and_webhook_follow_an_incident_across_runs() {
    let (hs, fake_hs) = homeserver().await;
    let (rx, fake_rx) = receiver().await;
    let repo = repo(&(matrix_channel(&hs) + &webhook_channel(&rx)));

    let first = run(&repo, "2026-11-23T10:00:00Z", &["broadcast"]).await;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("ops-room: 1 sent, 0 failed"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("hooks: 1 sent, 0 failed"),
        "{}",
        first.stdout
    );
    let again = run(&repo, "2026-11-23T10:05:00Z", &["broadcast"]).await;
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(fake_hs.state().events.len(), 1, "nothing twice");
    assert_eq!(fake_rx.state().deliveries.len(), 1);

    let second = run(&repo, "2026-11-23T10:25:00Z", &["broadcast"]).await;
    assert_eq!(second.code, 0, "{}", second.stdout);

    // Matrix: the second update is in the thread of the first, with a reply fallback to it.
    let contents = fake_hs.contents();
    assert_eq!(contents.len(), 2);
    let text = contents[0]["body"].as_str().unwrap();
    assert!(
        text.starts_with("[Outage] API errors: Requests to the API fail.")
            && text.ends_with("https://status.acme.example/incidents/2026-11-23-api-down/ ^DP"),
        "{text}"
    );
    assert!(contents[0].get("m.relates_to").is_none());
    let root = fake_hs.event_id(0);
    assert_eq!(contents[1]["m.relates_to"]["rel_type"], "m.thread");
    assert_eq!(contents[1]["m.relates_to"]["event_id"], root.as_str());
    assert_eq!(
        contents[1]["m.relates_to"]["m.in_reply_to"]["event_id"],
        root.as_str()
    );
    assert_eq!(
        fake_hs.state().alias_lookups,
        2,
        "the alias is resolved once per run"
    );
    let sent = last(&repo, &format!("{KEY}#0/ops-room"));
    assert_eq!(sent["state"], "sent");
    assert_eq!(sent["remote"]["id"], root.as_str());

    // Webhook: the engine's facts about each post, and the thread link.
    let events = fake_rx.state().events.clone();
    assert_eq!(events.len(), 2);
    let data = &events[1]["data"];
    assert_eq!(events[1]["type"], "incident.update");
    assert_eq!(events[1]["timestamp"], "2026-11-23T10:20:00Z");
    assert_eq!(data["key"], format!("{KEY}#1/hooks"));
    assert_eq!(data["incident"]["id"], KEY);
    assert_eq!(data["incident"]["title"], "API errors");
    assert_eq!(data["incident"]["impact"], "major");
    assert_eq!(data["incident"]["status"], "identified");
    assert_eq!(data["update"]["index"], 1);
    assert_eq!(data["update"]["status"], "identified");
    assert_eq!(data["update"]["at"], "2026-11-23T10:20:00Z");
    assert_eq!(
        data["components"],
        serde_json::json!([{ "id": "api", "name": "REST API" }])
    );
    assert_eq!(
        data["permalink"],
        "https://status.acme.example/incidents/2026-11-23-api-down/"
    );
    assert_eq!(data["language"], "en");
    assert_eq!(data["label"], "Update");
    assert_eq!(
        data["in_reply_to"],
        last(&repo, &format!("{KEY}#0/hooks"))["remote"]["id"]
    );
    assert!(
        data["text"]
            .as_str()
            .unwrap()
            .starts_with("[Update] API errors: A bad deploy. Rolling back.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_doubt_posts_are_resent_with_the_same_ids_on_matrix_and_webhook() {
    let (hs, fake_hs) = homeserver().await;
    let (rx, fake_rx) = receiver().await;
    let repo = repo(&(matrix_channel(&hs) + &webhook_channel(&rx)));
    // Both services take their time to answer the first send; the run is killed meanwhile.
    fake_hs
        .state()
        .queued
        .push_back(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)));
    fake_rx
        .state()
        .queued
        .push_back(ResponseTemplate::new(204).set_delay(Duration::from_secs(30)));
    let mut child = repo
        .command(&["--now", "2026-11-23T10:00:00Z", "broadcast"], ENV)
        .spawn()
        .unwrap();
    for _ in 0..400 {
        let hs_sends = hs
            .received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| r.method.as_str() == "PUT");
        if hs_sends && !fake_rx.state().raw.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        last(&repo, &format!("{KEY}#0/ops-room"))["state"],
        "sending"
    );
    assert_eq!(last(&repo, &format!("{KEY}#0/hooks"))["state"], "sending");

    let next = run(&repo, "2026-11-23T10:02:00Z", &["broadcast"]).await;
    assert_eq!(next.code, 0, "{}", next.stdout);
    assert_eq!(last(&repo, &format!("{KEY}#0/ops-room"))["state"], "sent");
    assert_eq!(last(&repo, &format!("{KEY}#0/hooks"))["state"], "sent");
    let puts: Vec<String> = hs
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[0], puts[1], "the same transaction id");
    assert_eq!(fake_hs.state().events.len(), 1);
    let ids: Vec<String> = fake_rx
        .state()
        .raw
        .iter()
        .map(|(h, _)| h.iter().find(|(k, _)| k == "webhook-id").unwrap().1.clone())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "the same webhook-id");
    assert_eq!(fake_rx.state().events.len(), 1);
}

fn email_channel(sink: &SmtpSink, to: &str) -> String {
    format!(
        "    - {{ id: mail, type: email, host: 127.0.0.1, port: {}, tls: none, username_env: SMTP_USER, password_env: SMTP_PASSWORD, from: \"Acme Status <status@acme.example>\", to: [{to}] }}\n",
        sink.port
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_threads_across_runs_and_an_in_doubt_message_is_not_resent() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    // slow@: the server stores the message but answers late; the run is killed meanwhile.
    let repo = repo(&email_channel(
        &sink,
        "customers@acme.example, slow@acme.example",
    ));
    let mut child = repo
        .command(&["--now", "2026-11-23T10:00:00Z", "broadcast"], ENV)
        .spawn()
        .unwrap();
    let first = sink.message(1);
    child.kill().unwrap();
    child.wait().unwrap();
    let key0 = format!("{KEY}#0/mail");
    assert_eq!(last(&repo, &key0)["state"], "sending");

    // E-mail has no idempotency: in doubt, not re-sent; a person settles it.
    let next = run(&repo, "2026-11-23T10:02:00Z", &["broadcast"]).await;
    assert_eq!(next.code, 1, "{}", next.stdout);
    assert!(
        next.stdout.contains("mail: 0 sent, 0 failed, 1 in doubt"),
        "{}",
        next.stdout
    );
    assert!(
        next.stdout
            .contains(&format!("statuscast ledger resolve {key0} sent")),
        "{}",
        next.stdout
    );
    assert_eq!(sink.count(), 1);
    let resolved = run(
        &repo,
        "2026-11-23T10:03:00Z",
        &["ledger", "resolve", &key0, "sent"],
    )
    .await;
    assert_eq!(resolved.code, 0, "{}", resolved.stderr);

    // The follow-up has no parent id (it was settled by hand): it starts its own thread. To see
    // threading, send a third update with the second known.
    let yaml = repo
        .read("statuscast.yaml")
        .replace(", slow@acme.example", "");
    repo.write("statuscast.yaml", yaml);
    let incident = repo.read(INCIDENT) + "\n## 2026-11-23 05:40 resolved\nFixed.\n";
    repo.write(INCIDENT, incident);
    let out = run(&repo, "2026-11-23T10:25:00Z", &["broadcast"]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    let out = run(&repo, "2026-11-23T10:45:00Z", &["broadcast"]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    let (second, third) = (sink.message(2), sink.message(3));
    let h = |m: &Value, k: &str| m["headers"][k].as_str().map(str::to_owned);
    assert_eq!(
        h(&first, "Subject").as_deref(),
        Some("[Acme Cloud Status] API errors")
    );
    assert_eq!(h(&third, "Subject"), h(&first, "Subject"));
    assert_eq!(h(&second, "In-Reply-To"), None);
    assert_eq!(
        h(&third, "In-Reply-To"),
        h(&second, "Message-ID"),
        "the ledger's remote id (the Message-ID) threads the next run's message"
    );
    assert_eq!(
        last(&repo, &format!("{KEY}#1/mail"))["remote"]["id"].as_str(),
        h(&second, "Message-ID").as_deref()
    );
    assert!(
        third["parts"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("[Resolved] API errors: Fixed."),
        "{third}"
    );
    assert_eq!(sink.count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_resends_an_in_doubt_post_only_while_the_server_keeps_its_transaction_id() {
    let (hs, fake_hs) = homeserver().await;
    let (rx, fake_rx) = receiver().await;
    let repo = repo(&(matrix_channel(&hs) + &webhook_channel(&rx)));
    // A run died while sending the first update, 25 hours ago for Matrix (Synapse has forgotten
    // the transaction id after 24 h) and just as long for the webhook (receivers deduplicate).
    let sending = |channel: &str| {
        format!(
            "{{\"key\":\"{KEY}#0/{channel}\",\"state\":\"sending\",\"at\":\"2026-11-23T10:00:00Z\"}}\n"
        )
    };
    repo.write(
        ".statuscast/ledger.jsonl",
        sending("ops-room") + &sending("hooks"),
    );
    let out = run(&repo, "2026-11-24T11:00:00Z", &["broadcast"]).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("ops-room: 0 sent, 0 failed, 1 in doubt"),
        "{}",
        out.stdout
    );
    assert!(
        fake_hs.state().send_txns.is_empty(),
        "not re-sent after 24 h"
    );
    assert_eq!(fake_rx.state().events.len(), 1, "the webhook is re-sent");
    // 23 hours later it would have been re-sent with the same transaction id.
    let repo2 = crate::broadcast_open_protocols::repo(&matrix_channel(&hs));
    repo2.write(".statuscast/ledger.jsonl", sending("ops-room"));
    let out = run(&repo2, "2026-11-24T09:00:00Z", &["broadcast"]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(fake_hs.state().events.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_check_signs_in_everywhere_and_check_refuses_a_secret_in_the_file() {
    let (hs, _fake_hs) = homeserver().await;
    let (rx, fake_rx) = receiver().await;
    let sink = SmtpSink::start();
    let mut channels = matrix_channel(&hs) + &webhook_channel(&rx);
    if let Some(sink) = &sink {
        channels += &email_channel(sink, "customers@acme.example");
    }
    let repo = repo(&channels);
    let out = run(&repo, "2026-11-23T10:00:00Z", &["channels", "check"]).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "✓ ops-room (matrix): signed in as {} in {} ({})",
            matrix::USER,
            matrix::ALIAS,
            matrix::ROOM
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "✓ hooks (webhook): http://127.0.0.1 (a signed statuscast.ping was accepted)"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(fake_rx.state().events[0]["type"], "statuscast.ping");
    if let Some(sink) = &sink {
        assert!(
            out.stdout.contains(&format!(
                "✓ mail (email): {} at 127.0.0.1:{} (none)",
                mail::USER,
                sink.port
            )),
            "{}",
            out.stdout
        );
        assert_eq!(sink.count(), 0, "check sends no mail");
    }

    // The secret itself where its variable's name belongs: refused, and never echoed.
    let yaml = repo.read("statuscast.yaml").replace(
        "secret_env: WEBHOOK_SECRET",
        &format!("secret_env: {}", webhook::SECRET),
    );
    repo.write("statuscast.yaml", yaml);
    let out = run(&repo, "2026-11-23T10:00:00Z", &["check"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("secret_env must name an environment variable, not hold a value"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_settings_are_named_and_the_other_channels_still_post() {
    let (hs, fake_hs) = homeserver().await;
    let (rx, _fake_rx) = receiver().await;
    // Plain SMTP to a remote host and an unknown alias.
    let channels = matrix_channel(&hs).replace(matrix::ALIAS, "#gone:fernwerk.example")
        + &webhook_channel(&rx)
        + "    - { id: mail, type: email, host: smtp.acme.example, tls: none, from: status@acme.example, to: [a@acme.example] }\n";
    let repo = repo(&channels);
    let out = run(&repo, "2026-11-23T10:00:00Z", &["broadcast"]).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("`tls: none` would send the login and the messages unencrypted"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("the room alias #gone:fernwerk.example does not exist"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("hooks: 1 sent"), "{}", out.stdout);
    assert!(fake_hs.state().events.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_events_for_maintenance_and_recurring_posts() {
    let (rx, fake_rx) = receiver().await;
    let repo = repo(&webhook_channel(&rx));
    std::fs::remove_file(repo.path(INCIDENT)).unwrap();
    // Thursday 07:00–09:00 in New York (12:00Z–14:00Z); a weekly tip on Mondays 09:00.
    repo.write(
        "incidents/2026-11-26-db-upgrade.md",
        "---\ntitle: Database upgrade\ncomponents: [storage, api]\nimpact: minor\nscheduled: { start: 2026-11-26 07:00, end: 2026-11-26 09:00 }\n---\n",
    );
    let yaml = repo.read("statuscast.yaml")
        + "  recurring:\n    - { name: tip, cron: \"0 9 * * 1\", text: \"Tip: rotate your API keys.\" }\n";
    repo.write("statuscast.yaml", yaml);
    let out = run(&repo, "2026-11-23T14:00:30Z", &["broadcast"]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    let mut events = fake_rx.state().events.clone();
    events.sort_by_key(|e| e["type"].as_str().unwrap().to_owned());
    assert_eq!(events.len(), 2, "{events:?}");
    let (announce, tip) = (&events[0], &events[1]);
    assert_eq!(announce["type"], "maintenance.announce");
    assert_eq!(announce["data"]["incident"]["maintenance"], true);
    assert_eq!(announce["data"]["incident"]["status"], "scheduled");
    assert_eq!(announce["data"]["update"], Value::Null);
    assert_eq!(
        announce["data"]["components"],
        serde_json::json!([
            { "id": "storage", "name": "Object Storage" },
            { "id": "api", "name": "REST API" }
        ])
    );
    assert_eq!(tip["type"], "recurring.post");
    assert_eq!(tip["timestamp"], "2026-11-23T14:00:00Z");
    assert_eq!(tip["data"]["incident"], Value::Null);
    assert_eq!(tip["data"]["permalink"], Value::Null);
    assert_eq!(tip["data"]["text"], "Tip: rotate your API keys.");
    assert_eq!(
        tip["data"]["key"],
        "recurring/tip@2026-11-23T14:00:00Z/hooks"
    );
}
