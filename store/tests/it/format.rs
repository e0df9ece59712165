//! The segment format: round trips, and what a reader makes of each kind of damage.

use std::path::Path;

use oculus_store::frame::{FOOTER_LEN, FRAME_HEADER_LEN, HEADER_LEN, SegmentHeader};
use oculus_store::{
    Corruption, CorruptionKind, SegmentData, SegmentTail, SessionWriter, StoreError, WriterOptions,
    check, read_segment,
};

use crate::common::{
    Item, Written, append_raw, data_dir_with, offsets, scan_bytes, scan_file, without,
    write_segment,
};

const BLOCKS: u64 = 5;

fn segment(dir: &Path, seal: bool) -> Written {
    write_segment(&dir.join("segment-00000001.oseg"), 1, BLOCKS, seal)
}

fn corruption(path: &Path, offset: u64, kind: CorruptionKind) -> Corruption {
    Corruption {
        path: path.to_path_buf(),
        offset,
        kind,
    }
}

#[test]
fn sealed_segment_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), true);
    let data = read_segment(&written.path).unwrap();
    // Only a sealed segment is memory-mapped.
    assert!(
        matches!(data, SegmentData::Mapped(_)),
        "sealed segment was not mapped"
    );
    let read = scan_bytes(&written.path, &data);
    assert_eq!(read.blocks, written.blocks);
    let scan = &read.scan;
    assert_eq!(
        scan.header,
        Some(SegmentHeader {
            sequence: 1,
            created_unix_nano: crate::common::BASE_TIME_UNIX_NANO
        })
    );
    assert!(!scan.torn_tail);
    assert!(scan.damage.is_empty(), "{:?}", scan.damage);
    let starts: Vec<u64> = written.frames.iter().map(|f| f.0).collect();
    assert_eq!(starts[0], HEADER_LEN as u64);
    assert_eq!(offsets(&scan.blocks), starts);
    let footer = scan.footer.unwrap();
    let blocks_end = written.frames.last().unwrap().1;
    assert_eq!(footer.index_offset, blocks_end);
    assert_eq!(
        blocks_end + u64::from(footer.index_frame_len) + FOOTER_LEN as u64,
        written.len_bytes
    );
    assert_eq!(scan.valid_len, blocks_end);
    // The index the writer built matches what a scan recomputes, field by field.
    let index = scan.sealed_index.clone().unwrap();
    assert_eq!(index.blocks, scan.blocks);
    assert_eq!(
        oculus_store::SegmentBytes::new(&written.path, &data)
            .index()
            .unwrap()
            .unwrap(),
        index
    );
    for (summary, block) in index.blocks.iter().zip(&written.blocks) {
        assert_eq!(u64::from(summary.spans), block.spans.len() as u64);
        assert_eq!(u64::from(summary.logs), block.logs.len() as u64);
        assert!(summary.min_time_unix_nano > 0);
        assert!(summary.max_time_unix_nano > summary.min_time_unix_nano);
    }
}

#[test]
fn unsealed_segment_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), false);
    let data = read_segment(&written.path).unwrap();
    // The active segment may still be cut by recovery, so it is never mapped.
    assert!(
        matches!(data, SegmentData::Read(_)),
        "unsealed segment was mapped"
    );
    let read = scan_bytes(&written.path, &data);
    assert_eq!(read.blocks, written.blocks);
    assert!(read.scan.footer.is_none());
    assert!(read.scan.sealed_index.is_none());
    assert!(!read.scan.torn_tail);
    assert!(read.scan.damage.is_empty());
    assert_eq!(read.scan.valid_len, written.len_bytes);
}

