//! The minimap: the whole trace in a thin strip above the waterfall or the flame
//! graph while they are zoomed in, the window shown outlined; a click or a drag on it
//! moves the window there.

use egui::{FontId, Rect, Role, Sense, Stroke, Ui};

use super::style::{critical_color, weak_color};
use crate::action::Action;
use crate::view_model::Waterfall;

/// Height of the strip.
pub const MINIMAP_HEIGHT: f32 = 26.0;

/// Splits off the strip from the top of `area` when the view is zoomed in: (the strip,
/// what is left).
pub fn carve(area: Rect, waterfall: Waterfall<'_>) -> (Option<Rect>, Rect) {
    if waterfall.zoom().is_whole() {
        return (None, area);
    }
    let strip = Rect::from_min_max(
        area.left_top(),
        egui::pos2(area.right(), area.top() + MINIMAP_HEIGHT),
    );
    let rest = Rect::from_min_max(egui::pos2(area.left(), strip.bottom()), area.max);
    (Some(strip), rest)
}

/// Draws the minimap over `timeline`'s width within `strip` (the label column left of
/// it says what it is), and moves the window where it is clicked or dragged.
pub fn minimap(
    ui: &Ui,
    waterfall: Waterfall<'_>,
    strip: Rect,
    timeline: Rect,
    actions: &mut Vec<Action>,
) {
    let map = Rect::from_x_y_ranges(timeline.x_range(), strip.top() + 2.0..=strip.bottom() - 2.0);
    let response = ui.interact(map, ui.scope_id().with("minimap"), Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(Role::Canvas, true, "minimap"));
    if (response.clicked() || response.dragged())
        && let Some(pointer) = response.interact_pointer_pos()
    {
        let share = f64::from((pointer.x - map.left()) / map.width()).clamp(0.0, 1.0);
        actions.push(Action::PanTo(share));
    }
    let painter = ui.painter().with_clip_rect(strip.intersect(ui.clip_rect()));
    painter.rect_filled(map, 2.0, ui.visuals().extreme_bg_color);
    painter.text(
        egui::pos2(strip.left() + 4.0, strip.center().y),
        egui::Align2::LEFT_CENTER,
        "whole trace",
        FontId::proportional(11.0),
        weak_color(ui),
    );
    let shape = &waterfall.view.shape;
    let most = shape.busy.iter().copied().max().unwrap_or(0).max(1) as f32;
    let buckets = shape.busy.len().max(1) as f32;
    let bucket_px = map.width() / buckets;
    let busy_color = weak_color(ui).gamma_multiply(0.6);
    let band = 3.0;
    for (at, (&busy, &critical)) in shape.busy.iter().zip(&shape.critical).enumerate() {
        let x = map.left() + at as f32 * bucket_px;
        if busy > 0 {
            // At least a sliver for one span, so that a lone span shows.
            let height = ((busy as f32 / most) * (map.height() - band)).max(2.0);
            painter.rect_filled(
                Rect::from_min_max(
                    egui::pos2(x, map.bottom() - band - height),
                    egui::pos2(x + bucket_px, map.bottom() - band),
                ),
                0.0,
                busy_color,
            );
        }
        if critical {
            painter.rect_filled(
                Rect::from_min_max(
                    egui::pos2(x, map.bottom() - band),
                    egui::pos2(x + bucket_px, map.bottom()),
                ),
                0.0,
                critical_color(ui),
            );
        }
    }
    let zoom = waterfall.zoom();
    let window = Rect::from_x_y_ranges(
        map.left() + zoom.start() as f32 * map.width()
            ..=(map.left() + zoom.end() as f32 * map.width())
                .max(map.left() + zoom.start() as f32 * map.width() + 2.0),
        map.y_range(),
    );
    let selection = ui.visuals().selection;
    painter.rect_filled(window, 0.0, selection.bg_fill.gamma_multiply(0.35));
    painter.rect_stroke(
        window,
        0.0,
        Stroke::new(1.5, selection.stroke.color),
        egui::StrokeKind::Inside,
    );
}
