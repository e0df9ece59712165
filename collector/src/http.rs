//! OTLP/HTTP: `POST /v1/traces`, `/v1/logs`, `/v1/metrics`, protobuf or JSON, gzip or not.
//!
//! Status codes follow the OTLP specification: 200 (with partial success when some
//! records were rejected), 400 for bad data, 405 for a wrong method, 413 past the size
//! limit, 415 for an unsupported content type or encoding, 503 with `Retry-After` when
//! overloaded, 408 when the body stalls for the body timeout. Error bodies are a
//! `google.rpc.Status` in the request's content type.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http_body::Body as _;
use prost::Message;

use crate::Signal;
use crate::budget::Held;
use crate::ingest::{Accepted, Encoding, Ingest, IngestError, RETRY_AFTER_SECS};
use crate::origin::{self, Admission, AllowedOrigins};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// Who may post: the Host and Origin rules of `origin.rs` for this listener.
#[derive(Debug)]
pub struct Gate {
    listener: SocketAddr,
    allowed: AllowedOrigins,
    /// Refusals are logged once; a page could send many.
    refusal_logged: AtomicBool,
}

impl Gate {
    pub fn new(listener: SocketAddr, allowed: AllowedOrigins) -> Self {
        Self {
            listener,
            allowed,
            refusal_logged: AtomicBool::new(false),
        }
    }
}

pub fn router(ingest: Ingest, gate: Gate) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/logs", post(logs))
        .route("/v1/metrics", post(metrics))
        .layer(axum::middleware::from_fn_with_state(Arc::new(gate), guard))
        .with_state(ingest)
}

/// Refuses web pages that were not allowed (403, PERMISSION_DENIED), answers the
/// preflight of those that were, and names their origin in the reply.
async fn guard(
    State(gate): State<Arc<Gate>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let origin = match origin::admit(request.headers(), gate.listener, &gate.allowed) {
        Ok(Admission::Client) => return next.run(request).await,
        Ok(Admission::AllowedOrigin(origin)) => origin,
        Err(refusal) => {
            if !gate.refusal_logged.swap(true, Ordering::Relaxed) {
                tracing::warn!(%refusal, "refused a request from a web page (logged once)");
            }
            let message = refusal.to_string();
            return error_response(
                Encoding::Json,
                StatusCode::FORBIDDEN,
                tonic::Code::PermissionDenied,
                &message,
            );
        }
    };
    let Ok(allow) = HeaderValue::from_str(&origin) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let mut response = if request.method() == axum::http::Method::OPTIONS {
        let mut preflight = StatusCode::NO_CONTENT.into_response();
        let headers = preflight.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, content-encoding"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("7200"),
        );
        preflight
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

async fn traces(State(ingest): State<Ingest>, headers: HeaderMap, body: Body) -> Response {
    export(&ingest, Signal::Traces, &headers, body).await
}

async fn logs(State(ingest): State<Ingest>, headers: HeaderMap, body: Body) -> Response {
    export(&ingest, Signal::Logs, &headers, body).await
}

async fn metrics(State(ingest): State<Ingest>, headers: HeaderMap, body: Body) -> Response {
    export(&ingest, Signal::Metrics, &headers, body).await
}

pub(crate) async fn export(
    ingest: &Ingest,
    signal: Signal,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let encoding = match mime.as_str() {
        PROTOBUF => Encoding::Protobuf,
        JSON => Encoding::Json,
        _ => {
            let message =
                format!("unsupported content type {content_type:?}; send {PROTOBUF} or {JSON}");
            return error_response(
                Encoding::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                &message,
            );
        }
    };
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => false,
        Some("gzip") => true,
        Some(other) => {
            let message = format!("unsupported content encoding {other:?}; send gzip or identity");
            return error_response(
                encoding,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                &message,
            );
        }
    };
    let mut held = Held::default();
    let mut body = body;
    let result = async {
        // A gzip body is held to the decoded limit once inflated.
        let limit = if gzip {
            ingest.max_message_bytes()
        } else {
            ingest.max_decoded_bytes(signal, encoding)
        };
        let body = read_body(ingest, limit, &mut held, &mut body).await?;
        ingest.export(signal, encoding, body, gzip, &mut held).await
    }
    .await;
    // A stalled body would only stall again; the rest of any other is read to its end,
    // so the connection stays usable for the client's next request.
    if !matches!(result, Err(IngestError::Stalled { .. })) {
        ingest.discard_rest(body);
    }
    match result {
        Ok(accepted) => success_response(signal, encoding, &accepted),
        Err(error) => ingest_error_response(encoding, &error),
    }
}

/// Reads the body, taking each chunk from the in-flight budget as it arrives.
async fn read_body(
    ingest: &Ingest,
    limit: usize,
    held: &mut Held,
    body: &mut Body,
) -> Result<Bytes, IngestError> {
    // A Content-Length only guides how the buffer grows; bytes are admitted as they come.
    let expected = body
        .size_hint()
        .exact()
        .and_then(|bytes| usize::try_from(bytes).ok())
        .map_or(limit, |bytes| bytes.min(limit));
    if body.size_hint().lower() > limit as u64 {
        return Err(IngestError::TooLarge { limit });
    }
    let mut buffer = Vec::new();
    while let Some(data) = ingest.next_data(body).await? {
        if buffer.len() + data.len() > limit {
            return Err(IngestError::TooLarge { limit });
        }
        ingest.append(held, &mut buffer, &data, expected)?;
    }
    Ok(Bytes::from(buffer))
}

fn success_response(signal: Signal, encoding: Encoding, accepted: &Accepted) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type(encoding))],
        accepted.encode(signal, encoding),
    )
        .into_response()
}

fn content_type(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Protobuf => PROTOBUF,
        Encoding::Json => JSON,
    }
}

fn ingest_error_response(encoding: Encoding, error: &IngestError) -> Response {
    let status = match error {
        IngestError::Invalid(_) => StatusCode::BAD_REQUEST,
        IngestError::TooLarge { .. } | IngestError::TooLargeToDecode { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        IngestError::Unavailable(_) | IngestError::Write(_) => StatusCode::SERVICE_UNAVAILABLE,
        IngestError::Stalled { .. } => StatusCode::REQUEST_TIMEOUT,
        IngestError::Encode(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = error_response(encoding, status, error.code(), &error.to_string());
    if error.is_retryable() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

/// A `google.rpc.Status` body, as OTLP/HTTP asks for.
fn error_response(
    encoding: Encoding,
    status: StatusCode,
    code: tonic::Code,
    message: &str,
) -> Response {
    let code = code as i32;
    let body = match encoding {
        Encoding::Protobuf => tonic_types::Status {
            code,
            message: message.to_owned(),
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    };
    (
        status,
        [(header::CONTENT_TYPE, content_type(encoding))],
        body,
    )
        .into_response()
}
