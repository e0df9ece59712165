//! `serve --forward`: through the shipped binary, to a second collector that is down
//! for part of the run, and to small servers that refuse or ask to retry later.

use std::borrow::Cow;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};

/// Spans in each export of the SDK client.
const SPANS_PER_BATCH: u64 = 4;

/// A running `oculus-collector serve`, its log collected as it is written.
struct Serving {
    child: Child,
    log: Arc<Mutex<String>>,
    grpc: SocketAddr,
    http: SocketAddr,
}

impl Serving {
    /// Starts it with `args`, on ephemeral loopback ports unless they name theirs.
    fn start(args: &[&str], data_dir: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_oculus-collector"));
        command.arg("serve").args(args);
        for flag in ["--grpc", "--http"] {
            if !args.contains(&flag) {
                command.args([flag, "127.0.0.1:0"]);
            }
        }
        let mut child = command
            .arg("--data-dir")
            .arg(data_dir)
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (started, serving) = std::sync::mpsc::sync_channel(1);
        let stderr = std::io::BufReader::new(child.stderr.take().expect("piped"));
        let kept = Arc::clone(&log);
        std::thread::Builder::new()
            .name("collector-log".into())
            .spawn(move || {
                for line in stderr.lines().map_while(Result::ok) {
                    if line.contains("receiving OTLP") {
                        let _ = started.send(line.clone());
                    }
                    let mut log = kept.lock().expect("not poisoned");
                    log.push_str(&line);
                    log.push('\n');
                }
            })
            .expect("a thread");
        let line = serving
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("did not serve: {}", log.lock().expect("lock")));
        let address = |key: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(key))
                .and_then(|addr| addr.parse().ok())
                .unwrap_or_else(|| panic!("{key} is logged: {line}"))
        };
        let (grpc, http) = (address("grpc="), address("http="));
        Self {
            child,
            log,
            grpc,
            http,
        }
    }

    fn log(&self) -> String {
        self.log.lock().expect("not poisoned").clone()
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status();
        assert!(sent.expect("kill runs").success());
    }

    /// SIGTERM, and the whole log once it exited.
    fn stop(mut self) -> String {
        self.signal("-TERM");
        let status = self.child.wait().expect("exits");
        assert!(status.success(), "{}", self.log());
        // The reader thread ends with the pipe; give it a moment to take the last lines.
        wait_for("the log's end", || {
            self.log().contains("stopped; session sealed")
        });
        self.log()
    }

    /// SIGKILL: nothing is sealed or written at the end.
    fn kill(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[track_caller]
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port nothing listens on now, for a collector that starts later.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    listener.local_addr().expect("bound").port()
}

/// The OpenTelemetry SDK's OTLP/gRPC span exporter, pointed at `addr`.
fn sdk_exporter(addr: SocketAddr) -> opentelemetry_otlp::SpanExporter {
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{addr}"))
        .with_timeout(Duration::from_secs(10))
        .build()
        .expect("the SDK's exporter builds")
}

