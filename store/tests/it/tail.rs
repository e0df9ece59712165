//! Following a segment while it is written: each block once, "not yet" for a partial frame.

use std::path::Path;

use oculus_store::frame::{FRAME_HEADER_LEN, HEADER_LEN, SegmentHeader};
use oculus_store::proto::Block;
use oculus_store::segment::{FsyncPolicy, SegmentWriter};
use oculus_store::{
    Corruption, CorruptionKind, SegmentTail, SessionWriter, TailPoll, WriterOptions,
};

use crate::common::{BASE_TIME_UNIX_NANO, append_raw, encode, sample_block, write_segment};

fn header(sequence: u32) -> SegmentHeader {
    SegmentHeader {
        sequence,
        created_unix_nano: BASE_TIME_UNIX_NANO,
    }
}

/// The blocks of a poll with their offsets; asserts it found no damage.
#[track_caller]
fn blocks(poll: &TailPoll) -> Vec<(u64, Block)> {
    assert!(poll.damage.is_empty(), "{:?}", poll.damage);
    poll.blocks
        .iter()
        .map(|(summary, block)| (summary.offset, block.clone()))
        .collect()
}

#[track_caller]
fn assert_nothing(tail: &mut SegmentTail) {
    let poll = tail.poll().unwrap();
    assert!(poll.blocks.is_empty(), "{} blocks", poll.blocks.len());
    assert!(poll.damage.is_empty(), "{:?}", poll.damage);
    assert!(!poll.sealed);
}

#[test]
fn tail_returns_each_block_once_then_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment-00000001.oseg");
    let mut writer = SegmentWriter::create(&path, header(1), FsyncPolicy::Never).unwrap();
    let mut tail = SegmentTail::open(&path).unwrap();
    assert_nothing(&mut tail);
    assert_eq!(tail.header(), Some(header(1)));
    assert_nothing(&mut tail);

    let first = sample_block(0);
    writer.append(&[encode(&first)]).unwrap();
    let poll = tail.poll().unwrap();
    assert_eq!(blocks(&poll), vec![(HEADER_LEN as u64, first)]);
    assert!(!poll.sealed);
    assert_nothing(&mut tail);

    // Two blocks in one append arrive in one poll, in order.
    let at = writer.len_bytes();
    let pair = [encode(&sample_block(1)), encode(&sample_block(2))];
    writer.append(&pair).unwrap();
    let second_at = at + pair[0].frame.len() as u64;
    let poll = tail.poll().unwrap();
    assert_eq!(
        blocks(&poll),
        vec![(at, sample_block(1)), (second_at, sample_block(2))]
    );
    assert_eq!(poll.blocks[0].0.frame_bytes as usize, pair[0].frame.len());
    assert_nothing(&mut tail);

    // A block appended just before sealing still arrives, with the seal.
    let last_at = writer.len_bytes();
    writer.append(&[encode(&sample_block(3))]).unwrap();
    writer.seal().unwrap();
    let poll = tail.poll().unwrap();
    assert_eq!(blocks(&poll), vec![(last_at, sample_block(3))]);
    assert!(poll.sealed);
    assert!(tail.is_sealed());
    let poll = tail.poll().unwrap();
    assert!(poll.sealed && poll.blocks.is_empty() && poll.damage.is_empty());

    // A block already returned can be read again by its offset, and a wrong offset
    // is damage, not a wrong block.
    let frame_bytes = pair[1].frame.len() as u32;
    assert_eq!(
        tail.read_block(second_at, frame_bytes).unwrap(),
        sample_block(2)
    );
    assert!(tail.read_block(second_at + 1, frame_bytes).is_err());
}

#[test]
fn partial_header_is_not_yet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment-00000001.oseg");
    let bytes = header(7).encode();
    std::fs::write(&path, &bytes[..10]).unwrap();
    let mut tail = SegmentTail::open(&path).unwrap();
    assert_nothing(&mut tail);
    assert_eq!(tail.header(), None);
    append_raw(&path, &bytes[10..]);
    assert_nothing(&mut tail);
    assert_eq!(tail.header(), Some(header(7)));
}

/// An unsealed segment with one block, for raw frames to be appended to.
fn started(dir: &Path) -> (std::path::PathBuf, SegmentTail, u64) {
    let path = dir.join("segment-00000001.oseg");
    let written = write_segment(&path, 1, 1, false);
    let mut tail = SegmentTail::open(&path).unwrap();
    let poll = tail.poll().unwrap();
    assert_eq!(
        blocks(&poll),
        vec![(HEADER_LEN as u64, written.blocks[0].clone())]
    );
    (path, tail, written.len_bytes)
}

#[test]
fn frame_written_in_two_halves_arrives_once_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut tail, mut len) = started(dir.path());
    // Splits inside the frame header and inside the payload; frames differ in length,
    // so the last two are taken from each frame's own.
    enum Split {
        At(usize),
        Middle,
        LastByte,
    }
    let splits = [
        Split::At(1),
        Split::At(3),
        Split::At(4),
        Split::At(FRAME_HEADER_LEN - 1),
        Split::At(FRAME_HEADER_LEN),
        Split::At(FRAME_HEADER_LEN + 1),
        Split::Middle,
        Split::LastByte,
    ];
    for (i, split) in splits.into_iter().enumerate() {
        let block = sample_block(i as u64 + 1);
        let frame = encode(&block).frame;
        let split = match split {
            Split::At(at) => at,
            Split::Middle => frame.len() / 2,
            Split::LastByte => frame.len() - 1,
        };
        append_raw(&path, &frame[..split]);
        assert_nothing(&mut tail);
        assert_nothing(&mut tail);
        append_raw(&path, &frame[split..]);
        let poll = tail.poll().unwrap();
        assert_eq!(blocks(&poll), vec![(len, block)], "split at {split}");
        len += frame.len() as u64;
        assert_nothing(&mut tail);
    }
}

