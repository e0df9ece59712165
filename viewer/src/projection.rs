//! The index and the shown tab's state projected into the rows a snapshot carries:
//! windows of log and trace rows, and the open trace's waterfall.

use std::sync::Arc;

use regex::bytes::Regex;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::critical_path::{PathSpan, span_times};
use crate::filter::highlights;
use crate::model::{Index, TraceId};
use crate::snapshot::{
    LogRow, RecordRef, Snapshot, SourceRef, TraceRow, TraceView, ViewKind, WaterfallSpan, Window,
};
use crate::tab::{Tab, Viewport};
use crate::trace_shape::{ShapeSpan, TraceShape};

/// Spans drawn in one waterfall at most: the waterfall draws only the rows it shows,
/// so this bounds the memory a trace's view takes, not the time of a frame.
const MAX_WATERFALL_SPANS: usize = 100_000;

/// Projects the index into snapshot rows; keeps the last waterfall, so that a trace
/// that has not changed is shared with the UI rather than rebuilt at every publish.
#[derive(Default)]
pub(crate) struct Projection {
    waterfall: Option<(WaterfallKey, Arc<TraceView>)>,
}

/// What a cached waterfall was built from; the search only changes its highlights.
#[derive(Clone, PartialEq, Eq)]
struct WaterfallKey {
    trace: TraceId,
    spans: usize,
    logs: usize,
    search: (String, bool),
    focus: Option<RecordRef>,
}

impl Projection {
    /// Fills in what the tab shows: its filter's state, windows of rows and open trace.
    pub fn fill_snapshot(&mut self, index: &Index, tab: &Tab, snapshot: &mut Snapshot) {
        let regex = tab.compiled.search();
        snapshot.filter_error = tab.compiled.problem().map(str::to_owned);
        snapshot.level_counts = tab.logs.level_counts;
        let logs = &tab.logs;
        snapshot.logs = window(tab.viewports[ViewKind::Logs as usize], logs.len(), |row| {
            logs.get(row).map(|log| log_row(index, log, regex))
        });
        snapshot.logs.progress = progress(logs.examined(), index.logs.len());
        snapshot.logs.selected = tab.viewports[ViewKind::Logs as usize]
            .selected
            .and_then(|selected| tab.locate(index, ViewKind::Logs, selected));
        snapshot.version = tab.version;
        let order = &tab.order;
        snapshot.traces = window(
            tab.viewports[ViewKind::Traces as usize],
            order.len(),
            |row| {
                order
                    .trace_at(row)
                    .map(|trace| trace_row(index, trace, regex))
            },
        );
        snapshot.trace_sort = order.sort();
        snapshot.traces.progress = progress(tab.spans.examined(), index.spans.len());
        // The trace order is kept up to date only while the trace list is shown (see
        // `Engine::snapshot`): a stale one says nothing of where a trace is.
        snapshot.traces.selected = tab.viewports[ViewKind::Traces as usize]
            .selected
            .filter(|_| tab.view == ViewKind::Traces)
            .and_then(|selected| tab.locate(index, ViewKind::Traces, selected));
        snapshot.histogram = Some(Arc::clone(tab.histograms[tab.view as usize].shown()));
        if let Some((trace, focus)) = tab.trace {
            snapshot.trace = self.waterfall(index, tab, trace, focus);
        }
    }

    /// The open trace's waterfall, rebuilt only when the trace, the search or the focus
    /// changed.
    fn waterfall(
        &mut self,
        index: &Index,
        tab: &Tab,
        trace: TraceId,
        focus: Option<RecordRef>,
    ) -> Option<Arc<TraceView>> {
        let entry = &index.traces[index.trace_by_id(trace)? as usize];
        let key = WaterfallKey {
            trace,
            spans: entry.spans.len(),
            logs: entry.logs.len(),
            search: (tab.filter.search.clone(), tab.filter.regex),
            focus,
        };
        if let Some((cached, view)) = &self.waterfall
            && *cached == key
        {
            return Some(Arc::clone(view));
        }
        let view = Arc::new(waterfall(index, trace, focus, tab.compiled.search()));
        self.waterfall = Some((key, Arc::clone(&view)));
        Some(view)
    }
}

/// The services seen, by their number in the index.
pub(crate) fn services(index: &Index) -> Vec<Arc<str>> {
    index
        .services
        .iter()
        .map(|&s| index.strings.get(s).clone())
        .collect()
}

fn log_row(index: &Index, log: u32, regex: Option<&Regex>) -> LogRow {
    let entry = &index.logs[log as usize];
    let message = index.log_text.display(entry.text).to_owned();
    let origin = index.origins.get(entry.origin);
    LogRow {
        index: log,
        time_unix_nano: entry.time,
        level: entry.level,
        service: index.strings.get(origin.service).clone(),
        scope: index.strings.get(origin.scope).clone(),
        highlights: highlights(regex, &message),
        message,
        trace_id: entry.trace_id.get(),
        span_id: entry.span_id,
        source: source(index, entry.source),
    }
}

pub(crate) fn trace_row(index: &Index, trace: u32, regex: Option<&Regex>) -> TraceRow {
    let trace = &index.traces[trace as usize];
    let root = index.trace_root(trace);
    let root_name = root
        .map(|s| index.span_text.display(s.text).to_owned())
        .unwrap_or_default();
    TraceRow {
        trace_id: trace.id,
        highlights: highlights(regex, &root_name),
        root_name,
        service: root
            .map(|s| {
                index
                    .strings
                    .get(index.origins.get(s.origin).service)
                    .clone()
            })
            .unwrap_or_else(|| index.strings.get(0).clone()),
        start_unix_nano: trace.start,
        duration_nano: trace.end.saturating_sub(trace.start),
        spans: trace.spans.len() as u32,
        errors: trace.errors,
    }
}

