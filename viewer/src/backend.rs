//! The backend: one thread that owns the index, reads segments, applies the shown
//! tab's filter in steps and publishes what the UI draws through a triple buffer.
//!
//! ```text
//! segments ──▶ Library::poll ──▶ Index ──▶ step_logs / step_spans ──▶ Snapshot
//!                                   ▲                                   │ triple buffer
//!            UiEvent (bounded) ─────┘                                   ▼
//!                                                                   UI thread
//! ```
//! The UI never waits on this thread: it reads the latest snapshot and sends events
//! with `try_send`.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::connection::Connection;
use crate::editor::EditorOptions;
use crate::filter::{
    CompiledFilter, Filter, LogMatches, SpanMatches, highlights, step_logs, step_spans,
};
use crate::model::{Index, Level, TraceId};
use crate::snapshot::{
    Found, LogRow, RecordRef, Snapshot, SourceRef, Status, TabId, TraceRow, TraceView, UiEvent,
    ViewKind, WaterfallSpan, Window,
};
use crate::source::Library;

/// How often active segments are read.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How often the data directories are checked for new sessions and segments.
const DISCOVER_INTERVAL: Duration = Duration::from_millis(50);
/// How long one turn of the loop spends adding loaded blocks before it publishes.
const LOAD_SLICE: Duration = Duration::from_millis(40);
/// Records filtered per step: small enough to stay responsive to the next event.
const STEP_RECORDS: usize = 512 << 10;
/// Spans drawn in one waterfall at most.
const MAX_WATERFALL_SPANS: usize = 5_000;
/// Events the UI may queue before it has to retry.
pub const EVENT_QUEUE: usize = 256;

/// What the backend starts with.
#[derive(Debug, Clone)]
pub struct BackendOptions {
    pub paths: Vec<PathBuf>,
    pub editor: EditorOptions,
    /// For the status line: who collects into the viewed directory.
    pub collector: String,
}

/// Starts the backend thread; `repaint` wakes the UI after each publish.
pub fn spawn(
    options: BackendOptions,
    runtime: tokio::runtime::Handle,
    repaint: impl Fn() + Send + 'static,
) -> std::io::Result<Connection> {
    let (events, receiver) = mpsc::sync_channel(EVENT_QUEUE);
    let (input, output) = triple_buffer::triple_buffer(&Snapshot::default());
    std::thread::Builder::new()
        .name("oculus-backend".into())
        .spawn(move || {
            let mut engine = Engine::new(options, runtime);
            engine.run(&receiver, input, repaint);
        })?;
    Ok(Connection::new(events, output))
}

/// The filter state of one tab.
struct Tab {
    filter: Filter,
    compiled: CompiledFilter,
    logs: LogMatches,
    spans: SpanMatches,
    viewports: [Viewport; 2],
    /// The view shown: only its records are filtered, the other's when it is shown.
    view: ViewKind,
    trace: Option<(TraceId, Option<RecordRef>)>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Viewport {
    top: usize,
    rows: usize,
    follow: bool,
}

impl Tab {
    fn new(filter: Filter) -> Self {
        Self {
            compiled: CompiledFilter::new(&filter),
            filter,
            logs: LogMatches::default(),
            spans: SpanMatches::default(),
            viewports: [Viewport {
                follow: true,
                rows: 50,
                ..Viewport::default()
            }; 2],
            view: ViewKind::Logs,
            trace: None,
        }
    }

    fn set_filter(&mut self, filter: Filter) {
        if filter != self.filter {
            let viewports = self.viewports;
            let view = self.view;
            let trace = self.trace.take();
            *self = Self::new(filter);
            self.viewports = viewports;
            self.view = view;
            self.trace = trace;
        }
    }

