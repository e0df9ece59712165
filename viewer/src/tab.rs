//! The backend's state of one tab: its filter, the matches found so far, the rows its
//! views show and the trace it has open.

use crate::filter::{
    CompiledFilter, Filter, LogMatches, SLIDE_INTERVAL, SpanMatches, step_logs, step_spans,
};
use crate::histogram::{Counted, HistogramPass};
use crate::model::{Index, TraceId};
use crate::snapshot::{Item, Located, RecordRef, Selection, TraceSort, ViewKind};
use crate::trace_order::TraceOrder;

/// Rows (log records or traces) a list that follows the newest records looks for
/// among them before it looks at the oldest: a few screens.
const ROWS_WANTED_FIRST: usize = 1_000;

/// The filter state of one tab.
pub(crate) struct Tab {
    pub filter: Filter,
    pub compiled: CompiledFilter,
    /// The time `compiled` read the filter's times against, in Unix nanoseconds.
    pub compiled_at_unix_nano: u64,
    pub logs: LogMatches,
    pub spans: SpanMatches,
    /// The trace list's rows, in the tab's sort order.
    pub order: TraceOrder,
    /// A sliding filter's pass over again against a later time; it takes over once it
    /// has seen every record, so the rows never empty while it runs.
    pub rerun: Option<Box<Rerun>>,
    /// Per view, by `ViewKind as usize`.
    pub viewports: [Viewport; 2],
    /// The view shown, whose filter steps first (`next_step`).
    pub view: ViewKind,
    pub trace: Option<(TraceId, Option<RecordRef>)>,
    /// The UI's `ShowTab` version of `filter`.
    pub version: u64,
    /// Per view, by `ViewKind as usize`: records per time bucket of its matches.
    pub histograms: [HistogramPass; 2],
}

fn new_histograms() -> [HistogramPass; 2] {
    [
        HistogramPass::new(Counted::Logs),
        HistogramPass::new(Counted::Spans),
    ]
}

