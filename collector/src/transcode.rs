//! OTLP protobuf straight into an encoded block, without building either as structs.
//!
//! This is the hot path for protobuf traces and logs: strings are borrowed from the
//! request, attribute keys and names are interned, scalar attribute values are copied
//! as bytes (the block's `AnyValue` is wire-compatible with OTLP's), and nothing is
//! allocated per record. It produces exactly what `normalize` produces from the decoded
//! request (checked by the equivalence tests), so JSON and metrics keep using that path.

use std::borrow::Cow;

use oculus_store::block::{
    LogTimeChain, SERVICE_NAME_KEY, SpanTimeChain, UNKNOWN_SERVICE, event_time_offset,
    log_time_entries,
};
use oculus_store::field;
use oculus_store::proto::BlockSummary;
use oculus_store::wire::{Reader, WireError, WireType, Writer, check_utf8, zigzag_encode};
use rustc_hash::FxHashMap;

use crate::ids::{log_ids, parent_span_id, required_span_id, required_trace_id};
use crate::otlp_field as otlp;

/// An encoded `oculus.segment.v1.Block` and what it holds.
#[derive(Debug)]
pub struct Transcoded {
    pub raw: Vec<u8>,
    pub summary: BlockSummary,
    pub rejected: u64,
    pub reject_reason: Option<String>,
    /// The block holds no resource and no record: nothing to write.
    pub is_empty: bool,
}

/// A request that cannot be decoded at all.
pub type Error = WireError;

/// A record is rejected, with the reason reported in the partial success.
struct Reject(String);

enum Failure {
    Malformed(WireError),
    Rejected(Reject),
}

impl From<WireError> for Failure {
    fn from(error: WireError) -> Self {
        Self::Malformed(error)
    }
}

/// The source location lifted out of attributes, as `normalize` does. Strings are
/// bytes already checked to be UTF-8.
#[derive(Default)]
struct Source<'a> {
    file: Option<&'a [u8]>,
    line: u32,
    function: Option<&'a [u8]>,
    namespace: Option<&'a [u8]>,
}

/// Which part of a source location an attribute key names, if any.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SourceKey {
    None,
    File,
    Line,
    Function,
    Namespace,
}

impl SourceKey {
    fn of(key: &[u8]) -> Self {
        match key {
            b"code.file.path" | b"code.filepath" => Self::File,
            b"code.line.number" | b"code.lineno" => Self::Line,
            b"code.function.name" | b"code.function" => Self::Function,
            b"code.namespace" | b"code.module.name" => Self::Namespace,
            _ => Self::None,
        }
    }
}

/// A string (checked UTF-8) or integer AnyValue; other values are `None` where this
/// is used.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Str(&'a [u8]),
    Int(i64),
}

struct Transcoder<'a> {
    out: Vec<u8>,
    /// The block's strings, each checked to be UTF-8 when first met.
    strings: Vec<Cow<'a, [u8]>>,
    /// What each string would name as an attribute key, by string index: decided once
    /// per string rather than once per attribute.
    source_keys: Vec<SourceKey>,
    /// Keyed by bytes, so a string seen before is found without checking its UTF-8.
    interned: FxHashMap<Cow<'a, [u8]>, u32>,
    /// The last severity text and its index: records repeat a handful of them.
    last_severity: (&'a [u8], u32),
    resources: u32,
    scopes: u32,
    /// The service of each resource that has a scope (a few per block), as
    /// `BlockSummary.services` names them; `None` for one without `service.name`.
    services: Vec<Option<&'a [u8]>>,
    base_time: Option<u64>,
    /// A transcoder's block holds one kind, but each kind has its chain, as readers expect.
    span_chain: SpanTimeChain,
    log_chain: LogTimeChain,
    /// The first span of each trace in this block, 1-based.
    traces: FxHashMap<(u64, u64), u32>,
    min_time: u64,
    max_time: u64,
    spans: u32,
    logs: u32,
    rejected: u64,
    reject_reason: Option<String>,
    columns: SpanColumnBuffers,
    log_columns: LogColumnBuffers,
}

/// The block's log columns, as packed field contents.
#[derive(Default)]
struct LogColumnBuffers {
    time_offsets: Vec<u8>,
    observed_offsets: Vec<u8>,
}

/// The block's span columns, as packed field contents.
#[derive(Default)]
struct SpanColumnBuffers {
    span_ids: Vec<u8>,
    parent_span_ids: Vec<u8>,
    start_offsets: Vec<u8>,
    durations: Vec<u8>,
}

pub fn traces(request: &[u8]) -> Result<Transcoded, Error> {
    transcode(request, Records::Spans)
}

pub fn logs(request: &[u8]) -> Result<Transcoded, Error> {
    transcode(request, Records::Logs)
}

/// An ExportTraceServiceRequest or ExportLogsServiceRequest: both hold their resource
/// groups at the same number.
fn transcode(request: &[u8], records: Records) -> Result<Transcoded, Error> {
    let mut transcoder = Transcoder::new(request.len());
    let mut reader = Reader::new(request);
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            (otlp::request::RESOURCE_GROUPS, WireType::Len) => {
                transcoder.resource_group(reader.bytes()?, records)?
            }
            (otlp::request::RESOURCE_GROUPS, _) => return Err(wrong_type()),
            _ => reader.skip(wire)?,
        }
    }
    Ok(transcoder.finish())
}

