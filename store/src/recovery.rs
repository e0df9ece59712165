//! Crash recovery: at a collector's start, the active segment of each run that crashed
//! is sealed after its last whole frame, the session is recorded as ended, and what that
//! cut, skipped or could not recover is reported.
//!
//! Only that one segment is ever written: a session's earlier segments were sealed
//! before the next was created, so one of them without its footer was cut short later,
//! and sealing it would hide the loss. It is reported and left as it is, for `check`.

use std::fs;
use std::path::PathBuf;

use crate::datadir::{SegmentFile, sessions};
use crate::error::{Corruption, CorruptionKind, StoreError};
use crate::frame::SegmentHeader;
use crate::segment::{FsyncPolicy, SegmentBytes, SegmentWriter, is_sealed, read_segment};

/// What recovery did to the sessions a previous run left open.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Segments that were sealed, with the bytes of torn tail cut from each.
    pub sealed: Vec<(PathBuf, u64)>,
    /// Damage found inside those segments; the valid blocks around it are kept.
    pub damage: Vec<Corruption>,
    /// Damage recovery cannot repair: segments cut short after they were sealed, and
    /// headers of a format this build does not write. Left untouched for `check`.
    pub unrecoverable: Vec<Corruption>,
}

/// Recovers every session of the data directory that did not record its end.
pub(crate) fn recover(
    root: &std::path::Path,
    fsync: FsyncPolicy,
) -> Result<RecoveryReport, StoreError> {
    let mut report = RecoveryReport::default();
    for session in sessions(root)? {
        // Sessions that ended are never written again; reading only their record
        // keeps a start as fast however much data the directory holds.
        if session.is_closed() {
            continue;
        }
        let mut segments = session.segment_files()?;
        let newest = segments.pop();
        for finished in segments {
            if !is_sealed(&finished.path)? {
                report_unsealed(&finished, &mut report)?;
            }
        }
        if let Some(newest) = newest
            && !is_sealed(&newest.path)?
        {
            recover_active(&newest, fsync, &mut report)?;
        }
        session.mark_closed("recovery", fsync)?;
    }
    Ok(report)
}

/// A sealed segment that lost its end: the scan names where, and nothing is written.
fn report_unsealed(segment: &SegmentFile, report: &mut RecoveryReport) -> Result<(), StoreError> {
    let data = read_segment(&segment.path)?;
    let scan = SegmentBytes::new(&segment.path, &data)
        .finished(true)
        .scan(|_| {});
    report.unrecoverable.extend(scan.damage);
    Ok(())
}

/// Seals the segment a crashed run was writing, after its last whole frame.
fn recover_active(
    segment: &SegmentFile,
    fsync: FsyncPolicy,
    report: &mut RecoveryReport,
) -> Result<(), StoreError> {
    let path = &segment.path;
    let data = read_segment(path)?;
    let scan = SegmentBytes::new(path, &data).scan(|_| {});
    let newer_version = scan
        .damage
        .iter()
        .any(|d| matches!(d.kind, CorruptionKind::UnsupportedVersion(_)));
    if newer_version {
        // Another format's frames are not ours to cut: keep them for a newer reader.
        report.unrecoverable.extend(scan.damage);
        return Ok(());
    }
    if scan.header.is_none() && scan.damage.is_empty() {
        // Not even a header made it to disk: nothing was ever accepted here.
        let len = data.len() as u64;
        drop(data);
        fs::remove_file(path).map_err(|e| StoreError::io(path, e))?;
        report.sealed.push((path.clone(), len));
        return Ok(());
    }
    let torn = data.len() as u64 - scan.valid_len;
    drop(data);
    report.damage.extend(scan.damage);
    // A damaged header is reported above and stays as it is; the writer only appends.
    let header = scan.header.unwrap_or(SegmentHeader {
        sequence: 0,
        created_unix_nano: 0,
    });
    let mut writer = SegmentWriter::resume(path, header, scan.valid_len, scan.blocks, fsync)?;
    writer.seal()?;
    report.sealed.push((path.clone(), torn));
    Ok(())
}
