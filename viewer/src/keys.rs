//! Vim-style keys: turns the key presses of a frame into the `Action`s they ask for, as
//! the views turn clicks into them.

use egui::{Key, Modifiers};

use crate::action::{Action, Step};
use crate::snapshot::Analysis;

/// How far `h` and `l` move the waterfall's window, as a share of its width.
const PAN_SHARE: f64 = 0.2;

/// What is kept between key presses: the first key of a two-key binding.
#[derive(Debug, Default)]
pub struct Keys {
    /// A `g` was pressed, waiting for the second key of `gg`, `gt` or `gT`.
    pending_g: bool,
}

impl Keys {
    /// The actions the keys pressed in this frame ask for, in order; none while a text
    /// field has the focus (the field takes them, and leaves on Esc).
    pub fn actions(&mut self, ctx: &egui::Context) -> Vec<Action> {
        if ctx.memory(|m| m.focused().is_some()) {
            return Vec::new();
        }
        let events = ctx.input(|i| i.events.clone());
        self.frame_actions(&events)
    }

    /// Esc leaves a field that is still focused once the frame was drawn: one that
    /// does not leave on Esc itself. Taken after the drawing, so that what was typed
    /// before the Esc in the same frame reaches the field first.
    pub fn leave_field_on_escape(ctx: &egui::Context) {
        if ctx.input(|i| i.key_pressed(Key::Escape)) && ctx.memory(|m| m.focused().is_some()) {
            ctx.memory_mut(|m| m.stop_text_input());
        }
    }

    /// The actions of a frame's events. What is typed after `/` in the same frame
    /// (the search field has no focus yet) goes into the search, not to commands.
    fn frame_actions(&mut self, events: &[egui::Event]) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut typed: Option<String> = None;
        for event in events {
            match event {
                egui::Event::Text(text) => {
                    for c in text.chars() {
                        if let Some(typed) = &mut typed {
                            typed.push(c);
                            continue;
                        }
                        match self.char_action(c) {
                            Some(Action::FocusSearch) => {
                                actions.push(Action::FocusSearch);
                                typed = Some(String::new());
                            }
                            Some(action) => actions.push(action),
                            None => {}
                        }
                    }
                }
                egui::Event::Key {
                    key,
                    pressed: true,
                    modifiers,
                    ..
                } if typed.is_none() => actions.extend(key_action(*key, *modifiers)),
                egui::Event::Paste(text) if typed.is_none() => {
                    actions.push(Action::Paste(text.clone()));
                }
                _ => {}
            }
        }
        if let Some(typed) = typed.filter(|typed| !typed.is_empty()) {
            actions.push(Action::TypeInSearch(typed));
        }
        actions
    }

    /// A typed character's action; the first `g` of a pair waits for the second key.
    fn char_action(&mut self, c: char) -> Option<Action> {
        if std::mem::take(&mut self.pending_g) {
            return match c {
                'g' => Some(Action::SelectFirst),
                't' => Some(Action::NextTab),
                'T' => Some(Action::PreviousTab),
                _ => None,
            };
        }
        let action = match c {
            'j' => Action::MoveSelection(Step::Rows(1)),
            'k' => Action::MoveSelection(Step::Rows(-1)),
            'g' => {
                self.pending_g = true;
                return None;
            }
            'G' => Action::FollowNewest,
            'x' => Action::ClearTimeRange,
            '/' => Action::FocusSearch,
            'n' => Action::Find {
                forward: true,
                errors_only: false,
            },
            'N' => Action::Find {
                forward: false,
                errors_only: false,
            },
            'e' => Action::Find {
                forward: true,
                errors_only: true,
            },
            'E' => Action::Find {
                forward: false,
                errors_only: true,
            },
            'o' => Action::JumpSelected,
            'y' => Action::YankTraceId,
            'Y' => Action::YankTrace,
            'J' => Action::YankTraceOtlp,
            't' => Action::ToggleView,
            'M' => Action::ShowAnalysis(Some(Analysis::Metrics)),
            'T' => Action::CycleTheme,
            'i' => Action::ToggleInlineLogs,
            'f' => Action::ToggleFollow,
            's' => Action::NextSortKey,
            'S' => Action::ReverseSort,
            '?' => Action::ToggleHelp,
            'O' => Action::ShowAnalysis(Some(crate::snapshot::Analysis::Operations)),
            '+' => Action::Zoom(0.5),
            '-' => Action::Zoom(2.0),
            'z' => Action::ResetZoom,
            'F' => Action::ToggleFlame,
            'h' => Action::Pan(-PAN_SHARE),
            'l' => Action::Pan(PAN_SHARE),
            '1'..='9' => Action::ShowTab(c as usize - '1' as usize),
            '0' => Action::ShowLastTab,
            _ => return None,
        };
        Some(action)
    }
}

