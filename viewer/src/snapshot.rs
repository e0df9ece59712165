//! What crosses between the backend and the UI thread: events one way, snapshots
//! the other. Snapshots are plain data ready to draw; the UI never touches the index.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use oculus_store::{Corruption, StoreError};

pub mod operations_view;

use crate::filter::Filter;
use crate::metrics::{MetricsView, SeriesId};
use crate::model::{Level, TraceId};

/// A tab, named by the UI.
pub type TabId = u64;

/// The two views of a tab.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ViewKind {
    #[default]
    Logs,
    Traces,
}

/// An analysis of a tab's records, shown in place of its lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Analysis {
    Operations,
    Metrics,
}

/// What the trace list is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// The trace's earliest record.
    #[default]
    Start,
    /// From the trace's earliest record to its latest.
    Duration,
    Spans,
    Errors,
    /// When its first span that passes the filter arrived.
    Arrival,
}

impl SortKey {
    /// In the order the sort key (`s`) cycles through them.
    pub const ALL: [SortKey; 5] = [
        SortKey::Start,
        SortKey::Duration,
        SortKey::Spans,
        SortKey::Errors,
        SortKey::Arrival,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Start => "start",
            SortKey::Duration => "duration",
            SortKey::Spans => "spans",
            SortKey::Errors => "errors",
            SortKey::Arrival => "arrival",
        }
    }

    /// The next in `ALL`, after the last the first.
    pub fn next(self) -> SortKey {
        let at = Self::ALL.iter().position(|&k| k == self).unwrap_or(0);
        Self::ALL[(at + 1) % Self::ALL.len()]
    }
}

/// The trace list's order, a tab's own: the backend sorts, the UI draws the rows it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceSort {
    pub key: SortKey,
    /// Largest first: the newest, longest, most spans or errors, last arrived.
    pub descending: bool,
}

impl Default for TraceSort {
    /// The newest trace first.
    fn default() -> Self {
        Self {
            key: SortKey::Start,
            descending: true,
        }
    }
}

impl TraceSort {
    /// What the order is, in words: "duration, longest first".
    pub fn describe(self) -> String {
        let (largest, smallest) = match self.key {
            SortKey::Start | SortKey::Arrival => ("newest first", "oldest first"),
            SortKey::Duration => ("longest first", "shortest first"),
            SortKey::Spans | SortKey::Errors => ("most first", "fewest first"),
        };
        let which = if self.descending { largest } else { smallest };
        format!("by {}, {which}", self.key.label())
    }
}

/// A record, by its place in the backend's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordRef {
    Log(u32),
    Span(u32),
}

/// What a list's selection is: the record or the trace itself, which stays the same
/// while rows move under it (new data, another filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// A log record in the log table, or a span or log in a waterfall.
    Record(RecordRef),
    /// A trace in the trace list.
    Trace(TraceId),
}

/// A list's selection: its item once known, and the row it was last seen at. Rows
/// selected by number (`G`, a page down) are known by their row until the backend
/// names their item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    pub row: usize,
    pub item: Option<Item>,
}

impl Selection {
    pub fn row(row: usize) -> Self {
        Self { row, item: None }
    }

    pub fn of(row: usize, item: Item) -> Self {
        Self {
            row,
            item: Some(item),
        }
    }
}

/// Where the backend found a list's selection in the rows it publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Located {
    /// The selection the UI sent, which this answers.
    pub asked: Selection,
    /// The selection's row now, or the nearest row when its item left the list;
    /// `None` when the list is empty.
    pub found: Option<(usize, Item)>,
    /// The item asked for is not in the list any more.
    pub left: bool,
}

/// A file and line to open in the editor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRef {
    pub file: Arc<str>,
    pub line: u32,
}

