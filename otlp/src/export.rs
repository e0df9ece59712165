//! The store's blocks back into OTLP: the inverse of `normalize`.

use oculus_store::block::{SpanColumns, join_span_id, join_trace_id};
use oculus_store::proto::{AnyValue, Block, KeyValue, any_value};
use opentelemetry_proto::tonic::common::v1 as otlp_common;
use opentelemetry_proto::tonic::logs::v1 as otlp_logs;
use opentelemetry_proto::tonic::metrics::v1 as otlp_metrics;
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1 as otlp_trace;
use prost::Message;

fn attributes(block: &Block, attributes: &[KeyValue]) -> Vec<otlp_common::KeyValue> {
    attributes
        .iter()
        .map(|kv| otlp_common::KeyValue {
            key: block.str(kv.key).to_owned(),
            key_strindex: 0,
            value: kv.value.as_ref().map(|v| value(block, v)),
        })
        .collect()
}

fn value(block: &Block, value: &AnyValue) -> otlp_common::AnyValue {
    use otlp_common::any_value::Value as Otlp;
    let value = value.value.as_ref().map(|value| match value {
        any_value::Value::StringValue(text) => Otlp::StringValue(text.clone()),
        any_value::Value::BoolValue(b) => Otlp::BoolValue(*b),
        any_value::Value::IntValue(i) => Otlp::IntValue(*i),
        any_value::Value::DoubleValue(d) => Otlp::DoubleValue(*d),
        any_value::Value::BytesValue(bytes) => Otlp::BytesValue(bytes.clone()),
        any_value::Value::ArrayValue(array) => Otlp::ArrayValue(otlp_common::ArrayValue {
            values: array.values.iter().map(|v| self::value(block, v)).collect(),
        }),
        any_value::Value::KvlistValue(list) => Otlp::KvlistValue(otlp_common::KeyValueList {
            values: attributes(block, &list.values),
        }),
    });
    otlp_common::AnyValue { value }
}

fn resource(block: &Block, index: usize) -> (Option<OtlpResource>, String) {
    let Some(resource) = block.resources.get(index) else {
        return (None, String::new());
    };
    (
        Some(OtlpResource {
            attributes: attributes(block, &resource.attributes),
            dropped_attributes_count: resource.dropped_attributes_count,
            // Stored references were valid when they came in and sit in a checksummed
            // frame; one that no longer decodes cannot be shown as anything.
            entity_refs: resource
                .entity_refs
                .iter()
                .filter_map(|bytes| otlp_common::EntityRef::decode(bytes.as_slice()).ok())
                .collect(),
        }),
        block.str(resource.schema_url).to_owned(),
    )
}

fn scope(block: &Block, index: usize) -> (Option<otlp_common::InstrumentationScope>, String) {
    let Some(scope) = block.scopes.get(index) else {
        return (None, String::new());
    };
    (
        Some(otlp_common::InstrumentationScope {
            name: block.str(scope.name).to_owned(),
            version: block.str(scope.version).to_owned(),
            attributes: attributes(block, &scope.attributes),
            dropped_attributes_count: scope.dropped_attributes_count,
        }),
        block.str(scope.schema_url).to_owned(),
    )
}

/// Rebuilds the resource > scope > record nesting of a block, keeping order.
fn nest<R, S, T>(
    block: &Block,
    records_by_scope: Vec<Vec<T>>,
    make_scope: impl Fn(Option<otlp_common::InstrumentationScope>, String, Vec<T>) -> S,
    make_resource: impl Fn(Option<OtlpResource>, String, Vec<S>) -> R,
) -> Vec<R> {
    let mut scopes_by_resource: Vec<Vec<S>> =
        (0..block.resources.len()).map(|_| Vec::new()).collect();
    for (index, records) in records_by_scope.into_iter().enumerate() {
        let resource = block.scopes[index].resource as usize;
        let (otlp_scope, schema_url) = scope(block, index);
        if let Some(list) = scopes_by_resource.get_mut(resource) {
            list.push(make_scope(otlp_scope, schema_url, records));
        }
    }
    scopes_by_resource
        .into_iter()
        .enumerate()
        .map(|(index, scopes)| {
            let (otlp_resource, schema_url) = resource(block, index);
            make_resource(otlp_resource, schema_url, scopes)
        })
        .collect()
}

fn group<T>(block: &Block, items: impl Iterator<Item = (u32, T)>) -> Vec<Vec<T>> {
    let mut by_scope: Vec<Vec<T>> = (0..block.scopes.len()).map(|_| Vec::new()).collect();
    for (scope, item) in items {
        if let Some(list) = by_scope.get_mut(scope as usize) {
            list.push(item);
        }
    }
    by_scope
}

pub fn traces(block: &Block) -> otlp_trace::TracesData {
    traces_where(block, |_| true)
}

