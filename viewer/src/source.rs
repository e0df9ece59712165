//! Finding and reading segments: the sessions of the opened paths, each segment read
//! once (memory-mapped when sealed, tailed while active), new ones picked up as the
//! collector creates them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use oculus_store::proto::Block;
use oculus_store::{
    BlockReader, Corruption, CorruptionKind, RawBlock, RawItem, SegmentBytes, SegmentTail,
    StoreError, read_segment,
};
use rustc_hash::FxHashSet;

use crate::model::{BlockLoc, Index, PreparedBlock};
use crate::raw::prepare_raw_into;
use crate::value::RenderError;

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
    /// The session directories of each data directory, as last listed.
    session_dirs: rustc_hash::FxHashMap<PathBuf, Vec<PathBuf>>,
    loader: Option<Loader>,
    /// The active segments' blocks are prepared here, one after another.
    prepared: PreparedBlock,
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
                    let sessions_dir = dir.join(oculus_store::datadir::SESSIONS_DIR);
                    if !self.unchanged.is_unchanged(&sessions_dir) {
                        let listed = oculus_store::sessions(dir)?.into_iter().map(|s| s.path);
                        self.session_dirs.insert(dir.clone(), listed.collect());
                    }
                    session_dirs.extend(self.session_dirs.get(dir).into_iter().flatten().cloned());
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
        let mut report = PollReport::default();
        if self.loader.is_none() {
            self.start_loader(index);
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
                report.damage.push(error.to_string());
                // A file that cannot be read is reported once, not on every poll.
                segment.done = true;
            }
        }
        report
    }

    /// Records read and expected while sealed segments are being loaded.
    pub fn loading(&self) -> Option<(u64, u64)> {
        self.loader.as_ref().map(|l| (l.loaded, l.expected))
    }

    /// Starts decoding the sealed segments not read yet, if any.
    fn start_loader(&mut self, index: &mut Index) {
        let mut jobs = Vec::new();
        for (number, segment) in self.segments.iter().enumerate() {
            if segment.done || segment.tail.is_some() {
                continue;
            }
            match oculus_store::segment::is_sealed(&segment.path) {
                Ok(true) => jobs.push(Job {
                    number: number as u32,
                    path: segment.path.clone(),
                    session: segment.session,
                    blocks: None,
                }),
                Ok(false) => {}
                // Left to the tail, which reports it once.
                Err(_) => {}
            }
        }
        if !jobs.is_empty() {
            self.loader = Some(Loader::start(jobs, index));
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
        Err(error) => unreadable.push(unreadable_block(&segment.path, &raw, &error)),
    })?;
    in_file_order(&mut poll.damage, unreadable);
    report
        .damage
        .extend(poll.damage.iter().map(ToString::to_string));
    segment.done = poll.sealed;
    Ok(())
}

/// Damage at a block whose bytes do not prepare.
fn unreadable_block(path: &Path, raw: &RawBlock<'_>, error: &RenderError) -> Corruption {
    Corruption::new(path, raw.offset, CorruptionKind::Decode(error.to_string()))
}

/// Adds the damage found preparing blocks to the damage found reading frames, each
/// in the place of its offset.
fn in_file_order(damage: &mut Vec<Corruption>, unreadable: Vec<Corruption>) {
    if !unreadable.is_empty() {
        damage.extend(unreadable);
        // Stable: damage found at one offset keeps its order.
        damage.sort_by_key(|corruption| corruption.offset);
    }
}

/// A sealed segment to decode.
#[derive(Debug)]
struct Job {
    number: u32,
    path: PathBuf,
    session: u16,
    /// Where each block's frame is, from the segment's index; without one (damaged),
    /// one decoder scans the whole segment instead.
    blocks: Option<Vec<(u64, u32)>>,
}

/// What a decoder hands to the indexing thread.
enum Decoded {
    Block {
        session: u16,
        loc: BlockLoc,
        /// Log records and spans.
        records: u64,
        block: PreparedBlock,
    },
    Damage(String),
    /// A block lost to damage already reported.
    Missing,
    /// The end of a segment read by a scan.
    End,
}

