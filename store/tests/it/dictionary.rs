//! Segments whose blocks are compressed with a session dictionary.

use std::path::{Path, PathBuf};

use oculus_store::block::summarize;
use oculus_store::frame::{FrameKind, FrameRead, HEADER_LEN, SegmentHeader, read_frame};
use oculus_store::proto::any_value::Value;
use oculus_store::proto::{AnyValue, Block};
use oculus_store::segment::{FsyncPolicy, SegmentWriter};
use oculus_store::{
    CorruptionKind, EncodedBlock, SegmentTail, SessionWriter, SharedDictionary, WriterOptions,
    check, encode_raw_block, resolve,
};
use prost::Message;

use crate::common::{BASE_TIME_UNIX_NANO, Item, append_raw, encode, sample_block, scan_file};

fn dictionary() -> SharedDictionary {
    let mut raw = Vec::new();
    for seed in 100..110 {
        raw.extend(sample_block(seed).encode_to_vec());
    }
    SharedDictionary::new(1, raw)
}

fn encode_with(block: &Block, dictionary: &SharedDictionary) -> EncodedBlock {
    encode_raw_block(
        &block.encode_to_vec(),
        summarize(block),
        3,
        Some(dictionary),
    )
    .unwrap()
}

/// (kind, dictionary) of every frame in file order.
fn frames(path: &Path) -> Vec<(FrameKind, u16)> {
    let data = std::fs::read(path).unwrap();
    let mut offset = HEADER_LEN;
    let mut frames = Vec::new();
    while let FrameRead::Complete(frame) = read_frame(&data, offset) {
        frames.push((frame.kind, frame.dictionary()));
        offset = frame.end();
    }
    frames
}

fn header() -> SegmentHeader {
    SegmentHeader {
        sequence: 1,
        created_unix_nano: BASE_TIME_UNIX_NANO,
    }
}

/// Blocks 0..3 plain, then 3..9 with the dictionary, each appended on its own.
fn write(path: &Path, dictionary: &SharedDictionary) -> (Vec<Block>, SegmentWriter) {
    let mut writer = SegmentWriter::create(path, header(), FsyncPolicy::Never).unwrap();
    let blocks: Vec<Block> = (0..9).map(sample_block).collect();
    for (seed, block) in blocks.iter().enumerate() {
        let encoded = if seed < 3 {
            encode(block)
        } else {
            encode_with(block, dictionary)
        };
        writer.append(&[encoded]).unwrap();
    }
    (blocks, writer)
}

/// [`write`] into a sealed segment in `dir`.
fn write_sealed(dir: &Path) -> (PathBuf, Vec<Block>) {
    let path = dir.join("segment-00000001.oseg");
    let (blocks, mut writer) = write(&path, &dictionary());
    writer.seal().unwrap();
    (path, blocks)
}

#[test]
fn dictionary_blocks_read_back_and_the_dictionary_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment-00000001.oseg");
    let dictionary = dictionary();
    let (blocks, mut writer) = write(&path, &dictionary);
    writer.seal().unwrap();
    let read = scan_file(&path);
    assert!(read.scan.damage.is_empty(), "{:?}", read.scan.damage);
    assert_eq!(read.blocks, blocks);
    let kinds = frames(&path);
    assert_eq!(
        kinds
            .iter()
            .filter(|(kind, _)| *kind == FrameKind::Dictionary)
            .count(),
        1
    );
    // The dictionary frame comes right before the first block that needs it.
    assert_eq!(kinds[3], (FrameKind::Dictionary, 1));
    assert_eq!(kinds[4], (FrameKind::Block, 1));
    assert_eq!(kinds[0], (FrameKind::Block, 0));
    // The index lists blocks only.
    let index = read.scan.sealed_index.unwrap();
    assert_eq!(index.blocks.len(), 9);

    // A tail opened only to read blocks back finds the dictionary by itself.
    let mut tail = oculus_store::SegmentTail::open(&path).unwrap();
    let last = &index.blocks[8];
    assert_eq!(
        tail.read_block(last.offset, last.frame_bytes).unwrap(),
        blocks[8]
    );
}

