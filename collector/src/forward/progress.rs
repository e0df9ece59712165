//! Forwarded, pending and failed counts: kept by each destination's task, logged, and
//! written to `forward.json` in the session directory (its form is the store's,
//! `oculus_store::forwarding`) for the viewer's status line.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

pub use oculus_store::forwarding::{DestinationStatus, STATUS_FILE, write_status};

use crate::Counters;

/// One destination's counts, shared between its task and the status writer.
#[derive(Debug, Default)]
pub struct Counts {
    /// Records the destination took.
    pub forwarded: AtomicU64,
    /// Records it refused for good, or that could not be read to be sent.
    pub failed: AtomicU64,
    /// Records of earlier sessions still to send when the collector started.
    backlog: AtomicU64,
    /// What `pending` is corrected by: the difference between what was counted as
    /// accepted and what was found on disk when the task last caught up.
    settled: AtomicI64,
    /// The last send failed and is being retried.
    pub retrying: AtomicBool,
    /// The last failure, for the status line; cleared by a success.
    pub last_error: Mutex<Option<String>>,
}

impl Counts {
    pub fn with_backlog(records: u64) -> Self {
        Self {
            backlog: AtomicU64::new(records),
            ..Self::default()
        }
    }

    fn done(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }

    /// Records accepted (this run, and the backlog) that are not yet forwarded or
    /// failed. Exact whenever the task has caught up with the disk; in between, the
    /// collector's counters may lag the disk by a request.
    pub fn pending(&self, accepted: &Counters) -> u64 {
        let owed = i64::try_from(total_accepted(accepted) + self.backlog.load(Ordering::Relaxed))
            .unwrap_or(i64::MAX);
        let done = i64::try_from(self.done()).unwrap_or(i64::MAX);
        u64::try_from(owed - done - self.settled.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// The task has sent everything on disk: nothing is pending now.
    pub fn caught_up(&self, accepted: &Counters) {
        let owed = i64::try_from(total_accepted(accepted) + self.backlog.load(Ordering::Relaxed))
            .unwrap_or(i64::MAX);
        let done = i64::try_from(self.done()).unwrap_or(i64::MAX);
        self.settled.store(owed - done, Ordering::Relaxed);
    }

    /// The last failure (none after a success), and whether it is being retried.
    pub fn set_error(&self, error: Option<String>, retrying: bool) {
        self.retrying.store(retrying, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = error;
        }
    }
}

fn total_accepted(accepted: &Counters) -> u64 {
    accepted.spans.load(Ordering::Relaxed)
        + accepted.logs.load(Ordering::Relaxed)
        + accepted.metric_points.load(Ordering::Relaxed)
}

/// Every destination's counts now.
pub fn snapshot(
    destinations: &[(String, std::sync::Arc<Counts>)],
    accepted: &Counters,
) -> Vec<DestinationStatus> {
    destinations
        .iter()
        .map(|(destination, counts)| DestinationStatus {
            destination: destination.clone(),
            forwarded: counts.forwarded.load(Ordering::Relaxed),
            pending: counts.pending(accepted),
            failed: counts.failed.load(Ordering::Relaxed),
            retrying: counts.retrying.load(Ordering::Relaxed),
            error: counts.last_error.lock().ok().and_then(|e| e.clone()),
        })
        .collect()
}

/// Logs each destination's counts.
pub fn log(statuses: &[DestinationStatus], message: &str) {
    for status in statuses {
        tracing::info!(
            destination = %status.destination,
            forwarded = status.forwarded,
            pending = status.pending,
            failed = status.failed,
            "{message}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_is_what_was_accepted_and_not_yet_done_and_settles_when_caught_up() {
        let accepted = Counters::default();
        let counts = Counts::with_backlog(10);
        accepted.spans.store(5, Ordering::Relaxed);
        assert_eq!(counts.pending(&accepted), 15);
        counts.forwarded.store(12, Ordering::Relaxed);
        counts.failed.store(1, Ordering::Relaxed);
        assert_eq!(counts.pending(&accepted), 2);
        // The disk said everything was sent: the two were never there (a segment
        // deleted by retention, say).
        counts.caught_up(&accepted);
        assert_eq!(counts.pending(&accepted), 0);
        accepted.logs.store(4, Ordering::Relaxed);
        assert_eq!(counts.pending(&accepted), 4);
    }
}
