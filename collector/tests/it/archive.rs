//! `archive`, `sessions` and `rm` through the shipped binary, and `check` / `export`
//! reading an archive as they read the session it holds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

use crate::disk_full::Tmpfs;
use crate::{Running, log, logs_request, metrics_request, span, start_with, traces_request};

/// Runs the shipped binary with `args`, failing the test if it panicked.
fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
        .args(args)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A collector that received spans, log records and metric points in several
/// segments, still running.
async fn session_with_every_signal(max_segment_bytes: u64, requests: u64) -> Running {
    let running = start_with(|config| config.writer.max_segment_bytes = max_segment_bytes).await;
    let mut logs = LogsServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    let mut traces = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    let mut metrics = MetricsServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    for request in 0..requests {
        let records = (0..5).map(|i| log(request * 5 + i)).collect();
        logs.export(logs_request(records)).await.expect("accepted");
        let spans = (0..3).map(|i| span(request * 3 + i)).collect();
        traces
            .export(traces_request(spans))
            .await
            .expect("accepted");
    }
    metrics.export(metrics_request(4)).await.expect("accepted");
    running
}

fn only_session(root: &Path) -> PathBuf {
    let sessions = oculus_store::sessions(root).expect("sessions");
    assert_eq!(sessions.len(), 1);
    sessions[0].path.clone()
}

#[tokio::test]
async fn an_archive_checks_and_exports_the_same_records_as_its_session() {
    let running = session_with_every_signal(2000, 6).await;
    let root = running.dir.path().to_path_buf();
    let session = only_session(&root);
    let out = tempfile::tempdir().expect("tempdir");
    let archive = out.path().join("run.oculus");

    // Archived while the collector still writes it: what was acknowledged so far.
    let archived = run([
        "archive".as_ref(),
        session.as_os_str(),
        "-o".as_ref(),
        archive.as_os_str(),
    ]);
    assert!(archived.status.success(), "{}", text(&archived.stderr));
    let stdout = text(&archived.stdout);
    assert!(
        stdout.contains("1 session, ")
            && stdout.contains("18 spans")
            && stdout.contains("30 log records"),
        "{stdout}"
    );
    // The services of the sealed segments come from their indexes, which the collector
    // filled from the resources it wrote.
    let sealed = oculus_store::sessions(&root).expect("sessions")[0]
        .segments()
        .expect("segments");
    let first = oculus_store::segment::read_index(&sealed[0])
        .expect("readable")
        .expect("sealed");
    assert!(first.has_services);
    assert!(first.blocks.iter().all(|b| b.services == ["checkout"]));
    let manifest = oculus_store::Archive::open(&archive)
        .expect("opens")
        .manifest;
    assert_eq!(manifest.totals.services, ["checkout"]);
    let collector = running.collector;
    collector.shutdown().await.expect("clean shutdown");

    let check = run(["check".as_ref(), archive.as_os_str()]);
    let report = text(&check.stdout);
    assert!(check.status.success(), "{report}");
    assert!(report.contains("spans             18\n"), "{report}");
    assert!(report.contains("log records       30\n"), "{report}");
    assert!(report.contains("metric points     4\n"), "{report}");
    assert!(report.contains("status            ok"), "{report}");

    for signal in ["traces", "logs", "metrics"] {
        let export = |path: &Path| {
            let output = run([
                "export".as_ref(),
                "--signal".as_ref(),
                signal.as_ref(),
                path.as_os_str(),
            ]);
            assert!(output.status.success(), "{}", text(&output.stderr));
            output.stdout
        };
        let from_session = export(&session);
        assert!(!from_session.is_empty());
        assert_eq!(export(&archive), from_session, "{signal}");
    }
    drop(running.dir);
}

