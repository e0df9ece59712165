//! The data directory: crash recovery, the lock, rotation and retention.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oculus_store::frame::{Footer, HEADER_LEN};
use oculus_store::proto::Block;
use oculus_store::{
    SessionWriter, StoreError, WriterOptions, check, datadir::is_locked, resolve, sessions,
};

use crate::common::{append_raw, encode, sample_block, scan_file};

fn segment_path(session: &Path, sequence: u32) -> PathBuf {
    session.join(format!("segment-{sequence:08}.oseg"))
}

fn is_sealed(path: &Path) -> bool {
    Footer::find(&std::fs::read(path).unwrap()).is_some()
}

/// Every block of a data directory, in session and write order.
fn read_all(root: &Path) -> Vec<Block> {
    let mut blocks = Vec::new();
    for path in resolve(root).unwrap().segment_paths() {
        let read = scan_file(path);
        assert!(
            read.scan.damage.is_empty(),
            "{}: {:?}",
            path.display(),
            read.scan.damage
        );
        blocks.extend(read.blocks);
    }
    blocks
}

#[test]
fn crash_then_recover_keeps_every_acknowledged_block() {
    let root = tempfile::tempdir().unwrap();
    let (mut writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    assert!(report.sealed.is_empty() && report.damage.is_empty());
    let first_session = writer.session().clone();
    let mut acknowledged = Vec::new();
    for seed in 0..3 {
        let block = sample_block(seed);
        writer.append(&[encode(&block)]).unwrap();
        acknowledged.push(block);
    }
    // One append of two blocks at once.
    let pair = [sample_block(3), sample_block(4)];
    writer
        .append(&[encode(&pair[0]), encode(&pair[1])])
        .unwrap();
    acknowledged.extend(pair);
    // The crash: the writer goes away without close(), so nothing is sealed, and
    // the frame it was writing is cut after 50 bytes.
    drop(writer);
    let active = segment_path(&first_session.path, 1);
    assert!(!is_sealed(&active));
    let unacknowledged = encode(&sample_block(5));
    append_raw(&active, &unacknowledged.frame[..50]);

    let (mut writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    assert_eq!(report.sealed, vec![(active.clone(), 50)]);
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert_ne!(writer.session(), &first_session);
    assert_eq!(
        sessions(root.path()).unwrap(),
        vec![first_session.clone(), writer.session().clone()]
    );
    assert!(is_sealed(&active));

    let report = check(root.path(), |_, _| {}).unwrap();
    assert_eq!(report.sessions, 2);
    assert_eq!((report.segments, report.sealed_segments), (1, 1));
    assert_eq!(report.blocks, 5);
    let spans: usize = acknowledged.iter().map(|b| b.spans.len()).sum();
    let logs: usize = acknowledged.iter().map(|b| b.logs.len()).sum();
    assert_eq!((report.spans, report.logs), (spans as u64, logs as u64));
    assert!(report.damage.is_empty() && report.open_tails.is_empty());
    assert_eq!(read_all(root.path()), acknowledged);

    // The new session carries on from sequence 1 in its own directory.
    let block = sample_block(6);
    writer.append(&[encode(&block)]).unwrap();
    acknowledged.push(block);
    let sealed = writer.close().unwrap().unwrap();
    assert_eq!(
        sealed.path,
        segment_path(&sessions(root.path()).unwrap()[1].path, 1)
    );
    assert_eq!(read_all(root.path()), acknowledged);
    let report = check(root.path(), |_, _| {}).unwrap();
    assert_eq!((report.blocks, report.sealed_segments), (6, 2));
}

#[test]
fn crash_that_loses_part_of_an_acknowledged_frame_keeps_the_earlier_blocks() {
    // Without fsync a power loss can lose the end of acknowledged bytes too;
    // recovery still keeps every whole frame before the cut.
    let root = tempfile::tempdir().unwrap();
    let (mut writer, _) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    let session = writer.session().clone();
    let blocks: Vec<Block> = (0..4).map(sample_block).collect();
    let mut ends = Vec::new();
    for block in &blocks {
        writer.append(&[encode(block)]).unwrap();
        ends.push(
            std::fs::metadata(segment_path(&session.path, 1))
                .unwrap()
                .len(),
        );
    }
    drop(writer);
    let active = segment_path(&session.path, 1);
    let cut = ends[2] + 7;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&active)
        .unwrap();
    file.set_len(cut).unwrap();
    drop(file);
    let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    drop(writer);
    assert_eq!(report.sealed, vec![(active.clone(), 7)]);
    assert!(report.damage.is_empty());
    assert_eq!(read_all(root.path()), blocks[..3]);
}

#[test]
fn recovery_removes_a_segment_whose_header_never_made_it() {
    let root = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        max_segment_bytes: 1,
        ..WriterOptions::default()
    };
    let (mut writer, _) = SessionWriter::open(root.path(), options).unwrap();
    let session = writer.session().clone();
    // The second append seals segment 1 and starts segment 2.
    writer.append(&[encode(&sample_block(0))]).unwrap();
    writer.append(&[encode(&sample_block(1))]).unwrap();
    drop(writer);
    // A crash between creating segment 2 and writing its whole header.
    let partial = segment_path(&session.path, 2);
    let header = std::fs::read(&partial).unwrap();
    std::fs::write(&partial, &header[..HEADER_LEN - 5]).unwrap();
    let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    drop(writer);
    assert_eq!(
        report.sealed,
        vec![(partial.clone(), (HEADER_LEN - 5) as u64)]
    );
    assert!(!partial.exists());
    assert_eq!(read_all(root.path()), vec![sample_block(0)]);
}