#[test]
fn a_damaged_dictionary_loses_only_the_blocks_that_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, blocks) = write_sealed(dir.path());
    let data = std::fs::read(&path).unwrap();
    let mut offset = HEADER_LEN;
    let mut dictionary_at = None;
    while let FrameRead::Complete(frame) = read_frame(&data, offset) {
        if frame.kind == FrameKind::Dictionary {
            dictionary_at = Some(frame.offset);
        }
        offset = frame.end();
    }
    let dictionary_at = dictionary_at.unwrap();
    let mut damaged = data.clone();
    damaged[dictionary_at + 40] ^= 0xff;
    std::fs::write(&path, &damaged).unwrap();

    let read = scan_file(&path);
    assert_eq!(
        read.blocks,
        blocks[..3].to_vec(),
        "blocks without the dictionary survive"
    );
    let kinds: Vec<&CorruptionKind> = read
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Corrupt(corruption) => Some(&corruption.kind),
            Item::Block(_) => None,
        })
        .collect();
    assert_eq!(kinds[0], &CorruptionKind::FrameChecksum);
    assert_eq!(kinds.len(), 7);
    assert!(
        kinds[1..]
            .iter()
            .all(|kind| **kind == CorruptionKind::MissingDictionary(1))
    );
    let report = check(&path, |_, _| {}).unwrap();
    assert!(!report.is_healthy());
}

#[test]
fn a_tail_reads_dictionary_blocks_as_they_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment-00000001.oseg");
    let dictionary = dictionary();
    let mut writer = SegmentWriter::create(&path, header(), FsyncPolicy::Never).unwrap();
    let mut tail = SegmentTail::open(&path).unwrap();
    for seed in 0..4 {
        let block = sample_block(seed);
        writer.append(&[encode_with(&block, &dictionary)]).unwrap();
        let poll = tail.poll().unwrap();
        assert!(poll.damage.is_empty(), "{:?}", poll.damage);
        assert_eq!(poll.blocks.len(), 1);
        assert_eq!(poll.blocks[0].1, block);
    }
}

#[test]
fn every_segment_of_a_session_carries_the_dictionary_it_needs() {
    let root = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        max_segment_bytes: 2_000,
        ..WriterOptions::default()
    };
    let (mut writer, _) = SessionWriter::open(root.path(), options).unwrap();
    let dictionary = dictionary();
    let blocks: Vec<Block> = (0..12).map(sample_block).collect();
    for block in &blocks {
        writer.append(&[encode_with(block, &dictionary)]).unwrap();
    }
    writer.close().unwrap();
    let segments = resolve(root.path())
        .unwrap()
        .segment_paths()
        .map(Path::to_path_buf)
        .collect::<Vec<_>>();
    assert!(segments.len() >= 2, "rotation happened: {}", segments.len());
    let mut read_back = Vec::new();
    for segment in &segments {
        assert_eq!(
            frames(segment)[0],
            (FrameKind::Dictionary, 1),
            "{}",
            segment.display()
        );
        let read = scan_file(segment);
        assert!(read.scan.damage.is_empty());
        read_back.extend(read.blocks);
    }
    assert_eq!(read_back, blocks);
}

#[test]
fn blocks_of_mixed_levels_and_dictionaries_read_back() {
    // Each thread keeps a few zstd contexts (one per level and dictionary); more
    // combinations than it keeps, interleaved, must each still compress with its own.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment-00000001.oseg");
    let first = dictionary();
    let mut raw = Vec::new();
    for seed in 200..210 {
        raw.extend(sample_block(seed).encode_to_vec());
    }
    let second = SharedDictionary::new(2, raw);
    let choices = [
        (1, Some(&first)),
        (3, Some(&second)),
        (3, None),
        (1, Some(&second)),
        (3, Some(&first)),
        (1, None),
    ];
    let mut writer = SegmentWriter::create(&path, header(), FsyncPolicy::Never).unwrap();
    let blocks: Vec<Block> = (0..24).map(sample_block).collect();
    for (i, block) in blocks.iter().enumerate() {
        let (level, dictionary) = choices[i % choices.len()];
        let encoded =
            encode_raw_block(&block.encode_to_vec(), summarize(block), level, dictionary).unwrap();
        assert_eq!(
            encoded.dictionary.as_ref().map(SharedDictionary::id),
            dictionary.map(SharedDictionary::id)
        );
        writer.append(&[encoded]).unwrap();
    }
    writer.seal().unwrap();
    let read = scan_file(&path);
    assert!(read.scan.damage.is_empty(), "{:?}", read.scan.damage);
    assert_eq!(read.blocks, blocks);
    let kinds = frames(&path);
    let dictionaries: Vec<u16> = kinds
        .iter()
        .filter(|(kind, _)| *kind == FrameKind::Dictionary)
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(dictionaries, [1, 2]);
}

#[test]
fn a_block_reader_learns_the_dictionary_when_a_block_first_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, blocks) = write_sealed(dir.path());
    let index = scan_file(&path).scan.sealed_index.unwrap();
    let data = oculus_store::read_segment(&path).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    // Last block first, so the first read needs the dictionary it has not met.
    let mut in_memory = oculus_store::BlockReader::new(&path);
    let mut on_disk = oculus_store::BlockReader::new(&path);
    for (summary, block) in index.blocks.iter().zip(&blocks).rev() {
        let raw = in_memory
            .raw_block(&*data, summary.offset, summary.frame_bytes)
            .unwrap();
        assert_eq!(raw.raw, block.encode_to_vec().as_slice());
        assert_eq!(raw.frame_bytes, summary.frame_bytes);
        assert_eq!(
            &on_disk
                .block(&file, summary.offset, summary.frame_bytes)
                .unwrap(),
            block
        );
    }
}

