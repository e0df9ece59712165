//! Drawing: tab bar, filter bar, log table, trace list, waterfall, detail pane, status
//! line and help. It reads a `Screen`, edits only its widgets' own state, and returns
//! what the user asked for as `Action`s for the app to apply.

mod bars;
mod browse;
mod detail_pane;
mod empty;
mod help;
mod lists;
mod metrics;
mod screen;
mod scroll;
mod style;
mod timeline;
mod value_menu;
mod waterfall;

use egui::Ui;

use crate::action::Action;
use crate::snapshot::{Analysis, ViewKind};

pub use screen::{Browser, Screen, Widgets};
pub use style::{level_color, level_color_on};

/// Draws one frame and returns what the user asked for in it.
pub fn show(ui: &mut Ui, screen: &Screen<'_>, widgets: Widgets<'_>) -> Vec<Action> {
    let Widgets {
        filter,
        list,
        path_to_open,
        archive_path,
        export,
    } = widgets;
    let mut actions = Vec::new();
    egui::Panel::top("tabs").show(ui, |ui| {
        bars::tab_bar(ui, screen, path_to_open, archive_path, export, &mut actions);
    });
    egui::Panel::top("filters").show(ui, |ui| {
        bars::filter_bar(ui, screen, filter, &mut actions);
    });
    egui::Panel::bottom("status").show(ui, |ui| bars::status_line(ui, screen, &mut actions));
    if screen.detail_open {
        egui::Panel::right("detail")
            .default_size(440.0)
            .min_size(360.0)
            .resizable(true)
            .show(ui, |ui| detail_pane::detail_pane(ui, screen, &mut actions));
    }
    egui::CentralPanel::default().show(ui, |ui| {
        let tab = screen.tab();
        let status = &screen.snapshot.status;
        if status.logs == 0
            && status.spans == 0
            && status.metric_points == 0
            && status.loading.is_none()
        {
            empty::how_to_send(ui, status, &mut actions);
            return;
        }
        if let Some(analysis) = tab.analysis {
            match analysis {
                Analysis::Metrics => metrics::metrics(ui, screen, &mut actions),
            }
            return;
        }
        if metrics::only_metrics(screen) {
            metrics::tell_of_metrics(ui, &mut actions);
        }
        match (tab.view, tab.open_trace) {
            (ViewKind::Logs, _) => lists::log_table(ui, screen, list, &mut actions),
            (ViewKind::Traces, None) => lists::trace_list(ui, screen, list, &mut actions),
            (ViewKind::Traces, Some(_)) => waterfall::waterfall(ui, screen, list, &mut actions),
        }
    });
    if screen.help_open {
        help::help(ui.ctx(), &mut actions);
    }
    if let Some(browser) = screen.browser {
        browse::browser(
            ui.ctx(),
            browser,
            screen.snapshot.listing.as_deref(),
            &mut actions,
        );
    }
    actions
}