/// What the scope groups of a request hold; metrics are never transcoded.
#[derive(Clone, Copy)]
enum Records {
    Spans,
    Logs,
}

// An AnyValue of scalars is copied as it is, and rebuilt ones keep their scalars'
// numbers: OTLP's AnyValue and the block's must agree on them.
const _: () = assert!(
    otlp::any_value::STRING_VALUE == field::any_value::STRING_VALUE
        && otlp::any_value::BOOL_VALUE == field::any_value::BOOL_VALUE
        && otlp::any_value::INT_VALUE == field::any_value::INT_VALUE
        && otlp::any_value::DOUBLE_VALUE == field::any_value::DOUBLE_VALUE
        && otlp::any_value::BYTES_VALUE == field::any_value::BYTES_VALUE
);

fn wrong_type() -> WireError {
    WireError("field has the wrong wire type")
}

/// The largest block buffer a thread keeps for the next request: enough for the
/// usual requests, without pinning the memory of a rare huge one.
const MAX_KEPT_BUFFER_BYTES: usize = 4 << 20;

thread_local! {
    /// A block buffer handed back by [`recycle`]: a fresh one per request is a large
    /// allocation that the allocator keeps returning to the kernel and faulting in.
    static SPARE_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Hands a block's buffer back once the block was compressed, for the next request
/// transcoded on this thread.
pub fn recycle(mut raw: Vec<u8>) {
    if raw.capacity() <= MAX_KEPT_BUFFER_BYTES {
        raw.clear();
        SPARE_BUFFER.set(raw);
    }
}

impl<'a> Transcoder<'a> {
    fn new(request_len: usize) -> Self {
        let mut out = SPARE_BUFFER.take();
        out.reserve(request_len);
        let mut transcoder = Self {
            out,
            strings: Vec::with_capacity(64),
            source_keys: Vec::with_capacity(64),
            interned: FxHashMap::default(),
            last_severity: (b"", 0),
            resources: 0,
            scopes: 0,
            services: Vec::new(),
            base_time: None,
            span_chain: SpanTimeChain::default(),
            log_chain: LogTimeChain::default(),
            traces: FxHashMap::default(),
            min_time: u64::MAX,
            max_time: 0,
            spans: 0,
            logs: 0,
            rejected: 0,
            reject_reason: None,
            columns: SpanColumnBuffers::default(),
            log_columns: LogColumnBuffers::default(),
        };
        transcoder.intern_checked(b"");
        transcoder
    }

    /// Interns bytes already checked to be UTF-8.
    fn intern_checked(&mut self, text: &'a [u8]) -> u32 {
        if let Some(&id) = self.interned.get(text) {
            return id;
        }
        self.push_string(Cow::Borrowed(text))
    }

    fn push_string(&mut self, text: Cow<'a, [u8]>) -> u32 {
        let id = self.strings.len() as u32;
        self.source_keys.push(SourceKey::of(&text));
        self.interned.insert(text.clone(), id);
        self.strings.push(text);
        id
    }

    /// Interns a protobuf string field, checking its UTF-8 only the first time.
    #[inline]
    fn intern_bytes(&mut self, bytes: &'a [u8]) -> Result<u32, WireError> {
        // The empty string is always index 0; unset fields are empty.
        if bytes.is_empty() {
            return Ok(0);
        }
        if let Some(&id) = self.interned.get(bytes) {
            return Ok(id);
        }
        check_utf8(bytes)?;
        Ok(self.push_string(Cow::Borrowed(bytes)))
    }

    fn intern_owned(&mut self, text: Vec<u8>) -> u32 {
        match self.interned.get(text.as_slice()) {
            Some(&id) => id,
            None => self.push_string(Cow::Owned(text)),
        }
    }

    /// Starts the block's time chains at the first record's time.
    fn start_chain(&mut self, time: u64) {
        if self.base_time.is_none() {
            self.base_time = Some(time);
            self.span_chain = SpanTimeChain::new(time);
            self.log_chain = LogTimeChain::new(time);
        }
    }

    fn see_time(&mut self, time: u64) {
        if time != 0 {
            self.min_time = self.min_time.min(time);
            self.max_time = self.max_time.max(time);
        }
    }

    fn reject(&mut self, reason: String) {
        self.rejected += 1;
        if self.reject_reason.is_none() {
            self.reject_reason = Some(reason);
        }
    }

    /// A ResourceSpans or ResourceLogs: the resource, then each scope group.
    fn resource_group(&mut self, data: &'a [u8], records: Records) -> Result<(), WireError> {
        let (resource, schema_url) = group_header(data)?;
        let (resource_index, service) = self.resource(resource, schema_url)?;
        let mut scoped = false;
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (otlp::group::CHILDREN, WireType::Len) => {
                    scoped = true;
                    self.scope_group(reader.bytes()?, resource_index, records)?
                }
                _ => reader.skip(wire)?,
            }
        }
        // A resource without a scope holds no record: it names no service.
        if scoped {
            self.services.push(service);
        }
        Ok(())
    }

    /// Writes a resource; returns its index and its service (its last string
    /// `service.name`, as `block::resource_service` reads it).
    fn resource(
        &mut self,
        data: Option<&'a [u8]>,
        schema_url: &'a [u8],
    ) -> Result<(u32, Option<&'a [u8]>), WireError> {
        let mark = self.out.begin_len(field::block::RESOURCES);
        let mut dropped = 0;
        let mut service = None;
        if let Some(data) = data {
            let mut reader = Reader::new(data);
            while let Some((number, wire)) = reader.field()? {
                match (number, wire) {
                    (otlp::resource::ATTRIBUTES, WireType::Len) => {
                        let (key, value) =
                            self.key_value(field::resource::ATTRIBUTES, reader.bytes()?, None)?;
                        if let Some(Scalar::Str(name)) = value
                            && *self.strings[key as usize] == *SERVICE_NAME_KEY.as_bytes()
                        {
                            service = Some(name);
                        }
                    }
                    (otlp::resource::DROPPED_ATTRIBUTES_COUNT, WireType::Varint) => {
                        dropped = reader.varint()? as u32
                    }
                    (otlp::resource::ENTITY_REFS, WireType::Len) => {
                        // Written even when empty: an empty entity reference is one too.
                        let mark = self.out.begin_len(field::resource::ENTITY_REFS);
                        put_entity_ref(reader.bytes()?, &mut self.out)?;
                        self.out.end_len(mark);
                    }
                    (otlp::resource::ATTRIBUTES..=otlp::resource::ENTITY_REFS, _) => {
                        return Err(wrong_type());
                    }
                    _ => reader.skip(wire)?,
                }
            }
        }
        self.out.put_uint(
            field::resource::DROPPED_ATTRIBUTES_COUNT,
            u64::from(dropped),
        );
        let schema_url = self.intern_bytes(schema_url)?;
        self.out
            .put_uint(field::resource::SCHEMA_URL, u64::from(schema_url));
        self.out.end_len(mark);
        self.resources += 1;
        Ok((self.resources - 1, service))
    }

    /// A ScopeSpans or ScopeLogs.
    fn scope_group(
        &mut self,
        data: &'a [u8],
        resource: u32,
        records: Records,
    ) -> Result<(), WireError> {
        let (scope, schema_url) = group_header(data)?;
        let scope_index = self.scope(resource, scope, schema_url)?;
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            if (number, wire) != (otlp::group::CHILDREN, WireType::Len) {
                reader.skip(wire)?;
                continue;
            }
            let record = reader.bytes()?;
            let mark = self.out.len();
            let times = (self.base_time, self.span_chain, self.log_chain);
            let result = match records {
                Records::Spans => self.span(record, scope_index),
                Records::Logs => self.log(record, scope_index),
            };
            match result {
                Ok(()) => {}
                Err(Failure::Rejected(Reject(reason))) => {
                    // A rejected record leaves no trace in the block, nor in its times.
                    self.out.truncate(mark);
                    (self.base_time, self.span_chain, self.log_chain) = times;
                    self.reject(reason);
                }
                Err(Failure::Malformed(error)) => return Err(error),
            }
        }
        Ok(())
    }

    fn scope(
        &mut self,
        resource: u32,
        data: Option<&'a [u8]>,
        schema_url: &'a [u8],
    ) -> Result<u32, WireError> {
        let mut name: &[u8] = b"";
        let mut version: &[u8] = b"";
        let mut dropped = 0;
        if let Some(data) = data {
            let mut reader = Reader::new(data);
            while let Some((number, wire)) = reader.field()? {
                match (number, wire) {
                    (otlp::instrumentation_scope::NAME, WireType::Len) => name = reader.bytes()?,
                    (otlp::instrumentation_scope::VERSION, WireType::Len) => {
                        version = reader.bytes()?
                    }
                    (otlp::instrumentation_scope::ATTRIBUTES, WireType::Len) => {
                        reader.skip(wire)?
                    }
                    (otlp::instrumentation_scope::DROPPED_ATTRIBUTES_COUNT, WireType::Varint) => {
                        dropped = reader.varint()? as u32
                    }
                    (
                        otlp::instrumentation_scope::NAME
                            ..=otlp::instrumentation_scope::DROPPED_ATTRIBUTES_COUNT,
                        _,
                    ) => return Err(wrong_type()),
                    _ => reader.skip(wire)?,
                }
            }
        }
        let name = self.intern_bytes(name)?;
        let version = self.intern_bytes(version)?;
        let schema_url = self.intern_bytes(schema_url)?;
        let mark = self.out.begin_len(field::block::SCOPES);
        self.out
            .put_uint(field::scope::RESOURCE, u64::from(resource));
        self.out.put_uint(field::scope::NAME, u64::from(name));
        self.out.put_uint(field::scope::VERSION, u64::from(version));
        if let Some(data) = data {
            let mut reader = Reader::new(data);
            while let Some((number, wire)) = reader.field()? {
                match (number, wire) {
                    (otlp::instrumentation_scope::ATTRIBUTES, WireType::Len) => {
                        self.key_value(field::scope::ATTRIBUTES, reader.bytes()?, None)?;
                    }
                    _ => reader.skip(wire)?,
                }
            }
        }
        self.out
            .put_uint(field::scope::DROPPED_ATTRIBUTES_COUNT, u64::from(dropped));
        self.out
            .put_uint(field::scope::SCHEMA_URL, u64::from(schema_url));
        self.out.end_len(mark);
        self.scopes += 1;
        Ok(self.scopes - 1)
    }

    /// A KeyValue, written as field `at` of the message being written. With `source`,
    /// code.* attributes are also noted as the record's source location. Returns the
    /// key's string index and the value when it is a string or an integer.
    fn key_value(
        &mut self,
        at: u32,
        data: &'a [u8],
        source: Option<&mut Source<'a>>,
    ) -> Result<(u32, Option<Scalar<'a>>), WireError> {
        let mut key: &[u8] = b"";
        let mut value = None;
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (otlp::key_value::KEY, WireType::Len) => key = reader.bytes()?,
                (otlp::key_value::VALUE, WireType::Len) => value = Some(reader.bytes()?),
                (otlp::key_value::KEY_STRINDEX, WireType::Varint) => reader.skip(wire)?,
                (otlp::key_value::KEY..=otlp::key_value::KEY_STRINDEX, _) => {
                    return Err(wrong_type());
                }
                _ => reader.skip(wire)?,
            }
        }
        let key = self.intern_bytes(key)?;
        let mark = self.out.begin_len(at);
        self.out.put_uint(field::key_value::KEY, u64::from(key));
        let mut scalar = None;
        if let Some(value) = value {
            scalar = self.any_value(field::key_value::VALUE, value)?;
            if let Some(source) = source {
                note_source(source, self.source_keys[key as usize], scalar);
            }
        }
        self.out.end_len(mark);
        Ok((key, scalar))
    }

    /// An AnyValue: copied as it is when it only holds scalars (the block's AnyValue has
    /// the same wire form), rebuilt when it nests key-value lists or profile references.
    /// Written as field `at` of the message being written. Returns the value when it is
    /// a string or an integer (the last field set wins).
    fn any_value(&mut self, at: u32, data: &'a [u8]) -> Result<Option<Scalar<'a>>, WireError> {
        let mut verbatim = true;
        let mut scalar = None;
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            scalar = None;
            match (number, wire) {
                (otlp::any_value::STRING_VALUE, WireType::Len) => {
                    scalar = Some(Scalar::Str(reader.utf8()?))
                }
                (otlp::any_value::INT_VALUE, WireType::Varint) => {
                    scalar = Some(Scalar::Int(reader.varint()? as i64))
                }
                (otlp::any_value::BYTES_VALUE, WireType::Len)
                | (otlp::any_value::BOOL_VALUE, WireType::Varint)
                | (otlp::any_value::DOUBLE_VALUE, WireType::Fixed64) => reader.skip(wire)?,
                (otlp::any_value::ARRAY_VALUE, WireType::Len) => {
                    // An array of scalars is wire-compatible too, but checking costs as
                    // much as rebuilding it.
                    verbatim = false;
                    reader.skip(wire)?;
                }
                (otlp::any_value::KVLIST_VALUE, WireType::Len)
                | (otlp::any_value::STRING_VALUE_STRINDEX, WireType::Varint) => {
                    verbatim = false;
                    reader.skip(wire)?;
                }
                (otlp::any_value::STRING_VALUE..=otlp::any_value::STRING_VALUE_STRINDEX, _) => {
                    return Err(wrong_type());
                }
                _ => {
                    verbatim = false;
                    reader.skip(wire)?;
                }
            }
        }
        if verbatim {
            self.out.put_tag(at, WireType::Len);
            self.out.put_varint(data.len() as u64);
            self.out.extend_from_slice(data);
            return Ok(scalar);
        }
        let mark = self.out.begin_len(at);
        let mut reader = Reader::new(data);
        // Scalars keep their field numbers: OTLP's AnyValue and the block's agree.
        while let Some((number, wire)) = reader.field()? {
            match number {
                otlp::any_value::STRING_VALUE | otlp::any_value::BYTES_VALUE => {
                    let bytes = reader.bytes()?;
                    self.out.put_tag(number, WireType::Len);
                    self.out.put_varint(bytes.len() as u64);
                    self.out.extend_from_slice(bytes);
                }
                otlp::any_value::BOOL_VALUE | otlp::any_value::INT_VALUE => {
                    let value = reader.varint()?;
                    self.out.put_tag(number, WireType::Varint);
                    self.out.put_varint(value);
                }
                otlp::any_value::DOUBLE_VALUE => {
                    let value = reader.fixed64()?;
                    self.out.put_tag(number, WireType::Fixed64);
                    self.out.extend_from_slice(&value.to_le_bytes());
                }
                otlp::any_value::ARRAY_VALUE => {
                    let array = reader.bytes()?;
                    let inner = self.out.begin_len(field::any_value::ARRAY_VALUE);
                    let mut values = Reader::new(array);
                    while let Some((number, wire)) = values.field()? {
                        match (number, wire) {
                            (otlp::array_value::VALUES, WireType::Len) => {
                                let value = values.bytes()?;
                                self.any_value(field::array_value::VALUES, value)?;
                            }
                            (otlp::array_value::VALUES, _) => return Err(wrong_type()),
                            _ => values.skip(wire)?,
                        }
                    }
                    self.out.end_len(inner);
                }
                otlp::any_value::KVLIST_VALUE => {
                    let list = reader.bytes()?;
                    let inner = self.out.begin_len(field::any_value::KVLIST_VALUE);
                    let mut values = Reader::new(list);
                    while let Some((number, wire)) = values.field()? {
                        match (number, wire) {
                            (otlp::key_value_list::VALUES, WireType::Len) => {
                                let value = values.bytes()?;
                                self.key_value(field::key_value_list::VALUES, value, None)?;
                            }
                            (otlp::key_value_list::VALUES, _) => return Err(wrong_type()),
                            _ => values.skip(wire)?,
                        }
                    }
                    self.out.end_len(inner);
                }
                // Only the profiles signal may use string tables; OTLP says to treat it
                // as absent, which leaves the value unset like an empty AnyValue.
                _ => reader.skip(wire)?,
            }
        }
        self.out.end_len(mark);
        Ok(None)
    }

    /// Writes the source location noted from a record's attributes, if any, as field
    /// `at` of the record.
    fn put_source(&mut self, at: u32, source: &Source<'a>) {
        if source.file.is_none() && source.function.is_none() && source.namespace.is_none() {
            return;
        }
        let function = match (source.function, source.namespace) {
            (Some(function), Some(namespace)) if !contains(function, namespace) => {
                self.intern_owned([namespace, b"::", function].concat())
            }
            (Some(function), _) => self.intern_checked(function),
            (None, Some(namespace)) => self.intern_checked(namespace),
            (None, None) => 0,
        };
        let file = source.file.map_or(0, |file| self.intern_checked(file));
        let mark = self.out.begin_len(at);
        self.out
            .put_uint(field::source_location::FILE_PATH, u64::from(file));
        self.out
            .put_uint(field::source_location::LINE, u64::from(source.line));
        self.out
            .put_uint(field::source_location::FUNCTION, u64::from(function));
        self.out.end_len(mark);
    }

    fn span(&mut self, data: &'a [u8], scope: u32) -> Result<(), Failure> {
        let mut trace_id: &[u8] = &[];
        let mut span_id: &[u8] = &[];
        let mut parent: &[u8] = &[];
        let mut trace_state = "";
        let mut flags = 0;
        let mut name: &[u8] = b"";
        let mut kind = 0;
        let mut start = 0;
        let mut end = 0;
        let mut dropped_attributes = 0;
        let mut dropped_events = 0;
        let mut dropped_links = 0;
        let mut status: Option<&[u8]> = None;
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (otlp::span::TRACE_ID, WireType::Len) => trace_id = reader.bytes()?,
                (otlp::span::SPAN_ID, WireType::Len) => span_id = reader.bytes()?,
                (otlp::span::TRACE_STATE, WireType::Len) => trace_state = reader.string()?,
                (otlp::span::PARENT_SPAN_ID, WireType::Len) => parent = reader.bytes()?,
                (otlp::span::NAME, WireType::Len) => name = reader.bytes()?,
                (otlp::span::KIND, WireType::Varint) => kind = reader.varint()? as i32,
                (otlp::span::START_TIME_UNIX_NANO, WireType::Fixed64) => {
                    start = reader.fixed64()?
                }
                (otlp::span::END_TIME_UNIX_NANO, WireType::Fixed64) => end = reader.fixed64()?,
                (
                    otlp::span::ATTRIBUTES | otlp::span::EVENTS | otlp::span::LINKS,
                    WireType::Len,
                ) => reader.skip(wire)?,
                (otlp::span::DROPPED_ATTRIBUTES_COUNT, WireType::Varint) => {
                    dropped_attributes = reader.varint()? as u32
                }
                (otlp::span::DROPPED_EVENTS_COUNT, WireType::Varint) => {
                    dropped_events = reader.varint()? as u32
                }
                (otlp::span::DROPPED_LINKS_COUNT, WireType::Varint) => {
                    dropped_links = reader.varint()? as u32
                }
                (otlp::span::STATUS, WireType::Len) => status = Some(reader.bytes()?),
                (otlp::span::FLAGS, WireType::Fixed32) => flags = reader.fixed32()?,
                (otlp::span::TRACE_ID..=otlp::span::FLAGS, _) => return Err(wrong_type().into()),
                _ => reader.skip(wire)?,
            }
        }
        let (trace_high, trace_low) = required_trace_id(trace_id, "span").map_err(Reject)?;
        let span_id = required_span_id(span_id, "span").map_err(Reject)?;
        let parent = parent_span_id(parent).map_err(Reject)?;
        let (mut status_message, mut status_code) = ("", 0i32);
        if let Some(status) = status {
            let mut reader = Reader::new(status);
            while let Some((number, wire)) = reader.field()? {
                match (number, wire) {
                    (otlp::status::MESSAGE, WireType::Len) => status_message = reader.string()?,
                    (otlp::status::CODE, WireType::Varint) => status_code = reader.varint()? as i32,
                    (otlp::status::MESSAGE | otlp::status::CODE, _) => {
                        return Err(wrong_type().into());
                    }
                    _ => reader.skip(wire)?,
                }
            }
        }
        self.start_chain(start);
        let start_offset = self.span_chain.span_start_offset(start);
        let duration = end.wrapping_sub(start) as i64;
        let name = self.intern_bytes(name)?;

        let earlier = self.traces.get(&(trace_high, trace_low)).copied();
        let mark = self.out.begin_len_sized(field::block::SPANS, data.len());
        self.out.put_uint(field::span::SCOPE, u64::from(scope));
        match earlier {
            Some(first) => self.out.put_uint(field::span::TRACE_REF, u64::from(first)),
            None => {
                self.out.put_fixed64(field::span::TRACE_ID_HIGH, trace_high);
                self.out.put_fixed64(field::span::TRACE_ID_LOW, trace_low);
            }
        }
        self.out
            .put_bytes(field::span::TRACE_STATE, trace_state.as_bytes());
        self.out.put_fixed32(field::span::FLAGS, flags);
        self.out.put_uint(field::span::NAME, u64::from(name));
        self.out.put_int32(field::span::KIND, kind);
        let mut source = Source::default();
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (otlp::span::ATTRIBUTES, WireType::Len) => {
                    self.key_value(field::span::ATTRIBUTES, reader.bytes()?, Some(&mut source))?;
                }
                (otlp::span::EVENTS, WireType::Len) => self.event(reader.bytes()?, start)?,
                (otlp::span::LINKS, WireType::Len) => self.link(reader.bytes()?)?,
                _ => reader.skip(wire)?,
            }
        }
        self.out.put_uint(
            field::span::DROPPED_ATTRIBUTES_COUNT,
            u64::from(dropped_attributes),
        );
        self.out
            .put_uint(field::span::DROPPED_EVENTS_COUNT, u64::from(dropped_events));
        self.out
            .put_uint(field::span::DROPPED_LINKS_COUNT, u64::from(dropped_links));
        self.out.put_int32(field::span::STATUS_CODE, status_code);
        self.out
            .put_bytes(field::span::STATUS_MESSAGE, status_message.as_bytes());
        self.put_source(field::span::SOURCE, &source);
        self.out.end_len(mark);
        self.see_time(start);
        self.see_time(start.wrapping_add(duration as u64));
        let columns = &mut self.columns;
        columns.span_ids.extend_from_slice(&span_id.to_le_bytes());
        columns
            .parent_span_ids
            .extend_from_slice(&parent.to_le_bytes());
        columns
            .start_offsets
            .put_varint(zigzag_encode(start_offset));
        columns.durations.put_varint(zigzag_encode(duration));
        self.spans += 1;
        if earlier.is_none() {
            self.traces.insert((trace_high, trace_low), self.spans);
        }
        Ok(())
    }

    fn event(&mut self, data: &'a [u8], span_start: u64) -> Result<(), WireError> {
        let mut time = 0;
        let mut name: &[u8] = b"";
        let mut dropped = 0;
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (otlp::span::event::TIME_UNIX_NANO, WireType::Fixed64) => {
                    time = reader.fixed64()?
                }
                (otlp::span::event::NAME, WireType::Len) => name = reader.bytes()?,
                (otlp::span::event::ATTRIBUTES, WireType::Len) => reader.skip(wire)?,
                (otlp::span::event::DROPPED_ATTRIBUTES_COUNT, WireType::Varint) => {
                    dropped = reader.varint()? as u32
                }
                (
                    otlp::span::event::TIME_UNIX_NANO..=otlp::span::event::DROPPED_ATTRIBUTES_COUNT,
                    _,
                ) => {
                    return Err(wrong_type());
                }
                _ => reader.skip(wire)?,
            }
        }
        let offset = event_time_offset(span_start, time);
        let name = self.intern_bytes(name)?;
        let mark = self.out.begin_len(field::span::EVENTS);
        self.out.put_sint64(field::event::TIME_OFFSET_NANO, offset);
        self.out.put_uint(field::event::NAME, u64::from(name));
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (otlp::span::event::ATTRIBUTES, WireType::Len) => {
                    self.key_value(field::event::ATTRIBUTES, reader.bytes()?, None)?;
                }
                _ => reader.skip(wire)?,
            }
        }
        self.out
            .put_uint(field::event::DROPPED_ATTRIBUTES_COUNT, u64::from(dropped));
        self.out.end_len(mark);
        Ok(())
    }

    fn link(&mut self, data: &'a [u8]) -> Result<(), Failure> {
        let mut trace_id: &[u8] = &[];
        let mut span_id: &[u8] = &[];
        let mut trace_state = "";
        let mut dropped = 0;
        let mut flags = 0;
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (otlp::span::link::TRACE_ID, WireType::Len) => trace_id = reader.bytes()?,
                (otlp::span::link::SPAN_ID, WireType::Len) => span_id = reader.bytes()?,
                (otlp::span::link::TRACE_STATE, WireType::Len) => trace_state = reader.string()?,
                (otlp::span::link::ATTRIBUTES, WireType::Len) => reader.skip(wire)?,
                (otlp::span::link::DROPPED_ATTRIBUTES_COUNT, WireType::Varint) => {
                    dropped = reader.varint()? as u32
                }
                (otlp::span::link::FLAGS, WireType::Fixed32) => flags = reader.fixed32()?,
                (otlp::span::link::TRACE_ID..=otlp::span::link::FLAGS, _) => {
                    return Err(wrong_type().into());
                }
                _ => reader.skip(wire)?,
            }
        }
        let (trace_high, trace_low) = required_trace_id(trace_id, "link").map_err(Reject)?;
        let span_id = required_span_id(span_id, "link").map_err(Reject)?;
        let mark = self.out.begin_len(field::span::LINKS);
        self.out.put_fixed64(field::link::TRACE_ID_HIGH, trace_high);
        self.out.put_fixed64(field::link::TRACE_ID_LOW, trace_low);
        self.out.put_fixed64(field::link::SPAN_ID, span_id);
        self.out
            .put_bytes(field::link::TRACE_STATE, trace_state.as_bytes());
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (otlp::span::link::ATTRIBUTES, WireType::Len) => {
                    self.key_value(field::link::ATTRIBUTES, reader.bytes()?, None)?;
                }
                _ => reader.skip(wire)?,
            }
        }
        self.out
            .put_uint(field::link::DROPPED_ATTRIBUTES_COUNT, u64::from(dropped));
        self.out.put_fixed32(field::link::FLAGS, flags);
        self.out.end_len(mark);
        Ok(())
    }

    /// A LogRecord, in one pass: the body and attributes are written as they are met,
    /// the fields that need the whole record after them (field order is free in
    /// protobuf).
    fn log(&mut self, data: &'a [u8], scope: u32) -> Result<(), Failure> {
        let mut time = 0;
        let mut observed = 0;
        let mut severity_number = 0i32;
        let mut severity_text: &[u8] = b"";
        let mut dropped = 0;
        let mut flags = 0;
        let mut trace_id: &[u8] = &[];
        let mut span_id: &[u8] = &[];
        let mut event_name: &[u8] = b"";
        let mut source = Source::default();
        let mark = self.out.begin_len_sized(field::block::LOGS, data.len());
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            match (number, wire) {
                (otlp::log_record::TIME_UNIX_NANO, WireType::Fixed64) => time = reader.fixed64()?,
                (otlp::log_record::SEVERITY_NUMBER, WireType::Varint) => {
                    severity_number = reader.varint()? as i32
                }
                (otlp::log_record::SEVERITY_TEXT, WireType::Len) => {
                    severity_text = reader.bytes()?
                }
                (otlp::log_record::BODY, WireType::Len) => {
                    self.any_value(field::log_record::BODY, reader.bytes()?)?;
                }
                (otlp::log_record::ATTRIBUTES, WireType::Len) => {
                    self.key_value(
                        field::log_record::ATTRIBUTES,
                        reader.bytes()?,
                        Some(&mut source),
                    )?;
                }
                (otlp::log_record::DROPPED_ATTRIBUTES_COUNT, WireType::Varint) => {
                    dropped = reader.varint()? as u32
                }
                (otlp::log_record::FLAGS, WireType::Fixed32) => flags = reader.fixed32()?,
                (otlp::log_record::TRACE_ID, WireType::Len) => trace_id = reader.bytes()?,
                (otlp::log_record::SPAN_ID, WireType::Len) => span_id = reader.bytes()?,
                (otlp::log_record::OBSERVED_TIME_UNIX_NANO, WireType::Fixed64) => {
                    observed = reader.fixed64()?
                }
                (otlp::log_record::EVENT_NAME, WireType::Len) => event_name = reader.bytes()?,
                // Field 4 is reserved in OTLP: skipped like an unknown field.
                (
                    otlp::log_record::TIME_UNIX_NANO..=otlp::log_record::SEVERITY_TEXT
                    | otlp::log_record::BODY..=otlp::log_record::EVENT_NAME,
                    _,
                ) => return Err(wrong_type().into()),
                _ => reader.skip(wire)?,
            }
        }
        let ((trace_high, trace_low), span_id) = log_ids(trace_id, span_id).map_err(Reject)?;
        if time != 0 || observed != 0 {
            self.start_chain(if time != 0 { time } else { observed });
        }
        let severity_text = self.severity_text(severity_text)?;
        let event_name = self.intern_bytes(event_name)?;
        // Nothing below can fail, so the chain and the columns only see records kept.
        let (time_offset, observed_offset, absent_times) =
            log_time_entries(self.log_chain.log_time_offsets(time, observed));

        self.out
            .put_uint(field::log_record::SCOPE, u64::from(scope));
        self.out
            .put_int32(field::log_record::SEVERITY_NUMBER, severity_number);
        self.out
            .put_uint(field::log_record::SEVERITY_TEXT, u64::from(severity_text));
        self.out.put_uint(
            field::log_record::DROPPED_ATTRIBUTES_COUNT,
            u64::from(dropped),
        );
        self.out.put_fixed32(field::log_record::FLAGS, flags);
        self.out
            .put_fixed64(field::log_record::TRACE_ID_HIGH, trace_high);
        self.out
            .put_fixed64(field::log_record::TRACE_ID_LOW, trace_low);
        self.out.put_fixed64(field::log_record::SPAN_ID, span_id);
        self.out
            .put_uint(field::log_record::EVENT_NAME, u64::from(event_name));
        self.put_source(field::log_record::SOURCE, &source);
        self.out
            .put_uint(field::log_record::ABSENT_TIMES, u64::from(absent_times));
        self.out.end_len(mark);
        let columns = &mut self.log_columns;
        columns.time_offsets.put_varint(zigzag_encode(time_offset));
        columns
            .observed_offsets
            .put_varint(zigzag_encode(observed_offset));
        self.see_time(if time != 0 { time } else { observed });
        self.logs += 1;
        Ok(())
    }

    fn severity_text(&mut self, text: &'a [u8]) -> Result<u32, WireError> {
        if text == self.last_severity.0 {
            return Ok(self.last_severity.1);
        }
        let id = self.intern_bytes(text)?;
        self.last_severity = (text, id);
        Ok(id)
    }

    /// The services of the block's resources with scopes, sorted and each named once.
    fn block_services(&self) -> Vec<String> {
        let mut names: Vec<&[u8]> = self
            .services
            .iter()
            .map(|service| service.unwrap_or(UNKNOWN_SERVICE.as_bytes()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            // Every string was checked to be UTF-8 when it was read.
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect()
    }

    fn finish(mut self) -> Transcoded {
        let base_time = self.base_time.unwrap_or(0);
        self.out
            .put_fixed64(field::block::BASE_TIME_UNIX_NANO, base_time);
        let columns = std::mem::take(&mut self.columns);
        self.out
            .put_bytes(field::block::SPAN_IDS, &columns.span_ids);
        self.out
            .put_bytes(field::block::PARENT_SPAN_IDS, &columns.parent_span_ids);
        self.out
            .put_bytes(field::block::SPAN_START_OFFSETS, &columns.start_offsets);
        self.out
            .put_bytes(field::block::SPAN_DURATIONS, &columns.durations);
        let log_columns = std::mem::take(&mut self.log_columns);
        self.out
            .put_bytes(field::block::LOG_TIME_OFFSETS, &log_columns.time_offsets);
        self.out.put_bytes(
            field::block::LOG_OBSERVED_OFFSETS,
            &log_columns.observed_offsets,
        );
        for text in &self.strings {
            // Every entry is written, empty ones too: positions are the references.
            self.out.put_tag(field::block::STRINGS, WireType::Len);
            self.out.put_varint(text.len() as u64);
            self.out.extend_from_slice(text);
        }
        let summary = BlockSummary {
            spans: self.spans,
            logs: self.logs,
            // As `summarize`: only a block with no time (max 0) has no range.
            min_time_unix_nano: if self.max_time == 0 { 0 } else { self.min_time },
            max_time_unix_nano: self.max_time,
            services: self.block_services(),
            ..BlockSummary::default()
        };
        Transcoded {
            is_empty: self.resources == 0 && self.spans == 0 && self.logs == 0,
            raw: self.out,
            summary,
            rejected: self.rejected,
            reject_reason: self.reject_reason,
        }
    }
}

impl From<Reject> for Failure {
    fn from(reject: Reject) -> Self {
        Self::Rejected(reject)
    }
}

/// Resource and scope groups share a layout (`otlp::group`): the resource or scope, the
/// repeated children, the schema URL. Returns the first and the last.
fn group_header(data: &[u8]) -> Result<(Option<&[u8]>, &[u8]), WireError> {
    let mut header = None;
    let mut schema_url: &[u8] = b"";
    let mut reader = Reader::new(data);
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            (otlp::group::HEADER, WireType::Len) => header = Some(reader.bytes()?),
            (otlp::group::CHILDREN, WireType::Len) => reader.skip(wire)?,
            (otlp::group::SCHEMA_URL, WireType::Len) => schema_url = reader.bytes()?,
            (otlp::group::HEADER..=otlp::group::SCHEMA_URL, _) => return Err(wrong_type()),
            _ => reader.skip(wire)?,
        }
    }
    Ok((header, schema_url))
}

