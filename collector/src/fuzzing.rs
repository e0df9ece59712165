//! The bodies of the fuzz targets over what the collector reads from clients: `fuzz/`
//! runs them under libFuzzer (nightly), and `tests/it/fuzz_corpora.rs` replays their
//! checked-in corpora on stable. Each takes arbitrary bytes and panics when the code
//! under test panics or breaks one of the invariants written here; FUZZING.md lists them.
//!
//! Only built with the `fuzzing` feature: this is test code, and like the tests it uses
//! OTLP's prost types as the oracle the transcoder is held to.

use std::future::Future;
use std::io::Read;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::http::{Request, Response, header};
use bytes::Bytes;
use http_body_util::BodyExt;
use oculus_store::proto::Block;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::Signal;
use crate::ingest::{self, Encoding, Ingest, ZstdLevels};
use crate::normalize::{self, Normalized};
use crate::transcode::{self, Transcoded};
use crate::writer::WriterHandle;
use crate::{grpc, http};
use oculus_otlp::export;

/// The protobuf transcoder on an arbitrary ExportTraceServiceRequest: whatever prost
/// decodes, the transcoder reads too, into a block that holds what decoding and
/// normalizing store ([`check_same`]) when the request is encoded as prost encodes it,
/// and the same records and rejections when it is not ([`check_counts`]), while the
/// request encoded again by prost is stored as decoding and normalizing store it;
/// whatever the transcoder reads, it writes a block that decodes.
pub fn transcode_traces(input: &[u8]) {
    transcode_as_prost_decodes(input, transcode::traces, normalize::traces);
}

/// [`transcode_traces`] for an ExportLogsServiceRequest.
pub fn transcode_logs(input: &[u8]) {
    transcode_as_prost_decodes(input, transcode::logs, normalize::logs);
}

/// The body of [`transcode_traces`] and [`transcode_logs`]: `transcode` against prost's
/// decoding of `R` and `normalize`.
fn transcode_as_prost_decodes<R: Message + Default>(
    input: &[u8],
    transcode: fn(&[u8]) -> Result<Transcoded, transcode::Error>,
    normalize: fn(R) -> Normalized,
) {
    match (transcode(input), R::decode(input)) {
        (Ok(transcoded), Ok(request)) => {
            let canonical = request.encode_to_vec();
            let normalized = normalize(request);
            if canonical != input {
                check_counts(&normalized, &transcoded);
                let transcoded =
                    transcode(&canonical).expect("the transcoder reads what prost encodes");
                check_same(normalized, &transcoded);
            } else {
                check_same(normalized, &transcoded);
            }
        }
        (Ok(transcoded), Err(_)) => {
            decode_block(&transcoded);
        }
        (Err(error), Ok(_)) => panic!("prost decodes a request the transcoder refused: {error}"),
        (Err(_), Err(_)) => {}
    }
}

/// An arbitrary ExportMetricsServiceRequest through decoding and normalizing, as
/// protobuf metrics take: see [`check_metrics`].
pub fn decode_metrics(input: &[u8]) {
    if let Ok(request) = ExportMetricsServiceRequest::decode(input) {
        check_metrics(request);
    }
}

/// Arbitrary bytes as OTLP/JSON of each signal, as `ingest::prepare` decodes them. A
/// document that decodes stores what its protobuf encoding stores through the
/// transcoder (traces, logs), or passes [`check_metrics`].
pub fn otlp_json(input: &[u8]) {
    for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
        if let Ok(prepared) = ingest::prepare(signal, Encoding::Json, input) {
            decode_block(&prepared);
        }
    }
    if let Ok(request) = serde_json::from_slice::<ExportTraceServiceRequest>(input) {
        let transcoded = transcode::traces(&request.encode_to_vec())
            .expect("the transcoder reads what prost encodes");
        check_same(normalize::traces(request), &transcoded);
    }
    if let Ok(request) = serde_json::from_slice::<ExportLogsServiceRequest>(input) {
        let transcoded = transcode::logs(&request.encode_to_vec())
            .expect("the transcoder reads what prost encodes");
        check_same(normalize::logs(request), &transcoded);
    }
    if let Ok(request) = serde_json::from_slice::<ExportMetricsServiceRequest>(input) {
        check_metrics(request);
    }
}

