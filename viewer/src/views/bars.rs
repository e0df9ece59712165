//! The bars around the list: tabs and runs at the top, the filter under them, the
//! status line at the bottom.

use egui::{Align, Color32, Layout, RichText, Sense, Ui, Vec2};

use super::screen::Screen;
use super::style::level_color;
use crate::action::Action;
use crate::filter::Filter;
use crate::model::Level;
use crate::snapshot::ViewKind;

pub fn tab_bar(
    ui: &mut Ui,
    screen: &Screen<'_>,
    path_to_open: &mut String,
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
            let sessions = &screen.snapshot.sessions;
            if sessions.is_empty() {
                ui.label("no runs yet");
            }
            for (i, name) in sessions.iter().enumerate() {
                if ui.button(name).clicked() {
                    actions.push(Action::OpenSessionTab(i as u16));
                    ui.close();
                }
            }
            ui.separator();
            let prompt = ui.label("Open a data directory, a run or a segment file:");
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
            });
        });
        if screen.tab().closable && ui.small_button("Close tab").clicked() {
            actions.push(Action::CloseTab(screen.active));
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui.small_button("? Help").clicked() {
                actions.push(Action::ToggleHelp);
            }
        });
    });
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
            if ui.selectable_label(tab.view == view, label).clicked() {
                actions.push(Action::ShowView(view));
            }
        }
        ui.separator();
        let min = filter.min_level;
        let all = if current {
            counts.iter().sum::<u64>()
        } else {
            0
        };
        if ui
            .selectable_label(min == Level::Unset, format!("all {all}"))
            .clicked()
        {
            actions.push(Action::SetMinLevel(Level::Unset));
        }
        for level in &Level::ALL[1..] {
            let count = if current { counts[*level as usize] } else { 0 };
            let text =
                RichText::new(format!("{} {count}", level.label())).color(level_color(*level));
            let response = ui
                .selectable_label(min == *level, text)
                .on_hover_text(format!("show {} and above", level.label()));
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
                .desired_width(220.0),
        );
        ui.checkbox(&mut filter.regex, "regex");
        if screen.focus_search {
            search.request_focus();
        }
        ui.add(
            egui::TextEdit::singleline(&mut filter.scope)
                .hint_text("scope")
                .desired_width(100.0),
        );
        ui.add(
            egui::TextEdit::singleline(&mut filter.attributes)
                .hint_text("key=value key~text")
                .desired_width(160.0),
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
            });
        if chosen != since {
            actions.push(Action::SetSince(chosen));
        }
        if *filter != tab.base && ui.button("Clear filters").clicked() {
            actions.push(Action::ClearFilters);
        }
        if let Some(error) = &screen.snapshot.filter_error {
            ui.colored_label(Color32::from_rgb(240, 90, 80), error);
        }
    });
}

pub fn status_line(ui: &mut Ui, screen: &Screen<'_>) {
    let snapshot = screen.snapshot;
    let status = &snapshot.status;
    ui.horizontal(|ui| {
        let (word, color) = if status.receiving {
            ("receiving", Color32::from_rgb(110, 200, 120))
        } else {
            ("idle", Color32::GRAY)
        };
        let (dot, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
        ui.painter().circle_filled(dot.center(), 4.0, color);
        ui.colored_label(color, word);
        if screen.backend_gone {
            ui.colored_label(
                level_color(Level::Error),
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
        if let Some(notice) = screen.notice {
            ui.separator();
            ui.colored_label(Color32::from_rgb(235, 190, 60), notice);
        }
        if let Some(damage) = status.damage.last() {
            ui.separator();
            ui.colored_label(
                Color32::from_rgb(240, 90, 80),
                format!("damaged data: {damage}"),
            )
            .on_hover_text(
                status
                    .damage
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    });
}
