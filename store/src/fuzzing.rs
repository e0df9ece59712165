//! The bodies of the fuzz targets over the store's readers: `fuzz/` runs them under
//! libFuzzer (nightly), and `tests/it/fuzz_corpora.rs` replays their checked-in corpora
//! on stable. Each takes arbitrary bytes and panics when a reader panics or breaks one
//! of the invariants written here; FUZZING.md lists them.
//!
//! Only built with the `fuzzing` feature: this is test code, kept in the crate so that
//! it can walk frames the way the readers do.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;

use crate::block_reader::BlockReader;
use crate::compression::{RawBlock, dictionary_frame, encode_raw_block, segment_frame};
use crate::dictionary::SharedDictionary;
use crate::error::CorruptionKind;
use crate::frame::{
    FOOTER_LEN, FOOTER_MAGIC, FRAME_HEADER_LEN, FRAME_MAGIC, Footer, FrameKind, FrameRead,
    HEADER_LEN, SegmentHeader, read_frame,
};
use crate::proto::{Block, SegmentIndex};
use crate::segment::{RawItem, RawScan, SegmentBytes, header_damage, is_sealed, read_index};
use crate::tail::SegmentTail;

/// The name damage is reported under.
const PATH: &str = "fuzz.oseg";

/// Inputs whose frames claim more than this decompressed are left alone. A frame may
/// hold up to the format's limit (`MAX_FRAME_RAW_BYTES`, 1 GiB), and a crafted one
/// decompresses to that from a few KiB: memory bounded by the format, not the reader.
const MAX_FUZZ_RAW_BYTES: u32 = 1 << 20;

/// The whole-file readers (`SegmentBytes::scan`, `scan_raw`, `index`, as active and as
/// finished) and `BlockReader` over arbitrary bytes, then over the same bytes with
/// every checksum made right ([`with_checksums`]), so that the fuzzer gets past the
/// checksums to the decompressor and the decoder.
pub fn segment_scan(input: &[u8]) {
    if claims_large_frame(input) {
        return;
    }
    check_whole_file_readers(input);
    let fixed = with_checksums(input);
    if fixed != input {
        check_whole_file_readers(&fixed);
    }
}

/// `SegmentTail` following the bytes as they are appended to a file, a chunk at a
/// time, then the file readers (`read_index`, `header_damage`, `is_sealed`).
///
/// The first byte is the plan: its low six bits pick two chunk sizes that alternate,
/// and its high bit leaves the checksums as they are (otherwise they are made right).
pub fn segment_tail(input: &[u8]) {
    let Some((&plan, segment)) = input.split_first() else {
        return;
    };
    if claims_large_frame(segment) {
        return;
    }
    let data = if plan & 0x80 == 0 {
        with_checksums(segment)
    } else {
        segment.to_vec()
    };
    const CHUNKS: [usize; 8] = [1, 3, 19, 20, 21, 32, 333, 4096];
    // At most about 64 polls: each rereads what is past the last whole frame.
    let least = data.len() / 64 + 1;
    let chunks = [
        CHUNKS[usize::from(plan & 7)],
        CHUNKS[usize::from(plan >> 3 & 7)],
    ];
    let file = TempSegment::new();
    let mut appender = File::create(&file.0).expect("create the segment file");
    let mut tail = SegmentTail::open(&file.0).expect("open the segment file");
    let mut seen = TailSeen::default();
    let mut written = 0;
    let mut round = 0;
    loop {
        let end = data.len().min(written + chunks[round % 2].max(least));
        appender
            .write_all(&data[written..end])
            .expect("append to the segment file");
        written = end;
        round += 1;
        seen.poll(&mut tail, written);
        if written == data.len() {
            break;
        }
    }
    // A poll that stops at damage before an incomplete frame goes on from that frame
    // at the next poll: poll until the position settles.
    for _ in 0..data.len() + 1 {
        let before = tail.position();
        seen.poll(&mut tail, written);
        if tail.position() == before {
            break;
        }
    }
    let path = Path::new(PATH);
    let dictionaries_unique = dictionary_ids_are_unique(&data);
    for block in &seen.blocks {
        // A block read again by its offset is the block the poll returned.
        let again = tail.read_block(block.offset, block.frame_bytes);
        if let (Some(decoded), true) = (&block.decoded, dictionaries_unique) {
            let again = again.expect("a polled block reads again by its offset");
            // Compared encoded: a NaN double is not equal to itself.
            assert!(
                again.encode_to_vec() == decoded.encode_to_vec(),
                "block at {} reads back as another",
                block.offset
            );
        }
    }

    // Without an index frame, a footer or frames inside frames, the tail that saw the
    // bytes arrive in chunks and the whole-file scan read the same blocks.
    let scan = scan_raw_offsets(SegmentBytes::new(path, &data));
    let frames = complete_frames(&data);
    let comparable = Footer::find(&data).is_none()
        && !frames.iter().any(|f| f.kind == FrameKind::Index)
        && frames.windows(2).all(|pair| pair[0].end <= pair[1].start);
    if comparable {
        let polled: Vec<(u64, u32)> = seen
            .blocks
            .iter()
            .map(|b| (b.offset, b.frame_bytes))
            .collect();
        assert_eq!(
            polled, scan.1,
            "the tail and the scan read different blocks"
        );
    }

    // The readers that look at a file's header or footer alone.
    let sealed = is_sealed(&file.0).expect("is_sealed reads the file");
    let has_footer =
        data.len() >= HEADER_LEN + FOOTER_LEN && Footer::decode(tail_of(&data)).is_some();
    assert_eq!(sealed, has_footer);
    match read_index(&file.0) {
        Ok(Some(index)) => {
            if !other_version(&data) {
                assert_eq!(Some(index), scan.0.sealed_index);
            }
        }
        Ok(None) => assert!(!has_footer),
        Err(_) => assert!(sealed),
    }
    let damage = header_damage(&file.0).expect("header_damage reads the file");
    assert_eq!(damage.is_some(), SegmentHeader::decode(&data).is_err());
}

