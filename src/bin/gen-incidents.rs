//! `gen-incidents`: a deterministic generator of realistic incident history for benchmarks.
//!
//! It writes a complete statuscast repository for a fictional telecom: `statuscast.yaml` with 8–12
//! components, a team and three channels, `incidents/<year>/*.md` with N incidents spread over three
//! years (impacts minor/major/critical, 1–6 updates each, about 10 % maintenance, German and
//! English texts of 50–400 words per incident with lists and links, the newest few still open or
//! upcoming), and a broadcast ledger in which everything due before `--end` was posted, as in a
//! deployment that has been running all along (so a cron tick at `--end` has nothing to send).
//!
//! The same `--n`, `--seed` and `--end` give byte-identical files on every machine: the random
//! numbers come from a `SplitMix64` written out below, not from a library whose algorithm may change.
//!
//! ```text
//! cargo run --release --bin gen-incidents -- --n 10000 --seed 1 --out /tmp/sc-10k
//! cd /tmp/sc-10k && statuscast --now 2026-11-23T10:00:00Z build
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Duration, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;
use clap::Parser;

use statuscast::broadcast::channels::Remote;
use statuscast::broadcast::ledger::{Entry, State};
use statuscast::broadcast::plan::{self, Action};
use statuscast::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "gen-incidents",
    about = "Write a deterministic statuscast repository with N realistic incidents (for benchmarks)",
    after_help = "Example:\n  gen-incidents --n 10000 --seed 1 --out /tmp/sc-10k\n  cd /tmp/sc-10k && statuscast --now 2026-11-23T10:00:00Z build"
)]
struct Args {
    /// Number of incident files (maintenance included).
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Seed of the random numbers: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The folder to write into (created; must be empty or missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The history ends here: run statuscast with `--now` set to this moment.
    #[arg(long, default_value = "2026-11-23T10:00:00Z", value_name = "TIME")]
    end: String,
    /// Years of history before `--end`.
    #[arg(long, default_value_t = 3)]
    years: u32,
    /// Do not write the broadcast ledger.
    #[arg(long)]
    no_ledger: bool,
}

/// `SplitMix64` (Steele, Lea, Flood 2014): tiny, fast, and the same on every platform forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` %.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct ComponentDef {
    id: &'static str,
    name: &'static str,
    group: &'static str,
    description: &'static str,
    /// What breaks, in German and English, for titles.
    de: &'static str,
    en: &'static str,
}

const COMPONENTS: &[ComponentDef] = &[
    ComponentDef {
        id: "mobile",
        name: "Mobilfunk (LTE/5G)",
        group: "Netz",
        description: "Telefonie und mobiles Internet im LTE- und 5G-Netz.",
        de: "Mobilfunk",
        en: "Mobile network",
    },
    ComponentDef {
        id: "sms",
        name: "SMS & MMS",
        group: "Netz",
        description: "Versand und Empfang von SMS und MMS.",
        de: "SMS-Versand",
        en: "SMS delivery",
    },
    ComponentDef {
        id: "dsl",
        name: "DSL & Glasfaser",
        group: "Netz",
        description: "Internetanschlüsse zu Hause über DSL, VDSL und Glasfaser.",
        de: "DSL und Glasfaser",
        en: "DSL and fibre",
    },
    ComponentDef {
        id: "voice",
        name: "Festnetz-Telefonie",
        group: "Netz",
        description: "Telefonie über Ihren Festnetzanschluss.",
        de: "Festnetz-Telefonie",
        en: "Landline telephony",
    },
    ComponentDef {
        id: "tv",
        name: "Fernwerk TV",
        group: "Dienste",
        description: "Live-TV, Aufnahmen und Mediathek.",
        de: "Fernwerk TV",
        en: "Fernwerk TV",
    },
    ComponentDef {
        id: "email",
        name: "E-Mail",
        group: "Dienste",
        description: "Postfächer unter @fernwerk.example.",
        de: "E-Mail",
        en: "Email",
    },
    ComponentDef {
        id: "cloud",
        name: "Cloud-Speicher",
        group: "Dienste",
        description: "Online-Speicher für Fotos und Dokumente.",
        de: "Cloud-Speicher",
        en: "Cloud storage",
    },
    ComponentDef {
        id: "app",
        name: "Kundencenter & App",
        group: "Service",
        description: "Online-Kundencenter und Fernwerk-App.",
        de: "Kundencenter und App",
        en: "Customer portal and app",
    },
    ComponentDef {
        id: "hotline",
        name: "Kundenhotline",
        group: "Service",
        description: "Telefonische Beratung und Störungsannahme.",
        de: "Kundenhotline",
        en: "Customer hotline",
    },
    ComponentDef {
        id: "shop",
        name: "Onlineshop",
        group: "Service",
        description: "Bestellungen von Tarifen und Geräten.",
        de: "Onlineshop",
        en: "Online shop",
    },
    ComponentDef {
        id: "payment",
        name: "Zahlungen",
        group: "Service",
        description: "Lastschriften, Kartenzahlung und Aufladungen.",
        de: "Zahlungsabwicklung",
        en: "Payments",
    },
    ComponentDef {
        id: "roaming",
        name: "Roaming",
        group: "Netz",
        description: "Mobilfunk im Ausland über Partnernetze.",
        de: "Roaming",
        en: "Roaming",
    },
];

