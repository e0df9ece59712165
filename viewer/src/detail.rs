//! The detail pane's content, built from a record's block read back from its segment.

use oculus_store::proto::{AnyValue, Block, KeyValue, Resource, Scope, SpanKind, StatusCode};
use prost::Message as _;

use crate::model::{Level, TraceId, span_hex, trace_hex};
use crate::snapshot::{Detail, DetailRow, DetailSection, RecordRef, SourceRef, ValueKind};
use crate::time::format_time;
use crate::value::render_value;

/// Attribute rows; `indexed` when the index holds them (a record's, its events' and
/// its resource's: not a scope's), so that a filter can pick them.
fn attributes(block: &Block, attrs: &[KeyValue], indexed: bool) -> Vec<DetailRow> {
    attrs
        .iter()
        .map(|kv| {
            let key = block.str(kv.key);
            let kind = if indexed {
                ValueKind::Attribute(key.to_owned())
            } else {
                ValueKind::Plain
            };
            pair(key, value_text(kv.value.as_ref())).of(kind)
        })
        .collect()
}

/// A value as the record's text in the index shows it: rendered from its encoding by
/// the one value renderer.
fn value_text(value: Option<&AnyValue>) -> String {
    let mut text = String::new();
    if let Some(value) = value
        && let Err(error) = render_value(&value.encode_to_vec(), &mut text)
    {
        // A value decoded from its block encodes again; this only says what went wrong.
        text = format!("({error})");
    }
    text
}

fn section(title: &str, rows: Vec<DetailRow>) -> DetailSection {
    DetailSection {
        title: title.to_owned(),
        rows,
    }
}

fn pair(key: &str, value: impl ToString) -> DetailRow {
    DetailRow {
        key: key.to_owned(),
        value: value.to_string(),
        opens: None,
        kind: ValueKind::Plain,
    }
}

/// A row naming a trace, which opens it unless the id is zero (no trace).
fn trace_row(key: String, trace: TraceId, value: String) -> DetailRow {
    DetailRow {
        key,
        value,
        opens: (trace != 0).then_some(trace),
        kind: ValueKind::Plain,
    }
}

impl DetailRow {
    /// The row, as a value of this kind.
    fn of(self, kind: ValueKind) -> Self {
        DetailRow { kind, ..self }
    }
}

fn scope_sections(block: &Block, scope: u32) -> Vec<DetailSection> {
    let Some(scope) = block.scopes.get(scope as usize) else {
        return Vec::new();
    };
    let Scope {
        name,
        version,
        attributes: scope_attributes,
        schema_url,
        ..
    } = scope;
    let mut rows = vec![
        pair("name", block.str(*name)).of(ValueKind::Scope),
        pair("version", block.str(*version)),
    ];
    if *schema_url != 0 {
        rows.push(pair("schema url", block.str(*schema_url)));
    }
    rows.extend(attributes(block, scope_attributes, false));
    let mut sections = vec![section("Scope", rows)];
    if let Some(Resource {
        attributes: resource_attributes,
        ..
    }) = block.resources.get(scope.resource as usize)
    {
        let mut rows = attributes(block, resource_attributes, true);
        for row in &mut rows {
            if row.key == "service.name" {
                row.kind = ValueKind::Service;
            }
        }
        sections.push(section("Resource", rows));
    }
    sections
}

fn source(block: &Block, source: Option<oculus_store::proto::SourceLocation>) -> Option<SourceRef> {
    let source = source?;
    let file = block.str(source.file_path);
    (!file.is_empty()).then(|| SourceRef {
        file: file.into(),
        line: source.line,
    })
}

