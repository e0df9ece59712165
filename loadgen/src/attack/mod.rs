//! `oculus-loadgen attack`: the acceptance check of issue 9, "one client cannot stop
//! the others". Starts a collector, runs every attack at once against it while a
//! well-behaved SDK client exports every 100 ms, and reports the client's export
//! latency, the collector's peak memory against its budget, and what each attack saw.

mod bodies;
mod client;
mod connections;
mod h2;
mod http1;
mod large;
mod memory;
mod refusals;
mod streams;
mod tally;

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Args;
use prost::Message;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::bench::{Collector, free_ports, status_kib, vm_hwm_kib};
use crate::client::{LatencySummary, summarize};
use oculus_loadgen::data::Generator;
use tally::Tally;

const MIB: usize = 1 << 20;

#[derive(Args, Debug, Clone)]
pub struct AttackArgs {
    /// Collector binary to start (`serve` is run with the flags below).
    #[arg(long)]
    pub collector: PathBuf,
    /// How long the attacks run.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// The collector's in-flight budget (`--max-inflight-bytes`), in MiB.
    #[arg(long, default_value_t = 256)]
    pub max_inflight_mib: usize,
    /// The collector's header-read, body and idle timeouts, so that they fire
    /// several times within the run.
    #[arg(long, default_value_t = 5)]
    pub timeout_secs: u64,
    /// The collector's connection cap per receiver; the flood exceeds it.
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Idle connections of the flood, on the gRPC port.
    #[arg(long, default_value_t = 1100)]
    pub flood: usize,
    /// File for the collector's stdout and stderr (default: in the temp dir).
    #[arg(long)]
    pub collector_log: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Extra collector arguments, appended last.
    #[arg(long, num_args = 1.., allow_hyphen_values = true)]
    pub collector_args: Vec<String>,
}

/// The requests the attacks send, encoded before the collector starts.
struct Payloads {
    metrics: Bytes,
    gzip_bomb: Bytes,
    refused: Bytes,
}

impl Payloads {
    fn new() -> Result<Self> {
        Ok(Self {
            metrics: large::metrics_request(60 * MIB),
            gzip_bomb: large::gzip_bomb(35 * MIB)?,
            // About 2 MiB of realistic spans: more than a small request.
            refused: Bytes::from(Generator::new(9).traces_request(6_000).encode_to_vec()),
        })
    }
}

#[derive(Debug, Serialize)]
struct Report {
    seconds: u64,
    budget_mib: usize,
    exports_ok: u64,
    exports_refused: u64,
    exports_failed: u64,
    latency: LatencySummary,
    export_errors: Vec<String>,
    /// Resident memory once started, before any request.
    baseline_rss_mib: f64,
    /// The kernel's high-water mark of resident memory (VmHWM).
    peak_rss_mib: f64,
    /// The highest VmRSS sampled every 10 ms.
    peak_sampled_rss_mib: f64,
    attacks: BTreeMap<&'static str, BTreeMap<String, u64>>,
    payloads: BTreeMap<&'static str, usize>,
}