/// Damage to a valid segment costs only what it touches: given a base segment (picked
/// by the first byte, which also says whether it is read as finished) and edits
/// (four bytes each: offset, length, byte; a zero length cuts the file there), every
/// block whose frame no edit touched is still read, by the scan and by the tail, with
/// the same bytes; and a finished segment that changed at all reports damage.
pub fn segment_damage(input: &[u8]) {
    let Some((&choice, edits)) = input.split_first() else {
        return;
    };
    let bases = base_segments();
    let base = &bases[usize::from(choice) % bases.len()];
    let finished = choice & 0x80 != 0;
    let mut data = base.bytes.clone();
    let mut touched = vec![false; data.len()];
    for edit in edits.chunks_exact(4) {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % (data.len() + 1);
        let len = usize::from(edit[2]);
        if len == 0 {
            data.truncate(at);
            touched.truncate(at);
            continue;
        }
        let end = data.len().min(at + len);
        for (byte, touched) in data[at..end].iter_mut().zip(&mut touched[at..end]) {
            *byte ^= edit[3];
            *touched |= edit[3] != 0;
        }
    }
    // Edits that form a new frame (or footer) with a valid checksum make another
    // segment, not a damaged one: a reader cannot tell them apart.
    let frames = complete_frames(&data);
    if frames.iter().any(|f| {
        !base
            .frames
            .iter()
            .any(|b| (b.start, b.end) == (f.start, f.end))
    }) || Footer::find(&data).is_some_and(|footer| Some(footer) != Footer::find(&base.bytes))
    {
        return;
    }
    let untouched = |block: &&BaseBlock| {
        block.end <= data.len()
            && !touched[block.start..block.end].iter().any(|t| *t)
            && block.dictionary.is_none_or(|(start, end)| {
                end <= data.len() && !touched[start..end].iter().any(|t| *t)
            })
    };
    let expected: Vec<&BaseBlock> = base.blocks.iter().filter(untouched).collect();

    let path = Path::new(PATH);
    let mut found = Vec::new();
    let scan = SegmentBytes::new(path, &data)
        .finished(finished)
        .scan_raw(|item| {
            if let RawItem::Block(block) = item {
                found.push((block.offset, crc32c::crc32c(block.raw)));
            }
        });
    for block in &expected {
        assert!(
            found.contains(&(block.start as u64, block.raw_crc)),
            "the untouched block at {} was lost: {:?}",
            block.start,
            scan.damage
        );
    }
    if finished && data != base.bytes {
        assert!(!scan.damage.is_empty(), "a changed segment reads as whole");
    }

    let file = TempSegment::new();
    std::fs::write(&file.0, &data).expect("write the segment file");
    let mut tail = SegmentTail::open(&file.0).expect("open the segment file");
    let mut seen = TailSeen::default();
    for _ in 0..data.len() + 1 {
        let before = tail.position();
        seen.poll(&mut tail, data.len());
        if tail.position() == before {
            break;
        }
    }
    for block in &expected {
        assert!(
            seen.blocks
                .iter()
                .any(|b| (b.offset, b.raw_crc) == (block.start as u64, block.raw_crc)),
            "the tail lost the untouched block at {}",
            block.start
        );
    }
}

