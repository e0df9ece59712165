//! Where the store's I/O can be made to fail in tests: every write, fsync, truncation,
//! rename and removal passes a named point first. Without the `failpoints` feature the
//! points compile to nothing; with it, a test arms one by name through the `fail`
//! crate (`fail::cfg("segment::append", "1*return")`) and the I/O there fails once.
//!
//! The names, for tests to arm: `segment::create`, `segment::append`, `segment::cut`,
//! `segment::sync`, `segment::seal`, `dir::sync`, `session::create`,
//! `session::mark_closed`, `recovery::resume`, `retention::remove`, `archive::create`,
//! `archive::write`, `archive::sync`, `archive::rename`.

/// Fails with an injected I/O error if the point `name` is armed.
#[cfg_attr(
    not(feature = "failpoints"),
    expect(
        unused_variables,
        reason = "the point is compiled out without the feature"
    )
)]
pub(crate) fn check(name: &'static str) -> std::io::Result<()> {
    fail::fail_point!(name, |_| Err(std::io::Error::other(format!(
        "injected failure at {name}"
    ))));
    Ok(())
}