/// A request to the receivers' handlers (`grpc.rs`, `http.rs`) as it arrives: in
/// chunks, maybe gzipped, under a size limit and an in-flight budget, with a writer
/// that has stopped. The answer is the one a plain reading of the rules gives (the
/// gRPC framing, the limits, gzip, then the decoder), and the budget is whole again
/// afterwards.
///
/// The first byte is the plan: bits 0-1 the signal and encoding (0 traces, 1 logs,
/// 2 metrics as JSON over HTTP and logs over gRPC, 3 traces as JSON over HTTP), bit 2
/// gzip, bits 3-4 the size limit, bits 5-6 the chunk size, bit 7 HTTP rather than
/// gRPC. The rest is the request body. Protobuf metrics are left to `decode_metrics`:
/// what decoding them holds is taken from the budget by rules of their own.
pub fn receiver_body(input: &[u8]) {
    let Some((&plan, body)) = input.split_first() else {
        return;
    };
    let over_http = plan & 0x80 != 0;
    let (signal, encoding) = match (plan & 3, over_http) {
        (0, _) => (Signal::Traces, Encoding::Protobuf),
        (1, _) | (2, false) => (Signal::Logs, Encoding::Protobuf),
        (2, true) => (Signal::Metrics, Encoding::Json),
        _ => (Signal::Traces, Encoding::Json),
    };
    let gzip = plan & 4 != 0;
    let limit = [16, 256, 4096, 65536][usize::from(plan >> 3 & 3)];
    let chunk = [1, 5, 64, usize::MAX][usize::from(plan >> 5 & 3)];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    // The collector runs on: its stop never comes.
    let (_running, stopping) = tokio::sync::watch::channel(false);
    let ingest = Ingest::new(
        WriterHandle::stopped(),
        limit,
        4 * limit,
        std::time::Duration::from_secs(10),
        stopping,
        ZstdLevels::all(1),
        false,
    );
    let chunks = Body::new(Chunks(
        body.chunks(chunk.min(body.len().max(1)))
            .map(Bytes::copy_from_slice)
            .rev()
            .collect(),
    ));
    let (answer, expected) = if over_http {
        let content_type = match encoding {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        };
        let mut request = Request::post(path(signal)).header(header::CONTENT_TYPE, content_type);
        if gzip {
            request = request.header(header::CONTENT_ENCODING, "gzip");
        }
        let (parts, ()) = request.body(()).expect("a valid request").into_parts();
        let response = runtime.block_on(http::export(&ingest, signal, &parts.headers, chunks));
        (
            http_answer(response.status().as_u16()),
            expected_http(body, gzip, limit, signal, encoding),
        )
    } else {
        let mut request =
            Request::post(path(signal)).header(header::CONTENT_TYPE, "application/grpc");
        if gzip {
            request = request.header("grpc-encoding", "gzip");
        }
        let request = request.body(chunks).expect("a valid request");
        let response = runtime.block_on(grpc::export(&ingest, signal, request));
        (
            grpc_answer(response),
            expected_grpc(body, gzip, limit, signal),
        )
    };
    assert_eq!(
        answer, expected,
        "{signal:?} {encoding:?}, gzip {gzip}, limit {limit}, chunks of {chunk}"
    );
    // A refused body is drained on a task of its own; let it finish.
    drop(runtime);
    assert_eq!(
        ingest.budget().held_bytes(),
        0,
        "the request did not give its budget back"
    );
}

/// How a request is answered, in OTLP's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Ok,
    Invalid,
    TooLarge,
    Unavailable,
}

