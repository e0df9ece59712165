//! What the window shows while data arrives and the user acts: counts that stay live
//! in every view, fields that stay where the user aims, and the ids the lists show
//! usable as filters.

use egui_kittest::kittest::{Queryable, by};
use oculus_viewer::model::trace_hex;
use oculus_viewer::snapshot::ViewKind;

use crate::app_fixture::{app, empty_live_app, live_app};

fn logs_counted(app: &oculus_viewer::App) -> u64 {
    app.snapshot().level_counts.iter().sum()
}

#[test]
fn level_counts_follow_new_records_in_the_traces_view_and_inside_a_trace() {
    let mut f = live_app();
    f.wait("the first records", |app| logs_counted(app) > 0);
    f.keys("t");
    f.wait("the traces", |app| {
        app.tab().view == ViewKind::Traces && app.snapshot().traces.total > 0
    });
    let before = logs_counted(f.app());
    f.send("checkout", 4);
    f.wait("counts of the new records in the traces view", |app| {
        logs_counted(app) > before
    });
    // Inside a trace too.
    f.keys("gg");
    f.wait_selected();
    f.harness.key_press(egui::Key::Enter);
    f.wait("the open trace", |app| app.waterfall().is_some());
    let before = logs_counted(f.app());
    f.send("checkout", 4);
    f.wait("counts of the new records inside a trace", |app| {
        logs_counted(app) > before
    });
}

#[test]
fn the_short_trace_id_a_list_shows_filters_to_that_trace() {
    let mut f = app();
    let log = f
        .app()
        .snapshot()
        .logs
        .rows
        .iter()
        .find(|row| row.trace_id != 0)
        .cloned()
        .unwrap();
    let short = &trace_hex(log.trace_id)[..8];
    f.harness
        .get(by().predicate(|node| node.placeholder() == Some("trace id")))
        .click();
    f.harness.step();
    f.type_text(short);
    assert_eq!(f.app().tab().filter.trace_id, short);
    f.wait("that trace's records", |app| {
        app.snapshot().logs.progress.is_none()
            && app.snapshot().logs.total > 0
            && app
                .snapshot()
                .logs
                .rows
                .iter()
                .all(|r| r.trace_id == log.trace_id)
    });
    assert!(f.app().snapshot().filter_error.is_none());
    // Fewer digits would match by chance: the filter says what it wants.
    f.harness.key_press(egui::Key::Backspace);
    f.harness.step();
    f.wait("the reason", |app| {
        app.snapshot()
            .filter_error
            .as_deref()
            .is_some_and(|e| e.contains("at least 8 hex digits"))
    });
}

#[test]
fn the_filter_fields_stay_put_while_the_counts_grow() {
    let search_field = |f: &crate::app_fixture::Fixture| {
        f.harness
            .get(by().predicate(|node| node.placeholder() == Some("search (/)")))
            .rect()
    };
    let mut f = live_app();
    f.wait("the first records", |app| logs_counted(app) > 0);
    f.harness.step();
    let before = search_field(&f);
    let counted = logs_counted(f.app());
    assert!(
        counted < 100,
        "{counted} records: the counts gain digits below"
    );
    f.send("checkout", 20);
    f.wait("three-digit counts", |app| logs_counted(app) >= 100);
    f.harness.step();
    assert_eq!(search_field(&f), before);
}

#[test]
fn an_empty_window_says_how_to_send_to_it_until_records_arrive() {
    let mut f = empty_live_app();
    // The backend's first snapshot can take more than a frame on a loaded machine.
    f.wait("the first snapshot", |app| {
        app.snapshot().status.receivers.is_some()
    });
    f.harness.step();
    let grpc = f.app().snapshot().status.receivers.unwrap().grpc;
    let line = format!("OTEL_EXPORTER_OTLP_ENDPOINT=http://{grpc}");
    f.harness.get_by_label(&line);
    f.harness.get_by_label("Copy the gRPC line").click();
    f.harness.step();
    f.send("checkout", 2);
    f.wait("the records", |app| app.snapshot().logs.total > 0);
    f.harness.step();
    assert!(f.harness.query_by_label(&line).is_none());
}

#[test]
fn the_status_line_shows_what_the_collector_forwards_and_its_failures() {
    let mut f = live_app();
    let session = f.collector.as_ref().unwrap().session().to_path_buf();
    // As `serve --forward` replaces it, about once a second.
    let write = |text: &str| {
        let aside = session.join("forward.json.new");
        std::fs::write(&aside, text).unwrap();
        std::fs::rename(&aside, session.join("forward.json")).unwrap();
    };
    write(
        r#"{"destinations":[{"destination":"grpc://jaeger:4317","forwarded":12345,"pending":0,"failed":0,"retrying":false,"error":null}]}"#,
    );
    f.wait("the forwarding counts", |app| {
        app.snapshot().status.forwarding.len() == 1
    });
    f.harness.step();
    f.harness
        .get_by_label("forwarding to jaeger:4317: 12,345 sent · 0 pending");
    assert!(f.harness.query_by_label_contains("failed").is_none());

    write(
        r#"{"destinations":[{"destination":"http://tempo:4318/otlp","forwarded":10,"pending":7,"failed":3,"retrying":true,"error":"HTTP 503: busy"}]}"#,
    );
    f.wait("the new counts", |app| {
        app.snapshot().status.forwarding[0].failed == 3
    });
    f.harness.step();
    f.harness
        .get_by_label("forwarding to tempo:4318/otlp: 10 sent · 7 pending");
    f.harness.get_by_label("· 3 failed");
    f.harness.get_by_label("· retrying");
}
