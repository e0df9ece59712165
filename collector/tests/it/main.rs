//! The collector's integration tests, in one binary so it links once.
//!
//! Every test runs a real collector on `127.0.0.1:0` with its own data directory and
//! talks to it as an OTLP client would.

mod archive;
mod cli;
mod conformance;
mod crash;
mod damage;
mod disk_full;
mod dos;
mod files;
mod forward;
mod grpc;
mod live;
mod oracle;
mod roundtrip;
mod transcode;

use std::path::Path;

use oculus_collector::{Collector, Config};
use oculus_store::proto::Block;
use oculus_store::{SegmentBytes, SegmentItem, read_segment, resolve};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

pub struct Running {
    pub collector: Collector,
    pub dir: tempfile::TempDir,
}

impl Running {
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.collector.http_addr())
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.collector.grpc_addr())
    }

    /// Stops the collector (sealing the session) and reads back every block.
    pub async fn finish(self) -> Vec<Block> {
        self.collector.shutdown().await.expect("clean shutdown");
        read_blocks(self.dir.path())
    }
}

pub async fn start() -> Running {
    start_with(|_| {}).await
}

pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let loopback = "127.0.0.1:0".parse().expect("address");
    let mut config = Config::new(loopback, loopback, dir.path().to_path_buf());
    configure(&mut config);
    let collector = Collector::start(config).await.expect("collector starts");
    Running { collector, dir }
}

/// Waits until the collector holds at least `bytes` of requests in memory, so that a
/// test knows a slow client's bytes arrived before it goes on.
pub async fn wait_for_inflight(collector: &Collector, bytes: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while collector.inflight_bytes() < bytes {
        assert!(
            std::time::Instant::now() < deadline,
            "{} bytes held, waiting for {bytes}",
            collector.inflight_bytes()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Every block under a data directory, asserting the store reports no damage.
pub fn read_blocks(root: &Path) -> Vec<Block> {
    let mut blocks = Vec::new();
    for segment in resolve(root).expect("resolve").segments {
        let data = read_segment(&segment.path).expect("read segment");
        let bytes = SegmentBytes::new(&segment.path, &data).finished(segment.finished);
        let scan = bytes.scan(|item| match item {
            SegmentItem::Block { block, .. } => blocks.push(block),
            SegmentItem::Corrupt(damage) => panic!("damage: {damage}"),
        });
        assert!(scan.damage.is_empty(), "{:?}", scan.damage);
    }
    blocks
}

pub fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

pub fn int_attribute(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

pub fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![string_attribute("service.name", service)],
        ..Resource::default()
    })
}

pub fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "oculus-tests".into(),
        version: "1.0".into(),
        ..InstrumentationScope::default()
    })
}

/// A span with valid ids derived from `n`, so each is distinct and checkable.
pub fn span(n: u64) -> Span {
    let mut trace_id = vec![0xab; 8];
    trace_id.extend_from_slice(&(n + 1).to_be_bytes());
    Span {
        trace_id,
        span_id: (n + 1).to_be_bytes().to_vec(),
        name: format!("GET /orders/{n}"),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000 + n * 1000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + n * 1000 + 5_000_000,
        attributes: vec![
            string_attribute("http.request.method", "GET"),
            int_attribute("http.response.status_code", 200),
            string_attribute("code.file.path", "src/orders.rs"),
            int_attribute("code.line.number", 42),
        ],
        status: Some(Status::default()),
        ..Span::default()
    }
}

pub fn traces_request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource("checkout"),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn log(n: u64) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000 + n,
        observed_time_unix_nano: 1_700_000_000_000_000_100 + n,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(format!("record {n}"))),
        }),
        attributes: vec![int_attribute("seq", i64::try_from(n).expect("small"))],
        ..LogRecord::default()
    }
}

pub fn logs_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("checkout"),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn metrics_request(points: usize) -> ExportMetricsServiceRequest {
    let data_points = (0..points)
        .map(|i| NumberDataPoint {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            value: Some(number_data_point::Value::AsDouble(i as f64)),
            ..NumberDataPoint::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("checkout"),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![Metric {
                    name: "queue.depth".into(),
                    unit: "{item}".into(),
                    data: Some(metric::Data::Gauge(Gauge { data_points })),
                    ..Metric::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}
