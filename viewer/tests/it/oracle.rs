//! The test oracle for the one way into the index: what the index shows for each
//! record of a block, derived from the decoded `Block` message instead of its bytes.

use std::fmt::Write as _;

use oculus_store::proto::{AnyValue, Block, KeyValue, StatusCode, any_value};
use oculus_viewer::model::{
    BlockLoc, Index, Level, PreparedBlock, TextWriter, TraceId, join_trace_id, write_text,
};

/// One record as the index shows it.
#[derive(Debug, PartialEq)]
pub struct Shown {
    /// A log's time; a span's start.
    pub time: u64,
    /// A span's end; 0 for a log.
    pub end: u64,
    pub trace_id: TraceId,
    pub span_id: u64,
    pub parent_span_id: u64,
    pub service: String,
    pub scope: String,
    /// The resource's attributes, written as a record's text writes its own.
    pub resource: Vec<u8>,
    pub source: Option<(String, u32)>,
    pub text: Vec<u8>,
    pub display_len: u32,
    pub level: Level,
    pub error: bool,
    pub events: Vec<u64>,
}

/// The records of one block, as the index shows them.
#[derive(Debug, PartialEq)]
pub struct Records {
    pub logs: Vec<Shown>,
    pub spans: Vec<Shown>,
    pub metric_points: u64,
}

/// What the index shows for `block`, by the oracle.
pub fn expected(block: &Block) -> Records {
    // The service of each scope, found among its resource's decoded attributes.
    let origin = |scope: u32| -> (String, String, Vec<u8>) {
        let Some(scope) = block.scopes.get(scope as usize) else {
            return (String::new(), String::new(), Vec::new());
        };
        let resource = block
            .resources
            .get(scope.resource as usize)
            .map_or_else(Vec::new, |r| {
                text(|w| {
                    w.end_display();
                    for kv in &r.attributes {
                        if w.attribute_start(block.str(kv.key)) {
                            render(kv.value.as_ref(), w);
                        }
                    }
                })
                .0
            });
        let service = block
            .resources
            .get(scope.resource as usize)
            .and_then(|r| {
                r.attributes
                    .iter()
                    .find(|kv| block.str(kv.key) == "service.name")
            })
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
                _ => None,
            })
            .unwrap_or("unknown_service");
        (
            service.to_owned(),
            block.str(scope.name).to_owned(),
            resource,
        )
    };
    let source = |file: u32, line: u32| (file != 0).then(|| (block.str(file).to_owned(), line));
    let attributes = |w: &mut TextWriter<'_>, attrs: &[KeyValue]| {
        for kv in attrs {
            if w.attribute_start(block.str(kv.key)) {
                render(kv.value.as_ref(), w);
            }
        }
    };
    let mut logs = Vec::new();
    for (log, (time, observed)) in block.logs.iter().zip(block.log_times()) {
        let (text, display_len) = text(|w| {
            if log.body.as_ref().is_some_and(|b| b.value.is_some()) {
                render(log.body.as_ref(), w);
            } else {
                w.text(block.str(log.event_name));
            }
            w.end_display();
            attributes(w, &log.attributes);
        });
        let (service, scope, resource) = origin(log.scope);
        let location = log.source.unwrap_or_default();
        logs.push(Shown {
            time: if time != 0 { time } else { observed },
            end: 0,
            trace_id: join_trace_id(log.trace_id_high, log.trace_id_low),
            span_id: log.span_id,
            parent_span_id: 0,
            service,
            scope,
            resource,
            source: source(location.file_path, location.line),
            text,
            display_len,
            level: Level::from_otlp(log.severity_number, block.str(log.severity_text)),
            error: false,
            events: Vec::new(),
        });
    }
    let mut spans = Vec::new();
    for (i, (span, columns)) in block.spans.iter().zip(block.span_columns()).enumerate() {
        let events = &span.events[..span.events.len().min(usize::from(u16::MAX))];
        let (text, display_len) = text(|w| {
            w.text(block.str(span.name));
            w.end_display();
            attributes(w, &span.attributes);
            for event in events {
                w.attribute_start("event");
                w.text(block.str(event.name));
                attributes(w, &event.attributes);
            }
        });
        let start = columns.start_unix_nano;
        let (high, low) = block.span_trace_id(i);
        let (service, scope, resource) = origin(span.scope);
        let location = span.source.unwrap_or_default();
        spans.push(Shown {
            time: start,
            end: columns.end_unix_nano,
            trace_id: join_trace_id(high, low),
            span_id: columns.span_id,
            parent_span_id: columns.parent_span_id,
            service,
            scope,
            resource,
            source: source(location.file_path, location.line),
            text,
            display_len,
            level: Level::Unset,
            error: span.status_code == StatusCode::Error as i32,
            events: events
                .iter()
                .map(|e| start.wrapping_add(e.time_offset_nano as u64))
                .collect(),
        });
    }
    Records {
        logs,
        spans,
        metric_points: block.metrics.iter().map(|m| u64::from(m.data_points)).sum(),
    }
}

