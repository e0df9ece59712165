//! `oculus`: the desktop viewer, with a collector of its own unless one already runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use oculus_collector::cli::EndpointArgs;
use oculus_collector::forward::{ForwardArgs, Forwarding};
use oculus_collector::{Collector, Config, StartError};
use oculus_viewer::BackendOptions;
use oculus_viewer::editor::EditorOptions;
use oculus_viewer::snapshot::Receivers;

// Indexing allocates and frees many small buffers while decoding blocks; mimalloc
// does that faster than glibc's allocator, as in the collector.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Live spans and logs from any OpenTelemetry program, in a desktop window.
///
/// Runs a collector on the default OTLP ports and shows what it receives; if the
/// ports or the data directory are taken by a running collector, views that instead.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Also open these data directories, sessions, archives (`FILE.oculus`) or segment
    /// files, each in its own tab. An OTLP file (JSON Lines, length-prefixed protobuf or
    /// one JSON document, zstd or not) is imported first, into a session under the data
    /// directory's `imports/`.
    paths: Vec<PathBuf>,
    /// Only view: run no collector.
    #[arg(long)]
    no_collector: bool,
    /// The collector's addresses and data directory, as `oculus-collector serve` takes them.
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// Where the collector it starts forwards to, as `oculus-collector serve` takes it.
    /// A collector already running forwards as it was started.
    #[command(flatten)]
    forward: ForwardArgs,
    /// Neovim's RPC socket for jump-to-source [default: $NVIM, else a running Neovim's].
    #[arg(long, value_name = "SOCKET")]
    nvim: Option<PathBuf>,
    /// Where relative source paths are found [default: Neovim's working directory].
    #[arg(long, value_name = "DIR")]
    source_root: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    oculus_collector::cli::init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("oculus: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Read before the window opens, so the UI thread never reads it.
    oculus_viewer::time::zone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("oculus-io")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Watched from here to the window's end, so that no Ctrl-C or SIGTERM is lost
    // between the collector's start and the window's.
    let mut stop = {
        let _entered = runtime.enter();
        Box::pin(oculus_collector::cli::stop_signal().context("cannot watch for signals")?)
    };
    let data_dir = cli.endpoint.data_dir();
    // Before the collector starts, so that a failed import leaves nothing running.
    let mut opened = Vec::new();
    for path in cli.paths {
        if oculus_collector::files::is_otlp_file(&path) {
            let (session, said) = oculus_collector::files::import_to_view(&data_dir, &path)?;
            eprintln!("oculus: {said}");
            opened.push(session);
        } else {
            opened.push(path);
        }
    }
    let (collector, collector_status) = if cli.no_collector {
        (None, "viewing only".to_owned())
    } else if oculus_store::datadir::is_locked(&data_dir) {
        (
            None,
            format!(
                "another collector writes {}; viewing it",
                data_dir.display()
            ),
        )
    } else {
        oculus_collector::serve::raise_open_files_limit();
        let mut config = Config::new(cli.endpoint.grpc, cli.endpoint.http, data_dir.clone());
        config.cors_origins = cli.endpoint.cors_origins.clone();
        // A stop during recovery or binding ends the start-up cleanly; a later one
        // closes the window.
        let started = runtime.block_on(async {
            tokio::select! {
                started = Collector::start(config) => Some(started),
                () = &mut stop => None,
            }
        });
        let Some(started) = started else {
            eprintln!("oculus: stopped during start-up");
            return Ok(());
        };
        match started {
            Ok(collector) => {
                let mut status = format!(
                    "collecting on {} (gRPC) and {} (HTTP)",
                    collector.grpc_addr(),
                    collector.http_addr()
                );
                // The collector logged the details; the window says what the user lost.
                if let Some(recovery) = collector.recovery_summary() {
                    status = format!("{status}; {recovery}");
                }
                (Some(collector), status)
            }
            Err(error @ StartError::Bind { .. }) => {
                tracing::warn!(%error, "not collecting");
                (
                    None,
                    format!("not collecting ({error}); viewing {}", data_dir.display()),
                )
            }
            // What cannot be written can still be looked at.
            Err(StartError::Store(error)) if error.is_not_writable() => {
                tracing::warn!(%error, "not collecting");
                (
                    None,
                    format!(
                        "not collecting; viewing {} read-only ({error})",
                        data_dir.display()
                    ),
                )
            }
            Err(error) => return Err(error).context("cannot start the collector"),
        }
    };
    let forwarding = match &collector {
        Some(running) if !cli.forward.destinations.is_empty() => {
            let _entered = runtime.enter();
            let started = Forwarding::start(
                &cli.forward,
                &data_dir,
                running.session(),
                std::sync::Arc::clone(running.counters()),
            );
            match started {
                Ok(forwarding) => Some(forwarding),
                Err(error) => {
                    if let Some(collector) = collector {
                        runtime
                            .block_on(collector.shutdown())
                            .context("the collector did not shut down cleanly")?;
                    }
                    return Err(error).context("cannot start forwarding");
                }
            }
        }
        _ => None,
    };
    let collector_status = match &collector {
        None if !cli.forward.destinations.is_empty() && cli.no_collector => {
            format!("{collector_status}; --forward ignored: no collector runs")
        }
        // Forwarding follows the collector that writes the sessions.
        None if !cli.forward.destinations.is_empty() => format!(
            "{collector_status}; --forward ignored: that collector forwards as it was started"
        ),
        _ => collector_status,
    };
    eprintln!("oculus: {collector_status}");
    let mut paths = Vec::new();
    if data_dir.exists() || collector.is_some() {
        paths.push(data_dir);
    }
    let initial_opened = paths.len();
    paths.extend(opened);
    let options = BackendOptions {
        paths,
        editor: EditorOptions {
            socket: cli.nvim,
            source_root: cli.source_root,
        },
        collector: collector_status,
        arrivals: oculus_viewer::Arrivals::default(),
        receivers: collector.as_ref().map(|collector| Receivers {
            grpc: collector.grpc_addr(),
            http: collector.http_addr(),
        }),
    };
    let result = oculus_viewer::window::run(options, initial_opened, runtime.handle(), stop);
    if let Some(collector) = collector {
        runtime
            .block_on(collector.shutdown())
            .context("the collector did not shut down cleanly")?;
    }
    // After the collector sealed its session: what it accepted last is sent too.
    if let Some(forwarding) = forwarding {
        runtime.block_on(forwarding.finish());
    }
    result.map_err(|e| anyhow::anyhow!("the window failed: {e}"))
}
