//! The menu of a value the user clicks: filter the tab to it, leave it out, copy it.

use egui::{Popup, Response, SetOpenCommand};

use crate::action::Action;
use crate::snapshot::ValueKind;

/// When a value's menu opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opens {
    /// On a click or a right-click (a value that does nothing else when clicked).
    OnAnyClick,
    /// On a right-click only: a click selects the row the value is in.
    OnRightClick,
}

/// Shows the menu of `value`, drawn as `response`, when it is clicked as `opens` says.
pub fn value_menu(
    response: &Response,
    kind: &ValueKind,
    value: &str,
    opens: Opens,
    actions: &mut Vec<Action>,
) {
    let open = response.secondary_clicked() || (opens == Opens::OnAnyClick && response.clicked());
    let set = if open {
        Some(SetOpenCommand::Bool(true))
    } else if response.clicked() {
        Some(SetOpenCommand::Bool(false))
    } else {
        None
    };
    Popup::context_menu(response).open_memory(set).show(|ui| {
        let filter = |exclude| Action::FilterByValue {
            kind: kind.clone(),
            value: value.to_owned(),
            exclude,
        };
        if kind.filters() && ui.button("Filter to this").clicked() {
            actions.push(filter(false));
            ui.close();
        }
        if kind.excludes() && ui.button("Exclude this").clicked() {
            actions.push(filter(true));
            ui.close();
        }
        if ui.button("Copy value").clicked() {
            actions.push(Action::Copy(value.to_owned()));
            ui.close();
        }
    });
}
