//! The operations of two tabs side by side: each figure in the shown tab and the
//! baseline with its change, the largest regression first, regressions in red.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::screen::Screen;
use super::style::{ROW_HEIGHT, level_color};
use crate::action::Action;
use crate::compare::{ComparedRow, Comparison};
use crate::model::Level;
use crate::operations::OperationRow;
use crate::operations_ui::OperationsAction;
use crate::time::format_duration;

/// The "Compare with…" picker: the other tabs, or none.
pub fn picker(ui: &mut Ui, screen: &Screen<'_>, actions: &mut Vec<Action>) {
    let tab = screen.tab();
    let chosen = tab
        .operations
        .compare_with
        .and_then(|id| screen.tabs.iter().find(|t| t.id == id))
        .map_or("Compare with…".to_owned(), |t| {
            format!("Compared with {}", t.name)
        });
    ui.menu_button(chosen, |ui| {
        if ui
            .selectable_label(tab.operations.compare_with.is_none(), "no comparison")
            .clicked()
        {
            actions.push(Action::Operations(OperationsAction::CompareWith(None)));
            ui.close();
        }
        for other in screen.tabs.iter().filter(|t| t.id != tab.id) {
            let selected = tab.operations.compare_with == Some(other.id);
            if ui
                .selectable_label(selected, format!("with {}", other.name))
                .clicked()
            {
                actions.push(Action::Operations(OperationsAction::CompareWith(Some(
                    other.id,
                ))));
                ui.close();
            }
        }
    });
}

/// The comparison table.
pub fn comparison(ui: &mut Ui, comparison: &Comparison, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        ui.weak(
            "this tab | the baseline, and the change; ranked by the p95 ratio (or 1 + 10 × \
             the error rate's rise), regressions in red",
        );
        if let Some(progress) = comparison.progress {
            ui.add(egui::ProgressBar::new(progress).desired_width(120.0));
        }
    });
    let titles = [
        "service",
        "operation",
        "count",
        "error rate",
        "p50",
        "p95",
        "p99",
        "change p95",
        "",
    ];
    let mut builder = TableBuilder::new(ui)
        .striped(true)
        .resizable(true)
        .column(Column::initial(110.0).at_least(40.0).clip(true))
        .column(Column::initial(200.0).at_least(80.0).clip(true));
    for _ in 2..titles.len() {
        builder = builder.column(Column::initial(120.0).at_least(40.0));
    }
    builder
        .header(ROW_HEIGHT, |mut header| {
            for title in titles {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, comparison.rows.len(), |mut row| {
                let Some(compared) = comparison.rows.get(row.index()) else {
                    return;
                };
                cells(&mut row, compared, comparison.baseline_tab, actions);
            });
        });
}

fn cells(
    row: &mut egui_extras::TableRow<'_, '_>,
    compared: &ComparedRow,
    baseline_tab: crate::snapshot::TabId,
    actions: &mut Vec<Action>,
) {
    let text = |ui: &Ui, text: String| {
        let text = RichText::new(text);
        if compared.regression {
            text.color(level_color(ui, Level::Error))
        } else {
            text
        }
    };
    row.col(|ui| {
        ui.label(text(ui, compared.key.service.to_string()));
    });
    row.col(|ui| {
        ui.label(text(ui, compared.key.name.to_string()));
    });
    let pair = |figure: &dyn Fn(&OperationRow) -> String| {
        let side = |row: Option<&OperationRow>| row.map_or("–".to_owned(), figure);
        format!(
            "{} | {}",
            side(compared.shown.as_ref()),
            side(compared.baseline.as_ref())
        )
    };
    let columns = [
        pair(&|r| r.count.to_string()),
        pair(&|r| format!("{:.1}%", r.error_rate() * 100.0)),
        pair(&|r| format_duration(r.p50_nano)),
        pair(&|r| format_duration(r.p95_nano)),
        pair(&|r| format_duration(r.p99_nano)),
    ];
    for column in columns {
        row.col(|ui| {
            ui.label(text(ui, column));
        });
    }
    row.col(|ui| {
        let change = compared.change(|r| r.p95_nano as f64);
        let shown = match change {
            Some((absolute, relative)) => {
                let sign = if absolute < 0.0 { "-" } else { "+" };
                let relative = relative.map_or(String::new(), |r| format!(" ({:+.0}%)", r * 100.0));
                format!("{sign}{}{relative}", format_duration(absolute.abs() as u64))
            }
            None if compared.baseline.is_none() => "new".to_owned(),
            None => "gone".to_owned(),
        };
        ui.label(text(ui, shown));
    });
    row.col(|ui| {
        let [shown, baseline] = compared.slowest;
        if ui
            .small_button("Slowest traces")
            .on_hover_text("this tab's slowest trace here, the baseline's in its tab")
            .clicked()
        {
            actions.push(Action::Operations(OperationsAction::SlowestTraces {
                shown,
                baseline,
                baseline_tab,
            }));
        }
    });
}
