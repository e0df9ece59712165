//! Attacks on connections (issue 9, item 7): idle connections, a flood of them, and
//! headers sent a byte at a time. Each connection is opened again once the
//! collector closes it, for as long as the attack runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::tally::Tally;

/// A connection the collector closes sooner than this after it was opened was
/// refused at its cap rather than timed out (the bench's timeouts are longer).
const REFUSED_WITHIN: Duration = Duration::from_secs(1);
/// Pause after a failed connect, so a full listen queue is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Pause between the bytes of a slow header.
const HEADER_BYTE_PAUSE: Duration = Duration::from_millis(100);

/// `count` connections that never send a byte.
pub fn idle(tasks: &mut JoinSet<()>, addr: SocketAddr, count: usize, tally: &Arc<Tally>) {
    for _ in 0..count {
        let tally = Arc::clone(tally);
        tasks.spawn(async move {
            loop {
                let Ok(mut stream) = TcpStream::connect(addr).await else {
                    tally.add("connect failed");
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                };
                let opened = Instant::now();
                let mut buffer = [0u8; 256];
                // Anything but data is the server closing the connection.
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                }
                if opened.elapsed() < REFUSED_WITHIN {
                    tally.add("closed at once (cap)");
                    tokio::time::sleep(RETRY_PAUSE).await;
                } else {
                    tally.add("closed after a timeout");
                }
            }
        });
    }
}

/// `count` connections sending an HTTP/1 header that never ends, a byte at a time.
pub fn slow_headers(tasks: &mut JoinSet<()>, addr: SocketAddr, count: usize, tally: &Arc<Tally>) {
    for _ in 0..count {
        let tally = Arc::clone(tally);
        tasks.spawn(async move {
            loop {
                let Ok(stream) = TcpStream::connect(addr).await else {
                    tally.add("connect failed");
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                };
                let (mut read, mut write) = stream.into_split();
                let dribble = async {
                    let head = b"POST /v1/traces HTTP/1.1\r\nhost: localhost\r\n";
                    let endless = head.iter().chain(b"x-slow: yes\r\n".iter().cycle());
                    for byte in endless {
                        if write.write_all(&[*byte]).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(HEADER_BYTE_PAUSE).await;
                    }
                };
                let closed = async {
                    let mut buffer = [0u8; 256];
                    while let Ok(read) = read.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                    }
                };
                tokio::select! {
                    () = dribble => {}
                    () = closed => {}
                }
                tally.add("closed by the server");
            }
        });
    }
}
