//! Service hours: when announcements may go out (`Mon-Fri 08:00-20:00, Sat 09:00-14:00`).

use std::fmt;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

/// Days are searched this far ahead for the next opening (twice a week plus the longest DST
/// disturbance, so a weekly opening always turns up).
const HORIZON_DAYS: u16 = 15;

/// Day names, Monday first: English and German, abbreviated and full, any case.
const DAY_NAMES: [&[&str]; 7] = [
    &["mon", "monday", "mo", "montag"],
    &["tue", "tues", "tuesday", "di", "dienstag"],
    &["wed", "wednesday", "mi", "mittwoch"],
    &["thu", "thur", "thurs", "thursday", "do", "donnerstag"],
    &["fri", "friday", "fr", "freitag"],
    &["sat", "saturday", "sa", "samstag", "sonnabend"],
    &["sun", "sunday", "so", "sonntag"],
];
const DAY_LABELS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// When the site may post, on its local wall clock: `Mon-Fri 08:00-20:00, Sat 09:00-14:00`,
/// German day names too (`Mo-Fr 08:00-20:00; Sa 09:00-14:00`). Empty or `24/7` = always open.
///
/// Day ranges may wrap (`Fr-Mo`), a time range may run past midnight (`Fri 22:00-02:00` is
/// open until Saturday 02:00), `24:00` ends a day, time ranges without days mean every day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceHours {
    /// Empty: always open.
    rules: Vec<HoursRule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct HoursRule {
    /// Monday = 0.
    days: [bool; 7],
    spans: Vec<Span>,
}

/// Minutes after local midnight; `end <= start` runs past midnight into the next day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn overnight(self) -> bool {
        self.end <= self.start
    }

    fn covers_same_day(self, second_of_day: u32) -> bool {
        second_of_day >= self.start * 60 && (self.overnight() || second_of_day < self.end * 60)
    }

    fn covers_next_day(self, second_of_day: u32) -> bool {
        self.overnight() && second_of_day < self.end * 60
    }
}

/// Service hours that cannot be used, with what is wrong and how to write them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid service hours \"{input}\": {kind}")]
pub struct ServiceHoursError {
    input: String,
    kind: ServiceHoursErrorKind,
}

impl ServiceHoursError {
    #[must_use]
    pub fn kind(&self) -> &ServiceHoursErrorKind {
        &self.kind
    }
}

/// What is wrong with service hours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceHoursErrorKind {
    #[error(
        "\"{0}\" is not a day; write Mon … Sun or Mo … So, e.g. \"Mon-Fri 08:00-20:00, Sat 09:00-14:00\", or \"24/7\""
    )]
    UnknownDay(String),
    #[error("\"{0}\" is not a time range; write HH:MM-HH:MM, e.g. 08:00-20:00")]
    BadRange(String),
    #[error("\"{0}\" is not a time; write HH:MM from 00:00 to 24:00 (24:00 only as an end)")]
    BadTime(String),
    #[error("\"{0}\" is empty; for a whole day write 00:00-24:00")]
    EmptyRange(String),
    #[error("\"{0}\" has no hours; add a time range, e.g. \"{0} 09:00-14:00\"")]
    DaysWithoutHours(String),
}

impl ServiceHours {
    /// Always open (the default).
    #[must_use]
    pub fn always() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn is_always(&self) -> bool {
        self.rules.is_empty()
    }

