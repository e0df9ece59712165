//! Raw HTTP/1 requests, written byte for byte, for bodies no client would stall.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The head of a POST to the collector's HTTP receiver, on loopback.
pub fn head(path: &str, content_type: &str, gzip: bool, content_length: usize) -> String {
    let encoding = if gzip {
        "content-encoding: gzip\r\n"
    } else {
        ""
    };
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\n\
         {encoding}content-length: {content_length}\r\nconnection: close\r\n\r\n"
    )
}

/// Sends `head` and `body` on a new connection and names the answer ("HTTP 200").
pub async fn post(addr: SocketAddr, head: &str, body: &[u8]) -> Result<String> {
    let mut stream = TcpStream::connect(addr).await.context("connecting")?;
    stream.write_all(head.as_bytes()).await.context("writing")?;
    stream.write_all(body).await.context("writing")?;
    status(&mut stream).await
}

/// The status of the response on `stream`, as "HTTP 408".
pub async fn status(stream: &mut TcpStream) -> Result<String> {
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .await
        .context("reading the status line")?;
    let Some(code) = line.split_whitespace().nth(1) else {
        bail!("closed without an answer");
    };
    Ok(format!("HTTP {code}"))
}
