//! The real `oculus` binary in a real X window (Xvfb): it collects what the demo
//! service sends, draws it, and seals its session when told to stop.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Xvfb on a free display; returns it and the display name.
fn start_xvfb() -> (Killed, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is installed (apt-get install xvfb)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let display = format!(":{}", line.trim());
    (Killed(child), display)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `check` every few milliseconds until it holds or 20 s have passed.
#[track_caller]
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// egui's link colour (dark theme): only rows with a trace or a source link draw it.
const LINK: [u8; 3] = [90, 170, 255];

/// The distinct pixel values on the screen: one on a blank screen, many in a window.
fn screen_colours(display: &str) -> HashSet<[u8; 3]> {
    let output = Command::new("xwd")
        .args(["-root", "-silent", "-display", display])
        .output()
        .expect("xwd is installed (apt-get install x11-apps)");
    assert!(output.status.success());
    let dump = output.stdout;
    // The pixels are the dump's last width * height * 4 bytes.
    let pixels = &dump[dump.len().saturating_sub(1280 * 800 * 4)..];
    let mut seen = HashSet::new();
    // xwd writes 32-bit pixels as B, G, R, unused on this server.
    for pixel in pixels.chunks_exact(4) {
        seen.insert([pixel[2], pixel[1], pixel[0]]);
    }
    seen
}

/// The `oculus` binary running on `display` over the data directory `data`.
struct Viewer {
    process: Killed,
    /// The line that says who collects: "oculus: collecting on ...".
    status_line: String,
    /// What it logged before that line (the collector's start).
    start_log: String,
    /// Everything it prints after that, once it has exited.
    rest: std::thread::JoinHandle<String>,
}

impl Viewer {
    fn start(data: &std::path::Path, display: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oculus"))
            .arg("--data-dir")
            .arg(data)
            .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut start_log = String::new();
        let status_line = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "{start_log}");
            if line.starts_with("oculus: ") {
                break line;
            }
            start_log.push_str(&line);
        };
        // Keep reading stderr so the viewer never blocks on a full pipe.
        let rest = std::thread::Builder::new()
            .name("viewer-stderr".into())
            .spawn(move || {
                let mut rest = String::new();
                let _ = stderr.read_to_string(&mut rest);
                rest
            })
            .unwrap();
        Self {
            process: Killed(child),
            status_line,
            start_log,
            rest,
        }
    }

    /// "oculus: collecting on 127.0.0.1:PORT (gRPC) and 127.0.0.1:PORT (HTTP)..."
    fn grpc_addr(&self) -> SocketAddr {
        self.status_line
            .split_whitespace()
            .nth(3)
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {:?}", self.status_line))
    }

    /// SIGTERM closes the window; returns how it exited and everything it logged.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.process.0.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the viewer did not exit on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest = self.rest.join().unwrap();
        (status, self.start_log + &self.status_line + &rest)
    }
}

#[test]
fn the_binary_shows_live_data_in_a_window_and_seals_on_sigterm() {
    let (_xvfb, display) = start_xvfb();
    assert_eq!(
        screen_colours(&display).len(),
        1,
        "a blank screen to start with"
    );
    let data = tempfile::tempdir().unwrap();
    let viewer = Viewer::start(data.path(), &display);
    let grpc = viewer.grpc_addr();

    eventually("the window", || screen_colours(&display).len() > 40);
    assert!(
        !screen_colours(&display).contains(&LINK),
        "no rows before data"
    );
    runtime()
        .block_on(demo_service::export_orders(grpc, "smoke-service", 5))
        .unwrap();
    eventually("rows with trace links", || {
        screen_colours(&display).contains(&LINK)
    });

    // The collector seals what it accepted.
    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
    let resolved = oculus_store::resolve(data.path()).unwrap();
    assert_eq!(resolved.sessions.len(), 1);
    assert!(!resolved.segments.is_empty());
    for segment in resolved.segment_paths() {
        assert!(
            oculus_store::segment::is_sealed(segment).unwrap(),
            "{}",
            segment.display()
        );
    }
}

