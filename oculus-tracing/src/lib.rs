//! One-line setup for Rust programs: `tracing` spans and events exported over OTLP to
//! Oculus, or to any OpenTelemetry collector.
//!
//! ```no_run
//! let _guard = oculus_tracing::init("checkout");
//! tracing::info!("spans and logs now go to localhost:4317");
//! // Dropping the guard at the end of `main` flushes what is still buffered.
//! ```
//!
//! `init` installs a `tracing` subscriber with two layers: tracing-opentelemetry turns
//! spans into OpenTelemetry spans, and the opentelemetry-appender-tracing bridge turns
//! events into log records carrying the current span's trace and span ids. Both carry
//! their source location (`code.file.path`/`code.line.number` on spans,
//! `code.filepath`/`code.lineno` on logs), so the viewer can jump to the line.
//! Batch processors send in the background: instrumented code never waits on the
//! network, and a full queue drops rather than blocks.
//!
//! Where to send comes from the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`) unless
//! the [`Builder`] says otherwise; see [`config`] for the precedence.
//!
//! With no collector listening the program runs and exits as usual; the guard then
//! prints one line saying how many exports failed.

pub mod config;
mod export;
mod guard;
pub mod propagation;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{self, SdkLoggerProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{self, SdkTracerProvider};
use tracing::{Dispatch, Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterExt as _, filter_fn};
use tracing_subscriber::layer::{Filter, SubscriberExt as _};
use tracing_subscriber::{Layer as _, Registry};

pub use config::{ConfigError, Protocol};
pub use guard::Guard;

use config::{Explicit, Settings};
use guard::Pipeline;

/// Filter directives when neither [`Builder::filter`] nor `RUST_LOG` gives any.
pub const DEFAULT_FILTER: &str = "info";

/// Crates the exporter itself runs on. Their spans and events are never exported (each
/// export would log about itself and be exported again, forever) nor printed.
pub const EXPORTER_CRATES: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "reqwest",
    "tonic",
    "tower",
    "want",
    "tracing_opentelemetry",
];

/// Installs the global subscriber exporting as `service_name`, with every setting from
/// the environment or its default. Never fails: a setup that cannot be made is reported
/// in one line on stderr and the program runs without exporting.
pub fn init(service_name: impl Into<String>) -> Guard {
    builder(service_name).init()
}

/// A [`Builder`] for the settings `init` leaves to the environment.
pub fn builder(service_name: impl Into<String>) -> Builder {
    Builder {
        explicit: Explicit {
            service_name: service_name.into(),
            ..Explicit::default()
        },
        filter: None,
        console: false,
        span_events: false,
        batch_delay: Duration::from_millis(500),
        export_timeout: Duration::from_secs(2),
        shutdown_timeout: Duration::from_secs(3),
    }
}

