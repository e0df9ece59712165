//! Crash recovery: at a collector's start, every segment a crashed run left unsealed is
//! sealed after its last whole frame, and what that cut or skipped is reported.

use std::fs;
use std::path::{Path, PathBuf};

use crate::datadir::sessions;
use crate::error::{Corruption, StoreError};
use crate::segment::{FsyncPolicy, SegmentBytes, SegmentWriter, is_sealed, read_segment};

/// What recovery did to segments left unsealed by a previous run.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Segments that were sealed, with the bytes of torn tail cut from each.
    pub sealed: Vec<(PathBuf, u64)>,
    /// Damage found inside those segments; the valid blocks around it are kept.
    pub damage: Vec<Corruption>,
}

/// Seals every unsealed segment of the data directory.
pub(crate) fn recover(root: &Path, fsync: FsyncPolicy) -> Result<RecoveryReport, StoreError> {
    let mut report = RecoveryReport::default();
    for session in sessions(root)? {
        for path in session.segments()? {
            // Sealed segments need nothing; only their footer is read, so a start
            // costs the same however much data the directory holds.
            if is_sealed(&path)? {
                continue;
            }
            let data = read_segment(&path)?;
            let bytes = SegmentBytes::new(&path, &data);
            let scan = bytes.scan(|_| {});
            let Some(header) = scan.header else {
                if !scan.damage.is_empty() {
                    // A damaged or newer-version header still has blocks behind it:
                    // keep the file for `check` and a newer reader, never delete it.
                    report.damage.extend(scan.damage);
                    continue;
                }
                // Not even a header made it to disk: nothing was ever accepted here.
                let len = data.len() as u64;
                drop(data);
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                report.sealed.push((path, len));
                continue;
            };
            let torn = data.len() as u64 - scan.valid_len;
            drop(data);
            report.damage.extend(scan.damage);
            let writer = SegmentWriter::resume(&path, header, scan.valid_len, scan.blocks, fsync)?;
            writer.seal()?;
            report.sealed.push((path, torn));
        }
    }
    Ok(report)
}
