//! The segment file: an append-only sequence of checksummed, zstd-compressed frames.
//!
//! # Layout (format version 1, all integers little-endian)
//!
//! ```text
//! SegmentHeader (32 bytes)
//!     magic              [u8; 8] = b"OCULUSSG"
//!     version            u16     = 1
//!     header_len         u16     = 32
//!     sequence           u32     segment number within its session, from 1
//!     created_unix_nano  u64
//!     reserved           u32     = 0
//!     crc32c             u32     over the 28 bytes before it
//! Frame* (each: 20-byte header + payload)
//!     magic              [u8; 4] = b"OCFR"
//!     kind               u8      1 = BLOCK, 2 = INDEX, 3 = DICTIONARY
//!     codec              u8      0 = none, 1 = zstd, 2 = zstd with a dictionary
//!     dictionary         u16     DICTIONARY: its id; codec 2: the id it needs; else 0
//!     payload_len        u32     bytes of payload on disk
//!     raw_len            u32     bytes of payload once decompressed
//!     crc32c             u32     over the 16 header bytes before it, then the payload
//!     payload            [u8; payload_len]
//! SegmentFooter (24 bytes, sealed segments only; follows the INDEX frame)
//!     index_offset       u64     where the INDEX frame starts
//!     index_frame_len    u32     header + payload bytes of the INDEX frame
//!     crc32c             u32     over the 12 bytes before it
//!     magic              [u8; 8] = b"OCSGEND1"
//! ```
//!
//! A BLOCK payload is a `oculus.segment.v1.Block`; an INDEX payload is a
//! `oculus.segment.v1.SegmentIndex` listing every block's offset and summary. A
//! DICTIONARY payload is a zstd raw-content dictionary (see `dictionary.rs`); it comes
//! before the first block that needs it, once per segment.
//!
//! Within version 1 the block schema only grows, and readers accept every form written
//! so far: log records' times first lived in each record (fields 2 and 3) and now live
//! in the block's log time columns (fields 12 and 13); a block uses the columns when
//! they hold one entry per record. `store/fixtures/v1` holds both forms.
//!
//! # Design constraints
//! - Every frame is checksummed; a reader never trusts bytes it has not verified.
//! - Blocks are self-contained (see the schema), so a damaged frame loses one block.
//!   The one exception is a damaged DICTIONARY frame: the blocks of that segment
//!   compressed with it cannot be read. It is small and written once per segment.
//! - Frames start with a magic, so a reader can resynchronise after damage.
//! - A segment is only appended to while active. Sealing appends the index and the
//!   footer; nothing written before is ever rewritten. Only sealed segments may be
//!   memory-mapped; the active one is read with `pread`, so a torn tail cut during
//!   recovery can never fault a reader.
//! - A reader of an active segment treats an incomplete last frame as "not yet".

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::dictionary::{FrameDecoder, SharedDictionary};
use crate::error::{Corruption, CorruptionKind, StoreError};
use crate::proto::{Block, BlockSummary, SegmentIndex};

pub const SEGMENT_MAGIC: [u8; 8] = *b"OCULUSSG";
pub const FORMAT_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 32;
pub const FRAME_MAGIC: [u8; 4] = *b"OCFR";
pub const FRAME_HEADER_LEN: usize = 20;
pub const FOOTER_MAGIC: [u8; 8] = *b"OCSGEND1";
pub const FOOTER_LEN: usize = 24;
/// The file name extension of segments.
pub const SEGMENT_EXTENSION: &str = "oseg";
/// No legitimate frame is this large; a bigger length is damage, not data.
pub const MAX_FRAME_RAW_BYTES: u32 = 1 << 30;

/// What a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    Block = 1,
    Index = 2,
    Dictionary = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    None = 0,
    Zstd = 1,
    ZstdWithDictionary = 2,
}

