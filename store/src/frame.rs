//! The fixed-layout parts of a segment file (its header, its frames and its footer):
//! encoding them, verifying them, and finding the next frame after damage.
//!
//! The layout they follow is in the `segment` module's documentation.

use crate::error::CorruptionKind;

pub const SEGMENT_MAGIC: [u8; 8] = *b"OCULUSSG";
pub const FORMAT_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 32;
pub const FRAME_MAGIC: [u8; 4] = *b"OCFR";
pub const FRAME_HEADER_LEN: usize = 20;
pub const FOOTER_MAGIC: [u8; 8] = *b"OCSGEND1";
pub const FOOTER_LEN: usize = 24;
/// No legitimate frame is this large; a bigger length is damage, not data.
pub const MAX_FRAME_RAW_BYTES: u32 = 1 << 30;

/// What a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    Block = 1,
    Index = 2,
    Dictionary = 3,
}

/// How a frame's payload is compressed.
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
    ///
    /// The checksum is verified first, so that a flipped bit in the magic or the
    /// version reads as damage (after which readers go on to the frames), and only a
    /// header that verifies can say the file is of another format or version.
    pub fn decode(data: &[u8]) -> Result<Option<Self>, CorruptionKind> {
        if data.len() < HEADER_LEN {
            return Ok(None);
        }
        if crc32c::crc32c(&data[0..28]) != read_u32(data, 28) {
            return Err(CorruptionKind::HeaderChecksum);
        }
        if data[0..8] != SEGMENT_MAGIC {
            return Err(CorruptionKind::NotASegment);
        }
        let version = u16::from_le_bytes([data[8], data[9]]);
        if version != FORMAT_VERSION {
            return Err(CorruptionKind::UnsupportedVersion(version));
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

/// A length as the format stores it, refused when no valid frame could hold it.
pub(crate) fn len_u32(len: usize) -> std::io::Result<u32> {
    u32::try_from(len)
        .ok()
        .filter(|len| *len <= MAX_FRAME_RAW_BYTES)
        .ok_or_else(|| std::io::Error::other(format!("block of {len} bytes is too large")))
}

/// A frame's bytes: its header, then `payload`, which is `raw_len` bytes once
/// decompressed.
pub(crate) fn encode_frame(
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

/// A frame header whose fields are plausible; the payload is not verified yet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameHeader {
    pub(crate) kind: FrameKind,
    codec: Codec,
    dictionary: u16,
    payload_len: u32,
    raw_len: u32,
    crc: u32,
}

impl FrameHeader {
    /// Parses the first [`FRAME_HEADER_LEN`] bytes of `header`.
    pub(crate) fn decode(header: &[u8; FRAME_HEADER_LEN]) -> Result<Self, CorruptionKind> {
        if header[0..4] != FRAME_MAGIC {
            return Err(CorruptionKind::BadFrameMagic);
        }
        let kind = match header[4] {
            1 => FrameKind::Block,
            2 => FrameKind::Index,
            3 => FrameKind::Dictionary,
            other => return Err(CorruptionKind::UnexpectedFrameKind(other)),
        };
        let codec = match header[5] {
            0 => Codec::None,
            1 => Codec::Zstd,
            2 => Codec::ZstdWithDictionary,
            other => return Err(CorruptionKind::UnknownCodec(other)),
        };
        let payload_len = read_u32(header, 8);
        let raw_len = read_u32(header, 12);
        if payload_len > MAX_FRAME_RAW_BYTES || raw_len > MAX_FRAME_RAW_BYTES {
            return Err(CorruptionKind::FrameTooLarge(payload_len.max(raw_len)));
        }
        Ok(Self {
            kind,
            codec,
            dictionary: u16::from_le_bytes([header[6], header[7]]),
            payload_len,
            raw_len,
            crc: read_u32(header, 16),
        })
    }
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

    /// Checks that the decompressed payload has the length the header promised.
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
}

/// The outcome of reading one frame at an offset.
#[derive(Debug)]
pub enum FrameRead<'a> {
    Complete(Frame<'a>),
    /// The bytes end inside this frame: on an active segment, "not yet".
    Incomplete,
    Corrupt(CorruptionKind),
}

impl<'a> FrameRead<'a> {
    /// The frame, for a reader that expects a whole one here; `cut_short` names
    /// what an incomplete frame is to this reader.
    pub fn verified(self, cut_short: CorruptionKind) -> Result<Frame<'a>, CorruptionKind> {
        match self {
            Self::Complete(frame) => Ok(frame),
            Self::Incomplete => Err(cut_short),
            Self::Corrupt(kind) => Err(kind),
        }
    }
}

/// Reads and verifies the frame starting at `offset`.
pub fn read_frame(data: &[u8], offset: usize) -> FrameRead<'_> {
    let Some(header) = data
        .get(offset..offset + FRAME_HEADER_LEN)
        .and_then(|header| <&[u8; FRAME_HEADER_LEN]>::try_from(header).ok())
    else {
        // A partial header is only "not yet" if what is there could be a header.
        let rest = data.get(offset..).unwrap_or_default();
        let magic_len = rest.len().min(FRAME_MAGIC.len());
        return if rest[..magic_len] == FRAME_MAGIC[..magic_len] {
            FrameRead::Incomplete
        } else {
            FrameRead::Corrupt(CorruptionKind::BadFrameMagic)
        };
    };
    let parsed = match FrameHeader::decode(header) {
        Ok(parsed) => parsed,
        Err(kind) => return FrameRead::Corrupt(kind),
    };
    let start = offset + FRAME_HEADER_LEN;
    let Some(payload) = data.get(start..start + parsed.payload_len as usize) else {
        return FrameRead::Incomplete;
    };
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[0..16]), payload);
    if crc != parsed.crc {
        return FrameRead::Corrupt(CorruptionKind::FrameChecksum);
    }
    FrameRead::Complete(Frame {
        offset,
        kind: parsed.kind,
        codec: parsed.codec,
        dictionary: parsed.dictionary,
        raw_len: parsed.raw_len as usize,
        payload,
    })
}

/// Finds the next verifiable frame after damage at `after`, if any.
/// Returns `Err(offset)` of the first plausible frame that is still incomplete when
/// no verifiable frame follows. A frame that reaches past the end with a verifiable
/// one after it has a damaged length: stopping there would lose every later frame.
pub fn resync(data: &[u8], after: usize) -> Option<Result<Frame<'_>, usize>> {
    let mut from = after + 1;
    let mut incomplete = None;
    while let Some(found) = data
        .get(from..)
        .and_then(|rest| memchr::memmem::find(rest, &FRAME_MAGIC))
    {
        let at = from + found;
        match read_frame(data, at) {
            FrameRead::Complete(frame) => return Some(Ok(frame)),
            FrameRead::Incomplete => {
                incomplete.get_or_insert(at);
            }
            FrameRead::Corrupt(_) => {}
        }
        from = at + 1;
    }
    incomplete.map(Err)
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