/// Why the subscriber could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad filter {directives:?}: {source}")]
    Filter {
        directives: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("cannot start the exporter's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[from] tracing::dispatcher::SetGlobalDefaultError),
}

/// Settings beyond the service name. Each call overrides the matching `OTEL_*` variable.
#[derive(Debug, Clone)]
pub struct Builder {
    explicit: Explicit,
    filter: Option<String>,
    console: bool,
    span_events: bool,
    batch_delay: Duration,
    export_timeout: Duration,
    shutdown_timeout: Duration,
}

impl Builder {
    /// The collector's base URL, such as `http://127.0.0.1:4317`. For HTTP the signal
    /// paths `/v1/traces` and `/v1/logs` are appended.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.explicit.endpoint = Some(url.into());
        self
    }

    /// The OTLP transport.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.explicit.protocol = Some(protocol);
        self
    }

    /// A resource attribute on everything exported, such as `deployment.environment`.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.explicit.resource.push((key.into(), value.into()));
        self
    }

    /// `tracing_subscriber::EnvFilter` directives for what is exported (and printed),
    /// such as `info,my_crate=trace`. Without it `RUST_LOG` applies, else
    /// [`DEFAULT_FILTER`].
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Some(directives.into());
        self
    }

    /// Also prints events to stderr, human-readable. Off by default.
    pub fn console(mut self, on: bool) -> Self {
        self.console = on;
        self
    }

    /// Also attaches each event to its span as a span event. Off by default: every event
    /// is already a log record carrying the span's ids.
    pub fn span_events(mut self, on: bool) -> Self {
        self.span_events = on;
        self
    }

    /// How long the batch processors wait before sending what they hold.
    pub fn batch_delay(mut self, delay: Duration) -> Self {
        self.batch_delay = delay;
        self
    }

    /// The longest the guard's drop waits for the last batches.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Like [`Builder::try_init`], but a failure is reported in one line on stderr and
    /// the program goes on without exporting.
    pub fn init(self) -> Guard {
        self.try_init().unwrap_or_else(|error| {
            eprintln!("oculus-tracing: not exporting: {error}");
            Guard::inert()
        })
    }

    /// Installs the subscriber as the global default, and the W3C trace-context
    /// propagator for [`propagation`].
    pub fn try_init(self) -> Result<Guard, Error> {
        let (dispatch, guard) = self.build()?;
        tracing::dispatcher::set_global_default(dispatch)?;
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        Ok(guard)
    }

    /// The subscriber without installing it, for a scope of its own
    /// (`tracing::dispatcher::with_default`). Unusable `OTEL_*` variables are reported
    /// on stderr, one line each, and their defaults used.
    pub fn build(self) -> Result<(Dispatch, Guard), Error> {
        let (settings, problems) = Settings::resolve(&self.explicit, |var| std::env::var(var).ok());
        for problem in problems {
            eprintln!("oculus-tracing: {problem}");
        }
        let directives = self
            .filter
            .clone()
            .or_else(|| {
                std::env::var("RUST_LOG")
                    .ok()
                    .filter(|d| !d.trim().is_empty())
            })
            .unwrap_or_else(|| DEFAULT_FILTER.to_owned());

        // Made before anything is started, so a typo costs nothing to undo.
        let span_filter = layer_filter(&directives)?;
        let log_filter = layer_filter(&directives)?;
        let console_filter = layer_filter(&directives)?;

        let failures = Arc::new(export::Failures::default());
        // tonic binds its channel to the runtime current when it is built; one of our
        // own keeps it running while the program's runtime is blocked in the guard's
        // drop (a current-thread runtime would otherwise hang there).
        let runtime = match settings.protocol {
            Protocol::Grpc => Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("oculus-tracing")
                    .enable_all()
                    .build()
                    .map_err(Error::Runtime)?,
            ),
            Protocol::HttpProtobuf | Protocol::HttpJson => None,
        };
        let exporters = {
            let _entered = runtime.as_ref().map(tokio::runtime::Runtime::enter);
            export::build(&settings, self.export_timeout, &failures)
        };
        let (span_exporter, log_exporter) = match exporters {
            Ok(exporters) => exporters,
            Err(error) => {
                // Dropping a runtime inside the program's async context would panic.
                if let Some(runtime) = runtime {
                    runtime.shutdown_background();
                }
                return Err(error.into());
            }
        };

        // Not `Resource::builder()`: its detectors would read the environment again,
        // past the precedence resolved above. Only the SDK's own attributes are kept.
        let resource = Resource::builder_empty()
            .with_detector(Box::new(TelemetryResourceDetector))
            .with_service_name(settings.service_name.clone())
            .with_attributes(
                settings
                    .resource
                    .iter()
                    .map(|(key, value)| KeyValue::new(key.clone(), value.clone()))
                    .chain([KeyValue::new("process.pid", i64::from(std::process::id()))]),
            )
            .build();
        let tracer_provider = SdkTracerProvider::builder()
            .with_span_processor(
                trace::BatchSpanProcessor::builder(span_exporter)
                    .with_batch_config(
                        trace::BatchConfigBuilder::default()
                            .with_scheduled_delay(self.batch_delay)
                            .build(),
                    )
                    .build(),
            )
            .with_resource(resource.clone())
            .build();
        let logger_provider = SdkLoggerProvider::builder()
            .with_log_processor(
                logs::BatchLogProcessor::builder(log_exporter)
                    .with_batch_config(
                        logs::BatchConfigBuilder::default()
                            .with_scheduled_delay(self.batch_delay)
                            .build(),
                    )
                    .build(),
            )
            .with_resource(resource)
            .build();

        // Context activation on span entry is what lets the log bridge stamp the
        // span's ids onto each record.
        let span_events = self.span_events;
        let span_layer = tracing_opentelemetry::layer()
            .with_tracer(tracer_provider.tracer(env!("CARGO_PKG_NAME")))
            .with_location(true)
            .with_context_activation(true)
            .with_filter(span_filter.and(filter_fn(move |meta| span_events || meta.is_span())));
        let log_layer = OpenTelemetryTracingBridge::new(&logger_provider).with_filter(log_filter);
        let console_layer = self.console.then(|| {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_file(true)
                .with_line_number(true)
                .with_filter(console_filter)
        });
        let subscriber = Registry::default()
            .with(console_layer)
            .with(span_layer)
            .with(log_layer);

        let guard = Guard::new(Pipeline {
            tracer_provider,
            logger_provider,
            runtime,
            failures,
            service_name: settings.service_name,
            endpoint: settings.endpoint,
            shutdown_timeout: self.shutdown_timeout,
        });
        Ok((Dispatch::new(subscriber), guard))
    }
}

/// The filter of one layer: `directives`, minus the exporter's own crates.
fn layer_filter<S: Subscriber>(directives: &str) -> Result<impl Filter<S> + use<S>, Error> {
    let user = EnvFilter::try_new(directives).map_err(|source| Error::Filter {
        directives: directives.to_owned(),
        source,
    })?;
    Ok(user.and(filter_fn(|meta| !from_exporter(meta))))
}

/// Whether `meta` comes from the exporter's own stack: one of [`EXPORTER_CRATES`] or
/// any `opentelemetry*` crate.
fn from_exporter(meta: &Metadata<'_>) -> bool {
    is_exporter_target(meta.target())
}

fn is_exporter_target(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or_default();
    krate.starts_with("opentelemetry") || EXPORTER_CRATES.contains(&krate)
}

#[cfg(test)]
mod tests {
    use super::is_exporter_target;

    #[test]
    fn the_exporters_own_crates_are_recognised() {
        for target in [
            "h2::codec",
            "hyper",
            "hyper_util::client::legacy",
            "tonic::transport",
            "tower::buffer::worker",
            "reqwest::connect",
            "opentelemetry",
            "opentelemetry_sdk",
            "opentelemetry-otlp",
            "opentelemetry_otlp::exporter",
            "tracing_opentelemetry::layer",
        ] {
            assert!(is_exporter_target(target), "{target}");
        }
        for target in [
            "shop::front",
            "h2o",
            "hyperloop::x",
            "tower_http::trace",
            "my_tonic",
            "",
        ] {
            assert!(!is_exporter_target(target), "{target}");
        }
    }
}
