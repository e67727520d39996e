//! Fitting a post's text to a channel's length limit, by that channel's own way of counting.
//!
//! A post is a rendered template with one shortenable part, the prose (the update's first
//! paragraph); everything else the template renders (prefix, permalink, signature) is fixed and
//! never cut. The caller renders the template once with [`PROSE_MARKER`] where the prose goes,
//! splits it with [`Parts::from_rendered`], and [`fit`] shortens only the prose: at a word
//! boundary, with an ellipsis, never inside a grapheme or a URL.
//!
//! Counting per channel ([`count`]):
//! - X: twitter-text v3 weighted length (NFC; every URL, also "example.com", weighs 23; emoji
//!   sequences 2; code points outside the Latin/punctuation ranges 2), limit 280.
//! - Mastodon: extended grapheme clusters after Mastodon's `StatusLengthValidator` rewrites
//!   every URL with a scheme to `url_len` characters and `@user@domain` to `@user`; 500 / 23 by
//!   default, per instance from `/api/v2/instance` `configuration.statuses`.
//! - Bluesky: extended grapheme clusters, at most 300, and at most 3000 UTF-8 bytes
//!   (`app.bsky.feed.post` `text`: `maxGraphemes` 300, `maxLength` 3000).

mod twitter;

use std::ops::Range;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Stands for the prose in a rendered template; private-use characters that user text won't
/// contain. Render the template with this as the prose's value, then [`Parts::from_rendered`].
pub const PROSE_MARKER: &str = "\u{E000}statuscast:text\u{E001}";

/// Appended to shortened prose.
pub const ELLIPSIS: &str = "…";

/// How a channel measures a post, with its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// twitter-text v3 weighted length.
    Twitter { max: usize },
    /// Grapheme clusters, each URL with a scheme as `url_len`, remote mentions as `@user`.
    Mastodon { max: usize, url_len: usize },
    /// Grapheme clusters and UTF-8 bytes, both limited.
    Bluesky {
        max_graphemes: usize,
        max_bytes: usize,
    },
    /// Unicode scalar values (characters as most chat APIs count them: Discord, Slack, Matrix).
    Chars { max: usize, name: &'static str },
    /// UTF-16 code units (Telegram's 4096 limit is counted this way).
    Utf16 { max: usize, name: &'static str },
}

impl Counting {
    /// X: 280 weighted characters.
    pub const fn x() -> Self {
        Self::Twitter { max: 280 }
    }

    /// Mastodon's defaults: 500 characters, 23 per URL.
    pub const fn mastodon() -> Self {
        Self::Mastodon {
            max: 500,
            url_len: 23,
        }
    }

    /// A Mastodon instance with its own `max_characters` and `characters_reserved_per_url`.
    pub const fn mastodon_instance(max: usize, url_len: usize) -> Self {
        Self::Mastodon { max, url_len }
    }

    /// Bluesky: 300 graphemes, 3000 bytes.
    pub const fn bluesky() -> Self {
        Self::Bluesky {
            max_graphemes: 300,
            max_bytes: 3000,
        }
    }

    /// The limit in the channel's own unit (graphemes for Bluesky).
    pub const fn max(self) -> usize {
        match self {
            Self::Twitter { max }
            | Self::Mastodon { max, .. }
            | Self::Chars { max, .. }
            | Self::Utf16 { max, .. } => max,
            Self::Bluesky { max_graphemes, .. } => max_graphemes,
        }
    }

    /// The channel's name, for messages.
    pub const fn channel(self) -> &'static str {
        match self {
            Self::Twitter { .. } => "X",
            Self::Mastodon { .. } => "Mastodon",
            Self::Bluesky { .. } => "Bluesky",
            Self::Chars { name, .. } | Self::Utf16 { name, .. } => name,
        }
    }
}

/// The length of `text` by the channel's own count (graphemes for Bluesky).
pub fn count(counting: Counting, text: &str) -> usize {
    match counting {
        Counting::Twitter { .. } => twitter::weighted_length(text),
        Counting::Mastodon { url_len, .. } => twitter::mastodon_length(text, url_len),
        Counting::Bluesky { .. } => text.graphemes(true).count(),
        Counting::Chars { .. } => text.chars().count(),
        Counting::Utf16 { .. } => text.encode_utf16().count(),
    }
}

/// Whether `text` is within every limit of the channel.
pub fn fits(counting: Counting, text: &str) -> bool {
    match counting {
        Counting::Bluesky { max_bytes, .. } if text.len() > max_bytes => false,
        _ => count(counting, text) <= counting.max(),
    }
}

