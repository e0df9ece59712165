//! Drawing: tab bar, filter bar, log table, trace list, waterfall, detail pane,
//! status line and help. Everything here reads the snapshot; nothing computes.

use egui::text::LayoutJob;
use egui::{Align, Color32, FontId, Layout, RichText, Sense, TextFormat, Ui, Vec2};
use egui_extras::{Column, TableBuilder};

use crate::app::{App, ListState};
use crate::model::{Level, span_hex, trace_hex};
use crate::snapshot::{
    Detail, LogRow, RecordRef, SourceRef, TraceView, UiEvent, ViewKind, WaterfallSpan,
};
use crate::time::{format_clock, format_duration};

const ROW_HEIGHT: f32 = 20.0;
const SCROLLBAR_WIDTH: f32 = 10.0;

pub fn level_color(level: Level) -> Color32 {
    match level {
        Level::Unset => Color32::GRAY,
        Level::Trace => Color32::from_rgb(140, 140, 160),
        Level::Debug => Color32::from_rgb(100, 160, 230),
        Level::Info => Color32::from_rgb(110, 200, 120),
        Level::Warn => Color32::from_rgb(235, 190, 60),
        Level::Error => Color32::from_rgb(240, 90, 80),
        Level::Fatal => Color32::from_rgb(255, 60, 200),
    }
}

/// Text with the search's matches on a highlighted background.
fn highlighted(
    ui: &Ui,
    text: &str,
    ranges: &[std::ops::Range<usize>],
    color: Color32,
) -> LayoutJob {
    let mut job = LayoutJob::default();
    append_highlighted(&mut job, ui, text, ranges, color);
    job.wrap.max_rows = 1;
    job.wrap.break_anywhere = true;
    job
}

fn append_highlighted(
    job: &mut LayoutJob,
    ui: &Ui,
    text: &str,
    ranges: &[std::ops::Range<usize>],
    color: Color32,
) {
    let font = FontId::monospace(12.0);
    let plain = TextFormat::simple(font.clone(), color);
    let marked = TextFormat {
        background: ui.visuals().selection.bg_fill,
        color: Color32::WHITE,
        ..TextFormat::simple(font, color)
    };
    let mut at = 0;
    for range in ranges {
        if range.start < at || range.end > text.len() {
            continue;
        }
        job.append(&text[at..range.start], 0.0, plain.clone());
        job.append(&text[range.clone()], 0.0, marked.clone());
        at = range.end;
    }
    job.append(&text[at..], 0.0, plain);
}

pub fn show(app: &mut App, ui: &mut Ui) {
    egui::Panel::top("tabs").show(ui, |ui| tab_bar(app, ui));
    egui::Panel::top("filters").show(ui, |ui| filter_bar(app, ui));
    egui::Panel::bottom("status").show(ui, |ui| status_line(app, ui));
    if app.detail_open {
        egui::Panel::right("detail")
            .default_size(440.0)
            .min_size(360.0)
            .resizable(true)
            .show(ui, |ui| detail_pane(app, ui));
    }
    egui::CentralPanel::default().show(ui, |ui| {
        let tab = app.tab();
        match (tab.view, tab.open_trace) {
            (ViewKind::Logs, _) => log_table(app, ui),
            (ViewKind::Traces, None) => trace_list(app, ui),
            (ViewKind::Traces, Some(_)) => waterfall(app, ui),
        }
    });
    if app.help_open {
        help(app, ui.ctx());
    }
}

fn tab_bar(app: &mut App, ui: &mut Ui) {
    ui.horizontal_wrapped(|ui| {
        let mut close = None;
        for (i, tab) in app.tabs.iter().enumerate() {
            let label = if i < 9 {
                format!("{} {}", i + 1, tab.name)
            } else {
                tab.name.clone()
            };
            let response = ui.selectable_label(i == app.active, label);
            if response.clicked() {
                app.active = i;
            }
            if tab.closable && response.middle_clicked() {
                close = Some(i);
            }
        }
        if let Some(i) = close {
            app.close_tab(i);
        }
        ui.separator();
        ui.menu_button("Runs", |ui| {
            let sessions = app.snapshot.sessions.clone();
            if sessions.is_empty() {
                ui.label("no runs yet");
            }
            for (i, name) in sessions.iter().enumerate() {
                if ui.button(name).clicked() {
                    app.open_session_tab(i as u16);
                    ui.close();
                }
            }
            ui.separator();
            ui.label("Open a data directory, a run or a segment file:");
            ui.horizontal(|ui| {
                let field = ui.add(
                    egui::TextEdit::singleline(&mut app.path_to_open)
                        .hint_text("path")
                        .desired_width(280.0),
                );
                let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if (ui.button("Open").clicked() || entered) && !app.path_to_open.trim().is_empty() {
                    let path = std::path::PathBuf::from(app.path_to_open.trim());
                    app.path_to_open.clear();
                    app.send(UiEvent::OpenPath(path));
                    ui.close();
                }
            });
        });
        if app.tab().closable && ui.small_button("Close tab").clicked() {
            let active = app.active;
            app.close_tab(active);
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui.small_button("? Help").clicked() {
                app.help_open = !app.help_open;
            }
        });
    });
}

