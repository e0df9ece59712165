//! One operation (a span name within a service) and its figures: what the operations
//! table and the comparison of two runs both hold, apart from how either is computed.

use std::sync::Arc;

/// An operation: a span name within a service.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperationKey {
    pub service: Arc<str>,
    pub name: Arc<str>,
}

/// One row of the operations table; durations in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationRow {
    pub key: OperationKey,
    pub count: u64,
    pub errors: u64,
    pub p50_nano: u64,
    pub p95_nano: u64,
    pub p99_nano: u64,
    pub max_nano: u64,
}

impl OperationRow {
    /// Errors per span, from 0 to 1.
    pub fn error_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.errors as f64 / self.count as f64
        }
    }
}
