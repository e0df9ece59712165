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
//!   the manifest says `live_when_archived` and `sealed_by_archive`). What arrives
//!   after that moment is not in the archive.
//! - The manifest's counts come from the segments' indexes (no block is decoded for
//!   them); the services come from the blocks' resources, the one thing no index
//!   holds, so archiving decompresses every block once, decoding only its resources.
//! - An archive is written aside (a hidden file beside the target), flushed to disk,
//!   then renamed into place: an interrupted or failed write (Ctrl-C, a full disk)
//!   leaves no archive under the target name, and the partial file is removed.
//! - The manifest and footer carry their own checksums, the segments their frames'.
//!   Damage inside a segment costs what it costs in a session directory.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use prost::Message;
use serde::{Deserialize, Serialize};

use crate::compression::segment_frame;
use crate::datadir::{SESSION_FILE, SegmentFile, Session, unix_nanos};
use crate::error::{Corruption, CorruptionKind, StoreError};
use crate::failpoint;
use crate::frame::{Footer, FrameKind, len_u32};
use crate::proto::{BlockSummary, SegmentIndex, any_value};
use crate::segment::{RawItem, SegmentBytes, SegmentData, read_segment, sync_dir};

/// The file name extension of archives.
pub const ARCHIVE_EXTENSION: &str = "oculus";
pub const ARCHIVE_MAGIC: [u8; 8] = *b"OCULUSAR";
pub const ARCHIVE_VERSION: u16 = 1;
pub const ARCHIVE_HEADER_LEN: usize = 16;
pub const ARCHIVE_FOOTER_MAGIC: [u8; 8] = *b"OCARCEND";
pub const ARCHIVE_FOOTER_LEN: usize = 32;

/// Bytes copied between two progress reports (and chances to stop).
const COPY_CHUNK_BYTES: usize = 8 << 20;

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

impl SessionSummary {
    /// The summary of `session` from its record and from `segments`' figures.
    fn new(record: &serde_json::Value, live: bool, segments: &[SegmentFigures]) -> Self {
        let field = |name: &str| record.get(name).and_then(serde_json::Value::as_u64);
        let mut summary = Self {
            started_unix_nano: field("started_unix_nano"),
            ended_unix_nano: field("ended_unix_nano"),
            ended_by: record
                .get("ended_by")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            live,
            collector_version: record
                .get("collector_version")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            ..Self::default()
        };
        let mut services = BTreeSet::new();
        for figures in segments {
            summary.spans += figures.spans;
            summary.logs += figures.logs;
            summary.metric_points += figures.metric_points;
            summary.bytes += figures.bytes;
            services.extend(figures.services.iter().cloned());
            summary.first_record_unix_nano = min_some(
                summary.first_record_unix_nano,
                figures.first_record_unix_nano,
            );
            summary.last_record_unix_nano = summary
                .last_record_unix_nano
                .max(figures.last_record_unix_nano);
        }
        summary.services = services.into_iter().collect();
        let start = summary.started_unix_nano.or(summary.first_record_unix_nano);
        let end = summary.ended_unix_nano.or(summary.last_record_unix_nano);
        if let (Some(start), Some(end)) = (start, end) {
            summary.duration_nanos = end.saturating_sub(start);
        }
        summary
    }
}

fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What one segment holds.
#[derive(Debug, Default)]
struct SegmentFigures {
    spans: u64,
    logs: u64,
    metric_points: u64,
    bytes: u64,
    first_record_unix_nano: Option<u64>,
    last_record_unix_nano: Option<u64>,
    services: BTreeSet<String>,
}

impl SegmentFigures {
    fn count(&mut self, blocks: &[BlockSummary]) {
        for block in blocks {
            self.spans += u64::from(block.spans);
            self.logs += u64::from(block.logs);
            self.metric_points += u64::from(block.metric_points);
            if block.min_time_unix_nano != 0 {
                self.first_record_unix_nano =
                    min_some(self.first_record_unix_nano, Some(block.min_time_unix_nano));
            }
            if block.max_time_unix_nano != 0 {
                self.last_record_unix_nano = self
                    .last_record_unix_nano
                    .max(Some(block.max_time_unix_nano));
            }
        }
    }
}

/// A block with only its strings and resources decoded: all the services need.
#[derive(Clone, PartialEq, prost::Message)]
struct BlockResources {
    #[prost(string, repeated, tag = "1")]
    strings: Vec<String>,
    #[prost(message, repeated, tag = "2")]
    resources: Vec<crate::proto::Resource>,
}

impl BlockResources {
    fn services(&self) -> impl Iterator<Item = &str> {
        self.resources.iter().flat_map(|resource| {
            resource.attributes.iter().filter_map(|attribute| {
                let key = self.strings.get(attribute.key as usize)?;
                match attribute.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(name) if key == "service.name" => {
                        Some(name.as_str())
                    }
                    _ => None,
                }
            })
        })
    }
}

