//! The filter pass against a plain model: whatever the records, the filter and the
//! step sizes, the rows, level counts and traces are those a record-by-record check
//! of the generated records would pick. The model reads only the records the test
//! made, never the index, so a mistake the index and the filter share still fails.
//! Text chunks are made tiny so that matches land on every kind of boundary, and
//! blocks arrive while a pass is under way. Resources carry attributes with the same
//! keys as records, so that a term can pass or fail by either. The trace list's order
//! is held to the model too: its duration bounds and sort, kept up to date as traces
//! grow.

use std::time::Duration;

use oculus_store::BlockBuilder;
use oculus_store::block::SpanColumns;
use oculus_store::proto::{
    AnyValue, KeyValue, LogRecord, Resource, Scope, Span, StatusCode, any_value::Value,
};
use oculus_viewer::filter::{
    CompiledFilter, Filter, LogMatches, Since, SpanMatches, step_logs, step_spans,
};
use oculus_viewer::model::{BlockLoc, Index, Level};
use oculus_viewer::raw::prepare_raw;
use oculus_viewer::snapshot::{SortKey, TraceSort};
use oculus_viewer::trace_order::TraceOrder;
use proptest::prelude::*;
use prost::Message as _;

/// `Ärger` and `ärger`: the search and attribute terms fold ASCII letters only.
const WORDS: [&str; 9] = [
    "alpha",
    "beta",
    "Gamma",
    "delta",
    "ALPHA beta",
    "x",
    "Ärger",
    "ärger",
    "",
];
/// `a.b` and `aXb` tell an escaped dot from a wildcard.
const KEYS: [&str; 4] = ["k", "kk", "a.b", "aXb"];
const INTEGERS: [i64; 3] = [-3, 42, 420];
/// `None`: a resource without `service.name`, which OpenTelemetry calls `unknown_service`.
const SERVICES: [Option<&str>; 3] = [Some("api"), Some("db"), None];
const SCOPES: [&str; 4] = ["app::http", "App::DB", "Über::cache", ""];
const SEVERITY_TEXTS: [&str; 5] = ["", "warn", "ERROR", "Critical", "nonsense"];
const TRACE_IDS: [u128; 4] = [
    0x9a90_0c20_bc5b_7a0f_c601_8fd7_6821_4df9,
    // The same first 16 digits as the one before.
    0x9a90_0c20_bc5b_7a0f_0000_0000_0000_0001,
    0x9a90_0c21_0000_0000_0000_0000_0000_0000,
    // Its short id is eight zeros, as a record without a trace id would print.
    0x0000_0000_7777_abcd_0000_0000_0000_0002,
];

#[derive(Clone, Copy, Debug)]
enum AttributeValue {
    Word(usize),
    Integer(usize),
}

impl AttributeValue {
    /// The value as OTLP sends it.
    fn any_value(self) -> AnyValue {
        AnyValue {
            value: Some(match self {
                AttributeValue::Word(w) => Value::StringValue(WORDS[w].to_owned()),
                AttributeValue::Integer(i) => Value::IntValue(INTEGERS[i]),
            }),
        }
    }

    /// The value as a user reads it.
    fn text(self) -> String {
        match self {
            AttributeValue::Word(w) => WORDS[w].to_owned(),
            AttributeValue::Integer(i) => INTEGERS[i].to_string(),
        }
    }
}

#[derive(Clone, Debug)]
struct Log {
    service: usize,
    scope: usize,
    words: Vec<usize>,
    severity_number: i32,
    severity_text: usize,
    attributes: Vec<(usize, AttributeValue)>,
    trace: Option<usize>,
    /// Event and observed time; 0 is absent, as in OTLP.
    time: u64,
    observed: u64,
}

#[derive(Clone, Debug)]
struct SpanRecord {
    service: usize,
    scope: usize,
    name: usize,
    attributes: Vec<(usize, AttributeValue)>,
    trace: usize,
    status: StatusCode,
    start: u64,
    duration: u64,
}