fn filter_bar(app: &mut App, ui: &mut Ui) {
    let counts = app.snapshot.level_counts;
    let current = app.snapshot_is_current();
    ui.horizontal_wrapped(|ui| {
        let tab = app.tab_mut();
        ui.selectable_value(&mut tab.view, ViewKind::Logs, "Logs");
        ui.selectable_value(&mut tab.view, ViewKind::Traces, "Traces");
        ui.separator();
        let min = tab.filter.min_level;
        let all = if current {
            counts.iter().sum::<u64>()
        } else {
            0
        };
        if ui
            .selectable_label(min == Level::Unset, format!("all {all}"))
            .clicked()
        {
            tab.filter.min_level = Level::Unset;
        }
        for level in &Level::ALL[1..] {
            let count = if current { counts[*level as usize] } else { 0 };
            let text =
                RichText::new(format!("{} {count}", level.label())).color(level_color(*level));
            let response = ui
                .selectable_label(min == *level, text)
                .on_hover_text(format!("show {} and above", level.label()));
            if response.clicked() {
                tab.filter.min_level = if min == *level { Level::Unset } else { *level };
            }
        }
        ui.separator();
        let services = app.snapshot.services.clone();
        let tab = app.tab_mut();
        let label = match tab.filter.services.len() {
            0 => "all services".to_owned(),
            1 => tab.filter.services[0].clone(),
            n => format!("{n} services"),
        };
        ui.menu_button(label, |ui| {
            for service in &services {
                let mut shown = tab.filter.services.iter().any(|s| **s == **service);
                if ui.checkbox(&mut shown, &**service).changed() {
                    if shown {
                        tab.filter.services.push(service.to_string());
                    } else {
                        tab.filter.services.retain(|s| **s != **service);
                    }
                }
            }
            if !tab.filter.services.is_empty() && ui.button("all services").clicked() {
                tab.filter.services.clear();
            }
        });
        let search = ui.add(
            egui::TextEdit::singleline(&mut tab.filter.search)
                .hint_text("search (/)")
                .desired_width(220.0),
        );
        ui.checkbox(&mut tab.filter.regex, "regex");
        if app.focus_search {
            app.focus_search = false;
            search.request_focus();
        }
        let tab = app.tab_mut();
        ui.add(
            egui::TextEdit::singleline(&mut tab.filter.scope)
                .hint_text("scope")
                .desired_width(100.0),
        );
        ui.add(
            egui::TextEdit::singleline(&mut tab.filter.attributes)
                .hint_text("key=value key~text")
                .desired_width(160.0),
        );
        ui.add(
            egui::TextEdit::singleline(&mut tab.filter.trace_id)
                .hint_text("trace id")
                .desired_width(120.0),
        );
        let since = tab.filter.since.map(|s| s.window);
        let mut chosen = since;
        egui::ComboBox::from_label("time range")
            .selected_text(match since {
                None => "all time".to_owned(),
                Some(w) => format!("last {}", humantime::format_duration(w)),
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut chosen, None, "all time");
                for minutes in [1, 5, 15, 60] {
                    let window = Some(std::time::Duration::from_secs(minutes * 60));
                    ui.selectable_value(&mut chosen, window, format!("last {minutes} min"));
                }
            });
        if chosen != since {
            app.set_since(chosen);
        }
        let tab = app.tab_mut();
        if tab.filter != tab.base && ui.button("Clear filters").clicked() {
            tab.filter = tab.base.clone();
        }
        if let Some(error) = &app.snapshot.filter_error {
            ui.colored_label(Color32::from_rgb(240, 90, 80), error);
        }
    });
}