/// One segment's bytes as they go into an archive, and what they hold.
struct Prepared {
    /// The segment's bytes, as read.
    data: SegmentData,
    /// How many of `data` are copied: all, or an active segment's whole frames.
    copied: usize,
    /// Appended after `copied`: the index and footer that seal an active segment.
    seal: Vec<u8>,
    figures: SegmentFigures,
}

impl Prepared {
    fn len(&self) -> u64 {
        (self.copied + self.seal.len()) as u64
    }
}

/// Reads one segment of a session and works out what its copy holds.
fn prepare(file: &SegmentFile) -> Result<Option<Prepared>, StoreError> {
    let data = file.read()?;
    let bytes = file.bytes(&data);
    let mut figures = SegmentFigures::default();
    let mut services = BTreeSet::new();
    let scan = bytes.scan_raw(|item| {
        if let RawItem::Block(raw) = item
            && let Ok(block) = BlockResources::decode(raw.raw)
        {
            services.extend(block.services().map(str::to_owned));
        }
    });
    figures.services = services;
    if scan.footer.is_some() || file.finished {
        // Sealed, or cut short after it was sealed: copied as it is, damage and all,
        // for `check` to report from the archive as from the session.
        let index = match &scan.sealed_index {
            Some(index) => index.blocks.clone(),
            None => summaries(&bytes),
        };
        figures.count(&index);
        figures.bytes = data.len() as u64;
        let copied = data.len();
        return Ok(Some(Prepared {
            data,
            copied,
            seal: Vec::new(),
            figures,
        }));
    }
    if scan.header.is_none() && scan.damage.is_empty() {
        // Not even a header yet: nothing was accepted into it.
        return Ok(None);
    }
    // Active: its whole frames, sealed as recovery would seal them.
    let blocks = summaries(&bytes);
    figures.count(&blocks);
    let copied = usize::try_from(scan.valid_len).unwrap_or(data.len());
    let index = SegmentIndex { blocks }.encode_to_vec();
    let io = |source| StoreError::io(&file.path, source);
    let mut seal = segment_frame(FrameKind::Index, 0, &index).map_err(io)?;
    let footer = Footer {
        index_offset: scan.valid_len,
        index_frame_len: len_u32(seal.len()).map_err(io)?,
    };
    seal.extend_from_slice(&footer.encode());
    figures.bytes = (copied + seal.len()) as u64;
    Ok(Some(Prepared {
        data,
        copied,
        seal,
        figures,
    }))
}

/// Every readable block's summary, by a scan that decodes them.
fn summaries(bytes: &SegmentBytes<'_>) -> Vec<BlockSummary> {
    bytes.scan(|_| {}).blocks
}

/// What a session holds, from its record, its segments' indexes and their blocks'
/// resources (see the module doc): what `oculus-collector sessions` lists.
pub fn summarize(session: &Session) -> Result<SessionSummary, StoreError> {
    let record = read_record(session);
    let mut figures = Vec::new();
    for file in session.segment_files()? {
        if let Some(prepared) = prepare(&file)? {
            figures.push(prepared.figures);
        }
    }
    Ok(SessionSummary::new(&record, !session.is_closed(), &figures))
}

/// A session's `session.json`, or an empty object where it has none (segments copied
/// into a folder).
fn read_record(session: &Session) -> serde_json::Value {
    std::fs::read_to_string(session.path.join(SESSION_FILE))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| serde_json::json!({}))
}

/// A file being written under a hidden name beside its target, removed unless it was
/// renamed into place.
struct Aside {
    path: PathBuf,
    file: File,
    kept: bool,
}

