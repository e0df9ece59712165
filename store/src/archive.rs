//! The archive: one file holding one or more sessions, their segments copied verbatim.
//!
//! # Layout (archive format version 1, all integers little-endian)
//!
//! ```text
//! ArchiveHeader (16 bytes)
//!     magic              [u8; 8] = b"OCULUSAR"
//!     version            u16     = 1
//!     header_len         u16     = 16
//!     crc32c             u32     over the 12 bytes before it
//! Segment*               each segment's bytes exactly as in its session directory
//!                        (header, frames, index, footer; see `segment.rs`), one after
//!                        another in session and write order
//! Manifest               UTF-8 JSON, [`Manifest`]: the sessions, what each holds, and
//!                        where each of its segments lies in this file
//! ArchiveFooter (32 bytes)
//!     manifest_offset    u64
//!     manifest_len       u64
//!     manifest_crc32c    u32     over the manifest's bytes
//!     crc32c             u32     over the 20 bytes before it
//!     magic              [u8; 8] = b"OCARCEND"
//! ```
//!
//! A reader finds the manifest from the end, through the footer, and reads each
//! segment as the range of the archive the manifest gives it: a sealed segment is
//! mapped (the archive is never written once it has its name), its block offsets are
//! the segment's own, and damage is reported at its offset in the archive.
//!
//! # Design constraints
//! - Blocks are already zstd-compressed: segments are copied, never recompressed, so
//!   archiving costs about what copying the session costs.
//! - Every segment in an archive is sealed. A session still being written when it was
//!   archived has its active segment copied up to its last whole frame and sealed in
//!   the copy, as recovery would seal it after a crash (the original is not touched;
//!   the manifest says `live` and `sealed_by_archive`). What arrives after that moment
//!   is not in the archive.
//! - The manifest's counts and services come from the sealed segments' indexes, which
//!   name each block's services: no block of theirs is decompressed (an active
//!   segment's blocks are decoded, as it has no index yet). A segment sealed before
//!   indexes named services (`SegmentIndex.has_services` unset) has every block
//!   decompressed once instead, decoding only its resources and scopes, on a second
//!   thread while it is copied.
//! - Sessions are named in the manifest by their directories' names, and a reader names
//!   them under the archive's path (`run.oculus/NAME`), as if it were a data directory.
//! - An archive is written aside (a hidden file beside the target), flushed to disk,
//!   then renamed into place: an interrupted or failed write (Ctrl-C, a full disk)
//!   leaves no archive under the target name, and the partial file is removed.
//! - The manifest and footer carry their own checksums, the segments their frames'.
//!   Damage inside a segment costs what it costs in a session directory. A damaged
//!   footer or manifest is reported, and readers then find the segments by their
//!   headers and footers (`salvage_segments`), as one session named `manifest-lost`.
//!
//! # Where the code is
//! This module is the format: its types, header, footer and manifest, and opening an
//! archive. `archiver.rs` writes archives; `datadir.rs`'s `resolve` turns one into the
//! `SegmentFile`s every reader takes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Corruption, CorruptionKind, StoreError};
use crate::frame::{FOOTER_MAGIC, Footer, SEGMENT_MAGIC, SegmentHeader};
use crate::segment::SegmentData;

/// The file name extension of archives.
pub const ARCHIVE_EXTENSION: &str = "oculus";
pub const ARCHIVE_MAGIC: [u8; 8] = *b"OCULUSAR";
pub const ARCHIVE_VERSION: u16 = 1;
pub const ARCHIVE_HEADER_LEN: usize = 16;
pub const ARCHIVE_FOOTER_MAGIC: [u8; 8] = *b"OCARCEND";
pub const ARCHIVE_FOOTER_LEN: usize = 32;

/// What an archive says about its sessions: the JSON between its segments and footer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u16,
    pub created_unix_nano: u64,
    /// The version of the program that wrote the archive.
    pub archiver_version: String,
    pub totals: Totals,
    pub sessions: Vec<ArchivedSession>,
}

/// Figures of every session together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// The sessions' durations added up.
    pub duration_nanos: u64,
    pub services: Vec<String>,
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
    pub segments: usize,
    pub segment_bytes: u64,
}

/// One session in an archive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArchivedSession {
    /// Its directory's name in the data directory.
    pub name: String,
    #[serde(flatten)]
    pub summary: SessionSummary,
    /// Its `session.json`, as it was.
    pub record: serde_json::Value,
    pub segments: Vec<ArchivedSegment>,
}

