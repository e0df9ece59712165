//! The index proper: one fixed-size entry per record, the traces they form, and the
//! blocks they came from.

use rustc_hash::FxHashMap;

use super::chunked::Chunked;
use super::intern::{Interner, Table};
use super::record::{Level, PackedTraceId, TraceId};
use super::text::{TextArena, TextRef};
use crate::metrics::MetricStore;

/// Where a record's full form is: its block, and its position within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordLoc {
    pub block: u32,
    pub index: u32,
}

/// A block of a segment, by file and offset.
#[derive(Clone, Copy, Debug)]
pub struct BlockLoc {
    pub segment: u32,
    pub offset: u64,
    pub frame_bytes: u32,
}

#[derive(Clone, Copy, Debug)]
pub struct LogEntry {
    /// Event time, else observed time, in Unix nanoseconds.
    pub time: u64,
    pub trace_id: PackedTraceId,
    pub span_id: u64,
    pub text: TextRef,
    /// Service, scope and session: `Index::origins`.
    pub origin: u32,
    /// File and line: `Index::sources` (0 for none).
    pub source: u32,
    pub loc: RecordLoc,
    pub level: Level,
}

#[derive(Clone, Copy, Debug)]
pub struct SpanEntry {
    pub start: u64,
    pub end: u64,
    pub trace_id: PackedTraceId,
    pub span_id: u64,
    pub parent_span_id: u64,
    pub text: TextRef,
    pub origin: u32,
    pub source: u32,
    pub loc: RecordLoc,
    pub trace: u32,
    /// The span's events: `Index::span_events[first_event..][..event_count]`.
    pub first_event: u32,
    pub event_count: u16,
    pub error: bool,
}

// Entries are most of the index's memory: their sizes are part of its design.
const _: () = assert!(size_of::<LogEntry>() == 64);
const _: () = assert!(size_of::<SpanEntry>() == 88);

/// Where a record comes from: what a tab's service, scope, run and resource attribute
/// filters look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub service: u32,
    pub scope: u32,
    /// The resource's attributes, as a record's text holds its own: `Index::resources`.
    pub resource: u32,
    pub session: u16,
}

/// What one run (session) holds, kept up to date as its blocks are added: what the
/// Runs menu shows, without a pass over the records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunTotals {
    pub logs: u64,
    pub spans: u64,
    pub metric_points: u64,
    /// The earliest record time (a span's start), in Unix nanoseconds.
    pub first_unix_nano: Option<u64>,
    /// The latest record time (a span's end).
    pub last_unix_nano: Option<u64>,
    /// Interned service names, in order of appearance.
    pub services: Vec<u32>,
}

impl RunTotals {
    fn saw(&mut self, start: u64, end: u64) {
        // A record without a time (0) says nothing about when the run was.
        if start != 0 {
            self.first_unix_nano = Some(self.first_unix_nano.map_or(start, |t| t.min(start)));
        }
        if end != 0 {
            self.last_unix_nano = Some(self.last_unix_nano.map_or(end, |t| t.max(end)));
        }
    }
}

/// A trace: the spans and logs that share its id, in arrival order.
#[derive(Debug)]
pub struct TraceEntry {
    pub id: TraceId,
    pub start: u64,
    pub end: u64,
    /// The root span, once it arrived.
    pub root: Option<u32>,
    pub spans: Vec<u32>,
    pub logs: Vec<u32>,
    pub errors: u32,
}

/// Every record the viewer holds.
#[derive(Debug)]
pub struct Index {
    pub strings: Interner,
    pub origins: Table<Origin>,
    /// Each distinct resource's attribute text (see [`write_text`]), once: origins
    /// name it, records do not.
    ///
    /// [`write_text`]: super::text::write_text
    pub resources: Interner,
    /// (file, line); id 0 is "no source".
    pub sources: Table<(u32, u32)>,
    /// The text of log records and of spans, apart so that a search over one never
    /// scans the other.
    pub log_text: TextArena,
    pub span_text: TextArena,
    /// In chunks: a list of tens of millions that doubled would stop the backend
    /// to copy it.
    pub logs: Chunked<LogEntry>,
    pub spans: Chunked<SpanEntry>,
    pub traces: Chunked<TraceEntry>,
    trace_ids: FxHashMap<TraceId, u32>,
    /// The trace most recently looked up, tried before the map.
    last_trace: Option<(TraceId, u32)>,
    pub blocks: Vec<BlockLoc>,
    /// Times of span events, in Unix nanoseconds; spans point into it.
    pub span_events: Vec<u64>,
    /// Interned service names, in order of appearance.
    pub services: Vec<u32>,
    pub metric_points: u64,
    /// The metric points, by service, instrument and series.
    pub metrics: MetricStore,
    /// Traces with at least one span: those the trace list can show (a trace id that
    /// only log records carried is no trace to look at).
    pub traces_with_spans: usize,
    /// Log records per level, over all of them.
    pub log_level_counts: [u64; 7],
    /// By session number: what each run holds.
    pub runs: Vec<RunTotals>,
}

