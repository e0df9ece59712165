//! The collector's per-record CPU outside the network: transcoding OTLP protobuf into a
//! block and compressing it, on one thread, over the load generator's requests.
//!
//! `cargo bench -p oculus-collector --bench ingest` prints nanoseconds per record for
//! each stage and bytes per record at each step. Decoding the same requests with prost
//! (and dropping them) is printed alongside as the floor any collector pays.
//! Environment: `OCULUS_BENCH_RECORDS` (default 1,000,000 per signal),
//! `OCULUS_BENCH_ZSTD_LEVEL` (default: the collector's, per kind of record),
//! `OCULUS_BENCH_ROUNDS` (default 5).

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use oculus_collector::ZstdLevels;
use oculus_collector::transcode::{self, Transcoded};
use oculus_loadgen::data::Generator;
use oculus_store::{DictionarySampler, SharedDictionary, encode_raw_block};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

// As in the collector's binary, so allocation costs what it costs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 512;

fn main() -> Result<()> {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this without it,
    // and then a few requests check that the code still runs.
    let measuring = std::env::args().any(|a| a == "--bench");
    let records = env_number(
        "OCULUS_BENCH_RECORDS",
        if measuring { 1_000_000 } else { 4096 },
    )?;
    let rounds = env_number("OCULUS_BENCH_ROUNDS", if measuring { 5 } else { 1 })?.max(1);
    let level_override = match std::env::var("OCULUS_BENCH_ZSTD_LEVEL") {
        Ok(level) => Some(level.parse::<i32>().context("OCULUS_BENCH_ZSTD_LEVEL")?),
        Err(_) => None,
    };
    let levels = level_override.map_or(ZstdLevels::DEFAULT, ZstdLevels::all);
    println!(
        "{records} records per signal, {BATCH} per request, zstd level {} for logs and {} for spans, median of {rounds} rounds",
        levels.logs, levels.spans
    );
    println!();
    println!(
        "{:<7} {:>12} {:>12} {:>12} {:>12} | {:>9} {:>9} {:>9}",
        "signal",
        "prost ns/rec",
        "transc ns/rec",
        "zstd ns/rec",
        "total ns/rec",
        "OTLP B",
        "block B",
        "disk B"
    );
    for signal in [Signal::Logs, Signal::Traces] {
        let requests = requests(signal, records);
        let level = match signal {
            Signal::Logs => levels.logs,
            Signal::Traces => levels.spans,
        };
        measure(signal, &requests, records, level, rounds)?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Signal {
    Logs,
    Traces,
}

fn requests(signal: Signal, records: usize) -> Vec<Vec<u8>> {
    let mut generator = Generator::new(1);
    (0..records.div_ceil(BATCH))
        .map(|_| match signal {
            Signal::Logs => generator.logs_request(BATCH).encode_to_vec(),
            Signal::Traces => generator.traces_request(BATCH).encode_to_vec(),
        })
        .collect()
}

fn transcode_one(signal: Signal, request: &[u8]) -> Result<Transcoded> {
    Ok(match signal {
        Signal::Logs => transcode::logs(request)?,
        Signal::Traces => transcode::traces(request)?,
    })
}

fn prost_decode(signal: Signal, request: &[u8]) -> Result<()> {
    match signal {
        Signal::Logs => drop(black_box(ExportLogsServiceRequest::decode(request)?)),
        Signal::Traces => drop(black_box(ExportTraceServiceRequest::decode(request)?)),
    }
    Ok(())
}

fn measure(
    signal: Signal,
    requests: &[Vec<u8>],
    records: usize,
    level: i32,
    rounds: usize,
) -> Result<()> {
    let blocks = requests
        .iter()
        .map(|request| transcode_one(signal, request))
        .collect::<Result<Vec<_>>>()?;
    let dictionary = dictionary(signal, &blocks).context("too few blocks for a dictionary")?;

    let mut prost = Vec::new();
    let mut transcoding = Vec::new();
    let mut compressing = Vec::new();
    let mut disk_bytes = 0;
    for _ in 0..rounds {
        prost.push(timed(|| {
            requests.iter().try_for_each(|r| prost_decode(signal, r))
        })?);
        transcoding.push(timed(|| {
            requests
                .iter()
                .try_for_each(|r| transcode_one(signal, r).map(|t| drop(black_box(t))))
        })?);
        disk_bytes = 0;
        compressing.push(timed(|| {
            blocks.iter().try_for_each(|block| {
                // The summary's clone (a few service names) is the block's, not a record's.
                let encoded =
                    encode_raw_block(&block.raw, block.summary.clone(), level, Some(&dictionary))?;
                disk_bytes += encoded.frame.len();
                Ok(())
            })
        })?);
    }
    let per_record = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2].as_nanos() as f64 / records as f64
    };
    let (prost, transcoding, compressing) = (
        per_record(&mut prost),
        per_record(&mut transcoding),
        per_record(&mut compressing),
    );
    let bytes = |total: usize| total as f64 / records as f64;
    println!(
        "{:<7} {:>12.0} {:>12.0} {:>12.0} {:>12.0} | {:>9.1} {:>9.1} {:>9.1}",
        match signal {
            Signal::Logs => "logs",
            Signal::Traces => "spans",
        },
        prost,
        transcoding,
        compressing,
        transcoding + compressing,
        bytes(requests.iter().map(Vec::len).sum()),
        bytes(blocks.iter().map(|b| b.raw.len()).sum()),
        bytes(disk_bytes),
    );
    Ok(())
}

/// The collector's dictionary: sampled from the session's first blocks of the kind.
fn dictionary(signal: Signal, blocks: &[Transcoded]) -> Option<SharedDictionary> {
    let mut sampler = DictionarySampler::new(if signal == Signal::Traces { 1 } else { 2 });
    blocks.iter().find_map(|block| sampler.offer(&block.raw))
}

fn timed(work: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    work()?;
    Ok(start.elapsed())
}

fn env_number(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(value) => value
            .replace('_', "")
            .parse()
            .with_context(|| format!("{name}={value} is not a number")),
        Err(_) => Ok(default),
    }
}
