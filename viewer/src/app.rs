//! The UI thread: tabs, filter bar, views, keyboard. It draws the latest snapshot and
//! sends events; it never waits, locks or reads a file.

use egui::{Key, Modifiers};

use crate::connection::Connection;
use crate::filter::{Filter, Since};
use crate::model::{Level, TraceId};
use crate::snapshot::{RecordRef, Snapshot, SourceRef, TabId, UiEvent, ViewKind};
use crate::views;

/// Scroll state of one list.
#[derive(Clone, Copy, Debug)]
pub struct ListState {
    /// First row shown.
    pub top: usize,
    /// Stick to the newest row.
    pub follow: bool,
    pub selected: Option<usize>,
    /// Rows that fit, as of the last frame.
    pub visible: usize,
    /// Wheel movement not yet a whole row.
    pub scroll_remainder: f32,
}

impl Default for ListState {
    fn default() -> Self {
        Self {
            top: 0,
            follow: true,
            selected: None,
            visible: 40,
            scroll_remainder: 0.0,
        }
    }
}

impl ListState {
    /// Moves the selection by `delta` rows within `total`, scrolling to keep it shown.
    pub fn move_selection(&mut self, delta: isize, total: usize) {
        if total == 0 {
            return;
        }
        let current = self.selected.unwrap_or(if delta >= 0 {
            self.top.saturating_sub(1)
        } else {
            self.top + self.visible
        });
        let target = current.saturating_add_signed(delta).min(total - 1);
        self.select(target, total);
    }

    pub fn select(&mut self, row: usize, total: usize) {
        self.selected = Some(row);
        self.follow = row + 1 >= total && self.follow;
        self.reveal(row, total);
    }

    /// Scrolls so that `row` is shown.
    pub fn reveal(&mut self, row: usize, total: usize) {
        let visible = self.visible.max(1);
        if row < self.top {
            self.top = row;
            self.follow = false;
        } else if row >= self.top + visible {
            self.top = row + 1 - visible;
        }
        self.clamp(total);
    }

    pub fn scroll(&mut self, rows: isize, total: usize) {
        if rows < 0 {
            self.follow = false;
        }
        self.top = self.top.saturating_add_signed(rows);
        self.clamp(total);
        if rows > 0 && self.top + self.visible >= total {
            self.follow = true;
        }
    }

    pub fn clamp(&mut self, total: usize) {
        let last_top = total.saturating_sub(self.visible);
        if self.follow {
            self.top = last_top;
        }
        self.top = self.top.min(last_top);
    }
}

/// One tab: a stream with its own filter and view.
#[derive(Clone, Debug)]
pub struct TabUi {
    pub id: TabId,
    pub name: String,
    pub filter: Filter,
    /// What defines the tab (its service or run): "Clear filters" returns to it.
    pub base: Filter,
    pub view: ViewKind,
    pub logs: ListState,
    pub traces: ListState,
    pub open_trace: Option<TraceId>,
    pub waterfall: ListState,
    /// Whether the tab can be closed (the "All" tab cannot).
    pub closable: bool,
}

impl TabUi {
    fn new(id: TabId, name: String, filter: Filter, closable: bool) -> Self {
        Self {
            id,
            name,
            base: filter.clone(),
            filter,
            view: ViewKind::Logs,
            logs: ListState::default(),
            traces: ListState {
                follow: false,
                ..ListState::default()
            },
            open_trace: None,
            waterfall: ListState {
                follow: false,
                ..ListState::default()
            },
            closable,
        }
    }

    pub fn list_mut(&mut self) -> &mut ListState {
        match (self.view, self.open_trace) {
            (ViewKind::Logs, _) => &mut self.logs,
            (ViewKind::Traces, None) => &mut self.traces,
            (ViewKind::Traces, Some(_)) => &mut self.waterfall,
        }
    }
}

