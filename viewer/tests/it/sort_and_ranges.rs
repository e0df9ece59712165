//! The trace list's order and the bounds a user types: a click on a column sorts by
//! it while the selection stays on its trace, live data keeps the order, duration
//! bounds keep the traces within, and time ranges show what is in them, sliding ones
//! letting records go as they age.

use egui_kittest::kittest::{Queryable, by};
use oculus_viewer::App;
use oculus_viewer::snapshot::{Item, SortKey, TraceRow, ViewKind};

use crate::app_fixture::{Fixture, app, live_app};

/// The trace list's rows the snapshot holds, in order.
fn trace_rows(app: &App) -> &[TraceRow] {
    &app.snapshot().traces.rows
}

/// Every trace is in the snapshot's rows, and its filter is done.
fn all_traces_published(app: &App) -> bool {
    let traces = &app.snapshot().traces;
    app.snapshot_is_current()
        && traces.progress.is_none()
        && traces.total > 0
        && traces.top == 0
        && traces.rows.len() == traces.total
}

/// The trace shown in the trace list's selected row, as drawn.
fn trace_in_selected_row(app: &App) -> Option<Item> {
    let row = app.tab().traces.selected_row()?;
    let trace = app.snapshot().traces.row(row)?;
    Some(Item::Trace(trace.trace_id))
}

fn durations(app: &App) -> Vec<u64> {
    trace_rows(app).iter().map(|t| t.duration_nano).collect()
}

fn longest_first(app: &App) -> bool {
    durations(app).windows(2).all(|w| w[0] >= w[1])
}

fn show_traces(f: &mut Fixture) {
    f.keys("t");
    f.wait("the whole trace list", |app| {
        app.tab().view == ViewKind::Traces && all_traces_published(app)
    });
}

/// Clicks the filter bar's text field with this hint and types `text` into it.
fn type_into(f: &mut Fixture, hint: &str, text: &str) {
    f.harness
        .get(by().predicate(|node| node.placeholder() == Some(hint)))
        .click();
    f.harness.step();
    f.type_text(text);
    // Leave the field, so that keys are commands again.
    f.harness.key_press(egui::Key::Escape);
    f.harness.step();
}

#[test]
fn clicking_the_duration_title_sorts_the_traces_by_duration_and_again_the_other_way() {
    let mut f = app();
    show_traces(&mut f);
    let mut before: Vec<u64> = durations(f.app());
    assert!(
        !longest_first(f.app()),
        "the test needs traces not already longest first: {before:?}"
    );
    f.harness.get_by_label("duration").click();
    f.wait("the traces, longest first", |app| {
        app.snapshot().trace_sort.key == SortKey::Duration
            && all_traces_published(app)
            && longest_first(app)
    });
    // The same traces, only in another order.
    let mut after = durations(f.app());
    before.sort_unstable();
    after.sort_unstable();
    assert_eq!(after, before);
    f.harness.step();
    f.harness
        .get_by_label("· sorted by duration, longest first");

    f.harness.get_by_label("duration").click();
    f.wait("the traces, shortest first", |app| {
        let sort = app.snapshot().trace_sort;
        sort.key == SortKey::Duration
            && !sort.descending
            && durations(app).windows(2).all(|w| w[0] <= w[1])
    });
    // The default: newest first.
    f.harness.get_by_label("start").click();
    f.wait("the newest trace first", |app| {
        app.snapshot().trace_sort.key == SortKey::Start
            && trace_rows(app)
                .windows(2)
                .all(|w| w[0].start_unix_nano >= w[1].start_unix_nano)
    });
}

#[test]
fn the_selected_trace_stays_selected_whatever_the_sort() {
    let mut f = app();
    show_traces(&mut f);
    f.keys("ggjjj");
    f.wait_selected();
    let chosen = f.app().tab().traces.selected_item().unwrap();
    let mut rows_seen = vec![f.app().tab().traces.selected_row().unwrap()];
    // s cycles the sort key, S reverses it: each order, the same trace selected.
    for keys in ["s", "S", "s", "s", "S", "s"] {
        let sort_before = f.app().snapshot().trace_sort;
        f.keys(keys);
        f.wait("the new order, the selection on its trace", |app| {
            app.snapshot().trace_sort != sort_before
                && all_traces_published(app)
                && trace_in_selected_row(app) == Some(chosen)
        });
        assert_eq!(f.app().tab().traces.selected_item(), Some(chosen));
        rows_seen.push(f.app().tab().traces.selected_row().unwrap());
    }
    // The orders moved it: the selection followed its trace, not its row.
    rows_seen.dedup();
    assert!(rows_seen.len() > 1, "{rows_seen:?}");
    // Enter opens the selected trace.
    f.harness.key_press(egui::Key::Enter);
    f.harness.step();
    let Item::Trace(chosen) = chosen else {
        unreachable!()
    };
    assert_eq!(f.app().tab().open_trace, Some(chosen));
}

