//! The UI thread's state and what changes it: it takes in the latest snapshot, applies
//! the actions that `keys` and the drawing through `views` return, and sends the backend
//! what changed. It never waits, locks or reads a file.

use std::path::PathBuf;
use std::sync::Arc;

use crate::action::Action;
use crate::connection::Connection;
use crate::filter::{Filter, Since};
use crate::keys::Keys;
use crate::metrics::SeriesId;
use crate::model::{Level, TraceId, parse_trace_id, trace_hex};
use crate::persist::{Saved, SavedFilter, SavedTab};
use crate::snapshot::{
    Analysis, Item, Located, RecordRef, Selection, Snapshot, SourceRef, TabId, TraceSort, UiEvent,
    ValueKind, ViewKind,
};
use crate::tab_ui::{ListState, TabUi};
use crate::terms::add_term;
use crate::view_model::{
    Waterfall, WaterfallRow, WaterfallRows, Zoom, detail_text, trace_markdown,
};
use crate::views::{self, Browser, Screen, Widgets};

mod operations;

/// The rows a tab shows, as last sent in `UiEvent::Viewport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Viewport {
    tab: TabId,
    view: ViewKind,
    top: usize,
    rows: usize,
    follow: bool,
    selected: Option<Selection>,
    sort: TraceSort,
}

/// What the UI last told the backend, so each change is sent once.
#[derive(Default, PartialEq)]
struct Sent {
    tab: Option<(TabId, Filter)>,
    viewport: Option<Viewport>,
    trace: Option<(TabId, Option<TraceId>)>,
    operations: Option<crate::operations::OperationsRequest>,
    /// The tab, whether its Metrics view is shown, and its charted series.
    metrics: Option<(TabId, bool, Option<SeriesId>)>,
}

/// The Oculus viewer.
pub struct App {
    connection: Connection,
    snapshot: Snapshot,
    /// The open trace's rows, derived from `snapshot` when it arrives.
    waterfall_rows: WaterfallRows,
    tabs: Vec<TabUi>,
    active: usize,
    next_tab: TabId,
    services_seen: usize,
    opened_seen: usize,
    detail_open: bool,
    help_open: bool,
    inline_logs: bool,
    /// The open trace is shown as a flame graph rather than the waterfall.
    flame: bool,
    keys: Keys,
    find_request: u64,
    focus_search: bool,
    /// What the user typed in "Open a path".
    path_to_open: String,
    /// What the user typed in "Save as archive".
    archive_path: String,
    /// The "Export tab" menu's settings, kept between exports.
    export: crate::snapshot::TabExport,
    /// The version of the last `ShowTab` sent: a snapshot with another describes rows
    /// of another filter.
    version: u64,
    /// The `TraceMarkdown` or `TraceOtlpJson` request whose answer goes on the
    /// clipboard, and what its text is, for the notice.
    trace_text_request: Option<(u64, &'static str)>,
    next_request: u64,
    /// The UI's own notice (why an action did nothing, where the selection went),
    /// shown until the backend has a newer one.
    notice: Option<String>,
    sent: Sent,
    zoom: Zoom,
    theme: egui::ThemePreference,
    /// egui's zoom factor (the text size) as of the last frame, for `saved`.
    zoom_factor: f32,
    /// A stored text size, set on the first frame (egui's context is not at hand before).
    restore_zoom: Option<f32>,
    /// Stored tabs, restored once the backend has named its runs.
    restoring: Option<Saved>,
    /// The file browser: the directory shown, and the listing asked for it.
    browser: Option<Browser>,
}

impl App {
    pub fn new(connection: Connection, initial_opened: usize) -> Self {
        Self {
            connection,
            snapshot: Snapshot::default(),
            waterfall_rows: WaterfallRows::default(),
            tabs: vec![TabUi::new(0, "All".to_owned(), Filter::default(), false)],
            active: 0,
            next_tab: 1,
            services_seen: 0,
            opened_seen: initial_opened,
            detail_open: false,
            help_open: false,
            inline_logs: true,
            flame: false,
            keys: Keys::default(),
            find_request: 0,
            focus_search: false,
            path_to_open: String::new(),
            archive_path: String::new(),
            export: crate::snapshot::TabExport::default(),
            version: 0,
            trace_text_request: None,
            next_request: 0,
            notice: None,
            sent: Sent::default(),
            zoom: Zoom::default(),
            theme: egui::ThemePreference::System,
            zoom_factor: 1.0,
            restore_zoom: None,
            restoring: None,
            browser: None,
        }
    }

    /// The app as it was when `saved` was taken: its theme, text size and inline-logs
    /// choice at once, its tabs as soon as the backend has named its runs.
    pub fn restored(connection: Connection, initial_opened: usize, saved: Saved) -> Self {
        let mut app = Self::new(connection, initial_opened);
        app.theme = saved.theme;
        app.inline_logs = saved.inline_logs;
        app.zoom_factor = saved.zoom_factor;
        app.restore_zoom = Some(saved.zoom_factor);
        app.restoring = Some(saved);
        app
    }

