//! OTLP/HTTP: `POST /v1/traces`, `/v1/logs`, `/v1/metrics`, protobuf or JSON, gzip or not.
//!
//! Status codes follow the OTLP specification: 200 (with partial success when some
//! records were rejected), 400 for bad data, 405 for a wrong method, 413 past the size
//! limit, 415 for an unsupported content type or encoding, 503 with `Retry-After` when
//! overloaded. Error bodies are a `google.rpc.Status` in the request's content type.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use prost::Message;

use crate::Signal;
use crate::budget::Held;
use crate::ingest::{Accepted, Encoding, Ingest, IngestError, RETRY_AFTER_SECS};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

pub fn router(ingest: Ingest) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/logs", post(logs))
        .route("/v1/metrics", post(metrics))
        .with_state(ingest)
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
    let result = async {
        let body = read_body(ingest, &mut held, body).await?;
        let body = if gzip {
            Bytes::from(ingest.gunzip(&mut held, &body)?)
        } else {
            body
        };
        ingest.export(signal, encoding, body).await
    }
    .await;
    match result {
        Ok(accepted) => success_response(signal, encoding, &accepted),
        Err(error) => ingest_error_response(encoding, &error),
    }
}

/// Reads the body, taking each chunk from the in-flight budget as it arrives.
async fn read_body(ingest: &Ingest, held: &mut Held, mut body: Body) -> Result<Bytes, IngestError> {
    let limit = ingest.max_message_bytes();
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| IngestError::Invalid(format!("cannot read body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buffer.len() + data.len() > limit {
            return Err(IngestError::TooLarge { limit });
        }
        ingest.admit(held, data.len())?;
        buffer.extend_from_slice(&data);
    }
    Ok(buffer.freeze())
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
        IngestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        IngestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        IngestError::Encode(_) | IngestError::Write(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = error_response(encoding, status, error.code(), &error.to_string());
    if matches!(error, IngestError::Unavailable(_)) {
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