/// The spans of a block that `keep` takes (by their place in the block), nested as
/// `traces` nests them; scopes and resources may be left empty.
pub fn traces_where(block: &Block, keep: impl Fn(usize) -> bool) -> otlp_trace::TracesData {
    let columns = block.span_columns();
    let spans = block
        .spans
        .iter()
        .enumerate()
        .filter(|(index, _)| keep(*index))
        .map(|(index, span)| {
            let SpanColumns {
                span_id,
                parent_span_id,
                start_unix_nano: start,
                end_unix_nano: end,
            } = columns[index];
            let (trace_high, trace_low) = block.span_trace_id(index);
            let otlp = otlp_trace::Span {
                trace_id: join_trace_id(trace_high, trace_low),
                span_id: join_span_id(span_id),
                trace_state: span.trace_state.clone(),
                parent_span_id: join_span_id(parent_span_id),
                flags: span.flags,
                name: block.str(span.name).to_owned(),
                kind: span.kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes: attributes(block, &span.attributes),
                dropped_attributes_count: span.dropped_attributes_count,
                events: span
                    .events
                    .iter()
                    .map(|event| otlp_trace::span::Event {
                        time_unix_nano: start.wrapping_add(event.time_offset_nano as u64),
                        name: block.str(event.name).to_owned(),
                        attributes: attributes(block, &event.attributes),
                        dropped_attributes_count: event.dropped_attributes_count,
                    })
                    .collect(),
                dropped_events_count: span.dropped_events_count,
                links: span
                    .links
                    .iter()
                    .map(|link| otlp_trace::span::Link {
                        trace_id: join_trace_id(link.trace_id_high, link.trace_id_low),
                        span_id: join_span_id(link.span_id),
                        trace_state: link.trace_state.clone(),
                        attributes: attributes(block, &link.attributes),
                        dropped_attributes_count: link.dropped_attributes_count,
                        flags: link.flags,
                    })
                    .collect(),
                dropped_links_count: span.dropped_links_count,
                status: Some(otlp_trace::Status {
                    message: span.status_message.clone(),
                    code: span.status_code,
                }),
            };
            (span.scope, otlp)
        });
    let resource_spans = nest(
        block,
        group(block, spans),
        |scope, schema_url, spans| otlp_trace::ScopeSpans {
            scope,
            spans,
            schema_url,
        },
        |resource, schema_url, scope_spans| otlp_trace::ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        },
    );
    otlp_trace::TracesData { resource_spans }
}

pub fn logs(block: &Block) -> otlp_logs::LogsData {
    logs_where(block, |_| true)
}

/// The log records of a block that `keep` takes (by their place in the block), nested
/// as `logs` nests them; scopes and resources may be left empty.
pub fn logs_where(block: &Block, keep: impl Fn(usize) -> bool) -> otlp_logs::LogsData {
    let records = block
        .logs
        .iter()
        .zip(block.log_times())
        .enumerate()
        .filter(|(index, _)| keep(*index))
        .map(|(_, (log, times))| {
            let (time_unix_nano, observed_time_unix_nano) = times;
            let otlp = otlp_logs::LogRecord {
                time_unix_nano,
                observed_time_unix_nano,
                severity_number: log.severity_number,
                severity_text: block.str(log.severity_text).to_owned(),
                body: log.body.as_ref().map(|body| value(block, body)),
                attributes: attributes(block, &log.attributes),
                dropped_attributes_count: log.dropped_attributes_count,
                flags: log.flags,
                trace_id: join_trace_id(log.trace_id_high, log.trace_id_low),
                span_id: join_span_id(log.span_id),
                event_name: block.str(log.event_name).to_owned(),
            };
            (log.scope, otlp)
        });
    let resource_logs = nest(
        block,
        group(block, records),
        |scope, schema_url, log_records| otlp_logs::ScopeLogs {
            scope,
            log_records,
            schema_url,
        },
        |resource, schema_url, scope_logs| otlp_logs::ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        },
    );
    otlp_logs::LogsData { resource_logs }
}

/// Metrics back into OTLP. A stored metric that no longer decodes is reported, not skipped.
pub fn metrics(block: &Block) -> Result<otlp_metrics::MetricsData, prost::DecodeError> {
    let mut decoded = Vec::with_capacity(block.metrics.len());
    for metric in &block.metrics {
        decoded.push((
            metric.scope,
            otlp_metrics::Metric::decode(metric.otlp_metric.as_slice())?,
        ));
    }
    let resource_metrics = nest(
        block,
        group(block, decoded.into_iter()),
        |scope, schema_url, metrics| otlp_metrics::ScopeMetrics {
            scope,
            metrics,
            schema_url,
        },
        |resource, schema_url, scope_metrics| otlp_metrics::ResourceMetrics {
            resource,
            scope_metrics,
            schema_url,
        },
    );
    Ok(otlp_metrics::MetricsData { resource_metrics })
}

/// Chosen spans and log records of several blocks, gathered into one message per
/// signal: what a reader (the viewer) writes out of the records it shows.
#[derive(Debug, Default)]
pub struct Records {
    traces: otlp_trace::TracesData,
    logs: otlp_logs::LogsData,
}

impl Records {
    /// Adds the spans and log records of `block` that the two predicates take, by their
    /// place in the block.
    pub fn add(
        &mut self,
        block: &Block,
        keep_span: impl Fn(usize) -> bool,
        keep_log: impl Fn(usize) -> bool,
    ) {
        let mut traces = traces_where(block, keep_span);
        for resource in &mut traces.resource_spans {
            resource.scope_spans.retain(|scope| !scope.spans.is_empty());
        }
        traces
            .resource_spans
            .retain(|resource| !resource.scope_spans.is_empty());
        self.traces.resource_spans.extend(traces.resource_spans);
        let mut logs = logs_where(block, keep_log);
        for resource in &mut logs.resource_logs {
            resource
                .scope_logs
                .retain(|scope| !scope.log_records.is_empty());
        }
        logs.resource_logs
            .retain(|resource| !resource.scope_logs.is_empty());
        self.logs.resource_logs.extend(logs.resource_logs);
    }

    /// One message per signal that has records: traces, then logs.
    pub fn into_data(self) -> Vec<crate::Data> {
        let mut data = Vec::new();
        if !self.traces.resource_spans.is_empty() {
            data.push(crate::Data::Traces(self.traces));
        }
        if !self.logs.resource_logs.is_empty() {
            data.push(crate::Data::Logs(self.logs));
        }
        data
    }
}