const TEAM: &[(&str, &str, &str)] = &[
    ("mk", "Maria Krüger", "MK"),
    ("jb", "Jonas Becker", "JB"),
    ("ay", "Ayşe Yılmaz", "AY"),
    ("tw", "Thomas Wendt", "TW"),
    ("lr", "Lena Richter", "LR"),
];

const CITIES: &[&str] = &[
    "Berlin",
    "Hamburg",
    "München",
    "Köln",
    "Frankfurt am Main",
    "Stuttgart",
    "Düsseldorf",
    "Leipzig",
    "Dortmund",
    "Essen",
    "Bremen",
    "Dresden",
    "Hannover",
    "Nürnberg",
    "Duisburg",
    "Bochum",
    "Wuppertal",
    "Bielefeld",
    "Bonn",
    "Münster",
    "Mannheim",
    "Karlsruhe",
    "Augsburg",
    "Wiesbaden",
    "Kiel",
    "Rostock",
    "Freiburg",
    "Erfurt",
    "Mainz",
    "Saarbrücken",
];

const TITLE_DE: &[&str] = &[
    "Störung {c} in {city}",
    "{c}: Ausfall im Raum {city}",
    "Eingeschränkter Dienst: {c}",
    "{c} vereinzelt nicht erreichbar",
    "Verzögerungen bei {c}",
    "{c}: Probleme nach Glasfaserschaden bei {city}",
    "Teilausfall {c} in {city} und Umgebung",
];
const TITLE_EN: &[&str] = &[
    "{c} outage in {city}",
    "{c}: degraded service around {city}",
    "{c} partly unavailable",
    "Delays affecting {c}",
    "{c}: disruption after a fibre cut near {city}",
    "Intermittent {c} issues in {city}",
];
const MAINT_TITLE_DE: &[&str] = &[
    "Wartung {c}",
    "Geplante Arbeiten: {c} in {city}",
    "Software-Update {c}",
    "Nächtliche Wartung {c}",
];
const MAINT_TITLE_EN: &[&str] = &[
    "Maintenance: {c}",
    "Planned work on {c} in {city}",
    "{c} software upgrade",
];

