//! The store's integration tests, in one binary so it links once.

mod common;
mod fixtures;
mod format;
mod model;
mod recovery;
mod tail;