/// Sealed segments being loaded. Two decoder threads take alternate blocks of each
/// segment (found through its index), so both cores decode and neither runs far
/// ahead; the backend adds the blocks in file order a slice of time at a time,
/// publishing in between.
struct Loader {
    jobs: Arc<Vec<Job>>,
    channels: [Receiver<Decoded>; DECODERS],
    /// Blocks go back to the decoder that made them, to be filled again.
    recycle: [SyncSender<PreparedBlock>; DECODERS],
    /// Position: the job, and the block within it.
    job: usize,
    block: usize,
    loaded: u64,
    expected: u64,
}

const DECODERS: usize = 2;

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("job", &self.job)
            .field("block", &self.block)
            .field("loaded", &self.loaded)
            .field("expected", &self.expected)
            .finish()
    }
}

impl Loader {
    /// Decoded blocks each decoder may hold before the indexer takes them.
    const BLOCKS_AHEAD: usize = 128;

    fn start(mut jobs: Vec<Job>, index: &mut Index) -> Self {
        // The sealed indexes say where the blocks are and how much is coming:
        // reserving it up front saves copying entries as they grow.
        let (mut logs, mut spans, mut blocks) = (0, 0, 0);
        for job in &mut jobs {
            if let Ok(Some(segment_index)) = oculus_store::segment::read_index(&job.path) {
                blocks += segment_index.blocks.len();
                for block in &segment_index.blocks {
                    logs += block.logs as usize;
                    spans += block.spans as usize;
                }
                job.blocks = Some(
                    segment_index
                        .blocks
                        .iter()
                        .map(|b| (b.offset, b.frame_bytes))
                        .collect(),
                );
            }
        }
        index.reserve(logs, spans, blocks);
        let jobs = Arc::new(jobs);
        let mut recycled = Vec::with_capacity(DECODERS);
        let channels = std::array::from_fn(|parity| {
            let (sender, receiver) = std::sync::mpsc::sync_channel(Self::BLOCKS_AHEAD);
            let (recycle, recycled_blocks) = std::sync::mpsc::sync_channel(Self::BLOCKS_AHEAD);
            recycled.push(recycle);
            let jobs = Arc::clone(&jobs);
            let spawned = std::thread::Builder::new()
                .name("oculus-decoder".into())
                .spawn(move || decode(&jobs, parity, &sender, &recycled_blocks));
            if let Err(error) = spawned {
                // Its channel disconnects at once, which ends the load.
                tracing::error!(%error, "cannot start a segment decoder");
            }
            receiver
        });
        let mut recycled = recycled.into_iter();
        let recycle = std::array::from_fn(|_| match recycled.next() {
            Some(sender) => sender,
            // from_fn above made one per decoder.
            None => std::sync::mpsc::sync_channel(0).0,
        });
        Self {
            jobs,
            channels,
            recycle,
            job: 0,
            block: 0,
            loaded: 0,
            expected: (logs + spans) as u64,
        }
    }

