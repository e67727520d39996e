//! Stable identifiers for machine-readable outputs: the same incident, update, component or group
//! gets the same id in every build, whatever `--now` is, so feed readers, calendars and API clients
//! recognise what they have seen before.
//!
//! Ids look like Statuspage's: 12 characters of `[a-z0-9]`, taken from a SHA-256 of a kind and a key
//! (an incident's file id, a component id, a group name, or an incident id with an update's time
//! and status). Renaming the file or the component changes the id; nothing else does.

use sha2::{Digest, Sha256};

use crate::model::Incident;

const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A 12-character `[a-z0-9]` id for `key` within `kind`.
#[must_use]
pub fn stable_id(kind: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("statuscast:{kind}:{key}").as_bytes());
    digest
        .iter()
        .take(12)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

#[must_use]
pub fn incident(id: &str) -> String {
    stable_id("incident", id)
}

#[must_use]
pub fn component(id: &str) -> String {
    stable_id("component", id)
}

#[must_use]
pub fn group(name: &str) -> String {
    stable_id("group", name)
}

#[must_use]
pub fn page(base_url: &str) -> String {
    stable_id("page", base_url)
}

/// One id per update of `incident`, index-aligned with `incident.updates`. The key is the update's
/// time and status, so adding a later update never changes the ids of earlier ones; two updates with
/// the same time and status are told apart by their order.
#[must_use]
pub fn updates(incident: &Incident) -> Vec<String> {
    let mut seen: Vec<String> = Vec::with_capacity(incident.updates.len());
    incident
        .updates
        .iter()
        .map(|u| {
            let base = format!(
                "{}|{}|{}",
                incident.id,
                u.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                u.status.as_str()
            );
            let n = seen.iter().filter(|k| **k == base).count();
            seen.push(base.clone());
            if n == 0 {
                stable_id("update", &base)
            } else {
                stable_id("update", &format!("{base}#{n}"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_lowercase_and_stable() {
        let a = incident("2026-11-23-mobilfunk-sms-hamburg");
        assert_eq!(a.len(), 12);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(a, incident("2026-11-23-mobilfunk-sms-hamburg"));
        assert_ne!(a, incident("2026-11-23-mobilfunk-sms-hamburg-2"));
        assert_ne!(component("mobile"), group("mobile"), "kinds are separate");
    }
}
