//! Benchmarks a collector process: starts it, feeds it pre-generated load,
//! and reads its CPU time, memory and disk use from /proc and the data dir.

use std::fs::File;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use prost::Message;
use serde::Serialize;

use crate::client::{self, Job, LatencySummary, Protocol, RunOptions, Signal, Source, Target};
use crate::client::{Compression, fmt_count};
use oculus_loadgen::data::Generator;

/// Linux reports /proc CPU times in clock ticks; sysconf(_SC_CLK_TCK) is 100
/// on every mainstream kernel, and hardcoding it avoids unsafe libc calls.
const CLK_TCK: f64 = 100.0;

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Collector binary to start.
    #[arg(long)]
    pub collector: PathBuf,
    /// Arguments of the collector; {grpc}, {http}, {grpc_port}, {http_port} and {data_dir} are filled in.
    #[arg(
        long,
        default_value = "serve --grpc {grpc} --http {http} --data-dir {data_dir}"
    )]
    pub collector_template: String,
    /// Directory the collector stores its data in (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Spans to send in the traces phase (0 skips it).
    #[arg(long, default_value_t = 2_000_000)]
    pub spans: u64,
    /// Log records to send in the logs phase (0 skips it).
    #[arg(long, default_value_t = 4_000_000)]
    pub logs: u64,
    /// Records per export request.
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// Export calls in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// gRPC connections the in-flight calls share.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    pub protocol: Protocol,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Wait after each phase before reading CPU and disk, so deferred work counts.
    #[arg(long, default_value_t = 1000)]
    pub settle_ms: u64,
    /// How long the collector may take to accept connections.
    #[arg(long, default_value_t = 30)]
    pub startup_timeout_secs: u64,
    /// How long the collector may take to exit after SIGTERM.
    #[arg(long, default_value_t = 60)]
    pub shutdown_timeout_secs: u64,
    /// File for the collector's stdout and stderr (default: in the temp dir).
    #[arg(long)]
    pub collector_log: Option<PathBuf>,
    /// Print results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Extra collector arguments, appended after the template; must come last.
    #[arg(long, num_args = 1.., allow_hyphen_values = true)]
    pub collector_args: Vec<String>,
}

/// Requests of one phase, encoded before anything is measured.
struct Prepared {
    signal: Signal,
    jobs: Vec<Job>,
    records: u64,
    raw_bytes: u64,
    zstd3_bytes: u64,
    generate_secs: f64,
}

/// Counts what the zstd encoder writes instead of keeping it.
#[derive(Default)]
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn prepare(signal: Signal, records: u64, batch: usize, seed: u64) -> Result<Prepared> {
    let started = Instant::now();
    // Start early enough that the phase's timestamps end around now.
    let span = oculus_loadgen::data::simulated_ns(signal == Signal::Logs, records);
    let mut generator =
        Generator::with_start(seed, oculus_loadgen::data::now_ns().saturating_sub(span));
    // The whole phase as ONE zstd stream, as a segment store could at best.
    let mut zstd = zstd::stream::write::Encoder::new(CountingSink::default(), 3)?;
    let mut jobs = Vec::new();
    let mut raw_bytes = 0;
    let mut left = records;
    while left > 0 {
        let n = left.min(batch.max(1) as u64);
        let body = match signal {
            Signal::Traces => generator.traces_request(n as usize).encode_to_vec(),
            Signal::Logs => generator.logs_request(n as usize).encode_to_vec(),
        };
        zstd.write_all(&body)?;
        raw_bytes += body.len() as u64;
        jobs.push(Job {
            signal,
            body: Bytes::from(body),
            records: n,
        });
        left -= n;
    }
    let zstd3_bytes = zstd.finish()?.0;
    Ok(Prepared {
        signal,
        jobs,
        records,
        raw_bytes,
        zstd3_bytes,
        generate_secs: started.elapsed().as_secs_f64(),
    })
}

