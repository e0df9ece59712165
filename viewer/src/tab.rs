//! The backend's state of one tab: its filter, the matches found so far, the rows its
//! views show and the trace it has open.

use crate::filter::{CompiledFilter, Filter, LogMatches, SpanMatches};
use crate::model::{Index, TraceId};
use crate::snapshot::{RecordRef, ViewKind};

/// The filter state of one tab.
pub(crate) struct Tab {
    pub filter: Filter,
    pub compiled: CompiledFilter,
    pub logs: LogMatches,
    pub spans: SpanMatches,
    /// Per view, by `ViewKind as usize`.
    pub viewports: [Viewport; 2],
    /// The view shown: only its records are filtered, the other's when it is shown.
    pub view: ViewKind,
    pub trace: Option<(TraceId, Option<RecordRef>)>,
}

/// The rows a view shows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Viewport {
    pub top: usize,
    pub rows: usize,
    /// The newest rows stay in view.
    pub follow: bool,
}

impl Tab {
    pub fn new(filter: Filter) -> Self {
        Self {
            compiled: CompiledFilter::new(&filter),
            filter,
            logs: LogMatches::default(),
            spans: SpanMatches::default(),
            viewports: [Viewport {
                follow: true,
                rows: 50,
                ..Viewport::default()
            }; 2],
            view: ViewKind::Logs,
            trace: None,
        }
    }

    /// Starts the filter over when it changed; the viewports and the open trace stay.
    pub fn set_filter(&mut self, filter: Filter) {
        if filter != self.filter {
            let viewports = self.viewports;
            let view = self.view;
            let trace = self.trace.take();
            *self = Self::new(filter);
            self.viewports = viewports;
            self.view = view;
            self.trace = trace;
        }
    }

    /// Whether the shown view's filter has seen every record of the index.
    pub fn is_complete(&self, index: &Index) -> bool {
        match self.view {
            ViewKind::Logs => self.logs.scanned == index.logs.len(),
            ViewKind::Traces => self.spans.scanned == index.spans.len(),
        }
    }
}