/// A filter's pass against a later time, next to the one whose rows are shown.
pub(crate) struct Rerun {
    compiled: CompiledFilter,
    at_unix_nano: u64,
    logs: LogMatches,
    spans: SpanMatches,
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
        Self::at(filter, crate::time::now_unix_nano())
    }

    /// A tab whose filter reads its times against `now_unix_nano`.
    pub fn at(filter: Filter, now_unix_nano: u64) -> Self {
        Self {
            compiled: CompiledFilter::at(&filter, now_unix_nano),
            compiled_at_unix_nano: now_unix_nano,
            filter,
            // Its log list is shown and follows the newest records, which its pass then
            // examines first.
            logs: LogMatches::newest_first(ROWS_WANTED_FIRST),
            spans: SpanMatches::default(),
            order: TraceOrder::default(),
            rerun: None,
            viewports: [Viewport {
                follow: true,
                rows: 50,
                ..Viewport::default()
            }; 2],
            view: ViewKind::Logs,
            trace: None,
            version: 0,
            histograms: new_histograms(),
        }
    }

    /// Starts the filter over when it changed; the viewports and the open trace stay.
    pub fn set_filter(&mut self, filter: Filter, version: u64) {
        self.version = version;
        if filter != self.filter {
            let viewports = self.viewports;
            let view = self.view;
            let trace = self.trace.take();
            let sort = self.order.sort();
            *self = Self::new(filter);
            self.order = TraceOrder::new(sort);
            self.viewports = viewports;
            // The shown list, if it follows the newest, shows them first; the other is
            // filtered from the oldest, which costs less (a newest-first trace list is
            // sorted once its two parts meet).
            let follows = viewports[view as usize].follow;
            self.logs = match view {
                ViewKind::Logs if follows => LogMatches::newest_first(ROWS_WANTED_FIRST),
                _ => LogMatches::default(),
            };
            self.spans = match view {
                ViewKind::Traces if follows => SpanMatches::newest_first(ROWS_WANTED_FIRST),
                _ => SpanMatches::default(),
            };
            self.view = view;
            self.trace = trace;
            self.version = version;
        }
    }

    /// Whether a view's filter has seen every record of the index.
    pub fn is_complete(&self, index: &Index, view: ViewKind) -> bool {
        match view {
            ViewKind::Logs => self.logs.is_complete(index),
            ViewKind::Traces => self.spans.is_complete(index),
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

    /// Whether a step is due: the filter's pass, or a sliding filter's rerun.
    pub fn has_work(&self, index: &Index) -> bool {
        self.next_step(index).is_some() || self.rerun.is_some() || self.histogram_due(index)
    }

    /// Whether the shown view's histogram has rows to count.
    fn histogram_due(&self, index: &Index) -> bool {
        self.histograms[self.view as usize].has_work(index, &self.logs, &self.spans)
    }

    /// Advances the pass by `max` records of one view, the shown view's first; once
    /// it is complete, the rerun, which takes over when it is complete too.
    pub fn step(&mut self, index: &Index, max: usize) {
        // The shown view's histogram counts once its filter is through.
        if self.is_complete(index, self.view) && self.histogram_due(index) {
            let histogram = &mut self.histograms[self.view as usize];
            histogram.step(index, &self.compiled, &self.logs, &self.spans, max);
            return;
        }
        match self.next_step(index) {
            Some(ViewKind::Logs) => step_logs(index, &mut self.compiled, &mut self.logs, max),
            Some(ViewKind::Traces) => step_spans(index, &mut self.compiled, &mut self.spans, max),
            None => self.step_rerun(index, max),
        }
    }

    fn step_rerun(&mut self, index: &Index, max: usize) {
        let Some(rerun) = &mut self.rerun else {
            return;
        };
        if !rerun.logs.is_complete(index) {
            step_logs(index, &mut rerun.compiled, &mut rerun.logs, max);
        } else if !rerun.spans.is_complete(index) {
            step_spans(index, &mut rerun.compiled, &mut rerun.spans, max);
        }
        if rerun.logs.is_complete(index) && rerun.spans.is_complete(index) {
            let Some(rerun) = self.rerun.take() else {
                return;
            };
            self.compiled = rerun.compiled;
            self.compiled_at_unix_nano = rerun.at_unix_nano;
            self.logs = rerun.logs;
            self.spans = rerun.spans;
            self.order = TraceOrder::new(self.order.sort());
            // Counted again; what they show stays until the new counts are complete.
            self.histograms.iter_mut().for_each(HistogramPass::restart);
        }
    }

    /// Moves a sliding filter on to `now_unix_nano`, once per `SLIDE_INTERVAL`: its
    /// pass runs again beside the shown one (not while an earlier rerun still runs).
    pub fn slide(&mut self, now_unix_nano: u64) {
        let due = now_unix_nano.saturating_sub(self.compiled_at_unix_nano)
            >= SLIDE_INTERVAL.as_nanos() as u64;
        if !self.filter.slides() || !due || self.rerun.is_some() {
            return;
        }
        self.rerun = Some(Box::new(Rerun {
            compiled: CompiledFilter::at(&self.filter, now_unix_nano),
            at_unix_nano: now_unix_nano,
            logs: LogMatches::default(),
            spans: SpanMatches::default(),
        }));
    }

    /// Sets the trace list's order.
    pub fn set_sort(&mut self, sort: TraceSort) {
        self.order.set_sort(sort);
    }

    /// Brings the trace list's order up to date with the index.
    pub fn update_order(&mut self, index: &Index) {
        self.order.update(index, &self.spans, &self.compiled);
    }

    /// Rows in a view's list: log records, or traces.
    pub fn rows(&self, view: ViewKind) -> usize {
        match view {
            ViewKind::Logs => self.logs.len(),
            ViewKind::Traces => self.order.len(),
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
                let trace = self.order.trace_at(row)?;
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
                let listed = index.trace_by_id(trace).and_then(|t| self.order.row_of(t));
                match listed {
                    Some(row) => Ok(row),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::filter::Since;
    use crate::model::{BlockLoc, PreparedBlock, PreparedRecord, PreparedScope};
    use crate::snapshot::SortKey;

    const SECOND: u64 = 1_000_000_000;

    /// An index of one block: a log record at each of `log_times`, and a span per
    /// `(trace id, start, end)`.
    fn index(log_times: &[u64], spans: &[(u128, u64, u64)]) -> Index {
        let record = |time, end, trace_id| PreparedRecord {
            time,
            end,
            trace_id,
            span_id: 1,
            parent_span_id: 1,
            ..PreparedRecord::default()
        };
        let block = PreparedBlock {
            strings: vec![String::new()],
            scopes: vec![PreparedScope {
                service: "svc".to_owned(),
                ..PreparedScope::default()
            }],
            logs: log_times.iter().map(|&t| record(t, 0, 0)).collect(),
            spans: spans
                .iter()
                .map(|&(id, start, end)| record(start, end, id))
                .collect(),
            ..PreparedBlock::default()
        };
        let mut index = Index::default();
        let loc = BlockLoc {
            segment: 0,
            offset: 0,
            frame_bytes: 0,
        };
        index.add_prepared(&block, loc, 0);
        index
    }

    fn finish(tab: &mut Tab, index: &Index) {
        while tab.has_work(index) {
            tab.step(index, 3);
        }
    }

    fn log_rows(tab: &Tab) -> Vec<u32> {
        (0..tab.logs.len())
            .filter_map(|row| tab.logs.get(row))
            .collect()
    }

    #[test]
    fn a_sliding_window_moves_on_each_second_and_keeps_its_rows_until_the_rerun_is_done() {
        let times: Vec<u64> = (1..=10).map(|s| s * SECOND).collect();
        let index = index(&times, &[]);
        let filter = Filter {
            since: Some(Since {
                window: Duration::from_secs(5),
            }),
            ..Filter::default()
        };
        let mut tab = Tab::at(filter, 10 * SECOND);
        finish(&mut tab, &index);
        // Records of the last 5 s as of 10 s: those at 5 s to 10 s.
        assert_eq!(log_rows(&tab), [4, 5, 6, 7, 8, 9]);
        // Not yet a second later: nothing to do.
        tab.slide(10 * SECOND + SECOND / 2);
        assert!(!tab.has_work(&index));
        tab.slide(12 * SECOND);
        assert!(tab.has_work(&index));
        // While the rerun runs, the rows shown are the earlier pass's.
        tab.step(&index, 3);
        assert_eq!(log_rows(&tab), [4, 5, 6, 7, 8, 9]);
        finish(&mut tab, &index);
        assert_eq!(log_rows(&tab), [6, 7, 8, 9]);
        assert_eq!(tab.compiled_at_unix_nano, 12 * SECOND);
    }

    #[test]
    fn a_typed_range_moves_only_when_it_is_relative_to_now() {
        let times: Vec<u64> = (1..=10).map(|s| s * SECOND).collect();
        let index = index(&times, &[]);
        let at = |from: &str, now: u64| {
            let filter = Filter {
                from: from.to_owned(),
                to: "1970-01-01T00:00:09Z".to_owned(),
                ..Filter::default()
            };
            let mut tab = Tab::at(filter, now);
            finish(&mut tab, &index);
            tab.slide(now + 2 * SECOND);
            let slid = tab.rerun.is_some();
            finish(&mut tab, &index);
            (log_rows(&tab), slid)
        };
        // From 3 s (inclusive) to 9 s (exclusive), whatever the time.
        assert_eq!(
            at("1970-01-01T00:00:03Z", 20 * SECOND),
            ([2, 3, 4, 5, 6, 7].to_vec(), false)
        );
        // From 4 s before now: 6 s at first, then 8 s once the clock moved on by 2 s.
        assert_eq!(at("-4s", 10 * SECOND), ([7].to_vec(), true));
    }

    #[test]
    fn a_new_sort_keeps_the_selection_on_its_trace() {
        // Trace 1 starts first and lasts longest; trace 3 starts last.
        let index = index(
            &[],
            &[
                (1, SECOND, 9 * SECOND),
                (2, 2 * SECOND, 3 * SECOND),
                (3, 3 * SECOND, 5 * SECOND),
            ],
        );
        let mut tab = Tab::at(Filter::default(), 10 * SECOND);
        finish(&mut tab, &index);
        let ids = |tab: &Tab| -> Vec<Item> {
            (0..tab.rows(ViewKind::Traces))
                .filter_map(|row| tab.item_at(&index, ViewKind::Traces, row))
                .collect()
        };
        tab.update_order(&index);
        // The newest first by default.
        assert_eq!(ids(&tab), [Item::Trace(3), Item::Trace(2), Item::Trace(1)]);
        let selected = Selection::of(1, Item::Trace(2));
        for (key, descending, expected_row) in [
            (SortKey::Duration, true, 2),
            (SortKey::Duration, false, 0),
            (SortKey::Start, false, 1),
            (SortKey::Arrival, true, 1),
        ] {
            tab.set_sort(TraceSort { key, descending });
            tab.update_order(&index);
            let located = tab.locate(&index, ViewKind::Traces, selected);
            assert_eq!(
                located.and_then(|l| l.found),
                Some((expected_row, Item::Trace(2))),
                "{key:?} {descending}: {:?}",
                ids(&tab)
            );
            assert!(!located.is_some_and(|l| l.left));
        }
    }
}
