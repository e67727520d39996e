//! Times as ops write them (`2026-11-20 08:12`, optionally with `+01:00`, `Z` or an IANA zone),
//! resolved DST-correctly in the site's zone, and times and durations as customers read them.

use chrono::{
    DateTime, Datelike, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;

use crate::config::Lang;

/// Why a time could not be read; the caller adds the position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError {
    pub message: String,
    pub hint: String,
}

fn err(message: impl Into<String>, hint: impl Into<String>) -> TimeError {
    TimeError {
        message: message.into(),
        hint: hint.into(),
    }
}

const FORMAT_HINT: &str = "write times as YYYY-MM-DD HH:MM, e.g. 2026-11-20 08:12, optionally followed by an offset (+01:00, Z) or a zone (Europe/Berlin)";

/// Resolve a wall-clock time in `tz`. A time that does not exist (clocks jump forward) is an error;
/// one that exists twice (clocks fall back) is the earlier of the two.
///
/// # Errors
/// When the local time falls into a DST gap.
pub fn resolve_local(naive: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, TimeError> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(err(
            format!(
                "{} does not exist in {} (the clocks jump forward then)",
                naive.format("%Y-%m-%d %H:%M"),
                tz.name()
            ),
            "write the time with an explicit UTC offset, e.g. +02:00",
        )),
    }
}

fn parse_date_time(date: &str, time: &str) -> Result<NaiveDateTime, TimeError> {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| err(format!("\"{date}\" is not a date"), FORMAT_HINT))?;
    let t = chrono::NaiveTime::parse_from_str(time, "%H:%M")
        .or_else(|_| chrono::NaiveTime::parse_from_str(time, "%H:%M:%S"))
        .map_err(|_| err(format!("\"{time}\" is not a time of day"), FORMAT_HINT))?;
    Ok(d.and_time(t))
}

/// Parse an optional zone word: `Z`, `UTC`, `+01:00`, `-0500` or an IANA zone name.
fn parse_zone(word: &str) -> Option<Zone> {
    if word == "Z" || word == "UTC" {
        return Some(Zone::Fixed(FixedOffset::east_opt(0)?));
    }
    if word.starts_with(['+', '-']) {
        let digits: String = word[1..].chars().filter(char::is_ascii_digit).collect();
        if digits.len() == 4 && (word.len() == 5 || word.len() == 6 && &word[3..4] == ":") {
            let h: i32 = digits[..2].parse().ok()?;
            let m: i32 = digits[2..].parse().ok()?;
            let secs = (h * 3600 + m * 60) * if word.starts_with('-') { -1 } else { 1 };
            return FixedOffset::east_opt(secs).map(Zone::Fixed);
        }
        return None;
    }
    word.parse::<Tz>().ok().map(Zone::Named)
}

enum Zone {
    Fixed(FixedOffset),
    Named(Tz),
}

/// Parse `YYYY-MM-DD HH:MM[ zone]` (or RFC 3339) in the site zone `tz`.
///
/// # Errors
/// A message and a hint saying how to write it.
pub fn parse_time(text: &str, tz: Tz) -> Result<DateTime<Utc>, TimeError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [date, time] => resolve_local(parse_date_time(date, time)?, tz),
        [date, time, zone] => {
            let naive = parse_date_time(date, time)?;
            match parse_zone(zone) {
                Some(Zone::Fixed(off)) => match off.from_local_datetime(&naive) {
                    LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
                    _ => Err(err("time out of range", FORMAT_HINT)),
                },
                Some(Zone::Named(z)) => resolve_local(naive, z),
                None => Err(err(
                    format!("\"{zone}\" is not a UTC offset or time zone"),
                    FORMAT_HINT,
                )),
            }
        }
        _ => Err(err(format!("\"{text}\" is not a time"), FORMAT_HINT)),
    }
}

/// Parse the `--now` argument: RFC 3339, or `YYYY-MM-DD HH:MM` in UTC.
///
/// # Errors
/// When the text is neither.
pub fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time(text, Tz::UTC).map_err(|e| {
        format!(
            "{}: {}",
            e.message, "use RFC 3339, e.g. 2026-11-23T10:00:00Z"
        )
    })
}

