//! Building blocks from normalized records, and reading strings back out of them.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use crate::proto::{Block, BlockSummary, LogRecord, Resource, Scope};

/// Accumulates records into one self-contained block, interning repeated strings.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    block: Block,
    interned: FxHashMap<String, u32>,
    /// The first span of each trace in this block, 1-based.
    traces: FxHashMap<(u64, u64), u32>,
    base_time_set: bool,
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

    /// Sets the base time that offsets are taken from, unless offsets were already
    /// taken. A base near the block's timestamps keeps offsets short.
    pub fn set_base_time(&mut self, time_unix_nano: u64) {
        if !self.base_time_set {
            self.block.base_time_unix_nano = time_unix_nano;
            self.base_time_set = true;
        }
    }

    /// The offset of `time_unix_nano` from the block's base time. Wrapping keeps
    /// every u64 exactly recoverable, including 0 ("unknown").
    pub fn time_offset(&mut self, time_unix_nano: u64) -> i64 {
        self.base_time_set = true;
        time_unix_nano.wrapping_sub(self.block.base_time_unix_nano) as i64
    }

    /// The stored form of a log record's event and observed times.
    pub fn log_time_offsets(&mut self, time: u64, observed: u64) -> (Option<i64>, Option<i64>) {
        let time_offset = (time != 0).then(|| self.time_offset(time));
        let reference = if time != 0 {
            time
        } else {
            self.block.base_time_unix_nano
        };
        let observed_offset = (observed != 0).then(|| observed.wrapping_sub(reference) as i64);
        (time_offset, observed_offset)
    }

    /// The trace reference for a span about to be pushed: the 1-based index of an
    /// earlier span of the same trace in this block, or 0 when it is the first.
    pub fn trace_ref(&mut self, trace_id: (u64, u64)) -> u32 {
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

    pub fn is_empty(&self) -> bool {
        self.block.spans.is_empty() && self.block.logs.is_empty() && self.block.metrics.is_empty()
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

    /// The absolute time of an offset stored in this block.
    pub fn time(&self, offset_nano: i64) -> u64 {
        self.base_time_unix_nano.wrapping_add(offset_nano as u64)
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

    /// The event time and observed time of a log record (0 when absent, as in OTLP).
    pub fn log_times(&self, log: &LogRecord) -> (u64, u64) {
        let time = log.time_offset_nano.map_or(0, |offset| self.time(offset));
        let observed = log.observed_time_offset_nano.map_or(0, |offset| {
            let reference = if log.time_offset_nano.is_some() {
                time
            } else {
                self.base_time_unix_nano
            };
            reference.wrapping_add(offset as u64)
        });
        (time, observed)
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

/// Counts and time range of a block, for the segment index.
pub fn summarize(block: &Block) -> BlockSummary {
    let mut min = u64::MAX;
    let mut max = 0;
    let mut see = |time: u64| {
        if time != 0 {
            min = min.min(time);
            max = max.max(time);
        }
    };
    for span in &block.spans {
        let start = block.time(span.start_offset_nano);
        see(start);
        see(start.wrapping_add(span.duration_nano as u64));
    }
    for log in &block.logs {
        // Several SDKs leave the event time unset and only fill the observed time.
        let (time, observed) = block.log_times(log);
        see(if time == 0 { observed } else { time });
    }
    BlockSummary {
        spans: block.spans.len() as u32,
        logs: block.logs.len() as u32,
        metric_points: block.metrics.iter().map(|m| m.data_points).sum(),
        min_time_unix_nano: if min == u64::MAX { 0 } else { min },
        max_time_unix_nano: max,
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
