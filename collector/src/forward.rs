//! `serve --forward URL`: sending on everything the collector accepted, from the
//! segments, to other OTLP receivers.
//!
//! Design constraints:
//! - Forwarding reads the session's segments as any reader does, never a memory queue:
//!   what was acknowledged to a client is forwarded across a downstream outage or a
//!   collector restart, as long as retention keeps its segment.
//! - One task per destination follows the sessions in order, and each session's
//!   segments in order: a sealed segment read whole (mapped), the active one with
//!   `SegmentTail`, each block read back by its offset and sent as one OTLP export
//!   request per signal it holds. Blocks reach a destination in the order they were
//!   written, one request at a time (the next block is read and converted
//!   meanwhile): the cursor moves past a block only once all of it was taken, which
//!   requests in flight side by side would make harder to keep.
//! - A request larger than `--forward-max-request-bytes` (before compression; 4 MiB
//!   by default, the OpenTelemetry Collector's gRPC limit), or one the destination
//!   calls too large (RESOURCE_EXHAUSTED without RetryInfo, HTTP 413), is halved by
//!   resource, scope and record until the parts are taken (`split.rs`). Only a single
//!   record larger than the limit is refused for good, named by segment and offset.
//! - Requests are gzipped unless `--forward-compression none`.
//! - The destination's cursor (segment and offset of the next block, `cursor.rs`) is
//!   replaced in the session directory only past blocks the destination acknowledged
//!   (or refused for good): at most every 100 ms while sending, and whenever the task
//!   caught up, ends a segment or stops. A restart resumes there, in that session and
//!   in every earlier one whose cursor is not done. Delivery is at least once, as
//!   OTLP's own: blocks acknowledged in the last 100 ms before the collector was
//!   killed are sent again.
//! - A destination that asks to retry (gRPC UNAVAILABLE and the other retryable codes,
//!   HTTP 429/502/503/504, no answer) is tried again with exponential back-off and
//!   jitter (`backoff.rs`), after its RetryInfo or `Retry-After` when it gives one.
//!   A refusal for good (INVALID_ARGUMENT, HTTP 400, ...) is logged with the
//!   destination and its records counted as failed; partial success counts the
//!   rejected records as failed too.
//! - Ingestion never waits for forwarding: the tasks only read files the writer
//!   thread already wrote.

mod backoff;
mod client;
mod cursor;
mod destination;
mod options;
mod progress;
mod split;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use oculus_store::{BlockReader, SegmentBytes, SegmentTail, Session, StoreError};
use tokio::sync::watch;
use tokio::task::JoinSet;

use backoff::Backoff;
use client::{Client, Outcome};
use cursor::{Cursor, Position};
pub use destination::{Destination, DestinationError};
pub use options::{Compression, DEFAULT_MAX_REQUEST_BYTES, ForwardArgs};
pub use progress::{Counts, DestinationStatus, STATUS_FILE};

use crate::Counters;

