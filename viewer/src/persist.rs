//! What the viewer keeps across restarts: its tabs and their filters, the shown tab,
//! the text size, the theme and the inline-logs choice. Written through eframe's
//! storage as plain serde data of our own, so that a value from another version or a
//! damaged file is dropped for the defaults rather than taken half-way.
//!
//! A run filter names runs by their session directory: the backend's session numbers
//! are given in the order it finds runs, which changes from one start to the next.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::filter::{Filter, Since};
use crate::model::Level;
use crate::snapshot::{RunInfo, ViewKind};

/// The storage key; a new format takes a new key, so an old value is never misread.
pub const STORAGE_KEY: &str = "oculus.viewer.v1";

/// Text sizes a stored value is held to, as egui's own zoom keys allow.
const ZOOM_RANGE: std::ops::RangeInclusive<f32> = 0.2..=5.0;

/// Everything kept across restarts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Saved {
    /// Every tab, the "All" tab first.
    pub tabs: Vec<SavedTab>,
    /// Position of the shown tab in `tabs`.
    pub active: usize,
    /// egui's zoom factor: the text size that Ctrl-+ and Ctrl-- change.
    pub zoom_factor: f32,
    pub theme: egui::ThemePreference,
    pub inline_logs: bool,
}

impl Default for Saved {
    fn default() -> Self {
        Self {
            tabs: Vec::new(),
            active: 0,
            zoom_factor: 1.0,
            theme: egui::ThemePreference::System,
            inline_logs: true,
        }
    }
}

/// One tab: what defines it and what the user set on top.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedTab {
    pub name: String,
    pub filter: SavedFilter,
    /// What "Clear filters" returns to.
    pub base: SavedFilter,
    pub traces: bool,
    pub closable: bool,
}

impl Default for SavedTab {
    fn default() -> Self {
        Self {
            name: String::new(),
            filter: SavedFilter::default(),
            base: SavedFilter::default(),
            traces: false,
            closable: true,
        }
    }
}

/// A `Filter`, with its runs by path and its time range as a range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedFilter {
    /// The level's label (`Level::label`); anything else is no threshold.
    pub min_level: String,
    pub services: Vec<String>,
    /// The session directories of the runs shown; empty shows all.
    pub runs: Vec<PathBuf>,
    pub scope: String,
    pub attributes: String,
    pub trace_id: String,
    /// The preset time range's length: it slides, ending now, after a restart too.
    pub since_secs: Option<u64>,
    /// The typed time range and duration bounds, as typed (`-15m` stays relative).
    pub from: String,
    pub to: String,
    pub min_duration: String,
    pub max_duration: String,
    pub search: String,
    pub regex: bool,
}

impl SavedFilter {
    /// `filter` as kept, its runs named by `runs` (by session number).
    pub fn new(filter: &Filter, runs: &[RunInfo]) -> Self {
        Self {
            min_level: filter.min_level.label().to_owned(),
            services: filter.services.clone(),
            runs: filter
                .sessions
                .iter()
                .filter_map(|&session| runs.get(usize::from(session)))
                .map(|run| run.path.clone())
                .collect(),
            scope: filter.scope.clone(),
            attributes: filter.attributes.clone(),
            trace_id: filter.trace_id.clone(),
            since_secs: filter.since.map(|since| since.window.as_secs()),
            from: filter.from.clone(),
            to: filter.to.clone(),
            min_duration: filter.min_duration.clone(),
            max_duration: filter.max_duration.clone(),
            search: filter.search.clone(),
            regex: filter.regex,
        }
    }

    /// The filter again, with its runs' numbers in `runs` as the backend has them now;
    /// `Err` names a run the backend does not have (any more).
    pub fn restore(&self, runs: &[RunInfo]) -> Result<Filter, PathBuf> {
        let sessions = self
            .runs
            .iter()
            .map(|path| {
                runs.iter()
                    .position(|run| run.path == *path)
                    .and_then(|at| u16::try_from(at).ok())
                    .ok_or_else(|| path.clone())
            })
            .collect::<Result<Vec<u16>, PathBuf>>()?;
        Ok(Filter {
            min_level: Level::ALL
                .into_iter()
                .find(|level| level.label() == self.min_level)
                .unwrap_or_default(),
            services: self.services.clone(),
            sessions,
            scope: self.scope.clone(),
            attributes: self.attributes.clone(),
            trace_id: self.trace_id.clone(),
            since: self.since_secs.map(|secs| Since {
                window: Duration::from_secs(secs),
            }),
            from: self.from.clone(),
            to: self.to.clone(),
            min_duration: self.min_duration.clone(),
            max_duration: self.max_duration.clone(),
            search: self.search.clone(),
            regex: self.regex,
        })
    }
}

