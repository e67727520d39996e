//! Status badges: `badges/status.svg` for the page and `badges/<component>.svg` for each component,
//! each with a shields.io endpoint document beside it (`badges/<name>.json`, for
//! `https://img.shields.io/endpoint?url=…`). The word is the status in the site's language; the
//! colours are the default theme's, all readable with white text; the SVG has a `<title>` and an
//! `aria-label`, so screen readers say "Status: Operational".

use serde::Serialize;

use super::Output;
use super::machine::Machine;
use super::theme::escape_html;
use crate::model::{ComponentStatus, overall};

/// The badge colour of a status (hex without `#`, as shields.io takes it).
#[must_use]
pub fn color(s: ComponentStatus) -> &'static str {
    match s {
        ComponentStatus::Operational => "1a7f37",
        ComponentStatus::UnderMaintenance => "0969da",
        ComponentStatus::DegradedPerformance => "9a6700",
        ComponentStatus::PartialOutage => "bc4c00",
        ComponentStatus::MajorOutage => "cf222e",
    }
}

/// Advance widths of Verdana (units of 1/2048 em) for printable ASCII from `' '` to `'~'`.
const VERDANA: [u16; 95] = [
    720, 823, 1055, 1876, 1303, 2224, 1516, 556, 1024, 1024, 1303, 1876, 745, 868, 745,
    1493, // ' '..'/'
    1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, // digits
    868, 868, 1876, 1876, 1876, 1120, 2048, // ':'..'@'
    1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 862, 1018, 1402, 1153, 1740, 1533, 1669, 1238,
    1669, 1426, 1400, 1247, 1499, 1401, 2025, 1402, 1245, 1398, // 'A'..'Z'
    1024, 1493, 1024, 1876, 1303, 1303, // '['..'`'
    1229, 1276, 1067, 1276, 1220, 720, 1276, 1296, 562, 705, 1219, 562, 1992, 1296, 1243, 1276,
    1276, 874, 1067, 807, 1296, 1219, 1681, 1219, 1219, 1071, // 'a'..'z'
    1297, 1024, 1297, 1876, // '{'..'~'
];

/// Approximate width in pixels of `text` in 11 px Verdana; letters with diacritics count as their
/// base letter. The SVG pins the text to this width with `textLength`, so any fallback font fits.
#[must_use]
pub fn text_width(text: &str) -> f64 {
    let units: u32 = text
        .chars()
        .map(|c| {
            let base = match c {
                'ä' | 'à' | 'á' | 'â' | 'ã' | 'å' => 'a',
                'Ä' | 'À' | 'Á' | 'Â' | 'Ã' | 'Å' => 'A',
                'ö' | 'ò' | 'ó' | 'ô' | 'õ' | 'ø' => 'o',
                'Ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' => 'O',
                'ü' | 'ù' | 'ú' | 'û' => 'u',
                'Ü' | 'Ù' | 'Ú' | 'Û' => 'U',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'É' | 'È' | 'Ê' | 'Ë' => 'E',
                'ß' => 'B',
                '–' | '—' => 'M',
                c => c,
            };
            let code = u32::from(base);
            if (0x20..0x7f).contains(&code) {
                u32::from(VERDANA[(code - 0x20) as usize])
            } else {
                1400
            }
        })
        .sum();
    f64::from(units) * 11.0 / 2048.0
}

/// A flat badge: `label` on grey, `message` on `color`.
#[must_use]
pub fn svg(label: &str, message: &str, color: &str) -> String {
    let (lt, mt) = (text_width(label).round(), text_width(message).round());
    let (lw, mw) = (lt + 12.0, mt + 12.0);
    let w = lw + mw;
    let (label, message) = (escape_html(label), escape_html(message));
    let (lx, mx) = (lw / 2.0, lw + mw / 2.0);
    format!(
        concat!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"20\" role=\"img\" aria-label=\"{label}: {message}\">",
            "<title>{label}: {message}</title>",
            "<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>",
            "<clipPath id=\"r\"><rect width=\"{w}\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>",
            "<g clip-path=\"url(#r)\"><rect width=\"{lw}\" height=\"20\" fill=\"#555\"/><rect x=\"{lw}\" width=\"{mw}\" height=\"20\" fill=\"#{color}\"/><rect width=\"{w}\" height=\"20\" fill=\"url(#s)\"/></g>",
            "<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"11\" aria-hidden=\"true\">",
            "<text x=\"{lx}\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\" textLength=\"{lt}\">{label}</text>",
            "<text x=\"{lx}\" y=\"14\" textLength=\"{lt}\">{label}</text>",
            "<text x=\"{mx}\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\" textLength=\"{mt}\">{message}</text>",
            "<text x=\"{mx}\" y=\"14\" textLength=\"{mt}\">{message}</text>",
            "</g></svg>\n"
        ),
        w = w,
        lw = lw,
        mw = mw,
        lx = lx,
        mx = mx,
        lt = lt,
        mt = mt,
        label = label,
        message = message,
        color = color,
    )
}

/// The shields.io endpoint document.
#[derive(Serialize)]
struct Endpoint<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u8,
    label: &'a str,
    message: &'a str,
    color: &'a str,
}

fn badge(name: &str, label: &str, status: ComponentStatus, m: &Machine) -> [Output; 2] {
    let message = m.status_label(status);
    let endpoint = Endpoint {
        schema_version: 1,
        label,
        message: &message,
        color: color(status),
    };
    [
        Output {
            path: format!("badges/{name}.svg"),
            bytes: svg(label, &message, color(status)).into_bytes(),
        },
        Output {
            path: format!("badges/{name}.json"),
            // A struct of strings always serializes.
            bytes: serde_json::to_vec(&endpoint).unwrap_or_default(),
        },
    ]
}

/// Badges for the page and every component.
#[must_use]
pub fn render(m: &Machine) -> Vec<Output> {
    let mut out = Vec::with_capacity(2 * (m.config.components.len() + 1));
    out.extend(badge(
        "status",
        &m.texts.get("badge_label"),
        overall(&m.statuses),
        m,
    ));
    for c in &m.config.components {
        let status = m.statuses.get(&c.id).copied().unwrap_or_default();
        out.extend(badge(&c.id, &c.name, status, m));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_is_accessible_and_sized_to_its_text() {
        let s = svg(
            "SMS & MMS",
            "Eingeschränkt",
            color(ComponentStatus::DegradedPerformance),
        );
        assert!(s.contains("aria-label=\"SMS &amp; MMS: Eingeschränkt\""));
        assert!(s.contains("<title>SMS &amp; MMS: Eingeschränkt</title>"));
        assert!(s.contains("fill=\"#9a6700\""));
        assert!(text_width("Operational") > text_width("OK"));
        assert!((text_width("m") - 1992.0 * 11.0 / 2048.0).abs() < 1e-9);
        assert!((text_width("ü") - text_width("u")).abs() < 1e-9);
    }
}
