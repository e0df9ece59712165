//! The real app, driven headlessly with egui_kittest over a recorded run.

use egui::Event;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use oculus_viewer::model::Level;
use oculus_viewer::snapshot::{RecordRef, ViewKind};

use crate::app_fixture::{Fixture, app, app_with};
use crate::common::{recorded_run, runtime};

#[test]
fn clicking_a_level_filter_changes_the_rows() {
    let mut f = app();
    let counts = f.app().snapshot().level_counts;
    let all = f.app().snapshot().logs.total;
    let errors = counts[Level::Error as usize] as usize;
    assert!(errors > 0 && errors < all);
    f.harness.get_by_label(&format!("ERROR {errors}")).click();
    f.wait("only errors", |app| app.snapshot().logs.total == errors);
    assert_eq!(f.app().tab().filter.min_level, Level::Error);
    assert!(
        f.app()
            .snapshot()
            .logs
            .rows
            .iter()
            .all(|r| r.level == Level::Error)
    );
    // The same button again shows everything.
    f.harness.get_by_label(&format!("ERROR {errors}")).click();
    f.wait("everything again", |app| app.snapshot().logs.total == all);
}

#[test]
fn typing_a_search_highlights_and_narrows() {
    let mut f = app();
    let all = f.app().snapshot().logs.total;
    f.keys("/");
    f.type_text("slow query");
    assert_eq!(f.app().tab().filter.search, "slow query");
    f.wait("the search", |app| {
        app.snapshot().logs.total > 0
            && app.snapshot().logs.total < all
            && app.snapshot().logs.progress.is_none()
    });
    for row in &f.app().snapshot().logs.rows {
        assert_eq!(&row.message[row.highlights[0].clone()], "slow query");
    }
    // Esc leaves the field; then keys are commands again.
    f.harness.key_press(egui::Key::Escape);
    f.harness.step();
    f.keys("j");
    assert!(f.app().tab().logs.selected.is_some());
}

#[test]
fn a_fast_typist_loses_no_character_of_a_search() {
    let mut f = app();
    // Events put in the input go in one frame (`Harness::event` gives each its own).
    let one_frame = |f: &mut Fixture, events: Vec<Event>| {
        f.harness.input_mut().events.extend(events);
        f.harness.step();
    };
    // `/` and the first letters in one frame, before the field has the focus.
    one_frame(
        &mut f,
        vec![Event::Text("/".into()), Event::Text("sl".into())],
    );
    f.type_text("ow");
    // The last letters and Esc in one frame too.
    let escape = Event::Key {
        key: egui::Key::Escape,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: egui::Modifiers::NONE,
    };
    one_frame(&mut f, vec![Event::Text(" query".into()), escape]);
    assert_eq!(f.app().tab().filter.search, "slow query");
    // The field was left: keys are commands again.
    f.keys("j");
    assert!(f.app().tab().logs.selected.is_some());
    assert_eq!(f.app().tab().filter.search, "slow query");
}

#[test]
fn keys_move_the_selection() {
    let mut f = app();
    let total = f.app().snapshot().logs.total;
    f.keys("gg");
    assert_eq!(f.app().tab().logs.selected_row(), Some(0));
    assert!(!f.app().tab().logs.follow);
    f.keys("jjjk");
    assert_eq!(f.app().tab().logs.selected_row(), Some(2));
    f.keys("G");
    assert_eq!(f.app().tab().logs.selected_row(), Some(total - 1));
    assert!(f.app().tab().logs.follow);
    f.wait_selected();
    // Enter opens the detail of the selected row.
    f.harness.key_press(egui::Key::Enter);
    f.wait("the detail of the last log", |app| {
        app.detail_open()
            && app
                .snapshot()
                .detail
                .as_ref()
                .is_some_and(|d| matches!(d.record, RecordRef::Log(_)))
    });
    f.harness.key_press(egui::Key::Escape);
    f.harness.step();
    assert!(!f.app().detail_open());
    // e jumps to the next error.
    f.keys("gge");
    f.wait("the next error", |app| {
        app.tab()
            .logs
            .selected_row()
            .and_then(|row| app.snapshot().logs.row(row))
            .is_some_and(|r| r.level == Level::Error)
    });
}