#[derive(Clone, Debug)]
struct Batch {
    session: u16,
    /// Per service: its resource's attributes besides `service.name`.
    resources: Vec<Vec<(usize, AttributeValue)>>,
    logs: Vec<Log>,
    spans: Vec<SpanRecord>,
}

fn attributes() -> impl Strategy<Value = Vec<(usize, AttributeValue)>> {
    let value = prop_oneof![
        3 => (0..WORDS.len()).prop_map(AttributeValue::Word),
        1 => (0..INTEGERS.len()).prop_map(AttributeValue::Integer),
    ];
    prop::collection::vec((0..KEYS.len(), value), 0..3)
}

fn log() -> impl Strategy<Value = Log> {
    let times = prop_oneof![
        (1_000u64..1_100).prop_map(|t| (t, 0)),
        (1_000u64..1_100).prop_map(|t| (0, t)),
        (1_000u64..1_100, 1_000u64..1_100),
        Just((0, 0)),
    ];
    let severity = prop_oneof![
        3 => (0..25i32, Just(0)),
        1 => (Just(0), 0..SEVERITY_TEXTS.len()),
    ];
    (
        (0..SERVICES.len(), 0..SCOPES.len()),
        prop::collection::vec(0..WORDS.len(), 0..4),
        severity,
        attributes(),
        prop::option::weighted(0.6, 0..TRACE_IDS.len()),
        times,
    )
        .prop_map(
            |(
                (service, scope),
                words,
                (severity_number, severity_text),
                attributes,
                trace,
                (time, observed),
            )| Log {
                service,
                scope,
                words,
                severity_number,
                severity_text,
                attributes,
                trace,
                time,
                observed,
            },
        )
}

fn span() -> impl Strategy<Value = SpanRecord> {
    let status = prop::sample::select(vec![
        StatusCode::Unspecified,
        StatusCode::Ok,
        StatusCode::Error,
    ]);
    (
        (0..SERVICES.len(), 0..SCOPES.len()),
        0..WORDS.len(),
        attributes(),
        0..TRACE_IDS.len(),
        status,
        (1_000u64..1_100, 0u64..50),
    )
        .prop_map(
            |((service, scope), name, attributes, trace, status, (start, duration))| SpanRecord {
                service,
                scope,
                name,
                attributes,
                trace,
                status,
                start,
                duration,
            },
        )
}

fn batch() -> impl Strategy<Value = Batch> {
    (
        0..3u16,
        prop::collection::vec(attributes(), SERVICES.len()),
        prop::collection::vec(log(), 0..8),
        prop::collection::vec(span(), 0..6),
    )
        .prop_map(|(session, resources, logs, spans)| Batch {
            session,
            resources,
            logs,
            spans,
        })
}

fn message(words: &[usize]) -> String {
    words
        .iter()
        .map(|&w| WORDS[w])
        .collect::<Vec<_>>()
        .join(" ")
}

fn string(text: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(text.to_owned())),
    })
}

fn split(id: u128) -> (u64, u64) {
    ((id >> 64) as u64, id as u64)
}

