//! The operations table, on the backend: per (service, span name) among the spans that
//! pass a tab's filter, their count, errors and duration percentiles, computed in steps
//! like a filter and kept up to date as spans arrive.
//!
//! Percentiles are exact, by nearest rank (see [`Durations::percentile`]). A span
//! passes as it does in the trace list (`filter::pass_span_range`); a trace's duration
//! bounds are not a span's and do not narrow the table.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::compare::{Comparison, SpanAt, compare};
use crate::durations::Durations;
use crate::filter::{CompiledFilter, Filter, pass_span_range};
use crate::model::Index;
pub use crate::operation::{OperationKey, OperationRow};
use crate::projection::trace_row;
use crate::snapshot::TabId;
pub use crate::snapshot::operations_view::{
    OperationColumn, OperationDetail, OperationPoint, OperationSort, OperationTrace,
    OperationsRequest, OperationsView,
};

/// How long one step should take: the user's next event waits for at most one.
const STEP_TIME: Duration = Duration::from_millis(8);
/// Spans a step examines: as many as `STEP_TIME` allows, within these.
const STEP_SPANS: std::ops::RangeInclusive<usize> = (8 << 10)..=(512 << 10);
/// While spans arrive, the table is published at most this often.
const PUBLISH_INTERVAL: Duration = Duration::from_millis(250);
/// The slowest spans kept per operation, whose traces its trace list shows.
const SLOWEST_KEPT: usize = 100;
/// Points of an operation's scatter: a sample evenly spread over its spans.
const SAMPLE_POINTS: usize = 1_000;

/// One operation's figures as spans are added.
#[derive(Debug)]
struct OperationState {
    service: u32,
    name: Arc<str>,
    errors: u64,
    durations: Durations,
    /// The slowest spans, (duration, span), the fastest of them on top.
    slowest: BinaryHeap<Reverse<(u64, u32)>>,
    /// Every `sample_stride`th span, for the scatter.
    sample: Vec<u32>,
    sample_stride: u64,
}

impl OperationState {
    fn add(&mut self, span: u32, duration_nano: u64, error: bool) {
        let seen = self.durations.len() as u64;
        self.durations.push(duration_nano);
        self.errors += u64::from(error);
        if self.slowest.len() < SLOWEST_KEPT {
            self.slowest.push(Reverse((duration_nano, span)));
        } else if self
            .slowest
            .peek()
            .is_some_and(|Reverse((fastest, _))| duration_nano > *fastest)
        {
            self.slowest.pop();
            self.slowest.push(Reverse((duration_nano, span)));
        }
        if seen.is_multiple_of(self.sample_stride) {
            self.sample.push(span);
            if self.sample.len() >= 2 * SAMPLE_POINTS {
                // Every other one, and half as many from now on.
                let mut keep = false;
                self.sample.retain(|_| {
                    keep = !keep;
                    keep
                });
                self.sample_stride *= 2;
            }
        }
    }

    fn row(&self, index: &Index) -> OperationRow {
        let percentile = |p| self.durations.percentile(p).unwrap_or(0);
        OperationRow {
            key: OperationKey {
                service: index.strings.get(self.service).clone(),
                name: Arc::clone(&self.name),
            },
            count: self.durations.len() as u64,
            errors: self.errors,
            p50_nano: percentile(50),
            p95_nano: percentile(95),
            p99_nano: percentile(99),
            max_nano: self.durations.max(),
        }
    }

    fn detail(&self, index: &Index, key: OperationKey) -> OperationDetail {
        let mut slowest: Vec<(u64, u32)> = self.slowest.iter().map(|Reverse(s)| *s).collect();
        slowest.sort_unstable_by(|a, b| b.cmp(a));
        let mut listed = rustc_hash::FxHashSet::default();
        let traces = slowest
            .iter()
            .filter_map(|&(duration, span)| {
                let trace = index.spans.get(span as usize)?.trace;
                listed.insert(trace).then(|| OperationTrace {
                    trace: trace_row(index, trace, None),
                    span,
                    span_duration_nano: duration,
                })
            })
            .collect();
        let point = |span: u32| {
            let entry = index.spans.get(span as usize)?;
            Some(OperationPoint {
                start_unix_nano: entry.start,
                duration_nano: entry.end.saturating_sub(entry.start),
                trace_id: entry.trace_id.get(),
                span,
                error: entry.error,
            })
        };
        let mut spans: Vec<u32> = self.sample.clone();
        spans.extend(slowest.iter().map(|&(_, span)| span));
        spans.sort_unstable();
        spans.dedup();
        OperationDetail {
            key,
            traces,
            points: spans.into_iter().filter_map(point).collect(),
        }
    }
}

