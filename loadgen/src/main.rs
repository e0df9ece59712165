//! `oculus-loadgen`: realistic OTLP load for any collector, and a collector benchmark.

mod attack;
mod bench;
mod client;
mod sink;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use prost::Message;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::client::{
    Compression, Job, LatencySummary, Protocol, RunOptions, Signal, Source, Target, fmt_count,
};
use oculus_loadgen::data::Generator;

#[derive(Parser, Debug)]
#[command(name = "oculus-loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send realistic OTLP load to a running collector.
    Send(SendArgs),
    /// Start a collector, load it, and report CPU, memory, disk and latency.
    Bench(bench::BenchArgs),
    /// Start a collector and run every attack of issue 9 at once against it while a
    /// well-behaved SDK client exports every 100 ms; report its latency and the
    /// collector's peak memory.
    Attack(attack::AttackArgs),
    /// Run a blackhole OTLP receiver (for testing the load generator itself).
    Sink(SinkArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SignalChoice {
    Traces,
    Logs,
    Both,
}

#[derive(clap::Args, Debug)]
struct SendArgs {
    /// Collector endpoint [default: http://127.0.0.1:4317 for grpc, http://127.0.0.1:4318 for http].
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    protocol: Protocol,
    #[arg(long, value_enum, default_value_t = SignalChoice::Traces)]
    signal: SignalChoice,
    /// Send for this long [default: 10 s unless --requests is given].
    #[arg(long, conflicts_with = "requests")]
    duration_secs: Option<f64>,
    /// Send exactly this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// Records per export request.
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// Export calls in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// gRPC connections the in-flight calls share.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    #[arg(long, value_enum, default_value_t = Compression::None)]
    compression: Compression,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Threads generating data while sending (each seeded from --seed).
    #[arg(long, default_value_t = 1)]
    generators: u64,
    /// Give up on one request after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Print results as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct SinkArgs {
    #[arg(long, default_value = "127.0.0.1:4317")]
    grpc: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:4318")]
    http: SocketAddr,
    /// Append received requests here (one file per signal); nothing is kept without it.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One readable chain of causes; backtraces help nobody running a benchmark.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    match cli.command {
        Command::Send(args) => runtime.block_on(send(args)),
        Command::Bench(args) => runtime.block_on(bench::run(args)),
        Command::Attack(args) => runtime.block_on(attack::run(args)),
        Command::Sink(args) => runtime.block_on(sink::run(args.grpc, args.http, args.data_dir)),
    }
}

#[derive(Debug, Serialize)]
struct SendSignalReport {
    signal: Signal,
    requests: u64,
    failed_requests: u64,
    records: u64,
    rejected_records: u64,
    records_per_sec: f64,
    raw_bytes_per_record: f64,
    megabytes_per_sec: f64,
    latency: LatencySummary,
}

#[derive(Debug, Serialize)]
struct SendReport {
    endpoint: String,
    protocol: Protocol,
    wall_secs: f64,
    signals: Vec<SendSignalReport>,
    errors: Vec<String>,
}

