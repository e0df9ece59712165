//! OTLP requests into the store's own model, once, at the boundary.
//!
//! Values are moved, not copied, out of the decoded request. Records with ids of the
//! wrong length are rejected one by one (reported as partial success); everything
//! else is kept exactly, so exporting it again yields what came in.

use oculus_store::block::{SpanColumns, event_time_offset};
use oculus_store::proto::{
    self, AnyValue, ArrayValue, KeyValue, KeyValueList, Resource, Scope, SourceLocation, any_value,
};
use oculus_store::{BlockBuilder, proto::Block};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as otlp_common;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Otlp;
use opentelemetry_proto::tonic::metrics::v1 as otlp_metrics;
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use prost::Message;

use crate::ids::{log_ids, parent_span_id, required_span_id, required_trace_id};

/// A request turned into a block, with what had to be left out and why.
#[derive(Debug)]
pub struct Normalized {
    pub block: Block,
    pub rejected: u64,
    /// The first reason a record was rejected, for the partial-success message.
    pub reject_reason: Option<String>,
}

#[derive(Default)]
struct Rejections {
    count: u64,
    first_reason: Option<String>,
}

impl Rejections {
    fn reject(&mut self, reason: impl FnOnce() -> String) {
        self.count += 1;
        if self.first_reason.is_none() {
            self.first_reason = Some(reason());
        }
    }

    fn finish(self, block: Block) -> Normalized {
        Normalized {
            block,
            rejected: self.count,
            reject_reason: self.first_reason,
        }
    }
}

pub fn traces(request: ExportTraceServiceRequest) -> Normalized {
    let mut builder = BlockBuilder::new();
    let first_start = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|span| span.start_time_unix_nano)
        .find(|&time| time != 0);
    builder.set_base_time(first_start.unwrap_or_default());
    let mut rejections = Rejections::default();
    for resource_spans in request.resource_spans {
        let resource = add_resource(
            &mut builder,
            resource_spans.resource,
            &resource_spans.schema_url,
        );
        for scope_spans in resource_spans.scope_spans {
            let scope = add_scope(
                &mut builder,
                resource,
                scope_spans.scope,
                &scope_spans.schema_url,
            );
            for span in scope_spans.spans {
                match self::span(&mut builder, scope, span) {
                    Ok((span, columns)) => builder.push_span(span, columns),
                    Err(reason) => rejections.reject(|| reason),
                }
            }
        }
    }
    rejections.finish(builder.finish())
}

pub fn logs(request: ExportLogsServiceRequest) -> Normalized {
    let mut builder = BlockBuilder::new();
    let first_time = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .flat_map(|log| [log.time_unix_nano, log.observed_time_unix_nano])
        .find(|&time| time != 0);
    builder.set_base_time(first_time.unwrap_or_default());
    let mut rejections = Rejections::default();
    for resource_logs in request.resource_logs {
        let resource = add_resource(
            &mut builder,
            resource_logs.resource,
            &resource_logs.schema_url,
        );
        for scope_logs in resource_logs.scope_logs {
            let scope = add_scope(
                &mut builder,
                resource,
                scope_logs.scope,
                &scope_logs.schema_url,
            );
            for record in scope_logs.log_records {
                match log(&mut builder, scope, record) {
                    Ok((record, time, observed)) => builder.push_log(record, time, observed),
                    Err(reason) => rejections.reject(|| reason),
                }
            }
        }
    }
    rejections.finish(builder.finish())
}

pub fn metrics(request: ExportMetricsServiceRequest) -> Normalized {
    let mut builder = BlockBuilder::new();
    for resource_metrics in request.resource_metrics {
        let resource = add_resource(
            &mut builder,
            resource_metrics.resource,
            &resource_metrics.schema_url,
        );
        for scope_metrics in resource_metrics.scope_metrics {
            let scope = add_scope(
                &mut builder,
                resource,
                scope_metrics.scope,
                &scope_metrics.schema_url,
            );
            for metric in scope_metrics.metrics {
                let name = builder.intern(&metric.name);
                let data_points = data_point_count(&metric);
                builder.block_mut().metrics.push(proto::Metric {
                    scope,
                    name,
                    otlp_metric: metric.encode_to_vec(),
                    data_points,
                });
            }
        }
    }
    Rejections::default().finish(builder.finish())
}

