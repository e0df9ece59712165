//! Sending a stored block to a destination as OTLP export requests, with a real OTLP
//! client for each transport, and reading the answer as OTLP says to.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use oculus_store::proto::{Block, BlockSummary};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use super::destination::{Destination, Transport};
use super::options::Compression;
use oculus_otlp::export;

/// How long one export may take before it is given up and tried again.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a response body read: an answer, never data.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// One OTLP export request built from a block.
#[derive(Clone, Debug)]
pub enum Request {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

/// A request and the records it carries (spans, log records or metric points).
#[derive(Clone, Debug)]
pub struct Export {
    pub request: Request,
    pub records: u64,
}

/// The export requests of one block.
#[derive(Debug)]
pub struct BlockExports {
    pub exports: Vec<Export>,
    /// Single records larger than the request limit (see `fit`).
    pub oversized: Vec<Export>,
    /// Why the block's metrics cannot be sent, and how many points they hold.
    pub broken: Option<(String, u64)>,
}

/// The export requests a block becomes, one per signal it holds. A stored metric
/// that no longer decodes is damage: the block's metrics are reported as failed.
pub fn exports(block: &Block, summary: &BlockSummary) -> BlockExports {
    let mut exports = Vec::new();
    let mut broken = None;
    if !block.spans.is_empty() {
        let data = export::traces(block);
        exports.push(Export {
            request: Request::Traces(ExportTraceServiceRequest {
                resource_spans: data.resource_spans,
            }),
            records: u64::from(summary.spans),
        });
    }
    if !block.logs.is_empty() {
        let data = export::logs(block);
        exports.push(Export {
            request: Request::Logs(ExportLogsServiceRequest {
                resource_logs: data.resource_logs,
            }),
            records: u64::from(summary.logs),
        });
    }
    if !block.metrics.is_empty() {
        match export::metrics(block) {
            Ok(data) => exports.push(Export {
                request: Request::Metrics(ExportMetricsServiceRequest {
                    resource_metrics: data.resource_metrics,
                }),
                records: u64::from(summary.metric_points),
            }),
            Err(error) => {
                broken = Some((
                    format!("a stored metric does not decode: {error}"),
                    u64::from(summary.metric_points),
                ));
            }
        }
    }
    BlockExports {
        exports,
        oversized: Vec::new(),
        broken,
    }
}

/// What a destination answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Taken; `rejected` of the records were refused (OTLP partial success).
    Accepted { rejected: u64, message: String },
    /// Not taken this time; try again, after `hint` if the destination said.
    Retry {
        hint: Option<Duration>,
        reason: String,
    },
    /// Refused for good: sending it again would be refused again.
    Rejected { reason: String },
    /// Larger than the destination takes (gRPC RESOURCE_EXHAUSTED without RetryInfo,
    /// HTTP 413): smaller parts of it may be taken.
    TooLarge { reason: String },
}

/// A connection to one destination.
pub enum Client {
    Grpc {
        traces: TraceServiceClient<Channel>,
        logs: LogsServiceClient<Channel>,
        metrics: MetricsServiceClient<Channel>,
    },
    Http {
        client: hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            Full<Bytes>,
        >,
        destination: Destination,
        compression: Compression,
    },
}