pub async fn run(args: AttackArgs) -> Result<()> {
    eprintln!("encoding the attacks' requests...");
    let payloads = Payloads::new()?;
    let data_dir = std::env::temp_dir().join(format!("oculus-attack-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let result = attack(&args, &payloads, &data_dir).await;
    // The data written is not the question; the directory goes either way.
    let _ = std::fs::remove_dir_all(&data_dir);
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(())
}

async fn attack(
    args: &AttackArgs,
    payloads: &Payloads,
    data_dir: &std::path::Path,
) -> Result<Report> {
    let [grpc_port, http_port] = free_ports::<2>()?;
    let grpc = SocketAddr::from(([127, 0, 0, 1], grpc_port));
    let http = SocketAddr::from(([127, 0, 0, 1], http_port));
    let budget_bytes = args.max_inflight_mib * MIB;
    let timeout = args.timeout_secs.to_string();
    let mut collector_args: Vec<String> = vec![
        "serve".into(),
        "--grpc".into(),
        grpc.to_string(),
        "--http".into(),
        http.to_string(),
        "--data-dir".into(),
        data_dir.to_string_lossy().into_owned(),
        "--max-inflight-bytes".into(),
        budget_bytes.to_string(),
        "--max-connections".into(),
        args.max_connections.to_string(),
        "--header-read-timeout-secs".into(),
        timeout.clone(),
        "--body-timeout-secs".into(),
        timeout.clone(),
        "--idle-timeout-secs".into(),
        timeout,
    ];
    collector_args.extend(args.collector_args.iter().cloned());
    let log_path = args.collector_log.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "oculus-attack-collector-{}.log",
            std::process::id()
        ))
    });
    let log =
        File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    eprintln!(
        "starting {} {} (log: {})",
        args.collector.display(),
        collector_args.join(" "),
        log_path.display()
    );
    let child = Command::new(&args.collector)
        .args(&collector_args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", args.collector.display()))?;
    let mut collector = Collector {
        pid: child.id(),
        child,
        log_path,
    };
    collector
        .wait_ready(&[grpc, http], Duration::from_secs(30))
        .await?;
    let baseline_kib = status_kib(collector.pid, "VmRSS")?;

    let client = client::start(format!("http://{grpc}"), Duration::from_secs(args.seconds))?;
    let tallies = [
        "6: streams announcing 64 MiB",
        "7: idle connections",
        "7: headers byte by byte",
        "7: streams without data",
        "7: stalled bodies",
        "7: connection flood",
        "8: 60 MiB metrics",
        "8: gzip bombs",
        "9: refusals on one connection",
    ]
    .map(Tally::new);
    let [
        announced,
        idle,
        headers,
        no_data,
        bodies,
        flood,
        metrics,
        gzip,
        refused,
    ] = &tallies;
    let mut attacks = JoinSet::new();
    let peak_kib = Arc::new(AtomicU64::new(0));
    memory::sample(&mut attacks, collector.pid, &peak_kib);
    let max_message = u32::try_from(64 * MIB).unwrap_or(u32::MAX);
    let traces = refusals::TRACES_PATH;
    streams::stalled(
        &mut attacks,
        grpc,
        traces,
        100,
        Some(h2::prefix(max_message)),
        announced,
    );
    connections::idle(&mut attacks, http, 100, idle);
    connections::slow_headers(&mut attacks, http, 50, headers);
    streams::stalled(&mut attacks, grpc, traces, 100, None, no_data);
    bodies::stalled(&mut attacks, http, 20, MIB, 900 << 10, bodies);
    large::grpc_calls(&mut attacks, grpc, 4, &payloads.metrics, metrics);
    large::gzip_posts(&mut attacks, http, 16, &payloads.gzip_bomb, gzip);
    refusals::run(&mut attacks, grpc, 32, &payloads.refused, refused);
    connections::idle(&mut attacks, grpc, args.flood, flood);

    let exports = tokio::task::spawn_blocking(move || client.join())
        .await
        .context("waiting for the well-behaved client")??;
    let peak_rss_kib = vm_hwm_kib(collector.pid)?;
    attacks.shutdown().await;
    let mut ignored_peak = 0;
    let (status, _) = collector
        .terminate(Duration::from_secs(60), &mut ignored_peak)
        .await?;
    if !status.success() {
        eprintln!(
            "the collector exited with {status}; log: {}",
            collector.log_path.display()
        );
    }

    let mib = |kib: u64| kib as f64 / 1024.0;
    Ok(Report {
        seconds: args.seconds,
        budget_mib: args.max_inflight_mib,
        exports_ok: exports.ok,
        exports_refused: exports.refused,
        exports_failed: exports.failed,
        latency: summarize(&exports.latencies_ns),
        export_errors: exports.errors,
        baseline_rss_mib: mib(baseline_kib),
        peak_rss_mib: mib(peak_rss_kib),
        peak_sampled_rss_mib: mib(peak_kib.load(Ordering::Relaxed)),
        attacks: tallies.iter().map(|t| (t.name, t.outcomes())).collect(),
        payloads: BTreeMap::from([
            ("60 MiB metrics request, bytes", payloads.metrics.len()),
            ("gzip bomb, bytes", payloads.gzip_bomb.len()),
            ("refused traces request, bytes", payloads.refused.len()),
        ]),
    })
}

fn print(report: &Report) {
    println!(
        "well-behaved SDK client, one export every 100 ms for {} s:",
        report.seconds
    );
    println!(
        "  exports ok {}, refused {}, failed {}",
        report.exports_ok, report.exports_refused, report.exports_failed
    );
    let l = &report.latency;
    println!(
        "  latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
    );
    for error in &report.export_errors {
        println!("  error: {error}");
    }
    println!(
        "collector memory: peak RSS {:.0} MiB (sampled {:.0} MiB), budget {} MiB, baseline {:.0} MiB",
        report.peak_rss_mib,
        report.peak_sampled_rss_mib,
        report.budget_mib,
        report.baseline_rss_mib
    );
    println!("attacks (outcome: count):");
    for (name, outcomes) in &report.attacks {
        let outcomes: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o}: {n}")).collect();
        println!("  {name}: {}", outcomes.join(", "));
    }
    for (name, bytes) in &report.payloads {
        println!("  ({name}: {bytes})");
    }
}
