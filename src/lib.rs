//! statuscast: incidents as Markdown files in git, compiled into a static status page and broadcast
//! to the channels where customers are.
//!
//! Build: [`source::load`] → [`site::build`]. The binary (`main.rs`) is a thin layer over `cmd/`.

pub mod broadcast;
pub mod cli;
pub mod cmd;
pub mod codec;
pub mod config;
pub mod diagnostics;
pub mod faults;
pub mod folder;
pub mod model;
pub mod ops;
pub mod site;
pub mod source;
pub mod timings;

/// An I/O error in the user's words (no Rust `Debug` output).
#[must_use]
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "not found".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            let s = e.to_string();
            // Drop "(os error N)" noise.
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}