/// The batch as the collector stores it.
fn encode(batch: &Batch) -> Vec<u8> {
    let mut b = BlockBuilder::new();
    b.set_base_time(1_000);
    let service_key = b.intern("service.name");
    // One resource per service and one scope per (service, scope), as the collector writes them.
    let mut scopes = std::collections::HashMap::new();
    let mut scope_of = |b: &mut BlockBuilder, service: usize, scope: usize| {
        *scopes.entry((service, scope)).or_insert_with(|| {
            let mut attributes: Vec<KeyValue> = SERVICES[service]
                .map(|name| KeyValue {
                    key: service_key,
                    value: string(name),
                })
                .into_iter()
                .collect();
            for &(k, v) in &batch.resources[service] {
                attributes.push(KeyValue {
                    key: b.intern(KEYS[k]),
                    value: Some(v.any_value()),
                });
            }
            let resource = b.add_resource(Resource {
                attributes,
                ..Resource::default()
            });
            let name = b.intern(SCOPES[scope]);
            b.add_scope(Scope {
                resource,
                name,
                ..Scope::default()
            })
        })
    };
    let key_values = |b: &mut BlockBuilder, attributes: &[(usize, AttributeValue)]| {
        attributes
            .iter()
            .map(|&(k, v)| KeyValue {
                key: b.intern(KEYS[k]),
                value: Some(v.any_value()),
            })
            .collect::<Vec<_>>()
    };
    for log in &batch.logs {
        let (trace_id_high, trace_id_low) = log.trace.map_or((0, 0), |t| split(TRACE_IDS[t]));
        let record = LogRecord {
            scope: scope_of(&mut b, log.service, log.scope),
            severity_number: log.severity_number,
            severity_text: b.intern(SEVERITY_TEXTS[log.severity_text]),
            body: string(&message(&log.words)),
            attributes: key_values(&mut b, &log.attributes),
            trace_id_high,
            trace_id_low,
            ..LogRecord::default()
        };
        b.push_log(record, log.time, log.observed);
    }
    for (i, span) in batch.spans.iter().enumerate() {
        let (trace_id_high, trace_id_low) = split(TRACE_IDS[span.trace]);
        let record = Span {
            scope: scope_of(&mut b, span.service, span.scope),
            trace_id_high,
            trace_id_low,
            name: b.intern(WORDS[span.name]),
            attributes: key_values(&mut b, &span.attributes),
            status_code: span.status as i32,
            ..Span::default()
        };
        let columns = SpanColumns {
            span_id: i as u64 + 1,
            parent_span_id: 0,
            start_unix_nano: span.start,
            end_unix_nano: span.start + span.duration,
        };
        b.push_span(record, columns);
    }
    b.finish().encode_to_vec()
}

/// What the filter should pick, by the model.
#[derive(Debug, Default, PartialEq)]
struct Picked {
    /// Log records, by their place among all generated log records.
    rows: Vec<u32>,
    level_counts: [u64; 7],
    /// Trace ids, in order of their first passing span.
    traces: Vec<u128>,
    /// Trace ids as the trace list shows them: within the duration bounds, sorted.
    trace_rows: Vec<u128>,
}

/// The level of OTLP's severity number, else of its severity text, as a place in
/// `Level::ALL`: 0 none, 1 TRACE up to 6 FATAL.
fn level(number: i32, text: &str) -> usize {
    match number {
        1..=24 => (number as usize - 1) / 4 + 1,
        _ => match text.to_ascii_lowercase().as_str() {
            "trace" => 1,
            "debug" => 2,
            "info" | "information" => 3,
            "warn" | "warning" => 4,
            "error" => 5,
            "fatal" | "critical" => 6,
            _ => 0,
        },
    }
}

/// An attribute term: `-` (negated), key, `=` or `~` or none (present), value.
#[derive(Debug)]
struct Term {
    negated: bool,
    key: String,
    operator: Option<char>,
    value: String,
}

/// The attribute terms, or `None` when one is malformed: an unclosed quote or no key.
/// (The test writes no backslashes.)
fn terms(text: &str) -> Option<Vec<Term>> {
    let mut words = vec![String::new()];
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == ' ' && !quoted {
            words.push(String::new());
        } else {
            words.last_mut().unwrap().push(c);
        }
    }
    if quoted {
        return None;
    }
    let mut terms = Vec::new();
    for word in words.iter().filter(|w| !w.is_empty()) {
        let (negated, word) = match word.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, word.as_str()),
        };
        // The first `=` or `~` outside quotes ends the key.
        let mut inside = false;
        let at = word.char_indices().find(|&(_, c)| {
            inside ^= c == '"';
            !inside && (c == '=' || c == '~')
        });
        let (key, operator, value) = match at {
            Some((at, operator)) => (&word[..at], Some(operator), &word[at + 1..]),
            None => (word, None, ""),
        };
        if key.is_empty() {
            return None;
        }
        terms.push(Term {
            negated,
            key: key.replace('"', ""),
            operator,
            value: value.replace('"', ""),
        });
    }
    Some(terms)
}

