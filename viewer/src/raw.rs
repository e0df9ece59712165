//! Preparing a block for the index straight from its protobuf bytes, the one way
//! records enter it: building the `Block` message instead (its thousands of small
//! strings and vectors) would cost more than everything else a load does. A test holds
//! it to an oracle that prepares decoded blocks.

use oculus_otlp::metric::decode_metric;
use oculus_store::block::{LogTimeChain, LogTimeColumns, SpanTimeChain};
use oculus_store::field;
use oculus_store::wire::{Reader, WireError, WireType, zigzag_decode};

use crate::model::{
    Level, PreparedBlock, PreparedRecord, PreparedScope, TextWriter, join_trace_id, write_text,
};
use crate::value::{RenderError, has_value, key_value, render_value};

/// The parts of a block, as slices of its bytes, gathered in one pass: times need the
/// base time and the span columns, which come after the records.
#[derive(Default)]
struct Parts<'a> {
    strings: Vec<&'a str>,
    resources: Vec<&'a [u8]>,
    scopes: Vec<&'a [u8]>,
    spans: Vec<&'a [u8]>,
    logs: Vec<&'a [u8]>,
    metric_points: u64,
    /// Each metric's scope and its OTLP bytes.
    metrics: Vec<(u32, &'a [u8])>,
    base_time: u64,
    span_ids: Vec<u64>,
    parent_span_ids: Vec<u64>,
    span_start_offsets: Vec<i64>,
    span_durations: Vec<i64>,
    log_time_offsets: Vec<i64>,
    log_observed_offsets: Vec<i64>,
}

impl<'a> Parts<'a> {
    fn str(&self, reference: u64) -> &'a str {
        self.strings.get(reference as usize).copied().unwrap_or("")
    }
}

/// Reads a repeated fixed64 field, packed or not.
fn fixed64s(reader: &mut Reader<'_>, wire: WireType, out: &mut Vec<u64>) -> Result<(), WireError> {
    match wire {
        WireType::Len => {
            let bytes = reader.bytes()?;
            if bytes.len() % 8 != 0 {
                return Err(WireError("packed fixed64 of a length not a multiple of 8"));
            }
            out.extend(
                bytes
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
            );
        }
        WireType::Fixed64 => out.push(reader.fixed64()?),
        _ => return Err(WireError("wrong wire type for fixed64")),
    }
    Ok(())
}

/// Reads a repeated sint64 field, packed or not.
fn sint64s(reader: &mut Reader<'_>, wire: WireType, out: &mut Vec<i64>) -> Result<(), WireError> {
    match wire {
        WireType::Len => {
            let mut packed = Reader::new(reader.bytes()?);
            while !packed.is_empty() {
                out.push(zigzag_decode(packed.varint()?));
            }
        }
        WireType::Varint => out.push(zigzag_decode(reader.varint()?)),
        _ => return Err(WireError("wrong wire type for sint64")),
    }
    Ok(())
}

fn parts(raw: &[u8]) -> Result<Parts<'_>, WireError> {
    let mut parts = Parts::default();
    let mut reader = Reader::new(raw);
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            (field::block::STRINGS, WireType::Len) => parts.strings.push(reader.string()?),
            (field::block::RESOURCES, WireType::Len) => parts.resources.push(reader.bytes()?),
            (field::block::SCOPES, WireType::Len) => parts.scopes.push(reader.bytes()?),
            (field::block::SPANS, WireType::Len) => parts.spans.push(reader.bytes()?),
            (field::block::LOGS, WireType::Len) => parts.logs.push(reader.bytes()?),
            (field::block::METRICS, WireType::Len) => {
                let mut metric = Reader::new(reader.bytes()?);
                let (mut scope, mut otlp) = (0, None);
                while let Some((number, wire)) = metric.field()? {
                    match (number, wire) {
                        (field::metric::DATA_POINTS, WireType::Varint) => {
                            parts.metric_points += metric.varint()?
                        }
                        (field::metric::SCOPE, WireType::Varint) => scope = metric.varint()? as u32,
                        (field::metric::OTLP_METRIC, WireType::Len) => otlp = Some(metric.bytes()?),
                        _ => metric.skip(wire)?,
                    }
                }
                if let Some(otlp) = otlp {
                    parts.metrics.push((scope, otlp));
                }
            }
            (field::block::BASE_TIME_UNIX_NANO, WireType::Fixed64) => {
                parts.base_time = reader.fixed64()?
            }
            (field::block::SPAN_IDS, _) => fixed64s(&mut reader, wire, &mut parts.span_ids)?,
            (field::block::PARENT_SPAN_IDS, _) => {
                fixed64s(&mut reader, wire, &mut parts.parent_span_ids)?;
            }
            (field::block::SPAN_START_OFFSETS, _) => {
                sint64s(&mut reader, wire, &mut parts.span_start_offsets)?;
            }
            (field::block::SPAN_DURATIONS, _) => {
                sint64s(&mut reader, wire, &mut parts.span_durations)?;
            }
            (field::block::LOG_TIME_OFFSETS, _) => {
                sint64s(&mut reader, wire, &mut parts.log_time_offsets)?;
            }
            (field::block::LOG_OBSERVED_OFFSETS, _) => {
                sint64s(&mut reader, wire, &mut parts.log_observed_offsets)?;
            }
            _ => reader.skip(wire)?,
        }
    }
    Ok(parts)
}