    /// The app from eframe's storage: restored from what it holds, or new when there is
    /// no storage or nothing this version can read in it.
    pub fn from_storage(
        connection: Connection,
        initial_opened: usize,
        storage: Option<&dyn eframe::Storage>,
    ) -> Self {
        match storage.and_then(Saved::load) {
            Some(saved) => Self::restored(connection, initial_opened, saved),
            None => Self::new(connection, initial_opened),
        }
    }

    /// What is kept across restarts, as of now.
    pub fn saved(&self) -> Saved {
        // Asked before the stored tabs are back: they are still what is kept.
        if let Some(restoring) = &self.restoring {
            return Saved {
                theme: self.theme,
                zoom_factor: self.zoom_factor,
                inline_logs: self.inline_logs,
                ..restoring.clone()
            };
        }
        let runs = &self.snapshot.runs;
        Saved {
            tabs: self
                .tabs
                .iter()
                .map(|tab| SavedTab {
                    name: tab.name.clone(),
                    filter: SavedFilter::new(&tab.filter, runs),
                    base: SavedFilter::new(&tab.base, runs),
                    traces: tab.view == ViewKind::Traces,
                    closable: tab.closable,
                })
                .collect(),
            active: self.active,
            zoom_factor: self.zoom_factor,
            theme: self.theme,
            inline_logs: self.inline_logs,
        }
    }

    /// Brings back the stored tabs: the "All" tab's filter and view, and every other
    /// tab whose runs the backend has; a tab of a run that is gone is left out and
    /// named in the status line.
    fn restore_tabs(&mut self, saved: Saved) {
        let mut gone = Vec::new();
        let mut active = 0;
        for (position, stored) in saved.tabs.iter().enumerate() {
            let runs = &self.snapshot.runs;
            let (filter, base) = match (stored.filter.restore(runs), stored.base.restore(runs)) {
                (Ok(filter), Ok(base)) => (filter, base),
                (Err(path), _) | (_, Err(path)) => {
                    gone.push(path.display().to_string());
                    continue;
                }
            };
            let index = if stored.closable {
                let index = self.add_tab(stored.name.clone(), base);
                self.tabs[index].filter = filter;
                index
            } else {
                // The "All" tab, which every app starts with.
                self.tabs[0].filter = filter;
                0
            };
            self.tabs[index].view = stored.view();
            if position == saved.active {
                active = index;
            }
        }
        self.active = active;
        if !gone.is_empty() {
            self.tell(format!(
                "tabs of runs no longer here were not restored: {}",
                gone.join(", ")
            ));
        }
    }

    /// The theme chosen: following the system, light or dark.
    pub fn theme(&self) -> egui::ThemePreference {
        self.theme
    }

    /// The file browser, while it is open.
    pub fn browser(&self) -> Option<&Browser> {
        self.browser.as_ref()
    }

    /// Shows `dir` in the file browser; the backend lists it.
    fn browse(&mut self, dir: PathBuf) {
        let request = self.next_request;
        self.next_request += 1;
        self.send(UiEvent::ListDir {
            dir: dir.clone(),
            request,
        });
        self.browser = Some(Browser { dir, request });
    }

    /// The latest snapshot the backend published.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn tabs(&self) -> &[TabUi] {
        &self.tabs
    }

    /// Position of the shown tab in `tabs()`.
    pub fn active(&self) -> usize {
        self.active
    }

    /// The shown tab.
    pub fn tab(&self) -> &TabUi {
        &self.tabs[self.active]
    }

    fn tab_mut(&mut self) -> &mut TabUi {
        &mut self.tabs[self.active]
    }

    pub fn detail_open(&self) -> bool {
        self.detail_open
    }

    pub fn help_open(&self) -> bool {
        self.help_open
    }

