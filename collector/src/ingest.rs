//! What both receivers share: admitting bytes, decompressing, decoding, normalizing,
//! encoding and handing the block to the writer.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use oculus_store::{DictionarySampler, SharedDictionary};
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
    /// Retry later (UNAVAILABLE with RetryInfo / 503 with Retry-After).
    #[error("{0}")]
    Unavailable(&'static str),
    /// The block could not be compressed (INTERNAL / 500).
    #[error("cannot encode the block: {0}")]
    Encode(std::io::Error),
    /// The write failed for a reason retrying will not fix soon (INTERNAL / 500).
    #[error("cannot write: {0}")]
    Write(WriteFailure),
}

impl IngestError {
    /// The gRPC status code OTLP asks for; OTLP/HTTP puts it in its `Status` body too.
    pub fn code(&self) -> tonic::Code {
        match self {
            Self::Invalid(_) => tonic::Code::InvalidArgument,
            Self::TooLarge { .. } => tonic::Code::ResourceExhausted,
            Self::Unavailable(_) => tonic::Code::Unavailable,
            Self::Encode(_) | Self::Write(_) => tonic::Code::Internal,
        }
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
}

/// The ingest pipeline; shared by every request handler.
#[derive(Clone)]
pub struct Ingest {
    writer: WriterHandle,
    budget: Budget,
    max_message_bytes: usize,
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
struct Dictionaries {
    traces: OnceLock<SharedDictionary>,
    logs: OnceLock<SharedDictionary>,
    samplers: Mutex<[DictionarySampler; 2]>,
}

impl Dictionaries {
    fn new() -> Self {
        Self {
            traces: OnceLock::new(),
            logs: OnceLock::new(),
            samplers: Mutex::new([DictionarySampler::new(1), DictionarySampler::new(2)]),
        }
    }

    /// The dictionary for a block of `signal`, once there is one. Until then the
    /// block is offered as sample and compressed without.
    fn for_block(&self, signal: Signal, raw: &[u8]) -> Option<SharedDictionary> {
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

impl Ingest {
    pub fn new(
        writer: WriterHandle,
        max_message_bytes: usize,
        max_inflight_bytes: usize,
        zstd_levels: ZstdLevels,
        dictionaries: bool,
    ) -> Self {
        Self {
            writer,
            budget: Budget::new(max_inflight_bytes),
            max_message_bytes,
            zstd_levels,
            counters: Arc::default(),
            dictionaries: dictionaries.then(|| Arc::new(Dictionaries::new())),
        }
    }

    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
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

    /// Inflates a gzip body, stopping at the size limit rather than at the end of a bomb.
    pub fn gunzip(&self, held: &mut Held, compressed: &[u8]) -> Result<Vec<u8>, IngestError> {
        let limit = self.max_message_bytes;
        let mut inflated = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
        let decoder = flate2::read::MultiGzDecoder::new(compressed);
        decoder
            .take(limit as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|e| IngestError::Invalid(format!("gzip body does not decompress: {e}")))?;
        if inflated.len() > limit {
            return Err(IngestError::TooLarge { limit });
        }
        self.admit(held, inflated.len())?;
        Ok(inflated)
    }

    /// Decodes, normalizes and writes one request; resolves once it is written.
    pub async fn export(
        &self,
        signal: Signal,
        encoding: Encoding,
        body: Bytes,
    ) -> Result<Accepted, IngestError> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let prepared = prepare(signal, encoding, &body)?;
        drop(body);
        let records = u64::from(prepared.summary.spans)
            + u64::from(prepared.summary.logs)
            + u64::from(prepared.summary.metric_points);
        let message = match prepared.reject_reason {
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
            return Ok(accepted);
        }
        let dictionary = self
            .dictionaries
            .as_ref()
            .and_then(|d| d.for_block(signal, &prepared.raw));
        let encoded = oculus_store::encode_raw_block(
            &prepared.raw,
            prepared.summary,
            self.zstd_levels.of(signal),
            dictionary.as_ref(),
        );
        transcode::recycle(prepared.raw);
        let encoded = encoded.map_err(IngestError::Encode)?;
        let summary = encoded.summary;
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
            .fetch_add(u64::from(summary.spans), Ordering::Relaxed);
        self.counters
            .logs
            .fetch_add(u64::from(summary.logs), Ordering::Relaxed);
        self.counters
            .metric_points
            .fetch_add(u64::from(summary.metric_points), Ordering::Relaxed);
        Ok(accepted)
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
