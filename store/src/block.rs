//! Building blocks from normalized records, and reading strings back out of them.
//!
//! # How record times are stored
//!
//! Each time is stored relative to one before it, so the stored numbers are short
//! (records of a batch are close in time). Each kind of record has a chain of its own,
//! and every chain starts at the block's base time: spans chain through spans only, log
//! records through log records only (metric points keep their verbatim OTLP times). A
//! block that holds both kinds thus reads back exactly whatever order they were added
//! in, and a block of one kind, all the collector writes, is stored as it always was.
//! The chains are two types, [`SpanTimeChain`] and [`LogTimeChain`], so that no writer
//! or reader can walk one chain across both kinds.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use crate::proto::{Block, BlockSummary, LogRecord, Resource, Scope, Span, any_value};

/// Accumulates records into one self-contained block, interning repeated strings.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    block: Block,
    interned: FxHashMap<String, u32>,
    /// The first span of each trace in this block, 1-based.
    traces: FxHashMap<(u64, u64), u32>,
    /// One chain per kind, as the readers walk them, so a block may mix spans and logs.
    span_chain: SpanTimeChain,
    log_chain: LogTimeChain,
    base_time_set: bool,
}

/// The chain of a block's span start times (see the module doc). Writers and readers
/// walk the same chain.
///
/// It starts at the block's base time. A span's start is stored as the difference from
/// the previous span's start; its events relative to its own start.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanTimeChain {
    previous: u64,
}

impl SpanTimeChain {
    pub fn new(base_time_unix_nano: u64) -> Self {
        Self {
            previous: base_time_unix_nano,
        }
    }

    pub fn span_start_offset(&mut self, start: u64) -> i64 {
        let offset = start.wrapping_sub(self.previous) as i64;
        self.previous = start;
        offset
    }

    pub fn span_start(&mut self, offset: i64) -> u64 {
        self.previous = self.previous.wrapping_add(offset as u64);
        self.previous
    }
}

/// The chain of a block's log record times (see the module doc). Writers and readers
/// walk the same chain.
///
/// It starts at the block's base time. A log record's event time, when it has one, is
/// stored relative to the previous log record's time; its observed time relative to
/// its own event time if present, else to the previous log record's time. A record's
/// time (its event time, else its observed time) is the next record's reference; a
/// record with neither leaves the reference as it was.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogTimeChain {
    previous: u64,
}

impl LogTimeChain {
    pub fn new(base_time_unix_nano: u64) -> Self {
        Self {
            previous: base_time_unix_nano,
        }
    }

    pub fn log_time_offsets(&mut self, time: u64, observed: u64) -> (Option<i64>, Option<i64>) {
        let time_offset = (time != 0).then(|| time.wrapping_sub(self.previous) as i64);
        let reference = if time != 0 { time } else { self.previous };
        let observed_offset = (observed != 0).then(|| observed.wrapping_sub(reference) as i64);
        if time != 0 {
            self.previous = time;
        } else if observed != 0 {
            self.previous = observed;
        }
        (time_offset, observed_offset)
    }

    /// The event and observed time of the next log record (0 when absent, as in OTLP).
    pub fn log_times(
        &mut self,
        time_offset: Option<i64>,
        observed_offset: Option<i64>,
    ) -> (u64, u64) {
        let time = time_offset.map_or(0, |offset| self.previous.wrapping_add(offset as u64));
        let reference = if time_offset.is_some() {
            time
        } else {
            self.previous
        };
        let observed = observed_offset.map_or(0, |offset| reference.wrapping_add(offset as u64));
        if time_offset.is_some() {
            self.previous = time;
        } else if observed_offset.is_some() {
            self.previous = observed;
        }
        (time, observed)
    }
}

/// `LogRecord.absent_times` bit: the record has no event time.
pub const LOG_NO_EVENT_TIME: u32 = 1;
/// `LogRecord.absent_times` bit: the record has no observed time.
pub const LOG_NO_OBSERVED_TIME: u32 = 2;

