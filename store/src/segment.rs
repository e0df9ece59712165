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
//! `oculus.segment.v1.SegmentIndex` listing every block's offset and summary (counts,
//! time range, services; indexes sealed before services were added say so with
//! `has_services` unset, and their blocks' services are read from the blocks). A
//! DICTIONARY payload is a zstd raw-content dictionary (see `dictionary.rs`); it comes
//! before the first block that needs it, once per segment.
//!
//! Within version 1 the block schema only grows, and readers accept every form written
//! so far: log records' times first lived in each record (fields 2 and 3) and now live
//! in the block's log time columns (fields 12 and 13); a block uses the columns when
//! they hold one entry per record. `store/fixtures/v1` holds both forms.
//!
//! Record times are chains of offsets from the block's base time, one chain per kind
//! of record (spans, log records), so a block that mixes them reads back exactly (see
//! `block.rs`). The collector has only ever written one kind per block, whose bytes
//! are the same either way. Before this was settled, `BlockBuilder` chained both kinds
//! together: mixed blocks it built then (in tests and benchmark data sets, never by
//! the collector) read back shifted.
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
//! - A reader of an active segment treats an incomplete last frame as "not yet". Only
//!   the last segment of a session that has not recorded its end can be active: one
//!   with a successor was sealed before it was created, so without its footer it was
//!   cut short (see `datadir.rs`).
//! - The header and footer carry their own checksums: damage to either is reported, and
//!   readers still walk the frames.
//!
//! # Where the code is
//! This module is the segment file: its writer and its whole-file readers. The header,
//! frames and footer are encoded and verified in `frame.rs`, compressed in
//! `compression.rs`, and walked in `walk.rs`, for the scan here and for the tail;
//! `block_reader.rs` reads one block by its offset.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::compression::{EncodedBlock, RawBlock, decompress, dictionary_frame, segment_frame};
use crate::error::{Corruption, CorruptionKind, StoreError};
use crate::failpoint;
use crate::frame::{FOOTER_LEN, Footer, FrameKind, HEADER_LEN, SegmentHeader, len_u32, read_frame};
use crate::proto::{Block, BlockSummary, SegmentIndex};
use crate::walk::{FrameWalker, Step};

/// The file name extension of segments.
pub const SEGMENT_EXTENSION: &str = "oseg";

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
///
/// A failed append is cut back to where the segment ended. If that cut fails too,
/// the writer is poisoned: it refuses every later append and the seal, as they would
/// follow a partial frame, until the segment is reopened (recovery at the next start
/// cuts the partial frame and seals it).
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
    /// A failed append left bytes that could not be cut.
    poisoned: bool,
    /// The index and footer are written.
    sealed: bool,
}