    /// # Errors
    ///
    /// Fails with a [`ServiceHoursError`] that names the wrong part and shows the accepted form.
    pub fn parse(text: &str) -> Result<Self, ServiceHoursError> {
        let trimmed = text.trim();
        let error = |kind| ServiceHoursError {
            input: trimmed.to_owned(),
            kind,
        };
        if trimmed.is_empty() || trimmed == "24/7" || trimmed.eq_ignore_ascii_case("always") {
            return Ok(Self::always());
        }
        // "Mon - Fri 08:00 – 20:00" → "Mon-Fri 08:00-20:00"
        let normalized = trimmed
            .replace(['–', '—'], "-")
            .split('-')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("-");
        let mut rules = Vec::new();
        let mut days: Option<[bool; 7]> = None;
        let mut day_text = Vec::new();
        let mut spans = Vec::new();
        let tokens = normalized
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("uhr"));
        for token in tokens {
            if token.starts_with(|c: char| c.is_ascii_digit()) {
                spans.push(parse_span(token).map_err(error)?);
                continue;
            }
            if !spans.is_empty() {
                rules.push(HoursRule {
                    days: days.take().unwrap_or([true; 7]),
                    spans: std::mem::take(&mut spans),
                });
                day_text.clear();
            }
            let parsed = parse_days(token).map_err(error)?;
            let current = days.get_or_insert([false; 7]);
            for (day, on) in current.iter_mut().zip(parsed) {
                *day |= on;
            }
            day_text.push(token);
        }
        if !spans.is_empty() {
            rules.push(HoursRule {
                days: days.unwrap_or([true; 7]),
                spans,
            });
        } else if days.is_some() {
            return Err(error(ServiceHoursErrorKind::DaysWithoutHours(
                day_text.join(","),
            )));
        }
        Ok(Self { rules })
    }

    /// Whether `t` falls into the service hours on the local wall clock of `tz`.
    #[must_use]
    pub fn is_open(&self, t: DateTime<Utc>, tz: Tz) -> bool {
        if self.rules.is_empty() {
            return true;
        }
        let local = t.with_timezone(&tz);
        let today = local.weekday().num_days_from_monday() as usize;
        let yesterday = (today + 6) % 7;
        let second = local.num_seconds_from_midnight();
        self.rules.iter().any(|rule| {
            rule.spans.iter().any(|span| {
                (rule.days[today] && span.covers_same_day(second))
                    || (rule.days[yesterday] && span.covers_next_day(second))
            })
        })
    }

    /// `t` itself when open, else the next instant the service hours open (DST-correct: an
    /// opening time that does not exist that day opens when the clock jumps past it).
    #[must_use]
    pub fn next_open(&self, t: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        if self.is_open(t, tz) {
            return t;
        }
        // Opening happens when local time reaches the start of a range, or when the clock
        // jumps (DST) into one: collect both kinds of instants and take the first that is open.
        let mut candidates = offset_changes(tz, t, t + TimeDelta::days(i64::from(HORIZON_DAYS)));
        let first_day = t.with_timezone(&tz).date_naive();
        for day in first_day.iter_days().take(usize::from(HORIZON_DAYS) + 1) {
            let weekday = day.weekday().num_days_from_monday() as usize;
            for rule in self.rules.iter().filter(|rule| rule.days[weekday]) {
                for span in &rule.spans {
                    let Some(time) =
                        NaiveTime::from_num_seconds_from_midnight_opt(span.start * 60, 0)
                    else {
                        continue;
                    };
                    match tz.from_local_datetime(&day.and_time(time)) {
                        LocalResult::Single(at) => candidates.push(at.with_timezone(&Utc)),
                        LocalResult::Ambiguous(first, second) => {
                            candidates.push(first.with_timezone(&Utc));
                            candidates.push(second.with_timezone(&Utc));
                        }
                        LocalResult::None => {} // covered by the offset change
                    }
                }
            }
        }
        candidates.retain(|&at| at > t);
        candidates.sort_unstable();
        candidates
            .into_iter()
            .find(|&at| self.is_open(at, tz))
            // Unreachable with valid rules: every range recurs weekly within the horizon.
            .unwrap_or(t)
    }
}

/// The instants in `[from, to]` at which the zone's UTC offset changes.
fn offset_changes(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    // Whole seconds, like the transitions in the zone database.
    let offset = |second: i64| {
        DateTime::from_timestamp(second, 0)
            .map(|at| tz.offset_from_utc_datetime(&at.naive_utc()).fix())
    };
    let step = 6 * 3600;
    let (mut a, end) = (from.timestamp(), to.timestamp());
    let mut found = Vec::new();
    while a < end {
        let b = (a + step).min(end);
        if offset(a) != offset(b) {
            let (mut low, mut high) = (a, b);
            while high - low > 1 {
                let mid = low + (high - low) / 2;
                if offset(mid) == offset(a) {
                    low = mid;
                } else {
                    high = mid;
                }
            }
            found.extend(DateTime::from_timestamp(high, 0));
        }
        a = b;
    }
    found
}

