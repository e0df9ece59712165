//! OTLP/gRPC: the unary `Export` methods of TraceService, LogsService and MetricsService.
//!
//! The gRPC framing is handled here rather than by tonic's generated server, because
//! OTLP's rules need control that tonic's server does not give: the announced message
//! length is checked against the limit before the body is read, and memory is taken
//! from the in-flight budget as bytes arrive (tonic reserves the whole announced
//! length first, which a client can announce and never send), an oversized message is
//! RESOURCE_EXHAUSTED (tonic says OUT_OF_RANGE, which OTLP clients retry forever), and
//! overload is UNAVAILABLE with RetryInfo. Statuses and their details are tonic's.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::{Buf, Bytes};
use http_body::Frame;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

use crate::Signal;
use crate::budget::Held;
use crate::ingest::{Accepted, Encoding, Ingest, IngestError, RETRY_AFTER_SECS};

pub const TRACES_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
pub const LOGS_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
pub const METRICS_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// The 5-byte prefix of every gRPC message: compressed flag and big-endian length.
const PREFIX_LEN: usize = 5;

pub fn router(ingest: Ingest) -> Router {
    Router::new()
        .route(TRACES_PATH, post(traces))
        .route(LOGS_PATH, post(logs))
        .route(METRICS_PATH, post(metrics))
        .fallback(unimplemented)
        .with_state(ingest)
}

async fn traces(State(ingest): State<Ingest>, request: Request) -> Response {
    export(&ingest, Signal::Traces, request).await
}

async fn logs(State(ingest): State<Ingest>, request: Request) -> Response {
    export(&ingest, Signal::Logs, request).await
}

async fn metrics(State(ingest): State<Ingest>, request: Request) -> Response {
    export(&ingest, Signal::Metrics, request).await
}

async fn unimplemented(request: Request) -> Response {
    status_response(tonic::Status::unimplemented(format!(
        "no method {} here; this is an OTLP collector",
        request.uri().path()
    )))
}

pub(crate) async fn export(ingest: &Ingest, signal: Signal, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let is_grpc = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        // gRPC-Web frames trailers differently and is not served here.
        .is_some_and(|v| v == "application/grpc" || v == "application/grpc+proto");
    if !is_grpc {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "this port speaks OTLP/gRPC; send application/grpc",
        )
            .into_response();
    }
    let gzip = match grpc_encoding(&parts.headers) {
        Ok(gzip) => gzip,
        Err(status) => return status_response(status),
    };
    let mut held = Held::default();
    let mut body = body;
    let result = async {
        let (compressed, message) = read_message(ingest, signal, &mut held, &mut body).await?;
        if compressed && !gzip {
            return Err(IngestError::Invalid(
                "compressed message without a grpc-encoding header".into(),
            ));
        }
        ingest
            .export(signal, Encoding::Protobuf, message, compressed, &mut held)
            .await
    }
    .await;
    // A stalled body would only stall again; the rest of any other is read to its end.
    if !matches!(result, Err(IngestError::Stalled { .. })) {
        ingest.discard_rest(body);
    }
    match result {
        Ok(accepted) => success_response(signal, &accepted),
        Err(error) => status_response(to_status(&error)),
    }
}

fn grpc_encoding(headers: &HeaderMap) -> Result<bool, tonic::Status> {
    match headers.get("grpc-encoding").map(HeaderValue::to_str) {
        None => Ok(false),
        Some(Ok("identity")) => Ok(false),
        Some(Ok("gzip")) => Ok(true),
        Some(other) => Err(tonic::Status::unimplemented(format!(
            "unsupported grpc-encoding {other:?}; send gzip or identity"
        ))),
    }
}

/// Reads exactly one length-prefixed message. Its announced length is checked against
/// the limit before anything else is read; its bytes are taken from the in-flight
/// budget as they arrive, so a call that announces much and sends little holds little.
/// Nothing may follow it: the body is read to its end.
async fn read_message(
    ingest: &Ingest,
    signal: Signal,
    held: &mut Held,
    body: &mut Body,
) -> Result<(bool, Bytes), IngestError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut prefix_read = 0;
    let mut announced: Option<(bool, usize)> = None;
    let mut message = Vec::new();
    loop {
        if let Some((compressed, len)) = announced
            && message.len() == len
        {
            // The message is whole; a unary call sends nothing after it, whether in the
            // same DATA frame or a later one.
            if ingest.next_data(body).await?.is_some() {
                return Err(IngestError::Invalid(
                    "more than one message in a unary call".into(),
                ));
            }
            return Ok((compressed, Bytes::from(message)));
        }
        let Some(mut data) = ingest.next_data(body).await? else {
            return Err(IngestError::Invalid(
                "the request ended before a whole message arrived".into(),
            ));
        };
        let len = match announced {
            Some((_, len)) => len,
            None => {
                let take = (PREFIX_LEN - prefix_read).min(data.len());
                prefix[prefix_read..prefix_read + take].copy_from_slice(&data[..take]);
                prefix_read += take;
                data.advance(take);
                if prefix_read < PREFIX_LEN {
                    continue;
                }
                let compressed = match prefix[0] {
                    0 => false,
                    1 => true,
                    flag => {
                        return Err(IngestError::Invalid(format!(
                            "invalid compressed flag {flag}"
                        )));
                    }
                };
                let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
                // A compressed message is held to the limit once inflated.
                let limit = if compressed {
                    ingest.max_message_bytes()
                } else {
                    ingest.max_decoded_bytes(signal, Encoding::Protobuf)
                };
                if len > limit {
                    return Err(IngestError::TooLarge { limit });
                }
                announced = Some((compressed, len));
                len
            }
        };
        if message.len() + data.len() > len {
            return Err(IngestError::Invalid(
                "more than one message in a unary call".into(),
            ));
        }
        ingest.append(held, &mut message, &data, len)?;
    }
}

fn to_status(error: &IngestError) -> tonic::Status {
    let message = error.to_string();
    // Only here does OTLP want RetryInfo: a client must not retry a message that will
    // never fit, or one that was invalid.
    if error.is_retryable() {
        return tonic::Status::with_error_details(
            error.code(),
            message,
            ErrorDetails::with_retry_info(Some(Duration::from_secs(RETRY_AFTER_SECS))),
        );
    }
    tonic::Status::new(error.code(), message)
}

fn status_response(status: tonic::Status) -> Response {
    let (parts, ()) = status.into_http::<()>().into_parts();
    Response::from_parts(parts, Body::empty())
}

fn success_response(signal: Signal, accepted: &Accepted) -> Response {
    let encoded = accepted.encode(signal, Encoding::Protobuf);
    let mut framed = Vec::with_capacity(PREFIX_LEN + encoded.len());
    framed.push(0);
    framed.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
    framed.extend_from_slice(&encoded);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(Code::Ok as i32));
    let mut response = Response::new(Body::new(UnaryReply {
        message: Some(Bytes::from(framed)),
        trailers: Some(trailers),
    }));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(
        "grpc-accept-encoding",
        HeaderValue::from_static("gzip,identity"),
    );
    response
}

/// One data frame, then the trailers that carry `grpc-status`.
struct UnaryReply {
    message: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for UnaryReply {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(message) = self.message.take() {
            return Poll::Ready(Some(Ok(Frame::data(message))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.message.is_none() && self.trailers.is_none()
    }
}
