//! The waterfall's zoom and time axis, driven with the mouse and keys through the real
//! app: drag a region, Ctrl + wheel, pan, and what is drawn outside the window.

use egui::{Event, Modifiers, MouseWheelSource, MouseWheelUnit, PointerButton, Pos2, Rect};
use egui::{Shape, TouchPhase};
use egui_kittest::kittest::Queryable;
use oculus_viewer::App;
use oculus_viewer::view_model::{Side, WaterfallRow, Zoom};

use crate::app_fixture::{Fixture, app};

/// Height of the time axis above the rows, and of a row.
const AXIS_HEIGHT: f32 = 18.0;
const ROW_HEIGHT: f32 = 20.0;

/// The app showing the waterfall of a trace that got through all its steps (four
/// spans: the request, its query, the inventory check and the pricing).
fn waterfall() -> Fixture {
    let mut f = app();
    f.keys("t");
    f.wait("the trace list", |app| app.snapshot().traces.total > 0);
    f.keys("gg");
    loop {
        f.wait_selected();
        f.harness.key_press(egui::Key::Enter);
        f.wait("the waterfall", |app| app.waterfall().is_some());
        if f.app().snapshot().trace.as_ref().unwrap().spans.len() >= 4 {
            break;
        }
        f.harness.key_press(egui::Key::Escape);
        f.keys("j");
    }
    // Drawn once with its rows, so that the timeline is there to point at.
    f.harness.step();
    f.harness.step();
    f
}

fn zoom(app: &App) -> Zoom {
    app.waterfall().unwrap().zoom()
}

/// Where the bars are: the timeline's rectangle, axis included.
fn timeline(f: &Fixture) -> Rect {
    f.harness.get_by_label("timeline").rect()
}

/// The point `share` of the way across the timeline, on the first row.
fn on_row(timeline: Rect, share: f32) -> Pos2 {
    Pos2::new(
        timeline.left() + share * timeline.width(),
        timeline.top() + AXIS_HEIGHT + ROW_HEIGHT / 2.0,
    )
}

/// The share of the timeline's width at `x`, as the app measures it.
fn share_at(timeline: Rect, x: f32) -> f64 {
    f64::from((x - timeline.left()) / timeline.width())
}

#[track_caller]
fn assert_window(zoom: Zoom, start: f64, end: f64, tolerance: f64) {
    assert!(
        (zoom.start() - start).abs() <= tolerance && (zoom.end() - end).abs() <= tolerance,
        "{zoom:?} is not {start}..{end}"
    );
}

/// The filled rectangles drawn in the last frame within the timeline's x range and
/// with its y range `rows`: the span bars, and the highlighted region.
fn rects_within(f: &Fixture, timeline: Rect) -> Vec<Rect> {
    f.harness
        .output()
        .shapes
        .iter()
        .filter_map(|clipped| match &clipped.shape {
            Shape::Rect(rect) => Some(rect.rect),
            _ => None,
        })
        .filter(|rect| {
            rect.left() >= timeline.left() - 0.5
                && rect.right() <= timeline.right() + 0.5
                && rect.top() >= timeline.top() - 0.5
        })
        .collect()
}

/// The span bars drawn in the last frame: as tall as a row less its margins.
fn bars_drawn(f: &Fixture, timeline: Rect) -> usize {
    rects_within(f, timeline)
        .iter()
        .filter(|rect| (rect.height() - (ROW_HEIGHT - 8.0)).abs() < 0.5)
        .count()
}

/// The shown rows' spans that have a part in the window, by the view model.
fn spans_with_a_bar(app: &App) -> usize {
    let waterfall = app.waterfall().unwrap();
    let list = app.tab().waterfall;
    (list.top..waterfall.len().min(list.top + list.visible))
        .filter_map(|row| match waterfall.get(row) {
            Some(WaterfallRow::Span(span)) => waterfall.visible_extent(span),
            _ => None,
        })
        .count()
}

