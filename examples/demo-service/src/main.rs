//! `demo-service`: sends simulated `GET /orders/{id}` requests as OTLP spans and logs.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use demo_service::{Protocol, RunPlan, TelemetryConfig, init_telemetry, run};
use tracing::info;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Collector base URL [default: http://127.0.0.1:4317 for grpc, http://127.0.0.1:4318 for http].
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    endpoint: Option<String>,
    /// OTLP transport; http sends protobuf to /v1/traces and /v1/logs.
    #[arg(long, value_enum, default_value_t = Protocol::Grpc, env = "OTEL_EXPORTER_OTLP_PROTOCOL")]
    protocol: Protocol,
    /// Number of requests to simulate.
    #[arg(long, default_value_t = 20)]
    iterations: u64,
    /// Pause between requests in milliseconds; 0 sends as fast as possible.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    /// Keep sending until Ctrl-C (ignores --iterations).
    #[arg(long)]
    forever: bool,
    /// `service.name` resource attribute.
    #[arg(long, default_value = "demo-service", env = "OTEL_SERVICE_NAME")]
    service_name: String,
    /// Also attach each event to its span as a span event (logs are always sent as log records).
    #[arg(long)]
    span_events: bool,
}

// Multi-thread runtime: provider shutdown blocks, and on a current-thread
// runtime the gRPC exporter could then never finish its I/O.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cfg = TelemetryConfig {
        service_name: args.service_name,
        endpoint: args.endpoint,
        protocol: args.protocol,
        span_events: args.span_events,
        ..TelemetryConfig::default()
    };
    let guard = init_telemetry(&cfg)?;
    info!(endpoint = %cfg.resolved_endpoint(), protocol = ?cfg.protocol, service.name = %cfg.service_name, "exporting OTLP");

    let plan = RunPlan {
        iterations: (!args.forever).then_some(args.iterations),
        interval: Duration::from_millis(args.interval_ms),
    };
    let stop = async {
        // Without a signal handler the run just goes on until its plan ends.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let summary = run(plan, stop).await;
    info!(
        requests = summary.requests,
        failed = summary.failed,
        "done, flushing telemetry"
    );

    // Shutdown blocks until the last batches are sent, so keep it off the async workers.
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .context("telemetry shutdown task")?
        .context("telemetry was not fully delivered")?;
    Ok(())
}
