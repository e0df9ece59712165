//! The shipped `check` and `export` on damaged data: segments truncated at every offset,
//! bits flipped in every header and footer bit and at random, ranges zeroed. Whatever
//! the damage: no panic, no hang, a non-zero exit with a message naming the file and an
//! offset, and nothing lost beyond the frames the damage touched.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use oculus_store::frame::{FOOTER_LEN, HEADER_LEN};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use crate::{log, logs_request, start_with};

/// Log records per request; each request becomes one block.
const LOGS_PER_BLOCK: u64 = 3;

/// One sealed segment of the recorded session, as written.
struct Layout {
    path: PathBuf,
    bytes: Vec<u8>,
    /// Each block's frame and its log records.
    blocks: Vec<(Range<u64>, u64)>,
}

impl Layout {
    fn of(path: PathBuf) -> Self {
        let bytes = std::fs::read(&path).expect("readable");
        let index = oculus_store::segment::read_index(&path)
            .expect("readable")
            .expect("sealed");
        let blocks = index
            .blocks
            .iter()
            .map(|b| {
                (
                    b.offset..b.offset + u64::from(b.frame_bytes),
                    u64::from(b.logs),
                )
            })
            .collect();
        Self {
            path,
            bytes,
            blocks,
        }
    }

    fn logs(&self) -> u64 {
        self.blocks.iter().map(|(_, logs)| logs).sum()
    }

    /// The log records in frames that `damaged` leaves whole.
    fn logs_outside(&self, damaged: &Range<u64>) -> u64 {
        self.blocks
            .iter()
            .filter(|(frame, _)| frame.end <= damaged.start || damaged.end <= frame.start)
            .map(|(_, logs)| logs)
            .sum()
    }

    fn footer(&self) -> Range<u64> {
        let len = self.bytes.len() as u64;
        len - FOOTER_LEN as u64..len
    }
}

/// A session a real collector wrote from real OTLP requests, stopped cleanly, in
/// several segments of several blocks each.
async fn recorded_session() -> (tempfile::TempDir, Vec<Layout>) {
    let running = start_with(|config| config.writer.max_segment_bytes = 600).await;
    let mut client = LogsServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    for request in 0..8 {
        let records = (0..LOGS_PER_BLOCK)
            .map(|i| log(request * LOGS_PER_BLOCK + i))
            .collect();
        client
            .export(logs_request(records))
            .await
            .expect("accepted");
    }
    let session = running.collector.session().to_path_buf();
    running.collector.shutdown().await.expect("clean shutdown");
    let segments: Vec<Layout> = oculus_store::Session { path: session }
        .segments()
        .expect("listed")
        .into_iter()
        .map(Layout::of)
        .collect();
    assert!(
        segments.len() >= 2,
        "{:?}",
        segments
            .iter()
            .map(|s| (s.bytes.len(), s.blocks.len()))
            .collect::<Vec<_>>()
    );
    assert!(segments[0].blocks.len() >= 2, "{:?}", segments[0].blocks);
    (running.dir, segments)
}

/// Runs the shipped binary and returns its output, failing the test if it panicked.
fn run(args: &[&str], path: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
        .args(args)
        .arg(path)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    output
}

/// Log records in `export --signal logs` output.
fn exported_logs(stdout: &[u8]) -> u64 {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            let data: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let mut logs = 0;
            for resource in data["resourceLogs"].as_array().expect("resourceLogs") {
                for scope in resource["scopeLogs"].as_array().expect("scopeLogs") {
                    logs += scope["logRecords"].as_array().map_or(0, Vec::len) as u64;
                }
            }
            logs
        })
        .sum()
}