#[test]
fn selecting_a_span_shows_its_logs() {
    let mut f = app();
    f.harness.get_by_label("Traces").click();
    f.wait("the trace list", |app| {
        app.tab().view == ViewKind::Traces && app.snapshot().traces.total > 0
    });
    f.keys("gg");
    f.harness.key_press(egui::Key::Enter);
    f.wait("the waterfall", |app| app.snapshot().trace.is_some());
    let trace = f.app().snapshot().trace.clone().unwrap();
    assert!(trace.spans.len() > 1);
    // Logs are inline under the span that emitted them.
    let rows = f.app().waterfall().map_or(0, |rows| rows.len());
    let logs: usize = trace.spans.iter().map(|s| s.logs.len()).sum();
    assert!(logs > 0);
    assert_eq!(rows, trace.spans.len() + logs + trace.orphan_logs.len());
    f.keys("i");
    assert_eq!(
        f.app().waterfall().map_or(0, |rows| rows.len()),
        trace.spans.len()
    );
    f.keys("i");
    // The root span's detail.
    f.keys("gg");
    f.harness.key_press(egui::Key::Enter);
    f.wait("the root span's detail", |app| {
        app.snapshot()
            .detail
            .as_ref()
            .is_some_and(|d| d.record == RecordRef::Span(trace.spans[0].index))
    });
    f.harness.get_by_label("Copy trace id").click();
    f.harness.step();
    // The whole trace as Markdown: every span, each log under its span.
    let markdown = oculus_viewer::view_model::trace_markdown(&trace);
    assert!(markdown.starts_with("Trace `"));
    assert_eq!(markdown.matches("- **").count(), trace.spans.len());
    // Span logs are indented under their span; logs without a span are not.
    assert_eq!(markdown.matches("  - `").count(), logs);
    f.harness.get_by_label("copy as Markdown").click();
    f.harness.step();
    // Esc closes the detail, then the trace.
    f.harness.key_press(egui::Key::Escape);
    f.harness.step();
    f.harness.key_press(egui::Key::Escape);
    f.harness.step();
    assert_eq!(f.app().tab().open_trace, None);
}

/// What the app put on the clipboard in the frames until it did, stepping them.
fn next_copy(f: &mut Fixture, what: &str) -> String {
    let mut copied = None;
    let harness = &mut f.harness;
    crate::common::eventually(what, || {
        harness.step();
        copied =
            harness
                .output()
                .platform_output
                .commands
                .iter()
                .find_map(|command| match command {
                    egui::OutputCommand::CopyText(text) => Some(text.clone()),
                    _ => None,
                });
        copied.is_some()
    });
    copied.unwrap_or_default()
}

/// Spans and log records of OTLP JSON Lines, each with its trace id.
fn otlp_records(text: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let reader = oculus_otlp::FileReader::new(std::io::Cursor::new(text.as_bytes().to_vec()))
        .expect("reads");
    let (mut spans, mut logs) = (Vec::new(), Vec::new());
    for message in reader {
        match message
            .expect("well-formed")
            .payload
            .into_data()
            .expect("decodes")
        {
            oculus_otlp::Data::Traces(traces) => spans.extend(
                traces
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .flat_map(|s| &s.spans)
                    .map(|span| span.trace_id.clone()),
            ),
            oculus_otlp::Data::Logs(data) => logs.extend(
                data.resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .flat_map(|s| &s.log_records)
                    .map(|log| log.trace_id.clone()),
            ),
            oculus_otlp::Data::Metrics(_) => panic!("no metrics in a trace"),
        }
    }
    (spans, logs)
}

