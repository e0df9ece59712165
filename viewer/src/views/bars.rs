//! The bars around the list: tabs and runs at the top, the filter under them, the
//! status line at the bottom.

use egui::{Align, Color32, Layout, RichText, Sense, Ui, Vec2};

use super::screen::Screen;
use super::style::{level_color, live_color, weak_color};
use crate::action::Action;
use crate::filter::Filter;
use crate::model::Level;
use crate::snapshot::{Analysis, Forwarding, RunInfo, TabExport, ViewKind};
use crate::time::{format_length, format_start};

pub fn tab_bar(
    ui: &mut Ui,
    screen: &Screen<'_>,
    path_to_open: &mut String,
    archive_path: &mut String,
    export: &mut TabExport,
    actions: &mut Vec<Action>,
) {
    ui.horizontal_wrapped(|ui| {
        for (i, tab) in screen.tabs.iter().enumerate() {
            let label = if i < 9 {
                format!("{} {}", i + 1, tab.name)
            } else {
                tab.name.clone()
            };
            let response = ui.selectable_label(i == screen.active, label);
            if response.clicked() {
                actions.push(Action::ShowTab(i));
            }
            if tab.closable && response.middle_clicked() {
                actions.push(Action::CloseTab(i));
            }
        }
        ui.separator();
        ui.menu_button("Runs", |ui| {
            let runs = &screen.snapshot.runs;
            if runs.is_empty() {
                ui.label("no runs yet");
            }
            egui::ScrollArea::vertical()
                .max_height(ui.ctx().content_rect().height() * 0.6)
                .show(ui, |ui| {
                    // Newest first: the run a user wants is most often the latest.
                    for (i, run) in runs.iter().enumerate().rev() {
                        let mut text = RichText::new(run_label(run));
                        if run.live {
                            text = text.color(live_color(ui));
                        }
                        let mut hover = run.path.display().to_string();
                        for error in run.forwarding.iter().filter_map(|f| f.error.as_deref()) {
                            hover.push('\n');
                            hover.push_str(error);
                        }
                        let response = ui.button(text).on_hover_text(hover);
                        if response.clicked() {
                            actions.push(Action::OpenSessionTab(i as u16));
                            ui.close();
                        }
                    }
                });
            ui.separator();
            let prompt = ui.label("Open a data directory, a run, an archive or a segment file:");
            ui.horizontal(|ui| {
                let field = ui
                    .add(
                        egui::TextEdit::singleline(path_to_open)
                            .hint_text("path")
                            .desired_width(280.0),
                    )
                    .labelled_by(prompt.id);
                let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if (ui.button("Open").clicked() || entered) && !path_to_open.trim().is_empty() {
                    let path = std::path::PathBuf::from(path_to_open.trim());
                    path_to_open.clear();
                    actions.push(Action::OpenPath(path));
                    ui.close();
                }
                if ui.button("Browse…").clicked() {
                    actions.push(Action::Browse(browse_start(path_to_open)));
                    ui.close();
                }
            });
            ui.separator();
            let prompt = ui.label("Save the shown tab's runs as one archive file:");
            ui.horizontal(|ui| {
                let field = ui
                    .add(
                        egui::TextEdit::singleline(archive_path)
                            .hint_text("FILE.oculus")
                            .desired_width(280.0),
                    )
                    .labelled_by(prompt.id);
                let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if (ui.button("Save as archive…").clicked() || entered)
                    && !archive_path.trim().is_empty()
                {
                    let path = std::path::PathBuf::from(archive_path.trim());
                    archive_path.clear();
                    actions.push(Action::SaveArchive(path));
                    ui.close();
                }
            });
        });
        // Open while its choices are clicked: only Export or a click outside closes it.
        egui::containers::menu::MenuButton::new("Export tab…")
            .config(
                egui::containers::menu::MenuConfig::new()
                    .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside),
            )
            .ui(ui, |ui| export_menu(ui, export, actions));
        if screen.tab().closable && ui.small_button("Close tab").clicked() {
            actions.push(Action::CloseTab(screen.active));
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui.small_button("? Help").clicked() {
                actions.push(Action::ToggleHelp);
            }
            let theme = match screen.theme {
                egui::ThemePreference::System => "Theme: system",
                egui::ThemePreference::Light => "Theme: light",
                egui::ThemePreference::Dark => "Theme: dark",
            };
            if ui
                .small_button(theme)
                .on_hover_text("as the system, light, dark (T)")
                .clicked()
            {
                actions.push(Action::CycleTheme);
            }
        });
    });
}

