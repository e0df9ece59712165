//! Finding and reading segments: the sessions of the opened paths, each segment read
//! once (sealed ones by the loader, active ones tailed), new ones picked up as the
//! collector creates them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oculus_store::proto::Block;
use oculus_store::segment::SegmentData;
use oculus_store::{ArchivedAt, BlockReader, SegmentTail, StoreError};
use oculus_store::{Corruption, CorruptionKind, SegmentFile};
use rustc_hash::FxHashMap;

pub use crate::loader::PollReport;
use crate::loader::{Job, Loader, in_file_order, unreadable_block};
use crate::model::{BlockLoc, Index, PreparedBlock};
use crate::raw::prepare_raw_into;
use crate::snapshot::Loading;

/// A session (one collector run) the viewer knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub name: String,
    pub path: PathBuf,
}

/// One segment file and how far it was read.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    session: u16,
    /// Follows an active segment.
    tail: Option<SegmentTail>,
    /// Reads a sealed segment's blocks back, opened on first demand.
    sealed: Option<SealedReader>,
    /// Its session went on past it: it was sealed, so an end without a footer is
    /// damage rather than "not yet".
    finished: bool,
    /// Where it lies in an archive, when it is one of an archive's segments.
    archived: Option<ArchivedAt>,
    done: bool,
}

impl Segment {
    fn file(&self) -> SegmentFile {
        SegmentFile {
            path: self.path.clone(),
            finished: self.finished,
            archived: self.archived.clone(),
        }
    }
}

/// A sealed segment open to read blocks back.
#[derive(Debug)]
struct SealedReader {
    source: SealedSource,
    blocks: BlockReader,
}

/// Where a sealed segment's blocks are read from.
#[derive(Debug)]
enum SealedSource {
    /// A segment file of its own, read with `pread`.
    File(File),
    /// One of an archive's segments, mapped from the archive (which never changes).
    Mapped(SegmentData),
}

impl SealedReader {
    fn open(segment: &SegmentFile) -> Result<Self, StoreError> {
        let source = match segment.map_for_blocks()? {
            Some(data) => SealedSource::Mapped(data),
            None => SealedSource::File(
                File::open(&segment.path).map_err(|cause| StoreError::io(&segment.path, cause))?,
            ),
        };
        Ok(Self {
            source,
            blocks: segment.block_reader(),
        })
    }

    fn block(&mut self, loc: BlockLoc) -> Result<Block, StoreError> {
        match &self.source {
            SealedSource::File(file) => self.blocks.block(file, loc.offset, loc.frame_bytes),
            SealedSource::Mapped(data) => self.blocks.block(&**data, loc.offset, loc.frame_bytes),
        }
    }
}

/// Why a block cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadBlockError {
    #[error("segment {0} is not open")]
    NoSuchSegment(u32),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a path given to the viewer is.
#[derive(Debug)]
enum Root {
    /// A data directory: new sessions appear in it.
    DataDir(PathBuf),
    /// One session directory: new segments appear in it.
    Session(PathBuf),
    /// One segment file.
    File(PathBuf),
    /// An archive: its sessions and segments, which never change.
    Archive(Vec<SegmentFile>),
}

/// Every segment under the opened paths.
#[derive(Debug, Default)]
pub struct Library {
    roots: Vec<Root>,
    pub sessions: Vec<SessionInfo>,
    segments: Vec<Segment>,
    /// The number of each segment in `segments`, by path and where it starts in it.
    known: FxHashMap<(PathBuf, u64), usize>,
    unchanged: ListedDirs,
    /// The session directories of each data directory, as last listed.
    session_dirs: rustc_hash::FxHashMap<PathBuf, Vec<PathBuf>>,
    loader: Option<Loader>,
    /// The active segments' blocks are prepared here, one after another.
    prepared: PreparedBlock,
    /// Damage found opening a path (an archive's lost manifest), for the next poll.
    unreported: Vec<Corruption>,
}

/// Directories already listed, by modification time, so that a poll only lists the
/// ones that changed: with many runs in a data directory, most never change again.
#[derive(Debug, Default)]
struct ListedDirs {
    mtimes: rustc_hash::FxHashMap<PathBuf, std::time::SystemTime>,
}

impl ListedDirs {
    /// Whether `dir` is as it was when last listed; records it as listed now otherwise.
    fn is_unchanged(&mut self, dir: &Path) -> bool {
        let Ok(mtime) = std::fs::metadata(dir).and_then(|m| m.modified()) else {
            return false;
        };
        // Directory times are as coarse as the kernel's clock tick: an entry added in the
        // same tick as the listing leaves the time unchanged, so recent ones are relisted.
        let settled = mtime
            .elapsed()
            .is_ok_and(|age| age > std::time::Duration::from_secs(1));
        if settled && self.mtimes.get(dir) == Some(&mtime) {
            return true;
        }
        self.mtimes.insert(dir.to_path_buf(), mtime);
        false
    }
}