impl Index {
    /// An index whose text chunks are `chunk_bytes` long: see [`TextArena::with_chunk_bytes`].
    pub fn with_text_chunk_bytes(chunk_bytes: usize) -> Self {
        Self {
            log_text: TextArena::with_chunk_bytes(chunk_bytes),
            span_text: TextArena::with_chunk_bytes(chunk_bytes),
            ..Self::default()
        }
    }

    /// The same, with its log and span entries in chunks of `1 << bits`, so that
    /// a test's few records cross chunks of both kinds.
    pub fn with_chunks(text_chunk_bytes: usize, entry_chunk_bits: u32) -> Self {
        Self {
            logs: Chunked::with_chunk_bits(entry_chunk_bits),
            spans: Chunked::with_chunk_bits(entry_chunk_bits),
            ..Self::with_text_chunk_bytes(text_chunk_bytes)
        }
    }
}

impl Default for Index {
    fn default() -> Self {
        Self {
            strings: Interner::default(),
            origins: Table::with_first(Origin {
                service: 0,
                scope: 0,
                resource: 0,
                session: 0,
            }),
            resources: Interner::default(),
            sources: Table::with_first((0, 0)),
            log_text: TextArena::default(),
            span_text: TextArena::default(),
            logs: Chunked::default(),
            spans: Chunked::default(),
            traces: Chunked::default(),
            trace_ids: FxHashMap::default(),
            last_trace: None,
            blocks: Vec::new(),
            span_events: Vec::new(),
            services: Vec::new(),
            metric_points: 0,
            metrics: MetricStore::default(),
            traces_with_spans: 0,
            log_level_counts: [0; 7],
            runs: Vec::new(),
        }
    }
}

/// A block's records made ready for the index: everything per record that needs no
/// index state (times, levels, ids, the text), so it runs on the decoding thread and
/// the indexing thread only interns, links traces and copies.
#[derive(Debug, Default, PartialEq)]
pub struct PreparedBlock {
    /// The block's string table, for the few strings the index interns.
    pub(crate) strings: Vec<String>,
    pub(crate) scopes: Vec<PreparedScope>,
    /// The attribute text of each resource of the block, one after another.
    pub(crate) resource_text: Vec<u8>,
    /// Where each resource's attribute text ends in `resource_text`.
    pub(crate) resource_ends: Vec<u32>,
    pub(crate) logs: Vec<PreparedRecord>,
    pub(crate) spans: Vec<PreparedRecord>,
    pub(crate) log_text: Vec<u8>,
    pub(crate) span_text: Vec<u8>,
    pub(crate) span_events: Vec<u64>,
    pub(crate) metric_points: u64,
    /// Boxed: most blocks hold none, and a prepared block is moved whole.
    pub(crate) metrics: Option<Box<PreparedMetrics>>,
}

/// A block's metrics: each one's scope (in the block's `scopes`) and its points.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct PreparedMetrics {
    pub(crate) metrics: Vec<(u32, oculus_otlp::metric::Metric)>,
}

impl PreparedBlock {
    /// Empties the block, keeping its buffers.
    pub fn clear(&mut self) {
        self.strings.clear();
        self.scopes.clear();
        self.resource_text.clear();
        self.resource_ends.clear();
        self.logs.clear();
        self.spans.clear();
        self.log_text.clear();
        self.span_text.clear();
        self.span_events.clear();
        self.metric_points = 0;
        self.metrics = None;
    }

    /// Log records and spans.
    pub fn records(&self) -> u64 {
        (self.logs.len() + self.spans.len()) as u64
    }
}

/// One scope of a [`PreparedBlock`].
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PreparedScope {
    pub(crate) service: String,
    /// Reference into the block's strings.
    pub(crate) name: u32,
    /// The block's resource it belongs to, if the block has it.
    pub(crate) resource: Option<u32>,
}

