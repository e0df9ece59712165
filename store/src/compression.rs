//! zstd for frames: compressing blocks into frames on the collector's threads, and
//! decompressing frames with the dictionaries a segment carries.

use prost::Message;

use crate::dictionary::SharedDictionary;
use crate::error::CorruptionKind;
use crate::frame::{Codec, Frame, FrameKind, encode_frame, len_u32};
use crate::proto::{Block, BlockSummary};

/// The level of the frames written once per segment (dictionaries, the index).
const SEGMENT_FRAME_LEVEL: i32 = 3;

/// A block compressed and framed, ready to be appended, with its summary.
#[derive(Clone, Debug)]
pub struct EncodedBlock {
    pub frame: Vec<u8>,
    /// `offset` is filled in by the writer.
    pub summary: BlockSummary,
    /// The dictionary the block was compressed with; the writer puts it in the
    /// segment before the block.
    pub dictionary: Option<SharedDictionary>,
}

/// The largest compression buffer a thread keeps between blocks: enough for the
/// usual requests, without pinning the memory of a rare huge one.
const MAX_KEPT_SCRATCH_BYTES: usize = 4 << 20;

/// zstd contexts a thread keeps: one per kind of record (each with its own
/// dictionary) and one without a dictionary.
const KEPT_COMPRESSORS: usize = 4;

/// A zstd context for one level and dictionary.
struct LevelCompressor {
    level: i32,
    /// [`SharedDictionary::serial`], 0 without a dictionary.
    dictionary_serial: u64,
    compressor: zstd::bulk::Compressor<'static>,
}

impl LevelCompressor {
    fn new(level: i32, dictionary: Option<&SharedDictionary>) -> std::io::Result<Self> {
        let compressor = match dictionary {
            Some(dictionary) => {
                let mut compressor =
                    zstd::bulk::Compressor::with_dictionary(level, dictionary.raw())?;
                // Measured per level (BENCHMARKS.md): the fast strategy of levels 1 and
                // 2 copies the dictionary's prepared tables quickest; from level 3 on,
                // loading the small dictionary as a prefix of each block compresses
                // best for no more CPU than attaching or copying.
                let how = if level < 3 {
                    zstd::zstd_safe::DictAttachPref::ForceCopy
                } else {
                    zstd::zstd_safe::DictAttachPref::ForceLoad
                };
                compressor.set_parameter(zstd::zstd_safe::CParameter::ForceAttachDict(how))?;
                compressor
            }
            None => zstd::bulk::Compressor::new(level)?,
        };
        Ok(Self {
            level,
            dictionary_serial: dictionary.map_or(0, SharedDictionary::serial),
            compressor,
        })
    }
}

/// What each thread keeps for compressing blocks.
#[derive(Default)]
struct ThreadCompression {
    /// Most recently used last.
    compressors: Vec<LevelCompressor>,
    /// Where blocks are compressed before their frame is built. Kept from block to
    /// block: a fresh one per block is a large allocation that the allocator keeps
    /// handing back to the kernel and faulting in again.
    scratch: Vec<u8>,
}

impl ThreadCompression {
    /// The context for `level` and `dictionary`, made when the thread has none.
    fn compressor(
        &mut self,
        level: i32,
        dictionary: Option<&SharedDictionary>,
    ) -> std::io::Result<&mut zstd::bulk::Compressor<'static>> {
        let serial = dictionary.map_or(0, SharedDictionary::serial);
        let found = self
            .compressors
            .iter()
            .position(|c| c.level == level && c.dictionary_serial == serial);
        let kept = match found {
            Some(position) => self.compressors.remove(position),
            None => {
                if self.compressors.len() == KEPT_COMPRESSORS {
                    self.compressors.remove(0);
                }
                LevelCompressor::new(level, dictionary)?
            }
        };
        self.compressors.push(kept);
        let last = self.compressors.len() - 1;
        Ok(&mut self.compressors[last].compressor)
    }
}

thread_local! {
    // A zstd context is costly to set up, and loading a dictionary more so: each
    // thread keeps its contexts for the levels and dictionaries it meets.
    static COMPRESSION: std::cell::RefCell<ThreadCompression> =
        std::cell::RefCell::new(ThreadCompression::default());
}

/// Encodes, compresses and frames a block. Runs on the caller's thread, so
/// request handlers compress in parallel and the writer only appends bytes.
pub fn encode_block(block: &Block, zstd_level: i32) -> std::io::Result<EncodedBlock> {
    encode_raw_block(
        &block.encode_to_vec(),
        crate::block::summarize(block),
        zstd_level,
        None,
    )
}

