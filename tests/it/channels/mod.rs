//! Channel clients against local HTTP servers (127.0.0.1) that check what the real services check.

pub mod common;

pub mod bluesky;
mod config;
mod mastodon;
mod retry;
pub mod x;