pub(crate) fn source(index: &Index, source: u32) -> Option<SourceRef> {
    let (file, line) = index.sources.get(source);
    (file != 0).then(|| SourceRef {
        file: index.strings.get(file).clone(),
        line,
    })
}

/// The spans of a trace in tree order, each with its logs.
pub(crate) fn waterfall(
    index: &Index,
    trace: TraceId,
    focus: Option<RecordRef>,
    regex: Option<&Regex>,
) -> TraceView {
    let entry = &index.traces[index.trace_by_id(trace).unwrap_or_default() as usize];
    let ids: FxHashSet<u64> = entry
        .spans
        .iter()
        .map(|&s| index.spans[s as usize].span_id)
        .collect();
    let mut children: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    let mut roots = Vec::new();
    for &s in &entry.spans {
        let span = &index.spans[s as usize];
        if span.parent_span_id != 0 && ids.contains(&span.parent_span_id) {
            children.entry(span.parent_span_id).or_default().push(s);
        } else {
            roots.push(s);
        }
    }
    let by_start = |list: &mut Vec<u32>| list.sort_by_key(|&s| index.spans[s as usize].start);
    by_start(&mut roots);
    children.values_mut().for_each(by_start);
    let mut logs_by_span: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    let mut orphan_logs = Vec::new();
    for &l in &entry.logs {
        let log = &index.logs[l as usize];
        if ids.contains(&log.span_id) {
            logs_by_span.entry(log.span_id).or_default().push(l);
        } else {
            orphan_logs.push(log_row(index, l, regex));
        }
    }

    let mut spans = Vec::new();
    // Each span with its depth and its parent's row.
    let mut stack: Vec<(u32, u16, Option<usize>)> =
        roots.iter().rev().map(|&s| (s, 0, None)).collect();
    let mut parents = Vec::new();
    let mut focus_row = None;
    while let Some((s, depth, parent)) = stack.pop() {
        if spans.len() == MAX_WATERFALL_SPANS {
            break;
        }
        let span = &index.spans[s as usize];
        let logs: Vec<LogRow> = logs_by_span
            .get(&span.span_id)
            .map(|logs| logs.iter().map(|&l| log_row(index, l, regex)).collect())
            .unwrap_or_default();
        let focused = match focus {
            Some(RecordRef::Span(f)) => f == s,
            Some(RecordRef::Log(l)) => logs.iter().any(|row| row.index == l),
            None => false,
        };
        if focused {
            focus_row = Some(spans.len());
        }
        let name = index.span_text.display(span.text).to_owned();
        let row = spans.len();
        parents.push(parent);
        spans.push(WaterfallSpan {
            index: s,
            depth,
            highlights: highlights(regex, &name),
            name,
            service: index
                .strings
                .get(index.origins.get(span.origin).service)
                .clone(),
            start_unix_nano: span.start,
            end_unix_nano: span.end,
            error: span.error,
            events: index.span_events[span.first_event as usize..][..usize::from(span.event_count)]
                .to_vec(),
            logs,
            source: source(index, span.source),
            self_nano: 0,
            critical: Vec::new(),
        });
        if let Some(kids) = children.get(&span.span_id) {
            stack.extend(
                kids.iter()
                    .rev()
                    .map(|&k| (k, depth.saturating_add(1), Some(row))),
            );
        }
    }
    add_span_times(&mut spans, &parents);
    let extents: Vec<ShapeSpan<'_>> = spans
        .iter()
        .map(|span| ShapeSpan {
            depth: span.depth,
            start_unix_nano: span.start_unix_nano,
            end_unix_nano: span.end_unix_nano,
            critical: &span.critical,
        })
        .collect();
    let shape = TraceShape::new(&extents, entry.start, entry.end);
    TraceView {
        trace_id: trace,
        start_unix_nano: entry.start,
        end_unix_nano: entry.end,
        spans_left_out: entry.spans.len().saturating_sub(MAX_WATERFALL_SPANS),
        spans,
        orphan_logs,
        focus: focus_row,
        shape,
    }
}

/// Fills in each span's self time and critical-path parts; `parents` holds each span's
/// parent row (spans whose parent never arrived are roots, as the waterfall shows them).
fn add_span_times(spans: &mut [WaterfallSpan], parents: &[Option<usize>]) {
    let path_spans: Vec<PathSpan> = spans
        .iter()
        .zip(parents)
        .map(|(span, &parent)| PathSpan {
            start_unix_nano: span.start_unix_nano,
            end_unix_nano: span.end_unix_nano,
            parent,
        })
        .collect();
    for (span, times) in spans.iter_mut().zip(span_times(&path_spans)) {
        span.self_nano = times.self_nano;
        span.critical = times.critical;
    }
}

/// Share of the records examined, while a filter is still being applied.
fn progress(scanned: usize, total: usize) -> Option<f32> {
    (scanned < total).then(|| scanned as f32 / total as f32)
}

/// The rows to publish for a viewport of `total` rows: what it shows plus a screen above
/// and below, so scrolling a screen at a time never waits for the backend.
fn window<T>(viewport: Viewport, total: usize, row: impl FnMut(usize) -> Option<T>) -> Window<T> {
    let (top, end) = window_range(viewport, total);
    Window {
        total,
        top,
        rows: (top..end).filter_map(row).collect(),
        progress: None,
        selected: None,
    }
}

fn window_range(viewport: Viewport, total: usize) -> (usize, usize) {
    let rows = viewport.rows.clamp(1, 500);
    let top = if viewport.follow {
        total.saturating_sub(rows)
    } else {
        viewport.top.min(total.saturating_sub(1))
    };
    let start = top.saturating_sub(rows);
    let end = (top + 2 * rows).min(total);
    (start, end)
}
