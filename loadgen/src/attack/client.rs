//! The well-behaved client: the OpenTelemetry SDK's OTLP/gRPC span exporter (tonic),
//! exporting a small batch every 100 ms, each export timed. The SDK's retries are
//! off so that each export is one call and a refusal is seen as one. It runs on a
//! thread and runtime of its own, as the separate program it stands for would: on the
//! attackers' runtime its timings would include their queueing, not the collector's.

use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{RetryPolicy, WithExportConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use serde::Serialize;

/// Spans in each export: a request handled, with its database calls.
const SPANS_PER_EXPORT: u64 = 8;
/// What the SDK gives an export before it fails it.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client's exports went.
#[derive(Debug, Default, Serialize)]
pub struct Exports {
    pub ok: u64,
    /// Refused for a retry (UNAVAILABLE).
    pub refused: u64,
    pub failed: u64,
    /// Every export's time, in nanoseconds, whatever its outcome.
    pub latencies_ns: Vec<u64>,
    pub errors: Vec<String>,
}

/// The exporter, connected: one export made and answered before it returns, so the
/// client holds its connection before any attack starts.
async fn connect(endpoint: &str) -> Result<opentelemetry_otlp::SpanExporter> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_protocol(opentelemetry_otlp::Protocol::Grpc)
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .with_retry_policy(RetryPolicy::default().with_max_retries(0))
        .build()
        .context("building the SDK's span exporter")?;
    exporter.set_resource(
        &Resource::builder()
            .with_service_name("well-behaved")
            .build(),
    );
    exporter
        .export(batch(0))
        .await
        .context("the first export, before the attacks")?;
    Ok(exporter)
}

/// Exports every 100 ms.
const INTERVAL: Duration = Duration::from_millis(100);

/// The client, connected and exporting on its own thread.
pub struct Client {
    thread: std::thread::JoinHandle<Result<Exports>>,
}

impl Client {
    /// The exports made, once the client's time is up.
    pub fn join(self) -> Result<Exports> {
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the well-behaved client panicked"))?
    }
}

/// Starts the client on its own thread; returns once it is connected (its first
/// export answered), after which it exports for `duration`.
pub fn start(endpoint: String, duration: Duration) -> Result<Client> {
    let (connected, on_connect) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("well-behaved".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the client's runtime")?;
            runtime.block_on(async {
                let exporter = match connect(&endpoint).await {
                    Ok(exporter) => exporter,
                    Err(error) => {
                        let _ = connected.send(Err(format!("{error:#}")));
                        return Err(error);
                    }
                };
                let _ = connected.send(Ok(()));
                Ok(run(&exporter, INTERVAL, Instant::now() + duration).await)
            })
        })
        .context("starting the client's thread")?;
    match on_connect.recv() {
        Ok(Ok(())) => Ok(Client { thread }),
        Ok(Err(error)) => Err(anyhow::anyhow!(error)),
        // The thread ended before it said anything: its result says why.
        Err(_) => Err(Client { thread }
            .join()
            .err()
            .unwrap_or_else(|| anyhow::anyhow!("the well-behaved client stopped"))),
    }
}

/// Exports every `interval` until `until`.
async fn run(
    exporter: &opentelemetry_otlp::SpanExporter,
    interval: Duration,
    until: Instant,
) -> Exports {
    let mut exports = Exports::default();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 1;
    while Instant::now() < until {
        ticker.tick().await;
        let spans = batch(n);
        n += 1;
        let started = Instant::now();
        let result = exporter.export(spans).await;
        exports
            .latencies_ns
            .push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        match result {
            Ok(()) => exports.ok += 1,
            Err(error) => {
                let error = error.to_string();
                // The SDK names the gRPC code, never the server's message.
                if error.contains("Unavailable") {
                    exports.refused += 1;
                } else {
                    exports.failed += 1;
                }
                if exports.errors.len() < 5 {
                    exports.errors.push(error);
                }
            }
        }
    }
    exports
}

/// A server span and its database children, as an instrumented service makes them.
fn batch(n: u64) -> Vec<SpanData> {
    let trace_id = TraceId::from_bytes(rand::random::<u128>().to_be_bytes());
    let root = SpanId::from_bytes(rand::random::<u64>().to_be_bytes());
    let now = SystemTime::now();
    (0..SPANS_PER_EXPORT)
        .map(|i| {
            let (span_id, parent, kind, name) = if i == 0 {
                (root, SpanId::INVALID, SpanKind::Server, "GET /checkout")
            } else {
                let id = SpanId::from_bytes(rand::random::<u64>().to_be_bytes());
                (id, root, SpanKind::Client, "SELECT orders")
            };
            SpanData {
                span_context: SpanContext::new(
                    trace_id,
                    span_id,
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id: parent,
                parent_span_is_remote: false,
                span_kind: kind,
                name: Cow::Borrowed(name),
                start_time: now - Duration::from_millis(20),
                end_time: now,
                attributes: vec![
                    KeyValue::new("http.request.method", "GET"),
                    KeyValue::new("order.id", i64::try_from(n).unwrap_or(i64::MAX)),
                    KeyValue::new("db.system.name", "postgresql"),
                ],
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: Status::Unset,
                instrumentation_scope: InstrumentationScope::builder("oculus-loadgen").build(),
            }
        })
        .collect()
}