    /// The segments this load covers, by number.
    fn segments(&self) -> impl Iterator<Item = usize> + '_ {
        self.jobs.iter().map(|j| j.number as usize)
    }

    /// Adds decoded blocks for about `budget`; returns whether every segment is in.
    fn drain(&mut self, index: &mut Index, budget: Duration, report: &mut PollReport) -> bool {
        let deadline = std::time::Instant::now() + budget;
        while let Some(job) = self.jobs.get(self.job) {
            let parity = match &job.blocks {
                Some(blocks) if self.block >= blocks.len() => {
                    self.job += 1;
                    self.block = 0;
                    continue;
                }
                Some(_) => self.block % DECODERS,
                None => 0,
            };
            let channel = &self.channels[parity];
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            match channel.recv_timeout(deadline - now) {
                Ok(Decoded::Block {
                    session,
                    loc,
                    records,
                    block,
                }) => {
                    report.blocks += 1;
                    report.records += records;
                    self.loaded += records;
                    index.add_prepared(&block, loc, session);
                    // A full queue means the decoder has spares: this one is dropped.
                    let _ = self.recycle[parity].try_send(block);
                    self.block += 1;
                }
                Ok(Decoded::Damage(damage)) => {
                    report.damage.push(damage);
                    // In an indexed segment, damage takes the place of its block.
                    if job.blocks.is_some() {
                        self.block += 1;
                    }
                }
                Ok(Decoded::Missing) => {
                    if job.blocks.is_some() {
                        self.block += 1;
                    }
                }
                Ok(Decoded::End) => {
                    self.job += 1;
                    self.block = 0;
                }
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => {
                    report
                        .damage
                        .push("a segment decoder stopped; the load is incomplete".into());
                    self.job = self.jobs.len();
                }
            }
        }
        true
    }
}

/// A decoder thread: of every indexed segment, the blocks of its `parity`; of every
/// segment without an index, all of it if its parity is 0.
fn decode(
    jobs: &[Job],
    parity: usize,
    sender: &SyncSender<Decoded>,
    recycled: &Receiver<PreparedBlock>,
) {
    let send = |item| sender.send(item).is_ok();
    for job in jobs {
        if job.blocks.is_none() && parity != 0 {
            continue;
        }
        let data = match read_segment(&job.path) {
            Ok(data) => data,
            Err(error) => {
                let mut first = Some(Decoded::Damage(error.to_string()));
                match &job.blocks {
                    // The damage takes the place of our first block; the rest are gone.
                    Some(blocks) => {
                        for _ in (parity..blocks.len()).step_by(DECODERS) {
                            if !send(first.take().unwrap_or(Decoded::Missing)) {
                                return;
                            }
                        }
                    }
                    None => {
                        if !send(first.take().unwrap_or(Decoded::Missing)) || !send(Decoded::End) {
                            return;
                        }
                    }
                }
                continue;
            }
        };
        let Some(blocks) = &job.blocks else {
            let mut unreadable = Vec::new();
            let mut scan = SegmentBytes::new(&job.path, &data).scan_raw(|item| {
                if let RawItem::Block(raw) = item {
                    let block = recycled.try_recv().unwrap_or_default();
                    match prepare(job, &raw, block) {
                        Ok(decoded) => {
                            send(decoded);
                        }
                        Err(error) => unreadable.push(error),
                    }
                }
            });
            in_file_order(&mut scan.damage, unreadable);
            for damage in scan.damage {
                send(Decoded::Damage(damage.to_string()));
            }
            if !send(Decoded::End) {
                return;
            }
            continue;
        };
        let mut reader = BlockReader::new(&job.path);
        for i in (parity..blocks.len()).step_by(DECODERS) {
            let (offset, frame_bytes) = blocks[i];
            let block = recycled.try_recv().unwrap_or_default();
            let item = match reader.raw_block(&*data, offset, frame_bytes) {
                Ok(raw) => prepare(job, &raw, block)
                    .unwrap_or_else(|error| Decoded::Damage(error.to_string())),
                Err(error) => Decoded::Damage(error.to_string()),
            };
            if !send(item) {
                return;
            }
        }
    }
}

/// One block of `job` prepared into `block`, a spare from earlier blocks.
fn prepare(job: &Job, raw: &RawBlock<'_>, mut block: PreparedBlock) -> Result<Decoded, Corruption> {
    match prepare_raw_into(raw.raw, &mut block) {
        Ok(()) => Ok(Decoded::Block {
            session: job.session,
            loc: BlockLoc {
                segment: job.number,
                offset: raw.offset,
                frame_bytes: raw.frame_bytes,
            },
            records: block.records(),
            block,
        }),
        Err(error) => Err(unreadable_block(&job.path, raw, &error)),
    }
}
