//! The UI's end of the backend: events sent without waiting, snapshots read from the
//! triple buffer.

use std::sync::mpsc::{SyncSender, TrySendError};

use crate::snapshot::{Snapshot, UiEvent};

/// The UI's side of the backend.
pub struct Connection {
    events: SyncSender<UiEvent>,
    pub snapshots: triple_buffer::Output<Snapshot>,
    /// Events that did not fit in the queue, retried on the next frame.
    pending: Vec<UiEvent>,
    /// The backend thread has ended (it only does so by failing).
    gone: bool,
}

impl Connection {
    pub(crate) fn new(
        events: SyncSender<UiEvent>,
        snapshots: triple_buffer::Output<Snapshot>,
    ) -> Self {
        Self {
            events,
            snapshots,
            pending: Vec::new(),
            gone: false,
        }
    }

    /// Queues an event without waiting; a full queue keeps it for the next frame.
    pub fn send(&mut self, event: UiEvent) {
        self.pending.push(event);
        self.flush();
    }

    /// Retries events that found the queue full.
    pub fn flush(&mut self) {
        while !self.pending.is_empty() {
            let event = self.pending.remove(0);
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Full(event)) => {
                    self.pending.insert(0, event);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.pending.clear();
                    self.gone = true;
                    return;
                }
            }
        }
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether the backend thread has stopped: the window then shows stale data.
    pub fn backend_gone(&self) -> bool {
        self.gone
    }
}
