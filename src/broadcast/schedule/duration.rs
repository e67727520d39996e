//! Durations as ops write them (`2h`, `90m`, `1h30m`), parsed by the `humantime` crate.

use std::time::Duration;

/// A duration that cannot be used, with the reason and how to write one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration \"{input}\": {reason}; write a number with a unit, e.g. 2h, 90m, 1h30m, 45s or 1d"
)]
pub struct DurationError {
    input: String,
    reason: String,
}

/// Parses a duration as ops write it: `2h`, `90m`, `1h30m`, `1h 30m`, `45s`, `1d`, `1w`
/// (units of the `humantime` crate; `M` for months is refused as a likely typo for `m`).
///
/// # Errors
///
/// Fails when the text is not a number with a unit.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    let error = |reason: String| DurationError {
        input: trimmed.to_owned(),
        reason,
    };
    if trimmed
        .split(|c: char| !c.is_alphabetic())
        .any(|unit| unit == "M")
    {
        return Err(error(
            "\"M\" would mean months; write m for minutes, or d for days".to_owned(),
        ));
    }
    humantime::parse_duration(trimmed).map_err(|e| error(e.to_string()))
}

/// The form [`parse_duration`] reads back: `1h 30m`, `2days`, `45s`.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// `#[serde(with = "duration_serde")]` for `std::time::Duration` and
/// `Option<std::time::Duration>` fields, written as `2h`, `90m`, `1h30m`. For an optional
/// field add `#[serde(default)]` so that a missing key is `None`; `null` is `None` too.
pub mod duration_serde {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    use super::{format_duration, parse_duration};

    mod sealed {
        pub trait Sealed {}
        impl Sealed for std::time::Duration {}
        impl Sealed for Option<std::time::Duration> {}
        impl Sealed for Vec<std::time::Duration> {}
    }

    /// The field types this module handles: `Duration`, `Option<Duration>` and `Vec<Duration>`.
    pub trait DurationField: sealed::Sealed + Sized {
        #[doc(hidden)]
        fn serialize_field<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
        #[doc(hidden)]
        fn deserialize_field<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
    }

