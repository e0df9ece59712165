//! What both receivers share: admitting bytes, decompressing, decoding, normalizing,
//! encoding and handing the block to the writer.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::Body as _;
use http_body_util::BodyExt;
use oculus_store::{DictionarySampler, EncodedBlock, SharedDictionary};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::sync::{Semaphore, watch};

use crate::Signal;
use crate::budget::{Budget, Held};
use crate::normalize::{self, Normalized};
use crate::transcode::{self, Transcoded};
use crate::writer::{SubmitError, WriteFailure, WriterHandle};

/// How the request body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// Why a request was not accepted, in OTLP's terms.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Permanent: the client must not retry (INVALID_ARGUMENT / 400).
    #[error("{0}")]
    Invalid(String),
    /// Larger than the limit after decompression (RESOURCE_EXHAUSTED / 413).
    #[error("request exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// Decoding it would hold more than one request may (RESOURCE_EXHAUSTED / 413).
    #[error(
        "decoding this request would hold about {needed} bytes, more than one request \
         may hold ({allowed} bytes, --max-inflight-bytes); send smaller requests"
    )]
    TooLargeToDecode { needed: usize, allowed: usize },
    /// Retry later (UNAVAILABLE with RetryInfo / 503 with Retry-After).
    #[error("{0}")]
    Unavailable(&'static str),
    /// The body stopped arriving (DEADLINE_EXCEEDED / 408).
    #[error("the request body stalled: nothing arrived for {after:?}")]
    Stalled { after: Duration },
    /// The block could not be compressed (INTERNAL / 500).
    #[error("cannot encode the block: {0}")]
    Encode(std::io::Error),
    /// The write failed and nothing of it was kept: the store cut it back, so a retry
    /// stores it once (UNAVAILABLE with RetryInfo / 503 with Retry-After).
    #[error("cannot write: {0}; retry later")]
    Write(WriteFailure),
}

impl IngestError {
    /// The gRPC status code OTLP asks for; OTLP/HTTP puts it in its `Status` body too.
    pub fn code(&self) -> tonic::Code {
        match self {
            Self::Invalid(_) => tonic::Code::InvalidArgument,
            Self::TooLarge { .. } | Self::TooLargeToDecode { .. } => tonic::Code::ResourceExhausted,
            Self::Unavailable(_) | Self::Write(_) => tonic::Code::Unavailable,
            Self::Stalled { .. } => tonic::Code::DeadlineExceeded,
            Self::Encode(_) => tonic::Code::Internal,
        }
    }

    /// The client should send the same request again later, and is told when.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Write(_))
    }
}

/// What a successful export reports back (OTLP's partial success when `rejected > 0`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    pub rejected: u64,
    pub message: String,
}

impl Accepted {
    /// The Export response for `signal`, with partial success when records were
    /// rejected, encoded as the request was.
    pub fn encode(&self, signal: Signal, encoding: Encoding) -> Vec<u8> {
        let rejected = i64::try_from(self.rejected).unwrap_or(i64::MAX);
        let error_message = self.message.clone();
        let partial = self.rejected > 0 || !self.message.is_empty();
        match signal {
            Signal::Traces => encode_message(
                encoding,
                &ExportTraceServiceResponse {
                    partial_success: partial.then_some(ExportTracePartialSuccess {
                        rejected_spans: rejected,
                        error_message,
                    }),
                },
            ),
            Signal::Logs => encode_message(
                encoding,
                &ExportLogsServiceResponse {
                    partial_success: partial.then_some(ExportLogsPartialSuccess {
                        rejected_log_records: rejected,
                        error_message,
                    }),
                },
            ),
            Signal::Metrics => encode_message(
                encoding,
                &ExportMetricsServiceResponse {
                    partial_success: partial.then_some(ExportMetricsPartialSuccess {
                        rejected_data_points: rejected,
                        error_message,
                    }),
                },
            ),
        }
    }
}

fn encode_message<T: Message + serde::Serialize>(encoding: Encoding, message: &T) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => message.encode_to_vec(),
        // Serializing these generated types cannot fail: no maps with non-string keys.
        Encoding::Json => serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

/// Running totals, for logs and the status line.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub spans: AtomicU64,
    pub logs: AtomicU64,
    pub metric_points: AtomicU64,
    pub rejected: AtomicU64,
    pub refused_requests: AtomicU64,
    /// Connections closed on arrival because a receiver had as many as it may hold.
    pub refused_connections: AtomicU64,
}