fn status_line(app: &mut App, ui: &mut Ui) {
    let status = &app.snapshot.status;
    let snapshot = &app.snapshot;
    ui.horizontal(|ui| {
        let (word, color) = if status.receiving {
            ("receiving", Color32::from_rgb(110, 200, 120))
        } else {
            ("idle", Color32::GRAY)
        };
        let (dot, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
        ui.painter().circle_filled(dot.center(), 4.0, color);
        ui.colored_label(color, word);
        if app.backend_gone() {
            ui.colored_label(
                level_color(Level::Error),
                "the reader stopped: what is shown is no longer updated (see the log)",
            );
        }
        if let Some((loaded, expected)) = status.loading {
            let share = loaded as f32 / expected.max(1) as f32;
            ui.add(
                egui::ProgressBar::new(share)
                    .desired_width(160.0)
                    .text(format!("loading {loaded} of {expected}")),
            );
        }
        ui.label(format!(
            "{} logs · {} spans · {} traces · {:.0}/s",
            status.logs, status.spans, status.traces, status.records_per_second
        ));
        if status.metric_points > 0 {
            ui.label(format!("· {} metric points kept", status.metric_points));
        }
        let tab = app.tab();
        let (shown, total, progress) = match tab.view {
            ViewKind::Logs => (snapshot.logs.total, status.logs, snapshot.logs.progress),
            ViewKind::Traces => (
                snapshot.traces.total,
                status.traces,
                snapshot.traces.progress,
            ),
        };
        ui.separator();
        ui.label(format!("shown {shown}"));
        if total > shown && progress.is_none() {
            ui.label(format!("· {} filtered out", total - shown));
        }
        if let Some(progress) = progress {
            ui.add(
                egui::ProgressBar::new(progress)
                    .desired_width(120.0)
                    .text("filtering"),
            );
        }
        let list = match tab.view {
            ViewKind::Logs => &tab.logs,
            ViewKind::Traces => &tab.traces,
        };
        if let Some(row) = list.selected {
            ui.label(format!("· row {} selected", row + 1));
        }
        ui.separator();
        ui.label(&status.collector);
        if let Some(notice) = &status.notice {
            ui.separator();
            ui.colored_label(Color32::from_rgb(235, 190, 60), notice);
        }
        if let Some(damage) = status.damage.last() {
            ui.separator();
            ui.colored_label(
                Color32::from_rgb(240, 90, 80),
                format!("damaged data: {damage}"),
            )
            .on_hover_text(status.damage.join("\n"));
        }
    });
}

/// Sizes `list` to the rows that fit in what is left of `ui` and applies the wheel and
/// the scrollbar; returns the area the table goes in.
fn scrolled_list(ui: &mut Ui, list: &mut ListState, total: usize) -> egui::Rect {
    let area = ui.available_rect_before_wrap();
    list.visible = table_rows_that_fit(ui, area.height());
    scroll_input(ui, list, total, area);
    list.clamp(total);
    area
}

/// A table of a list's rows: drawn row by row (no scroll area of its own), rows that
/// take clicks, columns the user can resize.
fn list_table<'a>(ui: &'a mut Ui, id: &str) -> TableBuilder<'a> {
    TableBuilder::new(ui)
        .id_salt(id)
        .striped(true)
        .resizable(true)
        .vscroll(false)
        .sense(Sense::click())
}

/// A table's header row.
fn titles(mut header: egui_extras::TableRow<'_, '_>, titles: &[&str]) {
    for title in titles {
        header.col(|ui| {
            ui.strong(*title);
        });
    }
}

/// A row the backend has not published yet (it will within a frame or two).
fn not_yet(mut row: egui_extras::TableRow<'_, '_>) {
    row.col(|ui| {
        ui.weak("...");
    });
}

/// The part of `area` left of the scrollbar.
fn table_ui(ui: &mut Ui, area: egui::Rect) -> Ui {
    ui.new_child(
        egui::UiBuilder::new().max_rect(area.with_max_x(area.right() - SCROLLBAR_WIDTH - 2.0)),
    )
}

/// Body rows of a table that fit in `height` under its header; a table row also
/// takes the spacing between items.
fn table_rows_that_fit(ui: &Ui, height: f32) -> usize {
    let pitch = ROW_HEIGHT + ui.spacing().item_spacing.y;
    ((height - pitch - 4.0) / pitch).floor().max(1.0) as usize
}

/// Handles the mouse wheel and the scrollbar for a list drawn row by row, so any
/// number of rows scrolls one row at a time (egui's own scroll offsets are f32).
fn scroll_input(ui: &mut Ui, list: &mut ListState, total: usize, area: egui::Rect) {
    let hovered = ui.rect_contains_pointer(area);
    if hovered {
        let delta = ui.input(|i| i.smooth_scroll_delta.y);
        list.scroll_remainder -= delta / ROW_HEIGHT;
        let whole = list.scroll_remainder.trunc();
        if whole != 0.0 {
            list.scroll_remainder -= whole;
            list.scroll(whole as isize, total);
        }
    }
    // The scrollbar: the handle's position is the top row's share of all rows.
    let bar = egui::Rect::from_min_max(
        egui::pos2(area.right() - SCROLLBAR_WIDTH, area.top()),
        area.right_bottom(),
    );
    let response = ui.interact(
        bar,
        ui.scope_id().with("scrollbar"),
        Sense::click_and_drag(),
    );
    let scrollable = total.saturating_sub(list.visible);
    if let Some(pointer) = response.interact_pointer_pos()
        && scrollable > 0
    {
        let share = ((pointer.y - bar.top()) / bar.height()).clamp(0.0, 1.0);
        list.top = (f64::from(share) * scrollable as f64).round() as usize;
        list.follow = list.top >= scrollable;
    }
    let painter = ui.painter();
    painter.rect_filled(bar, 2.0, ui.visuals().extreme_bg_color);
    if total > 0 {
        let handle_height =
            (bar.height() * list.visible as f32 / total as f32).clamp(16.0, bar.height());
        let share = if scrollable == 0 {
            0.0
        } else {
            list.top as f32 / scrollable as f32
        };
        let y = bar.top() + share * (bar.height() - handle_height);
        let handle = egui::Rect::from_min_size(
            egui::pos2(bar.left(), y),
            Vec2::new(SCROLLBAR_WIDTH, handle_height),
        );
        painter.rect_filled(handle, 2.0, ui.visuals().widgets.inactive.bg_fill);
    }
}

