//! Integration tests: the real binary on temporary copies of fixture repositories.

mod api;
mod bench;
mod broadcast;
mod build;
mod channels;
mod errors;
mod fan_out;
mod outputs;
mod support;
