//! Loading sealed segments: two decoder threads prepare their blocks, which the
//! backend adds to the index in file order, a slice of time at a time.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use oculus_store::{Corruption, CorruptionKind, RawBlock, RawItem, SegmentFile};

use crate::model::{BlockLoc, Index, PreparedBlock};
use crate::raw::prepare_raw_into;
use crate::snapshot::{Damage, Loading};
use crate::value::RenderError;

/// What one poll brought in.
#[derive(Debug, Default)]
pub struct PollReport {
    pub blocks: usize,
    pub records: u64,
    pub damage: Vec<Damage>,
}

/// Damage at a block whose bytes do not prepare; `base` is where its segment starts
/// in the file at `path` (an archive holds many).
pub(crate) fn unreadable_block(
    path: &Path,
    base: u64,
    raw: &RawBlock<'_>,
    error: &RenderError,
) -> Corruption {
    Corruption::new(
        path,
        base + raw.offset,
        CorruptionKind::Decode(error.to_string()),
    )
}

/// Adds the damage found preparing blocks to the damage found reading frames, each
/// in the place of its offset.
pub(crate) fn in_file_order(damage: &mut Vec<Corruption>, unreadable: Vec<Corruption>) {
    if !unreadable.is_empty() {
        damage.extend(unreadable);
        // Stable: damage found at one offset keeps its order.
        damage.sort_by_key(|corruption| corruption.offset);
    }
}

/// A sealed segment to decode.
#[derive(Debug)]
pub(crate) struct Job {
    number: u32,
    file: SegmentFile,
    session: u16,
    /// Where each block's frame is, from the segment's index; without one (damaged),
    /// one decoder scans the whole segment instead.
    blocks: Option<Vec<(u64, u32)>>,
}

impl Job {
    /// Segment `number`, `file`, of session `session`.
    pub(crate) fn new(number: u32, file: SegmentFile, session: u16) -> Self {
        Self {
            number,
            file,
            session,
            blocks: None,
        }
    }
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
    Damage(Damage),
    /// A block lost to damage already reported.
    Missing,
    /// The end of a segment read by a scan.
    End,
}

/// Sealed segments being loaded. Two decoder threads take alternate blocks of each
/// segment (found through its index), so both cores decode and neither runs far
/// ahead; the backend adds the blocks in file order a slice of time at a time,
/// publishing in between.
pub(crate) struct Loader {
    jobs: Arc<Vec<Job>>,
    channels: [Receiver<Decoded>; DECODERS],
    /// Blocks go back to the decoder that made them, to be filled again.
    recycle: [SyncSender<PreparedBlock>; DECODERS],
    /// Position: the job, and the block within it.
    job: usize,
    block: usize,
    loaded: u64,
    /// Bytes of the segments read so far, and in all.
    read_bytes: u64,
    total_bytes: u64,
}

const DECODERS: usize = 2;

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("job", &self.job)
            .field("block", &self.block)
            .field("loaded", &self.loaded)
            .field("read_bytes", &self.read_bytes)
            .field("total_bytes", &self.total_bytes)
            .finish()
    }
}

impl Loader {
    /// Decoded blocks each decoder may hold before the indexer takes them.
    const BLOCKS_AHEAD: usize = 128;

    pub(crate) fn start(mut jobs: Vec<Job>, index: &mut Index) -> Self {
        // The sealed indexes say where the blocks are and how much is coming:
        // reserving it up front saves copying entries as they grow.
        let (mut logs, mut spans, mut blocks) = (0, 0, 0);
        let mut total_bytes = 0;
        for job in &mut jobs {
            // What cannot be sized is damage that the decoder reports; it adds nothing.
            total_bytes += job.file.len_bytes();
            if let Ok(Some(segment_index)) = job.file.read_index() {
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
            read_bytes: 0,
            total_bytes,
        }
    }

    /// Records added so far, and the share of the segments' bytes read.
    pub(crate) fn progress(&self) -> Loading {
        Loading {
            records: self.loaded,
            share: (self.read_bytes as f64 / self.total_bytes.max(1) as f64).min(1.0) as f32,
        }
    }

    /// The segments this load covers, by number.
    pub(crate) fn segments(&self) -> impl Iterator<Item = usize> + '_ {
        self.jobs.iter().map(|j| j.number as usize)
    }

    /// Adds decoded blocks for about `budget`; returns whether every segment is in.
    pub(crate) fn drain(
        &mut self,
        index: &mut Index,
        budget: Duration,
        report: &mut PollReport,
    ) -> bool {
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
                    self.read_bytes += u64::from(loc.frame_bytes);
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
                    report.damage.push(Damage::DecoderStopped);
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
        let data = match job.file.read() {
            Ok(data) => data,
            Err(error) => {
                let mut first = Some(Decoded::Damage(error.into()));
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
            let mut scan = job.file.bytes(&data).scan_raw(|item| {
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
                send(Decoded::Damage(damage.into()));
            }
            if !send(Decoded::End) {
                return;
            }
            continue;
        };
        let mut reader = job.file.block_reader();
        for i in (parity..blocks.len()).step_by(DECODERS) {
            let (offset, frame_bytes) = blocks[i];
            let block = recycled.try_recv().unwrap_or_default();
            let item = match reader.raw_block(&*data, offset, frame_bytes) {
                Ok(raw) => {
                    prepare(job, &raw, block).unwrap_or_else(|error| Decoded::Damage(error.into()))
                }
                Err(error) => Decoded::Damage(error.into()),
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
        Err(error) => Err(unreadable_block(
            &job.file.path,
            job.file.base(),
            raw,
            &error,
        )),
    }
}
