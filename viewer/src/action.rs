//! What the drawing asks of the app: the views return these and the app applies them
//! after the frame, so drawing never changes the app's state itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{Level, TraceId};
use crate::snapshot::{RecordRef, SourceRef, ViewKind};

/// One thing the user asked for with the mouse.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Show the tab at this position.
    ShowTab(usize),
    /// Close the tab at this position (the "All" tab stays).
    CloseTab(usize),
    /// Open (or show) the tab of a run, by session number.
    OpenSessionTab(u16),
    /// Open a data directory, a run or a segment file in a tab of its own.
    OpenPath(PathBuf),
    ToggleHelp,
    CloseHelp,
    /// Show the logs or the traces of the shown tab.
    ShowView(ViewKind),
    SetMinLevel(Level),
    /// Show or hide a service in the shown tab.
    ShowService {
        service: Arc<str>,
        shown: bool,
    },
    AllServices,
    /// Show only records of the last `Duration`, or of all time.
    SetSince(Option<Duration>),
    /// Back to what defines the tab.
    ClearFilters,
    /// Select a row of the log table and open its detail.
    SelectLog(usize),
    /// Select a row of the trace list and open its trace.
    SelectTrace {
        row: usize,
        trace: TraceId,
    },
    /// Select a row of the waterfall and open its detail.
    SelectWaterfallRow {
        row: usize,
        record: RecordRef,
    },
    /// Open a trace in the shown tab, focused on a record of it.
    OpenTrace {
        trace: TraceId,
        focus: Option<RecordRef>,
    },
    /// Back from the waterfall to the trace list.
    CloseTrace,
    CloseDetail,
    /// Open a source location in the editor.
    Jump(SourceRef),
    SetInlineLogs(bool),
    /// Zoom the waterfall by this factor (below 1 zooms in).
    Zoom(f64),
    ResetZoom,
    /// Put this text on the clipboard.
    Copy(String),
    /// Put the open trace, as a Markdown outline, on the clipboard.
    CopyTraceMarkdown,
    /// Put the whole detail pane, as text, on the clipboard.
    CopyDetail,
}