fn path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => grpc::TRACES_PATH,
        Signal::Logs => grpc::LOGS_PATH,
        Signal::Metrics => grpc::METRICS_PATH,
    }
}

/// The gRPC answer a plain reading of the rules gives: one length-prefixed message, no
/// longer than the limit, compressed only with a `grpc-encoding`, nothing after it;
/// then as [`expected_message`].
fn expected_grpc(body: &[u8], gzip: bool, limit: usize, signal: Signal) -> Answer {
    const PREFIX_LEN: usize = 5;
    let Some((prefix, message)) = body.split_first_chunk::<PREFIX_LEN>() else {
        return Answer::Invalid;
    };
    let compressed = match prefix[0] {
        0 => false,
        1 => true,
        _ => return Answer::Invalid,
    };
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if len > limit {
        return Answer::TooLarge;
    }
    if message.len() != len || (compressed && !gzip) {
        return Answer::Invalid;
    }
    expected_message(message, compressed, limit, signal, Encoding::Protobuf)
}

/// The OTLP/HTTP answer: a body no longer than the limit, then as [`expected_message`].
fn expected_http(
    body: &[u8],
    gzip: bool,
    limit: usize,
    signal: Signal,
    encoding: Encoding,
) -> Answer {
    if body.len() > limit {
        return Answer::TooLarge;
    }
    expected_message(body, gzip, limit, signal, encoding)
}

/// A message inflated (when gzipped) up to the limit, decoded, and handed to a writer
/// that has stopped: accepted only when there is nothing to write.
fn expected_message(
    message: &[u8],
    gzip: bool,
    limit: usize,
    signal: Signal,
    encoding: Encoding,
) -> Answer {
    let inflated;
    let message = if gzip {
        let mut out = Vec::new();
        let read = flate2::read::MultiGzDecoder::new(message)
            .take(limit as u64 + 1)
            .read_to_end(&mut out);
        if read.is_err() {
            return Answer::Invalid;
        }
        if out.len() > limit {
            return Answer::TooLarge;
        }
        inflated = out;
        &inflated
    } else {
        message
    };
    match ingest::prepare(signal, encoding, message) {
        Err(_) => Answer::Invalid,
        Ok(prepared) if prepared.is_empty => Answer::Ok,
        Ok(_) => Answer::Unavailable,
    }
}

fn grpc_answer(response: Response<Body>) -> Answer {
    assert_eq!(
        response.status(),
        200,
        "gRPC answers in its status, not HTTP's"
    );
    let status = match response.headers().get("grpc-status") {
        Some(status) => status.clone(),
        None => {
            let body = ready(response.into_body().collect()).expect("the reply is in memory");
            let trailers = body.trailers().expect("a gRPC reply ends in trailers");
            trailers
                .get("grpc-status")
                .expect("the trailers hold grpc-status")
                .clone()
        }
    };
    let code = status
        .to_str()
        .ok()
        .and_then(|code| code.parse::<i32>().ok());
    match code.map(tonic::Code::from) {
        Some(tonic::Code::Ok) => Answer::Ok,
        Some(tonic::Code::InvalidArgument) => Answer::Invalid,
        Some(tonic::Code::ResourceExhausted) => Answer::TooLarge,
        Some(tonic::Code::Unavailable) => Answer::Unavailable,
        other => panic!("unexpected grpc-status {other:?}"),
    }
}

fn http_answer(status: u16) -> Answer {
    match status {
        200 => Answer::Ok,
        400 => Answer::Invalid,
        413 => Answer::TooLarge,
        503 => Answer::Unavailable,
        other => panic!("unexpected HTTP status {other}"),
    }
}

/// A request body handed over in the given chunks (stored last first).
struct Chunks(Vec<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop().map(|chunk| Ok(http_body::Frame::data(chunk))))
    }
}

/// The output of a future that has everything it needs in memory: it must not wait.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a request held in memory waits for something"),
    }
}

