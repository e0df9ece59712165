//! Following the active segment while the collector still writes it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::dictionary::FrameDecoder;
use crate::error::{Corruption, CorruptionKind, StoreError};
use crate::proto::{Block, BlockSummary};
use crate::segment::{
    FRAME_HEADER_LEN, FrameKind, FrameRead, HEADER_LEN, SegmentHeader, read_frame, resync,
};

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
    decoder: FrameDecoder,
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct TailPoll {
    pub blocks: Vec<(BlockSummary, Block)>,
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
            decoder: FrameDecoder::default(),
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

    /// Reads what was appended since the last poll.
    pub fn poll(&mut self) -> Result<TailPoll, StoreError> {
        let mut out = TailPoll {
            sealed: self.sealed,
            ..TailPoll::default()
        };
        if self.sealed {
            return Ok(out);
        }
        self.read_new_bytes()?;
        let mut cursor = 0;
        if self.header.is_none() {
            match SegmentHeader::decode(&self.pending) {
                Ok(Some(header)) => {
                    self.header = Some(header);
                    cursor = HEADER_LEN;
                }
                Ok(None) => return Ok(out),
                Err(kind) => return Err(self.corruption(0, kind).into()),
            }
        }
        loop {
            match read_frame(&self.pending, cursor) {
                FrameRead::Complete(frame) => {
                    let offset = self.pos + frame.offset as u64;
                    cursor = frame.end();
                    match frame.kind {
                        FrameKind::Index => {
                            self.sealed = true;
                            out.sealed = true;
                            break;
                        }
                        FrameKind::Dictionary => {
                            if let Err(kind) = self.decoder.learn(&frame) {
                                out.damage.push(self.corruption(offset, kind));
                            }
                            continue;
                        }
                        FrameKind::Block => {}
                    }
                    match self.decoder.block(&frame) {
                        Ok(block) => {
                            let mut summary = crate::block::summarize(&block);
                            summary.offset = offset;
                            summary.frame_bytes = (frame.end() - frame.offset) as u32;
                            out.blocks.push((summary, block));
                        }
                        Err(kind) => out.damage.push(self.corruption(offset, kind)),
                    }
                }
                // A writer only ever leaves its last frame incomplete: one with a
                // valid frame after it has a damaged length and would stall the tail.
                FrameRead::Incomplete => match resync(&self.pending, cursor) {
                    Some(Ok(frame)) => {
                        let offset = self.pos + cursor as u64;
                        if self.reported_damage_at != Some(offset) {
                            self.reported_damage_at = Some(offset);
                            out.damage
                                .push(self.corruption(offset, CorruptionKind::TruncatedFrame));
                        }
                        cursor = frame.offset;
                    }
                    Some(Err(_)) | None => break,
                },
                FrameRead::Corrupt(kind) => {
                    let offset = self.pos + cursor as u64;
                    if self.reported_damage_at != Some(offset) {
                        self.reported_damage_at = Some(offset);
                        out.damage.push(self.corruption(offset, kind));
                    }
                    match resync(&self.pending, cursor) {
                        Some(Ok(frame)) => cursor = frame.offset,
                        Some(Err(at)) => {
                            cursor = at;
                            break;
                        }
                        // Wait for more bytes; the damage is reported once.
                        None => break,
                    }
                }
            }
        }
        self.pending.drain(..cursor);
        self.pos += cursor as u64;
        Ok(out)
    }

    /// Reads again the block whose frame starts at `offset`, which an earlier poll
    /// returned: the viewer keeps only what it lists and fetches the rest on demand.
    pub fn read_block(&mut self, offset: u64, frame_bytes: u32) -> Result<Block, StoreError> {
        let mut bytes = vec![0; frame_bytes as usize];
        self.file
            .read_exact_at(&mut bytes, offset)
            .map_err(|e| StoreError::io(&self.path, e))?;
        match read_frame(&bytes, 0) {
            FrameRead::Complete(frame) => match self.decoder.block(&frame) {
                // A tail opened only to read back blocks has not met the dictionaries.
                Err(CorruptionKind::MissingDictionary(_)) => {
                    self.learn_dictionaries_before(offset)?;
                    self.decoder
                        .block(&frame)
                        .map_err(|kind| self.corruption(offset, kind).into())
                }
                result => result.map_err(|kind| self.corruption(offset, kind).into()),
            },
            FrameRead::Incomplete => Err(self
                .corruption(offset, CorruptionKind::TruncatedFrame)
                .into()),
            FrameRead::Corrupt(kind) => Err(self.corruption(offset, kind).into()),
        }
    }

    /// Walks the frame headers before `end`, loading every dictionary frame.
    fn learn_dictionaries_before(&mut self, end: u64) -> Result<(), StoreError> {
        let mut offset = HEADER_LEN as u64;
        let mut header = [0u8; FRAME_HEADER_LEN];
        while offset < end {
            self.file
                .read_exact_at(&mut header, offset)
                .map_err(|e| StoreError::io(&self.path, e))?;
            let payload_len = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
            let frame_len = FRAME_HEADER_LEN as u64 + u64::from(payload_len);
            if header[4] == FrameKind::Dictionary as u8 {
                let mut bytes = vec![0; frame_len as usize];
                self.file
                    .read_exact_at(&mut bytes, offset)
                    .map_err(|e| StoreError::io(&self.path, e))?;
                if let FrameRead::Complete(frame) = read_frame(&bytes, 0) {
                    self.decoder
                        .learn(&frame)
                        .map_err(|kind| self.corruption(offset, kind))?;
                }
            }
            offset += frame_len;
        }
        Ok(())
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

    fn corruption(&self, offset: u64, kind: CorruptionKind) -> Corruption {
        Corruption {
            path: self.path.clone(),
            offset,
            kind,
        }
    }
}
