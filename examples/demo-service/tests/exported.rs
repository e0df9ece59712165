//! Runs requests through the real layer stack into in-memory exporters and
//! checks what an OTLP collector would receive.

use std::collections::HashMap;

use demo_service::{TelemetryConfig, build_telemetry_with_exporters, handle_order};
use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::logs::InMemoryLogExporter;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tracing::instrument::WithSubscriber as _;

fn span_attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_logs_carry_location_and_trace_context() -> anyhow::Result<()> {
    let spans_out = InMemorySpanExporter::default();
    let logs_out = InMemoryLogExporter::default();
    let cfg = TelemetryConfig {
        console: false,
        ..TelemetryConfig::default()
    };
    let (dispatch, guard) =
        build_telemetry_with_exporters(&cfg, spans_out.clone(), logs_out.clone())?;

    // Request 6 succeeds, request 7 is scripted to fail.
    let ok = handle_order(6).with_subscriber(dispatch.clone()).await;
    let failed = handle_order(7).with_subscriber(dispatch).await;
    assert_eq!(ok.status, 200);
    assert_eq!(failed.status, 500);

    let guard = tokio::task::spawn_blocking(move || guard.force_flush().map(|()| guard)).await??;
    let spans = spans_out.get_finished_spans()?;
    let logs = logs_out.get_emitted_logs()?;
    tokio::task::spawn_blocking(move || guard.shutdown()).await??;

    let by_id: HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    for span in &spans {
        let file = span_attr(span, "code.file.path").map(Value::as_str);
        assert!(
            file.as_deref()
                .is_some_and(|f| f.ends_with("src/orders.rs")),
            "{}: {file:?}",
            span.name
        );
        assert!(matches!(span_attr(span, "code.line.number"), Some(Value::I64(n)) if *n > 0));
        assert!(span_attr(span, "code.module.name").is_some());
    }
    assert!(
        spans.iter().all(|s| s.events.is_empty()),
        "span events are off by default"
    );

    let requests: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "GET /orders/{id}")
        .collect();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|s| s.span_kind == SpanKind::Server));
    let failed_request = requests
        .iter()
        // tracing-opentelemetry 0.34 exports u64 span fields as strings.
        .find(|s| span_attr(s, "order.id") == Some(&Value::from("1007")))
        .ok_or_else(|| anyhow::anyhow!("no span for order 1007"))?;
    assert!(matches!(failed_request.status, Status::Error { .. }));

    let queries: Vec<_> = spans.iter().filter(|s| s.name == "SELECT orders").collect();
    assert_eq!(queries.len(), 2);
    for query in &queries {
        assert_eq!(query.span_kind, SpanKind::Client);
        assert_eq!(
            span_attr(query, "db.system.name"),
            Some(&Value::from("postgresql"))
        );
        assert!(
            by_id.contains_key(&query.parent_span_id),
            "db span has its parent"
        );
    }

    assert!(!logs.is_empty());
    for log in &logs {
        let attrs: HashMap<&Key, &AnyValue> =
            log.record.attributes_iter().map(|(k, v)| (k, v)).collect();
        match attrs.get(&Key::new("code.filepath")) {
            Some(AnyValue::String(path)) => assert!(path.as_str().ends_with("src/orders.rs")),
            other => panic!("log without code.filepath: {other:?}"),
        }
        assert!(matches!(attrs.get(&Key::new("code.lineno")), Some(AnyValue::Int(n)) if *n > 0));
        let cx = log
            .record
            .trace_context()
            .ok_or_else(|| anyhow::anyhow!("log record without trace context"))?;
        let span = by_id
            .get(&cx.span_id)
            .ok_or_else(|| anyhow::anyhow!("log record points at an unknown span"))?;
        assert_eq!(span.span_context.trace_id(), cx.trace_id);
    }

    let errors: Vec<_> = logs
        .iter()
        .filter(|l| l.record.severity_number() == Some(Severity::Error))
        .collect();
    assert_eq!(
        errors.len(),
        2,
        "one in the db span, one in the request span"
    );
    assert!(
        errors
            .iter()
            .filter_map(|l| l.record.trace_context())
            .any(|cx| cx.span_id == failed_request.span_context.span_id())
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_events_are_opt_in() -> anyhow::Result<()> {
    let spans_out = InMemorySpanExporter::default();
    let logs_out = InMemoryLogExporter::default();
    let cfg = TelemetryConfig {
        console: false,
        span_events: true,
        ..TelemetryConfig::default()
    };
    let (dispatch, guard) =
        build_telemetry_with_exporters(&cfg, spans_out.clone(), logs_out.clone())?;
    handle_order(1).with_subscriber(dispatch).await;

    let guard = tokio::task::spawn_blocking(move || guard.force_flush().map(|()| guard)).await??;
    let spans = spans_out.get_finished_spans()?;
    let logs = logs_out.get_emitted_logs()?;
    tokio::task::spawn_blocking(move || guard.shutdown()).await??;

    let events: usize = spans.iter().map(|s| s.events.len()).sum();
    assert!(events > 0);
    assert_eq!(events, logs.len(), "every event goes out both ways");
    Ok(())
}
