//! `oculus`: the desktop viewer, with a collector of its own unless one already runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use oculus_collector::cli::EndpointArgs;
use oculus_collector::{Collector, Config, StartError};
use oculus_viewer::editor::EditorOptions;
use oculus_viewer::{App, BackendOptions};

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
    /// Also open these data directories, sessions or segment files, each in its own tab.
    paths: Vec<PathBuf>,
    /// Only view: run no collector.
    #[arg(long)]
    no_collector: bool,
    /// The collector's addresses and data directory, as `oculus-collector serve` takes them.
    #[command(flatten)]
    endpoint: EndpointArgs,
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
    let data_dir = cli.endpoint.data_dir();
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
        let config = Config::new(cli.endpoint.grpc, cli.endpoint.http, data_dir.clone());
        match runtime.block_on(Collector::start(config)) {
            Ok(collector) => {
                let status = format!(
                    "collecting on {} (gRPC) and {} (HTTP)",
                    collector.grpc_addr(),
                    collector.http_addr()
                );
                (Some(collector), status)
            }
            Err(error @ StartError::Bind { .. }) => {
                tracing::warn!(%error, "not collecting");
                (
                    None,
                    format!("not collecting ({error}); viewing {}", data_dir.display()),
                )
            }
            Err(error) => return Err(error).context("cannot start the collector"),
        }
    };
    eprintln!("oculus: {collector_status}");
    let mut paths = Vec::new();
    if data_dir.exists() || collector.is_some() {
        paths.push(data_dir);
    }
    let initial = paths.len();
    paths.extend(cli.paths);
    let options = BackendOptions {
        paths,
        editor: EditorOptions {
            socket: cli.nvim,
            source_root: cli.source_root,
        },
        collector: collector_status,
    };
    let handle = runtime.handle().clone();
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Oculus")
            .with_inner_size([1400.0, 860.0]),
        ..eframe::NativeOptions::default()
    };
    let result = eframe::run_native(
        "Oculus",
        native,
        Box::new(move |cc| {
            close_on_signal(&handle, cc.egui_ctx.clone());
            let ctx = cc.egui_ctx.clone();
            let connection = oculus_viewer::backend::spawn(options, handle, move || {
                ctx.request_repaint();
            })?;
            Ok(Box::new(App::new(connection, initial)))
        }),
    );
    if let Some(collector) = collector {
        runtime
            .block_on(collector.shutdown())
            .context("the collector did not shut down cleanly")?;
    }
    result.map_err(|e| anyhow::anyhow!("the window failed: {e}"))
}

/// Ctrl-C or SIGTERM closes the window, so the collector still seals what it accepted.
fn close_on_signal(runtime: &tokio::runtime::Handle, ctx: egui::Context) {
    runtime.spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot watch for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        ctx.request_repaint();
    });
}
