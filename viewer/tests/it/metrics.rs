//! The Metrics view driven through the real app: OTLP metric exports (counters, an
//! up-down counter, a gauge, a histogram with exemplars) sent over gRPC to a real
//! collector, then the instruments, series, charts and exemplar links as a user sees
//! them, on a recorded run and live.
//!
//! The requests are built by hand rather than by an SDK's meter so that every time,
//! value and exemplar (with the trace id of a span also sent) is known exactly.

use egui_kittest::kittest::Queryable as _;
use oculus_viewer::metrics::Chart;
use oculus_viewer::snapshot::Analysis;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1 as otlp;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::app_fixture::{Fixture, app_over, live_app_over};
use crate::common::{export_demo, runtime, start_collector};

const S: u64 = 1_000_000_000;
const EXEMPLAR_TRACE: u128 = 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c;
/// The service that sends only metrics.
const METER: &str = "meter-svc";

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![text("service.name", service)],
        ..Default::default()
    })
}

fn number(time: u64, value: otlp::number_data_point::Value) -> otlp::NumberDataPoint {
    otlp::NumberDataPoint {
        attributes: vec![text("route", "/checkout")],
        start_time_unix_nano: 1,
        time_unix_nano: time,
        value: Some(value),
        ..Default::default()
    }
}

