//! Finding and reading segments: the sessions of the opened paths, each segment read
//! once (memory-mapped when sealed, tailed while active), new ones picked up as the
//! collector creates them.

use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

use oculus_store::proto::Block;
use oculus_store::{Corruption, SegmentBytes, SegmentItem, SegmentTail, StoreError, read_segment};
use rustc_hash::FxHashSet;

use crate::model::{BlockLoc, Index, PreparedBlock, prepare};

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
    /// Follows an active segment; for a sealed one, opened on demand to read back.
    tail: Option<SegmentTail>,
    done: bool,
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
}

/// What one poll brought in.
#[derive(Debug, Default)]
pub struct PollReport {
    pub blocks: usize,
    pub records: u64,
    pub damage: Vec<String>,
}

/// Every segment under the opened paths.
#[derive(Debug, Default)]
pub struct Library {
    roots: Vec<Root>,
    pub sessions: Vec<SessionInfo>,
    segments: Vec<Segment>,
    known: FxHashSet<PathBuf>,
    unchanged: ListedDirs,
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
        let root = if path.is_file() {
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
    pub fn discover(&mut self) -> Result<(), StoreError> {
        let mut session_dirs = Vec::new();
        let mut files = Vec::new();
        for root in &self.roots {
            match root {
                Root::DataDir(dir) => {
                    if self
                        .unchanged
                        .is_unchanged(&dir.join(oculus_store::datadir::SESSIONS_DIR))
                    {
                        session_dirs.extend(
                            self.sessions
                                .iter()
                                .filter(|s| s.path.starts_with(dir))
                                .map(|s| s.path.clone()),
                        );
                    } else {
                        session_dirs
                            .extend(oculus_store::sessions(dir)?.into_iter().map(|s| s.path));
                    }
                }
                Root::Session(dir) => session_dirs.push(dir.clone()),
                Root::File(file) => files.push((file.clone(), file.clone())),
            }
        }
        for dir in session_dirs {
            if self.unchanged.is_unchanged(&dir) {
                continue;
            }
            let session = oculus_store::Session { path: dir.clone() };
            for segment in session.segments()? {
                files.push((dir.clone(), segment));
            }
        }
        for (session_path, file) in files {
            if self.known.contains(&file) {
                continue;
            }
            let session = self.session_number(&session_path);
            self.known.insert(file.clone());
            self.segments.push(Segment {
                path: file,
                session,
                tail: None,
                done: false,
            });
        }
        Ok(())
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

    /// Reads whatever is new in every segment into `index`.
    pub fn poll(&mut self, index: &mut Index) -> PollReport {
        let mut report = PollReport::default();
        self.read_sealed(index, &mut report);
        for number in 0..self.segments.len() {
            let segment = &mut self.segments[number];
            if segment.done {
                continue;
            }
            if let Err(error) = read_new(segment, number as u32, index, &mut report) {
                report.damage.push(error.to_string());
                // A file that cannot be read is reported once, not on every poll.
                segment.done = true;
            }
        }
        report
    }

    /// Reads the sealed segments not read yet: one thread decompresses and decodes
    /// while this one indexes, so opening a large data directory uses both cores.
    fn read_sealed(&mut self, index: &mut Index, report: &mut PollReport) {
        let mut sealed = Vec::new();
        for (number, segment) in self.segments.iter().enumerate() {
            if segment.done || segment.tail.is_some() {
                continue;
            }
            match oculus_store::segment::is_sealed(&segment.path) {
                Ok(true) => sealed.push((number, segment.path.clone(), segment.session)),
                Ok(false) => {}
                // Left to the tail, which reports it once.
                Err(_) => {}
            }
        }
        if sealed.is_empty() {
            return;
        }
        // The indexes of sealed segments say how much is coming: reserving it up front
        // saves copying the entries as they grow, and leaves no spare capacity.
        let (mut logs, mut spans, mut blocks) = (0, 0, 0);
        for (_, path, _) in &sealed {
            if let Ok(Some(segment_index)) = oculus_store::segment::read_index(path) {
                blocks += segment_index.blocks.len();
                for block in &segment_index.blocks {
                    logs += block.logs as usize;
                    spans += block.spans as usize;
                }
            }
        }
        index.reserve(logs, spans, blocks);
        enum Decoded {
            Block(u32, u16, oculus_store::proto::BlockSummary, PreparedBlock),
            Damage(String),
        }
        // Two decoders work on alternate segments, each up to a segment ahead; this
        // thread adds their blocks in file order.
        const DECODERS: usize = 2;
        const BLOCKS_AHEAD: usize = 1024;
        let mut senders: Vec<Vec<(usize, SyncSender<Decoded>)>> =
            (0..DECODERS).map(|_| Vec::new()).collect();
        let mut receivers = Vec::with_capacity(sealed.len());
        for i in 0..sealed.len() {
            let (sender, receiver) = std::sync::mpsc::sync_channel::<Decoded>(BLOCKS_AHEAD);
            senders[i % DECODERS].push((i, sender));
            receivers.push(receiver);
        }
        let decode = |jobs: Vec<(usize, SyncSender<Decoded>)>| {
            for (i, sender) in jobs {
                let (number, path, session) = &sealed[i];
                let data = match read_segment(path) {
                    Ok(data) => data,
                    Err(error) => {
                        let _ = sender.send(Decoded::Damage(error.to_string()));
                        continue;
                    }
                };
                let scan = SegmentBytes::new(path, &data).scan(|item| {
                    if let SegmentItem::Block { summary, block } = item {
                        let prepared = prepare(block);
                        let _ = sender.send(Decoded::Block(
                            *number as u32,
                            *session,
                            summary,
                            prepared,
                        ));
                    }
                });
                for damage in scan.damage {
                    let _ = sender.send(Decoded::Damage(damage.to_string()));
                }
            }
        };
        std::thread::scope(|scope| {
            let decoders: Vec<_> = senders
                .into_iter()
                .map(|jobs| scope.spawn(|| decode(jobs)))
                .collect();
            for receiver in receivers {
                for decoded in receiver {
                    match decoded {
                        Decoded::Block(segment, session, summary, block) => {
                            report.blocks += 1;
                            report.records += u64::from(summary.spans) + u64::from(summary.logs);
                            let loc = BlockLoc {
                                segment,
                                offset: summary.offset,
                                frame_bytes: summary.frame_bytes,
                            };
                            index.add_prepared(block, loc, session);
                        }
                        Decoded::Damage(damage) => report.damage.push(damage),
                    }
                }
            }
            for decoder in decoders {
                if decoder.join().is_err() {
                    report
                        .damage
                        .push("a segment reader thread failed".to_owned());
                }
            }
        });
        for (number, _, _) in sealed {
            self.segments[number].done = true;
        }
    }

    /// Reads one block back, for the detail pane.
    pub fn read_block(&mut self, loc: BlockLoc) -> Result<Block, StoreError> {
        let segment = self.segments.get_mut(loc.segment as usize).ok_or_else(|| {
            StoreError::io(Path::new("?"), std::io::Error::other("no such segment"))
        })?;
        let tail = match &mut segment.tail {
            Some(tail) => tail,
            None => segment.tail.insert(SegmentTail::open(&segment.path)?),
        };
        tail.read_block(loc.offset, loc.frame_bytes)
    }

    /// Segments still being written.
    pub fn active_segments(&self) -> usize {
        self.segments.iter().filter(|s| !s.done).count()
    }
}

fn read_new(
    segment: &mut Segment,
    number: u32,
    index: &mut Index,
    report: &mut PollReport,
) -> Result<(), StoreError> {
    let mut add = |summary: oculus_store::proto::BlockSummary, block: Block| {
        report.blocks += 1;
        report.records += block.record_count();
        let loc = BlockLoc {
            segment: number,
            offset: summary.offset,
            frame_bytes: summary.frame_bytes,
        };
        index.add_block(block, loc, segment.session);
    };
    let mut damage = |corruption: Corruption| report.damage.push(corruption.to_string());
    let tail = match &mut segment.tail {
        Some(tail) => tail,
        None => segment.tail.insert(SegmentTail::open(&segment.path)?),
    };
    let poll = tail.poll()?;
    for (summary, block) in poll.blocks {
        add(summary, block);
    }
    poll.damage.into_iter().for_each(&mut damage);
    segment.done = poll.sealed;
    Ok(())
}
