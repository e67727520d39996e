//! Problems found in user files, with positions, and the one printer for them.
//!
//! Every problem a user can fix is a [`Diagnostic`]: a message in the user's words, where it is
//! (`file:line:column`, with the offending line and a caret), and a hint saying what to do.
//! A check run collects all of them and prints them once.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a user file. Lines and columns start at 1; column counts characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// How many characters the caret underlines (at least 1).
    pub width: usize,
}

impl Span {
    #[must_use]
    pub fn new(path: &Path, line: usize, column: usize) -> Self {
        Span {
            path: path.to_path_buf(),
            line: line.max(1),
            column: column.max(1),
            width: 1,
        }
    }

    #[must_use]
    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width.max(1);
        self
    }
}

/// One problem in a user file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Span>,
    /// The text of the offending line, for the excerpt under the message.
    pub source_line: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            span: None,
            source_line: None,
            hint: None,
        }
    }

    /// Attach a position and take the excerpt line from `text` (the whole file).
    #[must_use]
    pub fn at(mut self, span: Span, text: &str) -> Self {
        self.source_line = text
            .lines()
            .nth(span.line - 1)
            .map(|l| l.trim_end_matches('\r').to_string());
        self.span = Some(span);
        self
    }

    /// Attach a position in a file whose text is not at hand (no excerpt).
    #[must_use]
    pub fn at_file(mut self, path: &Path) -> Self {
        self.span = Some(Span::new(path, 1, 1));
        self
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Show a path relative to the current directory when it lies below it, as users typed it.
#[must_use]
pub fn display_path(path: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = path.strip_prefix(&cwd)
    {
        return rel.display().to_string();
    }
    path.display().to_string()
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(span) => write!(
                f,
                "{}:{}:{}: error: {}",
                display_path(&span.path),
                span.line,
                span.column,
                self.message
            )?,
            None => write!(f, "error: {}", self.message)?,
        }
        if let (Some(span), Some(line)) = (&self.span, &self.source_line) {
            let number = span.line.to_string();
            let pad = " ".repeat(number.len());
            let (shown, column, width) = excerpt(line, span.column, span.width);
            let caret_pad = " ".repeat(column - 1);
            let carets = "^".repeat(width);
            write!(
                f,
                "\n{pad} |\n{number} | {shown}\n{pad} | {caret_pad}{carets}"
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// At most this many problems are reported per file: a file of 100 000 broken lines is one mistake
/// repeated, and finding (and printing) every one of them would take long.
pub const MAX_PER_FILE: usize = 20;

/// The longest excerpt line shown, in characters.
const EXCERPT: usize = 100;

/// The part of a long source line around `column` (tabs as spaces), with `…` where it was cut,
/// and the caret's column and width in it.
fn excerpt(line: &str, column: usize, width: usize) -> (String, usize, usize) {
    let chars: Vec<char> = line
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    if chars.len() <= EXCERPT {
        return (chars.into_iter().collect(), column, width);
    }
    let c0 = (column - 1).min(chars.len());
    let start = c0.saturating_sub(EXCERPT / 3);
    let end = (start + EXCERPT).min(chars.len());
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    let column = c0 - start + usize::from(start > 0) + 1;
    (shown, column, width.min(end.saturating_sub(c0)).max(1))
}

/// All problems of one run. This is the error type of `check` and of everything that reads user files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// More problems than one file may report ([`MAX_PER_FILE`]): checks stop looking then.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.0.len() > MAX_PER_FILE
    }

    /// Keep the first [`MAX_PER_FILE`] problems of one file and say, where the next one is, that
    /// there are more.
    pub fn cap(&mut self) {
        if self.0.len() > MAX_PER_FILE {
            let next = self.0.swap_remove(MAX_PER_FILE);
            self.0.truncate(MAX_PER_FILE);
            self.0.push(Diagnostic {
                message: format!(
                    "more problems from here on; only the first {MAX_PER_FILE} of this file are shown"
                ),
                hint: Some(
                    "fix these first: many errors in one file are often one mistake repeated"
                        .into(),
                ),
                ..next
            });
        }
    }

    /// Sort by file and position so the output is stable whatever order files were read in.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.span.as_ref().map(|s| (s.path.clone(), s.line, s.column));
            key(a).cmp(&key(b))
        });
    }

    /// `Ok(value)` when there are no problems, else `Err(self)`.
    ///
    /// # Errors
    /// Returns the collected diagnostics when there is at least one.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// Escape workflow-command data (the message) as GitHub Actions reads it.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow-command property value (`file=…`): data escaping plus `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

