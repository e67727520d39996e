//! Themes: the default theme is embedded in the binary; a user theme in `themes/<name>/` overrides it
//! template by template (`templates/*.html`), asset by asset (`static/**`) and text by text
//! (`i18n/<lang>.yaml`). A configured theme folder that does not exist is an error, never a silent
//! fallback.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tera::Tera;

use crate::config::{Config, Lang};
use crate::diagnostics::{Diagnostic, Diagnostics};

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../themes/default/templates/", $name)))),*]
    };
}

/// The default theme's templates.
pub const TEMPLATES: &[(&str, &str)] = embedded![
    "base.html",
    "macros.html",
    "index.html",
    "incident.html",
    "history.html"
];

/// The default theme's static files, copied to the output root.
pub const ASSETS: &[(&str, &[u8])] = &[
    (
        "style.css",
        include_bytes!("../../themes/default/static/style.css"),
    ),
    (
        "favicon.svg",
        include_bytes!("../../themes/default/static/favicon.svg"),
    ),
];

const I18N_DE: &str = include_str!("../../themes/default/i18n/de.yaml");
const I18N_EN: &str = include_str!("../../themes/default/i18n/en.yaml");

/// A loaded theme: parsed templates, the static files and the texts of the site's language.
pub struct Theme {
    /// SHA-256 of every template, static file and text: what a cached page depends on.
    pub fingerprint: [u8; 32],
    pub tera: Tera,
    pub assets: BTreeMap<String, Vec<u8>>,
    pub texts: BTreeMap<String, String>,
}

fn read(path: &Path) -> Result<Vec<u8>, Diagnostic> {
    std::fs::read(path).map_err(|e| {
        Diagnostic::new(format!(
            "cannot read the theme file: {}",
            crate::io_reason(&e)
        ))
        .at_file(path)
    })
}

fn files_below(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| {
            Diagnostic::new(format!(
                "cannot read the theme folder {}: {}",
                d.display(),
                crate::io_reason(&e)
            ))
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            // Symlinks are not followed: a theme cannot pull in files from elsewhere.
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out.sort();
    Ok(out)
}

fn parse_texts(yaml: &str, path: &Path) -> Result<BTreeMap<String, String>, Diagnostic> {
    crate::source::yaml::check_size(yaml)
        .and_then(|()| serde_yaml::from_str(yaml))
        .map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            Diagnostic::new(format!("cannot read the theme texts: {e}"))
                .at(crate::diagnostics::Span::new(path, line, col), yaml)
                .hint("texts are `key: text` lines")
        })
}

impl Theme {
    /// Load the theme configured in `config` over the embedded default.
    ///
    /// # Errors
    /// A missing theme folder, an unreadable file or a template that does not parse.
    pub fn load(config: &Config) -> Result<Theme, Diagnostics> {
        let dir = config.theme_path();
        let user = if dir.is_dir() {
            Some(dir)
        } else if config.site.theme == "default" {
            None
        } else {
            return Err(Diagnostic::new(format!(
                "theme \"{}\" not found: there is no folder {}",
                config.site.theme,
                crate::diagnostics::display_path(&dir)
            ))
            .hint("create the folder (templates/, static/, i18n/ override the default theme file by file), or remove site.theme to use the built-in default")
            .into());
        };

        let mut templates: BTreeMap<String, (Option<PathBuf>, String)> = TEMPLATES
            .iter()
            .map(|(n, s)| ((*n).to_string(), (None, (*s).to_string())))
            .collect();
        let mut assets: BTreeMap<String, Vec<u8>> = ASSETS
            .iter()
            .map(|(n, b)| ((*n).to_string(), b.to_vec()))
            .collect();
        let (default_texts, lang_file) = match config.site.language {
            Lang::De => (I18N_DE, "de.yaml"),
            Lang::En => (I18N_EN, "en.yaml"),
        };
        let mut texts = parse_texts(
            default_texts,
            Path::new("themes/default/i18n").join(lang_file).as_path(),
        )?;

        if let Some(dir) = &user {
            let tdir = dir.join("templates");
            if tdir.is_dir() {
                for path in files_below(&tdir)? {
                    let name = path
                        .strip_prefix(&tdir)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    let bytes = read(&path)?;
                    let text = String::from_utf8(bytes).map_err(|_| {
                        Diagnostic::new("the template is not UTF-8 text").at_file(&path)
                    })?;
                    templates.insert(name, (Some(path), text));
                }
            }
            let sdir = dir.join("static");
            if sdir.is_dir() {
                for path in files_below(&sdir)? {
                    let name = path
                        .strip_prefix(&sdir)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    assets.insert(name, read(&path)?);
                }
            }
            let ipath = dir.join("i18n").join(lang_file);
            if ipath.is_file() {
                let text = String::from_utf8(read(&ipath)?).map_err(|_| {
                    Diagnostic::new("the texts file is not UTF-8 text").at_file(&ipath)
                })?;
                texts.extend(parse_texts(&text, &ipath)?);
            }
        }

        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html", ".xml", ".svg"]);
        tera.set_escape_fn(escape_html);
        tera.add_raw_templates(templates.iter().map(|(n, (_, s))| (n.as_str(), s.as_str())))
            .map_err(|e| {
                let mut d = Diagnostic::new(format!(
                    "the theme's templates do not parse: {}",
                    tera_reason(&e)
                ))
                .hint("see the Tera documentation for the template syntax");
                // Point at the user's file when Tera names one of them.
                if let Some((_, (Some(path), _))) = templates
                    .iter()
                    .find(|(n, (p, _))| p.is_some() && tera_reason(&e).contains(&format!("'{n}'")))
                {
                    d = d.at_file(path);
                }
                d
            })?;
        let fingerprint = {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            for (n, (_, t)) in &templates {
                h.update(n.as_bytes());
                h.update([0]);
                h.update(t.as_bytes());
                h.update([0]);
            }
            for (n, b) in &assets {
                h.update(n.as_bytes());
                h.update([0]);
                h.update(b);
            }
            for (k, v) in &texts {
                h.update(k.as_bytes());
                h.update([0]);
                h.update(v.as_bytes());
                h.update([0]);
            }
            h.finalize().into()
        };
        Ok(Theme {
            fingerprint,
            tera,
            assets,
            texts,
        })
    }
}

/// HTML escaping for text and quoted attribute values. Unlike Tera's default it leaves `/` alone, so
/// URLs and names like "LTE/5G" stay readable in the source.
#[must_use]
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    escape_html_into(&mut out, input);
    out
}

/// [`escape_html`], appended to `out`.
pub fn escape_html_into(out: &mut String, input: &str) {
    // The five characters are ASCII: the text between them is copied in one piece.
    let mut rest = input;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Tera's error with its causes, on one line.
#[must_use]
pub fn tera_reason(e: &tera::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out.replace('\n', " ")
}
