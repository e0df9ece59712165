//! The Runs menu: each run with its start, length (or a live mark), services and
//! counts, and the file browser for paths outside the data directory.

use oculus_viewer::snapshot::RunInfo;
use oculus_viewer::time::{format_length, format_start};

use egui_kittest::kittest::{NodeT, Queryable};

use crate::app_fixture::{Fixture, app_over, live_app_over};
use crate::common::{recorded_run, recorded_runs};

fn open_runs_menu(f: &mut Fixture) {
    f.harness.get_by_label("Runs").click();
    // The click opens the menu, which is drawn from the next frame on.
    f.harness.step();
    f.harness.step();
}

/// The label of a run's entry in the open menu, found by its service.
fn run_entry(f: &Fixture, service: &str) -> String {
    let entries = f.harness.get_all_by_label_contains(" spans · ");
    let labels: Vec<String> = entries
        .filter_map(|node| node.accesskit_node().label())
        .collect();
    let mut theirs = labels.iter().filter(|label| label.contains(service));
    let label = theirs
        .next()
        .unwrap_or_else(|| panic!("{service} in {labels:?}"));
    assert!(theirs.next().is_none(), "one run of {service}: {labels:?}");
    label.clone()
}

#[track_caller]
fn assert_describes(label: &str, run: &RunInfo) {
    let start = format_start(run.first_unix_nano.expect("a run with records"));
    assert!(label.starts_with(&start), "{label:?} starts with {start}");
    for service in &run.services {
        assert!(label.contains(&**service), "{label:?} names {service}");
    }
    assert!(label.contains(&format!("{} spans", run.spans)), "{label:?}");
    assert!(label.contains(&format!("{} logs", run.logs)), "{label:?}");
}

#[test]
fn each_finished_run_shows_its_start_length_services_and_counts() {
    let mut f = app_over(recorded_runs(&["checkout", "payments"]));
    f.wait("both runs read", |app| {
        app.snapshot().runs.len() == 2 && app.snapshot().runs.iter().all(|run| run.logs > 0)
    });
    let runs = f.app().snapshot().runs.to_vec();
    assert!(
        runs.iter().all(|run| !run.live),
        "both runs ended: {runs:?}"
    );
    assert_eq!(
        runs.iter()
            .map(|run| run.services.len())
            .collect::<Vec<_>>(),
        [1, 1]
    );
    assert!(runs.iter().all(|run| run.spans > 0 && run.logs > 0));
    assert_eq!(
        runs.iter().map(|run| run.logs).sum::<u64>(),
        f.app().snapshot().status.logs as u64
    );
    open_runs_menu(&mut f);
    for (run, service) in runs.iter().zip(["checkout", "payments"]) {
        let label = run_entry(&f, service);
        assert_describes(&label, run);
        let length = format_length(run.length_nano().unwrap());
        assert!(
            label.contains(&format!(" · {length} · ")),
            "{label:?}: {length}"
        );
        assert!(!label.contains("LIVE"), "{label:?}");
    }
    // A run's entry opens its tab, with its records only.
    f.harness.get_by_label_contains("payments ·").click();
    f.wait("the run's tab", |app| {
        app.tabs().len() == 4
            && app.snapshot_is_current()
            && app.snapshot().logs.progress.is_none()
            && app.snapshot().logs.total == usize::try_from(runs[1].logs).unwrap()
    });
}

#[test]
fn the_run_being_written_is_marked_live() {
    let mut f = live_app_over(recorded_run());
    f.send("payments", 3);
    // Every record the collector accepted, so the counts hold still while compared.
    let counters = std::sync::Arc::clone(f.collector.as_ref().unwrap().counters());
    let accepted =
        |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::SeqCst);
    f.wait("the live run's records", |app| {
        let runs = &app.snapshot().runs;
        runs.len() == 2
            && runs[1].logs > 0
            && runs[1].logs == accepted(&counters.logs)
            && runs[1].spans == accepted(&counters.spans)
    });
    let runs = f.app().snapshot().runs.to_vec();
    assert!(!runs[0].live, "the recorded run ended");
    assert!(runs[1].live, "the collector is writing this one");
    open_runs_menu(&mut f);
    let live = run_entry(&f, "payments");
    assert_describes(&live, &runs[1]);
    assert!(live.contains("LIVE"), "{live:?}");
    assert!(!run_entry(&f, "checkout").contains("LIVE"));
    // The counts follow what arrives.
    f.harness.key_press(egui::Key::Escape);
    f.send("payments", 3);
    f.wait("more records in the live run", |app| {
        app.snapshot().runs[1].logs > runs[1].logs
    });
}