#[test]
fn a_locked_data_dir_cannot_be_opened_twice() {
    let root = tempfile::tempdir().unwrap();
    let (writer, _) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    assert!(is_locked(root.path()));
    match SessionWriter::open(root.path(), WriterOptions::default()) {
        Err(StoreError::Locked { path, holder }) => {
            assert_eq!(path, root.path());
            assert_eq!(holder, Some(format!("pid {}", std::process::id())));
        }
        other => panic!("second open gave {other:?}"),
    }
    // The failed open started no session of its own.
    assert_eq!(sessions(root.path()).unwrap().len(), 1);
    // A crash (drop without close) releases the lock.
    drop(writer);
    assert!(!is_locked(root.path()));
    let (writer, _) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    writer.close().unwrap();
}

#[test]
fn sessions_list_in_start_order() {
    // Many starts within one second must still sort in the order they happened.
    let root = tempfile::tempdir().unwrap();
    let mut started = Vec::new();
    for _ in 0..12 {
        let (writer, _) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
        started.push(writer.session().clone());
        drop(writer);
    }
    assert_eq!(sessions(root.path()).unwrap(), started);
}

#[test]
fn rotation_by_size_seals_numbered_segments() {
    let root = tempfile::tempdir().unwrap();
    let blocks: Vec<Block> = (0..12).map(sample_block).collect();
    let frames: Vec<_> = blocks.iter().map(encode).collect();
    let largest = frames.iter().map(|f| f.frame.len() as u64).max().unwrap();
    let options = WriterOptions {
        max_segment_bytes: HEADER_LEN as u64 + 2 * largest,
        ..WriterOptions::default()
    };
    let max_segment_bytes = options.max_segment_bytes;
    let (mut writer, _) = SessionWriter::open(root.path(), options).unwrap();
    for frame in &frames {
        writer.append(std::slice::from_ref(frame)).unwrap();
    }
    let session = writer.session().clone();
    let last = writer.close().unwrap().unwrap();
    let segments = session.segments().unwrap();
    assert!(segments.len() >= 4, "only {} segments", segments.len());
    assert_eq!(last.path, *segments.last().unwrap());
    let mut read = Vec::new();
    let mut next_block = 0;
    for (i, path) in segments.iter().enumerate() {
        let sequence = i as u32 + 1;
        assert_eq!(*path, segment_path(&session.path, sequence));
        let scan = scan_file(path);
        assert_eq!(scan.scan.header.unwrap().sequence, sequence);
        let footer = scan
            .scan
            .footer
            .expect("every segment is sealed after close");
        // Never more than the cap; and the next block would not have fit.
        assert!(footer.index_offset <= max_segment_bytes);
        next_block += scan.blocks.len();
        if let Some(next) = frames.get(next_block) {
            assert!(footer.index_offset + next.frame.len() as u64 > max_segment_bytes);
        }
        read.extend(scan.blocks);
    }
    assert_eq!(read, blocks);
}

#[test]
fn rotation_by_age() {
    let root = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        max_segment_age: Duration::ZERO,
        ..WriterOptions::default()
    };
    let (mut writer, _) = SessionWriter::open(root.path(), options).unwrap();
    let session = writer.session().clone();
    // An idle writer with no segment has nothing to seal.
    writer.tick().unwrap();
    assert!(session.segments().unwrap().is_empty());
    for seed in 0..3 {
        writer.append(&[encode(&sample_block(seed))]).unwrap();
    }
    let segments = session.segments().unwrap();
    assert_eq!(segments.len(), 3);
    assert!(is_sealed(&segments[0]) && is_sealed(&segments[1]));
    assert!(!is_sealed(&segments[2]));
    writer.tick().unwrap();
    assert!(is_sealed(&segments[2]));
    assert_eq!(writer.close().unwrap().map(|s| s.path), None);
    assert_eq!(
        read_all(root.path()),
        (0..3).map(sample_block).collect::<Vec<_>>()
    );
}

