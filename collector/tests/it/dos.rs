//! One client cannot stop the others (issue 9): timeouts on every stage of a
//! connection, a cap on connections, admission by the bytes that arrived, and refusals
//! that keep the client's connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::client::conn::http2::SendRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;
use tonic_types::StatusExt;

use crate::grpc::{grpc_frame, tokio_stream_from};
use crate::{Running, span, start_with, traces_request, wait_for_inflight};

type CallBody = BoxBody<Bytes, Infallible>;
type Chunks = tokio::sync::mpsc::Sender<Result<Frame<Bytes>, Infallible>>;
type Reply = tokio::task::JoinHandle<hyper::Result<http::Response<hyper::body::Incoming>>>;

/// Long enough that nothing but the timeout under test fires.
const LONG: Duration = Duration::from_secs(60);
/// How long a test waits for the collector to do what it must.
const PATIENCE: Duration = Duration::from_secs(5);

/// An HTTP/2 connection and the task driving it, which ends when the server closes it.
async fn h2_connect(addr: SocketAddr) -> (SendRequest<CallBody>, tokio::task::JoinHandle<()>) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    let driver = tokio::spawn(async move {
        // How the connection ended is not the question; that it ended is.
        let _ = connection.await;
    });
    (sender, driver)
}

fn grpc_request(addr: SocketAddr, body: CallBody) -> http::Request<CallBody> {
    http::Request::post(format!(
        "http://{addr}{}",
        oculus_collector::grpc::TRACES_PATH
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(body)
    .expect("request")
}

/// A gRPC traces call whose body is fed by hand through the returned queue.
fn streaming_call(sender: &SendRequest<CallBody>, addr: SocketAddr) -> (Chunks, Reply) {
    let (chunks, receiver) = tokio::sync::mpsc::channel(4);
    let body = BodyExt::boxed(StreamBody::new(tokio_stream_from(receiver)));
    let mut sender = sender.clone();
    let request = grpc_request(addr, body);
    (
        chunks,
        tokio::spawn(async move { sender.send_request(request).await }),
    )
}

/// A gRPC traces call with its whole message at once.
async fn whole_call(
    sender: &SendRequest<CallBody>,
    addr: SocketAddr,
    message: &[u8],
) -> hyper::Result<tonic::Status> {
    whole_call_to(sender, addr, oculus_collector::grpc::TRACES_PATH, message).await
}

/// A gRPC call to `path` with its whole message at once.
async fn whole_call_to(
    sender: &SendRequest<CallBody>,
    addr: SocketAddr,
    path: &str,
    message: &[u8],
) -> hyper::Result<tonic::Status> {
    let body = Full::new(Bytes::from(grpc_frame(false, message)))
        .map_err(|never| match never {})
        .boxed();
    let mut request = grpc_request(addr, body);
    *request.uri_mut() = format!("http://{addr}{path}").parse().expect("uri");
    let response = sender.clone().send_request(request).await?;
    Ok(grpc_status(response).await)
}

/// The gRPC status of a reply, from its headers or its trailers.
async fn grpc_status(response: http::Response<hyper::body::Incoming>) -> tonic::Status {
    let mut headers = response.headers().clone();
    let collected = response.into_body().collect().await.expect("reply body");
    if let Some(trailers) = collected.trailers() {
        headers.extend(trailers.clone());
    }
    tonic::Status::from_header_map(&headers).expect("a grpc-status")
}

/// A gRPC message prefix announcing `len` bytes, followed by `sent` of them.
fn announce(len: u32, sent: usize) -> Frame<Bytes> {
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.resize(5 + sent, 0);
    Frame::data(Bytes::from(bytes))
}

/// Reads until the server closes the connection (end of stream or reset), for at
/// most `patience`; how long that took, or `None` if it stayed open.
async fn closed_within(
    stream: &mut (impl AsyncRead + Unpin),
    patience: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(patience, read_to_end)
        .await
        .ok()
        .map(|()| started.elapsed())
}

/// Reads an HTTP/1 response head from `stream`, returning its status line.
async fn read_status_line(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut byte))
            .await
            .expect("a response in time")
            .expect("readable");
        assert_eq!(
            read,
            1,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    head.lines().next().unwrap_or_default().to_owned()
}

async fn http_export(running: &Running, n: u64) -> reqwest::Response {
    reqwest::Client::new()
        .post(running.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(traces_request(vec![span(n)]).encode_to_vec())
        .send()
        .await
        .expect("answered")
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(300);
    let running = start_with(|config| {
        config.idle_timeout = idle;
        config.header_read_timeout = LONG;
        config.body_timeout = LONG;
    })
    .await;
    let http = running.collector.http_addr();
    let grpc = running.collector.grpc_addr();

    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(http).await.expect("connect");
    // An HTTP/1 connection kept alive after a request.
    let mut kept = TcpStream::connect(http).await.expect("connect");
    kept.write_all(b"GET /v1/traces HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("write");
    assert!(read_status_line(&mut kept).await.contains("405"));
    // An HTTP/2 connection after its handshake.
    let (sender, driver) = h2_connect(grpc).await;

    let silent = closed_within(&mut silent, PATIENCE).await;
    let kept = closed_within(&mut kept, PATIENCE).await;
    assert!(silent.is_some(), "a silent connection stayed open");
    assert!(kept.is_some(), "an idle HTTP/1 connection stayed open");
    tokio::time::timeout(PATIENCE, driver)
        .await
        .expect("an idle HTTP/2 connection is closed")
        .expect("driver");
    drop(sender);

    // A request in flight for longer than the idle timeout is not cut off.
    let (sender, _driver) = h2_connect(grpc).await;
    let message = traces_request(vec![span(1)]).encode_to_vec();
    let framed = grpc_frame(false, &message);
    let (chunks, reply) = streaming_call(&sender, grpc);
    chunks
        .send(Ok(Frame::data(Bytes::copy_from_slice(&framed[..10]))))
        .await
        .expect("send");
    tokio::time::sleep(idle * 3).await;
    chunks
        .send(Ok(Frame::data(Bytes::copy_from_slice(&framed[10..]))))
        .await
        .expect("send");
    drop(chunks);
    let response = tokio::time::timeout(PATIENCE, reply)
        .await
        .expect("answered")
        .expect("task")
        .expect("the connection stayed open while the request was in flight");
    assert_eq!(grpc_status(response).await.code(), Code::Ok);
    running.finish().await;
}

#[tokio::test]
async fn headers_sent_byte_by_byte_are_cut_off_at_the_header_read_timeout() {
    let header_read = Duration::from_millis(500);
    let running = start_with(|config| {
        config.header_read_timeout = header_read;
        config.idle_timeout = LONG;
        config.body_timeout = LONG;
    })
    .await;
    let stream = TcpStream::connect(running.collector.http_addr())
        .await
        .expect("connect");
    let (mut read, mut write) = stream.into_split();
    let started = Instant::now();
    // Headers that never end, one byte every 50 ms.
    let dribble = tokio::spawn(async move {
        let head = b"POST /v1/traces HTTP/1.1\r\nhost: localhost\r\n";
        let endless = head
            .iter()
            .chain(b"x-slow: yes\r\n".iter().cycle())
            .copied();
        for byte in endless {
            if write.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let closed = closed_within(&mut read, PATIENCE).await;
    dribble.abort();
    assert!(
        closed.is_some(),
        "headers were read for as long as they came"
    );
    assert!(started.elapsed() >= header_read, "{:?}", started.elapsed());
    running.finish().await;
}

#[tokio::test]
async fn a_stalled_body_times_out_and_frees_its_budget() {
    let running = start_with(|config| {
        config.max_message_bytes = 64 << 10;
        config.max_inflight_bytes = 64 << 10;
        config.body_timeout = Duration::from_millis(500);
        config.idle_timeout = LONG;
    })
    .await;
    let grpc = running.collector.grpc_addr();
    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");

    // gRPC: 60 KiB of a 64 KiB message, then nothing.
    let (sender, _driver) = h2_connect(grpc).await;
    let (chunks, reply) = streaming_call(&sender, grpc);
    chunks
        .send(Ok(announce(64 << 10, 60 << 10)))
        .await
        .expect("send");
    wait_for_inflight(&running.collector, 60 << 10).await;
    let status = client
        .export(traces_request(vec![span(0)]))
        .await
        .expect_err("refused while the stalled call holds the budget");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let response = tokio::time::timeout(PATIENCE, reply)
        .await
        .expect("the stalled call is answered")
        .expect("task")
        .expect("response");
    let status = grpc_status(response).await;
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    client
        .export(traces_request(vec![span(100)]))
        .await
        .expect("accepted once the stalled call's budget is back");

    // HTTP/1: the same, with a Content-Length.
    let mut slow = TcpStream::connect(running.collector.http_addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
        64 << 10
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    slow.write_all(&vec![0u8; 60 << 10]).await.expect("write");
    wait_for_inflight(&running.collector, 60 << 10).await;
    assert_eq!(http_export(&running, 1).await.status().as_u16(), 503);
    let status_line = read_status_line(&mut slow).await;
    assert!(status_line.contains("408"), "{status_line}");
    assert_eq!(http_export(&running, 101).await.status().as_u16(), 200);
    drop(chunks);
    running.finish().await;
}

#[tokio::test]
async fn streams_announcing_large_messages_do_not_hold_the_budget() {
    // The defaults: 64 MiB messages, 256 MiB in flight; four announcements would take it all.
    let running = start_with(|config| {
        config.body_timeout = LONG;
        config.idle_timeout = LONG;
    })
    .await;
    let grpc = running.collector.grpc_addr();
    let (sender, _driver) = h2_connect(grpc).await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let (chunks, reply) = streaming_call(&sender, grpc);
        chunks.send(Ok(announce(64 << 20, 0))).await.expect("send");
        stalled.push((chunks, reply));
    }
    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    for n in 0..10 {
        client
            .export(traces_request(vec![span(n)]))
            .await
            .expect("gRPC exports are accepted while four calls stall");
        assert_eq!(
            http_export(&running, 100 + n).await.status().as_u16(),
            200,
            "HTTP exports are accepted while four calls stall"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    drop(stalled);
    running.finish().await;
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_while_others_keep_working() {
    let running = start_with(|config| {
        config.max_connections = 3;
        config.idle_timeout = LONG;
        config.header_read_timeout = LONG;
    })
    .await;
    let grpc = running.collector.grpc_addr();
    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    client
        .export(traces_request(vec![span(0)]))
        .await
        .expect("accepted");
    let first_idle = TcpStream::connect(grpc).await.expect("connect");
    let _second_idle = TcpStream::connect(grpc).await.expect("connect");
    let mut extra = TcpStream::connect(grpc).await.expect("connect");
    assert!(
        closed_within(&mut extra, PATIENCE).await.is_some(),
        "a connection past the cap was kept"
    );
    assert_eq!(
        running
            .collector
            .counters()
            .refused_connections
            .load(Ordering::Relaxed),
        1
    );
    client
        .export(traces_request(vec![span(1)]))
        .await
        .expect("a connected client keeps working at the cap");

    // Once a connection closes there is room again.
    drop(first_idle);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let exported = async {
            let mut client = TraceServiceClient::connect(running.grpc_url()).await.ok()?;
            client.export(traces_request(vec![span(2)])).await.ok()
        };
        if exported.await.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no room after a connection closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let blocks = running.finish().await;
    assert_eq!(blocks.iter().map(|b| b.spans.len()).sum::<usize>(), 3);
}

/// A hand-written HTTP/2 client, to send what real clients send when their data is
/// still in flight as the server answers: DATA on a stream the server has finished.
mod raw_h2 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub const DATA: u8 = 0;
    const HEADERS: u8 = 1;
    pub const RST_STREAM: u8 = 3;
    const SETTINGS: u8 = 4;
    pub const PING: u8 = 6;
    pub const GOAWAY: u8 = 7;
    pub const END_STREAM: u8 = 0x1;
    const END_HEADERS: u8 = 0x4;
    const ACK: u8 = 0x1;

    pub struct Frame {
        pub kind: u8,
        pub flags: u8,
        pub stream: u32,
        pub payload: Vec<u8>,
    }

    pub struct Connection {
        stream: TcpStream,
    }

    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).expect("small frame");
        let mut bytes = len.to_be_bytes()[1..].to_vec();
        bytes.extend_from_slice(&[kind, flags]);
        bytes.extend_from_slice(&stream.to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    /// A POST to `path` as HPACK literals, neither indexed nor Huffman-coded.
    pub fn post_headers(stream: u32, path: &str) -> Vec<u8> {
        let mut block = Vec::new();
        for (name, value) in [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ] {
            block.push(0);
            block.push(u8::try_from(name.len()).expect("short"));
            block.extend_from_slice(name.as_bytes());
            block.push(u8::try_from(value.len()).expect("short"));
            block.extend_from_slice(value.as_bytes());
        }
        frame(HEADERS, END_HEADERS, stream, &block)
    }

    impl Connection {
        pub async fn open(addr: std::net::SocketAddr) -> Self {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            hello.extend_from_slice(&frame(SETTINGS, 0, 0, &[]));
            stream.write_all(&hello).await.expect("write");
            Self { stream }
        }

        pub async fn send(&mut self, bytes: &[u8]) {
            self.stream.write_all(bytes).await.expect("write");
        }

        /// The next frame other than SETTINGS, which it acknowledges.
        pub async fn next(&mut self) -> Frame {
            loop {
                let mut head = [0u8; 9];
                self.stream.read_exact(&mut head).await.expect("a frame");
                let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
                let mut payload = vec![0u8; len];
                self.stream.read_exact(&mut payload).await.expect("a frame");
                let frame = Frame {
                    kind: head[3],
                    flags: head[4],
                    stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
                    payload,
                };
                if frame.kind == SETTINGS {
                    if frame.flags & ACK == 0 {
                        self.send(&self::frame(SETTINGS, ACK, 0, &[])).await;
                    }
                    continue;
                }
                return frame;
            }
        }
    }
}

/// h2 closes a connection that made it reset more than 1,024 streams. Refusals must
/// not count toward that, or a client under sustained refusals loses its connection
/// and every call in flight on it.
#[tokio::test]
async fn sustained_refusals_keep_the_http2_connection_open() {
    const CALLS_PER_ROUND: u32 = 150;
    const ROUNDS: u32 = 12;
    let running = start_with(|config| {
        config.max_message_bytes = 64 << 10;
        config.max_inflight_bytes = 64 << 10;
        config.body_timeout = LONG;
        config.idle_timeout = LONG;
    })
    .await;
    let grpc = running.collector.grpc_addr();
    // One call holds the whole budget, so every other call is refused.
    let (holder_sender, _holder_driver) = h2_connect(grpc).await;
    let (holder, _holder_reply) = streaming_call(&holder_sender, grpc);
    holder
        .send(Ok(announce(64 << 10, 60 << 10)))
        .await
        .expect("send");

    // A real client's refused calls carry RetryInfo and leave its connection open.
    wait_for_inflight(&running.collector, 60 << 10).await;
    let (sender, driver) = h2_connect(grpc).await;
    let message = traces_request((0..300).map(span).collect()).encode_to_vec();
    let statuses: Vec<_> = futures_util::stream::iter(0..200)
        .map(|_| whole_call(&sender, grpc, &message))
        .buffer_unordered(32)
        .collect()
        .await;
    for status in statuses {
        let status = status.expect("answered on the same connection");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.get_details_retry_info().is_some(), "{status:?}");
    }
    assert!(!driver.is_finished(), "the connection was closed");

    // Calls whose last bytes arrive after their refusal, as data in flight does.
    let mut raw = raw_h2::Connection::open(grpc).await;
    let path = oculus_collector::grpc::TRACES_PATH;
    let first_part = announce(40, 10).into_data().expect("data");
    let mut next_stream = 1u32;
    let mut resets = Vec::new();
    for round in 0..ROUNDS {
        let streams: Vec<u32> = (0..CALLS_PER_ROUND).map(|i| next_stream + 2 * i).collect();
        next_stream += 2 * CALLS_PER_ROUND;
        let mut opening = Vec::new();
        for &stream in &streams {
            opening.extend_from_slice(&raw_h2::post_headers(stream, path));
            opening.extend_from_slice(&raw_h2::frame(raw_h2::DATA, 0, stream, &first_part));
        }
        raw.send(&opening).await;
        let mut answered = 0;
        while answered < CALLS_PER_ROUND {
            let frame = tokio::time::timeout(PATIENCE, raw.next())
                .await
                .expect("calls are answered in time");
            match frame.kind {
                raw_h2::GOAWAY => panic!(
                    "round {round}: the collector closed the connection: {}",
                    String::from_utf8_lossy(&frame.payload[8..])
                ),
                raw_h2::RST_STREAM => resets.push(frame.stream),
                raw_h2::PING => {}
                _ if frame.flags & raw_h2::END_STREAM != 0 => answered += 1,
                _ => {}
            }
        }
        let mut rest = Vec::new();
        for &stream in &streams {
            rest.extend_from_slice(&raw_h2::frame(
                raw_h2::DATA,
                raw_h2::END_STREAM,
                stream,
                &[0u8; 30],
            ));
        }
        raw.send(&rest).await;
    }
    // The connection still answers.
    raw.send(&raw_h2::frame(raw_h2::PING, 0, 0, &[7; 8])).await;
    loop {
        let frame = tokio::time::timeout(PATIENCE, raw.next())
            .await
            .expect("a ping is answered");
        assert_ne!(frame.kind, raw_h2::GOAWAY, "the connection was closed");
        if frame.kind == raw_h2::RST_STREAM {
            resets.push(frame.stream);
        }
        if frame.kind == raw_h2::PING {
            break;
        }
    }
    assert!(
        resets.is_empty(),
        "refused streams were reset rather than read to their end: {resets:?}"
    );

    // Released, the budget serves the first connection again.
    drop(holder);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = whole_call(&sender, grpc, &message).await.expect("answered");
        if status.code() == Code::Ok {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.finish().await;
}

/// A client that stops sending halfway does not hold the collector's stop: its call is
/// refused for a retry, and what was acknowledged is sealed.
#[tokio::test]
async fn a_stalled_client_does_not_hold_the_stop() {
    let running = start_with(|config| {
        config.body_timeout = LONG;
        config.idle_timeout = LONG;
        config.header_read_timeout = LONG;
    })
    .await;
    let grpc = running.collector.grpc_addr();
    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    client
        .export(traces_request(vec![span(0)]))
        .await
        .expect("accepted");
    let (sender, _driver) = h2_connect(grpc).await;
    let (chunks, reply) = streaming_call(&sender, grpc);
    chunks.send(Ok(announce(1 << 10, 100))).await.expect("send");
    let mut slow = TcpStream::connect(running.collector.http_addr())
        .await
        .expect("connect");
    slow.write_all(
        b"POST /v1/traces HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-protobuf\r\ncontent-length: 1000\r\n\r\nabc",
    )
    .await
    .expect("write");
    wait_for_inflight(&running.collector, 103).await;

    let Running { collector, dir } = running;
    tokio::time::timeout(PATIENCE, collector.shutdown())
        .await
        .expect("stopped in time")
        .expect("clean shutdown");
    let response = reply
        .await
        .expect("task")
        .expect("the stalled call is answered");
    // A trailers-only answer; its stream ended with the connection, so read no further.
    let status = tonic::Status::from_header_map(response.headers()).expect("a grpc-status");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let blocks = crate::read_blocks(dir.path());
    assert_eq!(blocks.iter().map(|b| b.spans.len()).sum::<usize>(), 1);
    drop(chunks);
}

/// Decoding the largest requests takes a while; it runs off the tasks that serve
/// connections, so other clients are answered meanwhile. (The tests' runtime has one
/// thread: decoding on it would stop every connection.)
#[tokio::test]
async fn a_large_request_does_not_stall_other_connections() {
    let running = start_with(|config| {
        config.body_timeout = LONG;
        config.idle_timeout = LONG;
    })
    .await;
    let grpc = running.collector.grpc_addr();
    let large = crate::metrics_request(2_000_000).encode_to_vec();
    assert!(large.len() > 32 << 20, "{}", large.len());
    let (sender, _driver) = h2_connect(grpc).await;
    let started = Instant::now();
    let large_call = tokio::spawn(async move {
        let status = whole_call_to(&sender, grpc, oculus_collector::grpc::METRICS_PATH, &large)
            .await
            .expect("answered");
        assert_eq!(status.code(), Code::Ok, "{status:?}");
        started.elapsed()
    });
    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    let mut slowest = Duration::ZERO;
    let mut during = 0;
    while !large_call.is_finished() {
        let sent = Instant::now();
        client
            .export(traces_request(vec![span(during)]))
            .await
            .expect("accepted");
        slowest = slowest.max(sent.elapsed());
        during += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let large_took = large_call.await.expect("the large call");
    assert!(
        during >= 3,
        "only {during} exports while the large one took {large_took:?}"
    );
    assert!(
        slowest < Duration::from_millis(250),
        "an export took {slowest:?} while a large one took {large_took:?}"
    );
    running.finish().await;
}

/// What decoding holds is taken from the budget too: protobuf metrics become OTLP
/// structs of several times their size, which a budget of request bytes alone let
/// four 60 MiB requests take to 1.2 GiB against 256 MiB.
#[tokio::test]
async fn decoding_is_counted_in_the_budget() {
    // 64 MiB messages; 128 MiB in flight holds one 19 MiB metrics request being
    // decoded (six times its size), but not two.
    let running = start_with(|config| {
        config.max_inflight_bytes = 128 << 20;
        config.body_timeout = LONG;
        config.idle_timeout = LONG;
    })
    .await;
    let grpc = running.collector.grpc_addr();
    let large = crate::metrics_request(1_000_000).encode_to_vec();
    let large_bytes = large.len();
    assert!(large_bytes > 16 << 20, "{large_bytes}");
    let (sender, _driver) = h2_connect(grpc).await;
    let first = {
        let (sender, large) = (sender.clone(), large.clone());
        tokio::spawn(async move {
            whole_call_to(&sender, grpc, oculus_collector::grpc::METRICS_PATH, &large).await
        })
    };
    // The first request's bytes and what decoding them holds.
    wait_for_inflight(&running.collector, 5 * large_bytes).await;
    let second = whole_call_to(&sender, grpc, oculus_collector::grpc::METRICS_PATH, &large)
        .await
        .expect("answered");
    assert_eq!(second.code(), Code::Unavailable, "{second:?}");
    assert!(second.get_details_retry_info().is_some(), "{second:?}");
    let first = first.await.expect("task").expect("answered");
    assert_eq!(first.code(), Code::Ok, "{first:?}");
    running.finish().await;
}

/// Part of the budget is kept for small requests: while large requests hold all they
/// may, a small export (an SDK's batch) is still accepted, and a larger one is not.
#[tokio::test]
async fn a_small_export_succeeds_while_large_requests_hold_the_budget() {
    const HOLDER_BYTES: u32 = 64 << 10;
    const HOLDERS: usize = 32;
    // 2 MiB in flight, 1 MiB messages: thirty-two holders of 64 KiB would take it all.
    let running = start_with(|config| {
        config.max_message_bytes = 1 << 20;
        config.max_inflight_bytes = 2 << 20;
        config.body_timeout = LONG;
        config.idle_timeout = LONG;
    })
    .await;
    let grpc = running.collector.grpc_addr();
    let (sender, _driver) = h2_connect(grpc).await;
    let mut holders = Vec::new();
    for n in 1..=HOLDERS {
        let (chunks, reply) = streaming_call(&sender, grpc);
        let sent = HOLDER_BYTES as usize - 1;
        chunks
            .send(Ok(announce(HOLDER_BYTES, sent)))
            .await
            .expect("send");
        holders.push((chunks, reply));
        // Each holder's bytes arrived, or the budget refused it.
        let deadline = Instant::now() + PATIENCE;
        let counters = running.collector.counters();
        while running.collector.inflight_bytes() < n * HOLDER_BYTES as usize
            && counters.refused_requests.load(Ordering::Relaxed) == 0
        {
            assert!(
                Instant::now() < deadline,
                "holder {n} neither held nor refused"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let held = running.collector.inflight_bytes();
    assert!(
        held >= (2 << 20) - (64 << 10),
        "large requests hold only {held} bytes"
    );

    let mut client = TraceServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    client
        .export(traces_request(vec![span(0)]))
        .await
        .expect("a small export is accepted while large requests hold the budget");
    assert_eq!(http_export(&running, 1).await.status().as_u16(), 200);
    let larger = client
        .export(traces_request((0..200).map(span).collect()))
        .await
        .expect_err("a larger export is refused");
    assert_eq!(larger.code(), Code::Unavailable, "{larger:?}");
    drop(holders);
    running.finish().await;
}

/// A request whose decoding could never fit the budget is too large, not "retry
/// later": protobuf metrics decode into several times their size, and a budget
/// that lets one decode anyway is exceeded by what it does not count.
#[tokio::test]
async fn metrics_too_large_to_decode_within_the_budget_are_refused_as_too_large() {
    let running = start_with(|config| {
        config.max_inflight_bytes = 64 << 20;
        config.body_timeout = LONG;
        config.idle_timeout = LONG;
    })
    .await;
    let grpc = running.collector.grpc_addr();
    // About 20 MiB, which decodes into more than 64 MiB.
    let large = crate::metrics_request(1_000_000).encode_to_vec();
    let (sender, _driver) = h2_connect(grpc).await;
    let status = whole_call_to(&sender, grpc, oculus_collector::grpc::METRICS_PATH, &large)
        .await
        .expect("answered");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.get_details_retry_info().is_none(), "{status:?}");
    // A small one still decodes.
    let small = crate::metrics_request(1_000).encode_to_vec();
    let status = whole_call_to(&sender, grpc, oculus_collector::grpc::METRICS_PATH, &small)
        .await
        .expect("answered");
    assert_eq!(status.code(), Code::Ok, "{status:?}");
    running.finish().await;
}
