//! Reading one block by where its frame starts, as an index or an earlier read said,
//! learning the segment's dictionaries the first time a block needs one.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::compression::RawBlock;
use crate::error::{Corruption, CorruptionKind, StoreError};
use crate::frame::{HEADER_LEN, read_frame};
use crate::proto::Block;
use crate::walk::FrameWalker;

/// The bytes of a segment, as a block reader asks for them.
pub trait SegmentSource {
    /// `len` bytes from `offset`, or fewer where the source ends.
    fn bytes_at(&self, offset: u64, len: usize) -> std::io::Result<Cow<'_, [u8]>>;
}

/// A segment in memory (mapped or read).
impl SegmentSource for [u8] {
    fn bytes_at(&self, offset: u64, len: usize) -> std::io::Result<Cow<'_, [u8]>> {
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|offset| self.get(offset..))
            .unwrap_or_default();
        Ok(Cow::Borrowed(&rest[..len.min(rest.len())]))
    }
}

/// A segment that may still grow, read with `pread` so that a tail cut by recovery
/// is an error rather than a fault.
impl SegmentSource for File {
    fn bytes_at(&self, offset: u64, len: usize) -> std::io::Result<Cow<'_, [u8]>> {
        let mut bytes = vec![0; len];
        self.read_exact_at(&mut bytes, offset)?;
        Ok(Cow::Owned(bytes))
    }
}

/// Reads blocks of one segment in any order.
#[derive(Debug)]
pub struct BlockReader {
    path: PathBuf,
    /// Where the segment starts within the file at `path` (see [`Self::based_at`]).
    base: u64,
    walker: FrameWalker,
    /// The frame boundary up to which the segment's dictionaries are learned.
    learned_to: u64,
}

impl BlockReader {
    /// A reader of the segment at `path`, which errors name.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            base: 0,
            walker: FrameWalker::default(),
            learned_to: HEADER_LEN as u64,
        }
    }

    /// Says where the segment starts within the file at `path` (an archive holds
    /// many), so that damage is reported at its offset in that file. Offsets asked
    /// for stay the segment's own.
    #[must_use]
    pub fn based_at(mut self, base: u64) -> Self {
        self.base = base;
        self
    }

    /// The block whose frame of `frame_bytes` starts at `offset`, decompressed.
    /// An offset where no block starts is damage, never another block.
    pub fn raw_block<S: SegmentSource + ?Sized>(
        &mut self,
        source: &S,
        offset: u64,
        frame_bytes: u32,
    ) -> Result<RawBlock<'_>, StoreError> {
        let bytes = source
            .bytes_at(offset, frame_bytes as usize)
            .map_err(|e| StoreError::io(&self.path, e))?;
        let corruption = |kind| Corruption::new(&self.path, self.base + offset, kind);
        let frame = read_frame(&bytes, 0)
            .verified(CorruptionKind::TruncatedFrame)
            .map_err(corruption)?;
        match self.walker.decompress_block(&frame) {
            // Dictionaries come before the first block that needs them: a reader that
            // has not met them yet finds them there, walking as the scan does, so a
            // dictionary after damage is learned too.
            Err(CorruptionKind::MissingDictionary(_)) if self.learned_to < offset => {
                let before = source
                    .bytes_at(self.learned_to, (offset - self.learned_to) as usize)
                    .map_err(|e| StoreError::io(&self.path, e))?;
                self.learned_to += self.walker.learn_dictionaries(&before) as u64;
                self.walker.decompress_block(&frame).map_err(corruption)?;
            }
            result => result.map_err(corruption)?,
        }
        Ok(RawBlock {
            offset,
            frame_bytes: (frame.end() - frame.offset) as u32,
            raw: self.walker.block(),
        })
    }

    /// The walker holding the dictionaries this reader knows, for a tail to walk with.
    pub(crate) fn walker(&mut self) -> &mut FrameWalker {
        &mut self.walker
    }

    /// [`Self::raw_block`], decoded.
    pub fn block<S: SegmentSource + ?Sized>(
        &mut self,
        source: &S,
        offset: u64,
        frame_bytes: u32,
    ) -> Result<Block, StoreError> {
        let decoded = self.raw_block(source, offset, frame_bytes)?.decode();
        let at = self.base + offset;
        let (_, block) = decoded.map_err(|kind| Corruption::new(&self.path, at, kind))?;
        Ok(block)
    }
}
