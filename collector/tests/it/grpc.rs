//! OTLP/gRPC with tonic's generated clients, as OTLP exporters use them.

use std::io::Write;

use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic_types::StatusExt;

use crate::{log, logs_request, metrics_request, span, start, start_with, traces_request};

#[tokio::test]
async fn exports_of_every_signal_are_stored() {
    let running = start().await;
    let mut traces = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    let reply = traces
        .export(traces_request((0..10).map(span).collect()))
        .await
        .expect("traces accepted")
        .into_inner();
    assert_eq!(reply.partial_success, None);
    let mut gzip_traces = traces.clone().send_compressed(CompressionEncoding::Gzip);
    gzip_traces
        .export(traces_request((10..15).map(span).collect()))
        .await
        .expect("gzip traces accepted");
    let mut logs = LogsServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    logs.export(logs_request((0..7).map(log).collect()))
        .await
        .expect("logs accepted");
    let mut metrics = MetricsServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    metrics
        .export(metrics_request(4))
        .await
        .expect("metrics accepted");

    let blocks = running.finish().await;
    let spans: Vec<_> = blocks
        .iter()
        .flat_map(|b| {
            b.spans
                .iter()
                .zip(b.span_columns())
                .map(move |(s, c)| (b, s, c))
        })
        .collect();
    assert_eq!(spans.len(), 15);
    for (n, (block, span, columns)) in spans.iter().enumerate() {
        let n = n as u64;
        assert_eq!(columns.span_id, n + 1);
        assert_eq!(span.trace_id_low, n + 1);
        assert_eq!(block.str(span.name), format!("GET /orders/{n}"));
        let source = span.source.expect("source location");
        assert_eq!(block.str(source.file_path), "src/orders.rs");
        assert_eq!(source.line, 42);
        let resource = &block.resources[block.scopes[span.scope as usize].resource as usize];
        assert_eq!(block.str(resource.attributes[0].key), "service.name");
    }
    assert_eq!(blocks.iter().map(|b| b.logs.len()).sum::<usize>(), 7);
    let points: u32 = blocks
        .iter()
        .flat_map(|b| &b.metrics)
        .map(|m| m.data_points)
        .sum();
    assert_eq!(points, 4);
}

#[tokio::test]
async fn partial_success_reports_rejected_spans() {
    let running = start().await;
    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    let mut bad = span(1);
    bad.span_id = vec![0; 8];
    let reply = client
        .export(traces_request(vec![span(0), bad]))
        .await
        .expect("accepted")
        .into_inner();
    let partial = reply.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("span_id"));
    running.finish().await;
}

#[tokio::test]
async fn oversized_messages_are_resource_exhausted_without_retry_info() {
    let running = start_with(|config| config.max_message_bytes = 64 << 10).await;
    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect")
        .max_encoding_message_size(usize::MAX);
    let status = client
        .export(traces_request((0..2_000).map(span).collect()))
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.get_details_retry_info().is_none());

    // A gzip bomb: small on the wire, far past the limit once inflated. It is cut off
    // at the limit, not inflated to the end.
    let mut bomb = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect")
        .send_compressed(CompressionEncoding::Gzip);
    let mut huge = span(1);
    huge.name = "x".repeat(32 << 20);
    let status = bomb
        .export(traces_request(vec![huge]))
        .await
        .expect_err("bomb");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // The collector still serves afterwards.
    client
        .export(traces_request(vec![span(7)]))
        .await
        .expect("still accepting");
    let blocks = running.finish().await;
    assert_eq!(blocks.iter().map(|b| b.spans.len()).sum::<usize>(), 1);
}

/// A raw HTTP/2 gRPC call, to send what no generated client would.
/// An HTTP/2 connection to `addr`, driven in the background.
pub(crate) async fn h2_sender<B>(
    addr: std::net::SocketAddr,
) -> hyper::client::conn::http2::SendRequest<B>
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(connection);
    sender
}