fn histogram(time: u64, counts: Vec<u64>) -> otlp::HistogramDataPoint {
    otlp::HistogramDataPoint {
        attributes: vec![text("route", "/checkout")],
        start_time_unix_nano: time - S,
        time_unix_nano: time,
        count: counts.iter().sum(),
        bucket_counts: counts,
        explicit_bounds: vec![10.0, 20.0, 40.0],
        exemplars: vec![otlp::Exemplar {
            time_unix_nano: time,
            trace_id: EXEMPLAR_TRACE.to_be_bytes().to_vec(),
            span_id: 7u64.to_be_bytes().to_vec(),
            value: Some(otlp::exemplar::Value::AsDouble(12.0)),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn metric(name: &str, unit: &str, data: otlp::metric::Data) -> otlp::Metric {
    otlp::Metric {
        name: name.into(),
        description: format!("the {name} of the test"),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

/// One export of every kind of instrument at `times` (seconds after `base`):
/// `orders.placed` counts `orders` at them, `queue.depth` holds `depths`, ...
fn request(service: &str, base: u64, times: &[u64], orders: &[i64]) -> ExportMetricsServiceRequest {
    use otlp::number_data_point::Value;
    let at = |i: usize| base + times[i] * S;
    let metrics = vec![
        metric(
            "orders.placed",
            "{order}",
            otlp::metric::Data::Sum(otlp::Sum {
                data_points: (0..times.len())
                    .map(|i| number(at(i), Value::AsInt(orders[i])))
                    .collect(),
                aggregation_temporality: otlp::AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        ),
        metric(
            "queue.depth",
            "{item}",
            otlp::metric::Data::Sum(otlp::Sum {
                data_points: (0..times.len())
                    .map(|i| number(at(i), Value::AsInt(3 - i as i64)))
                    .collect(),
                aggregation_temporality: otlp::AggregationTemporality::Cumulative as i32,
                is_monotonic: false,
            }),
        ),
        metric(
            "cpu.temperature",
            "Cel",
            otlp::metric::Data::Gauge(otlp::Gauge {
                data_points: (0..times.len())
                    .map(|i| number(at(i), Value::AsDouble(40.5 + i as f64)))
                    .collect(),
            }),
        ),
        metric(
            "request.duration",
            "ms",
            otlp::metric::Data::Histogram(otlp::Histogram {
                // Each interval's own counts: 10 values in (10, 20], then 4 in (20, 40].
                data_points: (0..times.len())
                    .map(|i| {
                        histogram(
                            at(i),
                            if i % 2 == 0 {
                                vec![0, 10, 0, 0]
                            } else {
                                vec![0, 0, 4, 0]
                            },
                        )
                    })
                    .collect(),
                aggregation_temporality: otlp::AggregationTemporality::Delta as i32,
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![otlp::ResourceMetrics {
            resource: resource(service),
            scope_metrics: vec![otlp::ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn send_metrics(grpc: std::net::SocketAddr, request: ExportMetricsServiceRequest) {
    let mut client = MetricsServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    client.export(request).await.unwrap();
}

/// The span the histogram's exemplars point at.
async fn send_exemplar_span(grpc: std::net::SocketAddr, base: u64) {
    let mut client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    let span = Span {
        trace_id: EXEMPLAR_TRACE.to_be_bytes().to_vec(),
        span_id: 7u64.to_be_bytes().to_vec(),
        name: "slow checkout".into(),
        start_time_unix_nano: base,
        end_time_unix_nano: base + S / 50,
        ..Default::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource("checkout"),
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    client.export(request).await.unwrap();
}

fn base_time() -> u64 {
    // A minute ago: inside any tab's time range.
    oculus_viewer::time::now_unix_nano() - 60 * S
}

/// A finished run: the demo service's logs and spans, the exemplar's span, and the
/// metrics of `checkout` and of a service that sends nothing else.
fn recorded_metrics_run(base: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    runtime.block_on(async {
        let collector = start_collector(dir.path()).await;
        export_demo(&collector, "checkout", 2).await;
        send_exemplar_span(collector.grpc_addr(), base).await;
        send_metrics(
            collector.grpc_addr(),
            request("checkout", base, &[1, 3, 4], &[10, 30, 35]),
        )
        .await;
        send_metrics(
            collector.grpc_addr(),
            request(METER, base, &[1, 2], &[4, 6]),
        )
        .await;
        collector.shutdown().await.unwrap();
    });
    dir
}

/// Clicks the tab of a service, once it has one.
fn show_tab(fixture: &mut Fixture, service: &str) {
    fixture.wait("the service's tab", |app| {
        app.tabs().iter().any(|t| t.name == service)
    });
    let at = fixture
        .app()
        .tabs()
        .iter()
        .position(|t| t.name == service)
        .unwrap();
    fixture
        .harness
        .get_by_label(&format!("{} {service}", at + 1))
        .click();
    fixture.wait("the service's tab shown", |app| {
        app.tab().name == service && app.rows_are_current()
    });
}

fn open_metrics(fixture: &mut Fixture) {
    fixture.keys("M");
    fixture.wait("the Metrics view", |app| {
        app.snapshot_is_current()
            && app
                .snapshot()
                .metrics
                .as_ref()
                .is_some_and(|m| !m.services.is_empty())
    });
}

fn chart(fixture: &Fixture) -> Chart {
    fixture
        .app()
        .snapshot()
        .metrics
        .as_ref()
        .unwrap()
        .chart
        .clone()
        .unwrap()
}

/// Clicks a series' row and waits for its chart.
fn select_series(fixture: &mut Fixture, label: &str, points: usize) {
    fixture.harness.get_by_label(label).click();
    fixture.harness.step();
    let title = label.to_owned();
    fixture.wait(label, |app| {
        app.snapshot()
            .metrics
            .as_ref()
            .and_then(|m| m.chart.as_ref())
            .is_some_and(|c| {
                c.title == title && c.lines.first().is_some_and(|l| l.points.len() >= points)
            })
    });
}

#[test]
fn the_metrics_view_lists_instruments_and_charts_what_was_sent() {
    let base = base_time();
    let mut fixture = app_over(recorded_metrics_run(base));
    show_tab(&mut fixture, "checkout");
    open_metrics(&mut fixture);
    fixture.harness.run();
    for heading in [
        "orders.placed · {order} · counter",
        "queue.depth · {item} · up-down counter",
        "cpu.temperature · Cel · gauge",
        "request.duration · ms · histogram",
    ] {
        assert!(
            fixture.harness.query_all_by_label(heading).count() >= 1,
            "{heading}"
        );
    }
    fixture
        .harness
        .get_by_label("the orders.placed of the test");

    // A cumulative counter as its rate: 20 more over 2 s, then 5 over 1 s.
    select_series(&mut fixture, "orders.placed {route=/checkout}", 2);
    let counter = chart(&fixture);
    assert_eq!(
        counter.lines[0].points,
        [(base + 3 * S, 10.0), (base + 4 * S, 5.0)]
    );
    assert_eq!(counter.axis_label, "rate per second ({order}/s)");
    fixture.harness.get_by_label("rate per second ({order}/s)");
    // Its totals, a click away.
    fixture.harness.get_by_label("Total").click();
    fixture.harness.run();
    assert!(fixture.app().tab().metric_totals);
    fixture.harness.get_by_label("total ({order})");
    let totals = counter.totals.unwrap().points;
    assert_eq!(
        totals,
        [(base + S, 10.0), (base + 3 * S, 30.0), (base + 4 * S, 35.0)]
    );

    // A gauge as its values.
    select_series(&mut fixture, "cpu.temperature {route=/checkout}", 3);
    let gauge = chart(&fixture);
    assert_eq!(
        gauge.lines[0].points,
        [(base + S, 40.5), (base + 3 * S, 41.5), (base + 4 * S, 42.5)]
    );
    fixture.harness.get_by_label("value (Cel)");

    // A histogram as percentiles per interval, and its latest buckets.
    select_series(&mut fixture, "request.duration {route=/checkout}", 3);
    let durations = chart(&fixture);
    let p50: Vec<f64> = durations.lines[0].points.iter().map(|p| p.1).collect();
    assert_eq!(p50, [15.0, 30.0, 15.0]);
    let p99 = durations.lines[2].points[1].1;
    assert!((p99 - 39.8).abs() < 1e-9, "{p99}");
    let latest = durations.distribution.unwrap();
    assert_eq!(
        latest.buckets.iter().map(|b| b.2).collect::<Vec<_>>(),
        [0, 10, 0, 0]
    );
    assert_eq!(durations.exemplars.len(), 3);

    // An exemplar opens its trace.
    fixture
        .harness
        .get_all_by_label("trace 0af76519 (12)")
        .next()
        .unwrap()
        .click();
    fixture.wait("the exemplar's trace", |app| {
        app.snapshot()
            .trace
            .as_ref()
            .is_some_and(|t| t.trace_id == EXEMPLAR_TRACE)
    });
    let tab = fixture.app().tab();
    assert_eq!(tab.open_trace, Some(EXEMPLAR_TRACE));
    // The trace shows over the Metrics view, which Esc comes back to.
    assert_eq!(tab.analysis, Some(Analysis::Metrics));
    assert!(fixture.app().waterfall().is_some());
    let trace = fixture.app().snapshot().trace.clone().unwrap();
    assert_eq!(trace.spans[0].name, "slow checkout");
    fixture.harness.key_press(egui::Key::Escape);
    fixture.harness.run();
    assert_eq!(fixture.app().tab().open_trace, None);
    assert_eq!(fixture.app().tab().analysis, Some(Analysis::Metrics));
    fixture.harness.key_press(egui::Key::Escape);
    fixture.harness.run();
    assert_eq!(fixture.app().tab().analysis, None);
}

#[test]
fn a_service_that_sends_only_metrics_gets_a_tab_that_shows_them() {
    let base = base_time();
    let mut fixture = app_over(recorded_metrics_run(base));
    fixture.wait("the metrics-only service's tab", |app| {
        app.tabs().iter().any(|t| t.name == METER)
    });
    let at = fixture
        .app()
        .tabs()
        .iter()
        .position(|t| t.name == METER)
        .unwrap();
    fixture
        .harness
        .get_by_label(&format!("{} {METER}", at + 1))
        .click();
    fixture.wait("its empty lists", |app| {
        app.rows_are_current() && app.snapshot().logs.progress.is_none()
    });
    fixture.harness.run();
    fixture.harness.get_by_label("Show metrics").click();
    fixture.wait("its metrics", |app| {
        app.snapshot()
            .metrics
            .as_ref()
            .is_some_and(|m| !m.services.is_empty())
    });
    let view = fixture.app().snapshot().metrics.clone().unwrap();
    let services: Vec<&str> = view.services.iter().map(|s| &*s.service).collect();
    assert_eq!(services, [METER], "only its own service's");
    assert_eq!(view.services[0].instruments.len(), 4);
    select_series(&mut fixture, "orders.placed {route=/checkout}", 1);
    assert_eq!(chart(&fixture).lines[0].points, [(base + 2 * S, 2.0)]);
}

#[test]
fn points_arriving_while_the_view_is_open_extend_the_series() {
    let base = base_time();
    let mut fixture = live_app_over(tempfile::tempdir().unwrap());
    let grpc = fixture.collector.as_ref().unwrap().grpc_addr();
    let send = |fixture: &mut Fixture, request| {
        fixture.harness.step();
        runtime().block_on(send_metrics(grpc, request));
    };
    send(&mut fixture, request(METER, base, &[1, 2], &[1, 3]));
    open_metrics(&mut fixture);
    fixture.harness.run();
    select_series(&mut fixture, "orders.placed {route=/checkout}", 1);
    assert_eq!(chart(&fixture).lines[0].points, [(base + 2 * S, 2.0)]);

    send(&mut fixture, request(METER, base, &[4, 5], &[7, 12]));
    fixture.wait("the new points", |app| {
        app.snapshot()
            .metrics
            .as_ref()
            .and_then(|m| m.chart.as_ref())
            .is_some_and(|c| c.lines[0].points.len() == 3)
    });
    assert_eq!(
        chart(&fixture).lines[0].points,
        [
            (base + 2 * S, 2.0),
            (base + 4 * S, 2.0),
            (base + 5 * S, 5.0)
        ]
    );
    let spark =
        &fixture.app().snapshot().metrics.as_ref().unwrap().services[0].instruments[1].series[0];
    assert_eq!(spark.points, 4);
}
