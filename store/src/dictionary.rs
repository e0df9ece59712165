//! Compression dictionaries: what one request's block shares with the others.
//!
//! Every block is compressed alone, so that damage stays within one block and any block
//! can be read without the ones before it. Alone, though, a block pays again for what
//! all blocks repeat (attribute values, names, resource attributes). A raw-content
//! dictionary taken from the first blocks of a session gives zstd that context back.
//! The writer puts a DICTIONARY frame in each segment before the first block that needs
//! it; readers load it when they meet it (see `compression.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Dictionary size. The strings a workload repeats fit in a few KiB, and zstd loads
/// the dictionary for every block, so a larger one costs CPU for little gain
/// (BENCHMARKS.md has the figures).
pub const DICTIONARY_BYTES: usize = 32 << 10;

/// A dictionary shared by the threads that compress with it.
#[derive(Clone, Debug)]
pub struct SharedDictionary(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    id: u16,
    /// Unique in this process, so compressors know which dictionary they hold.
    serial: u64,
    raw: Vec<u8>,
}

impl SharedDictionary {
    /// A dictionary with a non-zero `id`, unique among the dictionaries of a session.
    pub fn new(id: u16, raw: Vec<u8>) -> Self {
        static SERIAL: AtomicU64 = AtomicU64::new(1);
        Self(Arc::new(Inner {
            id,
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            raw,
        }))
    }

    pub fn id(&self) -> u16 {
        self.0.id
    }

    pub(crate) fn serial(&self) -> u64 {
        self.0.serial
    }

    pub fn raw(&self) -> &[u8] {
        &self.0.raw
    }
}

/// Gathers the first blocks of one kind of record into a dictionary.
#[derive(Debug)]
pub struct DictionarySampler {
    id: u16,
    sample: Vec<u8>,
}

impl DictionarySampler {
    pub fn new(id: u16) -> Self {
        Self {
            id,
            sample: Vec::with_capacity(DICTIONARY_BYTES),
        }
    }

    /// Adds a block's bytes; returns the dictionary once enough were seen.
    pub fn offer(&mut self, raw_block: &[u8]) -> Option<SharedDictionary> {
        let room = DICTIONARY_BYTES - self.sample.len();
        self.sample
            .extend_from_slice(&raw_block[..raw_block.len().min(room)]);
        (self.sample.len() == DICTIONARY_BYTES)
            .then(|| SharedDictionary::new(self.id, std::mem::take(&mut self.sample)))
    }
}
