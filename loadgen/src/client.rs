//! Sending pre-encoded OTLP requests with bounded concurrency, over gRPC or HTTP.

use std::io::{IsTerminal, Write};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::{BufMut, Bytes};
use clap::ValueEnum;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::{
    logs::v1::ExportLogsServiceResponse, trace::v1::ExportTraceServiceResponse,
};
use prost::Message;
use serde::Serialize;
use tokio::sync::{Mutex, mpsc};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

const TRACES_GRPC_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const LOGS_GRPC_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OTLP/gRPC unary Export calls.
    Grpc,
    /// OTLP/HTTP with binary protobuf bodies.
    Http,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    Traces,
    Logs,
}

impl Signal {
    pub fn record_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Logs => "logs",
        }
    }
}

/// One encoded export request.
#[derive(Clone, Debug)]
pub struct Job {
    pub signal: Signal,
    pub body: Bytes,
    pub records: u64,
}

/// Where workers take their next request from.
pub enum Source {
    /// Requests generated ahead of time, taken in order.
    Fixed { jobs: Vec<Job>, next: AtomicUsize },
    /// Requests generated on the fly by other threads.
    Stream {
        rx: Mutex<mpsc::Receiver<Job>>,
        /// Times a worker found the queue empty: the generator was the bottleneck.
        waits: AtomicU64,
    },
}

impl Source {
    pub fn fixed(jobs: Vec<Job>) -> Self {
        Source::Fixed {
            jobs,
            next: AtomicUsize::new(0),
        }
    }

    async fn next(&self) -> Option<Job> {
        match self {
            Source::Fixed { jobs, next } => jobs.get(next.fetch_add(1, Ordering::Relaxed)).cloned(),
            Source::Stream { rx, waits } => {
                let mut rx = rx.lock().await;
                match rx.try_recv() {
                    Ok(job) => Some(job),
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        waits.fetch_add(1, Ordering::Relaxed);
                        rx.recv().await
                    }
                }
            }
        }
    }

    pub fn stream(rx: mpsc::Receiver<Job>) -> Self {
        Source::Stream {
            rx: Mutex::new(rx),
            waits: AtomicU64::new(0),
        }
    }

    /// How often workers had to wait for the generator.
    pub fn waits(&self) -> u64 {
        match self {
            Source::Fixed { .. } => 0,
            Source::Stream { waits, .. } => waits.load(Ordering::Relaxed),
        }
    }
}

/// Where and how to send.
#[derive(Clone, Debug)]
pub struct Target {
    pub protocol: Protocol,
    pub endpoint: String,
    pub compression: Compression,
    /// gRPC connections shared by the workers; HTTP/1.1 uses one per worker.
    pub connections: usize,
}

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub concurrency: usize,
    pub duration: Option<Duration>,
    pub label: String,
    pub total_records: Option<u64>,
    pub request_timeout: Duration,
}

/// Outcome for one signal.
#[derive(Clone, Debug, Default)]
pub struct SignalStats {
    pub requests: u64,
    pub failed_requests: u64,
    pub records: u64,
    pub failed_records: u64,
    pub rejected_records: u64,
    pub bytes: u64,
    pub latencies_ns: Vec<u64>,
}

impl SignalStats {
    fn merge(&mut self, other: SignalStats) {
        self.requests += other.requests;
        self.failed_requests += other.failed_requests;
        self.records += other.records;
        self.failed_records += other.failed_records;
        self.rejected_records += other.rejected_records;
        self.bytes += other.bytes;
        self.latencies_ns.extend(other.latencies_ns);
    }
}

#[derive(Clone, Debug, Default)]
pub struct RunStats {
    pub traces: SignalStats,
    pub logs: SignalStats,
    pub wall: Duration,
    /// A few distinct error messages, for the report.
    pub errors: Vec<String>,
}

