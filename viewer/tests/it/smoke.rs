//! The real `oculus` binary in a real X window (Xvfb): it collects what the demo
//! service sends, draws it, and seals its session when told to stop.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{eventually, export_demo_to, runtime};

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

/// egui's link colour (dark theme): only rows with a trace or a source link draw it.
const LINK: [u8; 3] = [90, 170, 255];

/// The distinct pixel values on the screen: one on a blank screen, many in a window.
fn screen_colours(display: &str) -> rustc_hash::FxHashSet<[u8; 3]> {
    let output = Command::new("xwd")
        .args(["-root", "-silent", "-display", display])
        .output()
        .expect("xwd is installed (apt-get install x11-apps)");
    assert!(output.status.success());
    let dump = output.stdout;
    // The pixels are the dump's last width * height * 4 bytes.
    let pixels = &dump[dump.len().saturating_sub(1280 * 800 * 4)..];
    let mut seen = rustc_hash::FxHashSet::default();
    // xwd writes 32-bit pixels as B, G, R, unused on this server.
    for pixel in pixels.chunks_exact(4) {
        seen.insert([pixel[2], pixel[1], pixel[0]]);
    }
    seen
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
    let mut viewer = Command::new(env!("CARGO_BIN_EXE_oculus"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(viewer.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    // "oculus: collecting on 127.0.0.1:PORT (gRPC) and 127.0.0.1:PORT (HTTP)"
    let grpc: SocketAddr = line
        .split_whitespace()
        .nth(3)
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    let mut viewer = Killed(viewer);
    // Keep reading stderr so the viewer never blocks on a full pipe.
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });

    eventually("the window", || screen_colours(&display).len() > 40);
    assert!(
        !screen_colours(&display).contains(&LINK),
        "no rows before data"
    );
    runtime().block_on(export_demo_to(grpc, "smoke-service", 5));
    eventually("rows with trace links", || {
        screen_colours(&display).contains(&LINK)
    });

    // SIGTERM closes the window; the collector seals what it accepted.
    let pid = viewer.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = viewer.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the viewer did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = drain.join().unwrap();
    assert!(status.success(), "{status}: {log}");
    let resolved = oculus_store::resolve(data.path()).unwrap();
    assert_eq!(resolved.sessions.len(), 1);
    assert!(!resolved.segments.is_empty());
    for segment in resolved.segments {
        assert!(
            oculus_store::segment::is_sealed(&segment).unwrap(),
            "{}",
            segment.display()
        );
    }
}
