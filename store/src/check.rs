//! Verifying every frame of a data directory, session, archive or segment.

use std::path::{Path, PathBuf};

use crate::datadir::resolve;
use crate::error::{Corruption, CorruptionKind, StoreError};

/// What a check found.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub sessions: usize,
    pub segments: usize,
    pub sealed_segments: usize,
    pub blocks: u64,
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
    pub bytes_on_disk: u64,
    /// The blocks' protobuf bytes before compression.
    pub uncompressed_bytes: u64,
    /// Damage: a non-empty list means data that was written cannot be read.
    pub damage: Vec<Corruption>,
    /// Unsealed last segments of sessions that did not end, ending in an incomplete
    /// frame, with its size. Not damage: either a collector is still writing it, or
    /// the next start recovers it.
    pub open_tails: Vec<(PathBuf, u64)>,
}

impl CheckReport {
    pub fn compression_ratio(&self) -> f64 {
        if self.bytes_on_disk == 0 {
            return 0.0;
        }
        self.uncompressed_bytes as f64 / self.bytes_on_disk as f64
    }

    pub fn is_healthy(&self) -> bool {
        self.damage.is_empty()
    }
}

/// Verifies every frame under `path`; `progress(done, total)` is called per segment
/// with byte counts.
pub fn check(path: &Path, mut progress: impl FnMut(u64, u64)) -> Result<CheckReport, StoreError> {
    let resolved = resolve(path)?;
    let mut report = CheckReport {
        sessions: resolved.sessions.len(),
        segments: resolved.segments.len(),
        ..CheckReport::default()
    };
    report.damage.extend(resolved.damage.iter().cloned());
    let total = resolved.total_bytes();
    let mut done = 0;
    for file in &resolved.segments {
        let segment = &file.path;
        let data = file.read()?;
        let scan = file.bytes(&data).scan(|_| {});
        report.bytes_on_disk += data.len() as u64;
        report.blocks += scan.blocks.len() as u64;
        for block in &scan.blocks {
            report.spans += u64::from(block.spans);
            report.logs += u64::from(block.logs);
            report.metric_points += u64::from(block.metric_points);
            report.uncompressed_bytes += u64::from(block.uncompressed_bytes);
        }
        if scan.footer.is_some() {
            report.sealed_segments += 1;
            if let Some(index) = &scan.sealed_index {
                let indexed: Vec<u64> = index.blocks.iter().map(|b| b.offset).collect();
                let found: Vec<u64> = scan.blocks.iter().map(|b| b.offset).collect();
                // With damage the scan already lost blocks the index lists.
                if indexed != found && scan.damage.is_empty() {
                    report.damage.push(Corruption::new(
                        segment,
                        file.base() + scan.footer.map_or(0, |f| f.index_offset),
                        CorruptionKind::IndexMismatch {
                            indexed: indexed.len(),
                            found: found.len(),
                        },
                    ));
                }
            }
        } else if scan.torn_tail {
            report
                .open_tails
                .push((segment.clone(), data.len() as u64 - scan.valid_len));
        }
        report.damage.extend(scan.damage);
        done += data.len() as u64;
        progress(done, total);
    }
    Ok(report)
}