/// The fixed header at the start of every segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub sequence: u32,
    pub created_unix_nano: u64,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[10..12].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        out[12..16].copy_from_slice(&self.sequence.to_le_bytes());
        out[16..24].copy_from_slice(&self.created_unix_nano.to_le_bytes());
        let crc = crc32c::crc32c(&out[0..28]);
        out[28..32].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses a header; `None` means the file is too short to hold one yet.
    pub fn decode(data: &[u8]) -> Result<Option<Self>, CorruptionKind> {
        if data.len() < HEADER_LEN {
            return Ok(None);
        }
        if data[0..8] != SEGMENT_MAGIC {
            return Err(CorruptionKind::NotASegment);
        }
        let version = u16::from_le_bytes([data[8], data[9]]);
        if version != FORMAT_VERSION {
            return Err(CorruptionKind::UnsupportedVersion(version));
        }
        if crc32c::crc32c(&data[0..28]) != read_u32(data, 28) {
            return Err(CorruptionKind::HeaderChecksum);
        }
        Ok(Some(Self {
            sequence: read_u32(data, 12),
            created_unix_nano: read_u64(data, 16),
        }))
    }
}

fn read_u32(data: &[u8], at: usize) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&data[at..at + 4]);
    u32::from_le_bytes(bytes)
}

fn read_u64(data: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&data[at..at + 8]);
    u64::from_le_bytes(bytes)
}

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
        let frame = compressed
            .and_then(|_| frame_bytes(FrameKind::Block, codec, dictionary_id, &scratch, raw.len()));
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
fn dictionary_frame(dictionary: &SharedDictionary) -> std::io::Result<Vec<u8>> {
    let compressed = zstd::bulk::compress(dictionary.raw(), 3)?;
    frame_bytes(
        FrameKind::Dictionary,
        Codec::Zstd,
        dictionary.id(),
        &compressed,
        dictionary.raw().len(),
    )
}

fn len_u32(len: usize) -> std::io::Result<u32> {
    u32::try_from(len)
        .ok()
        .filter(|len| *len <= MAX_FRAME_RAW_BYTES)
        .ok_or_else(|| std::io::Error::other(format!("block of {len} bytes is too large")))
}

