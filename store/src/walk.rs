//! The one walk over a segment's frames, shared by the whole-file scan and the tail:
//! each step verifies the frame at an offset, learns dictionaries, decompresses
//! blocks, and after damage finds the next frame to go on from.

use crate::compression::FrameDecoder;
use crate::error::CorruptionKind;
use crate::frame::{FrameKind, FrameRead, read_frame, resync};

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
        if offset >= data.len() {
            return Step::End;
        }
        match read_frame(data, offset) {
            FrameRead::Complete(frame) => {
                let next = frame.end();
                match frame.kind {
                    FrameKind::Index => Step::Index { next },
                    FrameKind::Dictionary => match self.decoder.learn(&frame) {
                        Ok(()) => Step::Dictionary { next },
                        Err(kind) => Step::Damage { kind, next },
                    },
                    FrameKind::Block => match self.decoder.raw_block_into(&frame, &mut self.raw) {
                        Ok(()) => Step::Block {
                            next,
                            raw: &self.raw,
                        },
                        Err(kind) => Step::Damage { kind, next },
                    },
                }
            }
            // A frame reaching past the end is incomplete only if no valid frame
            // follows; otherwise its length is damaged, and stopping here would
            // lose every later block (and recovery would cut them).
            FrameRead::Incomplete => match resync(data, offset) {
                Some(Ok(frame)) => Step::Damage {
                    kind: CorruptionKind::TruncatedFrame,
                    next: frame.offset,
                },
                Some(Err(_)) | None => Step::Incomplete,
            },
            FrameRead::Corrupt(kind) => match resync(data, offset) {
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
            },
        }
    }
}