/// A raw HTTP/2 gRPC call; `headers` may replace the default content type.
async fn raw_call(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (http::StatusCode, http::HeaderMap) {
    let mut sender = h2_sender(addr).await;
    let mut request = http::Request::post(format!("http://{addr}{path}")).header("te", "trailers");
    if !headers.iter().any(|(name, _)| *name == "content-type") {
        request = request.header("content-type", "application/grpc");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status();
    let mut headers = response.headers().clone();
    let collected = response.into_body().collect().await.expect("body");
    if let Some(trailers) = collected.trailers() {
        headers.extend(trailers.clone());
    }
    (status, headers)
}

pub(crate) fn grpc_frame(compressed: bool, message: &[u8]) -> Vec<u8> {
    let mut frame = vec![u8::from(compressed)];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

#[tokio::test]
async fn bad_grpc_requests_get_precise_statuses() {
    let running = start_with(|config| config.max_message_bytes = 64 << 10).await;
    let addr = running.collector.grpc_addr();
    let traces = oculus_collector::grpc::TRACES_PATH;
    let grpc_status = |headers: &http::HeaderMap| {
        headers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i32>().ok())
    };
    // Invalid protobuf.
    let (_, headers) = raw_call(addr, traces, &[], grpc_frame(false, &[0xff, 0xff, 0xff])).await;
    assert_eq!(grpc_status(&headers), Some(Code::InvalidArgument as i32));
    // An announced length past the limit is refused before the body is read.
    let mut announced_only = vec![0u8];
    announced_only.extend_from_slice(&(1u32 << 30).to_be_bytes());
    let (_, headers) = raw_call(addr, traces, &[], announced_only).await;
    assert_eq!(grpc_status(&headers), Some(Code::ResourceExhausted as i32));
    // Unknown compression.
    let (_, headers) = raw_call(
        addr,
        traces,
        &[("grpc-encoding", "snappy")],
        grpc_frame(true, b"x"),
    )
    .await;
    assert_eq!(grpc_status(&headers), Some(Code::Unimplemented as i32));
    // Corrupt gzip.
    let (_, headers) = raw_call(
        addr,
        traces,
        &[("grpc-encoding", "gzip")],
        grpc_frame(true, b"nope"),
    )
    .await;
    assert_eq!(grpc_status(&headers), Some(Code::InvalidArgument as i32));
    // A valid gzip message through the raw path, to show the framing is right.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(&prost::Message::encode_to_vec(&traces_request(vec![span(
            3,
        )])))
        .expect("gzip");
    let compressed = encoder.finish().expect("gzip");
    let (status, headers) = raw_call(
        addr,
        traces,
        &[("grpc-encoding", "gzip")],
        grpc_frame(true, &compressed),
    )
    .await;
    assert_eq!(status, http::StatusCode::OK);
    assert_eq!(grpc_status(&headers), Some(0));
    // gRPC-Web is another framing: refused with 415 rather than misread.
    let (status, _) = raw_call(
        addr,
        traces,
        &[("content-type", "application/grpc-web")],
        grpc_frame(false, b""),
    )
    .await;
    assert_eq!(status, http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // An unknown method.
    let (_, headers) = raw_call(
        addr,
        "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
        &[],
        grpc_frame(false, b""),
    )
    .await;
    assert_eq!(grpc_status(&headers), Some(Code::Unimplemented as i32));
    let blocks = running.finish().await;
    assert_eq!(blocks.iter().map(|b| b.spans.len()).sum::<usize>(), 1);
}