async fn send(args: SendArgs) -> Result<()> {
    let endpoint = args
        .endpoint
        .clone()
        .unwrap_or_else(|| match args.protocol {
            Protocol::Grpc => "http://127.0.0.1:4317".to_owned(),
            Protocol::Http => "http://127.0.0.1:4318".to_owned(),
        });
    let signals: &[Signal] = match args.signal {
        SignalChoice::Traces => &[Signal::Traces],
        SignalChoice::Logs => &[Signal::Logs],
        SignalChoice::Both => &[Signal::Traces, Signal::Logs],
    };
    let duration = match (args.duration_secs, args.requests) {
        (Some(secs), _) => Some(Duration::from_secs_f64(secs)),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };

    // Generator threads keep a small queue full; data stays unique throughout.
    let (tx, rx) = mpsc::channel::<Job>(args.concurrency.max(1) * 4);
    let made = Arc::new(AtomicU64::new(0));
    let producers = (0..args.generators.max(1))
        .map(|i| {
            let signals = signals.to_vec();
            let (tx, made) = (tx.clone(), made.clone());
            let (batch, seed, limit) =
                (args.batch.max(1), args.seed.wrapping_add(i), args.requests);
            std::thread::Builder::new()
                .name(format!("generator-{i}"))
                .spawn(move || {
                    let mut generator = Generator::new(seed);
                    loop {
                        let n = made.fetch_add(1, Ordering::Relaxed);
                        if limit.is_some_and(|l| n >= l) {
                            break;
                        }
                        let signal = signals[(n % signals.len() as u64) as usize];
                        let body = match signal {
                            Signal::Traces => generator.traces_request(batch).encode_to_vec(),
                            Signal::Logs => generator.logs_request(batch).encode_to_vec(),
                        };
                        let job = Job {
                            signal,
                            body: Bytes::from(body),
                            records: batch as u64,
                        };
                        if tx.blocking_send(job).is_err() {
                            break;
                        }
                    }
                })
        })
        .collect::<std::io::Result<Vec<_>>>()
        .context("cannot start the generator threads")?;
    drop(tx);

    let target = Target {
        protocol: args.protocol,
        endpoint: endpoint.clone(),
        compression: args.compression,
        connections: args.connections,
    };
    let opts = RunOptions {
        concurrency: args.concurrency,
        duration,
        label: "sent".to_owned(),
        total_records: args.requests.map(|r| r * args.batch as u64),
        request_timeout: Duration::from_secs(args.timeout_secs),
    };
    let source = Arc::new(Source::stream(rx));
    let stats = client::run(&target, source.clone(), &opts).await;
    let waits = source.waits();
    // Dropping the receiver stops the generator threads.
    drop(source);
    for p in producers {
        if p.join().is_err() {
            anyhow::bail!("generator thread panicked");
        }
    }
    let stats = stats?;
    let requests = stats.traces.requests + stats.logs.requests;

    let wall = stats.wall.as_secs_f64();
    let report = SendReport {
        endpoint,
        protocol: args.protocol,
        wall_secs: wall,
        signals: signals
            .iter()
            .map(|&signal| {
                let s = stats.signal(signal);
                let attempted = (s.records + s.failed_records).max(1);
                SendSignalReport {
                    signal,
                    requests: s.requests,
                    failed_requests: s.failed_requests,
                    records: s.records,
                    rejected_records: s.rejected_records,
                    records_per_sec: s.records as f64 / wall,
                    raw_bytes_per_record: s.bytes as f64 / attempted as f64,
                    megabytes_per_sec: s.bytes as f64 * (s.records as f64 / attempted as f64)
                        / wall
                        / 1e6,
                    latency: client::summarize(&s.latencies_ns),
                }
            })
            .collect(),
        errors: stats.errors,
    };
    let generator_bound = waits * 20 > requests;
    if generator_bound {
        eprintln!(
            "note: workers waited for generated data on {waits} of {requests} requests, so \
             this throughput is a lower bound; try --generators 2 or `bench`, which pre-generates"
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} over {} for {:.2} s",
        report.endpoint,
        match report.protocol {
            Protocol::Grpc => "OTLP/gRPC",
            Protocol::Http => "OTLP/HTTP",
        },
        report.wall_secs
    );
    for s in &report.signals {
        let name = s.signal.record_name();
        println!(
            "  {name}: {} in {} requests ({} failed, {} records rejected)",
            fmt_count(s.records),
            fmt_count(s.requests),
            fmt_count(s.failed_requests),
            fmt_count(s.rejected_records)
        );
        println!(
            "    throughput {}/s, {:.1} MB/s, {:.1} raw protobuf bytes per record",
            fmt_count(s.records_per_sec as u64),
            s.megabytes_per_sec,
            s.raw_bytes_per_record
        );
        println!(
            "    export latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            s.latency.p50_ms, s.latency.p90_ms, s.latency.p99_ms, s.latency.max_ms
        );
    }
    for e in &report.errors {
        println!("  error: {e}");
    }
    Ok(())
}
