//! The OTLP exporters for spans and logs, and the count of exports that failed.
//!
//! Failures are counted rather than printed: with no collector running every batch
//! fails, and the guard reports them once, in one line, when the program ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_otlp::{ExporterBuildError, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::config::{Protocol, Settings};

/// Exports that failed, and the first reason.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    count: AtomicU64,
    first: Mutex<Option<String>>,
}

impl Failures {
    fn note(&self, result: &OTelSdkResult) {
        if let Err(error) = result
            && self.count.fetch_add(1, Ordering::Relaxed) == 0
            && let Ok(mut first) = self.first.lock()
        {
            *first = Some(error.to_string());
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn first(&self) -> Option<String> {
        self.first.lock().ok().and_then(|first| first.clone())
    }
}

/// An exporter that notes its failures in [`Failures`].
#[derive(Debug)]
pub(crate) struct Counted<E> {
    inner: E,
    failures: Arc<Failures>,
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.failures.note(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: LogExporter> LogExporter for Counted<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.failures.note(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(
        &self,
        level: opentelemetry::logs::Severity,
        target: &str,
        name: Option<&str>,
    ) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

pub(crate) type Exporters = (
    Counted<opentelemetry_otlp::SpanExporter>,
    Counted<opentelemetry_otlp::LogExporter>,
);

/// Builds both exporters. For gRPC the caller must have entered the runtime that is to
/// drive the channel: tonic binds its connection tasks to it.
pub(crate) fn build(
    settings: &Settings,
    timeout: Duration,
    failures: &Arc<Failures>,
) -> Result<Exporters, ExporterBuildError> {
    use opentelemetry_otlp::{LogExporter, SpanExporter};
    // The protocol and endpoints are set explicitly: they were resolved already, and the
    // exporter's own reading of OTEL_* must not contradict them.
    let (spans, logs) = match settings.protocol {
        Protocol::Grpc => (
            SpanExporter::builder()
                .with_tonic()
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .with_endpoint(&settings.traces_url)
                .with_timeout(timeout)
                .build()?,
            LogExporter::builder()
                .with_tonic()
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .with_endpoint(&settings.logs_url)
                .with_timeout(timeout)
                .build()?,
        ),
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let wire = if settings.protocol == Protocol::HttpJson {
                opentelemetry_otlp::Protocol::HttpJson
            } else {
                opentelemetry_otlp::Protocol::HttpBinary
            };
            (
                SpanExporter::builder()
                    .with_http()
                    .with_protocol(wire)
                    .with_endpoint(&settings.traces_url)
                    .with_timeout(timeout)
                    .build()?,
                LogExporter::builder()
                    .with_http()
                    .with_protocol(wire)
                    .with_endpoint(&settings.logs_url)
                    .with_timeout(timeout)
                    .build()?,
            )
        }
    };
    let spans = Counted {
        inner: spans,
        failures: Arc::clone(failures),
    };
    let logs = Counted {
        inner: logs,
        failures: Arc::clone(failures),
    };
    Ok((spans, logs))
}
