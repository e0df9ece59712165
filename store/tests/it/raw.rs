//! Reading blocks as their protobuf bytes: the raw scan, the raw poll and the block
//! reader find what the decoding readers find.

use oculus_store::proto::Block;
use oculus_store::{
    BlockReader, CorruptionKind, RawItem, SegmentBytes, SegmentTail, StoreError, read_segment,
};
use prost::Message;

use crate::common::{Item, scan_bytes, write_segment};

/// Items of a raw scan, with the blocks decoded for comparison.
fn raw_scan(path: &std::path::Path, data: &[u8]) -> (Vec<Item>, Vec<Block>) {
    let mut items = Vec::new();
    let mut blocks = Vec::new();
    SegmentBytes::new(path, data).scan_raw(|item| match item {
        RawItem::Block(raw) => {
            items.push(Item::Block(raw.offset));
            blocks.push(Block::decode(raw.raw).unwrap());
        }
        RawItem::Corrupt(corruption) => items.push(Item::Corrupt(corruption)),
    });
    (items, blocks)
}

#[test]
fn the_raw_scan_finds_what_the_scan_finds_damage_included() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_segment(&dir.path().join("segment-00000001.oseg"), 1, 5, true);
    let mut data = read_segment(&written.path).unwrap().to_vec();
    let (start, end) = written.frames[2];
    data[((start + end) / 2) as usize] ^= 0x01;
    let read = scan_bytes(&written.path, &data);
    let (items, blocks) = raw_scan(&written.path, &data);
    assert_eq!(items, read.items);
    assert_eq!(blocks, read.blocks);
    assert_eq!(blocks.len(), 4);
    // A raw scan summarises no block: its result has no block list to compare.
    let raw = SegmentBytes::new(&written.path, &data).scan_raw(|_| {});
    assert_eq!(raw.damage, read.scan.damage);
    assert_eq!(raw.valid_len, read.scan.valid_len);
    assert_eq!(raw.torn_tail, read.scan.torn_tail);
    assert_eq!(raw.sealed_index, read.scan.sealed_index);
}

#[test]
fn the_raw_poll_finds_what_the_poll_finds() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_segment(&dir.path().join("segment-00000001.oseg"), 1, 3, false);
    let poll = SegmentTail::open(&written.path).unwrap().poll().unwrap();
    let mut raw_tail = SegmentTail::open(&written.path).unwrap();
    let mut found = Vec::new();
    let raw_poll = raw_tail
        .poll_raw(|raw| found.push((raw.offset, raw.frame_bytes, raw.raw.to_vec())))
        .unwrap();
    assert!(raw_poll.damage.is_empty());
    assert_eq!(raw_poll.sealed, poll.sealed);
    let expected: Vec<(u64, u32, Vec<u8>)> = poll
        .blocks
        .iter()
        .map(|(summary, block)| (summary.offset, summary.frame_bytes, block.encode_to_vec()))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(poll.blocks.len(), 3);
}

#[test]
fn the_block_reader_reads_a_block_at_its_offset_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_segment(&dir.path().join("segment-00000001.oseg"), 1, 4, true);
    let data = read_segment(&written.path).unwrap();
    let file = std::fs::File::open(&written.path).unwrap();
    let mut reader = BlockReader::new(&written.path);
    for (i, (start, end)) in written.frames.iter().enumerate().rev() {
        let frame_bytes = (end - start) as u32;
        let from_memory = reader.block(&*data, *start, frame_bytes).unwrap();
        let from_file = reader.block(&file, *start, frame_bytes).unwrap();
        assert_eq!(from_memory, written.blocks[i]);
        assert_eq!(from_file, written.blocks[i]);
    }
    let (start, end) = written.frames[1];
    let error = reader
        .raw_block(&*data, start + 1, (end - start) as u32)
        .unwrap_err();
    assert!(
        matches!(
            &error,
            StoreError::Corrupt(corruption)
                if corruption.offset == start + 1 && corruption.kind == CorruptionKind::BadFrameMagic
        ),
        "{error}"
    );
}
