//! The operations view's UI state in a tab, and what its clicks and keys ask for.

use crate::compare::SpanAt;
use crate::model::TraceId;
use crate::operations::{OperationColumn, OperationKey, OperationSort};
use crate::snapshot::TabId;

/// A tab's operations view: the table's order and cursor, and the operation whose
/// traces are listed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OperationsUi {
    pub sort: OperationSort,
    /// The table row the keyboard is on.
    pub row: Option<usize>,
    /// The operation selected (Enter or a click): its traces and scatter are shown.
    pub selected: Option<OperationKey>,
    /// The row of the selected operation's trace list the keyboard is on; `Some`
    /// while j/k move in that list rather than in the table.
    pub trace_row: Option<usize>,
    /// The tab whose operations this tab's are compared with (the baseline).
    pub compare_with: Option<TabId>,
}

/// What a click in the operations view asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum OperationsAction {
    /// Sort by this column (again: the other way round).
    Sort(OperationColumn),
    /// Select the operation of a table row: list its traces.
    Select { row: usize, key: OperationKey },
    /// Open a trace of the selected operation in the waterfall, on that span.
    OpenTrace { trace: TraceId, span: u32 },
    /// Compare with another tab's operations, or stop comparing.
    CompareWith(Option<TabId>),
    /// Open an operation's slowest trace in this tab and the baseline's in the baseline
    /// tab, each in its waterfall.
    SlowestTraces {
        shown: Option<SpanAt>,
        baseline: Option<SpanAt>,
        baseline_tab: TabId,
    },
}