/// The operations of the spans that pass one filter, computed in steps.
pub(crate) struct OperationsTable {
    filter: Filter,
    compiled: CompiledFilter,
    /// Spans `0..scanned` were examined.
    scanned: usize,
    /// By service, then span name: the operation's place in `operations`.
    by_name: FxHashMap<u32, FxHashMap<Box<str>, u32>>,
    operations: Vec<OperationState>,
    /// Spans counted.
    spans: u64,
    step_spans: usize,
}

impl OperationsTable {
    pub fn new(filter: Filter, now_unix_nano: u64) -> Self {
        Self {
            compiled: CompiledFilter::at(&filter, now_unix_nano),
            filter,
            scanned: 0,
            by_name: FxHashMap::default(),
            operations: Vec::new(),
            spans: 0,
            step_spans: 64 << 10,
        }
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    pub fn is_complete(&self, index: &Index) -> bool {
        self.scanned >= index.spans.len()
    }

    /// Share of the index's spans examined, while some are not.
    pub fn progress(&self, index: &Index) -> Option<f32> {
        let total = index.spans.len();
        (self.scanned < total).then(|| self.scanned as f32 / total as f32)
    }

    /// Examines the next spans, as many as a step's time allows; returns whether any
    /// was counted.
    pub fn step(&mut self, index: &Index) -> bool {
        let started = Instant::now();
        let range = self.scanned..(self.scanned + self.step_spans).min(index.spans.len());
        self.scanned = range.end;
        let before = self.spans;
        let Self {
            compiled,
            by_name,
            operations,
            spans,
            ..
        } = self;
        pass_span_range(index, compiled, range, |span, _trace| {
            let Some(entry) = index.spans.get(span as usize) else {
                return;
            };
            let service = index.origins.get(entry.origin).service;
            let name = index.span_text.display(entry.text);
            let names = by_name.entry(service).or_default();
            let at = match names.get(name) {
                Some(&at) => at,
                None => {
                    let at = operations.len() as u32;
                    names.insert(name.into(), at);
                    operations.push(OperationState {
                        service,
                        name: name.into(),
                        errors: 0,
                        durations: Durations::default(),
                        slowest: BinaryHeap::new(),
                        sample: Vec::new(),
                        sample_stride: 1,
                    });
                    at
                }
            };
            if let Some(operation) = operations.get_mut(at as usize) {
                operation.add(span, entry.end.saturating_sub(entry.start), entry.error);
                *spans += 1;
            }
        });
        for operation in &mut self.operations {
            operation.durations.seal();
        }
        self.tune(started.elapsed());
        self.spans != before
    }

    /// Halves the next step after one that took too long; doubles it after one that
    /// took less than half the time.
    fn tune(&mut self, elapsed: Duration) {
        let spans = if elapsed > STEP_TIME {
            self.step_spans / 2
        } else if elapsed < STEP_TIME / 2 {
            self.step_spans * 2
        } else {
            self.step_spans
        };
        self.step_spans = spans.clamp(*STEP_SPANS.start(), *STEP_SPANS.end());
    }

    /// Every operation's row, in no particular order.
    pub fn rows(&self, index: &Index) -> Vec<OperationRow> {
        self.operations.iter().map(|op| op.row(index)).collect()
    }

    fn find(&self, index: &Index, key: &OperationKey) -> Option<&OperationState> {
        self.operations
            .iter()
            .find(|op| op.name == key.name && **index.strings.get(op.service) == *key.service)
    }

    /// The operation's slowest span, with its trace.
    fn slowest(&self, index: &Index, key: &OperationKey) -> Option<SpanAt> {
        let Reverse((_, span)) = self.find(index, key)?.slowest.iter().max_by_key(|s| s.0)?;
        let entry = index.spans.get(*span as usize)?;
        Some((entry.trace_id.get(), *span))
    }

    /// Runs the table to the end.
    #[cfg(test)]
    fn finish(&mut self, index: &Index) {
        while !self.is_complete(index) {
            self.step(index);
        }
    }
}

/// Sorts rows by `sort`; ties by service and name, so the order is stable.
pub fn sort_rows(rows: &mut [OperationRow], sort: OperationSort) {
    rows.sort_by(|a, b| {
        let by_column = match sort.column {
            OperationColumn::Service => a.key.service.cmp(&b.key.service),
            OperationColumn::Name => a.key.name.cmp(&b.key.name),
            OperationColumn::Count => a.count.cmp(&b.count),
            OperationColumn::Errors => a.errors.cmp(&b.errors),
            OperationColumn::ErrorRate => a.error_rate().total_cmp(&b.error_rate()),
            OperationColumn::P50 => a.p50_nano.cmp(&b.p50_nano),
            OperationColumn::P95 => a.p95_nano.cmp(&b.p95_nano),
            OperationColumn::P99 => a.p99_nano.cmp(&b.p99_nano),
            OperationColumn::Max => a.max_nano.cmp(&b.max_nano),
        };
        let by_column = if sort.descending {
            by_column.reverse()
        } else {
            by_column
        };
        by_column.then_with(|| a.key.cmp(&b.key))
    });
}

/// The operations view of the shown tab: its table, kept up to date while shown, and
/// what was last published of it.
pub(crate) struct Operations {
    request: OperationsRequest,
    table: Option<OperationsTable>,
    /// The other tab's table, when the user compares with it.
    baseline: Option<OperationsTable>,
    published: Option<Arc<OperationsView>>,
    published_at: Option<Instant>,
    /// The table changed since it was published.
    changed: bool,
    /// The request changed: publish at once.
    asked: bool,
}

impl Operations {
    pub fn new(request: OperationsRequest) -> Self {
        Self {
            request,
            table: None,
            baseline: None,
            published: None,
            published_at: None,
            changed: true,
            asked: true,
        }
    }

