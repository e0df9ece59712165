//! `oculus-collector`: serve OTLP into segments, export them back, import OTLP files,
//! check them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use oculus_collector::cli::EndpointArgs;
use oculus_collector::files::{self, ExportArgs, ImportArgs};
use oculus_collector::{Collector, Config, ZstdLevels};
use oculus_store::{FsyncPolicy, WriterOptions, resolve};

mod sessions_cli;

// Decoding allocates many small strings per record; glibc's allocator spent a quarter
// of the collector's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (the bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Hands memory freed by large requests back to the kernel at once. With mimalloc's
/// default delay (10 ms) the purge is left to the thread that freed it, and a
/// blocking-pool thread that decoded a large request and then went idle kept it:
/// under issue 9's load test that held 680 MiB at a 256 MiB budget, 350 MiB without.
fn purge_freed_memory_at_once() {
    #[expect(unsafe_code, reason = "mimalloc's options are set through its C API")]
    // SAFETY: sets an integer option, which mimalloc reads atomically at each purge.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// A local OpenTelemetry collector that keeps every run as compressed segments.
///
/// Without a command it serves, as `serve` does.
#[derive(Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Receive OTLP over gRPC and HTTP and write it to the data directory.
    Serve(ServeArgs),
    /// Write what a data directory, session or segment holds as an OTLP file.
    Export(ExportArgs),
    /// Read OTLP files (JSON Lines, length-prefixed protobuf, one JSON document; zstd
    /// or not) into a new session.
    Import(ImportArgs),
    /// Verify every frame under a path and print a summary; exits non-zero on damage.
    Check {
        /// A data directory, a session directory, an archive or a segment file.
        path: PathBuf,
    },
    /// Pack sessions into one archive file (segments copied, not recompressed).
    Archive(ArchiveArgs),
    /// List the sessions of a data directory.
    Sessions(DataDirArgs),
    /// Delete sessions; refuses the one a running collector writes.
    Rm(RmArgs),
}

#[derive(Args)]
struct DataDirArgs {
    /// Where sessions are kept [default: $XDG_DATA_HOME/oculus or ~/.local/share/oculus].
    #[arg(long, value_name = "DIR", env = "OCULUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl DataDirArgs {
    fn path(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(oculus_store::default_data_dir)
    }
}

#[derive(Args)]
struct ArchiveArgs {
    /// Session directories, or names of sessions in the data directory.
    #[arg(required = true, value_name = "SESSION")]
    sessions: Vec<String>,
    /// The archive to write (by convention `NAME.oculus`).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    data_dir: DataDirArgs,
}

#[derive(Args)]
struct RmArgs {
    /// Session directories, or names of sessions in the data directory.
    #[arg(required = true, value_name = "SESSION")]
    sessions: Vec<String>,
    #[command(flatten)]
    data_dir: DataDirArgs,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// Listen on all interfaces (0.0.0.0) instead of loopback. Anyone who can reach
    /// this machine can then send data.
    #[arg(long)]
    listen_all: bool,
    /// Largest accepted request in bytes, after decompression.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    max_message_bytes: usize,
    /// Memory held by requests at once (their bytes, inflated and decoded) before
    /// clients are asked to retry.
    #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
    max_inflight_bytes: usize,
    /// Seal a segment and start the next one past this size.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    max_segment_bytes: u64,
    /// Seal a segment and start the next one past this age.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    max_segment_age_secs: u64,
    /// Delete the oldest sealed segments once the data directory exceeds this size.
    #[arg(long, value_name = "BYTES")]
    max_total_bytes: Option<u64>,
    /// When to flush to disk: `never` survives a collector crash (data is with the OS
    /// before any reply), `always` also survives power loss, `on-seal` flushes sealed
    /// segments only.
    #[arg(long, value_enum, default_value_t = Fsync::Never)]
    fsync: Fsync,
    /// zstd level of the segments (1-19), for every kind of record [default: 1 for
    /// logs, 3 for spans and metrics]
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=19))]
    zstd_level: Option<i32>,
    /// Compress every block alone, without a dictionary sampled from the session's
    /// first blocks (larger on disk; a damaged segment dictionary then costs nothing).
    #[arg(long)]
    no_dictionary: bool,
    /// Close an HTTP/1 connection whose request headers take longer than this.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout_secs: u64,
    /// Fail a request whose body sends nothing for this long (408 or
    /// DEADLINE_EXCEEDED), freeing what it held of the in-flight budget.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_secs: u64,
    /// Close a connection that has had no request in flight for this long.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_secs: u64,
    /// Open connections per receiver; past it a new connection is closed at once.
    /// Lowered if need be to fit the open-files limit.
    #[arg(long, default_value_t = 4096, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    #[command(flatten)]
    forward: oculus_collector::forward::ForwardArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Fsync {
    Never,
    Always,
    OnSeal,
}

