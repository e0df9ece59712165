//! Archives: sessions packed into one file read back as the sessions did, damage
//! inside them reported at its offset in the archive, and a write that stops or fails
//! leaving nothing under the target's name.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use oculus_store::archive::{ARCHIVE_FOOTER_LEN, Archive};
use oculus_store::proto::Block;
use oculus_store::{
    ArchiveError, Corruption, CorruptionKind, SegmentItem, Session, SessionWriter, WriterOptions,
    check, resolve, write_archive,
};

use crate::common::{encode, sample_block};

/// Every block under `path` (a data directory, session or archive) and the damage met,
/// read as `check` and `export` read them.
fn read_blocks(path: &Path) -> (Vec<Block>, Vec<oculus_store::Corruption>) {
    let mut blocks = Vec::new();
    let mut damage = Vec::new();
    for file in resolve(path).unwrap().segments {
        let data = file.read().unwrap();
        let scan = file.bytes(&data).scan(|item| {
            if let SegmentItem::Block { block, .. } = item {
                blocks.push(block);
            }
        });
        damage.extend(scan.damage);
    }
    (blocks, damage)
}

/// A data directory with a session that ended (several segments) and a session still
/// being written (its last segment active), with the writer of the second kept open.
fn two_sessions() -> (tempfile::TempDir, Vec<Session>, SessionWriter) {
    let root = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        max_segment_bytes: 1500,
        ..WriterOptions::default()
    };
    let (mut first, _) = SessionWriter::open(root.path(), options.clone()).unwrap();
    for seed in 0..6 {
        first.append(&[encode(&sample_block(seed))]).unwrap();
    }
    let first_session = first.session().clone();
    first.close().unwrap();
    let (mut second, _) = SessionWriter::open(root.path(), options).unwrap();
    for seed in 6..9 {
        second.append(&[encode(&sample_block(seed))]).unwrap();
    }
    let second_session = second.session().clone();
    (root, vec![first_session, second_session], second)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn an_archive_reads_back_every_block_of_its_sessions_and_says_what_they_hold() {
    let (root, sessions, _writer) = two_sessions();
    let active = sessions[1].segments().unwrap().pop().unwrap();
    let active_before = std::fs::read(&active).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("run.oculus");

    // The second session named twice, once by another spelling of its path.
    let mut named = sessions.clone();
    named.push(Session {
        path: sessions[1].path.join("."),
    });
    let manifest = write_archive(&named, &target, |_, _| ControlFlow::Continue(())).unwrap();

    let (expected, damage) = read_blocks(root.path());
    assert!(damage.is_empty(), "{damage:?}");
    let (archived, damage) = read_blocks(&target);
    assert!(damage.is_empty(), "{damage:?}");
    assert_eq!(archived, expected);
    assert_eq!(archived.len(), 9);
    // The active segment is read, never written.
    assert_eq!(std::fs::read(&active).unwrap(), active_before);
    assert_eq!(files_in(out.path()), vec![target.clone()]);

    let spans: u64 = expected.iter().map(|b| b.spans.len() as u64).sum();
    let logs: u64 = expected.iter().map(|b| b.logs.len() as u64).sum();
    assert_eq!((manifest.totals.spans, manifest.totals.logs), (spans, logs));
    assert_eq!(manifest.totals.services, ["orders"]);
    assert_eq!(manifest.sessions.len(), 2);
    let [ended, live] = &manifest.sessions[..] else {
        panic!("two sessions");
    };
    assert_eq!(ended.name, sessions[0].name());
    assert!(!ended.summary.live);
    assert_eq!(ended.summary.ended_by.as_deref(), Some("stop"));
    assert!(ended.segments.len() > 1, "{:?}", ended.segments);
    assert!(ended.segments.iter().all(|s| !s.sealed_by_archive));
    assert!(live.summary.live);
    assert_eq!(live.summary.ended_unix_nano, None);
    assert!(live.segments.last().unwrap().sealed_by_archive);
    assert_eq!(live.record["collector_pid"], std::process::id());

    let report = check(&target, |_, _| {}).unwrap();
    assert!(report.is_healthy(), "{:?}", report.damage);
    assert_eq!(report.sessions, 2);
    assert_eq!(report.segments, report.sealed_segments);
    assert_eq!((report.spans, report.logs), (spans, logs));
    assert!(report.open_tails.is_empty());

    let opened = Archive::open(&target).unwrap();
    assert_eq!(opened.manifest, manifest);
    let resolved = resolve(&target).unwrap();
    assert_eq!(
        resolved.sessions[1].path,
        target.join(sessions[1].name()),
        "a session of an archive is named under the archive's path"
    );
}

