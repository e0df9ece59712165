//! The in-memory index of every record the viewer holds.
//!
//! One fixed-size entry per log record and per span, with every repeated string
//! interned and every record's searchable text in a chunked arena. The full record
//! (resource, events, links...) stays in its segment and is read back on demand by
//! [`RecordLoc`], so memory grows by the entry and the text only.

use std::sync::Arc;

use oculus_store::proto::{AnyValue, Block, KeyValue, any_value};
use rustc_hash::FxHashMap;

/// Separates one attribute from the next in a record's text.
pub const FIELD_SEPARATOR: u8 = 0x1f;
/// Separates an attribute's key from its value in a record's text.
pub const VALUE_SEPARATOR: u8 = 0x1e;
/// Text chunks are this large; a record's text never spans two.
const CHUNK_BYTES: usize = 16 << 20;
/// Longer texts are cut, so one record cannot fill a chunk.
const MAX_TEXT_BYTES: usize = 64 << 10;

/// Severity, as OTLP groups its 24 severity numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// No severity was sent.
    #[default]
    Unset,
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::Unset,
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    /// From OTLP's severity number, falling back to the severity text that some
    /// bridges send alone.
    pub fn from_otlp(number: i32, text: &str) -> Self {
        match number {
            1..=4 => Level::Trace,
            5..=8 => Level::Debug,
            9..=12 => Level::Info,
            13..=16 => Level::Warn,
            17..=20 => Level::Error,
            21..=24 => Level::Fatal,
            _ => Self::from_text(text),
        }
    }

    fn from_text(text: &str) -> Self {
        let text = text.trim();
        let is = |name: &str| text.eq_ignore_ascii_case(name);
        if is("trace") {
            Level::Trace
        } else if is("debug") {
            Level::Debug
        } else if is("info") || is("information") {
            Level::Info
        } else if is("warn") || is("warning") {
            Level::Warn
        } else if is("error") {
            Level::Error
        } else if is("fatal") || is("critical") {
            Level::Fatal
        } else {
            Level::Unset
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::Unset => "-",
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }

    /// The level a threshold compares: records without one count as INFO.
    pub fn effective(self) -> Self {
        if self == Level::Unset {
            Level::Info
        } else {
            self
        }
    }
}

/// Interned strings: each distinct string is stored once and named by a `u32`.
#[derive(Debug)]
pub struct Interner {
    ids: FxHashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut interner = Self {
            ids: FxHashMap::default(),
            strings: Vec::new(),
        };
        interner.intern("");
        interner
    }
}

impl Interner {
    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.strings.len() as u32;
        let text: Arc<str> = Arc::from(text);
        self.strings.push(Arc::clone(&text));
        self.ids.insert(text, id);
        id
    }

    pub fn get(&self, id: u32) -> &Arc<str> {
        &self.strings[id as usize]
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// Heap bytes held, for the memory benchmark.
    pub fn heap_bytes(&self) -> usize {
        self.strings.iter().map(|s| s.len() + 16).sum::<usize>()
            + self.strings.capacity() * 16
            + self.ids.capacity() * 24
    }
}

/// Where a record's text lives, in 12 bytes: a 40-bit arena offset, a 24-bit length
/// (the whole text: the display text, then the attributes) and the display text's
/// length (message or span name). Entries are most of the index, so every byte counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextRef {
    words: [u32; 3],
}

impl TextRef {
    fn new(start: u64, len: u32, display_len: u32) -> Self {
        let packed = (start << 24) | u64::from(len & 0xff_ffff);
        Self {
            words: [(packed >> 32) as u32, packed as u32, display_len],
        }
    }

    fn packed(self) -> u64 {
        (u64::from(self.words[0]) << 32) | u64::from(self.words[1])
    }

    /// Global arena offset.
    pub fn start(self) -> u64 {
        self.packed() >> 24
    }

