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
    for command in ["serve", "export", "import", "check"] {
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

#[test]
fn a_stop_during_start_up_recovery_ends_cleanly() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let segment = oculus_store::testing::crashed_run(dir.path(), 48 << 20);
    let serve = collector()
        .args(["serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    // The lock names the collector once it is taken; recovery runs right after.
    let lock = dir.path().join(oculus_store::datadir::LOCK_FILE);
    let holder = format!("pid {}", serve.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&lock).is_ok_and(|text| text.trim() == holder) {
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

/// A running `oculus-collector serve` and what it logged up to "receiving OTLP".
struct Serving {
    child: std::process::Child,
    start_log: String,
    stderr: std::io::BufReader<std::process::ChildStderr>,
}

impl Serving {
    /// Starts `command` (a `serve`) and waits for it to say where it listens.
    fn start(mut command: Command) -> Self {
        use std::io::BufRead;
        let mut child = command
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starts");
        let mut stderr = std::io::BufReader::new(child.stderr.take().expect("piped"));
        let mut start_log = String::new();
        while !start_log.contains("receiving OTLP") {
            let read = stderr.read_line(&mut start_log).expect("readable");
            assert!(read > 0, "exited before serving: {start_log}");
        }
        Self {
            child,
            start_log,
            stderr,
        }
    }

    /// The address logged as `name=ADDR`.
    fn addr(&self, name: &str) -> std::net::SocketAddr {
        let key = format!("{name}=");
        self.start_log
            .split_whitespace()
            .find_map(|word| word.strip_prefix(&key))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no {name} address in {}", self.start_log))
    }

    /// SIGTERM; returns the exit code and the whole log.
    fn terminate(mut self) -> (Option<i32>, String) {
        use std::io::Read;
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(kill.expect("kill runs").success());
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).expect("readable");
        let status = self.child.wait().expect("exits");
        (status.code(), std::mem::take(&mut self.start_log) + &rest)
    }
}

impl Drop for Serving {
    /// A test that fails early leaves no collector behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `command` run in a network namespace of its own: the default ports are free there,
/// and nothing it listens on is reachable from anywhere else.
fn in_own_network(command: &Command) -> Command {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0);
    let mut isolated = Command::new("unshare");
    isolated.arg(if root { "-n" } else { "-rn" });
    isolated.arg(command.get_program()).args(command.get_args());
    isolated
}

#[test]
fn serve_listens_on_loopback_unless_told_and_warns_when_it_is() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut default = collector();
    default.arg("serve").arg("--data-dir").arg(dir.path());
    let serving = Serving::start(in_own_network(&default));
    assert_eq!(serving.addr("grpc").to_string(), "127.0.0.1:4317");
    assert_eq!(serving.addr("http").to_string(), "127.0.0.1:4318");
    assert!(!serving.start_log.contains("WARN"), "{}", serving.start_log);
    let (code, log) = serving.terminate();
    assert_eq!(code, Some(0), "{log}");

    let mut all = collector();
    all.args(["serve", "--listen-all", "--data-dir"])
        .arg(dir.path());
    let serving = Serving::start(in_own_network(&all));
    assert_eq!(serving.addr("grpc").to_string(), "0.0.0.0:4317");
    assert!(
        serving.start_log.contains(
            "listening on all interfaces: anyone who can reach this machine can send data"
        ),
        "{}",
        serving.start_log
    );
    let (code, log) = serving.terminate();
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test]
async fn sigterm_stops_serve_after_sealing_everything_it_acknowledged() {
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
    let dir = tempfile::tempdir().expect("a temporary directory");
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
        .arg(dir.path());
    let serving = Serving::start(command);
    let mut client = LogsServiceClient::connect(format!("http://{}", serving.addr("grpc")))
        .await
        .expect("connect");
    let records = (0..5).map(crate::log).collect();
    client
        .export(crate::logs_request(records))
        .await
        .expect("accepted");
    let (code, log) = tokio::task::spawn_blocking(move || serving.terminate())
        .await
        .expect("joined");
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopped; session sealed"), "{log}");
    let session = &oculus_store::sessions(dir.path()).expect("listed")[0];
    assert!(session.is_closed(), "the session did not record its end");
    let logs: usize = crate::read_blocks(dir.path())
        .iter()
        .map(|b| b.logs.len())
        .sum();
    assert_eq!(logs, 5);
    for segment in session.segments().expect("listed") {
        assert!(oculus_store::segment::is_sealed(&segment).expect("readable"));
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