fn main() -> ExitCode {
    purge_freed_memory_at_once();
    let cli = Cli::parse();
    oculus_collector::cli::init_logging();
    let result = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Export(args)) => files::run_export(&args),
        Some(Command::Import(args)) => files::run_import(&args),
        Some(Command::Check { path }) => check(&path),
        Some(Command::Archive(args)) => {
            sessions_cli::archive(&args.sessions, &args.data_dir.path(), &args.output)
        }
        Some(Command::Sessions(args)) => sessions_cli::list(&args.path()),
        Some(Command::Rm(args)) => sessions_cli::remove(&args.sessions, &args.data_dir.path()),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut grpc = args.endpoint.grpc;
    let mut http = args.endpoint.http;
    if args.listen_all {
        grpc.set_ip(std::net::Ipv4Addr::UNSPECIFIED.into());
        http.set_ip(std::net::Ipv4Addr::UNSPECIFIED.into());
        tracing::warn!(
            "listening on all interfaces: anyone who can reach this machine can send data"
        );
    } else if !grpc.ip().is_loopback() || !http.ip().is_loopback() {
        tracing::warn!("listening on a non-loopback address: other machines can send data");
    }
    let data_dir = args.endpoint.data_dir();
    let mut config = Config::new(grpc, http, data_dir.clone());
    config.max_message_bytes = args.max_message_bytes;
    config.max_inflight_bytes = args.max_inflight_bytes;
    if let Some(level) = args.zstd_level {
        config.zstd_levels = ZstdLevels::all(level);
    }
    config.dictionaries = !args.no_dictionary;
    config.header_read_timeout = Duration::from_secs(args.header_read_timeout_secs);
    config.body_timeout = Duration::from_secs(args.body_timeout_secs);
    config.idle_timeout = Duration::from_secs(args.idle_timeout_secs);
    config.max_connections = usize::try_from(args.max_connections).unwrap_or(usize::MAX);
    config.cors_origins = args.endpoint.cors_origins.clone();
    config.writer = WriterOptions {
        max_segment_bytes: args.max_segment_bytes,
        max_segment_age: Duration::from_secs(args.max_segment_age_secs),
        max_total_bytes: args.max_total_bytes,
        fsync: match args.fsync {
            Fsync::Never => FsyncPolicy::Never,
            Fsync::Always => FsyncPolicy::Always,
            Fsync::OnSeal => FsyncPolicy::OnSeal,
        },
    };
    oculus_collector::serve::raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Watched before anything starts: a stop during recovery or binding ends the
        // start-up cleanly instead of killing the process mid-way.
        let stop = oculus_collector::cli::stop_signal().context("cannot watch for signals")?;
        tokio::pin!(stop);
        let collector = tokio::select! {
            started = Collector::start(config) => started?,
            () = &mut stop => {
                tracing::info!("stopped during start-up; nothing was received");
                return Ok(ExitCode::SUCCESS);
            }
        };
        tracing::info!(
            grpc = %collector.grpc_addr(),
            http = %collector.http_addr(),
            session = %collector.session().display(),
            "receiving OTLP"
        );
        let forwarding = match oculus_collector::forward::Forwarding::start(
            &args.forward,
            &data_dir,
            collector.session(),
            std::sync::Arc::clone(collector.counters()),
        ) {
            Ok(forwarding) => forwarding,
            Err(error) => {
                collector.shutdown().await?;
                return Err(error.into());
            }
        };
        stop.await;
        tracing::info!("stopping: finishing in-flight requests");
        let counters = std::sync::Arc::clone(collector.counters());
        collector.shutdown().await?;
        forwarding.finish().await;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            spans = load(&counters.spans),
            logs = load(&counters.logs),
            metric_points = load(&counters.metric_points),
            rejected = load(&counters.rejected),
            "stopped; session sealed"
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let progress = files::progress_bar(resolve(path)?.total_bytes())?;
    let report = oculus_store::check(path, |done, _| progress.set_position(done))?;
    progress.finish_and_clear();
    let mut out = std::io::stdout().lock();
    writeln!(out, "sessions          {}", report.sessions)?;
    writeln!(
        out,
        "segments          {} ({} sealed)",
        report.segments, report.sealed_segments
    )?;
    writeln!(out, "blocks            {}", report.blocks)?;
    writeln!(out, "spans             {}", report.spans)?;
    writeln!(out, "log records       {}", report.logs)?;
    writeln!(out, "metric points     {}", report.metric_points)?;
    writeln!(out, "bytes on disk     {}", report.bytes_on_disk)?;
    writeln!(out, "uncompressed      {}", report.uncompressed_bytes)?;
    writeln!(out, "compression       {:.1}x", report.compression_ratio())?;
    for (segment, bytes) in &report.open_tails {
        writeln!(
            out,
            "open tail         {} ({bytes} bytes not yet complete; sealed at the next collector start)",
            segment.display()
        )?;
    }
    if report.is_healthy() {
        writeln!(out, "status            ok")?;
        return Ok(ExitCode::SUCCESS);
    }
    for damage in &report.damage {
        writeln!(out, "damage            {damage}")?;
    }
    Ok(ExitCode::FAILURE)
}