    pub fn len(self) -> u32 {
        (self.packed() & 0xff_ffff) as u32
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn display_len(self) -> u32 {
        self.words[2]
    }
}

/// Append-only text in chunks, so growing never copies what is already there.
#[derive(Debug)]
pub struct TextArena {
    chunks: Vec<Vec<u8>>,
    chunk_bytes: usize,
}

impl Default for TextArena {
    fn default() -> Self {
        Self::with_chunk_bytes(CHUNK_BYTES)
    }
}

impl TextArena {
    /// An arena of smaller chunks, for tests of what crosses from one to the next.
    /// Every record's text must then fit in half a chunk.
    pub fn with_chunk_bytes(chunk_bytes: usize) -> Self {
        Self {
            chunks: Vec::new(),
            chunk_bytes,
        }
    }

    /// Appends one record's text, written by a [`TextWriter`]; returns where it went.
    pub fn push(&mut self, text: &[u8], display_len: u32) -> TextRef {
        // Room for the longest text a record can have, so it never grows a chunk.
        let room = (2 * MAX_TEXT_BYTES).min(self.chunk_bytes / 2);
        if self
            .chunks
            .last()
            .is_none_or(|c| c.len() + room > self.chunk_bytes)
        {
            self.chunks.push(Vec::with_capacity(self.chunk_bytes));
        }
        let chunk_index = self.chunks.len() - 1;
        let chunk = &mut self.chunks[chunk_index];
        let begin = chunk.len();
        chunk.extend_from_slice(text);
        // A newline between records keeps a search from matching across two.
        chunk.push(b'\n');
        debug_assert!(
            chunk.len() <= self.chunk_bytes,
            "a text larger than its room"
        );
        TextRef::new(
            (chunk_index * self.chunk_bytes + begin) as u64,
            text.len() as u32,
            display_len.min(text.len() as u32),
        )
    }

    pub fn bytes(&self, text: TextRef) -> &[u8] {
        let chunk = (text.start() / self.chunk_bytes as u64) as usize;
        let offset = (text.start() % self.chunk_bytes as u64) as usize;
        self.chunks
            .get(chunk)
            .and_then(|c| c.get(offset..offset + text.len() as usize))
            .unwrap_or_default()
    }

    /// The display part (message or span name) as text, up to any invalid byte.
    pub fn display(&self, text: TextRef) -> &str {
        let bytes = self.bytes(text);
        let bytes = &bytes[..(text.display_len() as usize).min(bytes.len())];
        match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or(""),
        }
    }

    pub fn chunks(&self) -> &[Vec<u8>] {
        &self.chunks
    }

    pub fn chunk_bytes(&self) -> u64 {
        self.chunk_bytes as u64
    }

    pub fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }

    /// Bytes of text actually stored.
    pub fn text_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }
}

/// Writes one record's text into the arena, cut at [`MAX_TEXT_BYTES`].
pub struct TextWriter<'a> {
    out: &'a mut Vec<u8>,
    begin: usize,
    display_len: Option<usize>,
}

impl TextWriter<'_> {
    pub fn text(&mut self, text: &str) {
        self.text_bytes(text.as_bytes());
    }

    /// Text as it is stored: UTF-8, not checked here (a block's frame checksum already
    /// vouches for it, and the display stops at the first invalid byte).
    pub fn text_bytes(&mut self, text: &[u8]) {
        let room = MAX_TEXT_BYTES.saturating_sub(self.out.len() - self.begin);
        let mut cut = text.len().min(room);
        // Back to a character boundary: continuation bytes are 0b10xx_xxxx.
        while cut > 0 && cut < text.len() && text[cut] & 0xc0 == 0x80 {
            cut -= 1;
        }
        let text = &text[..cut];
        let start = self.out.len();
        self.out.extend_from_slice(text);
        // Newlines stay out: they separate records. Separators stay out of values.
        if memchr::memchr3(b'\n', FIELD_SEPARATOR, VALUE_SEPARATOR, text).is_some() {
            for byte in &mut self.out[start..] {
                if matches!(*byte, b'\n' | FIELD_SEPARATOR | VALUE_SEPARATOR) {
                    *byte = b' ';
                }
            }
        }
    }

    /// An integer in decimal, as `Display` writes it, without the formatting machinery.
    pub fn integer(&mut self, value: i64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            self.text_bytes(b"-");
        }
        self.text_bytes(&digits[at..]);
    }

    /// Ends the display part; what follows is searchable but not shown in the row.
    pub fn end_display(&mut self) {
        self.display_len = Some(self.out.len() - self.begin);
    }

    pub fn attribute(&mut self, key: &str, value: Option<&AnyValue>) {
        if self.attribute_start(key) {
            render_value(value, self);
        }
    }

    /// Starts an attribute; its value is written next. False when the text is full.
    pub fn attribute_start(&mut self, key: &str) -> bool {
        if self.out.len() - self.begin + key.len() + 2 > MAX_TEXT_BYTES {
            return false;
        }
        self.out.push(FIELD_SEPARATOR);
        self.text(key);
        self.out.push(VALUE_SEPARATOR);
        true
    }
}