/// The UI's requests.
#[derive(Clone, Debug)]
pub enum UiEvent {
    /// The tab shown, with its filter; snapshots made after it carry its `version`.
    ShowTab {
        tab: TabId,
        /// Boxed: a filter is larger than every other event.
        filter: Box<Filter>,
        version: u64,
    },
    CloseTab(TabId),
    /// The rows the UI shows; `follow` keeps the newest in view. The backend says
    /// where `selected` is in each snapshot (`Window::selected`).
    Viewport {
        tab: TabId,
        view: ViewKind,
        top: usize,
        rows: usize,
        follow: bool,
        selected: Option<Selection>,
        /// The tab's trace order (the same whichever view this is).
        sort: TraceSort,
    },
    OpenTrace {
        tab: TabId,
        trace: TraceId,
        focus: Option<RecordRef>,
    },
    CloseTrace {
        tab: TabId,
    },
    /// Load the detail pane for a record (or close it).
    Select(Option<RecordRef>),
    /// Find the next row after (or before) `from` matching the request; `None` starts
    /// from the first (or last) row itself. The answer comes as `Snapshot::found`.
    Find {
        tab: TabId,
        view: ViewKind,
        from: Option<usize>,
        forward: bool,
        errors_only: bool,
        request: u64,
    },
    JumpToSource(SourceRef),
    /// Records were written (from `Arrivals`): read them now.
    Arrived,
    /// Open the source location of a record (a trace: of its root span) in the editor.
    JumpToItem(Item),
    /// Write a trace out as Markdown; the answer comes as `Snapshot::trace_text`.
    TraceMarkdown {
        trace: TraceId,
        request: u64,
    },
    /// Write what a tab shows (its filter applied) to a file; the outcome comes as the
    /// status line's notice.
    ExportTab {
        tab: TabId,
        export: TabExport,
    },
    /// Write a trace's spans and logs out as OTLP JSON Lines; the answer comes as
    /// `Snapshot::trace_text`.
    TraceOtlpJson {
        trace: TraceId,
        request: u64,
    },
    OpenPath(PathBuf),
    /// Write these runs (by session number) into one archive at `target`; progress and
    /// the result come as the status line's notice.
    SaveArchive {
        sessions: Vec<u16>,
        target: PathBuf,
    },
    /// List a directory for the file browser; the answer comes as `Snapshot::listing`.
    ListDir {
        dir: PathBuf,
        request: u64,
    },
    /// The operations view is shown with this table's sort and selection (`None`: it
    /// is not shown); the answer comes as `Snapshot::operations`.
    Operations(Option<Box<operations_view::OperationsRequest>>),
    /// A tab's Metrics view is shown (or no longer), with this series' chart; the
    /// answer comes as `Snapshot::metrics` while it is shown.
    ShowMetrics {
        tab: TabId,
        shown: bool,
        selected: Option<SeriesId>,
    },
}

/// One row of the log table.
#[derive(Clone, Debug)]
pub struct LogRow {
    pub index: u32,
    pub time_unix_nano: u64,
    pub level: Level,
    pub service: Arc<str>,
    pub scope: Arc<str>,
    pub message: String,
    /// Byte ranges of `message` that the search matched.
    pub highlights: Vec<Range<usize>>,
    pub trace_id: TraceId,
    pub span_id: u64,
    pub source: Option<SourceRef>,
}

/// One row of the trace list.
#[derive(Clone, Debug)]
pub struct TraceRow {
    pub trace_id: TraceId,
    pub root_name: String,
    pub service: Arc<str>,
    pub start_unix_nano: u64,
    pub duration_nano: u64,
    pub spans: u32,
    pub errors: u32,
    pub highlights: Vec<Range<usize>>,
}

/// A window of rows out of `total`.
#[derive(Clone, Debug)]
pub struct Window<T> {
    pub total: usize,
    /// Row number of `rows[0]`.
    pub top: usize,
    pub rows: Vec<T>,
    /// Share of the records examined, while a filter is still being applied.
    pub progress: Option<f32>,
    /// Where the list's selection is, once the backend knows.
    pub selected: Option<Located>,
}

impl<T> Default for Window<T> {
    fn default() -> Self {
        Self {
            total: 0,
            top: 0,
            rows: Vec::new(),
            progress: None,
            selected: None,
        }
    }
}

impl<T> Window<T> {
    pub fn row(&self, row: usize) -> Option<&T> {
        row.checked_sub(self.top).and_then(|i| self.rows.get(i))
    }
}

/// A span in the waterfall, in tree order.
#[derive(Clone, Debug)]
pub struct WaterfallSpan {
    pub index: u32,
    pub depth: u16,
    pub name: String,
    pub service: Arc<str>,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub error: bool,
    /// Event times, in Unix nanoseconds.
    pub events: Vec<u64>,
    pub logs: Vec<LogRow>,
    pub highlights: Vec<Range<usize>>,
    pub source: Option<SourceRef>,
    /// Its duration less the time its children cover.
    pub self_nano: u64,
    /// Its parts on the trace's critical path, in time order.
    pub critical: Vec<crate::critical_path::Interval>,
}