#[test]
fn frame_written_byte_by_byte_arrives_once_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut tail, len) = started(dir.path());
    let block = sample_block(9);
    let frame = encode(&block).frame;
    for (i, byte) in frame.iter().enumerate() {
        append_raw(&path, std::slice::from_ref(byte));
        let poll = tail.poll().unwrap();
        if i + 1 < frame.len() {
            assert!(
                poll.blocks.is_empty() && poll.damage.is_empty(),
                "after byte {i}: {poll:?}"
            );
        } else {
            assert_eq!(blocks(&poll), vec![(len, block.clone())]);
        }
    }
}

#[test]
fn tail_resyncs_after_damage_and_reports_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment-00000001.oseg");
    let written = write_segment(&path, 1, 4, false);
    for (at_in_frame, xor, kind) in [
        (30, 0x01, CorruptionKind::FrameChecksum),
        (0, 0x01, CorruptionKind::BadFrameMagic),
        // A frame claiming far more bytes than follow it, with valid frames after.
        (10, 0x01, CorruptionKind::TruncatedFrame),
    ] {
        let mut data = std::fs::read(&written.path).unwrap();
        let start = written.frames[1].0;
        data[(start + at_in_frame) as usize] ^= xor;
        let damaged = dir.path().join("damaged.oseg");
        std::fs::write(&damaged, &data).unwrap();
        let mut tail = SegmentTail::open(&damaged).unwrap();
        let poll = tail.poll().unwrap();
        let found: Vec<Block> = poll.blocks.iter().map(|b| b.1.clone()).collect();
        let mut expected = written.blocks.clone();
        expected.remove(1);
        assert_eq!(found, expected, "{kind:?}");
        assert_eq!(
            poll.damage,
            vec![Corruption {
                path: damaged.clone(),
                offset: start,
                kind: kind.clone()
            }]
        );
        assert_nothing(&mut tail);
    }
}

#[test]
fn zero_filled_tail_is_reported_once_and_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut tail, len) = started(dir.path());
    append_raw(&path, &[0u8; 4096]);
    let poll = tail.poll().unwrap();
    assert!(poll.blocks.is_empty());
    assert_eq!(
        poll.damage,
        vec![Corruption {
            path: path.clone(),
            offset: len,
            kind: CorruptionKind::BadFrameMagic
        }]
    );
    assert_nothing(&mut tail);
}

#[test]
fn tail_follows_the_session_writer_across_rotation() {
    let root = tempfile::tempdir().unwrap();
    let frame_len = encode(&sample_block(0)).frame.len() as u64;
    let options = WriterOptions {
        max_segment_bytes: HEADER_LEN as u64 + frame_len * 5 / 2,
        ..WriterOptions::default()
    };
    let (mut writer, _) = SessionWriter::open(root.path(), options).unwrap();
    writer.append(&[encode(&sample_block(0))]).unwrap();
    let first = writer.session().path.join("segment-00000001.oseg");
    let mut tail = SegmentTail::open(&first).unwrap();
    let mut seen = Vec::new();
    let mut seed = 1;
    // Append until the writer moves on; the tail must then see the seal.
    loop {
        let poll = tail.poll().unwrap();
        seen.extend(blocks(&poll).into_iter().map(|b| b.1));
        if poll.sealed {
            break;
        }
        assert!(seed < 10, "segment 1 was never sealed");
        writer.append(&[encode(&sample_block(seed))]).unwrap();
        seed += 1;
    }
    let in_first = seen.len() as u64;
    assert!(in_first >= 2);
    assert_eq!(seen, (0..in_first).map(sample_block).collect::<Vec<_>>());
    // Segment 2 holds the block that did not fit.
    let second = writer.session().path.join("segment-00000002.oseg");
    let mut tail = SegmentTail::open(&second).unwrap();
    let poll = tail.poll().unwrap();
    assert_eq!(
        blocks(&poll),
        vec![(HEADER_LEN as u64, sample_block(in_first))]
    );
    writer.close().unwrap();
    assert!(tail.poll().unwrap().sealed);
}

/// A reader following a segment when its collector crashes: recovery at the next start
/// cuts the torn frame and seals; the reader sees the seal, no garbage and no damage.
#[test]
fn tail_sees_the_seal_that_recovery_writes_after_a_crash() {
    let root = tempfile::tempdir().unwrap();
    let session = root
        .path()
        .join(oculus_store::datadir::SESSIONS_DIR)
        .join("2025-11-25T16-00-00.000Z-1");
    std::fs::create_dir_all(&session).unwrap();
    let path = session.join("segment-00000001.oseg");
    let written = write_segment(&path, 1, 2, false);
    let mut tail = SegmentTail::open(&path).unwrap();
    assert_eq!(tail.poll().unwrap().blocks.len(), 2);
    // The crash leaves most of a third frame behind.
    let torn = encode(&sample_block(9));
    append_raw(&path, &torn.frame[..torn.frame.len() - 7]);
    assert_nothing(&mut tail);

    let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    assert_eq!(
        report.sealed,
        vec![(path.clone(), torn.frame.len() as u64 - 7)]
    );
    let poll = tail.poll().unwrap();
    assert!(blocks(&poll).is_empty());
    assert!(poll.sealed, "the reader sees the recovered seal");
    assert_eq!(written.blocks.len(), 2);
    drop(writer);
}
