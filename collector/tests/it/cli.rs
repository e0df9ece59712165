//! The command line as a user meets it.

use std::process::Command;

use crate::start;

fn collector() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
}

/// Runs `command`, which must fail and say `message` on stderr.
#[track_caller]
fn assert_fails_saying(command: &mut Command, message: &str) {
    let output = command.output().expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(message), "{stderr}");
}

#[tokio::test]
async fn a_second_collector_on_the_same_directory_says_who_holds_it() {
    let running = start().await;
    let mut command = collector();
    command
        .args([
            "serve",
            "--grpc",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(running.dir.path());
    let expected = format!(
        "is in use by another collector (pid {})",
        std::process::id()
    );
    assert_fails_saying(&mut command, &expected);
    running.finish().await;
}

#[test]
fn help_documents_every_command() {
    let output = collector().arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "export", "check"] {
        assert!(help.contains(command), "{help}");
    }
    let output = collector()
        .args(["serve", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--grpc",
        "--http",
        "--data-dir",
        "--listen-all",
        "--fsync",
        "--max-total-bytes",
    ] {
        assert!(help.contains(flag), "{help}");
    }
}

#[test]
fn check_fails_on_a_path_without_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_fails_saying(
        collector().arg("check").arg(dir.path()),
        "is not a data directory, session or segment",
    );
}

#[test]
fn a_budget_smaller_than_the_largest_request_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = collector();
    command
        .args(["serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args([
            "--max-inflight-bytes",
            "1000",
            "--max-message-bytes",
            "2000",
            "--data-dir",
        ])
        .arg(dir.path());
    assert_fails_saying(&mut command, "smaller than the largest request");
}

/// A sealed segment of three blocks, written by the store as the collector writes.
fn sealed_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let (mut writer, _) =
        oculus_store::SessionWriter::open(dir, oculus_store::WriterOptions::default())
            .expect("a data directory");
    for _ in 0..3 {
        let block =
            oculus_store::encode_block(&oculus_store::proto::Block::default(), 3).expect("encodes");
        writer.append(&[block]).expect("appends");
    }
    writer.close().expect("seals").expect("a segment").path
}

/// Where in a segment to flip a bit, given the segment.
type DamagedByte = fn(&std::path::Path) -> u64;

/// Damage that yields no block to the scan (a header, an index, the last block of a
/// sealed segment) is still damage: `export` names the file and offset and fails.
#[test]
fn export_fails_naming_every_damaged_range() {
    let cases: [(&str, DamagedByte); 3] = [
        ("the header's creation time", |_| 20),
        ("the last block", |segment| {
            let index = oculus_store::segment::read_index(segment)
                .expect("readable")
                .expect("sealed");
            index.blocks.last().expect("blocks").offset + 21
        }),
        ("the index", |segment| {
            let index = oculus_store::segment::read_index(segment)
                .expect("readable")
                .expect("sealed");
            let last = index.blocks.last().expect("blocks");
            last.offset + u64::from(last.frame_bytes) + 21
        }),
    ];
    for (what, byte) in cases {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let segment = sealed_segment(dir.path());
        let mut bytes = std::fs::read(&segment).expect("readable");
        let at = usize::try_from(byte(&segment)).expect("in memory");
        bytes[at] ^= 0x10;
        std::fs::write(&segment, bytes).expect("writable");

        let output = collector()
            .args(["export", "--signal", "logs"])
            .arg(dir.path())
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{what}: {stderr}");
        assert!(
            stderr.contains(&format!("{} at byte", segment.display())),
            "{what}: {stderr}"
        );
        assert!(
            stderr.contains("damaged ranges in the input"),
            "{what}: {stderr}"
        );
    }
}

/// A data directory whose run crashed with a large active segment: recovering it takes
/// a while, long enough to send a signal in the middle.
fn crashed_run_with_a_long_recovery(dir: &std::path::Path) -> std::path::PathBuf {
    let (mut writer, _) =
        oculus_store::SessionWriter::open(dir, oculus_store::WriterOptions::default())
            .expect("a data directory");
    let block =
        oculus_store::encode_block(&oculus_store::proto::Block::default(), 3).expect("encodes");
    writer.append(&[block]).expect("appends");
    let segment = writer.session().path.join("segment-00000001.oseg");
    drop(writer);
    // Frames hold no offsets: the one block's frame, repeated, is a valid segment.
    let bytes = std::fs::read(&segment).expect("readable");
    let frame = &bytes[oculus_store::frame::HEADER_LEN..];
    let mut grown = bytes.clone();
    while grown.len() < 48 << 20 {
        grown.extend_from_slice(frame);
    }
    std::fs::write(&segment, grown).expect("writable");
    segment
}

#[test]
fn a_stop_during_start_up_recovery_ends_cleanly() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let segment = crashed_run_with_a_long_recovery(dir.path());
    let serve = collector()
        .args(["serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    // The lock names the collector once it is taken; recovery runs right after.
    let lock = dir.path().join(oculus_store::datadir::LOCK_FILE);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&lock).is_ok_and(|text| text.contains("pid")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the lock was never taken"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(
        !oculus_store::segment::is_sealed(&segment).expect("readable"),
        "recovery finished before the signal could be sent; grow the segment"
    );
    let status = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = serve.wait_with_output().expect("exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped during start-up"), "{stderr}");
    // The recovery it was in finished before the process ended: nothing half done.
    assert!(
        oculus_store::segment::is_sealed(&segment).expect("readable"),
        "{stderr}"
    );
    let check = collector()
        .arg("check")
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
