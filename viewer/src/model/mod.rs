//! The in-memory index of every record the viewer holds.
//!
//! One fixed-size entry per log record and per span, with every repeated string
//! interned and every record's searchable text in a chunked arena. The full record
//! (resource, events, links...) stays in its segment and is read back on demand by
//! [`RecordLoc`], so memory grows by the entry and the text only.

mod chunked;
mod index;
mod intern;
mod record;
mod text;

pub use chunked::Chunked;
pub use index::{
    BlockLoc, Index, LogEntry, Origin, PreparedBlock, RecordLoc, RunTotals, SpanEntry, TraceEntry,
};
pub(crate) use index::{PreparedRecord, PreparedScope};
pub use intern::{Interner, Table};
pub use record::{
    Level, PackedTraceId, TraceId, join_trace_id, parse_trace_id, span_hex, trace_hex,
};
pub use text::{FIELD_SEPARATOR, TextArena, TextRef, TextWriter, VALUE_SEPARATOR, write_text};