/// An action on a row that the backend had not published yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    LogDetail(usize),
    OpenTrace(usize),
    Jump(usize),
}

/// What the UI last told the backend, so each change is sent once.
#[derive(Default, PartialEq)]
struct Sent {
    tab: Option<(TabId, Filter)>,
    viewport: Option<(TabId, ViewKind, usize, usize, bool)>,
    trace: Option<(TabId, Option<TraceId>)>,
}

/// The Oculus viewer.
pub struct App {
    connection: Connection,
    pub snapshot: Snapshot,
    pub tabs: Vec<TabUi>,
    pub active: usize,
    next_tab: TabId,
    services_seen: usize,
    opened_seen: usize,
    pub detail_open: bool,
    pub help_open: bool,
    pub inline_logs: bool,
    /// First key of a two-key binding (`gg`, `gt`, `gT`).
    pending_g: bool,
    find_request: u64,
    pub focus_search: bool,
    /// What the user typed in "Open a path".
    pub path_to_open: String,
    /// An action waiting for its row, in a tab.
    pending: Option<(TabId, Pending)>,
    sent: Sent,
    /// Waterfall zoom: the shown part of the trace, as fractions of its duration.
    pub zoom: (f64, f64),
}

impl App {
    pub fn new(connection: Connection, initial_opened: usize) -> Self {
        Self {
            connection,
            snapshot: Snapshot::default(),
            tabs: vec![TabUi::new(0, "All".to_owned(), Filter::default(), false)],
            active: 0,
            next_tab: 1,
            services_seen: 0,
            opened_seen: initial_opened,
            detail_open: false,
            help_open: false,
            inline_logs: true,
            pending_g: false,
            find_request: 0,
            focus_search: false,
            path_to_open: String::new(),
            pending: None,
            sent: Sent::default(),
            zoom: (0.0, 1.0),
        }
    }

    pub fn tab(&self) -> &TabUi {
        &self.tabs[self.active]
    }

    pub fn tab_mut(&mut self) -> &mut TabUi {
        &mut self.tabs[self.active]
    }

    pub fn send(&mut self, event: UiEvent) {
        self.connection.send(event);
    }

    /// Whether the backend thread stopped (it logged why); the data shown is stale.
    pub fn backend_gone(&self) -> bool {
        self.connection.backend_gone()
    }

    /// Whether the snapshot describes the shown tab.
    pub fn snapshot_is_current(&self) -> bool {
        self.snapshot.tab == self.tab().id
    }

    fn add_tab(&mut self, name: String, filter: Filter) -> usize {
        let id = self.next_tab;
        self.next_tab += 1;
        self.tabs.push(TabUi::new(id, name, filter, true));
        self.tabs.len() - 1
    }