/// What the index shows once `prepared` is added to an empty one.
pub fn indexed(prepared: &PreparedBlock) -> Records {
    let mut index = Index::default();
    let loc = BlockLoc {
        segment: 0,
        offset: 0,
        frame_bytes: 0,
    };
    index.add_prepared(prepared, loc, 0);
    let origin = |id: u32| {
        let origin = index.origins.get(id);
        (
            index.strings.get(origin.service).to_string(),
            index.strings.get(origin.scope).to_string(),
            index.resources.get(origin.resource).as_bytes().to_vec(),
        )
    };
    let source = |id: u32| {
        (id != 0).then(|| {
            let (file, line) = index.sources.get(id);
            (index.strings.get(file).to_string(), line)
        })
    };
    let logs = index
        .logs
        .iter()
        .map(|log| {
            let (service, scope, resource) = origin(log.origin);
            Shown {
                time: log.time,
                end: 0,
                trace_id: log.trace_id.get(),
                span_id: log.span_id,
                parent_span_id: 0,
                service,
                scope,
                resource,
                source: source(log.source),
                text: index.log_text.bytes(log.text).to_vec(),
                display_len: log.text.display_len(),
                level: log.level,
                error: false,
                events: Vec::new(),
            }
        })
        .collect();
    let spans = index
        .spans
        .iter()
        .map(|span| {
            let (service, scope, resource) = origin(span.origin);
            let first = span.first_event as usize;
            Shown {
                time: span.start,
                end: span.end,
                trace_id: span.trace_id.get(),
                span_id: span.span_id,
                parent_span_id: span.parent_span_id,
                service,
                scope,
                resource,
                source: source(span.source),
                text: index.span_text.bytes(span.text).to_vec(),
                display_len: span.text.display_len(),
                level: Level::Unset,
                error: span.error,
                events: index.span_events[first..first + usize::from(span.event_count)].to_vec(),
            }
        })
        .collect();
    Records {
        logs,
        spans,
        metric_points: index.metric_points,
    }
}

/// One record's text, written by `write`, and its display length.
fn text(write: impl FnOnce(&mut TextWriter<'_>)) -> (Vec<u8>, u32) {
    let mut buffer = Vec::new();
    let (end, display_len) = write_text(&mut buffer, write);
    buffer.truncate(end as usize);
    let display_len = display_len.min(end);
    (buffer, display_len)
}

/// The oracle's value renderer, over a decoded value.
fn render(value: Option<&AnyValue>, out: &mut TextWriter<'_>) {
    match value.and_then(|v| v.value.as_ref()) {
        None => {}
        Some(any_value::Value::StringValue(s)) => out.text(s),
        Some(any_value::Value::BoolValue(b)) => write!(out, "{b}").unwrap(),
        Some(any_value::Value::IntValue(i)) => write!(out, "{i}").unwrap(),
        Some(any_value::Value::DoubleValue(d)) => write!(out, "{d}").unwrap(),
        Some(any_value::Value::BytesValue(bytes)) => {
            for b in bytes {
                write!(out, "{b:02x}").unwrap();
            }
        }
        Some(any_value::Value::ArrayValue(array)) => {
            out.text("[");
            for (i, v) in array.values.iter().enumerate() {
                if i > 0 {
                    out.text(", ");
                }
                render(Some(v), out);
            }
            out.text("]");
        }
        Some(any_value::Value::KvlistValue(list)) => {
            out.text("{");
            for (i, kv) in list.values.iter().enumerate() {
                if i > 0 {
                    out.text(", ");
                }
                write!(out, "#{}: ", kv.key).unwrap();
                render(kv.value.as_ref(), out);
            }
            out.text("}");
        }
    }
}