/// A post split into its fixed parts and the prose between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    /// Fixed text before the prose, e.g. `"[Störung] Mobilfunk: "`.
    pub before: &'a str,
    /// The shortenable text.
    pub prose: &'a str,
    /// Fixed text after the prose, e.g. the permalink and a signature `" https://…/x ^MK"`.
    pub after: &'a str,
}

impl<'a> Parts<'a> {
    /// Splits a template's output, rendered with `marker` as the prose, around that marker.
    pub fn from_rendered(
        rendered: &'a str,
        marker: &str,
        prose: &'a str,
    ) -> Result<Self, FitError> {
        let found = if marker.is_empty() {
            0
        } else {
            rendered.matches(marker).count()
        };
        if found != 1 {
            return Err(FitError::Marker { found });
        }
        let (before, after) = rendered
            .split_once(marker)
            .ok_or(FitError::Marker { found: 0 })?;
        Ok(Self {
            before,
            prose,
            after,
        })
    }
}

/// A text that fits its channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fitted {
    pub text: String,
    /// By the channel's own count ([`count`]).
    pub length: usize,
    /// The channel's limit ([`Counting::max`]).
    pub max: usize,
    /// Whether the prose was cut or dropped.
    pub shortened: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error(
        "the fixed parts of the {channel} post are {length} long by {channel}'s count, over its \
         limit of {max}, even without the update text; shorten the template, the title or the \
         signature for {channel}"
    )]
    FixedPartsTooLong {
        channel: &'static str,
        length: usize,
        max: usize,
    },
    #[error(
        "the post template must show the update text exactly once, but it appears {found} times; \
         use the text variable once in the template, without filters"
    )]
    Marker { found: usize },
}

/// Fits a post to the channel: the whole prose if it fits, else the longest prefix of the prose
/// that ends at a word boundary, plus an ellipsis; the fixed parts stay whole. Errors when even
/// no prose at all would not fit.
pub fn fit(counting: Counting, parts: &Parts<'_>) -> Result<Fitted, FitError> {
    let assemble = |prose: &str| format!("{}{prose}{}", parts.before, parts.after);
    let done = |text: String, shortened| Fitted {
        length: count(counting, &text),
        max: counting.max(),
        text,
        shortened,
    };
    let whole = assemble(parts.prose);
    if fits(counting, &whole) {
        return Ok(done(whole, false));
    }
    let urls = protected_spans(parts.prose);
    let cuts = cut_points(parts.prose, &urls);
    // The longest fitting cut by binary search; lengths grow with the cut almost everywhere,
    // and every answer is checked with `fits`, so the result never exceeds the limit.
    let shortened = |i: usize| shorten(parts.prose, cuts[i], &urls).map(|p| assemble(&p));
    let (mut lo, mut hi, mut best) = (0, cuts.len(), None);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match shortened(mid) {
            Some(text) if fits(counting, &text) => {
                best = Some(text);
                lo = mid + 1;
            }
            _ => hi = mid,
        }
    }
    let fallback = || {
        [ELLIPSIS, ""]
            .into_iter()
            .map(assemble)
            .find(|text| fits(counting, text))
    };
    match best.or_else(fallback) {
        Some(text) => Ok(done(text, true)),
        None => Err(FitError::FixedPartsTooLong {
            channel: counting.channel(),
            length: count(counting, &assemble("")),
            max: counting.max(),
        }),
    }
}

/// Byte offsets, ascending, where the prose may be cut: word boundaries (UAX #29) that are also
/// grapheme boundaries, followed by white space or next to a CJK character (scripts written
/// without spaces), and not inside a URL.
fn cut_points(prose: &str, urls: &[Range<usize>]) -> Vec<usize> {
    let graphemes: Vec<usize> = prose.grapheme_indices(true).map(|(i, _)| i).collect();
    prose
        .split_word_bound_indices()
        .map(|(i, _)| i)
        .filter(|&i| i > 0 && graphemes.binary_search(&i).is_ok())
        .filter(|&i| !urls.iter().any(|u| u.start < i && i < u.end))
        .filter(|&i| {
            let prev = prose[..i].chars().next_back();
            let next = prose[i..].chars().next();
            next.is_some_and(char::is_whitespace)
                || prev.is_some_and(is_cjk)
                || next.is_some_and(is_cjk)
        })
        .collect()
}

