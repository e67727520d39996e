use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::{Global, NewArgs};
use crate::config::{Config, Lang};
use crate::diagnostics::{did_you_mean, display_path};
use crate::model::Impact;
use crate::model::time::parse_time;

/// A file-name slug: German letters transliterated as Germans write them, the rest by `slug`.
fn slugify(title: &str) -> String {
    let mut s = String::with_capacity(title.len());
    for c in title.chars() {
        match c {
            'ä' => s.push_str("ae"),
            'ö' => s.push_str("oe"),
            'ü' => s.push_str("ue"),
            'Ä' => s.push_str("Ae"),
            'Ö' => s.push_str("Oe"),
            'Ü' => s.push_str("Ue"),
            'ß' => s.push_str("ss"),
            _ => s.push(c),
        }
    }
    let mut slug = slug::slugify(s);
    if slug.len() > 48 {
        let cut = slug[..48].rfind('-').unwrap_or(48);
        slug.truncate(cut);
    }
    if slug.is_empty() {
        "incident".to_string()
    } else {
        slug
    }
}

pub fn run(global: &Global, args: &NewArgs) -> Result<ExitCode> {
    let now = super::now(global)?;
    let config = Config::load(&global.config).map_err(super::problems_error)?;
    let Some(impact) = Impact::ALL.into_iter().find(|i| i.as_str() == args.impact) else {
        bail!(
            "error: unknown impact \"{}\"\n  = hint: {}use none, minor, major or critical",
            args.impact,
            did_you_mean(&args.impact, Impact::ALL.iter().map(|i| i.as_str()))
        );
    };
    let known: Vec<&str> = config.components.iter().map(|c| c.id.as_str()).collect();
    for c in &args.components {
        if config.component(c).is_none() {
            bail!(
                "error: unknown component \"{c}\"\n  = hint: {}components in statuscast.yaml: {}",
                did_you_mean(c, known.iter().copied()),
                known.join(", ")
            );
        }
    }
    if let Some(a) = &args.author
        && config.member(a).is_none()
    {
        bail!(
            "error: unknown author \"{a}\"\n  = hint: authors are the team member ids in statuscast.yaml"
        );
    }
    let local = now.with_timezone(&config.tz);
    let stamp = local.format("%Y-%m-%d %H:%M").to_string();
    let de = config.site.language == Lang::De;

    let mut text = String::from("---\n");
    let _ = writeln!(text, "title: {}", serde_json::to_string(&args.title)?);
    let _ = writeln!(text, "components: [{}]", args.components.join(", "));
    let _ = writeln!(text, "impact: {}", impact.as_str());
    if let Some(a) = &args.author {
        let _ = writeln!(text, "author: {a}");
    }
    let first_status = if args.maintenance {
        let (Some(start), Some(end)) = (&args.start, &args.end) else {
            bail!("error: a maintenance needs --start and --end");
        };
        let s = parse_time(start, config.tz)
            .map_err(|e| anyhow::anyhow!("error: --start: {}\n  = hint: {}", e.message, e.hint))?;
        let e = parse_time(end, config.tz)
            .map_err(|e| anyhow::anyhow!("error: --end: {}\n  = hint: {}", e.message, e.hint))?;
        if e <= s {
            bail!(
                "error: the maintenance ends before it starts\n  = hint: --end must be later than --start"
            );
        }
        let fmt = |t: chrono::DateTime<chrono::Utc>| {
            t.with_timezone(&config.tz)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        };
        let _ = writeln!(text, "scheduled: {{ start: {}, end: {} }}", fmt(s), fmt(e));
        "scheduled"
    } else {
        "investigating"
    };
    text.push_str("---\n\n");
    let _ = writeln!(text, "## {stamp} {first_status}");
    text.push_str(match (args.maintenance, de) {
        (false, true) => "Wir untersuchen derzeit eine Störung und melden uns mit einem Update, sobald wir mehr wissen.\n",
        (false, false) => "We are investigating an issue and will post an update as soon as we know more.\n",
        (true, true) => "Wir führen geplante Wartungsarbeiten durch. In dieser Zeit kann es zu Einschränkungen kommen.\n",
        (true, false) => "We will carry out planned maintenance. Service may be interrupted during this window.\n",
    });

    let dir = config.incidents_path();
    std::fs::create_dir_all(&dir)?;
    let base = format!("{}-{}", local.format("%Y-%m-%d"), slugify(&args.title));
    let mut n = 1;
    let path = loop {
        let name = if n == 1 {
            format!("{base}.md")
        } else {
            format!("{base}-{n}.md")
        };
        let p = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(mut f) => {
                std::io::Write::write_all(&mut f, text.as_bytes())?;
                break p;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => bail!(
                "error: cannot write {}: {}",
                display_path(&p),
                crate::io_reason(&e)
            ),
        }
    };
    println!("{}", display_path(&path));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_transliterate_german() {
        assert_eq!(
            super::slugify("Mobilfunkstörung im Raum Köln – Straße"),
            "mobilfunkstoerung-im-raum-koeln-strasse"
        );
        assert_eq!(super::slugify("!!!"), "incident");
        assert!(super::slugify(&"sehr lange überschrift ".repeat(10)).len() <= 48);
    }
}