/// Batch `n`: a root span and its children, with ids that say which batch it is.
fn batch(n: u64) -> Vec<SpanData> {
    let trace_id = TraceId::from_bytes(u128::from(n + 1).to_be_bytes());
    let now = SystemTime::now();
    (0..SPANS_PER_BATCH)
        .map(|i| SpanData {
            span_context: SpanContext::new(
                trace_id,
                SpanId::from_bytes((((n + 1) << 8) | i).to_be_bytes()),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: if i == 0 {
                SpanId::INVALID
            } else {
                SpanId::from_bytes(((n + 1) << 8).to_be_bytes())
            },
            parent_span_is_remote: false,
            span_kind: if i == 0 {
                SpanKind::Server
            } else {
                SpanKind::Client
            },
            name: Cow::Owned(format!("batch {n} span {i}")),
            start_time: now - Duration::from_millis(20),
            end_time: now,
            attributes: vec![KeyValue::new("batch", i64::try_from(n).expect("small"))],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("forward-test").build(),
        })
        .collect()
}

async fn send_batches(addr: SocketAddr, batches: std::ops::Range<u64>) {
    let exporter = sdk_exporter(addr);
    for n in batches.clone() {
        exporter.export(batch(n)).await.expect("accepted");
    }
    // Logs too, with the generated client, so that both signals are forwarded.
    let mut logs = LogsServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connects");
    let records = batches.map(crate::log).collect();
    logs.export(crate::logs_request(records))
        .await
        .expect("accepted");
}

/// The span ids and log bodies `export` writes for `dir`, in the order it writes
/// them: sessions in order, and each session's records in the order they were written.
fn exported(dir: &Path) -> (Vec<String>, Vec<String>) {
    let read = |signal: &str, records: &str, key: &str| -> Vec<String> {
        let output = Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
            .args(["export", "--signal", signal])
            .arg(dir)
            .output()
            .expect("runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut values = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let data: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let (outer, inner) = match signal {
                "traces" => ("resourceSpans", "scopeSpans"),
                _ => ("resourceLogs", "scopeLogs"),
            };
            for resource in data[outer].as_array().into_iter().flatten() {
                for scope in resource[inner].as_array().into_iter().flatten() {
                    for record in scope[records].as_array().into_iter().flatten() {
                        values.push(record[key].to_string());
                    }
                }
            }
        }
        values
    };
    (
        read("traces", "spans", "spanId"),
        read("logs", "logRecords", "body"),
    )
}

/// `records` with a record sent again after an acknowledgement that was lost left out:
/// delivery is at least once.
fn first_of_each(records: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    records
        .iter()
        .filter(|r| seen.insert(r.as_str()))
        .cloned()
        .collect()
}