/// "Export tab…": what the tab shows (its filter applied: its log records, or its
/// traces with their spans and logs) into an OTLP file; the backend writes it.
fn export_menu(ui: &mut Ui, export: &mut TabExport, actions: &mut Vec<Action>) {
    let prompt = ui.label("Write what this tab shows to an OTLP file:");
    let mut path = export.path.display().to_string();
    let field = ui
        .add(
            egui::TextEdit::singleline(&mut path)
                .hint_text("file")
                .desired_width(280.0),
        )
        .labelled_by(prompt.id);
    if field.changed() {
        export.path = std::path::PathBuf::from(path.trim());
    }
    ui.horizontal(|ui| {
        ui.radio_value(&mut export.protobuf, false, "JSON Lines");
        ui.radio_value(&mut export.protobuf, true, "protobuf");
        ui.checkbox(&mut export.zstd, "zstd");
    });
    let ready = !export.path.as_os_str().is_empty();
    if ui.add_enabled(ready, egui::Button::new("Export")).clicked() {
        actions.push(Action::ExportTab(export.clone()));
        ui.close();
    }
}

/// Where the file browser starts: the directory typed in the path field, else the
/// home directory (from the environment: no file is read here).
fn browse_start(typed: &str) -> std::path::PathBuf {
    let typed = typed.trim();
    if !typed.is_empty() {
        return std::path::PathBuf::from(typed);
    }
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map_or_else(|| std::path::PathBuf::from("/"), std::path::PathBuf::from)
}

/// A run in the Runs menu: when its first record was, how long it lasted (or that it
/// is still being written), its services, what it holds and, for an ended run, what
/// its collector forwarded.
pub fn run_label(run: &RunInfo) -> String {
    let start = run
        .first_unix_nano
        .map_or_else(|| "no records yet".to_owned(), format_start);
    let length = run.length_nano().map(format_length);
    let length = match (run.live, length) {
        (true, Some(length)) => format!("LIVE, {length} so far"),
        (true, None) => "LIVE".to_owned(),
        (false, Some(length)) => length,
        (false, None) => "-".to_owned(),
    };
    let services = if run.services.is_empty() {
        "no services".to_owned()
    } else {
        run.services.join(", ")
    };
    let mut counts = format!(
        "{} spans · {} logs",
        short_count(run.spans),
        short_count(run.logs)
    );
    if run.metric_points > 0 {
        counts.push_str(&format!(
            " · {} metric points",
            short_count(run.metric_points)
        ));
    }
    let mut label = format!("{start} · {length} · {services} · {counts}");
    for forwarding in &run.forwarding {
        label.push_str(&format!(
            " · forwarded to {}: {} sent, {} pending",
            short_destination(&forwarding.destination),
            grouped(forwarding.forwarded),
            grouped(forwarding.pending)
        ));
        if forwarding.failed > 0 {
            label.push_str(&format!(", {} failed", grouped(forwarding.failed)));
        }
    }
    label
}

/// A destination without its scheme: `jaeger:4317`.
fn short_destination(destination: &str) -> &str {
    destination
        .split_once("://")
        .map_or(destination, |(_, rest)| rest)
}