/// Where one segment lies in an archive.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedSegment {
    /// Its file name in the session directory.
    pub name: String,
    pub offset: u64,
    pub len: u64,
    /// Always true in an archive: no segment of it is written again.
    pub finished: bool,
    /// It was active when archived: the copy was sealed after its last whole frame.
    #[serde(default)]
    pub sealed_by_archive: bool,
}

/// What a session holds, from its record and its segments' indexes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub started_unix_nano: Option<u64>,
    pub ended_unix_nano: Option<u64>,
    /// How it ended: `stop` or `recovery`; none while it runs.
    pub ended_by: Option<String>,
    /// It had not ended when archived (or listed).
    pub live: bool,
    pub collector_version: Option<String>,
    /// From its start to its end, or to its last record while it runs.
    pub duration_nanos: u64,
    pub first_record_unix_nano: Option<u64>,
    pub last_record_unix_nano: Option<u64>,
    pub services: Vec<String>,
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
    /// Bytes of its segments.
    pub bytes: u64,
}

pub(crate) fn encode_header() -> [u8; ARCHIVE_HEADER_LEN] {
    let mut header = [0u8; ARCHIVE_HEADER_LEN];
    header[..8].copy_from_slice(&ARCHIVE_MAGIC);
    header[8..10].copy_from_slice(&ARCHIVE_VERSION.to_le_bytes());
    header[10..12].copy_from_slice(&(ARCHIVE_HEADER_LEN as u16).to_le_bytes());
    let crc = crc32c::crc32c(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    header
}

pub(crate) fn encode_footer(manifest_offset: u64, manifest: &[u8]) -> [u8; ARCHIVE_FOOTER_LEN] {
    let mut footer = [0u8; ARCHIVE_FOOTER_LEN];
    footer[..8].copy_from_slice(&manifest_offset.to_le_bytes());
    footer[8..16].copy_from_slice(&(manifest.len() as u64).to_le_bytes());
    footer[16..20].copy_from_slice(&crc32c::crc32c(manifest).to_le_bytes());
    let crc = crc32c::crc32c(&footer[..20]);
    footer[20..24].copy_from_slice(&crc.to_le_bytes());
    footer[24..].copy_from_slice(&ARCHIVE_FOOTER_MAGIC);
    footer
}

/// Whether the file at `path` starts as an archive does (its header is not verified).
pub fn is_archive(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    File::open(path)
        .and_then(|file| file.read_exact_at(&mut magic, 0))
        .is_ok_and(|()| magic == ARCHIVE_MAGIC)
}

/// An archive opened for reading: its manifest, checked against the file.
#[derive(Clone, Debug)]
pub struct Archive {
    pub path: PathBuf,
    pub manifest: Manifest,
}

impl Archive {
    /// Reads the header, footer and manifest of the archive at `path`; damage to any
    /// of them is a [`Corruption`] naming where.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let io = |source| StoreError::io(path, source);
        let corrupt = |offset, kind| StoreError::from(Corruption::new(path, offset, kind));
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < (ARCHIVE_HEADER_LEN + ARCHIVE_FOOTER_LEN) as u64 {
            return Err(corrupt(0, CorruptionKind::ArchiveTooShort));
        }
        let mut header = [0u8; ARCHIVE_HEADER_LEN];
        file.read_exact_at(&mut header, 0).map_err(io)?;
        check_header(&header).map_err(|kind| corrupt(0, kind))?;
        let footer_offset = len - ARCHIVE_FOOTER_LEN as u64;
        let mut footer = [0u8; ARCHIVE_FOOTER_LEN];
        file.read_exact_at(&mut footer, footer_offset).map_err(io)?;
        let (manifest_offset, manifest_len, manifest_crc) = decode_footer(&footer)
            .ok_or_else(|| corrupt(footer_offset, CorruptionKind::DamagedArchiveFooter))?;
        let manifest_end = manifest_offset.checked_add(manifest_len);
        if manifest_offset < ARCHIVE_HEADER_LEN as u64 || manifest_end != Some(footer_offset) {
            return Err(corrupt(footer_offset, CorruptionKind::DamagedArchiveFooter));
        }
        let mut json =
            vec![
                0u8;
                usize::try_from(manifest_len)
                    .map_err(|_| corrupt(footer_offset, CorruptionKind::DamagedArchiveFooter))?
            ];
        file.read_exact_at(&mut json, manifest_offset).map_err(io)?;
        if crc32c::crc32c(&json) != manifest_crc {
            return Err(corrupt(
                manifest_offset,
                CorruptionKind::ArchiveManifestChecksum,
            ));
        }
        let manifest: Manifest = serde_json::from_slice(&json).map_err(|e| {
            corrupt(
                manifest_offset,
                CorruptionKind::ArchiveManifest(e.to_string()),
            )
        })?;
        for session in &manifest.sessions {
            for segment in &session.segments {
                let end = segment.offset.checked_add(segment.len);
                let inside = segment.offset >= ARCHIVE_HEADER_LEN as u64
                    && end.is_some_and(|end| end <= manifest_offset);
                if !inside {
                    let kind = CorruptionKind::ArchiveManifest(format!(
                        "segment {} of session {} lies outside the archive's segments",
                        segment.name, session.name
                    ));
                    return Err(corrupt(manifest_offset, kind));
                }
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            manifest,
        })
    }

    /// The path naming a session of this archive: the archive's path, then the
    /// session's name, as if the archive were its data directory. Nothing is there
    /// on disk; readers know the session's segments by
    /// `datadir::archive_segment_files`.
    pub fn session_path(&self, session: &ArchivedSession) -> PathBuf {
        self.path.join(&session.name)
    }
}

