//! The operations view driven as a user would: `O`, clicks on its titles, rows and
//! scatter, keys, over a recorded run and while records arrive; its figures held to a
//! reference computed here from the same run's index.

use std::collections::BTreeMap;

use egui::{Event, PointerButton, Pos2};
use egui_kittest::kittest::{Queryable, by};
use oculus_viewer::App;
use oculus_viewer::model::Index;
use oculus_viewer::operations::{OperationColumn, OperationRow, OperationsView};
use oculus_viewer::snapshot::{Analysis, ViewKind};

use crate::app_fixture::{Fixture, app_over, live_app};
use crate::common::{loaded_engine, recorded_run, runtime};

/// (service, span name) → every duration of its spans, in nanoseconds, sorted.
fn reference(index: &Index) -> BTreeMap<(String, String), (Vec<u64>, u64)> {
    let mut operations: BTreeMap<(String, String), (Vec<u64>, u64)> = BTreeMap::new();
    for span in index.spans.iter() {
        let service = index.strings.get(index.origins.get(span.origin).service);
        let name = index.span_text.display(span.text);
        let entry = operations
            .entry((service.to_string(), name.to_owned()))
            .or_default();
        entry.0.push(span.end - span.start);
        entry.1 += u64::from(span.error);
    }
    for (durations, _) in operations.values_mut() {
        durations.sort_unstable();
    }
    operations
}