pub(crate) fn frame_bytes(
    kind: FrameKind,
    codec: Codec,
    dictionary: u16,
    payload: &[u8],
    raw_len: usize,
) -> std::io::Result<Vec<u8>> {
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    frame.extend_from_slice(&FRAME_MAGIC);
    frame.push(kind as u8);
    frame.push(codec as u8);
    frame.extend_from_slice(&dictionary.to_le_bytes());
    frame.extend_from_slice(&len_u32(payload.len())?.to_le_bytes());
    frame.extend_from_slice(&len_u32(raw_len)?.to_le_bytes());
    let mut crc = crc32c::crc32c(&frame);
    crc = crc32c::crc32c_append(crc, payload);
    frame.extend_from_slice(&crc.to_le_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// A verified frame borrowed from the segment bytes.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub offset: usize,
    pub kind: FrameKind,
    pub(crate) codec: Codec,
    /// The dictionary this frame is (kind DICTIONARY) or needs (codec 2).
    pub(crate) dictionary: u16,
    pub(crate) raw_len: usize,
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// The dictionary this frame carries (DICTIONARY) or needs (0 when none).
    pub fn dictionary(&self) -> u16 {
        self.dictionary
    }

    pub fn end(&self) -> usize {
        self.offset + FRAME_HEADER_LEN + self.payload.len()
    }

    /// The payload, decompressed; a frame that needs a dictionary goes through
    /// [`FrameDecoder`] instead.
    pub fn raw(&self) -> Result<Vec<u8>, CorruptionKind> {
        match self.codec {
            Codec::None => Ok(self.payload.to_vec()),
            Codec::Zstd => {
                let raw = zstd::bulk::decompress(self.payload, self.raw_len)
                    .map_err(|e| CorruptionKind::Decompress(e.to_string()))?;
                self.check_len(raw)
            }
            Codec::ZstdWithDictionary => Err(CorruptionKind::MissingDictionary(self.dictionary)),
        }
    }

    pub(crate) fn check_len_of(&self, raw: &[u8]) -> Result<(), CorruptionKind> {
        if raw.len() == self.raw_len {
            Ok(())
        } else {
            Err(CorruptionKind::Decompress(format!(
                "{} bytes instead of {}",
                raw.len(),
                self.raw_len
            )))
        }
    }

    pub(crate) fn check_len(&self, raw: Vec<u8>) -> Result<Vec<u8>, CorruptionKind> {
        self.check_len_of(&raw)?;
        Ok(raw)
    }

    pub fn index(&self) -> Result<SegmentIndex, CorruptionKind> {
        if self.kind != FrameKind::Index {
            return Err(CorruptionKind::UnexpectedFrameKind(self.kind as u8));
        }
        SegmentIndex::decode(self.raw()?.as_slice())
            .map_err(|e| CorruptionKind::Decode(e.to_string()))
    }
}

/// The outcome of reading one frame at an offset.
#[derive(Debug)]
pub enum FrameRead<'a> {
    Complete(Frame<'a>),
    /// The bytes end inside this frame: on an active segment, "not yet".
    Incomplete,
    Corrupt(CorruptionKind),
}

/// Reads and verifies the frame starting at `offset`.
pub fn read_frame(data: &[u8], offset: usize) -> FrameRead<'_> {
    let Some(header) = data.get(offset..offset + FRAME_HEADER_LEN) else {
        // A partial header is only "not yet" if what is there could be a header.
        let rest = data.get(offset..).unwrap_or_default();
        let magic_len = rest.len().min(FRAME_MAGIC.len());
        return if rest[..magic_len] == FRAME_MAGIC[..magic_len] {
            FrameRead::Incomplete
        } else {
            FrameRead::Corrupt(CorruptionKind::BadFrameMagic)
        };
    };
    if header[0..4] != FRAME_MAGIC {
        return FrameRead::Corrupt(CorruptionKind::BadFrameMagic);
    }
    let kind = match header[4] {
        1 => FrameKind::Block,
        2 => FrameKind::Index,
        3 => FrameKind::Dictionary,
        other => return FrameRead::Corrupt(CorruptionKind::UnexpectedFrameKind(other)),
    };
    let codec = match header[5] {
        0 => Codec::None,
        1 => Codec::Zstd,
        2 => Codec::ZstdWithDictionary,
        other => return FrameRead::Corrupt(CorruptionKind::UnknownCodec(other)),
    };
    let dictionary = u16::from_le_bytes([header[6], header[7]]);
    let payload_len = read_u32(header, 8);
    let raw_len = read_u32(header, 12);
    if payload_len > MAX_FRAME_RAW_BYTES || raw_len > MAX_FRAME_RAW_BYTES {
        return FrameRead::Corrupt(CorruptionKind::FrameTooLarge(payload_len.max(raw_len)));
    }
    let start = offset + FRAME_HEADER_LEN;
    let Some(payload) = data.get(start..start + payload_len as usize) else {
        return FrameRead::Incomplete;
    };
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[0..16]), payload);
    if crc != read_u32(header, 16) {
        return FrameRead::Corrupt(CorruptionKind::FrameChecksum);
    }
    FrameRead::Complete(Frame {
        offset,
        kind,
        codec,
        dictionary,
        raw_len: raw_len as usize,
        payload,
    })
}

/// Finds the next verifiable frame after damage at `after`, if any.
/// Returns `Err(offset)` of a plausible frame that is still incomplete.
pub fn resync(data: &[u8], after: usize) -> Option<Result<Frame<'_>, usize>> {
    let mut from = after + 1;
    while let Some(found) = data
        .get(from..)
        .and_then(|rest| memchr::memmem::find(rest, &FRAME_MAGIC))
    {
        let at = from + found;
        match read_frame(data, at) {
            FrameRead::Complete(frame) => return Some(Ok(frame)),
            FrameRead::Incomplete => return Some(Err(at)),
            FrameRead::Corrupt(_) => from = at + 1,
        }
    }
    None
}

/// The decoded footer of a sealed segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    pub index_offset: u64,
    pub index_frame_len: u32,
}