    pub fn tab(&self) -> TabId {
        self.request.tab
    }

    pub fn set_request(&mut self, request: OperationsRequest) {
        if request != self.request {
            if request.tab != self.request.tab {
                self.table = None;
            }
            if request.compare != self.request.compare {
                self.baseline = None;
            }
            self.request = request;
            self.asked = true;
        }
    }

    /// Starts the table over for the tab's filter, if it changed.
    pub fn follow_filter(&mut self, filter: &Filter, now_unix_nano: u64) {
        if self.table.as_ref().is_none_or(|t| t.filter() != filter) {
            self.table = Some(OperationsTable::new(filter.clone(), now_unix_nano));
            self.changed = true;
            self.asked = true;
        }
        if let Some(compare) = &self.request.compare
            && self.baseline.is_none()
        {
            let filter = (*compare.filter).clone();
            self.baseline = Some(OperationsTable::new(filter, now_unix_nano));
            self.changed = true;
        }
    }

    pub fn has_work(&self, index: &Index) -> bool {
        [&self.table, &self.baseline]
            .into_iter()
            .flatten()
            .any(|t| !t.is_complete(index))
    }

    /// A step of the shown tab's table, else of the baseline's.
    pub fn step(&mut self, index: &Index) {
        let next = [&mut self.table, &mut self.baseline]
            .into_iter()
            .flatten()
            .find(|t| !t.is_complete(index));
        if let Some(table) = next {
            self.changed |= table.step(index);
        }
    }

    /// What the UI draws: rebuilt when the request changed, when the table is
    /// complete, or while it changes at most every `PUBLISH_INTERVAL`.
    pub fn publish(&mut self, index: &Index) -> Option<Arc<OperationsView>> {
        let table = self.table.as_ref()?;
        let complete = !self.has_work(index);
        let due = self
            .published_at
            .is_none_or(|at| at.elapsed() >= PUBLISH_INTERVAL);
        let rebuild = self.asked || (self.changed && (due || complete));
        if rebuild || self.published.is_none() {
            self.published = Some(Arc::new(self.view(index, table)));
            self.published_at = Some(Instant::now());
            self.asked = false;
            self.changed = false;
        }
        self.published.clone()
    }