/// The ingest pipeline; shared by every request handler.
#[derive(Clone)]
pub struct Ingest {
    writer: WriterHandle,
    budget: Budget,
    max_message_bytes: usize,
    body_timeout: Duration,
    /// True once the collector stops; bodies still arriving are then refused.
    stopping: watch::Receiver<bool>,
    /// One permit per core for the work of large requests, which then never holds
    /// more threads, or more of their transient memory, than there are cores.
    large_jobs: Arc<Semaphore>,
    zstd_levels: ZstdLevels,
    counters: Arc<Counters>,
    dictionaries: Option<Arc<Dictionaries>>,
}

/// The zstd level of each kind of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZstdLevels {
    pub spans: i32,
    pub logs: i32,
    pub metrics: i32,
}

impl ZstdLevels {
    /// Measured on the load generator's data (BENCHMARKS.md): with their times in
    /// columns, log blocks lose 1 % in size at level 1 and save a third of the
    /// compression time; span blocks lose 5 %, so they stay at 3.
    pub const DEFAULT: Self = Self {
        spans: 3,
        logs: 1,
        metrics: 3,
    };

    pub fn all(level: i32) -> Self {
        Self {
            spans: level,
            logs: level,
            metrics: level,
        }
    }

    pub fn of(&self, signal: Signal) -> i32 {
        match signal {
            Signal::Traces => self.spans,
            Signal::Logs => self.logs,
            Signal::Metrics => self.metrics,
        }
    }
}

/// One compression dictionary per kind of record, sampled from the session's first
/// blocks of that kind (see `oculus_store::dictionary`).
pub(crate) struct Dictionaries {
    traces: OnceLock<SharedDictionary>,
    logs: OnceLock<SharedDictionary>,
    samplers: Mutex<[DictionarySampler; 2]>,
}

impl Dictionaries {
    pub(crate) fn new() -> Self {
        Self {
            traces: OnceLock::new(),
            logs: OnceLock::new(),
            samplers: Mutex::new([DictionarySampler::new(1), DictionarySampler::new(2)]),
        }
    }

    /// The dictionary for a block of `signal`, once there is one. Until then the
    /// block is offered as sample and compressed without.
    pub(crate) fn for_block(&self, signal: Signal, raw: &[u8]) -> Option<SharedDictionary> {
        let (slot, sampler) = match signal {
            Signal::Traces => (&self.traces, 0),
            Signal::Logs => (&self.logs, 1),
            Signal::Metrics => return None,
        };
        if let Some(dictionary) = slot.get() {
            return Some(dictionary.clone());
        }
        // A poisoned lock only means a sample is lost; compress without.
        let mut samplers = self.samplers.lock().ok()?;
        if slot.get().is_none()
            && let Some(dictionary) = samplers[sampler].offer(raw)
        {
            // Under the lock and checked empty, so this set cannot lose a race.
            let _ = slot.set(dictionary);
        }
        None
    }
}

/// Seconds a client is told to wait when the collector is overloaded.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The smallest allocation for a request's bytes; it doubles from there as they arrive.
const MIN_BUFFER_BYTES: usize = 16 << 10;

/// How much a gzip body is inflated at a time, between checks of the budget.
const INFLATE_CHUNK_BYTES: usize = 64 << 10;

/// Requests that may decode from this many bytes or more are inflated, decoded and
/// compressed on the blocking pool: the work takes milliseconds per MiB, which an I/O
/// thread should not stop for.
const OFF_TASK_BYTES: usize = 1 << 20;

/// The most deflate can expand its input, so a gzip body's largest inflated size is
/// known before inflating it.
const MAX_INFLATE_RATIO: usize = 1032;

/// What decoding a request holds besides its bytes, per byte of them. Measured as the
/// growth of resident memory while a decoded request is alive: protobuf metrics
/// become OTLP structs of 4.4 times their size, JSON of 0.4 times; protobuf traces and
/// logs are transcoded into a block of about their own size.
fn decoding_bytes(signal: Signal, encoding: Encoding, body_bytes: usize) -> usize {
    let per_byte = match (signal, encoding) {
        (Signal::Metrics, Encoding::Protobuf) => 5,
        _ => 1,
    };
    body_bytes.saturating_mul(per_byte)
}