#[test]
fn dragging_across_the_bars_zooms_into_that_region() {
    let mut f = waterfall();
    assert!(zoom(f.app()).is_whole());
    let timeline = timeline(&f);
    let (from, middle, to) = (
        on_row(timeline, 0.2),
        on_row(timeline, 0.4),
        on_row(timeline, 0.6),
    );
    f.harness.hover_at(from);
    f.harness.drag_at(from);
    f.harness.hover_at(middle);
    f.harness.step();
    // While dragging, the region is highlighted over the axis and the rows.
    let highlighted = rects_within(&f, timeline).into_iter().any(|rect| {
        (rect.left() - from.x).abs() < 1.0
            && (rect.right() - middle.x).abs() < 1.0
            && rect.height() >= timeline.height() - 1.0
    });
    assert!(highlighted, "no highlight from {from} to {middle}");
    assert!(zoom(f.app()).is_whole(), "nothing zooms before the release");
    f.harness.hover_at(to);
    f.harness.drop_at(to);
    f.harness.step();
    let zoomed = zoom(f.app());
    assert_window(
        zoomed,
        share_at(timeline, from.x),
        share_at(timeline, to.x),
        1e-6,
    );
    // Zoomed, the minimap takes a strip above the axis: the rows move down.
    let timeline = f.harness.get_by_label("timeline").rect();
    let (from, middle, to) = (
        on_row(timeline, 0.2),
        on_row(timeline, 0.4),
        on_row(timeline, 0.6),
    );
    // A second region is a region of what is shown now: 0.2..0.6 of 0.2..0.6.
    f.harness.hover_at(to);
    f.harness.drag_at(to);
    f.harness.hover_at(middle);
    f.harness.hover_at(from);
    f.harness.drop_at(from);
    f.harness.step();
    assert_window(zoom(f.app()), 0.28, 0.44, 1e-4);
    // A click on a bar still selects its row rather than zooming.
    let before = zoom(f.app());
    f.harness.hover_at(from);
    f.harness.event(Event::PointerButton {
        pos: from,
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    f.harness.event(Event::PointerButton {
        pos: from,
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    f.harness.step();
    assert_eq!(zoom(f.app()), before);
    assert_eq!(f.app().tab().waterfall.selected_row(), Some(0));
    // z shows the whole trace again.
    f.keys("z");
    assert!(zoom(f.app()).is_whole());
}

#[test]
fn ctrl_wheel_zooms_around_the_pointer() {
    let mut f = waterfall();
    let timeline = timeline(&f);
    let pointer = on_row(timeline, 0.3);
    let at = share_at(timeline, pointer.x);
    let time_under_pointer = zoom(f.app()).at(at);
    let top = f.app().tab().waterfall.top;
    f.harness.hover_at(pointer);
    f.harness.step();
    f.harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 120.0),
        modifiers: Modifiers::CTRL,
        phase: TouchPhase::Move,
        source: MouseWheelSource::Wheel,
    });
    f.wait("zoomed in", |app| zoom(app).width() < 0.8);
    // The wheel's turn is spread over a few frames; each keeps the point in place.
    for _ in 0..10 {
        f.harness.step();
        let now = zoom(f.app());
        assert!(
            (now.at(at) - time_under_pointer).abs() < 1e-9,
            "{now:?} moved the time under the pointer"
        );
    }
    assert!(!zoom(f.app()).is_whole());
    assert_eq!(
        f.app().tab().waterfall.top,
        top,
        "Ctrl + wheel does not scroll"
    );
    // The other way zooms back out, around the same point, to the whole trace.
    f.harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Point,
        delta: egui::vec2(0.0, -2000.0),
        modifiers: Modifiers::CTRL,
        phase: TouchPhase::Move,
        source: MouseWheelSource::Wheel,
    });
    f.wait("zoomed out", |app| zoom(app).is_whole());
}

