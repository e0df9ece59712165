//! Everything received is kept: exporting the stored segments yields exactly the OTLP
//! that came in, for every signal, through the library and through the CLI.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::LogsData;
use opentelemetry_proto::tonic::metrics::v1::{
    Histogram, HistogramDataPoint, Metric, MetricsData, Sum, metric,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status, TracesData};

use crate::{int_attribute, log, logs_request, metrics_request, span, start, string_attribute};

fn rich_value() -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: vec![
                string_attribute("nested", "yes"),
                opentelemetry_proto::tonic::common::v1::KeyValue {
                    key: "list".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                            values: vec![
                                AnyValue {
                                    value: Some(any_value::Value::BoolValue(false)),
                                },
                                AnyValue {
                                    value: Some(any_value::Value::DoubleValue(-1.5)),
                                },
                                AnyValue {
                                    value: Some(any_value::Value::BytesValue(vec![0, 255])),
                                },
                                AnyValue { value: None },
                            ],
                        })),
                    }),
                    ..Default::default()
                },
            ],
        })),
    }
}

pub(crate) fn rich_traces() -> TracesData {
    let mut first = span(1);
    first.trace_state = "vendor=value".into();
    first.flags = 0x101;
    first.parent_span_id = 9u64.to_be_bytes().to_vec();
    first.dropped_attributes_count = 3;
    first
        .attributes
        .push(opentelemetry_proto::tonic::common::v1::KeyValue {
            key: "payload".into(),
            value: Some(rich_value()),
            ..Default::default()
        });
    first.events = vec![Event {
        time_unix_nano: first.start_time_unix_nano + 10,
        name: "exception".into(),
        attributes: vec![string_attribute("exception.type", "Timeout")],
        dropped_attributes_count: 1,
    }];
    first.dropped_events_count = 2;
    first.links = vec![Link {
        trace_id: vec![7; 16],
        span_id: vec![8; 8],
        trace_state: "k=v".into(),
        attributes: vec![int_attribute("link.n", 1)],
        dropped_attributes_count: 4,
        flags: 1,
    }];
    first.dropped_links_count = 5;
    first.status = Some(Status {
        message: "deadline exceeded".into(),
        code: 2,
    });
    // A span that ends before it starts and one with no timestamps are kept as sent.
    let mut backwards = span(2);
    backwards.end_time_unix_nano = backwards.start_time_unix_nano - 7;
    let mut untimed = span(3);
    untimed.start_time_unix_nano = 0;
    untimed.end_time_unix_nano = 0;
    TracesData {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        string_attribute("service.name", "a"),
                        int_attribute("pid", 7),
                    ],
                    dropped_attributes_count: 1,
                    entity_refs: vec![
                        EntityRef {
                            schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
                            r#type: "service".into(),
                            id_keys: vec!["service.name".into()],
                            description_keys: vec!["service.version".into()],
                        },
                        EntityRef::default(),
                    ],
                }),
                scope_spans: vec![
                    ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "first".into(),
                            version: "1".into(),
                            attributes: vec![string_attribute("scope.attr", "x")],
                            dropped_attributes_count: 2,
                        }),
                        spans: vec![first, backwards],
                        schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
                    },
                    ScopeSpans {
                        scope: Some(InstrumentationScope::default()),
                        spans: vec![untimed],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.29.0".into(),
            },
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string_attribute("service.name", "b")],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    spans: vec![span(4)],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

pub(crate) fn rich_logs() -> LogsData {
    let mut request = logs_request(vec![log(1), log(2), log(3)]);
    let records = &mut request.resource_logs[0].scope_logs[0].log_records;
    records[0].body = Some(rich_value());
    records[0].trace_id = vec![3; 16];
    records[0].span_id = vec![4; 8];
    records[0].flags = 1;
    records[0].event_name = "order.placed".into();
    records[0].dropped_attributes_count = 6;
    // The log bridge of several SDKs leaves the event time unset.
    records[1].time_unix_nano = 0;
    records[2].body = None;
    records[2]
        .attributes
        .push(string_attribute("code.filepath", "app/models.py"));
    records[2].attributes.push(int_attribute("code.lineno", 12));
    LogsData {
        resource_logs: request.resource_logs,
    }
}

pub(crate) fn rich_metrics() -> MetricsData {
    let mut request = metrics_request(2);
    let metrics = &mut request.resource_metrics[0].scope_metrics[0].metrics;
    metrics.push(Metric {
        name: "requests".into(),
        description: "served requests".into(),
        unit: "{request}".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Metric::default()
    });
    metrics.push(Metric {
        name: "latency".into(),
        unit: "ms".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                start_time_unix_nano: 1,
                time_unix_nano: 2,
                count: 3,
                sum: Some(4.5),
                bucket_counts: vec![1, 2],
                explicit_bounds: vec![10.0],
                ..HistogramDataPoint::default()
            }],
            aggregation_temporality: 1,
        })),
        ..Metric::default()
    });
    MetricsData {
        resource_metrics: request.resource_metrics,
    }
}