const MONTHS_DE: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS_DE: [&str; 7] = [
    "Montag",
    "Dienstag",
    "Mittwoch",
    "Donnerstag",
    "Freitag",
    "Samstag",
    "Sonntag",
];
const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn month_name(lang: Lang, month0: u32) -> &'static str {
    match lang {
        Lang::De => MONTHS_DE[month0 as usize],
        Lang::En => MONTHS_EN[month0 as usize],
    }
}

/// Formats times for people, in one language and the site zone.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub lang: Lang,
    pub tz: Tz,
}

impl Clock {
    #[must_use]
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<Tz> {
        t.with_timezone(&self.tz)
    }

    /// `20. November 2026` / `November 20, 2026`.
    #[must_use]
    pub fn date(&self, t: DateTime<Utc>) -> String {
        let mut s = String::with_capacity(20);
        self.write_date(&mut s, &self.local(t));
        s
    }

    fn write_date(self, s: &mut String, l: &DateTime<Tz>) {
        use std::fmt::Write;
        let month = month_name(self.lang, l.month0());
        let _ = match self.lang {
            Lang::De => write!(s, "{}. {month} {}", l.day(), l.year()),
            Lang::En => write!(s, "{month} {}, {}", l.day(), l.year()),
        };
    }

    /// `Freitag, 20. November 2026` / `Friday, November 20, 2026`.
    #[must_use]
    pub fn weekday_date(&self, t: DateTime<Utc>) -> String {
        let l = self.local(t);
        let wd = l.weekday().num_days_from_monday() as usize;
        let name = match self.lang {
            Lang::De => WEEKDAYS_DE[wd],
            Lang::En => WEEKDAYS_EN[wd],
        };
        format!("{name}, {}", self.date(t))
    }

    /// `November 2026` (both languages put the month first).
    #[must_use]
    pub fn month(&self, t: DateTime<Utc>) -> String {
        let l = self.local(t);
        format!("{} {}", month_name(self.lang, l.month0()), l.year())
    }

    /// `08:12 MEZ`-style clock time with the zone abbreviation (`CET` in English, `MEZ` in German).
    #[must_use]
    pub fn time(&self, t: DateTime<Utc>) -> String {
        let mut s = String::with_capacity(12);
        self.write_time(&mut s, &self.local(t));
        s
    }

    fn write_time(self, s: &mut String, l: &DateTime<Tz>) {
        use chrono_tz::OffsetName;
        use std::fmt::Write;
        let offset = l.offset();
        let abbr = match (self.lang, offset.abbreviation()) {
            (Lang::De, Some("CET")) => "MEZ",
            (Lang::De, Some("CEST")) => "MESZ",
            // Zones without a name for their offset (`-03`): what `%Z` shows.
            (_, Some(a)) => a,
            (_, None) => "",
        };
        let _ = write!(s, "{:02}:{:02} ", l.hour(), l.minute());
        if abbr.is_empty() {
            let _ = write!(s, "{}", l.format("%Z"));
        } else {
            s.push_str(abbr);
        }
    }

    /// `20. November 2026, 08:12 MEZ` / `November 20, 2026, 08:12 CET`.
    #[must_use]
    pub fn date_time(&self, t: DateTime<Utc>) -> String {
        // Every update of every page shows one: the zone is looked up once and one string made.
        let l = self.local(t);
        let mut s = String::with_capacity(32);
        self.write_date(&mut s, &l);
        s.push_str(", ");
        self.write_time(&mut s, &l);
        s
    }

