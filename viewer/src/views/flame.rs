//! The open trace as a flame graph (an icicle: the roots on top): a row per depth, each
//! span a rectangle on the trace's time axis in its service's colour, its name inside
//! when it fits, its critical-path parts marked. It shares the waterfall's selection,
//! zoom and mouse.

use egui::{Color32, FontId, Rect, Role, Sense, Stroke, Ui};

use super::minimap;
use super::screen::Screen;
use super::style::{ROW_HEIGHT, level_color};
use super::timeline::{self, AXIS_HEIGHT};
use super::waterfall::{critical_parts, service_color, trace_summary};
use crate::action::Action;
use crate::model::{Level, trace_hex};
use crate::snapshot::{RecordRef, WaterfallSpan};
use crate::tab_ui::ListState;
use crate::time::format_duration;
use crate::view_model::Waterfall;

/// A rectangle narrower than this shows no name.
const MIN_LABEL_PX: f32 = 24.0;

pub fn flame(ui: &mut Ui, screen: &Screen<'_>, list: &ListState, actions: &mut Vec<Action>) {
    let Some(waterfall) = screen.waterfall else {
        ui.label("loading the trace...");
        return;
    };
    header(ui, waterfall, actions);
    let view = waterfall.view;
    let area = ui.available_rect_before_wrap().intersect(ui.clip_rect());
    let (strip, area) = minimap::carve(area, waterfall);
    let timeline = Rect::from_x_y_ranges(area.left() + 4.0..=area.right() - 4.0, area.y_range());
    let axis = Rect::from_x_y_ranges(timeline.x_range(), area.top()..=area.top() + AXIS_HEIGHT);
    let rows = Rect::from_min_max(egui::pos2(area.left(), axis.bottom()), area.max);
    if let Some(strip) = strip {
        minimap::minimap(ui, waterfall, strip, timeline, actions);
    }
    let region = timeline::input(ui, waterfall, timeline, area, actions);
    let depths = view.shape.depths.len();
    let visible = (rows.height() / ROW_HEIGHT).floor().max(1.0) as usize;
    let selected = selected_span(waterfall, list);
    let top = scroll(ui, waterfall, rows, visible, selected);
    let response = ui.interact(rows, ui.scope_id().with("flame"), Sense::click());
    response.widget_info(|| egui::WidgetInfo::labeled(Role::Canvas, true, "flame graph"));
    let painter = ui.painter().with_clip_rect(area);
    timeline::axis(ui, &painter, waterfall, axis, timeline, area.bottom());
    for depth in top..depths.min(top + visible) {
        let y = rows.top() + (depth - top) as f32 * ROW_HEIGHT;
        draw_depth(ui, &painter, waterfall, depth, timeline, y, selected);
    }
    if let Some(region) = region {
        timeline::highlight(ui, &painter, timeline, region);
    }
    let pointed = response
        .hover_pos()
        .and_then(|at| span_at(waterfall, timeline, rows, top, at));
    if let Some(position) = pointed {
        let span = &view.spans[position];
        if response.clicked()
            && let Some(row) = waterfall.row_of_span(position)
        {
            actions.push(Action::SelectWaterfallRow {
                row,
                record: RecordRef::Span(span.index),
            });
        }
        if response.double_clicked()
            && let Some(source) = &span.source
        {
            actions.push(Action::Jump(source.clone()));
        }
        response.on_hover_text_at_pointer(describe(span));
    }
}

fn header(ui: &mut Ui, waterfall: Waterfall<'_>, actions: &mut Vec<Action>) {
    let view = waterfall.view;
    ui.horizontal_wrapped(|ui| {
        if ui.button("< Traces").on_hover_text("Esc").clicked() {
            actions.push(Action::CloseTrace);
        }
        ui.monospace(trace_hex(view.trace_id));
        trace_summary(
            ui,
            view,
            " · flame graph",
            ("waterfall (F)", "the trace as rows, the same selection"),
            actions,
        );
        if ui.small_button("zoom in (+)").clicked() {
            actions.push(Action::Zoom(0.5));
        }
        if ui.small_button("zoom out (-)").clicked() {
            actions.push(Action::Zoom(2.0));
        }
        if !waterfall.zoom().is_whole() && ui.small_button("reset zoom").clicked() {
            actions.push(Action::ResetZoom);
        }
    });
}