#[test]
fn a_sorted_list_keeps_its_order_and_its_selection_while_traces_arrive() {
    let mut f = live_app();
    show_traces(&mut f);
    f.harness.get_by_label("duration").click();
    f.wait("the traces, longest first", |app| {
        app.snapshot().trace_sort.key == SortKey::Duration && longest_first(app)
    });
    f.keys("ggjj");
    f.wait_selected();
    let chosen = f.app().tab().traces.selected_item().unwrap();
    let before = f.app().snapshot().traces.total;
    let sending = f.send_in_background("checkout", 30);
    // Every frame drawn while they arrive is in order.
    while !sending.is_finished() {
        f.harness.step();
        assert!(longest_first(f.app()), "{:?}", durations(f.app()));
    }
    f.finish(sending);
    f.wait(
        "the new traces, in order, the selection on its trace",
        |app| {
            app.snapshot().traces.total >= before + 30
                && all_traces_published(app)
                && longest_first(app)
                && trace_in_selected_row(app) == Some(chosen)
        },
    );
    assert_eq!(f.app().tab().traces.selected_item(), Some(chosen));
}

#[test]
fn min_and_max_durations_keep_every_listed_trace_within() {
    let mut f = app();
    show_traces(&mut f);
    let mut all = durations(f.app());
    all.sort_unstable();
    // Bounds in whole microseconds around the middle of the durations.
    let min_us = all[all.len() / 4] / 1_000;
    let max_us = all[all.len() * 3 / 4].div_ceil(1_000);
    let within = |d: &u64| (min_us * 1_000..=max_us * 1_000).contains(d);
    let expected = all.iter().filter(|d| within(d)).count();
    assert!(expected > 0 && expected < all.len(), "{all:?}");

    type_into(&mut f, "min duration", &format!("{min_us}us"));
    type_into(
        &mut f,
        "max duration",
        &format!("{}ms", max_us as f64 / 1_000.0),
    );
    assert_eq!(f.app().tab().filter.min_duration, format!("{min_us}us"));
    f.wait("only the traces within", |app| {
        all_traces_published(app) && app.snapshot().traces.total == expected
    });
    assert!(durations(f.app()).iter().all(within));
    assert!(f.app().snapshot().filter_error.is_none());
}

#[test]
fn a_bad_duration_says_what_it_takes() {
    let mut f = app();
    show_traces(&mut f);
    type_into(&mut f, "max duration", "fast");
    f.wait("the reason", |app| {
        app.snapshot()
            .filter_error
            .as_deref()
            .is_some_and(|e| e.contains("max duration: not a duration: \"fast\""))
    });
    f.harness.step();
    f.harness
        .get_by_label("max duration: not a duration: \"fast\" (like 200us, 250ms, 1.5s, 2m)");
    assert_eq!(f.app().snapshot().traces.total, 0);
    // A trace's duration says nothing of log records: they all still show.
    let logs = f.app().snapshot().status.logs;
    f.keys("t");
    f.wait("every log record", |app| {
        app.tab().view == ViewKind::Logs
            && app.snapshot().logs.total == logs
            && app.snapshot().logs.progress.is_none()
    });
}

#[test]
fn an_absolute_range_shows_exactly_the_records_in_it() {
    let mut f = app();
    // Tall enough that the snapshot holds every log record.
    f.harness.set_size(egui::vec2(1400.0, 6000.0));
    f.wait("every log record published", |app| {
        let logs = &app.snapshot().logs;
        logs.top == 0 && logs.rows.len() == logs.total
    });
    let all: Vec<(u32, u64)> = f
        .app()
        .snapshot()
        .logs
        .rows
        .iter()
        .map(|r| (r.index, r.time_unix_nano))
        .collect();
    let mut times: Vec<u64> = all.iter().map(|&(_, t)| t).collect();
    times.sort_unstable();
    let (from, to) = (times[times.len() / 3], times[times.len() * 2 / 3]);
    let expected: Vec<u32> = all
        .iter()
        .filter(|&&(_, t)| (from..to).contains(&t))
        .map(|&(index, _)| index)
        .collect();
    assert!(!expected.is_empty() && expected.len() < all.len());
    let rfc3339 = |t: u64| {
        jiff::Timestamp::from_nanosecond(i128::from(t))
            .unwrap()
            .to_string()
    };
    type_into(&mut f, "from", &rfc3339(from));
    type_into(&mut f, "to", &rfc3339(to));
    f.wait("exactly the records in the range", |app| {
        let logs = &app.snapshot().logs;
        logs.progress.is_none() && logs.rows.iter().map(|r| r.index).collect::<Vec<_>>() == expected
    });
    assert!(f.app().snapshot().filter_error.is_none());
    // Spans by their start: no trace listed starts at or after the range's end.
    f.keys("t");
    f.wait("the traces in the range", all_traces_published);
    assert!(trace_rows(f.app()).iter().all(|t| t.start_unix_nano < to));
}

#[test]
fn a_range_relative_to_now_slides_and_drops_records_as_they_age() {
    let mut f = live_app();
    f.wait("the first records", |app| app.snapshot().logs.total > 0);
    // Only what arrived within the last few seconds, as time passes.
    type_into(&mut f, "from", "-6s");
    f.send("checkout", 2);
    f.wait("the records just sent", |app| {
        app.snapshot().logs.total > 0 && app.snapshot().logs.progress.is_none()
    });
    let now = oculus_viewer::time::now_unix_nano();
    assert!(
        f.app()
            .snapshot()
            .logs
            .rows
            .iter()
            .all(|r| r.time_unix_nano + 15_000_000_000 >= now),
        "only recent records show"
    );
    // Nothing changed but the clock: they leave the list as they age out of it.
    f.wait("the records aged out", |app| {
        app.snapshot().logs.total == 0 && app.snapshot().status.logs > 0
    });
    assert_eq!(f.app().tab().filter.from, "-6s");
    assert!(f.app().snapshot().filter_error.is_none());
}
