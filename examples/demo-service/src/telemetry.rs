//! Telemetry setup: OTLP exporters for spans and logs, wired into `tracing`.

use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{LogExporter, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{self, SdkLoggerProvider};
use opentelemetry_sdk::trace::{self, SdkTracerProvider};
use tracing::Dispatch;
use tracing_subscriber::filter::{EnvFilter, FilterExt as _, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer as _, Registry};

/// What goes out over OTLP. The exporter's own stack (tonic, hyper, h2, tower,
/// reqwest and the OpenTelemetry crates) is switched off, or every export would
/// log about itself and be exported again, forever.
pub const EXPORT_FILTER: &str = "info,demo_service=trace,\
    hyper=off,hyper_util=off,h2=off,tonic=off,tower=off,reqwest=off,want=off,\
    opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off,tracing_opentelemetry=off";

/// Console filter when `RUST_LOG` is unset.
pub const DEFAULT_CONSOLE_FILTER: &str = "info,demo_service=debug";

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Protocol {
    /// OTLP/gRPC (default port 4317).
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies to /v1/traces and /v1/logs (default port 4318).
    #[value(alias = "http/protobuf")]
    Http,
}

impl Protocol {
    /// The collector address used when none is given.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://127.0.0.1:4317",
            Protocol::Http => "http://127.0.0.1:4318",
        }
    }
}

/// How to export.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` on the resource.
    pub service_name: String,
    /// `host.name` on the resource, if set: tells instances of one service apart.
    pub host_name: Option<String>,
    /// Collector base URL; `None` uses [`Protocol::default_endpoint`].
    /// For HTTP the signal paths `/v1/traces` and `/v1/logs` are appended.
    pub endpoint: Option<String>,
    /// Transport.
    pub protocol: Protocol,
    /// Also print events to stderr in human-readable form (filtered by `RUST_LOG`).
    pub console: bool,
    /// Also attach events to spans as span events. Off by default because the
    /// log bridge already exports every event as a log record with the span's ids.
    pub span_events: bool,
    /// How long the batch processors wait before sending what they hold.
    /// Shorter than the SDK default (5 s for spans) so a viewer updates live.
    pub batch_delay: Duration,
    /// Deadline for one export call, retries included. Shorter than the SDK's
    /// 10 s so an unresponsive collector cannot stall shutdown past its deadline.
    pub export_timeout: Duration,
    /// How long [`TelemetryGuard::shutdown`] waits for the final flush.
    pub shutdown_timeout: Duration,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            service_name: env!("CARGO_PKG_NAME").to_owned(),
            host_name: None,
            endpoint: None,
            protocol: Protocol::default(),
            console: true,
            span_events: false,
            batch_delay: Duration::from_millis(500),
            export_timeout: Duration::from_secs(3),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

impl TelemetryConfig {
    /// The base URL that will be used.
    pub fn resolved_endpoint(&self) -> String {
        let endpoint = self
            .endpoint
            .as_deref()
            .filter(|e| !e.is_empty())
            .unwrap_or(self.protocol.default_endpoint());
        endpoint.trim_end_matches('/').to_owned()
    }
}

/// Owns the providers. Call [`TelemetryGuard::shutdown`] before exiting so the
/// batch processors flush; dropping the guard does the same as a fallback.
///
/// Shutdown blocks the calling thread until the exporters finish. Call it from
/// a multi-thread runtime (for example through `spawn_blocking`): on a
/// current-thread runtime the gRPC exporter's I/O cannot progress and it hangs.
#[derive(Debug)]
pub struct TelemetryGuard {
    providers: Option<(SdkTracerProvider, SdkLoggerProvider)>,
    shutdown_timeout: Duration,
}

impl TelemetryGuard {
    /// Sends everything buffered so far without shutting down.
    pub fn force_flush(&self) -> anyhow::Result<()> {
        if let Some((tracer_provider, logger_provider)) = &self.providers {
            let spans = tracer_provider.force_flush();
            let logs = logger_provider.force_flush();
            spans.context("flushing spans")?;
            logs.context("flushing logs")?;
        }
        Ok(())
    }

