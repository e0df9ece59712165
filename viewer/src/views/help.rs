//! The help window: every key binding and mouse action.

use egui::Vec2;

use crate::action::Action;

const BINDINGS: &[(&str, &str)] = &[
    ("j / k, Down / Up", "next / previous row"),
    ("gg / G", "first row / newest row (and follow)"),
    ("Ctrl-d / Ctrl-u", "half a page down / up"),
    ("PageDown / PageUp", "a page down / up"),
    ("/", "search"),
    ("n / N", "next / previous match"),
    ("e / E", "next / previous error"),
    ("Enter", "details of the row; open the trace"),
    ("Esc", "close help, details, the trace; leave a text field"),
    ("o", "open the row's source in Neovim"),
    ("y / Y", "copy the trace id / the trace as Markdown"),
    (
        "Ctrl-v",
        "paste a trace id to filter by it (other text: search)",
    ),
    ("t", "switch between logs and traces"),
    ("i", "logs inline under their spans"),
    ("+ / -", "zoom the waterfall in / out"),
    ("f", "follow the newest on / off"),
    (
        "1-9, 0, gt / gT",
        "tab by number, the last tab, next / previous tab",
    ),
    ("Ctrl-+ / Ctrl-- / Ctrl-0", "larger / smaller / normal text"),
    ("T", "theme: as the system, light, dark"),
    ("?", "this help"),
];

const MOUSE: &[(&str, &str)] = &[
    (
        "click a row",
        "select it: a record's details, a trace's waterfall",
    ),
    ("double-click a span", "open its source in Neovim"),
    (
        "click a trace id or source link",
        "open the trace, or the source in Neovim",
    ),
    (
        "wheel, scrollbar",
        "scroll (scrolling up stops following the newest)",
    ),
    (
        "copy buttons",
        "trace id, span id, a value, the whole record, the trace as Markdown",
    ),
    ("drag a column's edge", "resize the column"),
    ("middle-click a tab", "close it"),
    ("Theme button (top right)", "as the system, light, dark"),
    (
        "Runs: a run / Browse…",
        "open a run's tab / pick a path outside the data directory",
    ),
];

pub fn help(ctx: &egui::Context, actions: &mut Vec<Action>) {
    let mut open = true;
    egui::Window::new("Keyboard")
        .open(&mut open)
        .collapsible(false)
        .anchor(egui::Align2::CENTER_CENTER, Vec2::ZERO)
        .show(ctx, |ui| {
            table(ui, "bindings", BINDINGS, |ui, keys| {
                ui.monospace(keys);
            });
            ui.separator();
            table(ui, "mouse", MOUSE, |ui, gesture| {
                ui.strong(gesture);
            });
        });
    if !open {
        actions.push(Action::CloseHelp);
    }
}

/// Two columns: what the user does, drawn by `first`, and what it does.
fn table(ui: &mut egui::Ui, id: &str, rows: &[(&str, &str)], first: impl Fn(&mut egui::Ui, &str)) {
    egui::Grid::new(id)
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (doing, what) in rows {
                first(ui, doing);
                ui.label(*what);
                ui.end_row();
            }
        });
}