impl RunStats {
    pub fn signal(&self, signal: Signal) -> &SignalStats {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Logs => &self.logs,
        }
    }

    fn signal_mut(&mut self, signal: Signal) -> &mut SignalStats {
        match signal {
            Signal::Traces => &mut self.traces,
            Signal::Logs => &mut self.logs,
        }
    }

    fn note_error(&mut self, message: String) {
        if self.errors.len() < 5 && !self.errors.contains(&message) {
            self.errors.push(message);
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Nearest-rank percentiles of per-request latencies.
pub fn summarize(latencies_ns: &[u64]) -> LatencySummary {
    if latencies_ns.is_empty() {
        return LatencySummary::default();
    }
    let mut sorted = latencies_ns.to_vec();
    sorted.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    let rank = |p: f64| {
        let idx = (p * sorted.len() as f64).ceil() as usize;
        sorted[idx.clamp(1, sorted.len()) - 1]
    };
    let sum: u128 = sorted.iter().map(|&v| u128::from(v)).sum();
    LatencySummary {
        p50_ms: ms(rank(0.50)),
        p90_ms: ms(rank(0.90)),
        p95_ms: ms(rank(0.95)),
        p99_ms: ms(rank(0.99)),
        max_ms: ms(sorted[sorted.len() - 1]),
        mean_ms: sum as f64 / sorted.len() as f64 / 1e6,
    }
}

/// Sends jobs from `source` until it runs dry or the duration passes.
pub async fn run(target: &Target, source: Arc<Source>, opts: &RunOptions) -> Result<RunStats> {
    let channels = match target.protocol {
        Protocol::Grpc => {
            let mut channels = Vec::new();
            for _ in 0..target.connections.max(1) {
                let channel = Endpoint::from_shared(target.endpoint.clone())
                    .with_context(|| format!("bad gRPC endpoint {}", target.endpoint))?
                    .tcp_nodelay(true)
                    .connect()
                    .await
                    .with_context(|| format!("connecting to {}", target.endpoint))?;
                channels.push(channel);
            }
            channels
        }
        Protocol::Http => Vec::new(),
    };

    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = opts.duration.map(|d| start + d);
    let progress = tokio::spawn(progress_loop(
        opts.label.clone(),
        sent.clone(),
        opts.total_records,
    ));

    let mut workers = Vec::new();
    for i in 0..opts.concurrency.max(1) {
        let sender = match target.protocol {
            Protocol::Grpc => {
                let mut grpc = tonic::client::Grpc::new(channels[i % channels.len()].clone());
                if target.compression == Compression::Gzip {
                    grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                Sender::Grpc(grpc)
            }
            Protocol::Http => Sender::Http(HttpSender::new(&target.endpoint, target.compression)?),
        };
        let source = source.clone();
        let sent = sent.clone();
        let timeout = opts.request_timeout;
        workers.push(tokio::spawn(worker(
            sender, source, sent, deadline, timeout,
        )));
    }

    let mut stats = RunStats::default();
    for w in workers {
        let part = w.await.context("worker panicked")?;
        stats.traces.merge(part.traces);
        stats.logs.merge(part.logs);
        for e in part.errors {
            stats.note_error(e);
        }
    }
    stats.wall = start.elapsed();
    progress.abort();
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    Ok(stats)
}

async fn worker(
    mut sender: Sender,
    source: Arc<Source>,
    sent: Arc<AtomicU64>,
    deadline: Option<Instant>,
    timeout: Duration,
) -> RunStats {
    let mut stats = RunStats::default();
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let Some(job) = source.next().await else {
            break;
        };
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout, sender.export(&job)).await {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!("request timed out after {timeout:?}")),
        };
        let elapsed = started.elapsed();
        let s = stats.signal_mut(job.signal);
        s.bytes += job.body.len() as u64;
        match result {
            Ok(rejected) => {
                s.requests += 1;
                s.records += job.records;
                s.rejected_records += rejected;
                s.latencies_ns
                    .push(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
                sent.fetch_add(job.records, Ordering::Relaxed);
            }
            Err(e) => {
                s.failed_requests += 1;
                s.failed_records += job.records;
                stats.note_error(format!("{e:#}"));
                // A short pause keeps a dead endpoint from turning into a busy loop.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    stats
}

async fn progress_loop(label: String, sent: Arc<AtomicU64>, total: Option<u64>) {
    let tty = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut last = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = sent.load(Ordering::Relaxed);
        let avg = now as f64 / start.elapsed().as_secs_f64();
        let of_total = total.map_or(String::new(), |t| format!(" / {}", fmt_count(t)));
        let line = format!(
            "{label}: {}{of_total} records, {}/s now, {}/s avg",
            fmt_count(now),
            fmt_count(now - last),
            fmt_count(avg as u64)
        );
        last = now;
        let mut err = std::io::stderr().lock();
        // Best effort: progress output must never fail the run.
        let _ = if tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}

/// 1234567 -> "1,234,567".
pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

enum Sender {
    Grpc(tonic::client::Grpc<Channel>),
    Http(HttpSender),
}

impl Sender {
    /// Sends one request; returns how many records the receiver rejected.
    async fn export(&mut self, job: &Job) -> Result<u64> {
        match self {
            Sender::Grpc(grpc) => {
                grpc.ready().await.context("gRPC channel not ready")?;
                let body = tonic::Request::new(job.body.clone());
                match job.signal {
                    Signal::Traces => {
                        let path = PathAndQuery::from_static(TRACES_GRPC_PATH);
                        let codec = RawCodec::<ExportTraceServiceResponse>::default();
                        let resp = grpc.unary(body, path, codec).await?.into_inner();
                        Ok(resp
                            .partial_success
                            .map_or(0, |p| p.rejected_spans.max(0) as u64))
                    }
                    Signal::Logs => {
                        let path = PathAndQuery::from_static(LOGS_GRPC_PATH);
                        let codec = RawCodec::<ExportLogsServiceResponse>::default();
                        let resp = grpc.unary(body, path, codec).await?.into_inner();
                        Ok(resp
                            .partial_success
                            .map_or(0, |p| p.rejected_log_records.max(0) as u64))
                    }
                }
            }
            Sender::Http(http) => http.export(job).await,
        }
    }
}

/// Sends already-encoded protobuf bytes, so encoding costs nothing while measuring.
struct RawCodec<R>(PhantomData<fn() -> R>);

impl<R> Default for RawCodec<R> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<R: Message + Default + Send + 'static> Codec for RawCodec<R> {
    type Encode = Bytes;
    type Decode = R;
    type Encoder = RawEncoder;
    type Decoder = ProstDecoder<R>;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder(PhantomData)
    }
}

struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

struct ProstDecoder<R>(PhantomData<fn() -> R>);

impl<R: Message + Default> Decoder for ProstDecoder<R> {
    type Item = R;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<R>, tonic::Status> {
        R::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("bad response: {e}")))
    }
}

