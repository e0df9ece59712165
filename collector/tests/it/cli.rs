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
        "--header-read-timeout-secs",
        "--body-timeout-secs",
        "--idle-timeout-secs",
        "--max-connections",
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

/// The soft and hard open-files limits of a process, from `/proc/<pid>/limits`.
fn open_files_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("an open-files line");
    let mut fields = line["Max open files".len()..].split_whitespace();
    let soft = fields.next().expect("soft").to_owned();
    let hard = fields.next().expect("hard").to_owned();
    (soft, hard)
}

/// Idle clients past the usual soft limit of 1,024 open files must not stop new ones
/// from connecting: serving raises the soft limit to the hard one, as Go servers do.
#[test]
fn serve_raises_the_open_files_limit_to_the_hard_limit() {
    use std::io::BufRead;
    let (_, hard) = open_files_limits(std::process::id());
    assert!(
        hard == "unlimited" || hard.parse::<u64>().is_ok_and(|hard| hard > 256),
        "the hard limit ({hard}) leaves nothing to raise"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -Sn 256 && exec "$0" serve --grpc 127.0.0.1:0 --http 127.0.0.1:0 --data-dir "$1""#)
        .arg(env!("CARGO_BIN_EXE_oculus-collector"))
        .arg(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let stderr = child.stderr.take().expect("stderr");
    let mut serving = false;
    for line in std::io::BufReader::new(stderr).lines() {
        if line.expect("log line").contains("receiving OTLP") {
            serving = true;
            break;
        }
    }
    let limits = open_files_limits(child.id());
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert!(serving, "the collector did not start");
    assert_eq!(limits.0, limits.1, "soft limit not raised: {limits:?}");
}
