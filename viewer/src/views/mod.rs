//! Drawing: tab bar, filter bar, log table, trace list, waterfall, detail pane, status
//! line and help. It reads a `Screen`, edits only its widgets' own state, and returns
//! what the user asked for as `Action`s for the app to apply.

mod bars;
mod browse;
mod compare;
mod detail_pane;
mod empty;
mod flame;
mod help;
mod histogram;
mod lists;
mod metrics;
mod minimap;
mod operations;
mod screen;
mod scroll;
mod style;
mod timeline;
mod value_menu;
mod waterfall;

use egui::Ui;

use crate::action::Action;
use crate::snapshot::{Analysis, ViewKind};
use crate::tab_ui::ListState;

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
                // A trace opened from an analysis is shown over it; Escape returns to it.
                _ if tab.view == ViewKind::Traces && tab.open_trace.is_some() => {
                    open_trace(ui, screen, list, &mut actions);
                }
                Analysis::Operations => operations::operations(ui, screen, &mut actions),
                Analysis::Metrics => metrics::metrics(ui, screen, &mut actions),
            }
            return;
        }
        if metrics::only_metrics(screen) {
            metrics::tell_of_metrics(ui, &mut actions);
        }
        match (tab.view, tab.open_trace) {
            (ViewKind::Logs, _) => {
                histogram::strip(ui, screen, ViewKind::Logs, &mut actions);
                lists::log_table(ui, screen, list, &mut actions);
            }
            (ViewKind::Traces, None) => {
                histogram::strip(ui, screen, ViewKind::Traces, &mut actions);
                lists::trace_list(ui, screen, list, &mut actions);
            }
            (ViewKind::Traces, Some(_)) => open_trace(ui, screen, list, &mut actions),
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

/// The open trace, as a waterfall or as a flame graph (`F`).
fn open_trace(ui: &mut Ui, screen: &Screen<'_>, list: &mut ListState, actions: &mut Vec<Action>) {
    if screen.flame {
        flame::flame(ui, screen, list, actions);
    } else {
        waterfall::waterfall(ui, screen, list, actions);
    }
}