impl Aside {
    fn create(target: &Path) -> Result<Self, StoreError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = target.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        let file = failpoint::check("archive::create")
            .and_then(|()| File::options().write(true).create_new(true).open(&path))
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(Self {
            path,
            file,
            kept: false,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        failpoint::check("archive::write")
            .and_then(|()| self.file.write_all(bytes))
            .map_err(|e| StoreError::io(&self.path, e))
    }

    /// Flushes the file and gives it the target's name.
    fn rename_to(mut self, target: &Path) -> Result<(), StoreError> {
        failpoint::check("archive::sync")
            .and_then(|()| self.file.sync_all())
            .map_err(|e| StoreError::io(&self.path, e))?;
        failpoint::check("archive::rename")
            .and_then(|()| std::fs::rename(&self.path, target))
            .map_err(|e| StoreError::io(target, e))?;
        self.kept = true;
        let dir = target
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        sync_dir(dir).map_err(|e| StoreError::io(dir, e))
    }
}

impl Drop for Aside {
    fn drop(&mut self) {
        if !self.kept {
            // Nothing else can be done about a failed removal of a hidden partial file.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Why an archive was not written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stopped before the archive was complete; {} was not written", target.display())]
    Stopped { target: PathBuf },
    #[error("{} is empty: no session was given", target.display())]
    NoSessions { target: PathBuf },
}

/// Writes `sessions` into one archive at `target` (see the module doc), replacing
/// what is there only once the archive is whole. `progress(done, total)` is called
/// with byte counts as segments are copied; returning `Break` stops the write and
/// leaves `target` as it was.
pub fn write_archive(
    sessions: &[Session],
    target: &Path,
    mut progress: impl FnMut(u64, u64) -> ControlFlow<()>,
) -> Result<Manifest, ArchiveError> {
    if sessions.is_empty() {
        return Err(ArchiveError::NoSessions {
            target: target.to_path_buf(),
        });
    }
    let mut listed = Vec::new();
    let mut total = 0;
    for session in sessions {
        let files = session.segment_files()?;
        for file in &files {
            total += std::fs::metadata(&file.path)
                .map_err(|e| StoreError::io(&file.path, e))?
                .len();
        }
        listed.push((session, files));
    }
    let mut aside = Aside::create(target)?;
    aside.write(&encode_header())?;
    let mut offset = ARCHIVE_HEADER_LEN as u64;
    let mut done = 0;
    let mut manifest = Manifest {
        format_version: ARCHIVE_VERSION,
        created_unix_nano: unix_nanos(SystemTime::now()),
        archiver_version: env!("CARGO_PKG_VERSION").to_owned(),
        ..Manifest::default()
    };
    for (session, files) in listed {
        let record = read_record(session);
        let live = !session.is_closed();
        let mut figures = Vec::new();
        let mut segments = Vec::new();
        for file in &files {
            let stop = || ArchiveError::Stopped {
                target: target.to_path_buf(),
            };
            let Some(prepared) = prepare(file)? else {
                continue;
            };
            for chunk in prepared.data[..prepared.copied].chunks(COPY_CHUNK_BYTES) {
                aside.write(chunk)?;
                done += chunk.len() as u64;
                if progress(done, total).is_break() {
                    return Err(stop());
                }
            }
            aside.write(&prepared.seal)?;
            segments.push(ArchivedSegment {
                name: file
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                offset,
                len: prepared.len(),
                finished: true,
                sealed_by_archive: !prepared.seal.is_empty(),
            });
            offset += prepared.len();
            figures.push(prepared.figures);
        }
        manifest.sessions.push(ArchivedSession {
            name: session.name(),
            summary: SessionSummary::new(&record, live, &figures),
            record,
            segments,
        });
    }
    manifest.totals = totals(&manifest.sessions);
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| StoreError::io(target, std::io::Error::other(e)))?;
    aside.write(&json)?;
    aside.write(&encode_footer(offset, &json))?;
    aside.rename_to(target)?;
    Ok(manifest)
}

fn totals(sessions: &[ArchivedSession]) -> Totals {
    let mut totals = Totals::default();
    let mut services = BTreeSet::new();
    for session in sessions {
        let summary = &session.summary;
        totals.duration_nanos += summary.duration_nanos;
        totals.spans += summary.spans;
        totals.logs += summary.logs;
        totals.metric_points += summary.metric_points;
        totals.segments += session.segments.len();
        totals.segment_bytes += summary.bytes;
        services.extend(summary.services.iter().cloned());
    }
    totals.services = services.into_iter().collect();
    totals
}

fn encode_header() -> [u8; ARCHIVE_HEADER_LEN] {
    let mut header = [0u8; ARCHIVE_HEADER_LEN];
    header[..8].copy_from_slice(&ARCHIVE_MAGIC);
    header[8..10].copy_from_slice(&ARCHIVE_VERSION.to_le_bytes());
    header[10..12].copy_from_slice(&(ARCHIVE_HEADER_LEN as u16).to_le_bytes());
    let crc = crc32c::crc32c(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    header
}

fn encode_footer(manifest_offset: u64, manifest: &[u8]) -> [u8; ARCHIVE_FOOTER_LEN] {
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
    /// on disk; readers know the session's segments by [`Self::segment_files`].
    pub fn session_path(&self, session: &ArchivedSession) -> PathBuf {
        self.path.join(&session.name)
    }

    /// Every segment of the archive, in session and write order.
    pub fn segment_files(&self) -> Vec<SegmentFile> {
        self.manifest
            .sessions
            .iter()
            .flat_map(|session| {
                let session_path = self.session_path(session);
                session.segments.iter().map(move |segment| SegmentFile {
                    path: self.path.clone(),
                    finished: true,
                    archived: Some(ArchivedAt {
                        offset: segment.offset,
                        len: segment.len,
                        session: session_path.clone(),
                    }),
                })
            })
            .collect()
    }
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

/// Reads a segment file (see `read_segment`) for the archiver's scan.
pub(crate) fn read_whole(file: &SegmentFile) -> Result<SegmentData, StoreError> {
    match &file.archived {
        Some(at) => map_range(&file.path, at.offset, at.len, true),
        None => read_segment(&file.path),
    }
}
