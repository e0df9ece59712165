//! End-to-end tests across the Oculus crates live in `it/`; this library is empty.
