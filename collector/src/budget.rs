//! A cap on the request bytes held in memory at once, taken before decoding.
//!
//! A part of it is kept for small requests, as a well-behaved SDK sends them (a
//! batch of a few hundred records): large requests may take only the shared part, so
//! however many of them arrive, a small export is never refused for lack of memory
//! they hold. A request is small while all it holds is at most `small_request_bytes`.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The part of the budget kept for small requests, at most: 8 MiB of the default
/// 256 MiB, room for about thirty small exports being decoded at once.
const RESERVED_FRACTION: usize = 32;
/// A small request holds at most this part of the reserve: 1 MiB by default, a batch
/// of a few thousand records with what decoding it holds.
const SMALL_FRACTION_OF_RESERVE: usize = 8;

/// The shared byte budget of all in-flight requests.
#[derive(Clone, Debug)]
pub struct Budget {
    shared: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
    max_bytes: usize,
    shared_bytes: usize,
    small_request_bytes: usize,
}

/// Bytes taken from the budget by one request; returned when dropped.
#[derive(Debug, Default)]
pub struct Held {
    shared: Option<OwnedSemaphorePermit>,
    reserved: Option<OwnedSemaphorePermit>,
}

impl Held {
    /// Bytes taken for this request.
    pub fn bytes(&self) -> usize {
        [&self.shared, &self.reserved]
            .into_iter()
            .flatten()
            .map(OwnedSemaphorePermit::num_permits)
            .sum()
    }
}

/// The budget is exhausted: the client should retry later.
#[derive(Debug)]
pub struct Exhausted;

impl Budget {
    /// A budget of `max_bytes`, of which all but the reserve for small requests may
    /// be held by one request of up to `max_message_bytes`.
    pub fn new(max_bytes: usize, max_message_bytes: usize) -> Self {
        let max_bytes = max_bytes.min(Semaphore::MAX_PERMITS);
        let reserved_bytes =
            (max_bytes / RESERVED_FRACTION).min(max_bytes.saturating_sub(max_message_bytes));
        let shared_bytes = max_bytes - reserved_bytes;
        Self {
            shared: Arc::new(Semaphore::new(shared_bytes)),
            reserved: Arc::new(Semaphore::new(reserved_bytes)),
            max_bytes,
            shared_bytes,
            small_request_bytes: reserved_bytes / SMALL_FRACTION_OF_RESERVE,
        }
    }

    /// Bytes taken now, by all requests.
    pub fn held_bytes(&self) -> usize {
        self.max_bytes - self.shared.available_permits() - self.reserved.available_permits()
    }

    /// The most one request can hold: all but the reserve for small requests.
    pub fn max_request_bytes(&self) -> usize {
        self.shared_bytes
    }

    /// Takes `bytes` more for `held` without waiting: from the shared part, or, for a
    /// request that stays small, from the reserve.
    pub fn take(&self, held: &mut Held, bytes: usize) -> Result<(), Exhausted> {
        if bytes == 0 {
            return Ok(());
        }
        let permits = u32::try_from(bytes).map_err(|_| Exhausted)?;
        if let Ok(permit) = Arc::clone(&self.shared).try_acquire_many_owned(permits) {
            merge(&mut held.shared, permit);
            return Ok(());
        }
        if held.bytes().saturating_add(bytes) > self.small_request_bytes {
            return Err(Exhausted);
        }
        let permit = Arc::clone(&self.reserved)
            .try_acquire_many_owned(permits)
            .map_err(|_| Exhausted)?;
        merge(&mut held.reserved, permit);
        Ok(())
    }
}

fn merge(slot: &mut Option<OwnedSemaphorePermit>, permit: OwnedSemaphorePermit) {
    match slot {
        Some(existing) => existing.merge(permit),
        None => *slot = Some(permit),
    }
}