/// An EntityRef is kept as bytes, in the form prost gives it: checked strings,
/// the last of each singular field if not empty, unknown fields dropped, fields
/// in number order. The same reference sent twice is then stored alike.
fn put_entity_ref(data: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
    let mut schema_url: &[u8] = &[];
    let mut kind: &[u8] = &[];
    let mut reader = Reader::new(data);
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            (otlp::entity_ref::SCHEMA_URL, WireType::Len) => {
                schema_url = reader.string()?.as_bytes()
            }
            (otlp::entity_ref::TYPE, WireType::Len) => kind = reader.string()?.as_bytes(),
            (otlp::entity_ref::ID_KEYS | otlp::entity_ref::DESCRIPTION_KEYS, WireType::Len) => {
                // Checked here, written in their own pass below.
                reader.string()?;
            }
            (otlp::entity_ref::SCHEMA_URL..=otlp::entity_ref::DESCRIPTION_KEYS, _) => {
                return Err(wrong_type());
            }
            _ => reader.skip(wire)?,
        }
    }
    out.put_bytes(otlp::entity_ref::SCHEMA_URL, schema_url);
    out.put_bytes(otlp::entity_ref::TYPE, kind);
    for keys in [
        otlp::entity_ref::ID_KEYS,
        otlp::entity_ref::DESCRIPTION_KEYS,
    ] {
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.field()? {
            if number == keys && wire == WireType::Len {
                let key = reader.bytes()?;
                // Repeated strings keep their empty elements.
                out.put_tag(keys, WireType::Len);
                out.put_varint(key.len() as u64);
                out.extend_from_slice(key);
            } else {
                reader.skip(wire)?;
            }
        }
    }
    Ok(())
}

fn note_source<'a>(source: &mut Source<'a>, key: SourceKey, value: Option<Scalar<'a>>) {
    let Some(value) = value else {
        return;
    };
    match (key, value) {
        (SourceKey::File, Scalar::Str(path)) => source.file = Some(path),
        (SourceKey::Line, Scalar::Int(line)) => {
            source.line = u32::try_from(line).unwrap_or(source.line);
        }
        (SourceKey::Line, Scalar::Str(text)) => {
            source.line = std::str::from_utf8(text)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(source.line);
        }
        (SourceKey::Function, Scalar::Str(name)) => source.function = Some(name),
        (SourceKey::Namespace, Scalar::Str(name)) => source.namespace = Some(name),
        _ => {}
    }
}

/// Whether `needle` occurs in `haystack`, as `str::contains` answers.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}
