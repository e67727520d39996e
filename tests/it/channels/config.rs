//! Config parsing and credential handling: names, not values; no secret in any output.

use serde::Deserialize;

use crate::channels::common::*;

/// How the lead's config embeds a channel: its own keys plus the flattened channel settings.
#[derive(Debug, Deserialize)]
struct Entry {
    id: String,
    #[serde(default)]
    min_impact: Option<String>,
    #[serde(flatten)]
    channel: ChannelConfig,
}

const YAML: &str = r"
- id: x
  type: x
  api_base: https://api.x.com
  consumer_key_env: X_CONSUMER_KEY
  consumer_secret_env: X_CONSUMER_SECRET
  access_token_env: X_ACCESS_TOKEN
  access_token_secret_env: X_ACCESS_TOKEN_SECRET
- id: mastodon
  type: mastodon
  min_impact: minor
  instance: https://mastodon.social
  token_env: MASTODON_TOKEN
  visibility: public
  max_chars: 500
- id: bluesky
  type: bluesky
  service: https://bsky.social
  identifier_env: BLUESKY_HANDLE
  password_env: BLUESKY_APP_PASSWORD
";

const SECRETS: [(&str, &str); 7] = [
    ("X_CONSUMER_KEY", "xck-SECRET-111"),
    ("X_CONSUMER_SECRET", "xcs-SECRET-222"),
    ("X_ACCESS_TOKEN", "xat-SECRET-333"),
    ("X_ACCESS_TOKEN_SECRET", "xas-SECRET-444"),
    ("MASTODON_TOKEN", "mt-SECRET-555"),
    ("BLUESKY_HANDLE", "fernwerk.bsky.social"),
    ("BLUESKY_APP_PASSWORD", "bp-SECRET-666"),
];

#[test]
fn documented_yaml_parses_inside_a_flattened_entry() {
    let entries: Vec<Entry> = serde_yaml::from_str(YAML).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1].id, "mastodon");
    assert_eq!(entries[1].min_impact.as_deref(), Some("minor"));
    let ChannelConfig::Mastodon(m) = &entries[1].channel else {
        panic!()
    };
    assert_eq!(m.max_chars, Some(500));
    assert_eq!(m.visibility, ch::Visibility::Public);
    assert!(matches!(&entries[0].channel, ChannelConfig::X(_)));
    assert!(matches!(&entries[2].channel, ChannelConfig::Bluesky(_)));
}

#[test]
fn defaults_apply() {
    let ChannelConfig::X(x) = config(
        "type: x\nconsumer_key_env: A\nconsumer_secret_env: B\naccess_token_env: C\naccess_token_secret_env: D\n",
    ) else {
        panic!()
    };
    assert_eq!(x.api_base, "https://api.x.com");
    let ChannelConfig::Bluesky(b) = config("type: bluesky\nidentifier_env: H\npassword_env: P\n")
    else {
        panic!()
    };
    assert_eq!(b.service, "https://bsky.social");
    let ChannelConfig::Mastodon(m) =
        config("type: mastodon\ninstance: https://m.example\ntoken_env: T\n")
    else {
        panic!()
    };
    assert_eq!(m.visibility, ch::Visibility::Public);
    assert_eq!(m.max_chars, None);
}

#[test]
fn unknown_keys_are_refused_even_when_flattened() {
    let yaml = "- id: m\n  type: mastodon\n  instance: https://m.example\n  tokn_env: T\n";
    let err = serde_yaml::from_str::<Vec<Entry>>(yaml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokn_env"), "{err}");
    let err = serde_yaml::from_str::<ChannelConfig>(
        "type: mastodon\ninstance: https://m.example\ntoken_env: T\nvisibility: everyone\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("everyone"), "{err}");
}

fn assert_send<T: Send>(_: T) {}

#[test]
fn every_channel_builds_from_the_environment_without_leaking_secrets() {
    let entries: Vec<Entry> = serde_yaml::from_str(YAML).unwrap();
    let env = env_of(&SECRETS);
    let dir = tempfile::tempdir().unwrap();
    for entry in &entries {
        let channel = Channel::from_config(&entry.channel, &env, &options(dir.path())).unwrap();
        assert_eq!(channel.kind(), entry.id);
        // The engine may spawn one task per channel: the futures must be Send.
        let p = post("k#0/x", "t");
        assert_send(channel.send(&p));
        assert_send(send_with_retry(
            &channel,
            &p,
            DEFAULT_BUDGET,
            &FakeSleeper::default(),
        ));
        assert_send(channel.check());
        let shown = format!("{channel:?} {:?}", entry.channel);
        for (_, value) in SECRETS.iter().filter(|(k, _)| *k != "BLUESKY_HANDLE") {
            assert!(!shown.contains(value), "{value} leaked into {shown}");
        }
    }
    assert_eq!(format!("{:?}", ch::Secret::new("abc")), "***");
}

#[test]
fn missing_variable_is_named() {
    let cfg = config("type: mastodon\ninstance: https://m.example\ntoken_env: MASTODON_TOKEN\n");
    let dir = tempfile::tempdir().unwrap();
    let err = Channel::from_config(&cfg, &env_of(&[]), &options(dir.path())).unwrap_err();
    assert_eq!(
        err,
        ConfigError::MissingEnv {
            field: "token_env",
            var: "MASTODON_TOKEN".into()
        }
    );
    assert!(err.to_string().contains("MASTODON_TOKEN"));
    // Set but empty counts as missing.
    let err = Channel::from_config(
        &cfg,
        &env_of(&[("MASTODON_TOKEN", " ")]),
        &options(dir.path()),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::MissingEnv { .. }));

    let mut all = SECRETS.to_vec();
    all.retain(|(k, _)| *k != "X_ACCESS_TOKEN_SECRET");
    let entries: Vec<Entry> = serde_yaml::from_str(YAML).unwrap();
    let err =
        Channel::from_config(&entries[0].channel, &env_of(&all), &options(dir.path())).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("X_ACCESS_TOKEN_SECRET") && text.contains("access_token_secret_env"),
        "{text}"
    );
    assert!(!text.contains("SECRET-"), "{text}");
}

#[test]
fn a_token_where_a_variable_name_belongs_is_refused_without_echoing_it() {
    let cfg =
        config("type: mastodon\ninstance: https://m.example\ntoken_env: zY9_kq-81LmQ0aa7Xw\n");
    let dir = tempfile::tempdir().unwrap();
    let env = |_: &str| -> Option<String> { panic!("must not look up a token as a variable name") };
    let err = Channel::from_config(&cfg, &env, &options(dir.path())).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::NotAnEnvName {
                field: "token_env",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("put the token in an environment variable and name the variable here"),
        "{text}"
    );
    assert!(!text.contains("zY9_kq") && !format!("{err:?}").contains("zY9_kq"));
}

#[test]
fn insecure_or_malformed_urls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_of(&[("T", "tok")]);
    for instance in [
        "http://mastodon.social",
        "mastodon.social",
        "https://u:p@m.example",
        "ftp://m.example",
    ] {
        let cfg = config(&format!(
            "type: mastodon\ninstance: {instance}\ntoken_env: T\n"
        ));
        let err = Channel::from_config(&cfg, &env, &options(dir.path())).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::BadUrl {
                    field: "instance",
                    ..
                }
            ),
            "{instance}: {err:?}"
        );
    }
}
