//! The file browser: a directory's entries, as the backend listed them, to pick a
//! data directory, a run or a segment file outside the data directory.

use egui::Vec2;

use super::screen::Browser;
use crate::action::Action;
use crate::snapshot::Listing;

pub fn browser(
    ctx: &egui::Context,
    browser: &Browser,
    listing: Option<&Listing>,
    actions: &mut Vec<Action>,
) {
    let mut open = true;
    egui::Window::new("Open a path")
        .open(&mut open)
        .collapsible(false)
        .default_size(Vec2::new(520.0, 420.0))
        .anchor(egui::Align2::CENTER_CENTER, Vec2::ZERO)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                if let Some(parent) = browser.dir.parent()
                    && ui.button("Up").clicked()
                {
                    actions.push(Action::Browse(parent.to_path_buf()));
                }
                ui.monospace(browser.dir.display().to_string());
            });
            ui.horizontal(|ui| {
                if ui.button("Open this directory").clicked() {
                    actions.push(Action::OpenPath(browser.dir.clone()));
                }
                if ui.button("Cancel").clicked() {
                    actions.push(Action::CloseBrowser);
                }
            });
            ui.separator();
            // Until the answer to this request comes, the last listing is another
            // directory's.
            let Some(listing) = listing.filter(|l| l.request == browser.request) else {
                ui.label("reading…");
                return;
            };
            if let Some(error) = &listing.error {
                ui.label(error);
                return;
            }
            if listing.entries.is_empty() {
                ui.label("(empty)");
            }
            egui::ScrollArea::vertical().show(ui, |ui| {
                for entry in &listing.entries {
                    let path = listing.dir.join(&entry.name);
                    // A directory opens in the browser; a file is chosen.
                    if entry.is_dir {
                        if ui.button(format!("{}/", entry.name)).clicked() {
                            actions.push(Action::Browse(path));
                        }
                    } else if ui.button(&entry.name).clicked() {
                        actions.push(Action::OpenPath(path));
                    }
                }
                if listing.left_out > 0 {
                    ui.label(format!("and {} more", listing.left_out));
                }
            });
        });
    if !open {
        actions.push(Action::CloseBrowser);
    }
}
