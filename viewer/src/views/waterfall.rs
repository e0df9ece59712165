//! The open trace as a waterfall: one row per span (and per log, when inline), a bar
//! per span on the trace's time axis, of the part of the trace the zoom shows.

use egui::text::LayoutJob;
use egui::{Color32, FontId, Sense, TextFormat, Ui, Vec2};

use super::minimap;
use super::screen::Screen;
use super::scroll::scroll_input;
use super::style::{
    ROW_HEIGHT, SCROLLBAR_WIDTH, append_highlighted, critical_color, highlighted, level_color,
    weak_color,
};
use super::timeline::{self, AXIS_HEIGHT};
use crate::action::Action;
use crate::model::{Level, trace_hex};
use crate::snapshot::{Item, WaterfallSpan};
use crate::tab_ui::ListState;
use crate::time::format_duration;
use crate::view_model::{Side, Waterfall, WaterfallRow};

pub fn waterfall(
    ui: &mut Ui,
    screen: &Screen<'_>,
    list: &mut ListState,
    actions: &mut Vec<Action>,
) {
    let Some(waterfall) = screen.waterfall else {
        ui.horizontal(|ui| {
            if ui.button("< Traces").clicked() {
                actions.push(Action::CloseTrace);
            }
            ui.label("loading the trace...");
        });
        return;
    };
    draw_waterfall(ui, screen, waterfall, list, actions);
}