fn follow_button(ui: &mut Ui, list: &mut ListState, total: usize) {
    if !list.follow {
        ui.horizontal(|ui| {
            if ui.button("Follow newest (G)").clicked() {
                list.follow = true;
                list.selected = None;
                list.clamp(total);
            }
            ui.label(format!("paused at row {} of {total}", list.top + 1));
        });
    }
}

fn log_table(app: &mut App, ui: &mut Ui) {
    let total = app.snapshot.logs.total;
    let current = app.snapshot_is_current();
    {
        let list = &mut app.tab_mut().logs;
        follow_button(ui, list, total);
    }
    let area = scrolled_list(ui, &mut app.tab_mut().logs, total);
    let list = app.tab().logs;
    let visible = list.visible;
    let mut clicked: Option<usize> = None;
    let mut open_trace = None;
    let mut jump: Option<SourceRef> = None;
    let mut table_ui = table_ui(ui, area);
    list_table(&mut table_ui, "logs")
        .column(Column::initial(96.0).at_least(40.0))
        .column(Column::initial(52.0).at_least(30.0))
        .column(Column::initial(110.0).at_least(30.0).clip(true))
        .column(Column::initial(130.0).at_least(30.0).clip(true))
        .column(
            Column::remainder()
                .at_least(120.0)
                .clip(true)
                .resizable(false),
        )
        .column(Column::initial(84.0).at_least(30.0).clip(true))
        .column(Column::initial(170.0).at_least(30.0).clip(true))
        .header(ROW_HEIGHT, |header| {
            titles(
                header,
                &[
                    "time", "level", "service", "scope", "message", "trace", "source",
                ],
            );
        })
        .body(|body| {
            let shown = visible.min(total.saturating_sub(list.top));
            body.rows(ROW_HEIGHT, shown, |mut row| {
                let number = list.top + row.index();
                let log = if current {
                    app.snapshot.logs.row(number)
                } else {
                    None
                };
                row.set_selected(list.selected == Some(number));
                let Some(log) = log else {
                    not_yet(row);
                    return;
                };
                row.col(|ui| {
                    ui.monospace(format_clock(log.time_unix_nano));
                });
                row.col(|ui| {
                    ui.label(
                        RichText::new(log.level.label())
                            .color(level_color(log.level))
                            .monospace(),
                    );
                });
                row.col(|ui| {
                    ui.label(&*log.service);
                });
                row.col(|ui| {
                    ui.label(&*log.scope);
                });
                row.col(|ui| {
                    let color = ui.visuals().text_color();
                    ui.add(
                        egui::Label::new(highlighted(ui, &log.message, &log.highlights, color))
                            .selectable(false),
                    );
                });
                row.col(|ui| {
                    if log.trace_id != 0
                        && ui
                            .link(RichText::new(&trace_hex(log.trace_id)[..8]).monospace())
                            .on_hover_text("open the trace")
                            .clicked()
                    {
                        open_trace = Some((log.trace_id, log.index));
                    }
                });
                row.col(|ui| {
                    if let Some(source) = &log.source
                        && ui
                            .link(format!("{}:{}", short_path(&source.file), source.line))
                            .on_hover_text(format!(
                                "open {}:{} in Neovim (o)",
                                source.file, source.line
                            ))
                            .clicked()
                    {
                        jump = Some(source.clone());
                    }
                });
                if row.response().clicked() {
                    clicked = Some(number);
                }
            });
        });
    if let Some(row) = clicked {
        app.tab_mut().logs.select(row, total);
        app.select_log_row(row);
    }
    if let Some((trace, log)) = open_trace {
        app.open_trace(trace, Some(RecordRef::Log(log)));
    }
    if let Some(source) = jump {
        app.jump_to_source(source);
    }
}

