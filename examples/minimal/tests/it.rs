//! The minimal example, run as a user runs it, against a real collector on loopback.

use std::process::Command;
use std::time::Duration;

use testkit::{Capture, PROTOCOLS, run, strings, unused_endpoint};

const SOURCE: &str = include_str!("../src/main.rs");
const SOURCE_PATH: &str = "examples/minimal/src/main.rs";

/// The 1-based line of the example's source holding `needle`.
fn line_of(needle: &str) -> String {
    let index = SOURCE
        .lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the example"));
    (index + 1).to_string()
}

fn minimal() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minimal"));
    for var in ["RUST_LOG", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"] {
        command.env_remove(var);
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_logs_arrive_with_service_resource_and_source() {
    for protocol in PROTOCOLS {
        let capture = Capture::start().await.expect("collector starts");
        let (output, _) = run(
            minimal()
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", capture.endpoint(protocol))
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
                .env(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    "deployment.environment=test,team=tools%2Cdocs",
                ),
            Duration::from_secs(30),
        )
        .expect("the example ends");
        assert!(output.status.success(), "{protocol}: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "", "{protocol}");
        let records = capture.finish().await.expect("records");

        assert_eq!(records.spans.len(), 1, "{protocol}");
        let span = &records.spans[0];
        assert_eq!(span.record.name, "greet", "{protocol}");
        assert_eq!(span.service(), "minimal", "{protocol}");
        assert_eq!(
            span.resource["deployment.environment"], "test",
            "{protocol}"
        );
        assert_eq!(span.resource["team"], "tools,docs", "{protocol}");
        assert_eq!(
            span.resource["telemetry.sdk.language"], "rust",
            "{protocol}"
        );
        assert!(span.resource.contains_key("process.pid"), "{protocol}");
        let attributes = strings(Some(span.record.attributes.clone()));
        assert_eq!(attributes["user"], "ada", "{protocol}");
        assert_eq!(attributes["code.file.path"], SOURCE_PATH, "{protocol}");
        assert_eq!(
            attributes["code.line.number"],
            line_of("info_span!(\"greet\""),
            "{protocol}"
        );

        let mut sources = records.sources.clone();
        sources.sort_unstable();
        let expected: Vec<_> = ["info_span!(\"greet\"", "info!(", "warn!(", "error!("]
            .into_iter()
            .map(|call| {
                (
                    SOURCE_PATH.to_owned(),
                    line_of(call).parse().expect("a line"),
                )
            })
            .collect();
        assert_eq!(sources, expected, "{protocol}: what the viewer jumps to");

        let mut levels: Vec<_> = records
            .logs
            .iter()
            .map(|log| log.record.severity_text.as_str())
            .collect();
        levels.sort_unstable();
        assert_eq!(levels, ["ERROR", "INFO", "WARN"], "{protocol}");
        for log in &records.logs {
            assert_eq!(log.service(), "minimal", "{protocol}");
            assert_eq!(log.resource["team"], "tools,docs", "{protocol}");
            assert_eq!(log.record.trace_id, span.record.trace_id, "{protocol}");
            assert_eq!(log.record.span_id, span.record.span_id, "{protocol}");
            let attributes = strings(Some(log.record.attributes.clone()));
            assert_eq!(attributes["code.filepath"], SOURCE_PATH, "{protocol}");
        }
        let warn = records
            .logs
            .iter()
            .find(|log| log.record.severity_text == "WARN")
            .expect("warn");
        let attributes = strings(Some(warn.record.attributes.clone()));
        assert_eq!(attributes["code.lineno"], line_of("warn!("), "{protocol}");
        assert_eq!(attributes["attempt"], "2", "{protocol}");
    }
}

/// `OTEL_SERVICE_NAME` renames the program; a protocol that does not exist is named in
/// one line and the default (gRPC) is used, so nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_name_from_environment_and_a_bad_protocol_named() {
    let capture = Capture::start().await.expect("collector starts");
    let (output, _) = run(
        minimal()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", capture.endpoint("grpc"))
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
            .env("OTEL_SERVICE_NAME", "renamed"),
        Duration::from_secs(30),
    )
    .expect("the example ends");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "oculus-tracing: ignoring OTEL_EXPORTER_OTLP_PROTOCOL=\"carrier-pigeon\": \
         expected grpc, http/protobuf or http/json\n"
    );
    let records = capture.finish().await.expect("records");
    assert_eq!(records.spans.len(), 1);
    assert_eq!(records.logs.len(), 3);
    assert!(records.spans.iter().all(|s| s.service() == "renamed"));
    assert!(records.logs.iter().all(|l| l.service() == "renamed"));
}

/// At `RUST_LOG=trace` the exporter's own crates (h2, hyper, tonic, reqwest,
/// opentelemetry...) log plenty while exporting; none of it is exported, or each export
/// would feed the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_trace_level_the_exporter_does_not_export_itself() {
    for protocol in ["grpc", "http/protobuf"] {
        let capture = Capture::start().await.expect("collector starts");
        let (output, _) = run(
            minimal()
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", capture.endpoint(protocol))
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
                .env("RUST_LOG", "trace"),
            Duration::from_secs(30),
        )
        .expect("the example ends");
        assert!(output.status.success(), "{protocol}: {output:?}");
        let records = capture.finish().await.expect("records");
        let bodies: Vec<_> = records
            .logs
            .iter()
            .map(|log| log.record.body.clone().map(testkit::display))
            .collect();
        assert_eq!(records.logs.len(), 3, "{protocol}: {bodies:?}");
        assert_eq!(records.spans.len(), 1, "{protocol}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_collector_it_exits_quickly_with_one_short_line() {
    for protocol in PROTOCOLS {
        let endpoint = unused_endpoint().expect("a free port");
        let (output, elapsed) = run(
            minimal()
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            Duration::from_secs(30),
        )
        .expect("the example ends");
        assert!(output.status.success(), "{protocol}: {output:?}");
        assert!(
            elapsed < Duration::from_secs(5),
            "{protocol}: took {elapsed:?}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{protocol}: {stderr}");
        assert!(stderr.len() < 250, "{protocol}: {stderr}");
        assert!(
            stderr.starts_with("oculus-tracing (minimal): ")
                && stderr.contains(&format!(" to {endpoint} failed")),
            "{protocol}: {stderr}"
        );
    }
}

/// A port that accepts connections (the kernel completes them) but never answers: each
/// export gives up at its timeout, and the program still ends.
#[test]
fn a_collector_that_never_answers_delays_the_exit_by_a_bounded_time() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let endpoint = format!("http://{}", silent.local_addr().expect("its address"));
    for protocol in ["grpc", "http/protobuf"] {
        let (output, elapsed) = run(
            minimal()
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            Duration::from_secs(30),
        )
        .expect("the example ends");
        assert!(output.status.success(), "{protocol}: {output:?}");
        assert!(
            elapsed < Duration::from_secs(8),
            "{protocol}: took {elapsed:?}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{protocol}: {stderr}");
    }
}
