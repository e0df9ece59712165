//! The one form the SDK tests compare records in (`sdk.rs`): a span or log record as
//! JSON with its resource and scope, ids in lower-case hex, times in nanoseconds as
//! strings, dropped counts, and each attribute value tagged with its OTLP type
//! (`{"int": 42}`, `{"array": [...]}`), so that a value that changed type does not
//! compare equal. The SDK programs (`tests/sdk/*/send.*`) print what their SDK recorded
//! in it; this module reads that and `oculus-collector export`'s OTLP JSON into it.

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, LogsData};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, TracesData, span::SpanKind, status::StatusCode};
use serde_json::{Value, json};

/// Spans and log records in the one form both sides are compared in.
#[derive(Debug, Default)]
pub struct Records {
    pub spans: Vec<Value>,
    pub logs: Vec<Value>,
}

impl Records {
    /// What an SDK program printed: `{"spans": [...], "logs": [...]}`.
    pub fn from_program(stdout: &str) -> Self {
        let printed: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("the SDK program printed no JSON ({e}):\n{stdout}"));
        let list = |key: &str| {
            printed[key]
                .as_array()
                .unwrap_or_else(|| panic!("no {key} list in {printed}"))
                .clone()
        };
        Self {
            spans: list("spans"),
            logs: list("logs"),
        }
    }

    /// What `oculus-collector export` wrote for traces and for logs.
    pub fn from_export(traces: &[String], logs: &[String]) -> Self {
        let mut records = Self::default();
        for line in traces {
            let data: TracesData = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("export wrote no OTLP TracesData ({e}): {line}"));
            for resource_spans in data.resource_spans {
                let resource = resource_attributes(resource_spans.resource.as_ref());
                for scope_spans in resource_spans.scope_spans {
                    let scope = scope(scope_spans.scope.as_ref());
                    for span in &scope_spans.spans {
                        records.spans.push(span_record(&resource, &scope, span));
                    }
                }
            }
        }
        for line in logs {
            let data: LogsData = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("export wrote no OTLP LogsData ({e}): {line}"));
            for resource_logs in data.resource_logs {
                let resource = resource_attributes(resource_logs.resource.as_ref());
                for scope_logs in resource_logs.scope_logs {
                    let scope = scope(scope_logs.scope.as_ref());
                    for record in &scope_logs.log_records {
                        records.logs.push(log_record(&resource, &scope, record));
                    }
                }
            }
        }
        records
    }

    /// The records of one service.
    pub fn of_service(&self, service: &str) -> Self {
        let of = |records: &[Value]| {
            records
                .iter()
                .filter(|r| r["resource"]["service.name"]["string"] == service)
                .cloned()
                .collect()
        };
        Self {
            spans: of(&self.spans),
            logs: of(&self.logs),
        }
    }
}

fn span_record(resource: &Value, scope: &Value, span: &Span) -> Value {
    let events: Vec<_> = span
        .events
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "time": e.time_unix_nano.to_string(),
                "attributes": attributes(&e.attributes),
                "dropped_attributes": e.dropped_attributes_count,
            })
        })
        .collect();
    let links: Vec<_> = span
        .links
        .iter()
        .map(|l| {
            json!({
                "trace_id": hex(&l.trace_id),
                "span_id": hex(&l.span_id),
                "attributes": attributes(&l.attributes),
                "dropped_attributes": l.dropped_attributes_count,
            })
        })
        .collect();
    let status = span.status.clone().unwrap_or_default();
    json!({
        "resource": resource,
        "scope": scope,
        "name": span.name,
        "kind": kind(span.kind),
        "trace_id": hex(&span.trace_id),
        "span_id": hex(&span.span_id),
        "parent_span_id": hex(&span.parent_span_id),
        "start": span.start_time_unix_nano.to_string(),
        "end": span.end_time_unix_nano.to_string(),
        "attributes": attributes(&span.attributes),
        "events": events,
        "links": links,
        "dropped_attributes": span.dropped_attributes_count,
        "dropped_events": span.dropped_events_count,
        "dropped_links": span.dropped_links_count,
        "status": {"code": status_code(status.code), "message": status.message},
    })
}

fn log_record(resource: &Value, scope: &Value, record: &LogRecord) -> Value {
    json!({
        "resource": resource,
        "scope": scope,
        "time": record.time_unix_nano.to_string(),
        "observed_time": record.observed_time_unix_nano.to_string(),
        "severity_number": record.severity_number,
        "severity_text": record.severity_text,
        "body": record.body.as_ref().map_or(Value::Null, tagged),
        "attributes": attributes(&record.attributes),
        "dropped_attributes": record.dropped_attributes_count,
        "event_name": record.event_name,
        "trace_id": hex(&record.trace_id),
        "span_id": hex(&record.span_id),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn kind(kind: i32) -> String {
    let name = SpanKind::try_from(kind).map_or("unknown", |k| k.as_str_name());
    name.trim_start_matches("SPAN_KIND_").to_owned()
}

fn status_code(code: i32) -> String {
    let name = StatusCode::try_from(code).map_or("unknown", |c| c.as_str_name());
    name.trim_start_matches("STATUS_CODE_").to_owned()
}

fn scope(scope: Option<&InstrumentationScope>) -> Value {
    let scope = scope.cloned().unwrap_or_default();
    json!({"name": scope.name, "version": scope.version})
}

fn resource_attributes(resource: Option<&Resource>) -> Value {
    resource.map_or_else(|| json!({}), |r| attributes(&r.attributes))
}

fn attributes(attributes: &[KeyValue]) -> Value {
    let map: BTreeMap<&str, Value> = attributes
        .iter()
        .map(|kv| {
            (
                kv.key.as_str(),
                kv.value.as_ref().map_or(Value::Null, tagged),
            )
        })
        .collect();
    json!(map)
}

/// A value tagged with its OTLP type, as the SDK programs print it.
fn tagged(value: &AnyValue) -> Value {
    match &value.value {
        Some(Any::StringValue(s)) => json!({ "string": s }),
        Some(Any::IntValue(i)) => json!({ "int": i }),
        Some(Any::DoubleValue(d)) => json!({ "double": d }),
        Some(Any::BoolValue(b)) => json!({ "bool": b }),
        Some(Any::ArrayValue(array)) => {
            json!({ "array": array.values.iter().map(tagged).collect::<Vec<_>>() })
        }
        Some(Any::KvlistValue(list)) => json!({ "map": attributes(&list.values) }),
        Some(Any::BytesValue(bytes)) => json!({ "bytes": hex(bytes) }),
        // A profiles-only form the SDKs never send for spans and logs.
        Some(Any::StringValueStrindex(index)) => json!({ "string_index": index }),
        None => Value::Null,
    }
}

/// Every record the SDK recorded arrived, each exactly as recorded, and nothing else.
#[track_caller]
pub fn assert_same_records(what: &str, sent: &[Value], exported: &[Value], log: &str) {
    let sent: BTreeSet<String> = sent.iter().map(Value::to_string).collect();
    let exported: BTreeSet<String> = exported.iter().map(Value::to_string).collect();
    let missing: Vec<_> = sent.difference(&exported).collect();
    let unexpected: Vec<_> = exported.difference(&sent).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{what}: {} recorded by the SDK, {} exported\n\
         recorded but not exported (or changed):\n{}\n\
         exported but not recorded (or changed):\n{}\ncollector log:\n{log}",
        sent.len(),
        exported.len(),
        lines(&missing),
        lines(&unexpected),
    );
}

fn lines(records: &[&String]) -> String {
    records
        .iter()
        .map(|r| format!("  {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}