#[tokio::test]
async fn stored_records_export_back_exactly() {
    let running = start().await;
    let traces = rich_traces();
    let logs = rich_logs();
    let metrics = rich_metrics();
    let url = running.grpc_url();
    TraceServiceClient::connect(url.clone())
        .await
        .expect("connect")
        .export(
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
                resource_spans: traces.resource_spans.clone(),
            },
        )
        .await
        .expect("traces");
    LogsServiceClient::connect(url.clone())
        .await
        .expect("connect")
        .export(
            opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
                resource_logs: logs.resource_logs.clone(),
            },
        )
        .await
        .expect("logs");
    MetricsServiceClient::connect(url)
        .await
        .expect("connect")
        .export(
            opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest {
                resource_metrics: metrics.resource_metrics.clone(),
            },
        )
        .await
        .expect("metrics");
    let crate::Running { collector, dir } = running;
    collector.shutdown().await.expect("shutdown");
    let root = dir.path().to_path_buf();
    let blocks = crate::read_blocks(&root);
    assert_eq!(blocks.len(), 3);
    assert_eq!(oculus_otlp::export::traces(&blocks[0]), traces);
    assert_eq!(oculus_otlp::export::logs(&blocks[1]), logs);
    assert_eq!(
        oculus_otlp::export::metrics(&blocks[2]).expect("metrics"),
        metrics
    );

    // The log with the older code.* names still gets a first-class source location.
    let source = blocks[1].logs[2].source.expect("source");
    assert_eq!(blocks[1].str(source.file_path), "app/models.py");
    assert_eq!(source.line, 12);

    // The CLI writes the same as OTLP JSON Lines, one line per stored request.
    let cli = |signal: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
            .args(["export", "--format", "otlp-json", "--signal", signal])
            .arg(&root)
            .output()
            .expect("export runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let lines = cli("traces");
    assert_eq!(lines.lines().count(), 1);
    let parsed: TracesData = serde_json::from_str(lines.trim_end()).expect("TracesData JSON");
    assert_eq!(parsed, traces);
    let parsed: LogsData = serde_json::from_str(cli("logs").trim_end()).expect("LogsData JSON");
    assert_eq!(parsed, logs);
    let parsed: MetricsData =
        serde_json::from_str(cli("metrics").trim_end()).expect("MetricsData JSON");
    assert_eq!(parsed, metrics);

    let check = std::process::Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
        .arg("check")
        .arg(&root)
        .output()
        .expect("check runs");
    let summary = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{summary}");
    assert!(summary.contains("spans             4"), "{summary}");
    assert!(summary.contains("log records       3"), "{summary}");
    assert!(summary.contains("metric points     3"), "{summary}");
    assert!(summary.contains("status            ok"), "{summary}");
}

/// Past the first 32 KiB of blocks of a kind, blocks are compressed with a dictionary
/// sampled from them; what is stored still exports exactly as it came.
#[tokio::test]
async fn dictionary_compressed_blocks_export_exactly() {
    use oculus_store::frame::{FrameKind, FrameRead, HEADER_LEN, read_frame};

    let running = start().await;
    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    let mut sent = Vec::new();
    for request in 0..12u64 {
        let spans = (request * 200..request * 200 + 200).map(span).collect();
        let request = crate::traces_request(spans);
        client.export(request.clone()).await.expect("accepted");
        sent.push(TracesData {
            resource_spans: request.resource_spans,
        });
    }
    let crate::Running { collector, dir } = running;
    let session = collector.session().to_path_buf();
    collector.shutdown().await.expect("shutdown");
    let blocks = crate::read_blocks(dir.path());
    let exported: Vec<TracesData> = blocks.iter().map(oculus_otlp::export::traces).collect();
    assert_eq!(exported, sent);

    let data = std::fs::read(session.join("segment-00000001.oseg")).expect("segment");
    let mut offset = HEADER_LEN;
    let (mut dictionaries, mut with_dictionary) = (0, 0);
    while let FrameRead::Complete(frame) = read_frame(&data, offset) {
        match frame.kind {
            FrameKind::Dictionary => dictionaries += 1,
            FrameKind::Block if frame.dictionary() != 0 => with_dictionary += 1,
            _ => {}
        }
        offset = frame.end();
    }
    assert_eq!(dictionaries, 1);
    assert!(
        with_dictionary >= 8,
        "{with_dictionary} of 12 blocks used the dictionary"
    );
}
