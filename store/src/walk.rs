//! The one walk over a segment's frames, shared by the whole-file scan, the tail and
//! the block reader: each step verifies the frame at an offset, learns dictionaries,
//! decompresses blocks, and after damage finds the next frame to go on from.

use crate::compression::FrameDecoder;
use crate::error::CorruptionKind;
use crate::frame::{Frame, FrameKind, FrameRead, read_frame, resync};

/// What the walk found at the offset it was asked about.
#[derive(Debug)]
pub enum Step<'a> {
    /// A verified BLOCK frame; `raw` is the `Block`'s protobuf encoding.
    Block { next: usize, raw: &'a [u8] },
    /// A verified DICTIONARY frame, now learned.
    Dictionary { next: usize },
    /// A verified INDEX frame: the segment is being sealed.
    Index { next: usize },
    /// Damage here; the walk goes on at `next`, past a verified frame whose content
    /// cannot be read or at the next verified frame after damaged bytes.
    Damage { kind: CorruptionKind, next: usize },
    /// The bytes end here, at a frame boundary.
    End,
    /// The bytes end inside this frame and no verified frame follows: "not yet" on
    /// an active segment, a torn tail on a finished one.
    Incomplete,
    /// Damage here, and no verified frame follows it. `incomplete_next` is where a
    /// frame starts that is still incomplete, if one does.
    DamagedEnd {
        kind: CorruptionKind,
        incomplete_next: Option<usize>,
    },
}

/// Walks the frames of one segment, keeping the dictionaries met so far and a
/// buffer that blocks are decompressed into, both reused from step to step.
#[derive(Debug, Default)]
pub struct FrameWalker {
    decoder: FrameDecoder,
    raw: Vec<u8>,
}

impl FrameWalker {
    /// The step at `offset` of `data`, which holds the segment's bytes from a frame
    /// boundary on.
    pub fn step<'a>(&'a mut self, data: &'a [u8], offset: usize) -> Step<'a> {
        let frame = match locate(data, offset) {
            Ok(frame) => frame,
            Err(step) => return step,
        };
        let next = frame.end();
        match frame.kind {
            FrameKind::Index => Step::Index { next },
            FrameKind::Dictionary => match self.decoder.learn(&frame) {
                Ok(()) => Step::Dictionary { next },
                Err(kind) => Step::Damage { kind, next },
            },
            FrameKind::Block => match self.decompress_block(&frame) {
                Ok(()) => Step::Block {
                    next,
                    raw: &self.raw,
                },
                Err(kind) => Step::Damage { kind, next },
            },
        }
    }

    /// Walks `data` as [`Self::step`] does, learning its dictionaries but leaving
    /// its blocks compressed. Returns where the walk stopped: the end of `data`, or
    /// where it cannot go on without more bytes, for a later walk to start from.
    pub fn learn_dictionaries(&mut self, data: &[u8]) -> usize {
        let mut offset = 0;
        loop {
            match locate(data, offset) {
                Ok(frame) => {
                    // A damaged dictionary is skipped: the blocks that need it say so.
                    if frame.kind == FrameKind::Dictionary {
                        let _ = self.decoder.learn(&frame);
                    }
                    offset = frame.end();
                }
                Err(Step::Damage { next, .. }) => offset = next,
                Err(_) => return offset,
            }
        }
    }

    /// Decompresses a verified BLOCK frame into [`Self::block`].
    pub fn decompress_block(&mut self, frame: &Frame<'_>) -> Result<(), CorruptionKind> {
        self.decoder.raw_block_into(frame, &mut self.raw)
    }

    /// The block that [`Self::decompress_block`] last decompressed: its protobuf bytes.
    pub fn block(&self) -> &[u8] {
        &self.raw
    }
}

/// The verified frame at `offset`, or the step that says why none is there and
/// where the walk goes on.
fn locate(data: &[u8], offset: usize) -> Result<Frame<'_>, Step<'static>> {
    if offset >= data.len() {
        return Err(Step::End);
    }
    match read_frame(data, offset) {
        FrameRead::Complete(frame) => Ok(frame),
        // A frame reaching past the end is incomplete only if no valid frame
        // follows; otherwise its length is damaged, and stopping here would
        // lose every later block (and recovery would cut them).
        FrameRead::Incomplete => Err(match resync(data, offset) {
            Some(Ok(frame)) => Step::Damage {
                kind: CorruptionKind::TruncatedFrame,
                next: frame.offset,
            },
            Some(Err(_)) | None => Step::Incomplete,
        }),
        FrameRead::Corrupt(kind) => Err(match resync(data, offset) {
            Some(Ok(frame)) => Step::Damage {
                kind,
                next: frame.offset,
            },
            Some(Err(at)) => Step::DamagedEnd {
                kind,
                incomplete_next: Some(at),
            },
            None => Step::DamagedEnd {
                kind,
                incomplete_next: None,
            },
        }),
    }
}
