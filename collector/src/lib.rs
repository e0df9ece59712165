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
pub mod export;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod http;
pub mod ids;
pub mod ingest;
pub mod normalize;
pub mod otlp_field;
pub mod transcode;
pub mod writer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::serve::ListenerExt;
use oculus_store::{RecoveryReport, SessionWriter, StoreError, WriterOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use ingest::{Counters, ZstdLevels};

/// The OTLP signals, as the ingest path and the exporter name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Logs,
    Metrics,
}

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct Config {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Largest accepted request, after decompression.
    pub max_message_bytes: usize,
    /// Request bytes held in memory at once, across all requests.
    pub max_inflight_bytes: usize,
    /// Encoded bytes waiting for the writer before clients are asked to retry.
    pub max_queued_bytes: u64,
    pub zstd_levels: ZstdLevels,
    /// Compress each block with a dictionary sampled from the session's first blocks.
    pub dictionaries: bool,
    pub writer: WriterOptions,
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
    stop: watch::Sender<bool>,
    servers: JoinSet<std::io::Result<()>>,
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
        let ingest = ingest::Ingest::new(
            writer_handle,
            config.max_message_bytes,
            config.max_inflight_bytes,
            config.zstd_levels,
            config.dictionaries,
        );
        let counters = Arc::clone(ingest.counters());
        let (stop, stopped) = watch::channel(false);
        let mut servers = JoinSet::new();
        for (listener, router) in [
            (grpc_listener, grpc::router(ingest.clone())),
            (http_listener, http::router(ingest)),
        ] {
            let mut stopped = stopped.clone();
            let listener = listener.tap_io(|tcp| {
                // Without it, small OTLP responses wait on Nagle's algorithm (~40 ms).
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::warn!(%error, "cannot set TCP_NODELAY");
                }
            });
            servers.spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        // An error means the sender is gone, which is a stop as well.
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await
            });
        }
        Ok(Self {
            grpc_addr,
            http_addr,
            session,
            recovery,
            counters,
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

    /// Stops accepting, finishes in-flight requests, writes and seals what was accepted.
    pub async fn shutdown(mut self) -> Result<(), StoreError> {
        // Fails only when every server has already ended, which is what is asked.
        let _ = self.stop.send(true);
        while let Some(result) = self.servers.join_next().await {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "server ended with an error"),
                Err(error) => tracing::warn!(%error, "server task failed"),
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
