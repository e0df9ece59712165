//! Attacks on HTTP/2 streams (issue 9, items 6 and 7): streams that announce a large
//! gRPC message and send none of it, and streams that never send data at all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::h2;
use super::tally::Tally;

const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// `streams` calls on one connection, each sending only `first` (a message prefix,
/// or nothing) and then waiting; each is made again once the collector answers it.
pub fn stalled(
    tasks: &mut JoinSet<()>,
    addr: SocketAddr,
    path: &'static str,
    streams: usize,
    first: Option<bytes::Bytes>,
    tally: &Arc<Tally>,
) {
    let tally = Arc::clone(tally);
    tasks.spawn(async move {
        let mut calls = JoinSet::new();
        let Ok(sender) = h2::connect(addr).await else {
            tally.add("connect failed");
            return;
        };
        for _ in 0..streams {
            let (tally, first) = (Arc::clone(&tally), first.clone());
            let mut sender = sender.clone();
            calls.spawn(async move {
                loop {
                    let body = h2::stalled(first.clone());
                    match h2::call(&mut sender, addr, path, body).await {
                        Ok(outcome) => tally.add(outcome),
                        Err(_) => {
                            tally.add("connection closed");
                            tokio::time::sleep(RETRY_PAUSE).await;
                            // A connection of its own from now on.
                            if let Ok(fresh) = h2::connect(addr).await {
                                sender = fresh;
                            }
                        }
                    }
                }
            });
        }
        while calls.join_next().await.is_some() {}
    });
}
