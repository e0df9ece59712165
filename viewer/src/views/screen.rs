//! What a frame is drawn from: the app's state and the derived view data, read only,
//! and the few widget states that egui edits in place.

use std::path::PathBuf;

use crate::filter::Filter;
use crate::snapshot::Snapshot;
use crate::tab_ui::{ListState, TabUi};
use crate::view_model::Waterfall;

/// The app as one frame sees it.
#[derive(Clone, Copy, Debug)]
pub struct Screen<'a> {
    pub snapshot: &'a Snapshot,
    pub tabs: &'a [TabUi],
    /// Position of the shown tab in `tabs`.
    pub active: usize,
    /// The open trace with its rows, once the backend has published it.
    pub waterfall: Option<Waterfall<'a>>,
    pub theme: egui::ThemePreference,
    /// The file browser, while it is open; its entries are the snapshot's `listing`.
    pub browser: Option<&'a Browser>,
    pub inline_logs: bool,
    /// The open trace is shown as a flame graph.
    pub flame: bool,
    pub detail_open: bool,
    pub help_open: bool,
    /// Move the keyboard focus to the search field (the `/` key).
    pub focus_search: bool,
    /// The backend thread stopped; what is shown is stale.
    pub backend_gone: bool,
    /// The newest notice, the UI's or the backend's.
    pub notice: Option<&'a str>,
}

impl Screen<'_> {
    pub fn tab(&self) -> &TabUi {
        &self.tabs[self.active]
    }

    /// Whether the snapshot describes the shown tab.
    pub fn snapshot_is_current(&self) -> bool {
        self.snapshot.tab == self.tab().id
    }
}

/// State that egui's widgets edit in place during the frame.
#[derive(Debug)]
pub struct Widgets<'a> {
    /// The shown tab's filter, whose text fields and regex box edit it.
    pub filter: &'a mut Filter,
    /// The shown list's scroll: the wheel, the scrollbar and the rows that fit.
    pub list: &'a mut ListState,
    /// What the user typed in "Open a path".
    pub path_to_open: &'a mut String,
    /// What the user typed in "Save as archive".
    pub archive_path: &'a mut String,
    /// The "Export tab" menu's file, format and compression, as the user set them.
    pub export: &'a mut crate::snapshot::TabExport,
}

/// The file browser's state: the directory shown, and the listing asked for it (the
/// backend reads the directory, and the snapshot's `listing` answers).
#[derive(Clone, Debug)]
pub struct Browser {
    pub dir: PathBuf,
    pub request: u64,
}