impl Diagnostic {
    /// This problem as a GitHub Actions `::error` workflow command, shown as an annotation on the
    /// file and line in the run and on the pull request.
    #[must_use]
    pub fn github_annotation(&self) -> String {
        let mut props = vec![format!("title={}", escape_property("statuscast"))];
        if let Some(span) = &self.span {
            props.push(format!(
                "file={}",
                escape_property(&display_path(&span.path))
            ));
            props.push(format!("line={}", span.line));
            props.push(format!("col={}", span.column));
            props.push(format!("endColumn={}", span.column + span.width));
        }
        let message = match &self.hint {
            Some(h) => format!("{}\nhint: {h}", self.message),
            None => self.message.clone(),
        };
        format!("::error {}::{}", props.join(","), escape_data(&message))
    }
}

impl Diagnostics {
    /// One GitHub Actions `::error` line per problem.
    #[must_use]
    pub fn github_annotations(&self) -> String {
        self.0
            .iter()
            .map(|d| d.github_annotation() + "\n")
            .collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
#[must_use]
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `did you mean "x"? ` or nothing, for building hints.
#[must_use]
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest(word, candidates)
        .map(|s| format!("did you mean \"{s}\"? "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_position_excerpt_caret_and_hint() {
        let text = "---\ntitle: x\ncomponents: [mobil]\n";
        let d = Diagnostic::new("unknown component \"mobil\"")
            .at(
                Span::new(Path::new("/nonexistent/x.md"), 3, 14).with_width(5),
                text,
            )
            .hint("did you mean \"mobile\"?");
        let out = d.to_string();
        assert!(out.starts_with("/nonexistent/x.md:3:14: error: unknown component \"mobil\""));
        assert!(out.contains("3 | components: [mobil]"));
        assert!(out.contains("  |              ^^^^^"), "{out}");
        assert!(out.ends_with("= hint: did you mean \"mobile\"?"));
    }

    #[test]
    fn github_annotations_escape_data_and_properties() {
        let d = Diagnostic::new("50% of \"a,b\"\r\nbroken")
            .at(
                Span::new(Path::new("/nonexistent/in:cidents/x,1.md"), 3, 14).with_width(5),
                "",
            )
            .hint("fix: it");
        assert_eq!(
            d.github_annotation(),
            "::error title=statuscast,file=/nonexistent/in%3Acidents/x%2C1.md,line=3,col=14,endColumn=19::50%25 of \"a,b\"%0D%0Abroken%0Ahint: fix: it"
        );
        assert_eq!(
            Diagnostic::new("no span").github_annotation(),
            "::error title=statuscast::no span"
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_caret() {
        let line = format!("{}needle{}", "a".repeat(500), "b".repeat(500));
        let d = Diagnostic::new("x").at(Span::new(Path::new("f"), 1, 501).with_width(6), &line);
        let out = d.to_string();
        let shown = out.lines().nth(2).unwrap();
        let carets = out.lines().nth(3).unwrap();
        assert!(shown.chars().count() < 120, "{shown}");
        assert!(
            shown.starts_with("1 | …a") && shown.ends_with("b…"),
            "{shown}"
        );
        let at = shown.chars().position(|c| c == 'n').unwrap();
        assert_eq!(carets.chars().position(|c| c == '^'), Some(at), "{out}");
        assert!(carets.ends_with("^^^^^^"), "{out}");
    }

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(suggest("mobil", ["mobile", "sms", "dsl"]), Some("mobile"));
        assert_eq!(suggest("titel", ["title", "base_url"]), Some("title"));
        assert_eq!(suggest("zzz", ["mobile", "sms"]), None);
    }
}
