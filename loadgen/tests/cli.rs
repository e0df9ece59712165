//! Runs the binary end to end against its own blackhole sink.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_oculus-loadgen");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn json_of(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn bench_measures_a_collector_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(BIN)
        .args(["bench", "--collector", BIN, "--data-dir"])
        .arg(dir.path().join("data"))
        .args([
            "--collector-template",
            "sink --grpc {grpc} --http {http} --data-dir {data_dir}",
            "--spans",
            "3000",
            "--logs",
            "5000",
            "--batch",
            "256",
            "--settle-ms",
            "100",
            "--json",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run bench");
    let report = json_of(&output);
    let phases = report["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 2);
    for (phase, records) in phases.iter().zip([3000, 5000]) {
        assert_eq!(phase["records"], records);
        assert_eq!(phase["failed_requests"], 0);
        let raw = phase["raw_bytes"].as_u64().expect("raw bytes");
        // The sink writes requests verbatim, so disk growth equals raw size.
        assert_eq!(phase["disk_delta_bytes"].as_u64(), Some(raw));
        assert!(phase["zstd3_bytes"].as_u64().expect("zstd") < raw / 3);
        assert!(phase["latency"]["p99_ms"].as_f64().expect("p99") > 0.0);
    }
    assert!(report["peak_rss_kib"].as_u64().expect("rss") > 0);
    assert_eq!(report["exit_status"], "exit status: 0");
}

#[test]
fn send_reaches_a_running_sink() {
    let (grpc, http) = (free_port(), free_port());
    let mut sink = Command::new(BIN)
        .args(["sink", "--grpc", &format!("127.0.0.1:{grpc}")])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .stdin(Stdio::null())
        .spawn()
        .expect("start sink");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", http)).is_err()
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    for (protocol, port) in [("grpc", grpc), ("http", http)] {
        let output = Command::new(BIN)
            .args(["send", "--protocol", protocol, "--signal", "both"])
            .args(["--endpoint", &format!("http://127.0.0.1:{port}")])
            .args(["--requests", "12", "--batch", "100", "--json"])
            .output()
            .expect("run send");
        let report = json_of(&output);
        let signals = report["signals"].as_array().expect("signals");
        assert_eq!(signals.len(), 2, "{report}");
        for s in signals {
            assert_eq!(s["records"], 600, "{report}");
            assert_eq!(s["failed_requests"], 0, "{report}");
        }
    }
    let _ = sink.kill();
    let _ = sink.wait();
}