#[test]
fn panning_moves_the_window_and_stops_at_the_trace_ends() {
    let mut f = waterfall();
    // The whole trace has nowhere to go.
    f.keys("l");
    assert!(zoom(f.app()).is_whole());
    f.keys("+");
    assert_window(zoom(f.app()), 0.25, 0.75, 1e-12);
    f.keys("l");
    assert_window(zoom(f.app()), 0.35, 0.85, 1e-12);
    f.keys("ll");
    assert_window(zoom(f.app()), 0.5, 1.0, 1e-12);
    f.keys("hhhhhh");
    assert_window(zoom(f.app()), 0.0, 0.5, 1e-12);
    // Shift + wheel down moves later.
    let timeline = timeline(&f);
    let pointer = on_row(timeline, 0.5);
    f.harness.hover_at(pointer);
    f.harness.step();
    f.harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Point,
        delta: egui::vec2(0.0, -200.0),
        modifiers: Modifiers::SHIFT,
        phase: TouchPhase::Move,
        source: MouseWheelSource::Wheel,
    });
    f.wait("panned later", |app| zoom(app).start() > 0.05);
    f.harness.run_steps(30);
    let after_wheel = zoom(f.app());
    assert!((after_wheel.width() - 0.5).abs() < 1e-9, "{after_wheel:?}");
    // Shift + wheel is not a vertical scroll.
    assert_eq!(f.app().tab().waterfall.top, 0);
    // Dragging with the middle button moves the trace with the pointer: to the
    // right shows earlier times, by the share of the width dragged.
    let middle_drag = |f: &mut Fixture, from: Pos2, to: Pos2| {
        for (pos, pressed) in [(from, true), (to, false)] {
            f.harness.hover_at(pos);
            f.harness.event(Event::PointerButton {
                pos,
                button: PointerButton::Middle,
                pressed,
                modifiers: Modifiers::NONE,
            });
        }
        f.harness.step();
    };
    let dragged = on_row(timeline, 0.6);
    middle_drag(&mut f, pointer, dragged);
    let expected = after_wheel.start() - 0.1 * after_wheel.width();
    let moved = zoom(f.app());
    assert!(
        (moved.start() - expected).abs() < 1e-4,
        "{moved:?} after {after_wheel:?}"
    );
    // Far past the start it stops there, and past the end at the end.
    for _ in 0..2 {
        middle_drag(&mut f, on_row(timeline, 0.01), on_row(timeline, 0.99));
    }
    assert_window(zoom(f.app()), 0.0, 0.5, 1e-9);
    for _ in 0..3 {
        middle_drag(&mut f, on_row(timeline, 0.99), on_row(timeline, 0.01));
    }
    assert_window(zoom(f.app()), 0.5, 1.0, 1e-9);
}

