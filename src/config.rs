//! `statuscast.yaml`: strict (unknown keys are errors, with the closest known key), explicit defaults,
//! every path relative to the config file's folder.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::broadcast::config::{BroadcastConfig, Recurring};
use crate::broadcast::schedule::{CronSchedule, ServiceHours};
use crate::diagnostics::{Diagnostic, Diagnostics, did_you_mean};
use crate::source::yaml::{Doc, Seg, fields_of, path_is};

/// Languages with complete texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    De,
}

impl Lang {
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub site: Site,
    /// Folder of incident files, relative to the config file.
    #[serde(default = "default_incidents_dir")]
    pub incidents_dir: PathBuf,
    /// Folder of themes, relative to the config file.
    #[serde(default = "default_themes_dir")]
    pub themes_dir: PathBuf,
    #[serde(default)]
    pub support: Option<Support>,
    pub components: Vec<Component>,
    #[serde(default)]
    pub team: Vec<TeamMember>,
    /// Posts to social media and chat channels.
    #[serde(default)]
    pub broadcast: BroadcastConfig,
    /// The folder the config file is in; every relative path is resolved against it.
    #[serde(skip)]
    pub root: PathBuf,
    /// The parsed `site.timezone`.
    #[serde(skip, default = "default_tz")]
    pub tz: Tz,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub title: String,
    pub base_url: String,
    #[serde(default)]
    pub language: Lang,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default = "default_theme")]
    pub theme: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Support {
    #[serde(default)]
    pub hotline: Option<String>,
    #[serde(default)]
    pub hours: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub social: Vec<SocialLink>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SocialLink {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TeamMember {
    pub id: String,
    pub name: String,
    pub initials: String,
}

fn default_incidents_dir() -> PathBuf {
    PathBuf::from("incidents")
}
fn default_themes_dir() -> PathBuf {
    PathBuf::from("themes")
}
fn default_timezone() -> String {
    "UTC".to_string()
}
fn default_theme() -> String {
    "default".to_string()
}
fn default_tz() -> Tz {
    Tz::UTC
}

/// Does `name` look like an environment variable name (`MASTODON_TOKEN`)?
#[must_use]
pub fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Is `id` made of lowercase ASCII letters, digits and inner dashes?
#[must_use]
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn schema(path: &[Seg]) -> Option<&'static [&'static str]> {
    if path.is_empty() {
        Some(fields_of::<Config>())
    } else if path_is(path, &["site"]) {
        Some(fields_of::<Site>())
    } else if path_is(path, &["support"]) {
        Some(fields_of::<Support>())
    } else if path_is(path, &["support", "social", "*"]) {
        Some(fields_of::<SocialLink>())
    } else if path_is(path, &["components", "*"]) {
        Some(fields_of::<Component>())
    } else if path_is(path, &["team", "*"]) {
        Some(fields_of::<TeamMember>())
    } else if path_is(path, &["broadcast"]) {
        Some(fields_of::<BroadcastConfig>())
    } else if path_is(path, &["broadcast", "recurring", "*"]) {
        Some(fields_of::<Recurring>())
    } else {
        None
    }
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

impl Config {
    /// Read and validate the config file.
    ///
    /// # Errors
    /// Every problem found, with positions.
    pub fn load(path: &Path) -> Result<Config, Diagnostics> {
        let bytes = std::fs::read(path).map_err(|e| {
            Diagnostic::new(format!(
                "cannot read the config file: {}",
                crate::io_reason(&e)
            ))
            .at_file(path)
            .hint("run statuscast in the folder of your statuscast.yaml, or pass --config PATH")
        })?;
        let text = crate::source::utf8(path, &bytes)?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(text, path, &root)
    }

    /// Parse and validate config text; `path` is only used in messages, `root` resolves paths.
    ///
    /// # Errors
    /// Every problem found, with positions.
    pub fn parse(text: &str, path: &Path, root: &Path) -> Result<Config, Diagnostics> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let doc = Doc {
            path,
            text,
            file_text: text,
            line_offset: 0,
        };
        if text.trim().is_empty() {
            return Err(Diagnostic::new("the config file is empty")
                .at_file(path)
                .hint("start from `statuscast init`, or see the README for the keys of statuscast.yaml")
                .into());
        }
        let value = doc.parse_value()?;
        let mut problems = Diagnostics::default();
        doc.unknown_keys(&value, &schema, &mut problems);
        if !problems.is_empty() {
            problems.cap();
            return Err(problems);
        }
        let mut config: Config =
            doc.parse("see the README for the keys of statuscast.yaml and their types")?;
        config.root = root.to_path_buf();
        config.validate(&doc, &mut problems);
        problems.cap();
        problems.into_result(config)
    }

    fn validate(&mut self, doc: &Doc, problems: &mut Diagnostics) {
        if let Ok(tz) = self.site.timezone.parse::<Tz>() {
            self.tz = tz;
        } else {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
            problems.push(
                doc.error_at_value(
                    &[key("site"), key("timezone")],
                    &self.site.timezone,
                    format!("unknown time zone \"{}\"", self.site.timezone),
                )
                .hint(format!(
                    "{}use an IANA zone name such as Europe/Berlin or UTC",
                    did_you_mean(&self.site.timezone, names)
                )),
            );
        }
        let url = self.site.base_url.trim_end_matches('/').to_string();
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.contains(char::is_whitespace)
        {
            problems.push(
                doc.error_at_key(
                    &[key("site"), key("base_url")],
                    "base_url must be an absolute http(s) URL",
                )
                .hint("write the address the page is served at, e.g. https://status.example.com"),
            );
        }
        self.site.base_url = url;
        let theme = &self.site.theme;
        if theme.is_empty()
            || theme.starts_with('.')
            || theme.contains(['/', '\\'])
            || std::path::Path::new(theme).is_absolute()
        {
            problems.push(
                doc.error_at_value(
                    &[key("site"), key("theme")],
                    theme,
                    format!("theme \"{theme}\" is not a folder name"),
                )
                .hint("name a folder in themes/ (e.g. theme: acme for themes/acme/), without slashes or dots in front"),
            );
        }
        if self.site.title.trim().is_empty() {
            problems
                .push(doc.error_at_key(&[key("site"), key("title")], "the site title is empty"));
        }
        if self.components.is_empty() {
            problems.push(
                doc.error_at_key(&[key("components")], "no components declared")
                    .hint("declare at least one component with an id and a name"),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in self.components.iter().enumerate() {
            if problems.is_full() {
                break;
            }
            let at = [key("components"), Seg::Index(i), key("id")];
            if !is_valid_id(&c.id) {
                problems.push(
                    doc.error_at_key(&at, format!("invalid component id \"{}\"", c.id))
                        .hint("ids use lowercase letters, digits and dashes, e.g. mobile or dsl-fiber"),
                );
            }
            if !seen.insert(c.id.as_str()) {
                problems.push(
                    doc.error_at_key(&at, format!("component \"{}\" is declared twice", c.id))
                        .hint("give each component its own id"),
                );
            }
            if c.id == "status" {
                problems.push(
                    doc.error_at_key(&at, "the component id \"status\" is reserved")
                        .hint("badges/status.svg is the whole page's badge; give the component another id, e.g. status-page"),
                );
            }
        }
        self.validate_broadcast(doc, problems);
        let mut seen = std::collections::BTreeSet::new();
        for (i, m) in self.team.iter().enumerate() {
            if problems.is_full() {
                break;
            }
            let at = [key("team"), Seg::Index(i), key("id")];
            if !is_valid_id(&m.id) {
                problems.push(
                    doc.error_at_key(&at, format!("invalid team member id \"{}\"", m.id))
                        .hint("ids use lowercase letters, digits and dashes, e.g. mk"),
                );
            }
            if !seen.insert(m.id.as_str()) {
                problems.push(
                    doc.error_at_key(&at, format!("team member \"{}\" is declared twice", m.id)),
                );
            }
        }
    }

    fn validate_broadcast(&self, doc: &Doc, problems: &mut Diagnostics) {
        let b = &self.broadcast;
        let at = |rest: &[Seg]| {
            let mut p = vec![key("broadcast")];
            p.extend_from_slice(rest);
            p
        };
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in b.channels.iter().enumerate() {
            if problems.is_full() {
                break;
            }
            let here = at(&[key("channels"), Seg::Index(i)]);
            let mut id_at = here.clone();
            id_at.push(key("id"));
            if !is_valid_id(&c.id) || !seen.insert(c.id.as_str()) {
                problems.push(
                    doc.error_at_key(
                        &id_at,
                        format!("channel id \"{}\" is invalid or used twice", c.id),
                    )
                    .hint("give each channel its own id of lowercase letters, digits and dashes"),
                );
            }
            for (field, var) in c.env_fields() {
                if !is_env_name(&var) {
                    let mut p = here.clone();
                    p.push(Seg::Key(field.clone()));
                    // Never echo the value, not even in the excerpt: it may be the secret itself.
                    let (line, column, width) = crate::source::yaml::locate(doc.text, &p);
                    problems.push(
                        Diagnostic::new(format!("{field} must name an environment variable, not hold a value"))
                            .at(doc.span(line, column, width), "")
                            .hint(format!(
                                "put the secret into an environment variable (e.g. {}_{}) and write its NAME here; never commit tokens",
                                c.id.to_uppercase().replace('-', "_"),
                                field.trim_end_matches("_env").to_uppercase()
                            )),
                    );
                }
            }
            if let Err(e) = c.service.validate() {
                let mut p = here.clone();
                p.push(key("type"));
                problems.push(
                    doc.error_at_key(&p, format!("channel \"{}\": {e}", c.id))
                        .hint("see the Broadcasting section of the README for each channel's keys"),
                );
            }
            if let Some(t) = &c.template
                && let Err(e) = tera::Tera::default().add_raw_template("template", t)
            {
                let mut p = here.clone();
                p.push(key("template"));
                problems.push(
                        doc.error_at_key(&p, format!("the template does not parse: {}", crate::site::theme::tera_reason(&e)))
                            .hint("templates use Tera syntax, e.g. \"[{{ label }}] {{ title }}: {{ text }} {{ link }}\""),
                    );
            }
        }
        let channel_ids: Vec<&str> = b.channels.iter().map(|c| c.id.as_str()).collect();
        if let Some(h) = &b.service_hours
            && let Err(e) = ServiceHours::parse(h)
        {
            problems.push(doc.error_at_key(&at(&[key("service_hours")]), e.to_string()).hint(
                    "write days and hours like \"Mon-Fri 08:00-20:00, Sat 09:00-14:00\" (site time zone)",
                ));
        }
        if let Some(s) = &b.schedule
            && let Err(e) = CronSchedule::parse(s)
        {
            problems.push(doc.error_at_key(&at(&[key("schedule")]), e.to_string()));
        }
        for (i, r) in b.recurring.iter().enumerate() {
            if problems.is_full() {
                break;
            }
            let here = at(&[key("recurring"), Seg::Index(i)]);
            if let Err(e) = CronSchedule::parse(&r.cron) {
                let mut p = here.clone();
                p.push(key("cron"));
                problems.push(doc.error_at_key(&p, e.to_string()).hint(
                    "use crontab syntax: minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1\" for Mondays 09:00",
                ));
            }
            for c in r.channels.iter().flatten() {
                if !channel_ids.contains(&c.as_str()) {
                    let mut p = here.clone();
                    p.push(key("channels"));
                    problems.push(
                        doc.error_at_value(&p, c, format!("unknown channel \"{c}\""))
                            .hint(format!(
                                "{}channels are declared under broadcast.channels",
                                did_you_mean(c, channel_ids.iter().copied())
                            )),
                    );
                }
            }
        }
    }

    /// The incidents folder, resolved.
    #[must_use]
    pub fn incidents_path(&self) -> PathBuf {
        self.root.join(&self.incidents_dir)
    }

    /// The folder of the configured theme, resolved.
    #[must_use]
    pub fn theme_path(&self) -> PathBuf {
        self.root.join(&self.themes_dir).join(&self.site.theme)
    }

    #[must_use]
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }

    #[must_use]
    pub fn member(&self, id: &str) -> Option<&TeamMember> {
        self.team.iter().find(|m| m.id == id)
    }

    /// A small valid config for unit tests.
    #[must_use]
    pub fn for_test() -> Config {
        let text = "site:\n  title: Test\n  base_url: https://status.example.com\n  language: en\n  timezone: Europe/Berlin\ncomponents:\n  - { id: mobile, name: Mobile, group: Network }\n  - { id: sms, name: SMS, group: Network }\n  - { id: web, name: Website }\nteam:\n  - { id: mk, name: Maria Krüger, initials: MK }\n";
        Config::parse(text, Path::new("statuscast.yaml"), Path::new("."))
            .expect("test config is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Diagnostics> {
        Config::parse(text, Path::new("statuscast.yaml"), Path::new("."))
    }

    #[test]
    fn test_config_parses_with_defaults() {
        let c = Config::for_test();
        assert_eq!(c.tz, chrono_tz::Europe::Berlin);
        assert_eq!(c.incidents_dir, PathBuf::from("incidents"));
        assert_eq!(c.site.theme, "default");
        assert_eq!(c.member("mk").unwrap().initials, "MK");
    }

    #[test]
    fn unknown_keys_are_reported_with_suggestion_and_position() {
        let err = parse("site:\n  titel: T\n  base_url: https://x.example\ncomponents:\n  - { id: a, name: A }\n  - id: b\n    nmae: B\n")
            .unwrap_err();
        assert_eq!(err.len(), 2, "{err}");
        let first = err.0[0].to_string();
        assert!(
            first.starts_with("statuscast.yaml:2:3: error: unknown key \"titel\""),
            "{first}"
        );
        assert!(first.contains("did you mean \"title\"?"), "{first}");
        let second = err.0[1].to_string();
        assert!(
            second.starts_with("statuscast.yaml:7:5: error: unknown key \"nmae\""),
            "{second}"
        );
    }

    #[test]
    fn bad_timezone_and_duplicate_component_are_both_reported() {
        let err = parse("site:\n  title: T\n  base_url: https://x.example\n  timezone: Europe/Berln\ncomponents:\n  - { id: a, name: A }\n  - { id: a, name: B }\n")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("statuscast.yaml:4:13: error: unknown time zone \"Europe/Berln\""),
            "{text}"
        );
        assert!(text.contains("did you mean \"Europe/Berlin\"?"), "{text}");
        assert!(text.contains("component \"a\" is declared twice"), "{text}");
    }

    #[test]
    fn type_errors_carry_the_serde_position() {
        let err = parse(
            "site:\n  title: T\n  base_url: https://x.example\n  language: fr\ncomponents: []\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("statuscast.yaml:4:"), "{text}");
        assert!(text.contains("unknown variant `fr`"), "{text}");
    }
}