#[test]
fn torn_tail_at_every_offset_of_the_last_frame() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), false);
    let data = std::fs::read(&written.path).unwrap();
    let (last_start, last_end) = *written.frames.last().unwrap();
    let kept = &written.blocks[..written.blocks.len() - 1];
    for cut in last_start + 1..last_end {
        let read = scan_bytes(&written.path, &data[..cut as usize]);
        assert!(read.scan.torn_tail, "cut at {cut}: not a torn tail");
        assert!(
            read.scan.damage.is_empty(),
            "cut at {cut}: {:?}",
            read.scan.damage
        );
        assert_eq!(read.blocks, kept, "cut at {cut}");
        assert_eq!(read.scan.valid_len, last_start, "cut at {cut}");
    }
    // Cut on the frame boundary: nothing is torn.
    let read = scan_bytes(&written.path, &data[..last_start as usize]);
    assert!(!read.scan.torn_tail);
    assert_eq!(read.blocks, kept);
}

#[test]
fn torn_header_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), false);
    let data = std::fs::read(&written.path).unwrap();
    for cut in 1..HEADER_LEN {
        let read = scan_bytes(&written.path, &data[..cut]);
        assert!(read.scan.torn_tail, "cut at {cut}");
        assert!(read.scan.header.is_none(), "cut at {cut}");
        assert!(read.scan.damage.is_empty(), "cut at {cut}");
        assert!(read.blocks.is_empty());
    }
    let read = scan_bytes(&written.path, &data[..HEADER_LEN]);
    assert!(!read.scan.torn_tail);
    assert!(read.scan.header.is_some());
    assert_eq!(read.scan.valid_len, HEADER_LEN as u64);
}

#[test]
fn torn_tail_files_are_open_tails_for_check() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), false);
    let data = std::fs::read(&written.path).unwrap();
    let (last_start, last_end) = *written.frames.last().unwrap();
    let middle = (last_start + last_end) / 2;
    for cut in [
        last_start + 1,
        last_start + FRAME_HEADER_LEN as u64,
        middle,
        last_end - 1,
    ] {
        std::fs::write(&written.path, &data[..cut as usize]).unwrap();
        let report = check(&written.path, |_, _| {}).unwrap();
        assert_eq!(report.blocks, BLOCKS - 1, "cut at {cut}");
        assert!(
            report.damage.is_empty(),
            "cut at {cut}: {:?}",
            report.damage
        );
        assert_eq!(
            report.open_tails,
            vec![(written.path.clone(), cut - last_start)]
        );
        assert_eq!(report.sealed_segments, 0);
    }
}

/// Flips one byte of the segment file, scans it, and puts the byte back.
fn scan_flipped(written: &Written, at: u64, xor: u8) -> crate::common::Read {
    let original = std::fs::read(&written.path).unwrap();
    let mut data = original.clone();
    data[at as usize] ^= xor;
    std::fs::write(&written.path, &data).unwrap();
    // The scan owns what it returns, so no mapping of the file outlives it.
    let read = scan_file(&written.path);
    std::fs::write(&written.path, &original).unwrap();
    read
}

#[test]
fn flipped_payload_byte_loses_exactly_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), true);
    let (start, end) = written.frames[2];
    let payload = start + FRAME_HEADER_LEN as u64;
    for at in [payload, payload + 1, (payload + end) / 2, end - 1] {
        let read = scan_flipped(&written, at, 0x01);
        let damage = corruption(&written.path, start, CorruptionKind::FrameChecksum);
        assert_eq!(read.scan.damage, vec![damage.clone()], "flip at {at}");
        assert_eq!(read.blocks, without(&written.blocks, 2), "flip at {at}");
        let starts: Vec<u64> = written.frames.iter().map(|f| f.0).collect();
        // The damage is reported in file order, between the blocks around it.
        assert_eq!(
            read.items,
            vec![
                Item::Block(starts[0]),
                Item::Block(starts[1]),
                Item::Corrupt(damage),
                Item::Block(starts[3]),
                Item::Block(starts[4]),
            ]
        );
        assert!(!read.scan.torn_tail);
        // The index still lists every block, so a reader knows one is missing.
        assert_eq!(
            read.scan.sealed_index.as_ref().unwrap().blocks.len(),
            BLOCKS as usize
        );
    }
}

