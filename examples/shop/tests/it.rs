//! The shop demo, run as a user runs it (`cargo run -p shop`), against a real collector
//! on loopback: one trace spans both processes.

use std::collections::{BTreeSet, HashSet};
use std::process::Command;
use std::time::Duration;

use testkit::{Capture, Records, run, unused_endpoint};

/// What `shop` places without arguments.
const ORDERS: usize = 12;
/// OTLP's `STATUS_CODE_ERROR`.
const STATUS_ERROR: i32 = 2;

fn shop() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shop"));
    for var in ["RUST_LOG", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"] {
        command.env_remove(var);
    }
    command
}

fn check_one_trace_across_both_services(records: &Records, protocol: &str) {
    let front: Vec<_> = records
        .spans
        .iter()
        .filter(|s| s.service() == "shop-front")
        .collect();
    let worker: Vec<_> = records
        .spans
        .iter()
        .filter(|s| s.service() == "shop-worker")
        .collect();
    let checkouts = front
        .iter()
        .filter(|s| s.record.name == "GET /checkout/{order}")
        .count();
    assert_eq!(checkouts, ORDERS, "{protocol}");

    let calls: HashSet<_> = front
        .iter()
        .filter(|s| s.record.name == "POST /reserve")
        .map(|s| (s.record.trace_id.clone(), s.record.span_id.clone()))
        .collect();
    let served: Vec<_> = worker
        .iter()
        .filter(|s| s.record.name == "POST /reserve/{sku}/{quantity}")
        .collect();
    assert_eq!(
        served.len(),
        calls.len(),
        "{protocol}: one served request per call"
    );
    for span in &served {
        let parent = (
            span.record.trace_id.clone(),
            span.record.parent_span_id.clone(),
        );
        assert!(
            calls.contains(&parent),
            "{protocol}: the worker's span continues the front's call"
        );
    }

    // The worker sends its events as span events as well; the front only as logs.
    let timed_out = worker.iter().any(|s| {
        s.record.name == "SELECT stock"
            && s.record.events.iter().any(|e| e.name == "query timed out")
    });
    assert!(
        timed_out,
        "{protocol}: the worker's events are in its spans"
    );
    assert!(
        front.iter().all(|s| s.record.events.is_empty()),
        "{protocol}"
    );

    // A failed order: an error in each service, one trace.
    let failed_traces: HashSet<_> = worker
        .iter()
        .filter(|s| {
            s.record
                .status
                .as_ref()
                .is_some_and(|st| st.code == STATUS_ERROR)
        })
        .map(|s| s.record.trace_id.clone())
        .collect();
    assert!(!failed_traces.is_empty(), "{protocol}: some orders fail");
    for trace in &failed_traces {
        let front_failed = front.iter().any(|s| {
            &s.record.trace_id == trace
                && s.record.name == "GET /checkout/{order}"
                && s.record
                    .status
                    .as_ref()
                    .is_some_and(|st| st.code == STATUS_ERROR)
        });
        assert!(front_failed, "{protocol}: the front marks the order failed");
    }

    let span_ids: HashSet<_> = records
        .spans
        .iter()
        .map(|s| (s.record.trace_id.clone(), s.record.span_id.clone()))
        .collect();
    for service in ["shop-front", "shop-worker"] {
        let logs: Vec<_> = records
            .logs
            .iter()
            .filter(|l| l.service() == service)
            .collect();
        let levels: BTreeSet<_> = logs
            .iter()
            .map(|l| l.record.severity_text.as_str())
            .collect();
        assert_eq!(
            levels,
            BTreeSet::from(["DEBUG", "ERROR", "INFO", "TRACE", "WARN"]),
            "{protocol}: {service} logs at every level"
        );
        let in_spans = logs
            .iter()
            .filter(|l| span_ids.contains(&(l.record.trace_id.clone(), l.record.span_id.clone())))
            .count();
        // Only the worker's start and stop lines are outside any request.
        assert!(
            logs.len() - in_spans <= 2,
            "{protocol}: {service} logs belong to spans"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_spans_the_front_and_the_worker() {
    for protocol in ["grpc", "http/protobuf"] {
        let capture = Capture::start().await.expect("collector starts");
        let (output, _) = run(
            shop()
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", capture.endpoint(protocol))
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            Duration::from_secs(60),
        )
        .expect("the demo ends");
        assert!(output.status.success(), "{protocol}: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "", "{protocol}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(stdout.lines().count(), 1 + ORDERS, "{protocol}: {stdout}");
        let records = capture.finish().await.expect("records");
        check_one_trace_across_both_services(&records, protocol);
    }
}

#[test]
fn without_a_collector_both_processes_exit_quickly_with_a_line_each() {
    for protocol in ["grpc", "http/protobuf"] {
        let endpoint = unused_endpoint().expect("a free port");
        let (output, elapsed) = run(
            shop()
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            Duration::from_secs(60),
        )
        .expect("the demo ends");
        assert!(output.status.success(), "{protocol}: {output:?}");
        assert!(
            elapsed < Duration::from_secs(10),
            "{protocol}: took {elapsed:?}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut lines: Vec<_> = stderr.lines().collect();
        lines.sort_unstable();
        assert_eq!(lines.len(), 2, "{protocol}: {stderr}");
        for (line, service) in lines.iter().zip(["shop-front", "shop-worker"]) {
            assert!(
                line.starts_with(&format!("oculus-tracing ({service}): ")) && line.len() < 250,
                "{protocol}: {line}"
            );
        }
    }
}
