//! What a tab shows: the filter a user sets, and the incremental pass that applies it.
//!
//! A pass walks the records in steps, so a filter over millions of records publishes
//! as it goes and stops as soon as the user changes the filter again; new records
//! only ever extend a finished pass.

use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use regex::bytes::{Regex, RegexBuilder};

use crate::model::{
    Chunked, Index, Level, LogEntry, PackedTraceId, SpanEntry, TextArena, TextRef, TraceId,
    parse_trace_id,
};
use crate::terms::{AttributeTerm, parse_terms};
use crate::time::{is_relative, parse_duration, parse_moment};

/// The filter of one tab, as the user set it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Records below this level are hidden; `Unset` shows everything.
    pub min_level: Level,
    /// Services shown; empty shows all.
    pub services: Vec<String>,
    /// Sessions (runs) shown, by the backend's session number; empty shows all.
    pub sessions: Vec<u16>,
    /// A case-insensitive substring of the scope (the `tracing` target).
    pub scope: String,
    /// Space-separated attribute terms, of the record or its resource: `key=value`
    /// (exact), `key~text` (substring), `key` (present), each negated by a leading `-`
    /// (see [`crate::terms`]).
    pub attributes: String,
    /// A trace id, in hex.
    pub trace_id: String,
    /// Records older than this window before now are hidden; it slides with the clock.
    pub since: Option<Since>,
    /// Free text over messages, span names and attribute values.
    pub search: String,
    /// `search` is a regular expression rather than a substring.
    pub regex: bool,
    /// The time range's start and end as typed (see [`crate::time::parse_moment`]);
    /// empty leaves that side open. Records at or after `from` and before `to` show.
    pub from: String,
    pub to: String,
    /// Bounds of a trace's duration as typed (`250ms`, `1.5s`); empty: none.
    pub min_duration: String,
    pub max_duration: String,
}

/// A time range that ends now and slides with it: the backend moves it on every
/// [`SLIDE_INTERVAL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Since {
    pub window: Duration,
}

/// How often the backend reads a sliding time range against the clock again.
pub const SLIDE_INTERVAL: Duration = Duration::from_secs(1);

impl Filter {
    /// Whether the filter reads the clock (a sliding window, a time relative to now),
    /// so that the records it shows change as time passes.
    pub fn slides(&self) -> bool {
        self.since.is_some() || is_relative(&self.from) || is_relative(&self.to)
    }
}

/// The trace-id filter: a whole trace id, or the first 8 or more of its hex digits
/// (the short id every list shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TraceIdPrefix {
    value: TraceId,
    mask: TraceId,
}

impl TraceIdPrefix {
    /// Fewer digits than this would match many traces by chance.
    const MIN_DIGITS: usize = 8;

    fn parse(text: &str) -> Result<Self, String> {
        let digits = text.trim();
        let hex = digits.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex || digits.len() > 32 {
            return Err(format!(
                "not a trace id: {digits:?} (32 hex digits, or the first 8 or more)"
            ));
        }
        if digits.len() < Self::MIN_DIGITS {
            return Err(format!(
                "a trace id needs at least {} hex digits: {digits:?}",
                Self::MIN_DIGITS
            ));
        }
        let missing = 4 * (32 - digits.len() as u32);
        let value = parse_trace_id(digits).ok_or_else(|| format!("not a trace id: {digits:?}"))?;
        Ok(Self {
            value: value.checked_shl(missing).unwrap_or(0),
            mask: TraceId::MAX.checked_shl(missing).unwrap_or(0),
        })
    }

    fn matches(self, id: PackedTraceId) -> bool {
        // A record without a trace id (0) is in no trace, even one whose id starts with zeros.
        id.get() != 0 && id.get() & self.mask == self.value
    }
}