const SENT_DE: &[&str] = &[
    "Wir untersuchen derzeit Meldungen über Einschränkungen bei {c} im Raum {city}.",
    "Betroffen sind nach unseren Erkenntnissen Kundinnen und Kunden in {city} und den umliegenden Orten.",
    "Unsere Technikerinnen und Techniker sind bereits vor Ort und arbeiten mit Hochdruck an einer Lösung.",
    "Die Ursache ist ein beschädigtes Glasfaserkabel, das bei Tiefbauarbeiten getroffen wurde.",
    "Ein fehlerhaftes Software-Update an einem zentralen Netzknoten hat die Störung ausgelöst; wir spielen die vorherige Version wieder ein.",
    "Wir haben die Ursache gefunden und setzen die betroffenen Systeme schrittweise zurück.",
    "Die meisten Verbindungen funktionieren wieder, einzelne Anschlüsse können noch für kurze Zeit gestört sein.",
    "Bitte starten Sie Ihr Gerät nicht mehrfach neu, das verlängert die Anmeldung im Netz eher.",
    "Notrufe unter 110 und 112 sind von der Störung nicht betroffen.",
    "Wir beobachten die Lage weiter und melden uns, sobald es Neuigkeiten gibt.",
    "Nachrichten, die während der Störung verschickt wurden, werden jetzt nach und nach zugestellt.",
    "Wir bitten alle Betroffenen um Entschuldigung für die Unannehmlichkeiten.",
    "Die Reparatur dauert voraussichtlich noch einige Stunden, weil das Kabel auf einer Länge von mehreren Metern ersetzt werden muss.",
    "Sollte Ihr Anschluss danach weiterhin gestört sein, trennen Sie den Router für eine Minute vom Strom.",
    "Unsere Hotline ist wegen der vielen Anrufe stark ausgelastet; Informationen finden Sie auch hier auf der Statusseite.",
    "Als Ausweichlösung können Sie mit WLAN Call über Ihr Heimnetz telefonieren.",
    "Der Datenverkehr wird über einen redundanten Standort umgeleitet, daher kann es zu längeren Ladezeiten kommen.",
    "Alle Systeme laufen wieder stabil, die Störung ist behoben.",
];
const SENT_EN: &[&str] = &[
    "We are investigating reports of problems with {c} in the {city} area.",
    "Customers in {city} and the surrounding towns are affected, as far as we can tell.",
    "Our engineers are on site and working hard on a fix.",
    "The cause is a fibre cable that was damaged during construction work.",
    "A faulty software update on a central network node triggered the disruption; we are rolling it back.",
    "We have found the cause and are restarting the affected systems one by one.",
    "Most connections work again; some lines may stay disrupted for a short while.",
    "Please do not restart your device repeatedly, as this tends to delay reconnecting to the network.",
    "Emergency calls to 110 and 112 are not affected.",
    "We keep monitoring the situation and will post again as soon as we know more.",
    "Messages sent during the disruption are now being delivered gradually.",
    "We apologise to everyone affected for the inconvenience.",
    "The repair will take a few more hours, as several metres of cable have to be replaced.",
    "If your line still does not work afterwards, unplug your router for one minute.",
    "Our hotline is very busy because of the many calls; you will find updates on this page as well.",
    "In the meantime you can make calls over your home network with Wi-Fi Calling.",
    "Traffic is being routed through a redundant site, so pages may load more slowly.",
    "All systems are stable again and the disruption is resolved.",
];
const MAINT_DE: &[&str] = &[
    "In der Nacht modernisieren wir Technik in unserem Netz, damit {c} schneller und stabiler wird.",
    "Während der Arbeiten kann {c} im Raum {city} für einige Minuten unterbrochen sein.",
    "Bitte planen Sie wichtige Telefonate und Downloads außerhalb des Wartungsfensters.",
    "Die Arbeiten haben begonnen und laufen bisher nach Plan.",
    "Die Wartung ist abgeschlossen, alle Dienste laufen wieder normal.",
    "Vielen Dank für Ihre Geduld!",
];
const MAINT_EN: &[&str] = &[
    "Overnight we are upgrading equipment in our network to make {c} faster and more reliable.",
    "During the work, {c} around {city} may be interrupted for a few minutes.",
    "Please plan important calls and downloads outside the maintenance window.",
    "The work has started and is going to plan so far.",
    "The maintenance is complete and all services are back to normal.",
    "Thank you for your patience!",
];

