//! The open trace as a waterfall: one row per span (and per log, when inline), a bar
//! per span on the trace's time axis.

use egui::text::LayoutJob;
use egui::{Color32, FontId, Sense, TextFormat, Ui, Vec2};

use super::screen::Screen;
use super::scroll::scroll_input;
use super::style::{
    ROW_HEIGHT, SCROLLBAR_WIDTH, append_highlighted, highlighted, level_color, weak_color,
};
use crate::action::Action;
use crate::model::{Level, trace_hex};
use crate::snapshot::Item;
use crate::tab_ui::ListState;
use crate::time::format_duration;
use crate::view_model::{Waterfall, WaterfallRow};

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
        ui.label(format!(
            "{} spans · {}",
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
        let mut inline_logs = screen.inline_logs;
        if ui.checkbox(&mut inline_logs, "logs inline (i)").changed() {
            actions.push(Action::SetInlineLogs(inline_logs));
        }
        if ui.small_button("zoom in (+)").clicked() {
            actions.push(Action::Zoom(0.5));
        }
        if ui.small_button("zoom out (-)").clicked() {
            actions.push(Action::Zoom(2.0));
        }
        if !screen.zoom.is_whole() && ui.small_button("reset zoom").clicked() {
            actions.push(Action::ResetZoom);
        }
    });
    let total = waterfall.len();
    // Never wider than what is shown, whatever widened the ui.
    let area = ui.available_rect_before_wrap().intersect(ui.clip_rect());
    let visible = (area.height() / ROW_HEIGHT).floor().max(1.0) as usize;
    list.visible = visible;
    scroll_input(ui, list, total, area);
    list.clamp(total);
    let list = *list;
    let label_width = (area.width() * 0.38).min(520.0);
    let bars_left = area.left() + label_width + 8.0;
    // Room on the right for the duration written after the longest bar.
    let bars_width = (area.right() - SCROLLBAR_WIDTH - 70.0 - bars_left).max(10.0);
    let trace_start = view.start_unix_nano;
    let trace_len = view.end_unix_nano.saturating_sub(trace_start).max(1) as f64;
    let zoom = screen.zoom;
    let x_of = |time: u64| {
        let share = zoom.place(time.saturating_sub(trace_start) as f64 / trace_len);
        bars_left + (share.clamp(-0.01, 1.01) as f32) * bars_width
    };
    let mut clicked = None;
    let mut jump = None;
    let painter = ui.painter().with_clip_rect(area);
    let shown = (list.top..total.min(list.top + visible)).filter_map(|row| waterfall.get(row));
    for (offset, row) in shown.enumerate() {
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
                let x0 = x_of(span.start_unix_nano);
                let x1 = x_of(span.end_unix_nano).max(x0 + 2.0);
                let bar = egui::Rect::from_min_max(
                    egui::pos2(x0, y + 4.0),
                    egui::pos2(x1, y + ROW_HEIGHT - 4.0),
                );
                let color = if span.error {
                    level_color(ui, Level::Error)
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
                    weak_color(ui),
                );
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
                let x = x_of(log.time_unix_nano);
                painter.circle_filled(
                    egui::pos2(x, y + ROW_HEIGHT / 2.0),
                    3.0,
                    level_color(ui, log.level),
                );
            }
        }
    }
    actions.extend([clicked, jump].into_iter().flatten());
}

/// Lays out a row's label and paints it with its top left at `at`.
fn paint_label(ui: &Ui, painter: &egui::Painter, job: LayoutJob, at: egui::Pos2, color: Color32) {
    let galley = ui.fonts_mut(|f| f.layout_job(job));
    painter.galley(at, galley, color);
}

/// A stable colour per service.
fn service_color(service: &str) -> Color32 {
    let hash = service.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    let hue = (hash % 360) as f32 / 360.0;
    egui::ecolor::Hsva::new(hue, 0.55, 0.8, 1.0).into()
}