/// The conditions of a filter, read from its fields by the model alone.
struct Model {
    min_level: usize,
    services: Vec<String>,
    sessions: Vec<u16>,
    scope: String,
    terms: Vec<Term>,
    trace_prefix: Option<String>,
    since: u64,
    /// The typed time range: from (inclusive) to (exclusive).
    from: u64,
    to: u64,
    min_duration: u64,
    max_duration: u64,
    search: Option<regex::Regex>,
    substring: Option<String>,
    /// A bad regex, trace id or time: nothing passes.
    invalid: bool,
    /// Bad duration bounds: no trace is listed; log records are not concerned.
    bad_durations: bool,
}

/// A moment as the test types it: RFC 3339 with nanoseconds, or nanoseconds before now.
fn moment(text: &str, now: u64) -> Option<u64> {
    if let Some(ago) = text.strip_prefix('-') {
        return Some(now.saturating_sub(ago.strip_suffix("ns")?.parse().ok()?));
    }
    text.strip_prefix("1970-01-01T00:00:00.")?
        .strip_suffix('Z')?
        .parse()
        .ok()
}

/// A duration as the test types it: nanoseconds, or hundredths of a microsecond.
fn duration(text: &str) -> Option<u64> {
    if let Some(nanos) = text.strip_suffix("ns") {
        return nanos.parse().ok();
    }
    Some(
        10 * text
            .strip_prefix("0.0")?
            .strip_suffix("us")?
            .parse::<u64>()
            .ok()?,
    )
}

impl Model {
    fn new(filter: &Filter, now: u64) -> Self {
        // A bound as typed: `None` when empty, `Some(None)` when it cannot be read.
        let bound =
            |text: &str, read: &dyn Fn(&str) -> Option<u64>| (!text.is_empty()).then(|| read(text));
        let unreadable = |bound: Option<Option<u64>>| bound.is_some_and(|b| b.is_none());
        let from = bound(&filter.from, &|t| moment(t, now));
        let to = bound(&filter.to, &|t| moment(t, now));
        let min = bound(&filter.min_duration, &duration);
        let max = bound(&filter.max_duration, &duration);
        let mut invalid = unreadable(from) || unreadable(to);
        let (from, to) = (from.flatten().unwrap_or(0), to.flatten());
        invalid |= to.is_some_and(|to| to <= from);
        let min_duration = min.flatten().unwrap_or(0);
        let max_duration = max.flatten().unwrap_or(u64::MAX);
        let bad_durations = unreadable(min) || unreadable(max) || min_duration > max_duration;
        let to = to.unwrap_or(u64::MAX);
        let trace = filter.trace_id.trim().to_ascii_lowercase();
        let trace_prefix = if trace.is_empty() {
            None
        } else {
            let hex = trace.chars().all(|c| c.is_ascii_hexdigit());
            invalid |= !hex || !(8..=32).contains(&trace.len());
            Some(trace)
        };
        let (mut search, mut substring) = (None, None);
        if filter.regex && !filter.search.is_empty() {
            match regex::RegexBuilder::new(&filter.search)
                .case_insensitive(true)
                .multi_line(true)
                .build()
            {
                Ok(regex) => search = Some(regex),
                Err(_) => invalid = true,
            }
        } else if !filter.search.is_empty() {
            substring = Some(filter.search.to_ascii_lowercase());
        }
        let terms = terms(&filter.attributes).unwrap_or_else(|| {
            invalid = true;
            Vec::new()
        });
        Self {
            min_level: Level::ALL
                .iter()
                .position(|&l| l == filter.min_level)
                .unwrap(),
            services: filter.services.clone(),
            sessions: filter.sessions.clone(),
            scope: filter.scope.trim().to_lowercase(),
            terms,
            trace_prefix,
            since: filter.since.map_or(0, |since| {
                now.saturating_sub(since.window.as_nanos() as u64)
            }),
            from,
            to,
            min_duration,
            max_duration,
            search,
            substring,
            invalid,
            bad_durations,
        }
    }

