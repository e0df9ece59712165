//! Taking connections, for both receivers: the accept loop with its cap on open
//! connections, each connection's header-read and idle timeouts, and a graceful stop.
//! Request bodies are timed by the handlers (`ingest.rs`), which read them.
//!
//! One client cannot stop the others: a connection past the cap is closed at once, so
//! the kernel's queue keeps moving; a connection with no request in flight is closed
//! after the idle timeout, whether it never sent a byte, sent half a header or is
//! kept alive between requests; HTTP/1 headers must arrive within their timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::Counters;

/// How each receiver limits its connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// Files kept free for what is not a connection: segments, the data directory's
/// lock, the runtime's own.
const RESERVED_FILES: u64 = 64;

/// The first pause after an accept error such as EMFILE; it doubles up to the maximum
/// while the errors last, rather than spinning on them.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How long a connection being closed, with no request left in flight, gets to say
/// goodbye (HTTP/2's GOAWAY and ping) before it is dropped.
const GOODBYE: Duration = Duration::from_secs(1);

/// Raises the soft limit on open files to the hard limit, as Go servers do at start:
/// the usual soft limit of 1,024 is a few hundred idle clients. Logs what it did.
pub fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // `None` is unlimited: nothing to raise, or no finite value to raise to.
    let (Some(soft), Some(hard)) = (limit.current, limit.maximum) else {
        return;
    };
    if soft >= hard {
        tracing::debug!(open_files = soft, "open-files limit already at its maximum");
        return;
    }
    let raised = Rlimit {
        current: Some(hard),
        maximum: Some(hard),
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => tracing::debug!(from = soft, to = hard, "raised the open-files limit"),
        Err(error) => {
            tracing::warn!(%error, soft, hard, "cannot raise the open-files limit");
        }
    }
}

/// `configured`, lowered if need be so that both receivers at their cap stay within
/// the open-files limit, where a refusal is clear and an accept error is not.
pub fn connection_cap(configured: usize) -> usize {
    let Some(soft) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current else {
        return configured;
    };
    let per_receiver =
        usize::try_from(soft.saturating_sub(RESERVED_FILES) / 2).unwrap_or(usize::MAX);
    configured.min(per_receiver).max(1)
}

/// A run of the same trouble, logged when it starts and when it ends rather than at
/// every occurrence.
#[derive(Default)]
struct Run {
    count: u64,
}

impl Run {
    /// Counts one more; true if this one starts a run.
    fn happened(&mut self) -> bool {
        self.count += 1;
        self.count == 1
    }

    /// Ends the run; how long it was, if there was one.
    fn ended(&mut self) -> Option<u64> {
        (self.count > 0).then(|| std::mem::take(&mut self.count))
    }
}

/// Accepts and serves connections until `stop`, then waits for those open to finish.
pub(crate) async fn serve(
    receiver: &'static str,
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let mut connections = JoinSet::new();
    let mut at_cap = Run::default();
    let mut accept_errors = Run::default();
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // An error means the sender is gone, which is a stop as well.
            _ = stop.wait_for(|stop| *stop) => break,
        };
        while let Some(finished) = connections.try_join_next() {
            log_panic(finished);
        }
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            // The client left before it was accepted; nothing is wrong here.
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                if accept_errors.happened() {
                    tracing::warn!(receiver, %error, "cannot accept connections; retrying");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        if let Some(errors) = accept_errors.ended() {
            tracing::info!(receiver, errors, "accepting connections again");
            backoff = ACCEPT_BACKOFF_MIN;
        }
        if connections.len() >= limits.max_connections {
            counters.refused_connections.fetch_add(1, Ordering::Relaxed);
            if at_cap.happened() {
                tracing::warn!(
                    receiver,
                    max_connections = limits.max_connections,
                    "connection limit reached; closing new connections until some close"
                );
            }
            drop(tcp);
            continue;
        }
        if let Some(refused) = at_cap.ended() {
            tracing::info!(receiver, refused, "below the connection limit again");
        }
        connections.spawn(serve_connection(
            tcp,
            router.clone(),
            Arc::clone(&builder),
            limits.idle_timeout,
            stop.clone(),
        ));
    }
    // No more connections queue up in the kernel while the open ones finish.
    drop(listener);
    while let Some(finished) = connections.join_next().await {
        log_panic(finished);
    }
}

fn log_panic(finished: Result<(), tokio::task::JoinError>) {
    if let Err(error) = finished {
        tracing::error!(%error, "a connection's task failed");
    }
}

/// Errors of one connection that `accept` reports, as opposed to the listener's own.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// One request in flight on a connection, for as long as it is alive.
struct InFlight(watch::Sender<usize>);

impl InFlight {
    fn start(requests: &watch::Sender<usize>) -> Self {
        requests.send_modify(|n| *n += 1);
        Self(requests.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// Serves one connection until it ends, is idle for `idle_timeout`, or `stop`.
async fn serve_connection(
    tcp: TcpStream,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    idle_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    // Without it, small OTLP responses wait on Nagle's algorithm (~40 ms).
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::warn!(%error, "cannot set TCP_NODELAY");
    }
    let (requests, mut in_flight) = watch::channel(0usize);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let request_in_flight = InFlight::start(&requests);
        let response = router.clone().oneshot(request);
        async move {
            let response = response.await;
            drop(request_in_flight);
            response
        }
    });
    let connection = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    {
        let idle = idle_for(&mut in_flight, idle_timeout);
        tokio::select! {
            result = connection.as_mut() => {
                log_end(result);
                return;
            }
            () = idle => {}
            _ = stop.wait_for(|stop| *stop) => {}
        }
    }
    connection.as_mut().graceful_shutdown();
    // Requests in flight finish, each bounded by the body timeout and the writer; the
    // goodbye then gets a moment, but a client that never completes it (HTTP/2 waits
    // for a ping's answer) holds neither the connection nor the collector's stop.
    let finished = async {
        // An error means the service is gone, with the connection, which is done too.
        let _ = in_flight.wait_for(|n| *n == 0).await;
        tokio::time::sleep(GOODBYE).await;
    };
    tokio::select! {
        result = connection => log_end(result),
        () = finished => tracing::debug!("closed a connection that did not finish its goodbye"),
    }
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Resolves once no request has been in flight for `idle`.
async fn idle_for(in_flight: &mut watch::Receiver<usize>, idle: Duration) {
    loop {
        // An error means the connection's service is gone, so the connection ended
        // and the caller sees that instead.
        if in_flight.wait_for(|n| *n == 0).await.is_err() {
            return std::future::pending().await;
        }
        if tokio::time::timeout(idle, in_flight.changed())
            .await
            .is_err()
        {
            return;
        }
    }
}
