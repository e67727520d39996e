//! Channel clients against local HTTP servers (127.0.0.1) that check what the real services check.

pub mod common;

pub mod bluesky;
mod config;
pub mod discord;
mod mastodon;
mod retry;
pub mod slack;
mod teams;
pub mod telegram;
pub mod x;
