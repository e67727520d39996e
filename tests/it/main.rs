//! Integration tests: the real binary on temporary copies of fixture repositories.

mod api;
mod build;
mod errors;
mod outputs;
mod support;
