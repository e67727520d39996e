//! Integration tests: the real binary on temporary copies of fixture repositories.

mod api;
mod broadcast;
mod build;
mod channels;
mod corpus;
mod crash;
mod errors;
mod hardening;
mod outputs;
mod properties;
mod support;