/// `input` with the checksums of its header, of every frame that fits in it (the
/// innermost first, so that a frame's checksum covers the fixed frames inside it) and
/// of a footer at its end made right.
pub fn with_checksums(input: &[u8]) -> Vec<u8> {
    let mut data = input.to_vec();
    if let Some(start) = data.len().checked_sub(FOOTER_LEN)
        && data[start + 16..] == FOOTER_MAGIC
    {
        let crc = crc32c::crc32c(&data[start..start + 12]);
        data[start + 12..start + 16].copy_from_slice(&crc.to_le_bytes());
    }
    let starts: Vec<usize> = memchr::memmem::find_iter(&data, &FRAME_MAGIC).collect();
    for &at in starts.iter().rev() {
        let Some(header) = data.get(at..at + FRAME_HEADER_LEN) else {
            continue;
        };
        let payload_len = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        let payload_start = at + FRAME_HEADER_LEN;
        let Some(payload) = data.get(payload_start..payload_start + payload_len as usize) else {
            continue;
        };
        let crc = crc32c::crc32c_append(crc32c::crc32c(&data[at..at + 16]), payload);
        data[at + 16..at + 20].copy_from_slice(&crc.to_le_bytes());
    }
    if data.len() >= HEADER_LEN {
        let crc = crc32c::crc32c(&data[..28]);
        data[28..32].copy_from_slice(&crc.to_le_bytes());
    }
    data
}

/// Whether any frame header in `data` claims more than [`MAX_FUZZ_RAW_BYTES`].
fn claims_large_frame(data: &[u8]) -> bool {
    memchr::memmem::find_iter(data, &FRAME_MAGIC).any(|at| {
        data.get(at + 12..at + 16).is_some_and(|raw_len| {
            u32::from_le_bytes([raw_len[0], raw_len[1], raw_len[2], raw_len[3]])
                > MAX_FUZZ_RAW_BYTES
        })
    })
}

/// Whether the header verifies and names another version: the scan stops there, before
/// the footer and the index, which readers of the footer alone still read.
fn other_version(data: &[u8]) -> bool {
    matches!(
        SegmentHeader::decode(data),
        Err(CorruptionKind::UnsupportedVersion(_))
    )
}

/// The last `FOOTER_LEN` bytes, or all of them when fewer.
fn tail_of(data: &[u8]) -> &[u8] {
    &data[data.len().saturating_sub(FOOTER_LEN)..]
}

/// A verified frame found at some occurrence of the frame magic.
#[derive(Clone, Copy, Debug)]
struct FoundFrame {
    start: usize,
    end: usize,
    kind: FrameKind,
    dictionary: u16,
}

/// Every verified frame at any occurrence of the frame magic past the header, whether
/// or not a walk would reach it, in file order.
fn complete_frames(data: &[u8]) -> Vec<FoundFrame> {
    memchr::memmem::find_iter(data, &FRAME_MAGIC)
        .filter(|at| *at >= HEADER_LEN)
        .filter_map(|at| match read_frame(data, at) {
            FrameRead::Complete(frame) => Some(FoundFrame {
                start: at,
                end: frame.end(),
                kind: frame.kind,
                dictionary: frame.dictionary(),
            }),
            FrameRead::Incomplete | FrameRead::Corrupt(_) => None,
        })
        .collect()
}