#[test]
fn flipped_payload_byte_is_damage_for_check() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), true);
    let (start, end) = written.frames[1];
    let mut data = std::fs::read(&written.path).unwrap();
    data[((start + end) / 2) as usize] ^= 0x80;
    std::fs::write(&written.path, &data).unwrap();
    let report = check(&written.path, |_, _| {}).unwrap();
    assert_eq!(report.blocks, BLOCKS - 1);
    assert_eq!(
        report.damage,
        vec![corruption(
            &written.path,
            start,
            CorruptionKind::FrameChecksum
        )]
    );
    assert!(!report.is_healthy());
    assert!(report.open_tails.is_empty());
}

#[test]
fn flipped_byte_in_last_block_of_sealed_segment_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), true);
    let (start, end) = written.frames[4];
    let read = scan_flipped(&written, (start + end) / 2, 0x01);
    assert_eq!(
        read.scan.damage,
        vec![corruption(
            &written.path,
            start,
            CorruptionKind::FrameChecksum
        )]
    );
    assert_eq!(read.blocks, written.blocks[..4]);
    assert!(!read.scan.torn_tail);
}

/// Damage to one byte of the middle frame's header, in a sealed and an unsealed
/// segment: the reader names that frame and still finds every later block.
#[track_caller]
fn check_header_flip(header_byte: u64, xor: u8, expected: CorruptionKind) {
    for seal in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let written = segment(dir.path(), seal);
        let (start, _) = written.frames[2];
        let read = scan_flipped(&written, start + header_byte, xor);
        let context = format!("byte {header_byte} ^ {xor:#x}, sealed {seal}");
        assert_eq!(
            read.scan.damage,
            vec![corruption(&written.path, start, expected.clone())],
            "{context}"
        );
        assert_eq!(read.blocks, without(&written.blocks, 2), "{context}");
        assert!(!read.scan.torn_tail, "{context}");
    }
}

#[test]
fn flipped_frame_header_bytes_resync_to_the_next_frame() {
    // Magic.
    check_header_flip(0, 0x01, CorruptionKind::BadFrameMagic);
    check_header_flip(3, 0xff, CorruptionKind::BadFrameMagic);
    // Kind and codec.
    check_header_flip(4, 0xff, CorruptionKind::UnexpectedFrameKind(0xfe));
    check_header_flip(5, 0xff, CorruptionKind::UnknownCodec(0xfe));
    check_header_flip(5, 0x01, CorruptionKind::FrameChecksum);
    // Reserved bytes are covered by the checksum.
    check_header_flip(6, 0x01, CorruptionKind::FrameChecksum);
    // payload_len: smaller fails the checksum, absurd is too large.
    check_header_flip(8, 0x01, CorruptionKind::FrameChecksum);
    check_header_flip(
        11,
        0x7f,
        CorruptionKind::FrameTooLarge(0x7f00_0000 | payload_len_low()),
    );
    // raw_len and the checksum itself.
    check_header_flip(12, 0x01, CorruptionKind::FrameChecksum);
    check_header_flip(19, 0x01, CorruptionKind::FrameChecksum);
}

/// The low 24 bits of the middle frame's payload length.
fn payload_len_low() -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), false);
    let (start, end) = written.frames[2];
    (end - start - FRAME_HEADER_LEN as u64) as u32
}

#[test]
fn frame_claiming_more_bytes_than_follow_is_damage_not_a_torn_tail() {
    // A larger payload_len makes the frame reach past the end of the file. With
    // valid frames after it, that is damage: treating it as a torn tail would make
    // recovery cut every later block.
    check_header_flip(9, 0x40, CorruptionKind::TruncatedFrame);
    check_header_flip(10, 0x01, CorruptionKind::TruncatedFrame);
}