/// The waterfall's selected span, by its position in the view.
fn selected_span(waterfall: Waterfall<'_>, list: &ListState) -> Option<usize> {
    waterfall.span_at_row(list.selected_row()?)
}

/// The first depth shown: moved by the wheel, and to the selected span's depth when a
/// new selection lies off the rows shown (j / k move it through the waterfall's rows).
fn scroll(
    ui: &Ui,
    waterfall: Waterfall<'_>,
    rows: Rect,
    visible: usize,
    selected: Option<usize>,
) -> usize {
    let offset_id = ui.scope_id().with("flame offset");
    let selected_id = ui.scope_id().with("flame selected");
    let depths = waterfall.view.shape.depths.len();
    let most_px = depths.saturating_sub(visible) as f32 * ROW_HEIGHT;
    let mut offset_px = ui.data(|d| d.get_temp::<f32>(offset_id)).unwrap_or(0.0);
    if ui.rect_contains_pointer(rows) {
        let (scroll_y, zooming) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta() != 1.0));
        if !zooming {
            offset_px -= scroll_y;
        }
    }
    let last_selected = ui
        .data(|d| d.get_temp::<Option<usize>>(selected_id))
        .flatten();
    if selected != last_selected
        && let Some(span) = selected.and_then(|s| waterfall.view.spans.get(s))
    {
        let depth = usize::from(span.depth);
        let top = (offset_px / ROW_HEIGHT) as usize;
        if depth < top || depth >= top + visible {
            offset_px = depth.saturating_sub(visible / 2) as f32 * ROW_HEIGHT;
        }
    }
    offset_px = offset_px.clamp(0.0, most_px);
    ui.data_mut(|d| {
        d.insert_temp(offset_id, offset_px);
        d.insert_temp(selected_id, selected);
    });
    (offset_px / ROW_HEIGHT) as usize
}

/// Draws the spans of one depth on the row at `y`: those in the window, and of those
/// under a point wide, one per point.
fn draw_depth(
    ui: &Ui,
    painter: &egui::Painter,
    waterfall: Waterfall<'_>,
    depth: usize,
    timeline: Rect,
    y: f32,
    selected: Option<usize>,
) {
    let view = waterfall.view;
    let zoom = waterfall.zoom();
    let row = &view.shape.depths[depth];
    let reach = &view.shape.reach[depth];
    let mut painted_until = f32::NEG_INFINITY;
    let mut next = first_in_window(waterfall, depth);
    while let Some(&position) = row.get(next) {
        let span = &view.spans[position as usize];
        // By start: every span after this one starts past the window too.
        if waterfall.share_of(span.start_unix_nano) > zoom.end() {
            break;
        }
        next += 1;
        let Some(rect) = span_rect(waterfall, span, timeline, y) else {
            continue;
        };
        if rect.right() <= painted_until {
            continue;
        }
        painted_until = rect.right();
        paint_span(ui, painter, waterfall, span, timeline, rect);
        // The spans from here that end before what is painted lie under it (they
        // start after this one): skipped at once, so a depth of 100,000 spans zoomed
        // out costs a search per point, not a step per span.
        let painted_share = zoom.at(f64::from(
            (painted_until - timeline.left()) / timeline.width(),
        ));
        next += reach.get(next..).map_or(0, |rest| {
            rest.partition_point(|&end| waterfall.share_of(end) < painted_share)
        });
    }
    // The selection is drawn over the rest, however narrow.
    if let Some(span) = selected
        .and_then(|s| view.spans.get(s))
        .filter(|span| usize::from(span.depth) == depth)
        && let Some(rect) = span_rect(waterfall, span, timeline, y)
    {
        paint_span(ui, painter, waterfall, span, timeline, rect);
        let selection = ui.visuals().selection.stroke;
        painter.rect_stroke(
            rect.expand(1.0),
            1.0,
            Stroke::new(2.0, selection.color),
            egui::StrokeKind::Outside,
        );
    }
}

