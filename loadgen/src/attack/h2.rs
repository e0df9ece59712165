//! A hand-driven HTTP/2 gRPC client, for calls no real client would make: messages
//! announced and never sent, streams that never send data.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

pub type CallBody = BoxBody<Bytes, Infallible>;

/// Opens an HTTP/2 connection; a task drives it until the server closes it.
pub async fn connect(addr: SocketAddr) -> Result<SendRequest<CallBody>> {
    let stream = TcpStream::connect(addr).await.context("connecting")?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .context("HTTP/2 handshake")?;
    tokio::spawn(async move {
        // How the connection ended shows in the calls made on it.
        let _ = connection.await;
    });
    Ok(sender)
}

/// The 5-byte gRPC prefix announcing a message of `len` bytes, uncompressed.
pub fn prefix(len: u32) -> Bytes {
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(&len.to_be_bytes());
    Bytes::from(bytes)
}

/// A whole gRPC message: its prefix, then its bytes.
pub fn framed(message: &[u8]) -> Bytes {
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    let mut bytes = prefix(len).to_vec();
    bytes.extend_from_slice(message);
    Bytes::from(bytes)
}

pub fn whole(body: Bytes) -> CallBody {
    Full::new(body).boxed()
}

/// A body that sends `first` (if any) and then nothing, forever.
pub fn stalled(first: Option<Bytes>) -> CallBody {
    Stall { first }.boxed()
}

struct Stall {
    first: Option<Bytes>,
}

impl http_body::Body for Stall {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.first.take() {
            Some(first) => Poll::Ready(Some(Ok(Frame::data(first)))),
            // Never woken: the stream stays open until the server answers or resets it.
            None => Poll::Pending,
        }
    }
}

/// Makes one gRPC call to `path` and names how it ended: the gRPC code, or why
/// there was none. `Err` means the connection is gone.
pub async fn call(
    sender: &mut SendRequest<CallBody>,
    addr: SocketAddr,
    path: &str,
    body: CallBody,
) -> Result<String> {
    let request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .context("building a request")?;
    sender.ready().await.context("connection closed")?;
    let response = sender.send_request(request).await.context("call failed")?;
    let mut headers = response.headers().clone();
    match response.into_body().collect().await {
        Ok(collected) => {
            if let Some(trailers) = collected.trailers() {
                headers.extend(trailers.clone());
            }
        }
        Err(_) => return Ok("reply cut off".to_owned()),
    }
    Ok(tonic::Status::from_header_map(&headers).map_or_else(
        || "no grpc-status".to_owned(),
        |s| format!("{:?}", s.code()),
    ))
}