fn draw_waterfall(
    ui: &mut Ui,
    screen: &Screen<'_>,
    waterfall: Waterfall<'_>,
    list: &mut ListState,
    actions: &mut Vec<Action>,
) {
    let view = waterfall.view;
    // Wrapped: a row wider than the panel would widen the panel's ui, and the bars
    // below would then run under the detail pane.
    ui.horizontal_wrapped(|ui| {
        if ui.button("< Traces").on_hover_text("Esc").clicked() {
            actions.push(Action::CloseTrace);
        }
        ui.monospace(trace_hex(view.trace_id));
        if ui
            .small_button("copy")
            .on_hover_text("copy the trace id")
            .clicked()
        {
            actions.push(Action::Copy(trace_hex(view.trace_id)));
        }
        if ui
            .small_button("copy as Markdown")
            .on_hover_text("the spans as an outline, with their logs")
            .clicked()
        {
            actions.push(Action::CopyTraceMarkdown);
        }
        if ui
            .small_button("copy as OTLP JSON")
            .on_hover_text("the spans and their logs as OTLP JSON Lines (J)")
            .clicked()
        {
            actions.push(Action::YankTraceOtlp);
        }
        trace_summary(
            ui,
            view,
            "",
            ("flame graph (F)", "the trace by depth, the same selection"),
            actions,
        );
        let mut inline_logs = screen.inline_logs;
        if ui.checkbox(&mut inline_logs, "logs inline (i)").changed() {
            actions.push(Action::SetInlineLogs(inline_logs));
        }
        if ui
            .small_button("zoom in (+)")
            .on_hover_text("or drag across a region of the bars, or Ctrl + wheel")
            .clicked()
        {
            actions.push(Action::Zoom(0.5));
        }
        if ui.small_button("zoom out (-)").clicked() {
            actions.push(Action::Zoom(2.0));
        }
        if !waterfall.zoom().is_whole()
            && ui
                .small_button("reset zoom")
                .on_hover_text(
                    "z. Move the zoomed window with h / l, Shift + wheel or the middle button",
                )
                .clicked()
        {
            actions.push(Action::ResetZoom);
        }
    });
    let total = waterfall.len();
    // Never wider than what is shown, whatever widened the ui.
    let area = ui.available_rect_before_wrap().intersect(ui.clip_rect());
    let (strip, area) = minimap::carve(area, waterfall);
    let axis = egui::Rect::from_min_max(
        area.left_top(),
        egui::pos2(area.right() - SCROLLBAR_WIDTH, area.top() + AXIS_HEIGHT),
    );
    let rows_area = egui::Rect::from_min_max(egui::pos2(area.left(), axis.bottom()), area.max);
    let visible = (rows_area.height() / ROW_HEIGHT).floor().max(1.0) as usize;
    list.visible = visible;
    scroll_input(ui, list, total, rows_area);
    list.clamp(total);
    let list = *list;
    let label_width = (area.width() * 0.38).min(520.0);
    let bars_left = area.left() + label_width + 8.0;
    // Room on the right for the duration (and self time) written after the longest bar.
    let bars_width = (area.right() - SCROLLBAR_WIDTH - 130.0 - bars_left).max(10.0);
    let timeline = egui::Rect::from_x_y_ranges(
        bars_left..=bars_left + bars_width,
        area.top()..=area.bottom(),
    );
    if let Some(strip) = strip {
        minimap::minimap(ui, waterfall, strip, timeline, actions);
    }
    let region = timeline::input(ui, waterfall, timeline, area, actions);
    let painter = ui.painter().with_clip_rect(area);
    timeline::axis(ui, &painter, waterfall, axis, timeline, area.bottom());
    let mut clicked = None;
    let mut jump = None;
    let shown = (list.top..total.min(list.top + visible)).filter_map(|row| waterfall.get(row));
    for (offset, row) in shown.enumerate() {
        let number = list.top + offset;
        let y = rows_area.top() + offset as f32 * ROW_HEIGHT;
        let rect = egui::Rect::from_min_size(
            egui::pos2(area.left(), y),
            Vec2::new(area.width() - SCROLLBAR_WIDTH, ROW_HEIGHT),
        );
        let response = ui.interact(
            rect,
            ui.scope_id().with(("waterfall", number)),
            Sense::click(),
        );
        if list.is_selected(number, Item::Record(row.record())) {
            painter.rect_filled(
                rect,
                0.0,
                ui.visuals().selection.bg_fill.gamma_multiply(0.5),
            );
        } else if response.hovered() {
            painter.rect_filled(rect, 0.0, ui.visuals().faint_bg_color);
        }
        if response.clicked() {
            clicked = Some(Action::SelectWaterfallRow {
                row: number,
                record: row.record(),
            });
        }
        if response.double_clicked() {
            jump = row.source().cloned().map(Action::Jump);
        }
        let text_color = ui.visuals().text_color();
        let middle = y + ROW_HEIGHT / 2.0;
        match row {
            WaterfallRow::Span(span) => {
                let indent = f32::from(span.depth) * 14.0;
                let mut job = highlighted(
                    ui,
                    &span.name,
                    &span.highlights,
                    if span.error {
                        level_color(ui, Level::Error)
                    } else {
                        text_color
                    },
                );
                job.append(
                    &format!("  {}", span.service),
                    0.0,
                    TextFormat::simple(FontId::proportional(11.0), weak_color(ui)),
                );
                job.wrap.max_width = label_width - indent;
                let at = egui::pos2(area.left() + 4.0 + indent, y + 3.0);
                paint_label(ui, &painter, job, at, text_color);
                span_bar(ui, &painter, waterfall, span, timeline, y);
            }
            WaterfallRow::Log { log, depth } => {
                let indent = f32::from(depth) * 14.0;
                let mut job = LayoutJob::default();
                job.append(
                    log.level.label(),
                    0.0,
                    TextFormat::simple(FontId::monospace(11.0), level_color(ui, log.level)),
                );
                job.append(
                    " ",
                    0.0,
                    TextFormat::simple(FontId::monospace(11.0), text_color),
                );
                append_highlighted(&mut job, ui, &log.message, &log.highlights, text_color);
                // Within the label column, cut with an ellipsis, so that the text never
                // runs under the dots of the time column (the detail pane has it whole).
                job.wrap.max_width = (label_width - indent).max(20.0);
                job.wrap.max_rows = 1;
                job.wrap.overflow_character = Some('…');
                let at = egui::pos2(area.left() + 4.0 + indent, y + 3.0);
                paint_label(ui, &painter, job, at, text_color);
                // A log outside the window is not drawn, rather than piled on an edge.
                if let Some(share) = waterfall.visible_point(log.time_unix_nano) {
                    painter.circle_filled(
                        egui::pos2(timeline::x_at(timeline, share), middle),
                        3.0,
                        level_color(ui, log.level),
                    );
                }
            }
        }
    }
    if let Some(region) = region {
        timeline::highlight(ui, &painter, timeline, region);
    }
    actions.extend([clicked, jump].into_iter().flatten());
}

