//! Stalled bodies (issue 9, item 7): HTTP/1 requests that send most of their body
//! and then stop, holding what they sent until the body timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::http1;
use super::tally::Tally;

const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// `count` requests announcing `announced_bytes` and sending `sent_bytes` of them.
pub fn stalled(
    tasks: &mut JoinSet<()>,
    addr: SocketAddr,
    count: usize,
    announced_bytes: usize,
    sent_bytes: usize,
    tally: &Arc<Tally>,
) {
    let head = http1::head(
        "/v1/traces",
        "application/x-protobuf",
        false,
        announced_bytes,
    );
    let part = vec![0u8; sent_bytes];
    let (head, part) = (Arc::new(head), Arc::new(part));
    for _ in 0..count {
        let (tally, head, part) = (Arc::clone(tally), Arc::clone(&head), Arc::clone(&part));
        tasks.spawn(async move {
            loop {
                let outcome = async {
                    let mut stream = TcpStream::connect(addr).await?;
                    stream.write_all(head.as_bytes()).await?;
                    stream.write_all(&part).await?;
                    http1::status(&mut stream).await
                };
                match outcome.await {
                    Ok(status) => tally.add(status),
                    Err(_) => {
                        tally.add("connection failed");
                        tokio::time::sleep(RETRY_PAUSE).await;
                    }
                }
            }
        });
    }
}
