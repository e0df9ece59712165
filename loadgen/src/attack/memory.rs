//! The collector's resident memory, sampled while the attacks run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;

use crate::bench::status_kib;

const EVERY: Duration = Duration::from_millis(10);

/// Samples VmRSS of `pid` into `peak_kib` until the task is aborted. The kernel's
/// own peak (VmHWM) is read at the end too; this one also shows when it was reached.
pub fn sample(tasks: &mut JoinSet<()>, pid: u32, peak_kib: &Arc<AtomicU64>) {
    let peak_kib = Arc::clone(peak_kib);
    tasks.spawn(async move {
        loop {
            if let Ok(kib) = status_kib(pid, "VmRSS") {
                peak_kib.fetch_max(kib, Ordering::Relaxed);
            }
            tokio::time::sleep(EVERY).await;
        }
    });
}
