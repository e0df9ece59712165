//! Sustained refusals on one HTTP/2 connection (issue 9, item 9): a client that keeps
//! many calls in flight on one connection and sends each again right after its
//! answer, ignoring RetryInfo, so that while the budget is held most are refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinSet;

use super::h2;
use super::tally::Tally;

pub const TRACES_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// Between one answer and the next call of the same stream.
const CALL_PAUSE: Duration = Duration::from_millis(100);

/// `calls` calls in flight on one connection, each sending `message` again and again.
pub fn run(
    tasks: &mut JoinSet<()>,
    addr: SocketAddr,
    calls: usize,
    message: &Bytes,
    tally: &Arc<Tally>,
) {
    let framed = h2::framed(message);
    let tally = Arc::clone(tally);
    tasks.spawn(async move {
        let Ok(sender) = h2::connect(addr).await else {
            tally.add("connect failed");
            return;
        };
        let mut running = JoinSet::new();
        for _ in 0..calls {
            let (tally, framed, mut sender) = (Arc::clone(&tally), framed.clone(), sender.clone());
            running.spawn(async move {
                loop {
                    match h2::call(&mut sender, addr, TRACES_PATH, h2::whole(framed.clone())).await
                    {
                        Ok(outcome) => tally.add(outcome),
                        // The connection must stay: its loss is what this attack is about.
                        Err(_) => {
                            tally.add("connection closed");
                            if let Ok(fresh) = h2::connect(addr).await {
                                sender = fresh;
                            }
                        }
                    }
                    tokio::time::sleep(CALL_PAUSE).await;
                }
            });
        }
        while running.join_next().await.is_some() {}
    });
}