/// The block's bytes decode.
fn decode_block(transcoded: &Transcoded) -> Block {
    Block::decode(transcoded.raw.as_slice()).expect("a written block decodes")
}

/// For a request encoded otherwise than prost encodes it (fields repeated, reordered
/// or unknown): the transcoder kept and rejected the same records as decoding and
/// normalizing, with the same times. Protobuf merges a message field given twice, and
/// keeps the last member of a oneof set twice, where the transcoder keeps the last
/// occurrence: no exporter writes either (FUZZING.md).
fn check_counts(normalized: &Normalized, transcoded: &Transcoded) {
    decode_block(transcoded);
    assert_eq!(transcoded.rejected, normalized.rejected);
    assert_eq!(transcoded.reject_reason, normalized.reject_reason);
    let summary = oculus_store::block::summarize(&normalized.block);
    assert_eq!(
        summary_counts(&transcoded.summary),
        summary_counts(&summary)
    );
}

fn summary_counts(summary: &oculus_store::proto::BlockSummary) -> (u32, u32, u64, u64) {
    (
        summary.spans,
        summary.logs,
        summary.min_time_unix_nano,
        summary.max_time_unix_nano,
    )
}

/// The transcoder stored what decoding and normalizing store: the same records (as
/// exported back to OTLP), source locations, rejections and summary.
fn check_same(normalized: Normalized, transcoded: &Transcoded) {
    check_counts(&normalized, transcoded);
    let stored = decode_block(transcoded);
    let expected = normalized.block;
    // Compared encoded: a NaN double is not equal to itself.
    assert!(
        export::traces(&stored).encode_to_vec() == export::traces(&expected).encode_to_vec(),
        "spans differ:\n{:?}\n{:?}",
        export::traces(&stored),
        export::traces(&expected)
    );
    assert!(
        export::logs(&stored).encode_to_vec() == export::logs(&expected).encode_to_vec(),
        "log records differ:\n{:?}\n{:?}",
        export::logs(&stored),
        export::logs(&expected)
    );
    assert_eq!(
        sources(&stored),
        sources(&expected),
        "source locations differ"
    );
    // The index's services: what a reader would find in the block's resources.
    let summary = oculus_store::block::summarize(&expected);
    assert_eq!(transcoded.summary.services, summary.services);
    assert_eq!(
        transcoded.summary.services,
        oculus_store::block::summarize(&stored).services
    );
    assert_eq!(
        transcoded.is_empty,
        expected.resources.is_empty() && expected.record_count() == 0
    );
}

/// Source locations, resolved to text, in record order.
fn sources(block: &Block) -> Vec<Option<(String, u32, String)>> {
    let resolve = |source: Option<oculus_store::proto::SourceLocation>| {
        source.map(|s| {
            (
                block.str(s.file_path).to_owned(),
                s.line,
                block.str(s.function).to_owned(),
            )
        })
    };
    block
        .spans
        .iter()
        .map(|s| resolve(s.source))
        .chain(block.logs.iter().map(|l| resolve(l.source)))
        .collect()
}

/// Metrics normalize into a block that counts their data points, exports back, and
/// stores the same again when normalized from that export.
fn check_metrics(request: ExportMetricsServiceRequest) {
    let metrics = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .map(|s| s.metrics.len())
        .sum::<usize>();
    let normalized = normalize::metrics(request);
    let block = normalized.block;
    assert_eq!(normalized.rejected, 0);
    let exported = export::metrics(&block).expect("stored metrics export");
    let again = normalize::metrics(ExportMetricsServiceRequest {
        resource_metrics: exported.resource_metrics.clone(),
    });
    let exported_again = export::metrics(&again.block).expect("stored metrics export");
    assert!(
        exported_again.encode_to_vec() == exported.encode_to_vec(),
        "metrics change on a second round through the store"
    );
    assert_eq!(block.metrics.len(), metrics, "every metric is stored");
}