impl std::fmt::Write for TextWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.text(text);
        Ok(())
    }
}

/// Renders an AnyValue as one line: strings as they are, the rest JSON-like.
pub fn render_value(value: Option<&AnyValue>, out: &mut impl std::fmt::Write) {
    match value.and_then(|v| v.value.as_ref()) {
        None => {}
        Some(any_value::Value::StringValue(s)) => {
            let _ = out.write_str(s);
        }
        Some(any_value::Value::BoolValue(b)) => {
            let _ = write!(out, "{b}");
        }
        Some(any_value::Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(any_value::Value::DoubleValue(d)) => {
            let _ = write!(out, "{d}");
        }
        Some(any_value::Value::BytesValue(bytes)) => {
            for b in bytes {
                let _ = write!(out, "{b:02x}");
            }
        }
        Some(any_value::Value::ArrayValue(array)) => {
            let _ = out.write_char('[');
            for (i, v) in array.values.iter().enumerate() {
                if i > 0 {
                    let _ = out.write_str(", ");
                }
                render_value(Some(v), out);
            }
            let _ = out.write_char(']');
        }
        Some(any_value::Value::KvlistValue(list)) => {
            let _ = out.write_char('{');
            for (i, kv) in list.values.iter().enumerate() {
                if i > 0 {
                    let _ = out.write_str(", ");
                }
                let _ = write!(out, "#{}: ", kv.key);
                render_value(kv.value.as_ref(), out);
            }
            let _ = out.write_char('}');
        }
    }
}

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

/// A trace id; 0 means none.
pub type TraceId = u128;

/// A trace id as two halves, so entries keep an 8-byte alignment (a `u128` field
/// would pad every entry to 16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PackedTraceId([u64; 2]);

impl PackedTraceId {
    pub fn new(id: TraceId) -> Self {
        Self([(id >> 64) as u64, id as u64])
    }

    pub fn get(self) -> TraceId {
        (u128::from(self.0[0]) << 64) | u128::from(self.0[1])
    }
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

/// Where a record comes from: what a tab's service, scope and run filters look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub service: u32,
    pub scope: u32,
    pub session: u16,
}

/// Values shared by many records, each stored once and named by a `u32`.
#[derive(Debug)]
pub struct Table<T> {
    ids: FxHashMap<T, u32>,
    values: Vec<T>,
}

impl<T: Copy + Eq + std::hash::Hash> Table<T> {
    fn with_first(first: T) -> Self {
        let mut table = Self {
            ids: FxHashMap::default(),
            values: Vec::new(),
        };
        table.id(first);
        table
    }

    fn id(&mut self, value: T) -> u32 {
        let next = self.values.len() as u32;
        let id = *self.ids.entry(value).or_insert(next);
        if id == next {
            self.values.push(value);
        }
        id
    }

    pub fn get(&self, id: u32) -> T {
        self.values[id as usize]
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn heap_bytes(&self) -> usize {
        (self.ids.capacity() + self.values.capacity()) * (size_of::<T>() + 8)
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
    /// (file, line); id 0 is "no source".
    pub sources: Table<(u32, u32)>,
    /// The text of log records and of spans, apart so that a search over one never
    /// scans the other.
    pub log_text: TextArena,
    pub span_text: TextArena,
    pub logs: Vec<LogEntry>,
    pub spans: Vec<SpanEntry>,
    pub traces: Vec<TraceEntry>,
    trace_ids: FxHashMap<TraceId, u32>,
    /// The trace most recently looked up, tried before the map.
    last_trace: Option<(TraceId, u32)>,
    pub blocks: Vec<BlockLoc>,
    /// Times of span events, in Unix nanoseconds; spans point into it.
    pub span_events: Vec<u64>,
    /// Interned service names, in order of appearance.
    pub services: Vec<u32>,
    pub metric_points: u64,
    /// Log records per level, over all of them.
    pub log_level_counts: [u64; 7],
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
}

impl Default for Index {
    fn default() -> Self {
        Self {
            strings: Interner::default(),
            origins: Table::with_first(Origin {
                service: 0,
                scope: 0,
                session: 0,
            }),
            sources: Table::with_first((0, 0)),
            log_text: TextArena::default(),
            span_text: TextArena::default(),
            logs: Vec::new(),
            spans: Vec::new(),
            traces: Vec::new(),
            trace_ids: FxHashMap::default(),
            last_trace: None,
            blocks: Vec::new(),
            span_events: Vec::new(),
            services: Vec::new(),
            metric_points: 0,
            log_level_counts: [0; 7],
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
    /// Per scope of the block: its service name and scope name reference.
    pub(crate) scopes: Vec<(String, u32)>,
    pub(crate) logs: Vec<PreparedRecord>,
    pub(crate) spans: Vec<PreparedRecord>,
    pub(crate) log_text: Vec<u8>,
    pub(crate) span_text: Vec<u8>,
    pub(crate) span_events: Vec<u64>,
    pub(crate) metric_points: u64,
}

impl PreparedBlock {
    /// Empties the block, keeping its buffers.
    pub fn clear(&mut self) {
        self.strings.clear();
        self.scopes.clear();
        self.logs.clear();
        self.spans.clear();
        self.log_text.clear();
        self.span_text.clear();
        self.span_events.clear();
        self.metric_points = 0;
    }

    /// Log records and spans.
    pub fn records(&self) -> u64 {
        (self.logs.len() + self.spans.len()) as u64
    }
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

pub(crate) fn join_trace_id(high: u64, low: u64) -> TraceId {
    (u128::from(high) << 64) | u128::from(low)
}

/// Writes one record's text at the end of `buffer`; returns (end, display length).
pub(crate) fn write_text(
    buffer: &mut Vec<u8>,
    write: impl FnOnce(&mut TextWriter<'_>),
) -> (u32, u32) {
    let begin = buffer.len();
    let mut writer = TextWriter {
        out: buffer,
        begin,
        display_len: None,
    };
    write(&mut writer);
    let display_len = writer.display_len.unwrap_or(buffer.len() - begin) as u32;
    (buffer.len() as u32, display_len)
}

/// Does the per-record work of indexing a block; see [`PreparedBlock`].
pub fn prepare(mut block: Block) -> PreparedBlock {
    let mut prepared = PreparedBlock {
        scopes: block
            .scopes
            .iter()
            .map(|scope| {
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
                (service.to_owned(), scope.name)
            })
            .collect(),
        ..PreparedBlock::default()
    };
    let attributes = |w: &mut TextWriter<'_>, attrs: &[KeyValue]| {
        for kv in attrs {
            w.attribute(block.str(kv.key), kv.value.as_ref());
        }
    };
    let times = block.log_times();
    prepared.logs.reserve(block.logs.len());
    for (log, (time, observed)) in block.logs.iter().zip(times) {
        let (text_end, display_len) = write_text(&mut prepared.log_text, |w| {
            if log.body.as_ref().is_some_and(|b| b.value.is_some()) {
                render_value(log.body.as_ref(), w);
            } else {
                w.text(block.str(log.event_name));
            }
            w.end_display();
            attributes(w, &log.attributes);
        });
        let source = log.source.unwrap_or_default();
        prepared.logs.push(PreparedRecord {
            time: if time != 0 { time } else { observed },
            trace_id: join_trace_id(log.trace_id_high, log.trace_id_low),
            span_id: log.span_id,
            scope: log.scope,
            source_file: source.file_path,
            source_line: source.line,
            text_end,
            display_len,
            level: Level::from_otlp(log.severity_number, block.str(log.severity_text)),
            ..PreparedRecord::default()
        });
    }
    prepared.spans.reserve(block.spans.len());
    for (i, (span, columns)) in block.spans.iter().zip(block.span_columns()).enumerate() {
        let (text_end, display_len) = write_text(&mut prepared.span_text, |w| {
            w.text(block.str(span.name));
            w.end_display();
            attributes(w, &span.attributes);
            for event in &span.events[..span.events.len().min(usize::from(u16::MAX))] {
                w.attribute_start("event");
                w.text(block.str(event.name));
                attributes(w, &event.attributes);
            }
        });
        let start = columns.start_unix_nano;
        let events = &span.events[..span.events.len().min(usize::from(u16::MAX))];
        prepared.span_events.extend(
            events
                .iter()
                .map(|e| start.wrapping_add(e.time_offset_nano as u64)),
        );
        let (high, low) = block.span_trace_id(i);
        let source = span.source.unwrap_or_default();
        prepared.spans.push(PreparedRecord {
            time: start,
            end: columns.end_unix_nano,
            trace_id: join_trace_id(high, low),
            span_id: columns.span_id,
            parent_span_id: columns.parent_span_id,
            scope: span.scope,
            source_file: source.file_path,
            source_line: source.line,
            text_end,
            display_len,
            events: events.len() as u16,
            error: span.status_code == oculus_store::proto::StatusCode::Error as i32,
            ..PreparedRecord::default()
        });
    }
    prepared.metric_points = block
        .metrics
        .iter()
        .map(|m| u64::from(m.data_points))
        .sum::<u64>();
    prepared.strings = std::mem::take(&mut block.strings);
    prepared
}

impl Index {
    /// Adds every log record and span of a block read from `loc`.
    pub fn add_block(&mut self, block: Block, loc: BlockLoc, session: u16) {
        self.add_prepared(&prepare(block), loc, session);
    }

    /// Adds a block made ready by [`prepare`].
    pub fn add_prepared(&mut self, block: &PreparedBlock, loc: BlockLoc, session: u16) {
        let block_id = self.blocks.len() as u32;
        self.blocks.push(loc);
        let string = |reference: u32| {
            block
                .strings
                .get(reference as usize)
                .map_or("", String::as_str)
        };
        let origins: Vec<u32> = block
            .scopes
            .iter()
            .map(|(service, scope)| {
                let service = self.strings.intern(service);
                if !self.services.contains(&service) {
                    self.services.push(service);
                }
                let scope = self.strings.intern(string(*scope));
                self.origins.id(Origin {
                    service,
                    scope,
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
            entry.spans.push(span_index);
            entry.errors += u32::from(record.error);
            if record.parent_span_id == 0 {
                entry.root = Some(span_index);
            }
        }
        self.metric_points += block.metric_points;
    }

    fn widen(&mut self, trace: u32, start: u64, end: u64) {
        let trace = &mut self.traces[trace as usize];
        trace.start = trace.start.min(start);
        trace.end = trace.end.max(end);
    }

    /// Makes room for this many more records and blocks.
    pub fn reserve(&mut self, logs: usize, spans: usize, blocks: usize) {
        self.logs.reserve_exact(logs);
        self.spans.reserve_exact(spans);
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

    /// The span with this id in this trace.
    pub fn span_in_trace(&self, trace: TraceId, span_id: u64) -> Option<u32> {
        let trace = &self.traces[self.trace_by_id(trace)? as usize];
        trace
            .spans
            .iter()
            .copied()
            .find(|&s| self.spans[s as usize].span_id == span_id)
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
            + self.sources.heap_bytes()
        // The text chunks' spare capacity is never touched, so never resident.
    }
}

/// Formats a trace id as OTLP's 32 hex digits.
pub fn trace_hex(id: TraceId) -> String {
    format!("{id:032x}")
}

pub fn span_hex(id: u64) -> String {
    format!("{id:016x}")
}

/// Parses 32 (or fewer, left-padded) hex digits.
pub fn parse_trace_id(text: &str) -> Option<TraceId> {
    let text = text.trim();
    if text.is_empty() || text.len() > 32 {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}
