//! Integration tests: the real binary on temporary copies of fixture repositories.

mod api;
mod broadcast;
mod build;
mod channels;
mod daemon;
mod errors;
mod examples;
mod ops;
mod outputs;
mod serve;
mod support;
