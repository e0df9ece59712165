//! Following the active segment while the collector still writes it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::block_reader::BlockReader;
use crate::compression::RawBlock;
use crate::error::{Corruption, CorruptionKind, StoreError};
use crate::frame::{FOOTER_LEN, Footer, HEADER_LEN, SegmentHeader};
use crate::proto::{Block, BlockSummary};
use crate::walk::Step;

/// Reads a segment as it grows, returning each block once it is complete.
///
/// Bytes are read with `pread`, never mapped, so a tail cut by recovery is harmless.
/// An incomplete last frame is "not yet": the next poll picks it up.
#[derive(Debug)]
pub struct SegmentTail {
    path: PathBuf,
    file: File,
    /// File offset of `pending[0]`.
    pos: u64,
    /// Bytes read but not yet consumed as whole frames.
    pending: Vec<u8>,
    header: Option<SegmentHeader>,
    sealed: bool,
    reported_damage_at: Option<u64>,
    /// For blocks read again. The polls walk with its walker, so that a block a poll
    /// decoded reads again with the dictionaries the poll knew: a poll may learn one that
    /// a walk of the whole file never reaches, inside a frame it took for damage while
    /// that frame was incomplete. Those of blocks no poll read, it learns by itself.
    reader: BlockReader,
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct TailPoll {
    pub blocks: Vec<(BlockSummary, Block)>,
    pub damage: Vec<Corruption>,
    /// The segment is sealed: nothing more will be appended.
    pub sealed: bool,
}

/// What [`SegmentTail::poll_raw`] found besides the blocks it handed to its caller.
#[derive(Debug, Default)]
pub struct RawTailPoll {
    pub damage: Vec<Corruption>,
    /// The segment is sealed: nothing more will be appended.
    pub sealed: bool,
}

impl SegmentTail {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            pos: 0,
            pending: Vec::new(),
            header: None,
            sealed: false,
            reported_damage_at: None,
            reader: BlockReader::new(path),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> Option<SegmentHeader> {
        self.header
    }

    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// Where the last whole frame read so far ends: where the next one must start.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Reads what was appended since the last poll.
    pub fn poll(&mut self) -> Result<TailPoll, StoreError> {
        let mut blocks = Vec::new();
        let RawTailPoll { damage, sealed } = self.poll_with(|raw| {
            blocks.push(raw.decode()?);
            Ok(())
        })?;
        Ok(TailPoll {
            blocks,
            damage,
            sealed,
        })
    }

    /// [`Self::poll`] for a reader of the blocks' protobuf bytes: each new block is
    /// handed to `on_block` decompressed, not decoded.
    pub fn poll_raw(
        &mut self,
        mut on_block: impl FnMut(RawBlock<'_>),
    ) -> Result<RawTailPoll, StoreError> {
        self.poll_with(|raw| {
            on_block(raw);
            Ok(())
        })
    }

    /// The poll both share; `on_block` says why a block cannot be read, if it cannot.
    fn poll_with(
        &mut self,
        mut on_block: impl FnMut(RawBlock<'_>) -> Result<(), CorruptionKind>,
    ) -> Result<RawTailPoll, StoreError> {
        let mut out = RawTailPoll {
            sealed: self.sealed,
            ..RawTailPoll::default()
        };
        if self.sealed {
            return Ok(out);
        }
        self.read_new_bytes()?;
        let mut cursor = 0;
        if self.pos == 0 {
            match SegmentHeader::decode(&self.pending) {
                Ok(Some(header)) => self.header = Some(header),
                Ok(None) => return Ok(out),
                // A verified header of another version: its frames may mean other things.
                Err(kind @ CorruptionKind::UnsupportedVersion(_)) => {
                    return Err(Corruption::new(&self.path, 0, kind).into());
                }
                // Every frame carries its own checksum: a damaged header costs the header.
                Err(kind) => self.report_once(&mut out, 0, kind),
            }
            cursor = HEADER_LEN;
        }
        loop {
            let offset = self.pos + cursor as u64;
            match self.reader.walker().step(&self.pending, cursor) {
                Step::Block { next, raw } => {
                    let raw = RawBlock {
                        offset,
                        frame_bytes: (next - cursor) as u32,
                        raw,
                    };
                    if let Err(kind) = on_block(raw) {
                        out.damage.push(Corruption::new(&self.path, offset, kind));
                    }
                    cursor = next;
                }
                Step::Dictionary { next } => cursor = next,
                Step::Index { next } => {
                    // The footer is written with the index; until all of it can be
                    // read, sealing is "not yet".
                    let Some(footer) = self.pending.get(next..next + FOOTER_LEN) else {
                        break;
                    };
                    if Footer::decode(footer).is_none() {
                        let at = self.pos + next as u64;
                        self.report_once(&mut out, at, CorruptionKind::DamagedFooter);
                    }
                    cursor = next + FOOTER_LEN;
                    self.sealed = true;
                    out.sealed = true;
                    break;
                }
                Step::Damage { kind, next } => {
                    self.report_once(&mut out, offset, kind);
                    cursor = next;
                }
                // An incomplete last frame is "not yet": the next poll reads it again.
                Step::End | Step::Incomplete => break,
                Step::DamagedEnd {
                    kind,
                    incomplete_next,
                } => {
                    self.report_once(&mut out, offset, kind);
                    // Otherwise wait for more bytes; the damage is reported once.
                    if let Some(next) = incomplete_next {
                        cursor = next;
                    }
                    break;
                }
            }
        }
        self.pending.drain(..cursor);
        self.pos += cursor as u64;
        Ok(out)
    }

    /// Damage at `offset`, unless the last poll reported it already: a poll that
    /// stops at damage starts there again.
    fn report_once(&mut self, poll: &mut RawTailPoll, offset: u64, kind: CorruptionKind) {
        if self.reported_damage_at != Some(offset) {
            self.reported_damage_at = Some(offset);
            poll.damage.push(Corruption::new(&self.path, offset, kind));
        }
    }

    /// Reads again the block whose frame starts at `offset`, which an earlier poll
    /// returned: the viewer keeps only what it lists and fetches the rest on demand.
    pub fn read_block(&mut self, offset: u64, frame_bytes: u32) -> Result<Block, StoreError> {
        self.reader.block(&self.file, offset, frame_bytes)
    }

    fn read_new_bytes(&mut self) -> Result<(), StoreError> {
        // Re-read from the end of the last whole frame: bytes past it never formed a
        // frame, and recovery after a crash may have cut and rewritten them.
        const CHUNK: usize = 64 << 10;
        self.pending.clear();
        let mut filled = 0;
        loop {
            self.pending.resize(filled + CHUNK, 0);
            let read = self
                .file
                .read_at(&mut self.pending[filled..], self.pos + filled as u64)
                .map_err(|e| StoreError::io(&self.path, e))?;
            if read == 0 {
                break;
            }
            filled += read;
        }
        self.pending.truncate(filled);
        Ok(())
    }
}