/// A filter ready to apply.
#[derive(Debug)]
pub struct CompiledFilter {
    min_level: Level,
    services: Vec<String>,
    sessions: Vec<u16>,
    scope_lowercase: String,
    attributes: Vec<AttributeTerm>,
    trace_id: Option<TraceIdPrefix>,
    since_unix_nano: u64,
    search: Option<Regex>,
    /// What narrows the records before the other checks, by a scan of whole text
    /// chunks: the search, else the first attribute term that only a record's own
    /// attributes can satisfy (never a negated one: it finds what it excludes).
    prefilter: Option<Regex>,
    /// The attribute term `prefilter` scans for, if it is one.
    prefilter_term: Option<usize>,
    /// Why the filter matches nothing: a bad regex, trace id, time or attribute term.
    pub error: Option<String>,
    /// By origin id: `None` when no record of that origin passes (its service, scope
    /// or run is not shown, or its resource has an attribute a negated term excludes),
    /// else the attribute terms its records' own attributes must still pass, a bit
    /// each: its resource satisfies the others. Decided once per origin, so a record
    /// costs one lookup.
    origin_terms: Vec<Option<u64>>,
    /// Terms that some shown origin's resource satisfies: a record of it passes them
    /// without the attribute, so a scan for them would miss it.
    satisfied_by_a_resource: u64,
    /// The typed time range, in Unix nanoseconds: from (inclusive) to (exclusive).
    from_unix_nano: u64,
    to_unix_nano: Option<u64>,
    /// A trace's duration bounds, in nanoseconds, inclusive.
    durations: RangeInclusive<u64>,
    /// Why no trace is listed: bad duration bounds (the log records still show).
    duration_error: Option<String>,
}

/// The typed time range in Unix nanoseconds, read against `now`: from (inclusive,
/// 0 when open) and to (exclusive).
fn time_range(filter: &Filter, now_unix_nano: u64) -> Result<(u64, Option<u64>), String> {
    let moment = |text: &str| {
        let text = text.trim();
        (!text.is_empty())
            .then(|| parse_moment(text, now_unix_nano))
            .transpose()
    };
    let from = moment(&filter.from)?.unwrap_or(0);
    let to = moment(&filter.to)?;
    if to.is_some_and(|to| to <= from) {
        return Err("the time range ends before it starts".to_owned());
    }
    Ok((from, to))
}

/// The typed bounds of a trace's duration, in nanoseconds.
fn duration_bounds(filter: &Filter) -> Result<RangeInclusive<u64>, String> {
    let duration = |text: &str, name: &str| {
        let text = text.trim();
        (!text.is_empty())
            .then(|| parse_duration(text).map(|d| d.as_nanos() as u64))
            .transpose()
            .map_err(|why| format!("{name}: {why}"))
    };
    let min = duration(&filter.min_duration, "min duration")?.unwrap_or(0);
    let max = duration(&filter.max_duration, "max duration")?.unwrap_or(u64::MAX);
    if min > max {
        return Err("the min duration is above the max".to_owned());
    }
    Ok(min..=max)
}

impl CompiledFilter {
    /// The filter, its times read against the clock now.
    pub fn new(filter: &Filter) -> Self {
        Self::at(filter, crate::time::now_unix_nano())
    }

    /// The filter, its times (the sliding window, `-15m`, `22:05`) read against
    /// `now_unix_nano`.
    pub fn at(filter: &Filter, now_unix_nano: u64) -> Self {
        let mut error = None;
        let (from_unix_nano, to_unix_nano) =
            time_range(filter, now_unix_nano).unwrap_or_else(|why| {
                error = Some(why);
                (0, None)
            });
        let (durations, duration_error) = match duration_bounds(filter) {
            Ok(durations) => (durations, None),
            Err(why) => (0..=u64::MAX, Some(why)),
        };
        let search = if filter.search.is_empty() {
            None
        } else {
            let pattern = if filter.regex {
                filter.search.clone()
            } else {
                regex::escape(&filter.search)
            };
            match RegexBuilder::new(&pattern)
                .case_insensitive(true)
                // ^ and $ then anchor at each record's text, not at the whole chunk.
                .multi_line(true)
                .unicode(false)
                .size_limit(16 << 20)
                .build()
            {
                Ok(regex) => Some(regex),
                Err(e) => {
                    error = Some(format!("bad regular expression: {e}"));
                    None
                }
            }
        };
        let trace_id = if filter.trace_id.trim().is_empty() {
            None
        } else {
            let parsed = TraceIdPrefix::parse(&filter.trace_id);
            if let Err(why) = &parsed {
                error = Some(why.clone());
            }
            parsed.ok()
        };
        let since_unix_nano = filter.since.map_or(0, |since| {
            now_unix_nano.saturating_sub(since.window.as_nanos() as u64)
        });
        let attributes = parse_terms(&filter.attributes).unwrap_or_else(|why| {
            error = Some(why);
            Vec::new()
        });
        // An attribute term is chosen once the origins are known (`refresh`).
        let prefilter = search.clone();
        Self {
            min_level: filter.min_level,
            services: filter.services.clone(),
            sessions: filter.sessions.clone(),
            scope_lowercase: filter.scope.trim().to_lowercase(),
            attributes,
            trace_id,
            since_unix_nano,
            search,
            prefilter,
            prefilter_term: None,
            error,
            origin_terms: Vec::new(),
            satisfied_by_a_resource: 0,
            from_unix_nano,
            to_unix_nano,
            durations,
            duration_error,
        }
    }

