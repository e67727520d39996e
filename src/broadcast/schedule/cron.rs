//! Cron schedules: classic (Vixie) semantics, evaluated by the `cron` crate after translation.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
#[cfg(test)]
use chrono::{Datelike, Timelike};
use chrono_tz::Tz;

/// The most occurrences [`CronSchedule::between`] returns (the earliest ones).
pub const MAX_OCCURRENCES: usize = 10_000;

/// The most local candidate times one query examines, skipped DST gaps and folds included.
/// Keeps every query bounded, even for a schedule that fires every second.
const MAX_SCAN: usize = 200_000;

const CRON_FORMS: &str = "write 5 fields `minute hour day-of-month month day-of-week` \
     (e.g. \"0 9 * * 1\" = Mondays 09:00), 6 with a leading second, 7 with a trailing year, \
     or one of @hourly, @daily, @weekly, @monthly, @yearly";

/// A field of a cron expression, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CronField {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

const WEEKDAY_NAMES: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

impl CronField {
    /// Inclusive range of numbers the field accepts (day of week: 0 and 7 are Sunday;
    /// year: what the `cron` crate supports).
    #[must_use]
    pub const fn bounds(self) -> (u32, u32) {
        match self {
            Self::Second | Self::Minute => (0, 59),
            Self::Hour => (0, 23),
            Self::DayOfMonth => (1, 31),
            Self::Month => (1, 12),
            Self::DayOfWeek => (0, 7),
            Self::Year => (1970, 2100),
        }
    }

    const fn hint(self) -> &'static str {
        match self {
            Self::DayOfWeek => " (0 and 7 are Sunday)",
            Self::Month => " (1 is January)",
            _ => "",
        }
    }

    const fn names(self) -> &'static str {
        match self {
            Self::DayOfWeek => "SUN, MON, TUE, WED, THU, FRI, SAT",
            Self::Month => "JAN, FEB, …, DEC",
            _ => "",
        }
    }

    /// English three-letter abbreviation or full name, any case.
    fn value_of_name(self, name: &str) -> Option<u32> {
        let (table, first): (&[&str], u32) = match self {
            Self::DayOfWeek => (&WEEKDAY_NAMES, 0),
            Self::Month => (&MONTH_NAMES, 1),
            _ => return None,
        };
        let name = name.to_ascii_lowercase();
        let index = table
            .iter()
            .position(|full| name == *full || (name.len() == 3 && full.starts_with(&name)))?;
        u32::try_from(index).ok().map(|i| i + first)
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::DayOfMonth => "day of month",
            Self::Month => "month",
            Self::DayOfWeek => "day of week",
            Self::Year => "year",
        })
    }
}

/// A cron expression that cannot be used, with what is wrong and how to write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression \"{expression}\": {kind}")]
pub struct CronError {
    expression: String,
    kind: CronErrorKind,
}

impl CronError {
    /// The expression as the user wrote it (trimmed).
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expression
    }

    #[must_use]
    pub fn kind(&self) -> &CronErrorKind {
        &self.kind
    }
}

/// What is wrong with a cron expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronErrorKind {
    #[error("it is empty; {forms}", forms = CRON_FORMS)]
    Empty,
    #[error("it has {found} fields; {forms}", forms = CRON_FORMS)]
    FieldCount { found: usize },
    #[error("unknown shorthand \"@{0}\"; use @hourly, @daily, @weekly, @monthly or @yearly")]
    UnknownShorthand(String),
    #[error("{field} {value} is out of range {}–{}{}", .field.bounds().0, .field.bounds().1, .field.hint())]
    OutOfRange { field: CronField, value: String },
    #[error("{field} \"{name}\" is not a known name; use {} or a number {}–{}{}",
        .field.names(), .field.bounds().0, .field.bounds().1, .field.hint())]
    UnknownName { field: CronField, name: String },
    #[error("{field} \"{name}\" must be a number {}–{}; names are only allowed for month and day of week",
        .field.bounds().0, .field.bounds().1)]
    NamesNotAllowed { field: CronField, name: String },
    #[error("{field} range \"{token}\" runs backwards; write the smaller value first (e.g. 1-5)")]
    BackwardsRange { field: CronField, token: String },
    #[error("{field} \"{token}\" has a step of 0; a step is at least 1 (e.g. */15)")]
    ZeroStep { field: CronField, token: String },
    #[error(
        "{field} \"{token}\" is not valid; write *, a number, a range (1-5), a step (*/15, 0-30/10) or a list (1,15)"
    )]
    Syntax { field: CronField, token: String },
    #[error(
        "day of month {days} never occurs in the selected months, so the schedule would never fire"
    )]
    NeverFires { days: String },
    #[error(
        "the cron library rejected the translated expression \"{translated}\" ({reason}); please report this as a bug"
    )]
    Translation { translated: String, reason: String },
}

/// The parsed fields in classic cron numbering (day of week 0–6, Sunday = 0).
#[derive(Clone, Debug, PartialEq, Eq)]
struct CronFields {
    seconds: BTreeSet<u32>,
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
    days_of_month: BTreeSet<u32>,
    months: BTreeSet<u32>,
    days_of_week: BTreeSet<u32>,
    /// `None`: any year.
    years: Option<BTreeSet<u32>>,
    /// Vixie's rule: a day matches if day of month OR day of week matches, when neither field
    /// starts with `*` (or `?`); else both must match. `*/2` starts with `*`, so it keeps AND,
    /// as in Vixie cron and cronie.
    or_rule: bool,
}

