//! Small OTLP messages for the unit tests.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, LogsData, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, MetricsData, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, TracesData};

use crate::data::Data;

pub fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(service.into())),
            }),
            ..KeyValue::default()
        }],
        ..Resource::default()
    })
}

pub fn span(n: u8, start: u64) -> Span {
    Span {
        trace_id: vec![n; 16],
        span_id: vec![n; 8],
        name: format!("span {n}"),
        kind: 1,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 10,
        ..Span::default()
    }
}

pub fn traces(service: &str, spans: Vec<Span>) -> Data {
    Data::Traces(TracesData {
        resource_spans: vec![ResourceSpans {
            resource: resource(service),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            schema_url: String::new(),
        }],
    })
}

pub fn log(time: u64, trace: Option<u8>) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        severity_number: 9,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(format!("at {time}"))),
        }),
        trace_id: trace.map(|n| vec![n; 16]).unwrap_or_default(),
        ..LogRecord::default()
    }
}

pub fn logs(service: &str, log_records: Vec<LogRecord>) -> Data {
    Data::Logs(LogsData {
        resource_logs: vec![ResourceLogs {
            resource: resource(service),
            scope_logs: vec![ScopeLogs {
                log_records,
                ..ScopeLogs::default()
            }],
            schema_url: String::new(),
        }],
    })
}

pub fn gauge(service: &str, times: &[u64]) -> Data {
    let data_points = times
        .iter()
        .map(|&time| NumberDataPoint {
            time_unix_nano: time,
            ..NumberDataPoint::default()
        })
        .collect();
    Data::Metrics(MetricsData {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(service),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "queue.depth".into(),
                    data: Some(metric::Data::Gauge(Gauge { data_points })),
                    ..Metric::default()
                }],
                ..ScopeMetrics::default()
            }],
            schema_url: String::new(),
        }],
    })
}