    /// What the user must fix for the filter to show what they meant: why nothing
    /// matches, else why no trace is listed.
    pub fn problem(&self) -> Option<&str> {
        self.error.as_deref().or(self.duration_error.as_deref())
    }

    /// Whether a trace of this duration is listed.
    pub fn passes_duration(&self, nanos: u64) -> bool {
        self.duration_error.is_none() && self.durations.contains(&nanos)
    }

    /// The time range records must be in, in Unix nanoseconds: from (inclusive, 0
    /// when open; a sliding window's start if later) and to (exclusive).
    pub fn time_bounds(&self) -> (u64, Option<u64>) {
        (
            self.from_unix_nano.max(self.since_unix_nano),
            self.to_unix_nano,
        )
    }

    fn in_time_range(&self, time: u64) -> bool {
        time >= self.from_unix_nano && self.to_unix_nano.is_none_or(|to| time < to)
    }

    /// Decides for the origins (service, scope, run, resource) added since the last
    /// step.
    fn refresh(&mut self, index: &Index) {
        let known = self.origin_terms.len();
        for id in known..index.origins.len() {
            let origin = index.origins.get(id as u32);
            let service = index.strings.get(origin.service);
            let scope = index.strings.get(origin.scope);
            let allowed = (self.sessions.is_empty() || self.sessions.contains(&origin.session))
                && (self.services.is_empty() || self.services.iter().any(|s| **s == **service))
                && (self.scope_lowercase.is_empty()
                    || scope.to_lowercase().contains(&self.scope_lowercase));
            let terms = allowed
                .then(|| self.record_terms(index.resources.get(origin.resource).as_bytes()))
                .flatten();
            if let Some(left) = terms {
                self.satisfied_by_a_resource |= self.all_terms() & !left;
            }
            self.origin_terms.push(terms);
        }
        if index.origins.len() > known {
            self.choose_prefilter();
        }
    }

    /// Every attribute term, a bit each.
    fn all_terms(&self) -> u64 {
        match self.attributes.len() {
            0 => 0,
            terms => u64::MAX >> (64 - terms.min(64)),
        }
    }

    /// The terms a record of a resource with these attributes must still pass, or
    /// `None` when the resource has what a negated term excludes.
    fn record_terms(&self, resource: &[u8]) -> Option<u64> {
        let mut left = 0;
        for (i, term) in self.attributes.iter().enumerate() {
            match (term.found_in(resource), term.negated) {
                (true, true) => return None,
                (true, false) => {}
                (false, _) => left |= 1 << i,
            }
        }
        Some(left)
    }

    /// Without a search, the first term no shown resource satisfies narrows the scan.
    fn choose_prefilter(&mut self) {
        if self.search.is_some() {
            return;
        }
        let usable =
            self.attributes.iter().enumerate().position(|(i, term)| {
                !term.negated && self.satisfied_by_a_resource & (1 << i) == 0
            });
        if usable != self.prefilter_term {
            self.prefilter_term = usable;
            self.prefilter = usable.and_then(|i| self.attributes[i].regex());
        }
    }

    /// Everything but the level and the search: what the level counts are taken over.
    fn passes_common(&self, origin: u32, trace_id: PackedTraceId, time: u64, text: &[u8]) -> bool {
        let Some(Some(mut left)) = self.origin_terms.get(origin as usize).copied() else {
            return false;
        };
        if !(self.trace_id.is_none_or(|t| t.matches(trace_id))
            && time >= self.since_unix_nano
            && self.in_time_range(time))
        {
            return false;
        }
        while left != 0 {
            let term = &self.attributes[left.trailing_zeros() as usize];
            if term.found_in(text) == term.negated {
                return false;
            }
            left &= left - 1;
        }
        true
    }

    /// Whether what comes from this origin shows: the service, run, scope and resource
    /// conditions, which are all a metric point (which has no text in the index) is
    /// filtered by, besides the time range.
    pub fn passes_origin(&mut self, index: &Index, origin: u32) -> bool {
        self.refresh(index);
        !self.matches_nothing() && matches!(self.origin_terms.get(origin as usize), Some(Some(_)))
    }