    /// Flushes and stops both providers. Both are shut down even if one fails.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> anyhow::Result<()> {
        let Some((tracer_provider, logger_provider)) = self.providers.take() else {
            return Ok(());
        };
        // In parallel, so a dead collector costs one timeout rather than two.
        let timeout = self.shutdown_timeout;
        let logs = std::thread::Builder::new()
            .name("otel-log-shutdown".into())
            .spawn(move || logger_provider.shutdown_with_timeout(timeout))
            .context("spawning the log shutdown thread")?;
        let spans = tracer_provider.shutdown_with_timeout(timeout);
        let logs = logs
            .join()
            .map_err(|_| anyhow::anyhow!("the log shutdown thread panicked"))?;
        spans.context("shutting down the span exporter")?;
        logs.context("shutting down the log exporter")?;
        Ok(())
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // A forgotten shutdown would silently lose the last batch.
        if let Err(error) = self.shutdown_inner() {
            eprintln!("demo-service: telemetry shutdown failed: {error:#}");
        }
    }
}

/// Builds the exporters and installs them as the global `tracing` subscriber.
///
/// Must run inside a multi-thread tokio runtime: the gRPC exporter binds its
/// channel to the current runtime.
pub fn init_telemetry(cfg: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    let (dispatch, guard) = build_telemetry(cfg)?;
    tracing::dispatcher::set_global_default(dispatch)
        .context("a global tracing subscriber is already installed")?;
    Ok(guard)
}

/// Like [`init_telemetry`] but returns the subscriber instead of installing it,
/// for tests that scope it with `tracing::dispatcher::with_default` or
/// `WithSubscriber::with_subscriber`.
pub fn build_telemetry(cfg: &TelemetryConfig) -> anyhow::Result<(Dispatch, TelemetryGuard)> {
    let (span_exporter, log_exporter) =
        build_exporters(cfg.protocol, &cfg.resolved_endpoint(), cfg.export_timeout)?;
    build_telemetry_with_exporters(cfg, span_exporter, log_exporter)
}

/// Like [`build_telemetry`] with caller-supplied exporters (for example the
/// SDK's in-memory ones); `endpoint` and `protocol` in `cfg` are then unused.
pub fn build_telemetry_with_exporters<SE, LE>(
    cfg: &TelemetryConfig,
    span_exporter: SE,
    log_exporter: LE,
) -> anyhow::Result<(Dispatch, TelemetryGuard)>
where
    SE: trace::SpanExporter + 'static,
    LE: logs::LogExporter + 'static,
{
    let host = cfg
        .host_name
        .as_ref()
        .map(|host| KeyValue::new("host.name", host.clone()));
    let resource = Resource::builder()
        .with_service_name(cfg.service_name.clone())
        .with_attributes(
            [
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                KeyValue::new("process.pid", i64::from(std::process::id())),
            ]
            .into_iter()
            .chain(host),
        )
        .build();

    let span_processor = trace::BatchSpanProcessor::builder(span_exporter)
        .with_batch_config(
            trace::BatchConfigBuilder::default()
                .with_scheduled_delay(cfg.batch_delay)
                .build(),
        )
        .build();
    let tracer_provider = SdkTracerProvider::builder()
        .with_span_processor(span_processor)
        .with_resource(resource.clone())
        .build();

    let log_processor = logs::BatchLogProcessor::builder(log_exporter)
        .with_batch_config(
            logs::BatchConfigBuilder::default()
                .with_scheduled_delay(cfg.batch_delay)
                .build(),
        )
        .build();
    let logger_provider = SdkLoggerProvider::builder()
        .with_log_processor(log_processor)
        .with_resource(resource)
        .build();

    // Location is on by default in 0.34; set it anyway since the viewer's
    // jump-to-source depends on it. Context activation on span entry is what
    // lets the log bridge stamp trace_id/span_id onto records.
    let span_events = cfg.span_events;
    let span_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer_provider.tracer(env!("CARGO_PKG_NAME")))
        .with_location(true)
        .with_context_activation(true)
        .with_filter(export_filter()?.and(filter_fn(move |meta| span_events || meta.is_span())));

    let log_layer = OpenTelemetryTracingBridge::new(&logger_provider).with_filter(export_filter()?);

    let console_layer = if cfg.console {
        let filter = match std::env::var("RUST_LOG") {
            Ok(directives) if !directives.is_empty() => {
                EnvFilter::try_new(&directives).context("parsing RUST_LOG")?
            }
            _ => EnvFilter::try_new(DEFAULT_CONSOLE_FILTER)?,
        };
        Some(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_file(true)
                .with_line_number(true)
                .with_filter(filter),
        )
    } else {
        None
    };

    let subscriber = Registry::default()
        .with(console_layer)
        .with(span_layer)
        .with(log_layer);

    let guard = TelemetryGuard {
        providers: Some((tracer_provider, logger_provider)),
        shutdown_timeout: cfg.shutdown_timeout,
    };
    Ok((Dispatch::new(subscriber), guard))
}