#[tokio::test]
async fn damage_inside_an_archive_is_named_by_the_archive_and_its_offset() {
    let running = session_with_every_signal(2000, 4).await;
    running.collector.shutdown().await.expect("clean shutdown");
    let session = only_session(running.dir.path());
    let out = tempfile::tempdir().expect("tempdir");
    let archive = out.path().join("run.oculus");
    let archived = run([
        "archive".as_ref(),
        session.as_os_str(),
        "-o".as_ref(),
        archive.as_os_str(),
    ]);
    assert!(archived.status.success(), "{}", text(&archived.stderr));

    let manifest = oculus_store::Archive::open(&archive)
        .expect("opens")
        .manifest;
    let segment = &manifest.sessions[0].segments[0];
    let index = oculus_store::segment::read_index(&session.join(&segment.name))
        .expect("readable")
        .expect("sealed");
    let block = &index.blocks[0];
    let at = segment.offset + block.offset + u64::from(block.frame_bytes) / 2;
    let mut bytes = std::fs::read(&archive).expect("readable");
    bytes[at as usize] ^= 0x10;
    std::fs::write(&archive, &bytes).expect("writable");

    let named = format!(
        "{} at byte {}",
        archive.display(),
        segment.offset + block.offset
    );
    let check = run(["check".as_ref(), archive.as_os_str()]);
    assert!(!check.status.success());
    assert!(
        text(&check.stdout).contains(&named),
        "{}",
        text(&check.stdout)
    );
    let export = run([
        "export".as_ref(),
        "--signal".as_ref(),
        "logs".as_ref(),
        archive.as_os_str(),
    ]);
    assert!(!export.status.success());
    assert!(
        text(&export.stderr).contains(&named),
        "{}",
        text(&export.stderr)
    );
    // The other blocks are still exported.
    assert!(!export.stdout.is_empty());
}

