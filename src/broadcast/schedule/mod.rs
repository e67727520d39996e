//! Time rules of the broadcast engine, evaluated on the site's wall clock.
//!
//! * [`CronSchedule`]: recurring posts and the daemon schedule. Classic (Vixie) cron
//!   semantics, evaluated by the `cron` crate after translation.
//! * [`ServiceHours`]: when announcements may go out (`Mon-Fri 08:00-20:00, Sat 09:00-14:00`).
//! * [`parse_duration`] and [`duration_serde`]: durations as ops write them (`2h`, `90m`,
//!   `1h30m`), parsed by the `humantime` crate.
//!
//! Instants are `DateTime<Utc>`; local wall-clock times are resolved in the site zone with the
//! zone database. A local time that does not exist (spring forward) is skipped; one that
//! happens twice (fall back) counts once, at its first instant.

/// `FromStr` and serde for a rule written as text: read with `$ty::parse` (its error becomes
/// `$err`), written with its `Display`.
macro_rules! text_rule {
    ($ty:ty, $err:ty) => {
        impl std::str::FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, $err> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

mod cron;
mod duration;
mod hours;

pub use cron::{CronError, CronErrorKind, CronField, CronSchedule, MAX_OCCURRENCES};
pub use duration::{DurationError, duration_serde, format_duration, parse_duration};
pub use hours::{ServiceHours, ServiceHoursError, ServiceHoursErrorKind};

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{DateTime, TimeZone as _, Utc};

    /// A UTC instant, for the rules' tests.
    pub(crate) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }
}
