//! What the transcoder stores, held to the request as prost decodes it, field by field.
//!
//! The oracle shares no code with the collector: both sides are brought to one plain
//! form here, the request by reading prost's structs and the block by reading the
//! store's, so a mistake made alike in the transcoder and in `normalize` or `export`
//! (which share helpers) still shows.

use oculus_collector::transcode;
use oculus_store::proto::{self as stored, Block};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as otlp;
use opentelemetry_proto::tonic::resource::v1::Resource;
use proptest::prelude::*;
use prost::Message;

use crate::transcode::{logs_request, traces_request};

/// A value in one form for both sides; doubles by their bits, so NaN equals itself.
#[derive(Debug, PartialEq)]
enum Value {
    Empty,
    Str(String),
    Bool(bool),
    Int(i64),
    Double(u64),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    List(Vec<(String, Value)>),
}

type Attributes = Vec<(String, Value)>;

#[derive(Debug, PartialEq)]
struct Origin {
    resource: (Attributes, u32, String, Vec<Vec<u8>>),
    scope: (String, String, Attributes, u32, String),
}

/// A link: trace id, span id, trace state, attributes, dropped attributes, flags.
type PlainLink = (Vec<u8>, Vec<u8>, String, Attributes, u32, u32);

/// Where the record says it was emitted: file, line, function (with its namespace).
type Source = Option<(String, u32, String)>;

#[derive(Debug, PartialEq)]
struct PlainSpan {
    origin: Origin,
    ids: (Vec<u8>, Vec<u8>, Vec<u8>),
    trace_state: String,
    flags: u32,
    name: String,
    kind: i32,
    times: (u64, u64),
    attributes: Attributes,
    dropped: (u32, u32, u32),
    events: Vec<(u64, String, Attributes, u32)>,
    links: Vec<PlainLink>,
    status: (i32, String),
    source: Source,
}

#[derive(Debug, PartialEq)]
struct PlainLog {
    origin: Origin,
    times: (u64, u64),
    severity: (i32, String),
    body: Value,
    attributes: Attributes,
    dropped: u32,
    flags: u32,
    ids: (Vec<u8>, Vec<u8>),
    event_name: String,
    source: Source,
}

/// An id as the store keeps it: all zero bytes and no bytes both mean "none".
fn id(bytes: &[u8]) -> Vec<u8> {
    if bytes.iter().all(|b| *b == 0) {
        Vec::new()
    } else {
        bytes.to_vec()
    }
}

fn joined_id(high: u64, low: u64) -> Vec<u8> {
    let mut bytes = high.to_be_bytes().to_vec();
    bytes.extend_from_slice(&low.to_be_bytes());
    id(&bytes)
}

// The request's side.

fn from_otlp(value: Option<&otlp::AnyValue>) -> Value {
    use otlp::any_value::Value as V;
    match value.and_then(|v| v.value.as_ref()) {
        None => Value::Empty,
        Some(V::StringValue(s)) => Value::Str(s.clone()),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::Int(*i),
        Some(V::DoubleValue(d)) => Value::Double(d.to_bits()),
        Some(V::BytesValue(b)) => Value::Bytes(b.clone()),
        Some(V::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(|v| from_otlp(Some(v))).collect())
        }
        Some(V::KvlistValue(l)) => Value::List(otlp_attributes(&l.values)),
        // An index into a profile's string table: meaningless outside profiles.
        Some(V::StringValueStrindex(_)) => Value::Empty,
    }
}

fn otlp_attributes(attributes: &[otlp::KeyValue]) -> Attributes {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), from_otlp(kv.value.as_ref())))
        .collect()
}