impl Footer {
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = [0u8; FOOTER_LEN];
        out[0..8].copy_from_slice(&self.index_offset.to_le_bytes());
        out[8..12].copy_from_slice(&self.index_frame_len.to_le_bytes());
        let crc = crc32c::crc32c(&out[0..12]);
        out[12..16].copy_from_slice(&crc.to_le_bytes());
        out[16..24].copy_from_slice(&FOOTER_MAGIC);
        out
    }

    /// Parses the last `FOOTER_LEN` bytes of a file, if they are a valid footer.
    pub fn decode(tail: &[u8]) -> Option<Self> {
        if tail.len() != FOOTER_LEN
            || tail[16..24] != FOOTER_MAGIC
            || crc32c::crc32c(&tail[0..12]) != read_u32(tail, 12)
        {
            return None;
        }
        Some(Self {
            index_offset: read_u64(tail, 0),
            index_frame_len: read_u32(tail, 8),
        })
    }

    /// The footer at the end of `data`, if the segment is sealed.
    pub fn find(data: &[u8]) -> Option<Self> {
        let start = data.len().checked_sub(FOOTER_LEN)?;
        let footer = Self::decode(&data[start..])?;
        let consistent = footer
            .index_offset
            .checked_add(u64::from(footer.index_frame_len))
            .is_some_and(|end| end == start as u64);
        consistent.then_some(footer)
    }
}

/// When the writer asks the OS to put bytes on stable storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Bytes are handed to the OS before a request is acknowledged: they survive a
    /// crash of the collector, not a power loss. The default.
    #[default]
    Never,
    /// `fdatasync` before every acknowledgement: survives power loss, costs a disk flush.
    Always,
    /// `fdatasync` when a segment is sealed: a power loss may lose the active segment.
    OnSeal,
}

/// Appends frames to one segment file.
#[derive(Debug)]
pub struct SegmentWriter {
    path: PathBuf,
    file: File,
    header: SegmentHeader,
    len: u64,
    index: Vec<BlockSummary>,
    fsync: FsyncPolicy,
    /// Dictionaries already written to this segment.
    dictionaries: Vec<u16>,
}

