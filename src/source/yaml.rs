//! YAML with positions: syntax and type errors come from `serde_yaml` with its location; for the
//! problems found later (an unknown key, an unknown component) [`locate`] finds the line and column of
//! a key path in the text, so every message can point at the offending spot.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use crate::diagnostics::{Diagnostic, Diagnostics, Span, did_you_mean};

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A YAML text inside a file: `line_offset` lines precede it (front matter starts after `---`).
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    /// The whole file, for excerpts.
    pub file_text: &'a str,
    pub line_offset: usize,
}

impl Doc<'_> {
    /// A span at a 1-based line and column of this YAML text.
    #[must_use]
    pub fn span(&self, line: usize, column: usize, width: usize) -> Span {
        Span::new(self.path, line + self.line_offset, column).with_width(width)
    }

    /// A diagnostic at a 1-based line and column of this YAML text.
    #[must_use]
    pub fn error_at(
        &self,
        line: usize,
        column: usize,
        width: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(message).at(self.span(line, column, width), self.file_text)
    }

    /// A diagnostic at the key (or key path) `path`.
    #[must_use]
    pub fn error_at_key(&self, path: &[Seg], message: impl Into<String>) -> Diagnostic {
        let (line, column, width) = locate(self.text, path);
        self.error_at(line, column, width, message)
    }

    /// A diagnostic at `value` written under the key path `path` (e.g. one item of a flow list).
    #[must_use]
    pub fn error_at_value(
        &self,
        path: &[Seg],
        value: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column, width) = locate_value(self.text, path, value);
        self.error_at(line, column, width, message)
    }

    /// Turn a `serde_yaml` error into a diagnostic at its location.
    #[must_use]
    pub fn from_serde(&self, err: &serde_yaml::Error, hint: &str) -> Diagnostic {
        let (line, column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
        let mut message = err.to_string();
        // serde_yaml appends " at line L column C"; the position is shown in front already.
        if let Some(cut) = message.find(" at line ") {
            message.truncate(cut);
        }
        let hint = if message.starts_with("recursion limit exceeded") {
            "the YAML is nested more than 128 levels deep; statuscast's keys need two or three"
        } else {
            hint
        };
        // libyaml places this one at the start of the line; point at the character itself.
        if message.starts_with("control characters are not allowed")
            && let Some((i, text_line)) = self
                .text
                .lines()
                .enumerate()
                .find(|(_, l)| l.chars().any(|c| c.is_control() && c != '\t' && c != '\r'))
            && let Some(col) = text_line
                .chars()
                .position(|c| c.is_control() && c != '\t' && c != '\r')
        {
            let c = text_line.chars().nth(col).unwrap_or_default();
            return self
                .error_at(
                    i + 1,
                    col + 1,
                    1,
                    format!(
                        "the control character U+{:04X} is not allowed here",
                        u32::from(c)
                    ),
                )
                .hint("remove it (it is invisible in most editors; retype the text around it)");
        }
        self.error_at(line, column, 1, message).hint(hint)
    }

    /// Parse into a generic value (syntax errors only). Texts that anchors and aliases would blow
    /// up to more than [`MAX_VALUES`] values are refused before they are expanded.
    ///
    /// # Errors
    /// A diagnostic at the syntax error.
    pub fn parse_value(&self) -> Result<Value, Diagnostic> {
        if let Err(e) = check_size(self.text) {
            if !e.to_string().contains(TOO_MANY) {
                return Err(self.from_serde(&e, SYNTAX_HINT));
            }
            if let Some((line, column)) = first_alias(self.text) {
                return Err(self
                    .error_at(line, column, 1, format!("the aliases here expand to more than {MAX_VALUES} values"))
                    .hint("an alias (*name) repeats what its anchor (&name) holds; so many repetitions look like an \"alias bomb\": write the values out, or use fewer aliases"));
            }
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            return Err(self
                .error_at(line, column, 1, format!("more than {MAX_VALUES} values"))
                .hint("statuscast reads a few hundred values from a config or front matter; is this the right file?"));
        }
        serde_yaml::from_str::<Value>(self.text).map_err(|e| self.from_serde(&e, SYNTAX_HINT))
    }

    /// Deserialize into `T`, with the error at its position.
    ///
    /// # Errors
    /// A diagnostic at the first type error.
    pub fn parse<T: DeserializeOwned>(&self, hint: &str) -> Result<T, Diagnostic> {
        serde_yaml::from_str::<T>(self.text).map_err(|e| self.from_serde(&e, hint))
    }

    /// Report every key of `value` that the schema does not know, with the closest known key.
    pub fn unknown_keys(
        &self,
        value: &Value,
        schema: &dyn Fn(&[Seg]) -> Option<&'static [&'static str]>,
        out: &mut Diagnostics,
    ) {
        let mut path = Vec::new();
        self.walk_keys(value, schema, &mut path, out);
    }

    fn walk_keys(
        &self,
        value: &Value,
        schema: &dyn Fn(&[Seg]) -> Option<&'static [&'static str]>,
        path: &mut Vec<Seg>,
        out: &mut Diagnostics,
    ) {
        match value {
            Value::Mapping(map) => {
                let known = schema(path);
                for (k, v) in map {
                    if out.is_full() {
                        return;
                    }
                    let Some(key) = k.as_str() else { continue };
                    path.push(Seg::Key(key.to_string()));
                    if let Some(known) = known
                        && !known.contains(&key)
                    {
                        let hint = format!(
                            "{}known keys here: {}",
                            did_you_mean(key, known.iter().copied()),
                            known.join(", ")
                        );
                        out.push(
                            self.error_at_key(path, format!("unknown key \"{key}\""))
                                .hint(hint),
                        );
                        path.pop();
                        continue;
                    }
                    self.walk_keys(v, schema, path, out);
                    path.pop();
                }
            }
            Value::Sequence(items) => {
                for (i, v) in items.iter().enumerate() {
                    if out.is_full() {
                        return;
                    }
                    path.push(Seg::Index(i));
                    self.walk_keys(v, schema, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

const SYNTAX_HINT: &str = "this is not valid YAML: check indentation (spaces, not tabs), colons and quotes; put text in quotes when it starts with * & ! @ ` % [ { or contains \": \"";

/// The most values one YAML text may hold once its aliases are expanded. Real configs and front
/// matter have a few hundred; an "alias bomb" (nested anchors, each repeating the one before)
/// would otherwise expand to billions of values in memory.
pub const MAX_VALUES: usize = 100_000;

const TOO_MANY: &str = "the YAML expands to more values than statuscast reads";

/// Walk `text` as YAML without keeping anything, counting values (aliases counted every time
/// they are used) and stopping at [`MAX_VALUES`].
///
/// # Errors
/// Syntax errors, and an error starting with "the YAML expands to more values" past the limit.
pub fn check_size(text: &str) -> Result<(), serde_yaml::Error> {
    use serde::de::DeserializeSeed as _;
    let count = std::cell::Cell::new(0usize);
    Budget(&count).deserialize(serde_yaml::Deserializer::from_str(text))
}

/// Line and column (1-based) of the first alias (`*name` where a value starts), if any.
fn first_alias(text: &str) -> Option<(usize, usize)> {
    for (i, line) in text.lines().enumerate() {
        let mut prev = ' ';
        for (col, c) in line.chars().enumerate() {
            if c == '#' && prev.is_whitespace() {
                break;
            }
            if c == '*' && matches!(prev, ' ' | '\t' | '[' | '{' | ',' | ':' | '-') {
                let next = line.chars().nth(col + 1);
                if next.is_some_and(|n| !n.is_whitespace() && !matches!(n, ',' | ']' | '}')) {
                    return Some((i + 1, col + 1));
                }
            }
            prev = c;
        }
    }
    None
}

/// Counts every value it is shown; fails past [`MAX_VALUES`].
struct Budget<'a>(&'a std::cell::Cell<usize>);

impl Budget<'_> {
    fn tick<E: serde::de::Error>(&self) -> Result<(), E> {
        let n = self.0.get() + 1;
        self.0.set(n);
        if n > MAX_VALUES {
            Err(E::custom(TOO_MANY))
        } else {
            Ok(())
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Budget<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Budget<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.tick()
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.tick()
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.tick()
    }
    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<(), E> {
        self.tick()
    }
    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<(), E> {
        self.tick()
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.tick()
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.tick()
    }
    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<(), E> {
        self.tick()
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.tick()
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.tick()
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.tick()?;
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.tick()?;
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.tick()?;
        while seq.next_element_seed(Budget(self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.tick()?;
        while map.next_key_seed(Budget(self.0))?.is_some() {
            map.next_value_seed(Budget(self.0))?;
        }
        Ok(())
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use serde::de::VariantAccess as _;
        self.tick()?;
        let ((), variant) = data.variant_seed(Budget(self.0))?;
        variant.newtype_variant_seed(Budget(self.0))
    }
}

/// The field names a serde struct accepts.
#[must_use]
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<T>()
}

/// Does `path` end like `pattern`, where `"*"` in the pattern matches any list index?
#[must_use]
pub fn path_is(path: &[Seg], pattern: &[&str]) -> bool {
    path.len() == pattern.len()
        && path.iter().zip(pattern).all(|(seg, pat)| match seg {
            Seg::Key(k) => k == pat,
            Seg::Index(_) => *pat == "*",
        })
}

struct Line<'a> {
    /// Effective indent: leading spaces plus the width of any `- ` list markers.
    indent: usize,
    /// Number of list markers at the start of the line.
    dashes: usize,
    /// The text after indentation and list markers.
    content: &'a str,
    /// Byte offset of `content` in the line.
    start: usize,
}

fn split_line(raw: &str) -> Option<Line<'_>> {
    let raw = raw.trim_end_matches('\r');
    let mut start = raw.len() - raw.trim_start_matches([' ', '\t']).len();
    let mut dashes = 0;
    loop {
        let rest = &raw[start..];
        if rest == "-" || rest.starts_with("- ") {
            dashes += 1;
            start += 1;
            start += raw[start..].len() - raw[start..].trim_start_matches(' ').len();
        } else {
            break;
        }
    }
    let content = &raw[start..];
    if dashes == 0 && (content.is_empty() || content.starts_with('#')) {
        return None;
    }
    Some(Line {
        indent: raw[..start].chars().count(),
        dashes,
        content,
        start,
    })
}

fn key_of(content: &str) -> Option<&str> {
    let end = content.find(':')?;
    let key = content[..end].trim().trim_matches(['"', '\'']);
    let after = &content[end + 1..];
    (after.is_empty() || after.starts_with([' ', '\t'])).then_some(key)
}

fn col_of(line: &str, byte: usize) -> usize {
    line[..byte].chars().count() + 1
}

/// Best-effort position (1-based line, column, width) of the key path `path` in a block-style YAML
/// text; falls back to the deepest ancestor found, or the first line.
#[must_use]
pub fn locate(text: &str, path: &[Seg]) -> (usize, usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let mut region = (0usize, lines.len());
    let mut best = (1usize, 1usize, 1usize);
    // The line where the last matched key or item starts, for flow-style `{ a: 1 }` look-ups.
    let mut anchor: Option<usize> = None;
    for seg in path {
        let items: Vec<(usize, Line)> = (region.0..region.1)
            .filter_map(|i| split_line(lines[i]).map(|l| (i, l)))
            .collect();
        let base = items.iter().map(|(_, l)| l.indent).min().unwrap_or(0);
        match seg {
            Seg::Key(key) => {
                let found = items
                    .iter()
                    .find(|(_, l)| l.indent == base && key_of(l.content) == Some(key.as_str()));
                if let Some((i, l)) = found {
                    let end = items
                        .iter()
                        .find(|(j, m)| *j > *i && m.indent <= base)
                        .map_or(region.1, |(j, _)| *j);
                    best = (
                        i + 1,
                        col_of(lines[*i], l.start),
                        key.chars().count().max(1),
                    );
                    anchor = Some(*i);
                    region = (i + 1, end);
                } else if let Some(a) = anchor {
                    // Flow mapping on the anchor line: `scheduled: { start: …, end: … }`.
                    let line = lines[a];
                    let needle = format!("{key}:");
                    if let Some(pos) = line.find(&needle) {
                        best = (a + 1, col_of(line, pos), key.chars().count());
                    }
                    return best;
                } else {
                    return best;
                }
            }
            Seg::Index(n) => {
                // List items at this level: lines whose markers sit at the base indent.
                let starts: Vec<&(usize, Line)> = items
                    .iter()
                    .filter(|(_, l)| l.dashes > 0 && l.indent - 2 * l.dashes < base + 1)
                    .collect();
                let Some((i, l)) = starts.get(*n) else {
                    // A flow list item: `[a, b]` on the anchor line stays at the anchor.
                    return best;
                };
                let end = starts.get(n + 1).map_or(region.1, |(j, _)| *j);
                best = (*i + 1, col_of(lines[*i], l.start), 1);
                anchor = Some(*i);
                // The item's own keys start on the marker line, at the content's indent.
                region = (*i, end);
            }
        }
    }
    best
}

/// Position of the scalar `value` under the key path `path`: on the key's line (flow style) or on
/// the lines of its block below.
#[must_use]
pub fn locate_value(text: &str, path: &[Seg], value: &str) -> (usize, usize, usize) {
    let (line, column, width) = locate(text, path);
    let lines: Vec<&str> = text.lines().collect();
    let width_of_value = value.chars().count().max(1);
    for (i, l) in lines.iter().enumerate().skip(line - 1).take(64) {
        let from = if i == line - 1 {
            l.char_indices().nth(column - 1).map_or(l.len(), |(b, _)| b)
        } else {
            0
        };
        if let Some(pos) = find_token(&l[from..], value) {
            return (i + 1, col_of(l, from + pos), width_of_value);
        }
        if i > line - 1
            && let Some(sl) = split_line(l)
            && sl.dashes == 0
            && key_of(sl.content).is_some()
        {
            break;
        }
    }
    (line, column, width)
}

/// `needle` in `hay` as a whole token (not part of a longer word).
fn find_token(hay: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut from = 0;
    while let Some(pos) = hay[from..].find(needle) {
        let at = from + pos;
        let before_ok = hay[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let after_ok = hay[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !is_word(c));
        if before_ok && after_ok {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Seg {
        Seg::Key(k.to_string())
    }

    const TEXT: &str = "site:\n  title: Test\n  langauge: de\ncomponents:\n  - id: mobile\n    name: Mobil\n  - id: sms\n    nmae: SMS\nscheduled: { start: 2026-12-01 02:00, end: 2026-12-01 01:00 }\nlist: [mobil, sms]\n";

    #[test]
    fn locates_nested_keys_and_list_items() {
        assert_eq!(locate(TEXT, &[key("site"), key("langauge")]), (3, 3, 8));
        assert_eq!(
            locate(TEXT, &[key("components"), Seg::Index(1), key("nmae")]),
            (8, 5, 4)
        );
        assert_eq!(locate(TEXT, &[key("components"), Seg::Index(1)]).0, 7);
        assert_eq!(locate(TEXT, &[key("scheduled"), key("end")]), (9, 39, 3));
    }

    #[test]
    fn locates_values_in_flow_lists() {
        assert_eq!(locate_value(TEXT, &[key("list")], "sms"), (10, 15, 3));
        assert_eq!(locate_value(TEXT, &[key("list")], "mobil"), (10, 8, 5));
    }

    #[test]
    fn falls_back_to_the_deepest_known_ancestor() {
        assert_eq!(locate(TEXT, &[key("site"), key("nothing")]).0, 1);
        assert_eq!(locate(TEXT, &[key("nothing")]), (1, 1, 1));
    }
}