impl SegmentWriter {
    /// Creates a new segment; fails if the file already exists.
    pub fn create(
        path: &Path,
        header: SegmentHeader,
        fsync: FsyncPolicy,
    ) -> Result<Self, StoreError> {
        let io = |source| StoreError::io(path, source);
        let mut file = failpoint::check("segment::create")
            .and_then(|()| {
                File::options()
                    .write(true)
                    .create_new(true)
                    .mode(crate::permissions::PRIVATE_FILE_MODE)
                    .open(path)
            })
            .map_err(io)?;
        let started = file.write_all(&header.encode()).map_err(io).and_then(|()| {
            if fsync == FsyncPolicy::Always {
                failpoint::check("segment::sync")
                    .and_then(|()| file.sync_data())
                    .map_err(io)?;
                // The file's name must survive a power loss too, not only its bytes.
                if let Some(dir) = path.parent() {
                    sync_dir(dir).map_err(|e| StoreError::io(dir, e))?;
                }
            }
            Ok(())
        });
        if let Err(error) = started {
            // Nothing was accepted into it: a half-made segment would later sit before
            // its successor without a footer, as if cut short. If even the removal
            // fails, readers report exactly that.
            let _ = std::fs::remove_file(path);
            return Err(error);
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            header,
            len: HEADER_LEN as u64,
            index: Vec::new(),
            fsync,
            dictionaries: Vec::new(),
            poisoned: false,
            sealed: false,
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
        failpoint::check("recovery::resume")
            .and_then(|()| file.set_len(valid_len))
            .map_err(io)?;
        let mut writer = Self {
            path: path.to_path_buf(),
            file,
            header,
            len: valid_len,
            index,
            fsync,
            dictionaries: Vec::new(),
            poisoned: false,
            sealed: false,
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

    /// A failed append could not be cut back: the writer takes no more appends.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn refuse_if_poisoned(&self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// After a failed write: cuts the file back to where the last whole frame ended, so
    /// that the next write starts on a frame boundary, or poisons the writer if that
    /// fails too. Returns the error to report.
    fn cut_back(&mut self, write: std::io::Error) -> StoreError {
        use std::io::Seek;
        let cut = failpoint::check("segment::cut")
            .and_then(|()| self.file.set_len(self.len))
            .and_then(|()| self.file.seek(std::io::SeekFrom::Start(self.len)));
        match cut {
            Ok(_) => StoreError::io(&self.path, write),
            Err(cut) => {
                self.poisoned = true;
                StoreError::CutFailed {
                    path: self.path.clone(),
                    write,
                    cut,
                }
            }
        }
    }

    /// A poisoned writer's last chance: cuts and seals the segment through a handle of
    /// its own, as recovery would at the next start.
    pub fn salvage(self) -> Result<SealedSegment, StoreError> {
        let mut fresh = Self::resume(&self.path, self.header, self.len, self.index, self.fsync)?;
        fresh.seal()
    }

    /// Appends blocks and hands them to the OS (and disk, per the fsync policy).
    /// On failure nothing partial is left behind: the file is cut back to where it was,
    /// or, if that fails too, the writer is poisoned (see [`SegmentWriter`]).
    pub fn append(&mut self, blocks: &[EncodedBlock]) -> Result<(), StoreError> {
        self.refuse_if_poisoned()?;
        if self.sealed {
            return Err(StoreError::Sealed {
                path: self.path.clone(),
            });
        }
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
            let mut summary = block.summary.clone();
            summary.offset = offset;
            offset += block.frame.len() as u64;
            buffer.extend_from_slice(&block.frame);
            summaries.push(summary);
        }
        let written = failpoint::check("segment::append")
            .and_then(|()| self.file.write_all(&buffer))
            .and_then(|()| {
                if self.fsync == FsyncPolicy::Always {
                    failpoint::check("segment::sync").and_then(|()| self.file.sync_data())
                } else {
                    Ok(())
                }
            });
        if let Err(write) = written {
            // A failed write (a full disk) may leave part of a frame.
            return Err(self.cut_back(write));
        }
        self.len = offset;
        self.index.extend(summaries);
        self.dictionaries.extend(new_dictionaries);
        Ok(())
    }

    /// Appends the index and the footer; the segment takes no more appends afterwards.
    /// On failure nothing partial is left behind, as for [`Self::append`], and sealing
    /// can be tried again.
    pub fn seal(&mut self) -> Result<SealedSegment, StoreError> {
        self.refuse_if_poisoned()?;
        if !self.sealed {
            let io = |source| StoreError::io(&self.path, source);
            let index = SegmentIndex {
                blocks: self.index.clone(),
                has_services: true,
            };
            let frame = segment_frame(FrameKind::Index, 0, &index.encode_to_vec()).map_err(io)?;
            let footer = Footer {
                index_offset: self.len,
                index_frame_len: len_u32(frame.len()).map_err(io)?,
            };
            let mut tail = frame;
            tail.extend_from_slice(&footer.encode());
            let written = failpoint::check("segment::seal")
                .and_then(|()| self.file.write_all(&tail))
                .and_then(|()| {
                    if self.fsync == FsyncPolicy::Never {
                        Ok(())
                    } else {
                        failpoint::check("segment::sync").and_then(|()| self.file.sync_data())
                    }
                });
            if let Err(write) = written {
                return Err(self.cut_back(write));
            }
            self.len += tail.len() as u64;
            self.sealed = true;
        }
        // Tried again on a second call: the file is sealed, but its name may not be
        // on disk yet.
        if self.fsync != FsyncPolicy::Never
            && let Some(dir) = self.path.parent()
        {
            sync_dir(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        Ok(SealedSegment {
            path: self.path.clone(),
            len_bytes: self.len,
            blocks: self.index.len(),
        })
    }
}

/// Flushes a directory's entries (new files, removed files) to disk.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    failpoint::check("dir::sync")?;
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

/// One item produced while reading a segment without decoding its blocks.
#[derive(Debug)]
pub enum RawItem<'a> {
    Block(RawBlock<'a>),
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

/// What [`SegmentBytes::scan_raw`] found: a [`Scan`] without block summaries, as it
/// decodes no block to summarise.
#[derive(Debug, Default)]
pub struct RawScan {
    pub header: Option<SegmentHeader>,
    /// End of the last valid frame: where a torn tail starts.
    pub valid_len: u64,
    /// The segment ends in an incomplete or damaged tail with no valid frame after it.
    pub torn_tail: bool,
    /// Damage with valid frames after it.
    pub damage: Vec<Corruption>,
    pub footer: Option<Footer>,
    pub sealed_index: Option<SegmentIndex>,
}

impl Scan {
    fn new(raw: RawScan, blocks: Vec<BlockSummary>) -> Self {
        let RawScan {
            header,
            valid_len,
            torn_tail,
            damage,
            footer,
            sealed_index,
        } = raw;
        Self {
            header,
            blocks,
            valid_len,
            torn_tail,
            damage,
            footer,
            sealed_index,
        }
    }
}

/// Reads a whole segment from bytes (a memory map or a buffer).
#[derive(Debug)]
pub struct SegmentBytes<'a> {
    path: &'a Path,
    data: &'a [u8],
    finished: bool,
    /// Where the segment starts in the file at `path`: 0, or its place in an archive.
    base: u64,
}

impl<'a> SegmentBytes<'a> {
    pub fn new(path: &'a Path, data: &'a [u8]) -> Self {
        Self {
            path,
            data,
            finished: false,
            base: 0,
        }
    }

    /// Says where the segment starts within the file at `path` (an archive holds many),
    /// so that damage is reported at its offset in that file.
    #[must_use]
    pub fn based_at(mut self, base: u64) -> Self {
        self.base = base;
        self
    }

    /// Says whether the segment's session went on past it (a `SegmentFile` knows): a
    /// finished segment without its footer was cut short, which is damage, not an open
    /// tail.
    #[must_use]
    pub fn finished(mut self, finished: bool) -> Self {
        self.finished = finished;
        self
    }

    fn corruption(&self, offset: usize, kind: CorruptionKind) -> Corruption {
        Corruption::new(self.path, self.base + offset as u64, kind)
    }

    /// Walks every frame from the header on, verifying and decoding each, and
    /// resynchronising after damage.
    pub fn scan(&self, mut on_item: impl FnMut(SegmentItem)) -> Scan {
        let mut blocks = Vec::new();
        let raw = self.walk(|item| {
            match item {
                RawItem::Block(raw) => {
                    let (summary, block) = raw.decode()?;
                    blocks.push(summary.clone());
                    on_item(SegmentItem::Block { summary, block });
                }
                RawItem::Corrupt(corruption) => on_item(SegmentItem::Corrupt(corruption)),
            }
            Ok(())
        });
        Scan::new(raw, blocks)
    }

    /// [`Self::scan`] for a reader of the blocks' protobuf bytes: blocks are
    /// decompressed, not decoded.
    pub fn scan_raw(&self, mut on_item: impl FnMut(RawItem<'_>)) -> RawScan {
        self.walk(|item| {
            on_item(item);
            Ok(())
        })
    }

    /// The walk both scans share. `on_item` says why a block cannot be read, if it
    /// cannot (damage at its frame, reported back to `on_item`); its result for
    /// damage is not used.
    fn walk(&self, mut on_item: impl FnMut(RawItem<'_>) -> Result<(), CorruptionKind>) -> RawScan {
        let mut scan = RawScan::default();
        match SegmentHeader::decode(self.data) {
            Ok(Some(header)) => scan.header = Some(header),
            Ok(None) => {
                scan.torn_tail = !self.data.is_empty();
                self.classify_end(&mut scan, None, CorruptionKind::TruncatedFrame);
                return scan;
            }
            // A verified header of another version: its frames may mean other things.
            Err(kind @ CorruptionKind::UnsupportedVersion(_)) => {
                scan.damage.push(self.corruption(0, kind));
                return scan;
            }
            // Every frame carries its own checksum: a damaged header costs the header.
            Err(kind) => self.report(&mut scan, &mut on_item, 0, kind),
        }
        scan.footer = Footer::find(self.data);
        let data_end = match scan.footer {
            Some(footer) => footer.index_offset as usize,
            None => self.data.len(),
        };
        let data = &self.data[..data_end.max(HEADER_LEN)];
        let mut walker = FrameWalker::default();
        let mut offset = HEADER_LEN;
        scan.valid_len = offset as u64;
        // What ended the scan early, for a segment that must not end so.
        let mut tail_kind = CorruptionKind::TruncatedFrame;
        // Where the last INDEX frame ended: its footer follows, or sealing was cut short.
        let mut index_end = None;
        loop {
            // After damage `next` is where a verified frame starts, and the step at it
            // moves `valid_len` to its end: setting it to `next` loses nothing.
            match walker.step(data, offset) {
                Step::Block { next, raw } => {
                    let raw = RawBlock {
                        offset: offset as u64,
                        frame_bytes: (next - offset) as u32,
                        raw,
                    };
                    if let Err(kind) = on_item(RawItem::Block(raw)) {
                        self.report(&mut scan, &mut on_item, offset, kind);
                    }
                    offset = next;
                }
                Step::Dictionary { next } => offset = next,
                Step::Index { next } => {
                    index_end = Some(next);
                    offset = next;
                }
                Step::Damage { kind, next } => {
                    self.report(&mut scan, &mut on_item, offset, kind);
                    offset = next;
                }
                Step::End => break,
                Step::Incomplete => {
                    scan.torn_tail = true;
                    break;
                }
                Step::DamagedEnd { kind, .. } => {
                    tail_kind = kind;
                    scan.torn_tail = true;
                    break;
                }
            }
            scan.valid_len = offset as u64;
        }
        if let Some(footer) = scan.footer {
            let offset = footer.index_offset as usize;
            match index_at(self.data, offset) {
                Ok(index) => scan.sealed_index = Some(index),
                Err(kind) => scan.damage.push(self.corruption(offset, kind)),
            }
        }
        self.classify_end(&mut scan, index_end, tail_kind);
        scan
    }

    /// Decides what an end without a valid footer is: an open tail only while the
    /// segment may still be written (the last of a session that was not closed).
    fn classify_end(
        &self,
        scan: &mut RawScan,
        index_end: Option<usize>,
        tail_kind: CorruptionKind,
    ) {
        let end = scan.valid_len as usize;
        if scan.footer.is_some() {
            // A torn tail in a sealed segment is damage: the footer says it is complete.
            if scan.torn_tail {
                scan.torn_tail = false;
                scan.damage.push(self.corruption(end, tail_kind));
            }
            return;
        }
        // The index and its footer are written in one go: a whole index followed by
        // footer-sized bytes that do not verify is a damaged footer, not a torn seal.
        if index_end == Some(end) && self.data.len() - end == FOOTER_LEN {
            scan.torn_tail = false;
            scan.damage
                .push(self.corruption(end, CorruptionKind::DamagedFooter));
            return;
        }
        if self.finished {
            scan.torn_tail = false;
            scan.damage
                .push(self.corruption(end, CorruptionKind::MissingFooter));
        }
    }

    /// Damage with valid frames after it, for the scan's list and its caller.
    fn report(
        &self,
        scan: &mut RawScan,
        on_item: &mut impl FnMut(RawItem<'_>) -> Result<(), CorruptionKind>,
        offset: usize,
        kind: CorruptionKind,
    ) {
        let corruption = self.corruption(offset, kind);
        scan.damage.push(corruption.clone());
        // A damage item has no error of its own.
        let _ = on_item(RawItem::Corrupt(corruption));
    }

    /// The index of a sealed segment, read through the footer without a scan.
    pub fn index(&self) -> Option<Result<SegmentIndex, Corruption>> {
        let footer = Footer::find(self.data)?;
        let offset = footer.index_offset as usize;
        Some(index_at(self.data, offset).map_err(|kind| self.corruption(offset, kind)))
    }
}

/// Reads and decodes the INDEX frame that starts at `offset`.
fn index_at(data: &[u8], offset: usize) -> Result<SegmentIndex, CorruptionKind> {
    let frame = read_frame(data, offset).verified(CorruptionKind::TruncatedIndex)?;
    if frame.kind != FrameKind::Index {
        return Err(CorruptionKind::UnexpectedFrameKind(frame.kind as u8));
    }
    SegmentIndex::decode(decompress(&frame)?.as_slice())
        .map_err(|e| CorruptionKind::Decode(e.to_string()))
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
    let io = |source| StoreError::io(path, source);
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    index_within(path, &file, 0, len)
}

/// [`read_index`] of the segment that lies `len` bytes from `base` in `file` (at
/// `path`): a file of its own (`base` 0), or one of an archive's segments.
pub(crate) fn index_within(
    path: &Path,
    file: &File,
    base: u64,
    len: u64,
) -> Result<Option<SegmentIndex>, StoreError> {
    use std::os::unix::fs::FileExt;
    let io = |source| StoreError::io(path, source);
    if len < (HEADER_LEN + FOOTER_LEN) as u64 {
        return Ok(None);
    }
    let mut tail = [0u8; FOOTER_LEN];
    file.read_exact_at(&mut tail, base + len - FOOTER_LEN as u64)
        .map_err(io)?;
    let Some(footer) = Footer::decode(&tail) else {
        return Ok(None);
    };
    let corruption = |kind| Corruption::new(path, base + footer.index_offset, kind);
    let index_end = footer
        .index_offset
        .checked_add(u64::from(footer.index_frame_len));
    if index_end != Some(len - FOOTER_LEN as u64) {
        return Err(corruption(CorruptionKind::TruncatedIndex).into());
    }
    let mut frame = vec![0; footer.index_frame_len as usize];
    file.read_exact_at(&mut frame, base + footer.index_offset)
        .map_err(io)?;
    index_at(&frame, 0)
        .map(Some)
        .map_err(|kind| corruption(kind).into())
}

/// Damage in the header of the segment at `path`, reading only the header: for readers
/// that reach a sealed segment's blocks through its index and never walk the header.
pub fn header_damage(path: &Path) -> Result<Option<Corruption>, StoreError> {
    let io = |source| StoreError::io(path, source);
    let file = File::open(path).map_err(io)?;
    header_damage_within(path, &file, 0)
}

/// [`header_damage`] of the segment that starts at `base` in `file` (at `path`).
pub(crate) fn header_damage_within(
    path: &Path,
    file: &File,
    base: u64,
) -> Result<Option<Corruption>, StoreError> {
    use std::os::unix::fs::FileExt;
    let mut header = [0u8; HEADER_LEN];
    let read = file
        .read_at(&mut header, base)
        .map_err(|e| StoreError::io(path, e))?;
    Ok(SegmentHeader::decode(&header[..read])
        .err()
        .map(|kind| Corruption::new(path, base, kind)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::encode_block;

    /// A writer whose every write fails with a full disk and whose cut fails too:
    /// `/dev/full` takes no `write` and cannot be truncated.
    fn writer_on_dev_full() -> SegmentWriter {
        let path = Path::new("/dev/full");
        SegmentWriter {
            path: path.to_path_buf(),
            file: File::options()
                .write(true)
                .open(path)
                .expect("open /dev/full"),
            header: SegmentHeader {
                sequence: 1,
                created_unix_nano: 0,
            },
            len: HEADER_LEN as u64,
            index: Vec::new(),
            fsync: FsyncPolicy::Never,
            dictionaries: Vec::new(),
            poisoned: false,
            sealed: false,
        }
    }

    #[test]
    fn a_failed_append_that_cannot_be_cut_poisons_the_writer() {
        let block = encode_block(&Block::default(), 1).expect("encode");
        let mut writer = writer_on_dev_full();
        let error = writer
            .append(std::slice::from_ref(&block))
            .expect_err("/dev/full takes no write");
        assert!(
            matches!(&error, StoreError::CutFailed { write, .. }
                if write.kind() == std::io::ErrorKind::StorageFull),
            "{error}"
        );
        assert!(error.is_storage_full());
        assert!(
            error
                .to_string()
                .contains("cutting back the partial frame failed too")
        );
        assert!(writer.is_poisoned());
        assert_eq!(writer.block_count(), 0);

        let error = writer.append(&[block]).expect_err("poisoned");
        assert!(matches!(error, StoreError::Poisoned { .. }), "{error}");
        let error = writer.seal().expect_err("poisoned");
        assert!(matches!(error, StoreError::Poisoned { .. }), "{error}");
    }
}