/// How often a caught-up task looks for new blocks.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How often `forward.json` is replaced.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// How often the counts are logged while they change.
const LOG_INTERVAL: Duration = Duration::from_secs(30);
/// How often the cursor is written while blocks are sent; at the end of each segment,
/// when caught up and at the stop it is written too. A collector killed meanwhile
/// sends the blocks of the last interval again.
const CURSOR_SAVE_INTERVAL: Duration = Duration::from_millis(100);
/// How long a stopping collector goes on sending what is left.
const FINISH_GRACE: Duration = Duration::from_secs(5);
/// How long to wait before reading again after the files could not be read.
const READ_RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("{destination}: {source}")]
    Client {
        destination: String,
        #[source]
        source: http::uri::InvalidUri,
    },
    #[error("cannot read the forwarding state: {0}")]
    Store(#[from] StoreError),
    #[error("cannot write the cursor {path}: {source}")]
    Cursor {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The running forwarding tasks of a collector.
pub struct Forwarding {
    session: PathBuf,
    destinations: Vec<(String, Arc<Counts>)>,
    accepted: Arc<Counters>,
    finish: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The `forward.json` writer, when there is a destination.
    status: Option<tokio::task::JoinHandle<()>>,
}

impl Forwarding {
    /// Starts a task per destination, resuming from its cursors under `data_dir`;
    /// `session` is the one this run writes, `accepted` the collector's counters.
    pub fn start(
        args: &ForwardArgs,
        data_dir: &Path,
        session: &Path,
        accepted: Arc<Counters>,
    ) -> Result<Self, ForwardError> {
        let (finish, finishing) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut counted = Vec::new();
        for destination in &args.destinations {
            let name = destination.to_string();
            let client = Client::new(destination, args.forward_compression).map_err(|source| {
                ForwardError::Client {
                    destination: name.clone(),
                    source,
                }
            })?;
            let (queue, backlog) = sessions_to_forward(destination, data_dir, session)?;
            if backlog > 0 {
                tracing::info!(destination = %name, records = backlog, "resuming forwarding of earlier sessions");
            }
            let counts = Arc::new(Counts::with_backlog(backlog));
            counted.push((name.clone(), Arc::clone(&counts)));
            let task = Follower {
                destination: name,
                client,
                max_request_bytes: args.max_request_bytes(),
                counts,
                accepted: Arc::clone(&accepted),
                live_session: session.to_path_buf(),
                finishing: finishing.clone(),
                backoff: Backoff::default(),
                saved_at: Instant::now(),
                saved: None,
            };
            tasks.spawn(task.run(queue));
        }
        let status = (!counted.is_empty()).then(|| {
            tokio::spawn(report_status(
                session.to_path_buf(),
                counted.clone(),
                Arc::clone(&accepted),
                finishing,
            ))
        });
        Ok(Self {
            session: session.to_path_buf(),
            destinations: counted,
            accepted,
            finish,
            tasks,
            status,
        })
    }

    /// Every destination's counts now.
    pub fn statuses(&self) -> Vec<DestinationStatus> {
        progress::snapshot(&self.destinations, &self.accepted)
    }

    /// Sends what is left (call after the collector sealed its session), for at most
    /// `FINISH_GRACE`; what is not sent by then stays behind its cursor for the next
    /// start. Logs the counts and writes them a last time.
    pub async fn finish(mut self) {
        let Some(status) = self.status.take() else {
            return;
        };
        // Fails only when every task already ended, which is what is asked.
        let _ = self.finish.send(true);
        let drained = tokio::time::timeout(FINISH_GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            self.tasks.shutdown().await;
        }
        status.abort();
        let statuses = self.statuses();
        if let Err(error) = progress::write_status(&self.session, &statuses) {
            tracing::warn!(%error, "cannot write the forwarding counts");
        }
        progress::log(&statuses, "forwarding stopped");
    }
}

/// The sessions a destination still owes, in order, each with its cursor, and how
/// many records they hold past their cursors. Earlier sessions count only if they
/// have a cursor for this destination (it was forwarded to then) that is not done;
/// the live session gets a cursor at its start, written at once, so that a collector
/// killed before the first acknowledgement resumes it too.
fn sessions_to_forward(
    destination: &Destination,
    data_dir: &Path,
    live: &Path,
) -> Result<(Vec<(Session, Cursor)>, u64), ForwardError> {
    let name = destination.to_string();
    let file_name = destination.cursor_file_name();
    let mut queue = Vec::new();
    let mut backlog = 0;
    for session in oculus_store::sessions(data_dir)? {
        if session.path == live {
            continue;
        }
        let path = session.path.join(&file_name);
        let cursor = match Cursor::load(&path, &name) {
            Ok(cursor) => cursor,
            // Sending the session again costs duplicates; skipping it would lose it.
            Err(error) => {
                tracing::warn!(
                    destination = %name,
                    path = %path.display(),
                    %error,
                    "unreadable forwarding cursor; the session is sent again from its start"
                );
                Some(Cursor::start(&path, &name))
            }
        };
        if let Some(cursor) = cursor.filter(|cursor| !cursor.done) {
            backlog += records_past(&session, cursor.position);
            queue.push((session, cursor));
        }
    }
    let path = live.join(&file_name);
    let cursor = Cursor::start(&path, &name);
    cursor
        .save()
        .map_err(|source| ForwardError::Cursor { path, source })?;
    queue.push((
        Session {
            path: live.to_path_buf(),
        },
        cursor,
    ));
    Ok((queue, backlog))
}

/// Records in a sealed session past `position`, from its segments' indexes.
fn records_past(session: &Session, position: Position) -> u64 {
    let Ok(segments) = session.segments() else {
        return 0;
    };
    let mut records = 0;
    for path in segments {
        let Some(sequence) = sequence_of(&path).filter(|s| *s >= position.segment) else {
            continue;
        };
        let Ok(Some(index)) = oculus_store::segment::read_index(&path) else {
            continue;
        };
        records += index
            .blocks
            .iter()
            .filter(|b| sequence > position.segment || b.offset >= position.offset)
            .map(|b| u64::from(b.spans) + u64::from(b.logs) + u64::from(b.metric_points))
            .sum::<u64>();
    }
    records
}

/// The sequence number in a segment's file name (`segment-00000003.oseg` is 3).
fn sequence_of(path: &Path) -> Option<u64> {
    path.file_stem()?
        .to_str()?
        .strip_prefix("segment-")?
        .parse()
        .ok()
}

/// Replaces `forward.json` about once a second, and logs the counts while they change.
async fn report_status(
    session: PathBuf,
    destinations: Vec<(String, Arc<Counts>)>,
    accepted: Arc<Counters>,
    mut finishing: watch::Receiver<bool>,
) {
    let mut logged = Vec::new();
    let mut last_log = tokio::time::Instant::now();
    let mut warned = false;
    loop {
        let statuses = progress::snapshot(&destinations, &accepted);
        match progress::write_status(&session, &statuses) {
            Ok(()) => warned = false,
            Err(error) if !warned => {
                warned = true;
                tracing::warn!(%error, "cannot write the forwarding counts; trying again each second");
            }
            Err(_) => {}
        }
        if last_log.elapsed() >= LOG_INTERVAL && statuses != logged {
            progress::log(&statuses, "forwarding");
            logged = statuses;
            last_log = tokio::time::Instant::now();
        }
        tokio::select! {
            () = tokio::time::sleep(STATUS_INTERVAL) => {}
            _ = finishing.changed() => return,
        }
    }
}

/// Why a task stopped following a session.
enum Stop {
    /// The collector is stopping, and everything on disk was sent or the destination
    /// cannot take it now.
    Finishing,
}

/// One destination's task.
struct Follower {
    destination: String,
    client: Client,
    max_request_bytes: usize,
    counts: Arc<Counts>,
    accepted: Arc<Counters>,
    live_session: PathBuf,
    finishing: watch::Receiver<bool>,
    backoff: Backoff,
    /// When the cursor was last written, and where it was (in the session followed).
    saved_at: Instant,
    saved: Option<Position>,
}

impl Follower {
    async fn run(mut self, queue: Vec<(Session, Cursor)>) {
        for (session, mut cursor) in queue {
            self.saved = None;
            match self.forward_session(&session, &mut cursor).await {
                Ok(()) if session.path.is_dir() => {
                    cursor.done = true;
                    self.save(&cursor);
                }
                Ok(()) => {}
                Err(Stop::Finishing) => {
                    self.save_if_moved(&cursor);
                    return;
                }
            }
        }
    }

    fn is_finishing(&self) -> bool {
        *self.finishing.borrow()
    }

    /// Follows one session until all of it was sent and it ended.
    async fn forward_session(
        &mut self,
        session: &Session,
        cursor: &mut Cursor,
    ) -> Result<(), Stop> {
        let live = session.path == self.live_session;
        loop {
            let segments = match session.segments() {
                Ok(segments) => segments,
                Err(_) if !live && !session.path.is_dir() => {
                    tracing::warn!(
                        destination = %self.destination,
                        session = %session.path.display(),
                        "the session was deleted before it was forwarded"
                    );
                    return Ok(());
                }
                Err(error) => {
                    tracing::warn!(destination = %self.destination, %error, "cannot list the segments to forward; trying again");
                    self.pause(READ_RETRY).await?;
                    continue;
                }
            };
            let mut numbered: Vec<(u64, PathBuf)> = segments
                .into_iter()
                .filter_map(|path| Some((sequence_of(&path)?, path)))
                .collect();
            numbered.sort();
            let next = numbered
                .iter()
                .position(|(sequence, _)| *sequence >= cursor.position.segment);
            let Some(at) = next else {
                // Nothing more on disk: the session is done once it ended.
                if !live || session.is_closed() {
                    return Ok(());
                }
                if live {
                    self.counts.caught_up(&self.accepted);
                }
                self.idle().await?;
                continue;
            };
            let (sequence, path) = &numbered[at];
            if *sequence != cursor.position.segment {
                if cursor.position.segment != 0 {
                    tracing::warn!(
                        destination = %self.destination,
                        session = %session.path.display(),
                        from = cursor.position.segment,
                        to = sequence - 1,
                        "segments were deleted by retention before they were forwarded"
                    );
                }
                cursor.position = Position {
                    segment: *sequence,
                    offset: 0,
                };
            }
            let last = at + 1 == numbered.len();
            let sealed = !live
                || !last
                || oculus_store::segment::is_sealed(path).unwrap_or(false)
                || session.is_closed();
            let read = if sealed {
                self.forward_sealed(path, cursor).await
            } else {
                self.forward_active(path, cursor, live).await
            };
            match read {
                Ok(()) => {
                    cursor.position = Position {
                        segment: sequence + 1,
                        offset: 0,
                    };
                    self.save_if_moved(cursor);
                }
                Err(Failure::Stop(stop)) => return Err(stop),
                Err(Failure::Read(error)) => {
                    tracing::warn!(destination = %self.destination, %error, "cannot read a segment to forward; trying again");
                    self.pause(READ_RETRY).await?;
                }
            }
        }
    }

    /// Sends the blocks of a segment that takes no more writes, from the cursor on.
    async fn forward_sealed(&mut self, path: &Path, cursor: &mut Cursor) -> Result<(), Failure> {
        let from = cursor.position.offset;
        let scan_path = path.to_path_buf();
        let read = tokio::task::spawn_blocking(move || {
            let data = oculus_store::read_segment(&scan_path)?;
            let mut locations = Vec::new();
            let scan = SegmentBytes::new(&scan_path, &data)
                .finished(true)
                .scan_raw(|item| {
                    if let oculus_store::RawItem::Block(raw) = item
                        && raw.offset >= from
                    {
                        locations.push((raw.offset, raw.frame_bytes));
                    }
                });
            Ok::<_, StoreError>((data, locations, scan.damage))
        })
        .await
        .map_err(|e| Failure::Read(StoreError::io(path, std::io::Error::other(e))))?;
        let (data, locations, damage) = read.map_err(Failure::Read)?;
        self.report_damage(&damage);
        let source = BlockSource {
            reader: BlockReader::new(path),
            bytes: SourceBytes::Mapped(Arc::new(data)),
        };
        self.send_blocks(source, path, locations, cursor).await?;
        Ok(())
    }

    /// Follows the segment the collector writes until it is sealed.
    async fn forward_active(
        &mut self,
        path: &Path,
        cursor: &mut Cursor,
        live: bool,
    ) -> Result<(), Failure> {
        let mut tail = SegmentTail::open(path).map_err(Failure::Read)?;
        let file = std::fs::File::open(path).map_err(|e| Failure::Read(StoreError::io(path, e)))?;
        let mut source = BlockSource {
            reader: BlockReader::new(path),
            bytes: SourceBytes::Growing(Arc::new(file)),
        };
        loop {
            let from = cursor.position.offset;
            // After an outage the tail may have a whole segment to read: not on the
            // runtime's threads, which the receivers need.
            let polled = tokio::task::spawn_blocking(move || {
                let mut locations = Vec::new();
                let poll = tail.poll_raw(|raw| {
                    if raw.offset >= from {
                        locations.push((raw.offset, raw.frame_bytes));
                    }
                });
                (tail, locations, poll)
            })
            .await
            .map_err(|e| Failure::Read(StoreError::io(path, std::io::Error::other(e))))?;
            let (moved_back, locations, poll) = polled;
            tail = moved_back;
            let poll = poll.map_err(Failure::Read)?;
            self.report_damage(&poll.damage);
            let found = !locations.is_empty();
            source = self.send_blocks(source, path, locations, cursor).await?;
            if poll.sealed {
                return Ok(());
            }
            if !found {
                self.save_if_moved(cursor);
                if live {
                    self.counts.caught_up(&self.accepted);
                }
                self.idle().await.map_err(Failure::Stop)?;
            }
        }
    }

    /// Sends the blocks at `locations` (offset and frame size) in order, reading and
    /// converting the next block while the destination takes the one before.
    async fn send_blocks(
        &mut self,
        source: BlockSource,
        path: &Path,
        locations: Vec<(u64, u32)>,
        cursor: &mut Cursor,
    ) -> Result<BlockSource, Failure> {
        let max_request_bytes = self.max_request_bytes;
        let mut locations = locations.into_iter();
        let Some((offset, frame_bytes)) = locations.next() else {
            return Ok(source);
        };
        let (mut source, mut prepared) = source
            .prepare(path, offset, frame_bytes, max_request_bytes)
            .await?;
        for (offset, frame_bytes) in locations {
            let (sent, next) = tokio::join!(
                self.send_prepared(path, prepared, cursor),
                source.prepare(path, offset, frame_bytes, max_request_bytes)
            );
            sent?;
            (source, prepared) = next?;
        }
        self.send_prepared(path, prepared, cursor).await?;
        Ok(source)
    }

    /// Sends one prepared block, then moves the cursor past it.
    async fn send_prepared(
        &mut self,
        segment: &Path,
        prepared: Prepared,
        cursor: &mut Cursor,
    ) -> Result<(), Failure> {
        match prepared.block {
            Ok(block) => self.send_block(block, segment, prepared.offset).await?,
            Err(damage) => self.report_damage(&[damage]),
        }
        cursor.position.offset = prepared.next;
        if self.saved_at.elapsed() >= CURSOR_SAVE_INTERVAL {
            self.save(cursor);
        }
        Ok(())
    }

    fn report_damage(&self, damage: &[oculus_store::Corruption]) {
        for damage in damage {
            tracing::error!(destination = %self.destination, %damage, "a damaged block cannot be forwarded");
        }
    }

    fn save(&mut self, cursor: &Cursor) {
        self.saved_at = Instant::now();
        self.saved = Some(cursor.position);
        // Not fatal: a restart would send again from the last cursor written.
        if let Err(error) = cursor.save() {
            tracing::warn!(destination = %self.destination, %error, "cannot write the forwarding cursor");
        }
    }

    /// Writes the cursor if it moved since it was last written.
    fn save_if_moved(&mut self, cursor: &Cursor) {
        if self.saved != Some(cursor.position) {
            self.save(cursor);
        }
    }

    /// Sends each export request of a block, in parts that fit, until the destination
    /// took or refused them; `segment` and `offset` say where the block is stored.
    async fn send_block(
        &mut self,
        block: client::BlockExports,
        segment: &Path,
        offset: u64,
    ) -> Result<(), Failure> {
        if let Some((error, records)) = block.broken {
            tracing::error!(destination = %self.destination, %error, "stored metrics cannot be forwarded");
            self.counts.failed.fetch_add(records, Ordering::Relaxed);
        }
        let mut oversized = Oversized::default();
        for single in block.oversized {
            oversized.add(
                &single,
                format!(
                    "a {} of {} bytes is larger than --forward-max-request-bytes ({})",
                    single.request.record_name(),
                    single.request.encoded_len(),
                    self.max_request_bytes
                ),
            );
        }
        // Last is next: a part the destination calls too large is halved in place.
        let mut queue: Vec<client::Export> = block.exports.into_iter().rev().collect();
        while let Some(part) = queue.pop() {
            let Some(reason) = self.deliver(&part).await? else {
                continue;
            };
            match part.halve() {
                Ok((first, second)) => {
                    tracing::debug!(destination = %self.destination, %reason, "the destination takes smaller requests; splitting");
                    queue.push(second);
                    queue.push(first);
                }
                Err(single) => oversized.add(&single, reason),
            }
        }
        if let Some(reason) = oversized.reason {
            // Once per block: a destination that calls everything too large would
            // otherwise log each record.
            tracing::error!(
                destination = %self.destination,
                %reason,
                segment = %segment.display(),
                offset,
                records = oversized.records,
                "a record is too large to forward; it is not sent"
            );
            self.counts
                .failed
                .fetch_add(oversized.records, Ordering::Relaxed);
            self.counts.set_error(
                Some(format!(
                    "{reason} (segment {}, block at offset {offset})",
                    segment.display()
                )),
                false,
            );
        }
        Ok(())
    }

    /// Sends one request until the destination took or refused it; returns why when
    /// the destination said it is too large.
    async fn deliver(&mut self, export: &client::Export) -> Result<Option<String>, Failure> {
        loop {
            match self.client.send(&export.request).await {
                Outcome::Accepted { rejected, message } => {
                    let rejected = rejected.min(export.records);
                    if rejected > 0 {
                        tracing::warn!(destination = %self.destination, rejected, %message, "the destination rejected some records");
                    }
                    self.counts
                        .forwarded
                        .fetch_add(export.records - rejected, Ordering::Relaxed);
                    self.counts.failed.fetch_add(rejected, Ordering::Relaxed);
                    if self.backoff.failures() > 0 {
                        tracing::info!(destination = %self.destination, "the destination takes records again");
                    }
                    self.backoff.reset();
                    self.counts.set_error(None, false);
                    return Ok(None);
                }
                Outcome::TooLarge { reason } => return Ok(Some(reason)),
                Outcome::Retry { hint, reason } => {
                    let wait = self.backoff.next_wait(hint);
                    // Once per outage at WARN; each retry at DEBUG.
                    if self.backoff.failures() == 1 {
                        tracing::warn!(destination = %self.destination, %reason, "cannot forward; retrying with back-off");
                    } else {
                        tracing::debug!(destination = %self.destination, %reason, ?wait, "retrying");
                    }
                    self.counts.set_error(Some(reason), true);
                    // A stopping collector tries once more, then leaves the rest
                    // behind the cursor for its next start.
                    if self.is_finishing() {
                        return Err(Failure::Stop(Stop::Finishing));
                    }
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = self.finishing.changed() => {}
                    }
                }
                Outcome::Rejected { reason } => {
                    tracing::error!(
                        destination = %self.destination,
                        %reason,
                        records = export.records,
                        "the destination refused records for good; they are not sent again"
                    );
                    self.counts
                        .failed
                        .fetch_add(export.records, Ordering::Relaxed);
                    self.counts.set_error(Some(reason), false);
                    return Ok(None);
                }
            }
        }
    }

    /// Waits for new blocks; ends the session's following when the collector stops.
    async fn idle(&mut self) -> Result<(), Stop> {
        if self.is_finishing() {
            return Err(Stop::Finishing);
        }
        tokio::select! {
            () = tokio::time::sleep(POLL_INTERVAL) => Ok(()),
            _ = self.finishing.changed() => Ok(()),
        }
    }

    /// Waits before reading again; a stopping collector does not wait.
    async fn pause(&mut self, wait: Duration) -> Result<(), Stop> {
        if self.is_finishing() {
            return Err(Stop::Finishing);
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// Where a segment's blocks are read back from: moved to the blocking pool and back
/// for each block, as reading, decoding and converting one can take milliseconds.
struct BlockSource {
    reader: BlockReader,
    bytes: SourceBytes,
}

enum SourceBytes {
    /// A sealed segment, mapped.
    Mapped(Arc<oculus_store::SegmentData>),
    /// The active segment, read with `pread`.
    Growing(Arc<std::fs::File>),
}

/// A block read back and made into export requests, and where the next one starts.
struct Prepared {
    /// Where the block starts.
    offset: u64,
    next: u64,
    block: Result<client::BlockExports, oculus_store::Corruption>,
}

impl BlockSource {
    /// Reads the block at `offset` and makes it into requests of at most
    /// `max_request_bytes`, in the blocking pool.
    async fn prepare(
        mut self,
        path: &Path,
        offset: u64,
        frame_bytes: u32,
        max_request_bytes: usize,
    ) -> Result<(Self, Prepared), Failure> {
        let owned_path = path.to_path_buf();
        let prepared = tokio::task::spawn_blocking(move || {
            let raw = match &self.bytes {
                SourceBytes::Mapped(data) => self.reader.raw_block(&data[..], offset, frame_bytes),
                SourceBytes::Growing(file) => self.reader.raw_block(&**file, offset, frame_bytes),
            };
            let prepared = raw.map(|raw| Prepared {
                offset,
                next: raw.offset + u64::from(raw.frame_bytes),
                block: raw
                    .decode()
                    .map(|(summary, block)| {
                        client::exports(&block, &summary).fit(max_request_bytes)
                    })
                    .map_err(|kind| oculus_store::Corruption::new(&owned_path, offset, kind)),
            });
            (self, prepared)
        })
        .await
        .map_err(|e| Failure::Read(StoreError::io(path, std::io::Error::other(e))))?;
        let (source, prepared) = prepared;
        Ok((source, prepared.map_err(Failure::Read)?))
    }
}

/// The records of a block too large to send alone, and why the first was.
#[derive(Default)]
struct Oversized {
    records: u64,
    reason: Option<String>,
}

impl Oversized {
    fn add(&mut self, single: &client::Export, reason: String) {
        self.records += single.records;
        self.reason.get_or_insert(reason);
    }
}

/// Why a segment was left before its end.
enum Failure {
    Stop(Stop),
    Read(StoreError),
}

impl From<Stop> for Failure {
    fn from(stop: Stop) -> Self {
        Self::Stop(stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_sessions_are_resumed_from_their_cursors_and_a_damaged_one_from_the_start() {
        let root = tempfile::tempdir().expect("tempdir");
        let destination: Destination = "grpc://x:1".parse().expect("valid");
        let session = |name: &str| {
            let path = root.path().join("sessions").join(name);
            std::fs::create_dir_all(&path).expect("created");
            path
        };
        let (done, resumed, damaged, never, live) = (
            session("a"),
            session("b"),
            session("c"),
            session("d"),
            session("e"),
        );
        let cursor_at = |dir: &Path, text: &str| {
            std::fs::write(dir.join(destination.cursor_file_name()), text).expect("written");
        };
        cursor_at(
            &done,
            r#"{"destination":"grpc://x:1","segment":2,"offset":9,"done":true}"#,
        );
        cursor_at(
            &resumed,
            r#"{"destination":"grpc://x:1","segment":3,"offset":40,"done":false}"#,
        );
        cursor_at(&damaged, "{");
        let (queue, backlog) = sessions_to_forward(&destination, root.path(), &live).expect("read");
        let owed: Vec<(&Path, Position)> = queue
            .iter()
            .map(|(session, cursor)| (session.path.as_path(), cursor.position))
            .collect();
        let at = |segment, offset| Position { segment, offset };
        assert_eq!(
            owed,
            [
                (resumed.as_path(), at(3, 40)),
                (damaged.as_path(), at(0, 0)),
                (live.as_path(), at(0, 0)),
            ],
            "{never:?} was never forwarded to this destination"
        );
        assert_eq!(backlog, 0, "no segments");
        assert!(
            live.join(destination.cursor_file_name()).is_file(),
            "the live session's cursor is written at once"
        );
    }
}
