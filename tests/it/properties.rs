//! Property tests (proptest) of the library: an update heading written by statuscast reads back
//! as the same moment and status; a fitted post never exceeds its channel's limit by that
//! channel's count and never splits a grapheme; uptime stays within 0–100 %.

use std::path::Path;

use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation as _;

use statuscast::broadcast::text::{Counting, ELLIPSIS, Parts, count, fit, fits};
use statuscast::config::Config;
use statuscast::model::uptime::uptime;
use statuscast::model::{ComponentStatus, Impact, Incident, Status, Update, Window};
use statuscast::source::incident::{format_heading, parse};

/// Zones with DST (north and south), a 30-minute DST shift, odd offsets, and none.
const ZONES: [Tz; 7] = [
    Tz::Europe__Berlin,
    Tz::America__New_York,
    Tz::Australia__Lord_Howe,
    Tz::Asia__Kathmandu,
    Tz::Pacific__Chatham,
    Tz::America__St_Johns,
    Tz::UTC,
];

fn moment() -> impl Strategy<Value = DateTime<Utc>> {
    // 2000–2099, whole seconds; minutes mostly, so DST nights are hit often enough.
    (946_684_800i64..4_102_444_800i64, prop::bool::weighted(0.2)).prop_map(|(secs, with_secs)| {
        let secs = if with_secs { secs } else { secs - secs % 60 };
        Utc.timestamp_opt(secs, 0).unwrap()
    })
}

/// Moments within a few hours of a DST change in Europe/Berlin or New York.
fn dst_moment() -> impl Strategy<Value = DateTime<Utc>> {
    let changes = [
        "2026-03-29T01:00:00Z",
        "2026-10-25T01:00:00Z",
        "2026-03-08T07:00:00Z",
        "2026-11-01T06:00:00Z",
    ];
    (0..changes.len(), -180i64..180).prop_map(move |(i, minutes)| {
        DateTime::parse_from_rfc3339(changes[i])
            .unwrap()
            .with_timezone(&Utc)
            + TimeDelta::minutes(minutes)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(300)))]

    #[test]
    fn an_update_heading_reads_back_as_written(
        at in prop_oneof![moment(), dst_moment()],
        zone in 0..ZONES.len(),
        status in 0..Status::INCIDENT.len() + Status::MAINTENANCE.len(),
    ) {
        let tz = ZONES[zone];
        let status = Status::INCIDENT.into_iter().chain(Status::MAINTENANCE).nth(status).unwrap();
        let mut config = Config::for_test();
        config.tz = tz;
        let heading = format_heading(at, tz, status);
        let front = if status.is_maintenance() {
            "---\ntitle: W\ncomponents: [web]\nscheduled: { start: 2030-01-01 00:00, end: 2030-01-01 01:00 }\n---\n"
        } else {
            "---\ntitle: W\ncomponents: [web]\n---\n"
        };
        let text = format!("{front}{heading}\nText.\n");
        let incident = parse(Path::new("incidents/2026-01-01-x.md"), text.as_bytes(), &config)
            .map_err(|e| TestCaseError::fail(format!("{heading:?} in {tz}: {e}")))?;
        prop_assert_eq!(incident.updates.len(), 1);
        prop_assert_eq!(incident.updates[0].at, at, "{} in {}", heading, tz);
        prop_assert_eq!(incident.updates[0].status, status);
    }
}

/// Pieces of prose that stress counting and cutting: umlauts, combining marks, emoji sequences
/// (ZWJ families, flags, skin tones), CJK, right-to-left text, URLs with and without a scheme,
/// mentions, ellipses and long words.
const PIECES: &[&str] = &[
    "Störung",
    "im",
    "Mobilfunknetz",
    "e\u{301}",
    "Z\u{335}\u{321}a\u{334}",
    "👨‍👩‍👧‍👦",
    "🇩🇪",
    "👍🏽",
    "東京で障害が発生しています",
    "انقطاع",
    "שירות",
    "https://status.fernwerk.example/incidents/2026-11-20-mobilfunk/",
    "fernwerk.example/hilfe",
    "@ops@social.example",
    "…",
    "...",
    "Donaudampfschifffahrtsgesellschaftskapitän",
    "—",
    "\u{200d}",
    "a\u{308}\u{301}",
];