fn short_path(path: &str) -> &str {
    let mut parts = path.rsplitn(3, '/');
    let _ = parts.next();
    let _ = parts.next();
    match parts.next() {
        Some(rest) => &path[rest.len() + 1..],
        None => path,
    }
}

fn trace_list(app: &mut App, ui: &mut Ui) {
    let total = app.snapshot.traces.total;
    let current = app.snapshot_is_current();
    let area = scrolled_list(ui, &mut app.tab_mut().traces, total);
    let list = app.tab().traces;
    let visible = list.visible;
    let mut open = None;
    let mut table_ui = table_ui(ui, area);
    list_table(&mut table_ui, "traces")
        .column(Column::initial(96.0).at_least(40.0))
        .column(
            Column::remainder()
                .at_least(160.0)
                .clip(true)
                .resizable(false),
        )
        .column(Column::initial(130.0).at_least(40.0).clip(true))
        .column(Column::initial(90.0).at_least(40.0))
        .column(Column::initial(60.0).at_least(30.0))
        .column(Column::initial(60.0).at_least(30.0))
        .column(Column::initial(90.0).at_least(30.0))
        .header(ROW_HEIGHT, |header| {
            titles(
                header,
                &[
                    "start",
                    "root span",
                    "service",
                    "duration",
                    "spans",
                    "errors",
                    "trace id",
                ],
            );
        })
        .body(|body| {
            let shown = visible.min(total.saturating_sub(list.top));
            body.rows(ROW_HEIGHT, shown, |mut row| {
                let number = list.top + row.index();
                row.set_selected(list.selected == Some(number));
                let Some(trace) = current.then(|| app.snapshot.traces.row(number)).flatten() else {
                    not_yet(row);
                    return;
                };
                row.col(|ui| {
                    ui.monospace(format_clock(trace.start_unix_nano));
                });
                row.col(|ui| {
                    let color = ui.visuals().text_color();
                    ui.add(
                        egui::Label::new(highlighted(
                            ui,
                            &trace.root_name,
                            &trace.highlights,
                            color,
                        ))
                        .selectable(false),
                    );
                });
                row.col(|ui| {
                    ui.label(&*trace.service);
                });
                row.col(|ui| {
                    ui.monospace(format_duration(trace.duration_nano));
                });
                row.col(|ui| {
                    ui.label(trace.spans.to_string());
                });
                row.col(|ui| {
                    if trace.errors > 0 {
                        ui.colored_label(level_color(Level::Error), trace.errors.to_string());
                    } else {
                        ui.weak("0");
                    }
                });
                row.col(|ui| {
                    ui.monospace(&trace_hex(trace.trace_id)[..8]);
                });
                if row.response().clicked() {
                    open = Some((number, trace.trace_id));
                }
            });
        });
    if let Some((row, trace)) = open {
        app.tab_mut().traces.select(row, total);
        app.open_trace(trace, None);
    }
}

/// A row of the waterfall: a span, or a log shown under its span.
pub enum WaterfallRow<'a> {
    Span(&'a WaterfallSpan),
    Log { log: &'a LogRow, depth: u16 },
}

impl WaterfallRow<'_> {
    pub fn record(&self) -> RecordRef {
        match self {
            WaterfallRow::Span(span) => RecordRef::Span(span.index),
            WaterfallRow::Log { log, .. } => RecordRef::Log(log.index),
        }
    }

    pub fn source(&self) -> Option<&SourceRef> {
        match self {
            WaterfallRow::Span(span) => span.source.as_ref(),
            WaterfallRow::Log { log, .. } => log.source.as_ref(),
        }
    }
}

/// The rows of the open trace, with its logs inline when that is on.
pub fn waterfall_rows(app: &App) -> Vec<WaterfallRow<'_>> {
    app.snapshot
        .trace
        .as_ref()
        .map_or_else(Vec::new, |view| rows_of(view, app.inline_logs))
}

fn rows_of(view: &TraceView, inline_logs: bool) -> Vec<WaterfallRow<'_>> {
    let mut rows = Vec::with_capacity(view.spans.len());
    for span in &view.spans {
        rows.push(WaterfallRow::Span(span));
        if inline_logs {
            rows.extend(span.logs.iter().map(|log| WaterfallRow::Log {
                log,
                depth: span.depth + 1,
            }));
        }
    }
    if inline_logs {
        rows.extend(
            view.orphan_logs
                .iter()
                .map(|log| WaterfallRow::Log { log, depth: 0 }),
        );
    }
    rows
}

