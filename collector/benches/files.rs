//! OTLP files both ways, over the load generator's records: `import` in records per
//! CPU-second from length-prefixed protobuf and from JSON Lines, and export (segments
//! to a file) in records per second for each format, with and without zstd.
//!
//! `cargo bench -p oculus-collector --bench files`. Environment: `OCULUS_BENCH_RECORDS`
//! (default 1,000,000 spans and as many log records), `OCULUS_BENCH_DIR` (where the
//! files and data directories go; default a temporary directory).

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use oculus_collector::import::{ImportOptions, import};
use oculus_loadgen::data::Generator;
use oculus_otlp::types::logs::v1::LogsData;
use oculus_otlp::types::trace::v1::TracesData;
use oculus_otlp::{Compression, Data, FileFormat, FileWriter, export};
use oculus_store::{SegmentBytes, SegmentItem, read_segment, resolve};

// As in the collector's binary, so allocation costs what it costs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 512;

fn main() -> Result<()> {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this without it,
    // and then a few requests check that the code still runs.
    let measuring = std::env::args().any(|a| a == "--bench");
    let records: usize = match std::env::var("OCULUS_BENCH_RECORDS") {
        Ok(text) => text.parse().context("OCULUS_BENCH_RECORDS")?,
        Err(_) if measuring => 1_000_000,
        Err(_) => 2048,
    };
    let scratch = tempfile::tempdir()?;
    let dir = std::env::var_os("OCULUS_BENCH_DIR")
        .map_or_else(|| scratch.path().to_path_buf(), PathBuf::from);
    println!("{records} spans and {records} log records, {BATCH} per message");
    let messages = messages(records);
    // Whole messages: the count rounds up to a multiple of BATCH.
    let records: usize = messages.iter().map(Data::record_count).sum();
    let total = records as f64;
    println!(
        "{:<22} {:>10} {:>14} {:>14}",
        "file", "MiB", "import rec/CPU-s", "export rec/s"
    );
    for (name, format, compression) in [
        ("otlp-proto", FileFormat::Proto, Compression::None),
        ("otlp-proto + zstd", FileFormat::Proto, Compression::Zstd),
        ("otlp-json", FileFormat::Json, Compression::None),
        ("otlp-json + zstd", FileFormat::Json, Compression::Zstd),
    ] {
        let file = dir.join(format!("input-{}", name.replace(' ', "")));
        write_file(&file, &messages, format, compression)?;
        let size = std::fs::metadata(&file)?.len() as f64 / f64::from(1 << 20);
        let data_dir = dir.join(format!("data-{}", name.replace(' ', "")));
        let _ = std::fs::remove_dir_all(&data_dir);
        let cpu = cpu_time()?;
        let report = import(
            &data_dir,
            std::slice::from_ref(&file),
            &ImportOptions::default(),
            &AtomicBool::new(false),
            &mut |_| {},
        )?;
        let import_cpu = cpu_time()? - cpu;
        anyhow::ensure!(report.records() == records as u64, "{report:?}");
        let output = dir.join(format!("output-{}", name.replace(' ', "")));
        let started = Instant::now();
        let exported = export_to(&data_dir, &output, format, compression)?;
        let export_wall = started.elapsed();
        anyhow::ensure!(exported == records, "{exported} exported");
        println!(
            "{name:<22} {size:>10.1} {:>14.0} {:>14.0}",
            total / import_cpu.as_secs_f64(),
            total / export_wall.as_secs_f64()
        );
    }
    Ok(())
}

fn messages(records: usize) -> Vec<Data> {
    let mut generator = Generator::new(1);
    let mut messages = Vec::new();
    for _ in 0..records.div_ceil(BATCH) {
        messages.push(Data::Traces(TracesData {
            resource_spans: generator.traces_request(BATCH).resource_spans,
        }));
        messages.push(Data::Logs(LogsData {
            resource_logs: generator.logs_request(BATCH).resource_logs,
        }));
    }
    messages
}

fn write_file(
    path: &Path,
    messages: &[Data],
    format: FileFormat,
    compression: Compression,
) -> Result<()> {
    let file = BufWriter::new(std::fs::File::create(path)?);
    let mut writer = FileWriter::new(file, format, compression)?;
    for message in messages {
        writer.write(message)?;
    }
    writer.finish()?;
    Ok(())
}

/// What `oculus-collector export` does, without the command line: every block of
/// every segment, as OTLP, into a file. Returns the records written.
fn export_to(
    data_dir: &Path,
    output: &Path,
    format: FileFormat,
    compression: Compression,
) -> Result<usize> {
    let file = BufWriter::new(std::fs::File::create(output)?);
    let mut writer = FileWriter::new(file, format, compression)?;
    let mut records = 0;
    let mut failure = None;
    for segment in resolve(data_dir)?.segments {
        let bytes = read_segment(&segment.path)?;
        SegmentBytes::new(&segment.path, &bytes)
            .finished(segment.finished)
            .scan(|item| {
                let SegmentItem::Block { block, .. } = item else {
                    return;
                };
                for data in [
                    (!block.spans.is_empty()).then(|| Data::Traces(export::traces(&block))),
                    (!block.logs.is_empty()).then(|| Data::Logs(export::logs(&block))),
                ]
                .into_iter()
                .flatten()
                {
                    records += data.record_count();
                    if let Err(error) = writer.write(&data) {
                        failure = Some(error);
                    }
                }
            });
    }
    if let Some(error) = failure {
        return Err(error.into());
    }
    writer.finish()?;
    Ok(records)
}

/// CPU time of this process (all threads), from /proc, in clock ticks of 10 ms.
fn cpu_time() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("/proc/self/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}