/// Whether no two verified dictionary frames carry the same id. A writer never writes
/// two; where a crafted segment does, which one a block is decompressed with depends on
/// the order blocks are read in, so readers of it may disagree.
fn dictionary_ids_are_unique(data: &[u8]) -> bool {
    let mut ids: Vec<u16> = complete_frames(data)
        .iter()
        .filter(|f| f.kind == FrameKind::Dictionary)
        .map(|f| f.dictionary)
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    ids.len() == count
}

/// A block as a scan met it: where, and a checksum of its decompressed bytes (a copy
/// could be as large as the format allows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SeenBlock {
    offset: u64,
    frame_bytes: u32,
    raw_len: usize,
    raw_crc: u32,
}

impl SeenBlock {
    fn of(block: &RawBlock<'_>) -> Self {
        Self {
            offset: block.offset,
            frame_bytes: block.frame_bytes,
            raw_len: block.raw.len(),
            raw_crc: crc32c::crc32c(block.raw),
        }
    }
}

/// What `scan_raw` found, with the blocks it handed over and the damage it reported
/// as it went.
fn scan_raw_seen(segment: SegmentBytes<'_>) -> (RawScan, Vec<SeenBlock>, Vec<u64>) {
    let mut blocks = Vec::new();
    let mut reported = Vec::new();
    let scan = segment.scan_raw(|item| match item {
        RawItem::Block(block) => blocks.push(SeenBlock::of(&block)),
        RawItem::Corrupt(corruption) => reported.push(corruption.offset),
    });
    (scan, blocks, reported)
}

fn scan_raw_offsets(segment: SegmentBytes<'_>) -> (RawScan, Vec<(u64, u32)>) {
    let (scan, blocks, _) = scan_raw_seen(segment);
    (
        scan,
        blocks.iter().map(|b| (b.offset, b.frame_bytes)).collect(),
    )
}

fn check_whole_file_readers(data: &[u8]) {
    let path = Path::new(PATH);
    let len = data.len() as u64;
    let (raw, blocks, reported) = scan_raw_seen(SegmentBytes::new(path, data));

    // Where things are: inside the bytes, blocks in file order and apart.
    assert!(
        raw.valid_len <= len,
        "valid_len {} past the end",
        raw.valid_len
    );
    let mut end = HEADER_LEN as u64;
    for block in &blocks {
        assert!(
            block.offset >= end,
            "block at {} overlaps the one before",
            block.offset
        );
        end = block.offset + u64::from(block.frame_bytes);
        assert!(
            end <= raw.valid_len,
            "block at {} ends past valid_len",
            block.offset
        );
        assert!(block.raw_len <= MAX_FUZZ_RAW_BYTES as usize);
    }
    for corruption in &raw.damage {
        assert!(
            corruption.offset <= len,
            "damage at {} past the end",
            corruption.offset
        );
    }
    assert!(reported.len() <= raw.damage.len());
    assert!(
        !(raw.torn_tail && raw.footer.is_some()),
        "a sealed segment has no open tail"
    );
    let other_version = other_version(data);
    if !other_version {
        assert_eq!(raw.footer, Footer::find(data));
    }

    // Read as finished: the same blocks, and an end that is not whole is damage.
    let (finished, finished_blocks, _) =
        scan_raw_seen(SegmentBytes::new(path, data).finished(true));
    assert_eq!(finished_blocks, blocks);
    assert_eq!(finished.valid_len, raw.valid_len);
    assert!(!finished.torn_tail, "a finished segment has no open tail");
    assert!(finished.damage.len() >= raw.damage.len());
    if raw.torn_tail {
        assert!(
            finished.damage.len() > raw.damage.len(),
            "the open tail of a finished segment is not reported as damage"
        );
    }

    // Decoded: the blocks that decode, each with its summary; the others are damage.
    let scan = SegmentBytes::new(path, data).scan(|_| {});
    assert_eq!(scan.valid_len, raw.valid_len);
    assert_eq!(scan.torn_tail, raw.torn_tail);
    assert_eq!(scan.footer, raw.footer);
    assert_eq!(scan.sealed_index, raw.sealed_index);
    let mut decoded = blocks.iter();
    for summary in &scan.blocks {
        let block = decoded
            .find(|b| b.offset == summary.offset)
            .expect("a decoded block is one the raw scan handed over, in order");
        assert_eq!(summary.frame_bytes, block.frame_bytes);
        assert_eq!(summary.uncompressed_bytes as usize, block.raw_len);
    }
    assert_eq!(
        scan.damage.len(),
        raw.damage.len() + blocks.len() - scan.blocks.len(),
        "every block that does not decode is damage"
    );
    match SegmentBytes::new(path, data).index() {
        _ if other_version => {}
        Some(Ok(index)) => assert_eq!(Some(index), raw.sealed_index),
        Some(Err(_)) => assert!(raw.footer.is_some() && raw.sealed_index.is_none()),
        None => assert!(raw.footer.is_none()),
    }

    // Every block reads back by its offset, in file order and in reverse.
    if dictionary_ids_are_unique(data) {
        let mut reader = BlockReader::new(path);
        for block in &blocks {
            let again = reader
                .raw_block(data, block.offset, block.frame_bytes)
                .expect("a scanned block reads back by its offset");
            assert_eq!(SeenBlock::of(&again), *block);
        }
        let mut reader = BlockReader::new(path);
        for block in blocks.iter().rev() {
            let again = reader
                .raw_block(data, block.offset, block.frame_bytes)
                .expect("a scanned block reads back by its offset, last first");
            assert_eq!(SeenBlock::of(&again), *block);
        }
    }
    // Anywhere else, a block read by offset is a verified block frame there, or an error.
    let offsets = memchr::memmem::find_iter(data, &FRAME_MAGIC)
        .take(32)
        .chain([0, HEADER_LEN, data.len()]);
    for at in offsets {
        let mut reader = BlockReader::new(path);
        if let Ok(block) = reader.raw_block(data, at as u64, u32::MAX) {
            let FrameRead::Complete(frame) = read_frame(data, at) else {
                panic!("a block was read at {at}, where no frame is whole");
            };
            assert_eq!(frame.kind, FrameKind::Block);
            assert_eq!(block.frame_bytes as usize, frame.end() - at);
        }
    }
}