/// The trace open in a tab.
#[derive(Clone, Debug)]
pub struct TraceView {
    pub trace_id: TraceId,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub spans: Vec<WaterfallSpan>,
    /// Logs of the trace whose span never arrived.
    pub orphan_logs: Vec<LogRow>,
    /// Spans left out because the trace is too large to draw.
    pub spans_left_out: usize,
    /// Row of the span to bring into view.
    pub focus: Option<usize>,
    /// Its spans by depth (the flame graph) and its minimap.
    pub shape: crate::trace_shape::TraceShape,
}

/// One key and value of the detail pane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetailRow {
    pub key: String,
    pub value: String,
    /// The trace this row names (the record's own, a link's), which the pane offers to open.
    pub opens: Option<TraceId>,
    /// What the value is, for the filter a click on it offers.
    pub kind: ValueKind,
}

/// What a value shown to the user is, for the filter "Filter to this" and "Exclude
/// this" set from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// Nothing filters by it (the index does not hold it): it is only copied.
    Plain,
    /// An attribute of the record or of its resource, by its key: a `key=value` term.
    Attribute(String),
    /// A service's name: the service filter (excluded by a `-service.name=` term).
    Service,
    /// A scope's name: the scope filter.
    Scope,
    TraceId,
    /// A severity, or a span's error status: the level threshold.
    Level(Level),
    /// A message or a span's name: the search.
    Text,
}

impl ValueKind {
    /// Whether "Filter to this" means something for it.
    pub fn filters(&self) -> bool {
        *self != ValueKind::Plain
    }

    /// Whether "Exclude this" means something for it: a negated term says it.
    pub fn excludes(&self) -> bool {
        matches!(self, ValueKind::Attribute(_) | ValueKind::Service)
    }
}

/// A titled list of rows in the detail pane.
#[derive(Clone, Debug, Default)]
pub struct DetailSection {
    pub title: String,
    pub rows: Vec<DetailRow>,
}

/// Everything about one record.
#[derive(Clone, Debug)]
pub struct Detail {
    pub record: RecordRef,
    pub title: String,
    pub trace_id: TraceId,
    pub span_id: u64,
    pub source: Option<SourceRef>,
    pub sections: Vec<DetailSection>,
}

/// One run (a collector session) as the Runs menu shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// The session directory's name.
    pub name: String,
    pub path: PathBuf,
    /// A segment of it may still be written: its collector is running.
    pub live: bool,
    /// Its earliest and latest record times, in Unix nanoseconds, once it has records.
    pub first_unix_nano: Option<u64>,
    pub last_unix_nano: Option<u64>,
    pub services: Vec<Arc<str>>,
    pub logs: u64,
    pub spans: u64,
    pub metric_points: u64,
    /// What its collector forwarded, as it last wrote it; for ended runs only (a
    /// live run's counts are in the status line).
    pub forwarding: Vec<Forwarding>,
}

impl RunInfo {
    /// From its first record to its last.
    pub fn length_nano(&self) -> Option<u64> {
        Some(self.last_unix_nano?.saturating_sub(self.first_unix_nano?))
    }
}

/// A directory's entries, for the file browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub request: u64,
    pub dir: PathBuf,
    /// Directories first, then files, each by name; hidden ones left out.
    pub entries: Vec<ListedEntry>,
    /// Why the directory could not be read.
    pub error: Option<String>,
    /// Entries past the most the browser shows.
    pub left_out: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedEntry {
    pub name: String,
    pub is_dir: bool,
}

/// What the status line shows.
#[derive(Clone, Debug, Default)]
pub struct Status {
    pub logs: usize,
    pub spans: usize,
    pub traces: usize,
    pub metric_points: u64,
    pub records_per_second: f64,
    /// Records arrived within the rate's window (`records_per_second` is above zero).
    pub receiving: bool,
    /// The collector this viewer runs, or where another one is running.
    pub collector: String,
    /// Where the collector this viewer runs takes OTLP, to tell a user with no data
    /// how to send some.
    pub receivers: Option<Receivers>,
    /// Records read and expected while stored segments are being loaded.
    pub loading: Option<Loading>,
    /// Damage found while reading, newest last.
    pub damage: Vec<Damage>,
    /// A short message for the user (an editor jump that failed, say).
    pub notice: Option<String>,
    /// What the collector of a live run forwards, per destination (`serve --forward`).
    pub forwarding: Vec<Forwarding>,
}

