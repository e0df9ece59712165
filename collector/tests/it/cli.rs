//! The command line as a user meets it.

use std::process::Command;

use crate::start;

fn collector() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
}

#[tokio::test]
async fn a_second_collector_on_the_same_directory_says_who_holds_it() {
    let running = start().await;
    let output = collector()
        .args([
            "serve",
            "--grpc",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(running.dir.path())
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "is in use by another collector (pid {})",
        std::process::id()
    );
    assert!(stderr.contains(&expected), "{stderr}");
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
    let output = collector()
        .arg("check")
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a data directory, session or segment"),
        "{stderr}"
    );
}

#[test]
fn a_budget_smaller_than_the_largest_request_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = collector()
        .args(["serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args([
            "--max-inflight-bytes",
            "1000",
            "--max-message-bytes",
            "2000",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("smaller than the largest request"),
        "{stderr}"
    );
}