#[test]
fn damage_inside_an_archive_is_reported_at_its_offset_in_the_archive() {
    let (_root, sessions, _writer) = two_sessions();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("run.oculus");
    let manifest =
        write_archive(&sessions[..1], &target, |_, _| ControlFlow::Continue(())).unwrap();
    let segment = &manifest.sessions[0].segments[1];
    let index = oculus_store::segment::read_index(&sessions[0].segments().unwrap()[1])
        .unwrap()
        .unwrap();
    let block = &index.blocks[0];
    // A byte in the middle of the block's payload.
    let at = segment.offset + block.offset + u64::from(block.frame_bytes) / 2;
    let mut bytes = std::fs::read(&target).unwrap();
    bytes[at as usize] ^= 0x40;
    std::fs::write(&target, &bytes).unwrap();

    let report = check(&target, |_, _| {}).unwrap();
    assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
    let damage = &report.damage[0];
    assert_eq!(damage.path, target);
    assert_eq!(damage.offset, segment.offset + block.offset);
    assert_eq!(damage.kind, CorruptionKind::FrameChecksum);
    let (blocks, damage) = read_blocks(&target);
    assert_eq!(damage.len(), 1);
    assert_eq!(blocks.len(), 5, "only the damaged block is lost");
}

#[test]
fn a_damaged_manifest_or_footer_is_reported_and_every_record_still_read() {
    let (root, sessions, _writer) = two_sessions();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("run.oculus");
    let manifest = write_archive(&sessions, &target, |_, _| ControlFlow::Continue(())).unwrap();
    let last = manifest.sessions[1].segments.last().unwrap().clone();
    let (expected, _) = read_blocks(root.path());
    let written = std::fs::read(&target).unwrap();
    let footer = written.len() - ARCHIVE_FOOTER_LEN;
    let manifest_offset = u64::from_le_bytes(written[footer..footer + 8].try_into().unwrap());

    let mut bytes = written.clone();
    bytes[manifest_offset as usize + 3] ^= 1;
    std::fs::write(&target, &bytes).unwrap();
    let resolved = resolve(&target).unwrap();
    let lost = Corruption::new(
        &target,
        manifest_offset,
        CorruptionKind::ArchiveManifestChecksum,
    );
    assert_eq!(resolved.damage, std::slice::from_ref(&lost));
    assert_eq!(
        resolved.sessions,
        [Session {
            path: target.join("manifest-lost")
        }]
    );
    let (blocks, damage) = read_blocks(&target);
    assert!(damage.is_empty(), "{damage:?}");
    assert_eq!(blocks, expected, "every segment found without the manifest");
    let report = check(&target, |_, _| {}).unwrap();
    assert_eq!(report.damage, [lost]);
    assert_eq!(report.segments, report.sealed_segments);

    // Cut short by one byte: the footer is gone, the records are not.
    let mut bytes = written.clone();
    bytes.pop();
    std::fs::write(&target, &bytes).unwrap();
    let report = check(&target, |_, _| {}).unwrap();
    assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
    assert_eq!(report.damage[0].kind, CorruptionKind::DamagedArchiveFooter);
    assert_eq!(report.damage[0].offset, (footer - 1) as u64);
    assert_eq!(read_blocks(&target).0, expected);

    // Cut inside the last segment: what comes before it is read, the cut is reported.
    let cut = (last.offset + last.len / 2) as usize;
    std::fs::write(&target, &written[..cut]).unwrap();
    let (blocks, damage) = read_blocks(&target);
    assert!(!damage.is_empty());
    assert!(damage.iter().all(|d| d.path == target), "{damage:?}");
    assert!(
        blocks.len() < expected.len() && blocks.len() >= 6,
        "{}",
        blocks.len()
    );
    assert_eq!(blocks[..], expected[..blocks.len()]);
}