/// A trace as a Markdown outline: one item per span (indented under its parent) with
/// its service, duration and status, its logs as sub-items. For pasting into an issue.
pub fn trace_markdown(view: &TraceView) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "Trace `{}` ({} spans, {})\n\n",
        trace_hex(view.trace_id),
        view.spans.len(),
        format_duration(view.end_unix_nano.saturating_sub(view.start_unix_nano))
    );
    for span in &view.spans {
        let indent = "  ".repeat(usize::from(span.depth));
        let _ = writeln!(
            out,
            "{indent}- **{}** ({}, {}, +{}){}",
            span.name,
            span.service,
            format_duration(span.end_unix_nano.saturating_sub(span.start_unix_nano)),
            format_duration(span.start_unix_nano.saturating_sub(view.start_unix_nano)),
            if span.error { " ERROR" } else { "" },
        );
        for log in &span.logs {
            let _ = writeln!(out, "{indent}  - `{}` {}", log.level.label(), log.message);
        }
    }
    for log in &view.orphan_logs {
        let _ = writeln!(out, "- `{}` {}", log.level.label(), log.message);
    }
    out
}

/// Zooms the waterfall around its middle by `factor` (below 1 zooms in).
pub fn zoom(app: &mut App, factor: f64) {
    let (start, end) = app.zoom;
    let middle = (start + end) / 2.0;
    let half = ((end - start) * factor / 2.0).clamp(0.0005, 0.5);
    let start = (middle - half).max(0.0);
    app.zoom = (start, (start + 2.0 * half).min(1.0));
}

fn waterfall(app: &mut App, ui: &mut Ui) {
    // Taken out for the frame and put back, rather than cloned: a trace can be large.
    let Some(view) = app.snapshot.trace.take() else {
        ui.horizontal(|ui| {
            if ui.button("< Traces").clicked() {
                app.tab_mut().open_trace = None;
            }
            ui.label("loading the trace...");
        });
        return;
    };
    draw_waterfall(app, ui, &view);
    app.snapshot.trace = Some(view);
}