/// A log record's stored offsets (from [`LogTimeChain::log_time_offsets`]) as its entries
/// in the block's time columns and its `absent_times` bits.
pub fn log_time_entries((time, observed): (Option<i64>, Option<i64>)) -> (i64, i64, u32) {
    let mut absent = 0;
    if time.is_none() {
        absent |= LOG_NO_EVENT_TIME;
    }
    if observed.is_none() {
        absent |= LOG_NO_OBSERVED_TIME;
    }
    (time.unwrap_or(0), observed.unwrap_or(0), absent)
}

/// A block's log time columns, for a block that keeps its log records' times there
/// (blocks written before the columns existed keep them in each record).
#[derive(Clone, Copy, Debug)]
pub struct LogTimeColumns<'a> {
    time_offsets: &'a [i64],
    observed_offsets: &'a [i64],
}

impl<'a> LogTimeColumns<'a> {
    /// The columns of a block with `logs` records, or `None` when its times are in the
    /// records: the columns count when they hold one entry per record.
    pub fn of(logs: usize, time_offsets: &'a [i64], observed_offsets: &'a [i64]) -> Option<Self> {
        (logs > 0 && time_offsets.len() == logs).then_some(Self {
            time_offsets,
            observed_offsets,
        })
    }

    /// The stored offsets of record `index`, given its `absent_times` bits.
    pub fn offsets(&self, index: usize, absent_times: u32) -> (Option<i64>, Option<i64>) {
        let time = self.time_offsets.get(index).copied().unwrap_or(0);
        let observed = self.observed_offsets.get(index).copied().unwrap_or(0);
        (
            (absent_times & LOG_NO_EVENT_TIME == 0).then_some(time),
            (absent_times & LOG_NO_OBSERVED_TIME == 0).then_some(observed),
        )
    }
}

/// What a span keeps in its block's columns rather than in its message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpanColumns {
    pub span_id: u64,
    /// 0 for a root span.
    pub parent_span_id: u64,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
}

/// An event's stored time: relative to the start of its span.
pub fn event_time_offset(span_start: u64, time: u64) -> i64 {
    time.wrapping_sub(span_start) as i64
}

impl BlockBuilder {
    pub fn new() -> Self {
        let mut builder = Self::default();
        builder.block.strings.push(String::new());
        builder.interned.insert(String::new(), 0);
        builder
    }

    /// The reference of `text` in this block's string table.
    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.interned.get(text) {
            return id;
        }
        let id = self.block.strings.len() as u32;
        self.block.strings.push(text.to_owned());
        self.interned.insert(text.to_owned(), id);
        id
    }

    pub fn add_resource(&mut self, resource: Resource) -> u32 {
        self.block.resources.push(resource);
        self.block.resources.len() as u32 - 1
    }

    pub fn add_scope(&mut self, scope: Scope) -> u32 {
        self.block.scopes.push(scope);
        self.block.scopes.len() as u32 - 1
    }

    /// Sets the base time that the first span's and the first log record's times are
    /// taken from, unless times were already stored. A base near the block's timestamps keeps them short.
    pub fn set_base_time(&mut self, time_unix_nano: u64) {
        if !self.base_time_set {
            self.block.base_time_unix_nano = time_unix_nano;
            self.span_chain = SpanTimeChain::new(time_unix_nano);
            self.log_chain = LogTimeChain::new(time_unix_nano);
            self.base_time_set = true;
        }
    }

    /// Adds a span. Its trace id becomes a reference when its trace is already in the
    /// block; its ids and times go into the block's span columns.
    pub fn push_span(&mut self, mut span: Span, columns: SpanColumns) {
        let trace_ref = self.trace_ref((span.trace_id_high, span.trace_id_low));
        if trace_ref != 0 {
            span.trace_ref = trace_ref;
            span.trace_id_high = 0;
            span.trace_id_low = 0;
        }
        self.base_time_set = true;
        let start_offset = self.span_chain.span_start_offset(columns.start_unix_nano);
        let block = &mut self.block;
        block.span_ids.push(columns.span_id);
        block.parent_span_ids.push(columns.parent_span_id);
        block.span_start_offsets.push(start_offset);
        block
            .span_durations
            .push(columns.end_unix_nano.wrapping_sub(columns.start_unix_nano) as i64);
        block.spans.push(span);
    }

    /// Adds a log record with its event and observed times (0 when absent, as in
    /// OTLP), which go into the block's log columns.
    pub fn push_log(&mut self, mut log: LogRecord, time: u64, observed: u64) {
        self.base_time_set = true;
        let (time_offset, observed_offset, absent) =
            log_time_entries(self.log_chain.log_time_offsets(time, observed));
        log.time_offset_nano = None;
        log.observed_time_offset_nano = None;
        log.absent_times = absent;
        self.block.log_time_offsets.push(time_offset);
        self.block.log_observed_offsets.push(observed_offset);
        self.block.logs.push(log);
    }

    /// The trace reference for a span about to be pushed: the 1-based index of an
    /// earlier span of the same trace in this block, or 0 when it is the first.
    fn trace_ref(&mut self, trace_id: (u64, u64)) -> u32 {
        let next = self.block.spans.len() as u32 + 1;
        match self.traces.entry(trace_id) {
            Entry::Occupied(first) => *first.get(),
            Entry::Vacant(slot) => {
                slot.insert(next);
                0
            }
        }
    }

    pub fn block_mut(&mut self) -> &mut Block {
        &mut self.block
    }

    pub fn finish(self) -> Block {
        self.block
    }
}