    fn matches_nothing(&self) -> bool {
        self.error.is_some()
    }

    /// No condition at all: every log record passes.
    fn matches_everything(&self) -> bool {
        self.min_level == Level::Unset
            && self.services.is_empty()
            && self.sessions.is_empty()
            && self.scope_lowercase.is_empty()
            && self.attributes.is_empty()
            && self.trace_id.is_none()
            && self.since_unix_nano == 0
            && self.search.is_none()
            && self.error.is_none()
            && self.from_unix_nano == 0
            && self.to_unix_nano.is_none()
    }

    pub fn search(&self) -> Option<&Regex> {
        self.search.as_ref()
    }
}

/// Where a record's text is, for the search.
trait HasText {
    fn text(&self) -> TextRef;
}

impl HasText for LogEntry {
    fn text(&self) -> TextRef {
        self.text
    }
}

impl HasText for SpanEntry {
    fn text(&self) -> TextRef {
        self.text
    }
}

/// The records in `range` whose text the search matches, in order.
///
/// Searches each arena chunk's bytes in one go rather than record by record, then
/// maps each match back to its record: per-record calls would cost more than the scan.
fn search_records<E: HasText + Sync>(
    arena: &TextArena,
    entries: &Chunked<E>,
    regex: &Regex,
    range: Range<usize>,
) -> Vec<u32> {
    // Two halves on two threads when there is enough to share.
    const PARALLEL_MIN_RECORDS: usize = 64 << 10;
    if range.len() >= PARALLEL_MIN_RECORDS {
        let middle = range.start + range.len() / 2;
        let (mut first, second) = std::thread::scope(|scope| {
            let other = std::thread::Builder::new()
                .name("oculus-search".into())
                .spawn_scoped(scope, || {
                    search_serial(arena, entries, regex, middle..range.end)
                });
            let first = search_serial(arena, entries, regex, range.start..middle);
            (first, other.ok().and_then(|other| other.join().ok()))
        });
        match second {
            Some(second) => first.extend(second),
            // The thread could not start or did not finish: this one does its half.
            None => first.extend(search_serial(arena, entries, regex, middle..range.end)),
        }
        return first;
    }
    search_serial(arena, entries, regex, range)
}

fn search_serial<E: HasText>(
    arena: &TextArena,
    entries: &Chunked<E>,
    regex: &Regex,
    range: Range<usize>,
) -> Vec<u32> {
    let chunk_bytes = arena.chunk_bytes();
    let mut hits = Vec::new();
    let mut first = range.start;
    while first < range.end {
        // The records from `first` whose text is in the same text chunk, and whose
        // entries are in the same chunk of entries.
        let run = entries.contiguous(first..range.end);
        let Some(chunk) = run.first().map(|e| e.text().start() / chunk_bytes) else {
            break;
        };
        let end = first + run.partition_point(|e| e.text().start() / chunk_bytes == chunk);
        let offset = |e: &E| (e.text().start() % chunk_bytes) as usize;
        let low = offset(&entries[first]);
        let last = &entries[end - 1];
        let high = offset(last) + last.text().len() as usize;
        let Some(haystack) = arena
            .chunks()
            .get(chunk as usize)
            .and_then(|c| c.get(low..high))
        else {
            first = end;
            continue;
        };
        let records = &run[..end - first];
        let mut at = 0;
        while let Some(found) = regex.find_at(haystack, at) {
            let position = low + found.start();
            // The first record that ends at or past the match: an empty match at a
            // record's end, or in an empty record, is that record's.
            let r = records.partition_point(|e| offset(e) + (e.text().len() as usize) < position);
            let Some(record) = records.get(r) else { break };
            let end = offset(record) + record.text().len() as usize;
            if offset(record) <= position {
                // A match past the record's end ran over the newline into the next
                // record: the record's own text decides.
                if low + found.end() <= end
                    || regex.is_match(&haystack[offset(record) - low..end - low])
                {
                    hits.push((first + r) as u32);
                }
                // Past the record and its newline.
                at = end + 1 - low;
            } else {
                at = offset(record) - low;
            }
            if at > haystack.len() {
                break;
            }
        }
        first = end;
    }
    hits
}

/// Which records a tab shows, by row: all of them (no list needed: row `i` is
/// record `i`), or those listed.
#[derive(Debug)]
pub enum Rows {
    All(usize),
    Listed(Vec<u32>),
}

