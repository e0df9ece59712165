//! Building blocks from normalized records, and reading strings back out of them.

use rustc_hash::FxHashMap;

use crate::proto::{Block, BlockSummary, Resource, Scope};

/// Accumulates records into one self-contained block, interning repeated strings.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    block: Block,
    interned: FxHashMap<String, u32>,
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
        let time = block.time(log.time_offset_nano);
        see(if time == 0 {
            block.time(log.observed_time_offset_nano)
        } else {
            time
        });
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