/// URLs in the prose by any channel's detection: twitter-text (also without a scheme) and
/// every `http(s)://` up to white space.
fn protected_spans(prose: &str) -> Vec<Range<usize>> {
    let mut spans = twitter::url_spans(prose);
    spans.extend(scheme_urls(prose).map(|(span, _)| span));
    spans
}

/// The prose up to `cut`, without trailing white space and separators, plus the ellipsis;
/// `None` when nothing is left. `urls` are the prose's [`protected_spans`].
fn shorten(prose: &str, cut: usize, urls: &[Range<usize>]) -> Option<String> {
    let trimmed = prose[..cut].trim_end_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ',' | ';' | ':' | '-' | '–' | '—' | '/' | '(' | '[' | '{' | '&' | '+' | '·'
            )
    });
    // Trimming never eats into a URL that ends before the cut (a path may end in '/').
    let end = urls
        .iter()
        .filter(|u| u.end <= cut)
        .map(|u| u.end)
        .fold(trimmed.len(), usize::max);
    let kept = &prose[..end];
    if kept.is_empty() {
        return None;
    }
    if kept.ends_with(ELLIPSIS) || kept.ends_with("...") {
        return Some(kept.to_owned());
    }
    // A space keeps the ellipsis out of a URL (Mastodon would take it into the path) and
    // follows a complete sentence.
    let ends_url = urls.iter().any(|u| u.end == kept.len());
    let ends_sentence = kept.ends_with(['.', '!', '?', '。', '！', '？']);
    let space = if ends_url || ends_sentence { " " } else { "" };
    Some(format!("{kept}{space}{ELLIPSIS}"))
}

/// Han, kana, CJK punctuation and full-width forms: text that may break between characters.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{2E80}'..='\u{2FFF}' | '\u{3000}'..='\u{30FF}' | '\u{3100}'..='\u{312F}'
        | '\u{3190}'..='\u{31FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}' | '\u{20000}'..='\u{3FFFF}')
}

/// A Bluesky rich-text facet (`app.bsky.richtext.facet`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet {
    pub index: ByteSlice,
    pub features: Vec<FacetFeature>,
}

/// `app.bsky.richtext.facet#byteSlice`: UTF-8 byte offsets, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteSlice {
    #[serde(rename = "byteStart")]
    pub byte_start: usize,
    #[serde(rename = "byteEnd")]
    pub byte_end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$type")]
pub enum FacetFeature {
    #[serde(rename = "app.bsky.richtext.facet#link")]
    Link { uri: String },
}

/// A link facet for every `http(s)://` URL in `text`, found as Bluesky's own client does
/// (`@atproto/api` `detectFacets`): after the start, white space or '(', up to white space,
/// without one trailing `.,;:!?` and without a trailing ')' when the URL has no '('.
pub fn link_facets(text: &str) -> Vec<Facet> {
    scheme_urls(text)
        .map(|(span, uri)| Facet {
            index: ByteSlice {
                byte_start: span.start,
                byte_end: span.end,
            },
            features: vec![FacetFeature::Link {
                uri: uri.to_owned(),
            }],
        })
        .collect()
}