impl Block {
    /// The string behind a reference; a dangling reference reads as "".
    pub fn str(&self, reference: u32) -> &str {
        self.strings
            .get(reference as usize)
            .map_or("", String::as_str)
    }

    /// The ids and times of every span, in order, from the block's columns. A column
    /// shorter than `spans` (damaged data) reads as zeros.
    pub fn span_columns(&self) -> Vec<SpanColumns> {
        let mut chain = SpanTimeChain::new(self.base_time_unix_nano);
        (0..self.spans.len())
            .map(|i| {
                let start = chain.span_start(self.span_start_offsets.get(i).copied().unwrap_or(0));
                let duration = self.span_durations.get(i).copied().unwrap_or(0);
                SpanColumns {
                    span_id: self.span_ids.get(i).copied().unwrap_or(0),
                    parent_span_id: self.parent_span_ids.get(i).copied().unwrap_or(0),
                    start_unix_nano: start,
                    end_unix_nano: start.wrapping_add(duration as u64),
                }
            })
            .collect()
    }

    /// The event time and observed time of every log record, in order (0 when absent,
    /// as in OTLP).
    pub fn log_times(&self) -> Vec<(u64, u64)> {
        let mut chain = LogTimeChain::new(self.base_time_unix_nano);
        let columns = self.log_time_columns();
        self.logs
            .iter()
            .enumerate()
            .map(|(i, log)| {
                let (time, observed) = match &columns {
                    Some(columns) => columns.offsets(i, log.absent_times),
                    None => (log.time_offset_nano, log.observed_time_offset_nano),
                };
                chain.log_times(time, observed)
            })
            .collect()
    }

    /// The log time columns, when the block keeps its log records' times there.
    pub fn log_time_columns(&self) -> Option<LogTimeColumns<'_>> {
        LogTimeColumns::of(
            self.logs.len(),
            &self.log_time_offsets,
            &self.log_observed_offsets,
        )
    }

    /// The trace id of `spans[index]`, following its reference to an earlier span.
    pub fn span_trace_id(&self, index: usize) -> (u64, u64) {
        let mut index = index;
        // References only point backwards, so this ends; the bound guards bad data.
        for _ in 0..self.spans.len() {
            let Some(span) = self.spans.get(index) else {
                return (0, 0);
            };
            match span.trace_ref {
                0 => return (span.trace_id_high, span.trace_id_low),
                reference if (reference as usize) <= index => index = reference as usize - 1,
                _ => return (0, 0),
            }
        }
        (0, 0)
    }

    pub fn record_count(&self) -> u64 {
        self.spans.len() as u64
            + self.logs.len() as u64
            + self
                .metrics
                .iter()
                .map(|m| u64::from(m.data_points))
                .sum::<u64>()
    }
}