    fn is_complete(&self, index: &Index) -> bool {
        match self.view {
            ViewKind::Logs => self.logs.scanned == index.logs.len(),
            ViewKind::Traces => self.spans.scanned == index.spans.len(),
        }
    }
}

/// The backend's whole state; lives on its own thread.
pub struct Engine {
    pub index: Index,
    library: Library,
    tabs: FxHashMap<TabId, Tab>,
    shown: TabId,
    detail: Option<crate::snapshot::Detail>,
    found: Option<Found>,
    opened: Vec<(PathBuf, Vec<u16>)>,
    damage: Vec<String>,
    notice: Option<String>,
    notices: (mpsc::Sender<String>, Receiver<String>),
    editor: EditorOptions,
    runtime: tokio::runtime::Handle,
    collector: String,
    rate: RateMeter,
    trace_cache: Option<(TraceKey, TraceView)>,
}

/// What a cached waterfall was built from; the search only changes its highlights.
#[derive(Clone, PartialEq, Eq)]
struct TraceKey {
    trace: TraceId,
    spans: usize,
    logs: usize,
    search: (String, bool),
    focus: Option<RecordRef>,
}

/// Records per second over the last few seconds.
#[derive(Default)]
struct RateMeter {
    samples: std::collections::VecDeque<(Instant, usize)>,
    last_growth: Option<Instant>,
}

impl RateMeter {
    fn record(&mut self, now: Instant, total: usize) {
        if self.samples.back().is_some_and(|&(_, last)| total > last) {
            self.last_growth = Some(now);
        }
        self.samples.push_back((now, total));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) > Duration::from_secs(3))
        {
            self.samples.pop_front();
        }
    }

    fn per_second(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, n0)), Some(&(t1, n1))) if t1 > t0 => {
                (n1 - n0) as f64 / t1.duration_since(t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    fn receiving(&self, now: Instant) -> bool {
        self.last_growth
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(2))
    }
}

impl Engine {
    pub fn new(options: BackendOptions, runtime: tokio::runtime::Handle) -> Self {
        let mut engine = Self {
            index: Index::default(),
            library: Library::default(),
            tabs: FxHashMap::default(),
            shown: 0,
            detail: None,
            found: None,
            opened: Vec::new(),
            damage: Vec::new(),
            notice: None,
            notices: mpsc::channel(),
            editor: options.editor,
            runtime,
            collector: options.collector,
            rate: RateMeter::default(),
            trace_cache: None,
        };
        for path in options.paths {
            engine.open(path);
        }
        engine
    }

    fn open(&mut self, path: PathBuf) {
        match self.library.open(&path) {
            Ok(sessions) => self.opened.push((path, sessions)),
            Err(error) => self.notice = Some(format!("cannot open {}: {error}", path.display())),
        }
    }

