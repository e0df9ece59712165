//! The real `oculus` binary in a real X window (Xvfb): it collects what the demo
//! service sends, draws it, and seals its session when told to stop.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::desktop::{
    Killed, LINK, Viewer, eventually, runtime, screen_colours, sigterm, start_xvfb,
};

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
    // No window opens, but nothing is left in the real home either way.
    let home = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_oculus"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", crate::desktop::data_home(home.path()))
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
    sigterm(&process.0);
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

/// A stop that comes between the collector's start and the window's is not lost: the
/// window closes as soon as it is open and the run is sealed.
#[test]
fn a_stop_while_the_window_opens_closes_it() {
    let (_xvfb, display) = start_xvfb();
    for _ in 0..3 {
        let data = tempfile::tempdir().unwrap();
        // The status line is printed after the collector started, before the window.
        let viewer = Viewer::start(data.path(), &display);
        let (status, log) = viewer.terminate();
        assert!(status.success(), "{status}: {log}");
        let resolved = oculus_store::resolve(data.path()).unwrap();
        for segment in resolved.segment_paths() {
            assert!(oculus_store::segment::is_sealed(segment).unwrap());
        }
    }
}