/// Prose of many bytes per grapheme (emoji sequences, CJK, combining marks), where byte limits
/// bind before grapheme limits.
fn dense_prose() -> impl Strategy<Value = String> {
    let dense = [
        "👨‍👩‍👧‍👦",
        "🇩🇪",
        "👍🏽",
        "東京で障害",
        "Z\u{335}\u{321}a\u{334}",
        "a\u{308}\u{301}",
    ];
    prop::collection::vec((0..dense.len(), prop::bool::ANY), 0..150).prop_map(move |v| {
        v.into_iter().fold(String::new(), |mut s, (i, space)| {
            s.push_str(dense[i]);
            if space {
                s.push(' ');
            }
            s
        })
    })
}

fn prose() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            0..PIECES.len(),
            prop::sample::select(vec![" ", " ", "", ", ", ". ", "\n"]),
        ),
        0..50,
    )
    .prop_map(|v| {
        v.into_iter().fold(String::new(), |mut s, (i, sep)| {
            s.push_str(PIECES[i]);
            s.push_str(sep);
            s
        })
    })
}

/// How many cases a property runs: `cases` by default, `PROPTEST_CASES` when set (for longer
/// runs by hand, e.g. with `--release`).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fit `text` between a prefix and a permalink with a signature, and check the promises.
fn check_fit(
    counting: Counting,
    text: &str,
    title: &str,
    signature: &str,
) -> Result<(), TestCaseError> {
    let before = format!("[Störung] {title}: ");
    let after = format!(" https://status.fernwerk.example/incidents/2026-11-20-x/{signature}");
    let parts = Parts {
        before: &before,
        prose: text,
        after: &after,
    };
    let Ok(fitted) = fit(counting, &parts) else {
        // Only when the fixed parts alone are too long.
        prop_assert!(
            !fits(counting, &format!("{before}{after}")),
            "{:?}",
            counting
        );
        return Ok(());
    };
    prop_assert!(
        fits(counting, &fitted.text),
        "{:?}: {:?}",
        counting,
        fitted.text
    );
    prop_assert!(count(counting, &fitted.text) <= counting.max());
    // Counted here too, not only by the library, where the rule is simple enough.
    let t = &fitted.text;
    match counting {
        Counting::Bluesky {
            max_graphemes,
            max_bytes,
        } => prop_assert!(
            t.graphemes(true).count() <= max_graphemes && t.len() <= max_bytes,
            "{:?}: {:?}",
            counting,
            t
        ),
        Counting::Chars { max, .. } => prop_assert!(t.chars().count() <= max),
        Counting::Utf16 { max, .. } => prop_assert!(t.encode_utf16().count() <= max),
        _ => {}
    }
    prop_assert_eq!(fitted.length, count(counting, &fitted.text));
    prop_assert!(fitted.text.starts_with(&before) && fitted.text.ends_with(&after));
    let middle = &fitted.text[before.len()..fitted.text.len() - after.len()];
    if !fitted.shortened {
        prop_assert_eq!(middle, text);
        return Ok(());
    }
    let kept = if text.starts_with(middle) {
        middle
    } else {
        middle
            .strip_suffix(ELLIPSIS)
            .map_or(middle, |m| m.strip_suffix(' ').unwrap_or(m))
    };
    prop_assert!(
        text.starts_with(kept),
        "{:?}: {:?} is not a prefix",
        counting,
        kept
    );
    let boundaries: Vec<usize> = text
        .grapheme_indices(true)
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    prop_assert!(
        boundaries.contains(&kept.len()),
        "{:?}: cut inside a grapheme after {:?}",
        counting,
        kept
    );
    Ok(())
}

fn titles() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "Mobilfunk", "🔥 東京 انقطاع"])
}

fn signatures() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", " ^MK", " #störung 👨‍👩‍👧"])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(100)))]

    #[test]
    fn fitted_posts_never_exceed_the_limit_nor_split_a_grapheme(
        text in prop_oneof![prose(), dense_prose()],
        title in titles(),
        signature in signatures(),
    ) {
        for counting in [
            Counting::bluesky(),
            Counting::Bluesky { max_graphemes: 100, max_bytes: 260 },
            Counting::Chars { max: 160, name: "chat" },
            Counting::Utf16 { max: 120, name: "utf16" },
        ] {
            check_fit(counting, &text, title, signature)?;
        }
    }
}