impl SegmentWriter {
    /// Creates a new segment; fails if the file already exists.
    pub fn create(
        path: &Path,
        header: SegmentHeader,
        fsync: FsyncPolicy,
    ) -> Result<Self, StoreError> {
        let io = |source| StoreError::io(path, source);
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io)?;
        file.write_all(&header.encode()).map_err(io)?;
        if fsync == FsyncPolicy::Always {
            file.sync_data().map_err(io)?;
            // The file's name must survive a power loss too, not only its bytes.
            if let Some(dir) = path.parent() {
                sync_dir(dir).map_err(|e| StoreError::io(dir, e))?;
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            header,
            len: HEADER_LEN as u64,
            index: Vec::new(),
            fsync,
            dictionaries: Vec::new(),
        })
    }

    /// Reopens an unsealed segment to seal it after its valid frames end at `valid_len`.
    /// Bytes past `valid_len` are a torn tail no reader can have accepted.
    pub(crate) fn resume(
        path: &Path,
        header: SegmentHeader,
        valid_len: u64,
        index: Vec<BlockSummary>,
        fsync: FsyncPolicy,
    ) -> Result<Self, StoreError> {
        let io = |source| StoreError::io(path, source);
        let file = File::options().write(true).open(path).map_err(io)?;
        file.set_len(valid_len).map_err(io)?;
        let mut writer = Self {
            path: path.to_path_buf(),
            file,
            header,
            len: valid_len,
            index,
            fsync,
            dictionaries: Vec::new(),
        };
        use std::io::Seek;
        writer
            .file
            .seek(std::io::SeekFrom::Start(valid_len))
            .map_err(io)?;
        Ok(writer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> SegmentHeader {
        self.header
    }

    pub fn len_bytes(&self) -> u64 {
        self.len
    }

    pub fn block_count(&self) -> usize {
        self.index.len()
    }

    /// Appends blocks and hands them to the OS (and disk, per the fsync policy).
    /// On failure nothing partial is left behind: the file is cut back to where it was.
    pub fn append(&mut self, blocks: &[EncodedBlock]) -> Result<(), StoreError> {
        let mut buffer = Vec::with_capacity(blocks.iter().map(|b| b.frame.len()).sum());
        let mut offset = self.len;
        let mut summaries = Vec::with_capacity(blocks.len());
        let mut new_dictionaries = Vec::new();
        for block in blocks {
            if let Some(dictionary) = &block.dictionary
                && !self.dictionaries.contains(&dictionary.id())
                && !new_dictionaries.contains(&dictionary.id())
            {
                let frame =
                    dictionary_frame(dictionary).map_err(|e| StoreError::io(&self.path, e))?;
                offset += frame.len() as u64;
                buffer.extend_from_slice(&frame);
                new_dictionaries.push(dictionary.id());
            }
            let mut summary = block.summary;
            summary.offset = offset;
            offset += block.frame.len() as u64;
            buffer.extend_from_slice(&block.frame);
            summaries.push(summary);
        }
        let written = self.file.write_all(&buffer).and_then(|()| {
            if self.fsync == FsyncPolicy::Always {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(source) = written {
            // A failed write (a full disk) may leave part of a frame; cut it so the
            // next append starts on a frame boundary again.
            let _ = self.file.set_len(self.len);
            use std::io::Seek;
            let _ = self.file.seek(std::io::SeekFrom::Start(self.len));
            return Err(StoreError::io(&self.path, source));
        }
        self.len = offset;
        self.index.extend(summaries);
        self.dictionaries.extend(new_dictionaries);
        Ok(())
    }

    /// Appends the index and the footer. The segment is immutable afterwards.
    pub fn seal(mut self) -> Result<SealedSegment, StoreError> {
        let io = |source| StoreError::io(&self.path, source);
        let index = SegmentIndex {
            blocks: std::mem::take(&mut self.index),
        };
        let raw = index.encode_to_vec();
        let compressed = zstd::bulk::compress(&raw, 3).map_err(io)?;
        let frame =
            frame_bytes(FrameKind::Index, Codec::Zstd, 0, &compressed, raw.len()).map_err(io)?;
        let footer = Footer {
            index_offset: self.len,
            index_frame_len: len_u32(frame.len()).map_err(io)?,
        };
        let mut tail = frame;
        tail.extend_from_slice(&footer.encode());
        self.file.write_all(&tail).map_err(io)?;
        if self.fsync != FsyncPolicy::Never {
            self.file.sync_data().map_err(io)?;
            if let Some(dir) = self.path.parent() {
                sync_dir(dir).map_err(|e| StoreError::io(dir, e))?;
            }
        }
        self.len += tail.len() as u64;
        Ok(SealedSegment {
            path: self.path,
            len_bytes: self.len,
            blocks: index.blocks.len(),
        })
    }
}

/// Flushes a directory's entries (new files, removed files) to disk.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What sealing produced.
#[derive(Clone, Debug)]
pub struct SealedSegment {
    pub path: PathBuf,
    pub len_bytes: u64,
    pub blocks: usize,
}

/// One item produced while reading a segment.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one item per block, moved straight into a callback; boxing would only add an allocation"
)]
pub enum SegmentItem {
    Block { summary: BlockSummary, block: Block },
    Corrupt(Corruption),
}

/// What a scan of the whole segment found.
#[derive(Debug, Default)]
pub struct Scan {
    pub header: Option<SegmentHeader>,
    /// Summaries of the valid blocks, in file order.
    pub blocks: Vec<BlockSummary>,
    /// End of the last valid frame: where a torn tail starts.
    pub valid_len: u64,
    /// The segment ends in an incomplete or damaged tail with no valid frame after it.
    pub torn_tail: bool,
    /// Damage with valid frames after it.
    pub damage: Vec<Corruption>,
    pub footer: Option<Footer>,
    pub sealed_index: Option<SegmentIndex>,
}

/// Reads a whole segment from bytes (a memory map or a buffer).
#[derive(Debug)]
pub struct SegmentBytes<'a> {
    path: &'a Path,
    data: &'a [u8],
}

impl<'a> SegmentBytes<'a> {
    pub fn new(path: &'a Path, data: &'a [u8]) -> Self {
        Self { path, data }
    }

    fn corruption(&self, offset: usize, kind: CorruptionKind) -> Corruption {
        Corruption {
            path: self.path.to_path_buf(),
            offset: offset as u64,
            kind,
        }
    }

    /// Walks every frame from the header on, verifying and decoding each, and
    /// resynchronising after damage.
    pub fn scan(&self, mut on_block: impl FnMut(SegmentItem)) -> Scan {
        let mut scan = Scan::default();
        match SegmentHeader::decode(self.data) {
            Ok(Some(header)) => scan.header = Some(header),
            Ok(None) => {
                scan.torn_tail = !self.data.is_empty();
                return scan;
            }
            Err(kind) => {
                scan.damage.push(self.corruption(0, kind));
                return scan;
            }
        }
        scan.footer = Footer::find(self.data);
        let data_end = match scan.footer {
            Some(footer) => footer.index_offset as usize,
            None => self.data.len(),
        };
        let data = &self.data[..data_end.max(HEADER_LEN)];
        let mut decoder = FrameDecoder::default();
        let mut offset = HEADER_LEN;
        scan.valid_len = offset as u64;
        // What ended the scan early, for a sealed segment that must not end so.
        let mut tail_kind = CorruptionKind::TruncatedFrame;
        while offset < data.len() {
            match read_frame(data, offset) {
                FrameRead::Complete(frame) => {
                    offset = frame.end();
                    scan.valid_len = offset as u64;
                    match frame.kind {
                        // An index without a footer: sealing was cut short.
                        FrameKind::Index => continue,
                        FrameKind::Dictionary => {
                            if let Err(kind) = decoder.learn(&frame) {
                                let corruption = self.corruption(frame.offset, kind);
                                scan.damage.push(corruption.clone());
                                on_block(SegmentItem::Corrupt(corruption));
                            }
                            continue;
                        }
                        FrameKind::Block => {}
                    }
                    match decoder.block(&frame) {
                        Ok(block) => {
                            let mut summary = crate::block::summarize(&block);
                            summary.offset = frame.offset as u64;
                            summary.frame_bytes = (frame.end() - frame.offset) as u32;
                            summary.uncompressed_bytes = frame.raw_len as u32;
                            scan.blocks.push(summary);
                            on_block(SegmentItem::Block { summary, block });
                        }
                        Err(kind) => {
                            let corruption = self.corruption(frame.offset, kind);
                            scan.damage.push(corruption.clone());
                            on_block(SegmentItem::Corrupt(corruption));
                        }
                    }
                }
                // A frame reaching past the end is a torn tail only if no valid frame
                // follows; otherwise its length is damaged, and stopping here would
                // lose (and recovery would cut) every later block.
                FrameRead::Incomplete => match resync(data, offset) {
                    Some(Ok(next)) => {
                        let corruption = self.corruption(offset, CorruptionKind::TruncatedFrame);
                        scan.damage.push(corruption.clone());
                        on_block(SegmentItem::Corrupt(corruption));
                        offset = next.offset;
                    }
                    Some(Err(_)) | None => {
                        scan.torn_tail = true;
                        break;
                    }
                },
                FrameRead::Corrupt(kind) => match resync(data, offset) {
                    Some(Ok(next)) => {
                        let corruption = self.corruption(offset, kind);
                        scan.damage.push(corruption.clone());
                        on_block(SegmentItem::Corrupt(corruption));
                        offset = next.offset;
                    }
                    Some(Err(_)) | None => {
                        tail_kind = kind;
                        scan.torn_tail = true;
                        break;
                    }
                },
            }
        }
        if let Some(footer) = scan.footer {
            match read_frame(self.data, footer.index_offset as usize) {
                FrameRead::Complete(frame) => match frame.index() {
                    Ok(index) => scan.sealed_index = Some(index),
                    Err(kind) => scan.damage.push(self.corruption(frame.offset, kind)),
                },
                FrameRead::Incomplete => scan.damage.push(
                    self.corruption(footer.index_offset as usize, CorruptionKind::TruncatedIndex),
                ),
                FrameRead::Corrupt(kind) => scan
                    .damage
                    .push(self.corruption(footer.index_offset as usize, kind)),
            }
        }
        // A torn tail in a sealed segment is damage: the footer says it is complete.
        if scan.footer.is_some() && scan.torn_tail {
            scan.torn_tail = false;
            scan.damage
                .push(self.corruption(scan.valid_len as usize, tail_kind));
        }
        scan
    }

    /// The index of a sealed segment, read through the footer without a scan.
    pub fn index(&self) -> Option<Result<SegmentIndex, Corruption>> {
        let footer = Footer::find(self.data)?;
        let offset = footer.index_offset as usize;
        Some(match read_frame(self.data, offset) {
            FrameRead::Complete(frame) => {
                frame.index().map_err(|kind| self.corruption(offset, kind))
            }
            FrameRead::Incomplete => Err(self.corruption(offset, CorruptionKind::TruncatedIndex)),
            FrameRead::Corrupt(kind) => Err(self.corruption(offset, kind)),
        })
    }
}

/// Reads a whole segment file: memory-mapped when sealed, read into memory otherwise.
pub fn read_segment(path: &Path) -> Result<SegmentData, StoreError> {
    let io = |source| StoreError::io(path, source);
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    // Only a sealed segment is immutable, and only an immutable file is safe to map.
    if has_footer(&file, len).map_err(io)? {
        #[expect(
            unsafe_code,
            reason = "sealed segments are never modified after sealing"
        )]
        // SAFETY: sealed segments are immutable; they may be deleted, which
        // keeps the mapping valid on Unix.
        // Populated in one call: readers go through the whole file, and one fault
        // per page costs more than the reading.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.map_err(io)?;
        return Ok(SegmentData::Mapped(map));
    }
    let mut data = Vec::with_capacity(len as usize);
    use std::io::Read;
    (&file).read_to_end(&mut data).map_err(io)?;
    Ok(SegmentData::Read(data))
}