fn attribute(parts: &Parts<'_>, bytes: &[u8], w: &mut TextWriter<'_>) -> Result<(), RenderError> {
    let (key, value) = key_value(bytes)?;
    if w.attribute_start(parts.str(key))
        && let Some(value) = value
    {
        render_value(value, w)?;
    }
    Ok(())
}

/// A SourceLocation's file reference and line.
fn source(bytes: &[u8]) -> Result<(u32, u32), WireError> {
    let mut reader = Reader::new(bytes);
    let (mut file, mut line) = (0, 0);
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            (field::source_location::FILE_PATH, WireType::Varint) => file = reader.varint()? as u32,
            (field::source_location::LINE, WireType::Varint) => line = reader.varint()? as u32,
            _ => reader.skip(wire)?,
        }
    }
    Ok((file, line))
}

/// The service name of each resource; each one's attributes are written to
/// `prepared`'s resource text, as a record's own attributes are to its text.
fn resources<'a>(
    parts: &Parts<'a>,
    prepared: &mut PreparedBlock,
) -> Result<Vec<Option<&'a str>>, RenderError> {
    let mut services = Vec::with_capacity(parts.resources.len());
    for resource in &parts.resources {
        let mut service = None;
        let mut failed = None;
        let (end, _) = write_text(&mut prepared.resource_text, |w| {
            w.end_display();
            failed = resource_attributes(parts, resource, w, &mut service).err();
        });
        if let Some(error) = failed {
            return Err(error);
        }
        prepared.resource_ends.push(end);
        services.push(service);
    }
    Ok(services)
}

fn resource_attributes<'a>(
    parts: &Parts<'a>,
    resource: &'a [u8],
    w: &mut TextWriter<'_>,
    service: &mut Option<&'a str>,
) -> Result<(), RenderError> {
    let mut reader = Reader::new(resource);
    while let Some((number, wire)) = reader.field()? {
        if (number, wire) != (field::resource::ATTRIBUTES, WireType::Len) {
            reader.skip(wire)?;
            continue;
        }
        let bytes = reader.bytes()?;
        attribute(parts, bytes, w)?;
        let (key, value) = key_value(bytes)?;
        if parts.str(key) != "service.name" {
            continue;
        }
        let mut value = Reader::new(value.unwrap_or_default());
        while let Some((number, wire)) = value.field()? {
            match (number, wire) {
                (field::any_value::STRING_VALUE, WireType::Len) => *service = Some(value.string()?),
                _ => value.skip(wire)?,
            }
        }
    }
    Ok(())
}

/// Prepares a block from its protobuf encoding.
pub fn prepare_raw(raw: &[u8]) -> Result<PreparedBlock, RenderError> {
    let mut prepared = PreparedBlock::default();
    prepare_raw_into(raw, &mut prepared)?;
    Ok(prepared)
}

