//! What the operations view draws and what the UI asks of it: the snapshot's part of
//! the operations table, which the backend computes (`operations.rs`).

use super::{TabId, TraceRow};
use crate::compare::{CompareRequest, Comparison};
use crate::model::TraceId;
use crate::operation::{OperationKey, OperationRow};

/// A column of the operations table, to sort by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OperationColumn {
    Service,
    Name,
    #[default]
    Count,
    Errors,
    ErrorRate,
    P50,
    P95,
    P99,
    Max,
}

impl OperationColumn {
    /// In the table's order.
    pub const ALL: [OperationColumn; 9] = [
        OperationColumn::Service,
        OperationColumn::Name,
        OperationColumn::Count,
        OperationColumn::Errors,
        OperationColumn::ErrorRate,
        OperationColumn::P50,
        OperationColumn::P95,
        OperationColumn::P99,
        OperationColumn::Max,
    ];

    pub fn title(self) -> &'static str {
        match self {
            OperationColumn::Service => "service",
            OperationColumn::Name => "operation",
            OperationColumn::Count => "count",
            OperationColumn::Errors => "errors",
            OperationColumn::ErrorRate => "error rate",
            OperationColumn::P50 => "p50",
            OperationColumn::P95 => "p95",
            OperationColumn::P99 => "p99",
            OperationColumn::Max => "max",
        }
    }
}

/// The operations table's order, a tab's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationSort {
    pub column: OperationColumn,
    /// Largest first (for names: from Z).
    pub descending: bool,
}

impl Default for OperationSort {
    /// The busiest operation first.
    fn default() -> Self {
        Self {
            column: OperationColumn::Count,
            descending: true,
        }
    }
}

impl OperationSort {
    /// Sorted by `column`: largest first, or the other way if it is sorted by it already.
    pub fn by(self, column: OperationColumn) -> Self {
        Self {
            column,
            descending: self.column != column || !self.descending,
        }
    }
}

/// A trace of the selected operation, with its slowest span of that operation.
#[derive(Clone, Debug)]
pub struct OperationTrace {
    pub trace: TraceRow,
    pub span: u32,
    pub span_duration_nano: u64,
}

/// A span of the selected operation in its scatter of duration over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationPoint {
    pub start_unix_nano: u64,
    pub duration_nano: u64,
    pub trace_id: TraceId,
    pub span: u32,
    pub error: bool,
}

/// The selected operation: its traces, slowest first, and its spans' scatter.
#[derive(Clone, Debug)]
pub struct OperationDetail {
    pub key: OperationKey,
    pub traces: Vec<OperationTrace>,
    pub points: Vec<OperationPoint>,
}

/// What the operations view draws.
#[derive(Clone, Debug, Default)]
pub struct OperationsView {
    pub tab: TabId,
    pub sort: OperationSort,
    /// In `sort`'s order.
    pub rows: Vec<OperationRow>,
    /// Spans counted in the table.
    pub spans: u64,
    /// Share of the index's spans examined, while the table is being computed.
    pub progress: Option<f32>,
    pub detail: Option<OperationDetail>,
    /// The table beside another tab's, when the user compares them.
    pub comparison: Option<Comparison>,
}

/// What the UI asks of the operations view while it is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationsRequest {
    pub tab: TabId,
    pub sort: OperationSort,
    pub selected: Option<OperationKey>,
    /// Another tab to compare with (its filter as the UI has it).
    pub compare: Option<CompareRequest>,
}