/// Where the segments of an archive whose manifest cannot be read lie, as `(offset,
/// len)`: each verified segment header starts one, which ends after its own verified
/// footer, or else where the next one starts or the file ends (a reader then reports
/// what is missing). So a damaged footer or manifest costs only the sessions' names
/// and facts, not their records.
pub fn salvage_segments(data: &[u8]) -> Vec<(u64, u64)> {
    let starts: Vec<usize> = memchr::memmem::find_iter(data, &SEGMENT_MAGIC)
        .filter(|&at| {
            at >= ARCHIVE_HEADER_LEN && matches!(SegmentHeader::decode(&data[at..]), Ok(Some(_)))
        })
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let limit = starts.get(i + 1).copied().unwrap_or(data.len());
            let range = &data[start..limit];
            let end = memchr::memmem::rfind_iter(range, &FOOTER_MAGIC)
                .map(|at| at + FOOTER_MAGIC.len())
                .find(|&end| Footer::find(&range[..end]).is_some())
                .unwrap_or(range.len());
            (start as u64, end as u64)
        })
        .collect()
}

/// Where a segment lies within an archive, and the session it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedAt {
    pub offset: u64,
    pub len: u64,
    /// The session's path, as [`Archive::session_path`] names it.
    pub session: PathBuf,
}

fn check_header(header: &[u8; ARCHIVE_HEADER_LEN]) -> Result<(), CorruptionKind> {
    if header[..8] != ARCHIVE_MAGIC {
        return Err(CorruptionKind::NotAnArchive);
    }
    let crc = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    if crc32c::crc32c(&header[..12]) != crc {
        return Err(CorruptionKind::HeaderChecksum);
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    if version != ARCHIVE_VERSION {
        return Err(CorruptionKind::UnsupportedArchiveVersion(version));
    }
    Ok(())
}

/// The manifest's offset, length and checksum, if the footer verifies.
fn decode_footer(footer: &[u8; ARCHIVE_FOOTER_LEN]) -> Option<(u64, u64, u32)> {
    let u64_at = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&footer[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    let u32_at = |at: usize| {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&footer[at..at + 4]);
        u32::from_le_bytes(bytes)
    };
    let verified =
        footer[24..] == ARCHIVE_FOOTER_MAGIC && crc32c::crc32c(&footer[..20]) == u32_at(20);
    verified.then(|| (u64_at(0), u64_at(8), u32_at(16)))
}

/// Maps `len` bytes of the archive at `path` from `offset`: one segment of it, read in
/// ahead if `populate` (for a reader going through all of it).
pub(crate) fn map_range(
    path: &Path,
    offset: u64,
    len: u64,
    populate: bool,
) -> Result<SegmentData, StoreError> {
    let io = |source| StoreError::io(path, source);
    let file = File::open(path).map_err(io)?;
    let len = usize::try_from(len).map_err(|e| io(std::io::Error::other(e)))?;
    if len == 0 {
        return Ok(SegmentData::Read(Vec::new()));
    }
    #[expect(
        unsafe_code,
        reason = "mapping is how sealed segments are read without copying"
    )]
    // SAFETY: an archive is never written once it has its name (it is written aside
    // and renamed into place); it may be deleted, which keeps the mapping valid on Unix.
    let map = unsafe {
        let mut options = memmap2::MmapOptions::new();
        options.offset(offset).len(len);
        if populate {
            options.populate();
        }
        options.map(&file)
    }
    .map_err(io)?;
    Ok(SegmentData::Mapped(map))
}