/// Two damaged frames in a row, the second claiming more bytes than follow (found by
/// fuzzing, FUZZING.md): only they are lost. Looking for the next frame after the
/// first, a reader stopped at the second as if it were an incomplete last frame, so
/// the scan and the tail lost every later block, and recovery cut them.
#[test]
fn two_damaged_frames_in_a_row_lose_only_themselves() {
    // The first frame's payload (its checksum fails) or its length (it reaches past
    // the end), then the second frame's length.
    for (first_byte, expected) in [
        (FRAME_HEADER_LEN as u64, CorruptionKind::FrameChecksum),
        (10, CorruptionKind::TruncatedFrame),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let written = segment(dir.path(), false);
        let mut data = std::fs::read(&written.path).unwrap();
        let (first, _) = written.frames[1];
        let (second, _) = written.frames[2];
        data[(first + first_byte) as usize] ^= 0x01;
        data[(second + 10) as usize] ^= 0x01;
        std::fs::write(&written.path, &data).unwrap();
        let context = format!("first frame's byte {first_byte}");
        let kept: Vec<u64> = [0, 3, 4].map(|i| written.frames[i].0).to_vec();

        let read = scan_file(&written.path);
        assert_eq!(offsets(&read.scan.blocks), kept, "{context}");
        assert_eq!(
            read.scan.damage,
            vec![corruption(&written.path, first, expected.clone())],
            "{context}"
        );
        assert!(!read.scan.torn_tail, "{context}");

        let mut tail = SegmentTail::open(&written.path).unwrap();
        let polled: Vec<u64> = tail
            .poll()
            .unwrap()
            .blocks
            .iter()
            .map(|(s, _)| s.offset)
            .collect();
        assert_eq!(polled, kept, "{context}");

        let (root, paths) = data_dir_with(&[(&written.path, "segment-00000001.oseg")]);
        let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
        drop(writer);
        assert_eq!(report.sealed, vec![(paths[0].clone(), 0)], "{context}");
        assert_eq!(
            offsets(&scan_file(&paths[0]).scan.blocks),
            kept,
            "{context}"
        );
    }
}

#[test]
fn recovery_keeps_blocks_after_a_frame_with_a_damaged_length() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), false);
    let (start, _) = written.frames[2];
    let mut data = std::fs::read(&written.path).unwrap();
    data[(start + 10) as usize] ^= 0x01;
    std::fs::write(&written.path, &data).unwrap();
    let (root, paths) = data_dir_with(&[(&written.path, "segment-00000001.oseg")]);
    let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    drop(writer);
    assert_eq!(report.sealed, vec![(paths[0].clone(), 0)]);
    assert_eq!(
        report.damage,
        vec![corruption(&paths[0], start, CorruptionKind::TruncatedFrame)]
    );
    let read = scan_file(&paths[0]);
    assert!(read.scan.footer.is_some());
    assert_eq!(read.blocks, without(&written.blocks, 2));
    assert_eq!(read.scan.sealed_index.unwrap().blocks.len(), 4);
}

#[test]
fn zero_filled_tail_is_a_torn_tail_and_recovery_cuts_it() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), false);
    append_raw(&written.path, &[0u8; 4096]);
    let read = scan_file(&written.path);
    assert!(read.scan.torn_tail);
    assert!(read.scan.damage.is_empty(), "{:?}", read.scan.damage);
    assert_eq!(read.blocks, written.blocks);
    assert_eq!(read.scan.valid_len, written.len_bytes);

    let report = check(&written.path, |_, _| {}).unwrap();
    assert!(report.damage.is_empty());
    assert_eq!(report.open_tails, vec![(written.path.clone(), 4096)]);

    let (root, paths) = data_dir_with(&[(&written.path, "segment-00000001.oseg")]);
    let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    assert_eq!(report.sealed, vec![(paths[0].clone(), 4096)]);
    assert!(report.damage.is_empty());
    writer.close().unwrap();
    let read = scan_file(&paths[0]);
    assert_eq!(read.blocks, written.blocks);
    let footer = read.scan.footer.unwrap();
    assert_eq!(footer.index_offset, written.len_bytes);
    let report = check(root.path(), |_, _| {}).unwrap();
    assert_eq!((report.blocks, report.sealed_segments), (BLOCKS, 1));
    assert!(report.damage.is_empty() && report.open_tails.is_empty());
}