fn draw_waterfall(app: &mut App, ui: &mut Ui, view: &TraceView) {
    // A focus request (from a log's trace link) selects that span once.
    if let Some(focus) = view.focus
        && app.tab().waterfall.selected.is_none()
    {
        let rows = rows_of(view, app.inline_logs).len();
        let index = rows_of(view, app.inline_logs)
            .iter()
            .position(|r| matches!(r, WaterfallRow::Span(s) if view.spans.get(focus).is_some_and(|f| f.index == s.index)))
            .unwrap_or(0);
        app.tab_mut().waterfall.select(index, rows);
    }
    ui.horizontal(|ui| {
        if ui.button("< Traces").on_hover_text("Esc").clicked() {
            app.tab_mut().open_trace = None;
        }
        ui.monospace(trace_hex(view.trace_id));
        if ui
            .small_button("copy")
            .on_hover_text("copy the trace id")
            .clicked()
        {
            ui.ctx().copy_text(trace_hex(view.trace_id));
        }
        if ui
            .small_button("copy as Markdown")
            .on_hover_text("the spans as an outline, with their logs")
            .clicked()
        {
            ui.ctx().copy_text(trace_markdown(view));
        }
        ui.label(format!(
            "{} spans · {}",
            view.spans.len(),
            format_duration(view.end_unix_nano.saturating_sub(view.start_unix_nano))
        ));
        if view.spans_left_out > 0 {
            ui.colored_label(
                level_color(Level::Warn),
                format!("{} spans not drawn", view.spans_left_out),
            );
        }
        ui.separator();
        ui.checkbox(&mut app.inline_logs, "logs inline (i)");
        if ui.small_button("zoom in (+)").clicked() {
            zoom(app, 0.5);
        }
        if ui.small_button("zoom out (-)").clicked() {
            zoom(app, 2.0);
        }
        if app.zoom != (0.0, 1.0) && ui.small_button("reset zoom").clicked() {
            app.zoom = (0.0, 1.0);
        }
    });
    let rows = rows_of(view, app.inline_logs);
    let total = rows.len();
    let area = ui.available_rect_before_wrap();
    let visible = (area.height() / ROW_HEIGHT).floor().max(1.0) as usize;
    let mut list = app.tab().waterfall;
    list.visible = visible;
    scroll_input(ui, &mut list, total, area);
    list.clamp(total);
    let label_width = (area.width() * 0.38).min(520.0);
    let bars_left = area.left() + label_width + 8.0;
    // Room on the right for the duration written after the longest bar.
    let bars_width = (area.right() - SCROLLBAR_WIDTH - 70.0 - bars_left).max(10.0);
    let trace_start = view.start_unix_nano;
    let trace_len = view.end_unix_nano.saturating_sub(trace_start).max(1) as f64;
    let (zoom_start, zoom_end) = app.zoom;
    let x_of = |time: u64| {
        let share = (time.saturating_sub(trace_start) as f64 / trace_len - zoom_start)
            / (zoom_end - zoom_start);
        bars_left + (share.clamp(-0.01, 1.01) as f32) * bars_width
    };
    let mut clicked = None;
    let mut jump = None;
    let painter = ui.painter().with_clip_rect(area);
    for (offset, row) in rows.iter().skip(list.top).take(visible).enumerate() {
        let number = list.top + offset;
        let y = area.top() + offset as f32 * ROW_HEIGHT;
        let rect = egui::Rect::from_min_size(
            egui::pos2(area.left(), y),
            Vec2::new(area.width() - SCROLLBAR_WIDTH, ROW_HEIGHT),
        );
        let response = ui.interact(
            rect,
            ui.scope_id().with(("waterfall", number)),
            Sense::click(),
        );
        if list.selected == Some(number) {
            painter.rect_filled(
                rect,
                0.0,
                ui.visuals().selection.bg_fill.gamma_multiply(0.5),
            );
        } else if response.hovered() {
            painter.rect_filled(rect, 0.0, ui.visuals().faint_bg_color);
        }
        if response.clicked() {
            clicked = Some((number, row.record()));
        }
        if response.double_clicked() {
            jump = row.source().cloned();
        }
        let text_color = ui.visuals().text_color();
        match row {
            WaterfallRow::Span(span) => {
                let indent = f32::from(span.depth) * 14.0;
                let mut job = highlighted(
                    ui,
                    &span.name,
                    &span.highlights,
                    if span.error {
                        level_color(Level::Error)
                    } else {
                        text_color
                    },
                );
                job.append(
                    &format!("  {}", span.service),
                    0.0,
                    TextFormat::simple(FontId::proportional(11.0), Color32::GRAY),
                );
                job.wrap.max_width = label_width - indent;
                let galley = ui.fonts_mut(|f| f.layout_job(job));
                painter.galley(
                    egui::pos2(area.left() + 4.0 + indent, y + 3.0),
                    galley,
                    text_color,
                );
                let x0 = x_of(span.start_unix_nano);
                let x1 = x_of(span.end_unix_nano).max(x0 + 2.0);
                let bar = egui::Rect::from_min_max(
                    egui::pos2(x0, y + 4.0),
                    egui::pos2(x1, y + ROW_HEIGHT - 4.0),
                );
                let color = if span.error {
                    level_color(Level::Error)
                } else {
                    service_color(&span.service)
                };
                painter.rect_filled(bar, 2.0, color);
                for &event in &span.events {
                    let x = x_of(event);
                    painter.line_segment(
                        [egui::pos2(x, y + 2.0), egui::pos2(x, y + ROW_HEIGHT - 2.0)],
                        (1.5, Color32::WHITE),
                    );
                }
                let duration =
                    format_duration(span.end_unix_nano.saturating_sub(span.start_unix_nano));
                painter.text(
                    egui::pos2(x1 + 4.0, y + ROW_HEIGHT / 2.0),
                    egui::Align2::LEFT_CENTER,
                    duration,
                    FontId::proportional(11.0),
                    Color32::GRAY,
                );
            }
            WaterfallRow::Log { log, depth } => {
                let indent = f32::from(*depth) * 14.0;
                let mut job = LayoutJob::default();
                job.append(
                    log.level.label(),
                    0.0,
                    TextFormat::simple(FontId::monospace(11.0), level_color(log.level)),
                );
                job.append(
                    " ",
                    0.0,
                    TextFormat::simple(FontId::monospace(11.0), text_color),
                );
                append_highlighted(&mut job, ui, &log.message, &log.highlights, text_color);
                job.wrap.max_width = area.width() - indent - 40.0 - SCROLLBAR_WIDTH;
                job.wrap.max_rows = 1;
                let galley = ui.fonts_mut(|f| f.layout_job(job));
                painter.galley(
                    egui::pos2(area.left() + 4.0 + indent, y + 3.0),
                    galley,
                    text_color,
                );
                let x = x_of(log.time_unix_nano);
                painter.circle_filled(
                    egui::pos2(x, y + ROW_HEIGHT / 2.0),
                    3.0,
                    level_color(log.level),
                );
            }
        }
    }
    drop(rows);
    let total_rows = total;
    {
        let tab = app.tab_mut();
        tab.waterfall = list;
    }
    if let Some((row, record)) = clicked {
        app.tab_mut().waterfall.select(row, total_rows);
        app.send(UiEvent::Select(Some(record)));
        app.detail_open = true;
    }
    if let Some(source) = jump {
        app.jump_to_source(source);
    }
}

/// A stable colour per service.
fn service_color(service: &str) -> Color32 {
    let hash = service.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    let hue = (hash % 360) as f32 / 360.0;
    egui::ecolor::Hsva::new(hue, 0.55, 0.8, 1.0).into()
}