/// A span's rectangle on the row at `y`, at least a point wide, if it is in the window.
fn span_rect(
    waterfall: Waterfall<'_>,
    span: &WaterfallSpan,
    timeline: Rect,
    y: f32,
) -> Option<Rect> {
    let extent = waterfall.visible_extent(span)?;
    let x0 = timeline::x_at(timeline, extent.start);
    let x1 = timeline::x_at(timeline, extent.end).max(x0 + 1.0);
    Some(Rect::from_min_max(
        egui::pos2(x0, y + 1.0),
        egui::pos2(x1, y + ROW_HEIGHT - 1.0),
    ))
}

/// A span's rectangle in its service's colour (errors in theirs), its critical-path
/// parts marked and its name inside when it fits.
fn paint_span(
    ui: &Ui,
    painter: &egui::Painter,
    waterfall: Waterfall<'_>,
    span: &WaterfallSpan,
    timeline: Rect,
    rect: Rect,
) {
    let color = if span.error {
        level_color(ui, Level::Error)
    } else {
        service_color(&span.service)
    };
    painter.rect_filled(rect, 1.0, color);
    if rect.width() >= 3.0 {
        painter.rect_stroke(
            rect,
            1.0,
            Stroke::new(1.0, ui.visuals().panel_fill),
            egui::StrokeKind::Inside,
        );
    }
    critical_parts(
        ui,
        painter,
        waterfall,
        span,
        timeline,
        rect.shrink2(egui::vec2(0.0, 2.0)),
    );
    if rect.width() >= MIN_LABEL_PX {
        painter
            .with_clip_rect(rect.shrink(2.0).intersect(painter.clip_rect()))
            .text(
                egui::pos2(rect.left() + 3.0, rect.center().y - 1.0),
                egui::Align2::LEFT_CENTER,
                &span.name,
                FontId::proportional(11.0),
                Color32::from_rgb(20, 20, 20),
            );
    }
}

/// The first span at `depth` that may reach into the window: every one before it
/// ended before the window's start.
fn first_in_window(waterfall: Waterfall<'_>, depth: usize) -> usize {
    let window_start = waterfall.zoom().start();
    waterfall
        .view
        .shape
        .first_reaching(depth, |end| waterfall.share_of(end) >= window_start)
}

/// The span under the pointer `at`, by its position in the view: the last drawn
/// there, as overlapping siblings are drawn in order of start.
fn span_at(
    waterfall: Waterfall<'_>,
    timeline: Rect,
    rows: Rect,
    top: usize,
    at: egui::Pos2,
) -> Option<usize> {
    if !rows.contains(at) {
        return None;
    }
    let depth = top + ((at.y - rows.top()) / ROW_HEIGHT) as usize;
    let view = waterfall.view;
    let window_end = waterfall.zoom().end();
    let mut found = None;
    let first = first_in_window(waterfall, depth);
    for &position in view.shape.depths.get(depth)?.get(first..)? {
        let span = &view.spans[position as usize];
        if waterfall.share_of(span.start_unix_nano) > window_end {
            break;
        }
        let Some(extent) = waterfall.visible_extent(span) else {
            continue;
        };
        let x0 = timeline::x_at(timeline, extent.start);
        let x1 = timeline::x_at(timeline, extent.end).max(x0 + 1.0);
        if x0 - 0.5 > at.x {
            break;
        }
        // Overlapping siblings: the later one is drawn over the earlier.
        if at.x <= x1 + 0.5 {
            found = Some(position as usize);
        }
    }
    found
}

/// A span's hover text: name, service, duration, self time, time on the critical path.
fn describe(span: &WaterfallSpan) -> String {
    let critical: u64 = span
        .critical
        .iter()
        .map(crate::critical_path::Interval::duration_nano)
        .sum();
    format!(
        "{} ({})\n{} · self {} · on critical path {}",
        span.name,
        span.service,
        format_duration(span.end_unix_nano.saturating_sub(span.start_unix_nano)),
        format_duration(span.self_nano),
        format_duration(critical),
    )
}