impl Default for Rows {
    fn default() -> Self {
        Rows::Listed(Vec::new())
    }
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::All(count) => *count,
            Rows::Listed(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record shown in row `row`.
    pub fn get(&self, row: usize) -> Option<u32> {
        match self {
            Rows::All(count) => (row < *count).then_some(row as u32),
            Rows::Listed(rows) => rows.get(row).copied(),
        }
    }

    /// The row of a record, or `Err` with the row it would have: rows are in record
    /// order.
    pub fn find(&self, record: u32) -> Result<usize, usize> {
        match self {
            Rows::All(count) => {
                if (record as usize) < *count {
                    Ok(record as usize)
                } else {
                    Err(*count)
                }
            }
            Rows::Listed(rows) => rows.binary_search(&record),
        }
    }

    fn push(&mut self, record: u32) {
        match self {
            Rows::All(count) => *count += 1,
            Rows::Listed(rows) => rows.push(record),
        }
    }
}

/// The log records of one tab that pass its filter, built incrementally.
///
/// A list that follows the newest records is filled newest first: its pass looks at
/// the newest records, back until a few screens of rows are found, before the
/// oldest, so the rows in view come within a step however many records there are.
#[derive(Debug, Default)]
pub struct LogMatches {
    /// Indexes into `Index::logs`, oldest first: those before `newest`.
    rows: Rows,
    /// Records `0..scanned` were examined, and those of `newest`.
    scanned: usize,
    /// The newest records' matches, while the older ones are still being examined.
    newest: Option<Newest>,
    /// Per level: records passing everything but the level threshold.
    pub level_counts: [u64; 7],
}

/// The matches among records `start..end`, the newest when the pass began.
#[derive(Debug, Default)]
struct Newest {
    start: usize,
    end: usize,
    rows: Vec<u32>,
    /// Rows to find before the pass turns to the oldest records.
    wanted: usize,
    /// Whether the pass went on to the oldest records: enough rows were found, or
    /// `start` reached the first record.
    found_enough: bool,
}

impl LogMatches {
    /// A pass that begins with the newest records, back until `wanted` rows are found.
    pub fn newest_first(wanted: usize) -> Self {
        Self {
            newest: Some(Newest {
                wanted,
                ..Newest::default()
            }),
            ..Self::default()
        }
    }