#[test]
fn a_block_reader_learns_a_dictionary_that_follows_damage_as_the_scan_does() {
    let dir = tempfile::tempdir().unwrap();
    let (path, blocks) = write_sealed(dir.path());
    let index = scan_file(&path).scan.sealed_index.unwrap();
    // Block 1's frame magic, before the dictionary: no frame header starts there.
    let mut damaged = std::fs::read(&path).unwrap();
    damaged[index.blocks[1].offset as usize] ^= 0xff;
    std::fs::write(&path, &damaged).unwrap();

    let read = scan_file(&path);
    let mut expected = blocks.clone();
    expected.remove(1);
    assert_eq!(read.blocks, expected, "the scan resyncs past the damage");
    let data = oculus_store::read_segment(&path).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    for (i, summary) in index.blocks.iter().enumerate().skip(2).rev() {
        // A new reader per block, so each read learns the dictionary after the damage.
        let mut in_memory = oculus_store::BlockReader::new(&path);
        let mut on_disk = oculus_store::BlockReader::new(&path);
        let from_memory = in_memory.block(&*data, summary.offset, summary.frame_bytes);
        let from_file = on_disk.block(&file, summary.offset, summary.frame_bytes);
        assert_eq!(from_memory.unwrap(), blocks[i], "block {i} in memory");
        assert_eq!(from_file.unwrap(), blocks[i], "block {i} on disk");
    }
    let mut tail = SegmentTail::open(&path).unwrap();
    let last = &index.blocks[8];
    assert_eq!(
        tail.read_block(last.offset, last.frame_bytes).unwrap(),
        blocks[8]
    );
}

/// The DICTIONARY frame the writer puts in a segment for `dictionary`, as bytes.
fn dictionary_frame_bytes(dir: &Path, dictionary: &SharedDictionary) -> Vec<u8> {
    let path = dir.join("dictionary.oseg");
    let mut writer = SegmentWriter::create(&path, header(), FsyncPolicy::Never).unwrap();
    writer
        .append(&[encode_with(&sample_block(0), dictionary)])
        .unwrap();
    let data = std::fs::read(&path).unwrap();
    let FrameRead::Complete(frame) = read_frame(&data, HEADER_LEN) else {
        panic!("the dictionary frame comes first");
    };
    assert_eq!(frame.kind, FrameKind::Dictionary);
    data[HEADER_LEN..frame.end()].to_vec()
}

#[test]
fn a_block_the_tail_read_with_a_dictionary_met_inside_a_frame_reads_back() {
    // A record carrying a dictionary frame's bytes (a log of a segment file, say): its
    // block frame holds a verified frame. While that block is half written, the tail
    // takes it for a frame with a damaged length and goes on at the dictionary inside,
    // which a walk of the whole file never reaches.
    let dir = tempfile::tempdir().unwrap();
    let dictionary = dictionary();
    let inner = dictionary_frame_bytes(dir.path(), &dictionary);
    let mut carrier = sample_block(1);
    carrier.logs[0].body = Some(AnyValue {
        value: Some(Value::BytesValue(inner.clone())),
    });
    let outer = encode(&carrier).frame;
    let inner_at = memchr::memmem::find(&outer, &inner).expect("zstd kept the frame verbatim");
    let needs_it = sample_block(2);
    let needs_it_frame = encode_with(&needs_it, &dictionary).frame;
    let mut data = header().encode().to_vec();
    data.extend(&outer);
    let needs_it_at = data.len() as u64;
    data.extend(&needs_it_frame);

    let path = dir.path().join("segment-00000001.oseg");
    let inner_end = HEADER_LEN + inner_at + inner.len();
    std::fs::write(&path, &data[..inner_end]).unwrap();
    let mut tail = SegmentTail::open(&path).unwrap();
    let mut polled = tail.poll().unwrap().blocks;
    append_raw(&path, &data[inner_end..]);
    polled.extend(tail.poll().unwrap().blocks);
    assert!(
        polled.iter().any(|(summary, block)| {
            summary.offset == needs_it_at
                && summary.frame_bytes as usize == needs_it_frame.len()
                && *block == needs_it
        }),
        "the tail read the block that needs the dictionary"
    );

    // The viewer's detail pane reads a block again by where the poll found it.
    for (summary, block) in &polled {
        let again = tail.read_block(summary.offset, summary.frame_bytes);
        assert_eq!(&again.unwrap(), block, "block at {}", summary.offset);
    }
}