/// The attribute of a resource that names its service.
pub const SERVICE_NAME_KEY: &str = "service.name";

/// What OpenTelemetry (and the viewer) calls the service of a resource that names none.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// The service a resource's records show under: its last string `service.name`, else
/// [`UNKNOWN_SERVICE`] (also for a scope's resource that the block lacks).
pub fn resource_service<'a>(strings: &'a [String], resource: Option<&'a Resource>) -> &'a str {
    let named = resource.and_then(|resource| {
        resource.attributes.iter().rev().find_map(|attribute| {
            if strings.get(attribute.key as usize)? != SERVICE_NAME_KEY {
                return None;
            }
            match attribute.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(name) => Some(name.as_str()),
                _ => None,
            }
        })
    });
    named.unwrap_or(UNKNOWN_SERVICE)
}

/// The services of a block's records, as `BlockSummary.services` holds them: those of
/// the resources its scopes (given by their resource indexes) belong to, sorted, each
/// once. A resource without a scope holds no record, so it names no service.
pub fn services(
    strings: &[String],
    resources: &[Resource],
    scope_resources: impl IntoIterator<Item = u32>,
) -> Vec<String> {
    let mut services: Vec<&str> = scope_resources
        .into_iter()
        .map(|resource| resource_service(strings, resources.get(resource as usize)))
        .collect();
    services.sort_unstable();
    services.dedup();
    services.into_iter().map(str::to_owned).collect()
}

/// Counts, time range and services of a block, for the segment index.
pub fn summarize(block: &Block) -> BlockSummary {
    let mut min = u64::MAX;
    let mut max = 0;
    let mut see = |time: u64| {
        if time != 0 {
            min = min.min(time);
            max = max.max(time);
        }
    };
    for span in block.span_columns() {
        see(span.start_unix_nano);
        see(span.end_unix_nano);
    }
    for (time, observed) in block.log_times() {
        // Several SDKs leave the event time unset and only fill the observed time.
        see(if time == 0 { observed } else { time });
    }
    BlockSummary {
        spans: block.spans.len() as u32,
        logs: block.logs.len() as u32,
        metric_points: block.metrics.iter().map(|m| m.data_points).sum(),
        // A time of u64::MAX is a time too: only a block with none (max 0) has no range.
        min_time_unix_nano: if max == 0 { 0 } else { min },
        max_time_unix_nano: max,
        services: services(
            &block.strings,
            &block.resources,
            block.scopes.iter().map(|scope| scope.resource),
        ),
        ..BlockSummary::default()
    }
}

/// Splits a 16-byte trace id into the two big-endian halves the block stores.
/// Any other length (including empty) is `None`.
pub fn split_trace_id(bytes: &[u8]) -> Option<(u64, u64)> {
    let bytes: &[u8; 16] = bytes.try_into().ok()?;
    let (high, low) = bytes.split_at(8);
    Some((
        u64::from_be_bytes(high.try_into().ok()?),
        u64::from_be_bytes(low.try_into().ok()?),
    ))
}

/// An 8-byte span id as stored; any other length is `None`.
pub fn split_span_id(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// The OTLP bytes of a stored trace id; all-zero (absent) becomes empty.
pub fn join_trace_id(high: u64, low: u64) -> Vec<u8> {
    if high == 0 && low == 0 {
        return Vec::new();
    }
    let mut bytes = Vec::with_capacity(16);
    bytes.extend_from_slice(&high.to_be_bytes());
    bytes.extend_from_slice(&low.to_be_bytes());
    bytes
}

/// The OTLP bytes of a stored span id; zero (absent) becomes empty.
pub fn join_span_id(id: u64) -> Vec<u8> {
    if id == 0 {
        Vec::new()
    } else {
        id.to_be_bytes().to_vec()
    }
}
