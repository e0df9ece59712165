//! The operations view: the table of a tab's operations, and for the selected one its
//! traces, slowest first, and a scatter of its spans' durations over time.

use egui::{Color32, Pos2, Rect, RichText, Sense, Stroke, Ui, Vec2};
use egui_extras::{Column, TableBuilder};

use super::lists::sort_arrow;
use super::screen::Screen;
use super::style::{ROW_HEIGHT, level_color, weak_color};
use crate::action::Action;
use crate::model::Level;
use crate::operations::{OperationColumn, OperationDetail, OperationRow, OperationsView};
use crate::operations_ui::{OperationsAction, OperationsUi};
use crate::time::{format_clock, format_duration};

/// Radius of a point of the scatter, in points.
const POINT_RADIUS: f32 = 3.0;

/// Draws the operations view of the shown tab.
pub fn operations(ui: &mut Ui, screen: &Screen<'_>, actions: &mut Vec<Action>) {
    let tab = screen.tab();
    let Some(view) = screen
        .snapshot
        .operations
        .as_deref()
        .filter(|view| view.tab == tab.id)
    else {
        ui.weak("computing the operations…");
        return;
    };
    let state = &tab.operations;
    ui.horizontal(|ui| {
        ui.strong("Operations");
        ui.label(format!(
            "· {} operations over {} spans",
            view.rows.len(),
            view.spans
        ));
        if let Some(progress) = view.progress {
            ui.add(egui::ProgressBar::new(progress).desired_width(120.0));
        }
        ui.weak("· j/k move, Enter selects, Esc back, O the lists");
        super::compare::picker(ui, screen, actions);
    });
    if let Some(comparison) = &view.comparison {
        super::compare::comparison(ui, comparison, actions);
        return;
    }
    let table_height = if view.detail.is_some() {
        ui.available_height() * 0.45
    } else {
        ui.available_height()
    };
    ui.push_id("operations-table", |ui| {
        table(ui, view, state, table_height, actions);
    });
    if let Some(detail) = &view.detail {
        ui.separator();
        detail_pane(ui, detail, state, actions);
    }
}

fn table(
    ui: &mut Ui,
    view: &OperationsView,
    state: &OperationsUi,
    height: f32,
    actions: &mut Vec<Action>,
) {
    let mut builder = TableBuilder::new(ui)
        .striped(true)
        .resizable(true)
        .sense(Sense::click())
        .max_scroll_height(height)
        .min_scrolled_height(height.min(ROW_HEIGHT * 4.0))
        .column(Column::initial(130.0).at_least(40.0).clip(true))
        .column(Column::initial(240.0).at_least(80.0).clip(true));
    for _ in 2..OperationColumn::ALL.len() {
        builder = builder.column(Column::initial(80.0).at_least(40.0));
    }
    if let Some(row) = state.row.filter(|_| state.trace_row.is_none()) {
        builder = builder.scroll_to_row(row, None);
    }
    builder
        .header(ROW_HEIGHT, |mut header| {
            for column in OperationColumn::ALL {
                header.col(|ui| {
                    let button =
                        egui::Button::new(RichText::new(column.title()).strong()).frame(false);
                    if ui
                        .add(button)
                        .on_hover_text(format!("sort by {} (again: the other way)", column.title()))
                        .clicked()
                    {
                        actions.push(Action::Operations(OperationsAction::Sort(column)));
                    }
                    if view.sort.column == column {
                        sort_arrow(ui, view.sort.descending);
                    }
                });
            }
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, view.rows.len(), |mut row| {
                let number = row.index();
                let Some(operation) = view.rows.get(number) else {
                    return;
                };
                let selected = state.selected.as_ref() == Some(&operation.key);
                row.set_selected(selected || state.row == Some(number));
                cells(&mut row, operation);
                if row.response().clicked() {
                    actions.push(Action::Operations(OperationsAction::Select {
                        row: number,
                        key: operation.key.clone(),
                    }));
                }
            });
        });
}

fn cells(row: &mut egui_extras::TableRow<'_, '_>, operation: &OperationRow) {
    row.col(|ui| {
        ui.label(&*operation.key.service);
    });
    row.col(|ui| {
        ui.label(&*operation.key.name);
    });
    row.col(|ui| {
        ui.label(operation.count.to_string());
    });
    row.col(|ui| {
        if operation.errors > 0 {
            ui.colored_label(level_color(ui, Level::Error), operation.errors.to_string());
        } else {
            ui.weak("0");
        }
    });
    row.col(|ui| {
        ui.label(format!("{:.1}%", operation.error_rate() * 100.0));
    });
    for nanos in [
        operation.p50_nano,
        operation.p95_nano,
        operation.p99_nano,
        operation.max_nano,
    ] {
        row.col(|ui| {
            ui.monospace(format_duration(nanos));
        });
    }
}