#[test]
fn the_browser_opens_a_run_picked_in_its_directories() {
    let mut f = app_over(recorded_run());
    let other = recorded_run();
    open_runs_menu(&mut f);
    // It starts where the path field points.
    f.harness
        .get_by_label("Open a data directory, a run, an archive or a segment file:")
        .focus();
    f.harness.step();
    f.type_text(&other.path().display().to_string());
    f.harness.get_by_label("Browse…").click();
    f.wait("the other data directory's listing", |app| {
        app.browser().is_some() && app.snapshot().listing.is_some()
    });
    f.harness.step();
    f.harness.get_by_label("sessions/").click();
    f.harness.step();
    let session = std::fs::read_dir(other.path().join("sessions"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    f.wait("the sessions directory's listing", |app| {
        app.snapshot()
            .listing
            .as_ref()
            .is_some_and(|l| l.request == app.browser().map_or(0, |b| b.request))
    });
    f.harness.step();
    f.harness.get_by_label(&format!("{session}/")).click();
    f.wait("the run's listing", |app| {
        app.browser().is_some_and(|b| b.dir.ends_with(&session))
            && app
                .snapshot()
                .listing
                .as_ref()
                .is_some_and(|l| l.dir.ends_with(&session))
    });
    f.harness.step();
    f.harness.get_by_label("Open this directory").click();
    f.wait("a tab for the picked run", |app| app.tabs().len() == 3);
    assert!(f.app().browser().is_none(), "closed once a path was picked");
    assert_eq!(f.app().tabs()[2].name, session);
    f.wait("the picked run alone", |app| {
        app.snapshot_is_current()
            && app.snapshot().logs.progress.is_none()
            && app.snapshot().logs.total > 0
    });
}

#[test]
fn an_ended_run_shows_what_its_collector_forwarded() {
    let dir = recorded_runs(&["checkout", "payments"]);
    let mut sessions: Vec<_> = std::fs::read_dir(dir.path().join("sessions"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    sessions.sort();
    // The first run stopped with records for tempo still pending; a later run of its
    // collector sent them and marked its cursor done.
    std::fs::write(
        sessions[0].join("forward.json"),
        r#"{"destinations":[{"destination":"grpc://jaeger:4317","forwarded":12345,"pending":0,"failed":3,"retrying":false,"error":"InvalidArgument: bad span"},{"destination":"http://tempo:4318","forwarded":10,"pending":7,"failed":0,"retrying":true,"error":null}]}"#,
    )
    .unwrap();
    std::fs::write(
        sessions[0].join("forward-http-tempo_4318.cursor.json"),
        r#"{"destination":"http://tempo:4318","segment":2,"offset":0,"done":true}"#,
    )
    .unwrap();
    let mut f = app_over(dir);
    f.wait("both runs read", |app| {
        app.snapshot().runs.len() == 2 && app.snapshot().runs.iter().all(|run| run.logs > 0)
    });
    open_runs_menu(&mut f);
    let label = run_entry(&f, "checkout");
    assert!(
        label.ends_with(
            " · forwarded to jaeger:4317: 12,345 sent, 0 pending, 3 failed \
             · forwarded to tempo:4318: 10 sent, 0 pending"
        ),
        "{label:?}"
    );
    assert!(
        !run_entry(&f, "payments").contains("forwarded"),
        "a run that forwarded nothing says nothing of it"
    );
}