/// A count in at most five characters: exact below 10,000, then "12.3k", "413k",
/// "2.17M".
pub fn short_count(count: u64) -> String {
    if count < 10_000 {
        return count.to_string();
    }
    let (value, unit) = match count as f64 {
        c if c < 1e6 => (c / 1e3, "k"),
        c if c < 1e9 => (c / 1e6, "M"),
        c => (c / 1e9, "G"),
    };
    // Compared as rounded, so that 9.996 is "10.0", not "10.00".
    if value < 9.995 {
        format!("{value:.2}{unit}")
    } else if value < 99.95 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.0}{unit}")
    }
}

/// The width of a level button with the widest label and count it can show.
fn count_button_width(ui: &Ui) -> f32 {
    let font = egui::TextStyle::Button.resolve(ui.style());
    let widest = ui.fonts_mut(|fonts| {
        fonts
            .layout_no_wrap("FATAL 00.0M".to_owned(), font, Color32::WHITE)
            .size()
            .x
    });
    widest + 2.0 * ui.spacing().button_padding.x
}

/// The shown tab's filter: its text fields edit `filter`, the rest are actions.
pub fn filter_bar(
    ui: &mut Ui,
    screen: &Screen<'_>,
    filter: &mut Filter,
    actions: &mut Vec<Action>,
) {
    let counts = screen.snapshot.level_counts;
    let current = screen.snapshot_is_current();
    let tab = screen.tab();
    ui.horizontal_wrapped(|ui| {
        for (view, label) in [(ViewKind::Logs, "Logs"), (ViewKind::Traces, "Traces")] {
            let shown = tab.analysis.is_none() && tab.view == view;
            if ui.selectable_label(shown, label).clicked() {
                actions.push(Action::ShowView(view));
            }
        }
        let operations = Some(Analysis::Operations);
        if ui
            .selectable_label(tab.analysis == operations, "Operations")
            .on_hover_text("per operation: count, errors, p50/p95/p99 (O)")
            .clicked()
        {
            actions.push(Action::ShowAnalysis(operations));
        }
        let metrics = Some(Analysis::Metrics);
        if ui
            .selectable_label(tab.analysis == metrics, "Metrics")
            .on_hover_text("per service: instruments, series and charts (M)")
            .clicked()
        {
            actions.push(Action::ShowAnalysis(metrics));
        }
        ui.separator();
        let min = filter.min_level;
        let all = if current {
            counts.iter().sum::<u64>()
        } else {
            0
        };
        // Counts are short and their buttons as wide as their longest, so the fields
        // after them stay where the user aims while the counts grow.
        let width = count_button_width(ui);
        let all_button =
            egui::Button::selectable(min == Level::Unset, format!("all {}", short_count(all)))
                .min_size(Vec2::new(width, 0.0));
        if ui
            .add(all_button)
            .on_hover_text(format!("{all} log records"))
            .clicked()
        {
            actions.push(Action::SetMinLevel(Level::Unset));
        }
        for level in &Level::ALL[1..] {
            let count = if current { counts[*level as usize] } else { 0 };
            let text = RichText::new(format!("{} {}", level.label(), short_count(count)))
                .color(level_color(ui, *level));
            let response = ui
                .add(egui::Button::selectable(min == *level, text).min_size(Vec2::new(width, 0.0)))
                .on_hover_text(format!(
                    "{count} {} records; show {} and above",
                    level.label(),
                    level.label()
                ));
            if response.clicked() {
                let level = if min == *level { Level::Unset } else { *level };
                actions.push(Action::SetMinLevel(level));
            }
        }
        ui.separator();
        let label = match filter.services.len() {
            0 => "all services".to_owned(),
            1 => filter.services[0].clone(),
            n => format!("{n} services"),
        };
        ui.menu_button(label, |ui| {
            for service in &screen.snapshot.services {
                let mut shown = filter.services.iter().any(|s| **s == **service);
                if ui.checkbox(&mut shown, &**service).changed() {
                    actions.push(Action::ShowService {
                        service: service.clone(),
                        shown,
                    });
                }
            }
            if !filter.services.is_empty() && ui.button("all services").clicked() {
                actions.push(Action::AllServices);
            }
        });
        let search = ui.add(
            egui::TextEdit::singleline(&mut filter.search)
                .hint_text("search (/)")
                .desired_width(220.0)
                // egui drops the focus at a frame's start on Esc, and with it what was
                // typed in that frame; the field keeps Esc, and the app leaves it after.
                .event_filter(egui::EventFilter {
                    escape: true,
                    // As a text field keeps them, for its cursor.
                    horizontal_arrows: true,
                    vertical_arrows: true,
                    ..egui::EventFilter::default()
                }),
        );
        ui.checkbox(&mut filter.regex, "regex");
        if screen.focus_search {
            search.request_focus();
            // Typing goes on at the end, after what was typed with the `/`.
            let mut state = egui::TextEdit::load_state(ui.ctx(), search.id).unwrap_or_default();
            let end = egui::text::CCursor::new(filter.search.chars().count());
            state
                .cursor
                .set_char_range(Some(egui::text::CCursorRange::one(end)));
            state.store(ui.ctx(), search.id);
        }
        ui.add(
            egui::TextEdit::singleline(&mut filter.scope)
                .hint_text("scope")
                .desired_width(100.0),
        );
        ui.add(
            egui::TextEdit::singleline(&mut filter.attributes)
                .hint_text("key=value key~text -key")
                .desired_width(160.0),
        )
        .on_hover_text(
            "attributes of the record or its resource: key=value, key~text (contains), \
             key (present), -key... (not), key=\"a b\" (quoted); ? lists them all",
        );
        ui.add(
            egui::TextEdit::singleline(&mut filter.trace_id)
                .hint_text("trace id")
                .desired_width(120.0),
        );
        let since = filter.since.map(|s| s.window);
        let mut chosen = since;
        egui::ComboBox::from_label("time range")
            .selected_text(match since {
                None => "all time".to_owned(),
                Some(w) => format!("last {}", humantime::format_duration(w)),
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut chosen, None, "all time");
                for minutes in [1, 5, 15, 60] {
                    let window = Some(std::time::Duration::from_secs(minutes * 60));
                    ui.selectable_value(&mut chosen, window, format!("last {minutes} min"));
                }
            })
            .response
            .on_hover_text(
                "a window that ends now and slides with the clock: records leave it as \
                 they age (checked every second)",
            );
        if chosen != since {
            actions.push(Action::SetSince(chosen));
        }
        let times = "2026-11-30T22:05:00Z, 22:05 or 22:05:30 (today, local time), \
                     or before now: -15m (which slides with the clock)";
        ui.add(
            egui::TextEdit::singleline(&mut filter.from)
                .hint_text("from")
                .desired_width(90.0),
        )
        .on_hover_text(format!("records at or after: {times}"));
        ui.add(
            egui::TextEdit::singleline(&mut filter.to)
                .hint_text("to")
                .desired_width(90.0),
        )
        .on_hover_text(format!("records before: {times}"));
        if tab.view == ViewKind::Traces {
            let durations = "250ms, 1.5s, 200us, 2m";
            ui.add(
                egui::TextEdit::singleline(&mut filter.min_duration)
                    .hint_text("min duration")
                    .desired_width(80.0),
            )
            .on_hover_text(format!("traces at least this long: {durations}"));
            ui.add(
                egui::TextEdit::singleline(&mut filter.max_duration)
                    .hint_text("max duration")
                    .desired_width(80.0),
            )
            .on_hover_text(format!("traces at most this long: {durations}"));
        }
        if *filter != tab.base && ui.button("Clear filters").clicked() {
            actions.push(Action::ClearFilters);
        }
        if let Some(error) = &screen.snapshot.filter_error {
            ui.colored_label(level_color(ui, Level::Error), error);
        }
    });
}