#[test]
fn spans_outside_the_zoomed_window_draw_no_bar_at_its_edge() {
    let mut f = waterfall();
    let timeline = timeline(&f);
    let spans = f.app().snapshot().trace.as_ref().unwrap().spans.len();
    assert_eq!(bars_drawn(&f, timeline), spans, "a bar per span");
    assert_eq!(spans_with_a_bar(f.app()), spans);
    // The first half, by dragging across it: the last steps of the request (the
    // inventory check and the pricing, after the query) lie wholly in the second.
    f.harness.hover_at(on_row(timeline, 0.0));
    f.harness.drag_at(on_row(timeline, 0.0));
    f.harness.hover_at(on_row(timeline, 0.25));
    f.harness.hover_at(on_row(timeline, 0.5));
    f.harness.drop_at(on_row(timeline, 0.5));
    f.harness.step();
    f.harness.step();
    assert_window(zoom(f.app()), 0.0, 0.5, 1e-6);
    // Zoomed, the minimap takes a strip above the axis.
    let timeline = f.harness.get_by_label("timeline").rect();
    let trace = f.app().snapshot().trace.clone().unwrap();
    let waterfall = f.app().waterfall().unwrap();
    let after: Vec<&str> = trace
        .spans
        .iter()
        .filter(|span| waterfall.visible_extent(span).is_none())
        .inspect(|span| assert_eq!(waterfall.side_of(span), Side::After))
        .map(|span| span.name.as_str())
        .collect();
    assert!(after.contains(&"compute_price"), "{after:?}");
    // The drawing left them out: as many bars as spans with a part in the window.
    let shown = spans_with_a_bar(f.app());
    assert_eq!(shown, spans - after.len());
    assert_eq!(bars_drawn(&f, timeline), shown);
    // None of the bars drawn ends at the right edge but the spans that cross it.
    let crossing = trace
        .spans
        .iter()
        .filter(|span| waterfall.visible_extent(span).is_some_and(|e| e.cut_after))
        .count();
    let at_right_edge = rects_within(&f, timeline)
        .iter()
        .filter(|rect| (rect.height() - (ROW_HEIGHT - 8.0)).abs() < 0.5)
        .filter(|rect| (rect.right() - timeline.right()).abs() < 1.0)
        .count();
    assert_eq!(at_right_edge, crossing);
    // The second half: the request's first logs lie before it and get no dot, and
    // the spans before it no bar at the left edge.
    f.keys("lllll");
    assert_window(zoom(f.app()), 0.5, 1.0, 1e-6);
    f.harness.step();
    let waterfall = f.app().waterfall().unwrap();
    let early_logs: Vec<u64> = trace
        .spans
        .iter()
        .flat_map(|span| &span.logs)
        .map(|log| log.time_unix_nano)
        .filter(|&time| waterfall.share_of(time) < 0.5)
        .collect();
    assert!(!early_logs.is_empty());
    for time in early_logs {
        assert_eq!(waterfall.visible_point(time), None);
    }
    let before = trace
        .spans
        .iter()
        .filter(|span| waterfall.visible_extent(span).is_none())
        .inspect(|span| assert_eq!(waterfall.side_of(span), Side::Before))
        .count();
    let shown = spans_with_a_bar(f.app());
    assert_eq!(shown, spans - before);
    assert_eq!(bars_drawn(&f, timeline), shown);
    let crossing = trace
        .spans
        .iter()
        .filter(|span| waterfall.visible_extent(span).is_some_and(|e| e.cut_before))
        .count();
    let at_left_edge = rects_within(&f, timeline)
        .iter()
        .filter(|rect| (rect.height() - (ROW_HEIGHT - 8.0)).abs() < 0.5)
        .filter(|rect| (rect.left() - timeline.left()).abs() < 1.0)
        .count();
    assert_eq!(
        at_left_edge, crossing,
        "only spans crossing the edge start there"
    );
    // Ctrl + wheel at the trace's end, deep enough to leave the query (which ends
    // just before the request's last steps) wholly left of the window.
    let query = trace
        .spans
        .iter()
        .find(|span| span.name == "SELECT orders")
        .unwrap();
    let query_end = waterfall.share_of(query.end_unix_nano);
    f.harness.hover_at(on_row(timeline, 1.02));
    f.harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 1600.0),
        modifiers: Modifiers::CTRL,
        phase: TouchPhase::Move,
        source: MouseWheelSource::Wheel,
    });
    f.wait("the query left of the window", |app| {
        zoom(app).start() > query_end && zoom(app).end() == 1.0
    });
    f.harness.run_steps(30);
    let waterfall = f.app().waterfall().unwrap();
    assert_eq!(waterfall.visible_extent(query), None);
    assert_eq!(waterfall.side_of(query), Side::Before);
    let shown = spans_with_a_bar(f.app());
    assert_eq!(bars_drawn(&f, timeline), shown);
    let crossing = trace
        .spans
        .iter()
        .filter(|span| waterfall.visible_extent(span).is_some_and(|e| e.cut_before))
        .count();
    let at_left_edge = rects_within(&f, timeline)
        .iter()
        .filter(|rect| (rect.height() - (ROW_HEIGHT - 8.0)).abs() < 0.5)
        .filter(|rect| (rect.left() - timeline.left()).abs() < 1.0)
        .count();
    assert!(crossing >= 1, "the request's own span crosses the edge");
    assert_eq!(
        at_left_edge, crossing,
        "the query draws no bar at the left edge"
    );
}