fn scheme_urls(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut starts: Vec<usize> = ["http://", "https://"]
        .iter()
        .flat_map(|scheme| {
            let lower = text.to_ascii_lowercase();
            lower
                .match_indices(scheme)
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        })
        .filter(|&i| {
            text[..i]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || c == '(')
        })
        .collect();
    starts.sort_unstable();
    starts.into_iter().filter_map(move |start| {
        let len = text[start..]
            .find(char::is_whitespace)
            .unwrap_or(text.len() - start);
        let mut uri = &text[start..start + len];
        if let Some(stripped) = uri.strip_suffix(['.', ',', ';', ':', '!', '?']) {
            uri = stripped;
        }
        if !uri.contains('(') {
            uri = uri.strip_suffix(')').unwrap_or(uri);
        }
        let host = uri.split_once("://").map_or("", |(_, rest)| rest);
        (!host.is_empty()).then(|| (start..start + uri.len(), uri))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://status.fernwerk.de/incidents/2026-11-20-mobilfunk";

    fn parts<'a>(before: &'a str, prose: &'a str, after: &'a str) -> Parts<'a> {
        Parts {
            before,
            prose,
            after,
        }
    }

    #[test]
    fn counts_by_channel() {
        let text = format!("Störung 👨\u{200d}👩\u{200d}👧 故障 {LINK}");
        // X: 8 + emoji 2 + 1 + CJK 4 + 1 + URL 23
        assert_eq!(count(Counting::x(), &text), 39);
        // Mastodon: 8 + 1 grapheme + 1 + 2 + 1 + URL 23
        assert_eq!(count(Counting::mastodon(), &text), 36);
        assert_eq!(count(Counting::mastodon_instance(5000, 30), &text), 43);
        // Bluesky: graphemes, the URL in full
        assert_eq!(count(Counting::bluesky(), &text), 13 + LINK.chars().count());
    }

    #[test]
    fn bluesky_limits_bytes_too() {
        let counting = Counting::Bluesky {
            max_graphemes: 300,
            max_bytes: 20,
        };
        let family = "👨\u{200d}👩\u{200d}👧"; // 1 grapheme, 18 bytes
        assert!(fits(counting, family));
        assert!(!fits(counting, &format!("{family}{family}")));
    }

    #[test]
    fn fitting_text_is_left_alone() {
        let fitted = fit(
            Counting::x(),
            &parts("[Störung] ", "Kurz.", &format!(" {LINK} ^MK")),
        )
        .unwrap();
        assert_eq!(fitted.text, format!("[Störung] Kurz. {LINK} ^MK"));
        assert!(!fitted.shortened);
        assert_eq!(fitted.length, 10 + 5 + 1 + 23 + 4);
        assert_eq!(fitted.max, 280);
    }

    #[test]
    fn shortens_german_prose_at_a_word_boundary() {
        let prose = "Wir untersuchen eine Störung im Mobilfunknetz, die seit 08:12 Uhr Anrufe \
                     und mobile Daten im Raum Berlin beeinträchtigt.";
        let counting = Counting::Mastodon {
            max: 60,
            url_len: 23,
        };
        let fitted = fit(counting, &parts("", prose, &format!(" {LINK} ^MK"))).unwrap();
        // 60 - 28 fixed = 32 for prose and ellipsis: "Wir untersuchen eine Störung im" is 31.
        assert_eq!(
            fitted.text,
            format!("Wir untersuchen eine Störung im… {LINK} ^MK")
        );
        assert_eq!(fitted.length, 60);
        assert!(fitted.shortened);
    }

    #[test]
    fn drops_separators_before_the_ellipsis() {
        let counting = Counting::Bluesky {
            max_graphemes: 30,
            max_bytes: 3000,
        };
        let fitted = fit(
            counting,
            &parts("", "Störung behoben, Ursache war ein Glasfaserschaden.", ""),
        )
        .unwrap();
        assert_eq!(fitted.text, "Störung behoben, Ursache war…");
        let fitted = fit(
            counting,
            &parts("", "Störung behoben. Ursache war ein Glasfaserschaden.", ""),
        )
        .unwrap();
        assert_eq!(fitted.text, "Störung behoben. Ursache war…");
        let counting = Counting::Bluesky {
            max_graphemes: 20,
            max_bytes: 3000,
        };
        let fitted = fit(
            counting,
            &parts("", "Störung behoben. Ursache war ein Glasfaserschaden.", ""),
        )
        .unwrap();
        assert_eq!(fitted.text, "Störung behoben. …");
    }

    #[test]
    fn x_weighs_cjk_and_emoji() {
        // 20 ideographs weigh 40; the cut falls between ideographs.
        let prose = "故人西辞黄鹤楼烟花三月下扬州孤帆远影碧空尽唯";
        let fitted = fit(Counting::Twitter { max: 20 }, &parts("", prose, "")).unwrap();
        assert_eq!(fitted.text, "故人西辞黄鹤楼烟花…");
        assert_eq!(fitted.length, 20);
        // A ZWJ family weighs 2 and is never split.
        let prose =
            "Alle 👨\u{200d}👩\u{200d}👧\u{200d}👦 👨\u{200d}👩\u{200d}👧\u{200d}👦 wieder online";
        let fitted = fit(Counting::Twitter { max: 12 }, &parts("", prose, "")).unwrap();
        assert_eq!(
            fitted.text,
            "Alle 👨\u{200d}👩\u{200d}👧\u{200d}👦 👨\u{200d}👩\u{200d}👧\u{200d}👦…"
        );
        assert_eq!(fitted.length, 12);
    }

    #[test]
    fn never_cuts_a_url_in_the_prose() {
        let prose =
            "Siehe https://www.fernwerk.de/hilfe/mobilfunk/stoerungen für Hinweise zur Störung";
        // X: "Siehe " 6 + URL 23 = 29; the URL is kept whole, then " …" (weight 3).
        let fitted = fit(Counting::Twitter { max: 33 }, &parts("", prose, "")).unwrap();
        assert_eq!(
            fitted.text,
            "Siehe https://www.fernwerk.de/hilfe/mobilfunk/stoerungen …"
        );
        let fitted = fit(Counting::Twitter { max: 31 }, &parts("", prose, "")).unwrap();
        assert_eq!(fitted.text, "Siehe…");
        // Bluesky counts URLs in full, so a cut inside the URL would fit but is not allowed.
        let counting = Counting::Bluesky {
            max_graphemes: 30,
            max_bytes: 3000,
        };
        let fitted = fit(counting, &parts("", prose, "")).unwrap();
        assert_eq!(fitted.text, "Siehe…");
        // Ideographs allow a cut between any two of them, but not inside a URL's path.
        let prose = "詳細 https://ja.wikipedia.org/wiki/東京都 参照";
        let counting = Counting::Bluesky {
            max_graphemes: 36,
            max_bytes: 3000,
        };
        let fitted = fit(counting, &parts("", prose, "")).unwrap();
        assert_eq!(fitted.text, "詳細…");
    }

    #[test]
    fn combining_marks_stay_with_their_letter() {
        let prose = "Sto\u{308}rung beho\u{308}ben";
        let fitted = fit(
            Counting::Bluesky {
                max_graphemes: 9,
                max_bytes: 3000,
            },
            &parts("", prose, ""),
        )
        .unwrap();
        assert_eq!(fitted.text, "Sto\u{308}rung…");
    }

    #[test]
    fn keeps_fixed_parts_or_errors() {
        let after = format!(" {LINK} ^MK");
        let fitted = fit(
            Counting::Twitter { max: 30 },
            &parts("", "Langes Wort", &after),
        )
        .unwrap();
        assert_eq!(fitted.text, format!("…{after}"));
        let fitted = fit(
            Counting::Twitter { max: 28 },
            &parts("", "Langes Wort", &after),
        )
        .unwrap();
        assert_eq!(fitted.text, after);
        let err = fit(
            Counting::Twitter { max: 27 },
            &parts("", "Langes Wort", &after),
        )
        .unwrap_err();
        assert_eq!(
            err,
            FitError::FixedPartsTooLong {
                channel: "X",
                length: 28,
                max: 27
            }
        );
        assert!(
            err.to_string()
                .contains("28 long by X's count, over its limit of 27")
        );
    }

    #[test]
    fn splits_rendered_templates_at_the_marker() {
        let rendered = format!("[Störung] Mobilfunk: {PROSE_MARKER} {LINK} ^MK");
        let p = Parts::from_rendered(&rendered, PROSE_MARKER, "Text").unwrap();
        assert_eq!(
            (p.before, p.prose, p.after),
            ("[Störung] Mobilfunk: ", "Text", &*format!(" {LINK} ^MK"))
        );
        assert_eq!(
            Parts::from_rendered("kein Text", PROSE_MARKER, "x"),
            Err(FitError::Marker { found: 0 })
        );
        let twice = format!("{PROSE_MARKER}{PROSE_MARKER}");
        assert_eq!(
            Parts::from_rendered(&twice, PROSE_MARKER, "x"),
            Err(FitError::Marker { found: 2 })
        );
    }

    #[test]
    fn link_facets_use_utf8_byte_offsets() {
        let text = format!("Störung 故障 (Details: {LINK}). Karte: https://x.de/a_(b) Ende");
        let facets = link_facets(&text);
        assert_eq!(facets.len(), 2);
        let start = text.find(LINK).unwrap();
        assert_eq!(
            facets[0].index,
            ByteSlice {
                byte_start: start,
                byte_end: start + LINK.len()
            }
        );
        assert_eq!(
            &text[facets[0].index.byte_start..facets[0].index.byte_end],
            LINK
        );
        assert_eq!(
            &text[facets[1].index.byte_start..facets[1].index.byte_end],
            "https://x.de/a_(b)"
        );
        let json = serde_json::to_value(&facets[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "index": {"byteStart": start, "byteEnd": start + LINK.len()},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": LINK}]
            })
        );
        assert!(link_facets("nohttps://x.de and example.com").is_empty());
        assert_eq!(
            link_facets("HTTPS://X.DE!")[0].features,
            [FacetFeature::Link {
                uri: "HTTPS://X.DE".into()
            }]
        );
    }

    /// Deterministic pseudo-random generator for the property tests (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[usize::try_from(self.next() % items.len() as u64).unwrap_or(0)]
        }
    }

    const PIECES: &[&str] = &[
        "Störung",
        "Mobilfunk",
        "beeinträchtigt",
        "Glasfaser",
        "Straße",
        "Größe",
        " ",
        " ",
        " ",
        ", ",
        ". ",
        "\n",
        "故障",
        "故人西辞黄鹤楼",
        "東京",
        "👍🏽",
        "👨\u{200d}👩\u{200d}👧\u{200d}👦",
        "🇩🇪",
        "e\u{301}",
        "Sto\u{308}rung",
        "1\u{fe0f}\u{20e3}",
        "https://status.fernwerk.de/i/2026-11-20",
        "example.com",
        "https://ja.wikipedia.org/wiki/東京",
        "@fernwerk@mastodon.social",
        "08:12",
        "–",
        "…",
        "(siehe https://x.de/a_(b))",
        "ก",
        "\u{0915}\u{094D}\u{0937}",
    ];

    #[test]
    fn property_fitted_texts_fit_and_keep_graphemes_links_and_signature() {
        let mut rng = Rng(std::env::var("STATUSCAST_FIT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5EED_CA57));
        let channels = [
            Counting::x(),
            Counting::Twitter { max: 90 },
            Counting::mastodon(),
            Counting::Mastodon {
                max: 120,
                url_len: 23,
            },
            Counting::bluesky(),
            Counting::Bluesky {
                max_graphemes: 100,
                max_bytes: 260,
            },
        ];
        let after = format!(" {LINK} ^MK");
        for round in 0..std::env::var("STATUSCAST_FIT_ROUNDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120)
        {
            let words = 1 + rng.next() % 120;
            let prose: String = (0..words).map(|_| rng.pick(PIECES)).collect();
            let before = rng.pick(&["", "[Störung] Mobilfunk: ", "🔧 故障: "]);
            let counting = channels[round % channels.len()];
            let fitted = fit(counting, &parts(before, &prose, &after)).unwrap();
            let text = &fitted.text;
            assert!(fits(counting, text), "{counting:?} {text:?}");
            assert_eq!(fitted.length, count(counting, text));
            assert!(
                text.starts_with(before) && text.ends_with(&after),
                "{text:?}"
            );
            let middle = &text[before.len()..text.len() - after.len()];
            assert_eq!(fitted.shortened, middle != prose);
            if fitted.shortened {
                // The text between the fixed parts is a prefix of the prose, cut at a grapheme
                // boundary outside every URL, plus the ellipsis (or nothing: no prose at all, or
                // a prefix that already ends in one).
                let spans = protected_spans(&prose);
                let good_cut = |k: usize| {
                    prose.is_char_boundary(k)
                        && prose[..k].graphemes(true).count() + prose[k..].graphemes(true).count()
                            == prose.graphemes(true).count()
                        && spans.iter().all(|s| !(s.start < k && k < s.end))
                };
                let decompositions = [" …", "…", ""].into_iter().filter_map(|suffix| {
                    let kept = middle.strip_suffix(suffix)?;
                    prose.starts_with(kept).then_some(kept.len())
                });
                let cuts: Vec<usize> = decompositions.collect();
                assert!(
                    cuts.iter().any(|&k| good_cut(k)),
                    "{middle:?} is no good cut of {prose:?}"
                );
            }
            // The permalink is still one link, whole, for every channel's URL detection.
            assert!(
                twitter::url_spans(text)
                    .iter()
                    .any(|s| &text[s.clone()] == LINK),
                "{text:?}"
            );
            if let Counting::Bluesky { .. } = counting {
                assert!(
                    link_facets(text)
                        .iter()
                        .any(|f| f.features == [FacetFeature::Link { uri: LINK.into() }])
                );
            }
        }
    }

    #[test]
    fn chat_countings_use_chars_or_utf16_units() {
        let discord = Counting::Chars {
            max: 10,
            name: "Discord",
        };
        let telegram = Counting::Utf16 {
            max: 10,
            name: "Telegram",
        };
        assert_eq!(count(discord, "Störung 😀"), 9);
        assert_eq!(
            count(telegram, "Störung 😀"),
            10,
            "the emoji is a surrogate pair"
        );
        let parts = Parts {
            before: "[X] ",
            prose: "eins zwei drei vier",
            after: "",
        };
        let f = fit(discord, &parts).unwrap();
        assert!(count(discord, &f.text) <= 10 && f.shortened, "{}", f.text);
        assert_eq!(f.text, "[X] eins…");
    }
}
