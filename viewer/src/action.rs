//! What the user asks of the app: the views return these for clicks and `keys` for key
//! presses, and the app applies both the same way, so neither changes its state itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::SeriesId;
use crate::model::{Level, TraceId};
use crate::snapshot::{Analysis, RecordRef, SortKey, SourceRef, ValueKind, ViewKind};

/// One thing the user asked for, with the mouse or a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Show the tab at this position.
    ShowTab(usize),
    /// Show the last tab (the keys name only the first nine).
    ShowLastTab,
    /// Close the tab at this position (the "All" tab stays).
    CloseTab(usize),
    /// Open (or show) the tab of a run, by session number.
    OpenSessionTab(u16),
    /// Open a data directory, a run, an archive or a segment file in a tab of its own.
    OpenPath(PathBuf),
    /// Write the runs the shown tab shows into one archive file at this path.
    SaveArchive(PathBuf),
    /// Show this directory's entries in the file browser (opening it if closed).
    Browse(PathBuf),
    CloseBrowser,
    /// The next theme: following the system, light, dark.
    CycleTheme,
    /// Show the next tab, or the first after the last.
    NextTab,
    /// Show the previous tab, or the last before the first.
    PreviousTab,
    ToggleHelp,
    CloseHelp,
    /// Close what is on top: the help, else the detail, else the open trace.
    Back,
    /// Switch the shown tab between its logs and its traces.
    ToggleView,
    /// Show the logs or the traces of the shown tab.
    ShowView(ViewKind),
    /// Show an analysis in place of the lists; the one already shown, or `None`,
    /// shows the lists again.
    ShowAnalysis(Option<Analysis>),
    /// Chart this series in the Metrics view.
    SelectMetricSeries(SeriesId),
    /// Chart a sum's totals (or its rate per second).
    SetMetricTotals(bool),
    SetMinLevel(Level),
    /// Show or hide a service in the shown tab.
    ShowService {
        service: Arc<str>,
        shown: bool,
    },
    AllServices,
    /// Show only records of the last `Duration`, or of all time.
    SetSince(Option<Duration>),
    /// Set the time range to `from` (inclusive) to `to` (exclusive), in Unix
    /// nanoseconds: a stretch dragged across the histogram.
    SetTimeRange {
        from_unix_nano: u64,
        to_unix_nano: u64,
    },
    /// x: clear the time range (from, to and the sliding window).
    ClearTimeRange,
    /// Back to what defines the tab.
    ClearFilters,
    /// Sort the trace list by this key (largest first), or reverse it if it is sorted
    /// by it already: a click on a column's header.
    SortTraces(SortKey),
    /// Sort the trace list by the next key, largest first.
    NextSortKey,
    /// Reverse the trace list's order.
    ReverseSort,
    /// Narrow the shown tab to a value the user clicked ("Filter to this"), or leave
    /// it out ("Exclude this"), in the filter its kind names.
    FilterByValue {
        kind: ValueKind,
        value: String,
        exclude: bool,
    },
    /// Move the selection of the shown list.
    MoveSelection(Step),
    /// Select the first row of the shown list.
    SelectFirst,
    /// Select the newest row of the shown list and keep following it.
    FollowNewest,
    /// Stop or start following the newest row of the shown list.
    ToggleFollow,
    /// Give the search field the focus.
    FocusSearch,
    /// Add text typed in the same frame as `/`, before the field had the focus.
    TypeInSearch(String),
    /// Select the next or previous match (or error) from the selection.
    Find {
        forward: bool,
        errors_only: bool,
    },
    /// Open the selected row: a log's or a span's detail, or a listed trace.
    OpenSelected,
    /// Open the selected row's source location in the editor.
    JumpSelected,
    /// Select a row of the log table (the record it shows) and open its detail.
    SelectLog {
        row: usize,
        log: u32,
    },
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
    ToggleInlineLogs,
    /// Zoom the waterfall by this factor (below 1 zooms in) around its middle.
    Zoom(f64),
    /// Zoom the waterfall by `factor` around the point `at` of its window (a share of
    /// its width), which stays where it is: Ctrl + the wheel under the pointer.
    ZoomAround {
        factor: f64,
        at: f64,
    },
    /// Show this part of the trace in the waterfall, from `from` to `to` (shares of
    /// the trace's duration): a region dragged across.
    ZoomTo {
        from: f64,
        to: f64,
    },
    /// Move the waterfall's window by this share of its width (negative: earlier).
    Pan(f64),
    /// Show the whole trace again.
    ResetZoom,
    /// Centre the waterfall's window on this share of the trace: the minimap.
    PanTo(f64),
    /// Show the open trace as a flame graph, or back as the waterfall.
    ToggleFlame,
    /// Put this text on the clipboard.
    Copy(String),
    /// Put the open trace, as a Markdown outline, on the clipboard.
    CopyTraceMarkdown,
    /// Put the whole detail pane, as text, on the clipboard.
    CopyDetail,
    /// y: put the selected record's (or trace's) trace id on the clipboard.
    YankTraceId,
    /// Y: put the selected trace (or the selected record's) as Markdown on the clipboard.
    YankTrace,
    /// Write what the shown tab shows to an OTLP file (on the backend).
    ExportTab(crate::snapshot::TabExport),
    /// J: put the selected trace's (or the selected record's trace's) spans and logs on
    /// the clipboard as OTLP JSON Lines.
    YankTraceOtlp,
    /// Text pasted while no text field has the focus: a trace id filters by it, any
    /// other text is searched for.
    Paste(String),
    /// A click in the operations view.
    Operations(crate::operations_ui::OperationsAction),
}

/// How far to move a selection; pages are as tall as the log table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Rows(isize),
    HalfPages(isize),
    Pages(isize),
}

impl Step {
    /// The rows this step moves, with `page` rows to a page.
    pub fn rows(self, page: usize) -> isize {
        let page = page as isize;
        match self {
            Step::Rows(rows) => rows,
            Step::HalfPages(halves) => halves * (page / 2).max(1),
            Step::Pages(pages) => pages * page,
        }
    }
}