#[test]
fn a_trace_copies_as_otlp_json_with_its_spans_and_logs() {
    let mut f = app();
    f.harness.get_by_label("Traces").click();
    f.wait("the trace list", |app| {
        app.tab().view == ViewKind::Traces && app.snapshot().traces.total > 0
    });
    f.keys("gg");
    f.harness.key_press(egui::Key::Enter);
    f.wait("the waterfall", |app| app.snapshot().trace.is_some());
    let trace = f.app().snapshot().trace.clone().unwrap();
    let id = trace.trace_id.to_be_bytes().to_vec();
    let logs = trace.spans.iter().map(|s| s.logs.len()).sum::<usize>() + trace.orphan_logs.len();
    assert!(logs > 0);

    // The button beside the Markdown copy.
    f.harness.get_by_label("copy as OTLP JSON").click();
    let json = next_copy(&mut f, "the trace as OTLP JSON");
    assert!(json.starts_with("{\"resourceSpans\":"), "{json}");
    assert_eq!(
        json.lines().count(),
        2,
        "a TracesData line and a LogsData line"
    );
    let (spans, log_records) = otlp_records(&json);
    assert_eq!(spans.len(), trace.spans.len());
    assert_eq!(log_records.len(), logs);
    assert!(spans.iter().chain(&log_records).all(|t| *t == id));
    assert_eq!(f.app().notice(), Some("copied the trace as OTLP JSON"));

    // J in the trace list copies the selected trace the same way.
    f.harness.key_press(egui::Key::Escape);
    f.harness.step();
    assert_eq!(f.app().tab().open_trace, None);
    f.wait_selected();
    f.keys("J");
    let again = next_copy(&mut f, "the selected trace as OTLP JSON");
    assert_eq!(otlp_records(&again).0.len(), spans.len());
}

#[test]
fn export_tab_writes_what_the_tab_shows_into_an_otlp_file() {
    let mut f = app();
    f.wait("the logs", |app| {
        app.snapshot_is_current() && app.snapshot().logs.total > 0
    });
    let errors = f.app().snapshot().level_counts[Level::Error as usize] as usize;
    assert!(errors > 0);
    f.harness.get_by_label(&format!("ERROR {errors}")).click();
    f.wait("the errors", |app| {
        app.snapshot().logs.total == errors && app.snapshot().logs.progress.is_none()
    });
    let dir = tempfile::tempdir().unwrap();
    for (format, zstd) in [("JSON Lines", false), ("protobuf", true)] {
        let path = dir.path().join(format!("errors-{format}"));
        f.harness.get_by_label("Export tab…").click();
        // The click opens the menu, which is drawn from the next frame on.
        f.harness.step();
        f.harness.step();
        f.harness
            .get_by_label("Write what this tab shows to an OTLP file:")
            .focus();
        f.harness.step();
        // The field keeps the last export's file: replace it.
        f.harness
            .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        f.type_text(&path.display().to_string());
        f.harness.get_by_label(format).click();
        f.harness.step();
        if zstd {
            f.harness.get_by_label("zstd").click();
            f.harness.step();
        }
        f.harness.get_by_label("Export").click();
        let expected = format!(
            "exported 0 spans and {errors} log records to {}",
            path.display()
        );
        f.wait("the export", |app| {
            app.notice()
                .is_some_and(|notice| !notice.starts_with("exporting"))
        });
        assert_eq!(f.app().notice(), Some(expected.as_str()));
        // The filter applied: the tab's error records, and nothing else.
        let reader = oculus_otlp::FileReader::open(&path).unwrap();
        assert_eq!(reader.is_json(), format == "JSON Lines");
        assert_eq!(reader.is_compressed(), zstd);
        let mut severities = Vec::new();
        for message in reader {
            let oculus_otlp::Data::Logs(logs) = message.unwrap().payload.into_data().unwrap()
            else {
                panic!("only logs in the logs view");
            };
            severities.extend(
                logs.resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .flat_map(|s| &s.log_records)
                    .map(|log| log.severity_number),
            );
        }
        assert_eq!(severities.len(), errors);
        assert!(
            severities.iter().all(|&s| (17..=20).contains(&s)),
            "{severities:?}"
        );
    }
}