/// The session with one segment replaced by `damaged` bytes (the rest as written),
/// through both binaries. `kept_logs` is what must still be read: every record in a
/// frame the damage did not touch.
#[track_caller]
fn check_damaged(root: &Path, all: &[Layout], segment: usize, damaged: &[u8], kept_logs: u64) {
    let what = &all[segment];
    if damaged == what.bytes.as_slice() {
        return;
    }
    std::fs::write(&what.path, damaged).expect("writable");
    let export = run(&["export", "--signal", "logs"], root);
    let check = run(&["check"], root);
    // Restored before asserting, so that a failing case leaves the others intact.
    std::fs::write(&what.path, &what.bytes).expect("writable");
    let total: u64 = all.iter().map(Layout::logs).sum();
    let expected = total - what.logs() + kept_logs;
    let named = format!("{} at byte ", what.path.display());

    let stderr = String::from_utf8_lossy(&export.stderr);
    assert!(!export.status.success(), "export exited 0: {stderr}");
    assert!(stderr.contains(&named), "export: {stderr}");
    assert_eq!(exported_logs(&export.stdout), expected, "export: {stderr}");

    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success(), "check exited 0: {stdout}");
    assert!(
        stdout.contains(&format!("damage            {named}")),
        "check: {stdout}"
    );
    assert!(
        stdout.contains(&format!("log records       {expected}\n")),
        "check: {stdout}"
    );
}

#[tokio::test]
async fn truncation_at_every_offset_is_reported_and_loses_only_what_was_cut() {
    let (dir, segments) = recorded_session().await;
    // The first segment has a successor; the last belongs to a session that recorded
    // its end. Both were sealed, so any cut is damage, never an open tail.
    for segment in [0, segments.len() - 1] {
        let bytes = &segments[segment].bytes;
        for cut in 0..bytes.len() {
            let lost = cut as u64..bytes.len() as u64;
            let kept = segments[segment].logs_outside(&lost);
            check_damaged(dir.path(), &segments, segment, &bytes[..cut], kept);
        }
    }
}

#[tokio::test]
async fn every_header_and_footer_bit_flipped_is_reported_and_loses_no_record() {
    let (dir, segments) = recorded_session().await;
    let layout = &segments[0];
    let footer = layout.footer();
    let bytes = (0..HEADER_LEN as u64).chain(footer.clone());
    for byte in bytes {
        for bit in 0..8 {
            let mut damaged = layout.bytes.clone();
            damaged[byte as usize] ^= 1 << bit;
            let kept = layout.logs();
            check_damaged(dir.path(), &segments, 0, &damaged, kept);
        }
    }
}

/// Damage anywhere: one flipped bit, or a zeroed range.
#[derive(Clone, Debug)]
enum Damage {
    Flip { byte: usize, bit: u8 },
    Zero { start: usize, len: usize },
}

impl Damage {
    fn apply(&self, bytes: &[u8]) -> (Vec<u8>, Range<u64>) {
        let mut damaged = bytes.to_vec();
        match *self {
            Self::Flip { byte, bit } => {
                let byte = byte % bytes.len();
                damaged[byte] ^= 1 << bit;
                (damaged, byte as u64..byte as u64 + 1)
            }
            Self::Zero { start, len } => {
                let start = start % bytes.len();
                let end = (start + len).min(bytes.len());
                damaged[start..end].fill(0);
                (damaged, start as u64..end as u64)
            }
        }
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(byte, bit)| Damage::Flip { byte, bit }),
        (any::<usize>(), 1usize..300).prop_map(|(start, len)| Damage::Zero { start, len }),
    ]
}

#[tokio::test]
async fn random_flips_and_zeroed_ranges_lose_only_the_frames_they_touch() {
    let (dir, segments) = recorded_session().await;
    let mut runner = TestRunner::new(ProptestConfig::with_cases(96));
    runner
        .run(&(0..segments.len(), damage()), |(segment, damage)| {
            let layout = &segments[segment];
            let (damaged, range) = damage.apply(&layout.bytes);
            check_damaged(
                dir.path(),
                &segments,
                segment,
                &damaged,
                layout.logs_outside(&range),
            );
            Ok(())
        })
        .expect("every damage is reported and contained");
}
