//! A cap on the request bytes held in memory at once, taken before decoding.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shared byte budget of all in-flight requests.
#[derive(Clone, Debug)]
pub struct Budget {
    bytes: Arc<Semaphore>,
    max_bytes: usize,
}

/// Bytes taken from the budget by one request; returned when dropped.
#[derive(Debug, Default)]
pub struct Held {
    permit: Option<OwnedSemaphorePermit>,
}

impl Held {
    /// Bytes taken for this request.
    pub fn bytes(&self) -> usize {
        self.permit
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits)
    }
}

/// The budget is exhausted: the client should retry later.
#[derive(Debug)]
pub struct Exhausted;

impl Budget {
    pub fn new(max_bytes: usize) -> Self {
        let max_bytes = max_bytes.min(Semaphore::MAX_PERMITS);
        Self {
            bytes: Arc::new(Semaphore::new(max_bytes)),
            max_bytes,
        }
    }

    /// Bytes taken now, by all requests.
    pub fn held_bytes(&self) -> usize {
        self.max_bytes - self.bytes.available_permits()
    }

    /// The most that can be taken at once.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Takes `bytes` more for `held` without waiting.
    pub fn take(&self, held: &mut Held, bytes: usize) -> Result<(), Exhausted> {
        if bytes == 0 {
            return Ok(());
        }
        let bytes = u32::try_from(bytes).map_err(|_| Exhausted)?;
        let permit = Arc::clone(&self.bytes)
            .try_acquire_many_owned(bytes)
            .map_err(|_| Exhausted)?;
        match &mut held.permit {
            Some(existing) => existing.merge(permit),
            None => held.permit = Some(permit),
        }
        Ok(())
    }
}