/// Every segment file of the data directory with its size, oldest first.
fn all_segments(root: &Path) -> Vec<(PathBuf, u64)> {
    resolve(root)
        .unwrap()
        .segments
        .into_iter()
        .map(|segment| {
            let path = segment.path;
            let len = std::fs::metadata(&path).unwrap().len();
            (path, len)
        })
        .collect()
}

#[test]
fn retention_deletes_oldest_sealed_segments_first() {
    let root = tempfile::tempdir().unwrap();
    let frame_len = encode(&sample_block(0)).frame.len() as u64;
    let options = WriterOptions {
        // About two blocks a segment, about three segments kept.
        max_segment_bytes: HEADER_LEN as u64 + 2 * frame_len + frame_len / 2,
        max_total_bytes: Some(7 * frame_len),
        ..WriterOptions::default()
    };
    let cap = options.max_total_bytes.unwrap();
    // An earlier session, cleanly closed, is older than anything written now.
    let (mut writer, _) = SessionWriter::open(root.path(), options.clone()).unwrap();
    writer.append(&[encode(&sample_block(0))]).unwrap();
    writer.close().unwrap();
    let mut ever: Vec<PathBuf> = all_segments(root.path()).into_iter().map(|s| s.0).collect();

    let (mut writer, _) = SessionWriter::open(root.path(), options).unwrap();
    let session = writer.session().clone();
    let mut deleted_any = false;
    for seed in 1..20 {
        writer.append(&[encode(&sample_block(seed))]).unwrap();
        let now = all_segments(root.path());
        for (path, _) in &now {
            if !ever.contains(path) {
                ever.push(path.clone());
            }
        }
        let (active, active_len) = now.last().unwrap().clone();
        assert!(
            active.starts_with(&session.path),
            "the active segment was deleted"
        );
        assert!(!is_sealed(&active));
        // What survives is always the newest segments: the oldest went first.
        let survivors: Vec<PathBuf> = now.iter().map(|s| s.0.clone()).collect();
        assert_eq!(
            survivors,
            ever[ever.len() - survivors.len()..],
            "after block {seed}"
        );
        deleted_any |= survivors.len() < ever.len();
        // Sealed segments fit the cap (the active one is counted once it is sealed).
        let sealed_total: u64 = now.iter().map(|s| s.1).sum::<u64>() - active_len;
        assert!(
            sealed_total <= cap,
            "{sealed_total} > {cap} after block {seed}"
        );
    }
    assert!(deleted_any, "retention never deleted anything");
    // The first session's only segment was the oldest, so it went first.
    assert!(!ever[0].exists());
    drop(writer);
}

#[test]
fn retention_smaller_than_one_segment_keeps_the_active_one() {
    let root = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        max_segment_bytes: 1,
        max_total_bytes: Some(1),
        ..WriterOptions::default()
    };
    let (mut writer, _) = SessionWriter::open(root.path(), options).unwrap();
    for seed in 0..4 {
        let block = sample_block(seed);
        writer.append(&[encode(&block)]).unwrap();
        let now = all_segments(root.path());
        // Every sealed segment is over the cap; only the active one, just written, is left.
        assert_eq!(now.len(), 1, "after block {seed}: {now:?}");
        assert_eq!(
            now[0].0,
            segment_path(&writer.session().path, seed as u32 + 1)
        );
        assert_eq!(scan_file(&now[0].0).blocks, vec![block]);
    }
    drop(writer);
}

/// A session of three segments of two blocks, as a collector leaves it: stopped
/// (`close`), or crashed (dropped) with its third segment active.
fn three_segments(root: &Path, stop: bool) -> Vec<PathBuf> {
    let options = WriterOptions {
        max_segment_bytes: 1,
        ..WriterOptions::default()
    };
    let (mut writer, _) = SessionWriter::open(root, options).unwrap();
    let session = writer.session().clone();
    for seed in 0..3 {
        let blocks = [
            encode(&sample_block(2 * seed)),
            encode(&sample_block(2 * seed + 1)),
        ];
        writer.append(&blocks).unwrap();
    }
    if stop {
        writer.close().unwrap();
    } else {
        drop(writer);
    }
    (1..=3).map(|n| segment_path(&session.path, n)).collect()
}

fn cut(path: &Path, len: u64) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(len).unwrap();
}

#[test]
fn a_stopped_session_records_its_end() {
    let root = tempfile::tempdir().unwrap();
    three_segments(root.path(), true);
    let session = &sessions(root.path()).unwrap()[0];
    assert!(session.is_closed());
    let finished: Vec<bool> = session
        .segment_files()
        .unwrap()
        .iter()
        .map(|s| s.finished)
        .collect();
    assert_eq!(finished, [true, true, true]);
}