impl SavedTab {
    pub fn view(&self) -> ViewKind {
        if self.traces {
            ViewKind::Traces
        } else {
            ViewKind::Logs
        }
    }
}

impl Saved {
    /// What `storage` holds, or `None` when it holds nothing this version can read.
    pub fn load(storage: &dyn eframe::Storage) -> Option<Self> {
        let mut saved: Self = eframe::get_value(storage, STORAGE_KEY)?;
        if !saved.zoom_factor.is_finite() || !ZOOM_RANGE.contains(&saved.zoom_factor) {
            saved.zoom_factor = 1.0;
        }
        Some(saved)
    }

    pub fn store(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, self);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::{STORAGE_KEY, Saved, SavedFilter, SavedTab};
    use crate::filter::{Filter, Since};
    use crate::model::Level;
    use crate::snapshot::RunInfo;

    #[derive(Default)]
    struct Memory(HashMap<String, String>);

    impl eframe::Storage for Memory {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.to_owned(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }

    fn run(name: &str) -> RunInfo {
        RunInfo {
            name: name.to_owned(),
            path: PathBuf::from("/data/sessions").join(name),
            live: false,
            first_unix_nano: None,
            last_unix_nano: None,
            services: Vec::new(),
            logs: 0,
            spans: 0,
            metric_points: 0,
            forwarding: Vec::new(),
        }
    }

    #[test]
    fn a_filter_comes_back_with_its_runs_renumbered_and_its_ranges() {
        let filter = Filter {
            min_level: Level::Warn,
            services: vec!["checkout".to_owned()],
            sessions: vec![1],
            scope: "db".to_owned(),
            attributes: "order.id~4".to_owned(),
            trace_id: "0123456789abcdef".to_owned(),
            since: Some(Since {
                window: Duration::from_secs(300),
            }),
            from: "-15m".to_owned(),
            to: "2026-11-30T22:05:00Z".to_owned(),
            min_duration: "250ms".to_owned(),
            max_duration: "2s".to_owned(),
            search: "slow|late".to_owned(),
            regex: true,
        };
        let before = [run("a"), run("b")];
        let saved = SavedFilter::new(&filter, &before);
        assert_eq!(saved.runs, vec![PathBuf::from("/data/sessions/b")]);
        // After a restart the backend finds a new run first: "b" is number 2 now.
        let after = [run("new"), run("a"), run("b")];
        assert_eq!(
            saved.restore(&after),
            Ok(Filter {
                sessions: vec![2],
                ..filter
            })
        );
        assert_eq!(
            saved.restore(&[run("a")]),
            Err(PathBuf::from("/data/sessions/b")),
            "a run that is gone is named, not guessed"
        );
    }

    #[test]
    fn what_was_stored_loads_and_anything_else_is_none() {
        let saved = Saved {
            tabs: vec![SavedTab {
                name: "All".to_owned(),
                closable: false,
                ..SavedTab::default()
            }],
            active: 0,
            zoom_factor: 1.5,
            theme: egui::ThemePreference::Light,
            inline_logs: false,
        };
        let mut storage = Memory::default();
        saved.store(&mut storage);
        assert_eq!(Saved::load(&storage), Some(saved));

        for damaged in ["(tabs: [(name: ", "42", "\u{0}\u{1}garbage"] {
            storage.0.insert(STORAGE_KEY.to_owned(), damaged.to_owned());
            assert_eq!(Saved::load(&storage), None, "{damaged:?}");
        }
        // An older or newer version's fields are ignored, missing ones take defaults,
        // and a text size no one could read is reset.
        storage.0.insert(
            STORAGE_KEY.to_owned(),
            "(zoom_factor: 1000.0, colour: \"mauve\")".to_owned(),
        );
        assert_eq!(Saved::load(&storage), Some(Saved::default()));
        assert_eq!(Saved::load(&Memory::default()), None);
    }
}