    /// Everything but the level (a log's) or the status (a span's).
    fn passes(&self, record: &Fields<'_>) -> bool {
        let service = SERVICES[record.service].unwrap_or("unknown_service");
        let attributes: Vec<(&str, String)> = record
            .attributes
            .iter()
            .map(|&(k, v)| (KEYS[k], v.text()))
            .collect();
        // The searchable text: the message or name, then each attribute as the
        // index separates them, so that ^ and $ anchor at the record's ends.
        let mut text = record.display.to_owned();
        for (key, value) in &attributes {
            text.push('\x1f');
            text.push_str(key);
            text.push('\x1e');
            text.push_str(value);
        }
        // The resource's attributes: its service's name, then the others.
        let resource: Vec<(&str, String)> = SERVICES[record.service]
            .map(|name| ("service.name", name.to_owned()))
            .into_iter()
            .chain(record.resource.iter().map(|&(k, v)| (KEYS[k], v.text())))
            .collect();
        let has = |attributes: &[(&str, String)], term: &Term| {
            attributes.iter().any(|(key, value)| {
                *key == term.key
                    && match term.operator {
                        None => true,
                        Some('=') => *value == term.value,
                        Some(_) => value
                            .to_ascii_lowercase()
                            .contains(&term.value.to_ascii_lowercase()),
                    }
            })
        };
        let term_matches =
            |term: &Term| (has(&attributes, term) || has(&resource, term)) != term.negated;
        !self.invalid
            && (self.sessions.is_empty() || self.sessions.contains(&record.session))
            && (self.services.is_empty() || self.services.iter().any(|s| s == service))
            && SCOPES[record.scope].to_lowercase().contains(&self.scope)
            && self.trace_prefix.as_ref().is_none_or(|prefix| {
                record
                    .trace_id
                    .is_some_and(|id| format!("{id:032x}").starts_with(prefix.as_str()))
            })
            && record.time >= self.since
            && (self.from..self.to).contains(&record.time)
            && self.terms.iter().all(term_matches)
            && self
                .substring
                .as_ref()
                .is_none_or(|s| text.to_ascii_lowercase().contains(s.as_str()))
            && self.search.as_ref().is_none_or(|r| r.is_match(&text))
    }
}

/// What the filter looks at in a log record or a span.
struct Fields<'a> {
    session: u16,
    service: usize,
    scope: usize,
    trace_id: Option<u128>,
    /// A log's time; a span's start.
    time: u64,
    /// The message or span name.
    display: &'a str,
    attributes: &'a [(usize, AttributeValue)],
    resource: &'a [(usize, AttributeValue)],
}

/// What the trace list sorts and bounds by, per trace id, from every record of it.
#[derive(Debug, Default)]
struct TraceFacts {
    /// Its place among trace ids in order of first sight (a log's or a span's).
    seen: usize,
    start: u64,
    end: u64,
    spans: u64,
    errors: u64,
}

fn trace_facts(batches: &[Batch]) -> std::collections::HashMap<u128, TraceFacts> {
    let mut facts = std::collections::HashMap::new();
    let mut widen = |id: u128, start: u64, end: u64, span: Option<bool>| {
        let seen = facts.len();
        let fact = facts.entry(id).or_insert(TraceFacts {
            seen,
            start,
            end,
            ..TraceFacts::default()
        });
        fact.start = fact.start.min(start);
        fact.end = fact.end.max(end);
        if let Some(error) = span {
            fact.spans += 1;
            fact.errors += u64::from(error);
        }
    };
    // A block's logs enter the index before its spans.
    for batch in batches {
        for log in &batch.logs {
            let time = if log.time != 0 {
                log.time
            } else {
                log.observed
            };
            if let Some(t) = log.trace {
                widen(TRACE_IDS[t], time, time, None);
            }
        }
        for span in &batch.spans {
            let error = span.status == StatusCode::Error;
            widen(
                TRACE_IDS[span.trace],
                span.start,
                span.start + span.duration,
                Some(error),
            );
        }
    }
    facts
}

