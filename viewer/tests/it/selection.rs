//! The selection is a record or a trace, not a row: it stays on what the user chose
//! while data streams in and filters change, and actions act on it at once.

use egui_kittest::kittest::Queryable;
use oculus_viewer::App;
use oculus_viewer::model::Level;
use oculus_viewer::snapshot::{Item, RecordRef, ViewKind};

use crate::app_fixture::{app, live_app};

/// The trace shown in the trace list's selected row, as drawn.
fn trace_in_selected_row(app: &App) -> Option<Item> {
    let row = app.tab().traces.selected_row()?;
    let trace = app.snapshot().traces.row(row)?;
    Some(Item::Trace(trace.trace_id))
}

#[test]
fn a_selected_trace_stays_selected_while_new_traces_arrive_above_it() {
    let mut f = live_app();
    f.keys("t");
    f.wait("the first traces", |app| {
        app.tab().view == ViewKind::Traces && app.snapshot().traces.total >= 6
    });
    f.keys("ggjj");
    f.wait_selected();
    let chosen = f.app().tab().traces.selected_item().unwrap();
    assert_eq!(trace_in_selected_row(f.app()), Some(chosen));
    let before = f.app().snapshot().traces.total;

    // New traces are listed first: every row below them moves down.
    f.send("checkout", 6);
    f.wait("the new traces", |app| {
        app.snapshot().traces.total >= before + 6
    });
    f.wait("the selection on its trace", |app| {
        trace_in_selected_row(app) == Some(chosen)
    });
    assert_eq!(f.app().tab().traces.selected_item(), Some(chosen));
    assert!(f.app().tab().traces.selected_row().unwrap() >= 2 + 6);

    // Enter opens the trace that is highlighted, not the one now in its old row.
    f.harness.key_press(egui::Key::Enter);
    f.harness.step();
    let Item::Trace(chosen_id) = chosen else {
        unreachable!()
    };
    assert_eq!(f.app().tab().open_trace, Some(chosen_id));
}

#[test]
fn e_lands_on_a_failed_trace_while_traces_arrive() {
    let mut f = live_app();
    f.keys("t");
    f.wait("the first traces", |app| app.snapshot().traces.total >= 6);
    // Every seventh request of the demo fails; new traces keep arriving meanwhile.
    let sending = f.send_in_background("checkout", 60);
    let mut found = 0;
    // While they arrive, and once more after the last (a failed trace is there by then).
    let mut last = false;
    while !last {
        last = sending.is_finished();
        // From the oldest trace up towards the newest: the nearest failed one.
        f.keys("G");
        f.wait_selected();
        let oldest = f.app().tab().traces.selected_item();
        f.keys("E");
        for _ in 0..20 {
            f.harness.step();
        }
        if last {
            f.wait("the failed trace found", |app| {
                app.tab().traces.selected_item() != oldest
            });
        }
        let chosen = f.app().tab().traces.selected_item();
        let Some(Item::Trace(chosen)) = chosen.filter(|&chosen| Some(chosen) != oldest) else {
            // Nothing failed yet, or the answer is still coming.
            continue;
        };
        f.wait("the chosen trace shown", |app| {
            trace_in_selected_row(app) == Some(Item::Trace(chosen))
        });
        let row = f.app().tab().traces.selected_row().unwrap();
        let trace = f.app().snapshot().traces.row(row).unwrap();
        assert!(trace.errors > 0, "E selected a trace without errors");
        found += 1;
    }
    assert!(
        found > 0,
        "no search found a failed trace while traces arrived"
    );
    f.finish(sending);
}

#[test]
fn a_filter_that_hides_the_selected_record_says_so_and_selects_the_nearest() {
    let mut f = app();
    // The first record that is not an error.
    let logs = &f.app().snapshot().logs;
    let (row, log) = logs
        .rows
        .iter()
        .enumerate()
        .find(|(_, log)| log.level < Level::Error)
        .map(|(offset, log)| (logs.top + offset, log.index))
        .unwrap();
    f.keys("G");
    let total = f.app().snapshot().logs.total;
    for _ in row + 1..total {
        f.keys("k");
    }
    f.wait_selected();
    assert_eq!(
        f.app().tab().logs.selected_item(),
        Some(Item::Record(RecordRef::Log(log)))
    );
    let errors = f.app().snapshot().level_counts[Level::Error as usize] as usize;
    f.harness.get_by_label(&format!("ERROR {errors}")).click();
    f.wait("only errors", |app| app.snapshot().logs.total == errors);
    f.wait("the nearest error selected", |app| {
        app.tab()
            .logs
            .selected_row()
            .and_then(|row| app.snapshot().logs.row(row))
            .is_some_and(|shown| {
                shown.level == Level::Error
                    && app.tab().logs.selected_item()
                        == Some(Item::Record(RecordRef::Log(shown.index)))
            })
    });
    // The nearest: the first error after the hidden record, or the last before it.
    let selected = f.app().tab().logs.selected_item().unwrap();
    let Item::Record(RecordRef::Log(selected)) = selected else {
        unreachable!()
    };
    let indexes: Vec<u32> = f
        .app()
        .snapshot()
        .logs
        .rows
        .iter()
        .map(|r| r.index)
        .collect();
    let expected = indexes
        .iter()
        .copied()
        .find(|&i| i > log)
        .or(indexes.last().copied())
        .unwrap();
    assert_eq!(selected, expected);
    let notice = f.app().notice().unwrap_or_default().to_owned();
    assert!(notice.contains("not in this list any more"), "{notice}");
}

#[test]
fn enter_on_a_selection_scrolled_out_of_view_acts_at_once_and_never_later() {
    let mut f = live_app();
    // More rows than a screen above and below the shown ones.
    f.send("checkout", 40);
    f.wait("the run's logs", |app| app.snapshot().logs.total > 300);
    f.keys("gg");
    f.wait_selected();
    let first = f.app().tab().logs.selected_item().unwrap();
    // Scroll the first row far out of what the backend publishes.
    let total = f.app().snapshot().logs.total;
    f.keys("G");
    f.wait("the newest rows", |app| {
        app.snapshot().logs.row(total - 1).is_some()
    });
    f.keys("gg");
    f.wait_selected();
    assert_eq!(f.app().tab().logs.selected_item(), Some(first));
    f.harness
        .event(egui::Event::PointerMoved(egui::pos2(600.0, 400.0)));
    f.harness.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, -6000.0),
        modifiers: egui::Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
    });
    f.wait("the first row scrolled away", |app| {
        app.snapshot().logs.row(0).is_none() && app.tab().logs.top > 0
    });
    f.harness.key_press(egui::Key::Enter);
    f.harness.step();
    assert!(f.app().detail_open());
    let Item::Record(record) = first else {
        unreachable!()
    };
    f.wait("the selected record's detail", |app| {
        app.snapshot()
            .detail
            .as_ref()
            .is_some_and(|d| d.record == record)
    });
    // Closed, and the list scrolled back: nothing opens by itself.
    f.harness.key_press(egui::Key::Escape);
    f.keys("gg");
    for _ in 0..10 {
        f.harness.step();
    }
    assert!(!f.app().detail_open());
}