/// What a tail's polls returned so far, checked as they come.
#[derive(Default)]
struct TailSeen {
    blocks: Vec<TailBlock>,
    /// Where the last block ended.
    end: u64,
    sealed: bool,
}

struct TailBlock {
    offset: u64,
    frame_bytes: u32,
    raw_crc: u32,
    /// The block, when its bytes decode.
    decoded: Option<Block>,
}

impl TailSeen {
    /// One poll, with `written` bytes in the file.
    fn poll(&mut self, tail: &mut SegmentTail, written: usize) {
        let written = written as u64;
        let mut new = Vec::new();
        let poll = tail
            .poll_raw(|block| {
                new.push(TailBlock {
                    offset: block.offset,
                    frame_bytes: block.frame_bytes,
                    raw_crc: crc32c::crc32c(block.raw),
                    decoded: Block::decode(block.raw).ok(),
                });
            })
            .map_err(|error| error.to_string());
        let poll = match poll {
            Ok(poll) => poll,
            // Only a verified header of another version stops a tail.
            Err(error) => {
                assert!(error.contains("version"), "{error}");
                return;
            }
        };
        if self.sealed {
            assert!(
                new.is_empty() && poll.damage.is_empty(),
                "a sealed tail read on"
            );
        }
        for block in &new {
            assert!(
                block.offset >= self.end.max(HEADER_LEN as u64),
                "block at {} overlaps the one before",
                block.offset
            );
            self.end = block.offset + u64::from(block.frame_bytes);
            assert!(
                self.end <= written,
                "block at {} ends past the file",
                block.offset
            );
        }
        for corruption in &poll.damage {
            assert!(
                corruption.offset <= written,
                "damage at {} past the file",
                corruption.offset
            );
        }
        assert!(tail.position() <= written);
        assert!(
            self.sealed <= poll.sealed,
            "a sealed tail is sealed for good"
        );
        self.sealed = poll.sealed;
        self.blocks.extend(new);
    }
}

/// A file in the temporary directory, removed when dropped.
struct TempSegment(PathBuf);

impl TempSegment {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "oculus-fuzz-{}-{}.oseg",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self(std::env::temp_dir().join(name))
    }
}