/// One `--forward` destination's counts, as its collector last wrote them.
pub type Forwarding = oculus_store::forwarding::DestinationStatus;

/// The addresses of a collector's OTLP receivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receivers {
    pub grpc: std::net::SocketAddr,
    pub http: std::net::SocketAddr,
}

/// How far loading the stored segments has come.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Loading {
    /// Records indexed so far.
    pub records: u64,
    /// Share of the segments' bytes read: their indexes do not count the records of
    /// a segment without one, while every segment has a size.
    pub share: f32,
}

/// Damage found while reading segments, kept typed until the status line draws it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Damage {
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    /// A segment or directory that cannot be read; shared, since an I/O error cannot be
    /// cloned into every snapshot.
    #[error(transparent)]
    Unreadable(Arc<StoreError>),
    #[error("a segment decoder stopped; the load is incomplete")]
    DecoderStopped,
}

impl From<StoreError> for Damage {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Corrupt(corruption) => Self::Corrupt(corruption),
            other => Self::Unreadable(Arc::new(other)),
        }
    }
}

/// The answer to a `UiEvent::Find`: the row found and what it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub request: u64,
    pub found: Option<(usize, Item)>,
}

/// Where and how "Export tab" writes: an OTLP file, as the OpenTelemetry Collector's
/// file exporter writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TabExport {
    pub path: PathBuf,
    /// Length-prefixed protobuf rather than JSON Lines.
    pub protobuf: bool,
    /// One zstd stream.
    pub zstd: bool,
}

/// The answer to a `UiEvent::TraceMarkdown`.
#[derive(Clone, Debug)]
pub struct TraceText {
    pub request: u64,
    pub text: Arc<str>,
}

/// What the UI draws for the shown tab.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The tab this snapshot describes.
    pub tab: TabId,
    /// The `version` of the last `ShowTab`: the rows are those of its filter.
    pub version: u64,
    /// In arrival order.
    pub logs: Window<LogRow>,
    /// In `trace_sort`'s order.
    pub traces: Window<TraceRow>,
    pub trace_sort: TraceSort,
    /// Per level: records that pass everything but the level threshold.
    pub level_counts: [u64; 7],
    /// Shared with the backend, which rebuilds it only when the trace changes.
    pub trace: Option<Arc<TraceView>>,
    /// The shown view's records per time bucket (the strip above its list), shared
    /// with the backend until it counts more.
    pub histogram: Option<Arc<crate::histogram::Histogram>>,
    /// Shared with the backend, which builds it once per selection.
    pub detail: Option<Arc<Detail>>,
    pub services: Vec<Arc<str>>,
    /// The runs, by session number; shared with the backend, which rebuilds the list
    /// only when a run changes.
    pub runs: Arc<[RunInfo]>,
    /// Opened paths and the sessions each holds, for the UI's tabs.
    pub opened: Vec<(PathBuf, Vec<u16>)>,
    /// Why the filter matches nothing, if it is broken.
    pub filter_error: Option<String>,
    pub found: Option<Found>,
    pub trace_text: Option<TraceText>,
    /// The last directory listed for the file browser.
    pub listing: Option<Arc<Listing>>,
    /// The shown tab's Metrics view, while it is shown; shared with the backend, which
    /// rebuilds it only when its points, filter or selection change.
    pub metrics: Option<Arc<MetricsView>>,
    pub status: Status,
    /// The operations table, while it is shown; shared with the backend, which
    /// rebuilds it only when it changed.
    pub operations: Option<Arc<operations_view::OperationsView>>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use oculus_store::CorruptionKind;

    use super::*;

    #[test]
    fn damage_keeps_a_corruption_typed_and_reads_as_the_store_error_did() {
        let corruption =
            Corruption::new(Path::new("s.seg"), 42, CorruptionKind::Decode("bad".into()));
        let error = StoreError::from(corruption.clone());
        let text = error.to_string();
        let damage = Damage::from(error);
        assert!(
            matches!(&damage, Damage::Corrupt(c) if *c == corruption),
            "{damage:?}"
        );
        assert_eq!(damage.to_string(), text);

        let io = StoreError::io(Path::new("s.seg"), std::io::Error::other("gone"));
        let text = io.to_string();
        let damage = Damage::from(io);
        assert!(matches!(damage, Damage::Unreadable(_)), "{damage:?}");
        assert_eq!(damage.to_string(), text);
    }
}
