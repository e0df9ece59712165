//! The backend's loop: one thread that owns the index, reads segments, applies the
//! shown tab's filter in steps and publishes what the UI draws through a triple buffer.
//!
//! ```text
//! segments ──▶ Library::poll ──▶ Index ──▶ step_logs / step_spans ──▶ Snapshot
//!                                   ▲                                   │ triple buffer
//!            UiEvent (bounded) ─────┘                                   ▼
//!                                                                   UI thread
//! ```
//! The UI never waits on this thread: it reads the latest snapshot and sends events
//! with `try_send`. What a snapshot holds is built by `projection`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::arrivals::{Arrivals, DirWatcher};
use crate::connection::Connection;
use crate::editor::EditorOptions;
use crate::filter::SLIDE_INTERVAL;
use crate::metric_projection::MetricProjection;
use crate::model::{Index, Level};
use crate::operations::Operations;
use crate::projection::{self, Projection};
use crate::runs::Runs;
use crate::snapshot::{
    Detail, Found, Item, Listing, Receivers, RecordRef, Snapshot, SourceRef, TabId, TraceText,
    UiEvent, ViewKind,
};
use crate::source::{Library, PollReport};
use crate::status::{RateMeter, StatusLine};
use crate::tab::{Tab, Viewport};
use crate::view_model::trace_markdown;

/// How often active segments are read when no watcher says that they changed.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How often they are read anyway with a watcher, in case a notification went missing.
const FALLBACK_INTERVAL: Duration = Duration::from_millis(500);
/// How often the data directories are checked for new sessions and segments when no
/// watcher says that one was created.
const DISCOVER_INTERVAL: Duration = Duration::from_millis(50);
/// How long the user's events may put off reading what arrived: while they come,
/// each is answered before new records are read.
const READ_DEFERRAL: Duration = Duration::from_millis(100);
/// How long one turn of the loop spends adding loaded blocks before it publishes.
const LOAD_SLICE: Duration = Duration::from_millis(40);
/// How long a filter step should take: the user's next event waits for at most one.
const STEP_TIME: Duration = Duration::from_millis(8);
/// Records a filter step examines: as many as `STEP_TIME` allows, within these.
const STEP_RECORDS: std::ops::RangeInclusive<usize> = (8 << 10)..=(512 << 10);
/// How long a turn that reads what arrived spends on it, once stored segments are in.
const READ_SLICE: Duration = Duration::from_millis(10);
/// Events the UI may queue before it has to retry.
pub const EVENT_QUEUE: usize = 256;
/// Notices queued for the loop, which takes them at every turn.
const NOTICE_QUEUE: usize = 16;

/// What the backend starts with.
#[derive(Debug, Clone)]
pub struct BackendOptions {
    pub paths: Vec<PathBuf>,
    pub editor: EditorOptions,
    /// For the status line: who collects into the viewed directory.
    pub collector: String,
    /// Where the collector this viewer runs takes OTLP, if it runs one.
    pub receivers: Option<Receivers>,
    /// What tells the backend that records were written; anyone may notify it.
    pub arrivals: Arrivals,
}

/// Starts the backend thread; `repaint` wakes the UI after each publish.
pub fn spawn(
    options: BackendOptions,
    runtime: tokio::runtime::Handle,
    repaint: impl Fn() + Send + 'static,
) -> std::io::Result<Connection> {
    let (events, receiver) = mpsc::sync_channel(EVENT_QUEUE);
    options.arrivals.connect(events.clone());
    let (input, output) = triple_buffer::triple_buffer(&Snapshot::default());
    std::thread::Builder::new()
        .name("oculus-backend".into())
        .spawn(move || {
            let mut engine = Engine::new(options, runtime);
            engine.run(&receiver, input, repaint);
        })?;
    Ok(Connection::new(events, output))
}

/// The backend's whole state; lives on its own thread.
pub struct Engine {
    index: Index,
    library: Library,
    tabs: FxHashMap<TabId, Tab>,
    shown: TabId,
    /// Built when a record is selected; each snapshot shares it.
    detail: Option<Arc<Detail>>,
    found: Option<Found>,
    /// The last trace written out for the clipboard.
    trace_text: Option<TraceText>,
    /// The last directory listed for the file browser.
    listing: Option<Arc<Listing>>,
    opened: Vec<(PathBuf, Vec<u16>)>,
    status: StatusLine,
    notices: Notices,
    editor: EditorOptions,
    runtime: tokio::runtime::Handle,
    projection: Projection,
    /// The tabs whose Metrics view is shown, and the last one built.
    metrics: MetricProjection,
    step_size: StepSize,
    runs: Runs,
    arrivals: Arrivals,
    /// Notifies `arrivals` as segments are written; without it, the timer finds them.
    watcher: Option<DirWatcher>,
    /// The operations table, while the UI shows it.
    operations: Option<Operations>,
}