impl CronFields {
    /// Vixie cron's matching rule on a local wall-clock time; the reference the translation
    /// to the `cron` crate is tested against.
    #[cfg(test)]
    fn matches(&self, t: NaiveDateTime) -> bool {
        let dom = self.days_of_month.contains(&t.day());
        let dow = self
            .days_of_week
            .contains(&t.weekday().num_days_from_sunday());
        let day = if self.or_rule { dom || dow } else { dom && dow };
        day && self.seconds.contains(&t.second())
            && self.minutes.contains(&t.minute())
            && self.hours.contains(&t.hour())
            && self.months.contains(&t.month())
            && self
                .years
                .as_ref()
                .is_none_or(|y| u32::try_from(t.year()).is_ok_and(|year| y.contains(&year)))
    }
}

/// A recurring schedule in classic cron syntax, evaluated on the site's local time.
///
/// Accepted forms: `min hour dom month dow` (5 fields), `sec min hour dom month dow` (6),
/// `sec min hour dom month dow year` (7), and `@hourly`, `@daily` (`@midnight`), `@weekly`,
/// `@monthly`, `@yearly` (`@annually`). Day of week: 0–7 with 0 and 7 = Sunday, or
/// `SUN`…`SAT`; a range ending in `SUN` wraps to 7 (`FRI-SUN` = `5-7`). When both day of month
/// and day of week are restricted (neither starts with `*`), a day matches if EITHER matches.
///
/// Equality compares what the schedules select: `0 0 9 * * MON` equals `0 9 * * 1`.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    fields: CronFields,
    /// One `cron` crate schedule, or two for the OR rule (dom with dow `*`, dow with dom `*`).
    translated: Vec<cron::Schedule>,
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Eq for CronSchedule {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

impl CronSchedule {
    /// # Errors
    ///
    /// Fails with a [`CronError`] that says which field is wrong and how to write it.
    pub fn parse(expr: &str) -> Result<Self, CronError> {
        let trimmed = expr.trim();
        let error = |kind| CronError {
            expression: trimmed.to_owned(),
            kind,
        };
        if trimmed.is_empty() {
            return Err(error(CronErrorKind::Empty));
        }
        let text = match trimmed.strip_prefix('@') {
            Some(name) => shorthand(name)
                .ok_or_else(|| error(CronErrorKind::UnknownShorthand(name.to_owned())))?,
            None => trimmed,
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (second, rest, year) = match parts.len() {
            5 => ("0", &parts[..], None),
            6 => (parts[0], &parts[1..], None),
            7 => (parts[0], &parts[1..6], Some(parts[6])),
            found => return Err(error(CronErrorKind::FieldCount { found })),
        };
        let field = |f, text| parse_field(f, text).map_err(error);
        let fields = CronFields {
            seconds: field(CronField::Second, second)?,
            minutes: field(CronField::Minute, rest[0])?,
            hours: field(CronField::Hour, rest[1])?,
            days_of_month: field(CronField::DayOfMonth, rest[2])?,
            months: field(CronField::Month, rest[3])?,
            days_of_week: field(CronField::DayOfWeek, rest[4])?,
            years: match year {
                None | Some("*") => None,
                Some(text) => Some(field(CronField::Year, text)?),
            },
            or_rule: !is_star(rest[2]) && !is_star(rest[4]),
        };
        check_days_exist(&fields).map_err(error)?;
        let translated = translate(&fields).map_err(error)?;
        Ok(Self { fields, translated })
    }

    /// The next occurrence strictly after `t`.
    #[must_use]
    pub fn after(&self, t: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let start = t.with_timezone(&tz).naive_local();
        self.local_occurrences(start, Direction::Forward)
            .take(MAX_SCAN)
            .filter_map(|local| resolve(tz, local))
            .find(|&at| at > t)
    }

    /// The occurrences in `(from, to]`, oldest first; at most [`MAX_OCCURRENCES`] (the
    /// earliest ones).
    #[must_use]
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> Vec<DateTime<Utc>> {
        let mut found = Vec::new();
        if to <= from {
            return found;
        }
        let start = from.with_timezone(&tz).naive_local();
        for local in self
            .local_occurrences(start, Direction::Forward)
            .take(MAX_SCAN + MAX_OCCURRENCES)
        {
            let Some(at) = resolve(tz, local) else {
                continue;
            };
            if at <= from {
                continue;
            }
            if at > to || found.len() == MAX_OCCURRENCES {
                break;
            }
            found.push(at);
        }
        found
    }

    /// The latest occurrence in `(from, to]`, found by walking backwards from `to`: cheap for
    /// any window, even for a schedule that fires every second.
    #[must_use]
    pub fn latest_in(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tz: Tz,
    ) -> Option<DateTime<Utc>> {
        if to <= from {
            return None;
        }
        let local_to = to.with_timezone(&tz);
        let mut start = local_to.naive_local();
        // `to` in the second pass of a fall-back fold: local times up to the end of the fold
        // resolve to their first pass, which lies before `to`, so start the walk there.
        if let LocalResult::Ambiguous(early, late) = tz.from_local_datetime(&start) {
            let (early, late) = (early.offset().fix(), late.offset().fix());
            if local_to.offset().fix() == late && early != late {
                start +=
                    TimeDelta::seconds(i64::from(early.local_minus_utc() - late.local_minus_utc()));
            }
        }
        for local in self
            .local_occurrences(start, Direction::Backward)
            .take(MAX_SCAN)
        {
            let Some(at) = resolve(tz, local) else {
                continue;
            };
            if at <= to {
                // Resolved instants grow with local time, so nothing earlier is later.
                return (at > from).then_some(at);
            }
        }
        None
    }

    /// Matching local wall-clock times: forward strictly after `start`, backward at or
    /// before it. The `cron` crate runs on `Utc` as a stand-in for the naive local clock, so
    /// it never sees a DST gap or fold; `resolve` deals with those.
    fn local_occurrences(
        &self,
        start: NaiveDateTime,
        direction: Direction,
    ) -> LocalOccurrences<'_> {
        let heads = self
            .translated
            .iter()
            .map(|schedule| {
                let iter: Box<dyn Iterator<Item = DateTime<Utc>> + '_> = match direction {
                    // `cron` yields whole seconds strictly after its start.
                    Direction::Forward => Box::new(schedule.after(&Utc.from_utc_datetime(&start))),
                    // Backwards `cron` yields whole seconds strictly before a whole-second
                    // start, at or before one with a fraction: nudge to include `start`.
                    Direction::Backward => Box::new(
                        schedule
                            .after(&Utc.from_utc_datetime(&(start + TimeDelta::nanoseconds(1))))
                            .rev(),
                    ),
                };
                iter.peekable()
            })
            .collect();
        LocalOccurrences { heads, direction }
    }
}