impl Drop for TempSegment {
    fn drop(&mut self) {
        // Gone already is fine.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A valid segment and where its frames are.
struct BaseSegment {
    bytes: Vec<u8>,
    frames: Vec<FoundFrame>,
    blocks: Vec<BaseBlock>,
}

struct BaseBlock {
    start: usize,
    end: usize,
    raw_crc: u32,
    /// The dictionary frame it needs, if any.
    dictionary: Option<(usize, usize)>,
}

/// The segments that `segment_damage` damages: the checked-in fixtures, and their
/// blocks written again into one sealed segment, without and with a dictionary.
fn base_segments() -> &'static [BaseSegment] {
    static BASES: OnceLock<Vec<BaseSegment>> = OnceLock::new();
    BASES.get_or_init(|| {
        let fixtures: [&[u8]; 4] = [
            include_bytes!("../fixtures/v1/sealed.oseg"),
            include_bytes!("../fixtures/v1/torn-tail.oseg"),
            include_bytes!("../fixtures/v1/log-time-columns.oseg"),
            include_bytes!("../fixtures/v1/mixed-block.oseg"),
        ];
        let mut raw_blocks = Vec::new();
        for fixture in fixtures {
            SegmentBytes::new(Path::new(PATH), fixture).scan_raw(|item| {
                if let RawItem::Block(block) = item {
                    raw_blocks.push(block.raw.to_vec());
                }
            });
        }
        let sample: Vec<u8> = raw_blocks.concat().into_iter().take(4 << 10).collect();
        let dictionary = SharedDictionary::new(1, sample);
        let mut bases: Vec<Vec<u8>> = vec![
            assemble(&raw_blocks, None),
            assemble(&raw_blocks, Some(&dictionary)),
        ];
        bases.extend(fixtures.iter().map(|fixture| fixture.to_vec()));
        bases.into_iter().map(BaseSegment::new).collect()
    })
}

/// A sealed segment of `blocks` as the writer lays one out.
fn assemble(blocks: &[Vec<u8>], dictionary: Option<&SharedDictionary>) -> Vec<u8> {
    let header = SegmentHeader {
        sequence: 1,
        created_unix_nano: 1_764_086_400_000_000_000,
    };
    let mut bytes = header.encode().to_vec();
    if let Some(dictionary) = dictionary {
        bytes.extend(dictionary_frame(dictionary).expect("frame a dictionary"));
    }
    let mut index = SegmentIndex::default();
    for raw in blocks {
        let (mut summary, _) = RawBlock {
            offset: 0,
            frame_bytes: 0,
            raw,
        }
        .decode()
        .expect("fixture blocks decode");
        let encoded =
            encode_raw_block(raw, summary, 1, dictionary).expect("compress a fixture block");
        summary = encoded.summary;
        summary.offset = bytes.len() as u64;
        index.blocks.push(summary);
        bytes.extend(encoded.frame);
    }
    let index_offset = bytes.len() as u64;
    let frame = segment_frame(FrameKind::Index, 0, &index.encode_to_vec()).expect("frame an index");
    let footer = Footer {
        index_offset,
        index_frame_len: frame.len() as u32,
    };
    bytes.extend(frame);
    bytes.extend(footer.encode());
    bytes
}

impl BaseSegment {
    fn new(bytes: Vec<u8>) -> Self {
        let frames = complete_frames(&bytes);
        let mut blocks = Vec::new();
        SegmentBytes::new(Path::new(PATH), &bytes).scan_raw(|item| {
            if let RawItem::Block(block) = item {
                let start = block.offset as usize;
                let needs = match read_frame(&bytes, start) {
                    FrameRead::Complete(frame) => frame.dictionary(),
                    FrameRead::Incomplete | FrameRead::Corrupt(_) => 0,
                };
                let dictionary = frames
                    .iter()
                    .find(|f| {
                        needs != 0 && f.kind == FrameKind::Dictionary && f.dictionary == needs
                    })
                    .map(|f| (f.start, f.end));
                blocks.push(BaseBlock {
                    start,
                    end: start + block.frame_bytes as usize,
                    raw_crc: crc32c::crc32c(block.raw),
                    dictionary,
                });
            }
        });
        Self {
            bytes,
            frames,
            blocks,
        }
    }
}
