//! The strip above the log table and the trace list: records per time bucket,
//! stacked by level (spans: failed or not), with a time axis. Hovering a bar says
//! its bucket's time and counts; dragging across the strip sets the tab's time range,
//! and a double-click or the "clear" button clears it.

use egui::{Align2, FontId, PointerButton, Pos2, Rect, Role, Sense, Stroke, Ui};

use super::screen::Screen;
use super::style::{level_color, weak_color};
use super::timeline::{highlight, x_at};
use crate::action::Action;
use crate::histogram::{Counted, Histogram, has_time_range};
use crate::model::Level;
use crate::snapshot::ViewKind;
use crate::ticks::ticks;
use crate::time::{format_clock, format_duration};

/// The strip's height, axis included.
pub const STRIP_HEIGHT: f32 = 56.0;
const AXIS_HEIGHT: f32 = 14.0;
/// A drag narrower than this is a click, not a range.
const MIN_RANGE_PX: f32 = 4.0;
/// Levels from the bottom of a bar up: errors first, where they are seen.
const STACK_ORDER: [Level; 7] = [
    Level::Fatal,
    Level::Error,
    Level::Warn,
    Level::Info,
    Level::Debug,
    Level::Trace,
    Level::Unset,
];

/// Draws the strip for the shown view, if the snapshot has its histogram.
pub fn strip(ui: &mut Ui, screen: &Screen<'_>, view: ViewKind, actions: &mut Vec<Action>) {
    let (area, _) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), STRIP_HEIGHT),
        Sense::hover(),
    );
    let painter = ui.painter_at(area);
    painter.rect_filled(area, 0.0, ui.visuals().faint_bg_color);
    let histogram = screen
        .snapshot
        .histogram
        .as_deref()
        .filter(|h| screen.snapshot_is_current() && h.counted == counted(view));
    let response = ui.interact(
        area,
        ui.scope_id().with("histogram"),
        Sense::click_and_drag(),
    );
    response.widget_info(|| egui::WidgetInfo::labeled(Role::Canvas, true, "histogram"));
    // From the pointer, not the response: the response of this drag-sensing strip
    // was never told of a click (seen in the kittest tests).
    let double_clicked = ui.input(|i| i.pointer.button_double_clicked(PointerButton::Primary));
    if double_clicked && response.contains_pointer() {
        actions.push(Action::ClearTimeRange);
    }
    if has_time_range(&screen.tab().filter) {
        let button = Rect::from_min_size(
            Pos2::new(area.right() - 52.0, area.top() + 2.0),
            egui::vec2(48.0, 16.0),
        );
        // A child of its own: `put` would move the parent's cursor back up to the
        // button, and the list below would overlap the strip.
        let mut corner = ui.new_child(egui::UiBuilder::new().max_rect(button));
        if corner
            .add_sized(button.size(), egui::Button::new("clear").small())
            .on_hover_text("clear the time range (x)")
            .clicked()
        {
            actions.push(Action::ClearTimeRange);
        }
    }
    let Some(histogram) = histogram.filter(|h| h.end_unix_nano > h.start_unix_nano) else {
        return;
    };
    let bars = Rect::from_min_max(
        area.left_top() + egui::vec2(0.0, 4.0),
        Pos2::new(area.right(), area.bottom() - AXIS_HEIGHT),
    );
    let axis = Rect::from_min_max(Pos2::new(area.left(), bars.bottom()), area.right_bottom());
    let span_nanos = (histogram.end_unix_nano - histogram.start_unix_nano) as f64;
    let share = |t: u64| (t as f64 - histogram.start_unix_nano as f64) / span_nanos;
    let time_at = |x: f32| {
        let share = f64::from(((x - area.left()) / area.width()).clamp(0.0, 1.0));
        histogram.start_unix_nano + (share * span_nanos).round() as u64
    };
    draw_bars(ui, &painter, histogram, bars, share);
    draw_axis(ui, &painter, histogram, axis);
    drag(ui, &response, area, time_at, actions);
    if let Some(pointer) = response.hover_pos() {
        let time = time_at(pointer.x);
        let bucket = (time / histogram.bucket_nanos).checked_sub(histogram.first_bucket);
        if let Some(i) = bucket.filter(|&i| (i as usize) < histogram.buckets.len()) {
            response.on_hover_ui_at_pointer(|ui| bucket_tip(ui, histogram, i as usize));
        }
    }
}

/// What the histogram of a view counts.
fn counted(view: ViewKind) -> Counted {
    match view {
        ViewKind::Logs => Counted::Logs,
        ViewKind::Traces => Counted::Spans,
    }
}