/// A pressed key's action; letters come as text, so only the named keys are here.
fn key_action(key: Key, modifiers: Modifiers) -> Option<Action> {
    if modifiers.ctrl || modifiers.command {
        return match key {
            Key::D => Some(Action::MoveSelection(Step::HalfPages(1))),
            Key::U => Some(Action::MoveSelection(Step::HalfPages(-1))),
            _ => None,
        };
    }
    match key {
        Key::Enter => Some(Action::OpenSelected),
        Key::Escape => Some(Action::Back),
        Key::ArrowDown => Some(Action::MoveSelection(Step::Rows(1))),
        Key::ArrowUp => Some(Action::MoveSelection(Step::Rows(-1))),
        Key::PageDown => Some(Action::MoveSelection(Step::Pages(1))),
        Key::PageUp => Some(Action::MoveSelection(Step::Pages(-1))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Action, Keys, Step, key_action};
    use egui::{Key, Modifiers};

    #[track_caller]
    fn check(typed: &str, expected: &[Action]) {
        let mut keys = Keys::default();
        let actions: Vec<Action> = typed.chars().filter_map(|c| keys.char_action(c)).collect();
        assert_eq!(actions, expected, "{typed:?}");
    }

    fn text(text: &str) -> egui::Event {
        egui::Event::Text(text.to_owned())
    }

    #[test]
    fn what_is_typed_after_a_slash_in_the_same_frame_goes_into_the_search() {
        let mut keys = Keys::default();
        let actions = keys.frame_actions(&[text("j"), text("/"), text("sl"), text("ow")]);
        assert_eq!(
            actions,
            [
                Action::MoveSelection(Step::Rows(1)),
                Action::FocusSearch,
                Action::TypeInSearch("slow".to_owned()),
            ]
        );
        // Alone, `/` only gives the field the focus.
        assert_eq!(keys.frame_actions(&[text("/")]), [Action::FocusSearch]);
    }

    #[test]
    fn two_key_bindings_wait_for_their_second_key() {
        check("gg", &[Action::SelectFirst]);
        check("gt", &[Action::NextTab]);
        check("gT", &[Action::PreviousTab]);
        // Any other second key cancels the pair and does nothing itself.
        check("gjj", &[Action::MoveSelection(Step::Rows(1))]);
        check("ggG", &[Action::SelectFirst, Action::FollowNewest]);
        check("3", &[Action::ShowTab(2)]);
    }

    #[test]
    fn waterfall_keys_zoom_pan_and_reset() {
        check("+-", &[Action::Zoom(0.5), Action::Zoom(2.0)]);
        check("hl", &[Action::Pan(-0.2), Action::Pan(0.2)]);
        check("z", &[Action::ResetZoom]);
        check("F", &[Action::ToggleFlame]);
        // `0` stays the last tab; `gl` is no pair, its `l` is dropped with it.
        check("0gl", &[Action::ShowLastTab]);
    }

    #[test]
    fn ctrl_d_and_u_move_by_half_a_page() {
        assert_eq!(
            key_action(Key::D, Modifiers::CTRL),
            Some(Action::MoveSelection(Step::HalfPages(1)))
        );
        assert_eq!(
            key_action(Key::U, Modifiers::COMMAND),
            Some(Action::MoveSelection(Step::HalfPages(-1)))
        );
        assert_eq!(key_action(Key::Enter, Modifiers::CTRL), None);
        assert_eq!(key_action(Key::D, Modifiers::NONE), None);
    }
}