#[test]
fn a_stopped_archive_leaves_the_target_as_it_was_and_no_partial_file() {
    let (_root, sessions, _writer) = two_sessions();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("run.oculus");
    std::fs::write(&target, "an older archive").unwrap();
    let mut calls = 0;
    let error = write_archive(&sessions, &target, |_, _| {
        calls += 1;
        ControlFlow::Break(())
    })
    .unwrap_err();
    assert!(matches!(error, ArchiveError::Stopped { .. }), "{error}");
    assert_eq!(calls, 1);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "an older archive"
    );
    assert_eq!(files_in(out.path()), vec![target.clone()]);

    // A target in a directory that does not exist: nothing is created anywhere.
    let missing = out.path().join("no-such-dir/run.oculus");
    let error = write_archive(&sessions, &missing, |_, _| ControlFlow::Continue(())).unwrap_err();
    assert!(error.to_string().contains("no-such-dir"), "{error}");
    assert_eq!(files_in(out.path()), vec![target]);
}

/// The checked-in archive of format version 1: a live session of the segment fixtures
/// `sealed.oseg` and `torn-tail.oseg` (see store/fixtures/README.md).
fn fixture() -> PathBuf {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/archive-v1/live-session.oculus");
    if std::env::var_os("OCULUS_WRITE_FIXTURES").is_some_and(|v| v == "1") {
        write_fixture(&path);
    }
    path
}

fn write_fixture(path: &Path) {
    let segments = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v1");
    let root = tempfile::tempdir().unwrap();
    let session = root.path().join("2025-11-25T16-00-00.000Z-4242");
    std::fs::create_dir_all(&session).unwrap();
    std::fs::write(
        session.join("session.json"),
        "{\"started_unix_nano\": 1764086400000000000, \"collector_pid\": 4242, \
         \"collector_version\": \"0.0.0\", \"format_version\": 1}\n",
    )
    .unwrap();
    std::fs::copy(
        segments.join("sealed.oseg"),
        session.join("segment-00000001.oseg"),
    )
    .unwrap();
    std::fs::copy(
        segments.join("torn-tail.oseg"),
        session.join("segment-00000002.oseg"),
    )
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_archive(&[Session { path: session }], path, |_, _| {
        ControlFlow::Continue(())
    })
    .unwrap();
}

#[test]
fn v1_archive_fixture_loads_with_its_manifest_and_blocks() {
    let path = fixture();
    let archive = Archive::open(&path).unwrap();
    let manifest = &archive.manifest;
    assert_eq!(manifest.format_version, 1);
    assert_eq!(manifest.sessions.len(), 1);
    let session = &manifest.sessions[0];
    assert_eq!(session.name, "2025-11-25T16-00-00.000Z-4242");
    assert!(session.summary.live);
    assert_eq!(
        session.summary.started_unix_nano,
        Some(1_764_086_400_000_000_000)
    );
    assert_eq!(session.summary.services, ["checkout"]);
    // The sealed segment's three blocks, and the torn one's two whole blocks.
    assert_eq!(
        (
            session.summary.spans,
            session.summary.logs,
            session.summary.metric_points
        ),
        (4, 6, 2)
    );
    let sealed_by_archive: Vec<bool> = session
        .segments
        .iter()
        .map(|s| s.sealed_by_archive)
        .collect();
    assert_eq!(sealed_by_archive, [false, true]);
    assert_eq!(manifest.totals.spans, 4);

    let report = check(&path, |_, _| {}).unwrap();
    assert!(report.is_healthy(), "{:?}", report.damage);
    assert_eq!(
        (report.segments, report.sealed_segments, report.blocks),
        (2, 2, 5)
    );
    let (blocks, damage) = read_blocks(&path);
    assert!(damage.is_empty());
    let segments = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v1");
    let (mut expected, _) = read_blocks(&segments.join("sealed.oseg"));
    expected.extend(read_blocks(&segments.join("torn-tail.oseg")).0);
    assert_eq!(blocks, expected);
}

