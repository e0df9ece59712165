//! The histogram strip above the lists, driven through the real app: its counts
//! against the lists and the index, a drag that sets the tab's time range, `x`, the
//! "clear" button and a double-click that clear it, and counts that follow a search
//! and live records.

use egui::{Event, Modifiers, PointerButton, Pos2, Rect};
use egui_kittest::kittest::Queryable;
use oculus_viewer::App;
use oculus_viewer::histogram::{Counted, Histogram};
use oculus_viewer::model::{Index, Level};
use oculus_viewer::snapshot::ViewKind;
use oculus_viewer::time::parse_moment;

use crate::app_fixture::{Fixture, app_over, live_app_over};
use crate::common::{loaded_engine, recorded_run, runtime};

/// The shown view's histogram once every row of its list is counted.
fn histogram(app: &App, view: ViewKind) -> Option<&Histogram> {
    let snapshot = app.snapshot();
    let (list_done, counted) = match view {
        ViewKind::Logs => (snapshot.logs.progress.is_none(), Counted::Logs),
        ViewKind::Traces => (snapshot.traces.progress.is_none(), Counted::Spans),
    };
    snapshot
        .histogram
        .as_deref()
        .filter(|h| app.snapshot_is_current() && list_done && h.counted == counted && h.complete)
}

fn bucket_sum(histogram: &Histogram) -> u64 {
    histogram.buckets.iter().flatten().sum()
}

/// Waits for the log histogram to count exactly what the log table lists.
#[track_caller]
fn wait_logs_counted(f: &mut Fixture) {
    f.wait("the histogram of the listed logs", |app| {
        histogram(app, ViewKind::Logs).is_some_and(|h| h.total == app.snapshot().logs.total as u64)
    });
}

/// What the oracle needs of a run's records: log times, and whether each span failed.
struct Records {
    log_times: Vec<u64>,
    span_failed: Vec<bool>,
}

impl Records {
    fn of(index: &Index) -> Self {
        Self {
            log_times: (0..index.logs.len())
                .filter_map(|i| index.logs.get(i))
                .map(|l| l.time)
                .collect(),
            span_failed: (0..index.spans.len())
                .filter_map(|i| index.spans.get(i))
                .map(|s| s.error)
                .collect(),
        }
    }
}

/// The app over a recorded run, and that run's records read apart, as the oracle.
fn app_and_index() -> (Fixture, Records) {
    let dir = recorded_run();
    let records = Records::of(loaded_engine(dir.path(), &runtime()).index());
    (app_over(dir), records)
}

fn strip(f: &Fixture) -> Rect {
    f.harness.get_by_label("histogram").rect()
}

fn at(strip: Rect, share: f32) -> Pos2 {
    Pos2::new(strip.left() + share * strip.width(), strip.center().y)
}

/// Drags across the strip from `from` to `to` (shares of its width).
fn drag(f: &mut Fixture, from: f32, to: f32) {
    let strip = strip(f);
    f.harness.hover_at(at(strip, from));
    f.harness.drag_at(at(strip, from));
    f.harness.hover_at(at(strip, (from + to) / 2.0));
    f.harness.hover_at(at(strip, to));
    f.harness.drop_at(at(strip, to));
    f.harness.step();
}

/// The tab's time range as the filter bar holds it, read as the backend reads it.
fn time_range(app: &App) -> (u64, u64) {
    let filter = &app.tab().filter;
    let read = |text: &str| parse_moment(text, 0).unwrap();
    (read(&filter.from), read(&filter.to))
}

#[test]
fn the_strip_counts_what_each_list_shows_by_level_and_status() {
    let (mut f, index) = app_and_index();
    wait_logs_counted(&mut f);
    let h = histogram(f.app(), ViewKind::Logs).unwrap().clone();
    let snapshot = f.app().snapshot();
    assert_eq!(bucket_sum(&h), snapshot.logs.total as u64);
    assert_eq!(h.total, index.log_times.len() as u64);
    let counts = snapshot.level_counts;
    assert!(counts[Level::Error as usize] > 0);
    assert_eq!(
        h.errors(),
        counts[Level::Error as usize] + counts[Level::Fatal as usize]
    );
    for level in Level::ALL {
        let in_buckets: u64 = h.buckets.iter().map(|b| b[level as usize]).sum();
        assert_eq!(in_buckets, counts[level as usize], "{level:?}");
    }
    // Nice widths, a range from the first record to the last, in 60 to 160 bars.
    let times = &index.log_times;
    assert_eq!(h.start_unix_nano, *times.iter().min().unwrap());
    assert_eq!(h.end_unix_nano, *times.iter().max().unwrap() + 1);
    assert!(
        h.buckets.len() <= 160 && h.buckets.len() >= 50,
        "{}",
        h.buckets.len()
    );
    // The strip is drawn above the table.
    assert!(strip(&f).height() >= 50.0);
    // The traces view counts the spans of the listed traces, failed ones apart.
    f.keys("t");
    f.wait("the span histogram", |app| {
        histogram(app, ViewKind::Traces).is_some_and(|h| h.total > 0)
    });
    let h = histogram(f.app(), ViewKind::Traces).unwrap();
    let spans = &index.span_failed;
    assert_eq!(bucket_sum(h), spans.len() as u64);
    let failed = spans.iter().filter(|&&failed| failed).count() as u64;
    assert!(failed > 0);
    assert_eq!(h.errors(), failed);
    assert_eq!(
        h.buckets
            .iter()
            .map(|b| b[Level::Info as usize])
            .sum::<u64>(),
        spans.len() as u64 - failed
    );
}