/// A run that crashed left its segment open with half a frame at the end: the hosted
/// collector recovers it on start, and the window's status and the log both say so.
#[test]
fn the_binary_reports_what_recovering_a_crashed_run_cut() {
    let data = tempfile::tempdir().unwrap();
    let (mut writer, _) =
        oculus_store::SessionWriter::open(data.path(), oculus_store::WriterOptions::default())
            .unwrap();
    let block = oculus_store::encode_block(&oculus_store::proto::Block::default(), 3).unwrap();
    writer.append(&[block]).unwrap();
    let session = writer.session().path.clone();
    // The crash: no seal, and a frame cut short after its magic and 36 more bytes.
    drop(writer);
    let segment = oculus_store::resolve(&session).unwrap().segments[0]
        .path
        .clone();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    std::io::Write::write_all(&mut file, &[b"OCFR".as_slice(), &[7; 36]].concat()).unwrap();
    drop(file);

    let (_xvfb, display) = start_xvfb();
    let viewer = Viewer::start(data.path(), &display);
    assert!(
        viewer
            .status_line
            .contains("recovered 1 segment of a crashed run (40 bytes of torn tail cut)"),
        "{:?}",
        viewer.status_line
    );
    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
    assert!(
        log.contains("sealed a segment left open by an earlier run"),
        "{log}"
    );
    assert!(oculus_store::segment::is_sealed(&segment).unwrap());
}

/// A data directory this user cannot write (another user's, or read-only) is opened for
/// viewing instead of ending the program, and nothing is written into it.
#[test]
fn the_binary_views_a_data_directory_it_cannot_write() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let data = tempfile::tempdir().unwrap();
    let (mut writer, _) =
        oculus_store::SessionWriter::open(data.path(), oculus_store::WriterOptions::default())
            .unwrap();
    let block = oculus_store::encode_block(&oculus_store::proto::Block::default(), 3).unwrap();
    writer.append(&[block]).unwrap();
    writer.close().unwrap();
    let sessions = data.path().join("sessions");
    if std::fs::metadata(data.path()).unwrap().uid() == 0 {
        // Root writes anywhere: make the directory another user's instead.
        std::os::unix::fs::chown(data.path(), Some(65534), Some(65534)).unwrap();
    } else {
        for dir in [data.path(), sessions.as_path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        }
    }
    let listed = || std::fs::read_dir(&sessions).unwrap().count();
    let before = listed();

    let (_xvfb, display) = start_xvfb();
    let viewer = Viewer::start(data.path(), &display);
    assert!(
        viewer.status_line.contains("read-only"),
        "{:?}",
        viewer.status_line
    );
    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
    assert_eq!(listed(), before, "a session was created: {log}");
    for dir in [data.path(), sessions.as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}

/// A stop that comes while the hosted collector recovers a crashed run ends the program
/// cleanly, before any window, after the recovery step in progress.
#[test]
fn a_stop_during_start_up_recovery_ends_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let segment = oculus_store::testing::crashed_run(data.path(), 48 << 20);
    let child = Command::new(env!("CARGO_BIN_EXE_oculus"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let process = Killed(child);
    // The lock names the collector once it is taken; recovery runs right after.
    let lock = data.path().join(oculus_store::datadir::LOCK_FILE);
    let holder = format!("pid {}", process.0.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&lock).is_ok_and(|text| text.trim() == holder) {
        assert!(Instant::now() < deadline, "the lock was never taken");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        !oculus_store::segment::is_sealed(&segment).unwrap(),
        "recovery finished before the signal could be sent; grow the segment"
    );
    let pid = process.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut process = process;
    let mut stderr = String::new();
    process
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = process.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped during start-up"), "{stderr}");
    assert!(
        oculus_store::segment::is_sealed(&segment).unwrap(),
        "{stderr}"
    );
}