/// A block of one log record from a resource without `service.name`.
fn unnamed_service_block() -> Block {
    let mut builder = oculus_store::BlockBuilder::new();
    builder.set_base_time(crate::common::BASE_TIME_UNIX_NANO);
    let resource = builder.add_resource(oculus_store::proto::Resource::default());
    let scope = builder.add_scope(oculus_store::proto::Scope {
        resource,
        ..oculus_store::proto::Scope::default()
    });
    builder.push_log(
        oculus_store::proto::LogRecord {
            scope,
            severity_number: 9,
            ..oculus_store::proto::LogRecord::default()
        },
        crate::common::BASE_TIME_UNIX_NANO,
        0,
    );
    builder.finish()
}

#[test]
fn services_of_a_new_session_come_from_its_index_without_decoding_a_block() {
    let root = tempfile::tempdir().unwrap();
    let (mut writer, _) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    for seed in 0..3 {
        writer.append(&[encode(&sample_block(seed))]).unwrap();
    }
    writer.append(&[encode(&unnamed_service_block())]).unwrap();
    let session = writer.session().clone();
    writer.close().unwrap();

    // Every block made unreadable; the indexes left whole.
    for path in session.segments().unwrap() {
        let index = oculus_store::segment::read_index(&path).unwrap().unwrap();
        assert!(index.has_services);
        let mut bytes = std::fs::read(&path).unwrap();
        for block in &index.blocks {
            bytes[(block.offset + u64::from(block.frame_bytes) / 2) as usize] ^= 0x10;
        }
        std::fs::write(&path, &bytes).unwrap();
    }
    let expected = ["orders", "unknown_service"];
    let summary = oculus_store::archiver::summarize(&session).unwrap();
    assert_eq!(summary.services, expected);

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("run.oculus");
    let manifest = write_archive(&[session], &target, |_, _| ControlFlow::Continue(())).unwrap();
    assert_eq!(manifest.sessions[0].summary.services, expected);
    assert_eq!(manifest.totals.services, expected);
    let (blocks, damage) = read_blocks(&target);
    assert!(blocks.is_empty(), "no block of the archive decodes");
    assert!(!damage.is_empty());
}

#[test]
fn a_segment_sealed_before_indexes_named_services_gets_them_from_its_blocks() {
    let root = tempfile::tempdir().unwrap();
    let session = root.path().join("2025-11-25T16-00-00.000Z-4242");
    std::fs::create_dir_all(&session).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v1/sealed.oseg");
    let segment = session.join("segment-00000001.oseg");
    std::fs::copy(&fixture, &segment).unwrap();
    let index = oculus_store::segment::read_index(&segment)
        .unwrap()
        .unwrap();
    assert!(!index.has_services);
    assert!(index.blocks.iter().all(|block| block.services.is_empty()));

    let session = Session { path: session };
    let summary = oculus_store::archiver::summarize(&session).unwrap();
    assert_eq!(summary.services, ["checkout"]);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("run.oculus");
    let manifest = write_archive(&[session], &target, |_, _| ControlFlow::Continue(())).unwrap();
    assert_eq!(manifest.sessions[0].summary.services, ["checkout"]);
    assert_eq!(manifest.sessions[0].summary.spans, 2);
}