/// The nearest-rank percentile of sorted values: rank ⌈p·n/100⌉.
fn nearest_rank(sorted: &[u64], percent: usize) -> u64 {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The operations view once its table is complete and counts `spans` spans.
fn complete(app: &App, spans: u64) -> bool {
    app.snapshot()
        .operations
        .as_ref()
        .is_some_and(|view| view.progress.is_none() && view.spans == spans)
}

fn view(f: &Fixture) -> OperationsView {
    (**f.app().snapshot().operations.as_ref().unwrap()).clone()
}

/// Clicks at a point of the window.
fn click_at(f: &mut Fixture, at: Pos2) {
    f.harness.hover_at(at);
    for pressed in [true, false] {
        f.harness.event(Event::PointerButton {
            pos: at,
            button: PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    }
    f.harness.step();
}

#[test]
fn the_operations_table_equals_a_reference_computed_from_the_run() {
    let dir = recorded_run();
    let runtime = runtime();
    let engine = loaded_engine(dir.path(), &runtime);
    let expected = reference(engine.index());
    let spans = engine.index().spans.len() as u64;
    drop(engine);
    let mut f = app_over(dir);
    f.keys("O");
    assert_eq!(f.app().tab().analysis, Some(Analysis::Operations));
    f.wait("the whole table", |app| complete(app, spans));
    let rows = view(&f).rows;
    assert!(expected.len() > 1, "the demo has several operations");
    assert_eq!(rows.len(), expected.len());
    for row in &rows {
        let key = (row.key.service.to_string(), row.key.name.to_string());
        let (durations, errors) = &expected[&key];
        let want = OperationRow {
            key: row.key.clone(),
            count: durations.len() as u64,
            errors: *errors,
            p50_nano: nearest_rank(durations, 50),
            p95_nano: nearest_rank(durations, 95),
            p99_nano: nearest_rank(durations, 99),
            max_nano: *durations.last().unwrap(),
        };
        assert_eq!(*row, want);
    }
    // Busiest first by default; the help's key brings the lists back.
    assert!(rows.windows(2).all(|w| w[0].count >= w[1].count));
    f.harness.get_by_label(&rows[0].key.name);
    f.keys("O");
    assert_eq!(f.app().tab().analysis, None);
}

#[test]
fn a_click_on_a_title_sorts_by_its_column_and_again_reverses() {
    let mut f = app_over(recorded_run());
    f.harness.get_by_label("Operations").click();
    f.wait("the table", |app| {
        app.snapshot()
            .operations
            .as_ref()
            .is_some_and(|v| v.progress.is_none() && v.rows.len() > 1)
    });
    let p95 = |f: &Fixture| -> Vec<u64> { view(f).rows.iter().map(|r| r.p95_nano).collect() };
    f.harness.get_by_label("p95").click();
    f.wait("sorted by p95", |app| {
        app.snapshot()
            .operations
            .as_ref()
            .is_some_and(|v| v.sort.column == OperationColumn::P95 && v.sort.descending)
    });
    let sorted = p95(&f);
    assert!(sorted.windows(2).all(|w| w[0] >= w[1]), "{sorted:?}");
    f.harness.get_by_label("p95").click();
    f.wait("sorted by p95 the other way", |app| {
        app.snapshot()
            .operations
            .as_ref()
            .is_some_and(|v| v.sort.column == OperationColumn::P95 && !v.sort.descending)
    });
    let sorted = p95(&f);
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "{sorted:?}");
}

#[test]
fn an_operation_lists_its_traces_slowest_first_and_its_scatter_opens_one() {
    let mut f = app_over(recorded_run());
    f.keys("O");
    f.wait("the table", |app| {
        app.snapshot()
            .operations
            .as_ref()
            .is_some_and(|v| v.progress.is_none() && v.rows.len() > 1)
    });
    // j onto the second row, Enter selects it.
    f.keys("jj");
    f.harness.key_press(egui::Key::Enter);
    f.harness.step();
    let chosen = view(&f).rows[1].key.clone();
    assert_eq!(f.app().tab().operations.selected.as_ref(), Some(&chosen));
    f.wait("its traces", |app| {
        app.snapshot()
            .operations
            .as_ref()
            .and_then(|v| v.detail.as_ref())
            .is_some_and(|d| d.key == chosen && !d.traces.is_empty())
    });
    let detail = view(&f).detail.unwrap();
    let slowest: Vec<u64> = detail.traces.iter().map(|t| t.span_duration_nano).collect();
    assert!(slowest.windows(2).all(|w| w[0] >= w[1]), "{slowest:?}");
    // Enter again opens the slowest; Esc comes back to the table.
    f.harness.key_press(egui::Key::Enter);
    f.harness.step();
    let first = detail.traces[0].trace.trace_id;
    assert_eq!(f.app().tab().open_trace, Some(first));
    f.wait("its waterfall", |app| app.waterfall().is_some());
    f.harness.key_press(egui::Key::Escape);
    f.harness.step();
    assert_eq!(f.app().tab().open_trace, None);
    assert_eq!(f.app().tab().analysis, Some(Analysis::Operations));
    // A click on the scatter's highest point opens that span's trace.
    f.harness.step();
    let plot = f.harness.get(by().label("duration scatter")).rect();
    let first_start = detail
        .points
        .iter()
        .map(|p| p.start_unix_nano)
        .min()
        .unwrap();
    let last_start = detail
        .points
        .iter()
        .map(|p| p.start_unix_nano)
        .max()
        .unwrap();
    let top = detail
        .points
        .iter()
        .max_by_key(|p| p.duration_nano)
        .unwrap();
    let inner = plot.shrink(6.0);
    let across = if last_start > first_start {
        (top.start_unix_nano - first_start) as f32 / (last_start - first_start) as f32
    } else {
        0.5
    };
    click_at(
        &mut f,
        Pos2::new(inner.left() + across * inner.width(), inner.top()),
    );
    assert_eq!(f.app().tab().open_trace, Some(top.trace_id));
    assert_eq!(f.app().tab().view, ViewKind::Traces);
}

#[test]
fn the_table_counts_spans_arriving_while_it_is_shown() {
    let mut f = live_app();
    f.wait("the first spans", |app| app.snapshot().status.spans > 0);
    f.keys("O");
    f.wait("the table of what arrived", |app| {
        let spans = app.snapshot().status.spans as u64;
        complete(app, spans)
    });
    let before = view(&f).spans;
    f.send("checkout", 4);
    f.wait("the new spans in the table", |app| {
        let spans = app.snapshot().status.spans as u64;
        spans > before && complete(app, spans)
    });
}

#[test]
fn a_typed_search_narrows_the_table_to_the_spans_it_matches() {
    let mut f = app_over(recorded_run());
    f.keys("O");
    f.wait("the table", |app| {
        app.snapshot()
            .operations
            .as_ref()
            .is_some_and(|v| v.progress.is_none() && v.rows.len() > 1)
    });
    let all = view(&f);
    // The least busy operation: searching its name keeps its spans, not every span.
    let least = all.rows.iter().min_by_key(|r| r.count).unwrap().clone();
    f.harness
        .get(by().predicate(|node| node.placeholder() == Some("search (/)")))
        .click();
    f.harness.step();
    f.type_text(&least.key.name);
    f.harness.key_press(egui::Key::Escape);
    f.wait("the narrowed table", |app| {
        app.snapshot()
            .operations
            .as_ref()
            .is_some_and(|v| v.progress.is_none() && v.spans < all.spans)
    });
    let narrowed = view(&f);
    let kept = narrowed.rows.iter().find(|r| r.key == least.key).unwrap();
    assert_eq!(kept.count, least.count);
}

/// A finished run in `dir` of the service "shop": per span name, spans of these
/// durations in milliseconds, a trace each.
fn write_run(dir: &std::path::Path, spans: &[(&str, &[u64])], first_trace: u64) {
    use oculus_store::block::SpanColumns;
    use oculus_store::proto::{AnyValue, KeyValue, Resource, Scope, Span, any_value};
    use oculus_store::{BlockBuilder, SessionWriter, WriterOptions, encode_block};

    let mut b = BlockBuilder::new();
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
    let start = 1_700_000_000_000_000_000_u64;
    let mut trace = first_trace;
    for (name, durations) in spans {
        let name = b.intern(name);
        for duration_ms in *durations {
            trace += 1;
            b.push_span(
                Span {
                    scope,
                    trace_id_low: trace,
                    name,
                    ..Span::default()
                },
                SpanColumns {
                    span_id: trace,
                    parent_span_id: 0,
                    start_unix_nano: start + trace * 1_000_000_000,
                    end_unix_nano: start + trace * 1_000_000_000 + duration_ms * 1_000_000,
                },
            );
        }
    }
    let (mut writer, _) = SessionWriter::open(dir, WriterOptions::default()).unwrap();
    writer
        .append(&[encode_block(&b.finish(), 3).unwrap()])
        .unwrap();
    writer.close().unwrap();
}

#[test]
fn comparing_two_runs_flags_the_operation_planted_slower_first() {
    use std::sync::Arc;

    use oculus_viewer::compare::CompareRequest;
    use oculus_viewer::filter::Filter;
    use oculus_viewer::operations::{OperationSort, OperationsRequest};
    use oculus_viewer::snapshot::UiEvent;

    let dir = tempfile::tempdir().unwrap();
    let usual: &[u64] = &[10, 12, 11, 13, 10, 12, 11, 10, 12, 14];
    let slower: &[u64] = &[40, 45, 41, 48, 40, 42, 44, 40, 46, 50];
    // The baseline run, then the run under study, where "GET /cart" got slower.
    write_run(
        dir.path(),
        &[
            ("GET /cart", usual),
            ("GET /items", usual),
            ("POST /pay", usual),
        ],
        0,
    );
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    write_run(
        dir.path(),
        &[
            ("GET /cart", slower),
            ("GET /items", usual),
            ("POST /pay", usual),
        ],
        100,
    );
    let runtime = runtime();
    let mut engine = loaded_engine(dir.path(), &runtime);
    assert_eq!(engine.index().runs.len(), 2, "two runs");
    let run = |session: u16| Filter {
        sessions: vec![session],
        ..Filter::default()
    };
    engine.handle(UiEvent::ShowTab {
        tab: 2,
        filter: Box::new(run(1)),
        version: 1,
    });
    engine.handle(UiEvent::Operations(Some(Box::new(OperationsRequest {
        tab: 2,
        sort: OperationSort::default(),
        selected: None,
        compare: Some(CompareRequest {
            tab: 1,
            filter: Arc::new(run(0)),
        }),
    }))));
    engine.finish();
    let view = engine.snapshot().operations.unwrap();
    let comparison = view.comparison.as_ref().unwrap();
    let ranked: Vec<(&str, bool)> = comparison
        .rows
        .iter()
        .map(|r| (&*r.key.name, r.regression))
        .collect();
    assert_eq!(ranked[0], ("GET /cart", true), "{ranked:?}");
    assert!(
        ranked[1..].iter().all(|(_, regression)| !regression),
        "{ranked:?}"
    );
    // Its slowest trace in each run: the 50 ms span now, the 14 ms one before.
    let [shown, baseline] = comparison.rows[0].slowest;
    assert_eq!(shown.map(|(trace, _)| trace), Some(110));
    assert_eq!(baseline.map(|(trace, _)| trace), Some(10));
}

#[test]
fn compare_with_picks_another_tab_and_slowest_traces_opens_both() {
    let mut f = app_over(recorded_run());
    f.wait("the service's tab", |app| app.tabs().len() > 1);
    let other = f.app().tabs()[1].name.clone();
    f.keys("O");
    f.wait("the table", |app| {
        app.snapshot()
            .operations
            .as_ref()
            .is_some_and(|v| v.progress.is_none() && v.rows.len() > 1)
    });
    let operations = view(&f).rows.len();
    f.harness.get_by_label("Compare with…").click();
    // The click opens the menu, which is drawn from the next frame on.
    f.harness.step();
    f.harness.step();
    f.harness.get_by_label(&format!("with {other}")).click();
    f.harness.step();
    f.wait("the comparison", |app| {
        app.snapshot()
            .operations
            .as_ref()
            .and_then(|v| v.comparison.as_ref())
            .is_some_and(|c| c.progress.is_none() && c.rows.len() == operations)
    });
    // The same records in both tabs: nothing regressed.
    let comparison = view(&f).comparison.unwrap();
    assert!(comparison.rows.iter().all(|r| !r.regression));
    let [shown, baseline] = comparison.rows[0].slowest;
    f.harness
        .get_all_by_label("Slowest traces")
        .next()
        .unwrap()
        .click();
    f.harness.step();
    assert_eq!(f.app().tab().open_trace, shown.map(|(trace, _)| trace));
    assert_eq!(
        f.app().tabs()[1].open_trace,
        baseline.map(|(trace, _)| trace)
    );
}