#[test]
fn a_drag_across_the_strip_sets_the_time_range_and_x_the_button_or_a_double_click_clear_it() {
    let (mut f, index) = app_and_index();
    wait_logs_counted(&mut f);
    let all = f.app().snapshot().logs.total;
    let before = histogram(f.app(), ViewKind::Logs).unwrap().clone();
    // While dragging, the stretch is drawn and nothing is set yet.
    let strip_rect = strip(&f);
    f.harness.hover_at(at(strip_rect, 0.25));
    f.harness.drag_at(at(strip_rect, 0.25));
    f.harness.hover_at(at(strip_rect, 0.5));
    f.harness.step();
    let drawn = f
        .harness
        .output()
        .shapes
        .iter()
        .any(|clipped| match &clipped.shape {
            egui::Shape::Rect(rect) => {
                (rect.rect.left() - at(strip_rect, 0.25).x).abs() < 1.0
                    && (rect.rect.right() - at(strip_rect, 0.5).x).abs() < 1.0
            }
            _ => false,
        });
    assert!(drawn, "the stretch dragged across is drawn");
    assert!(f.app().tab().filter.from.is_empty());
    f.harness.hover_at(at(strip_rect, 0.6));
    f.harness.drop_at(at(strip_rect, 0.6));
    f.harness.step();
    let (from, to) = time_range(f.app());
    let span = (before.end_unix_nano - before.start_unix_nano) as f64;
    let expected_from = before.start_unix_nano + (0.25 * span) as u64;
    assert!(
        from.abs_diff(expected_from) as f64 <= span / 100.0,
        "{from} {expected_from}"
    );
    assert!(to > from);
    // The lists hold exactly the records inside it, and the buckets rescale to it.
    let inside = index
        .log_times
        .iter()
        .filter(|t| (from..to).contains(*t))
        .count();
    assert!(inside > 0 && inside < all, "{inside} of {all}");
    f.wait("the records in the range", |app| {
        app.snapshot().logs.total == inside && app.snapshot().logs.progress.is_none()
    });
    wait_logs_counted(&mut f);
    let h = histogram(f.app(), ViewKind::Logs).unwrap();
    assert_eq!(bucket_sum(h), inside as u64);
    assert_eq!((h.start_unix_nano, h.end_unix_nano), (from, to));
    assert!(h.bucket_nanos < before.bucket_nanos);
    // The clear button shown in the strip's corner leaves the table below the strip.
    let header = f.harness.get_by_label("level").rect();
    let strip_now = strip(&f);
    assert!(
        header.top() >= strip_now.bottom(),
        "{header:?} {strip_now:?}"
    );
    // x clears it.
    f.keys("x");
    assert!(f.app().tab().filter.from.is_empty() && f.app().tab().filter.to.is_empty());
    f.wait("every record again", |app| app.snapshot().logs.total == all);
    // So does the button shown while a range is set.
    drag(&mut f, 0.1, 0.9);
    assert!(!f.app().tab().filter.from.is_empty());
    f.harness.step();
    f.harness.get_by_label("clear").click();
    f.harness.step();
    assert!(f.app().tab().filter.from.is_empty());
    f.harness.step();
    assert!(
        f.harness.query_by_label("clear").is_none(),
        "no button without a range"
    );
    // And a double-click on the strip.
    drag(&mut f, 0.3, 0.7);
    assert!(!f.app().tab().filter.to.is_empty());
    let point = at(strip(&f), 0.5);
    f.harness.hover_at(point);
    f.harness.step();
    // Frames are a quarter second apart: the first release and the second press share
    // one, so that the two clicks are close enough to make a double-click.
    let button = |pressed| Event::PointerButton {
        pos: point,
        button: PointerButton::Primary,
        pressed,
        modifiers: Modifiers::NONE,
    };
    for frame in [
        vec![button(true)],
        vec![button(false), button(true)],
        vec![button(false)],
    ] {
        f.harness.input_mut().events.extend(frame);
        f.harness.step();
    }
    f.harness.step();
    assert!(f.app().tab().filter.to.is_empty());
}

#[test]
fn the_histogram_follows_the_search() {
    let (mut f, _) = app_and_index();
    wait_logs_counted(&mut f);
    let all = f.app().snapshot().logs.total as u64;
    f.keys("/");
    f.type_text("slow query");
    f.harness.key_press(egui::Key::Escape);
    f.wait("the searched records counted", |app| {
        histogram(app, ViewKind::Logs).is_some_and(|h| {
            h.total == app.snapshot().logs.total as u64 && h.total > 0 && h.total < all
        })
    });
    let h = histogram(f.app(), ViewKind::Logs).unwrap();
    assert_eq!(bucket_sum(h), h.total);
}

#[test]
fn live_records_add_to_the_histogram_in_both_views() {
    let mut f = live_app_over(tempfile::tempdir().unwrap());
    f.send("checkout", 3);
    wait_logs_counted(&mut f);
    let first = histogram(f.app(), ViewKind::Logs).unwrap().total;
    assert!(first > 0);
    f.send("checkout", 5);
    f.wait("the new records counted", |app| {
        histogram(app, ViewKind::Logs).is_some_and(|h| {
            h.total > first
                && h.total == app.snapshot().logs.total as u64
                && bucket_sum(h) == h.total
        })
    });
    f.keys("t");
    f.wait("the spans counted", |app| {
        histogram(app, ViewKind::Traces).is_some_and(|h| h.total > 0)
    });
    let spans = histogram(f.app(), ViewKind::Traces).unwrap().total;
    f.send("checkout", 4);
    f.wait("the new spans counted", |app| {
        histogram(app, ViewKind::Traces)
            .is_some_and(|h| h.total > spans && bucket_sum(h) == h.total)
    });
}