#[test]
fn recovery_never_reseals_a_sealed_segment_that_was_cut_short() {
    let root = tempfile::tempdir().unwrap();
    let segments = three_segments(root.path(), false);
    // Segment 2 was sealed before 3 was created; cut inside its second block.
    let len = std::fs::metadata(&segments[1]).unwrap().len();
    cut(&segments[1], len / 2);
    let before = std::fs::read(&segments[1]).unwrap();

    let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    drop(writer);
    // Only the newest segment of the crashed run is sealed; the cut one is reported
    // and left exactly as it was, so the loss stays visible.
    assert_eq!(report.sealed, vec![(segments[2].clone(), 0)]);
    assert_eq!(std::fs::read(&segments[1]).unwrap(), before);
    assert_eq!(report.unrecoverable.len(), 1, "{:?}", report.unrecoverable);
    let lost = &report.unrecoverable[0];
    assert_eq!(lost.path, segments[1]);
    assert_eq!(lost.kind, oculus_store::CorruptionKind::MissingFooter);

    let checked = check(root.path(), |_, _| {}).unwrap();
    assert_eq!(checked.damage, report.unrecoverable);
    assert!(checked.open_tails.is_empty(), "{:?}", checked.open_tails);
    assert_eq!(checked.blocks, 5);
}

#[test]
fn recovery_leaves_a_session_that_ended_alone() {
    let root = tempfile::tempdir().unwrap();
    let segments = three_segments(root.path(), true);
    let len = std::fs::metadata(&segments[2]).unwrap().len();
    cut(&segments[2], len - 1);
    let before = std::fs::read(&segments[2]).unwrap();

    let (writer, report) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    drop(writer);
    assert!(report.sealed.is_empty(), "{:?}", report.sealed);
    assert_eq!(std::fs::read(&segments[2]).unwrap(), before);
    let checked = check(root.path(), |_, _| {}).unwrap();
    assert_eq!(checked.damage.len(), 1, "{:?}", checked.damage);
    assert_eq!(checked.damage[0].path, segments[2]);
    assert!(checked.open_tails.is_empty(), "{:?}", checked.open_tails);
}

#[test]
fn a_damaged_footer_is_damage_even_where_an_open_tail_could_be() {
    let root = tempfile::tempdir().unwrap();
    let segments = three_segments(root.path(), true);
    // Alone in a folder nothing is known of its session: it could still be written.
    let alone = tempfile::tempdir().unwrap();
    let copy = alone.path().join("segment-00000003.oseg");
    let mut data = std::fs::read(&segments[2]).unwrap();
    let footer_at = data.len() - oculus_store::frame::FOOTER_LEN;
    data[footer_at + 3] ^= 0x40;
    std::fs::write(&copy, &data).unwrap();
    let checked = check(&copy, |_, _| {}).unwrap();
    assert_eq!(
        checked.damage,
        vec![oculus_store::Corruption::new(
            &copy,
            footer_at as u64,
            oculus_store::CorruptionKind::DamagedFooter
        )]
    );
    assert!(checked.open_tails.is_empty(), "{:?}", checked.open_tails);
    assert_eq!(checked.blocks, 2);
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn only_the_owner_can_read_what_the_collector_writes() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("new/data");
    let (mut writer, _) = SessionWriter::open(&root, WriterOptions::default()).unwrap();
    writer.append(&[encode(&sample_block(0))]).unwrap();
    let session = writer.session().clone();
    writer.close().unwrap();
    for dir in [
        parent.path().join("new"),
        root.clone(),
        root.join("sessions"),
        session.path.clone(),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in [
        root.join("collector.lock"),
        session.path.join("session.json"),
        segment_path(&session.path, 1),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

#[test]
fn a_lock_file_planted_as_a_link_is_refused_and_its_target_untouched() {
    let root = tempfile::tempdir().unwrap();
    let victim = root.path().join("someone-elses-file");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::create_dir(root.path().join("sessions")).unwrap();
    std::os::unix::fs::symlink(&victim, root.path().join("collector.lock")).unwrap();
    let error = SessionWriter::open(root.path(), WriterOptions::default()).unwrap_err();
    assert!(
        matches!(&error, StoreError::Io { cause, .. } if cause.raw_os_error() == Some(libc::ELOOP)),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn a_data_directory_of_another_user_is_refused() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let root_user = std::fs::metadata(dir.path()).unwrap().uid() == 0;
    let theirs = if root_user {
        // As root, hand a directory to `nobody`.
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        dir.path().to_path_buf()
    } else {
        // As anyone else, the file system's root belongs to another user.
        PathBuf::from("/")
    };
    let error = SessionWriter::open(&theirs, WriterOptions::default()).unwrap_err();
    assert!(matches!(error, StoreError::NotOurs { .. }), "{error}");
    assert!(
        error.to_string().contains("belongs to another user"),
        "{error}"
    );
    assert!(!theirs.join("collector.lock").exists());
}