impl Ingest {
    pub fn new(
        writer: WriterHandle,
        max_message_bytes: usize,
        max_inflight_bytes: usize,
        body_timeout: Duration,
        stopping: watch::Receiver<bool>,
        zstd_levels: ZstdLevels,
        dictionaries: bool,
    ) -> Self {
        Self {
            writer,
            budget: Budget::new(max_inflight_bytes, max_message_bytes),
            max_message_bytes,
            body_timeout,
            stopping,
            large_jobs: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            )),
            zstd_levels,
            counters: Arc::default(),
            dictionaries: dictionaries.then(|| Arc::new(Dictionaries::new())),
        }
    }

    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// The largest request of this kind, decoded (after inflating): one whose
    /// decoding holds several times its size (protobuf metrics) must fit what one
    /// request may hold with it, so it is refused on arrival rather than read whole
    /// and then refused, or decoded beyond the budget.
    pub fn max_decoded_bytes(&self, signal: Signal, encoding: Encoding) -> usize {
        let per_byte = decoding_bytes(signal, encoding, 1);
        if per_byte <= 1 {
            return self.max_message_bytes;
        }
        (self.budget.max_request_bytes() / (1 + per_byte)).min(self.max_message_bytes)
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The budget all requests take from; shared by clones.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Takes `bytes` of the in-flight budget for a request, before it is read further.
    pub fn admit(&self, held: &mut Held, bytes: usize) -> Result<(), IngestError> {
        self.budget.take(held, bytes).map_err(|_| {
            self.counters
                .refused_requests
                .fetch_add(1, Ordering::Relaxed);
            IngestError::Unavailable(
                "the collector is receiving more than it can hold; retry later",
            )
        })
    }

    /// The next bytes of a request body, or `None` at its end. A body that sends
    /// nothing for the body timeout fails, so a stalled client frees what it holds;
    /// one still arriving when the collector stops is refused, so that it does not
    /// hold the stop.
    pub async fn next_data(&self, body: &mut Body) -> Result<Option<Bytes>, IngestError> {
        let mut stopping = self.stopping.clone();
        loop {
            let frame = tokio::select! {
                frame = tokio::time::timeout(self.body_timeout, body.frame()) => frame,
                // An error means the collector is gone, which is a stop as well.
                _ = stopping.wait_for(|stopping| *stopping) => {
                    return Err(IngestError::Unavailable("the collector is shutting down"));
                }
            };
            let frame = match frame {
                Err(_) => {
                    return Err(IngestError::Stalled {
                        after: self.body_timeout,
                    });
                }
                Ok(None) => return Ok(None),
                Ok(Some(frame)) => frame
                    .map_err(|e| IngestError::Invalid(format!("cannot read the request: {e}")))?,
            };
            if let Ok(data) = frame.into_data()
                && !data.is_empty()
            {
                return Ok(Some(data));
            }
        }
    }

    /// Appends `data` to a request's `buffer`, taking what the buffer grows by from
    /// the in-flight budget before allocating it: memory is admitted as bytes arrive,
    /// never for what a client only announced. The buffer doubles, up to
    /// `expected_bytes`, so that a large body is copied few times; when the budget
    /// cannot spare that, it grows by what arrived, and the request is refused only
    /// if even that does not fit.
    pub fn append(
        &self,
        held: &mut Held,
        buffer: &mut Vec<u8>,
        data: &[u8],
        expected_bytes: usize,
    ) -> Result<(), IngestError> {
        let needed = buffer.len() + data.len();
        let capacity = buffer.capacity();
        if needed > capacity {
            let doubled = capacity
                .saturating_mul(2)
                .max(MIN_BUFFER_BYTES)
                .min(expected_bytes)
                .max(needed);
            let target = if self.budget.take(held, doubled - capacity).is_ok() {
                doubled
            } else {
                self.admit(held, needed - capacity)?;
                needed
            };
            buffer.reserve_exact(target - buffer.len());
        }
        buffer.extend_from_slice(data);
        Ok(())
    }

    /// Reads the rest of a body that was answered early and throws it away, on a task
    /// of its own. Dropping a body that is still arriving resets its HTTP/2 stream,
    /// and h2 closes a connection that needed too many resets: a client refused under
    /// load would lose every call on it. Reading stops at the size limit or a stall.
    pub fn discard_rest(&self, mut body: Body) {
        if body.is_end_stream() {
            return;
        }
        // The message limit, with room for gRPC's prefix and what was read already.
        let max_bytes = self.max_message_bytes.saturating_add(MIN_BUFFER_BYTES);
        let stall = self.body_timeout;
        tokio::spawn(async move {
            let mut discarded = 0usize;
            while discarded <= max_bytes {
                match tokio::time::timeout(stall, body.frame()).await {
                    Ok(Some(Ok(frame))) => {
                        discarded += frame.data_ref().map_or(0, Bytes::len);
                    }
                    // The end, a stall or a broken stream: nothing more to read.
                    Ok(None | Some(Err(_))) | Err(_) => return,
                }
            }
        });
    }

    /// Inflates a gzip body a chunk at a time, taking each from the in-flight budget
    /// as it grows, and stopping at the size limit rather than at the end of a bomb.
    fn gunzip(
        &self,
        held: &mut Held,
        compressed: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, IngestError> {
        let mut decoder = flate2::read::MultiGzDecoder::new(compressed);
        let mut chunk = vec![0u8; INFLATE_CHUNK_BYTES];
        let mut inflated = Vec::new();
        loop {
            let read = decoder
                .read(&mut chunk)
                .map_err(|e| IngestError::Invalid(format!("gzip body does not decompress: {e}")))?;
            if read == 0 {
                return Ok(inflated);
            }
            if inflated.len() + read > limit {
                return Err(IngestError::TooLarge { limit });
            }
            self.append(held, &mut inflated, &chunk[..read], limit)?;
        }
    }

    /// Inflates (if `gzip`), decodes, normalizes and writes one request, taking what
    /// inflating and decoding hold from the in-flight budget into `held`; resolves once
    /// the request is written.
    pub async fn export(
        &self,
        signal: Signal,
        encoding: Encoding,
        body: Bytes,
        gzip: bool,
        held: &mut Held,
    ) -> Result<Accepted, IngestError> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let largest_input_bytes = if gzip {
            body.len().saturating_mul(MAX_INFLATE_RATIO)
        } else {
            body.len()
        };
        let (accepted, encoded) = if largest_input_bytes >= OFF_TASK_BYTES {
            // Up to seconds of work for the largest requests: on the blocking pool, so
            // that the task's I/O thread keeps serving its other connections meanwhile.
            let permit = Arc::clone(&self.large_jobs)
                .acquire_owned()
                .await
                // Never closed: an error could only mean the collector is going away.
                .map_err(|_| IngestError::Unavailable("the collector is shutting down"))?;
            let ingest = self.clone();
            let mut moved = std::mem::take(held);
            let (result, moved) = tokio::task::spawn_blocking(move || {
                yield_to_connections();
                let result = ingest.encode(signal, encoding, body, gzip, &mut moved);
                drop(permit);
                (result, moved)
            })
            .await
            .map_err(|e| IngestError::Encode(std::io::Error::other(e)))?;
            *held = moved;
            result?
        } else {
            self.encode(signal, encoding, body, gzip, held)?
        };
        let Some(encoded) = encoded else {
            return Ok(accepted);
        };
        let (spans, logs, metric_points) = (
            encoded.summary.spans,
            encoded.summary.logs,
            encoded.summary.metric_points,
        );
        let ack = self.writer.submit(encoded).map_err(|error| match error {
            SubmitError::Overloaded => {
                self.counters
                    .refused_requests
                    .fetch_add(1, Ordering::Relaxed);
                IngestError::Unavailable("the collector's writer is behind; retry later")
            }
            SubmitError::Closed => IngestError::Unavailable("the collector is shutting down"),
        })?;
        match ack.await {
            Ok(Ok(())) => {}
            Ok(Err(failure)) if failure.is_storage_full() => {
                return Err(IngestError::Unavailable(
                    "the collector's disk is full; retry later",
                ));
            }
            Ok(Err(failure)) => return Err(IngestError::Write(failure)),
            Err(_) => return Err(IngestError::Unavailable("the collector is shutting down")),
        }
        self.counters
            .spans
            .fetch_add(u64::from(spans), Ordering::Relaxed);
        self.counters
            .logs
            .fetch_add(u64::from(logs), Ordering::Relaxed);
        self.counters
            .metric_points
            .fetch_add(u64::from(metric_points), Ordering::Relaxed);
        Ok(accepted)
    }

    /// Inflates, decodes and normalizes a request and compresses its block: what is
    /// accepted, and the block, unless the request held no records.
    fn encode(
        &self,
        signal: Signal,
        encoding: Encoding,
        body: Bytes,
        gzip: bool,
        held: &mut Held,
    ) -> Result<(Accepted, Option<EncodedBlock>), IngestError> {
        let body = if gzip {
            let limit = self.max_decoded_bytes(signal, encoding);
            Bytes::from(self.gunzip(held, &body, limit)?)
        } else {
            body
        };
        let decoding = decoding_bytes(signal, encoding, body.len());
        let room = self.budget.max_request_bytes().saturating_sub(held.bytes());
        // Decoding into more than the request's own size (protobuf metrics) is
        // real memory: if it could never fit, the request is too large, since
        // letting it decode anyway would exceed the budget by the difference.
        if decoding > room && decoding > body.len() {
            return Err(IngestError::TooLargeToDecode {
                needed: held.bytes().saturating_add(decoding),
                allowed: self.budget.max_request_bytes(),
            });
        }
        // A request within the size limit must always fit, or its client would
        // retry forever; with the default budget (four times the limit) this
        // never cuts what decoding holds.
        self.admit(held, decoding.min(room))?;
        let mut prepared = prepare(signal, encoding, &body)?;
        drop(body);
        let records = u64::from(prepared.summary.spans)
            + u64::from(prepared.summary.logs)
            + u64::from(prepared.summary.metric_points);
        let message = match prepared.reject_reason.take() {
            Some(reason) => format!(
                "{} of the {} records were rejected: {reason}",
                prepared.rejected,
                prepared.rejected + records
            ),
            None => String::new(),
        };
        let accepted = Accepted {
            rejected: prepared.rejected,
            message,
        };
        self.counters
            .rejected
            .fetch_add(prepared.rejected, Ordering::Relaxed);
        if prepared.is_empty {
            return Ok((accepted, None));
        }
        let encoded = encode(
            prepared,
            signal,
            self.zstd_levels,
            self.dictionaries.as_deref(),
        )
        .map_err(IngestError::Encode)?;
        Ok((accepted, Some(encoded)))
    }
}

