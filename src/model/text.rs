//! [`Text`]: the Markdown of an incident, owned or shared with the parse cache's buffer.

use std::ops::Range;
use std::sync::Arc;

/// Markdown of an incident (its summary, an update's body): its own string, or a part of a buffer
/// that many incidents share (the parse cache's records, read in one piece), so that ten thousand
/// cached incidents cost no allocation and no copy per text. Reads as a `&str`.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Own(String),
    /// A range of the buffer that was checked to be UTF-8 when the text was made.
    Shared(Arc<Vec<u8>>, Range<usize>),
}

impl Text {
    /// The text at `range` of `buf`, if it lies in it and is UTF-8.
    #[must_use]
    pub fn shared(buf: &Arc<Vec<u8>>, range: Range<usize>) -> Option<Text> {
        // SIMD: the check runs over every cached text a build reads (20 MB at 10 000 incidents).
        simdutf8::basic::from_utf8(buf.get(range.clone())?).ok()?;
        Some(Text(Repr::Shared(Arc::clone(buf), range)))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Own(s) => s,
            // Checked when made: never empty by mistake.
            Repr::Shared(buf, range) => buf
                .get(range.clone())
                .and_then(|b| simdutf8::basic::from_utf8(b).ok())
                .unwrap_or_default(),
        }
    }
}

impl Default for Text {
    fn default() -> Text {
        Text(Repr::Own(String::new()))
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Repr::Own(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Repr::Own(s.to_string()))
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_text_reads_its_range_and_refuses_what_is_not_utf8() {
        let buf = Arc::new("Störung behoben\u{ff}".as_bytes().to_vec());
        let t = Text::shared(&buf, 0..8).unwrap();
        assert_eq!(t, "Störung");
        assert_eq!(t, Text::from("Störung"), "shared equals owned");
        assert!(Text::shared(&buf, 0..2).is_some());
        assert!(
            Text::shared(&buf, 0..3).is_none(),
            "cuts a character in two"
        );
        assert!(Text::shared(&buf, 10..99).is_none(), "past the end");
        assert_eq!(format!("{t} {t:?}"), "Störung \"Störung\"");
    }
}