pub fn status_line(ui: &mut Ui, screen: &Screen<'_>, actions: &mut Vec<Action>) {
    let snapshot = screen.snapshot;
    let status = &snapshot.status;
    ui.horizontal(|ui| {
        let (word, color) = if status.receiving {
            ("receiving", live_color(ui))
        } else {
            ("idle", weak_color(ui))
        };
        let (dot, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
        ui.painter().circle_filled(dot.center(), 4.0, color);
        ui.colored_label(color, word);
        if screen.backend_gone {
            ui.colored_label(
                level_color(ui, Level::Error),
                "the reader stopped: what is shown is no longer updated (see the log)",
            );
        }
        if let Some(loading) = status.loading {
            // Wide enough for the longest label, so that it is never cut.
            ui.add(
                egui::ProgressBar::new(loading.share)
                    .desired_width(220.0)
                    .text(format!(
                        "loading: {} records, {:.0}%",
                        loading.records,
                        loading.share * 100.0
                    )),
            );
        }
        ui.label(format!(
            "{} logs · {} spans · {} traces · {:.0}/s",
            status.logs, status.spans, status.traces, status.records_per_second
        ));
        if status.metric_points > 0 {
            ui.label(format!("· {} metric points kept", status.metric_points));
        }
        let tab = screen.tab();
        let (shown, total, progress) = match tab.view {
            ViewKind::Logs => (snapshot.logs.total, status.logs, snapshot.logs.progress),
            ViewKind::Traces => (
                snapshot.traces.total,
                status.traces,
                snapshot.traces.progress,
            ),
        };
        ui.separator();
        ui.label(format!("shown {shown}"));
        // Which order the rows are in.
        match tab.view {
            ViewKind::Logs => ui.label("· in arrival order"),
            ViewKind::Traces => ui.label(format!("· sorted {}", snapshot.trace_sort.describe())),
        };
        if total > shown && progress.is_none() {
            ui.label(format!("· {} filtered out", total - shown));
        }
        if let Some(progress) = progress {
            ui.add(
                egui::ProgressBar::new(progress)
                    .desired_width(120.0)
                    .text("filtering"),
            );
        }
        let list = match tab.view {
            ViewKind::Logs => &tab.logs,
            ViewKind::Traces => &tab.traces,
        };
        if let Some(row) = list.selected_row().filter(|&row| row < shown) {
            ui.label(format!("· row {} of {shown} selected", row + 1));
        }
        ui.separator();
        ui.label(&status.collector);
        for forwarding in &status.forwarding {
            forwarding_label(ui, forwarding);
        }
        // Damage first, as it matters more; each is cut at the window's edge (damage
        // at half of what is left when a notice follows), whole on hover, copied by a
        // click.
        let damage = status.damage.last().map(|damage| {
            let all: Vec<String> = status.damage.iter().map(ToString::to_string).collect();
            (format!("damaged data: {damage}"), all.join("\n"))
        });
        let mut room = ui.available_width();
        if let Some((text, all)) = damage {
            ui.separator();
            if screen.notice.is_some() {
                room /= 2.0;
            }
            let copied = all.clone();
            long_label(ui, &text, &all, level_color(ui, Level::Error), room, || {
                actions.push(Action::Copy(copied));
            });
        }
        if let Some(notice) = screen.notice {
            ui.separator();
            long_label(
                ui,
                notice,
                notice,
                level_color(ui, Level::Warn),
                f32::INFINITY,
                || {
                    actions.push(Action::Copy(notice.to_owned()));
                },
            );
        }
    });
}

/// "forwarding to jaeger:4317: 12,345 sent · 0 pending" (the default fonts have no
/// arrow), then failures in red, and the last error on hover.
fn forwarding_label(ui: &mut Ui, forwarding: &Forwarding) {
    let destination = short_destination(&forwarding.destination);
    ui.separator();
    let counts = ui.label(format!(
        "forwarding to {destination}: {} sent · {} pending",
        grouped(forwarding.forwarded),
        grouped(forwarding.pending)
    ));
    if let Some(error) = &forwarding.error {
        counts.on_hover_text(error);
    }
    if forwarding.failed > 0 {
        ui.colored_label(
            level_color(ui, Level::Error),
            format!("· {} failed", grouped(forwarding.failed)),
        );
    }
    if forwarding.retrying {
        ui.colored_label(level_color(ui, Level::Warn), "· retrying");
    }
}

/// A count with its thousands grouped: 12,345.
fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A message that may be longer than the room for it: cut to `max_width` (and the
/// window's edge), shown whole on hover, and `copy` on a click.
fn long_label(
    ui: &mut Ui,
    text: &str,
    whole: &str,
    color: Color32,
    max_width: f32,
    copy: impl FnOnce(),
) {
    let response = ui
        .scope(|ui| {
            ui.set_max_width(max_width);
            ui.add(
                egui::Label::new(RichText::new(text).color(color))
                    .truncate()
                    .sense(Sense::click()),
            )
        })
        .inner
        .on_hover_text(format!("{whole}\n(click to copy)"));
    if response.clicked() {
        copy();
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{grouped, run_label, short_count};
    use crate::snapshot::{Forwarding, RunInfo};

    #[test]
    fn a_run_reads_as_its_start_length_services_and_counts() {
        let mut run = RunInfo {
            name: "2026-11-30T10-00-00.000Z-42".to_owned(),
            path: PathBuf::from("/d/sessions/2026-11-30T10-00-00.000Z-42"),
            live: false,
            first_unix_nano: Some(1_000_000_000),
            last_unix_nano: Some(126_000_000_000),
            services: vec!["checkout".into(), "payments".into()],
            logs: 12_345,
            spans: 40,
            metric_points: 0,
            forwarding: Vec::new(),
        };
        let start = crate::time::format_start(1_000_000_000);
        assert_eq!(
            run_label(&run),
            format!("{start} · 2 min 05 s · checkout, payments · 40 spans · 12.3k logs")
        );
        run.live = true;
        run.metric_points = 7;
        assert_eq!(
            run_label(&run),
            format!(
                "{start} · LIVE, 2 min 05 s so far · checkout, payments · 40 spans · 12.3k logs · 7 metric points"
            )
        );
        let empty = RunInfo {
            live: false,
            first_unix_nano: None,
            last_unix_nano: None,
            services: Vec::new(),
            logs: 0,
            spans: 0,
            ..run
        };
        assert_eq!(
            run_label(&empty),
            "no records yet · - · no services · 0 spans · 0 logs · 7 metric points"
        );
        let forwarded = RunInfo {
            forwarding: vec![
                Forwarding {
                    destination: "grpc://jaeger:4317".into(),
                    forwarded: 12_345,
                    ..Forwarding::default()
                },
                Forwarding {
                    destination: "http://tempo:4318/otlp".into(),
                    forwarded: 12_000,
                    pending: 300,
                    failed: 45,
                    ..Forwarding::default()
                },
            ],
            ..empty
        };
        assert!(
            run_label(&forwarded).ends_with(
                " · forwarded to jaeger:4317: 12,345 sent, 0 pending · forwarded to tempo:4318/otlp: 12,000 sent, 300 pending, 45 failed"
            ),
            "{}",
            run_label(&forwarded)
        );
    }

    #[test]
    fn counts_fit_in_five_characters() {
        for (count, text) in [
            (0, "0"),
            (9_999, "9999"),
            (10_000, "10.0k"),
            (413_250, "413k"),
            (2_171_793, "2.17M"),
            (40_230_000, "40.2M"),
            (9_996_000, "10.0M"),
            (99_960, "100k"),
        ] {
            assert_eq!(short_count(count), text);
        }
        for count in (0..1_000_000_000u64).step_by(7_777_777) {
            assert!(short_count(count).len() <= 5, "{count}");
        }
    }

    #[test]
    fn counts_group_their_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(12_345), "12,345");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }
}