const LIST_INTRO_DE: &[&str] = &[
    "Betroffen sind vor allem:",
    "Nach aktuellem Stand betroffen:",
    "Das können Sie jetzt tun:",
];
const LIST_INTRO_EN: &[&str] = &[
    "Mainly affected:",
    "Affected as of now:",
    "What you can do now:",
];
const LINKS: &[(&str, &str, &str)] = &[
    (
        "WLAN Call",
        "Wi-Fi Calling",
        "https://www.fernwerk.example/hilfe/wlan-call",
    ),
    (
        "Router neu starten",
        "restarting your router",
        "https://www.fernwerk.example/hilfe/router-neustart",
    ),
    (
        "Störungsmelder",
        "fault report form",
        "https://www.fernwerk.example/hilfe/stoerung-melden",
    ),
    (
        "Gutschrift beantragen",
        "request a credit",
        "https://www.fernwerk.example/kundencenter/gutschrift",
    ),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    De,
    En,
}

/// `YYYY-MM-DD HH:MM` in the site zone, with the offset only where the local time is ambiguous
/// (the night clocks go back), as a careful person would write it.
fn local(t: DateTime<Utc>, tz: Tz) -> String {
    let l = t.with_timezone(&tz);
    let text = l.format("%Y-%m-%d %H:%M").to_string();
    match tz.from_local_datetime(&l.naive_local()) {
        LocalResult::Single(_) => text,
        _ => format!("{text} {}", l.format("%:z")),
    }
}

/// The sentences that fit an update with this status: (German bank, English bank, indices).
fn pool(
    status: &str,
) -> (
    &'static [&'static str],
    &'static [&'static str],
    &'static [usize],
) {
    match status {
        "investigating" => (SENT_DE, SENT_EN, &[0, 1, 2, 7, 8, 9, 14, 15]),
        "identified" | "update" => (SENT_DE, SENT_EN, &[3, 4, 5, 12, 16, 2, 9, 15, 7]),
        "monitoring" => (SENT_DE, SENT_EN, &[6, 10, 9, 13, 16]),
        "resolved" => (SENT_DE, SENT_EN, &[17, 11, 13, 10]),
        "scheduled" => (MAINT_DE, MAINT_EN, &[0, 1, 2, 5]),
        "in_progress" => (MAINT_DE, MAINT_EN, &[3, 1]),
        "completed" => (MAINT_DE, MAINT_EN, &[4, 5]),
        _ => (SENT_DE, SENT_EN, &[1, 2, 9]),
    }
}

/// A sentence that fits `status`, filled in.
fn sentence(rng: &mut Rng, lang: Lang, status: &str, component: &str, city: &str) -> String {
    let (de, en, indices) = pool(status);
    let bank = if lang == Lang::De { de } else { en };
    bank[*rng.pick(indices)]
        .replace("{c}", component)
        .replace("{city}", city)
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// One update's Markdown body of about `target` words: paragraphs, sometimes a list, a link, bold.
fn body(
    rng: &mut Rng,
    lang: Lang,
    status: &str,
    (component, city): (&str, &str),
    target: usize,
) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut paragraph = String::new();
    let mut listed = false;
    while n < target {
        let s = sentence(rng, lang, status, component, city);
        n += words(&s);
        if !paragraph.is_empty() {
            paragraph.push(' ');
        }
        if rng.chance(8) {
            let _ = write!(paragraph, "**{s}**");
        } else {
            paragraph.push_str(&s);
        }
        if rng.chance(15) {
            let (de, en, url) = *rng.pick(LINKS);
            let label = if lang == Lang::De { de } else { en };
            let link = if rng.chance(25) {
                format!(" {url}")
            } else if lang == Lang::De {
                format!(" Mehr dazu: [{label}]({url}).")
            } else {
                format!(" More: [{label}]({url}).")
            };
            n += words(&link);
            paragraph.push_str(&link);
        }
        if rng.chance(35) || n >= target {
            out.push_str(&paragraph);
            out.push_str("\n\n");
            paragraph.clear();
            if !listed && n < target && rng.chance(30) {
                listed = true;
                let intro = rng.pick(if lang == Lang::De {
                    LIST_INTRO_DE
                } else {
                    LIST_INTRO_EN
                });
                out.push_str(intro);
                out.push_str("\n\n");
                for _ in 0..rng.range(2, 5) {
                    let item = rng.pick(CITIES);
                    let _ = writeln!(out, "- {item}");
                    n += 2;
                }
                out.push('\n');
            }
        }
    }
    if !paragraph.is_empty() {
        out.push_str(&paragraph);
        out.push('\n');
    }
    out.trim_end().to_string()
}