#[tokio::test]
async fn sessions_lists_runs_and_rm_refuses_the_active_one() {
    let first = session_with_every_signal(1 << 20, 2).await;
    let root = first.dir.path().to_path_buf();
    first.collector.shutdown().await.expect("clean shutdown");
    let ended = only_session(&root);
    let ended_name = ended
        .file_name()
        .expect("named")
        .to_string_lossy()
        .into_owned();
    // A second run in the same data directory, still running: the active session.
    let config = {
        let loopback = "127.0.0.1:0".parse().expect("address");
        oculus_collector::Config::new(loopback, loopback, root.clone())
    };
    let second = oculus_collector::Collector::start(config)
        .await
        .expect("starts");
    let active = second.session().to_path_buf();
    let active_name = active
        .file_name()
        .expect("named")
        .to_string_lossy()
        .into_owned();

    let listed = run(["sessions".as_ref(), "--data-dir".as_ref(), root.as_os_str()]);
    let table = text(&listed.stdout);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("NAME"), "{table}");
    for column in [
        "START",
        "DURATION",
        "SERVICES",
        "SPANS",
        "LOGS",
        "METRIC POINTS",
        "SIZE",
    ] {
        assert!(lines[0].contains(column), "{table}");
    }
    let ended_row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(ended_row[0], ended_name, "{table}");
    assert!(ended_row.contains(&"checkout"), "{table}");
    // 6 spans, 10 log records, 4 metric points.
    assert!(
        lines[1].contains(" 6 ") && lines[1].contains(" 10 ") && lines[1].contains(" 4 "),
        "{table}"
    );
    assert!(!lines[1].contains("(active)"), "{table}");
    assert!(
        lines[2].starts_with(&format!("{active_name} (active)")),
        "{table}"
    );

    let refused = run([
        "rm".as_ref(),
        "--data-dir".as_ref(),
        root.as_os_str(),
        ended_name.as_ref(),
        active_name.as_ref(),
    ]);
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("is the session the running collector writes")
            && stderr.contains(&active_name),
        "{stderr}"
    );
    assert!(ended.is_dir() && active.is_dir(), "nothing removed");
    // By its path too.
    let refused = run(["rm".as_ref(), active.as_os_str()]);
    assert!(!refused.status.success());

    let not_a_session = tempfile::tempdir().expect("tempdir");
    let refused = run(["rm".as_ref(), not_a_session.path().as_os_str()]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("is not a session"),
        "{}",
        text(&refused.stderr)
    );
    assert!(not_a_session.path().is_dir());

    let unknown = run(["rm", "--data-dir", &root.to_string_lossy(), "no-such-run"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("no-such-run: no such session"),
        "{}",
        text(&unknown.stderr)
    );

    let removed = run([
        "rm".as_ref(),
        "--data-dir".as_ref(),
        root.as_os_str(),
        ended_name.as_ref(),
    ]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    assert!(!ended.exists());
    second.shutdown().await.expect("clean shutdown");
    // Once its collector stopped, the last session can go too.
    let removed = run([
        "rm".as_ref(),
        "--data-dir".as_ref(),
        root.as_os_str(),
        active_name.as_ref(),
    ]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    assert!(oculus_store::sessions(&root).expect("sessions").is_empty());
}

#[tokio::test]
async fn archiving_to_a_full_disk_fails_and_leaves_no_archive() {
    let running = session_with_every_signal(1 << 20, 40).await;
    running.collector.shutdown().await.expect("clean shutdown");
    let session = only_session(running.dir.path());
    let disk_bytes = 8 << 10;
    let session_bytes: u64 = oculus_store::Session {
        path: session.clone(),
    }
    .segments()
    .expect("listable")
    .iter()
    .map(|path| std::fs::metadata(path).expect("exists").len())
    .sum();
    assert!(
        session_bytes > disk_bytes,
        "{session_bytes} bytes fit on the disk"
    );
    let disk = Tmpfs::mount(disk_bytes);
    let target = disk.path.join("run.oculus");
    let archived = run([
        "archive".as_ref(),
        session.as_os_str(),
        "-o".as_ref(),
        target.as_os_str(),
    ]);
    assert!(!archived.status.success());
    let stderr = text(&archived.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&disk.path)
        .expect("listable")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn an_archive_cut_short_is_reported_and_every_record_still_exported() {
    let running = session_with_every_signal(2000, 4).await;
    running.collector.shutdown().await.expect("clean shutdown");
    let session = only_session(running.dir.path());
    let out = tempfile::tempdir().expect("tempdir");
    let archive = out.path().join("run.oculus");
    let archived = run([
        "archive".as_ref(),
        session.as_os_str(),
        "-o".as_ref(),
        archive.as_os_str(),
    ]);
    assert!(archived.status.success(), "{}", text(&archived.stderr));
    // A copy that stopped 10 bytes short of the end: the footer is gone.
    let bytes = std::fs::read(&archive).expect("readable");
    std::fs::write(&archive, &bytes[..bytes.len() - 10]).expect("writable");
    let footer_at = bytes.len() - 10 - 32;
    let named = format!(
        "{} at byte {footer_at}: archive footer is damaged",
        archive.display()
    );

    let check = run(["check".as_ref(), archive.as_os_str()]);
    let report = text(&check.stdout);
    assert!(!check.status.success(), "{report}");
    assert!(report.contains(&named), "{report}");
    assert!(report.contains("log records       20\n"), "{report}");
    let export = |path: &Path| {
        run([
            "export".as_ref(),
            "--signal".as_ref(),
            "logs".as_ref(),
            path.as_os_str(),
        ])
    };
    let from_archive = export(&archive);
    assert!(!from_archive.status.success());
    assert!(
        text(&from_archive.stderr).contains(&named),
        "{}",
        text(&from_archive.stderr)
    );
    assert_eq!(from_archive.stdout, export(&session).stdout);
}

#[test]
fn ctrl_c_while_archiving_leaves_no_archive_and_no_partial_file() {
    let data = tempfile::tempdir().expect("tempdir");
    // A large segment of many small blocks: archiving it takes long enough to interrupt.
    let segment = oculus_store::testing::crashed_run(data.path(), 24 << 20);
    let session = segment.parent().expect("in its session").to_path_buf();
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("run.oculus");
    let child = Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
        .arg("archive")
        .arg(&session)
        .arg("-o")
        .arg(&target)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // The partial file appears once the write has begun.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(out.path()).expect("listable").count() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the archive never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let output = child.wait_with_output().expect("exits");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopped before the archive was complete"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(out.path())
        .expect("listable")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