/// The detail of `record`, which is entry `position` of its kind in `block`.
pub fn build(block: &Block, record: RecordRef, position: usize) -> Option<Detail> {
    match record {
        RecordRef::Log(_) => {
            let log = block.logs.get(position)?;
            let (time, observed) = block.log_times().get(position).copied()?;
            let trace_id = (u128::from(log.trace_id_high) << 64) | u128::from(log.trace_id_low);
            let body = value_text(log.body.as_ref());
            let level = Level::from_otlp(log.severity_number, block.str(log.severity_text));
            let mut rows = vec![
                pair("time", format_time(time)),
                pair("observed time", format_time(observed)),
                pair(
                    "severity",
                    format!("{} ({})", block.str(log.severity_text), log.severity_number),
                )
                .of(if level == Level::Unset {
                    ValueKind::Plain
                } else {
                    ValueKind::Level(level)
                }),
            ];
            if log.event_name != 0 {
                rows.push(pair("event name", block.str(log.event_name)));
            }
            if trace_id != 0 {
                rows.push(
                    trace_row("trace id".to_owned(), trace_id, trace_hex(trace_id))
                        .of(ValueKind::TraceId),
                );
                rows.push(pair("span id", span_hex(log.span_id)));
            }
            let source = source(block, log.source);
            if let Some(source) = &source {
                rows.push(pair("source", format!("{}:{}", source.file, source.line)));
            }
            rows.push(pair("body", body.clone()).of(ValueKind::Text));
            let mut sections = vec![
                section("Log record", rows),
                section("Attributes", attributes(block, &log.attributes, true)),
            ];
            sections.extend(scope_sections(block, log.scope));
            Some(Detail {
                record,
                title: body.chars().take(200).collect(),
                trace_id,
                span_id: log.span_id,
                source,
                sections,
            })
        }
        RecordRef::Span(_) => {
            let span = block.spans.get(position)?;
            let columns = *block.span_columns().get(position)?;
            let (high, low) = block.span_trace_id(position);
            let trace_id = (u128::from(high) << 64) | u128::from(low);
            let duration = columns
                .end_unix_nano
                .saturating_sub(columns.start_unix_nano);
            let kind = SpanKind::try_from(span.kind)
                .map_or("?", |k| k.as_str_name())
                .trim_start_matches("SPAN_KIND_");
            let status = StatusCode::try_from(span.status_code)
                .map_or("?", |s| s.as_str_name())
                .trim_start_matches("STATUS_CODE_");
            let status = if span.status_code == 0 {
                "UNSET"
            } else {
                status
            };
            let mut rows = vec![
                trace_row("trace id".to_owned(), trace_id, trace_hex(trace_id))
                    .of(ValueKind::TraceId),
                pair("span id", span_hex(columns.span_id)),
                pair(
                    "parent span id",
                    if columns.parent_span_id == 0 {
                        "(root)".to_owned()
                    } else {
                        span_hex(columns.parent_span_id)
                    },
                ),
                pair("kind", kind),
                pair("start", format_time(columns.start_unix_nano)),
                pair("duration", crate::time::format_duration(duration)),
                pair(
                    "status",
                    format!("{status} {}", span.status_message).trim_end(),
                )
                .of(if span.status_code == StatusCode::Error as i32 {
                    ValueKind::Level(Level::Error)
                } else {
                    ValueKind::Plain
                }),
            ];
            if !span.trace_state.is_empty() {
                rows.push(pair("trace state", &span.trace_state));
            }
            let source = source(block, span.source);
            if let Some(source) = &source {
                rows.push(pair("source", format!("{}:{}", source.file, source.line)));
            }
            let mut sections = vec![
                section("Span", rows),
                section("Attributes", attributes(block, &span.attributes, true)),
            ];
            if !span.events.is_empty() {
                let mut rows = Vec::new();
                for event in &span.events {
                    // The index holds an event's name as an `event` attribute.
                    rows.push(
                        pair(
                            &format!(
                                "+{}",
                                crate::time::format_duration(event.time_offset_nano.max(0) as u64)
                            ),
                            block.str(event.name),
                        )
                        .of(ValueKind::Attribute("event".to_owned())),
                    );
                    let event_attributes = attributes(block, &event.attributes, true);
                    rows.extend(event_attributes.into_iter().map(|row| DetailRow {
                        key: format!("    {}", row.key),
                        ..row
                    }));
                }
                sections.push(section("Events", rows));
            }
            if !span.links.is_empty() {
                let rows = span
                    .links
                    .iter()
                    .map(|link| {
                        let trace =
                            (u128::from(link.trace_id_high) << 64) | u128::from(link.trace_id_low);
                        trace_row(trace_hex(trace), trace, span_hex(link.span_id))
                    })
                    .collect();
                sections.push(section("Links (trace, span)", rows));
            }
            sections.extend(scope_sections(block, span.scope));
            Some(Detail {
                record,
                title: block.str(span.name).to_owned(),
                trace_id,
                span_id: columns.span_id,
                source,
                sections,
            })
        }
    }
}