/// The axis' labels drawn in the last frame, left to right, with their left and right
/// x, and each label's time in nanoseconds.
fn axis_labels(f: &Fixture, timeline: Rect) -> Vec<(f32, f32, f64)> {
    let mut labels: Vec<(f32, f32, f64)> = f
        .harness
        .output()
        .shapes
        .iter()
        .filter_map(|clipped| match &clipped.shape {
            Shape::Text(text) if text.pos.y < timeline.top() + AXIS_HEIGHT => {
                let label = text.galley.text();
                let (value, unit) = label.split_once(' ')?;
                let scale = match unit {
                    "ns" => 1.0,
                    "µs" => 1e3,
                    "ms" => 1e6,
                    "s" => 1e9,
                    _ => return None,
                };
                let nanos = value.parse::<f64>().ok()? * scale;
                Some((text.pos.x, text.pos.x + text.galley.size().x, nanos))
            }
            _ => None,
        })
        .collect();
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    labels
}

/// Labels one step apart, the step 1, 2 or 5 times a power of ten, none overlapping
/// the next; returns the step.
#[track_caller]
fn assert_nice_ticks(labels: &[(f32, f32, f64)]) -> f64 {
    assert!(labels.len() >= 2, "{labels:?}");
    let step = labels[1].2 - labels[0].2;
    let power = 10f64.powf(step.log10().floor());
    let mantissa = (step / power).round();
    assert!(
        [1.0, 2.0, 5.0].contains(&mantissa) && (step - mantissa * power).abs() < step * 1e-6,
        "a step of {step} ns"
    );
    for pair in labels.windows(2) {
        assert!(
            (pair[1].2 - pair[0].2 - step).abs() < step * 1e-6,
            "{labels:?}"
        );
        assert!(pair[0].1 < pair[1].0, "overlapping labels: {labels:?}");
    }
    step
}

#[test]
fn the_axis_labels_follow_the_zoom() {
    let mut f = waterfall();
    let timeline = timeline(&f);
    let trace = f.app().snapshot().trace.clone().unwrap();
    let duration = (trace.end_unix_nano - trace.start_unix_nano) as f64;
    // The whole trace: from its start, at 0, to its end.
    let whole = axis_labels(&f, timeline);
    assert!(whole.len() >= 3, "{whole:?}");
    let step = assert_nice_ticks(&whole);
    assert_eq!(whole[0].2, 0.0, "{whole:?}");
    assert!(whole.last().unwrap().2 + step > duration, "{whole:?}");
    // Zoomed in around the middle: finer steps, times around the middle.
    f.keys("+++++++");
    f.harness.step();
    // Zoomed, the minimap takes a strip above the axis.
    let timeline = f.harness.get_by_label("timeline").rect();
    let deep = axis_labels(&f, timeline);
    let deep_step = assert_nice_ticks(&deep);
    assert!(deep_step < step / 10.0, "{deep:?}");
    let window = zoom(f.app());
    for &(_, _, nanos) in &deep {
        let share = nanos / duration;
        assert!(
            share >= window.start() - 1e-3 && share <= window.end() + 1e-3,
            "{deep:?}"
        );
    }
    // A narrower timeline fits fewer labels, still apart.
    f.keys("z");
    f.harness.set_size(egui::vec2(450.0, 800.0));
    f.harness.step();
    f.harness.step();
    let narrow_timeline = f.harness.get_by_label("timeline").rect();
    let narrow = axis_labels(&f, narrow_timeline);
    assert_nice_ticks(&narrow);
    assert!(narrow.len() < whole.len(), "{narrow:?} against {whole:?}");
}
