//! The log table and the trace list: tables drawn row by row from the snapshot's
//! window of rows.

use egui::{RichText, Sense, Ui, WidgetText};
use egui_extras::{Column, TableBuilder};

use super::screen::Screen;
use super::scroll::{follow_button, scrolled_list};
use super::style::{ROW_HEIGHT, SCROLLBAR_WIDTH, highlighted, level_color};
use super::value_menu::{Opens, value_menu};
use crate::action::Action;
use crate::model::{Level, trace_hex};
use crate::snapshot::{Item, RecordRef, SortKey, TraceSort, ValueKind};
use crate::tab_ui::ListState;
use crate::time::{format_clock, format_duration};

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

/// The trace list's header: a click on a sortable column sorts by it (again: the
/// other way round), and the column sorted by shows an arrow.
fn sort_titles(
    mut header: egui_extras::TableRow<'_, '_>,
    sort: TraceSort,
    actions: &mut Vec<Action>,
) {
    let columns: [(&str, Option<SortKey>); 7] = [
        ("start", Some(SortKey::Start)),
        ("root span", None),
        ("service", None),
        ("duration", Some(SortKey::Duration)),
        ("spans", Some(SortKey::Spans)),
        ("errors", Some(SortKey::Errors)),
        ("trace id", None),
    ];
    for (title, key) in columns {
        header.col(|ui| {
            let Some(key) = key else {
                ui.strong(title);
                return;
            };
            let button = egui::Button::new(RichText::new(title).strong()).frame(false);
            if ui
                .add(button)
                .on_hover_text(format!(
                    "sort by {title} (s cycles the sort, S reverses it)"
                ))
                .clicked()
            {
                actions.push(Action::SortTraces(key));
            }
            if sort.key == key {
                sort_arrow(ui, sort.descending);
            }
        });
    }
}

/// A small triangle after a column's title: pointing down when the largest is first.
/// Painted, since the default fonts have no arrow glyph.
pub(super) fn sort_arrow(ui: &mut Ui, descending: bool) {
    let size = ui.text_style_height(&egui::TextStyle::Body) * 0.5;
    let (rect, _) = ui.allocate_exact_size(egui::vec2(size, size), Sense::hover());
    let (tip, base) = if descending {
        (rect.center_bottom(), [rect.left_top(), rect.right_top()])
    } else {
        (rect.center_top(), [rect.left_bottom(), rect.right_bottom()])
    };
    let color = ui.visuals().strong_text_color();
    ui.painter().add(egui::Shape::convex_polygon(
        vec![base[0], base[1], tip],
        color,
        egui::Stroke::NONE,
    ));
}

/// A row the backend has not published yet (it will within a frame or two).
fn not_yet(mut row: egui_extras::TableRow<'_, '_>) {
    row.col(|ui| {
        ui.weak("...");
    });
}

/// A value in a row, whose menu a right-click opens; whether it was clicked, which
/// selects the row as a click anywhere else in it does.
fn cell_value(
    ui: &mut Ui,
    text: impl Into<WidgetText>,
    kind: &ValueKind,
    value: &str,
    actions: &mut Vec<Action>,
) -> bool {
    let response = ui.add(
        egui::Label::new(text)
            .selectable(false)
            .sense(Sense::click()),
    );
    value_menu(&response, kind, value, Opens::OnRightClick, actions);
    response.clicked()
}

/// The part of `area` left of the scrollbar.
fn table_ui(ui: &mut Ui, area: egui::Rect) -> Ui {
    ui.new_child(
        egui::UiBuilder::new().max_rect(area.with_max_x(area.right() - SCROLLBAR_WIDTH - 2.0)),
    )
}

