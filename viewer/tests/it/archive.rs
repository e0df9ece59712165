//! An archive opened in the viewer: read in place, it looks as its run did.

use std::ops::ControlFlow;

use egui_kittest::kittest::{NodeT, Queryable};

use crate::app_fixture::{Fixture, app, app_over, app_over_paths};
use crate::common::recorded_run;

/// What the shown list's rows say, as a user reads them.
fn rows(f: &Fixture) -> Vec<String> {
    f.app()
        .snapshot()
        .logs
        .rows
        .iter()
        .map(|row| {
            format!(
                "{} {:?} {} {} {}",
                row.time_unix_nano, row.level, row.service, row.scope, row.message
            )
        })
        .collect()
}

/// The first row's detail pane, opened with the keys.
fn first_detail(f: &mut Fixture) -> String {
    f.keys("gg");
    f.wait_selected();
    f.harness.key_press(egui::Key::Enter);
    f.wait("the first row's detail", |app| {
        app.snapshot().detail.is_some()
    });
    let detail = f.app().snapshot().detail.clone().unwrap();
    format!("{} {:?}", detail.title, detail.sections)
}

#[test]
fn an_archive_opens_in_place_and_looks_as_its_run_did() {
    let run = recorded_run();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("run.oculus");
    let sessions = oculus_store::sessions(run.path()).unwrap();
    oculus_store::write_archive(&sessions, &archive, |_, _| ControlFlow::Continue(())).unwrap();
    let logs = oculus_store::check(run.path(), |_, _| {}).unwrap().logs as usize;
    let mut direct = app_over(run);
    let mut archived = app_over_paths(out, vec![archive.clone()]);
    for f in [&mut direct, &mut archived] {
        f.wait("every record read and shown", |app| {
            app.snapshot_is_current()
                && app.snapshot().status.loading.is_none()
                && app.snapshot().logs.total == logs
                && app.snapshot().logs.progress.is_none()
        });
    }

    assert_eq!(
        archived.app().snapshot().logs.total,
        direct.app().snapshot().logs.total
    );
    assert_eq!(
        archived.app().snapshot().status.spans,
        direct.app().snapshot().status.spans
    );
    let shown = rows(&archived);
    assert!(!shown.is_empty());
    assert_eq!(shown, rows(&direct));
    // The rows are drawn, not only held.
    let first = archived.app().snapshot().logs.rows[0].message.clone();
    // (Two rows may share the message, with fewer rows under the histogram strip.)
    assert!(
        archived
            .harness
            .query_all_by_label_contains(&first)
            .next()
            .is_some()
    );

    // The detail pane reads the block back from the archive, at its offset there.
    let detail = first_detail(&mut archived);
    assert!(detail.contains("checkout"), "{detail}");
    assert_eq!(detail, first_detail(&mut direct));
    assert!(archived.app().snapshot().status.damage.is_empty());

    // The Runs menu lists the archive's session, named under the archive.
    let runs = archived.app().snapshot().runs.to_vec();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].name, sessions[0].name());
    assert_eq!(runs[0].path, archive.join(sessions[0].name()));
    assert!(!runs[0].live);
    archived.harness.get_by_label("Runs").click();
    archived.harness.step();
    archived.harness.step();
    let entries: Vec<String> = archived
        .harness
        .get_all_by_label_contains(" spans · ")
        .filter_map(|node| node.accesskit_node().label())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].contains("checkout"), "{entries:?}");
    assert!(
        entries[0].contains(&format!("{} logs", runs[0].logs)),
        "{entries:?}"
    );
}

#[test]
fn save_as_archive_writes_the_shown_runs_and_the_status_line_says_so() {
    let mut f = app();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("saved.oculus");
    f.harness.get_by_label("Runs").click();
    f.harness.step();
    f.harness.step();
    f.harness
        .get_by_label("Save the shown tab's runs as one archive file:")
        .focus();
    f.harness.step();
    f.type_text(&target.display().to_string());
    f.harness.get_by_label("Save as archive…").click();
    f.harness.step();
    f.wait("the archive saved", |app| {
        app.notice()
            .is_some_and(|notice| notice.starts_with("saved "))
    });
    let notice = f.app().notice().unwrap().to_owned();
    assert!(
        notice.starts_with(&format!("saved 1 run to {}", target.display())),
        "{notice}"
    );
    let report = oculus_store::check(&target, |_, _| {}).unwrap();
    assert!(report.is_healthy(), "{:?}", report.damage);
    assert_eq!(report.logs, f.app().snapshot().status.logs as u64);
    assert_eq!(report.spans, f.app().snapshot().status.spans as u64);
}

#[test]
fn an_archive_cut_short_shows_every_record_and_says_where_it_is_damaged() {
    let run = recorded_run();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("run.oculus");
    let sessions = oculus_store::sessions(run.path()).unwrap();
    oculus_store::write_archive(&sessions, &archive, |_, _| ControlFlow::Continue(())).unwrap();
    let logs = oculus_store::check(run.path(), |_, _| {}).unwrap().logs as usize;
    // A copy that stopped short of its end: the footer and part of the manifest are gone.
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() - 100]).unwrap();

    let mut f = app_over_paths(out, vec![archive.clone()]);
    f.wait("every record, and the damage", |app| {
        app.snapshot().status.loading.is_none()
            && app.snapshot().logs.total == logs
            && !app.snapshot().status.damage.is_empty()
    });
    let damage: Vec<String> = f
        .app()
        .snapshot()
        .status
        .damage
        .iter()
        .map(ToString::to_string)
        .collect();
    let named = format!("{} at byte {}", archive.display(), bytes.len() - 100 - 32);
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(damage[0].starts_with(&named), "{damage:?}");
    assert_eq!(f.app().snapshot().runs[0].name, "manifest-lost");
    drop(run);
}
