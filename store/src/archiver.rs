//! Writing archives (the format is `archive.rs`'s): sessions copied into one file
//! written aside and renamed into place, with the manifest of what they hold; and the
//! same summary of a session for `oculus-collector sessions`.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use prost::Message;

use crate::archive::{
    ARCHIVE_HEADER_LEN, ARCHIVE_VERSION, ArchivedSegment, ArchivedSession, Manifest,
    SessionSummary, Totals, encode_footer, encode_header,
};
use crate::compression::segment_frame;
use crate::datadir::{SESSION_FILE, SegmentFile, Session, unix_nanos};
use crate::error::StoreError;
use crate::failpoint;
use crate::frame::{Footer, FrameKind, len_u32};
use crate::proto::{BlockSummary, SegmentIndex};
use crate::segment::{RawItem, SegmentBytes, SegmentData, sync_dir};

/// Bytes copied between two progress reports (and chances to stop).
const COPY_CHUNK_BYTES: usize = 8 << 20;

/// The summary of a session from its record and from its segments' figures.
fn summary(record: &serde_json::Value, live: bool, segments: &[SegmentFigures]) -> SessionSummary {
    let field = |name: &str| record.get(name).and_then(serde_json::Value::as_u64);
    let mut summary = SessionSummary {
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
        ..SessionSummary::default()
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
            for service in &block.services {
                // Blocks repeat their services: cloned only the first time.
                if !self.services.contains(service) {
                    self.services.insert(service.clone());
                }
            }
        }
    }
}

/// A block with only what its services need decoded: strings, resources, and which
/// resource each scope belongs to. For segments whose index names no services.
#[derive(Clone, PartialEq, prost::Message)]
struct BlockResources {
    #[prost(string, repeated, tag = "1")]
    strings: Vec<String>,
    #[prost(message, repeated, tag = "2")]
    resources: Vec<crate::proto::Resource>,
    #[prost(message, repeated, tag = "3")]
    scopes: Vec<ScopeResource>,
}

/// A scope with only its resource decoded.
#[derive(Clone, PartialEq, prost::Message)]
struct ScopeResource {
    #[prost(uint32, tag = "1")]
    resource: u32,
}

impl BlockResources {
    fn services(&self) -> Vec<String> {
        crate::block::services(
            &self.strings,
            &self.resources,
            self.scopes.iter().map(|scope| scope.resource),
        )
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
    /// The figures' services are still to be read from the blocks ([`services_in`]):
    /// the segment's index was written before indexes named them.
    services_unindexed: bool,
    figures: SegmentFigures,
}

impl Prepared {
    fn len(&self) -> u64 {
        (self.copied + self.seal.len()) as u64
    }
}

/// Reads one segment of a session and works out what its copy holds: from its index
/// when it is sealed, else from its blocks. The services of a segment sealed before
/// indexes named them are left to [`services_in`].
fn prepare(file: &SegmentFile) -> Result<Option<Prepared>, StoreError> {
    let data = file.read()?;
    let bytes = file.bytes(&data);
    let mut figures = SegmentFigures::default();
    let sealed_index = bytes.index().and_then(Result::ok);
    if sealed_index.is_some() || Footer::find(&data).is_some() || file.finished {
        // Sealed, or cut short after it was sealed: copied as it is, damage and all,
        // for `check` to report from the archive as from the session.
        let (blocks, services_unindexed) = match sealed_index {
            Some(index) => (index.blocks, !index.has_services),
            // Decoded, so every summary has its services.
            None => (bytes.scan(|_| {}).blocks, false),
        };
        figures.count(&blocks);
        figures.bytes = data.len() as u64;
        let copied = data.len();
        return Ok(Some(Prepared {
            data,
            copied,
            seal: Vec::new(),
            services_unindexed,
            figures,
        }));
    }
    let scan = bytes.scan(|_| {});
    if scan.header.is_none() && scan.damage.is_empty() {
        // Not even a header yet: nothing was accepted into it.
        return Ok(None);
    }
    // Active: its whole frames, sealed as recovery would seal them.
    figures.count(&scan.blocks);
    let copied = usize::try_from(scan.valid_len).unwrap_or(data.len());
    let index = SegmentIndex {
        blocks: scan.blocks,
        // Decoded blocks' summaries have their services.
        has_services: true,
    }
    .encode_to_vec();
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
        services_unindexed: false,
        figures,
    }))
}

/// The services named by the resources of the blocks `bytes` holds.
fn services_in(bytes: &SegmentBytes<'_>) -> BTreeSet<String> {
    let mut services = BTreeSet::new();
    // A block whose resources do not decode names no service; `check` reports it.
    bytes.scan_raw(|item| {
        if let RawItem::Block(raw) = item
            && let Ok(block) = BlockResources::decode(raw.raw)
        {
            services.extend(block.services());
        }
    });
    services
}

/// [`services_in`] the copy of a segment, on a thread of its own while `copy` runs on
/// this one: the two take about as long, and the machine has more than one core. Only
/// for segments whose index names no services.
fn services_while<T>(
    file: &SegmentFile,
    copied: &[u8],
    copy: impl FnOnce() -> T,
) -> (BTreeSet<String>, T) {
    std::thread::scope(|scope| {
        let bytes = file.bytes(copied);
        let scan = std::thread::Builder::new()
            .name("oculus-archive-scan".into())
            .spawn_scoped(scope, move || services_in(&bytes));
        let copied_result = copy();
        let services = match scan {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: scanned here, after the copy.
            Err(_) => services_in(&file.bytes(copied)),
        };
        (services, copied_result)
    })
}

/// What a session holds, from its record, its segments' indexes and their blocks'
/// resources (see the module doc): what `oculus-collector sessions` lists.
pub fn summarize(session: &Session) -> Result<SessionSummary, StoreError> {
    let record = read_record(session);
    let mut figures = Vec::new();
    for file in session.segment_files()? {
        if let Some(mut prepared) = prepare(&file)? {
            if prepared.services_unindexed {
                prepared.figures.services =
                    services_in(&file.bytes(&prepared.data[..prepared.copied]));
            }
            figures.push(prepared.figures);
        }
    }
    Ok(summary(&record, !session.is_closed(), &figures))
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
    let mut seen = BTreeSet::new();
    for session in sessions {
        // A session named twice is archived once: twice would read back doubled.
        let canonical = session
            .path
            .canonicalize()
            .unwrap_or_else(|_| session.path.clone());
        if !seen.insert(canonical) {
            continue;
        }
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
            let Some(mut prepared) = prepare(file)? else {
                continue;
            };
            let copied = &prepared.data[..prepared.copied];
            let mut copy = || {
                for chunk in copied.chunks(COPY_CHUNK_BYTES) {
                    aside.write(chunk)?;
                    done += chunk.len() as u64;
                    if progress(done, total).is_break() {
                        return Err(stop());
                    }
                }
                aside.write(&prepared.seal).map_err(ArchiveError::from)
            };
            if prepared.services_unindexed {
                let (services, copied_result) = services_while(file, copied, copy);
                copied_result?;
                prepared.figures.services = services;
            } else {
                copy()?;
            }
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
            summary: summary(&record, live, &figures),
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
