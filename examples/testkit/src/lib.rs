//! For the examples' tests: a real collector on loopback ports with a temporary data
//! directory, the example binaries run against it with a deadline, and what the
//! collector stored read back as standard OTLP.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use oculus_collector::{Collector, Config};
use oculus_store::{SegmentBytes, SegmentItem, read_segment, resolve};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;

/// The wire protocols every test runs over, as `OTEL_EXPORTER_OTLP_PROTOCOL` names them.
pub const PROTOCOLS: [&str; 3] = ["grpc", "http/protobuf", "http/json"];

/// A collector listening on ephemeral loopback ports.
pub struct Capture {
    collector: Collector,
    dir: tempfile::TempDir,
}

impl Capture {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let loopback = "127.0.0.1:0".parse()?;
        let collector =
            Collector::start(Config::new(loopback, loopback, dir.path().to_path_buf())).await?;
        Ok(Self { collector, dir })
    }

    /// The base URL for `protocol` (`grpc`, `http/protobuf` or `http/json`).
    pub fn endpoint(&self, protocol: &str) -> String {
        let addr = match protocol {
            "grpc" => self.collector.grpc_addr(),
            _ => self.collector.http_addr(),
        };
        format!("http://{addr}")
    }

    /// Stops the collector and reads back everything it stored.
    pub async fn finish(self) -> anyhow::Result<Records> {
        self.collector.shutdown().await?;
        Records::read(self.dir.path())
    }
}

/// A span or log record with the resource it came with.
#[derive(Debug, Clone)]
pub struct Sent<T> {
    pub resource: HashMap<String, String>,
    pub record: T,
}

impl<T> Sent<T> {
    pub fn service(&self) -> &str {
        self.resource.get("service.name").map_or("", String::as_str)
    }
}

/// What the collector stored.
#[derive(Debug, Default)]
pub struct Records {
    pub spans: Vec<Sent<Span>>,
    pub logs: Vec<Sent<LogRecord>>,
    /// The source locations the store lifted out of the records' `code.*` attributes,
    /// the ones the viewer jumps to: (file, line), spans' then logs' of each block.
    pub sources: Vec<(String, u32)>,
}

impl Records {
    fn read(data_dir: &Path) -> anyhow::Result<Self> {
        let mut records = Records::default();
        for segment in resolve(data_dir)?.segments {
            let data = read_segment(&segment.path)?;
            let mut damage = None;
            SegmentBytes::new(&segment.path, &data).scan(|item| match item {
                SegmentItem::Block { block, .. } => {
                    let sources = block.spans.iter().filter_map(|span| span.source);
                    let sources = sources.chain(block.logs.iter().filter_map(|log| log.source));
                    records.sources.extend(
                        sources.map(|source| (block.str(source.file_path).to_owned(), source.line)),
                    );
                    let traces = oculus_otlp::export::traces(&block);
                    for resource_spans in traces.resource_spans {
                        let resource = strings(resource_spans.resource.map(|r| r.attributes));
                        for scope in resource_spans.scope_spans {
                            records
                                .spans
                                .extend(scope.spans.into_iter().map(|record| Sent {
                                    resource: resource.clone(),
                                    record,
                                }));
                        }
                    }
                    let logs = oculus_otlp::export::logs(&block);
                    for resource_logs in logs.resource_logs {
                        let resource = strings(resource_logs.resource.map(|r| r.attributes));
                        for scope in resource_logs.scope_logs {
                            records
                                .logs
                                .extend(scope.log_records.into_iter().map(|record| Sent {
                                    resource: resource.clone(),
                                    record,
                                }));
                        }
                    }
                }
                SegmentItem::Corrupt(error) => damage = Some(error.to_string()),
            });
            if let Some(damage) = damage {
                bail!("damaged segment: {damage}");
            }
        }
        Ok(records)
    }
}

/// The attributes as strings (ints and bools printed), for comparing.
pub fn strings(attributes: Option<Vec<KeyValue>>) -> HashMap<String, String> {
    attributes
        .unwrap_or_default()
        .into_iter()
        .map(|kv| (kv.key, kv.value.map(display).unwrap_or_default()))
        .collect()
}

/// A value as text: strings as they are, numbers and bools printed.
pub fn display(value: AnyValue) -> String {
    match value.value {
        Some(Value::StringValue(s)) => s,
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// Runs `command` to its end, killing it past `deadline`, which is then an error.
pub fn run(command: &mut Command, deadline: Duration) -> anyhow::Result<(Output, Duration)> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the example")?;
    loop {
        if child.try_wait()?.is_some() {
            return Ok((child.wait_with_output()?, started.elapsed()));
        }
        if started.elapsed() > deadline {
            child.kill()?;
            let output = child.wait_with_output()?;
            bail!(
                "still running after {deadline:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An OTLP base URL where nothing listens: a port bound and released.
pub fn unused_endpoint() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(format!("http://{}", listener.local_addr()?))
}
