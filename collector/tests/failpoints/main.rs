//! Fault injection: every write, fsync, truncation, rename and removal of the store
//! fails in turn while a real OTLP client exports through a real collector. Whatever
//! fails, the affected requests are told to retry (UNAVAILABLE with RetryInfo), the
//! collector keeps serving, and afterwards the data directory checks clean and holds
//! every acknowledged record exactly once.
//!
//! A binary of its own: the points are armed for the whole process, and the scenarios
//! take turns (`fail::FailScenario` holds a lock while one runs).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use oculus_collector::{Collector, Config};
use oculus_store::proto::any_value::Value as StoredValue;
use oculus_store::{FsyncPolicy, SegmentBytes, SegmentItem, read_segment, resolve};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use tonic::Code;
use tonic_types::StatusExt;

const REQUESTS: u64 = 40;
const RECORDS_PER_REQUEST: u64 = 20;

fn request(first_id: u64) -> ExportLogsServiceRequest {
    let records = (first_id..first_id + RECORDS_PER_REQUEST)
        .map(|id| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + id,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("record {id}"))),
            }),
            attributes: vec![KeyValue {
                key: "id".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(
                        i64::try_from(id).expect("small"),
                    )),
                }),
                ..KeyValue::default()
            }],
            ..LogRecord::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn config(dir: &Path) -> Config {
    let loopback = "127.0.0.1:0".parse().expect("address");
    let mut config = Config::new(loopback, loopback, dir.to_path_buf());
    // Every sync is taken, and segments rotate every few requests.
    config.writer.fsync = FsyncPolicy::Always;
    config.writer.max_segment_bytes = 2_000;
    config
}

/// Starts a collector, starting again if an injected failure stopped the first try.
async fn start(dir: &Path, failures: &mut Vec<String>) -> Collector {
    for _ in 0..3 {
        match Collector::start(config(dir)).await {
            Ok(collector) => return collector,
            Err(error) => {
                let message = error.to_string();
                assert!(message.contains("injected failure"), "{message}");
                failures.push(message);
            }
        }
    }
    panic!("the collector never started: {failures:?}");
}

