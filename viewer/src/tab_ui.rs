//! One tab's UI state: its filter, which view it shows, and each list's scroll and
//! selection (an item, and the row it was last seen at).

use crate::filter::Filter;
use crate::metrics::SeriesId;
use crate::model::TraceId;
use crate::operations_ui::OperationsUi;
use crate::snapshot::{Analysis, Item, Selection, SortKey, TabId, TraceSort, ViewKind};

/// Scroll state of one list.
#[derive(Clone, Copy, Debug)]
pub struct ListState {
    /// First row shown.
    pub top: usize,
    /// Stick to the newest row.
    pub follow: bool,
    pub selected: Option<Selection>,
    /// Rows that fit, as of the last frame.
    pub visible: usize,
    /// Wheel movement not yet a whole row.
    pub scroll_remainder: f32,
}

impl Default for ListState {
    fn default() -> Self {
        Self {
            top: 0,
            follow: true,
            selected: None,
            visible: 40,
            scroll_remainder: 0.0,
        }
    }
}

impl ListState {
    /// Moves the selection by `delta` rows within `total`, scrolling to keep it shown.
    pub fn move_selection(&mut self, delta: isize, total: usize) {
        if total == 0 {
            return;
        }
        let current = self.selected_row().unwrap_or(if delta >= 0 {
            self.top.saturating_sub(1)
        } else {
            self.top + self.visible
        });
        let target = current.saturating_add_signed(delta).min(total - 1);
        self.select(target, total);
    }

    /// The row the selection was last seen at.
    pub fn selected_row(&self) -> Option<usize> {
        self.selected.map(|s| s.row)
    }

    /// The selected item, once known.
    pub fn selected_item(&self) -> Option<Item> {
        self.selected.and_then(|s| s.item)
    }

    /// Whether row `row`, showing `item`, is the selection: by its item once known.
    pub fn is_selected(&self, row: usize, item: Item) -> bool {
        match self.selected {
            Some(Selection {
                item: Some(selected),
                ..
            }) => selected == item,
            Some(Selection { row: selected, .. }) => selected == row,
            None => false,
        }
    }

    /// Selects a row by its number; its item is named once the rows are published.
    pub fn select(&mut self, row: usize, total: usize) {
        self.selected = Some(Selection::row(row));
        self.follow = row + 1 >= total && self.follow;
        self.reveal(row, total);
    }

    /// Selects an item, shown at `row`.
    pub fn select_item(&mut self, row: usize, item: Item, total: usize) {
        self.select(row, total);
        self.selected = Some(Selection::of(row, item));
    }

    /// The selection's item is at `row` now (rows moved under it: new traces above it,
    /// another filter): a selection on screen stays where it is on screen.
    pub fn track(&mut self, row: usize, item: Item, total: usize) {
        if let Some(old) = self.selected_row()
            && old != row
            && (self.top..self.top + self.visible).contains(&old)
        {
            self.top = (self.top + row).saturating_sub(old);
            self.follow = self.follow && row + 1 >= total;
        }
        self.selected = Some(Selection::of(row, item));
        self.clamp(total);
    }

    /// Scrolls so that `row` is shown.
    pub fn reveal(&mut self, row: usize, total: usize) {
        let visible = self.visible.max(1);
        if row < self.top {
            self.top = row;
            self.follow = false;
        } else if row >= self.top + visible {
            self.top = row + 1 - visible;
        }
        self.clamp(total);
    }

    pub fn scroll(&mut self, rows: isize, total: usize) {
        if rows < 0 {
            self.follow = false;
        }
        self.top = self.top.saturating_add_signed(rows);
        self.clamp(total);
        if rows > 0 && self.top + self.visible >= total {
            self.follow = true;
        }
    }

    pub fn clamp(&mut self, total: usize) {
        let last_top = total.saturating_sub(self.visible);
        if self.follow {
            self.top = last_top;
        }
        self.top = self.top.min(last_top);
    }
}

/// One tab: a stream with its own filter and view.
#[derive(Clone, Debug)]
pub struct TabUi {
    pub id: TabId,
    pub name: String,
    pub filter: Filter,
    /// What defines the tab (its service or run): "Clear filters" returns to it.
    pub base: Filter,
    pub view: ViewKind,
    pub logs: ListState,
    pub traces: ListState,
    /// The trace list's order, which the backend sorts by.
    pub trace_sort: TraceSort,
    pub open_trace: Option<TraceId>,
    pub waterfall: ListState,
    /// Whether the tab can be closed (the "All" tab cannot).
    pub closable: bool,
    /// An analysis shown in place of the lists (`None`: the lists).
    pub analysis: Option<Analysis>,
    pub operations: OperationsUi,
    /// The Metrics view's charted series.
    pub metric_series: Option<SeriesId>,
    /// The Metrics view charts a sum's totals rather than its rate per second.
    pub metric_totals: bool,
}

impl TabUi {
    pub(crate) fn new(id: TabId, name: String, filter: Filter, closable: bool) -> Self {
        Self {
            id,
            name,
            base: filter.clone(),
            filter,
            view: ViewKind::Logs,
            logs: ListState::default(),
            traces: ListState {
                follow: false,
                ..ListState::default()
            },
            trace_sort: TraceSort::default(),
            open_trace: None,
            waterfall: ListState {
                follow: false,
                ..ListState::default()
            },
            closable,
            analysis: None,
            operations: OperationsUi::default(),
            metric_series: None,
            metric_totals: false,
        }
    }

    /// Sorts the trace list by `key`: largest first, or, if it is sorted by it
    /// already, the other way round.
    pub fn sort_traces_by(&mut self, key: SortKey) {
        self.trace_sort = if self.trace_sort.key == key {
            TraceSort {
                key,
                descending: !self.trace_sort.descending,
            }
        } else {
            TraceSort {
                key,
                descending: true,
            }
        };
    }

    /// The list shown: the log table, the trace list or the open trace's waterfall.
    pub fn list(&self) -> &ListState {
        match (self.view, self.open_trace) {
            (ViewKind::Logs, _) => &self.logs,
            (ViewKind::Traces, None) => &self.traces,
            (ViewKind::Traces, Some(_)) => &self.waterfall,
        }
    }

    pub fn list_mut(&mut self) -> &mut ListState {
        match (self.view, self.open_trace) {
            (ViewKind::Logs, _) => &mut self.logs,
            (ViewKind::Traces, None) => &mut self.traces,
            (ViewKind::Traces, Some(_)) => &mut self.waterfall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ListState;

    #[test]
    fn rows_past_f32_precision_scroll_one_at_a_time() {
        // 2^24 is where f32 stops counting by one; go well past it.
        let total = 50_000_000;
        let mut list = ListState {
            visible: 40,
            follow: false,
            ..ListState::default()
        };
        list.select(33_554_431, total);
        list.move_selection(1, total);
        assert_eq!(list.selected_row(), Some(33_554_432));
        list.move_selection(1, total);
        assert_eq!(list.selected_row(), Some(33_554_433));
        list.scroll(1, total);
        assert_eq!(list.top, 33_554_433 + 1 - 40 + 1);
        list.scroll(-1, total);
        assert_eq!(list.top, 33_554_433 + 1 - 40);
        assert!(!list.follow);
        // Scrolling to the end follows the newest again.
        list.scroll(isize::MAX, total);
        assert!(list.follow);
        assert_eq!(list.top, total - 40);
    }
}
