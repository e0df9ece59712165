//! The operations view's part of the app: its keys and clicks, and what the backend is
//! told of it.

use std::sync::Arc;

use super::App;
use crate::action::{Action, Step};
use crate::compare::{CompareRequest, SpanAt};
use crate::operations::OperationsRequest;
use crate::operations_ui::OperationsAction;
use crate::snapshot::{Analysis, RecordRef, TabId, UiEvent, ViewKind};

impl App {
    /// Shows an analysis in place of the lists, or the lists again if it is shown
    /// already (its key pressed again).
    pub(super) fn show_analysis(&mut self, analysis: Option<Analysis>) {
        let tab = self.tab_mut();
        tab.analysis = if tab.analysis == analysis {
            None
        } else {
            analysis
        };
        if tab.analysis.is_some() {
            // The analysis is shown, not a trace opened from the lists.
            tab.open_trace = None;
        }
    }

    /// Whether the operations table is on screen: shown, with no trace open over it.
    fn operations_on_screen(&self) -> bool {
        let tab = self.tab();
        tab.analysis == Some(Analysis::Operations)
            && !(tab.view == ViewKind::Traces && tab.open_trace.is_some())
    }

    /// Takes the list keys while the operations table is on screen; hands back the
    /// actions it does not answer.
    pub(super) fn operations_key(&mut self, action: Action) -> Option<Action> {
        if !self.operations_on_screen() {
            return Some(action);
        }
        match action {
            Action::MoveSelection(step) => self.move_in_operations(Some(step)),
            Action::SelectFirst => self.move_in_operations(None),
            Action::FollowNewest => self.move_in_operations(Some(Step::Rows(isize::MAX / 2))),
            Action::OpenSelected => self.open_in_operations(),
            other => return Some(other),
        }
        None
    }

    /// Moves the cursor of the list the keyboard is in (the table, or the selected
    /// operation's traces) by `step`, or to its first row.
    fn move_in_operations(&mut self, step: Option<Step>) {
        let Some(view) = self.snapshot.operations.clone() else {
            return;
        };
        let page = self.tab().logs.visible;
        let ui = &mut self.tab_mut().operations;
        let (cursor, total) = match (ui.trace_row.is_some(), &view.detail) {
            (true, Some(detail)) => (&mut ui.trace_row, detail.traces.len()),
            _ => (&mut ui.row, view.rows.len()),
        };
        let Some(last) = total.checked_sub(1) else {
            return;
        };
        // With no cursor yet, the first step down lands on the first row.
        *cursor = Some(match (*cursor, step) {
            (Some(row), Some(step)) => row.saturating_add_signed(step.rows(page)).min(last),
            (None, Some(step)) if step.rows(page) < 0 => last,
            _ => 0,
        });
    }

    /// Enter: the operation under the cursor is selected and the keyboard moves into
    /// its traces; in its traces, the trace under the cursor opens.
    fn open_in_operations(&mut self) {
        let Some(view) = self.snapshot.operations.clone() else {
            return;
        };
        let (trace_row, cursor) = (self.tab().operations.trace_row, self.tab().operations.row);
        if let (Some(row), Some(detail)) = (trace_row, &view.detail) {
            if let Some(trace) = detail.traces.get(row) {
                self.open_trace(trace.trace.trace_id, Some(RecordRef::Span(trace.span)));
            }
            return;
        }
        let Some(row) = cursor.filter(|&row| row < view.rows.len()) else {
            self.tell("no operation under the cursor: j/k move it");
            return;
        };
        let key = view.rows[row].key.clone();
        let ui = &mut self.tab_mut().operations;
        ui.selected = Some(key);
        ui.trace_row = Some(0);
    }

    /// What a click in the operations view asks for.
    pub(super) fn apply_operations(&mut self, action: OperationsAction) {
        match action {
            OperationsAction::Sort(column) => {
                let ui = &mut self.tab_mut().operations;
                ui.sort = ui.sort.by(column);
            }
            OperationsAction::Select { row, key } => {
                let ui = &mut self.tab_mut().operations;
                ui.row = Some(row);
                ui.selected = Some(key);
                ui.trace_row = None;
            }
            OperationsAction::OpenTrace { trace, span } => {
                self.open_trace(trace, Some(RecordRef::Span(span)));
            }
            OperationsAction::CompareWith(tab) => self.tab_mut().operations.compare_with = tab,
            OperationsAction::SlowestTraces {
                shown,
                baseline,
                baseline_tab,
            } => self.open_slowest(shown, baseline, baseline_tab),
        }
    }

    /// Opens an operation's slowest trace here and the baseline's in the baseline tab
    /// (two tabs, `gt` between them), each in its waterfall.
    fn open_slowest(
        &mut self,
        shown: Option<SpanAt>,
        baseline: Option<SpanAt>,
        baseline_tab: TabId,
    ) {
        if let Some(((trace, _), tab)) =
            baseline.zip(self.tabs.iter_mut().find(|t| t.id == baseline_tab))
        {
            tab.view = ViewKind::Traces;
            tab.open_trace = Some(trace);
            tab.waterfall = crate::tab_ui::ListState {
                follow: false,
                ..crate::tab_ui::ListState::default()
            };
            let name = tab.name.clone();
            self.tell(format!(
                "the baseline's slowest trace is open in the tab {name} (gt)"
            ));
        }
        if let Some((trace, span)) = shown {
            self.open_trace(trace, Some(RecordRef::Span(span)));
        }
    }

    /// Esc in the operations view: from its traces back to the table, from the table
    /// back to the lists.
    pub(super) fn operations_back(&mut self) {
        let tab = self.tab_mut();
        if tab.operations.trace_row.is_some() {
            tab.operations.trace_row = None;
        } else {
            tab.analysis = None;
        }
    }

    /// Tells the backend what the operations view shows, when that changed.
    pub(super) fn sync_operations(&mut self) {
        let tab = self.tab();
        let compare = tab.operations.compare_with.and_then(|id| {
            let baseline = self.tabs.iter().find(|t| t.id == id)?;
            Some(CompareRequest {
                tab: id,
                filter: Arc::new(baseline.filter.clone()),
            })
        });
        let request = (tab.analysis == Some(Analysis::Operations)).then(|| OperationsRequest {
            tab: tab.id,
            sort: tab.operations.sort,
            selected: tab.operations.selected.clone(),
            compare,
        });
        if self.sent.operations != request {
            self.sent.operations.clone_from(&request);
            self.connection
                .send(UiEvent::Operations(request.map(Box::new)));
        }
    }
}