/// [`prepare_raw`] into a block whose buffers are reused: a load then allocates
/// (and the kernel zeroes) no new memory per block.
pub fn prepare_raw_into(raw: &[u8], prepared: &mut PreparedBlock) -> Result<(), RenderError> {
    prepared.clear();
    let parts = parts(raw)?;
    let services = resources(&parts, prepared)?;
    for scope in &parts.scopes {
        let mut reader = Reader::new(scope);
        let (mut resource, mut name) = (0, 0);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (field::scope::RESOURCE, WireType::Varint) => resource = reader.varint()?,
                (field::scope::NAME, WireType::Varint) => name = reader.varint()? as u32,
                _ => reader.skip(wire)?,
            }
        }
        let known = services.get(resource as usize);
        let service = known.copied().flatten().unwrap_or("unknown_service");
        prepared.scopes.push(PreparedScope {
            service: service.to_owned(),
            name,
            resource: known.map(|_| resource as u32),
        });
    }

    let mut chain = LogTimeChain::new(parts.base_time);
    prepared.logs.reserve(parts.logs.len());
    let mut attributes: Vec<&[u8]> = Vec::new();
    let time_columns = LogTimeColumns::of(
        parts.logs.len(),
        &parts.log_time_offsets,
        &parts.log_observed_offsets,
    );
    for (i, log) in parts.logs.iter().enumerate() {
        let mut reader = Reader::new(log);
        let mut record = PreparedRecord::default();
        let (mut time_offset, mut observed_offset) = (None, None);
        let mut absent_times = 0;
        let (mut severity_number, mut severity_text) = (0, 0);
        let (mut body, mut event_name) = (None, 0);
        let (mut high, mut low) = (0, 0);
        attributes.clear();
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (field::log_record::SCOPE, WireType::Varint) => {
                    record.scope = reader.varint()? as u32
                }
                (field::log_record::TIME_OFFSET_NANO, WireType::Varint) => {
                    time_offset = Some(zigzag_decode(reader.varint()?))
                }
                (field::log_record::OBSERVED_TIME_OFFSET_NANO, WireType::Varint) => {
                    observed_offset = Some(zigzag_decode(reader.varint()?))
                }
                (field::log_record::SEVERITY_NUMBER, WireType::Varint) => {
                    severity_number = reader.varint()? as i32
                }
                (field::log_record::SEVERITY_TEXT, WireType::Varint) => {
                    severity_text = reader.varint()?
                }
                (field::log_record::BODY, WireType::Len) => body = Some(reader.bytes()?),
                (field::log_record::ATTRIBUTES, WireType::Len) => attributes.push(reader.bytes()?),
                (field::log_record::TRACE_ID_HIGH, WireType::Fixed64) => high = reader.fixed64()?,
                (field::log_record::TRACE_ID_LOW, WireType::Fixed64) => low = reader.fixed64()?,
                (field::log_record::SPAN_ID, WireType::Fixed64) => {
                    record.span_id = reader.fixed64()?
                }
                (field::log_record::EVENT_NAME, WireType::Varint) => {
                    event_name = reader.varint()?
                }
                (field::log_record::SOURCE, WireType::Len) => {
                    (record.source_file, record.source_line) = source(reader.bytes()?)?;
                }
                (field::log_record::ABSENT_TIMES, WireType::Varint) => {
                    absent_times = reader.varint()? as u32
                }
                _ => reader.skip(wire)?,
            }
        }
        if let Some(columns) = &time_columns {
            (time_offset, observed_offset) = columns.offsets(i, absent_times);
        }
        let (time, observed) = chain.log_times(time_offset, observed_offset);
        record.time = if time != 0 { time } else { observed };
        record.trace_id = join_trace_id(high, low);
        record.level = Level::from_otlp(severity_number, parts.str(severity_text));
        let mut failed = None;
        (record.text_end, record.display_len) = write_text(&mut prepared.log_text, |w| {
            let rendered = match body {
                Some(body) if has_value(body) => render_value(body, w),
                _ => {
                    w.text(parts.str(event_name));
                    Ok(())
                }
            };
            w.end_display();
            failed = rendered
                .and_then(|()| attributes.iter().try_for_each(|a| attribute(&parts, a, w)))
                .err();
        });
        if let Some(error) = failed {
            return Err(error);
        }
        prepared.logs.push(record);
    }

    let mut chain = SpanTimeChain::new(parts.base_time);
    prepared.spans.reserve(parts.spans.len());
    let mut trace_ids = Vec::with_capacity(parts.spans.len());
    let mut events: Vec<&[u8]> = Vec::new();
    for (i, span) in parts.spans.iter().enumerate() {
        let mut reader = Reader::new(span);
        let mut record = PreparedRecord::default();
        let (mut high, mut low, mut trace_ref) = (0, 0, 0);
        let mut name = 0;
        let mut status = 0;
        attributes.clear();
        events.clear();
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (field::span::SCOPE, WireType::Varint) => record.scope = reader.varint()? as u32,
                (field::span::TRACE_ID_HIGH, WireType::Fixed64) => high = reader.fixed64()?,
                (field::span::TRACE_ID_LOW, WireType::Fixed64) => low = reader.fixed64()?,
                (field::span::NAME, WireType::Varint) => name = reader.varint()?,
                (field::span::ATTRIBUTES, WireType::Len) => attributes.push(reader.bytes()?),
                (field::span::EVENTS, WireType::Len) => events.push(reader.bytes()?),
                (field::span::STATUS_CODE, WireType::Varint) => status = reader.varint()?,
                (field::span::SOURCE, WireType::Len) => {
                    (record.source_file, record.source_line) = source(reader.bytes()?)?;
                }
                (field::span::TRACE_REF, WireType::Varint) => trace_ref = reader.varint()? as usize,
                _ => reader.skip(wire)?,
            }
        }
        // A reference points at an earlier span of the block, whose id is resolved.
        let trace_id = match trace_ref {
            0 => join_trace_id(high, low),
            reference => trace_ids.get(reference - 1).copied().unwrap_or(0),
        };
        trace_ids.push(trace_id);
        let start = chain.span_start(parts.span_start_offsets.get(i).copied().unwrap_or(0));
        let duration = parts.span_durations.get(i).copied().unwrap_or(0);
        record.time = start;
        record.end = start.wrapping_add(duration as u64);
        record.trace_id = trace_id;
        record.span_id = parts.span_ids.get(i).copied().unwrap_or(0);
        record.parent_span_id = parts.parent_span_ids.get(i).copied().unwrap_or(0);
        record.error = status == oculus_store::proto::StatusCode::Error as u64;
        let mut parsed_events = Vec::with_capacity(events.len());
        for event in events.iter().take(usize::from(u16::MAX)) {
            let mut reader = Reader::new(event);
            let (mut offset, mut event_name) = (0, 0);
            let mut event_attributes = Vec::new();
            while let Some((number, wire)) = reader.field()? {
                match (number, wire) {
                    (field::event::TIME_OFFSET_NANO, WireType::Varint) => {
                        offset = zigzag_decode(reader.varint()?)
                    }
                    (field::event::NAME, WireType::Varint) => event_name = reader.varint()?,
                    (field::event::ATTRIBUTES, WireType::Len) => {
                        event_attributes.push(reader.bytes()?)
                    }
                    _ => reader.skip(wire)?,
                }
            }
            prepared.span_events.push(start.wrapping_add(offset as u64));
            parsed_events.push((event_name, event_attributes));
        }
        let mut failed = None;
        (record.text_end, record.display_len) = write_text(&mut prepared.span_text, |w| {
            w.text(parts.str(name));
            w.end_display();
            failed = attributes
                .iter()
                .try_for_each(|a| attribute(&parts, a, w))
                .and_then(|()| {
                    for (event_name, event_attributes) in &parsed_events {
                        w.attribute_start("event");
                        w.text(parts.str(*event_name));
                        for a in event_attributes {
                            attribute(&parts, a, w)?;
                        }
                    }
                    Ok(())
                })
                .err();
        });
        if let Some(error) = failed {
            return Err(error);
        }
        let event_count = parsed_events.len() as u16;
        record.events = event_count;
        prepared.spans.push(record);
    }
    prepared.metric_points = parts.metric_points;
    // Metrics are few beside spans and logs: read into the plain model here, on the
    // decoding thread, for the index's metric store.
    for &(scope, otlp) in &parts.metrics {
        let metrics = prepared.metrics.get_or_insert_with(Box::default);
        metrics.metrics.push((scope, decode_metric(otlp)?));
    }
    prepared
        .strings
        .extend(parts.strings.iter().map(|s| (*s).to_owned()));
    Ok(())
}