    /// The open trace with its rows and the zoomed window into it, once the backend has
    /// published it.
    pub fn waterfall(&self) -> Option<Waterfall<'_>> {
        self.snapshot
            .trace
            .as_ref()
            .map(|trace| self.waterfall_rows.over(trace, self.zoom))
    }

    fn send(&mut self, event: UiEvent) {
        self.connection.send(event);
    }

    /// Whether an open trace is shown as a flame graph rather than the waterfall.
    pub fn flame(&self) -> bool {
        self.flame
    }

    /// Whether the backend thread stopped (it logged why); the data shown is stale.
    pub fn backend_gone(&self) -> bool {
        self.connection.backend_gone()
    }

    /// Whether the snapshot describes the shown tab.
    pub fn snapshot_is_current(&self) -> bool {
        self.snapshot.tab == self.tab().id
    }

    /// Whether the snapshot's rows are those of the shown tab's filter as it is now.
    pub fn rows_are_current(&self) -> bool {
        self.snapshot_is_current() && self.snapshot.version == self.version
    }

    /// The notice the status line shows: the UI's, or else the backend's.
    pub fn notice(&self) -> Option<&str> {
        self.notice
            .as_deref()
            .or(self.snapshot.status.notice.as_deref())
    }

    fn tell(&mut self, notice: impl Into<String>) {
        self.notice = Some(notice.into());
    }

    fn add_tab(&mut self, name: String, filter: Filter) -> usize {
        let id = self.next_tab;
        self.next_tab += 1;
        self.tabs.push(TabUi::new(id, name, filter, true));
        self.tabs.len() - 1
    }

    fn open_session_tab(&mut self, session: u16) {
        let name = self
            .snapshot
            .runs
            .get(usize::from(session))
            .map(|run| run.name.clone())
            .unwrap_or_default();
        let existing = self
            .tabs
            .iter()
            .position(|t| t.filter.sessions == [session] && t.filter.services.is_empty());
        self.active = existing.unwrap_or_else(|| {
            self.add_tab(
                format!("run {name}"),
                Filter {
                    sessions: vec![session],
                    ..Filter::default()
                },
            )
        });
    }

    fn close_tab(&mut self, index: usize) {
        if self.tabs.get(index).is_none_or(|tab| !tab.closable) {
            return;
        }
        let tab = self.tabs.remove(index);
        self.send(UiEvent::CloseTab(tab.id));
        if self.active >= index && self.active > 0 {
            self.active -= 1;
        }
    }

    /// Takes in what the backend published since the last frame.
    fn receive(&mut self) {
        if let Some(snapshot) = self.connection.take_snapshot() {
            // The backend shares one trace across snapshots until it changes; its rows
            // depend on nothing else that a new snapshot brings.
            let same_trace = match (&self.snapshot.trace, &snapshot.trace) {
                (Some(shown), Some(new)) => Arc::ptr_eq(shown, new),
                (None, None) => true,
                _ => false,
            };
            if snapshot.status.notice != self.snapshot.status.notice {
                // The backend's notice is the newer one.
                self.notice = None;
            }
            self.snapshot = snapshot;
            if !same_trace {
                self.derive_waterfall();
            }
            self.locate_selections();
            if let Some(saved) = self.restoring.take() {
                self.restore_tabs(saved);
            }
        }
        // New services get their own tab, unless one was restored.
        let services: Vec<String> = self.snapshot.services
            [self.services_seen.min(self.snapshot.services.len())..]
            .iter()
            .map(|s| s.to_string())
            .collect();
        self.services_seen += services.len();
        for service in services {
            let restored = self
                .tabs
                .iter()
                .any(|tab| tab.base.services == [service.as_str()] && tab.base.sessions.is_empty());
            if restored {
                continue;
            }
            self.add_tab(
                service.clone(),
                Filter {
                    services: vec![service],
                    ..Filter::default()
                },
            );
        }
        // Paths opened from the UI get their own tab.
        let opened: Vec<(String, Vec<u16>)> = self
            .snapshot
            .opened
            .iter()
            .skip(self.opened_seen)
            .map(|(path, sessions)| {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                (name, sessions.clone())
            })
            .collect();
        self.opened_seen += opened.len();
        for (name, sessions) in opened {
            self.active = self.add_tab(
                name,
                Filter {
                    sessions,
                    ..Filter::default()
                },
            );
        }
        if let Some(found) = self.snapshot.found
            && found.request == self.find_request
        {
            self.find_request += 1;
            if let Some((row, item)) = found.found {
                let view = self.tab().view;
                let total = if view == ViewKind::Logs {
                    self.snapshot.logs.total
                } else {
                    self.snapshot.traces.total
                };
                self.tab_mut().list_mut().select_item(row, item, total);
                if let Item::Record(record) = item {
                    self.open_detail(record);
                }
            }
        }
    }

    /// Moves each list's selection to where the backend found its item now.
    fn locate_selections(&mut self) {
        if !self.rows_are_current() {
            return;
        }
        let logs = (self.snapshot.logs.selected, self.snapshot.logs.total);
        let traces = (self.snapshot.traces.selected, self.snapshot.traces.total);
        let mut left = None;
        let tab = &mut self.tabs[self.active];
        for (list, (located, total), kind) in [
            (&mut tab.logs, logs, "log record"),
            (&mut tab.traces, traces, "trace"),
        ] {
            let Some(Located {
                asked,
                found,
                left: gone,
            }) = located
            else {
                continue;
            };
            // An answer to a selection the user has moved on from says nothing.
            if list.selected != Some(asked) {
                continue;
            }
            match found {
                Some((row, item)) => list.track(row, item, total),
                None => list.selected = None,
            }
            if gone {
                left = Some(kind);
            }
        }
        if let Some(kind) = left {
            self.tell(format!(
                "the selected {kind} is not in this list any more: the nearest is selected"
            ));
        }
    }

    /// Names the item of a selection known only by its row, once its row is published
    /// (the waterfall's rows always are).
    fn identify_selection(&mut self) {
        let current = self.rows_are_current();
        let tab = &self.tabs[self.active];
        let list = tab.list();
        let Some(Selection { row, item: None }) = list.selected else {
            return;
        };
        let item = match (tab.view, tab.open_trace) {
            (ViewKind::Logs, _) => current
                .then(|| self.snapshot.logs.row(row))
                .flatten()
                .map(|log| Item::Record(RecordRef::Log(log.index))),
            (ViewKind::Traces, None) => current
                .then(|| self.snapshot.traces.row(row))
                .flatten()
                .map(|trace| Item::Trace(trace.trace_id)),
            (ViewKind::Traces, Some(_)) => self
                .waterfall()
                .and_then(|rows| rows.get(row))
                .map(|r| Item::Record(r.record())),
        };
        if let Some(item) = item {
            self.tab_mut().list_mut().selected = Some(Selection::of(row, item));
        }
    }

    /// The waterfall's rows, from the snapshot's trace as the inline-logs toggle says.
    fn derive_waterfall(&mut self) {
        self.waterfall_rows = match &self.snapshot.trace {
            Some(trace) => WaterfallRows::new(trace, self.inline_logs),
            None => WaterfallRows::default(),
        };
        self.locate_in_waterfall();
    }

    /// Keeps the waterfall's selection on its record when the trace's rows change
    /// (spans arriving, inline logs shown or hidden).
    fn locate_in_waterfall(&mut self) {
        let Some(Selection {
            row,
            item: Some(Item::Record(record)),
        }) = self.tab().waterfall.selected
        else {
            return;
        };
        let Some(rows) = self.waterfall() else {
            return;
        };
        let total = rows.len();
        let found = (0..total).find(|&r| rows.get(r).is_some_and(|w| w.record() == record));
        let nearest = row.min(total.saturating_sub(1));
        let nearest = rows
            .get(nearest)
            .map(|w| (nearest, Item::Record(w.record())));
        match found {
            Some(at) => self
                .tab_mut()
                .waterfall
                .track(at, Item::Record(record), total),
            None => {
                // Inline logs hidden: the log's span is the nearest.
                match nearest {
                    Some((at, item)) => self.tab_mut().waterfall.track(at, item, total),
                    None => self.tab_mut().waterfall.selected = None,
                }
            }
        }
    }

    fn set_inline_logs(&mut self, inline_logs: bool) {
        if self.inline_logs != inline_logs {
            self.inline_logs = inline_logs;
            self.derive_waterfall();
        }
    }

    /// A trace opened on a record selects that record's span once it is shown.
    fn focus_waterfall(&mut self) {
        let total = self.waterfall_rows.len();
        let focus = self.waterfall_rows.focus();
        let tab = &mut self.tabs[self.active];
        if tab.view == ViewKind::Traces
            && tab.open_trace.is_some()
            && self.snapshot.trace.is_some()
            && tab.waterfall.selected.is_none()
            && let Some(row) = focus
        {
            tab.waterfall.select(row, total);
            self.identify_selection();
        }
    }

    /// Sends what changed since the last frame.
    fn sync(&mut self) {
        let tab = &self.tabs[self.active];
        // Compared in place: the filter is cloned only when it changed.
        let shown = self.sent.tab.as_ref().map(|(id, filter)| (*id, filter));
        if shown != Some((tab.id, &tab.filter)) {
            self.sent.tab = Some((tab.id, tab.filter.clone()));
            self.version += 1;
            self.connection.send(UiEvent::ShowTab {
                tab: tab.id,
                filter: Box::new(tab.filter.clone()),
                version: self.version,
            });
        }
        let (view, list) = match tab.view {
            ViewKind::Logs => (ViewKind::Logs, &tab.logs),
            ViewKind::Traces => (ViewKind::Traces, &tab.traces),
        };
        let viewport = Viewport {
            tab: tab.id,
            view,
            top: list.top,
            rows: list.visible,
            follow: list.follow,
            selected: list.selected,
            sort: tab.trace_sort,
        };
        if self.sent.viewport != Some(viewport) {
            self.sent.viewport = Some(viewport);
            self.connection.send(UiEvent::Viewport {
                tab: viewport.tab,
                view: viewport.view,
                top: viewport.top,
                rows: viewport.rows,
                follow: viewport.follow,
                selected: viewport.selected,
                sort: viewport.sort,
            });
        }
        let trace = Some((tab.id, tab.open_trace));
        if self.sent.trace != trace {
            self.sent.trace = trace;
            let event = match tab.open_trace {
                Some(trace) => UiEvent::OpenTrace {
                    tab: tab.id,
                    trace,
                    focus: None,
                },
                None => UiEvent::CloseTrace { tab: tab.id },
            };
            self.connection.send(event);
        }
        self.sync_operations();
        self.sync_metrics();
        self.connection.flush();
    }

    /// Tells the backend whether the Metrics view is shown and which series it charts,
    /// when that changed.
    fn sync_metrics(&mut self) {
        let tab = self.tab();
        let metrics = (
            tab.id,
            tab.analysis == Some(Analysis::Metrics),
            tab.metric_series,
        );
        if self.sent.metrics != Some(metrics) {
            self.sent.metrics = Some(metrics);
            self.connection.send(UiEvent::ShowMetrics {
                tab: metrics.0,
                shown: metrics.1,
                selected: metrics.2,
            });
        }
    }

    /// Opens the detail pane on a record.
    fn open_detail(&mut self, record: RecordRef) {
        self.send(UiEvent::Select(Some(record)));
        self.detail_open = true;
    }

    /// The shown list's selected item, or a notice saying why there is none: an
    /// action acts on it at once or not at all, never later.
    fn selected_item(&mut self) -> Option<Item> {
        self.identify_selection();
        let selected = self.tab().list().selected;
        match selected {
            Some(Selection {
                item: Some(item), ..
            }) => Some(item),
            Some(Selection { row, item: None }) => {
                self.tell(format!("row {} is still being read; try again", row + 1));
                None
            }
            None => {
                self.tell("nothing is selected: j/k or a click selects a row");
                None
            }
        }
    }

    /// Opens a trace in the shown tab, focused on a record of it.
    fn open_trace(&mut self, trace: TraceId, focus: Option<RecordRef>) {
        if trace == 0 {
            return;
        }
        let tab = self.tab_mut();
        tab.view = ViewKind::Traces;
        tab.open_trace = Some(trace);
        tab.waterfall = ListState {
            follow: false,
            ..ListState::default()
        };
        let id = tab.id;
        self.zoom = Zoom::default();
        self.sent.trace = Some((id, Some(trace)));
        self.send(UiEvent::OpenTrace {
            tab: id,
            trace,
            focus,
        });
    }

    fn jump_to_source(&mut self, source: SourceRef) {
        self.send(UiEvent::JumpToSource(source));
    }

    /// n/N and e/E: the next or previous match (or error) from the selection.
    fn find(&mut self, forward: bool, errors_only: bool) {
        let tab = self.tab();
        if tab.view == ViewKind::Traces && tab.open_trace.is_some() {
            self.find_in_waterfall(forward, errors_only);
            return;
        }
        let view = tab.view;
        let list = match view {
            ViewKind::Logs => &tab.logs,
            ViewKind::Traces => &tab.traces,
        };
        self.send(UiEvent::Find {
            tab: tab.id,
            view,
            from: list.selected_row(),
            forward,
            errors_only,
            request: self.find_request,
        });
    }

    /// The waterfall is all in the snapshot: its matches are found here.
    fn find_in_waterfall(&mut self, forward: bool, errors_only: bool) {
        let Some(rows) = self.waterfall() else {
            return;
        };
        let total = rows.len();
        let is_hit = |row: usize| match rows.get(row) {
            None => false,
            Some(WaterfallRow::Span(span)) => {
                if errors_only {
                    span.error
                } else {
                    !span.highlights.is_empty()
                }
            }
            Some(WaterfallRow::Log { log, .. }) => {
                if errors_only {
                    log.level >= Level::Error
                } else {
                    !log.highlights.is_empty()
                }
            }
        };
        let selected = self.tab().waterfall.selected_row();
        let found = if forward {
            let start = selected.map_or(0, |row| row + 1);
            (start..total).find(|&r| is_hit(r))
        } else {
            let end = selected.unwrap_or(total).min(total);
            (0..end).rev().find(|&r| is_hit(r))
        };
        if let Some(row) = found {
            self.tab_mut().waterfall.select(row, total);
            self.identify_selection();
        }
    }

    fn total(&self) -> usize {
        let tab = self.tab();
        match (tab.view, tab.open_trace) {
            (ViewKind::Logs, _) => self.snapshot.logs.total,
            (ViewKind::Traces, None) => self.snapshot.traces.total,
            (ViewKind::Traces, Some(_)) => self.waterfall().map_or(0, |rows| rows.len()),
        }
    }

    /// Esc: closes the help, else the detail, else the open trace.
    fn back(&mut self) {
        if self.help_open {
            self.help_open = false;
        } else if self.detail_open {
            self.close_detail();
        } else if self.tab().open_trace.is_some() {
            self.tab_mut().open_trace = None;
        } else if self.tab().analysis == Some(Analysis::Operations) {
            self.operations_back();
        } else if self.tab().analysis.is_some() {
            self.tab_mut().analysis = None;
        }
    }

    fn close_detail(&mut self) {
        self.detail_open = false;
        self.send(UiEvent::Select(None));
    }

    /// G and "Follow newest": selects the newest row and keeps following it.
    fn follow_newest(&mut self) {
        let total = self.total();
        let list = self.tab_mut().list_mut();
        list.follow = true;
        list.select(total.saturating_sub(1), total);
        self.identify_selection();
    }

    /// Enter: details of the selected record, or the selected trace.
    fn open_selected(&mut self) {
        match self.selected_item() {
            Some(Item::Record(record)) => self.open_detail(record),
            Some(Item::Trace(trace)) => self.open_trace(trace, None),
            None => {}
        }
    }

    /// o: the selected record's source location (a trace's: its root span's), opened
    /// in Neovim by the backend, which has every record's location.
    fn jump_selected(&mut self) {
        if let Some(item) = self.selected_item() {
            self.send(UiEvent::JumpToItem(item));
        }
    }

    /// The trace of what is selected: the open trace in its waterfall, the selected
    /// trace in the trace list, the selected log record's trace.
    fn selected_trace(&mut self) -> Option<TraceId> {
        let tab = self.tab();
        if let (ViewKind::Traces, Some(open)) = (tab.view, tab.open_trace) {
            return Some(open);
        }
        let row = tab.list().selected_row();
        match self.selected_item()? {
            Item::Trace(trace) => Some(trace),
            Item::Record(RecordRef::Span(_)) => None,
            Item::Record(RecordRef::Log(log)) => {
                let shown = row
                    .and_then(|row| self.snapshot.logs.row(row))
                    .filter(|shown| shown.index == log && self.rows_are_current());
                match shown {
                    Some(shown) if shown.trace_id != 0 => Some(shown.trace_id),
                    Some(_) => {
                        self.tell("the selected log record belongs to no trace");
                        None
                    }
                    None => {
                        self.tell("the selected row is still being read; try again");
                        None
                    }
                }
            }
        }
    }

    /// Y: the selected trace as Markdown, on the clipboard: at once when it is open,
    /// else as soon as the backend has written it out.
    fn yank_trace(&mut self, ctx: &egui::Context) {
        let Some(trace) = self.selected_trace() else {
            return;
        };
        match &self.snapshot.trace {
            Some(open) if open.trace_id == trace => {
                ctx.copy_text(trace_markdown(open));
                self.tell(format!("copied trace {} as Markdown", trace_hex(trace)));
            }
            _ => {
                let request = self.next_request;
                self.next_request += 1;
                self.trace_text_request = Some((request, "Markdown"));
                self.send(UiEvent::TraceMarkdown { trace, request });
            }
        }
    }

    /// J: the selected trace's spans and logs as OTLP JSON Lines, on the clipboard once
    /// the backend has read them back from their blocks.
    fn yank_trace_otlp(&mut self) {
        let Some(trace) = self.selected_trace() else {
            return;
        };
        let request = self.next_request;
        self.next_request += 1;
        self.trace_text_request = Some((request, "OTLP JSON"));
        self.send(UiEvent::TraceOtlpJson { trace, request });
    }

    /// Puts the backend's Markdown of a trace on the clipboard, once it has come.
    fn copy_trace_text(&mut self, ctx: &egui::Context) {
        let Some((request, format)) = self.trace_text_request else {
            return;
        };
        if let Some(text) = &self.snapshot.trace_text
            && text.request == request
        {
            ctx.copy_text(text.text.to_string());
            self.trace_text_request = None;
            self.tell(format!("copied the trace as {format}"));
        }
    }

    /// Text pasted outside a text field: a trace id becomes the trace-id filter, any
    /// other text the search.
    fn paste(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        // A whole OTLP trace id, as other tools print it; short hex is more likely text.
        if text.len() == 32 && parse_trace_id(text).is_some() {
            self.tab_mut().filter.trace_id = text.to_owned();
            self.tell(format!("showing trace {text}"));
        } else {
            self.tab_mut().filter.search = text.to_owned();
        }
    }

    /// Sets the sliding time window of the shown tab.
    fn set_since(&mut self, window: Option<std::time::Duration>) {
        self.tab_mut().filter.since = window.map(|window| Since { window });
    }

    /// Sorts the shown tab's trace list and says how; the selection stays on its
    /// trace, which the backend finds in the new order.
    fn sort_traces(&mut self, sort: impl FnOnce(&mut TabUi)) {
        let tab = self.tab_mut();
        sort(tab);
        let order = tab.trace_sort.describe();
        self.tell(format!("traces sorted {order}"));
    }

    fn set_min_level(&mut self, level: Level) {
        self.tab_mut().filter.min_level = level;
    }

    /// "Filter to this" or "Exclude this" on a value: the filter its kind names, in
    /// the filter bar where the user sees and edits it.
    fn filter_by_value(&mut self, kind: ValueKind, value: String, exclude: bool) {
        let filter = &mut self.tab_mut().filter;
        let term = |filter: &mut Filter, key: &str| {
            filter.attributes = add_term(&filter.attributes, key, Some(&value), exclude);
        };
        match kind {
            ValueKind::Attribute(key) => term(filter, &key),
            ValueKind::Service if exclude => term(filter, "service.name"),
            ValueKind::Service => filter.services = vec![value],
            // A view can offer only what a kind `excludes`; the rest only narrow.
            _ if exclude => {}
            ValueKind::Scope => filter.scope = value,
            ValueKind::TraceId => filter.trace_id = value,
            ValueKind::Level(level) => filter.min_level = level,
            ValueKind::Text => {
                filter.search = value;
                filter.regex = false;
            }
            ValueKind::Plain => {}
        }
    }

    /// Draws the frame from the state as it is, then keeps what the widgets edited.
    fn draw(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
        let backend_gone = self.backend_gone();
        let tab = &self.tabs[self.active];
        let mut filter = tab.filter.clone();
        let mut list = *tab.list();
        let screen = Screen {
            snapshot: &self.snapshot,
            tabs: &self.tabs,
            active: self.active,
            // Field by field, so that `path_to_open` can be lent to its text field.
            waterfall: self
                .snapshot
                .trace
                .as_ref()
                .map(|trace| self.waterfall_rows.over(trace, self.zoom)),
            theme: self.theme,
            browser: self.browser.as_ref(),
            inline_logs: self.inline_logs,
            flame: self.flame,
            detail_open: self.detail_open,
            help_open: self.help_open,
            focus_search: self.focus_search,
            backend_gone,
            // Field by field too: the UI's notice, or else the backend's.
            notice: self
                .notice
                .as_deref()
                .or(self.snapshot.status.notice.as_deref()),
        };
        let widgets = Widgets {
            filter: &mut filter,
            list: &mut list,
            path_to_open: &mut self.path_to_open,
            archive_path: &mut self.archive_path,
            export: &mut self.export,
        };
        let actions = views::show(ui, &screen, widgets);
        // The search field took the focus, if it was asked to.
        self.focus_search = false;
        let tab = &mut self.tabs[self.active];
        tab.filter = filter;
        *tab.list_mut() = list;
        actions
    }

    /// Carries out what the user asked for, with the mouse or a key.
    fn apply(&mut self, action: Action, ctx: &egui::Context) {
        let Some(action) = self.operations_key(action) else {
            return;
        };
        match action {
            Action::ShowTab(index) => {
                if index < self.tabs.len() {
                    self.active = index;
                }
            }
            Action::ShowLastTab => self.active = self.tabs.len() - 1,
            Action::CloseTab(index) => self.close_tab(index),
            Action::OpenSessionTab(session) => self.open_session_tab(session),
            Action::NextTab => self.active = (self.active + 1) % self.tabs.len(),
            Action::PreviousTab => {
                self.active = (self.active + self.tabs.len() - 1) % self.tabs.len();
            }
            Action::OpenPath(path) => {
                self.browser = None;
                self.send(UiEvent::OpenPath(path));
            }
            Action::Browse(dir) => self.browse(dir),
            Action::CloseBrowser => self.browser = None,
            Action::SaveArchive(target) => {
                let tab = &self.tabs[self.active];
                // A tab of every run lists none.
                let sessions = if tab.filter.sessions.is_empty() {
                    (0..self.snapshot.runs.len() as u16).collect()
                } else {
                    tab.filter.sessions.clone()
                };
                self.tell(format!("saving {}…", target.display()));
                self.send(UiEvent::SaveArchive { sessions, target });
            }
            Action::CycleTheme => {
                self.theme = match self.theme {
                    egui::ThemePreference::System => egui::ThemePreference::Light,
                    egui::ThemePreference::Light => egui::ThemePreference::Dark,
                    egui::ThemePreference::Dark => egui::ThemePreference::System,
                };
            }
            Action::ToggleHelp => self.help_open = !self.help_open,
            Action::CloseHelp => self.help_open = false,
            Action::Back => self.back(),
            Action::ShowView(view) => {
                let tab = self.tab_mut();
                tab.view = view;
                tab.analysis = None;
            }
            Action::SelectMetricSeries(series) => self.tab_mut().metric_series = Some(series),
            Action::SetMetricTotals(totals) => self.tab_mut().metric_totals = totals,
            Action::ToggleView => {
                let tab = self.tab_mut();
                tab.view = match tab.view {
                    ViewKind::Logs => ViewKind::Traces,
                    ViewKind::Traces => ViewKind::Logs,
                };
            }
            Action::SetMinLevel(level) => self.set_min_level(level),
            Action::ShowService { service, shown } => {
                let services = &mut self.tab_mut().filter.services;
                if shown {
                    services.push(service.to_string());
                } else {
                    services.retain(|s| **s != *service);
                }
            }
            Action::AllServices => self.tab_mut().filter.services.clear(),
            Action::SetSince(window) => self.set_since(window),
            Action::SetTimeRange {
                from_unix_nano,
                to_unix_nano,
            } => crate::histogram::set_time_range(
                &mut self.tab_mut().filter,
                from_unix_nano,
                to_unix_nano,
            ),
            Action::ClearTimeRange => {
                crate::histogram::clear_time_range(&mut self.tab_mut().filter)
            }
            Action::SortTraces(key) => self.sort_traces(|tab| tab.sort_traces_by(key)),
            Action::NextSortKey => self.sort_traces(|tab| {
                let key = tab.trace_sort.key.next();
                tab.sort_traces_by(key);
            }),
            Action::ReverseSort => self.sort_traces(|tab| {
                tab.trace_sort.descending = !tab.trace_sort.descending;
            }),
            Action::ClearFilters => {
                let tab = self.tab_mut();
                tab.filter = tab.base.clone();
            }
            Action::FilterByValue {
                kind,
                value,
                exclude,
            } => self.filter_by_value(kind, value, exclude),
            Action::MoveSelection(step) => {
                let total = self.total();
                let rows = step.rows(self.tab().logs.visible);
                self.tab_mut().list_mut().move_selection(rows, total);
                self.identify_selection();
            }
            Action::SelectFirst => {
                let total = self.total();
                self.tab_mut().list_mut().select(0, total);
                self.identify_selection();
            }
            Action::FollowNewest => self.follow_newest(),
            Action::ToggleFollow => {
                let list = self.tab_mut().list_mut();
                list.follow = !list.follow;
            }
            Action::FocusSearch => self.focus_search = true,
            Action::TypeInSearch(text) => {
                self.focus_search = true;
                self.tab_mut().filter.search.push_str(&text);
            }
            Action::Find {
                forward,
                errors_only,
            } => self.find(forward, errors_only),
            Action::OpenSelected => self.open_selected(),
            Action::JumpSelected => self.jump_selected(),
            Action::SelectLog { row, log } => {
                let total = self.snapshot.logs.total;
                let record = RecordRef::Log(log);
                self.tab_mut()
                    .logs
                    .select_item(row, Item::Record(record), total);
                self.open_detail(record);
            }
            Action::SelectTrace { row, trace } => {
                let total = self.snapshot.traces.total;
                self.tab_mut()
                    .traces
                    .select_item(row, Item::Trace(trace), total);
                self.open_trace(trace, None);
            }
            Action::SelectWaterfallRow { row, record } => {
                let total = self.waterfall_rows.len();
                self.tab_mut()
                    .waterfall
                    .select_item(row, Item::Record(record), total);
                self.open_detail(record);
            }
            Action::OpenTrace { trace, focus } => self.open_trace(trace, focus),
            Action::CloseTrace => self.tab_mut().open_trace = None,
            Action::CloseDetail => self.close_detail(),
            Action::Jump(source) => self.jump_to_source(source),
            Action::SetInlineLogs(inline_logs) => self.set_inline_logs(inline_logs),
            Action::ToggleInlineLogs => self.set_inline_logs(!self.inline_logs),
            Action::Zoom(factor) => self.zoom = self.zoom.scaled(factor),
            Action::ZoomAround { factor, at } => self.zoom = self.zoom.scaled_around(factor, at),
            Action::ZoomTo { from, to } => self.zoom = Zoom::region(from, to),
            Action::Pan(by) => self.zoom = self.zoom.panned(by),
            Action::ResetZoom => self.zoom = Zoom::default(),
            Action::PanTo(share) => self.zoom = self.zoom.centred_on(share),
            Action::ToggleFlame => {
                let tab = self.tab();
                if tab.view == ViewKind::Traces && tab.open_trace.is_some() {
                    self.flame = !self.flame;
                } else {
                    self.tell("F shows an open trace as a flame graph: open a trace first");
                }
            }
            Action::Copy(text) => ctx.copy_text(text),
            Action::CopyTraceMarkdown => {
                if let Some(trace) = &self.snapshot.trace {
                    ctx.copy_text(trace_markdown(trace));
                }
            }
            Action::CopyDetail => {
                if let Some(detail) = &self.snapshot.detail {
                    ctx.copy_text(detail_text(detail));
                }
            }
            Action::YankTraceId => {
                if let Some(trace) = self.selected_trace() {
                    let hex = trace_hex(trace);
                    self.tell(format!("copied the trace id {hex}"));
                    ctx.copy_text(hex);
                }
            }
            Action::YankTrace => self.yank_trace(ctx),
            Action::YankTraceOtlp => self.yank_trace_otlp(),
            Action::ExportTab(export) => {
                self.tell(format!("exporting to {}…", export.path.display()));
                let tab = self.tab().id;
                self.send(UiEvent::ExportTab { tab, export });
            }
            Action::Paste(text) => self.paste(&text),
            Action::ShowAnalysis(analysis) => self.show_analysis(analysis),
            Action::Operations(action) => self.apply_operations(action),
        }
    }

    /// Draws one frame; the body of `eframe::App::ui`, also driven by the tests.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if let Some(zoom_factor) = self.restore_zoom.take() {
            ctx.set_zoom_factor(zoom_factor);
        }
        if ctx.options(|o| o.theme_preference) != self.theme {
            ctx.set_theme(self.theme);
        }
        self.zoom_factor = ctx.zoom_factor();
        self.receive();
        self.copy_trace_text(ui.ctx());
        for action in self.keys.actions(ui.ctx()) {
            self.apply(action, ui.ctx());
        }
        self.focus_waterfall();
        let actions = self.draw(ui);
        if !actions.is_empty() {
            // What they change is drawn in the next frame.
            ui.ctx().request_repaint();
        }
        for action in actions {
            self.apply(action, ui.ctx());
        }
        Keys::leave_field_on_escape(ui.ctx());
        self.sync();
        if self.connection.has_pending() {
            ui.ctx().request_repaint();
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.saved().store(storage);
    }
}