#[test]
fn zeros_over_the_end_of_the_last_frame_are_a_torn_tail() {
    // Some filesystems extend the file before the data lands: the end of the last
    // frame reads as zeros after a crash.
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), false);
    let (last_start, last_end) = written.frames[4];
    let data = std::fs::read(&written.path).unwrap();
    for zero_from in [last_start, last_start + 4, last_start + 30, last_end - 1] {
        let mut damaged = data.clone();
        damaged[zero_from as usize..].fill(0);
        damaged.extend_from_slice(&[0u8; 4096]);
        let read = scan_bytes(&written.path, &damaged);
        assert!(read.scan.torn_tail, "zeros from {zero_from}");
        assert!(read.scan.damage.is_empty(), "zeros from {zero_from}");
        assert_eq!(read.blocks, written.blocks[..4]);
        assert_eq!(read.scan.valid_len, last_start);
    }
}

#[test]
fn truncated_index_keeps_every_block() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), true);
    let data = std::fs::read(&written.path).unwrap();
    let blocks_end = written.frames.last().unwrap().1;
    let index_and_footer = written.len_bytes - blocks_end;
    let index_end = written.len_bytes - FOOTER_LEN as u64;
    for cut_bytes in [
        1,
        4,
        5,
        12,
        23,
        24,
        25,
        40,
        index_and_footer - 1,
        index_and_footer,
    ] {
        let context = format!("last {cut_bytes} bytes cut");
        let kept_len = written.len_bytes - cut_bytes;
        let path = dir.path().join(format!("cut-{cut_bytes}.oseg"));
        std::fs::write(&path, &data[..kept_len as usize]).unwrap();

        // What is torn: the rest of the footer after a whole index, or the index.
        let (valid_len, torn) = if cut_bytes <= FOOTER_LEN as u64 {
            (index_end, kept_len - index_end)
        } else {
            (blocks_end, kept_len - blocks_end)
        };
        let read = scan_file(&path);
        assert_eq!(read.blocks, written.blocks, "{context}");
        assert!(
            read.scan.damage.is_empty(),
            "{context}: {:?}",
            read.scan.damage
        );
        assert!(read.scan.footer.is_none(), "{context}");
        assert_eq!(read.scan.valid_len, valid_len, "{context}");
        assert_eq!(read.scan.torn_tail, torn > 0, "{context}");

        let report = check(&path, |_, _| {}).unwrap();
        assert_eq!(report.blocks, BLOCKS, "{context}");
        assert!(report.damage.is_empty(), "{context}");
        let open_tails = if torn > 0 {
            vec![(path.clone(), torn)]
        } else {
            vec![]
        };
        assert_eq!(report.open_tails, open_tails, "{context}");

        let (root, paths) = data_dir_with(&[(&path, "segment-00000001.oseg")]);
        let (writer, recovery) =
            SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
        drop(writer);
        assert_eq!(recovery.sealed, vec![(paths[0].clone(), torn)], "{context}");
        assert!(recovery.damage.is_empty(), "{context}");
        let read = scan_file(&paths[0]);
        assert_eq!(read.blocks, written.blocks, "{context}");
        let index = read.scan.sealed_index.unwrap();
        assert_eq!(
            offsets(&index.blocks),
            offsets(&read.scan.blocks),
            "{context}"
        );
        let report = check(root.path(), |_, _| {}).unwrap();
        assert_eq!(
            (report.blocks, report.sealed_segments),
            (BLOCKS, 1),
            "{context}"
        );
        assert!(
            report.damage.is_empty() && report.open_tails.is_empty(),
            "{context}"
        );
    }
}

