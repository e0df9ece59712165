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
    (
        "y / Y / J",
        "copy the trace id / the trace as Markdown / its spans and logs as OTLP JSON",
    ),
    (
        "Ctrl-v",
        "paste a trace id to filter by it (other text: search)",
    ),
    ("t", "switch between logs and traces"),
    (
        "M",
        "metrics: instruments, a sparkline per series, charts (again, or Esc: the lists)",
    ),
    ("i", "logs inline under their spans"),
    (
        "+ / - / z",
        "zoom the waterfall in / out / back to the whole trace",
    ),
    ("h / l", "move the zoomed waterfall earlier / later"),
    (
        "F",
        "the open trace as a flame graph / back to the waterfall (same selection)",
    ),
    ("f", "follow the newest on / off"),
    (
        "x",
        "clear the time range (set by a drag across the histogram)",
    ),
    (
        "s / S",
        "sort the traces by the next column (start, duration, spans, errors, arrival) / \
         reverse; at first: start, newest first",
    ),
    (
        "1-9, 0, gt / gT",
        "tab by number, the last tab, next / previous tab",
    ),
    ("Ctrl-+ / Ctrl-- / Ctrl-0", "larger / smaller / normal text"),
    ("T", "theme: as the system, light, dark"),
    (
        "O",
        "operations table (again, or Esc: the lists); j/k, Enter: an operation, then its traces",
    ),
    ("?", "this help"),
];

const MOUSE: &[(&str, &str)] = &[
    (
        "Operations: click a title, a row, a point",
        "sort by it (again: reversed), list its traces, open that span's trace",
    ),
    (
        "Operations: Compare with…, Slowest traces",
        "another tab as the baseline; its slowest trace here and in the baseline's tab",
    ),
    (
        "click a row",
        "select it: a record's details, a trace's waterfall",
    ),
    ("double-click a span", "open its source in Neovim"),
    (
        "drag across the waterfall's bars",
        "zoom into that stretch of time",
    ),
    ("Ctrl + wheel over the waterfall", "zoom around the pointer"),
    (
        "drag across the histogram (above the lists)",
        "set the time range to that stretch; hover a bar: its time and counts",
    ),
    (
        "double-click the histogram, its clear button",
        "clear the time range",
    ),
    (
        "Shift + wheel, middle-drag",
        "move the zoomed waterfall earlier / later",
    ),
    (
        "click or drag on the minimap (above a zoomed trace)",
        "move the window there; the strip shows the whole trace",
    ),
    (
        "click a span in the flame graph",
        "select it (as in the waterfall); double-click: its source",
    ),
    (
        "bars with a white / black band",
        "the band is the critical path; \"self\" beside a duration: its self time",
    ),
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
    (
        "click a value in the details",
        "Filter to this, Exclude this (a negated term), Copy value",
    ),
    (
        "right-click a row's level, service, scope, trace id",
        "the same menu: the level, service, scope or trace-id filter",
    ),
    ("drag a column's edge", "resize the column"),
    (
        "Metrics: click a series; Rate / Total",
        "chart it; a sum as its rate per second or its total",
    ),
    (
        "Metrics: click an exemplar dot or button",
        "open its trace; hover the chart: values and time",
    ),
    (
        "click a trace list's column title",
        "sort by it (start, duration, spans, errors); again: the other way",
    ),
    (
        "time range, from / to",
        "last N min slides with the clock (moved every second); from / to take \
         2026-11-30T22:05:00Z, 22:05, 22:05:30 (today) or -15m (slides)",
    ),
    (
        "min / max duration",
        "traces as long as: 250ms, 1.5s, 200us, 2m (the traces view)",
    ),
    ("middle-click a tab", "close it"),
    ("Theme button (top right)", "as the system, light, dark"),
    (
        "Runs: a run / Browse…",
        "open a run's tab / pick a path outside the data directory",
    ),
    (
        "Runs: Save as archive…",
        "write the shown tab's runs into one FILE.oculus (progress in the status line)",
    ),
];

/// The attribute filter's terms; a term holds when the record's own attributes or its
/// resource's (host.name, service.version...) do.
const TERMS: &[(&str, &str)] = &[
    (
        "key=value",
        "the record or its resource has key with exactly this value",
    ),
    ("key~text", "... with a value containing text, in any case"),
    ("key", "... has key, with any value"),
    (
        "-key=value  -key~text  -key",
        "... has not (a negated term)",
    ),
    (
        "key=\"a b\"",
        "quotes for spaces, = or ~ (\\\" and \\\\ inside quotes)",
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
            ui.separator();
            ui.strong("Attribute filter (terms separated by spaces, all must hold)");
            table(ui, "terms", TERMS, |ui, term| {
                ui.monospace(term);
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