/// OTLP/HTTP over one HTTP/1.1 keep-alive connection, reconnecting when it drops.
struct HttpSender {
    addr: String,
    authority: String,
    base_path: String,
    gzip: bool,
    conn: Option<http1::SendRequest<Full<Bytes>>>,
}

impl HttpSender {
    fn new(endpoint: &str, compression: Compression) -> Result<Self> {
        let uri: http::Uri = endpoint
            .parse()
            .with_context(|| format!("bad HTTP endpoint {endpoint}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("only plain http:// endpoints are supported, got {endpoint}");
        }
        let authority = uri
            .authority()
            .with_context(|| format!("no host in {endpoint}"))?;
        let port = authority.port_u16().unwrap_or(80);
        Ok(Self {
            addr: format!("{}:{port}", authority.host()),
            authority: authority.as_str().to_owned(),
            base_path: uri.path().trim_end_matches('/').to_owned(),
            gzip: compression == Compression::Gzip,
            conn: None,
        })
    }

    async fn connect(&self) -> Result<http1::SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let (send, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Errors surface on the next send_request; nothing to do here.
            let _ = conn.await;
        });
        Ok(send)
    }

    async fn export(&mut self, job: &Job) -> Result<u64> {
        if self.conn.as_ref().is_none_or(|c| c.is_closed()) {
            self.conn = Some(self.connect().await?);
        }
        let conn = self.conn.as_mut().context("no HTTP connection")?;
        conn.ready().await?;
        let suffix = match job.signal {
            Signal::Traces => "/v1/traces",
            Signal::Logs => "/v1/logs",
        };
        let mut req = http::Request::post(format!("{}{suffix}", self.base_path))
            .header(http::header::HOST, &self.authority)
            .header(http::header::CONTENT_TYPE, "application/x-protobuf");
        let body = if self.gzip {
            req = req.header(http::header::CONTENT_ENCODING, "gzip");
            gzip(&job.body)?
        } else {
            job.body.clone()
        };
        let resp = match conn.send_request(req.body(Full::new(body))?).await {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(e.into());
            }
        };
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            bail!("HTTP {status}: {text}");
        }
        // An empty or non-protobuf body means full success.
        let rejected = match job.signal {
            Signal::Traces => ExportTraceServiceResponse::decode(bytes)
                .ok()
                .and_then(|r| r.partial_success)
                .map_or(0, |p| p.rejected_spans),
            Signal::Logs => ExportLogsServiceResponse::decode(bytes)
                .ok()
                .and_then(|r| r.partial_success)
                .map_or(0, |p| p.rejected_log_records),
        };
        Ok(rejected.max(0) as u64)
    }
}

fn gzip(data: &[u8]) -> Result<Bytes> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data)?;
    Ok(Bytes::from(enc.finish()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1_000_000).collect();
        let s = summarize(&v);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        assert_eq!(summarize(&[]).p50_ms, 0.0);
    }

    #[test]
    fn counts_get_separators() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1_000), "1,000");
        assert_eq!(fmt_count(4_000_000), "4,000,000");
    }
}
