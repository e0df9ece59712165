//! What the window keeps across a restart (tabs, filters, the shown tab, text size,
//! theme), driven as a user would and restored through eframe's storage, and the
//! theme switch. No test reads or writes the user's own storage: each keeps it in
//! memory.

use std::collections::HashMap;
use std::time::Duration;

use egui::{Key, Modifiers};
use oculus_viewer::model::Level;
use oculus_viewer::persist::STORAGE_KEY;

use egui_kittest::kittest::Queryable;

use crate::app_fixture::{Fixture, app, app_over};
use crate::common::recorded_runs;

/// eframe's storage, in memory.
#[derive(Default)]
struct Memory(HashMap<String, String>);

impl eframe::Storage for Memory {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

fn save(f: &mut Fixture) -> Memory {
    let mut storage = Memory::default();
    eframe::App::save(f.harness.state_mut(), &mut storage);
    storage
}

fn dark_mode(f: &Fixture) -> bool {
    f.harness.ctx.global_style().visuals.dark_mode
}

#[test]
fn tabs_filters_text_size_and_theme_survive_a_restart() {
    let mut f = app_over(recorded_runs(&["checkout", "payments"]));
    f.wait("a tab per service", |app| app.tabs().len() == 3);
    // A run's own tab, from the Runs menu: the newer run, whose session number will
    // not be the same once the older run is gone.
    f.harness.get_by_label("Runs").click();
    f.harness.step();
    f.harness.step();
    f.harness.get_by_label_contains("payments ·").click();
    f.wait("the run's tab", |app| {
        app.tabs().len() == 4 && app.active() == 3
    });
    let run_path = f.app().snapshot().runs[1].path.clone();
    // The checkout tab: a level, a search, a time range.
    f.keys("2");
    f.wait("the checkout tab", |app| app.active() == 1);
    f.harness.get_by_label_contains("INFO ").click();
    f.keys("/");
    f.type_text("order");
    f.harness.key_press(Key::Escape);
    f.harness.get_by_label("time range").click();
    f.harness.step();
    f.harness.step();
    f.harness.get_by_label("last 15 min").click();
    f.harness.step();
    f.keys("t");
    // The run's tab is shown when the window closes.
    f.keys("4");
    // Larger text and the light theme.
    f.harness.key_press_modifiers(Modifiers::COMMAND, Key::Plus);
    f.keys("T");
    f.harness.step();
    let zoom = f.harness.ctx.zoom_factor();
    assert!(zoom > 1.0, "Ctrl-+ made the text larger: {zoom}");
    assert!(!dark_mode(&f));
    let before = f.app().tabs().to_vec();
    let storage = save(&mut f);

    // Meanwhile the oldest run was deleted (as retention does): the runs after it
    // are numbered one less.
    std::fs::remove_dir_all(&f.app().snapshot().runs[0].path).unwrap();
    let mut f = f.restart(&storage);
    let names: Vec<&str> = f.app().tabs().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["All", "checkout", "payments", before[3].name.as_str()]
    );
    assert_eq!(f.app().active(), 3, "the shown tab");
    let checkout = &f.app().tabs()[1];
    assert_eq!(checkout.filter.min_level, Level::Info);
    assert_eq!(checkout.filter.search, "order");
    assert_eq!(checkout.view, oculus_viewer::snapshot::ViewKind::Traces);
    let since = checkout.filter.since.expect("the time range");
    assert_eq!(since.window, Duration::from_secs(15 * 60));
    // The run's tab shows the same run under its new number.
    let run_tab = &f.app().tabs()[3];
    let [session] = run_tab.filter.sessions[..] else {
        panic!("one run: {:?}", run_tab.filter.sessions);
    };
    assert_eq!(f.app().snapshot().runs[usize::from(session)].path, run_path);
    assert_eq!(
        (before[3].filter.sessions.as_slice(), session),
        (&[1][..], 0)
    );
    // A restored service tab is not opened a second time when its service is found.
    f.harness.step();
    assert_eq!(
        f.app()
            .tabs()
            .iter()
            .filter(|t| t.name == "payments")
            .count(),
        1
    );
    assert!((f.harness.ctx.zoom_factor() - zoom).abs() < 1e-6);
    assert_eq!(f.app().theme(), egui::ThemePreference::Light);
    assert!(!dark_mode(&f));
}

#[test]
fn a_tab_of_a_run_that_is_gone_is_left_out_and_named() {
    let mut f = app_over(recorded_runs(&["checkout", "payments"]));
    f.wait("a tab per service", |app| app.tabs().len() == 3);
    f.harness.get_by_label("Runs").click();
    f.harness.step();
    f.harness.step();
    f.harness.get_by_label_contains("payments ·").click();
    f.wait("the run's tab", |app| app.tabs().len() == 4);
    f.keys("1");
    let storage = save(&mut f);
    let gone = f.app().snapshot().runs[1].path.clone();
    std::fs::remove_dir_all(&gone).unwrap();
    let f = f.restart(&storage);
    let names: Vec<&str> = f.app().tabs().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["All", "checkout", "payments"]);
    assert_eq!(f.app().active(), 0);
    let notice = f.app().notice().unwrap_or_default();
    assert!(
        notice.contains(&gone.display().to_string()),
        "the status line names the run: {notice:?}"
    );
}

#[test]
fn a_damaged_or_foreign_stored_value_starts_with_the_defaults() {
    let mut f = app();
    for stored in [
        "(tabs: [(name: \"All\", filter: (",
        "\u{0}\u{ff}",
        "[1, 2, 3]",
    ] {
        let mut storage = Memory::default();
        storage.0.insert(STORAGE_KEY.to_owned(), stored.to_owned());
        f = f.restart(&storage);
        f.wait("the service's tab", |app| app.tabs().len() == 2);
        let names: Vec<&str> = f.app().tabs().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["All", "checkout"], "{stored:?}");
        assert_eq!(f.app().theme(), egui::ThemePreference::System);
        assert_eq!(f.harness.ctx.zoom_factor(), 1.0);
    }
}

#[test]
fn the_theme_key_and_button_switch_between_system_light_and_dark() {
    let mut f = app();
    assert_eq!(f.app().theme(), egui::ThemePreference::System);
    f.keys("T");
    f.harness.step();
    assert_eq!(f.app().theme(), egui::ThemePreference::Light);
    assert!(!dark_mode(&f), "light");
    f.harness.get_by_label("Theme: light").click();
    f.harness.step();
    f.harness.step();
    assert_eq!(f.app().theme(), egui::ThemePreference::Dark);
    assert!(dark_mode(&f), "dark");
    f.keys("T");
    assert_eq!(f.app().theme(), egui::ThemePreference::System);
    f.harness.get_by_label("Theme: system");
}
