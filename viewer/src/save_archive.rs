//! Saving runs as an archive from the viewer, on a thread of the backend's: the status
//! line is told how far the write got and how it ended.

use std::ops::ControlFlow;
use std::path::Path;

use oculus_store::Session;

/// Progress is told in steps of this many percent, so the notices stay few.
const PROGRESS_STEP_PERCENT: u64 = 5;

/// Writes `sessions` into the archive at `target`, telling `notify` the progress and
/// the result.
pub(crate) fn write(sessions: &[Session], target: &Path, notify: &dyn Fn(String)) {
    let mut told = 0;
    let written = oculus_store::write_archive(sessions, target, |done, total| {
        let percent = done * 100 / total.max(1);
        if percent >= told + PROGRESS_STEP_PERCENT {
            told = percent;
            notify(format!("saving {}: {percent}%", target.display()));
        }
        ControlFlow::Continue(())
    });
    notify(match written {
        Ok(manifest) => format!(
            "saved {} {} to {} ({} spans, {} logs)",
            manifest.sessions.len(),
            if manifest.sessions.len() == 1 {
                "run"
            } else {
                "runs"
            },
            target.display(),
            manifest.totals.spans,
            manifest.totals.logs
        ),
        Err(error) => format!("cannot save {}: {error}", target.display()),
    });
}
