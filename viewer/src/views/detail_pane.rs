//! The detail pane: everything about the selected record, section by section.

use egui::{Align, CursorIcon, Layout, RichText, Sense, Ui, Vec2};

use super::screen::Screen;
use super::style::ROW_HEIGHT;
use super::value_menu::{Opens, value_menu};
use crate::action::Action;
use crate::critical_path::Interval;
use crate::model::{span_hex, trace_hex};
use crate::snapshot::{Detail, DetailRow, RecordRef, ValueKind};
use crate::time::format_duration;

pub fn detail_pane(ui: &mut Ui, screen: &Screen<'_>, actions: &mut Vec<Action>) {
    let Some(detail) = &screen.snapshot.detail else {
        ui.weak("loading...");
        return;
    };
    draw_detail(ui, detail, screen, actions);
}

fn draw_detail(ui: &mut Ui, detail: &Detail, screen: &Screen<'_>, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        ui.heading(match detail.record {
            RecordRef::Log(_) => "Log",
            RecordRef::Span(_) => "Span",
        });
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui.button("Close").on_hover_text("close (Esc)").clicked() {
                actions.push(Action::CloseDetail);
            }
        });
    });
    let title = clickable(ui, egui::Label::new(RichText::new(&detail.title).strong()));
    value_menu(
        &title,
        &ValueKind::Text,
        &detail.title,
        Opens::OnAnyClick,
        actions,
    );
    ui.horizontal_wrapped(|ui| {
        if detail.trace_id != 0 && ui.button("Open trace").clicked() {
            actions.push(Action::OpenTrace {
                trace: detail.trace_id,
                focus: Some(detail.record),
            });
        }
        if let Some(source) = &detail.source
            && ui
                .button("Jump to source (o)")
                .on_hover_text(format!("{}:{}", source.file, source.line))
                .clicked()
        {
            actions.push(Action::Jump(source.clone()));
        }
        if detail.trace_id != 0 && ui.button("Copy trace id").clicked() {
            actions.push(Action::Copy(trace_hex(detail.trace_id)));
        }
        if detail.span_id != 0 && ui.button("Copy span id").clicked() {
            actions.push(Action::Copy(span_hex(detail.span_id)));
        }
        if ui.button("Copy all").clicked() {
            actions.push(Action::CopyDetail);
        }
    });
    span_times(ui, detail, screen);
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink(false)
        .show(ui, |ui| {
            for (s, section) in detail.sections.iter().enumerate() {
                egui::CollapsingHeader::new(&section.title)
                    .default_open(true)
                    .id_salt(("detail", s))
                    .show(ui, |ui| {
                        if section.rows.is_empty() {
                            ui.weak("none");
                        }
                        // Key, copy button, then the value in all the width left. The
                        // keys get the width of the longest, up to 45% of the pane, so
                        // widening the pane shows long keys whole.
                        let key_width = key_column_width(ui, &section.rows);
                        for row in &section.rows {
                            ui.horizontal_top(|ui| {
                                ui.allocate_ui_with_layout(
                                    Vec2::new(key_width, ROW_HEIGHT),
                                    Layout::top_down(Align::Min),
                                    |ui| {
                                        ui.set_min_width(key_width);
                                        ui.add(
                                            egui::Label::new(
                                                RichText::new(&row.key).monospace().weak(),
                                            )
                                            .truncate(),
                                        );
                                    },
                                );
                                if ui
                                    .small_button("copy")
                                    .on_hover_text("copy the value")
                                    .clicked()
                                {
                                    actions.push(Action::Copy(row.value.clone()));
                                }
                                if let Some(trace) = row.opens
                                    && ui
                                        .small_button("open")
                                        .on_hover_text("open this trace")
                                        .clicked()
                                {
                                    actions.push(Action::OpenTrace { trace, focus: None });
                                }
                                let value = clickable(
                                    ui,
                                    egui::Label::new(RichText::new(&row.value).monospace()).wrap(),
                                );
                                value_menu(
                                    &value,
                                    &row.kind,
                                    &row.value,
                                    Opens::OnAnyClick,
                                    actions,
                                );
                            });
                        }
                    });
            }
        });
}

/// The span's self time and its time on the critical path, when it is the span
/// selected in the open trace (which holds them).
fn span_times(ui: &mut Ui, detail: &Detail, screen: &Screen<'_>) {
    let RecordRef::Span(index) = detail.record else {
        return;
    };
    let span = screen.waterfall.and_then(|waterfall| {
        let row = screen.tab().waterfall.selected_row()?;
        let position = waterfall.span_at_row(row)?;
        waterfall.view.spans.get(position)
    });
    if let Some(span) = span.filter(|span| span.index == index) {
        let on_path: u64 = span.critical.iter().map(Interval::duration_nano).sum();
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("self time").monospace().weak());
            ui.monospace(format_duration(span.self_nano));
            ui.separator();
            ui.label(RichText::new("on critical path").monospace().weak());
            ui.monospace(format_duration(on_path));
        });
    }
}

/// A value that opens its menu when clicked.
fn clickable(ui: &mut Ui, label: egui::Label) -> egui::Response {
    ui.add(label.selectable(false).sense(Sense::click()))
        .on_hover_cursor(CursorIcon::PointingHand)
}

/// The width of a section's key column: its longest key, within 130 points and 45% of
/// the pane (a key cut at that is whole on hover).
fn key_column_width(ui: &Ui, rows: &[DetailRow]) -> f32 {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let longest = ui.fonts_mut(|fonts| {
        rows.iter()
            .map(|row| {
                fonts
                    .layout_no_wrap(row.key.clone(), font.clone(), egui::Color32::WHITE)
                    .size()
                    .x
            })
            .fold(0.0, f32::max)
    });
    let most = (ui.available_width() * 0.45).max(130.0);
    (longest + 4.0).clamp(130.0, most)
}