#[test]
fn tabs_keep_their_own_filters() {
    let mut f = app();
    f.wait("the service tab", |app| app.tabs().len() == 2);
    assert_eq!(f.app().tabs()[1].name, "checkout");
    let all = f.app().snapshot().logs.total;
    let errors = f.app().snapshot().level_counts[Level::Error as usize] as usize;
    f.harness.get_by_label(&format!("ERROR {errors}")).click();
    f.wait("errors in tab 1", |app| app.snapshot().logs.total == errors);
    f.keys("2");
    f.wait("tab 2", |app| {
        app.snapshot_is_current() && app.snapshot().logs.progress.is_none() && app.active() == 1
    });
    assert_eq!(f.app().tab().filter.min_level, Level::Unset);
    assert_eq!(
        f.app().snapshot().logs.total,
        all,
        "one service: all its logs"
    );
    f.keys("gt");
    assert_eq!(f.app().active(), 0);
    f.wait("tab 1 again", |app| {
        app.snapshot_is_current() && app.snapshot().logs.total == errors
    });
    assert_eq!(f.app().tab().filter.min_level, Level::Error);
    // 0: the last tab, wherever it is (the keys 1-9 name only the first nine).
    f.keys("0");
    assert_eq!(f.app().active(), f.app().tabs().len() - 1);
}

#[test]
fn another_run_opens_in_its_own_tab() {
    let mut f = app();
    let first_run_logs = f.app().snapshot().logs.total;
    let other = recorded_run();
    // As a user does: the Runs menu's path field, then Open.
    f.harness.get_by_label("Runs").click();
    // The click opens the menu, which is drawn from the next frame on.
    f.harness.step();
    f.harness.step();
    f.harness
        .get_by_label("Open a data directory, a run, an archive or a segment file:")
        .focus();
    f.harness.step();
    f.type_text(&other.path().display().to_string());
    f.harness.get_by_label("Open").click();
    f.wait("a tab for the opened run", |app| app.tabs().len() == 3);
    assert_eq!(f.app().active(), 2, "the opened run is shown");
    f.wait("the opened run alone", |app| {
        app.snapshot_is_current()
            && app.snapshot().logs.progress.is_none()
            && app.snapshot().logs.total > 0
    });
    // Exactly the opened run's logs, none of the first run's. (The demo's count varies
    // with the machine's load: it warns about queries that happened to be slow.)
    let other_logs =
        usize::try_from(oculus_store::check(other.path(), |_, _| {}).unwrap().logs).unwrap();
    assert_eq!(f.app().snapshot().logs.total, other_logs);
    assert_eq!(f.app().snapshot().status.logs, first_run_logs + other_logs);
    f.keys("1");
    f.wait("both runs in the All tab", |app| {
        app.snapshot_is_current() && app.snapshot().logs.total == first_run_logs + other_logs
    });
}

#[test]
fn follow_pauses_when_scrolling_up_and_comes_back() {
    let mut f = app();
    let total = f.app().snapshot().logs.total;
    assert!(f.app().tab().logs.follow);
    let last_top = f.app().tab().logs.top;
    assert!(last_top > 0, "more rows than fit: {total}");
    // The wheel over the table scrolls up, which pauses following.
    f.harness
        .event(Event::PointerMoved(egui::pos2(600.0, 400.0)));
    // A frame with the pointer over the table first, as a hand gets there before it
    // turns the wheel: a wheel event in the same frame can land before the hover.
    f.harness.step();
    f.harness.event(Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 200.0),
        modifiers: egui::Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
    });
    f.wait("scrolled up", |app| app.tab().logs.top < last_top);
    assert!(!f.app().tab().logs.follow);
    // The way back is visible (from the next frame on), and takes the view to the
    // newest row again.
    f.harness.step();
    f.harness.get_by_label("Follow newest (G)").click();
    f.wait("following again", |app| {
        app.tab().logs.follow && app.tab().logs.top == last_top
    });
    // As G does, it selects the newest row.
    assert_eq!(f.app().tab().logs.selected_row(), Some(total - 1));
}