/// A second message in a unary call is refused however the messages are split into
/// DATA frames (found by fuzzing, FUZZING.md): one that came in its own frame was
/// ignored, and the first message stored.
#[tokio::test]
async fn a_second_message_in_its_own_data_frame_is_invalid() {
    let running = start().await;
    let addr = running.collector.grpc_addr();
    let message = prost::Message::encode_to_vec(&traces_request(vec![span(1)]));
    let frames = [grpc_frame(false, &message), grpc_frame(false, &message)].map(|bytes| {
        Ok::<_, std::convert::Infallible>(http_body::Frame::data(bytes::Bytes::from(bytes)))
    });
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    let mut sender = h2_sender(addr).await;
    let request = http::Request::post(format!(
        "http://{addr}{}",
        oculus_collector::grpc::TRACES_PATH
    ))
    .header("te", "trailers")
    .header("content-type", "application/grpc")
    .body(body)
    .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let mut headers = response.headers().clone();
    let collected = response.into_body().collect().await.expect("body");
    if let Some(trailers) = collected.trailers() {
        headers.extend(trailers.clone());
    }
    assert_eq!(
        headers.get("grpc-status").and_then(|v| v.to_str().ok()),
        Some((Code::InvalidArgument as i32).to_string().as_str()),
        "{headers:?}"
    );
    let blocks = running.finish().await;
    assert_eq!(blocks.iter().map(|b| b.spans.len()).sum::<usize>(), 0);
}

#[tokio::test]
async fn overload_is_unavailable_with_retry_info() {
    let running = start_with(|config| {
        config.max_message_bytes = 64 << 10;
        config.max_inflight_bytes = 64 << 10;
    })
    .await;
    let addr = running.collector.grpc_addr();
    // A stalled call sends 60 KiB of a 64 KiB message and stops, holding what it sent
    // (an announced length alone holds nothing).
    let mut sender = h2_sender(addr).await;
    let (body_tx, body_rx) = tokio::sync::mpsc::channel::<
        Result<http_body::Frame<bytes::Bytes>, std::convert::Infallible>,
    >(1);
    let request = http::Request::post(format!(
        "http://{addr}{}",
        oculus_collector::grpc::TRACES_PATH
    ))
    .header("content-type", "application/grpc")
    .body(http_body_util::StreamBody::new(tokio_stream_from(body_rx)))
    .expect("request");
    let mut prefix = vec![0u8];
    prefix.extend_from_slice(&(64u32 << 10).to_be_bytes());
    prefix.resize(5 + (60 << 10), 0);
    body_tx
        .send(Ok(http_body::Frame::data(bytes::Bytes::from(prefix))))
        .await
        .expect("send prefix");
    let stalled = tokio::spawn(async move { sender.send_request(request).await });
    crate::wait_for_inflight(&running.collector, 60 << 10).await;

    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    let status = client
        .export(traces_request((0..100).map(span).collect()))
        .await
        .expect_err("refused while the budget is held");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let retry = status.get_details_retry_info().expect("RetryInfo");
    assert_eq!(retry.retry_delay, Some(std::time::Duration::from_secs(1)));
    drop(body_tx);
    stalled.abort();
    running.finish().await;
}

/// A stream over an mpsc receiver, without pulling in a stream crate.
pub(crate) fn tokio_stream_from<T>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Under every fsync policy, what is acknowledged is stored and the session seals.
#[tokio::test]
async fn every_fsync_policy_stores_what_it_acknowledges() {
    for fsync in [
        oculus_store::FsyncPolicy::Never,
        oculus_store::FsyncPolicy::Always,
        oculus_store::FsyncPolicy::OnSeal,
    ] {
        let running = start_with(|config| config.writer.fsync = fsync).await;
        let mut client = TraceServiceClient::connect(running.grpc_url())
            .await
            .expect("connect");
        for batch in 0..3u64 {
            client
                .export(traces_request(
                    (batch * 10..batch * 10 + 10).map(span).collect(),
                ))
                .await
                .expect("accepted");
        }
        let blocks = running.finish().await;
        assert_eq!(
            blocks.iter().map(|b| b.spans.len()).sum::<usize>(),
            30,
            "{fsync:?}"
        );
    }
}
