//! Lengths by twitter-text's rules, as X applies them (weighted length) and as Mastodon applies
//! them (its `StatusLengthValidator` runs twitter-text's URL extractor, then counts graphemes).
//!
//! The heavy lifting is the `twitter-text` crate, which passes twitter-text's conformance suite
//! with its `External` parser backend. Its default `Nom` backend does not weigh URLs without a
//! scheme ("example.com" weighs 11 instead of 23), so every call here names `External`.

use std::ops::Range;

use twitter_text::ParserBackend;
use twitter_text::extractor::{Extract, Extractor};
use unicode_segmentation::UnicodeSegmentation;

const BACKEND: ParserBackend = ParserBackend::External;

/// X's weighted length: twitter-text v3 (NFC, every URL 23, emoji sequences 2, CJK 2).
pub fn weighted_length(text: &str) -> usize {
    let parsed = twitter_text::parse_with_parser_backend(
        text,
        twitter_text_config::config_v3(),
        true,
        BACKEND,
    );
    usize::try_from(parsed.weighted_length).unwrap_or(0)
}

/// Byte ranges of the URLs twitter-text finds, with or without a scheme ("example.com").
pub fn url_spans(text: &str) -> Vec<Range<usize>> {
    urls(text, true).into_iter().map(|(span, _)| span).collect()
}

/// twitter-text's URL entities as byte ranges plus the offset where the host (and port) ends.
fn urls(text: &str, without_protocol: bool) -> Vec<(Range<usize>, usize)> {
    let mut extractor = Extractor::with_parser_backend(BACKEND);
    extractor.set_extract_url_without_protocol(without_protocol);
    let offsets = Utf16Offsets::new(text);
    extractor
        .extract_urls_with_indices(text)
        .iter()
        .filter_map(|entity| {
            let start = offsets.byte(entity.get_start())?;
            let end = offsets.byte(entity.get_end())?;
            let value = text.get(start..end)?;
            let after_scheme = value.find("://").map_or(0, |i| i + 3);
            let host_len = value[after_scheme..]
                .find(['/', '?'])
                .unwrap_or(value.len() - after_scheme);
            Some((start..end, start + after_scheme + host_len))
        })
        .collect()
}

/// Maps twitter-text's UTF-16 indices to byte offsets.
struct Utf16Offsets(Vec<(i64, usize)>);

impl Utf16Offsets {
    fn new(text: &str) -> Self {
        let mut unit = 0_i64;
        let mut map = Vec::with_capacity(text.len() + 1);
        for (byte, c) in text.char_indices() {
            map.push((unit, byte));
            unit += i64::from(u8::try_from(c.len_utf16()).unwrap_or(2));
        }
        map.push((unit, text.len()));
        Self(map)
    }

    fn byte(&self, unit: i32) -> Option<usize> {
        let unit = i64::from(unit);
        let i = self.0.binary_search_by_key(&unit, |&(u, _)| u).ok()?;
        Some(self.0[i].1)
    }
}

/// Mastodon's length of a status text: `StatusLengthValidator#countable_length` over
/// `countable_text`. URLs with a scheme (twitter-text's extractor, with Mastodon's own path and
/// query rules) count `url_len` characters, a mention `@user@domain` counts as `@user`, and the
/// rest counts extended grapheme clusters (Ruby's `each_grapheme_cluster`).
pub fn mastodon_length(text: &str, url_len: usize) -> usize {
    if text.trim().is_empty() {
        return 0; // `return '' if str.blank?`
    }
    let mut entities: Vec<(Range<usize>, Replacement)> = urls(text, false)
        .into_iter()
        .map(|(span, host_end)| {
            let end = mastodon_url_end(text, host_end).max(host_end);
            (span.start..end, Replacement::Url)
        })
        .chain(
            mastodon_mentions(text)
                .into_iter()
                .map(|(span, user)| (span, Replacement::Mention(user))),
        )
        .collect();
    // `Extractor.remove_overlapping_entities`: sort by start, drop any that overlap a kept one.
    entities.sort_by_key(|(span, _)| span.start);
    let mut length = 0;
    let mut cursor = 0;
    for (span, replacement) in entities {
        if span.start < cursor {
            continue;
        }
        length += text[cursor..span.start].graphemes(true).count();
        length += match replacement {
            Replacement::Url => url_len,
            Replacement::Mention(user) => 1 + user.len(), // ASCII only: '@' + username
        };
        cursor = span.end;
    }
    length + text[cursor..].graphemes(true).count()
}

enum Replacement {
    Url,
    Mention(String),
}