/// The record-by-record answer, from the generated records alone.
fn expected(batches: &[Batch], filter: &Filter, now: u64, sort: TraceSort) -> Picked {
    let model = Model::new(filter, now);
    let mut picked = Picked::default();
    let logs = batches
        .iter()
        .flat_map(|b| b.logs.iter().map(move |log| (b, log)));
    for (row, (batch, log)) in logs.enumerate() {
        let time = if log.time != 0 {
            log.time
        } else {
            log.observed
        };
        let trace_id = log.trace.map(|t| TRACE_IDS[t]);
        let message = message(&log.words);
        let fields = Fields {
            session: batch.session,
            service: log.service,
            scope: log.scope,
            trace_id,
            time,
            display: &message,
            attributes: &log.attributes,
            resource: &batch.resources[log.service],
        };
        if !model.passes(&fields) {
            continue;
        }
        let level = level(log.severity_number, SEVERITY_TEXTS[log.severity_text]);
        picked.level_counts[level] += 1;
        // A record without a level counts as INFO against the threshold.
        let effective = if level == 0 { 3 } else { level };
        if effective >= model.min_level {
            picked.rows.push(row as u32);
        }
    }
    let errors_only = model.min_level >= 5;
    let spans = batches
        .iter()
        .flat_map(|b| b.spans.iter().map(move |span| (b, span)));
    for (batch, span) in spans {
        let trace_id = TRACE_IDS[span.trace];
        let fields = Fields {
            session: batch.session,
            service: span.service,
            scope: span.scope,
            trace_id: Some(trace_id),
            time: span.start,
            display: WORDS[span.name],
            attributes: &span.attributes,
            resource: &batch.resources[span.service],
        };
        let passes = model.passes(&fields) && (!errors_only || span.status == StatusCode::Error);
        if passes && !picked.traces.contains(&trace_id) {
            picked.traces.push(trace_id);
        }
    }
    let facts = trace_facts(batches);
    let mut rows: Vec<(u64, usize, u128)> = picked
        .traces
        .iter()
        .enumerate()
        .filter_map(|(arrival, id)| {
            let fact = &facts[id];
            let duration = fact.end - fact.start;
            let key = match sort.key {
                SortKey::Start => fact.start,
                SortKey::Duration => duration,
                SortKey::Spans => fact.spans,
                SortKey::Errors => fact.errors,
                SortKey::Arrival => arrival as u64,
            };
            (!model.bad_durations && (model.min_duration..=model.max_duration).contains(&duration))
                .then_some((key, fact.seen, *id))
        })
        .collect();
    rows.sort_unstable();
    if sort.descending {
        rows.reverse();
    }
    picked.trace_rows = rows.into_iter().map(|(_, _, id)| id).collect();
    picked
}