/// Records per filter step, tuned by how long the last steps took: a search costs
/// more per record than a level, and a busy machine more than an idle one.
#[derive(Debug)]
struct StepSize {
    records: usize,
}

impl Default for StepSize {
    fn default() -> Self {
        Self { records: 64 << 10 }
    }
}

impl StepSize {
    /// Halves the next step after one that took too long; doubles it after one that
    /// took less than half the time.
    fn took(&mut self, elapsed: Duration) {
        let records = if elapsed > STEP_TIME {
            self.records / 2
        } else if elapsed < STEP_TIME / 2 {
            self.records * 2
        } else {
            self.records
        };
        self.records = records.clamp(*STEP_RECORDS.start(), *STEP_RECORDS.end());
    }
}

/// Messages for the status line from tasks on the runtime (editor jumps).
struct Notices {
    sender: SyncSender<String>,
    receiver: Receiver<String>,
    /// Messages that found the queue full, since the loop last looked.
    dropped: Arc<AtomicU64>,
}

impl Notices {
    fn new() -> Self {
        let (sender, receiver) = mpsc::sync_channel(NOTICE_QUEUE);
        Self {
            sender,
            receiver,
            dropped: Arc::default(),
        }
    }

    /// What a task sends its message with: never waits; a full queue drops the message
    /// and counts it.
    fn notifier(&self) -> impl Fn(String) + Send + 'static {
        let sender = self.sender.clone();
        let dropped = Arc::clone(&self.dropped);
        move |message| {
            if let Err(TrySendError::Full(_)) = sender.try_send(message) {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The newest message queued, if any; the older ones are superseded.
    fn take_newest(&self) -> Option<String> {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "notices dropped: their queue was full");
        }
        self.receiver.try_iter().last()
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
            trace_text: None,
            listing: None,
            opened: Vec::new(),
            status: StatusLine::new(options.collector, options.receivers),
            notices: Notices::new(),
            editor: options.editor,
            runtime,
            projection: Projection::default(),
            metrics: MetricProjection::default(),
            step_size: StepSize::default(),
            runs: Runs::default(),
            watcher: DirWatcher::start(options.arrivals.clone()),
            arrivals: options.arrivals,
            operations: None,
        };
        for path in options.paths {
            engine.open(path);
        }
        engine
    }

    fn open(&mut self, path: PathBuf) {
        match self.library.open(&path) {
            Ok(sessions) => self.opened.push((path, sessions)),
            Err(error) => {
                self.status.notice = Some(format!("cannot open {}: {error}", path.display()));
            }
        }
    }

    fn run(
        &mut self,
        events: &Receiver<UiEvent>,
        mut output: triple_buffer::Input<Snapshot>,
        repaint: impl Fn(),
    ) {
        // Told of each write, the backend looks on a timer only in case a notification
        // went missing (or inotify is not there).
        let interval = if self.watcher.is_some() {
            FALLBACK_INTERVAL
        } else {
            POLL_INTERVAL
        };
        let discover_every = DISCOVER_INTERVAL.max(interval);
        let mut last_look = Instant::now() - interval;
        let mut last_discover = Instant::now() - discover_every;
        let mut last_slide = Instant::now();
        let mut dirty = true;
        let mut arrived = false;
        loop {
            arrived |= self.arrivals.take();
            let wait = if arrived || self.has_work() {
                Duration::ZERO
            } else {
                interval
                    .saturating_sub(last_look.elapsed())
                    .min(SLIDE_INTERVAL.saturating_sub(last_slide.elapsed()))
            };
            // The user's events come first, then what arrived, then filtering.
            let mut user_acted = false;
            match events.recv_timeout(wait) {
                Ok(event) => {
                    user_acted = !matches!(event, UiEvent::Arrived);
                    self.handle(event);
                    while let Ok(event) = events.try_recv() {
                        user_acted |= !matches!(event, UiEvent::Arrived);
                        self.handle(event);
                    }
                    dirty = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if let Some(notice) = self.notices.take_newest() {
                self.status.notice = Some(notice);
                dirty = true;
            }
            arrived |= self.arrivals.take();
            let now = Instant::now();
            let timer = now.duration_since(last_look) >= interval;
            // A new segment or run is found as soon as it is created, else on the
            // discovery timer.
            if self.arrivals.take_created() || now.duration_since(last_discover) >= discover_every {
                last_discover = now;
                self.discover();
            }
            // While sealed segments load, every turn of the loop takes a slice. A turn
            // that took the user's events answers them first (with a filter step), and
            // reads on the next.
            let deferred = user_acted && now.duration_since(last_look) < READ_DEFERRAL;
            if !deferred && (arrived || timer || self.library.loading().is_some()) {
                last_look = now;
                arrived = false;
                let slice = if self.library.loading().is_some() {
                    LOAD_SLICE
                } else {
                    READ_SLICE
                };
                dirty |= self.read_new(slice);
                if self.library.loading().is_some() {
                    // Stored records are not arriving: the rate starts after the load.
                    self.status.rate = RateMeter::default();
                } else {
                    self.status
                        .rate
                        .record(now, self.index.logs.len() + self.index.spans.len());
                }
            }
            dirty |= self.read_forwarding(now);
            // A sliding time range moves on a timer, not with each frame or record.
            if now.duration_since(last_slide) >= SLIDE_INTERVAL {
                last_slide = now;
                self.slide();
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

    /// Every record read so far.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Looks for new sessions and segments, then reads what is new; returns whether
    /// anything was.
    pub fn poll(&mut self) -> bool {
        self.discover();
        self.read_forwarding(Instant::now());
        let report = self.library.poll(&mut self.index);
        self.take_report(report)
    }

    /// Reads the forwarding counts of the live runs again, once a second; returns
    /// whether they changed.
    fn read_forwarding(&mut self, now: Instant) -> bool {
        if !self.status.forwarding_due(now) {
            return false;
        }
        let live = self.library.live_sessions();
        let live_paths = self
            .library
            .sessions
            .iter()
            .zip(live)
            .filter(|(_, live)| *live)
            .map(|(session, _)| session.path.as_path());
        self.status.read_forwarding(now, live_paths)
    }

    fn discover(&mut self) {
        if let Err(error) = self.library.discover() {
            self.status.report_damage(error.into());
        }
        if let Some(watcher) = &mut self.watcher {
            for dir in self.library.dirs_to_watch() {
                watcher.watch(&dir);
            }
        }
    }

    fn read_new(&mut self, budget: Duration) -> bool {
        let report = self.library.poll_for(&mut self.index, budget);
        self.take_report(report)
    }

    fn take_report(&mut self, report: PollReport) -> bool {
        for damage in report.damage {
            self.status.report_damage(damage);
        }
        report.blocks > 0
    }

    fn has_work(&self) -> bool {
        self.library.loading().is_some()
            || self
                .tabs
                .get(&self.shown)
                .is_some_and(|tab| tab.has_work(&self.index))
            || self.operations_work()
    }

    /// Whether the operations table, if shown, has spans left to examine; it follows
    /// its tab's filter first.
    fn operations_work(&self) -> bool {
        self.operations
            .as_ref()
            .is_some_and(|operations| operations.has_work(&self.index))
    }

    /// Restarts the operations table if its tab's filter changed.
    fn follow_operations_filter(&mut self) {
        if let Some(operations) = &mut self.operations
            && let Some(tab) = self.tabs.get(&operations.tab())
        {
            operations.follow_filter(&tab.filter, tab.compiled_at_unix_nano);
        }
    }

    /// Advances the shown tab's filter by one step, the shown view's first.
    pub fn step(&mut self) {
        if let Some(tab) = self.tabs.get_mut(&self.shown)
            && tab.has_work(&self.index)
        {
            let started = Instant::now();
            tab.step(&self.index, self.step_size.records);
            self.step_size.took(started.elapsed());
        }
        // The operations table, if shown, takes a step of its own (within its time).
        if let Some(operations) = &mut self.operations {
            operations.step(&self.index);
        }
    }

    /// Moves the shown tab's sliding time range on to now, if it has one and it is
    /// due (see `Tab::slide`).
    fn slide(&mut self) {
        let now = crate::time::now_unix_nano();
        if let Some(tab) = self.tabs.get_mut(&self.shown) {
            tab.slide(now);
        }
    }

    /// Runs the shown tab's filter, for both views, to the end.
    pub fn finish(&mut self) {
        while self.has_work() {
            self.step();
        }
    }

    pub fn handle(&mut self, event: UiEvent) {
        match event {
            UiEvent::ShowTab {
                tab,
                filter,
                version,
            } => {
                self.shown = tab;
                let state = self
                    .tabs
                    .entry(tab)
                    .or_insert_with(|| Tab::new((*filter).clone()));
                state.set_filter(*filter, version);
                // The steps of the last filter say nothing of this one's cost: a tab
                // with no filter steps over millions of records at no cost at all.
                self.step_size = StepSize::default();
                // A sliding tab shown again moves on to now at once, not at the next tick.
                state.slide(crate::time::now_unix_nano());
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
                selected,
                sort,
            } => {
                if let Some(state) = self.tabs.get_mut(&tab) {
                    state.viewports[view as usize] = Viewport {
                        top,
                        rows,
                        follow,
                        selected,
                    };
                    state.view = view;
                    state.set_sort(sort);
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
                if let Some(state) = self.tabs.get_mut(&tab) {
                    state.update_order(&self.index);
                }
                let found = self.find(tab, view, from, forward, errors_only);
                self.found = Some(Found { request, found });
            }
            UiEvent::JumpToSource(source) => self.jump(source),
            UiEvent::JumpToItem(item) => self.jump_to_item(item),
            UiEvent::TraceMarkdown { trace, request } => {
                self.trace_text = self.index.trace_by_id(trace).map(|_| TraceText {
                    request,
                    text: trace_markdown(&projection::waterfall(&self.index, trace, None, None))
                        .into(),
                });
                if self.trace_text.is_none() {
                    self.status.notice = Some("the trace is not in this run".to_owned());
                }
            }
            UiEvent::ExportTab { tab, export } => {
                let notice = match self.tabs.get(&tab) {
                    Some(state) => {
                        crate::otlp_out::export_tab(&self.index, &mut self.library, state, &export)
                    }
                    None => "the tab is closed".to_owned(),
                };
                self.status.notice = Some(notice);
            }
            UiEvent::TraceOtlpJson { trace, request } => {
                let Some(number) = self.index.trace_by_id(trace) else {
                    self.status.notice = Some("the trace is not in this run".to_owned());
                    return;
                };
                match crate::otlp_out::trace_json(&self.index, &mut self.library, number) {
                    Ok(text) => {
                        self.trace_text = Some(TraceText {
                            request,
                            text: text.into(),
                        });
                    }
                    Err(error) => self.status.notice = Some(error.to_string()),
                }
            }
            UiEvent::OpenPath(path) => self.open(path),
            UiEvent::SaveArchive { sessions, target } => self.save_archive(&sessions, target),
            UiEvent::ListDir { dir, request } => {
                self.listing = Some(Arc::new(crate::listing::list(dir, request)));
            }
            // What it asks for is `arrivals`' flag, which the loop takes.
            UiEvent::ShowMetrics {
                tab,
                shown,
                selected,
            } => self.metrics.show(tab, shown, selected),
            UiEvent::Arrived => {}
            UiEvent::Operations(Some(request)) => {
                if let Some(operations) = &mut self.operations {
                    operations.set_request(*request);
                } else {
                    self.operations = Some(Operations::new(*request));
                }
            }
            UiEvent::Operations(None) => self.operations = None,
        }
        self.follow_operations_filter();
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
                self.detail =
                    crate::detail::build(&block, record, loc.index as usize).map(Arc::new);
            }
            Err(error) => {
                self.status.notice = Some(format!("cannot read the record: {error}"));
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
    ) -> Option<(usize, Item)> {
        let tab = self.tabs.get(&tab)?;
        let is_hit = |row: usize| -> bool {
            match view {
                ViewKind::Logs => tab.logs.get(row).is_some_and(|i| {
                    !errors_only || self.index.logs[i as usize].level >= Level::Error
                }),
                ViewKind::Traces => tab
                    .order
                    .trace_at(row)
                    .is_some_and(|t| !errors_only || self.index.traces[t as usize].errors > 0),
            }
        };
        let total = tab.rows(view);
        let row = if forward {
            let start = from.map_or(0, |row| row.saturating_add(1));
            (start..total).find(|&r| is_hit(r))
        } else {
            let end = from.map_or(total, |row| row.min(total));
            (0..end).rev().find(|&r| is_hit(r))
        }?;
        Some((row, tab.item_at(&self.index, view, row)?))
    }

    /// Jumps to where a record was made; a trace's is its root span's.
    fn jump_to_item(&mut self, item: Item) {
        let index = &self.index;
        let source = match item {
            Item::Record(RecordRef::Log(log)) => index.logs.get(log as usize).map(|l| l.source),
            Item::Record(RecordRef::Span(span)) => index.spans.get(span as usize).map(|s| s.source),
            Item::Trace(trace) => index
                .trace_by_id(trace)
                .and_then(|t| index.trace_root(&index.traces[t as usize]))
                .map(|root| root.source),
        };
        match source.and_then(|source| projection::source(index, source)) {
            Some(source) => self.jump(source),
            None => {
                self.status.notice = Some(match item {
                    Item::Trace(_) => "no source location on this trace's root span".to_owned(),
                    Item::Record(_) => "no source location on this record".to_owned(),
                });
            }
        }
    }

    /// Writes runs into an archive on a thread of its own, telling the status line how
    /// far it got and how it ended. A run read from an archive is already in one.
    fn save_archive(&mut self, sessions: &[u16], target: PathBuf) {
        let mut dirs = Vec::new();
        for &number in sessions {
            let Some(session) = self.library.sessions.get(usize::from(number)) else {
                continue;
            };
            if session.path.is_dir() {
                dirs.push(oculus_store::Session {
                    path: session.path.clone(),
                });
            }
        }
        if dirs.is_empty() {
            self.status.notice =
                Some("nothing to save: the tab's runs are already in an archive".to_owned());
            return;
        }
        let notify = self.notices.notifier();
        let spawned = std::thread::Builder::new()
            .name("oculus-archiver".into())
            .spawn(move || crate::save_archive::write(&dirs, &target, &notify));
        if let Err(error) = spawned {
            self.status.notice = Some(format!("cannot start saving the archive: {error}"));
        }
    }

    fn jump(&mut self, source: SourceRef) {
        let options = self.editor.clone();
        let notify = self.notices.notifier();
        self.runtime.spawn(async move {
            let message = match crate::editor::jump(&options, &source).await {
                Ok(path) => format!("opened {}:{} in Neovim", path.display(), source.line),
                Err(error) => error.to_string(),
            };
            notify(message);
        });
    }

    /// What the UI draws now.
    pub fn snapshot(&mut self) -> Snapshot {
        let mut snapshot = Snapshot {
            tab: self.shown,
            services: projection::services(&self.index),
            runs: self.runs.get(
                &self.library.sessions,
                self.library.live_sessions(),
                &self.index,
            ),
            opened: self.opened.clone(),
            detail: self.detail.clone(),
            found: self.found,
            trace_text: self.trace_text.clone(),
            listing: self.listing.clone(),
            status: self.status.status(&self.index, self.library.loading()),
            ..Snapshot::default()
        };
        if let Some(tab) = self.tabs.get_mut(&self.shown) {
            // Only the trace list shown is kept in order: its traces change with
            // every record, and nothing else reads it.
            if tab.view == ViewKind::Traces {
                tab.update_order(&self.index);
            }
            self.projection
                .fill_snapshot(&self.index, tab, &mut snapshot);
            snapshot.metrics = self.metrics.view(self.shown, tab, &self.index);
        }
        snapshot.operations = self
            .operations
            .as_mut()
            .and_then(|operations| operations.publish(&self.index));
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_takes_as_many_records_as_its_time_allows_within_bounds() {
        let mut size = StepSize::default();
        let start = size.records;
        size.took(STEP_TIME * 3);
        assert_eq!(size.records, start / 2);
        size.took(STEP_TIME * 3 / 4);
        assert_eq!(
            size.records,
            start / 2,
            "a step near its time keeps its size"
        );
        size.took(Duration::ZERO);
        assert_eq!(size.records, start);
        for _ in 0..64 {
            size.took(Duration::ZERO);
        }
        assert_eq!(size.records, *STEP_RECORDS.end());
        for _ in 0..64 {
            size.took(Duration::from_secs(1));
        }
        assert_eq!(size.records, *STEP_RECORDS.start());
    }

    #[test]
    fn a_full_notice_queue_drops_and_counts_and_the_loop_takes_the_newest_queued() {
        let notices = Notices::new();
        let notify = notices.notifier();
        for n in 0..NOTICE_QUEUE + 3 {
            notify(n.to_string());
        }
        assert_eq!(notices.dropped.load(Ordering::Relaxed), 3);
        let newest = (NOTICE_QUEUE - 1).to_string();
        assert_eq!(notices.take_newest(), Some(newest));
        assert_eq!(notices.dropped.load(Ordering::Relaxed), 0);
        assert_eq!(notices.take_newest(), None);
        notify("after".to_owned());
        assert_eq!(notices.take_newest().as_deref(), Some("after"));
    }
}
