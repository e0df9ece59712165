//! The backend's state of one tab: its filter, the matches found so far, the rows its
//! views show and the trace it has open.

use crate::filter::{CompiledFilter, Filter, LogMatches, SpanMatches};
use crate::model::{Index, TraceId};
use crate::snapshot::{Item, Located, RecordRef, Selection, ViewKind};

/// Rows a list that follows the newest records looks for among them before it looks at
/// the oldest: a few screens.
const ROWS_WANTED_FIRST: usize = 1_000;

/// The filter state of one tab.
pub(crate) struct Tab {
    pub filter: Filter,
    pub compiled: CompiledFilter,
    pub logs: LogMatches,
    pub spans: SpanMatches,
    /// Per view, by `ViewKind as usize`.
    pub viewports: [Viewport; 2],
    /// The view shown, whose filter steps first (`next_step`).
    pub view: ViewKind,
    pub trace: Option<(TraceId, Option<RecordRef>)>,
    /// The UI's `ShowTab` version of `filter`.
    pub version: u64,
}

/// The rows a view shows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Viewport {
    pub top: usize,
    pub rows: usize,
    /// The newest rows stay in view.
    pub follow: bool,
    /// The view's selection, which each snapshot locates.
    pub selected: Option<Selection>,
}

impl Tab {
    pub fn new(filter: Filter) -> Self {
        Self {
            compiled: CompiledFilter::new(&filter),
            filter,
            // Its list follows the newest records, which its pass then examines first.
            logs: LogMatches::newest_first(ROWS_WANTED_FIRST),
            spans: SpanMatches::default(),
            viewports: [Viewport {
                follow: true,
                rows: 50,
                ..Viewport::default()
            }; 2],
            view: ViewKind::Logs,
            trace: None,
            version: 0,
        }
    }

    /// Starts the filter over when it changed; the viewports and the open trace stay.
    pub fn set_filter(&mut self, filter: Filter, version: u64) {
        self.version = version;
        if filter != self.filter {
            let viewports = self.viewports;
            let view = self.view;
            let trace = self.trace.take();
            *self = Self::new(filter);
            self.viewports = viewports;
            // A list that follows the newest shows them first.
            if !viewports[ViewKind::Logs as usize].follow {
                self.logs = LogMatches::default();
            }
            self.view = view;
            self.trace = trace;
            self.version = version;
        }
    }

    /// Whether a view's filter has seen every record of the index.
    pub fn is_complete(&self, index: &Index, view: ViewKind) -> bool {
        match view {
            ViewKind::Logs => self.logs.is_complete(index),
            ViewKind::Traces => self.spans.scanned == index.spans.len(),
        }
    }

    /// The view whose filter to step next: the shown one first, then the other, so
    /// that what the other view counts (the level buttons count log records) stays
    /// live whichever is shown.
    pub fn next_step(&self, index: &Index) -> Option<ViewKind> {
        let other = match self.view {
            ViewKind::Logs => ViewKind::Traces,
            ViewKind::Traces => ViewKind::Logs,
        };
        [self.view, other]
            .into_iter()
            .find(|&view| !self.is_complete(index, view))
    }

    /// Rows in a view's list: log records, or traces (newest first).
    pub fn rows(&self, view: ViewKind) -> usize {
        match view {
            ViewKind::Logs => self.logs.len(),
            ViewKind::Traces => self.spans.traces.len(),
        }
    }

    /// What a row of a view's list shows.
    pub fn item_at(&self, index: &Index, view: ViewKind, row: usize) -> Option<Item> {
        match view {
            ViewKind::Logs => self
                .logs
                .get(row)
                .map(|log| Item::Record(RecordRef::Log(log))),
            ViewKind::Traces => {
                let traces = &self.spans.traces;
                let trace = *traces.get(traces.len().checked_sub(row + 1)?)?;
                Some(Item::Trace(index.traces[trace as usize].id))
            }
        }
    }

    /// The row of an item in a view's list, or `Err` with the row nearest where it
    /// would be.
    fn row_of(&self, index: &Index, view: ViewKind, item: Item) -> Result<usize, usize> {
        match (view, item) {
            (ViewKind::Logs, Item::Record(RecordRef::Log(log))) => self.logs.find(log),
            (ViewKind::Traces, Item::Trace(trace)) => {
                let listed = index
                    .trace_by_id(trace)
                    .and_then(|t| self.spans.position(t));
                match listed {
                    Some(position) => Ok(self.spans.traces.len() - 1 - position),
                    // No order to place it by: the nearest is what its row shows now.
                    None => Err(usize::MAX),
                }
            }
            _ => Err(usize::MAX),
        }
    }

    /// Whether the filter is past an item's records, so that it would be listed by
    /// now if it passed: a log once its record was examined.
    fn has_passed(&self, view: ViewKind, item: Item) -> bool {
        match (view, item) {
            (ViewKind::Logs, Item::Record(RecordRef::Log(log))) => self.logs.has_examined(log),
            // A trace's spans can be anywhere in the index.
            _ => false,
        }
    }

    /// Where a view's selection is now: at its item's row, or (once the filter has
    /// seen every record, so that the item is surely not coming) the nearest row.
    pub fn locate(&self, index: &Index, view: ViewKind, asked: Selection) -> Option<Located> {
        let total = self.rows(view);
        let complete = self.is_complete(index, view);
        let at = |row: usize| self.item_at(index, view, row).map(|item| (row, item));
        let Some(item) = asked.item else {
            // Known by its row only: name what the row shows.
            return match at(asked.row) {
                Some(found) => Some(Located {
                    asked,
                    found: Some(found),
                    left: false,
                }),
                None if complete => Some(Located {
                    asked,
                    found: total.checked_sub(1).and_then(at),
                    left: false,
                }),
                None => None,
            };
        };
        match self.row_of(index, view, item) {
            Ok(row) => Some(Located {
                asked,
                found: at(row),
                left: false,
            }),
            Err(_) if !(complete || self.has_passed(view, item)) => None,
            Err(nearest) => {
                let nearest = if nearest == usize::MAX {
                    asked.row
                } else {
                    nearest
                };
                Some(Located {
                    asked,
                    found: at(nearest.min(total.saturating_sub(1))),
                    left: true,
                })
            }
        }
    }
}
