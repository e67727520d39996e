//! `statuscast broadcast` end to end on the chat channels: the real binary against local Slack,
//! Telegram and Discord servers, over several runs at different `--now` moments.

use serde_json::{Value, json};
use wiremock::MockServer;

use crate::channels::discord::{self, FakeDiscord, HOOK_TOKEN};
use crate::channels::slack::{self, BOT_TOKEN, CHANNEL, FakeSlack, HOOK_PATH, render_mrkdwn};
use crate::channels::telegram::{self, FakeTelegram};
use crate::support::{Repo, Run};

const TELEGRAM_TOKEN: &str = telegram::BOT_TOKEN;

struct Services {
    slack: MockServer,
    fake_slack: FakeSlack,
    telegram: MockServer,
    fake_telegram: FakeTelegram,
    discord: MockServer,
    fake_discord: FakeDiscord,
}

async fn services() -> Services {
    let (slack, fake_slack) = slack::slack().await;
    let (telegram, fake_telegram) = telegram::telegram().await;
    let (discord, fake_discord) = discord::discord().await;
    Services {
        slack,
        fake_slack,
        telegram,
        fake_telegram,
        discord,
        fake_discord,
    }
}

fn env(s: &Services) -> Vec<(String, String)> {
    vec![
        ("SLACK_BOT_TOKEN".into(), BOT_TOKEN.into()),
        (
            "SLACK_WEBHOOK_URL".into(),
            format!("{}{HOOK_PATH}", s.slack.uri()),
        ),
        ("TELEGRAM_BOT_TOKEN".into(), TELEGRAM_TOKEN.into()),
        (
            "DISCORD_WEBHOOK_URL".into(),
            discord::hook_url(&s.discord, HOOK_TOKEN),
        ),
    ]
}

/// Secrets that must never show up in output or the ledger.
const SECRETS: &[&str] = &[BOT_TOKEN, TELEGRAM_TOKEN, HOOK_TOKEN, "HOOKSECRET42xyz"];

/// The English fixture with the chat channels pointing at the local services.
fn repo(s: &Services, discord_forum: bool) -> Repo {
    let repo = Repo::fixture("english");
    std::fs::remove_dir_all(repo.path("incidents")).unwrap();
    std::fs::create_dir(repo.path("incidents")).unwrap();
    let yaml = repo.read("statuscast.yaml");
    repo.write(
        "statuscast.yaml",
        format!(
            "{yaml}\nbroadcast:\n  channel_timeout: 5s\n  channels:\n\
             \x20   - {{ id: slack, type: slack, api_base: \"{slack}\", token_env: SLACK_BOT_TOKEN, channel: {CHANNEL} }}\n\
             \x20   - {{ id: slack-hook, type: slack, webhook_url_env: SLACK_WEBHOOK_URL }}\n\
             \x20   - {{ id: telegram, type: telegram, api_base: \"{telegram}\", token_env: TELEGRAM_BOT_TOKEN, chat_id: \"{chat}\" }}\n\
             \x20   - {{ id: discord, type: discord, webhook_url_env: DISCORD_WEBHOOK_URL, forum: {discord_forum} }}\n",
            slack = s.slack.uri(),
            telegram = s.telegram.uri(),
            chat = telegram::CHAT,
        ),
    );
    repo
}