/// The semantic conventions' code.* attributes (current and older names), the last of
/// each kind winning; a namespace prefixes the function unless the function has it.
fn otlp_source(attributes: &[otlp::KeyValue]) -> Source {
    use otlp::any_value::Value as V;
    let (mut file, mut line, mut function, mut namespace) = (None, 0, None, None);
    for kv in attributes {
        let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
        match (kv.key.as_str(), value) {
            ("code.file.path" | "code.filepath", Some(V::StringValue(s))) => file = Some(s.clone()),
            ("code.line.number" | "code.lineno", Some(V::IntValue(n))) => {
                line = u32::try_from(*n).unwrap_or(line);
            }
            ("code.line.number" | "code.lineno", Some(V::StringValue(s))) => {
                line = s.trim().parse().unwrap_or(line);
            }
            ("code.function.name" | "code.function", Some(V::StringValue(s))) => {
                function = Some(s.clone());
            }
            ("code.namespace" | "code.module.name", Some(V::StringValue(s))) => {
                namespace = Some(s.clone());
            }
            _ => {}
        }
    }
    if file.is_none() && function.is_none() && namespace.is_none() {
        return None;
    }
    let function = match (function, namespace) {
        (Some(f), Some(n)) if !f.contains(&n) => format!("{n}::{f}"),
        (Some(f), _) => f,
        (None, Some(n)) => n,
        (None, None) => String::new(),
    };
    Some((file.unwrap_or_default(), line, function))
}

fn otlp_origin(
    resource: Option<&Resource>,
    resource_schema: &str,
    scope: Option<&otlp::InstrumentationScope>,
    scope_schema: &str,
) -> Origin {
    let resource = resource.map_or_else(
        || (Vec::new(), 0, resource_schema.to_owned(), Vec::new()),
        |r| {
            (
                otlp_attributes(&r.attributes),
                r.dropped_attributes_count,
                resource_schema.to_owned(),
                r.entity_refs.iter().map(Message::encode_to_vec).collect(),
            )
        },
    );
    let scope = scope.map_or_else(
        || {
            (
                String::new(),
                String::new(),
                Vec::new(),
                0,
                scope_schema.to_owned(),
            )
        },
        |s| {
            (
                s.name.clone(),
                s.version.clone(),
                otlp_attributes(&s.attributes),
                s.dropped_attributes_count,
                scope_schema.to_owned(),
            )
        },
    );
    Origin { resource, scope }
}

/// OTLP's ids: a trace id of 16 bytes and a span id of 8, not all zero.
fn trace_id_ok(bytes: &[u8]) -> bool {
    bytes.len() == 16 && bytes.iter().any(|b| *b != 0)
}

fn span_id_ok(bytes: &[u8]) -> bool {
    bytes.len() == 8 && bytes.iter().any(|b| *b != 0)
}

/// A span is stored when its ids, its parent's (if it has one) and its links' are.
fn span_accepted(span: &opentelemetry_proto::tonic::trace::v1::Span) -> bool {
    trace_id_ok(&span.trace_id)
        && span_id_ok(&span.span_id)
        && (span.parent_span_id.is_empty() || span_id_ok(&span.parent_span_id))
        && span
            .links
            .iter()
            .all(|l| trace_id_ok(&l.trace_id) && span_id_ok(&l.span_id))
}

/// A log record's ids are optional, but of the right length when present.
fn log_accepted(log: &opentelemetry_proto::tonic::logs::v1::LogRecord) -> bool {
    matches!(log.trace_id.len(), 0 | 16) && matches!(log.span_id.len(), 0 | 8)
}

/// The spans the request's content says are stored, and how many it rejects.
fn spans_of_request(request: &ExportTraceServiceRequest) -> (Vec<PlainSpan>, u64) {
    let mut out = Vec::new();
    let mut rejected = 0;
    for rs in &request.resource_spans {
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                if !span_accepted(span) {
                    rejected += 1;
                    continue;
                }
                let origin = otlp_origin(
                    rs.resource.as_ref(),
                    &rs.schema_url,
                    ss.scope.as_ref(),
                    &ss.schema_url,
                );
                out.push(PlainSpan {
                    origin,
                    ids: (
                        id(&span.trace_id),
                        id(&span.span_id),
                        id(&span.parent_span_id),
                    ),
                    trace_state: span.trace_state.clone(),
                    flags: span.flags,
                    name: span.name.clone(),
                    kind: span.kind,
                    times: (span.start_time_unix_nano, span.end_time_unix_nano),
                    attributes: otlp_attributes(&span.attributes),
                    dropped: (
                        span.dropped_attributes_count,
                        span.dropped_events_count,
                        span.dropped_links_count,
                    ),
                    events: span
                        .events
                        .iter()
                        .map(|e| {
                            (
                                e.time_unix_nano,
                                e.name.clone(),
                                otlp_attributes(&e.attributes),
                                e.dropped_attributes_count,
                            )
                        })
                        .collect(),
                    links: span
                        .links
                        .iter()
                        .map(|l| {
                            (
                                id(&l.trace_id),
                                id(&l.span_id),
                                l.trace_state.clone(),
                                otlp_attributes(&l.attributes),
                                l.dropped_attributes_count,
                                l.flags,
                            )
                        })
                        .collect(),
                    status: span
                        .status
                        .as_ref()
                        .map_or((0, String::new()), |s| (s.code, s.message.clone())),
                    source: otlp_source(&span.attributes),
                });
            }
        }
    }
    (out, rejected)
}

