//! In a trace: the critical path and self times, the flame graph (`F`) sharing the
//! waterfall's selection, the minimap of a zoomed trace, and a trace of 20,000 spans,
//! driven through the real app.

use std::path::Path;

use egui::{Event, PointerButton, Pos2, Rect, Shape};
use egui_kittest::kittest::Queryable;
use oculus_store::block::SpanColumns;
use oculus_store::proto::{AnyValue, KeyValue, LogRecord, Resource, Scope, Span, any_value};
use oculus_store::{BlockBuilder, SessionWriter, WriterOptions, encode_block};
use oculus_viewer::snapshot::{Item, RecordRef, WaterfallSpan};

use crate::app_fixture::{Fixture, app_over, live_app_over};

const MS: u64 = 1_000_000;
/// Height of a row of the waterfall and of the flame graph.
const ROW_HEIGHT: f32 = 20.0;

/// A span of a hand-built trace: its id, its parent's (0: none), name and times in
/// milliseconds from the trace's start.
struct TestSpan {
    id: u64,
    parent: u64,
    name: String,
    start_ms: u64,
    end_ms: u64,
}

fn span(id: u64, parent: u64, name: &str, start_ms: u64, end_ms: u64) -> TestSpan {
    TestSpan {
        id,
        parent,
        name: name.to_owned(),
        start_ms,
        end_ms,
    }
}

/// Writes one trace (with a log under its first span, so that the run has logs) as
/// a finished run in `dir`.
fn write_trace(dir: &Path, spans: &[TestSpan]) {
    let base = oculus_viewer::time::now_unix_nano() - 600_000 * MS;
    let mut b = BlockBuilder::new();
    b.set_base_time(base);
    let service_key = b.intern("service.name");
    let resource = b.add_resource(Resource {
        attributes: vec![KeyValue {
            key: service_key,
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("shop".into())),
            }),
        }],
        ..Resource::default()
    });
    let scope = b.add_scope(Scope {
        resource,
        ..Scope::default()
    });
    for span in spans {
        let name = b.intern(&span.name);
        b.push_span(
            Span {
                scope,
                trace_id_low: 0xabc,
                name,
                ..Span::default()
            },
            SpanColumns {
                span_id: span.id,
                parent_span_id: span.parent,
                start_unix_nano: base + span.start_ms * MS,
                end_unix_nano: base + span.end_ms * MS,
            },
        );
    }
    b.push_log(
        LogRecord {
            scope,
            trace_id_low: 0xabc,
            span_id: spans[0].id,
            ..LogRecord::default()
        },
        base + MS,
        base + MS,
    );
    let (mut writer, _) = SessionWriter::open(dir, WriterOptions::default()).unwrap();
    writer
        .append(&[encode_block(&b.finish(), 3).unwrap()])
        .unwrap();
    writer.close().unwrap();
}

/// A request with overlapping children, a gap, a nested query and an audit that
/// outlives it. The critical path: the audit (up to the request's end), the query
/// (the last to end before the audit began; render ended after), inside it the
/// lookup, and the request's own gaps; auth ended after the query began.
fn shop_trace() -> Vec<TestSpan> {
    vec![
        span(1, 0, "request", 0, 100),
        span(2, 1, "auth", 5, 20),
        span(3, 1, "query", 15, 60),
        span(4, 1, "render", 65, 90),
        span(5, 1, "audit", 80, 150),
        span(6, 3, "lookup", 20, 50),
    ]
}

/// The app over a run holding `spans`, showing its trace's waterfall.
fn trace_open(spans: &[TestSpan]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    write_trace(dir.path(), spans);
    let mut f = app_over(dir);
    open_first_trace(&mut f, spans.len());
    f
}

fn open_first_trace(f: &mut Fixture, spans: usize) {
    f.keys("t");
    f.wait("the trace list", |app| app.snapshot().traces.total > 0);
    f.keys("gg");
    f.wait_selected();
    f.harness.key_press(egui::Key::Enter);
    f.wait("the waterfall", |app| {
        app.waterfall().is_some_and(|w| w.view.spans.len() >= spans)
    });
    f.harness.step();
    f.harness.step();
}

fn spans(f: &Fixture) -> Vec<WaterfallSpan> {
    f.app().snapshot().trace.as_ref().unwrap().spans.clone()
}

fn by_name<'a>(spans: &'a [WaterfallSpan], name: &str) -> &'a WaterfallSpan {
    spans.iter().find(|s| s.name == name).unwrap()
}

/// The texts painted in the last frame.
fn painted_texts(f: &Fixture) -> Vec<String> {
    f.harness
        .output()
        .shapes
        .iter()
        .filter_map(|clipped| match &clipped.shape {
            Shape::Text(text) => Some(text.galley.text().to_owned()),
            _ => None,
        })
        .collect()
}