struct Generated {
    /// Relative path below `incidents/`.
    rel: String,
    text: String,
}

#[allow(clippy::too_many_lines)]
fn incident(
    rng: &mut Rng,
    k: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    components: &[&ComponentDef],
    tz: Tz,
) -> Generated {
    let lang = if rng.chance(65) { Lang::De } else { Lang::En };
    let maintenance = rng.chance(10);
    let city = *rng.pick(CITIES);
    let mut comps: Vec<&ComponentDef> = Vec::new();
    for _ in 0..rng.range(1, 3) {
        let c = *rng.pick(components);
        if !comps.iter().any(|x| x.id == c.id) {
            comps.push(c);
        }
    }
    let main = comps[0];
    let cname = if lang == Lang::De { main.de } else { main.en };
    let titles = match (maintenance, lang) {
        (false, Lang::De) => TITLE_DE,
        (false, Lang::En) => TITLE_EN,
        (true, Lang::De) => MAINT_TITLE_DE,
        (true, Lang::En) => MAINT_TITLE_EN,
    };
    let title = rng
        .pick(titles)
        .replace("{c}", cname)
        .replace("{city}", city);
    let impact = match rng.range(0, 99) {
        0..=49 => "minor",
        50..=84 => "major",
        _ => "critical",
    };
    let author = rng.pick(TEAM).0;
    // 50–400 words for the whole incident, spread over its updates.
    let total_words = rng.range(50, 400) as usize;

    let mut fm = String::from("---\n");
    let _ = writeln!(fm, "title: \"{}\"", title.replace('"', "'"));
    let ids: Vec<&str> = comps.iter().map(|c| c.id).collect();
    let _ = writeln!(fm, "components: [{}]", ids.join(", "));
    let _ = writeln!(fm, "impact: {impact}");
    if !maintenance && comps.len() > 1 && rng.chance(20) {
        let _ = writeln!(
            fm,
            "component_status: {{ {}: degraded_performance }}",
            ids[1]
        );
    }
    let _ = writeln!(fm, "author: {author}");

    let mut sections: Vec<(DateTime<Utc>, &str)> = Vec::new();
    if maintenance {
        // Announced at `start`, three days ahead; the newest ones are still upcoming at `end`.
        let window_start = start + Duration::days(3) + Duration::minutes(rng.range(0, 120) as i64);
        let window_end = window_start + Duration::minutes(30 * rng.range(2, 10) as i64);
        let _ = writeln!(
            fm,
            "scheduled: {{ start: {}, end: {} }}",
            local(window_start, tz),
            local(window_end, tz)
        );
        sections.push((start, "scheduled"));
        // Past windows: often announced as started and finished; one that was started by an update
        // is always finished by one (else it would overrun for ever).
        if window_end < end && rng.chance(60) {
            sections.push((window_start, "in_progress"));
            sections.push((window_end, "completed"));
        } else if window_end < end && rng.chance(50) {
            sections.push((window_end, "completed"));
        }
    } else {
        let count = rng.range(1, 6) as usize;
        let mut t = start;
        let mut statuses: Vec<&str> = vec!["investigating"];
        let middle = ["identified", "update", "monitoring"];
        while statuses.len() + 1 < count {
            statuses.push(middle[(statuses.len() - 1).min(2)]);
        }
        if count > 1 {
            statuses.push("resolved");
        }
        // The newest incidents may still be open: their later updates have not happened yet.
        let recent = end - start < Duration::hours(36);
        for (i, s) in statuses.iter().enumerate() {
            if i > 0 {
                t += Duration::minutes(rng.range(10, 240) as i64);
            }
            if recent && t > end - Duration::minutes(5) {
                break;
            }
            sections.push((t, s));
        }
        if !recent && statuses.len() == 1 {
            // Old incidents are resolved: add the closing update.
            sections.push((t + Duration::minutes(rng.range(20, 300) as i64), "resolved"));
        }
    }
    fm.push_str("---\n");
    if rng.chance(20) {
        fm.push('\n');
        fm.push_str(&body(rng, lang, "summary", (cname, city), 25));
        fm.push('\n');
    }
    let per = (total_words / sections.len().max(1)).max(12);
    for (at, status) in &sections {
        let _ = write!(fm, "\n## {} {status}\n", local(*at, tz));
        fm.push_str(&body(rng, lang, status, (cname, city), per));
        fm.push('\n');
    }
    let date = start.with_timezone(&tz).format("%Y-%m-%d");
    let year = start.with_timezone(&tz).format("%Y");
    let mut s = slug::slugify(&title);
    s.truncate(40);
    let s = s.trim_end_matches('-');
    Generated {
        rel: format!("{year}/{date}-{s}-{k:05}.md"),
        text: fm,
    }
}