/// Where a URL ends by Mastodon's `config/initializers/twitter_regex.rb`, which widens
/// twitter-text's path and query characters. `host_end` is the offset after host and port.
fn mastodon_url_end(text: &str, host_end: usize) -> usize {
    let mut end = host_end;
    let rest = &text[host_end..];
    if rest.starts_with('/') {
        // `(/valid_url_path*)?`: the longest run of general path characters and balanced
        // parentheses, backed off to its last valid ending character.
        end += 1;
        let mut i = end;
        while let Some(c) = text[i..].chars().next() {
            if c == '(' {
                let Some(close) = balanced_parens(&text[i..]) else {
                    break;
                };
                i += close;
                end = i;
            } else if is_general_path_char(c) {
                i += c.len_utf8();
                if is_path_ending_char(c) {
                    end = i;
                }
            } else {
                break;
            }
        }
    }
    if text[end..].starts_with('?') {
        // `(\?valid_url_query_chars*valid_url_query_ending_chars)?`
        let mut i = end + 1;
        let mut query_end = None;
        for c in text[i..].chars() {
            if !is_query_char(c) {
                break;
            }
            i += c.len_utf8();
            if is_query_ending_char(c) {
                query_end = Some(i);
            }
        }
        if let Some(query_end) = query_end {
            end = query_end;
        }
    }
    end
}

/// Byte length of a balanced group `( general+ )` or `( general* ( general+ ) general* )` (one
/// nested level) at the start of `s`, which starts with '('.
fn balanced_parens(s: &str) -> Option<usize> {
    let (mut depth, mut nested, mut run, mut inner) = (0, false, 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' if depth == 0 => depth = 1,
            '(' if depth == 1 && !nested => (depth, run) = (2, 0),
            ')' if depth == 2 && run > 0 => (depth, nested) = (1, true),
            ')' if depth == 1 && inner > 0 => return Some(i + 1),
            c if is_general_path_char(c) => (run, inner) = (run + 1, inner + 1),
            _ => return None,
        }
    }
    None
}

fn is_general_path_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '<' | '>' | '(' | ')' | '?')
}

fn is_path_ending_char(c: char) -> bool {
    is_general_path_char(c)
        && !matches!(
            c,
            '!' | '*'
                | '"'
                | '\''
                | '「'
                | '」'
                | ';'
                | ':'
                | '='
                | ','
                | '.'
                | '$'
                | '%'
                | '['
                | ']'
                | '~'
                | '&'
                | '|'
                | '@'
        )
}

fn is_mastodon_uchar(c: char) -> bool {
    matches!(c,
        '\u{A0}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFEF}'
        | '\u{10000}'..='\u{1FFFD}' | '\u{20000}'..='\u{2FFFD}' | '\u{30000}'..='\u{3FFFD}'
        | '\u{40000}'..='\u{4FFFD}' | '\u{50000}'..='\u{5FFFD}' | '\u{60000}'..='\u{6FFFD}'
        | '\u{70000}'..='\u{7FFFD}' | '\u{80000}'..='\u{8FFFD}' | '\u{90000}'..='\u{9FFFD}'
        | '\u{A0000}'..='\u{AFFFD}' | '\u{B0000}'..='\u{BFFFD}' | '\u{C0000}'..='\u{CFFFD}'
        | '\u{D0000}'..='\u{DFFFD}' | '\u{E1000}'..='\u{EFFFD}' | '\u{E000}'..='\u{F8FF}'
        | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
}

fn is_query_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!?*'();:&=+$/%#[]-_.,~|@^".contains(c) || is_mastodon_uchar(c)
}

fn is_query_ending_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_&=#/-".contains(c) || is_mastodon_uchar(c)
}

/// Ruby's `[[:word:]]`: letters, marks, numbers, connector punctuation (approximated).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || ('\u{300}'..='\u{36F}').contains(&c)
}

fn is_username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// twitter-text's `latin_accents`, used by `end_mention_match`.
fn is_latin_accent(c: char) -> bool {
    matches!(c,
        '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{FF}' | '\u{100}'..='\u{24F}'
        | '\u{253}' | '\u{254}' | '\u{256}' | '\u{257}' | '\u{259}' | '\u{25B}' | '\u{263}'
        | '\u{268}' | '\u{26F}' | '\u{272}' | '\u{289}' | '\u{28B}' | '\u{2BB}'
        | '\u{300}'..='\u{36F}' | '\u{1E00}'..='\u{1EFF}')
}

