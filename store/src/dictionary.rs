//! Compression dictionaries: what one request's block shares with the others.
//!
//! Every block is compressed alone, so that damage stays within one block and any block
//! can be read without the ones before it. Alone, though, a block pays again for what
//! all blocks repeat (attribute values, names, resource attributes). A raw-content
//! dictionary taken from the first blocks of a session gives zstd that context back.
//! The writer puts a DICTIONARY frame in each segment before the first block that needs
//! it; readers load it when they meet it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;

use crate::error::CorruptionKind;
use crate::proto::Block;
use crate::segment::{Codec, Frame, FrameKind};

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

/// Decodes the frames of one segment, keeping the dictionaries it has met so far.
#[derive(Default)]
pub struct FrameDecoder {
    dictionaries: Vec<(u16, zstd::bulk::Decompressor<'static>)>,
    /// For blocks without a dictionary, made once: a context per block costs more
    /// than decompressing a small block.
    plain: Option<zstd::bulk::Decompressor<'static>>,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u16> = self.dictionaries.iter().map(|(id, _)| *id).collect();
        f.debug_struct("FrameDecoder")
            .field("dictionaries", &ids)
            .finish()
    }
}

impl FrameDecoder {
    /// Loads the dictionary a DICTIONARY frame carries.
    pub fn learn(&mut self, frame: &Frame<'_>) -> Result<(), CorruptionKind> {
        if frame.kind != FrameKind::Dictionary {
            return Err(CorruptionKind::UnexpectedFrameKind(frame.kind as u8));
        }
        let raw = frame.raw()?;
        let decompressor = zstd::bulk::Decompressor::with_dictionary(&raw)
            .map_err(|e| CorruptionKind::Decompress(e.to_string()))?;
        self.dictionaries.retain(|(id, _)| *id != frame.dictionary);
        self.dictionaries.push((frame.dictionary, decompressor));
        Ok(())
    }

    /// Decompresses and decodes a BLOCK frame.
    pub fn block(&mut self, frame: &Frame<'_>) -> Result<Block, CorruptionKind> {
        let raw = self.raw_block(frame)?;
        Block::decode(raw.as_slice()).map_err(|e| CorruptionKind::Decode(e.to_string()))
    }

    /// Decompresses a BLOCK frame: the `Block`'s protobuf encoding, for readers that
    /// scan it without building the message.
    pub fn raw_block(&mut self, frame: &Frame<'_>) -> Result<Vec<u8>, CorruptionKind> {
        let mut raw = Vec::new();
        self.raw_block_into(frame, &mut raw)?;
        Ok(raw)
    }

    /// [`Self::raw_block`] into a buffer the caller reuses from block to block.
    pub fn raw_block_into(
        &mut self,
        frame: &Frame<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), CorruptionKind> {
        if frame.kind != FrameKind::Block {
            return Err(CorruptionKind::UnexpectedFrameKind(frame.kind as u8));
        }
        out.clear();
        let decompressor = match frame.codec {
            Codec::ZstdWithDictionary => {
                let (_, decompressor) = self
                    .dictionaries
                    .iter_mut()
                    .find(|(id, _)| *id == frame.dictionary)
                    .ok_or(CorruptionKind::MissingDictionary(frame.dictionary))?;
                decompressor
            }
            Codec::Zstd => match &mut self.plain {
                Some(decompressor) => decompressor,
                None => self.plain.insert(
                    zstd::bulk::Decompressor::new()
                        .map_err(|e| CorruptionKind::Decompress(e.to_string()))?,
                ),
            },
            Codec::None => {
                out.extend_from_slice(frame.payload);
                return frame.check_len_of(out);
            }
        };
        out.reserve(frame.raw_len);
        decompressor
            .decompress_to_buffer(frame.payload, out)
            .map_err(|e| CorruptionKind::Decompress(e.to_string()))?;
        frame.check_len_of(out)
    }
}