impl Client {
    /// A client that connects on first use, and again after the destination went away.
    pub fn new(
        destination: &Destination,
        compression: Compression,
    ) -> Result<Self, http::uri::InvalidUri> {
        Ok(match destination.transport {
            Transport::Grpc => {
                let channel = Channel::from_shared(format!("http://{}", destination.authority))?
                    .connect_timeout(CONNECT_TIMEOUT)
                    .tcp_nodelay(true)
                    .connect_lazy();
                let mut traces = TraceServiceClient::new(channel.clone());
                let mut logs = LogsServiceClient::new(channel.clone());
                let mut metrics = MetricsServiceClient::new(channel);
                if compression == Compression::Gzip {
                    let gzip = tonic::codec::CompressionEncoding::Gzip;
                    traces = traces.send_compressed(gzip);
                    logs = logs.send_compressed(gzip);
                    metrics = metrics.send_compressed(gzip);
                }
                Self::Grpc {
                    traces,
                    logs,
                    metrics,
                }
            }
            Transport::Http => {
                let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
                connector.set_nodelay(true);
                connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
                Self::Http {
                    client: hyper_util::client::legacy::Client::builder(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .build(connector),
                    destination: destination.clone(),
                    compression,
                }
            }
        })
    }

    /// Sends one request and reads the answer, giving up after `EXPORT_TIMEOUT`.
    pub async fn send(&mut self, request: &Request) -> Outcome {
        let sent = tokio::time::timeout(EXPORT_TIMEOUT, async {
            match self {
                Self::Grpc {
                    traces,
                    logs,
                    metrics,
                } => send_grpc(traces, logs, metrics, request).await,
                Self::Http {
                    client,
                    destination,
                    compression,
                } => send_http(client, destination, *compression, request).await,
            }
        })
        .await;
        sent.unwrap_or_else(|_| Outcome::Retry {
            hint: None,
            reason: format!("no answer within {} s", EXPORT_TIMEOUT.as_secs()),
        })
    }
}

async fn send_grpc(
    traces: &mut TraceServiceClient<Channel>,
    logs: &mut LogsServiceClient<Channel>,
    metrics: &mut MetricsServiceClient<Channel>,
    request: &Request,
) -> Outcome {
    let answer = match request {
        Request::Traces(r) => traces
            .export(r.clone())
            .await
            .map(|a| traces_partial(&a.into_inner())),
        Request::Logs(r) => logs
            .export(r.clone())
            .await
            .map(|a| logs_partial(&a.into_inner())),
        Request::Metrics(r) => metrics
            .export(r.clone())
            .await
            .map(|a| metrics_partial(&a.into_inner())),
    };
    match answer {
        Ok((rejected, message)) => Outcome::Accepted { rejected, message },
        Err(status) => grpc_outcome(&status),
    }
}

/// OTLP/gRPC's retryable codes; RESOURCE_EXHAUSTED only when the server says when,
/// else the request was too large (as grpc-go and this collector say it), as is
/// OUT_OF_RANGE saying "too large" (as tonic servers say it). UNKNOWN is retried too:
/// tonic reports a connection torn mid-request as it.
fn grpc_outcome(status: &tonic::Status) -> Outcome {
    use tonic::Code;
    let hint = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    let reason = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        Code::OutOfRange if status.message().contains("too large") => Outcome::TooLarge { reason },
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss
        | Code::Unknown => Outcome::Retry { hint, reason },
        Code::ResourceExhausted if hint.is_some() => Outcome::Retry { hint, reason },
        Code::ResourceExhausted => Outcome::TooLarge { reason },
        _ => Outcome::Rejected { reason },
    }
}

async fn send_http(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
    destination: &Destination,
    compression: Compression,
    request: &Request,
) -> Outcome {
    let path = match request {
        Request::Traces(_) => "/v1/traces",
        Request::Logs(_) => "/v1/logs",
        Request::Metrics(_) => "/v1/metrics",
    };
    // Encoding and compressing megabytes takes milliseconds: not on the runtime's
    // threads, which the receivers need.
    let owned = request.clone();
    let body = match tokio::task::spawn_blocking(move || http_body(&owned, compression)).await {
        Ok(Ok(body)) => body,
        Ok(Err(error)) => {
            return Outcome::Retry {
                hint: None,
                reason: format!("cannot compress the request: {error}"),
            };
        }
        Err(error) => {
            return Outcome::Retry {
                hint: None,
                reason: format!("cannot encode the request: {error}"),
            };
        }
    };
    let mut built = http::Request::post(destination.http_url(path))
        .header(http::header::CONTENT_TYPE, "application/x-protobuf");
    if compression == Compression::Gzip {
        built = built.header(http::header::CONTENT_ENCODING, "gzip");
    }
    let built = built.body(Full::new(Bytes::from(body)));
    let http_request = match built {
        Ok(request) => request,
        Err(error) => {
            return Outcome::Rejected {
                reason: format!("cannot build the request: {error}"),
            };
        }
    };
    let response = match client.request(http_request).await {
        Ok(response) => response,
        Err(error) => {
            return Outcome::Retry {
                hint: None,
                reason: format!("cannot send: {error}"),
            };
        }
    };
    let status = response.status();
    let hint = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(retry_after);
    let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    if status.is_success() {
        let (rejected, message) = match request {
            Request::Traces(_) => ExportTraceServiceResponse::decode(body)
                .map(|a| traces_partial(&a))
                .unwrap_or_default(),
            Request::Logs(_) => ExportLogsServiceResponse::decode(body)
                .map(|a| logs_partial(&a))
                .unwrap_or_default(),
            Request::Metrics(_) => ExportMetricsServiceResponse::decode(body)
                .map(|a| metrics_partial(&a))
                .unwrap_or_default(),
        };
        return Outcome::Accepted { rejected, message };
    }
    let reason = format!("HTTP {status}: {}", short_text(&body));
    // OTLP/HTTP's retryable statuses.
    match status.as_u16() {
        429 | 502 | 503 | 504 => Outcome::Retry { hint, reason },
        413 => Outcome::TooLarge { reason },
        _ => Outcome::Rejected { reason },
    }
}