/// Mentions by Mastodon's `Account::MENTION_RE`
/// `(?<![=/[:word:]])@(([a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?)(?:@[[:word:].-]+[[:word:]]+)?)`
/// minus those followed by `end_mention_match` (`@`, a latin accent or `://`): the span of each
/// and its username.
fn mastodon_mentions(text: &str) -> Vec<(Range<usize>, String)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find('@').map(|i| from + i) {
        from = at + 1;
        if text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c == '=' || c == '/' || is_word_char(c))
        {
            continue;
        }
        let user_end = last_end(
            &text[at + 1..],
            |c| is_username_char(c) || c == '.' || c == '-',
            is_username_char,
        );
        let Some(user_len) = user_end else { continue };
        let user = &text[at + 1..at + 1 + user_len];
        let mut end = at + 1 + user_len;
        if text[end..].starts_with('@') {
            let domain = &text[end + 1..];
            if let Some(len) = last_end(
                domain,
                |c| is_word_char(c) || c == '.' || c == '-',
                is_word_char,
            )
            .filter(|&len| domain[..len].chars().count() >= 2)
            {
                end += 1 + len;
            }
        }
        let after = &text[end..];
        if after.starts_with(['@', '＠'])
            || after.starts_with("://")
            || after.chars().next().is_some_and(is_latin_accent)
        {
            from = end;
            continue;
        }
        found.push((at..end, user.to_owned()));
        from = end;
    }
    found
}

