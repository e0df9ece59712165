//! What `oculus-collector` and the viewer's `oculus` share on the command line: the
//! collector's flags, so they mean the same in both, and how both log.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where a collector listens and what it writes to.
#[derive(Clone, Debug, clap::Args)]
pub struct EndpointArgs {
    /// OTLP/gRPC listen address.
    #[arg(long, default_value = "127.0.0.1:4317", value_name = "ADDR")]
    pub grpc: SocketAddr,
    /// OTLP/HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:4318", value_name = "ADDR")]
    pub http: SocketAddr,
    /// Where sessions are kept [default: $XDG_DATA_HOME/oculus or ~/.local/share/oculus].
    #[arg(long, value_name = "DIR", env = "OCULUS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Let web pages of this origin (such as `http://localhost:3000`, or `*` for any)
    /// post to the HTTP receiver from a browser; repeatable. Without it, requests that
    /// carry a browser's Origin are refused.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
}

impl EndpointArgs {
    /// The data directory given, else the per-user default.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(oculus_store::default_data_dir)
    }
}

/// Logs to stderr, at INFO unless `RUST_LOG` says otherwise; in colour only on a
/// terminal, so that a log sent to a file or a pipe reads as plain text.
pub fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Watches SIGINT and SIGTERM from now on (call it inside the runtime); the future
/// completes at the first of either. Both binaries watch before starting a collector,
/// so that a stop during recovery ends the start-up cleanly instead of killing it.
pub fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// A flag raised at the first SIGINT or SIGTERM, for long work on a plain thread (an
/// import, an archive) that looks at it between steps. Watched from this call on, so
/// no signal sent once it returns is missed.
pub fn stop_flag() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use anyhow::Context;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal watcher")?;
    let stop = {
        let _entered = runtime.enter();
        stop_signal().context("cannot watch for signals")?
    };
    let raise = Arc::clone(&flag);
    std::thread::Builder::new()
        .name("stop-watch".to_owned())
        .spawn(move || {
            runtime.block_on(stop);
            raise.store(true, Ordering::Relaxed);
        })
        .context("cannot start the signal watcher")?;
    Ok(flag)
}