/// Compresses a transcoded block as every block of a session is: at its signal's zstd
/// level, with the session's dictionary once one is sampled. Its buffer goes back for
/// the next request.
pub(crate) fn encode(
    prepared: Transcoded,
    signal: Signal,
    levels: ZstdLevels,
    dictionaries: Option<&Dictionaries>,
) -> std::io::Result<EncodedBlock> {
    let dictionary = dictionaries.and_then(|d| d.for_block(signal, &prepared.raw));
    let encoded = oculus_store::encode_raw_block(
        &prepared.raw,
        prepared.summary,
        levels.of(signal),
        dictionary.as_ref(),
    );
    transcode::recycle(prepared.raw);
    encoded
}

/// The nice value of a thread doing the work of large requests: the kernel then
/// gives the threads that serve connections the cores first, so a small export is
/// answered in milliseconds while large ones are decoded (issue 9).
const LARGE_JOB_NICE: i32 = 10;

thread_local! {
    static YIELDS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Lowers this blocking-pool thread's priority, once and for good (an unprivileged
/// thread cannot raise it back): the pool's other work, opening the store and
/// waiting for the writer at the stop, is brief.
fn yield_to_connections() {
    if YIELDS.replace(true) {
        return;
    }
    // On Linux `None` is the calling thread. Failing only costs the latency gain.
    if let Err(error) = rustix::process::setpriority_process(None, LARGE_JOB_NICE) {
        tracing::debug!(%error, "cannot lower the priority of a large-request thread");
    }
}

/// Decodes and normalizes a request into an encoded block. Protobuf traces and logs
/// take the transcoder; JSON and metrics are decoded into OTLP structs and normalized.
pub(crate) fn prepare(
    signal: Signal,
    encoding: Encoding,
    body: &[u8],
) -> Result<Transcoded, IngestError> {
    fn parse<T: Message + Default + serde::de::DeserializeOwned>(
        encoding: Encoding,
        body: &[u8],
    ) -> Result<T, IngestError> {
        match encoding {
            Encoding::Protobuf => {
                T::decode(body).map_err(|e| IngestError::Invalid(format!("invalid protobuf: {e}")))
            }
            Encoding::Json => serde_json::from_slice(body)
                .map_err(|e| IngestError::Invalid(format!("invalid OTLP JSON: {e}"))),
        }
    }
    let invalid = |e: oculus_store::wire::WireError| IngestError::Invalid(e.to_string());
    let normalized = match (signal, encoding) {
        (Signal::Traces, Encoding::Protobuf) => return transcode::traces(body).map_err(invalid),
        (Signal::Logs, Encoding::Protobuf) => return transcode::logs(body).map_err(invalid),
        (Signal::Traces, _) => {
            normalize::traces(parse::<ExportTraceServiceRequest>(encoding, body)?)
        }
        (Signal::Logs, _) => normalize::logs(parse::<ExportLogsServiceRequest>(encoding, body)?),
        (Signal::Metrics, _) => {
            normalize::metrics(parse::<ExportMetricsServiceRequest>(encoding, body)?)
        }
    };
    Ok(from_normalized(normalized))
}

fn from_normalized(normalized: Normalized) -> Transcoded {
    let block = normalized.block;
    Transcoded {
        is_empty: block.record_count() == 0 && block.resources.is_empty(),
        summary: oculus_store::block::summarize(&block),
        raw: block.encode_to_vec(),
        rejected: normalized.rejected,
        reject_reason: normalized.reject_reason,
    }
}
