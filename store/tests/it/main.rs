//! The store's integration tests, in one binary so it links once.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod archive;
mod common;
mod dictionary;
mod fixtures;
mod format;
mod mixed;
mod model;
mod raw;
mod recovery;
mod services;
mod tail;