pub(crate) fn data_point_count(metric: &otlp_metrics::Metric) -> u32 {
    use otlp_metrics::metric::Data;
    let count = match &metric.data {
        Some(Data::Gauge(gauge)) => gauge.data_points.len(),
        Some(Data::Sum(sum)) => sum.data_points.len(),
        Some(Data::Histogram(histogram)) => histogram.data_points.len(),
        Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
        Some(Data::Summary(summary)) => summary.data_points.len(),
        None => 0,
    };
    u32::try_from(count).unwrap_or(u32::MAX)
}

fn add_resource(
    builder: &mut BlockBuilder,
    resource: Option<OtlpResource>,
    schema_url: &str,
) -> u32 {
    let resource = resource.unwrap_or_default();
    let schema_url = builder.intern(schema_url);
    let (attributes, _) = attributes(builder, resource.attributes);
    builder.add_resource(Resource {
        attributes,
        dropped_attributes_count: resource.dropped_attributes_count,
        schema_url,
        entity_refs: resource
            .entity_refs
            .iter()
            .map(Message::encode_to_vec)
            .collect(),
    })
}

fn add_scope(
    builder: &mut BlockBuilder,
    resource: u32,
    scope: Option<otlp_common::InstrumentationScope>,
    schema_url: &str,
) -> u32 {
    let scope = scope.unwrap_or_default();
    let name = builder.intern(&scope.name);
    let version = builder.intern(&scope.version);
    let schema_url = builder.intern(schema_url);
    let (attributes, _) = attributes(builder, scope.attributes);
    builder.add_scope(Scope {
        resource,
        name,
        version,
        attributes,
        dropped_attributes_count: scope.dropped_attributes_count,
        schema_url,
    })
}

fn span(
    builder: &mut BlockBuilder,
    scope: u32,
    span: opentelemetry_proto::tonic::trace::v1::Span,
) -> Result<(proto::Span, SpanColumns), String> {
    let (trace_id_high, trace_id_low) = required_trace_id(&span.trace_id, "span")?;
    let span_id = required_span_id(&span.span_id, "span")?;
    let parent_span_id = parent_span_id(&span.parent_span_id)?;
    let mut links = Vec::with_capacity(span.links.len());
    for link in span.links {
        let (trace_id_high, trace_id_low) = required_trace_id(&link.trace_id, "link")?;
        let span_id = required_span_id(&link.span_id, "link")?;
        let (attributes, _) = attributes(builder, link.attributes);
        links.push(proto::Link {
            trace_id_high,
            trace_id_low,
            span_id,
            trace_state: link.trace_state,
            attributes,
            dropped_attributes_count: link.dropped_attributes_count,
            flags: link.flags,
        });
    }
    let columns = SpanColumns {
        span_id,
        parent_span_id,
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
    };
    let name = builder.intern(&span.name);
    let (span_attributes, source) = attributes(builder, span.attributes);
    let events = span
        .events
        .into_iter()
        .map(|event| {
            let time_offset_nano =
                event_time_offset(span.start_time_unix_nano, event.time_unix_nano);
            let name = builder.intern(&event.name);
            let (attributes, _) = attributes(builder, event.attributes);
            proto::Event {
                time_offset_nano,
                name,
                attributes,
                dropped_attributes_count: event.dropped_attributes_count,
            }
        })
        .collect();
    let status = span.status.unwrap_or_default();
    let span = proto::Span {
        scope,
        trace_id_high,
        trace_id_low,
        trace_state: span.trace_state,
        flags: span.flags,
        name,
        kind: span.kind,
        attributes: span_attributes,
        dropped_attributes_count: span.dropped_attributes_count,
        events,
        dropped_events_count: span.dropped_events_count,
        links,
        dropped_links_count: span.dropped_links_count,
        status_code: status.code,
        status_message: status.message,
        source,
        // Set when the span joins the block, once it is known to be accepted.
        trace_ref: 0,
    };
    Ok((span, columns))
}