/// A span's bar on the row at `y`: the part of it in the window, with an arrow where
/// it goes on past an edge; a span wholly outside gets only an arrow at the edge it
/// lies beyond. Its duration is written after it.
fn span_bar(
    ui: &egui::Ui,
    painter: &egui::Painter,
    waterfall: Waterfall<'_>,
    span: &WaterfallSpan,
    timeline: egui::Rect,
    y: f32,
) {
    let color = if span.error {
        level_color(ui, Level::Error)
    } else {
        service_color(&span.service)
    };
    let middle = y + ROW_HEIGHT / 2.0;
    let duration_nano = span.end_unix_nano.saturating_sub(span.start_unix_nano);
    let duration = if span.self_nano < duration_nano {
        format!(
            "{} · self {}",
            format_duration(duration_nano),
            format_duration(span.self_nano)
        )
    } else {
        format_duration(duration_nano)
    };
    let duration_at = match waterfall.visible_extent(span) {
        Some(extent) => {
            let x0 = timeline::x_at(timeline, extent.start).min(timeline.right() - 2.0);
            let x1 = timeline::x_at(timeline, extent.end).max(x0 + 2.0);
            let bar = egui::Rect::from_min_max(
                egui::pos2(x0, y + 4.0),
                egui::pos2(x1, y + ROW_HEIGHT - 4.0),
            );
            painter.rect_filled(bar, 2.0, color);
            critical_parts(ui, painter, waterfall, span, timeline, bar);
            if extent.cut_before {
                painter.add(timeline::edge_arrow(x0 - 1.0, middle, Side::Before, color));
            }
            if extent.cut_after {
                painter.add(timeline::edge_arrow(x1 + 1.0, middle, Side::After, color));
            }
            for &event in &span.events {
                if let Some(share) = waterfall.visible_point(event) {
                    let x = timeline::x_at(timeline, share);
                    painter.line_segment(
                        [egui::pos2(x, y + 2.0), egui::pos2(x, y + ROW_HEIGHT - 2.0)],
                        (1.5, Color32::WHITE),
                    );
                }
            }
            if extent.cut_after { x1 + 8.0 } else { x1 + 4.0 }
        }
        None => {
            let faded = color.gamma_multiply(0.6);
            match waterfall.side_of(span) {
                Side::Before => {
                    let edge = timeline.left() - 1.0;
                    painter.add(timeline::edge_arrow(edge, middle, Side::Before, faded));
                    timeline.left() + 3.0
                }
                Side::After => {
                    let edge = timeline.right() + 1.0;
                    painter.add(timeline::edge_arrow(edge, middle, Side::After, faded));
                    edge + 8.0
                }
            }
        }
    };
    painter.text(
        egui::pos2(duration_at, middle),
        egui::Align2::LEFT_CENTER,
        duration,
        FontId::proportional(11.0),
        weak_color(ui),
    );
}

/// Marks the parts of a span on the critical path with a band along the bottom of its
/// `bar` (the flame graph's rectangles too).
pub(super) fn critical_parts(
    ui: &Ui,
    painter: &egui::Painter,
    waterfall: Waterfall<'_>,
    span: &WaterfallSpan,
    timeline: egui::Rect,
    bar: egui::Rect,
) {
    for part in &span.critical {
        if let Some(extent) = waterfall.visible_stretch(part.start_unix_nano, part.end_unix_nano) {
            let x0 = timeline::x_at(timeline, extent.start).max(bar.left());
            let x1 = timeline::x_at(timeline, extent.end)
                .min(bar.right())
                .max(x0 + 1.0);
            painter.rect_filled(
                egui::Rect::from_min_max(
                    egui::pos2(x0, bar.bottom() - 3.0),
                    egui::pos2(x1, bar.bottom() + 1.0),
                ),
                0.0,
                critical_color(ui),
            );
        }
    }
}

/// Lays out a row's label and paints it with its top left at `at`.
fn paint_label(ui: &Ui, painter: &egui::Painter, job: LayoutJob, at: egui::Pos2, color: Color32) {
    let galley = ui.fonts_mut(|f| f.layout_job(job));
    painter.galley(at, galley, color);
}

/// A stable colour per service.
pub(super) fn service_color(service: &str) -> Color32 {
    let hash = service.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    let hue = (hash % 360) as f32 / 360.0;
    egui::ecolor::Hsva::new(hue, 0.55, 0.8, 1.0).into()
}

/// The trace's spans and length (then `shown_as`), the spans left out, and the button
/// that shows it the other way (`F`), labelled and explained by `toggle`.
pub(super) fn trace_summary(
    ui: &mut Ui,
    view: &crate::snapshot::TraceView,
    shown_as: &str,
    toggle: (&str, &str),
    actions: &mut Vec<Action>,
) {
    ui.label(format!(
        "{} spans · {}{shown_as}",
        view.spans.len(),
        format_duration(view.end_unix_nano.saturating_sub(view.start_unix_nano))
    ));
    if view.spans_left_out > 0 {
        ui.colored_label(
            level_color(ui, Level::Warn),
            format!("{} spans not drawn", view.spans_left_out),
        );
    }
    ui.separator();
    if ui.small_button(toggle.0).on_hover_text(toggle.1).clicked() {
        actions.push(Action::ToggleFlame);
    }
}
