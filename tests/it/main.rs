//! Integration tests: the real binary on temporary copies of fixture repositories.

mod api;
mod broadcast;
mod broadcast_open_protocols;
mod build;
mod channels;
mod errors;
mod outputs;
mod support;