/// Rewrites the segment header and checks what scan, tail and check make of it: the
/// header is reported as damaged and every block is still read.
#[track_caller]
fn check_damaged_header(edit: impl Fn(&mut [u8]), expected: CorruptionKind) {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), true);
    let mut data = std::fs::read(&written.path).unwrap();
    edit(&mut data[..HEADER_LEN]);
    std::fs::write(&written.path, &data).unwrap();
    let damage = corruption(&written.path, 0, expected);

    let read = scan_file(&written.path);
    assert_eq!(read.scan.damage, vec![damage.clone()]);
    assert_eq!(read.blocks, written.blocks);
    assert!(read.scan.header.is_none());
    assert!(read.scan.sealed_index.is_some());

    let report = check(&written.path, |_, _| {}).unwrap();
    assert_eq!(report.damage, vec![damage.clone()]);
    assert_eq!(report.blocks, BLOCKS);

    let mut tail = SegmentTail::open(&written.path).unwrap();
    let poll = tail.poll().unwrap();
    assert_eq!(poll.damage, vec![damage]);
    assert_eq!(
        poll.blocks.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
        written.blocks
    );
    assert!(poll.sealed);
}

#[test]
fn a_damaged_header_costs_only_the_header() {
    for byte in 0..HEADER_LEN {
        for bit in 0..8 {
            check_damaged_header(|h| h[byte] ^= 1 << bit, CorruptionKind::HeaderChecksum);
        }
    }
    check_damaged_header(|h| h.fill(0), CorruptionKind::HeaderChecksum);
}

/// A header that verifies but names another version: its frames are not read.
#[test]
fn a_newer_format_version_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), true);
    let mut data = std::fs::read(&written.path).unwrap();
    data[8..10].copy_from_slice(&2u16.to_le_bytes());
    let crc = crc32c::crc32c(&data[0..28]);
    data[28..32].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&written.path, &data).unwrap();
    let damage = corruption(&written.path, 0, CorruptionKind::UnsupportedVersion(2));

    let read = scan_file(&written.path);
    assert_eq!(read.scan.damage, vec![damage.clone()]);
    assert!(read.blocks.is_empty());
    let report = check(&written.path, |_, _| {}).unwrap();
    assert_eq!(report.damage, vec![damage.clone()]);
    let mut tail = SegmentTail::open(&written.path).unwrap();
    match tail.poll() {
        Err(StoreError::Corrupt(found)) => assert_eq!(found, damage),
        other => panic!("tail of a newer version gave {other:?}"),
    }

    // Recovery keeps it for a newer reader, even as the newest segment of a crash.
    let (root, paths) = data_dir_with(&[(&written.path, "segment-00000001.oseg")]);
    let unsealed = &data[..data.len() - FOOTER_LEN];
    std::fs::write(&paths[0], unsealed).unwrap();
    let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    drop(writer);
    assert_eq!(std::fs::read(&paths[0]).unwrap(), unsealed);
    assert!(report.sealed.is_empty(), "{:?}", report.sealed);
    assert_eq!(
        report.unrecoverable,
        vec![corruption(
            &paths[0],
            0,
            CorruptionKind::UnsupportedVersion(2)
        )]
    );
}

#[test]
fn recovery_seals_a_crashed_segment_with_a_damaged_header_and_keeps_its_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), false);
    let mut data = std::fs::read(&written.path).unwrap();
    data[20] ^= 0x02;
    std::fs::write(&written.path, &data).unwrap();
    let (root, paths) = data_dir_with(&[(&written.path, "segment-00000001.oseg")]);
    let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    drop(writer);
    let damage = corruption(&paths[0], 0, CorruptionKind::HeaderChecksum);
    assert_eq!(report.damage, vec![damage.clone()]);
    assert_eq!(report.sealed, vec![(paths[0].clone(), 0)]);
    let read = scan_file(&paths[0]);
    assert_eq!(read.blocks, written.blocks);
    assert!(read.scan.footer.is_some());
    let checked = check(root.path(), |_, _| {}).unwrap();
    assert_eq!(checked.damage, vec![damage]);
    assert_eq!(checked.blocks, BLOCKS);
}

