//! The waterfall's time axis and what the mouse does over the bars: drag across a
//! region to zoom into it, Ctrl + wheel to zoom around the pointer, the middle button
//! or the horizontal wheel (Shift + wheel) to pan.

use egui::{Color32, FontId, PointerButton, Pos2, Rect, Role, Sense, Shape, Stroke, Ui};

use crate::action::Action;
use crate::time::format_duration;
use crate::view_model::{Side, Waterfall};

/// Height of the axis above the rows.
pub const AXIS_HEIGHT: f32 = 18.0;

/// A drag narrower than this is a click, not a region.
const MIN_REGION_PX: f32 = 4.0;

/// The x of a point of the window (a share of its width) on the timeline.
pub fn x_at(timeline: Rect, share: f64) -> f32 {
    timeline.left() + share as f32 * timeline.width()
}

/// The share of the window's width at `x`, within the window.
fn share_at(timeline: Rect, x: f32) -> f64 {
    f64::from((x - timeline.left()) / timeline.width()).clamp(0.0, 1.0)
}

/// The mouse over the waterfall's `area`, whose bars span `timeline`; returns the
/// region being dragged across, as its two x, to highlight. Registered before the rows,
/// so that a row still takes a click on its bar, and the timeline the drag.
pub fn input(
    ui: &Ui,
    waterfall: Waterfall<'_>,
    timeline: Rect,
    area: Rect,
    actions: &mut Vec<Action>,
) -> Option<(f32, f32)> {
    let response = ui.interact(timeline, ui.scope_id().with("timeline"), Sense::drag());
    response.widget_info(|| egui::WidgetInfo::labeled(Role::Canvas, true, "timeline"));
    let zoom = waterfall.zoom();
    let width = f64::from(timeline.width());
    // Where the region began, in the trace: egui forgets the press on release.
    let region_id = response.id.with("region");
    if response.drag_started_by(PointerButton::Primary)
        && let Some(origin) = ui.input(|i| i.pointer.press_origin())
    {
        let from = zoom.at(share_at(timeline, origin.x));
        ui.data_mut(|d| d.insert_temp(region_id, from));
    }
    let from = ui.data(|d| d.get_temp::<f64>(region_id));
    let pointer_x = ui.ctx().pointer_interact_pos().map(|p| p.x);
    let mut region = None;
    if response.drag_stopped_by(PointerButton::Primary) {
        ui.data_mut(|d| d.remove_temp::<f64>(region_id));
        if let (Some(from), Some(x)) = (from, pointer_x) {
            let to = zoom.at(share_at(timeline, x));
            if ((zoom.place(to) - zoom.place(from)) * width).abs() >= f64::from(MIN_REGION_PX) {
                actions.push(Action::ZoomTo { from, to });
            }
        }
    } else if response.dragged_by(PointerButton::Primary)
        && let (Some(from), Some(x)) = (from, pointer_x)
    {
        let start = x_at(timeline, zoom.place(from).clamp(0.0, 1.0));
        region = Some((start, x.clamp(timeline.left(), timeline.right())));
    }
    if response.dragged_by(PointerButton::Middle) {
        ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
        let dx = response.drag_delta().x;
        if dx != 0.0 {
            actions.push(Action::Pan(-f64::from(dx) / width));
        }
    }
    if ui.rect_contains_pointer(area) {
        // egui turns Ctrl + wheel into zoom and Shift + wheel into horizontal scroll.
        let (zoom_delta, scroll_x) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta.x));
        if zoom_delta != 1.0
            && let Some(x) = pointer_x
        {
            actions.push(Action::ZoomAround {
                factor: 1.0 / f64::from(zoom_delta),
                at: share_at(timeline, x),
            });
        }
        if scroll_x != 0.0 {
            actions.push(Action::Pan(-f64::from(scroll_x) / width));
        }
    }
    region
}

/// The axis over the rows: a label per tick, spaced so they never overlap, and faint
/// tick lines down through the rows to `rows_bottom`.
pub fn axis(
    ui: &Ui,
    painter: &egui::Painter,
    waterfall: Waterfall<'_>,
    axis: Rect,
    timeline: Rect,
    rows_bottom: f32,
) {
    painter.rect_filled(axis, 0.0, ui.visuals().faint_bg_color);
    let font = FontId::monospace(11.0);
    let char_px = ui.fonts_mut(|f| f.glyph_width(&font, '0'));
    let text = ui.visuals().weak_text_color();
    let faint = text.gamma_multiply(0.25);
    for tick in waterfall.ticks(timeline.width(), char_px) {
        let x = x_at(timeline, tick.at);
        painter.line_segment(
            [Pos2::new(x, axis.bottom()), Pos2::new(x, rows_bottom)],
            Stroke::new(1.0, faint),
        );
        painter.line_segment(
            [
                Pos2::new(x, axis.bottom() - 5.0),
                Pos2::new(x, axis.bottom()),
            ],
            Stroke::new(1.0, text),
        );
        painter.text(
            Pos2::new(x + 3.0, axis.top() + 2.0),
            egui::Align2::LEFT_TOP,
            tick.label,
            font.clone(),
            text,
        );
    }
    // Over the label column (and within it): which part of the trace the axis shows,
    // once zoomed.
    let zoom = waterfall.zoom();
    if !zoom.is_whole() {
        let nanos = waterfall.duration_nanos();
        let label_column =
            Rect::from_x_y_ranges(axis.left()..=timeline.left() - 8.0, axis.y_range());
        painter
            .with_clip_rect(label_column.intersect(painter.clip_rect()))
            .text(
                Pos2::new(axis.left() + 4.0, axis.center().y),
                egui::Align2::LEFT_CENTER,
                format!(
                    "showing {} to {} of {}",
                    format_duration((zoom.start() * nanos) as u64),
                    format_duration((zoom.end() * nanos) as u64),
                    format_duration(nanos as u64),
                ),
                FontId::proportional(11.0),
                text,
            );
    }
}

/// The region being dragged across, over the axis and the rows.
pub fn highlight(ui: &Ui, painter: &egui::Painter, timeline: Rect, (x0, x1): (f32, f32)) {
    let region = Rect::from_x_y_ranges(x0.min(x1)..=x0.max(x1), timeline.y_range());
    let selection = ui.visuals().selection;
    painter.rect_filled(region, 0.0, selection.bg_fill.gamma_multiply(0.3));
    painter.line_segment([region.left_top(), region.left_bottom()], selection.stroke);
    painter.line_segment(
        [region.right_top(), region.right_bottom()],
        selection.stroke,
    );
}

/// A small arrow at `x`, pointing past the window's edge on `side`: the span goes on
/// (or lies wholly) that way.
pub fn edge_arrow(x: f32, middle_y: f32, side: Side, color: Color32) -> Shape {
    let tip = match side {
        Side::Before => x - 5.0,
        Side::After => x + 5.0,
    };
    Shape::convex_polygon(
        vec![
            Pos2::new(tip, middle_y),
            Pos2::new(x, middle_y - 4.0),
            Pos2::new(x, middle_y + 4.0),
        ],
        color,
        Stroke::NONE,
    )
}