fn parse_days(token: &str) -> Result<[bool; 7], ServiceHoursErrorKind> {
    let lower = token.to_lowercase();
    let mut days = [false; 7];
    if matches!(lower.as_str(), "daily" | "täglich" | "taeglich") {
        return Ok([true; 7]);
    }
    let unknown = || ServiceHoursErrorKind::UnknownDay(token.to_owned());
    let day = |name: &str| {
        let name = name.trim_end_matches('.');
        DAY_NAMES
            .iter()
            .position(|names| names.contains(&name))
            .ok_or_else(unknown)
    };
    match lower.split_once('-') {
        Some((a, b)) => {
            let (first, last) = (day(a)?, day(b)?);
            let mut d = first;
            loop {
                days[d] = true;
                if d == last {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        None => days[day(&lower)?] = true,
    }
    Ok(days)
}

fn parse_span(token: &str) -> Result<Span, ServiceHoursErrorKind> {
    let (a, b) = token
        .split_once('-')
        .ok_or_else(|| ServiceHoursErrorKind::BadRange(token.to_owned()))?;
    let start = parse_time(a, false)?;
    let end = parse_time(b, true)?;
    if start == end || (start == 0 && end == 0) {
        return Err(ServiceHoursErrorKind::EmptyRange(token.to_owned()));
    }
    Ok(Span { start, end })
}

/// `HH:MM`, `H:MM` or `HH.MM` as minutes after midnight; `24:00` only as an end.
fn parse_time(text: &str, may_be_end_of_day: bool) -> Result<u32, ServiceHoursErrorKind> {
    let bad = || ServiceHoursErrorKind::BadTime(text.to_owned());
    let (h, m) = text.split_once([':', '.']).ok_or_else(bad)?;
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        if len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<u32>().ok()
        } else {
            None
        }
    };
    let (hour, minute) = (
        digits(h, 1..=2).ok_or_else(bad)?,
        digits(m, 2..=2).ok_or_else(bad)?,
    );
    match (hour, minute) {
        (0..=23, 0..=59) => Ok(hour * 60 + minute),
        (24, 0) if may_be_end_of_day => Ok(24 * 60),
        _ => Err(bad()),
    }
}

impl fmt::Display for ServiceHours {
    /// Normalized: `Mon-Fri 08:00-12:00, 13:00-17:00; Sat 09:00-14:00`, or `24/7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return f.write_str("24/7");
        }
        let rules: Vec<String> = self
            .rules
            .iter()
            .map(|rule| {
                let spans = rule
                    .spans
                    .iter()
                    .map(|s| {
                        format!(
                            "{:02}:{:02}-{:02}:{:02}",
                            s.start / 60,
                            s.start % 60,
                            s.end / 60,
                            s.end % 60
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                if rule.days == [true; 7] {
                    spans
                } else {
                    format!("{} {spans}", render_weekdays(rule.days))
                }
            })
            .collect();
        f.write_str(&rules.join("; "))
    }
}

fn render_weekdays(days: [bool; 7]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < 7 {
        if !days[i] {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < 7 && days[j + 1] {
            j += 1;
        }
        parts.push(if i == j {
            DAY_LABELS[i].to_owned()
        } else {
            format!("{}-{}", DAY_LABELS[i], DAY_LABELS[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

text_rule!(ServiceHours, ServiceHoursError);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    use crate::broadcast::schedule::tests::utc;
    // --- service hours ---

    fn hours(text: &str) -> ServiceHours {
        ServiceHours::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn service_hours_english_and_german() {
        let en = hours("Mon-Fri 08:00-20:00, Sat 09:00-14:00");
        assert_eq!(en, hours("Mo-Fr 08:00-20:00; Sa 09:00-14:00"));
        assert_eq!(en, hours("Montag-Freitag 08:00-20:00; Samstag 09:00-14:00"));
        assert_eq!(
            en,
            hours("Mo. - Fr. 08:00 – 20:00 Uhr, Sa. 09:00 – 14:00 Uhr")
        );
        assert_eq!(en.to_string(), "Mon-Fri 08:00-20:00; Sat 09:00-14:00");
        assert_eq!(hours(&en.to_string()), en);
    }

    #[test]
    fn service_hours_open_and_closed() {
        let h = hours("Mon-Fri 08:00-20:00, Sat 09:00-14:00");
        // 2026-01-05 is a Monday; CET = UTC+1
        assert!(!h.is_open(utc(2026, 1, 5, 6, 59, 59), Berlin)); // 07:59:59
        assert!(h.is_open(utc(2026, 1, 5, 7, 0, 0), Berlin)); // 08:00
        assert!(h.is_open(utc(2026, 1, 5, 18, 59, 59), Berlin)); // 19:59:59
        assert!(!h.is_open(utc(2026, 1, 5, 19, 0, 0), Berlin)); // 20:00
        assert!(h.is_open(utc(2026, 1, 10, 12, 59, 0), Berlin)); // Sat 13:59
        assert!(!h.is_open(utc(2026, 1, 10, 13, 0, 0), Berlin)); // Sat 14:00
        assert!(!h.is_open(utc(2026, 1, 11, 11, 0, 0), Berlin)); // Sun noon
        // the same UTC instant is open in one zone and closed in another
        assert!(!h.is_open(utc(2026, 1, 5, 7, 30, 0), chrono_tz::America::New_York));
    }

    #[test]
    fn friday_evening_waits_for_monday_morning() {
        let h = hours("Mon-Fri 08:00-20:00");
        // Friday 2026-01-09 21:00 CET → Monday 2026-01-12 08:00 CET
        assert_eq!(
            h.next_open(utc(2026, 1, 9, 20, 0, 0), Berlin),
            utc(2026, 1, 12, 7, 0, 0)
        );
        // across the spring-forward weekend: Friday 20:30 CET → Monday 08:00 CEST
        assert_eq!(
            h.next_open(utc(2026, 3, 27, 19, 30, 0), Berlin),
            utc(2026, 3, 30, 6, 0, 0)
        );
        // early Monday → the same morning; when open → itself
        assert_eq!(
            h.next_open(utc(2026, 1, 12, 5, 0, 0), Berlin),
            utc(2026, 1, 12, 7, 0, 0)
        );
        let open = utc(2026, 1, 12, 9, 17, 3);
        assert_eq!(h.next_open(open, Berlin), open);
    }

    #[test]
    fn service_hours_on_dst_days() {
        // spring forward: 2026-03-29 02:00 CET → 03:00 CEST
        let h = hours("Sun 01:00-04:00");
        assert!(h.is_open(utc(2026, 3, 29, 0, 30, 0), Berlin)); // 01:30 CET
        assert!(h.is_open(utc(2026, 3, 29, 1, 30, 0), Berlin)); // 03:30 CEST
        assert!(!h.is_open(utc(2026, 3, 29, 2, 0, 0), Berlin)); // 04:00 CEST
        // an opening time inside the gap opens when the clock jumps past it
        let gap = hours("Sun 02:30-05:00");
        assert!(!gap.is_open(utc(2026, 3, 29, 0, 59, 59), Berlin)); // 01:59:59 CET
        assert_eq!(
            gap.next_open(utc(2026, 3, 29, 0, 0, 0), Berlin),
            utc(2026, 3, 29, 1, 0, 0)
        );
        // fall back: 2026-10-25 03:00 CEST → 02:00 CET; 02:00-02:30 comes round twice
        let fold = hours("Sun 02:00-02:30");
        assert!(fold.is_open(utc(2026, 10, 25, 0, 15, 0), Berlin)); // 02:15 CEST
        assert!(!fold.is_open(utc(2026, 10, 25, 0, 45, 0), Berlin)); // 02:45 CEST
        assert_eq!(
            fold.next_open(utc(2026, 10, 25, 0, 45, 0), Berlin),
            utc(2026, 10, 25, 1, 0, 0)
        );
        // a range ending before the fold that the fall-back lands in again
        let before = hours("Sun 01:30-02:30");
        assert_eq!(
            before.next_open(utc(2026, 10, 25, 0, 40, 0), Berlin),
            utc(2026, 10, 25, 1, 0, 0)
        );
        // a normal opening hour on the DST day itself
        let nine = hours("Sun 09:00-10:00");
        assert_eq!(
            nine.next_open(utc(2026, 3, 29, 0, 0, 0), Berlin),
            utc(2026, 3, 29, 7, 0, 0)
        );
        assert_eq!(
            nine.next_open(utc(2026, 10, 25, 0, 0, 0), Berlin),
            utc(2026, 10, 25, 8, 0, 0)
        );
    }

    #[test]
    fn service_hours_overnight_wrapping_and_every_day() {
        let late = hours("Fri 22:00-02:00");
        assert!(!late.is_open(utc(2026, 1, 9, 20, 59, 0), Berlin)); // Fri 21:59
        assert!(late.is_open(utc(2026, 1, 9, 21, 0, 0), Berlin)); // Fri 22:00
        assert!(late.is_open(utc(2026, 1, 10, 0, 30, 0), Berlin)); // Sat 01:30
        assert!(!late.is_open(utc(2026, 1, 10, 1, 0, 0), Berlin)); // Sat 02:00
        assert_eq!(
            late.next_open(utc(2026, 1, 10, 2, 0, 0), Berlin),
            utc(2026, 1, 16, 21, 0, 0)
        );
        let weekend = hours("Fr-Mo 10:00-12:00");
        assert_eq!(weekend, hours("Mon,Fri-Sun 10:00-12:00"));
        assert_eq!(weekend.to_string(), "Mon,Fri-Sun 10:00-12:00");
        assert!(weekend.is_open(utc(2026, 1, 11, 10, 0, 0), Berlin)); // Sun 11:00
        assert!(!weekend.is_open(utc(2026, 1, 13, 10, 0, 0), Berlin)); // Tue 11:00
        let daily = hours("08:00-12:00, 13:00-17:00");
        assert_eq!(daily.to_string(), "08:00-12:00, 13:00-17:00");
        assert!(daily.is_open(utc(2026, 1, 11, 8, 0, 0), Berlin)); // Sun 09:00
        assert!(!daily.is_open(utc(2026, 1, 11, 11, 30, 0), Berlin)); // Sun 12:30
        assert_eq!(
            daily.next_open(utc(2026, 1, 11, 11, 30, 0), Berlin),
            utc(2026, 1, 11, 12, 0, 0)
        );
        let whole = hours("Sat 00:00-24:00");
        assert!(whole.is_open(utc(2026, 1, 10, 22, 59, 59), Berlin)); // Sat 23:59:59
        assert!(!whole.is_open(utc(2026, 1, 10, 23, 0, 0), Berlin)); // Sun 00:00
    }

    #[test]
    fn always_open() {
        for text in ["", "  ", "24/7", "always"] {
            let h = hours(text);
            assert!(h.is_always());
            assert_eq!(h.to_string(), "24/7");
            let t = utc(2026, 3, 29, 1, 30, 0);
            assert!(h.is_open(t, Berlin));
            assert_eq!(h.next_open(t, Berlin), t);
        }
        assert_eq!(ServiceHours::default(), ServiceHours::always());
    }

    #[test]
    fn service_hours_errors() {
        let kind = |text: &str| ServiceHours::parse(text).unwrap_err().kind().clone();
        assert_eq!(
            kind("Mon-Fry 08:00-20:00"),
            ServiceHoursErrorKind::UnknownDay("Mon-Fry".into())
        );
        assert_eq!(
            kind("Mon-Fri 8-20"),
            ServiceHoursErrorKind::BadTime("8".into())
        );
        assert_eq!(
            kind("Mon-Fri 08:00"),
            ServiceHoursErrorKind::BadRange("08:00".into())
        );
        assert_eq!(
            kind("Mon 25:00-26:00"),
            ServiceHoursErrorKind::BadTime("25:00".into())
        );
        assert_eq!(
            kind("Mon 24:00-08:00"),
            ServiceHoursErrorKind::BadTime("24:00".into())
        );
        assert_eq!(
            kind("Mon 08:60-09:00"),
            ServiceHoursErrorKind::BadTime("08:60".into())
        );
        assert_eq!(
            kind("Mon 08:00-08:00"),
            ServiceHoursErrorKind::EmptyRange("08:00-08:00".into())
        );
        assert_eq!(
            kind("Mon-Fri 08:00-20:00, Sat"),
            ServiceHoursErrorKind::DaysWithoutHours("Sat".into())
        );
        let message = ServiceHours::parse("Mon-Fry 08:00-20:00")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "invalid service hours \"Mon-Fry 08:00-20:00\": \"Mon-Fry\" is not a day; write Mon … Sun or \
             Mo … So, e.g. \"Mon-Fri 08:00-20:00, Sat 09:00-14:00\", or \"24/7\""
        );
    }

    #[test]
    fn service_hours_serde() {
        let h: ServiceHours = serde_json::from_str("\"Mo-Fr 08:00-20:00\"").unwrap();
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            "\"Mon-Fri 08:00-20:00\""
        );
        assert!(serde_json::from_str::<ServiceHours>("\"Mo-Fr\"").is_err());
    }
}