    /// Rows found so far.
    pub fn len(&self) -> usize {
        self.rows.len() + self.newest.as_ref().map_or(0, |n| n.rows.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record shown in row `row`.
    pub fn get(&self, row: usize) -> Option<u32> {
        match row.checked_sub(self.rows.len()) {
            None => self.rows.get(row),
            Some(row) => self.newest.as_ref()?.rows.get(row).copied(),
        }
    }

    /// The row of a record, or `Err` with the row it would have: rows are in record
    /// order.
    pub fn find(&self, record: u32) -> Result<usize, usize> {
        match &self.newest {
            Some(newest) if record as usize >= newest.start => newest
                .rows
                .binary_search(&record)
                .map(|row| row + self.rows.len())
                .map_err(|row| row + self.rows.len()),
            _ => self.rows.find(record),
        }
    }

    /// Whether a record was examined, so that it would be listed if it passed.
    pub fn has_examined(&self, record: u32) -> bool {
        let record = record as usize;
        record < self.scanned
            || self
                .newest
                .as_ref()
                .is_some_and(|n| (n.start..n.end).contains(&record))
    }

    /// Records examined so far.
    pub fn examined(&self) -> usize {
        self.scanned + self.newest.as_ref().map_or(0, |n| n.end - n.start)
    }

    /// Whether every record of the index was examined.
    pub fn is_complete(&self, index: &Index) -> bool {
        self.newest.is_none() && self.scanned == index.logs.len()
    }
}

/// The spans and traces of one tab that pass its filter, built incrementally.
///
/// Like [`LogMatches`], a pass can begin with the newest spans, so that the newest
/// traces are listed first.
#[derive(Debug, Default)]
pub struct SpanMatches {
    /// Spans `0..scanned` were examined, and those of `newest`.
    scanned: usize,
    /// Traces with at least one passing span, in order of their first passing span
    /// (while a newest-first pass runs, in the order they were found).
    pub traces: Vec<u32>,
    /// Per trace of the index, its place in `traces` (`NOT_LISTED` if none).
    positions: Vec<u32>,
    newest: Option<NewestSpans>,
    /// Counts the times `traces` was put in order again, for those who follow it.
    reorders: u32,
}

/// The newest spans' part of a newest-first pass: spans `start..end`.
#[derive(Debug, Default)]
struct NewestSpans {
    start: usize,
    end: usize,
    /// Per listed trace, the first of its spans known to pass, to put `traces` in
    /// order once the pass meets itself.
    first_span: Vec<u32>,
    wanted: usize,
    found_enough: bool,
}

/// A trace none of whose spans passed (yet).
const NOT_LISTED: u32 = u32::MAX;

impl SpanMatches {
    /// A pass that begins with the newest spans, back until `wanted` traces are listed.
    pub fn newest_first(wanted: usize) -> Self {
        Self {
            newest: Some(NewestSpans {
                wanted,
                ..NewestSpans::default()
            }),
            ..Self::default()
        }
    }

    /// Spans examined so far.
    pub fn examined(&self) -> usize {
        self.scanned + self.newest.as_ref().map_or(0, |n| n.end - n.start)
    }

    /// Whether every span of the index was examined.
    pub fn is_complete(&self, index: &Index) -> bool {
        self.newest.is_none() && self.scanned == index.spans.len()
    }

    /// Changes each time `traces` is put in order again.
    pub fn reorders(&self) -> u32 {
        self.reorders
    }

    /// Lists the trace of a passing span.
    fn list(&mut self, span: u32, trace: u32) {
        let position = &mut self.positions[trace as usize];
        if *position == NOT_LISTED {
            *position = self.traces.len() as u32;
            self.traces.push(trace);
            if let Some(newest) = &mut self.newest {
                newest.first_span.push(span);
            }
        } else if let Some(newest) = &mut self.newest {
            let first = &mut newest.first_span[*position as usize];
            *first = (*first).min(span);
        }
    }

    /// Once a newest-first pass met itself: the traces in order of their first
    /// passing span, as a pass from the oldest lists them.
    fn put_in_order(&mut self, first_span: &[u32]) {
        let mut order: Vec<(u32, u32)> = first_span
            .iter()
            .copied()
            .zip(self.traces.iter().copied())
            .collect();
        order.sort_unstable();
        for (place, &(_, trace)) in order.iter().enumerate() {
            self.traces[place] = trace;
            self.positions[trace as usize] = place as u32;
        }
        self.reorders = self.reorders.wrapping_add(1);
    }

    /// The place of a trace (by its number in the index) in `traces`.
    pub fn position(&self, trace: u32) -> Option<usize> {
        self.positions
            .get(trace as usize)
            .filter(|&&p| p != NOT_LISTED)
            .map(|&p| p as usize)
    }
}

/// Walks the next `max_records` log records.
pub fn step_logs(index: &Index, filter: &mut CompiledFilter, out: &mut LogMatches, max: usize) {
    filter.refresh(index);
    if filter.matches_everything() {
        // Nothing to examine: every record is a row, and the index keeps the counts.
        out.rows = Rows::All(index.logs.len());
        out.scanned = index.logs.len();
        out.newest = None;
        out.level_counts = index.log_level_counts;
        return;
    }
    if filter.matches_nothing() {
        out.newest = None;
        out.scanned = index.logs.len();
        return;
    }
    let Some(newest) = &mut out.newest else {
        let range = out.scanned..(out.scanned + max).min(index.logs.len());
        out.scanned = range.end;
        pass_logs(index, filter, range, &mut out.level_counts, |i| {
            out.rows.push(i);
        });
        return;
    };
    if newest.end == 0 {
        // The pass begins: the newest records are those there are now.
        newest.start = index.logs.len();
        newest.end = newest.start;
    }
    if !newest.found_enough {
        // Back from the newest, a step at a time; the rows found go before those
        // found already.
        let range = newest.start.saturating_sub(max)..newest.start;
        newest.start = range.start;
        let mut found = Vec::new();
        pass_logs(index, filter, range, &mut out.level_counts, |i| {
            found.push(i);
        });
        found.append(&mut newest.rows);
        newest.rows = found;
        newest.found_enough = newest.rows.len() >= newest.wanted || newest.start == 0;
    } else {
        // Then on from the oldest, up to where the newest began.
        let range = out.scanned..(out.scanned + max).min(newest.start);
        out.scanned = range.end;
        pass_logs(index, filter, range, &mut out.level_counts, |i| {
            out.rows.push(i);
        });
    }
    if out.scanned == newest.start && newest.found_enough {
        // The two meet: one list again, which new records extend.
        for &row in &newest.rows {
            out.rows.push(row);
        }
        out.scanned = newest.end;
        out.newest = None;
    }
}

/// Checks the log records of `range`, counting levels and handing on those that pass.
fn pass_logs(
    index: &Index,
    filter: &CompiledFilter,
    range: Range<usize>,
    level_counts: &mut [u64; 7],
    mut listed: impl FnMut(u32),
) {
    let hits = filter
        .prefilter
        .as_ref()
        .map(|regex| search_records(&index.log_text, &index.logs, regex, range.clone()));
    let mut pass = |i: usize, log: &LogEntry| {
        let text = if filter.attributes.is_empty() {
            &[][..]
        } else {
            index.log_text.bytes(log.text)
        };
        if !filter.passes_common(log.origin, log.trace_id, log.time, text) {
            return;
        }
        level_counts[log.level as usize] += 1;
        if log.level.effective() >= filter.min_level {
            listed(i as u32);
        }
    };
    match hits {
        Some(hits) => {
            for i in hits {
                pass(i as usize, &index.logs[i as usize]);
            }
        }
        None => for_each_in(&index.logs, range, pass),
    }
}

/// Calls `f` with each entry of `range` and its number, a chunk's slice at a time:
/// a tight loop over slices rather than a chunk lookup per entry.
fn for_each_in<T>(entries: &Chunked<T>, range: Range<usize>, mut f: impl FnMut(usize, &T)) {
    let mut first = range.start;
    while first < range.end {
        let run = entries.contiguous(first..range.end);
        if run.is_empty() {
            break;
        }
        for (offset, entry) in run.iter().enumerate() {
            f(first + offset, entry);
        }
        first += run.len();
    }
}

/// Walks the next `max_records` spans; a trace passes when one of its spans does.
pub fn step_spans(index: &Index, filter: &mut CompiledFilter, out: &mut SpanMatches, max: usize) {
    filter.refresh(index);
    if filter.matches_nothing() {
        out.newest = None;
        out.scanned = index.spans.len();
        return;
    }
    out.positions.resize(index.traces.len(), NOT_LISTED);
    let Some(newest) = &mut out.newest else {
        let range = out.scanned..(out.scanned + max).min(index.spans.len());
        out.scanned = range.end;
        pass_spans(index, filter, range, |span, trace| out.list(span, trace));
        return;
    };
    if newest.end == 0 {
        // The pass begins: the newest spans are those there are now.
        newest.start = index.spans.len();
        newest.end = newest.start;
    }
    let range = if newest.found_enough {
        // Then on from the oldest, up to where the newest began.
        let range = out.scanned..(out.scanned + max).min(newest.start);
        out.scanned = range.end;
        range
    } else {
        // Back from the newest, a step at a time.
        let range = newest.start.saturating_sub(max)..newest.start;
        newest.start = range.start;
        range
    };
    pass_spans(index, filter, range, |span, trace| out.list(span, trace));
    let Some(newest) = &mut out.newest else {
        return;
    };
    newest.found_enough |= out.traces.len() >= newest.wanted || newest.start == 0;
    if out.scanned == newest.start && newest.found_enough {
        // The two meet: the traces in order, which new spans extend.
        out.scanned = newest.end;
        if let Some(newest) = out.newest.take() {
            out.put_in_order(&newest.first_span);
        }
    }
}

/// Hands on each span of `range` that passes the filter, with its trace: the one
/// decision of a span, for what aggregates spans (the operations table). A trace's
/// duration bounds are not a span's and are left out.
pub fn pass_span_range(
    index: &Index,
    filter: &mut CompiledFilter,
    range: Range<usize>,
    listed: impl FnMut(u32, u32),
) {
    filter.refresh(index);
    if !filter.matches_nothing() {
        pass_spans(index, filter, range, listed);
    }
}

/// Checks the spans of `range`, handing on those that pass with their trace; a
/// trace passes when one of its spans does.
fn pass_spans(
    index: &Index,
    filter: &CompiledFilter,
    range: Range<usize>,
    mut listed: impl FnMut(u32, u32),
) {
    let hits = filter
        .prefilter
        .as_ref()
        .map(|regex| search_records(&index.span_text, &index.spans, regex, range.clone()));
    // Spans have a status, not a level: a threshold of ERROR or above keeps the failed.
    let errors_only = filter.min_level >= Level::Error;
    let mut pass = |i: usize, span: &SpanEntry| {
        let text = if filter.attributes.is_empty() {
            &[][..]
        } else {
            index.span_text.bytes(span.text)
        };
        if filter.passes_common(span.origin, span.trace_id, span.start, text)
            && (!errors_only || span.error)
        {
            listed(i as u32, span.trace);
        }
    };
    match hits {
        Some(hits) => {
            for i in hits {
                pass(i as usize, &index.spans[i as usize]);
            }
        }
        None => for_each_in(&index.spans, range, pass),
    }
}

/// Byte ranges of the search's matches in a text shown to the user.
pub fn highlights(regex: Option<&Regex>, text: &str) -> Vec<Range<usize>> {
    let Some(regex) = regex else {
        return Vec::new();
    };
    regex
        .find_iter(text.as_bytes())
        .filter(|m| {
            !m.is_empty() && text.is_char_boundary(m.start()) && text.is_char_boundary(m.end())
        })
        .map(|m| m.range())
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index of one log record with `k=v`, whose resource has `host.name=a`.
    fn one_record() -> Index {
        use oculus_store::BlockBuilder;
        use oculus_store::proto::{AnyValue, KeyValue, LogRecord, Resource, Scope, any_value};
        use prost::Message as _;
        let mut b = BlockBuilder::new();
        let pair = |b: &mut BlockBuilder, key: &str, value: &str| KeyValue {
            key: b.intern(key),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
        };
        let host = pair(&mut b, "host.name", "a");
        let resource = b.add_resource(Resource {
            attributes: vec![host],
            ..Resource::default()
        });
        let scope = b.add_scope(Scope {
            resource,
            ..Scope::default()
        });
        let attribute = pair(&mut b, "k", "v");
        let log = LogRecord {
            scope,
            attributes: vec![attribute],
            ..LogRecord::default()
        };
        b.push_log(log, 1, 1);
        let prepared = crate::raw::prepare_raw(&b.finish().encode_to_vec()).expect("a block");
        let mut index = Index::default();
        let loc = crate::model::BlockLoc {
            segment: 0,
            offset: 0,
            frame_bytes: 0,
        };
        index.add_prepared(&prepared, loc, 0);
        index
    }

    #[test]
    fn a_negated_term_or_one_a_resource_satisfies_never_narrows_the_scan() {
        let index = one_record();
        for (terms, scanned_for, passes) in [
            ("k=v", Some(0), true),
            ("-k=v", None, false),
            ("-k=x k", Some(1), true),
            ("host.name=a k~V", Some(1), true),
            ("host.name", None, true),
            ("-host.name=a k=v", Some(1), false),
        ] {
            let mut filter = CompiledFilter::new(&Filter {
                attributes: terms.to_owned(),
                ..Filter::default()
            });
            let mut logs = LogMatches::default();
            step_logs(&index, &mut filter, &mut logs, 10);
            assert_eq!(filter.prefilter_term, scanned_for, "{terms}");
            assert_eq!(filter.prefilter.is_some(), scanned_for.is_some(), "{terms}");
            assert_eq!(logs.rows.len(), usize::from(passes), "{terms}");
        }
    }

    #[test]
    fn a_trace_id_filter_takes_the_whole_id_or_its_first_eight_digits_or_more() {
        let id = PackedTraceId::new(0x9a90_0c20_bc5b_7a0f_c601_8fd7_6821_4df9);
        let matches = |text: &str| TraceIdPrefix::parse(text).map(|p| p.matches(id));
        assert_eq!(matches("9a900c20bc5b7a0fc6018fd768214df9"), Ok(true));
        assert_eq!(matches(" 9A900C20 "), Ok(true), "the short id, any case");
        assert_eq!(matches("9a900c20bc5b"), Ok(true));
        assert_eq!(matches("9a900c21"), Ok(false));
        assert_eq!(matches("00000000000000000000000000009a90"), Ok(false));
        // Too short to mean one trace, or not hex: said, never silently nothing.
        assert!(
            matches("9a900c2")
                .expect_err("seven digits")
                .contains("at least 8")
        );
        assert!(
            matches("trace-9a900c20")
                .expect_err("not hex")
                .contains("not a trace id")
        );
        assert!(matches(&"9".repeat(33)).is_err());
    }
}
