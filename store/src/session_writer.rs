//! Writing one collector run's session: the active segment, rotation by size and age,
//! retention of the total size, after recovering what an earlier run left unsealed.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::compression::EncodedBlock;
use crate::datadir::{DataDirLock, Session, create_session, sessions, unix_nanos};
use crate::error::StoreError;
use crate::frame::SegmentHeader;
use crate::recovery::{RecoveryReport, recover};
use crate::segment::{FsyncPolicy, SEGMENT_EXTENSION, SealedSegment, SegmentWriter};

/// How a collector writes its session.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Seal the active segment once it holds this many bytes.
    pub max_segment_bytes: u64,
    /// Seal the active segment once it is this old (and not empty).
    pub max_segment_age: Duration,
    /// Delete the oldest sealed segments (of any session) past this total.
    pub max_total_bytes: Option<u64>,
    pub fsync: FsyncPolicy,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            max_segment_bytes: 64 << 20,
            max_segment_age: Duration::from_secs(600),
            max_total_bytes: None,
            fsync: FsyncPolicy::Never,
        }
    }
}

/// Writes one collector run's session: rotation, retention and recovery.
#[derive(Debug)]
pub struct SessionWriter {
    lock: DataDirLock,
    session: Session,
    options: WriterOptions,
    active: Option<SegmentWriter>,
    active_since: Instant,
    next_sequence: u32,
}

impl SessionWriter {
    /// Locks the directory, recovers what a previous run left unsealed, and starts
    /// a new session.
    pub fn open(root: &Path, options: WriterOptions) -> Result<(Self, RecoveryReport), StoreError> {
        let lock = DataDirLock::acquire(root)?;
        let report = recover(root, options.fsync)?;
        let session = create_session(root, options.fsync)?;
        let writer = Self {
            lock,
            session,
            options,
            active: None,
            active_since: Instant::now(),
            next_sequence: 1,
        };
        Ok((writer, report))
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn root(&self) -> &Path {
        self.lock.root()
    }

    /// Appends blocks to the active segment, rotating first if it is full or old.
    /// Returns once the bytes are with the OS (or on disk, per the fsync policy).
    pub fn append(&mut self, blocks: &[EncodedBlock]) -> Result<(), StoreError> {
        if blocks.is_empty() {
            return Ok(());
        }
        self.abandon_poisoned();
        let incoming: u64 = blocks.iter().map(|b| b.frame.len() as u64).sum();
        let full = self.active.as_ref().is_some_and(|active| {
            active.block_count() > 0
                && active.len_bytes() + incoming > self.options.max_segment_bytes
        });
        if full || self.is_old() {
            self.seal_active()?;
        }
        if self.active.is_none() {
            self.active = Some(self.new_segment()?);
        }
        match &mut self.active {
            Some(active) => active.append(blocks),
            None => Ok(()),
        }
    }

    fn is_old(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|active| active.block_count() > 0)
            && self.active_since.elapsed() >= self.options.max_segment_age
    }

    /// Seals the active segment if it has reached its age limit; call when idle.
    pub fn tick(&mut self) -> Result<(), StoreError> {
        if self.is_old() {
            self.seal_active()?;
        }
        Ok(())
    }

    fn new_segment(&mut self) -> Result<SegmentWriter, StoreError> {
        let sequence = self.next_sequence;
        let path = self
            .session
            .path
            .join(format!("segment-{sequence:08}.{SEGMENT_EXTENSION}"));
        let header = SegmentHeader {
            sequence,
            created_unix_nano: unix_nanos(SystemTime::now()),
        };
        let segment = SegmentWriter::create(&path, header, self.options.fsync)?;
        // Only now: a failed creation leaves no file, and the next try reuses the number.
        self.next_sequence += 1;
        self.active_since = Instant::now();
        Ok(segment)
    }

    /// Lets go of an active segment that takes no more appends, so that writing goes
    /// on in a new one, after one more try at cutting and sealing it.
    fn abandon_poisoned(&mut self) {
        let Some(active) = self.active.take_if(|active| active.is_poisoned()) else {
            return;
        };
        let path = active.path().to_path_buf();
        match active.salvage() {
            Ok(_) => tracing::warn!(
                path = %path.display(),
                "sealed after a failed write that could not be cut back at first"
            ),
            // It has a successor from now on: readers report its end as damage.
            Err(error) => tracing::error!(
                path = %path.display(),
                %error,
                "left unsealed after a failed write that could not be cut back"
            ),
        }
    }

    fn seal_active(&mut self) -> Result<Option<SealedSegment>, StoreError> {
        self.abandon_poisoned();
        let Some(active) = &mut self.active else {
            return Ok(None);
        };
        // On failure the segment stays active and whole; the next rotation tries again.
        let sealed = active.seal()?;
        self.active = None;
        self.enforce_retention()?;
        Ok(Some(sealed))
    }

    /// Deletes the oldest sealed segments until the directory fits the byte cap.
    fn enforce_retention(&self) -> Result<(), StoreError> {
        let Some(cap) = self.options.max_total_bytes else {
            return Ok(());
        };
        let mut segments = Vec::new();
        let mut total = 0u64;
        for session in sessions(self.root())? {
            for path in session.segments()? {
                let len = fs::metadata(&path)
                    .map_err(|e| StoreError::io(&path, e))?
                    .len();
                total += len;
                segments.push((path, len));
            }
        }
        let active = self.active.as_ref().map(SegmentWriter::path);
        for (path, len) in segments {
            if total <= cap {
                break;
            }
            if Some(path.as_path()) == active {
                continue;
            }
            crate::failpoint::check("retention::remove")
                .and_then(|()| fs::remove_file(&path))
                .map_err(|e| StoreError::io(&path, e))?;
            total -= len;
            tracing::info!(path = %path.display(), "deleted to stay under --max-total-bytes");
        }
        Ok(())
    }

    /// Seals the active segment and records that the session ended; the session is
    /// complete on disk afterwards.
    pub fn close(mut self) -> Result<Option<SealedSegment>, StoreError> {
        let sealed = self.seal_active()?;
        self.session.mark_closed("stop", self.options.fsync)?;
        Ok(sealed)
    }
}