    fn run(
        &mut self,
        events: &Receiver<UiEvent>,
        mut output: triple_buffer::Input<Snapshot>,
        repaint: impl Fn(),
    ) {
        let mut last_poll = Instant::now() - POLL_INTERVAL;
        let mut last_discover = Instant::now() - DISCOVER_INTERVAL;
        let mut dirty = true;
        loop {
            let busy = self.has_work();
            let wait = if busy {
                Duration::ZERO
            } else {
                POLL_INTERVAL.saturating_sub(last_poll.elapsed())
            };
            match events.recv_timeout(wait) {
                Ok(event) => {
                    self.handle(event);
                    while let Ok(event) = events.try_recv() {
                        self.handle(event);
                    }
                    dirty = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(notice) = self.notices.1.try_recv() {
                self.notice = Some(notice);
                dirty = true;
            }
            let now = Instant::now();
            if now.duration_since(last_discover) >= DISCOVER_INTERVAL {
                last_discover = now;
                self.discover();
            }
            // While sealed segments load, every turn of the loop takes a slice.
            if now.duration_since(last_poll) >= POLL_INTERVAL || self.library.loading().is_some() {
                last_poll = now;
                dirty |= self.read_new(LOAD_SLICE);
                if self.library.loading().is_some() {
                    // Stored records are not arriving: the rate starts after the load.
                    self.rate = RateMeter::default();
                } else {
                    self.rate
                        .record(now, self.index.logs.len() + self.index.spans.len());
                }
            }
            if self.has_work() {
                self.step();
                dirty = true;
            }
            if dirty {
                output.write(self.snapshot());
                repaint();
                dirty = false;
            }
        }
    }

    /// Looks for new sessions and segments, then reads what is new; returns whether
    /// anything was.
    pub fn poll(&mut self) -> bool {
        self.discover();
        let report = self.library.poll(&mut self.index);
        self.take_report(report)
    }

    fn discover(&mut self) {
        if let Err(error) = self.library.discover() {
            self.report_damage(error.to_string());
        }
    }

    fn read_new(&mut self, budget: Duration) -> bool {
        let report = self.library.poll_for(&mut self.index, budget);
        self.take_report(report)
    }

    fn take_report(&mut self, report: crate::source::PollReport) -> bool {
        for damage in report.damage {
            self.report_damage(damage);
        }
        report.blocks > 0
    }

    fn report_damage(&mut self, damage: String) {
        tracing::warn!(%damage, "damaged data");
        self.damage.push(damage);
        if self.damage.len() > 20 {
            self.damage.remove(0);
        }
    }

    fn has_work(&self) -> bool {
        self.library.loading().is_some()
            || self
                .tabs
                .get(&self.shown)
                .is_some_and(|tab| !tab.is_complete(&self.index))
    }

    /// Advances the shown tab's filter by one step.
    pub fn step(&mut self) {
        let Some(tab) = self.tabs.get_mut(&self.shown) else {
            return;
        };
        match tab.view {
            ViewKind::Logs => {
                step_logs(&self.index, &mut tab.compiled, &mut tab.logs, STEP_RECORDS);
            }
            ViewKind::Traces => {
                step_spans(&self.index, &mut tab.compiled, &mut tab.spans, STEP_RECORDS);
            }
        }
    }

    /// Runs the shown tab's filter, for the view it shows, to the end.
    pub fn finish(&mut self) {
        while self.has_work() {
            self.step();
        }
    }

    pub fn handle(&mut self, event: UiEvent) {
        match event {
            UiEvent::ShowTab { tab, filter } => {
                self.shown = tab;
                match self.tabs.get_mut(&tab) {
                    Some(state) => state.set_filter(filter),
                    None => {
                        self.tabs.insert(tab, Tab::new(filter));
                    }
                }
            }
            UiEvent::CloseTab(tab) => {
                self.tabs.remove(&tab);
            }
            UiEvent::Viewport {
                tab,
                view,
                top,
                rows,
                follow,
            } => {
                if let Some(state) = self.tabs.get_mut(&tab) {
                    state.viewports[view as usize] = Viewport { top, rows, follow };
                    state.view = view;
                }
            }
            UiEvent::OpenTrace { tab, trace, focus } => {
                if let Some(state) = self.tabs.get_mut(&tab) {
                    state.trace = Some((trace, focus));
                }
            }
            UiEvent::CloseTrace { tab } => {
                if let Some(state) = self.tabs.get_mut(&tab) {
                    state.trace = None;
                }
            }
            UiEvent::Select(record) => self.select(record),
            UiEvent::Find {
                tab,
                view,
                from,
                forward,
                errors_only,
                request,
            } => {
                let row = self.find(tab, view, from, forward, errors_only);
                self.found = Some(Found { request, row });
            }
            UiEvent::JumpToSource(source) => self.jump(source),
            UiEvent::OpenPath(path) => self.open(path),
        }
    }

    fn select(&mut self, record: Option<RecordRef>) {
        let Some(record) = record else {
            self.detail = None;
            return;
        };
        let loc = match record {
            RecordRef::Log(i) => self.index.logs.get(i as usize).map(|l| l.loc),
            RecordRef::Span(i) => self.index.spans.get(i as usize).map(|s| s.loc),
        };
        let Some(loc) = loc else { return };
        let block_loc = self.index.blocks[loc.block as usize];
        match self.library.read_block(block_loc) {
            Ok(block) => {
                self.detail = crate::detail::build(&block, record, loc.index as usize);
            }
            Err(error) => {
                self.notice = Some(format!("cannot read the record: {error}"));
            }
        }
    }

    fn find(
        &self,
        tab: TabId,
        view: ViewKind,
        from: Option<usize>,
        forward: bool,
        errors_only: bool,
    ) -> Option<usize> {
        let tab = self.tabs.get(&tab)?;
        let is_hit = |row: usize| -> bool {
            match view {
                ViewKind::Logs => tab.logs.rows.get(row).is_some_and(|i| {
                    !errors_only || self.index.logs[i as usize].level >= Level::Error
                }),
                ViewKind::Traces => {
                    let traces = &tab.spans.traces;
                    traces
                        .len()
                        .checked_sub(row + 1)
                        .and_then(|i| traces.get(i))
                        .is_some_and(|&t| !errors_only || self.index.traces[t as usize].errors > 0)
                }
            }
        };
        let total = match view {
            ViewKind::Logs => tab.logs.rows.len(),
            ViewKind::Traces => tab.spans.traces.len(),
        };
        if forward {
            let start = from.map_or(0, |row| row.saturating_add(1));
            (start..total).find(|&r| is_hit(r))
        } else {
            let end = from.map_or(total, |row| row.min(total));
            (0..end).rev().find(|&r| is_hit(r))
        }
    }

    fn jump(&mut self, source: SourceRef) {
        let options = self.editor.clone();
        let notices = self.notices.0.clone();
        self.runtime.spawn(async move {
            let message = match crate::editor::jump(&options, &source).await {
                Ok(path) => format!("opened {}:{} in Neovim", path.display(), source.line),
                Err(error) => error.to_string(),
            };
            let _ = notices.send(message);
        });
    }

    fn log_row(&self, index: u32, regex: Option<&regex::bytes::Regex>) -> LogRow {
        let log = &self.index.logs[index as usize];
        let message = self.index.log_text.display(log.text).to_owned();
        LogRow {
            index,
            time_unix_nano: log.time,
            level: log.level,
            service: self
                .index
                .strings
                .get(self.index.origins.get(log.origin).service)
                .clone(),
            scope: self
                .index
                .strings
                .get(self.index.origins.get(log.origin).scope)
                .clone(),
            highlights: highlights(regex, &message),
            message,
            trace_id: log.trace_id.get(),
            span_id: log.span_id,
            source: self.source(log.source),
        }
    }

    fn source(&self, source: u32) -> Option<SourceRef> {
        let (file, line) = self.index.sources.get(source);
        (file != 0).then(|| SourceRef {
            file: self.index.strings.get(file).clone(),
            line,
        })
    }

    /// What the UI draws now.
    pub fn snapshot(&mut self) -> Snapshot {
        let now = Instant::now();
        let status = Status {
            logs: self.index.logs.len(),
            spans: self.index.spans.len(),
            traces: self.index.traces.len(),
            metric_points: self.index.metric_points,
            records_per_second: self.rate.per_second(),
            receiving: self.rate.receiving(now),
            collector: self.collector.clone(),
            loading: self.library.loading(),
            damage: self.damage.clone(),
            notice: self.notice.clone(),
        };
        let mut snapshot = Snapshot {
            tab: self.shown,
            services: self
                .index
                .services
                .iter()
                .map(|&s| self.index.strings.get(s).clone())
                .collect(),
            sessions: self
                .library
                .sessions
                .iter()
                .map(|s| s.name.clone())
                .collect(),
            opened: self.opened.clone(),
            detail: self.detail.clone(),
            found: self.found,
            status,
            ..Snapshot::default()
        };
        let Some(tab) = self.tabs.get(&self.shown) else {
            return snapshot;
        };
        let regex = tab.compiled.search();
        snapshot.filter_error = tab.compiled.error.clone();
        snapshot.level_counts = tab.logs.level_counts;

        let logs_progress = progress(tab.logs.scanned, self.index.logs.len());
        let viewport = tab.viewports[ViewKind::Logs as usize];
        let (top, end) = window(viewport, tab.logs.rows.len());
        snapshot.logs = Window {
            total: tab.logs.rows.len(),
            top,
            rows: (top..end)
                .filter_map(|row| tab.logs.rows.get(row))
                .map(|i| self.log_row(i, regex))
                .collect(),
            progress: logs_progress,
        };

        let traces = &tab.spans.traces;
        let viewport = tab.viewports[ViewKind::Traces as usize];
        let (top, end) = window(viewport, traces.len());
        snapshot.traces = Window {
            total: traces.len(),
            top,
            // Newest first.
            rows: (top..end)
                .map(|row| {
                    let trace = &self.index.traces[traces[traces.len() - 1 - row] as usize];
                    let root = self.index.trace_root(trace);
                    let root_name = root
                        .map(|s| self.index.span_text.display(s.text).to_owned())
                        .unwrap_or_default();
                    TraceRow {
                        trace_id: trace.id,
                        highlights: highlights(regex, &root_name),
                        root_name,
                        service: root
                            .map(|s| {
                                self.index
                                    .strings
                                    .get(self.index.origins.get(s.origin).service)
                                    .clone()
                            })
                            .unwrap_or_else(|| self.index.strings.get(0).clone()),
                        start_unix_nano: trace.start,
                        duration_nano: trace.end.saturating_sub(trace.start),
                        spans: trace.spans.len() as u32,
                        errors: trace.errors,
                    }
                })
                .collect(),
            progress: progress(tab.spans.scanned, self.index.spans.len()),
        };

        if let Some((trace, focus)) = tab.trace {
            let key = self.index.trace_by_id(trace).map(|t| {
                let entry = &self.index.traces[t as usize];
                TraceKey {
                    trace,
                    spans: entry.spans.len(),
                    logs: entry.logs.len(),
                    search: (tab.filter.search.clone(), tab.filter.regex),
                    focus,
                }
            });
            snapshot.trace = match (&self.trace_cache, key) {
                (Some((cached, view)), Some(key)) if *cached == key => Some(view.clone()),
                (_, Some(key)) => {
                    let view = self.waterfall(trace, focus, regex);
                    self.trace_cache = Some((key, view.clone()));
                    Some(view)
                }
                (_, None) => None,
            };
        }
        snapshot
    }

    /// The spans of a trace in tree order, each with its logs.
    fn waterfall(
        &self,
        trace: TraceId,
        focus: Option<RecordRef>,
        regex: Option<&regex::bytes::Regex>,
    ) -> TraceView {
        let index = &self.index;
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
                orphan_logs.push(self.log_row(l, regex));
            }
        }

        let mut spans = Vec::new();
        let mut stack: Vec<(u32, u16)> = roots.iter().rev().map(|&s| (s, 0)).collect();
        let mut focus_row = None;
        while let Some((s, depth)) = stack.pop() {
            if spans.len() == MAX_WATERFALL_SPANS {
                break;
            }
            let span = &index.spans[s as usize];
            let logs: Vec<LogRow> = logs_by_span
                .get(&span.span_id)
                .map(|logs| logs.iter().map(|&l| self.log_row(l, regex)).collect())
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
                events: index.span_events[span.first_event as usize..]
                    [..usize::from(span.event_count)]
                    .to_vec(),
                logs,
                source: self.source(span.source),
            });
            if let Some(kids) = children.get(&span.span_id) {
                stack.extend(kids.iter().rev().map(|&k| (k, depth.saturating_add(1))));
            }
        }
        TraceView {
            trace_id: trace,
            start_unix_nano: entry.start,
            end_unix_nano: entry.end,
            spans_left_out: entry.spans.len().saturating_sub(MAX_WATERFALL_SPANS),
            spans,
            orphan_logs,
            focus: focus_row,
        }
    }
}

fn progress(scanned: usize, total: usize) -> Option<f32> {
    (scanned < total).then(|| scanned as f32 / total as f32)
}

/// The rows to publish for a viewport: what it shows plus a screen above and below,
/// so scrolling a screen at a time never waits for the backend.
fn window(viewport: Viewport, total: usize) -> (usize, usize) {
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