/// The selected operation: its traces on the left, its scatter on the right.
fn detail_pane(
    ui: &mut Ui,
    detail: &OperationDetail,
    state: &OperationsUi,
    actions: &mut Vec<Action>,
) {
    ui.horizontal(|ui| {
        ui.strong(format!("{} · {}", detail.key.service, detail.key.name));
        ui.weak(format!(
            "· its {} slowest traces; a click on a point opens its trace",
            detail.traces.len()
        ));
    });
    // Traces on the left, the scatter on the right, each within its own part.
    let area = ui.available_rect_before_wrap();
    let split = area.left() + area.width() * 0.55;
    let left = Rect::from_min_max(area.min, Pos2::new(split - 4.0, area.bottom()));
    let right = Rect::from_min_max(Pos2::new(split + 4.0, area.top()), area.max);
    let mut traces_ui = ui.new_child(egui::UiBuilder::new().max_rect(left));
    traces_ui.push_id("operation-traces", |ui| traces(ui, detail, state, actions));
    let mut scatter_ui = ui.new_child(egui::UiBuilder::new().max_rect(right));
    scatter(&mut scatter_ui, detail, right.size(), actions);
    ui.allocate_rect(area, Sense::hover());
}

fn traces(ui: &mut Ui, detail: &OperationDetail, state: &OperationsUi, actions: &mut Vec<Action>) {
    let mut builder = TableBuilder::new(ui)
        .striped(true)
        .resizable(true)
        .sense(Sense::click())
        .column(Column::initial(96.0).at_least(40.0))
        .column(Column::initial(90.0).at_least(40.0))
        .column(Column::remainder().at_least(120.0).clip(true))
        .column(Column::initial(90.0).at_least(40.0))
        .column(Column::initial(50.0).at_least(30.0));
    if let Some(row) = state.trace_row {
        builder = builder.scroll_to_row(row, None);
    }
    builder
        .header(ROW_HEIGHT, |mut header| {
            for title in ["start", "this span", "root span", "trace", "errors"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, detail.traces.len(), |mut row| {
                let Some(trace) = detail.traces.get(row.index()) else {
                    return;
                };
                row.set_selected(state.trace_row == Some(row.index()));
                row.col(|ui| {
                    ui.monospace(format_clock(trace.trace.start_unix_nano));
                });
                row.col(|ui| {
                    ui.monospace(format_duration(trace.span_duration_nano));
                });
                row.col(|ui| {
                    ui.label(&trace.trace.root_name);
                });
                row.col(|ui| {
                    ui.monospace(format_duration(trace.trace.duration_nano));
                });
                row.col(|ui| {
                    ui.label(trace.trace.errors.to_string());
                });
                if row.response().clicked() {
                    actions.push(Action::Operations(OperationsAction::OpenTrace {
                        trace: trace.trace.trace_id,
                        span: trace.span,
                    }));
                }
            });
        });
}

/// Where a point of the scatter is drawn: time across, duration up (0 at the bottom).
fn point_position(
    rect: Rect,
    detail: &OperationDetail,
    start_unix_nano: u64,
    duration_nano: u64,
) -> Pos2 {
    let (first, last, longest) = bounds(detail);
    let across = if last > first {
        (start_unix_nano.saturating_sub(first)) as f32 / (last - first) as f32
    } else {
        0.5
    };
    let up = if longest > 0 {
        duration_nano as f32 / longest as f32
    } else {
        0.0
    };
    let inner = rect.shrink(POINT_RADIUS * 2.0);
    Pos2::new(
        inner.left() + across * inner.width(),
        inner.bottom() - up * inner.height(),
    )
}

/// The first and last start and the longest duration among the points.
fn bounds(detail: &OperationDetail) -> (u64, u64, u64) {
    let first = detail
        .points
        .iter()
        .map(|p| p.start_unix_nano)
        .min()
        .unwrap_or(0);
    let last = detail
        .points
        .iter()
        .map(|p| p.start_unix_nano)
        .max()
        .unwrap_or(0);
    let longest = detail
        .points
        .iter()
        .map(|p| p.duration_nano)
        .max()
        .unwrap_or(0);
    (first, last, longest)
}

/// The scatter of the operation's spans: a click opens the trace of the point nearest.
fn scatter(ui: &mut Ui, detail: &OperationDetail, size: Vec2, actions: &mut Vec<Action>) {
    let (rect, response) = ui.allocate_exact_size(size.max(Vec2::new(120.0, 80.0)), Sense::click());
    response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "duration scatter"));
    let painter = ui.painter_at(rect);
    painter.rect_stroke(
        rect,
        2.0,
        Stroke::new(1.0, weak_color(ui)),
        egui::StrokeKind::Inside,
    );
    let (_, _, longest) = bounds(detail);
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format_duration(longest),
        egui::FontId::proportional(11.0),
        weak_color(ui),
    );
    let normal = ui.visuals().selection.bg_fill;
    let error = level_color(ui, Level::Error);
    for point in &detail.points {
        let at = point_position(rect, detail, point.start_unix_nano, point.duration_nano);
        let color: Color32 = if point.error { error } else { normal };
        painter.circle_filled(at, POINT_RADIUS, color);
    }
    let Some(click) = response
        .interact_pointer_pos()
        .or(response.hover_pos())
        .filter(|_| response.clicked())
    else {
        return;
    };
    let nearest = detail.points.iter().min_by(|a, b| {
        let distance = |p: &crate::operations::OperationPoint| {
            point_position(rect, detail, p.start_unix_nano, p.duration_nano).distance_sq(click)
        };
        distance(a).total_cmp(&distance(b))
    });
    if let Some(point) = nearest {
        actions.push(Action::Operations(OperationsAction::OpenTrace {
            trace: point.trace_id,
            span: point.span,
        }));
    }
}
