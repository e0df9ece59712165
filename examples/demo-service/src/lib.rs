//! A small instrumented service that exports spans and logs over OTLP the way
//! a typical Rust service does: `tracing` for instrumentation,
//! `tracing-opentelemetry` for spans, `opentelemetry-appender-tracing` for log
//! records, `opentelemetry-otlp` for transport.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use demo_service::{RunPlan, TelemetryConfig, init_telemetry, run};
//! let guard = init_telemetry(&TelemetryConfig::default())?;
//! let plan = RunPlan { iterations: Some(3), interval: std::time::Duration::ZERO };
//! let summary = run(plan, std::future::pending()).await;
//! tokio::task::spawn_blocking(move || guard.shutdown()).await??;
//! # let _ = summary;
//! # Ok(())
//! # }
//! ```

mod orders;
mod telemetry;

pub use orders::{
    Item, Order, OrderError, Response, RunPlan, RunSummary, fails, handle_order, order_id_for, run,
};
pub use telemetry::{
    DEFAULT_CONSOLE_FILTER, EXPORT_FILTER, Protocol, TelemetryConfig, TelemetryGuard,
    build_telemetry, build_telemetry_with_exporters, export_orders, export_orders_from_host,
    init_telemetry,
};
