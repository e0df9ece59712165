//! The fuzz targets' checked-in corpora (`fuzz/corpus/<target>/`), replayed through the
//! bodies libFuzzer runs (FUZZING.md), on stable: every input fuzzing kept, and every
//! input that once failed, still passes.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::layout::repo_root;

#[track_caller]
fn replay(target: &str, body: fn(&[u8])) {
    let dir = repo_root().join("fuzz/corpus").join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let input = std::fs::read(&path).expect("readable corpus input");
        if catch_unwind(AssertUnwindSafe(|| body(&input))).is_err() {
            panic!(
                "{target} fails on {} (again: cd fuzz && cargo +nightly fuzz run {target} {})",
                path.display(),
                path.strip_prefix(repo_root().join("fuzz"))
                    .unwrap_or(&path)
                    .display()
            );
        }
        inputs += 1;
    }
    assert!(inputs > 0, "the {target} corpus is empty");
}

#[test]
fn segment_scan() {
    replay("segment_scan", oculus_store::fuzzing::segment_scan);
}

#[test]
fn segment_tail() {
    replay("segment_tail", oculus_store::fuzzing::segment_tail);
}

#[test]
fn segment_damage() {
    replay("segment_damage", oculus_store::fuzzing::segment_damage);
}

#[test]
fn transcode_traces() {
    replay(
        "transcode_traces",
        oculus_collector::fuzzing::transcode_traces,
    );
}

#[test]
fn transcode_logs() {
    replay("transcode_logs", oculus_collector::fuzzing::transcode_logs);
}

#[test]
fn decode_metrics() {
    replay("decode_metrics", oculus_collector::fuzzing::decode_metrics);
}

#[test]
fn otlp_json() {
    replay("otlp_json", oculus_collector::fuzzing::otlp_json);
}

#[test]
fn receiver_body() {
    replay("receiver_body", oculus_collector::fuzzing::receiver_body);
}