/// In the longest run of `run` chars at the start of `s` that begins with an `ends` char, the
/// byte length up to its last `ends` char.
fn last_end(s: &str, run: impl Fn(char) -> bool, ends: impl Fn(char) -> bool) -> Option<usize> {
    if !s.chars().next().is_some_and(&ends) {
        return None;
    }
    let mut last = None;
    for (i, c) in s.char_indices() {
        if !run(c) {
            break;
        }
        if ends(c) {
            last = Some(i + c.len_utf8());
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_weights_by_twitter_text_v3() {
        let cases: &[(&str, usize)] = &[
            ("", 0),
            ("Störung im Mobilfunknetz", 24), // Latin-1 weighs 1
            ("Störung…", 9),                  // U+2026 is outside the weight-1 ranges
            ("– Wartung —", 11),              // en and em dash are in 8208..=8223
            ("故人西辞", 8),                  // CJK weighs 2
            ("👨\u{200d}👩\u{200d}👧\u{200d}👦", 2), // one ZWJ sequence is one emoji
            ("👍🏽", 2),                        // emoji with skin tone modifier
            ("🇩🇪", 2),                        // flag (regional indicator pair)
            ("1\u{fe0f}\u{20e3}", 2),         // keycap sequence
            ("e\u{301}", 1),                  // NFC folds e + combining acute into é
            ("Q\u{301}", 2),                  // no precomposed form: two code points
            ("https://status.fernwerk.de/2026-11-20-mobilfunk", 23),
            ("Details: example.com", 32), // a bare domain with a valid TLD is a URL
            ("Details: fernwerk.example", 25), // .example is no TLD: counted by characters
            ("x https://ja.wikipedia.org/wiki/東京 y", 31), // URL ends before CJK
        ];
        for &(text, want) in cases {
            assert_eq!(weighted_length(text), want, "{text:?}");
        }
    }

    #[test]
    fn url_spans_are_byte_ranges() {
        let text = "Größere Störung: siehe https://status.fernwerk.de/a?b=1. Danke";
        let spans = url_spans(text);
        assert_eq!(spans.len(), 1);
        assert_eq!(&text[spans[0].clone()], "https://status.fernwerk.de/a?b=1");
        let text = "👨\u{200d}👩\u{200d}👧 𝄞 https://x.de/a 👍🏽 b.de"; // astral: 2 UTF-16 units each
        let found: Vec<&str> = url_spans(text).iter().map(|s| &text[s.clone()]).collect();
        assert_eq!(found, ["https://x.de/a", "b.de"]);
        let text = "故障 example.com 故障";
        assert_eq!(
            url_spans(text)
                .iter()
                .map(|s| &text[s.clone()])
                .collect::<Vec<_>>(),
            ["example.com"]
        );
    }

    #[test]
    fn mastodon_counts_graphemes_urls_and_local_part_of_mentions() {
        let cases: &[(&str, usize)] = &[
            ("", 0),
            ("   ", 0),
            ("Störung", 7),
            ("Sto\u{308}rung", 7), // combining diaeresis: one grapheme
            ("👨\u{200d}👩\u{200d}👧\u{200d}👦 ok", 4), // one grapheme
            ("🇩🇪🇦🇹", 2),
            ("故人西辞", 4),
            (
                "Mehr: https://status.fernwerk.de/incidents/2026-11-20-mobilfunk",
                6 + 23,
            ),
            ("Mehr: http://a.de", 6 + 23),
            ("Mehr: example.com", 17), // Mastodon extracts URLs only with a scheme
            ("cc @fernwerk@mastodon.social!", 3 + 9 + 1),
            ("cc @fernwerk", 12),
            ("mail info@fernwerk.de", 21), // not a mention: preceded by a word char
            ("@müller", 7),                // followed by a latin accent: not a mention
            // Mastodon's path rules: a trailing '=' is no URL ending, a CJK path is part of it.
            ("https://x.de/a= ok", 23 + 4),
            ("https://ja.wikipedia.org/wiki/東京 y", 23 + 2),
            (
                "(https://de.wikipedia.org/wiki/Netz_(Technik)) ok",
                1 + 23 + 4,
            ),
            ("https://x.de/a?q=1&r=. ok", 23 + 4),
        ];
        for &(text, want) in cases {
            assert_eq!(mastodon_length(text, 23), want, "{text:?}");
        }
        assert_eq!(mastodon_length("https://x.de/", 40), 40);
    }

    #[test]
    fn mastodon_spec_cases() {
        // Mastodon's spec/validators/status_length_validator_spec.rb, restated.
        let url = format!("{} http://{}.com/example", "a".repeat(476), "b".repeat(30));
        assert_eq!(mastodon_length(&url, 23), 500);
        let mention = format!("{} @alice@{}.com", "a".repeat(475), "b".repeat(30));
        assert_eq!(mastodon_length(&mention, 23), 482);
    }

    /// twitter-text's conformance data, read from a local snapshot of twitter/twitter-text when
    /// there is one (`TWITTER_TEXT_VALIDATE_YML` = path of validate.yml, or the bare git mirror
    /// at /work/.mirror/twitter+twitter-text/repo); skipped otherwise. Never vendored.
    #[test]
    fn twitter_text_conformance_when_available() {
        let yaml = if let Ok(path) = std::env::var("TWITTER_TEXT_VALIDATE_YML") {
            std::fs::read(path).ok()
        } else {
            let mirror = "/work/.mirror/twitter+twitter-text/repo";
            std::path::Path::new(mirror)
                .exists()
                .then(|| {
                    std::process::Command::new("git")
                        .args(["--git-dir", mirror, "show", "HEAD:conformance/validate.yml"])
                        .output()
                        .ok()
                        .filter(|o| o.status.success())
                        .map(|o| o.stdout)
                })
                .flatten()
        };
        let Some(yaml) = yaml else {
            eprintln!("twitter-text conformance data not found; skipped");
            return;
        };
        let doc: serde_yaml::Value = serde_yaml::from_slice(&yaml).expect("validate.yml parses");
        let sections = [
            (
                "WeightedTweetsCounterTest",
                twitter_text_config::config_v2(),
            ),
            (
                "WeightedTweetsWithDiscountedEmojiCounterTest",
                twitter_text_config::config_v3(),
            ),
            (
                "UnicodeDirectionalMarkerCounterTest",
                twitter_text_config::config_v3(),
            ),
        ];
        let (mut passed, mut total, mut failures) = (0, 0, Vec::new());
        for (section, config) in sections {
            for case in doc["tests"][section].as_sequence().expect("section exists") {
                let text = case["text"].as_str().expect("text");
                let expected = &case["expected"];
                let got = twitter_text::parse_with_parser_backend(text, config, true, BACKEND);
                let field = |k: &str| expected[k].as_i64();
                let ok = field("weightedLength") == Some(i64::from(got.weighted_length))
                    && expected["valid"].as_bool() == Some(got.is_valid)
                    && field("permillage").is_none_or(|p| p == i64::from(got.permillage))
                    && field("validRangeEnd") == Some(i64::from(got.valid_text_range.end()))
                    && field("displayRangeEnd") == Some(i64::from(got.display_text_range.end()));
                total += 1;
                if ok {
                    passed += 1;
                } else {
                    failures.push(format!(
                        "{section}: {}",
                        case["description"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        eprintln!("twitter-text conformance: {passed}/{total} passed");
        assert!(failures.is_empty(), "{failures:#?}");
        // Our own entry point must agree with the suite's v3 expectations too.
        for case in doc["tests"]["WeightedTweetsWithDiscountedEmojiCounterTest"]
            .as_sequence()
            .expect("section")
        {
            let want = case["expected"]["weightedLength"].as_u64().expect("length");
            assert_eq!(
                weighted_length(case["text"].as_str().expect("text")) as u64,
                want
            );
        }
    }
}