/// One log record or span of a [`PreparedBlock`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct PreparedRecord {
    /// A log's time; a span's start.
    pub(crate) time: u64,
    /// A span's end.
    pub(crate) end: u64,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: u64,
    pub(crate) parent_span_id: u64,
    pub(crate) scope: u32,
    /// Reference into the block's strings.
    pub(crate) source_file: u32,
    pub(crate) source_line: u32,
    /// End of this record's text in the block's text buffer.
    pub(crate) text_end: u32,
    pub(crate) display_len: u32,
    pub(crate) events: u16,
    pub(crate) level: Level,
    pub(crate) error: bool,
}

/// Each record's text in a prepared block's buffer, where they follow one another.
fn record_texts<'a>(
    buffer: &'a [u8],
    records: &'a [PreparedRecord],
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut start = 0;
    records.iter().map(move |record| {
        let end = record.text_end as usize;
        let text = buffer.get(start..end).unwrap_or_default();
        start = end;
        text
    })
}

impl Index {
    /// Adds a block read from `loc`, made ready from its bytes by the `raw` module.
    pub fn add_prepared(&mut self, block: &PreparedBlock, loc: BlockLoc, session: u16) {
        let block_id = self.blocks.len() as u32;
        self.blocks.push(loc);
        let string = |reference: u32| {
            block
                .strings
                .get(reference as usize)
                .map_or("", String::as_str)
        };
        // A block has a resource or two, each looked up once, not per record.
        let mut start = 0;
        let resources: Vec<u32> = block
            .resource_ends
            .iter()
            .map(|&end| {
                let text = block
                    .resource_text
                    .get(start..end as usize)
                    .unwrap_or_default();
                start = end as usize;
                self.resources.intern(&String::from_utf8_lossy(text))
            })
            .collect();
        let origins: Vec<u32> = block
            .scopes
            .iter()
            .map(|scope| {
                let service = self.strings.intern(&scope.service);
                if !self.services.contains(&service) {
                    self.services.push(service);
                }
                let run = self.run_mut(session);
                if !run.services.contains(&service) {
                    run.services.push(service);
                }
                let resource = scope
                    .resource
                    .and_then(|r| resources.get(r as usize).copied())
                    .unwrap_or(0);
                let name = self.strings.intern(string(scope.name));
                self.origins.id(Origin {
                    service,
                    scope: name,
                    resource,
                    session,
                })
            })
            .collect();
        let origin_of = |i: u32| origins.get(i as usize).copied().unwrap_or(0);
        // (block string reference, line) → source id, for the locations records repeat.
        let mut sources: Vec<((u32, u32), u32)> = Vec::new();
        let mut intern_source = |index: &mut Index, file: u32, line: u32| -> u32 {
            if file == 0 {
                return 0;
            }
            if let Some(&(_, id)) = sources.iter().find(|(key, _)| *key == (file, line)) {
                return id;
            }
            let file_id = index.strings.intern(string(file));
            let id = index.sources.id((file_id, line));
            sources.push(((file, line), id));
            id
        };
        let log_texts = record_texts(&block.log_text, &block.logs);
        for (i, (record, text)) in block.logs.iter().zip(log_texts).enumerate() {
            let text = self.log_text.push(text, record.display_len);
            let log_index = self.logs.len() as u32;
            if record.trace_id != 0 {
                let trace = self.trace(record.trace_id, record.time, record.time);
                self.traces[trace as usize].logs.push(log_index);
            }
            let source = intern_source(self, record.source_file, record.source_line);
            self.logs.push(LogEntry {
                time: record.time,
                trace_id: PackedTraceId::new(record.trace_id),
                span_id: record.span_id,
                text,
                origin: origin_of(record.scope),
                source,
                loc: RecordLoc {
                    block: block_id,
                    index: i as u32,
                },
                level: record.level,
            });
            self.log_level_counts[record.level as usize] += 1;
        }

        let mut event_start = 0;
        let span_texts = record_texts(&block.span_text, &block.spans);
        for (i, (record, text)) in block.spans.iter().zip(span_texts).enumerate() {
            let text = self.span_text.push(text, record.display_len);
            let trace = self.trace(record.trace_id, record.time, record.end);
            let first_event = self.span_events.len() as u32;
            let event_end = event_start + usize::from(record.events);
            self.span_events.extend_from_slice(
                block
                    .span_events
                    .get(event_start..event_end)
                    .unwrap_or_default(),
            );
            event_start = event_end;
            let span_index = self.spans.len() as u32;
            let source = intern_source(self, record.source_file, record.source_line);
            self.spans.push(SpanEntry {
                start: record.time,
                end: record.end,
                trace_id: PackedTraceId::new(record.trace_id),
                span_id: record.span_id,
                parent_span_id: record.parent_span_id,
                text,
                origin: origin_of(record.scope),
                source,
                loc: RecordLoc {
                    block: block_id,
                    index: i as u32,
                },
                trace,
                first_event,
                event_count: record.events,
                error: record.error,
            });
            let entry = &mut self.traces[trace as usize];
            self.traces_with_spans += usize::from(entry.spans.is_empty());
            entry.spans.push(span_index);
            entry.errors += u32::from(record.error);
            if record.parent_span_id == 0 {
                entry.root = Some(span_index);
            }
        }
        self.metric_points += block.metric_points;
        for (scope, metric) in block.metrics.iter().flat_map(|m| &m.metrics) {
            let origin = origin_of(*scope);
            let service = self.origins.get(origin).service;
            self.metrics.add(service, origin, metric);
        }
        let run = self.run_mut(session);
        run.logs += block.logs.len() as u64;
        run.spans += block.spans.len() as u64;
        run.metric_points += block.metric_points;
        for record in &block.logs {
            run.saw(record.time, record.time);
        }
        for record in &block.spans {
            run.saw(record.time, record.end);
        }
    }