/// The protobuf body of an HTTP request, gzipped if asked.
fn http_body(request: &Request, compression: Compression) -> std::io::Result<Vec<u8>> {
    let encoded = match request {
        Request::Traces(r) => r.encode_to_vec(),
        Request::Logs(r) => r.encode_to_vec(),
        Request::Metrics(r) => r.encode_to_vec(),
    };
    match compression {
        Compression::None => Ok(encoded),
        Compression::Gzip => gzip(&encoded),
    }
}

/// gzip at its fastest level: forwarding runs beside ingestion on the same cores, and
/// the OTLP bodies of a loopback or LAN destination gain little from a slower one.
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The start of an error body, as text on one line, for the log.
fn short_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn count(rejected: i64) -> u64 {
    u64::try_from(rejected).unwrap_or(0)
}

fn traces_partial(answer: &ExportTraceServiceResponse) -> (u64, String) {
    answer
        .partial_success
        .as_ref()
        .map_or_else(Default::default, |p| {
            (count(p.rejected_spans), p.error_message.clone())
        })
}

fn logs_partial(answer: &ExportLogsServiceResponse) -> (u64, String) {
    answer
        .partial_success
        .as_ref()
        .map_or_else(Default::default, |p| {
            (count(p.rejected_log_records), p.error_message.clone())
        })
}

fn metrics_partial(answer: &ExportMetricsServiceResponse) -> (u64, String) {
    answer
        .partial_success
        .as_ref()
        .map_or_else(Default::default, |p| {
            (count(p.rejected_data_points), p.error_message.clone())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
        let wait = retry_after(&soon).expect("a date");
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn grpc_codes_are_retried_or_refused_as_otlp_says() {
        let retried =
            |status: tonic::Status| matches!(grpc_outcome(&status), Outcome::Retry { .. });
        assert!(retried(tonic::Status::unavailable("busy")));
        assert!(!retried(tonic::Status::invalid_argument("bad")));
        assert!(!retried(tonic::Status::resource_exhausted("too big")));
        assert!(matches!(
            grpc_outcome(&tonic::Status::resource_exhausted("too big")),
            Outcome::TooLarge { .. }
        ));
        assert!(matches!(
            grpc_outcome(&tonic::Status::out_of_range(
                "Error, decoded message length too large: found 9 bytes, the limit is: 8 bytes"
            )),
            Outcome::TooLarge { .. }
        ));
        let with_hint = tonic::Status::with_error_details(
            tonic::Code::ResourceExhausted,
            "slow down",
            tonic_types::ErrorDetails::with_retry_info(Some(Duration::from_secs(2))),
        );
        assert_eq!(
            grpc_outcome(&with_hint),
            Outcome::Retry {
                hint: Some(Duration::from_secs(2)),
                reason: "ResourceExhausted: slow down".into()
            }
        );
    }
}
