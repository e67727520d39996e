//! Integration tests: the real binary on temporary copies of fixture repositories.

mod api;
mod bench;
mod broadcast;
mod broadcast_chat;
mod broadcast_open_protocols;
mod build;
mod cache;
mod channels;
mod corpus;
mod crash;
mod daemon;
mod errors;
mod examples;
mod fan_out;
mod hardening;
mod ops;
mod outputs;
mod properties;
mod serve;
mod support;