fn draw_bars(
    ui: &Ui,
    painter: &egui::Painter,
    histogram: &Histogram,
    bars: Rect,
    share: impl Fn(u64) -> f64,
) {
    let tallest = histogram
        .buckets
        .iter()
        .map(|b| b.iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    if tallest == 0 {
        return;
    }
    let px_per_record = bars.height() / tallest as f32;
    for (i, counts) in histogram.buckets.iter().enumerate() {
        let x0 = x_at(bars, share(histogram.bucket_start(i)).max(0.0));
        let x1 = x_at(bars, share(histogram.bucket_start(i + 1)).min(1.0));
        if x1 <= x0 {
            continue;
        }
        // A gap between bars, while they are wide enough to spare it.
        let right = if x1 - x0 > 3.0 { x1 - 1.0 } else { x1 };
        let mut bottom = bars.bottom();
        for level in STACK_ORDER {
            let count = counts[level as usize];
            if count == 0 {
                continue;
            }
            let top = bottom - (count as f32 * px_per_record).max(1.0);
            painter.rect_filled(
                Rect::from_x_y_ranges(x0..=right, top..=bottom),
                0.0,
                level_color(ui, level),
            );
            bottom = top;
        }
    }
}

/// Ticks counted from the range's start, with the range's clock times and the
/// bucket width in the corner.
fn draw_axis(ui: &Ui, painter: &egui::Painter, histogram: &Histogram, axis: Rect) {
    let font = FontId::monospace(10.0);
    let char_px = ui.fonts_mut(|f| f.glyph_width(&font, '0'));
    let text = weak_color(ui);
    let span = (histogram.end_unix_nano - histogram.start_unix_nano) as f64;
    for tick in ticks(0.0, span, axis.width(), char_px).into_iter().skip(1) {
        let x = x_at(axis, tick.at);
        painter.line_segment(
            [Pos2::new(x, axis.top()), Pos2::new(x, axis.top() + 3.0)],
            Stroke::new(1.0, text),
        );
        painter.text(
            Pos2::new(x + 2.0, axis.top() + 1.0),
            Align2::LEFT_TOP,
            format!("+{}", tick.label),
            font.clone(),
            text,
        );
    }
    painter.text(
        axis.left_top() + egui::vec2(2.0, 1.0),
        Align2::LEFT_TOP,
        format_clock(histogram.start_unix_nano),
        font.clone(),
        text,
    );
    painter.text(
        Pos2::new(axis.left() + 2.0, axis.top() - 42.0),
        Align2::LEFT_TOP,
        format!(
            "{} to {} · {} a bar · {} records",
            format_clock(histogram.start_unix_nano),
            format_clock(histogram.end_unix_nano),
            format_duration(histogram.bucket_nanos),
            histogram.total
        ),
        font,
        text,
    );
}

/// A drag across the strip, drawn while it lasts, sets the time range on release.
fn drag(
    ui: &Ui,
    response: &egui::Response,
    area: Rect,
    time_at: impl Fn(f32) -> u64,
    actions: &mut Vec<Action>,
) {
    // Where the drag began: egui forgets the press on release.
    let origin_id = response.id.with("origin");
    if response.drag_started_by(PointerButton::Primary)
        && let Some(origin) = ui.input(|i| i.pointer.press_origin())
    {
        ui.data_mut(|d| d.insert_temp(origin_id, origin.x));
    }
    let origin = ui.data(|d| d.get_temp::<f32>(origin_id));
    let pointer_x = ui
        .ctx()
        .pointer_interact_pos()
        .map(|p| p.x.clamp(area.left(), area.right()));
    let (Some(from_x), Some(to_x)) = (origin, pointer_x) else {
        return;
    };
    if response.drag_stopped_by(PointerButton::Primary) {
        ui.data_mut(|d| d.remove_temp::<f32>(origin_id));
        if (to_x - from_x).abs() >= MIN_RANGE_PX {
            let (left, right) = (from_x.min(to_x), from_x.max(to_x));
            actions.push(Action::SetTimeRange {
                from_unix_nano: time_at(left),
                to_unix_nano: time_at(right),
            });
        }
    } else if response.dragged_by(PointerButton::Primary) {
        highlight(ui, ui.painter(), area, (from_x, to_x));
    }
}

/// A bucket's time and counts, under the pointer.
fn bucket_tip(ui: &mut Ui, histogram: &Histogram, i: usize) {
    let start = histogram.bucket_start(i);
    ui.label(format!(
        "{} to {}",
        format_clock(start),
        format_clock(histogram.bucket_start(i + 1))
    ));
    let counts = &histogram.buckets[i];
    for level in STACK_ORDER.iter().rev() {
        let count = counts[*level as usize];
        if count == 0 {
            continue;
        }
        let name = match (histogram.counted, level) {
            (Counted::Spans, Level::Error) => "failed spans",
            (Counted::Spans, _) => "spans",
            (Counted::Logs, level) => level.label(),
        };
        ui.colored_label(level_color(ui, *level), format!("{name}: {count}"));
    }
    ui.label(format!("total: {}", counts.iter().sum::<u64>()));
}