/// Compresses and frames an already encoded `Block`, whose summary the caller knows,
/// with a dictionary when one is given.
pub fn encode_raw_block(
    raw: &[u8],
    mut summary: BlockSummary,
    zstd_level: i32,
    dictionary: Option<&SharedDictionary>,
) -> std::io::Result<EncodedBlock> {
    let (codec, dictionary_id) = match dictionary {
        Some(dictionary) => (Codec::ZstdWithDictionary, dictionary.id()),
        None => (Codec::Zstd, 0),
    };
    let frame = COMPRESSION.with(|cell| {
        let mut thread = cell.borrow_mut();
        let mut scratch = std::mem::take(&mut thread.scratch);
        scratch.clear();
        scratch.reserve(zstd::zstd_safe::compress_bound(raw.len()));
        let compressed = thread
            .compressor(zstd_level, dictionary)
            .and_then(|compressor| compressor.compress_to_buffer(raw, &mut scratch));
        let frame = compressed.and_then(|_| {
            encode_frame(FrameKind::Block, codec, dictionary_id, &scratch, raw.len())
        });
        if scratch.capacity() <= MAX_KEPT_SCRATCH_BYTES {
            thread.scratch = scratch;
        }
        frame
    })?;
    summary.uncompressed_bytes = len_u32(raw.len())?;
    summary.frame_bytes = len_u32(frame.len())?;
    Ok(EncodedBlock {
        frame,
        summary,
        dictionary: dictionary.cloned(),
    })
}

/// The DICTIONARY frame that carries `dictionary` into a segment.
pub(crate) fn dictionary_frame(dictionary: &SharedDictionary) -> std::io::Result<Vec<u8>> {
    segment_frame(FrameKind::Dictionary, dictionary.id(), dictionary.raw())
}

/// A frame written once per segment, compressed without a dictionary.
pub(crate) fn segment_frame(
    kind: FrameKind,
    dictionary: u16,
    raw: &[u8],
) -> std::io::Result<Vec<u8>> {
    let compressed = zstd::bulk::compress(raw, SEGMENT_FRAME_LEVEL)?;
    encode_frame(kind, Codec::Zstd, dictionary, &compressed, raw.len())
}

/// The payload of a frame that needs no dictionary, decompressed.
pub fn decompress(frame: &Frame<'_>) -> Result<Vec<u8>, CorruptionKind> {
    match frame.codec {
        Codec::None => Ok(frame.payload.to_vec()),
        Codec::Zstd => {
            let raw = zstd::bulk::decompress(frame.payload, frame.raw_len)
                .map_err(|e| CorruptionKind::Decompress(e.to_string()))?;
            frame.check_len_of(&raw)?;
            Ok(raw)
        }
        Codec::ZstdWithDictionary => Err(CorruptionKind::MissingDictionary(frame.dictionary)),
    }
}

/// Decompresses the frames of one segment, keeping the dictionaries it has met so far.
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
        let raw = decompress(frame)?;
        let decompressor = zstd::bulk::Decompressor::with_dictionary(&raw)
            .map_err(|e| CorruptionKind::Decompress(e.to_string()))?;
        self.dictionaries.retain(|(id, _)| *id != frame.dictionary);
        self.dictionaries.push((frame.dictionary, decompressor));
        Ok(())
    }

    /// Decompresses a BLOCK frame into `out`: the `Block`'s protobuf encoding.
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

/// A block's decompressed bytes and where its frame is.
#[derive(Clone, Copy, Debug)]
pub struct RawBlock<'a> {
    /// File offset of the block's frame.
    pub offset: u64,
    /// Header and payload bytes of the frame.
    pub frame_bytes: u32,
    /// The `Block`'s protobuf encoding.
    pub raw: &'a [u8],
}

impl RawBlock<'_> {
    /// The decoded block, and its summary with where it is and its sizes.
    pub fn decode(&self) -> Result<(BlockSummary, Block), CorruptionKind> {
        let block = Block::decode(self.raw).map_err(|e| CorruptionKind::Decode(e.to_string()))?;
        let mut summary = crate::block::summarize(&block);
        summary.offset = self.offset;
        summary.frame_bytes = self.frame_bytes;
        summary.uncompressed_bytes = self.raw.len() as u32;
        Ok((summary, block))
    }
}