    pub fn open_session_tab(&mut self, session: u16) {
        let name = self
            .snapshot
            .sessions
            .get(session as usize)
            .cloned()
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

    pub fn close_tab(&mut self, index: usize) {
        if !self.tabs[index].closable {
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
        if self.connection.snapshots.update() {
            self.snapshot = std::mem::take(self.connection.snapshots.output_buffer_mut());
        }
        // New services get their own tab.
        let services: Vec<String> = self.snapshot.services
            [self.services_seen.min(self.snapshot.services.len())..]
            .iter()
            .map(|s| s.to_string())
            .collect();
        self.services_seen += services.len();
        for service in services {
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
            if let Some(row) = found.row {
                let view = self.tab().view;
                let total = if view == ViewKind::Logs {
                    self.snapshot.logs.total
                } else {
                    self.snapshot.traces.total
                };
                self.tab_mut().list_mut().select(row, total);
                if view == ViewKind::Logs {
                    self.select_log_row(row);
                }
            }
        }
    }

    /// Sends what changed since the last frame.
    fn sync(&mut self) {
        let tab = &self.tabs[self.active];
        let shown = Some((tab.id, tab.filter.clone()));
        if self.sent.tab != shown {
            self.sent.tab = shown;
            self.connection.send(UiEvent::ShowTab {
                tab: tab.id,
                filter: tab.filter.clone(),
            });
        }
        let (view, list) = match tab.view {
            ViewKind::Logs => (ViewKind::Logs, &tab.logs),
            ViewKind::Traces => (ViewKind::Traces, &tab.traces),
        };
        let viewport = Some((tab.id, view, list.top, list.visible, list.follow));
        if self.sent.viewport != viewport {
            self.sent.viewport = viewport;
            self.connection.send(UiEvent::Viewport {
                tab: tab.id,
                view,
                top: list.top,
                rows: list.visible,
                follow: list.follow,
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
        self.connection.flush();
    }

    /// Opens the detail of a log row; a row the backend has not published yet (just
    /// jumped to) opens as soon as it is.
    pub fn select_log_row(&mut self, row: usize) {
        self.pending = None;
        if self.snapshot_is_current()
            && let Some(log) = self.snapshot.logs.row(row)
        {
            let record = RecordRef::Log(log.index);
            self.send(UiEvent::Select(Some(record)));
            self.detail_open = true;
        } else {
            self.pending = Some((self.tab().id, Pending::LogDetail(row)));
        }
    }

    /// Opens the trace of a row of the trace list, as soon as the row is published.
    fn open_trace_row(&mut self, row: usize) {
        self.pending = None;
        match self
            .snapshot_is_current()
            .then(|| self.snapshot.traces.row(row))
            .flatten()
        {
            Some(trace) => {
                let trace = trace.trace_id;
                self.open_trace(trace, None);
            }
            None => self.pending = Some((self.tab().id, Pending::OpenTrace(row))),
        }
    }

    /// Carries out what waited for rows the backend has now published.
    fn resolve_pending(&mut self) {
        let Some((tab, pending)) = self.pending else {
            return;
        };
        if tab != self.tab().id {
            self.pending = None;
            return;
        }
        let published = self.snapshot_is_current()
            && match pending {
                Pending::LogDetail(row) | Pending::Jump(row) => {
                    self.snapshot.logs.row(row).is_some()
                }
                Pending::OpenTrace(row) => self.snapshot.traces.row(row).is_some(),
            };
        if published {
            self.pending = None;
            match pending {
                Pending::LogDetail(row) => self.select_log_row(row),
                Pending::OpenTrace(row) => self.open_trace_row(row),
                Pending::Jump(_) => self.jump_selected(),
            }
        }
    }

    /// Opens a trace in the shown tab, focused on a record of it.
    pub fn open_trace(&mut self, trace: TraceId, focus: Option<RecordRef>) {
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
        self.zoom = (0.0, 1.0);
        self.sent.trace = Some((id, Some(trace)));
        self.send(UiEvent::OpenTrace {
            tab: id,
            trace,
            focus,
        });
    }

    pub fn jump_to_source(&mut self, source: SourceRef) {
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
            from: list.selected,
            forward,
            errors_only,
            request: self.find_request,
        });
    }

    /// The waterfall is all in the snapshot: its matches are found here.
    fn find_in_waterfall(&mut self, forward: bool, errors_only: bool) {
        let rows = views::waterfall_rows(self);
        let total = rows.len();
        let is_hit = |row: &views::WaterfallRow<'_>| match row {
            views::WaterfallRow::Span(span) => {
                if errors_only {
                    span.error
                } else {
                    !span.highlights.is_empty()
                }
            }
            views::WaterfallRow::Log { log, .. } => {
                if errors_only {
                    log.level >= Level::Error
                } else {
                    !log.highlights.is_empty()
                }
            }
        };
        let selected = self.tab().waterfall.selected;
        let found = if forward {
            let start = selected.map_or(0, |row| row + 1);
            (start..total).find(|&r| is_hit(&rows[r]))
        } else {
            let end = selected.unwrap_or(total).min(total);
            (0..end).rev().find(|&r| is_hit(&rows[r]))
        };
        drop(rows);
        if let Some(row) = found {
            self.tab_mut().waterfall.select(row, total);
        }
    }

    /// Vim-style keys; ignored while a text field has the focus.
    fn keys(&mut self, ctx: &egui::Context) {
        if ctx.memory(|m| m.focused().is_some()) {
            if ctx.input(|i| i.key_pressed(Key::Escape)) {
                ctx.memory_mut(|m| m.stop_text_input());
            }
            return;
        }
        let events = ctx.input(|i| i.events.clone());
        for event in events {
            match event {
                egui::Event::Text(text) => {
                    for c in text.chars() {
                        self.key_char(c);
                    }
                }
                egui::Event::Key {
                    key,
                    pressed: true,
                    modifiers,
                    ..
                } => self.key(key, modifiers),
                _ => {}
            }
        }
    }

    fn total(&self) -> usize {
        let tab = self.tab();
        match (tab.view, tab.open_trace) {
            (ViewKind::Logs, _) => self.snapshot.logs.total,
            (ViewKind::Traces, None) => self.snapshot.traces.total,
            (ViewKind::Traces, Some(_)) => views::waterfall_rows(self).len(),
        }
    }

    fn key(&mut self, key: Key, modifiers: Modifiers) {
        let total = self.total();
        if modifiers.ctrl || modifiers.command {
            let half = (self.tab().logs.visible / 2).max(1) as isize;
            match key {
                Key::D => self.tab_mut().list_mut().move_selection(half, total),
                Key::U => self.tab_mut().list_mut().move_selection(-half, total),
                _ => {}
            }
            return;
        }
        match key {
            Key::Enter => self.open_selected(),
            Key::Escape => {
                if self.help_open {
                    self.help_open = false;
                } else if self.detail_open {
                    self.detail_open = false;
                    self.send(UiEvent::Select(None));
                } else if self.tab().open_trace.is_some() {
                    self.tab_mut().open_trace = None;
                }
            }
            Key::ArrowDown => self.tab_mut().list_mut().move_selection(1, total),
            Key::ArrowUp => self.tab_mut().list_mut().move_selection(-1, total),
            Key::PageDown => {
                let page = self.tab().logs.visible as isize;
                self.tab_mut().list_mut().move_selection(page, total);
            }
            Key::PageUp => {
                let page = self.tab().logs.visible as isize;
                self.tab_mut().list_mut().move_selection(-page, total);
            }
            _ => {}
        }
    }

    fn key_char(&mut self, c: char) {
        let total = self.total();
        if std::mem::take(&mut self.pending_g) {
            match c {
                'g' => self.tab_mut().list_mut().select(0, total),
                't' => self.active = (self.active + 1) % self.tabs.len(),
                'T' => self.active = (self.active + self.tabs.len() - 1) % self.tabs.len(),
                _ => {}
            }
            return;
        }
        match c {
            'j' => self.tab_mut().list_mut().move_selection(1, total),
            'k' => self.tab_mut().list_mut().move_selection(-1, total),
            'g' => self.pending_g = true,
            'G' => {
                let list = self.tab_mut().list_mut();
                list.follow = true;
                list.select(total.saturating_sub(1), total);
            }
            '/' => self.focus_search = true,
            'n' => self.find(true, false),
            'N' => self.find(false, false),
            'e' => self.find(true, true),
            'E' => self.find(false, true),
            'o' => self.jump_selected(),
            't' => {
                let tab = self.tab_mut();
                tab.view = match tab.view {
                    ViewKind::Logs => ViewKind::Traces,
                    ViewKind::Traces => ViewKind::Logs,
                };
            }
            'i' => self.inline_logs = !self.inline_logs,
            'f' => {
                let list = self.tab_mut().list_mut();
                list.follow = !list.follow;
            }
            '?' => self.help_open = !self.help_open,
            '+' => views::zoom(self, 0.5),
            '-' => views::zoom(self, 2.0),
            '1'..='9' => {
                let index = c as usize - '1' as usize;
                if index < self.tabs.len() {
                    self.active = index;
                }
            }
            _ => {}
        }
    }

    /// Enter: details of the selected row, or the selected trace.
    fn open_selected(&mut self) {
        let tab = self.tab();
        match (tab.view, tab.open_trace) {
            (ViewKind::Logs, _) => {
                if let Some(row) = tab.logs.selected {
                    self.select_log_row(row);
                }
            }
            (ViewKind::Traces, None) => {
                if let Some(row) = tab.traces.selected {
                    self.open_trace_row(row);
                }
            }
            (ViewKind::Traces, Some(_)) => {
                let rows = views::waterfall_rows(self);
                if let Some(record) = tab
                    .waterfall
                    .selected
                    .and_then(|r| rows.get(r))
                    .map(|r| r.record())
                {
                    self.send(UiEvent::Select(Some(record)));
                    self.detail_open = true;
                }
            }
        }
    }

    /// The source location of the selected row, opened in Neovim.
    fn jump_selected(&mut self) {
        let tab = self.tab();
        // A log row just moved to may not be published yet: jump once it is.
        if tab.view == ViewKind::Logs
            && let Some(row) = tab.logs.selected
            && !(self.snapshot_is_current() && self.snapshot.logs.row(row).is_some())
        {
            self.pending = Some((tab.id, Pending::Jump(row)));
            return;
        }
        let source = match (tab.view, tab.open_trace) {
            (ViewKind::Logs, _) => tab
                .logs
                .selected
                .and_then(|row| self.snapshot.logs.row(row))
                .and_then(|log| log.source.clone()),
            (ViewKind::Traces, Some(_)) => {
                let rows = views::waterfall_rows(self);
                tab.waterfall
                    .selected
                    .and_then(|r| rows.get(r))
                    .and_then(|r| r.source().cloned())
            }
            (ViewKind::Traces, None) => None,
        };
        match source.or_else(|| self.snapshot.detail.as_ref().and_then(|d| d.source.clone())) {
            Some(source) => self.jump_to_source(source),
            None => self.snapshot.status.notice = Some("no source location on this row".to_owned()),
        }
    }

    /// Sets the time window of the shown tab.
    pub fn set_since(&mut self, window: Option<std::time::Duration>) {
        self.tab_mut().filter.since = window.map(|window| Since {
            window,
            chosen_at_unix_nano: crate::time::now_unix_nano(),
        });
    }

    pub fn set_min_level(&mut self, level: Level) {
        self.tab_mut().filter.min_level = level;
    }

    /// Draws one frame; the body of `eframe::App::ui`, also driven by the tests.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.receive();
        self.resolve_pending();
        self.keys(ui.ctx());
        views::show(self, ui);
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
}

#[cfg(test)]
mod tests {
    use super::ListState;

    #[test]
    fn rows_past_f32_precision_scroll_one_at_a_time() {
        // 2^24 is where f32 stops counting by one; go well past it.
        let total = 50_000_000;
        let mut list = ListState {
            visible: 40,
            follow: false,
            ..ListState::default()
        };
        list.select(33_554_431, total);
        list.move_selection(1, total);
        assert_eq!(list.selected, Some(33_554_432));
        list.move_selection(1, total);
        assert_eq!(list.selected, Some(33_554_433));
        list.scroll(1, total);
        assert_eq!(list.top, 33_554_433 + 1 - 40 + 1);
        list.scroll(-1, total);
        assert_eq!(list.top, 33_554_433 + 1 - 40);
        assert!(!list.follow);
        // Scrolling to the end follows the newest again.
        list.scroll(isize::MAX, total);
        assert!(list.follow);
        assert_eq!(list.top, total - 40);
    }
}
