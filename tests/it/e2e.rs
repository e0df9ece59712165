//! A program instrumented with tracing + tracing-opentelemetry + the OpenTelemetry log
//! bridge exports through the real OTLP exporters, over gRPC and over HTTP, to a
//! collector on loopback; the segments must hold every span and log exactly.

use std::time::Duration;

use demo_service::{Protocol, TelemetryConfig, build_telemetry};
use oculus_collector::{Collector, Config};
use oculus_store::proto::any_value::Value;
use oculus_store::proto::{Block, KeyValue};
use oculus_store::{SegmentBytes, SegmentItem, read_segment, resolve};
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// What the instrumented code did, to compare with what was stored.
struct Emitted {
    trace_id: [u8; 16],
    root_span_id: [u8; 8],
    child_span_id: [u8; 8],
    root_line: u32,
    child_line: u32,
    root_log_line: u32,
    child_log_line: u32,
}

fn ids(span: &tracing::Span) -> ([u8; 16], [u8; 8]) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    (
        span_context.trace_id().to_bytes(),
        span_context.span_id().to_bytes(),
    )
}

/// The instrumented "program": one request span, a child span, a log in each.
fn handle_request() -> Emitted {
    // Each `*_line` is taken on the line right before the call it names.
    let root_line = line!() + 1;
    let root = tracing::info_span!(
        "GET /orders/{id}",
        http.request.method = "GET",
        order.id = 42_i64
    );
    let _root = root.enter();
    let (trace_id, root_span_id) = ids(&root);
    let root_log_line = line!() + 1;
    tracing::info!(user.id = "ada", "loading order");
    let child_line = line!() + 1;
    let child = tracing::info_span!("charge card", amount = 12.5_f64);
    let child_log_line = line!() + 3;
    let child_span_id = {
        let _child = child.enter();
        tracing::warn!(attempt = 2_i64, "card declined, retrying");
        ids(&child).1
    };
    drop(child);
    Emitted {
        trace_id,
        root_span_id,
        child_span_id,
        root_line,
        child_line,
        root_log_line,
        child_log_line,
    }
}

fn attribute<'a>(block: &'a Block, attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| block.str(kv.key) == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn split_trace(id: [u8; 16]) -> (u64, u64) {
    oculus_store::block::split_trace_id(&id).expect("16 bytes")
}

fn span_u64(id: [u8; 8]) -> u64 {
    u64::from_be_bytes(id)
}