    /// The totals of a run, made when its first block comes.
    fn run_mut(&mut self, session: u16) -> &mut RunTotals {
        let at = usize::from(session);
        if self.runs.len() <= at {
            self.runs.resize_with(at + 1, RunTotals::default);
        }
        &mut self.runs[at]
    }

    fn widen(&mut self, trace: u32, start: u64, end: u64) {
        let trace = &mut self.traces[trace as usize];
        trace.start = trace.start.min(start);
        trace.end = trace.end.max(end);
    }

    /// Makes room for this many more records and blocks.
    pub fn reserve(&mut self, logs: usize, spans: usize, blocks: usize) {
        self.logs.reserve(logs);
        self.spans.reserve(spans);
        self.blocks.reserve_exact(blocks);
    }

    /// The trace with this id, created on first sight, widened to `[start, end]`.
    fn trace(&mut self, id: TraceId, start: u64, end: u64) -> u32 {
        // Records of one trace come together: the last trace found is tried first.
        if let Some((last, index)) = self.last_trace
            && last == id
        {
            self.widen(index, start, end);
            return index;
        }
        let index = self.find_or_add_trace(id, start, end);
        self.last_trace = Some((id, index));
        index
    }

    fn find_or_add_trace(&mut self, id: TraceId, start: u64, end: u64) -> u32 {
        let next = self.traces.len() as u32;
        let index = *self.trace_ids.entry(id).or_insert(next);
        if index == next {
            self.traces.push(TraceEntry {
                id,
                start,
                end,
                root: None,
                spans: Vec::new(),
                logs: Vec::new(),
                errors: 0,
            });
        } else {
            self.widen(index, start, end);
        }
        index
    }

    pub fn trace_by_id(&self, id: TraceId) -> Option<u32> {
        self.trace_ids.get(&id).copied()
    }

    /// The name shown for a trace: its root span's, else its first span's.
    pub fn trace_root(&self, trace: &TraceEntry) -> Option<&SpanEntry> {
        trace
            .root
            .or_else(|| trace.spans.first().copied())
            .map(|s| &self.spans[s as usize])
    }

    /// Heap bytes held beyond the text itself, for the memory benchmark.
    pub fn overhead_bytes(&self) -> usize {
        self.logs.capacity() * size_of::<LogEntry>()
            + self.spans.capacity() * size_of::<SpanEntry>()
            + self
                .traces
                .iter()
                .map(|t| (t.spans.capacity() + t.logs.capacity()) * 4)
                .sum::<usize>()
            + self.traces.capacity() * size_of::<TraceEntry>()
            + self.trace_ids.capacity() * 24
            + self.blocks.capacity() * size_of::<BlockLoc>()
            + self.span_events.capacity() * size_of::<u64>()
            + self.strings.heap_bytes()
            + self.origins.heap_bytes()
            + self.resources.heap_bytes()
            + self.sources.heap_bytes()
        // The text chunks' spare capacity is never touched, so never resident.
    }
}