impl Library {
    /// Adds a data directory, session directory or segment file; returns the numbers
    /// of the sessions it holds so far.
    pub fn open(&mut self, path: &Path) -> Result<Vec<u16>, StoreError> {
        // A directory with nothing in it yet is a data directory a collector will fill.
        let is_empty_dir =
            std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none());
        if is_empty_dir {
            self.roots.push(Root::DataDir(path.to_path_buf()));
            return Ok(Vec::new());
        }
        let resolved = oculus_store::resolve(path)?;
        self.unreported.extend(resolved.damage.iter().cloned());
        let root = if resolved.archive.is_some() || !resolved.damage.is_empty() {
            Root::Archive(resolved.segments.clone())
        } else if path.is_file() {
            Root::File(path.to_path_buf())
        } else if path.join(oculus_store::datadir::SESSIONS_DIR).is_dir() {
            Root::DataDir(path.to_path_buf())
        } else {
            Root::Session(path.to_path_buf())
        };
        self.roots.push(root);
        let before = self.sessions.len();
        self.discover()?;
        let mut opened: Vec<u16> = (before..self.sessions.len()).map(|s| s as u16).collect();
        if opened.is_empty() {
            // Already open: name the sessions it holds.
            opened = resolved
                .sessions
                .iter()
                .filter_map(|s| self.sessions.iter().position(|k| k.path == s.path))
                .map(|s| s as u16)
                .collect();
        }
        Ok(opened)
    }

    /// Looks for sessions and segments that appeared since the last look.
    /// The directories where records may arrive: each data directory's sessions
    /// directory, each session directory, the folder of a segment opened alone.
    pub fn dirs_to_watch(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        for root in &self.roots {
            match root {
                Root::DataDir(dir) => {
                    // The data directory itself for its first run's `sessions` folder.
                    dirs.push(dir.clone());
                    dirs.push(dir.join(oculus_store::datadir::SESSIONS_DIR));
                    dirs.extend(self.session_dirs.get(dir).into_iter().flatten().cloned());
                }
                Root::Session(dir) => dirs.push(dir.clone()),
                Root::File(file) => dirs.extend(file.parent().map(Path::to_path_buf)),
                Root::Archive(_) => {}
            }
        }
        dirs
    }

    pub fn discover(&mut self) -> Result<(), StoreError> {
        let mut session_dirs = Vec::new();
        let mut files = Vec::new();
        for root in &self.roots {
            match root {
                Root::DataDir(dir) => {
                    let sessions_dir = dir.join(oculus_store::datadir::SESSIONS_DIR);
                    if !self.unchanged.is_unchanged(&sessions_dir) {
                        let listed = oculus_store::sessions(dir)?.into_iter().map(|s| s.path);
                        self.session_dirs.insert(dir.clone(), listed.collect());
                    }
                    session_dirs.extend(self.session_dirs.get(dir).into_iter().flatten().cloned());
                }
                Root::Session(dir) => session_dirs.push(dir.clone()),
                Root::File(file) => {
                    let resolved = oculus_store::resolve(file)?;
                    files.extend(resolved.segments.into_iter().map(|s| (file.clone(), s)));
                }
                Root::Archive(segments) => {
                    files.extend(segments.iter().map(|s| (s.session_path(), s.clone())));
                }
            }
        }
        for dir in session_dirs {
            if self.unchanged.is_unchanged(&dir) {
                continue;
            }
            let session = oculus_store::Session { path: dir.clone() };
            for segment in session.segment_files()? {
                files.push((dir.clone(), segment));
            }
        }
        for (session_path, file) in files {
            let key = (file.path.clone(), file.base());
            let SegmentFile {
                path,
                finished,
                archived,
            } = file;
            if let Some(&number) = self.known.get(&key) {
                self.segments[number].finished |= finished;
                continue;
            }
            let session = self.session_number(&session_path);
            self.known.insert(key, self.segments.len());
            self.segments.push(Segment {
                path,
                session,
                tail: None,
                sealed: None,
                finished,
                archived,
                done: false,
            });
        }
        Ok(())
    }

    /// By session number: whether it may still be written, having a segment that was
    /// neither read to its footer nor left behind by its session.
    pub fn live_sessions(&self) -> Vec<bool> {
        let mut live = vec![false; self.sessions.len()];
        for segment in &self.segments {
            if !segment.done
                && !segment.finished
                && let Some(session) = live.get_mut(usize::from(segment.session))
            {
                *session = true;
            }
        }
        live
    }

    fn session_number(&mut self, path: &Path) -> u16 {
        if let Some(i) = self.sessions.iter().position(|s| s.path == path) {
            return i as u16;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.sessions.push(SessionInfo {
            name,
            path: path.to_path_buf(),
        });
        (self.sessions.len() - 1) as u16
    }

    /// Reads whatever is new in every segment into `index`, however long it takes.
    pub fn poll(&mut self, index: &mut Index) -> PollReport {
        let mut report = PollReport::default();
        loop {
            let step = self.poll_for(index, Duration::from_secs(1));
            report.blocks += step.blocks;
            report.records += step.records;
            report.damage.extend(step.damage);
            if self.loading().is_none() {
                return report;
            }
        }
    }

    /// Reads what is new for about `budget`: sealed segments first, through the
    /// background decoders, then the active segments once those are all in.
    pub fn poll_for(&mut self, index: &mut Index, budget: Duration) -> PollReport {
        let mut report = PollReport {
            damage: self.unreported.drain(..).map(Into::into).collect(),
            ..PollReport::default()
        };
        if self.loader.is_none() {
            self.start_loader(index, &mut report);
        }
        if let Some(loader) = &mut self.loader {
            let done = loader.drain(index, budget, &mut report);
            if !done {
                return report;
            }
            let numbers: Vec<usize> = loader.segments().collect();
            for number in numbers {
                self.segments[number].done = true;
            }
            self.loader = None;
        }
        for number in 0..self.segments.len() {
            let segment = &mut self.segments[number];
            if segment.done {
                continue;
            }
            let read = read_new(
                segment,
                number as u32,
                index,
                &mut self.prepared,
                &mut report,
            );
            if let Err(error) = read {
                report.damage.push(error.into());
                // A file that cannot be read is reported once, not on every poll.
                segment.done = true;
            }
        }
        report
    }

    /// Records read and expected while sealed segments are being loaded.
    pub fn loading(&self) -> Option<Loading> {
        self.loader.as_ref().map(Loader::progress)
    }

    /// Starts decoding the sealed segments not read yet, if any.
    fn start_loader(&mut self, index: &mut Index, report: &mut PollReport) {
        let mut jobs = Vec::new();
        for (number, segment) in self.segments.iter().enumerate() {
            if segment.done || segment.tail.is_some() {
                continue;
            }
            let file = segment.file();
            match file.is_sealed() {
                Ok(true) => {
                    // The loader goes through the index and never reads the header.
                    match file.header_damage() {
                        Ok(None) => {}
                        Ok(Some(damage)) => report.damage.push(damage.into()),
                        Err(error) => report.damage.push(error.into()),
                    }
                    jobs.push(Job::new(number as u32, file, segment.session));
                }
                Ok(false) => {}
                // Left to the tail, which reports it once.
                Err(_) => {}
            }
        }
        if !jobs.is_empty() {
            self.loader = Some(Loader::start(jobs, index));
        }
    }

    /// Reads one block back, for the detail pane: through the tail of an active
    /// segment, else straight from the sealed file.
    pub fn read_block(&mut self, loc: BlockLoc) -> Result<Block, ReadBlockError> {
        let segment = self
            .segments
            .get_mut(loc.segment as usize)
            .ok_or(ReadBlockError::NoSuchSegment(loc.segment))?;
        if let Some(tail) = &mut segment.tail {
            return Ok(tail.read_block(loc.offset, loc.frame_bytes)?);
        }
        let reader = match &mut segment.sealed {
            Some(reader) => reader,
            None => segment.sealed.insert(SealedReader::open(&segment.file())?),
        };
        Ok(reader.block(loc)?)
    }
}