async fn export_and_check(protocol: Protocol, service: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let loopback = "127.0.0.1:0".parse().expect("address");
    let collector = Collector::start(Config::new(loopback, loopback, dir.path().to_path_buf()))
        .await
        .expect("collector starts");
    let endpoint = match protocol {
        Protocol::Grpc => format!("http://{}", collector.grpc_addr()),
        Protocol::Http => format!("http://{}", collector.http_addr()),
    };
    let config = TelemetryConfig {
        service_name: service.into(),
        endpoint: Some(endpoint),
        protocol,
        console: false,
        batch_delay: Duration::from_millis(50),
        ..TelemetryConfig::default()
    };
    let (dispatch, guard) = build_telemetry(&config).expect("telemetry");
    let emitted = tracing::dispatcher::with_default(&dispatch, handle_request);
    drop(dispatch);
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .expect("join")
        .expect("exporters flush on shutdown");
    collector.shutdown().await.expect("collector shuts down");

    let mut blocks = Vec::new();
    for segment in resolve(dir.path()).expect("resolve").segments {
        let data = read_segment(&segment.path).expect("read");
        SegmentBytes::new(&segment.path, &data).scan(|item| match item {
            SegmentItem::Block { block, .. } => blocks.push(block),
            SegmentItem::Corrupt(damage) => panic!("{damage}"),
        });
    }
    let spans: Vec<_> = blocks
        .iter()
        .flat_map(|b| b.spans.iter().enumerate().map(move |(i, s)| (b, i, s)))
        .collect();
    let logs: Vec<_> = blocks
        .iter()
        .flat_map(|b| b.logs.iter().map(move |l| (b, l)))
        .collect();
    assert_eq!(spans.len(), 2, "{protocol:?}: spans");
    assert_eq!(logs.len(), 2, "{protocol:?}: logs");

    let (trace_high, trace_low) = split_trace(emitted.trace_id);
    let this_file = file!();
    let (block, root_index, root) = spans
        .iter()
        .find(|(b, _, s)| b.str(s.name) == "GET /orders/{id}")
        .expect("root span");
    let (child_block, child_index, child) = spans
        .iter()
        .find(|(b, _, s)| b.str(s.name) == "charge card")
        .expect("child span");
    for (block, index, span) in [(block, root_index, root), (child_block, child_index, child)] {
        assert_eq!(block.span_trace_id(*index), (trace_high, trace_low));
        let resource = &block.resources[block.scopes[span.scope as usize].resource as usize];
        assert_eq!(
            attribute(block, &resource.attributes, "service.name"),
            Some(&Value::StringValue(service.into()))
        );
        let columns = block.span_columns()[*index];
        assert!(columns.end_unix_nano >= columns.start_unix_nano);
        assert_ne!(columns.start_unix_nano, 0);
    }
    let root_columns = block.span_columns()[*root_index];
    let child_columns = child_block.span_columns()[*child_index];
    assert_eq!(root_columns.span_id, span_u64(emitted.root_span_id));
    assert_eq!(root_columns.parent_span_id, 0, "the request span is a root");
    assert_eq!(child_columns.span_id, span_u64(emitted.child_span_id));
    assert_eq!(child_columns.parent_span_id, root_columns.span_id);
    assert_eq!(root.kind, 1, "tracing spans are INTERNAL by default");
    assert_eq!(
        attribute(block, &root.attributes, "http.request.method"),
        Some(&Value::StringValue("GET".into()))
    );
    assert_eq!(
        attribute(block, &root.attributes, "order.id"),
        Some(&Value::IntValue(42))
    );
    assert_eq!(
        attribute(child_block, &child.attributes, "amount"),
        Some(&Value::DoubleValue(12.5))
    );
    for (block, span, line) in [
        (block, root, emitted.root_line),
        (child_block, child, emitted.child_line),
    ] {
        let source = span.source.expect("span source location");
        assert_eq!(block.str(source.file_path), this_file);
        assert_eq!(source.line, line);
    }

    let (log_block, first) = logs
        .iter()
        .find(|(b, l)| matches!(&l.body, Some(body) if body.value == Some(Value::StringValue("loading order".into()))) && b.str(l.severity_text) == "INFO")
        .expect("info log");
    assert_eq!(first.severity_number, 9);
    assert_eq!(
        (first.trace_id_high, first.trace_id_low),
        (trace_high, trace_low)
    );
    assert_eq!(
        first.span_id, root_columns.span_id,
        "the log belongs to the span it was emitted in"
    );
    assert_eq!(
        attribute(log_block, &first.attributes, "user.id"),
        Some(&Value::StringValue("ada".into()))
    );
    let source = first.source.expect("log source location");
    assert_eq!(log_block.str(source.file_path), this_file);
    assert_eq!(source.line, emitted.root_log_line);
    let resource = &log_block.resources[log_block.scopes[first.scope as usize].resource as usize];
    assert_eq!(
        attribute(log_block, &resource.attributes, "service.name"),
        Some(&Value::StringValue(service.into()))
    );

    let (warn_block, warn) = logs
        .iter()
        .find(|(_, l)| l.severity_number == 13)
        .expect("warn log");
    assert_eq!(warn.span_id, child_columns.span_id);
    assert_eq!(
        attribute(warn_block, &warn.attributes, "attempt"),
        Some(&Value::IntValue(2))
    );
    assert_eq!(warn.source.expect("source").line, emitted.child_log_line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_exporters_over_grpc_land_exactly_in_segments() {
    export_and_check(Protocol::Grpc, "e2e-grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_exporters_over_http_land_exactly_in_segments() {
    export_and_check(Protocol::Http, "e2e-http").await;
}
