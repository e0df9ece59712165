//! The value `init` returns: dropping it flushes what is buffered and stops exporting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::export::Failures;

/// Keeps the exporters running. Hold it in `main`; when it is dropped the batches
/// still buffered are sent, within the shutdown timeout, and the exporters stop.
///
/// Dropping blocks the current thread for at most that timeout, and it works on any
/// runtime, a current-thread one included: the exporters run on threads of their own.
#[must_use = "dropping the guard stops exporting at once"]
#[derive(Debug, Default)]
pub struct Guard {
    pipeline: Option<Pipeline>,
}

#[derive(Debug)]
pub(crate) struct Pipeline {
    pub tracer_provider: SdkTracerProvider,
    pub logger_provider: SdkLoggerProvider,
    /// Drives the gRPC channel, apart from whatever runtime the program runs.
    pub runtime: Option<tokio::runtime::Runtime>,
    pub failures: Arc<Failures>,
    pub service_name: String,
    pub endpoint: String,
    pub shutdown_timeout: Duration,
}

impl Guard {
    pub(crate) fn new(pipeline: Pipeline) -> Self {
        Self {
            pipeline: Some(pipeline),
        }
    }

    /// A guard that exports nothing, for a setup that failed.
    pub(crate) fn inert() -> Self {
        Self::default()
    }

    /// Whether spans and logs are being exported.
    pub fn is_exporting(&self) -> bool {
        self.pipeline.is_some()
    }

    /// Exports failed so far (each a batch of spans or logs that was lost).
    pub fn failed_exports(&self) -> u64 {
        self.pipeline
            .as_ref()
            .map_or(0, |pipeline| pipeline.failures.count())
    }

    /// Sends what is buffered now, blocking until it is sent or has failed.
    pub fn flush(&self) {
        if let Some(pipeline) = &self.pipeline {
            // A failure is counted by the exporter and reported on drop.
            let _ = pipeline.tracer_provider.force_flush();
            let _ = pipeline.logger_provider.force_flush();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(pipeline) = self.pipeline.take() else {
            return;
        };
        let timeout = pipeline.shutdown_timeout;
        let started = Instant::now();
        // Both at once, so an unreachable collector costs one timeout, not two.
        let shut_logs = || pipeline.logger_provider.shutdown_with_timeout(timeout);
        let (spans, logs) = std::thread::scope(|scope| {
            let logs = std::thread::Builder::new()
                .name("oculus-tracing-shutdown".into())
                .spawn_scoped(scope, shut_logs);
            let spans = pipeline.tracer_provider.shutdown_with_timeout(timeout);
            let logs = match logs {
                Ok(thread) => thread.join().ok(),
                // No thread to spare: one after the other, then.
                Err(_) => Some(shut_logs()),
            };
            (spans, logs)
        });
        if let Some(runtime) = pipeline.runtime {
            // Not `drop`: that blocks, and panics inside an async context.
            runtime.shutdown_background();
        }
        let failed = pipeline.failures.count();
        if failed > 0 {
            let reason = pipeline.failures.first().unwrap_or_default();
            eprintln!(
                "oculus-tracing ({}): {failed} export{} to {} failed, telemetry lost: {}",
                pipeline.service_name,
                if failed == 1 { "" } else { "s" },
                pipeline.endpoint,
                first_line(&reason, 120),
            );
        } else if spans.is_err() || !matches!(logs, Some(Ok(()))) {
            eprintln!(
                "oculus-tracing ({}): gave up flushing telemetry to {} after {:.1} s",
                pipeline.service_name,
                pipeline.endpoint,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// The first line of `text`, at most `max_chars` long, so the report stays one short line.
fn first_line(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn report_is_one_short_line() {
        assert_eq!(first_line("a\nb", 10), "a");
        assert_eq!(first_line("abcdef", 3), "abc...");
        assert_eq!(first_line("abc", 3), "abc");
        assert_eq!(first_line("", 3), "");
    }
}
