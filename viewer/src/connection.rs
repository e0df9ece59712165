//! The UI's end of the backend: events sent without waiting, snapshots read from the
//! triple buffer.

use std::collections::VecDeque;
use std::sync::mpsc::{SyncSender, TrySendError};

use crate::snapshot::{Snapshot, UiEvent};

/// Events kept while the backend's queue is full. Repeated viewport and selection
/// events merge into the newest, so only user commands (tabs, finds, jumps) count
/// against it: far more than a user makes while the backend catches up.
const MAX_PENDING_EVENTS: usize = 1024;

/// The UI's side of the backend.
pub struct Connection {
    events: SyncSender<UiEvent>,
    snapshots: triple_buffer::Output<Snapshot>,
    /// Events that did not fit in the queue, oldest first, retried on the next frame.
    pending: VecDeque<UiEvent>,
    /// Events dropped because `pending` was full.
    dropped: u64,
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
            pending: VecDeque::new(),
            dropped: 0,
            gone: false,
        }
    }

    /// The snapshot the backend published since the last call, if it published one.
    pub fn take_snapshot(&mut self) -> Option<Snapshot> {
        if self.snapshots.update() {
            Some(std::mem::take(self.snapshots.output_buffer_mut()))
        } else {
            None
        }
    }

    /// Queues an event without waiting; a full queue keeps it for the next frame.
    pub fn send(&mut self, event: UiEvent) {
        self.keep(event);
        self.flush();
    }

    /// Adds `event` to the pending ones: it replaces an older event it supersedes, and
    /// is dropped (and counted) when the pending events are at their bound.
    fn keep(&mut self, event: UiEvent) {
        if let Some(older) = self.pending.iter().position(|p| supersedes(&event, p)) {
            // The newest goes last, after whatever it may depend on (its tab's creation).
            self.pending.remove(older);
        } else if self.pending.len() >= MAX_PENDING_EVENTS {
            if self.dropped == 0 {
                tracing::warn!(
                    bound = MAX_PENDING_EVENTS,
                    "the backend is not taking events; dropping new ones"
                );
            }
            self.dropped += 1;
            return;
        }
        self.pending.push_back(event);
    }

    /// Retries events that found the queue full.
    pub fn flush(&mut self) {
        while let Some(event) = self.pending.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Full(event)) => {
                    self.pending.push_front(event);
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

/// Whether `newer` makes `older` pointless: a tab view's viewport is where it is now,
/// and only the latest selection is shown. Every other event is a command that counts.
fn supersedes(newer: &UiEvent, older: &UiEvent) -> bool {
    match (newer, older) {
        (
            UiEvent::Viewport { tab, view, .. },
            UiEvent::Viewport {
                tab: older_tab,
                view: older_view,
                ..
            },
        ) => tab == older_tab && view == older_view,
        (UiEvent::Select(_), UiEvent::Select(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{RecordRef, ViewKind};

    fn viewport(tab: u64, view: ViewKind, top: usize) -> UiEvent {
        UiEvent::Viewport {
            tab,
            view,
            top,
            rows: 10,
            follow: false,
            selected: None,
            sort: crate::snapshot::TraceSort::default(),
        }
    }

    /// A connection whose backend takes `capacity` events and then none.
    fn stalled(capacity: usize) -> (Connection, std::sync::mpsc::Receiver<UiEvent>) {
        let (events, receiver) = std::sync::mpsc::sync_channel(capacity);
        let (_, output) = triple_buffer::triple_buffer(&Snapshot::default());
        (Connection::new(events, output), receiver)
    }

    /// The events as `(kind, tab, top)` for comparing.
    fn summary(events: impl IntoIterator<Item = UiEvent>) -> Vec<String> {
        events
            .into_iter()
            .map(|event| match event {
                UiEvent::Viewport { tab, view, top, .. } => {
                    format!("viewport {tab} {view:?} {top}")
                }
                UiEvent::CloseTab(tab) => format!("close {tab}"),
                UiEvent::Select(record) => format!("select {record:?}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn repeated_viewports_and_selections_merge_into_the_newest_and_commands_keep_their_order() {
        let (mut connection, receiver) = stalled(1);
        connection.send(UiEvent::CloseTab(9));
        connection.send(viewport(1, ViewKind::Logs, 0));
        connection.send(UiEvent::CloseTab(1));
        connection.send(viewport(1, ViewKind::Traces, 5));
        connection.send(UiEvent::Select(Some(RecordRef::Log(1))));
        connection.send(viewport(1, ViewKind::Logs, 20));
        connection.send(UiEvent::CloseTab(2));
        connection.send(UiEvent::Select(Some(RecordRef::Log(2))));
        connection.send(viewport(1, ViewKind::Logs, 40));
        assert_eq!(
            summary(connection.pending.iter().cloned()),
            [
                "close 1",
                "viewport 1 Traces 5",
                "close 2",
                "select Some(Log(2))",
                "viewport 1 Logs 40",
            ]
        );
        // The first fit in the queue; the rest follow in order as it drains.
        let mut received = vec![receiver.try_recv().expect("the first event was sent")];
        while connection.has_pending() {
            connection.flush();
            received.extend(receiver.try_iter());
        }
        assert_eq!(
            summary(received),
            [
                "close 9",
                "close 1",
                "viewport 1 Traces 5",
                "close 2",
                "select Some(Log(2))",
                "viewport 1 Logs 40",
            ]
        );
    }

    #[test]
    fn pending_events_stop_at_their_bound_and_viewports_still_merge() {
        let (mut connection, _receiver) = stalled(0);
        for tab in 0..MAX_PENDING_EVENTS as u64 + 5 {
            connection.send(UiEvent::CloseTab(tab));
        }
        assert_eq!(connection.pending.len(), MAX_PENDING_EVENTS);
        assert_eq!(connection.dropped, 5);
        let last = connection.pending.back().cloned();
        assert_eq!(summary(last), [format!("close {}", MAX_PENDING_EVENTS - 1)]);

        // A full queue still takes the newest viewport in place of an older one.
        let (mut connection, _receiver) = stalled(0);
        connection.send(viewport(1, ViewKind::Logs, 0));
        for tab in 1..MAX_PENDING_EVENTS as u64 {
            connection.send(UiEvent::CloseTab(tab));
        }
        connection.send(viewport(1, ViewKind::Logs, 7));
        assert_eq!(connection.pending.len(), MAX_PENDING_EVENTS);
        assert_eq!(connection.dropped, 0);
        assert_eq!(
            summary(connection.pending.back().cloned()),
            ["viewport 1 Logs 7"]
        );
    }

    #[test]
    fn a_gone_backend_clears_the_pending_events() {
        let (mut connection, receiver) = stalled(0);
        connection.send(UiEvent::CloseTab(1));
        assert!(connection.has_pending());
        drop(receiver);
        connection.flush();
        assert!(!connection.has_pending());
        assert!(connection.backend_gone());
    }
}