fn config_yaml(components: &[&ComponentDef]) -> String {
    let mut y = String::from(
        "# Generated by gen-incidents (statuscast benchmark): a fictional telecom with years of history.\nsite:\n  title: \"Fernwerk Telekom – Netzstatus\"\n  base_url: https://status.fernwerk.example\n  language: de\n  timezone: Europe/Berlin\n  description: \"Aktueller Status von Mobilfunk, Internet, Telefonie, TV und unseren Serviceangeboten.\"\nsupport:\n  hotline: \"0800 123 45 67\"\n  hours: \"Mo–Fr 8–20 Uhr\"\n  email: hilfe@fernwerk.example\n  url: https://www.fernwerk.example/hilfe\ncomponents:\n",
    );
    for c in components {
        let _ = writeln!(
            y,
            "  - {{ id: {}, name: \"{}\", group: {}, description: \"{}\" }}",
            c.id, c.name, c.group, c.description
        );
    }
    y.push_str("team:\n");
    for (id, name, initials) in TEAM {
        let _ = writeln!(y, "  - {{ id: {id}, name: {name}, initials: {initials} }}");
    }
    y.push_str(
        "broadcast:\n  max_age: 2h\n  reminders: [24h, 1h]\n  channels:\n    - { id: x, type: x, consumer_key_env: X_CONSUMER_KEY, consumer_secret_env: X_CONSUMER_SECRET, access_token_env: X_ACCESS_TOKEN, access_token_secret_env: X_ACCESS_TOKEN_SECRET, min_impact: minor }\n    - { id: mastodon, type: mastodon, instance: https://mastodon.example, token_env: MASTODON_TOKEN }\n    - { id: bluesky, type: bluesky, service: https://bsky.example, identifier_env: BLUESKY_HANDLE, password_env: BLUESKY_APP_PASSWORD }\n",
    );
    y
}