    /// `2 Std. 15 Min.` / `2 h 15 min`, `3 Tage 4 Std.` / `3 days 4 h`; never empty.
    #[must_use]
    pub fn duration(&self, d: TimeDelta) -> String {
        let minutes = d.num_minutes().max(0);
        let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
        let mut parts = Vec::new();
        match self.lang {
            Lang::De => {
                if days > 0 {
                    parts.push(format!("{days} {}", if days == 1 { "Tag" } else { "Tage" }));
                }
                if hours > 0 {
                    parts.push(format!("{hours} Std."));
                }
                if mins > 0 && days == 0 || parts.is_empty() {
                    parts.push(format!("{mins} Min."));
                }
            }
            Lang::En => {
                if days > 0 {
                    parts.push(format!("{days} {}", if days == 1 { "day" } else { "days" }));
                }
                if hours > 0 {
                    parts.push(format!("{hours} h"));
                }
                if mins > 0 && days == 0 || parts.is_empty() {
                    parts.push(format!("{mins} min"));
                }
            }
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn local_times_follow_dst() {
        assert_eq!(
            parse_time("2026-11-20 08:12", Berlin).unwrap(),
            utc("2026-11-20T07:12:00Z")
        );
        assert_eq!(
            parse_time("2026-07-20 08:12", Berlin).unwrap(),
            utc("2026-07-20T06:12:00Z")
        );
        // Fall back: 02:30 happens twice; the earlier (summer time) one is taken.
        assert_eq!(
            parse_time("2026-10-25 02:30", Berlin).unwrap(),
            utc("2026-10-25T00:30:00Z")
        );
        // Spring forward: 02:30 does not exist.
        let e = parse_time("2026-03-29 02:30", Berlin).unwrap_err();
        assert!(
            e.message.contains("does not exist in Europe/Berlin"),
            "{e:?}"
        );
    }

    #[test]
    fn explicit_offsets_and_zones_win_over_the_site_zone() {
        assert_eq!(
            parse_time("2026-10-01 14:00 +02:00", Berlin).unwrap(),
            utc("2026-10-01T12:00:00Z")
        );
        assert_eq!(
            parse_time("2026-10-01 14:00 Z", Berlin).unwrap(),
            utc("2026-10-01T14:00:00Z")
        );
        assert_eq!(
            parse_time("2026-11-10 19:30 Europe/London", Berlin).unwrap(),
            utc("2026-11-10T19:30:00Z")
        );
        assert_eq!(
            parse_time("2026-11-10T19:30:00-05:00", Berlin).unwrap(),
            utc("2026-11-11T00:30:00Z")
        );
        assert!(parse_time("2026-11-10 19:30 Mars/Olympus", Berlin).is_err());
        assert!(parse_time("20.11.2026 08:12", Berlin).is_err());
        assert!(parse_time("2026-11-20 25:12", Berlin).is_err());
    }

    #[test]
    fn clock_times_name_the_zone_as_strftime_does_in_any_zone() {
        // The zone's name comes from its offset directly; `%Z` is what it replaced.
        let zones: [Tz; 6] = [
            Berlin,
            chrono_tz::America::Sao_Paulo,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::UTC,
            chrono_tz::Pacific::Chatham,
        ];
        for tz in zones {
            for lang in [Lang::De, Lang::En] {
                let clock = Clock { lang, tz };
                // Every 7 h 13 min over two years: both sides of every change of offset.
                let mut t = utc("2025-01-01T00:00:00Z");
                while t < utc("2027-01-01T00:00:00Z") {
                    let l = t.with_timezone(&tz);
                    let zone = match (lang, l.format("%Z").to_string().as_str()) {
                        (Lang::De, "CET") => "MEZ".to_string(),
                        (Lang::De, "CEST") => "MESZ".to_string(),
                        (_, z) => z.to_string(),
                    };
                    let want = format!("{:02}:{:02} {zone}", l.hour(), l.minute());
                    assert_eq!(clock.time(t), want, "{tz} {t}");
                    assert_eq!(clock.date_time(t), format!("{}, {want}", clock.date(t)));
                    t += TimeDelta::minutes(433);
                }
            }
        }
    }

    #[test]
    fn formats_dates_and_durations_in_both_languages() {
        let de = Clock {
            lang: Lang::De,
            tz: Berlin,
        };
        let en = Clock {
            lang: Lang::En,
            tz: Berlin,
        };
        let t = utc("2026-11-20T07:12:00Z");
        assert_eq!(de.date_time(t), "20. November 2026, 08:12 MEZ");
        assert_eq!(en.date_time(t), "November 20, 2026, 08:12 CET");
        assert_eq!(de.weekday_date(t), "Freitag, 20. November 2026");
        assert_eq!(de.time(utc("2026-07-20T06:12:00Z")), "08:12 MESZ");
        assert_eq!(de.duration(TimeDelta::minutes(135)), "2 Std. 15 Min.");
        assert_eq!(en.duration(TimeDelta::minutes(135)), "2 h 15 min");
        assert_eq!(
            de.duration(TimeDelta::minutes(1440 + 240 + 7)),
            "1 Tag 4 Std."
        );
        assert_eq!(en.duration(TimeDelta::minutes(0)), "0 min");
    }
}