async fn run(repo: &Repo, s: &Services, now: &str, args: &[&str]) -> Run {
    let mut all = vec!["--now", now];
    all.extend_from_slice(args);
    let env = env(s);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cmd = repo.command(&all, &env);
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

fn last_state(repo: &Repo, key: &str) -> String {
    ledger(repo)
        .iter()
        .rev()
        .find(|e| e["key"] == key)
        .map(|e| e["state"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn write_incident(repo: &Repo, id: &str, title: &str) {
    // America/New_York: 04:50 EST = 09:50Z, 05:20 EST = 10:20Z.
    repo.write(
        &format!("incidents/{id}.md"),
        format!(
            "---\ntitle: {title}\ncomponents: [api]\nimpact: major\nauthor: dp\n---\n## 2026-11-23 04:50 investigating\nRequests from `<v2>` clients & partners fail. &lt;!channel&gt; @everyone\n\n## 2026-11-23 05:20 identified\nA bad deploy. Rolling back.\n"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_and_telegram_thread_an_incident_across_runs() {
    let s = services().await;
    let repo = repo(&s, false);
    write_incident(&repo, "2026-11-23-api-down", "API errors");

    let first = run(&repo, &s, "2026-11-23T10:00:00Z", &["broadcast"]).await;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("slack: 1 sent, 0 failed")
            && first.stdout.contains("telegram: 1 sent, 0 failed")
            && first.stdout.contains("slack-hook: 1 sent, 0 failed"),
        "{}",
        first.stdout
    );
    let shown = "[Outage] API errors: Requests from <v2> clients & partners fail. <!channel> @everyone https://status.acme.example/incidents/2026-11-23-api-down/ ^DP";
    {
        let slack = s.fake_slack.state();
        assert_eq!(slack.messages.len(), 1);
        assert_eq!(
            slack.messages[0]["rendered"], shown,
            "Slack shows the text as written"
        );
        assert_eq!(
            slack.messages[0]["special"],
            json!([]),
            "no @channel, no links from incident text"
        );
        assert!(slack.messages[0]["thread_ts"].is_null());
        let tg = s.fake_telegram.state();
        assert_eq!(
            tg.messages[0]["text"], shown,
            "Telegram shows the text as written"
        );
        assert_eq!(tg.messages[0]["entities"], 0);
        let discord = s.fake_discord.state();
        assert_eq!(
            discord.messages[0]["pings"],
            json!([]),
            "Discord pings nobody"
        );
    }

    // The next update, a run later: replies in the thread of the first post.
    let second = run(&repo, &s, "2026-11-23T10:25:00Z", &["broadcast"]).await;
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    {
        let slack = s.fake_slack.state();
        assert_eq!(slack.messages.len(), 2);
        assert_eq!(slack.messages[1]["thread_ts"], slack.messages[0]["ts"]);
        assert!(
            render_mrkdwn(slack.messages[1]["text"].as_str().unwrap())
                .0
                .starts_with("[Update] API errors: A bad deploy. Rolling back.")
        );
        let tg = s.fake_telegram.state();
        assert_eq!(tg.messages.len(), 2);
        assert_eq!(tg.messages[1]["reply_to"], tg.messages[0]["message_id"]);
        // A webhook gives no id: its update stands alone, it is not lost.
        assert_eq!(slack.hook_posts.len(), 2);
        assert!(slack.hook_posts[1].get("thread_ts").is_none());
        // Discord text channel: no threads for webhooks.
        assert_eq!(s.fake_discord.state().messages.len(), 2);
    }

    // The ledger keeps the remote ids the thread needs, and nothing twice.
    assert_eq!(last_state(&repo, "2026-11-23-api-down#1/slack"), "sent");
    let sent: Vec<Value> = ledger(&repo)
        .into_iter()
        .filter(|e| e["state"] == "sent")
        .collect();
    assert_eq!(sent.len(), 8);
    let tg_root = sent
        .iter()
        .find(|e| e["key"] == "2026-11-23-api-down#0/telegram")
        .unwrap();
    assert_eq!(tg_root["remote"]["id"], "100");
    assert_eq!(tg_root["remote"]["url"], "https://t.me/fernwerk_status/100");
    let again = run(&repo, &s, "2026-11-23T10:26:00Z", &["broadcast"]).await;
    assert_eq!(again.code, 0);
    assert_eq!(s.fake_slack.state().messages.len(), 2);
    assert_eq!(s.fake_telegram.state().messages.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_forum_gets_a_thread_per_incident() {
    let s = services().await;
    s.fake_discord.state().forum = true;
    let repo = repo(&s, true);
    write_incident(&repo, "2026-11-23-api-down", "API errors");
    run(
        &repo,
        &s,
        "2026-11-23T10:00:00Z",
        &["broadcast", "--channel", "discord"],
    )
    .await;
    write_incident(&repo, "2026-11-23-dashboard", "Dashboard slow");
    let out = run(
        &repo,
        &s,
        "2026-11-23T10:25:00Z",
        &["broadcast", "--channel", "discord"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    let d = s.fake_discord.state();
    // API errors: root + update in one thread; Dashboard: its own thread (both its updates).
    assert_eq!(d.threads.len(), 2, "{:?}", d.threads);
    let names: Vec<&String> = d.threads.values().collect();
    assert_eq!(names, ["API errors", "Dashboard slow"]);
    let in_thread = |name: &str| {
        let id = d.threads.iter().find(|(_, n)| *n == name).unwrap().0;
        d.messages.iter().filter(|m| m["channel_id"] == *id).count()
    };
    assert_eq!(in_thread("API errors"), 2);
    assert_eq!(in_thread("Dashboard slow"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_discord_webhook_is_not_hammered() {
    let s = services().await;
    s.fake_discord.state().deleted = true;
    let repo = repo(&s, false);
    write_incident(&repo, "2026-11-23-api-down", "API errors");
    write_incident(&repo, "2026-11-23-dashboard", "Dashboard slow");
    write_incident(&repo, "2026-11-23-storage", "Storage errors");

    // Three posts due on Discord: the first answer says the webhook is gone; the others wait.
    let out = run(&repo, &s, "2026-11-23T10:00:00Z", &["broadcast"]).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(
        s.fake_discord.state().requests,
        1,
        "one request to the dead webhook"
    );
    assert!(
        out.stdout
            .contains("discord: 0 sent, 1 failed, 0 in doubt, 0 skipped, 2 waiting"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Unknown Webhook"), "{}", out.stdout);
    assert!(
        out.stdout.contains("the webhook was deleted"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("stopped for this run"),
        "{}",
        out.stdout
    );
    let tried: Vec<String> = ledger(&repo)
        .iter()
        .filter(|e| e["key"].as_str().unwrap().ends_with("/discord"))
        .map(|e| {
            format!(
                "{} {}",
                e["key"].as_str().unwrap(),
                e["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        tried.len(),
        2,
        "sending + failed of one post only: {tried:?}"
    );
    // Other channels are not affected.
    assert_eq!(s.fake_slack.state().messages.len(), 3);

    // The failed post waits for a person; the next run tries one other post, not all.
    let out = run(
        &repo,
        &s,
        "2026-11-23T10:02:00Z",
        &["broadcast", "--channel", "discord"],
    )
    .await;
    assert_eq!(out.code, 1);
    assert_eq!(s.fake_discord.state().requests, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_chat_settings_that_cannot_work() {
    let s = services().await;
    let repo = repo(&s, false);
    let yaml = repo.read("statuscast.yaml").replace(
        "token_env: SLACK_BOT_TOKEN, channel: C0FERNWERK",
        "token_env: SLACK_BOT_TOKEN",
    );
    let yaml = yaml.replace("chat_id: \"@fernwerk_status\"", "chat_id: \"fernwerk\"");
    // A webhook URL pasted where the variable's name belongs.
    let yaml = yaml.replace(
        "webhook_url_env: DISCORD_WEBHOOK_URL",
        &format!(
            "webhook_url_env: \"{}\"",
            discord::hook_url(&s.discord, HOOK_TOKEN)
        ),
    );
    repo.write("statuscast.yaml", yaml);
    let out = run(&repo, &s, "2026-11-23T10:00:00Z", &["check"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("channel \"slack\": `token_env` needs `channel`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("channel \"telegram\": `chat_id` must be the channel's @username"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("webhook_url_env must name an environment variable, not hold a value"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_check_verifies_without_posting() {
    let s = services().await;
    let repo = repo(&s, false);
    let out = run(&repo, &s, "2026-11-23T10:00:00Z", &["channels", "check"]).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for line in [
        "✓ slack (slack): signed in as @statusbot in Fernwerk",
        "✓ slack-hook (slack): the incoming webhook is live (nothing was posted)",
        "✓ telegram (telegram): signed in as @fernwerk_status_bot, posting to \"Fernwerk Status\"",
        "✓ discord (discord): webhook \"Fernwerk Status\" posts to channel",
    ] {
        assert!(out.stdout.contains(line), "{line}\n{}", out.stdout);
    }
    assert!(s.fake_slack.state().messages.is_empty() && s.fake_slack.state().hook_posts.is_empty());
    assert!(s.fake_telegram.state().messages.is_empty());
    assert!(s.fake_discord.state().messages.is_empty());
    // A removed webhook fails the check.
    s.fake_discord.state().deleted = true;
    let out = run(&repo, &s, "2026-11-23T10:00:00Z", &["channels", "check"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains(
            "✗ discord (discord): the channel cannot take posts (HTTP 404): Unknown Webhook"
        ),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_counts_each_chat_channel_its_own_way() {
    let s = services().await;
    let repo = repo(&s, false);
    // 2100 emoji: 4200 UTF-16 units, 2100 characters.
    repo.write(
        "incidents/2026-11-23-api-down.md",
        format!(
            "---\ntitle: API errors\ncomponents: [api]\nimpact: major\n---\n## 2026-11-23 04:50 investigating\n{}\n",
            "🛰 ".repeat(2100)
        ),
    );
    let out = run(&repo, &s, "2026-11-23T10:00:00Z", &["plan"]).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for (channel, max) in [
        ("telegram", 4096),
        ("discord", 2000),
        ("slack", 3000),
        ("slack-hook", 3000),
    ] {
        let key = format!("2026-11-23-api-down#0/{channel}  [");
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(&key))
            .unwrap_or_else(|| panic!("no {channel} line in\n{}", out.stdout));
        let counted = line.split('[').nth(1).unwrap().trim_end_matches(']');
        let (len, limit) = counted.split_once('/').unwrap();
        let len: usize = len.parse().unwrap();
        assert_eq!(limit, max.to_string(), "{line}");
        assert!(
            len <= max && len + 10 > max,
            "{channel}: shortened to fit: {line}"
        );
    }
    assert!(
        s.slack.received_requests().await.unwrap().is_empty()
            && s.telegram.received_requests().await.unwrap().is_empty()
    );
}