/// A log record, with its event and observed times for the block's columns.
fn log(
    builder: &mut BlockBuilder,
    scope: u32,
    record: opentelemetry_proto::tonic::logs::v1::LogRecord,
) -> Result<(proto::LogRecord, u64, u64), String> {
    let ((trace_id_high, trace_id_low), span_id) = log_ids(&record.trace_id, &record.span_id)?;
    let severity_text = builder.intern(&record.severity_text);
    let event_name = builder.intern(&record.event_name);
    let body = record.body.map(|body| any_value(builder, body));
    let (attributes, source) = attributes(builder, record.attributes);
    let stored = proto::LogRecord {
        scope,
        severity_number: record.severity_number,
        severity_text,
        body,
        attributes,
        dropped_attributes_count: record.dropped_attributes_count,
        flags: record.flags,
        trace_id_high,
        trace_id_low,
        span_id,
        event_name,
        source,
        ..proto::LogRecord::default()
    };
    Ok((
        stored,
        record.time_unix_nano,
        record.observed_time_unix_nano,
    ))
}

/// Converts attributes, lifting the code.* source location out along the way
/// (both the current semantic conventions and the older names).
fn attributes(
    builder: &mut BlockBuilder,
    attributes: Vec<otlp_common::KeyValue>,
) -> (Vec<KeyValue>, Option<SourceLocation>) {
    let mut out = Vec::with_capacity(attributes.len());
    let mut file = None;
    let mut line = 0u32;
    let mut function = None;
    let mut namespace = None;
    for attribute in attributes {
        let key = builder.intern(&attribute.key);
        let value = attribute.value.as_ref().and_then(|v| v.value.as_ref());
        match (attribute.key.as_str(), value) {
            ("code.file.path" | "code.filepath", Some(Otlp::StringValue(path))) => {
                file = Some(builder.intern(path));
            }
            ("code.line.number" | "code.lineno", Some(value)) => {
                line = line_of(value).unwrap_or(line);
            }
            ("code.function.name" | "code.function", Some(Otlp::StringValue(name))) => {
                function = Some(name.clone());
            }
            ("code.namespace" | "code.module.name", Some(Otlp::StringValue(name))) => {
                namespace = Some(name.clone());
            }
            _ => {}
        }
        let value = attribute.value.map(|v| any_value(builder, v));
        out.push(KeyValue { key, value });
    }
    if file.is_none() && function.is_none() && namespace.is_none() {
        return (out, None);
    }
    let function = match (function, namespace) {
        (Some(function), Some(namespace)) if !function.contains(&namespace) => {
            builder.intern(&format!("{namespace}::{function}"))
        }
        (Some(function), _) => builder.intern(&function),
        (None, Some(namespace)) => builder.intern(&namespace),
        (None, None) => 0,
    };
    let source = SourceLocation {
        file_path: file.unwrap_or(0),
        line,
        function,
    };
    (out, Some(source))
}

fn line_of(value: &Otlp) -> Option<u32> {
    match value {
        Otlp::IntValue(line) => u32::try_from(*line).ok(),
        Otlp::StringValue(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn any_value(builder: &mut BlockBuilder, value: otlp_common::AnyValue) -> AnyValue {
    let value = value.value.and_then(|value| {
        Some(match value {
            Otlp::StringValue(text) => any_value::Value::StringValue(text),
            Otlp::BoolValue(b) => any_value::Value::BoolValue(b),
            Otlp::IntValue(i) => any_value::Value::IntValue(i),
            Otlp::DoubleValue(d) => any_value::Value::DoubleValue(d),
            Otlp::BytesValue(bytes) => any_value::Value::BytesValue(bytes),
            Otlp::ArrayValue(array) => any_value::Value::ArrayValue(ArrayValue {
                values: array
                    .values
                    .into_iter()
                    .map(|v| any_value(builder, v))
                    .collect(),
            }),
            Otlp::KvlistValue(list) => any_value::Value::KvlistValue(KeyValueList {
                values: list
                    .values
                    .into_iter()
                    .map(|kv| KeyValue {
                        key: builder.intern(&kv.key),
                        value: kv.value.map(|v| any_value(builder, v)),
                    })
                    .collect(),
            }),
            // Only the profiles signal may use string tables; OTLP says to treat it as absent.
            Otlp::StringValueStrindex(_) => return None,
        })
    });
    AnyValue { value }
}