/// The ledger of a deployment that has run all along: every post of every incident sent when it
/// was due, and what is due at `end` settled, so a cron tick at `end` has nothing to do.
fn write_ledger(dir: &Path, end: DateTime<Utc>) -> Result<usize> {
    let config = Config::load(&dir.join("statuscast.yaml"))
        .map_err(|d| anyhow::anyhow!("the generated config is invalid:\n{d}"))?;
    let incidents = statuscast::source::load(&config)
        .map_err(|d| anyhow::anyhow!("the generated incidents are invalid:\n{d}"))?;
    let path = statuscast::broadcast::ledger_path(&config);
    std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    // History: every post of every incident, sent when it was due. Old incidents get the keys the
    // plan gives them (`<id>#<n>/<channel>`, `<id>#announce/<channel>`, …) directly; the last days
    // go through the plan itself, which is slower (it renders and counts every text).
    let channels: Vec<&str> = config
        .broadcast
        .channels
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    let recent = end - Duration::days(2);
    let mut history: Vec<Entry> = Vec::new();
    let sent = |key: String, at: DateTime<Utc>, history: &mut Vec<Entry>| {
        let id = format!("{:016x}", history.len() + 1);
        history.push(Entry {
            key,
            state: State::Sent,
            at,
            remote: Some(Remote {
                id,
                url: None,
                cid: None,
            }),
            note: None,
        });
    };
    for i in incidents.iter().rev() {
        if i.updated_at(end) < recent {
            for ch in &channels {
                if let Some(w) = i.scheduled {
                    let first = i.updates.first().map_or(w.start, |u| u.at);
                    sent(format!("{}#announce/{ch}", i.id), first, &mut history);
                    sent(format!("{}#start/{ch}", i.id), w.start, &mut history);
                    sent(format!("{}#end/{ch}", i.id), w.end, &mut history);
                } else {
                    for (n, u) in i.updates.iter().enumerate() {
                        sent(format!("{}#{n}/{ch}", i.id), u.at, &mut history);
                    }
                }
            }
            continue;
        }
        for p in plan::candidates(
            &config,
            std::slice::from_ref(i),
            recent,
            std::time::Duration::ZERO,
        ) {
            if p.due <= recent {
                sent(p.key.clone(), p.due, &mut history);
            }
        }
    }
    history.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
    for e in &history {
        serde_json::to_writer(&mut out, e)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    drop(out);
    // Now: whatever the plan still wants at `end` was handled by the previous tick.
    let ledger = statuscast::broadcast::ledger::Ledger::open(&path, false)?;
    let posts = plan::candidates(&config, &incidents, end, std::time::Duration::ZERO);
    let settle: Vec<Entry> = plan::decide(&config, &posts, &ledger, end)
        .into_iter()
        .filter_map(|d| {
            let (state, note) = match d.action {
                Action::Send { .. } => (State::Sent, None),
                Action::Record { state, note } => (state, Some(note)),
                _ => return None,
            };
            Some(Entry {
                key: d.post.key.clone(),
                state,
                at: end,
                remote: None,
                note,
            })
        })
        .collect();
    let mut file = std::fs::OpenOptions::new().append(true).open(&path)?;
    for e in &settle {
        let mut l = serde_json::to_vec(e)?;
        l.push(b'\n');
        file.write_all(&l)?;
    }
    Ok(history.len() + settle.len())
}

fn run(args: &Args) -> Result<()> {
    let end = statuscast::model::time::parse_now(&args.end).map_err(|e| anyhow::anyhow!(e))?;
    let tz: Tz = chrono_tz::Europe::Berlin;
    if args.out.exists()
        && std::fs::read_dir(&args.out)
            .with_context(|| format!("cannot read {}", args.out.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: pass a new folder (the generator never overwrites files)",
            args.out.display()
        );
    }
    let mut rng = Rng(args.seed);
    let n_components = rng.range(8, 12) as usize;
    let components: Vec<&ComponentDef> = COMPONENTS.iter().take(n_components).collect();

    // Start times spread over the years before `end`, oldest first; the newest one a few hours ago.
    let span_minutes = i64::from(args.years) * 365 * 24 * 60;
    let mut starts: Vec<DateTime<Utc>> = (0..args.n)
        .map(|_| end - Duration::minutes(rng.range(90, span_minutes as u64) as i64))
        .collect();
    starts.sort();

    let incidents_dir = args.out.join("incidents");
    std::fs::create_dir_all(&incidents_dir)
        .with_context(|| format!("cannot create {}", incidents_dir.display()))?;
    std::fs::write(args.out.join("statuscast.yaml"), config_yaml(&components))?;
    let mut words_total = 0usize;
    for (k, start) in starts.iter().enumerate() {
        let g = incident(&mut rng, k, *start, end, &components, tz);
        words_total += words(&g.text);
        let path = incidents_dir.join(&g.rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, g.text)?;
    }
    let ledger = if args.no_ledger {
        0
    } else {
        write_ledger(&args.out, end)?
    };
    println!(
        "wrote {} incidents ({} components, ~{} words, {} ledger entries) to {}; build with --now {}",
        args.n,
        components.len(),
        words_total,
        ledger,
        args.out.display(),
        end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