    /// # Errors
    ///
    /// Fails as the serializer fails.
    pub fn serialize<T: DurationField, S: Serializer>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize_field(serializer)
    }

    /// # Errors
    ///
    /// Fails on anything but a duration with a unit (or, for `Option`, nothing).
    pub fn deserialize<'de, T: DurationField, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        T::deserialize_field(deserializer)
    }

    impl DurationField for Duration {
        fn serialize_field<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(&format_duration(*self))
        }

        fn deserialize_field<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(DurationVisitor)
        }
    }

    impl DurationField for Option<Duration> {
        fn serialize_field<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            match self {
                Some(duration) => duration.serialize_field(serializer),
                None => serializer.serialize_none(),
            }
        }

        fn deserialize_field<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_option(OptionVisitor)
        }
    }

    impl DurationField for Vec<Duration> {
        fn serialize_field<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(self.iter().map(|d| format_duration(*d)))
        }

        fn deserialize_field<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_seq(SeqVisitor)
        }
    }

    /// One duration of a list.
    struct Item(Duration);

    impl<'de> serde::Deserialize<'de> for Item {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(DurationVisitor).map(Item)
        }
    }

    struct SeqVisitor;

    impl<'de> Visitor<'de> for SeqVisitor {
        type Value = Vec<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of durations like [24h, 1h]")
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(Item(d)) = seq.next_element()? {
                out.push(d);
            }
            Ok(out)
        }
    }

    const EXPECTING: &str = "a duration like 2h, 90m, 1h30m, 45s or 1d";

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(EXPECTING)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            parse_duration(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, number: u64) -> Result<Duration, E> {
            if number == 0 {
                return Ok(Duration::ZERO);
            }
            Err(E::custom(format!(
                "duration {number} has no unit; write e.g. {number}s, {number}m or {number}h"
            )))
        }

        fn visit_i64<E: de::Error>(self, number: i64) -> Result<Duration, E> {
            match u64::try_from(number) {
                Ok(number) => self.visit_u64(number),
                Err(_) => Err(E::custom(format!(
                    "duration {number} is negative; write e.g. 2h, 90m or 45s"
                ))),
            }
        }
    }

    struct OptionVisitor;

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{EXPECTING}, or nothing")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            Duration::deserialize_field(deserializer).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    // --- durations ---

    #[test]
    fn durations_as_ops_write_them() {
        let secs = |text: &str| {
            parse_duration(text)
                .unwrap_or_else(|e| panic!("{e}"))
                .as_secs()
        };
        assert_eq!(secs("2h"), 7200);
        assert_eq!(secs("90m"), 5400);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("1h 30m"), 5400);
        assert_eq!(secs("45s"), 45);
        assert_eq!(secs("1d"), 86_400);
        assert_eq!(secs(" 12h "), 43_200);
        assert_eq!(secs("0"), 0);
        assert_eq!(format_duration(Duration::from_mins(90)), "1h 30m");
        assert_eq!(
            parse_duration(&format_duration(Duration::from_secs(93_784)))
                .unwrap()
                .as_secs(),
            93_784
        );
    }

    #[test]
    fn duration_errors() {
        let message = |text: &str| parse_duration(text).unwrap_err().to_string();
        let unit = message("2x");
        assert!(
            unit.starts_with("invalid duration \"2x\": unknown time unit \"x\""),
            "{unit}"
        );
        assert!(unit.ends_with("e.g. 2h, 90m, 1h30m, 45s or 1d"), "{unit}");
        assert!(message("90").contains("time unit needed"));
        assert!(message("").contains("empty"));
        assert!(message("-5m").contains("invalid duration \"-5m\""));
        assert!(message("1M").contains("\"M\" would mean months"));
        assert!(parse_duration("2 months").is_ok());
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Limits {
        #[serde(with = "duration_serde")]
        max_age: Duration,
        #[serde(default, with = "duration_serde")]
        give_up_after: Option<Duration>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Reminders {
        #[serde(with = "duration_serde")]
        reminders: Vec<Duration>,
    }

    #[test]
    fn duration_serde_for_lists() {
        let r: Reminders = serde_json::from_str(r#"{"reminders": ["24h", "1h30m", 0]}"#).unwrap();
        assert_eq!(
            r.reminders,
            [
                Duration::from_hours(24),
                Duration::from_mins(90),
                Duration::ZERO
            ]
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"reminders":["1day","1h 30m","0s"]}"#
        );
        let months = serde_json::from_str::<Reminders>(r#"{"reminders": ["24h", "2M"]}"#)
            .unwrap_err()
            .to_string();
        assert!(months.contains("\"M\" would mean months"), "{months}");
        let scalar = serde_json::from_str::<Reminders>(r#"{"reminders": "1h"}"#)
            .unwrap_err()
            .to_string();
        assert!(scalar.contains("a list of durations"), "{scalar}");
    }

    #[test]
    fn duration_serde_for_duration_and_option() {
        let full: Limits =
            serde_json::from_str(r#"{"max_age": "2h", "give_up_after": "1h30m"}"#).unwrap();
        assert_eq!(full.max_age, Duration::from_hours(2));
        assert_eq!(full.give_up_after, Some(Duration::from_mins(90)));
        assert_eq!(
            serde_json::to_string(&full).unwrap(),
            r#"{"max_age":"2h","give_up_after":"1h 30m"}"#
        );
        let back: Limits = serde_json::from_str(&serde_json::to_string(&full).unwrap()).unwrap();
        assert_eq!(back, full);
        let missing: Limits = serde_json::from_str(r#"{"max_age": "45s"}"#).unwrap();
        assert_eq!(missing.give_up_after, None);
        let null: Limits =
            serde_json::from_str(r#"{"max_age": "1d", "give_up_after": null}"#).unwrap();
        assert_eq!(null.give_up_after, None);
        assert_eq!(
            serde_json::to_string(&null).unwrap(),
            r#"{"max_age":"1day","give_up_after":null}"#
        );
        let bare = serde_json::from_str::<Limits>(r#"{"max_age": 7200}"#)
            .unwrap_err()
            .to_string();
        assert!(
            bare.contains("duration 7200 has no unit; write e.g. 7200s"),
            "{bare}"
        );
        let bad = serde_json::from_str::<Limits>(r#"{"max_age": "2h", "give_up_after": "soon"}"#)
            .unwrap_err()
            .to_string();
        assert!(bad.contains("invalid duration \"soon\""), "{bad}");
        let wrong = serde_json::from_str::<Limits>(r#"{"max_age": true}"#)
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("a duration like 2h"), "{wrong}");
    }
}