/// The occurrences of one or two `cron` schedules merged in order, without duplicates.
struct LocalOccurrences<'a> {
    heads: Vec<std::iter::Peekable<Box<dyn Iterator<Item = DateTime<Utc>> + 'a>>>,
    direction: Direction,
}

impl Iterator for LocalOccurrences<'_> {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        let direction = self.direction;
        let best = self
            .heads
            .iter_mut()
            .filter_map(|head| head.peek().copied())
            .reduce(|a, b| match direction {
                Direction::Forward => a.min(b),
                Direction::Backward => a.max(b),
            })?;
        for head in &mut self.heads {
            if head.peek() == Some(&best) {
                head.next();
            }
        }
        Some(best.naive_utc())
    }
}

/// The instant of a local wall-clock time: `None` in a spring-forward gap, the first of two in
/// a fall-back fold.
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

fn shorthand(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "hourly" => "0 * * * *",
        "daily" | "midnight" => "0 0 * * *",
        "weekly" => "0 0 * * 0",
        "monthly" => "0 0 1 * *",
        "yearly" | "annually" => "0 0 1 1 *",
        _ => return None,
    })
}

fn is_star(text: &str) -> bool {
    text.starts_with('*') || text.starts_with('?')
}

fn parse_field(field: CronField, text: &str) -> Result<BTreeSet<u32>, CronErrorKind> {
    let (min, max) = field.bounds();
    let mut set = BTreeSet::new();
    for item in text.split(',') {
        let syntax = || CronErrorKind::Syntax {
            field,
            token: item.to_owned(),
        };
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                if step.is_empty() || !step.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(syntax());
                }
                // A step beyond any range just selects the start.
                let step: u32 = step.parse().unwrap_or(u32::MAX);
                if step == 0 {
                    return Err(CronErrorKind::ZeroStep {
                        field,
                        token: item.to_owned(),
                    });
                }
                (range, step)
            }
            None => (item, 1),
        };
        let wildcard = range == "*"
            || (range == "?" && matches!(field, CronField::DayOfMonth | CronField::DayOfWeek));
        let (low, high) = if wildcard {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let low = field_value(field, a, item)?;
            let mut high = field_value(field, b, item)?;
            // `FRI-SUN`: Sunday as the end of a range is day 7.
            if field == CronField::DayOfWeek
                && high == 0
                && low > 0
                && b.bytes().all(|c| c.is_ascii_alphabetic())
            {
                high = 7;
            }
            (low, high)
        } else {
            let value = field_value(field, range, item)?;
            // `5/10` = from 5 to the end in steps of 10.
            (value, if item.contains('/') { max } else { value })
        };
        if low > high {
            return Err(CronErrorKind::BackwardsRange {
                field,
                token: item.to_owned(),
            });
        }
        let mut value = low;
        while value <= high {
            set.insert(value);
            match value.checked_add(step) {
                Some(next) => value = next,
                None => break,
            }
        }
    }
    if field == CronField::DayOfWeek && set.remove(&7) {
        set.insert(0);
    }
    Ok(set)
}

fn field_value(field: CronField, text: &str, item: &str) -> Result<u32, CronErrorKind> {
    let (min, max) = field.bounds();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        match text.parse::<u32>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(CronErrorKind::OutOfRange {
                field,
                value: match text.trim_start_matches('0') {
                    "" => "0".to_owned(),
                    digits => digits.to_owned(),
                },
            }),
        }
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        field.value_of_name(text).ok_or_else(|| {
            if field.names().is_empty() {
                CronErrorKind::NamesNotAllowed {
                    field,
                    name: text.to_owned(),
                }
            } else {
                CronErrorKind::UnknownName {
                    field,
                    name: text.to_owned(),
                }
            }
        })
    } else {
        Err(CronErrorKind::Syntax {
            field,
            token: item.to_owned(),
        })
    }
}

/// Rejects `0 0 30 2 *` and the like (only when the day of month alone decides).
fn check_days_exist(fields: &CronFields) -> Result<(), CronErrorKind> {
    let day_of_month_decides = !fields.or_rule;
    let longest_month = fields
        .months
        .iter()
        .map(|&m| match m {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        })
        .max()
        .unwrap_or(31);
    if day_of_month_decides && fields.days_of_month.iter().all(|&d| d > longest_month) {
        return Err(CronErrorKind::NeverFires {
            days: render(&fields.days_of_month, 1, 31, false),
        });
    }
    Ok(())
}