/// The filled rectangles painted in the last frame in the critical path's colour.
fn critical_bands(f: &Fixture) -> usize {
    let colors = [
        egui::Color32::from_rgb(250, 250, 250),
        egui::Color32::from_rgb(15, 15, 15),
    ];
    f.harness
        .output()
        .shapes
        .iter()
        .filter(
            |clipped| matches!(&clipped.shape, Shape::Rect(rect) if colors.contains(&rect.fill)),
        )
        .count()
}

fn click(f: &mut Fixture, at: Pos2) {
    f.harness.event(Event::PointerMoved(at));
    f.harness.step();
    for pressed in [true, false] {
        f.harness.event(Event::PointerButton {
            pos: at,
            button: PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        f.harness.step();
    }
    f.harness.step();
}

fn selected_record(f: &Fixture) -> Option<Item> {
    f.app().tab().waterfall.selected_item()
}

#[test]
fn the_critical_path_of_a_hand_built_trace_is_the_expected_chain() {
    let f = trace_open(&shop_trace());
    let spans = spans(&f);
    let on_path: Vec<&str> = spans
        .iter()
        .filter(|s| !s.critical.is_empty())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(on_path, ["request", "query", "lookup", "audit"]);
    let parts = |name: &str| -> Vec<(u64, u64)> {
        let span = by_name(&spans, name);
        let start = by_name(&spans, "request").start_unix_nano;
        span.critical
            .iter()
            .map(|i| {
                (
                    (i.start_unix_nano - start) / MS,
                    (i.end_unix_nano - start) / MS,
                )
            })
            .collect()
    };
    assert_eq!(parts("request"), [(0, 15), (60, 80)]);
    assert_eq!(parts("query"), [(15, 20), (50, 60)]);
    assert_eq!(parts("lookup"), [(20, 50)]);
    assert_eq!(parts("audit"), [(80, 100)], "cut at the request's end");
    // Children cover 5..60 and 65..100 of the request's 100 ms.
    assert_eq!(by_name(&spans, "request").self_nano, 10 * MS);
    assert_eq!(by_name(&spans, "query").self_nano, 15 * MS);
    assert_eq!(by_name(&spans, "audit").self_nano, 70 * MS);
    // Each part of the path is marked on its bar, and the row says its self time.
    assert!(critical_bands(&f) >= 6, "{} bands", critical_bands(&f));
    let texts = painted_texts(&f);
    assert!(
        texts.iter().any(|t| t.contains("self 10")),
        "no self time in {texts:?}"
    );
}

#[test]
fn the_detail_pane_shows_self_time_and_time_on_the_critical_path() {
    let mut f = trace_open(&shop_trace());
    // The first row is the request: open its details.
    f.keys("gg");
    f.harness.key_press(egui::Key::Enter);
    f.wait("the request's details", |app| {
        app.snapshot()
            .detail
            .as_ref()
            .is_some_and(|d| d.title == "request")
    });
    f.harness.step();
    f.harness.get_by_label("self time");
    f.harness.get_by_label("on critical path");
    // Self 10 ms, on the path 15 + 20 ms.
    f.harness.get_by_label("10.00 ms");
    f.harness.get_by_label("35.00 ms");
}

#[test]
fn the_flame_graph_shares_the_waterfalls_selection() {
    let mut f = trace_open(&shop_trace());
    let spans = spans(&f);
    f.keys("F");
    f.harness.step();
    let flame = f.harness.get_by_label("flame graph").rect();
    assert!(f.harness.query_by_label("timeline").is_some(), "its axis");
    // Render, 65..90 ms of 150, on the second depth.
    let timeline = Rect::from_x_y_ranges(flame.left() + 4.0..=flame.right() - 4.0, flame.y_range());
    let at = Pos2::new(
        timeline.left() + timeline.width() * 77.5 / 150.0,
        flame.top() + ROW_HEIGHT * 1.5,
    );
    click(&mut f, at);
    let render = by_name(&spans, "render").index;
    assert_eq!(
        selected_record(&f),
        Some(Item::Record(RecordRef::Span(render)))
    );
    f.wait("the render span's details", |app| {
        app.snapshot()
            .detail
            .as_ref()
            .is_some_and(|d| d.title == "render")
    });
    // Back to the waterfall: the same span is selected there.
    f.keys("F");
    f.harness.step();
    assert!(f.harness.query_by_label("flame graph").is_none());
    assert_eq!(
        selected_record(&f),
        Some(Item::Record(RecordRef::Span(render)))
    );
    let row = f.app().tab().waterfall.selected_row().unwrap();
    assert_eq!(
        f.app().waterfall().unwrap().get(row).unwrap().record(),
        RecordRef::Span(render)
    );
    // Zoomed in to 56.25..93.75 ms, a click at 85 ms picks the audit (80..150 ms),
    // drawn over the render (65..90 ms) it overlaps.
    f.keys("F++");
    f.harness.step();
    let flame = f.harness.get_by_label("flame graph").rect();
    let timeline = Rect::from_x_y_ranges(flame.left() + 4.0..=flame.right() - 4.0, flame.y_range());
    let at = Pos2::new(
        timeline.left() + timeline.width() * (85.0 - 56.25) / 37.5,
        flame.top() + ROW_HEIGHT * 1.5,
    );
    click(&mut f, at);
    let audit = by_name(&spans, "audit").index;
    assert_eq!(
        selected_record(&f),
        Some(Item::Record(RecordRef::Span(audit)))
    );
}

#[test]
fn zoomed_in_a_minimap_shows_and_a_click_on_it_moves_the_window() {
    let mut f = trace_open(&shop_trace());
    assert!(f.harness.query_by_label("minimap").is_none(), "not zoomed");
    f.keys("++");
    f.harness.step();
    let zoom = f.app().waterfall().unwrap().zoom();
    assert!((zoom.start() - 0.375).abs() < 1e-9, "{zoom:?}");
    let map = f.harness.get_by_label("minimap").rect();
    // A click near the start centres the window there, stopped at the trace's start.
    click(
        &mut f,
        Pos2::new(map.left() + map.width() * 0.05, map.center().y),
    );
    let zoom = f.app().waterfall().unwrap().zoom();
    assert!(
        zoom.start() == 0.0 && (zoom.width() - 0.25).abs() < 1e-9,
        "{zoom:?}"
    );
    // Then one at 60% centres it on 60%.
    click(
        &mut f,
        Pos2::new(map.left() + map.width() * 0.6, map.center().y),
    );
    let zoom = f.app().waterfall().unwrap().zoom();
    assert!((zoom.start() - 0.475).abs() < 1e-3, "{zoom:?}");
    // The flame graph has it too.
    f.keys("F");
    f.harness.step();
    f.harness.get_by_label("minimap");
    f.keys("z");
    f.harness.step();
    assert!(
        f.harness.query_by_label("minimap").is_none(),
        "the whole trace"
    );
}

#[test]
fn a_trace_of_20_000_spans_opens_scrolls_and_shows_as_a_flame_graph() {
    // A root over 400 requests, each with 49 steps in a row.
    let mut trace = vec![span(1, 0, "batch", 0, 40_000)];
    for request in 0..400u64 {
        let id = 2 + request * 50;
        let start = request * 100;
        trace.push(span(id, 1, "request", start, start + 98));
        for step in 0..49u64 {
            let at = start + step * 2;
            trace.push(span(id + 1 + step, id, &format!("step {step}"), at, at + 2));
        }
    }
    assert_eq!(trace.len(), 20_001);
    let mut f = trace_open(&trace);
    let spans = spans(&f);
    assert_eq!(spans.len(), 20_001);
    assert_eq!(f.app().snapshot().trace.as_ref().unwrap().spans_left_out, 0);
    // Every request is on the path, after the gap before it.
    let on_path = spans.iter().filter(|s| !s.critical.is_empty()).count();
    assert!(on_path > 400, "{on_path} spans on the path");
    f.keys("G");
    f.harness.step();
    let last = f.app().waterfall().unwrap().len() - 1;
    assert_eq!(f.app().tab().waterfall.selected_row(), Some(last));
    f.harness.key_press(egui::Key::PageUp);
    f.harness.step();
    assert!(f.app().tab().waterfall.selected_row().unwrap() < last);
    f.keys("F");
    f.harness.step();
    f.harness.get_by_label("flame graph");
    f.keys("+++");
    f.harness.step();
    f.harness.get_by_label("minimap");
}

#[test]
fn live_traces_get_their_critical_path_and_stay_in_the_flame_graph() {
    let mut f = live_app_over(tempfile::tempdir().unwrap());
    f.send("checkout", 3);
    f.wait("the demo's traces", |app| {
        app.snapshot().status.spans >= 3 && app.snapshot().status.traces >= 3
    });
    // F with no trace open says so, and leaves the next trace in the waterfall.
    f.keys("F");
    f.harness.step();
    open_first_trace(&mut f, 1);
    assert!(f.harness.query_by_label("flame graph").is_none());
    f.harness.get_by_label("flame graph (F)");
    let trace = f.app().snapshot().trace.clone().unwrap();
    // The path runs through the root, and never for longer than the trace.
    assert!(!trace.spans[0].critical.is_empty(), "{:?}", trace.spans[0]);
    let on_path: u64 = trace
        .spans
        .iter()
        .map(|s| s.critical.iter().map(|i| i.duration_nano()).sum::<u64>())
        .sum();
    assert!(on_path > 0 && on_path <= trace.end_unix_nano - trace.start_unix_nano);
    f.keys("F");
    f.harness.step();
    f.harness.get_by_label("flame graph");
    let spans_before = f.app().snapshot().status.spans;
    f.send("checkout", 3);
    f.wait("more spans", |app| {
        app.snapshot().status.spans > spans_before
    });
    f.harness.step();
    f.harness.get_by_label("flame graph");
    assert_eq!(
        f.app().snapshot().trace.as_ref().unwrap().trace_id,
        trace.trace_id
    );
}
