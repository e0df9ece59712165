//! The Oculus collector: OTLP/gRPC and OTLP/HTTP in, zstd segments out.
//!
//! ```text
//! client ──gRPC──▶ grpc.rs ─┐                                      ┌─▶ writer.rs (one thread)
//!                           ├─▶ ingest.rs: admit, inflate, decode, ┤     group commit, ack
//! client ──HTTP──▶ http.rs ─┘   normalize.rs, encode + compress    └─▶ oculus-store segments
//! ```
//! Handlers do the CPU work in parallel; only the writer thread touches the file.

pub mod budget;
pub mod cli;
pub mod files;
pub mod forward;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod http;
pub mod ids;
pub mod import;
pub mod ingest;
pub mod normalize;
pub mod origin;
pub mod otlp_field;
pub mod serve;
pub mod transcode;
pub mod writer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use oculus_store::{RecoveryReport, SessionWriter, StoreError, WriterOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use ingest::{Counters, ZstdLevels};

/// The OTLP signals, as the ingest path, the exporter and OTLP files name them.
pub use oculus_otlp::Signal;

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct Config {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Largest accepted request, after decompression.
    pub max_message_bytes: usize,
    /// Memory held by requests at once (their bytes, inflated and decoded), across
    /// all requests.
    pub max_inflight_bytes: usize,
    /// Encoded bytes waiting for the writer before clients are asked to retry.
    pub max_queued_bytes: u64,
    pub zstd_levels: ZstdLevels,
    /// Compress each block with a dictionary sampled from the session's first blocks.
    pub dictionaries: bool,
    pub writer: WriterOptions,
    /// Longest wait for a request's headers on HTTP/1, counted from the connection's
    /// first bytes or the end of its previous request.
    pub header_read_timeout: Duration,
    /// Longest wait for the next bytes of a request body; a body that stalls longer
    /// fails and its budget is freed.
    pub body_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections per receiver; a connection past it is closed at once.
    pub max_connections: usize,
    /// Browser origins allowed to post to the HTTP receiver (`*` for any).
    pub cors_origins: Vec<String>,
}

impl Config {
    /// The defaults, on the given addresses and data directory.
    pub fn new(grpc_addr: SocketAddr, http_addr: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            grpc_addr,
            http_addr,
            data_dir,
            max_message_bytes: 64 << 20,
            max_inflight_bytes: 256 << 20,
            max_queued_bytes: 64 << 20,
            zstd_levels: ZstdLevels::DEFAULT,
            dictionaries: true,
            writer: WriterOptions::default(),
            // A minute each, as the OpenTelemetry Collector's HTTP servers default to.
            header_read_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            cors_origins: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the writer thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error(
        "the in-flight budget ({inflight} bytes) is smaller than the largest request \
         ({message} bytes), which could then never be admitted"
    )]
    BudgetBelowMessageLimit { inflight: usize, message: usize },
}

/// A running collector.
pub struct Collector {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    session: PathBuf,
    recovery: RecoveryReport,
    counters: Arc<Counters>,
    budget: budget::Budget,
    stop: watch::Sender<bool>,
    servers: JoinSet<()>,
    writer: JoinHandle<Result<(), StoreError>>,
}

impl Collector {
    /// Opens the data directory (recovering what a crash left), binds both ports and
    /// starts serving.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        if config.max_inflight_bytes < config.max_message_bytes {
            return Err(StartError::BudgetBelowMessageLimit {
                inflight: config.max_inflight_bytes,
                message: config.max_message_bytes,
            });
        }
        let grpc_listener = bind(config.grpc_addr).await?;
        let http_listener = bind(config.http_addr).await?;
        let grpc_addr = local_addr(&grpc_listener, config.grpc_addr)?;
        let http_addr = local_addr(&http_listener, config.http_addr)?;
        let data_dir = config.data_dir.clone();
        let writer_options = config.writer.clone();
        let (session_writer, recovery) =
            tokio::task::spawn_blocking(move || SessionWriter::open(&data_dir, writer_options))
                .await
                .map_err(|e| StartError::Thread(std::io::Error::other(e)))??;
        log_recovery(&recovery);
        let session = session_writer.session().path.clone();
        let (writer_handle, writer) =
            writer::spawn(session_writer, config.max_queued_bytes).map_err(StartError::Thread)?;
        let (stop, stopped) = watch::channel(false);
        let ingest = ingest::Ingest::new(
            writer_handle,
            config.max_message_bytes,
            config.max_inflight_bytes,
            config.body_timeout,
            stopped.clone(),
            config.zstd_levels,
            config.dictionaries,
        );
        let counters = Arc::clone(ingest.counters());
        let budget = ingest.budget().clone();
        let max_connections = serve::connection_cap(config.max_connections);
        if max_connections < config.max_connections {
            tracing::info!(
                max_connections,
                asked = config.max_connections,
                "connections per receiver lowered to fit the open-files limit"
            );
        }
        let limits = serve::ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections,
        };
        let mut servers = JoinSet::new();
        for (receiver, listener, router) in [
            ("grpc", grpc_listener, grpc::router(ingest.clone())),
            (
                "http",
                http_listener,
                http::router(
                    ingest,
                    http::Gate::new(http_addr, origin::AllowedOrigins::new(config.cors_origins)),
                ),
            ),
        ] {
            servers.spawn(serve::serve(
                receiver,
                listener,
                router,
                limits,
                Arc::clone(&counters),
                stopped.clone(),
            ));
        }
        Ok(Self {
            grpc_addr,
            http_addr,
            session,
            recovery,
            counters,
            budget,
            stop,
            servers,
            writer,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The session directory this run writes.
    pub fn session(&self) -> &std::path::Path {
        &self.session
    }

    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// One line on what recovering an earlier crashed run cost, if it cost anything;
    /// the details are in the log.
    pub fn recovery_summary(&self) -> Option<String> {
        let sealed = self.recovery.sealed.len();
        let damaged = self.recovery.damage.len();
        let unrecoverable = self.recovery.unrecoverable.len();
        let mut parts = Vec::new();
        if sealed > 0 {
            let torn: u64 = self.recovery.sealed.iter().map(|(_, torn)| torn).sum();
            parts.push(format!(
                "recovered {sealed} segment{} of a crashed run ({torn} bytes of torn tail cut)",
                plural(sealed)
            ));
        }
        if damaged > 0 {
            parts.push(format!(
                "{damaged} damaged block{} skipped",
                plural(damaged)
            ));
        }
        if unrecoverable > 0 {
            parts.push(format!(
                "{unrecoverable} damaged range{} of earlier runs could not be recovered",
                plural(unrecoverable)
            ));
        }
        if parts.is_empty() {
            return None;
        }
        let details = if damaged + unrecoverable > 0 {
            " (see the log and `oculus-collector check`)"
        } else {
            ""
        };
        Some(format!("{}{details}", parts.join(", ")))
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Memory held by requests now, of `max_inflight_bytes`.
    pub fn inflight_bytes(&self) -> usize {
        self.budget.held_bytes()
    }

    /// Stops accepting, finishes in-flight requests, writes and seals what was accepted.
    pub async fn shutdown(mut self) -> Result<(), StoreError> {
        // Fails only when every server has already ended, which is what is asked.
        let _ = self.stop.send(true);
        while let Some(result) = self.servers.join_next().await {
            if let Err(error) = result {
                tracing::warn!(%error, "server task failed");
            }
        }
        // The servers held the last writer handles; the writer now drains and seals.
        let writer = self.writer;
        match tokio::task::spawn_blocking(move || writer.join()).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) | Err(_) => Err(StoreError::io(
                &self.session,
                std::io::Error::other("the writer thread panicked"),
            )),
        }
    }
}

/// Logs what recovery did, once, for every host of a collector.
fn log_recovery(recovery: &RecoveryReport) {
    for (path, torn) in &recovery.sealed {
        tracing::warn!(path = %path.display(), torn_bytes = torn, "sealed a segment left open by an earlier run");
    }
    for damage in &recovery.damage {
        tracing::error!(%damage, "damaged block skipped during recovery");
    }
    for damage in &recovery.unrecoverable {
        tracing::error!(
            %damage,
            "records lost: a segment of an earlier run was damaged after it was sealed; left as it is"
        );
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })
}
