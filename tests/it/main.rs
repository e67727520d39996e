//! Integration tests: the real binary on temporary copies of fixture repositories.

mod broadcast;
mod build;
mod channels;
mod errors;
mod support;