fn read_new(
    segment: &mut Segment,
    number: u32,
    index: &mut Index,
    prepared: &mut PreparedBlock,
    report: &mut PollReport,
) -> Result<(), StoreError> {
    let tail = match &mut segment.tail {
        Some(tail) => tail,
        None => segment.tail.insert(SegmentTail::open(&segment.path)?),
    };
    let mut unreadable = Vec::new();
    let mut poll = tail.poll_raw(|raw| match prepare_raw_into(raw.raw, prepared) {
        Ok(()) => {
            report.blocks += 1;
            report.records += prepared.records() + prepared.metric_points;
            let loc = BlockLoc {
                segment: number,
                offset: raw.offset,
                frame_bytes: raw.frame_bytes,
            };
            index.add_prepared(prepared, loc, segment.session);
        }
        Err(error) => unreadable.push(unreadable_block(&segment.path, 0, &raw, &error)),
    })?;
    in_file_order(&mut poll.damage, unreadable);
    if !poll.sealed && segment.finished {
        // Everything the file holds was just read, and no footer came: it was cut
        // short after it was sealed.
        let end = Corruption::new(
            &segment.path,
            tail.position(),
            CorruptionKind::MissingFooter,
        );
        poll.damage.push(end);
        segment.done = true;
    } else {
        segment.done = poll.sealed;
    }
    report
        .damage
        .extend(poll.damage.into_iter().map(Into::into));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_of_an_unknown_segment_is_reported_by_the_segments_number() {
        let loc = BlockLoc {
            segment: 3,
            offset: 0,
            frame_bytes: 0,
        };
        let error = Library::default().read_block(loc).map(|_| ());
        assert!(
            matches!(error, Err(ReadBlockError::NoSuchSegment(3))),
            "{error:?}"
        );
    }
}