proptest! {
    // twitter-text's grammar counts slowly in a debug build (~0.1 s per text): few cases here;
    // src/broadcast/text.rs runs a longer seeded loop for X and Mastodon.
    #![proptest_config(ProptestConfig::with_cases(cases(4)))]

    #[test]
    fn fitted_posts_never_exceed_the_limit_on_x_and_mastodon(
        text in prose(),
        title in titles(),
        signature in signatures(),
    ) {
        for counting in [Counting::x(), Counting::mastodon(), Counting::mastodon_instance(200, 23)] {
            check_fit(counting, &text, title, signature)?;
        }
    }
}

fn incident(
    id: usize,
    start: DateTime<Utc>,
    steps: &[(i64, usize)],
    impact: usize,
    maintenance: Option<(i64, i64)>,
) -> Incident {
    let mut at = start;
    let statuses = if maintenance.is_some() {
        &Status::MAINTENANCE[..]
    } else {
        &Status::INCIDENT[..]
    };
    let updates = steps
        .iter()
        .enumerate()
        .map(|(line, (minutes, status))| {
            at += TimeDelta::minutes(*minutes);
            Update {
                at,
                status: statuses[status % statuses.len()],
                body: statuscast::model::Text::default(),
                line: line + 6,
            }
        })
        .collect();
    Incident {
        id: format!("2026-01-01-i{id}"),
        path: format!("incidents/2026-01-01-i{id}.md").into(),
        title: "T".into(),
        components: vec!["mobile".into()],
        impact: Impact::ALL[impact % 4],
        component_status: std::collections::BTreeMap::new(),
        author: None,
        scheduled: maintenance.map(|(s, len)| Window {
            start: start + TimeDelta::minutes(s),
            end: start + TimeDelta::minutes(s + len),
        }),
        cancelled: false,
        summary: statuscast::model::Text::default(),
        updates,
        channels: None,
        broadcast: true,
        digest: None,
    }
}

fn incidents() -> impl Strategy<Value = Vec<Incident>> {
    let one = (
        -200i64 * 24 * 60..10 * 24 * 60,
        prop::collection::vec((0i64..5000, 0usize..5), 0..6),
        0usize..4,
        prop::option::weighted(0.3, (-600i64..600, 1i64..3000)),
    );
    prop::collection::vec(one, 0..25).prop_map(|v| {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        v.into_iter()
            .enumerate()
            .map(|(i, (offset, steps, impact, m))| {
                incident(i, now + TimeDelta::minutes(offset), &steps, impact, m)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(200)))]

    #[test]
    fn uptime_stays_between_0_and_100_percent(
        incidents in incidents(),
        zone in 0..ZONES.len(),
        days in 1u32..120,
        now_offset in -3000i64..3000,
    ) {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap().with_timezone(&Utc)
            + TimeDelta::minutes(now_offset);
        let up = uptime(&incidents, "mobile", ZONES[zone], now, days);
        prop_assert!(up.percent.is_finite());
        prop_assert!((0.0..=100.0).contains(&up.percent), "{}", up.percent);
        prop_assert_eq!(up.days.len(), days as usize);
        for d in &up.days {
            prop_assert!((0..=25 * 60).contains(&d.affected_minutes), "{:?}", d);
            if d.worst != ComponentStatus::Operational {
                prop_assert!(d.affected_minutes > 0, "{:?}", d);
            }
        }
        if incidents.is_empty() {
            prop_assert!((up.percent - 100.0).abs() < f64::EPSILON);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(300)))]

    /// The tick and the uptime bars skip incidents by their `Recency` (kept in the parse cache,
    /// no clock in it); that must say exactly what the incident itself says at any moment.
    #[test]
    fn recency_tells_what_the_incident_tells_at_any_moment(
        incidents in incidents(),
        now_offset in -300i64 * 24 * 60..20 * 24 * 60,
        lookback_minutes in 0i64..3 * 24 * 60,
    ) {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap().with_timezone(&Utc)
            + TimeDelta::minutes(now_offset);
        let since = now - TimeDelta::minutes(lookback_minutes);
        for i in &incidents {
            let last_event = i.updates.iter().map(|u| u.at).chain(i.scheduled.map(|w| w.end)).max();
            let recent = last_event.is_some_and(|t| t >= since);
            let r = i.recency();
            prop_assert_eq!(r.touches(since, false), recent || i.is_active(now), "{:?}", i);
            prop_assert_eq!(
                r.touches(since, true),
                recent || (!i.is_maintenance() && i.is_active(now)),
                "{:?}", i
            );
        }
    }
}