    fn view(&self, index: &Index, table: &OperationsTable) -> OperationsView {
        let mut rows = table.rows(index);
        sort_rows(&mut rows, self.request.sort);
        let detail = self.request.selected.as_ref().and_then(|key| {
            let operation = table.find(index, key)?;
            Some(operation.detail(index, key.clone()))
        });
        let comparison = self
            .request
            .compare
            .as_ref()
            .zip(self.baseline.as_ref())
            .map(|(request, baseline)| {
                let tables = [table, baseline];
                Comparison {
                    baseline_tab: request.tab,
                    rows: compare(table.rows(index), baseline.rows(index), |side, key| {
                        tables.get(side)?.slowest(index, key)
                    }),
                    progress: baseline.progress(index),
                }
            });
        OperationsView {
            tab: self.request.tab,
            sort: self.request.sort,
            rows,
            spans: table.spans,
            progress: table.progress(index),
            detail,
            comparison,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BlockLoc, PreparedBlock, PreparedRecord, PreparedScope};

    /// An index of one block of spans `(service, name, start, end, error, trace)`.
    fn index(spans: &[(&str, &str, u64, u64, bool, u128)]) -> Index {
        let mut services: Vec<&str> = spans.iter().map(|s| s.0).collect();
        services.dedup();
        let mut text = Vec::new();
        let records = spans
            .iter()
            .enumerate()
            .map(|(i, &(service, name, start, end, error, trace_id))| {
                text.extend_from_slice(name.as_bytes());
                PreparedRecord {
                    time: start,
                    end,
                    trace_id,
                    span_id: i as u64 + 1,
                    scope: services.iter().position(|s| *s == service).unwrap_or(0) as u32,
                    text_end: text.len() as u32,
                    display_len: name.len() as u32,
                    error,
                    ..PreparedRecord::default()
                }
            })
            .collect();
        let block = PreparedBlock {
            strings: vec![String::new()],
            scopes: services
                .iter()
                .map(|s| PreparedScope {
                    service: (*s).to_owned(),
                    ..PreparedScope::default()
                })
                .collect(),
            spans: records,
            span_text: text,
            ..PreparedBlock::default()
        };
        let mut index = Index::default();
        let loc = BlockLoc {
            segment: 0,
            offset: 0,
            frame_bytes: 0,
        };
        index.add_prepared(&block, loc, 0);
        index
    }

    fn row(service: &str, name: &str, counts: (u64, u64), p: [u64; 4]) -> OperationRow {
        OperationRow {
            key: OperationKey {
                service: service.into(),
                name: name.into(),
            },
            count: counts.0,
            errors: counts.1,
            p50_nano: p[0],
            p95_nano: p[1],
            p99_nano: p[2],
            max_nano: p[3],
        }
    }

    #[track_caller]
    fn check(
        filter: Filter,
        spans: &[(&str, &str, u64, u64, bool, u128)],
        expected: &[OperationRow],
    ) {
        let index = index(spans);
        let mut table = OperationsTable::new(filter, 0);
        table.step_spans = 1;
        table.finish(&index);
        let mut rows = table.rows(&index);
        sort_rows(
            &mut rows,
            OperationSort {
                column: OperationColumn::Name,
                descending: false,
            },
        );
        assert_eq!(rows, expected);
    }

    #[test]
    fn operations_count_errors_and_percentiles_by_service_and_name() {
        let spans = [
            ("api", "GET", 0, 10, false, 1),
            ("api", "GET", 0, 30, true, 2),
            ("api", "GET", 0, 20, false, 3),
            ("api", "POST", 5, 6, true, 3),
            ("db", "GET", 0, 7, false, 3),
        ];
        check(
            Filter::default(),
            &spans,
            &[
                row("api", "GET", (3, 1), [20, 30, 30, 30]),
                row("db", "GET", (1, 0), [7; 4]),
                // One span: every percentile is its duration.
                row("api", "POST", (1, 1), [1; 4]),
            ],
        );
        // Only the spans that pass count: the search keeps POST's.
        let search = Filter {
            search: "POS".to_owned(),
            ..Filter::default()
        };
        check(search, &spans, &[row("api", "POST", (1, 1), [1; 4])]);
    }

    #[test]
    fn a_sort_orders_by_its_column_either_way_and_ties_by_name() {
        let mut rows = vec![
            row("a", "x", (5, 0), [3, 9, 9, 9]),
            row("a", "y", (5, 1), [1, 2, 2, 2]),
            row("b", "z", (1, 0), [8, 8, 8, 8]),
        ];
        let names = |rows: &[OperationRow]| -> Vec<String> {
            rows.iter().map(|r| r.key.name.to_string()).collect()
        };
        for (column, descending, expected) in [
            (OperationColumn::Count, true, ["x", "y", "z"]),
            (OperationColumn::Count, false, ["z", "x", "y"]),
            (OperationColumn::P50, true, ["z", "x", "y"]),
            (OperationColumn::ErrorRate, true, ["y", "x", "z"]),
            (OperationColumn::Name, true, ["z", "y", "x"]),
        ] {
            sort_rows(&mut rows, OperationSort { column, descending });
            assert_eq!(names(&rows), expected, "{column:?} {descending}");
        }
    }

    #[test]
    fn the_detail_lists_each_trace_once_slowest_first() {
        let spans = [
            ("api", "GET", 0, 10, false, 1),
            ("api", "GET", 0, 50, false, 2),
            ("api", "GET", 0, 40, false, 1),
            ("api", "GET", 0, 20, false, 3),
        ];
        let index = index(&spans);
        let mut table = OperationsTable::new(Filter::default(), 0);
        table.finish(&index);
        let key = OperationKey {
            service: "api".into(),
            name: "GET".into(),
        };
        let detail = table
            .find(&index, &key)
            .map(|op| op.detail(&index, key.clone()));
        let traces: Vec<(u128, u64)> = detail
            .iter()
            .flat_map(|d| &d.traces)
            .map(|t| (t.trace.trace_id, t.span_duration_nano))
            .collect();
        assert_eq!(traces, [(2, 50), (1, 40), (3, 20)]);
        assert_eq!(detail.map(|d| d.points.len()), Some(4));
    }
}