/// The collector child; killed on drop if the bench bails out early.
pub(crate) struct Collector {
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) log_path: PathBuf,
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Collector {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    pub(crate) async fn wait_ready(
        &mut self,
        addrs: &[SocketAddr],
        timeout: Duration,
    ) -> Result<()> {
        let started = Instant::now();
        for addr in addrs {
            loop {
                if let Some(status) = self.child.try_wait()? {
                    bail!(
                        "collector exited during startup ({status}); last log lines from {}:\n{}",
                        self.log_path.display(),
                        self.log_tail()
                    );
                }
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    break;
                }
                if started.elapsed() > timeout {
                    bail!(
                        "collector did not accept connections on {addr} within {timeout:?}; log: {}",
                        self.log_path.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// SIGTERM, then wait; tracks peak RSS while the collector shuts down.
    pub(crate) async fn terminate(
        &mut self,
        timeout: Duration,
        peak_kib: &mut u64,
    ) -> Result<(ExitStatus, f64)> {
        let started = Instant::now();
        // std has no safe way to send SIGTERM, and the kill(1) binary is everywhere.
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed: {status}", self.pid);
        }
        loop {
            if let Ok(kib) = vm_hwm_kib(self.pid) {
                *peak_kib = (*peak_kib).max(kib);
            }
            if let Some(status) = self.child.try_wait()? {
                return Ok((status, started.elapsed().as_secs_f64()));
            }
            if started.elapsed() > timeout {
                self.child.kill()?;
                let status = self.child.wait()?;
                eprintln!("collector ignored SIGTERM for {timeout:?}; killed it");
                return Ok((status, started.elapsed().as_secs_f64()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// utime + stime of a process, in clock ticks, from /proc/PID/stat.
fn cpu_ticks(pid: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may contain spaces, so count fields after its ')'.
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .with_context(|| format!("malformed {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); the slice starts at field 3.
    let field = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .with_context(|| format!("short {path}"))?
            .parse()
            .with_context(|| format!("bad number in {path}"))
    };
    Ok(field(11)? + field(12)?)
}

fn cpu_secs(pid: &str) -> Result<f64> {
    Ok(cpu_ticks(pid)? as f64 / CLK_TCK)
}

/// A "Name:   123 kB" line of /proc/PID/status.
pub(crate) fn status_kib(pid: u32, key: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .with_context(|| format!("no {key} in {path}"))?
        .parse()
        .with_context(|| format!("bad {key} in {path}"))
}

pub(crate) fn vm_hwm_kib(pid: u32) -> Result<u64> {
    status_kib(pid, "VmHWM")
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct DirSize {
    /// Sum of file lengths.
    pub bytes: u64,
    /// Sum of allocated blocks, which differs for sparse or preallocated files.
    pub allocated_bytes: u64,
    pub files: u64,
}

/// Recursive size of a directory; files vanishing mid-walk are skipped.
fn dir_size(path: &Path) -> Result<DirSize> {
    use std::os::unix::fs::MetadataExt;
    let mut total = DirSize::default();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
        };
        for entry in entries {
            let entry = entry?;
            let meta = match entry.path().symlink_metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("stat {}", entry.path().display()));
                }
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total.bytes += meta.len();
                total.allocated_bytes += meta.blocks() * 512;
                total.files += 1;
            }
        }
    }
    Ok(total)
}

/// Free loopback ports: bind port 0, note it, release it.
pub(crate) fn free_ports<const N: usize>() -> Result<[u16; N]> {
    // Hold all listeners at once so the ports differ.
    let mut listeners = Vec::new();
    for _ in 0..N {
        listeners.push(TcpListener::bind("127.0.0.1:0").context("binding a free port")?);
    }
    let mut ports = [0u16; N];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l.local_addr()?.port();
    }
    Ok(ports)
}

#[derive(Debug, Serialize)]
pub struct PhaseReport {
    pub signal: Signal,
    pub records: u64,
    pub requests: u64,
    pub failed_requests: u64,
    pub failed_records: u64,
    pub rejected_records: u64,
    pub wall_secs: f64,
    pub records_per_sec: f64,
    pub collector_cpu_secs: f64,
    pub records_per_cpu_sec: f64,
    pub collector_cores: f64,
    pub loadgen_cpu_secs: f64,
    pub latency: LatencySummary,
    pub raw_bytes: u64,
    pub raw_bytes_per_record: f64,
    pub zstd3_bytes: u64,
    pub zstd3_bytes_per_record: f64,
    pub disk_delta_bytes: i64,
    pub disk_bytes_per_record: f64,
    pub disk_after: DirSize,
    pub vm_hwm_kib_after: u64,
    pub vm_rss_kib_after: u64,
    pub generate_secs: f64,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub collector: String,
    pub collector_args: Vec<String>,
    pub protocol: Protocol,
    pub batch: usize,
    pub concurrency: usize,
    pub connections: usize,
    pub seed: u64,
    pub phases: Vec<PhaseReport>,
    pub disk_before: DirSize,
    pub disk_final: DirSize,
    /// Growth of the data dir over the whole run, after the collector exited.
    pub final_bytes_per_record: f64,
    /// The last phase's disk growth including what the collector wrote on shutdown.
    pub last_phase_bytes_per_record_after_shutdown: f64,
    pub peak_rss_kib: u64,
    pub exit_status: String,
    pub shutdown_secs: f64,
}

async fn run_phase(
    prepared: Prepared,
    target: &Target,
    args: &BenchArgs,
    collector: &Collector,
) -> Result<PhaseReport> {
    let pid = collector.pid.to_string();
    let signal = prepared.signal;
    let disk_before = dir_size(&args.data_dir)?;
    let cpu_before = cpu_secs(&pid)?;
    let self_before = cpu_secs("self")?;
    let opts = RunOptions {
        concurrency: args.concurrency,
        duration: None,
        label: signal.record_name().to_owned(),
        total_records: Some(prepared.records),
        request_timeout: Duration::from_secs(60),
    };
    let source = Arc::new(Source::fixed(prepared.jobs));
    let stats = client::run(target, source, &opts).await?;
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    let cpu = cpu_secs(&pid)? - cpu_before;
    let loadgen_cpu = cpu_secs("self")? - self_before;
    let disk_after = dir_size(&args.data_dir)?;
    let s = stats.signal(signal);
    let records = prepared.records as f64;
    let disk_delta = disk_after.bytes as i64 - disk_before.bytes as i64;
    let wall = stats.wall.as_secs_f64();
    Ok(PhaseReport {
        signal,
        records: prepared.records,
        requests: s.requests,
        failed_requests: s.failed_requests,
        failed_records: s.failed_records,
        rejected_records: s.rejected_records,
        wall_secs: wall,
        records_per_sec: s.records as f64 / wall,
        collector_cpu_secs: cpu,
        records_per_cpu_sec: if cpu > 0.0 {
            s.records as f64 / cpu
        } else {
            0.0
        },
        collector_cores: cpu / wall,
        loadgen_cpu_secs: loadgen_cpu,
        latency: client::summarize(&s.latencies_ns),
        raw_bytes: prepared.raw_bytes,
        raw_bytes_per_record: prepared.raw_bytes as f64 / records,
        zstd3_bytes: prepared.zstd3_bytes,
        zstd3_bytes_per_record: prepared.zstd3_bytes as f64 / records,
        disk_delta_bytes: disk_delta,
        disk_bytes_per_record: disk_delta as f64 / records,
        disk_after,
        vm_hwm_kib_after: vm_hwm_kib(collector.pid)?,
        vm_rss_kib_after: status_kib(collector.pid, "VmRSS")?,
        generate_secs: prepared.generate_secs,
        errors: stats.errors,
    })
}

pub async fn run(args: BenchArgs) -> Result<()> {
    // Generate first so generator CPU never overlaps the measured phases.
    eprintln!(
        "generating {} spans and {} log records (seed {})...",
        fmt_count(args.spans),
        fmt_count(args.logs),
        args.seed
    );
    let (spans, logs) = std::thread::scope(|s| -> Result<_> {
        let spans = std::thread::Builder::new()
            .name("loadgen-spans".into())
            .spawn_scoped(s, || {
                prepare(Signal::Traces, args.spans, args.batch, args.seed)
            })?;
        let logs = std::thread::Builder::new()
            .name("loadgen-logs".into())
            .spawn_scoped(s, || {
                prepare(
                    Signal::Logs,
                    args.logs,
                    args.batch,
                    args.seed.wrapping_add(1),
                )
            })?;
        let spans = spans
            .join()
            .map_err(|_| anyhow::anyhow!("span generator panicked"));
        let logs = logs
            .join()
            .map_err(|_| anyhow::anyhow!("log generator panicked"));
        Ok((spans, logs))
    })?;
    let prepared: Vec<Prepared> = [spans??, logs??]
        .into_iter()
        .filter(|p| p.records > 0)
        .collect();
    for p in &prepared {
        eprintln!(
            "  {}: {} requests, {:.1} raw bytes/record, generated in {:.1} s",
            p.signal.record_name(),
            fmt_count(p.jobs.len() as u64),
            p.raw_bytes as f64 / p.records as f64,
            p.generate_secs
        );
    }

    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let disk_before = dir_size(&data_dir)?;
    if disk_before.files > 0 {
        eprintln!(
            "note: {} already holds {} files; only growth is counted",
            data_dir.display(),
            disk_before.files
        );
    }

    let [grpc_port, http_port] = free_ports::<2>()?;
    let grpc = SocketAddr::from(([127, 0, 0, 1], grpc_port));
    let http = SocketAddr::from(([127, 0, 0, 1], http_port));
    let data_dir_str = data_dir.to_string_lossy().into_owned();
    let mut collector_args: Vec<String> = args
        .collector_template
        .split_whitespace()
        .map(|t| {
            t.replace("{grpc}", &grpc.to_string())
                .replace("{http}", &http.to_string())
                .replace("{grpc_port}", &grpc_port.to_string())
                .replace("{http_port}", &http_port.to_string())
                .replace("{data_dir}", &data_dir_str)
        })
        .collect();
    collector_args.extend(args.collector_args.iter().cloned());

    let log_path = args.collector_log.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "oculus-loadgen-collector-{}.log",
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
    let mut wait_for = vec![grpc];
    if args.protocol == Protocol::Http {
        wait_for.push(http);
    }
    collector
        .wait_ready(&wait_for, Duration::from_secs(args.startup_timeout_secs))
        .await?;

    let target = Target {
        protocol: args.protocol,
        endpoint: match args.protocol {
            Protocol::Grpc => format!("http://{grpc}"),
            Protocol::Http => format!("http://{http}"),
        },
        compression: Compression::None,
        connections: args.connections,
    };
    let mut phases = Vec::new();
    for p in prepared {
        let phase = run_phase(p, &target, &args, &collector).await?;
        if phase.failed_requests > 0 {
            eprintln!(
                "warning: {} of {} {} requests failed: {}",
                phase.failed_requests,
                phase.failed_requests + phase.requests,
                phase.signal.record_name(),
                phase.errors.join(" | ")
            );
        }
        phases.push(phase);
    }

    let mut peak_kib = vm_hwm_kib(collector.pid)?;
    let (status, shutdown_secs) = collector
        .terminate(
            Duration::from_secs(args.shutdown_timeout_secs),
            &mut peak_kib,
        )
        .await?;
    let disk_final = dir_size(&data_dir)?;
    let total_records: u64 = phases.iter().map(|p| p.records).sum();
    let growth = disk_final.bytes as i64 - disk_before.bytes as i64;
    let last_phase_after_shutdown = phases.last().map_or(0.0, |last| {
        let before_last = last.disk_after.bytes as i64 - last.disk_delta_bytes;
        (disk_final.bytes as i64 - before_last) as f64 / last.records as f64
    });

    let report = BenchReport {
        collector: args.collector.display().to_string(),
        collector_args,
        protocol: args.protocol,
        batch: args.batch,
        concurrency: args.concurrency,
        connections: args.connections,
        seed: args.seed,
        phases,
        disk_before,
        disk_final,
        final_bytes_per_record: if total_records > 0 {
            growth as f64 / total_records as f64
        } else {
            0.0
        },
        last_phase_bytes_per_record_after_shutdown: last_phase_after_shutdown,
        peak_rss_kib: peak_kib,
        exit_status: status.to_string(),
        shutdown_secs,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn print_table(r: &BenchReport) {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&PhaseReport) -> String| {
        rows.push((label.to_owned(), r.phases.iter().map(f).collect()));
    };
    row("records", &|p| fmt_count(p.records));
    row("requests ok / failed", &|p| {
        format!(
            "{} / {}",
            fmt_count(p.requests),
            fmt_count(p.failed_requests)
        )
    });
    row("rejected records", &|p| fmt_count(p.rejected_records));
    row("wall time", &|p| format!("{:.2} s", p.wall_secs));
    row("wall throughput", &|p| {
        format!("{}/s", fmt_count(p.records_per_sec as u64))
    });
    row("collector CPU", &|p| {
        format!("{:.2} s", p.collector_cpu_secs)
    });
    row("records per CPU-second", &|p| {
        fmt_count(p.records_per_cpu_sec as u64)
    });
    row("collector cores busy", &|p| {
        format!("{:.2}", p.collector_cores)
    });
    row("loadgen CPU", &|p| format!("{:.2} s", p.loadgen_cpu_secs));
    row("export latency p50", &|p| {
        format!("{:.2} ms", p.latency.p50_ms)
    });
    row("export latency p99", &|p| {
        format!("{:.2} ms", p.latency.p99_ms)
    });
    row("export latency max", &|p| {
        format!("{:.2} ms", p.latency.max_ms)
    });
    row("raw protobuf B/record", &|p| {
        format!("{:.1}", p.raw_bytes_per_record)
    });
    row("zstd -3 stream B/record", &|p| {
        format!("{:.1}", p.zstd3_bytes_per_record)
    });
    row("disk B/record (phase end)", &|p| {
        format!("{:.1}", p.disk_bytes_per_record)
    });
    row("VmHWM after phase", &|p| {
        format!("{:.1} MiB", p.vm_hwm_kib_after as f64 / 1024.0)
    });

    println!();
    println!("collector: {} {}", r.collector, r.collector_args.join(" "));
    println!(
        "protocol {}, batch {}, concurrency {}, connections {}, seed {}",
        match r.protocol {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        },
        r.batch,
        r.concurrency,
        r.connections,
        r.seed
    );
    println!();
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let col = 16;
    print!("{:width$}", "");
    for p in &r.phases {
        print!("{:>col$}", p.signal.record_name());
    }
    println!();
    for (label, values) in &rows {
        print!("{label:width$}");
        for v in values {
            print!("{v:>col$}");
        }
        println!();
    }
    println!();
    println!(
        "after SIGTERM: exited ({}) in {:.2} s; data dir grew {} bytes in {} files = {:.1} B/record overall",
        r.exit_status,
        r.shutdown_secs,
        fmt_count((r.disk_final.bytes as i64 - r.disk_before.bytes as i64).max(0) as u64),
        fmt_count(r.disk_final.files),
        r.final_bytes_per_record
    );
    if let Some(last) = r.phases.last() {
        println!(
            "{} incl. shutdown flush: {:.1} B/record",
            last.signal.record_name(),
            r.last_phase_bytes_per_record_after_shutdown
        );
    }
    println!(
        "peak RSS of the collector (VmHWM): {:.1} MiB",
        r.peak_rss_kib as f64 / 1024.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_proc_entries() {
        assert!(cpu_ticks("self").is_ok());
        assert!(vm_hwm_kib(std::process::id()).unwrap_or(0) > 0);
    }

    #[test]
    fn sums_files_recursively() -> Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("sub"))?;
        std::fs::write(dir.path().join("a"), [0u8; 100])?;
        std::fs::write(dir.path().join("sub/b"), [0u8; 23])?;
        let size = dir_size(dir.path())?;
        assert_eq!(size.bytes, 123);
        assert_eq!(size.files, 2);
        Ok(())
    }

    #[test]
    fn prepared_phase_counts_exact_records() -> Result<()> {
        let p = prepare(Signal::Logs, 1_300, 512, 4)?;
        assert_eq!(p.jobs.len(), 3);
        assert_eq!(p.jobs.iter().map(|j| j.records).sum::<u64>(), 1_300);
        assert!(p.zstd3_bytes > 0 && p.zstd3_bytes < p.raw_bytes);
        Ok(())
    }
}