/// The index of a sealed segment, read through its footer alone (`None` when the
/// segment is not sealed).
pub fn read_index(path: &Path) -> Result<Option<SegmentIndex>, StoreError> {
    use std::os::unix::fs::FileExt;
    let io = |source| StoreError::io(path, source);
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len < (HEADER_LEN + FOOTER_LEN) as u64 {
        return Ok(None);
    }
    let mut tail = [0u8; FOOTER_LEN];
    file.read_exact_at(&mut tail, len - FOOTER_LEN as u64)
        .map_err(io)?;
    let Some(footer) = Footer::decode(&tail) else {
        return Ok(None);
    };
    let corruption = |kind| Corruption {
        path: path.to_path_buf(),
        offset: footer.index_offset,
        kind,
    };
    if footer.index_offset + u64::from(footer.index_frame_len) + FOOTER_LEN as u64 != len {
        return Err(corruption(CorruptionKind::TruncatedIndex).into());
    }
    let mut frame = vec![0; footer.index_frame_len as usize];
    file.read_exact_at(&mut frame, footer.index_offset)
        .map_err(io)?;
    match read_frame(&frame, 0) {
        FrameRead::Complete(frame) => frame
            .index()
            .map(Some)
            .map_err(|kind| corruption(kind).into()),
        FrameRead::Incomplete => Err(corruption(CorruptionKind::TruncatedIndex).into()),
        FrameRead::Corrupt(kind) => Err(corruption(kind).into()),
    }
}

/// Whether the segment at `path` ends in a valid footer, reading only the footer.
pub fn is_sealed(path: &Path) -> Result<bool, StoreError> {
    let io = |source| StoreError::io(path, source);
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    has_footer(&file, len).map_err(io)
}

fn has_footer(file: &File, len: u64) -> std::io::Result<bool> {
    if len < (HEADER_LEN + FOOTER_LEN) as u64 {
        return Ok(false);
    }
    let mut tail = [0u8; FOOTER_LEN];
    use std::os::unix::fs::FileExt;
    file.read_exact_at(&mut tail, len - FOOTER_LEN as u64)?;
    Ok(Footer::decode(&tail).is_some())
}

/// The bytes of a segment file.
#[derive(Debug)]
pub enum SegmentData {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for SegmentData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(map) => map,
            Self::Read(data) => data,
        }
    }
}