pub fn log_table(
    ui: &mut Ui,
    screen: &Screen<'_>,
    list: &mut ListState,
    actions: &mut Vec<Action>,
) {
    let logs = &screen.snapshot.logs;
    let total = logs.total;
    let current = screen.snapshot_is_current();
    follow_button(ui, list, total, actions);
    let area = scrolled_list(ui, list, total);
    let list = *list;
    let visible = list.visible;
    // Applied in this order: the row's selection, then a link clicked in it.
    let mut clicked = None;
    let mut open_trace = None;
    let mut jump = None;
    let mut menu = Vec::new();
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
                let log = if current { logs.row(number) } else { None };
                let Some(log) = log else {
                    row.set_selected(list.selected_row() == Some(number));
                    not_yet(row);
                    return;
                };
                row.set_selected(list.is_selected(number, Item::Record(RecordRef::Log(log.index))));
                let mut value_clicked = false;
                row.col(|ui| {
                    ui.monospace(format_clock(log.time_unix_nano));
                });
                row.col(|ui| {
                    let kind = if log.level == Level::Unset {
                        ValueKind::Plain
                    } else {
                        ValueKind::Level(log.level)
                    };
                    let text = RichText::new(log.level.label())
                        .color(level_color(ui, log.level))
                        .monospace();
                    value_clicked |= cell_value(ui, text, &kind, log.level.label(), &mut menu);
                });
                row.col(|ui| {
                    let service = &*log.service;
                    value_clicked |=
                        cell_value(ui, service, &ValueKind::Service, service, &mut menu);
                });
                row.col(|ui| {
                    let scope = &*log.scope;
                    value_clicked |= cell_value(ui, scope, &ValueKind::Scope, scope, &mut menu);
                });
                row.col(|ui| {
                    let color = ui.visuals().text_color();
                    ui.add(
                        egui::Label::new(highlighted(ui, &log.message, &log.highlights, color))
                            .selectable(false),
                    );
                });
                row.col(|ui| {
                    if log.trace_id == 0 {
                        return;
                    }
                    let hex = trace_hex(log.trace_id);
                    let link = ui
                        .link(RichText::new(&hex[..8]).monospace())
                        .on_hover_text("open the trace");
                    value_menu(
                        &link,
                        &ValueKind::TraceId,
                        &hex,
                        Opens::OnRightClick,
                        &mut menu,
                    );
                    if link.clicked() {
                        open_trace = Some(Action::OpenTrace {
                            trace: log.trace_id,
                            focus: Some(RecordRef::Log(log.index)),
                        });
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
                        jump = Some(Action::Jump(source.clone()));
                    }
                });
                if row.response().clicked() || value_clicked {
                    clicked = Some(Action::SelectLog {
                        row: number,
                        log: log.index,
                    });
                }
            });
        });
    actions.extend([clicked, open_trace, jump].into_iter().flatten());
    actions.extend(menu);
}

/// The last two parts of a path: its folder and file name.
fn short_path(path: &str) -> &str {
    // Split from the right into file, folder and the rest, if there is a rest.
    match path.rsplitn(3, '/').nth(2) {
        Some(rest) => &path[rest.len() + 1..],
        None => path,
    }
}

pub fn trace_list(
    ui: &mut Ui,
    screen: &Screen<'_>,
    list: &mut ListState,
    actions: &mut Vec<Action>,
) {
    let traces = &screen.snapshot.traces;
    let total = traces.total;
    let current = screen.snapshot_is_current();
    let area = scrolled_list(ui, list, total);
    let list = *list;
    let visible = list.visible;
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
            sort_titles(header, screen.tab().trace_sort, actions);
        })
        .body(|body| {
            let shown = visible.min(total.saturating_sub(list.top));
            body.rows(ROW_HEIGHT, shown, |mut row| {
                let number = list.top + row.index();
                let Some(trace) = current.then(|| traces.row(number)).flatten() else {
                    row.set_selected(list.selected_row() == Some(number));
                    not_yet(row);
                    return;
                };
                row.set_selected(list.is_selected(number, Item::Trace(trace.trace_id)));
                let mut value_clicked = false;
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
                    let service = &*trace.service;
                    value_clicked |= cell_value(ui, service, &ValueKind::Service, service, actions);
                });
                row.col(|ui| {
                    ui.monospace(format_duration(trace.duration_nano));
                });
                row.col(|ui| {
                    ui.label(trace.spans.to_string());
                });
                row.col(|ui| {
                    if trace.errors > 0 {
                        ui.colored_label(level_color(ui, Level::Error), trace.errors.to_string());
                    } else {
                        ui.weak("0");
                    }
                });
                row.col(|ui| {
                    let hex = trace_hex(trace.trace_id);
                    let text = RichText::new(&hex[..8]).monospace();
                    value_clicked |= cell_value(ui, text, &ValueKind::TraceId, &hex, actions);
                });
                if row.response().clicked() || value_clicked {
                    actions.push(Action::SelectTrace {
                        row: number,
                        trace: trace.trace_id,
                    });
                }
            });
        });
}

#[cfg(test)]
mod tests {
    use super::short_path;

    #[test]
    fn short_paths_keep_the_folder_and_file() {
        assert_eq!(short_path("/src/shop/orders.rs"), "shop/orders.rs");
        assert_eq!(short_path("shop/orders.rs"), "shop/orders.rs");
        assert_eq!(short_path("orders.rs"), "orders.rs");
    }
}