#[test]
fn the_index_is_read_through_the_footer_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sealed = segment(dir.path(), true);
    let index = oculus_store::segment::read_index(&sealed.path)
        .unwrap()
        .unwrap();
    assert_eq!(
        index,
        crate::common::scan_file(&sealed.path)
            .scan
            .sealed_index
            .unwrap()
    );

    // An unsealed segment has no index; a cut index is damage at its offset.
    let other = tempfile::tempdir().unwrap();
    let open = segment(other.path(), false);
    assert_eq!(oculus_store::segment::read_index(&open.path).unwrap(), None);
    let mut bytes = std::fs::read(&sealed.path).unwrap();
    let footer_at = bytes.len() - FOOTER_LEN;
    let index_at = sealed.frames.last().unwrap().1 as usize;
    bytes.drain(index_at + 4..footer_at);
    std::fs::write(&sealed.path, &bytes).unwrap();
    let error = oculus_store::segment::read_index(&sealed.path).unwrap_err();
    assert!(error.to_string().contains(&index_at.to_string()), "{error}");
}

/// A footer whose index would end past the largest offset (found by fuzzing,
/// FUZZING.md) is damage. Its sum overflowed: a panic in a debug build, and in a
/// release build a 4 GiB buffer and a read at an offset past any file.
#[test]
fn an_index_offset_past_any_file_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    let sealed = segment(dir.path(), true);
    let mut bytes = std::fs::read(&sealed.path).unwrap();
    let footer_at = bytes.len() - FOOTER_LEN;
    let index_frame_len = u32::MAX;
    // Wraps around to the footer's offset.
    let index_offset = (footer_at as u64).wrapping_sub(u64::from(index_frame_len));
    let footer = oculus_store::frame::Footer {
        index_offset,
        index_frame_len,
    };
    bytes[footer_at..].copy_from_slice(&footer.encode());
    std::fs::write(&sealed.path, &bytes).unwrap();
    let error = oculus_store::segment::read_index(&sealed.path).unwrap_err();
    assert!(
        matches!(
            &error,
            StoreError::Corrupt(Corruption {
                kind: CorruptionKind::TruncatedIndex,
                ..
            })
        ),
        "{error}"
    );
}

#[test]
fn check_names_an_index_that_lists_other_blocks_than_the_segment_holds() {
    let dir = tempfile::tempdir().unwrap();
    let written = segment(dir.path(), true);
    let data = std::fs::read(&written.path).unwrap();
    let footer = oculus_store::frame::Footer::decode(&data[data.len() - FOOTER_LEN..]).unwrap();
    let index_at = footer.index_offset as usize;
    // A copy of the first block after the last: a valid frame the index does not list.
    let (start, end) = written.frames[0];
    let mut changed = data[..index_at].to_vec();
    changed.extend_from_slice(&data[start as usize..end as usize]);
    let moved = oculus_store::frame::Footer {
        index_offset: changed.len() as u64,
        index_frame_len: footer.index_frame_len,
    };
    changed.extend_from_slice(&data[index_at..data.len() - FOOTER_LEN]);
    changed.extend_from_slice(&moved.encode());
    std::fs::write(&written.path, &changed).unwrap();

    let report = check(&written.path, |_, _| {}).unwrap();
    let expected = corruption(
        &written.path,
        moved.index_offset,
        CorruptionKind::IndexMismatch {
            indexed: BLOCKS as usize,
            found: BLOCKS as usize + 1,
        },
    );
    assert_eq!(report.damage, vec![expected.clone()]);
    assert!(
        expected
            .to_string()
            .ends_with("cannot decode frame: index lists 5 blocks, the segment holds 6"),
        "{expected}"
    );
}