/// Sends every request as an SDK would, retrying what it is told to retry; returns
/// the acknowledged ids.
async fn export_all(collector: &Collector, failures: &mut Vec<String>) -> Vec<u64> {
    let mut client = LogsServiceClient::connect(format!("http://{}", collector.grpc_addr()))
        .await
        .expect("connect");
    let mut acked = Vec::new();
    for n in 0..REQUESTS {
        let first = n * RECORDS_PER_REQUEST;
        let mut tries = 0;
        loop {
            match client.export(request(first)).await {
                Ok(_) => break,
                Err(status) => {
                    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                    assert!(status.get_details_retry_info().is_some(), "{status:?}");
                    failures.push(status.message().to_owned());
                    tries += 1;
                    assert!(tries < 5, "still refused after {tries} tries: {failures:?}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        acked.extend(first..first + RECORDS_PER_REQUEST);
    }
    acked
}

/// Stops the collector; if an injected failure stopped the seal, the next start
/// recovers the session, as it would after a crash.
async fn stop(collector: Collector, dir: &Path, failures: &mut Vec<String>) {
    if let Err(error) = collector.shutdown().await {
        failures.push(error.to_string());
        let again = start(dir, failures).await;
        again.shutdown().await.expect("the second stop seals");
    }
}

/// Every stored log record's id, with how many times it is stored.
fn stored(dir: &Path) -> BTreeMap<u64, usize> {
    let mut ids = BTreeMap::new();
    for segment in resolve(dir).expect("resolve").segments {
        let data = read_segment(&segment.path).expect("readable");
        let bytes = SegmentBytes::new(&segment.path, &data).finished(segment.finished);
        let scan = bytes.scan(|item| {
            if let SegmentItem::Block { block, .. } = item {
                for log in &block.logs {
                    if let Some(StoredValue::IntValue(id)) = log.attributes[0]
                        .value
                        .as_ref()
                        .and_then(|v| v.value.clone())
                    {
                        *ids.entry(u64::try_from(id).expect("positive")).or_default() += 1;
                    }
                }
            }
        });
        assert!(scan.damage.is_empty(), "{:?}", scan.damage);
    }
    ids
}

/// Arms `points` (in `fail`'s syntax, such as "1*return") and runs a whole session
/// under them: start, export with retries, stop.
async fn session_failing_at(points: &[(&str, &str)]) {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().expect("tempdir");
    for (point, action) in points {
        fail::cfg(*point, action).expect("a valid action");
    }
    let mut failures = Vec::new();
    let collector = start(dir.path(), &mut failures).await;
    let acked = export_all(&collector, &mut failures).await;
    stop(collector, dir.path(), &mut failures).await;
    scenario.teardown();
    assert!(
        !failures.is_empty(),
        "{points:?}: nothing failed, so nothing was tested"
    );

    let report = oculus_store::check(dir.path(), |_, _| {}).expect("check");
    assert!(report.is_healthy(), "{points:?}: {:?}", report.damage);
    assert!(
        report.open_tails.is_empty(),
        "{points:?}: {:?}",
        report.open_tails
    );
    let stored = stored(dir.path());
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).take(3).collect();
    assert!(twice.is_empty(), "{points:?}: stored twice: {twice:?}");
    let missing: Vec<_> = acked
        .iter()
        .filter(|id| !stored.contains_key(id))
        .take(3)
        .collect();
    assert!(
        missing.is_empty(),
        "{points:?}: acknowledged but missing: {missing:?}"
    );
    assert_eq!(
        stored.len(),
        acked.len(),
        "{points:?}: stored what was never acknowledged"
    );
}

#[tokio::test]
async fn each_write_and_sync_failing_once_costs_only_a_retry() {
    // The first of each fails; for appends and syncs, a later one fails too, so that
    // failures land both in a fresh segment and around a rotation.
    for point in [
        "segment::create",
        "segment::append",
        "segment::sync",
        "segment::seal",
        "dir::sync",
    ] {
        session_failing_at(&[(point, "1*return")]).await;
        session_failing_at(&[(point, "3*off->1*return")]).await;
    }
}

#[tokio::test]
async fn a_failed_write_whose_cut_fails_too_is_salvaged() {
    session_failing_at(&[
        ("segment::append", "2*off->1*return"),
        ("segment::cut", "1*return"),
    ])
    .await;
}

#[tokio::test]
async fn failures_while_starting_and_stopping_leave_a_clean_directory() {
    for point in ["session::create", "session::mark_closed"] {
        session_failing_at(&[(point, "1*return")]).await;
    }
}

#[tokio::test]
async fn a_failed_recovery_is_tried_again_at_the_next_start() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().expect("tempdir");
    // A crashed run: its segment is left unsealed.
    let (mut writer, _) =
        oculus_store::SessionWriter::open(dir.path(), oculus_store::WriterOptions::default())
            .expect("a data directory");
    let block =
        oculus_store::encode_block(&oculus_store::proto::Block::default(), 3).expect("encodes");
    writer.append(&[block]).expect("appends");
    drop(writer);
    fail::cfg("recovery::resume", "1*return").expect("a valid action");
    let mut failures = Vec::new();
    let collector = start(dir.path(), &mut failures).await;
    stop(collector, dir.path(), &mut failures).await;
    scenario.teardown();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let report = oculus_store::check(dir.path(), |_, _| {}).expect("check");
    assert!(report.is_healthy(), "{:?}", report.damage);
    assert!(report.open_tails.is_empty(), "{:?}", report.open_tails);
    assert_eq!(report.blocks, 1);
}

/// Each fsync policy syncs when it says it does: counted at the store's sync points,
/// so a policy that silently never syncs fails here.
#[tokio::test]
async fn each_fsync_policy_syncs_when_it_promises() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    for policy in [FsyncPolicy::Never, FsyncPolicy::OnSeal, FsyncPolicy::Always] {
        let scenario = fail::FailScenario::setup();
        let file_syncs = Arc::new(AtomicUsize::new(0));
        let dir_syncs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&file_syncs);
        fail::cfg_callback("segment::sync", move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .expect("a callback");
        let counter = Arc::clone(&dir_syncs);
        fail::cfg_callback("dir::sync", move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .expect("a callback");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config(dir.path());
        config.writer.fsync = policy;
        let collector = Collector::start(config).await.expect("starts");
        let mut failures = Vec::new();
        let acked = export_all(&collector, &mut failures).await;
        collector.shutdown().await.expect("seals");
        scenario.teardown();
        assert!(failures.is_empty(), "{failures:?}");
        let segments = resolve(dir.path()).expect("resolve").segments.len();
        assert!(segments > 2, "{segments} segments: too few to tell");
        let (file_syncs, dir_syncs) = (
            file_syncs.load(Ordering::SeqCst),
            dir_syncs.load(Ordering::SeqCst),
        );
        let context = format!(
            "{policy:?}: {file_syncs} file and {dir_syncs} directory syncs, {segments} segments"
        );
        match policy {
            FsyncPolicy::Never => assert_eq!((file_syncs, dir_syncs), (0, 0), "{context}"),
            // One per seal, of the segment and of its directory entry; no append waits.
            FsyncPolicy::OnSeal => {
                assert_eq!(file_syncs, segments, "{context}");
                assert!(dir_syncs >= segments, "{context}");
            }
            // Every acknowledged request waited for its sync, and every new segment's
            // name was synced too.
            FsyncPolicy::Always => {
                let requests = acked.len() / RECORDS_PER_REQUEST as usize;
                assert!(file_syncs >= requests + segments, "{context}");
                assert!(dir_syncs >= 2 * segments, "{context}");
            }
        }
    }
}

/// A writer that falls behind (here: held inside its write) fills its byte budget and
/// then refuses; once it has written, it frees the budget by itself.
#[test]
fn a_writer_that_falls_behind_refuses_until_it_has_written() {
    use oculus_collector::writer::{SubmitError, spawn};
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().expect("tempdir");
    let (session, _) =
        oculus_store::SessionWriter::open(dir.path(), oculus_store::WriterOptions::default())
            .expect("a data directory");
    let block =
        || oculus_store::encode_block(&oculus_store::proto::Block::default(), 3).expect("encodes");
    let frame_bytes = block().frame.len() as u64;
    let (handle, thread) = spawn(session, 4 * frame_bytes).expect("the writer starts");
    fail::cfg("segment::append", "pause").expect("a valid action");
    let acks: Vec<_> = (0..4)
        .map(|_| handle.submit(block()).expect("fits the budget"))
        .collect();
    assert_eq!(handle.submit(block()).err(), Some(SubmitError::Overloaded));
    fail::remove("segment::append");
    for ack in acks {
        ack.blocking_recv()
            .expect("answered")
            .expect("written once the writer goes on");
    }
    let ack = handle.submit(block()).expect("the writer freed its budget");
    ack.blocking_recv().expect("answered").expect("written");
    drop(handle);
    thread.join().expect("joined").expect("seals");
    scenario.teardown();
}

#[tokio::test]
async fn an_archive_whose_write_fails_anywhere_leaves_the_target_as_it_was() {
    // Held throughout: the session written first passes the sync points that other
    // scenarios count.
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let collector = start(dir.path(), &mut failures).await;
    export_all(&collector, &mut failures).await;
    stop(collector, dir.path(), &mut failures).await;
    let sessions = oculus_store::sessions(dir.path()).expect("sessions");
    let continue_ = |_, _| std::ops::ControlFlow::Continue(());
    for point in [
        "archive::create",
        "archive::write",
        "archive::sync",
        "archive::rename",
    ] {
        let out = tempfile::tempdir().expect("tempdir");
        let target = out.path().join("run.oculus");
        std::fs::write(&target, "an older archive").expect("writable");
        fail::cfg(point, "1*return").expect("a valid action");
        let written = oculus_store::write_archive(&sessions, &target, continue_);
        fail::remove(point);
        let error = written.expect_err(point);
        assert!(
            error.to_string().contains("injected failure"),
            "{point}: {error}"
        );
        assert_eq!(
            std::fs::read_to_string(&target).expect("readable"),
            "an older archive",
            "{point}"
        );
        let left = std::fs::read_dir(out.path()).expect("listable").count();
        assert_eq!(left, 1, "{point}: a partial file was left");
    }
    // Flushing the directory fails after the rename: the archive is whole, and the
    // failure is still reported, as its name may not survive a power loss.
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("run.oculus");
    fail::cfg("dir::sync", "1*return").expect("a valid action");
    let written = oculus_store::write_archive(&sessions, &target, continue_);
    scenario.teardown();
    assert!(written.is_err());
    let report = oculus_store::check(&target, |_, _| {}).expect("check");
    assert!(report.is_healthy(), "{:?}", report.damage);
    assert_eq!(report.logs, REQUESTS * RECORDS_PER_REQUEST);
}
