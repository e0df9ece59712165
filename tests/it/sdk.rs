//! What the other languages' tests share (`sdk_python.rs`, `sdk_javascript.rs`): the
//! shipped `oculus-collector` on ephemeral loopback ports, an SDK program from
//! `tests/sdk/` that sends over gRPC, HTTP/protobuf and HTTP/JSON (each plain and
//! gzipped) and prints what its SDK
//! recorded, `oculus-collector export` of both signals, and the comparison.
//! The comparison is in `sdk_records.rs`, what the programs send in `sdk_workload.rs`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::layout::repo_root;
use crate::sdk_records::{Records, assert_same_records};
use crate::sdk_workload::{self, assert_order_workload};

/// The OTLP transports every SDK program sends over, as its service names end.
pub const TRANSPORTS: [&str; 6] = [
    "grpc",
    "grpc-gzip",
    "http-protobuf",
    "http-protobuf-gzip",
    "http-json",
    "http-json-gzip",
];

/// How long an SDK program, a collector start or stop, or an export may take.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(120);

/// The `oculus-collector` binary, built once per test process. This crate only links
/// the collector's library, so cargo gives its tests no `CARGO_BIN_EXE_` for it.
fn collector_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--message-format=json"])
            .args(["-p", "oculus-collector", "--bin", "oculus-collector"])
            .current_dir(repo_root())
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "cargo build of oculus-collector failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|message| message["target"]["name"] == "oculus-collector")
            .and_then(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the oculus-collector executable")
    })
}

/// A process's exit status and everything it printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to its end, killing it past `PROCESS_TIMEOUT` (an exporter that
/// retries forever must fail the test, not hang it).
pub fn run(command: &mut Command) -> Finished {
    let described = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {described}: {e}"));
    let stdout = read_to_end("stdout", child.stdout.take().expect("piped stdout"));
    let stderr = read_to_end("stderr", child.stderr.take().expect("piped stderr"));
    let status = wait(&mut child, &described);
    Finished {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn read_to_end(
    name: &str,
    mut pipe: impl Read + Send + 'static,
) -> std::thread::JoinHandle<String> {
    std::thread::Builder::new()
        .name(format!("child {name}"))
        .spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text)
                .expect("read a child's output");
            text
        })
        .expect("spawn a reader thread")
}

fn wait(child: &mut Child, described: &str) -> ExitStatus {
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().expect("kill a child that timed out");
            panic!("{described} did not finish within {PROCESS_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shipped collector serving on ephemeral loopback ports into a temporary data
/// directory.
pub struct CollectorProcess {
    child: Child,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    data_dir: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

impl CollectorProcess {
    pub fn start() -> Self {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(collector_binary())
            .args(["serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("oculus-collector starts");
        // The log names the ports it bound; it is kept whole for the failure messages.
        let log = Arc::new(Mutex::new(String::new()));
        let (bound, addresses) = mpsc::sync_channel(1);
        let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let kept = Arc::clone(&log);
        let reader = std::thread::Builder::new().name("collector log".into());
        let spawned = reader.spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if line.contains("receiving OTLP") {
                    let _ = bound.send((address(&line, "grpc="), address(&line, "http=")));
                }
                let mut log = kept.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        spawned.expect("spawn the collector log reader");
        let Ok((grpc, http)) = addresses.recv_timeout(PROCESS_TIMEOUT) else {
            let _ = child.kill();
            panic!(
                "oculus-collector did not say where it listens:\n{}",
                log.lock().expect("log lock")
            );
        };
        Self {
            child,
            grpc,
            http,
            data_dir,
            log,
        }
    }

    /// Stops the collector as a user does (SIGTERM), which seals its session, and checks
    /// that it exited cleanly.
    pub fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "kill -TERM {pid} failed (procps installs kill)"
        );
        let status = wait(&mut self.child, "oculus-collector serve");
        assert!(
            status.success(),
            "collector exited with {status}:\n{}",
            self.log()
        );
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// `oculus-collector export --signal SIGNAL` of the data directory, one OTLP JSON
    /// document per line.
    pub fn export(&self, signal: &str) -> Vec<String> {
        let finished = run(Command::new(collector_binary())
            .args(["export", "--signal", signal])
            .arg(self.data_dir.path()));
        assert!(
            finished.status.success(),
            "export --signal {signal} exited with {}:\n{}",
            finished.status,
            finished.stderr
        );
        finished.stdout.lines().map(str::to_owned).collect()
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        // A test that failed before `stop` leaves no collector behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn address(line: &str, key: &str) -> SocketAddr {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(key))
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no {key} address in {line:?}"))
}

/// Runs an SDK program against a fresh collector and checks, for each transport, that
/// what its SDK recorded is what `export` gives back. `language` names the services
/// (`sdk-{language}-{transport}`).
pub fn check_sdk(language: &str, program: &mut Command) {
    let mut collector = CollectorProcess::start();
    let finished = run(program
        .arg(collector.grpc.to_string())
        .arg(collector.http.to_string()));
    assert!(
        finished.status.success(),
        "the {language} SDK program exited with {}:\n{}",
        finished.status,
        finished.stderr
    );
    let sent = Records::from_program(&finished.stdout);
    collector.stop();
    let (traces, logs) = (collector.export("traces"), collector.export("logs"));
    // Ids are written as OTLP JSON has them (lower-case hex), not only read back alike.
    for span in &sent.spans {
        let id = format!("\"spanId\":\"{}\"", span["span_id"].as_str().unwrap_or("?"));
        assert!(
            traces.iter().any(|line| line.contains(&id)),
            "no {id} in the export"
        );
    }
    let exported = Records::from_export(&traces, &logs);
    let log = collector.log();

    for transport in TRANSPORTS {
        let service = format!("sdk-{language}-{transport}");
        let sent = sent.of_service(&service);
        let exported = exported.of_service(&service);
        let context = format!("{service} (SDK program's stderr:\n{})", finished.stderr);
        assert_same_records(
            &format!("{context}: spans"),
            &sent.spans,
            &exported.spans,
            &log,
        );
        assert_same_records(
            &format!("{context}: logs"),
            &sent.logs,
            &exported.logs,
            &log,
        );
        assert_order_workload(&service, &exported);
    }
    assert_eq!(
        (exported.spans.len(), exported.logs.len()),
        (
            sdk_workload::SPANS * TRANSPORTS.len(),
            sdk_workload::LOGS * TRANSPORTS.len()
        ),
        "nothing beyond the three services arrived"
    );
}