#[test]
fn the_o_key_opens_the_selected_row_in_neovim() {
    let nvim_dir = tempfile::tempdir().unwrap();
    let socket = nvim_dir.path().join("nvim.sock");
    // Neovim works elsewhere; the sources are found under the configured root.
    let _nvim = crate::editor::start_nvim(&socket, nvim_dir.path());
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let editor_socket = socket.clone();
    let mut f = app_with(move |options| {
        options.editor = oculus_viewer::editor::EditorOptions {
            socket: Some(editor_socket),
            source_root: Some(workspace),
        };
    });
    f.keys("ggj");
    f.wait("row 2 published", |app| {
        app.snapshot().logs.row(1).is_some()
    });
    let source = f
        .app()
        .snapshot()
        .logs
        .row(1)
        .and_then(|row| row.source.clone())
        .unwrap();
    f.keys("o");
    f.wait("the jump's message", |app| {
        app.snapshot()
            .status
            .notice
            .as_ref()
            .is_some_and(|notice| notice.starts_with("opened"))
    });
    let (name, line) = runtime().block_on(crate::editor::where_is_the_cursor(&socket));
    assert!(
        name.ends_with(&*source.file),
        "{name} is not {}",
        source.file
    );
    assert_eq!(line, i64::from(source.line));
}

#[test]
fn the_help_lists_the_keys_and_every_glyph_drawn_exists() {
    let mut f = app();
    f.keys("?");
    assert!(f.app().help_open());
    // A window is sized in its first frame and shown from the next.
    f.harness.step();
    // Drawing fails the test when a glyph is missing from the fonts.
    f.harness.get_by_label("open the row's source in Neovim");
    f.harness.get_by_label("gg / G");
    f.harness.get_by_label(
        "copy the trace id / the trace as Markdown / its spans and logs as OTLP JSON",
    );
    f.harness.get_by_label("Ctrl-+ / Ctrl-- / Ctrl-0");
    // The mouse too.
    f.harness.get_by_label("double-click a span");
    f.harness.get_by_label("middle-click a tab");
    // The waterfall's zoom and pan.
    f.harness.get_by_label("+ / - / z");
    f.harness.get_by_label("h / l");
    f.harness.get_by_label("drag across the waterfall's bars");
    f.harness.get_by_label("Ctrl + wheel over the waterfall");
    f.harness.get_by_label("click a value in the details");
    // And the attribute filter's terms.
    f.harness.get_by_label("-key=value  -key~text  -key");
    f.harness.key_press(egui::Key::Escape);
    f.harness.step();
    assert!(!f.app().help_open());
    // Durations use the micro sign.
    let mut harness = Harness::new_ui(|ui| {
        ui.label(oculus_viewer::time::format_duration(1_500));
    });
    harness.run();
    harness.get_by_label("1.5 µs");
}

#[test]
fn a_narrow_waterfall_stays_left_of_the_detail_pane() {
    let mut f = app();
    // Narrow enough that the waterfall's tool row does not fit beside the pane.
    f.harness.set_size(egui::vec2(900.0, 700.0));
    f.keys("t");
    f.wait("the trace list", |app| app.snapshot().traces.total > 0);
    f.keys("gg");
    f.wait_selected();
    f.harness.key_press(egui::Key::Enter);
    f.wait("the waterfall", |app| app.waterfall().is_some());
    f.keys("j");
    f.harness.key_press(egui::Key::Enter);
    f.wait("the span's detail", |app| app.snapshot().detail.is_some());
    f.harness.step();
    let pane_left = f.harness.get_by_label("Open trace").rect().left();
    for control in ["zoom in (+)", "zoom out (-)", "copy as Markdown"] {
        let right = f.harness.get_by_label(control).rect().right();
        assert!(
            right <= pane_left,
            "{control} ends at {right}, under the pane at {pane_left}"
        );
    }
}