fn spans_at(dir: &Path) -> usize {
    if oculus_store::resolve(dir).is_err() {
        return 0;
    }
    first_of_each(&exported(dir).0).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_arrives_in_order_across_a_downstream_outage_and_restarts() {
    let first_dir = tempfile::tempdir().expect("tempdir");
    let second_dir = tempfile::tempdir().expect("tempdir");
    let second_grpc = format!("127.0.0.1:{}", free_port());
    let forward = format!("grpc://{second_grpc}");
    let first_args = ["--forward", &forward];
    let second_args = ["--grpc", second_grpc.as_str()];

    // The destination is not started yet: records wait in the first's segments.
    let first = Serving::start(&first_args, first_dir.path());
    send_batches(first.grpc, 0..5).await;

    let second = Serving::start(&second_args, second_dir.path());
    send_batches(first.grpc, 5..10).await;
    wait_for("the first ten batches", || {
        spans_at(second_dir.path()) == 10 * SPANS_PER_BATCH as usize
    });

    // The destination dies, and the forwarding collector is killed while it is down:
    // what it accepted meanwhile is only in its segments, behind its cursor.
    second.kill();
    send_batches(first.grpc, 10..15).await;
    first.kill();

    let second = Serving::start(&second_args, second_dir.path());
    let first = Serving::start(&first_args, first_dir.path());
    wait_for("the resumption to be logged", || {
        first
            .log()
            .contains("resuming forwarding of earlier sessions")
    });
    send_batches(first.grpc, 15..20).await;
    wait_for("every batch", || {
        spans_at(second_dir.path()) == 20 * SPANS_PER_BATCH as usize
    });
    let first_log = tokio::task::spawn_blocking(move || first.stop())
        .await
        .expect("joined");
    assert!(first_log.contains("forwarding stopped"), "{first_log}");
    assert!(first_log.contains("pending=0 failed=0"), "{first_log}");
    tokio::task::spawn_blocking(move || second.stop())
        .await
        .expect("joined");

    let (sent_spans, sent_logs) = exported(first_dir.path());
    let (arrived_spans, arrived_logs) = exported(second_dir.path());
    assert_eq!(sent_spans.len(), 20 * SPANS_PER_BATCH as usize);
    assert_eq!(first_of_each(&arrived_spans), sent_spans);
    assert_eq!(sent_logs.len(), 20);
    assert_eq!(first_of_each(&arrived_logs), sent_logs);
    // Each of the first collector's sessions says it was forwarded whole.
    for session in oculus_store::sessions(first_dir.path()).expect("listed") {
        let cursor = session.path.join(format!(
            "forward-grpc-{}.cursor.json",
            second_grpc.replace(':', "_")
        ));
        let text = std::fs::read_to_string(&cursor).expect("a cursor per session");
        assert!(text.contains("\"done\":true"), "{text}");
    }
}

/// A gRPC receiver that refuses every request as malformed, counting them.
#[derive(Clone, Default)]
struct Refusing {
    requests: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl TraceService for Refusing {
    async fn export(
        &self,
        _: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        Err(tonic::Status::invalid_argument("no spans wanted here"))
    }
}

/// An HTTP receiver answering each request with the next of `answers` (the last one
/// once they run out), recording when each request came.
async fn http_receiver(
    answers: Vec<(u16, Option<&'static str>)>,
) -> (SocketAddr, Arc<Mutex<Vec<Instant>>>) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&arrivals);
    let app = axum::Router::new().route(
        "/otlp/v1/traces",
        axum::routing::post(move || {
            let arrivals = Arc::clone(&kept);
            let answers = answers.clone();
            async move {
                let mut arrivals = arrivals.lock().expect("not poisoned");
                arrivals.push(Instant::now());
                let (status, retry_after) = answers[(arrivals.len() - 1).min(answers.len() - 1)];
                let mut response = axum::response::Response::builder().status(status);
                if let Some(after) = retry_after {
                    response = response.header("retry-after", after);
                }
                response
                    .header("content-type", "application/x-protobuf")
                    .body(axum::body::Body::from(if status == 400 {
                        "malformed".as_bytes()
                    } else {
                        b"".as_slice()
                    }))
                    .expect("a response")
            }
        }),
    );
    (serve_on_loopback(app).await, arrivals)
}

/// Serves `app` on an ephemeral loopback port until the test ends.
async fn serve_on_loopback(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A gRPC trace receiver answering as `service` does, as forwarded requests come
/// (gzipped), on an ephemeral loopback port.
async fn grpc_trace_receiver<S: TraceService>(service: S) -> SocketAddr {
    serve_on_loopback(axum::Router::new().route_service(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        TraceServiceServer::new(service).accept_compressed(tonic::codec::CompressionEncoding::Gzip),
    ))
    .await
}

fn forward_json(session: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(session.join("forward.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

fn live_session(dir: &Path) -> std::path::PathBuf {
    oculus_store::sessions(dir).expect("listed")[0].path.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_refuses_for_good_is_reported_and_not_retried() {
    let refusing = Refusing::default();
    let grpc_addr = grpc_trace_receiver(refusing.clone()).await;
    let (http_addr, arrivals) = http_receiver(vec![(400, None)]).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let grpc_url = format!("grpc://{grpc_addr}");
    let http_url = format!("http://{http_addr}/otlp");
    let serving = Serving::start(
        &["--forward", &grpc_url, "--forward", &http_url],
        dir.path(),
    );
    let exporter = sdk_exporter(serving.grpc);
    for n in 0..3 {
        exporter.export(batch(n)).await.expect("accepted");
    }
    let session = live_session(dir.path());
    wait_for("both destinations to refuse every batch", || {
        let status = forward_json(&session);
        status["destinations"]
            .as_array()
            .is_some_and(|all| all.iter().all(|d| d["failed"] == 3 * SPANS_PER_BATCH))
    });
    let status = forward_json(&session);
    for destination in status["destinations"].as_array().expect("listed") {
        assert_eq!(destination["forwarded"], 0, "{status}");
        assert_eq!(destination["pending"], 0, "{status}");
        assert!(destination["error"].is_string(), "{status}");
    }
    // Given time to retry, neither is asked again: one request per batch.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(refusing.requests.load(Ordering::SeqCst), 3);
    assert_eq!(arrivals.lock().expect("lock").len(), 3);
    let log = tokio::task::spawn_blocking(move || serving.stop())
        .await
        .expect("joined");
    for (url, says) in [(&grpc_url, "InvalidArgument"), (&http_url, "HTTP 400")] {
        assert!(
            log.lines()
                .any(|line| line.contains("refused records for good")
                    && line.contains(url.as_str())
                    && line.contains(says)),
            "{log}"
        );
        assert!(
            log.lines().any(|line| line.contains("forwarding stopped")
                && line.contains(url.as_str())
                && line.contains("failed=12")),
            "{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_before_sending_again() {
    let (addr, arrivals) = http_receiver(vec![(503, Some("2")), (200, None)]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://{addr}/otlp");
    let serving = Serving::start(&["--forward", &url], dir.path());
    sdk_exporter(serving.grpc)
        .export(batch(0))
        .await
        .expect("accepted");
    let session = live_session(dir.path());
    wait_for("the batch to be forwarded", || {
        forward_json(&session)["destinations"][0]["forwarded"] == SPANS_PER_BATCH
    });
    let times = arrivals.lock().expect("lock").clone();
    assert_eq!(times.len(), 2, "one refusal, one success");
    let waited = times[1] - times[0];
    // Without the hint the first back-off is at most 200 ms.
    assert!(
        waited >= Duration::from_secs(2),
        "sent again after {waited:?}"
    );
    let log = tokio::task::spawn_blocking(move || serving.stop())
        .await
        .expect("joined");
    assert!(log.contains("retrying with back-off"), "{log}");
    assert!(log.contains("the destination takes records again"), "{log}");
}

#[test]
fn a_malformed_forward_url_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
        .args(["serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(["--forward", "https://tempo:4318"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("`https://tempo:4318`: a forward destination starts with grpc:// or http://"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_the_destination_is_down_leaves_the_rest_for_the_next_start() {
    let first_dir = tempfile::tempdir().expect("tempdir");
    let second_dir = tempfile::tempdir().expect("tempdir");
    let second_grpc = format!("127.0.0.1:{}", free_port());
    let forward = format!("grpc://{second_grpc}");
    let first_args = ["--forward", &forward];

    let first = Serving::start(&first_args, first_dir.path());
    send_batches(first.grpc, 0..3).await;
    let stopping = Instant::now();
    let log = tokio::task::spawn_blocking(move || first.stop())
        .await
        .expect("joined");
    // It tries once more and leaves, rather than waiting out the stop's grace.
    assert!(stopping.elapsed() < Duration::from_secs(4), "{log}");
    assert!(
        log.lines().any(|line| line.contains("forwarding stopped")
            && line.contains("forwarded=0 pending=15 failed=0")),
        "{log}"
    );

    let second = Serving::start(&["--grpc", second_grpc.as_str()], second_dir.path());
    let first = Serving::start(&first_args, first_dir.path());
    wait_for("the records of the earlier run", || {
        spans_at(second_dir.path()) == 3 * SPANS_PER_BATCH as usize
    });
    tokio::task::spawn_blocking(move || first.stop())
        .await
        .expect("joined");
    tokio::task::spawn_blocking(move || second.stop())
        .await
        .expect("joined");
    assert_eq!(
        first_of_each(&exported(second_dir.path()).1),
        exported(first_dir.path()).1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_over_http_reaches_another_oculus() {
    let second = crate::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://{}", second.collector.http_addr());
    let first = Serving::start(&["--forward", &url], dir.path());
    send_batches(first.grpc, 0..3).await;
    let second_dir = second.dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        wait_for("the records over HTTP", || {
            spans_at(&second_dir) == 3 * SPANS_PER_BATCH as usize
        });
    })
    .await
    .expect("joined");
    let log = tokio::task::spawn_blocking(move || first.stop())
        .await
        .expect("joined");
    assert!(log.contains("forwarded=15 pending=0 failed=0"), "{log}");
    let blocks = second.finish().await;
    assert_eq!(blocks.iter().map(|b| b.logs.len()).sum::<usize>(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_never_answers_does_not_slow_receiving() {
    // Takes connections and never answers on them.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = silent.local_addr().expect("bound");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("grpc://{addr}");
    let serving = Serving::start(&["--forward", &url], dir.path());
    let exporter = sdk_exporter(serving.grpc);
    for n in 0..20 {
        let started = Instant::now();
        exporter.export(batch(n)).await.expect("accepted");
        // Generous for a loaded machine; a forwarder in the way would take the
        // destination's whole timeout (30 s).
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "export {n} waited"
        );
    }
    let session = live_session(dir.path());
    wait_for("the records to be counted as pending", || {
        forward_json(&session)["destinations"][0]["pending"] == 20 * SPANS_PER_BATCH
    });
    serving.kill();
}

/// A gRPC receiver that asks the first request to come back after two seconds
/// (UNAVAILABLE with RetryInfo) and takes the next, recording when each came.
#[derive(Clone, Default)]
struct Busy {
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

#[tonic::async_trait]
impl TraceService for Busy {
    async fn export(
        &self,
        _: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut arrivals = self.arrivals.lock().expect("not poisoned");
        arrivals.push(Instant::now());
        if arrivals.len() == 1 {
            return Err(
                <tonic::Status as tonic_types::StatusExt>::with_error_details(
                    tonic::Code::Unavailable,
                    "busy",
                    tonic_types::ErrorDetails::with_retry_info(Some(Duration::from_secs(2))),
                ),
            );
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_retry_info_is_honoured_before_sending_again() {
    let busy = Busy::default();
    let addr = grpc_trace_receiver(busy.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("grpc://{addr}");
    let serving = Serving::start(&["--forward", &url], dir.path());
    sdk_exporter(serving.grpc)
        .export(batch(0))
        .await
        .expect("accepted");
    let session = live_session(dir.path());
    wait_for("the batch to be forwarded", || {
        forward_json(&session)["destinations"][0]["forwarded"] == SPANS_PER_BATCH
    });
    let times = busy.arrivals.lock().expect("lock").clone();
    assert_eq!(times.len(), 2, "one refusal, one success");
    let waited = times[1] - times[0];
    assert!(
        waited >= Duration::from_secs(2),
        "sent again after {waited:?}"
    );
    serving.kill();
}

/// `count` spans of trace `n`, each carrying `payload_bytes` of attribute, one of
/// them (`huge`, if any) `huge_bytes` instead.
fn large_spans(
    n: u64,
    count: u64,
    payload_bytes: usize,
    huge: Option<(u64, usize)>,
) -> Vec<SpanData> {
    let mut spans = batch(n);
    let template = spans.remove(0);
    (0..count)
        .map(|i| {
            let mut span = template.clone();
            span.span_context = SpanContext::new(
                span.span_context.trace_id(),
                SpanId::from_bytes((((n + 1) << 16) | i).to_be_bytes()),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            );
            let bytes = match huge {
                Some((at, bytes)) if at == i => bytes,
                _ => payload_bytes,
            };
            span.attributes = vec![KeyValue::new("payload", "x".repeat(bytes))];
            span
        })
        .collect()
}

/// Forwards blocks larger than the destination takes, to a second collector with a
/// small `--max-message-bytes`, over `transport`, with the first's `extra` flags.
async fn forward_large_blocks(
    transport: &str,
    extra: &[&str],
) -> (String, Vec<String>, Vec<String>) {
    let first_dir = tempfile::tempdir().expect("tempdir");
    let second_dir = tempfile::tempdir().expect("tempdir");
    let second = Serving::start(&["--max-message-bytes", "32768"], second_dir.path());
    let url = match transport {
        "grpc" => format!("grpc://{}", second.grpc),
        _ => format!("http://{}", second.http),
    };
    let mut args = vec!["--forward", &url];
    args.extend_from_slice(extra);
    let first = Serving::start(&args, first_dir.path());
    let exporter = sdk_exporter(first.grpc);
    // About 200 KB a request, one span of 40 KB: larger than the destination takes.
    exporter
        .export(large_spans(0, 200, 1000, Some((120, 40_000))))
        .await
        .expect("accepted");
    exporter
        .export(large_spans(1, 100, 1000, None))
        .await
        .expect("accepted");
    let session = live_session(first_dir.path());
    wait_for("every span to be forwarded or failed", || {
        let status = forward_json(&session);
        status["destinations"][0]["forwarded"] == 299 && status["destinations"][0]["failed"] == 1
    });
    let first_log = tokio::task::spawn_blocking(move || first.stop())
        .await
        .expect("joined");
    tokio::task::spawn_blocking(move || second.stop())
        .await
        .expect("joined");
    let (sent, _) = exported(first_dir.path());
    let (arrived, _) = exported(second_dir.path());
    (first_log, sent, arrived)
}

/// The span ids of `sent` but the one of span `i` of trace 0.
fn all_but_the_huge_one(sent: &[String]) -> Vec<String> {
    let huge = format!("\"{:016x}\"", (1u64 << 16) | 120);
    assert!(sent.contains(&huge), "{huge} in {sent:?}");
    sent.iter().filter(|id| **id != huge).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_too_large_for_the_destination_are_split_and_only_an_oversized_span_is_lost() {
    let (log, sent, arrived) = forward_large_blocks("grpc", &[]).await;
    assert_eq!(sent.len(), 300);
    assert_eq!(first_of_each(&arrived), all_but_the_huge_one(&sent));
    let refusal = log
        .lines()
        .find(|line| line.contains("a record is too large to forward"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(refusal.contains("ResourceExhausted"), "{refusal}");
    assert!(refusal.contains("segment-00000001.oseg"), "{refusal}");
    assert!(refusal.contains("offset="), "{refusal}");
    assert!(log.contains("forwarded=299 pending=0 failed=1"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_split_under_the_forwarding_limit_before_sending_over_http() {
    let (log, sent, arrived) =
        forward_large_blocks("http", &["--forward-max-request-bytes", "30000"]).await;
    assert_eq!(first_of_each(&arrived), all_but_the_huge_one(&sent));
    let refusal = log
        .lines()
        .find(|line| line.contains("a record is too large to forward"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        refusal.contains("larger than --forward-max-request-bytes (30000)"),
        "{refusal}"
    );
}

/// A gRPC receiver that takes gzip and records each request's `grpc-encoding`.
#[derive(Clone, Default)]
struct Encodings {
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

#[tonic::async_trait]
impl TraceService for Encodings {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let encoding = request
            .metadata()
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.seen.lock().expect("not poisoned").push(encoding);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_gzipped_unless_asked_not_to() {
    let receiver = Encodings::default();
    let addr = grpc_trace_receiver(receiver.clone()).await;
    let url = format!("grpc://{addr}");
    for (flags, expected) in [
        (&[][..], Some("gzip".to_owned())),
        (&["--forward-compression", "none"][..], None),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = vec!["--forward", &url];
        args.extend_from_slice(flags);
        let serving = Serving::start(&args, dir.path());
        sdk_exporter(serving.grpc)
            .export(batch(0))
            .await
            .expect("accepted");
        let session = live_session(dir.path());
        wait_for("the batch to be forwarded", || {
            forward_json(&session)["destinations"][0]["forwarded"] == SPANS_PER_BATCH
        });
        serving.kill();
        let seen = std::mem::take(&mut *receiver.seen.lock().expect("lock"));
        assert_eq!(seen, [expected], "{flags:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_413_answer_splits_the_request_over_http() {
    let (log, sent, arrived) = forward_large_blocks("http", &[]).await;
    assert_eq!(first_of_each(&arrived), all_but_the_huge_one(&sent));
    let refusal = log
        .lines()
        .find(|line| line.contains("a record is too large to forward"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(refusal.contains("HTTP 413"), "{refusal}");
}
