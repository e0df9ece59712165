//! The writer thread: the only place that touches the active segment.
//!
//! Request handlers encode and compress their blocks themselves and queue them here;
//! this thread appends whatever has queued up in one write (group commit), then
//! acknowledges each request. A request is acknowledged only after its bytes are
//! with the OS, so an acknowledged record survives a crash of the collector.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use oculus_store::{EncodedBlock, SessionWriter, StoreError};
use tokio::sync::oneshot;

/// Most bytes one group commit writes at once.
const MAX_GROUP_BYTES: u64 = 16 << 20;
/// How often an idle writer checks whether the active segment is due for rotation.
const IDLE_TICK: Duration = Duration::from_millis(500);

/// Why a write was not acknowledged: the store's error, shared by every request of the
/// group that failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error(transparent)]
pub struct WriteFailure(Arc<StoreError>);

impl WriteFailure {
    /// The disk is full: the client should retry later.
    pub fn is_storage_full(&self) -> bool {
        self.0.is_storage_full()
    }
}

/// Why a block could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The writer is behind: the client should retry later.
    Overloaded,
    /// The writer has stopped.
    Closed,
}

struct Job {
    block: EncodedBlock,
    ack: oneshot::Sender<Result<(), WriteFailure>>,
}

/// A handle for queueing blocks; cheap to clone.
#[derive(Clone)]
pub struct WriterHandle {
    jobs: SyncSender<Job>,
    queued_bytes: Arc<AtomicU64>,
    max_queued_bytes: u64,
}

pub type Ack = oneshot::Receiver<Result<(), WriteFailure>>;

impl WriterHandle {
    /// Queues a block without waiting; the returned receiver resolves once it is written.
    pub fn submit(&self, block: EncodedBlock) -> Result<Ack, SubmitError> {
        let bytes = block.frame.len() as u64;
        let before = self.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        if before > 0 && before + bytes > self.max_queued_bytes {
            self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            return Err(SubmitError::Overloaded);
        }
        let (ack, acked) = oneshot::channel();
        match self.jobs.try_send(Job { block, ack }) {
            Ok(()) => Ok(acked),
            Err(error) => {
                self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                Err(match error {
                    TrySendError::Full(_) => SubmitError::Overloaded,
                    TrySendError::Disconnected(_) => SubmitError::Closed,
                })
            }
        }
    }
}

#[cfg(feature = "fuzzing")]
impl WriterHandle {
    /// A handle whose writer has stopped: every submission is refused as `Closed`. For
    /// the fuzz targets, which run the receivers without a session.
    pub(crate) fn stopped() -> Self {
        let (jobs, _) = sync_channel(1);
        Self {
            jobs,
            queued_bytes: Arc::default(),
            max_queued_bytes: u64::MAX,
        }
    }
}

/// Starts the writer thread. It runs until every handle is dropped, then seals the
/// active segment and returns.
pub fn spawn(
    writer: SessionWriter,
    max_queued_bytes: u64,
) -> std::io::Result<(WriterHandle, JoinHandle<Result<(), StoreError>>)> {
    let (jobs, queue) = sync_channel(4096);
    let queued_bytes = Arc::new(AtomicU64::new(0));
    let handle = WriterHandle {
        jobs,
        queued_bytes: Arc::clone(&queued_bytes),
        max_queued_bytes,
    };
    let thread = std::thread::Builder::new()
        .name("oculus-writer".into())
        .spawn(move || run(writer, &queue, &queued_bytes))?;
    Ok((handle, thread))
}

fn run(
    mut writer: SessionWriter,
    queue: &Receiver<Job>,
    queued_bytes: &AtomicU64,
) -> Result<(), StoreError> {
    let mut blocks = Vec::new();
    let mut acks = Vec::new();
    // Failed writes in a row: the first is logged, the rest only counted, so a full
    // disk does not flood the log.
    let mut failures = 0u64;
    loop {
        let first = match queue.recv_timeout(IDLE_TICK) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                // A segment that cannot be sealed now stays open and is sealed later,
                // or recovered at the next start; writing goes on either way.
                if let Err(error) = writer.tick() {
                    tracing::warn!(%error, "cannot rotate the active segment");
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut group_bytes = first.block.frame.len() as u64;
        blocks.push(first.block);
        acks.push(first.ack);
        while group_bytes < MAX_GROUP_BYTES {
            let Ok(job) = queue.try_recv() else { break };
            group_bytes += job.block.frame.len() as u64;
            blocks.push(job.block);
            acks.push(job.ack);
        }
        let result = writer
            .append(&blocks)
            .map_err(|error| WriteFailure(Arc::new(error)));
        // Nothing of a failed group is acknowledged, so no accepted record is lost: the
        // clients are told and retry. Hence a warning, not an error.
        match &result {
            Err(failure) => {
                if failures == 0 {
                    tracing::warn!(error = %failure, "cannot write; refusing requests until writes succeed again");
                }
                failures += 1;
            }
            Ok(()) if failures > 0 => {
                tracing::info!(failed_writes = failures, "writing again");
                failures = 0;
            }
            Ok(()) => {}
        }
        queued_bytes.fetch_sub(group_bytes, Ordering::AcqRel);
        blocks.clear();
        for ack in acks.drain(..) {
            // A client that gave up no longer waits for its answer.
            let _ = ack.send(result.clone());
        }
    }
    writer.close()?;
    Ok(())
}