/// The log records the request's content says are stored, and how many it rejects.
fn logs_of_request(request: &ExportLogsServiceRequest) -> (Vec<PlainLog>, u64) {
    let mut out = Vec::new();
    let mut rejected = 0;
    for rl in &request.resource_logs {
        for sl in &rl.scope_logs {
            for log in &sl.log_records {
                if !log_accepted(log) {
                    rejected += 1;
                    continue;
                }
                out.push(PlainLog {
                    origin: otlp_origin(
                        rl.resource.as_ref(),
                        &rl.schema_url,
                        sl.scope.as_ref(),
                        &sl.schema_url,
                    ),
                    times: (log.time_unix_nano, log.observed_time_unix_nano),
                    severity: (log.severity_number, log.severity_text.clone()),
                    body: from_otlp(log.body.as_ref()),
                    attributes: otlp_attributes(&log.attributes),
                    dropped: log.dropped_attributes_count,
                    flags: log.flags,
                    ids: (id(&log.trace_id), id(&log.span_id)),
                    event_name: log.event_name.clone(),
                    source: otlp_source(&log.attributes),
                });
            }
        }
    }
    (out, rejected)
}

// The block's side.

fn from_stored(block: &Block, value: Option<&stored::AnyValue>) -> Value {
    use stored::any_value::Value as V;
    match value.and_then(|v| v.value.as_ref()) {
        None => Value::Empty,
        Some(V::StringValue(s)) => Value::Str(s.clone()),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::Int(*i),
        Some(V::DoubleValue(d)) => Value::Double(d.to_bits()),
        Some(V::BytesValue(b)) => Value::Bytes(b.clone()),
        Some(V::ArrayValue(a)) => Value::Array(
            a.values
                .iter()
                .map(|v| from_stored(block, Some(v)))
                .collect(),
        ),
        Some(V::KvlistValue(l)) => Value::List(stored_attributes(block, &l.values)),
    }
}

fn stored_attributes(block: &Block, attributes: &[stored::KeyValue]) -> Attributes {
    attributes
        .iter()
        .map(|kv| {
            (
                block.str(kv.key).to_owned(),
                from_stored(block, kv.value.as_ref()),
            )
        })
        .collect()
}

fn stored_source(block: &Block, source: Option<stored::SourceLocation>) -> Source {
    source.map(|s| {
        (
            block.str(s.file_path).to_owned(),
            s.line,
            block.str(s.function).to_owned(),
        )
    })
}

fn stored_origin(block: &Block, scope: u32) -> Origin {
    let scope = &block.scopes[scope as usize];
    let resource = &block.resources[scope.resource as usize];
    Origin {
        resource: (
            stored_attributes(block, &resource.attributes),
            resource.dropped_attributes_count,
            block.str(resource.schema_url).to_owned(),
            resource.entity_refs.clone(),
        ),
        scope: (
            block.str(scope.name).to_owned(),
            block.str(scope.version).to_owned(),
            stored_attributes(block, &scope.attributes),
            scope.dropped_attributes_count,
            block.str(scope.schema_url).to_owned(),
        ),
    }
}