/// The `cron` crate's form: 6–7 fields, day of week 1 = Sunday … 7 = Saturday, and AND
/// between day of month and day of week. Vixie's OR becomes two schedules.
fn translate(fields: &CronFields) -> Result<Vec<cron::Schedule>, CronErrorKind> {
    fn list(set: &BTreeSet<u32>, all: usize) -> String {
        if set.len() == all {
            "*".to_owned()
        } else {
            join(set.iter())
        }
    }
    let head = format!(
        "{} {} {}",
        list(&fields.seconds, 60),
        list(&fields.minutes, 60),
        list(&fields.hours, 24)
    );
    let dom = list(&fields.days_of_month, 31);
    let month = list(&fields.months, 12);
    let dow = if fields.days_of_week.len() == 7 {
        "*".to_owned()
    } else {
        join(fields.days_of_week.iter().map(|d| d + 1))
    };
    let year = fields
        .years
        .as_ref()
        .map(|y| format!(" {}", join(y.iter())))
        .unwrap_or_default();
    let expressions = if fields.or_rule {
        vec![
            format!("{head} {dom} {month} *{year}"),
            format!("{head} * {month} {dow}{year}"),
        ]
    } else {
        vec![format!("{head} {dom} {month} {dow}{year}")]
    };
    expressions
        .into_iter()
        .map(|expression| {
            cron::Schedule::from_str(&expression).map_err(|e| CronErrorKind::Translation {
                translated: expression.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

fn join<T: ToString>(values: impl Iterator<Item = T>) -> String {
    values.map(|v| v.to_string()).collect::<Vec<_>>().join(",")
}

/// Compact form of a field: `*`, `*/15`, `0-30/10`, `1-5,7`.
fn render(values: &BTreeSet<u32>, min: u32, max: u32, allow_star: bool) -> String {
    let v: Vec<u32> = values.iter().copied().collect();
    if allow_star && v.len() == (max - min + 1) as usize {
        return "*".to_owned();
    }
    if v.len() >= 3 {
        let step = v[1] - v[0];
        if step > 1 && v.windows(2).all(|w| w[1] - w[0] == step) {
            let (first, last) = (v[0], v[v.len() - 1]);
            return if allow_star && first == min && last + step > max {
                format!("*/{step}")
            } else {
                format!("{first}-{last}/{step}")
            };
        }
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            parts.push(format!("{}-{}", v[i], v[j]));
        } else {
            parts.extend(v[i..=j].iter().map(u32::to_string));
        }
        i = j + 1;
    }
    parts.join(",")
}

/// A day field that must start with `*` to keep Vixie's AND: such a field always holds `min`,
/// and `*/<span>` selects just `min`.
fn render_with_star(values: &BTreeSet<u32>, min: u32, max: u32) -> String {
    let rendered = render(values, min, max, true);
    if rendered.starts_with('*') {
        return rendered;
    }
    let span = max - min + 1;
    let rest: BTreeSet<u32> = values.iter().copied().filter(|&v| v != min).collect();
    if rest.is_empty() {
        format!("*/{span}")
    } else {
        format!("*/{span},{}", render(&rest, min, max, false))
    }
}

fn render_day_of_week(values: &BTreeSet<u32>, allow_star: bool) -> String {
    if allow_star && values.len() == 7 {
        return "*".to_owned();
    }
    // Around the weekend, Sunday reads better as 7: `5-7` rather than `0,5-6`.
    if values.contains(&0) && values.contains(&6) && !values.contains(&1) {
        let shifted = values.iter().map(|&d| if d == 0 { 7 } else { d }).collect();
        return render(&shifted, 1, 7, false);
    }
    render(values, 0, 6, allow_star)
}

/// The day fields, written so that they select the same AND or OR rule when parsed again.
fn render_days(fields: &CronFields) -> (String, String) {
    let (dom, dow) = (&fields.days_of_month, &fields.days_of_week);
    if fields.or_rule {
        return (render(dom, 1, 31, false), render_day_of_week(dow, false));
    }
    let (monthday_text, weekday_text) = (render(dom, 1, 31, true), render_day_of_week(dow, true));
    if monthday_text.starts_with('*') || weekday_text.starts_with('*') {
        (monthday_text, weekday_text)
    } else if dom.contains(&1) {
        (render_with_star(dom, 1, 31), weekday_text)
    } else {
        (monthday_text, render_with_star(dow, 0, 6))
    }
}

impl fmt::Display for CronSchedule {
    /// The normalized expression: numbers only, 5 fields unless seconds or years are used.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = &self.fields;
        let (dom, dow) = render_days(x);
        let days = format!(
            "{} {dom} {} {dow}",
            render(&x.hours, 0, 23, true),
            render(&x.months, 1, 12, true),
        );
        let minute = render(&x.minutes, 0, 59, true);
        if x.years.is_none() && x.seconds.len() == 1 && x.seconds.contains(&0) {
            return write!(f, "{minute} {days}");
        }
        write!(f, "{} {minute} {days}", render(&x.seconds, 0, 59, true))?;
        if let Some(years) = &x.years {
            write!(f, " {}", render(years, 1970, 2100, true))?;
        }
        Ok(())
    }
}

text_rule!(CronSchedule, CronError);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Weekday};
    use chrono_tz::Europe::Berlin;

    use crate::broadcast::schedule::tests::utc;

    fn cron(expr: &str) -> CronSchedule {
        CronSchedule::parse(expr).unwrap_or_else(|e| panic!("{e}"))
    }

    fn berlin(at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&Berlin).naive_local()
    }

    // --- facts about the `cron` crate this module relies on (fail loudly on an upgrade) ---

    fn crate_next(expr: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        cron::Schedule::from_str(expr).unwrap().after(&after).next()
    }

    #[test]
    fn cron_crate_numbers_weekdays_from_sunday_as_1() {
        let start = utc(2026, 1, 1, 0, 0, 0); // a Thursday
        let sunday = crate_next("0 0 0 * * 1", start).unwrap();
        assert_eq!(sunday, utc(2026, 1, 4, 0, 0, 0));
        assert_eq!(sunday.weekday(), Weekday::Sun);
        let monday = crate_next("0 0 0 * * 2", start).unwrap();
        assert_eq!(monday.weekday(), Weekday::Mon);
        let saturday = crate_next("0 0 0 * * 7", start).unwrap();
        assert_eq!(saturday.weekday(), Weekday::Sat);
        assert_eq!(crate_next("0 0 0 * * SUN", start), Some(sunday));
        assert!(cron::Schedule::from_str("0 0 0 * * 0").is_err());
        assert!(cron::Schedule::from_str("0 0 0 * * 8").is_err());
    }

    #[test]
    fn cron_crate_ands_day_of_month_with_day_of_week() {
        // Vixie cron would fire on 2026-01-05 (a Monday); the crate waits for a Monday the 1st.
        let next = crate_next("0 0 0 1 * 2", utc(2026, 1, 1, 0, 0, 0)).unwrap();
        assert_eq!(next, utc(2026, 6, 1, 0, 0, 0));
    }

    #[test]
    fn cron_crate_wants_six_or_seven_fields() {
        assert!(cron::Schedule::from_str("0 9 * * 1").is_err());
        assert!(cron::Schedule::from_str("0 0 9 * * 1").is_ok());
        assert!(cron::Schedule::from_str("0 0 9 * * 1 2027").is_ok());
        assert!(cron::Schedule::from_str("0 0 9 * * 1 2027 5").is_err());
    }

    #[test]
    fn cron_crate_iteration_bounds() {
        let s = cron::Schedule::from_str("0 0 9 * * *").unwrap();
        let nine = utc(2026, 1, 1, 9, 0, 0);
        // forward: strictly after
        assert_eq!(s.after(&nine).next(), Some(utc(2026, 1, 2, 9, 0, 0)));
        // backward: strictly before a whole second, at or before a fractional one
        assert_eq!(s.after(&nine).next_back(), Some(utc(2025, 12, 31, 9, 0, 0)));
        let nudged = nine + TimeDelta::nanoseconds(1);
        assert_eq!(s.after(&nudged).next_back(), Some(nine));
    }

    #[test]
    fn cron_crate_fires_twice_in_a_fold_with_a_real_zone() {
        // Why this module evaluates on a naive clock and resolves folds itself.
        let s = cron::Schedule::from_str("0 30 2 * * *").unwrap();
        let start = utc(2026, 10, 24, 12, 0, 0).with_timezone(&Berlin);
        let times: Vec<_> = s
            .after(&start)
            .take(2)
            .map(|t| t.with_timezone(&Utc))
            .collect();
        assert_eq!(
            times,
            [utc(2026, 10, 25, 0, 30, 0), utc(2026, 10, 25, 1, 30, 0)]
        );
    }

    // --- cron expressions ---

    #[test]
    fn monday_nine_in_berlin_winter_and_summer() {
        let s = cron("0 9 * * 1");
        // 2026-01-01 is a Thursday; Monday 09:00 CET = 08:00 UTC
        assert_eq!(
            s.after(utc(2026, 1, 1, 0, 0, 0), Berlin),
            Some(utc(2026, 1, 5, 8, 0, 0))
        );
        // summer: 09:00 CEST = 07:00 UTC
        let summer = s.after(utc(2026, 7, 1, 0, 0, 0), Berlin).unwrap();
        assert_eq!(summer, utc(2026, 7, 6, 7, 0, 0));
        assert_eq!(berlin(summer).weekday(), Weekday::Mon);
        // strictly after: at the occurrence itself, the next week
        assert_eq!(s.after(summer, Berlin), Some(utc(2026, 7, 13, 7, 0, 0)));
        let all = s.between(utc(2026, 1, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0), Berlin);
        assert_eq!(all.len(), 52);
        assert!(all.iter().all(|t| {
            let local = berlin(*t);
            local.weekday() == Weekday::Mon && local.hour() == 9 && local.minute() == 0
        }));
    }

    #[test]
    fn sunday_is_zero_seven_and_sun() {
        let zero = cron("0 9 * * 0");
        assert_eq!(zero, cron("0 9 * * 7"));
        assert_eq!(zero, cron("0 9 * * SUN"));
        assert_eq!(zero, cron("0 9 * * sunday"));
        assert_eq!(zero.to_string(), "0 9 * * 0");
        for s in [cron("0 9 * * 0"), cron("0 9 * * 7")] {
            let next = s.after(utc(2026, 1, 1, 0, 0, 0), Berlin).unwrap();
            assert_eq!(next, utc(2026, 1, 4, 8, 0, 0));
            assert_eq!(berlin(next).weekday(), Weekday::Sun);
        }
    }

    #[test]
    fn friday_to_sunday() {
        let s = cron("0 9 * * 5-7");
        assert_eq!(s, cron("0 9 * * FRI-SUN"));
        assert_eq!(s, cron("0 9 * * 0,5,6"));
        assert_eq!(s.to_string(), "0 9 * * 5-7");
        let week = s.between(utc(2026, 1, 5, 0, 0, 0), utc(2026, 1, 12, 0, 0, 0), Berlin);
        let days: Vec<_> = week.iter().map(|t| berlin(*t).weekday()).collect();
        assert_eq!(days, [Weekday::Fri, Weekday::Sat, Weekday::Sun]);
    }

    #[test]
    fn weekday_lists_ranges_steps_and_names() {
        assert_eq!(cron("0 9 * * MON-FRI"), cron("0 9 * * 1-5"));
        assert_eq!(cron("0 9 * * mon,wed,fri"), cron("0 9 * * 1-5/2"));
        assert_eq!(cron("0 9 * * */2"), cron("0 9 * * 0,2,4,6"));
        assert_eq!(cron("0 9 * jan-mar *"), cron("0 9 * 1-3 *"));
        let weekdays = cron("0 9 * * MON-FRI");
        let week = weekdays.between(utc(2026, 1, 4, 0, 0, 0), utc(2026, 1, 11, 0, 0, 0), Berlin);
        assert_eq!(week.len(), 5);
        assert!(
            week.iter()
                .all(|t| berlin(*t).weekday().num_days_from_monday() < 5)
        );
    }

    #[test]
    fn every_quarter_hour() {
        let s = cron("*/15 * * * *");
        assert_eq!(s.to_string(), "*/15 * * * *");
        let hour = s.between(utc(2026, 5, 4, 10, 0, 0), utc(2026, 5, 4, 11, 0, 0), Berlin);
        let minutes: Vec<_> = hour.iter().map(Timelike::minute).collect();
        // (from, to]: 10:00 excluded, 11:00 included
        assert_eq!(minutes, [15, 30, 45, 0]);
        assert_eq!(hour[3], utc(2026, 5, 4, 11, 0, 0));
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_are_restricted() {
        // June 2026: the 1st is a Monday (fires once), Mondays 8, 15, 22, 29, and July 1st.
        let s = cron("0 9 1 * 1");
        let got = s.between(utc(2026, 6, 1, 0, 0, 0), utc(2026, 7, 2, 0, 0, 0), Berlin);
        let days: Vec<_> = got.iter().map(|t| berlin(*t).date()).collect();
        let expected: Vec<_> = [(6, 1), (6, 8), (6, 15), (6, 22), (6, 29), (7, 1)]
            .iter()
            .map(|&(m, d)| NaiveDate::from_ymd_opt(2026, m, d).unwrap())
            .collect();
        assert_eq!(days, expected);
        assert!(got.iter().all(|t| berlin(*t).hour() == 9));
        // a Monday that is not the 1st
        assert_eq!(
            s.after(utc(2026, 1, 1, 12, 0, 0), Berlin),
            Some(utc(2026, 1, 5, 8, 0, 0))
        );
    }

    #[test]
    fn day_of_month_alone() {
        let s = cron("0 9 1 * *");
        let got = s.between(utc(2026, 6, 1, 0, 0, 0), utc(2026, 7, 2, 0, 0, 0), Berlin);
        assert_eq!(got, [utc(2026, 6, 1, 7, 0, 0), utc(2026, 7, 1, 7, 0, 0)]);
    }

    #[test]
    fn a_field_starting_with_star_keeps_and_like_vixie_cron() {
        // `*/2` sets Vixie's DOM_STAR flag: odd days that are Mondays (June 2026: 1, 15, 29).
        let s = cron("0 9 */2 * 1");
        let got = s.between(utc(2026, 6, 1, 0, 0, 0), utc(2026, 7, 1, 0, 0, 0), Berlin);
        let days: Vec<_> = got.iter().map(|t| berlin(*t).day()).collect();
        assert_eq!(days, [1, 15, 29]);
        // `1-31/2` does not start with `*`: odd days OR Mondays
        let or = cron("0 9 1-31/2 * 1");
        assert_ne!(or, s);
        let got = or.between(utc(2026, 6, 1, 0, 0, 0), utc(2026, 7, 1, 0, 0, 0), Berlin);
        assert_eq!(got.len(), 15 + 2); // 15 odd days + Mondays 8 and 22
    }

    #[test]
    fn six_field_form_equals_five_field_form() {
        let five = cron("0 9 * * 1");
        let six = cron("0 0 9 * * 1");
        assert_eq!(five, six);
        assert_eq!(six.to_string(), "0 9 * * 1");
        let from = utc(2026, 3, 1, 0, 0, 0);
        let to = utc(2026, 5, 1, 0, 0, 0);
        assert_eq!(
            five.between(from, to, Berlin),
            six.between(from, to, Berlin)
        );
        // the same weekday numbering with seconds
        assert_eq!(cron("0 0 9 * * 0"), cron("0 0 9 * * 7"));
        // seconds show up in the normalized form
        assert_eq!(cron("30 0 9 * * 1").to_string(), "30 0 9 * * 1");
    }

    #[test]
    fn seven_fields_with_a_year() {
        let s = cron("0 0 9 1 1 * 2027");
        assert_eq!(s.to_string(), "0 0 9 1 1 * 2027");
        assert_eq!(
            s.after(utc(2026, 6, 1, 0, 0, 0), Berlin),
            Some(utc(2027, 1, 1, 8, 0, 0))
        );
        assert_eq!(s.after(utc(2027, 1, 2, 0, 0, 0), Berlin), None);
        assert_eq!(cron("0 0 9 * * 1 *"), cron("0 9 * * 1"));
    }

    #[test]
    fn shorthands() {
        assert_eq!(cron("@hourly"), cron("0 * * * *"));
        assert_eq!(cron("@daily"), cron("0 0 * * *"));
        assert_eq!(cron("@midnight"), cron("0 0 * * *"));
        assert_eq!(cron("@weekly"), cron("0 0 * * 0"));
        assert_eq!(cron("@monthly"), cron("0 0 1 * *"));
        assert_eq!(cron("@Yearly"), cron("0 0 1 1 *"));
        let weekly = cron("@weekly")
            .after(utc(2026, 1, 1, 0, 0, 0), Berlin)
            .unwrap();
        assert_eq!(berlin(weekly).weekday(), Weekday::Sun);
    }

    #[test]
    fn spring_forward_skips_the_missing_time() {
        // 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist.
        let s = cron("30 2 * * *");
        let got = s.between(
            utc(2026, 3, 27, 12, 0, 0),
            utc(2026, 3, 31, 0, 0, 0),
            Berlin,
        );
        assert_eq!(
            got,
            [
                utc(2026, 3, 28, 1, 30, 0), // 02:30 CET
                utc(2026, 3, 30, 0, 30, 0), // 02:30 CEST
            ]
        );
        assert_eq!(
            s.after(utc(2026, 3, 28, 12, 0, 0), Berlin),
            Some(utc(2026, 3, 30, 0, 30, 0))
        );
        // hourly: 01:00 CET, then 03:00 CEST, one hour apart
        let hourly = cron("0 * * * *");
        let night = hourly.between(
            utc(2026, 3, 28, 23, 30, 0),
            utc(2026, 3, 29, 2, 0, 0),
            Berlin,
        );
        assert_eq!(
            night,
            [
                utc(2026, 3, 29, 0, 0, 0),
                utc(2026, 3, 29, 1, 0, 0),
                utc(2026, 3, 29, 2, 0, 0)
            ]
        );
    }

    #[test]
    fn fall_back_fires_once_at_the_first_pass() {
        // 2026-10-25 in Berlin: 03:00 CEST falls back to 02:00 CET, 02:30 happens twice.
        let s = cron("30 2 * * *");
        let got = s.between(
            utc(2026, 10, 23, 12, 0, 0),
            utc(2026, 10, 27, 0, 0, 0),
            Berlin,
        );
        assert_eq!(
            got,
            [
                utc(2026, 10, 24, 0, 30, 0), // CEST
                utc(2026, 10, 25, 0, 30, 0), // the first 02:30 (CEST) only
                utc(2026, 10, 26, 1, 30, 0), // CET
            ]
        );
        // during the second pass (02:10 CET), the second 02:30 does not fire
        assert_eq!(
            s.after(utc(2026, 10, 25, 1, 10, 0), Berlin),
            Some(utc(2026, 10, 26, 1, 30, 0))
        );
        // ... and it is not the latest occurrence either
        assert_eq!(
            s.latest_in(
                utc(2026, 10, 24, 12, 0, 0),
                utc(2026, 10, 25, 1, 59, 0),
                Berlin
            ),
            Some(utc(2026, 10, 25, 0, 30, 0))
        );
    }

    #[test]
    fn latest_in_during_the_second_pass_of_a_fold() {
        // 01:20 UTC = 02:20 CET (second pass). The quarter hours of 02:xx fired in the first
        // pass (00:00–00:45 UTC); the latest is 02:45 CEST = 00:45 UTC, not 02:15 CET.
        let s = cron("*/15 * * * *");
        let to = utc(2026, 10, 25, 1, 20, 0);
        assert_eq!(
            s.latest_in(to - TimeDelta::hours(2), to, Berlin),
            Some(utc(2026, 10, 25, 0, 45, 0))
        );
        assert_eq!(
            s.after(utc(2026, 10, 25, 0, 45, 0), Berlin),
            Some(utc(2026, 10, 25, 2, 0, 0))
        );
        let hourly = cron("0 * * * *");
        let night = hourly.between(
            utc(2026, 10, 24, 22, 0, 0),
            utc(2026, 10, 25, 3, 0, 0),
            Berlin,
        );
        assert_eq!(
            night,
            [
                utc(2026, 10, 24, 23, 0, 0), // 01:00 CEST
                utc(2026, 10, 25, 0, 0, 0),  // 02:00 CEST
                utc(2026, 10, 25, 2, 0, 0),  // 03:00 CET (02:00 CET is the second pass)
                utc(2026, 10, 25, 3, 0, 0),
            ]
        );
    }

    #[test]
    fn latest_in_window_bounds() {
        let s = cron("0 9 * * *");
        let nine = utc(2026, 1, 10, 8, 0, 0); // 09:00 CET
        // (from, to]: `to` included, `from` excluded
        assert_eq!(
            s.latest_in(nine - TimeDelta::hours(2), nine, Berlin),
            Some(nine)
        );
        assert_eq!(s.latest_in(nine, nine + TimeDelta::hours(2), Berlin), None);
        assert_eq!(
            s.latest_in(
                nine - TimeDelta::days(3),
                nine - TimeDelta::seconds(1),
                Berlin
            ),
            Some(nine - TimeDelta::days(1))
        );
        // only the latest of several missed ones
        assert_eq!(
            s.latest_in(
                nine - TimeDelta::days(3),
                nine + TimeDelta::hours(5),
                Berlin
            ),
            Some(nine)
        );
        assert_eq!(s.latest_in(nine, nine, Berlin), None);
        assert!(
            s.between(nine, nine - TimeDelta::hours(1), Berlin)
                .is_empty()
        );
    }

    #[test]
    fn every_second_schedules_stay_cheap() {
        let s = cron("* * * * * *");
        assert_eq!(s.to_string(), "* * * * * *");
        let to = utc(2026, 5, 4, 12, 0, 0) + TimeDelta::milliseconds(700);
        let from = to - TimeDelta::hours(6);
        assert_eq!(
            s.latest_in(from, to, Berlin),
            Some(utc(2026, 5, 4, 12, 0, 0))
        );
        assert_eq!(s.after(to, Berlin), Some(utc(2026, 5, 4, 12, 0, 1)));
        let many = s.between(from, to, Berlin);
        assert_eq!(many.len(), MAX_OCCURRENCES);
        assert_eq!(many[0], utc(2026, 5, 4, 6, 0, 1));
        assert!(
            many.windows(2)
                .all(|w| w[1] - w[0] == TimeDelta::seconds(1))
        );
    }

    /// Every minute of a window checked against Vixie's rule, for expressions whose
    /// translation to the `cron` crate is easy to get wrong; forward and backward.
    #[test]
    fn translation_matches_vixie_rule_minute_by_minute() {
        let tz = chrono_tz::UTC;
        let from = utc(2027, 12, 20, 0, 0, 0);
        let to = utc(2028, 3, 5, 0, 0, 0);
        for expr in [
            "0 9 1 * 1",
            "0 9 */2 * 1",
            "0 9 1-31/2 * 1",
            "*/15 8-17 * * MON-FRI",
            "0 0 13 * 5",
            "0 12 * * 5-7",
            "5/20 */3 * 1,2 *",
            "0 0 29 2 *",
            "30 4 1,15 * 0",
            "0 6 31 * sat",
        ] {
            let s = cron(expr);
            let mut expected = Vec::new();
            let mut t = from + TimeDelta::minutes(1);
            while t <= to {
                if s.fields.matches(t.naive_utc()) {
                    expected.push(t);
                }
                t += TimeDelta::minutes(1);
            }
            assert!(!expected.is_empty(), "{expr}");
            assert_eq!(s.between(from, to, tz), expected, "{expr}");
            let mut probe = from + TimeDelta::hours(1);
            while probe <= to {
                let want = expected.iter().rev().find(|&&e| e <= probe).copied();
                assert_eq!(s.latest_in(from, probe, tz), want, "{expr} at {probe}");
                let next = expected.iter().find(|&&e| e > probe).copied();
                if next.is_some() {
                    assert_eq!(s.after(probe, tz), next, "{expr} after {probe}");
                }
                probe += TimeDelta::minutes(7 * 60 + 13);
            }
        }
    }

    #[test]
    fn normalized_form_parses_back_to_the_same_schedule() {
        for (expr, normalized) in [
            ("0 9 * * MON-FRI", "0 9 * * 1-5"),
            ("0  9  *  *  1", "0 9 * * 1"),
            ("0,15,30,45 * * * *", "*/15 * * * *"),
            ("0 9 1-31 * 1", "0 9 1-31 * 1"),
            (
                "0 9 */2,20 * 1",
                "0 9 */31,3,5,7,9,11,13,15,17,19-21,23,25,27,29,31 * 1",
            ),
            ("0 9 1 * sat,sun", "0 9 1 * 6,7"),
            ("0 9 ? * 1", "0 9 * * 1"),
            ("5/20 * * * *", "5-45/20 * * * *"),
            ("0 8-17/3 * * *", "0 8-17/3 * * *"),
            ("0 0 9 * * 1 2027-2029", "0 0 9 * * 1 2027-2029"),
        ] {
            let s = cron(expr);
            assert_eq!(s.to_string(), normalized, "{expr}");
            assert_eq!(cron(normalized), s, "{expr}");
        }
    }

    #[test]
    fn cron_errors_say_what_is_wrong() {
        let kind = |expr: &str| CronSchedule::parse(expr).unwrap_err().kind().clone();
        assert_eq!(kind(""), CronErrorKind::Empty);
        assert_eq!(kind("0 9 * *"), CronErrorKind::FieldCount { found: 4 });
        assert_eq!(
            kind("0 0 9 * * 1 2027 x"),
            CronErrorKind::FieldCount { found: 8 }
        );
        let dow = CronSchedule::parse("0 9 * * 8").unwrap_err();
        assert_eq!(
            dow.to_string(),
            "invalid cron expression \"0 9 * * 8\": day of week 8 is out of range 0–7 (0 and 7 are Sunday)"
        );
        assert!(
            CronSchedule::parse("0 9 * *")
                .unwrap_err()
                .to_string()
                .contains("5 fields")
        );
        assert_eq!(
            kind("0 24 * * *"),
            CronErrorKind::OutOfRange {
                field: CronField::Hour,
                value: "24".into()
            }
        );
        assert_eq!(
            kind("60 * * * *"),
            CronErrorKind::OutOfRange {
                field: CronField::Minute,
                value: "60".into()
            }
        );
        assert_eq!(
            kind("0 0 * 13 *"),
            CronErrorKind::OutOfRange {
                field: CronField::Month,
                value: "13".into()
            }
        );
        assert_eq!(
            kind("0 0 0 * *"),
            CronErrorKind::OutOfRange {
                field: CronField::DayOfMonth,
                value: "0".into()
            }
        );
    }

    #[test]
    fn cron_errors_for_names_steps_ranges_and_shorthands() {
        let kind = |expr: &str| CronSchedule::parse(expr).unwrap_err().kind().clone();
        assert_eq!(
            kind("0 9 * * MOM"),
            CronErrorKind::UnknownName {
                field: CronField::DayOfWeek,
                name: "MOM".into()
            }
        );
        assert!(
            CronSchedule::parse("0 9 * * MOM")
                .unwrap_err()
                .to_string()
                .contains("SUN, MON")
        );
        assert_eq!(
            kind("0 nine * * *"),
            CronErrorKind::NamesNotAllowed {
                field: CronField::Hour,
                name: "nine".into()
            }
        );
        assert_eq!(
            kind("*/0 * * * *"),
            CronErrorKind::ZeroStep {
                field: CronField::Minute,
                token: "*/0".into()
            }
        );
        assert_eq!(
            kind("0 17-9 * * *"),
            CronErrorKind::BackwardsRange {
                field: CronField::Hour,
                token: "17-9".into()
            }
        );
        assert_eq!(
            kind("0 9 * * 1-"),
            CronErrorKind::Syntax {
                field: CronField::DayOfWeek,
                token: "1-".into()
            }
        );
        assert_eq!(
            kind("0 9 ,1 * *"),
            CronErrorKind::Syntax {
                field: CronField::DayOfMonth,
                token: String::new()
            }
        );
        assert_eq!(
            kind("@reboot"),
            CronErrorKind::UnknownShorthand("reboot".into())
        );
        assert_eq!(
            kind("0 0 30 2 *"),
            CronErrorKind::NeverFires { days: "30".into() }
        );
        assert_eq!(
            kind("0 0 0 1 1 * 1969"),
            CronErrorKind::OutOfRange {
                field: CronField::Year,
                value: "1969".into()
            }
        );
        // Feb 30 is fine when day of week also decides (OR rule)
        assert!(CronSchedule::parse("0 0 30 2 1").is_ok());
        assert!(CronSchedule::parse("0 0 99999999999 * *").is_err());
    }

    #[test]
    fn cron_schedule_serde() {
        let s: CronSchedule = serde_json::from_str("\"0 9 * * MON\"").unwrap();
        assert_eq!(s, cron("0 9 * * 1"));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"0 9 * * 1\"");
        let err = serde_json::from_str::<CronSchedule>("\"0 9 * * 8\"").unwrap_err();
        assert!(
            err.to_string().contains("day of week 8 is out of range"),
            "{err}"
        );
    }
}
