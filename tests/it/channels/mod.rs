//! Channel clients against local HTTP servers (127.0.0.1) that check what the real services check.

pub mod common;

pub mod bluesky;
mod config;
pub mod email;
mod mastodon;
pub mod matrix;
mod retry;
pub mod webhook;
pub mod x;