fn export_filter() -> anyhow::Result<EnvFilter> {
    EnvFilter::try_new(EXPORT_FILTER).context("parsing the export filter")
}

fn build_exporters(
    protocol: Protocol,
    endpoint: &str,
    timeout: Duration,
) -> anyhow::Result<(SpanExporter, LogExporter)> {
    // The protocol is set explicitly so OTEL_EXPORTER_OTLP_PROTOCOL cannot
    // contradict the transport chosen here.
    match protocol {
        Protocol::Grpc => {
            let spans = SpanExporter::builder()
                .with_tonic()
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .with_endpoint(endpoint)
                .with_timeout(timeout)
                .build()
                .context("building the gRPC span exporter")?;
            let logs = LogExporter::builder()
                .with_tonic()
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .with_endpoint(endpoint)
                .with_timeout(timeout)
                .build()
                .context("building the gRPC log exporter")?;
            Ok((spans, logs))
        }
        Protocol::Http => {
            // An explicit HTTP endpoint is used verbatim, so add the signal paths.
            let spans = SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(format!("{endpoint}/v1/traces"))
                .with_timeout(timeout)
                .build()
                .context("building the HTTP span exporter")?;
            let logs = LogExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(format!("{endpoint}/v1/logs"))
                .with_timeout(timeout)
                .build()
                .context("building the HTTP log exporter")?;
            Ok((spans, logs))
        }
    }
}

/// Runs `requests` orders as `service`, exporting over OTLP/gRPC to `grpc`, and returns
/// once everything was exported. Span events are on, so spans carry their logs as events
/// too. For tests that need the data of a real client.
pub async fn export_orders(
    grpc: std::net::SocketAddr,
    service: &str,
    requests: u64,
) -> anyhow::Result<()> {
    export_orders_from_host(grpc, service, None, requests).await
}

/// [`export_orders`] as the instance of `service` on `host` (its `host.name`).
pub async fn export_orders_from_host(
    grpc: std::net::SocketAddr,
    service: &str,
    host: Option<&str>,
    requests: u64,
) -> anyhow::Result<()> {
    use tracing::instrument::WithSubscriber;

    let config = TelemetryConfig {
        service_name: service.into(),
        host_name: host.map(str::to_owned),
        endpoint: Some(format!("http://{grpc}")),
        protocol: Protocol::Grpc,
        console: false,
        span_events: true,
        batch_delay: Duration::from_millis(20),
        ..TelemetryConfig::default()
    };
    let (dispatch, guard) = build_telemetry(&config)?;
    let plan = crate::RunPlan {
        iterations: Some(requests),
        interval: Duration::ZERO,
    };
    crate::run(plan, std::future::pending())
        .with_subscriber(dispatch)
        .await;
    tokio::task::spawn_blocking(move || guard.shutdown()).await?
}