fn detail_pane(app: &mut App, ui: &mut Ui) {
    // Taken out for the frame and put back, as the waterfall's trace is.
    let Some(detail) = app.snapshot.detail.take() else {
        ui.weak("loading...");
        return;
    };
    draw_detail(app, ui, &detail);
    app.snapshot.detail = Some(detail);
}

fn draw_detail(app: &mut App, ui: &mut Ui, detail: &Detail) {
    ui.horizontal(|ui| {
        ui.heading(match detail.record {
            RecordRef::Log(_) => "Log",
            RecordRef::Span(_) => "Span",
        });
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui.button("Close").on_hover_text("close (Esc)").clicked() {
                app.detail_open = false;
                app.send(UiEvent::Select(None));
            }
        });
    });
    ui.label(RichText::new(&detail.title).strong());
    ui.horizontal_wrapped(|ui| {
        if detail.trace_id != 0 && ui.button("Open trace").clicked() {
            let focus = Some(detail.record);
            app.open_trace(detail.trace_id, focus);
        }
        if let Some(source) = &detail.source
            && ui
                .button("Jump to source (o)")
                .on_hover_text(format!("{}:{}", source.file, source.line))
                .clicked()
        {
            app.jump_to_source(source.clone());
        }
        if detail.trace_id != 0 && ui.button("Copy trace id").clicked() {
            ui.ctx().copy_text(trace_hex(detail.trace_id));
        }
        if detail.span_id != 0 && ui.button("Copy span id").clicked() {
            ui.ctx().copy_text(span_hex(detail.span_id));
        }
        if ui.button("Copy all").clicked() {
            let mut text = format!("{}\n", detail.title);
            for section in &detail.sections {
                text.push_str(&format!("\n[{}]\n", section.title));
                for row in &section.rows {
                    text.push_str(&format!("{} = {}\n", row.key, row.value));
                }
            }
            ui.ctx().copy_text(text);
        }
    });
    ui.separator();
    let mut open_trace = None;
    egui::ScrollArea::vertical()
        .auto_shrink(false)
        .show(ui, |ui| {
            for (s, section) in detail.sections.iter().enumerate() {
                egui::CollapsingHeader::new(&section.title)
                    .default_open(true)
                    .id_salt(("detail", s))
                    .show(ui, |ui| {
                        if section.rows.is_empty() {
                            ui.weak("none");
                        }
                        // Key, copy button, then the value in all the width left.
                        let key_width = 130.0;
                        for row in &section.rows {
                            ui.horizontal_top(|ui| {
                                ui.allocate_ui_with_layout(
                                    Vec2::new(key_width, ROW_HEIGHT),
                                    Layout::top_down(Align::Min),
                                    |ui| {
                                        ui.set_min_width(key_width);
                                        ui.add(
                                            egui::Label::new(RichText::new(&row.key).monospace().weak())
                                                .truncate(),
                                        );
                                    },
                                );
                                if ui
                                    .small_button("copy")
                                    .on_hover_text("copy the value")
                                    .clicked()
                                {
                                    ui.ctx().copy_text(row.value.clone());
                                }
                                if let Some(trace) = row.opens
                                    && ui
                                        .small_button("open")
                                        .on_hover_text("open this trace")
                                        .clicked()
                                {
                                    open_trace = Some(trace);
                                }
                                ui.add(egui::Label::new(RichText::new(&row.value).monospace()).wrap());
                            });
                        }
                    });
            }
        });
    if let Some(trace) = open_trace {
        app.open_trace(trace, None);
    }
}

const BINDINGS: &[(&str, &str)] = &[
    ("j / k, Down / Up", "next / previous row"),
    ("gg / G", "first row / newest row (and follow)"),
    ("Ctrl-d / Ctrl-u", "half a page down / up"),
    ("PageDown / PageUp", "a page down / up"),
    ("/", "search"),
    ("n / N", "next / previous match"),
    ("e / E", "next / previous error"),
    ("Enter", "details of the row; open the trace"),
    ("Esc", "close help, details, the trace; leave a text field"),
    ("o", "open the row's source in Neovim"),
    ("t", "switch between logs and traces"),
    ("i", "logs inline under their spans"),
    ("+ / -", "zoom the waterfall in / out"),
    ("f", "follow the newest on / off"),
    ("1-9, gt / gT", "tab by number, next / previous tab"),
    ("?", "this help"),
];

fn help(app: &mut App, ctx: &egui::Context) {
    let mut open = app.help_open;
    egui::Window::new("Keyboard")
        .open(&mut open)
        .collapsible(false)
        .anchor(egui::Align2::CENTER_CENTER, Vec2::ZERO)
        .show(ctx, |ui| {
            egui::Grid::new("bindings")
                .num_columns(2)
                .striped(true)
                .show(ui, |ui| {
                    for (keys, what) in BINDINGS {
                        ui.monospace(*keys);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
        });
    app.help_open = open;
}