fn spans_of_block(block: &Block) -> Vec<PlainSpan> {
    let columns = block.span_columns();
    block
        .spans
        .iter()
        .enumerate()
        .map(|(i, span)| {
            let column = &columns[i];
            let (high, low) = block.span_trace_id(i);
            PlainSpan {
                origin: stored_origin(block, span.scope),
                ids: (
                    joined_id(high, low),
                    id(&column.span_id.to_be_bytes()),
                    id(&column.parent_span_id.to_be_bytes()),
                ),
                trace_state: span.trace_state.clone(),
                flags: span.flags,
                name: block.str(span.name).to_owned(),
                kind: span.kind,
                times: (column.start_unix_nano, column.end_unix_nano),
                attributes: stored_attributes(block, &span.attributes),
                dropped: (
                    span.dropped_attributes_count,
                    span.dropped_events_count,
                    span.dropped_links_count,
                ),
                events: span
                    .events
                    .iter()
                    .map(|e| {
                        (
                            column
                                .start_unix_nano
                                .wrapping_add(e.time_offset_nano as u64),
                            block.str(e.name).to_owned(),
                            stored_attributes(block, &e.attributes),
                            e.dropped_attributes_count,
                        )
                    })
                    .collect(),
                links: span
                    .links
                    .iter()
                    .map(|l| {
                        (
                            joined_id(l.trace_id_high, l.trace_id_low),
                            id(&l.span_id.to_be_bytes()),
                            l.trace_state.clone(),
                            stored_attributes(block, &l.attributes),
                            l.dropped_attributes_count,
                            l.flags,
                        )
                    })
                    .collect(),
                status: (span.status_code, span.status_message.clone()),
                source: stored_source(block, span.source),
            }
        })
        .collect()
}

fn logs_of_block(block: &Block) -> Vec<PlainLog> {
    let times = block.log_times();
    block
        .logs
        .iter()
        .enumerate()
        .map(|(i, log)| PlainLog {
            origin: stored_origin(block, log.scope),
            times: times[i],
            severity: (log.severity_number, block.str(log.severity_text).to_owned()),
            body: from_stored(block, log.body.as_ref()),
            attributes: stored_attributes(block, &log.attributes),
            dropped: log.dropped_attributes_count,
            flags: log.flags,
            ids: (
                joined_id(log.trace_id_high, log.trace_id_low),
                id(&log.span_id.to_be_bytes()),
            ),
            event_name: block.str(log.event_name).to_owned(),
            source: stored_source(block, log.source),
        })
        .collect()
}

fn stored_block(raw: &[u8]) -> Result<Block, TestCaseError> {
    Block::decode(raw).map_err(|e| TestCaseError::fail(e.to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn stored_spans_are_the_requests_spans(request in traces_request()) {
        let bytes = request.encode_to_vec();
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let transcoded = transcode::traces(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (expected, rejected) = spans_of_request(&decoded);
        prop_assert_eq!(transcoded.rejected, rejected);
        let block = stored_block(&transcoded.raw)?;
        prop_assert_eq!(spans_of_block(&block), expected);
    }

    #[test]
    fn stored_logs_are_the_requests_logs(request in logs_request()) {
        let bytes = request.encode_to_vec();
        let decoded = ExportLogsServiceRequest::decode(bytes.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let transcoded = transcode::logs(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (expected, rejected) = logs_of_request(&decoded);
        prop_assert_eq!(transcoded.rejected, rejected);
        let block = stored_block(&transcoded.raw)?;
        prop_assert_eq!(logs_of_block(&block), expected);
    }

    /// Bytes that prost and the transcoder both accept, however damaged (duplicated
    /// fields, where the last one wins; unknown fields, which are skipped), are stored
    /// as prost reads them.
    #[test]
    fn damaged_bytes_both_accept_are_stored_as_prost_reads_them(
        request in traces_request(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        duplicate in any::<prop::sample::Index>(),
    ) {
        let mut bytes = request.encode_to_vec();
        if bytes.is_empty() {
            return Ok(());
        }
        // A field repeated at the end: for a message field prost merges, for a scalar
        // the last one wins.
        let copy = bytes[duplicate.index(bytes.len())..].to_vec();
        bytes.extend_from_slice(&copy);
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        let (Ok(decoded), Ok(transcoded)) = (
            ExportTraceServiceRequest::decode(bytes.as_slice()),
            transcode::traces(&bytes),
        ) else {
            return Ok(());
        };
        let block = stored_block(&transcoded.raw)?;
        let (expected, rejected) = spans_of_request(&decoded);
        prop_assert_eq!(transcoded.rejected, rejected);
        prop_assert_eq!(spans_of_block(&block), expected);
    }
}
