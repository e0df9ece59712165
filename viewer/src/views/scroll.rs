//! Lists drawn row by row: how many rows fit, the wheel, the scrollbar and the way back
//! to following the newest row.

use egui::{Sense, Ui, Vec2};

use super::style::{ROW_HEIGHT, SCROLLBAR_WIDTH};
use crate::action::Action;
use crate::tab_ui::ListState;

/// Sizes `list` to the rows that fit in what is left of `ui` and applies the wheel and
/// the scrollbar; returns the area the table goes in.
pub fn scrolled_list(ui: &mut Ui, list: &mut ListState, total: usize) -> egui::Rect {
    let area = ui.available_rect_before_wrap();
    list.visible = table_rows_that_fit(ui, area.height());
    scroll_input(ui, list, total, area);
    list.clamp(total);
    area
}

/// Body rows of a table that fit in `height` under its header; a table row also
/// takes the spacing between items.
fn table_rows_that_fit(ui: &Ui, height: f32) -> usize {
    let pitch = ROW_HEIGHT + ui.spacing().item_spacing.y;
    ((height - pitch - 4.0) / pitch).floor().max(1.0) as usize
}

/// Handles the mouse wheel and the scrollbar for a list drawn row by row, so any
/// number of rows scrolls one row at a time (egui's own scroll offsets are f32).
pub fn scroll_input(ui: &mut Ui, list: &mut ListState, total: usize, area: egui::Rect) {
    let hovered = ui.rect_contains_pointer(area);
    if hovered {
        let delta = ui.input(|i| i.smooth_scroll_delta.y);
        list.scroll_remainder -= delta / ROW_HEIGHT;
        let whole = list.scroll_remainder.trunc();
        if whole != 0.0 {
            list.scroll_remainder -= whole;
            list.scroll(whole as isize, total);
        }
    }
    // The scrollbar: the handle's position is the top row's share of all rows.
    let bar = egui::Rect::from_min_max(
        egui::pos2(area.right() - SCROLLBAR_WIDTH, area.top()),
        area.right_bottom(),
    );
    let response = ui.interact(
        bar,
        ui.scope_id().with("scrollbar"),
        Sense::click_and_drag(),
    );
    let scrollable = total.saturating_sub(list.visible);
    if let Some(pointer) = response.interact_pointer_pos()
        && scrollable > 0
    {
        let share = ((pointer.y - bar.top()) / bar.height()).clamp(0.0, 1.0);
        list.top = (f64::from(share) * scrollable as f64).round() as usize;
        list.follow = list.top >= scrollable;
    }
    let painter = ui.painter();
    painter.rect_filled(bar, 2.0, ui.visuals().extreme_bg_color);
    if total > 0 {
        let handle_height =
            (bar.height() * list.visible as f32 / total as f32).clamp(16.0, bar.height());
        let share = if scrollable == 0 {
            0.0
        } else {
            list.top as f32 / scrollable as f32
        };
        let y = bar.top() + share * (bar.height() - handle_height);
        let handle = egui::Rect::from_min_size(
            egui::pos2(bar.left(), y),
            Vec2::new(SCROLLBAR_WIDTH, handle_height),
        );
        painter.rect_filled(handle, 2.0, ui.visuals().widgets.inactive.bg_fill);
    }
}

/// While the list is paused, offers the way back to following its newest row.
pub fn follow_button(ui: &mut Ui, list: &ListState, total: usize, actions: &mut Vec<Action>) {
    if !list.follow {
        ui.horizontal(|ui| {
            if ui.button("Follow newest (G)").clicked() {
                actions.push(Action::FollowNewest);
            }
            ui.label(format!("paused at row {} of {total}", list.top + 1));
        });
    }
}
