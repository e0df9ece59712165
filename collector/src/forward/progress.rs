//! Forwarded, pending and failed counts: kept by each destination's task, logged, and
//! written to `forward.json` in the session directory for the viewer's status line.
//!
//! ```text
//! sessions/2026-…-4242/forward.json   replaced about once a second
//!     {"destinations":[{"destination":"grpc://jaeger:4317","forwarded":12345,
//!       "pending":0,"failed":0,"retrying":false,"error":null}]}
//! ```

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use serde::Serialize;

use crate::Counters;

/// The name of the counts file in the session directory.
pub const STATUS_FILE: &str = "forward.json";

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

#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct DestinationStatus {
    pub destination: String,
    pub forwarded: u64,
    pub pending: u64,
    pub failed: u64,
    pub retrying: bool,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
struct StatusFile<'a> {
    destinations: &'a [DestinationStatus],
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

/// Replaces `forward.json` in `session` with `statuses`.
pub fn write_status(session: &Path, statuses: &[DestinationStatus]) -> std::io::Result<()> {
    let text = serde_json::to_string(&StatusFile {
        destinations: statuses,
    })
    .map_err(std::io::Error::other)?;
    super::cursor::write_replacing(&session.join(STATUS_FILE), text.as_bytes())
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

    #[test]
    fn the_status_file_is_json_the_viewer_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = DestinationStatus {
            destination: "grpc://jaeger:4317".into(),
            forwarded: 3,
            pending: 1,
            failed: 0,
            retrying: false,
            error: None,
        };
        write_status(dir.path(), &[status]).expect("written");
        let text = std::fs::read_to_string(dir.path().join(STATUS_FILE)).expect("readable");
        assert_eq!(
            text,
            r#"{"destinations":[{"destination":"grpc://jaeger:4317","forwarded":3,"pending":1,"failed":0,"retrying":false,"error":null}]}"#
        );
    }
}
