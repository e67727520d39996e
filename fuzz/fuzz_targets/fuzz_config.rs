//! Any bytes as `statuscast.yaml`: the loader returns a config or diagnostics, never panics or
//! hangs, and the diagnostics print.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use statuscast::config::Config;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("statuscast.yaml");
    let result = statuscast::source::utf8(path, data)
        .map_err(Into::into)
        .and_then(|text| Config::parse(text, path, Path::new(".")));
    if let Err(problems) = result {
        let _ = problems.to_string();
    }
});