fn filter() -> impl Strategy<Value = Filter> {
    let services = prop::sample::subsequence(vec!["api", "db", "unknown_service", "API"], 0..=2)
        .prop_map(|s| s.into_iter().map(str::to_owned).collect::<Vec<_>>());
    let sessions = prop_oneof![
        2 => Just(Vec::new()),
        1 => prop::sample::subsequence(vec![0u16, 1, 2], 1..=2),
    ];
    let scope = prop_oneof![
        3 => Just(""),
        1 => prop::sample::select(vec!["app", "HTTP", "::c", " db ", "ÜBER", "zzz"]),
    ]
    .prop_map(str::to_owned);
    // Words with a space, and the empty one, are quoted as a user writes them.
    let word = |w: usize| {
        if WORDS[w].is_empty() || WORDS[w].contains(' ') {
            format!("\"{}\"", WORDS[w])
        } else {
            WORDS[w].to_owned()
        }
    };
    let term = prop_oneof![
        4 => (0..KEYS.len(), 0..WORDS.len()).prop_map(move |(k, w)| format!("{}={}", KEYS[k], word(w))),
        1 => (0..KEYS.len(), 0..INTEGERS.len())
            .prop_map(|(k, i)| format!("{}={}", KEYS[k], INTEGERS[i])),
        2 => (
            0..KEYS.len(),
            prop::sample::select(vec!["", "ph", "gam", "A", "ärg", "Ärg", "2", "-", "\"a b\""])
        )
            .prop_map(|(k, text)| format!("{}~{text}", KEYS[k])),
        2 => (0..KEYS.len()).prop_map(|k| KEYS[k].to_owned()),
        1 => prop::sample::select(vec!["service.name=api", "service.name~D", "service.name"])
            .prop_map(str::to_owned),
        1 => Just("no-operator".to_owned()),
        // Malformed: each matches nothing.
        1 => prop::sample::select(vec!["=x", "-", "k=\"open", "~a"]).prop_map(str::to_owned),
    ];
    let term = (prop::bool::weighted(0.35), term).prop_map(|(negated, term)| {
        if negated { format!("-{term}") } else { term }
    });
    let attributes = prop_oneof![
        2 => Just(String::new()),
        1 => prop::collection::vec(term, 1..3).prop_map(|terms| terms.join(" ")),
    ];
    let trace_id = prop_oneof![
        3 => Just(String::new()),
        2 => (0..TRACE_IDS.len()).prop_map(|t| format!("{:032x}", TRACE_IDS[t])),
        1 => prop::sample::select(vec![
            " 9A900C20BC5B7A0FC6018FD768214DF9 ",
            "9a900c20",
            "9a900c20bc5b7a0f",
            "9a900c20bc5b7a0fc",
            "9a900c21",
            "00000000",
            "0000000077",
            "deadbeef",
            // Too short, not hex, too long: each matches nothing.
            "9a900c2",
            "9a900c2g",
            "9a900c20bc5b7a0fc6018fd768214df90",
        ])
        .prop_map(str::to_owned),
    ];
    let since = prop_oneof![
        2 => Just(None),
        1 => (0u64..150).prop_map(|window| Some(Since {
            window: Duration::from_nanos(window),
        })),
    ];
    // Absolute (RFC 3339) and before now; "soon" is no time.
    let moment = || {
        prop_oneof![
            3 => Just(String::new()),
            2 => (990u64..1_110).prop_map(|t| format!("1970-01-01T00:00:00.{t:09}Z")),
            1 => (0u64..300).prop_map(|ago| format!("-{ago}ns")),
            1 => Just("soon".to_owned()),
        ]
    };
    let duration = || {
        prop_oneof![
            3 => Just(String::new()),
            2 => (0u64..60).prop_map(|n| format!("{n}ns")),
            1 => (0u64..6).prop_map(|n| format!("0.0{n}us")),
            1 => Just("5".to_owned()),
        ]
    };
    let bounds = (moment(), moment(), duration(), duration());
    let search = prop_oneof![
        4 => Just((String::new(), false)),
        2 => prop::sample::select(vec![
            "alpha", "ALPHA", "ha b", "eta", "a", "k", "a.b", "42", "ärger", "(",
        ])
        .prop_map(|s| (s.to_owned(), false)),
        2 => prop::sample::select(vec![
            "^alpha", "beta$", "gam+a", "a.p", "ph|ELT", "^$", "x*", "^x$", r"a\sx", "(",
        ])
        .prop_map(|s| (s.to_owned(), true)),
    ];
    (
        prop::sample::select(Level::ALL.to_vec()),
        prop_oneof![2 => Just(Vec::new()), 1 => services],
        sessions,
        scope,
        attributes,
        trace_id,
        since,
        search,
        bounds,
    )
        .prop_map(
            |(
                min_level,
                services,
                sessions,
                scope,
                attributes,
                trace_id,
                since,
                (search, regex),
                (from, to, min_duration, max_duration),
            )| {
                Filter {
                    min_level,
                    services,
                    sessions,
                    scope,
                    attributes,
                    trace_id,
                    since,
                    search,
                    regex,
                    from,
                    to,
                    min_duration,
                    max_duration,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn filter_steps_agree_with_a_model_of_the_records(
        batches in prop::collection::vec(batch(), 1..12),
        filter in filter(),
        steps in prop::collection::vec(1usize..24, 1..6),
        newest_first in prop::option::of(0usize..8),
        entry_chunk_bits in 2u32..6,
        now in 900u64..1_200,
        sort_key in prop::sample::select(SortKey::ALL.to_vec()),
        descending in any::<bool>(),
    ) {
        let sort = TraceSort { key: sort_key, descending };
        let mut index = Index::with_chunks(256, entry_chunk_bits);
        let mut compiled = CompiledFilter::at(&filter, now);
        let mut logs = newest_first.map_or_else(LogMatches::default, LogMatches::newest_first);
        let mut spans = newest_first.map_or_else(SpanMatches::default, SpanMatches::newest_first);
        let mut order = TraceOrder::new(sort);
        let mut step = steps.iter().copied().cycle();
        for (number, batch) in batches.iter().enumerate() {
            let loc = BlockLoc { segment: 0, offset: number as u64, frame_bytes: 0 };
            index.add_prepared(&prepare_raw(&encode(batch)).unwrap(), loc, batch.session);
            // Records arrive while a pass is part way through.
            step_logs(&index, &mut compiled, &mut logs, step.next().unwrap());
            step_spans(&index, &mut compiled, &mut spans, step.next().unwrap());
            // Traces grow under the order: it places them again.
            order.update(&index, &spans, &compiled);
        }
        while !logs.is_complete(&index) {
            step_logs(&index, &mut compiled, &mut logs, step.next().unwrap());
        }
        while !spans.is_complete(&index) {
            step_spans(&index, &mut compiled, &mut spans, step.next().unwrap());
        }

        order.update(&index, &spans, &compiled);

        let want = expected(&batches, &filter, now, sort);
        let model = Model::new(&filter, now);
        prop_assert_eq!(compiled.error.is_some(), model.invalid, "{:?}", compiled.error);
        prop_assert_eq!(compiled.problem().is_some(), model.invalid || model.bad_durations);
        let rows: Vec<u32> = (0..logs.len()).filter_map(|r| logs.get(r)).collect();
        prop_assert_eq!(rows, want.rows);
        prop_assert_eq!(logs.level_counts, want.level_counts);
        let traces: Vec<u128> = spans.traces.iter().map(|&t| index.traces[t as usize].id).collect();
        prop_assert_eq!(traces, want.traces);
        for (place, &trace) in spans.traces.iter().enumerate() {
            prop_assert_eq!(spans.position(trace), Some(place));
        }
        let listed = (0..index.traces.len() as u32).filter(|&t| spans.position(t).is_some()).count();
        prop_assert_eq!(listed, spans.traces.len());
        let trace_rows: Vec<u128> = (0..order.len())
            .map(|row| index.traces[order.trace_at(row).unwrap() as usize].id)
            .collect();
        prop_assert_eq!(trace_rows, want.trace_rows);
        for row in 0..order.len() {
            prop_assert_eq!(order.row_of(order.trace_at(row).unwrap()), Some(row));
        }
        let placed = (0..index.traces.len() as u32).filter(|&t| order.row_of(t).is_some()).count();
        prop_assert_eq!(placed, order.len());
    }
}
