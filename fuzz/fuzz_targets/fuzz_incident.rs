//! Any bytes as an incident file: the parser returns an incident or diagnostics, never panics
//! or hangs (libFuzzer's `-timeout` turns a slow input into a finding), and the diagnostics print.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use statuscast::config::Config;

fuzz_target!(|data: &[u8]| {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    let config = CONFIG.get_or_init(Config::for_test);
    match statuscast::source::incident::parse(Path::new("incidents/2026-11-20-fuzz.md"), data, config) {
        Ok(incident) => {
            for update in &incident.updates {
                let _ = statuscast::site::markdown::to_html(&update.body);
            }
        }
        Err(problems) => {
            let _ = problems.to_string();
        }
    }
});
