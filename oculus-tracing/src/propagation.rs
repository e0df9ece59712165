//! W3C trace context over HTTP headers, so one trace spans several services.
//!
//! The caller injects the current span's context into its request's headers; the
//! callee makes the span handling the request a child of what it extracts.
//! [`crate::init`] installs the `traceparent`/`tracestate` propagator these use.

use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Writes `span`'s context (`traceparent`, `tracestate`) into `headers`.
pub fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// Makes `span` a child of the context in `headers`; without one `span` stays a root.
/// Call it before `span` is first entered.
pub fn set_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Fails only for a span that is disabled or already started: it then keeps its own trace.
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    fn ids(span: &tracing::Span) -> (String, String) {
        let context = span.context();
        let span_context = context.span().span_context().clone();
        (
            span_context.trace_id().to_string(),
            span_context.span_id().to_string(),
        )
    }

    #[test]
    fn the_callee_continues_the_callers_trace() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::Registry::default()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let caller = tracing::info_span!("call");
            let mut headers = http::HeaderMap::new();
            inject(&caller, &mut headers);
            let (trace_id, span_id) = ids(&caller);
            let traceparent = headers
                .get("traceparent")
                .and_then(|value| value.to_str().ok());
            assert_eq!(
                traceparent,
                Some(format!("00-{trace_id}-{span_id}-01").as_str())
            );

            let callee = tracing::info_span!("serve");
            set_parent(&callee, &headers);
            assert_eq!(ids(&callee).0, trace_id);

            let stranger = tracing::info_span!("serve");
            set_parent(&stranger, &http::HeaderMap::new());
            assert_ne!(ids(&stranger).0, trace_id, "no header: a trace of its own");
        });
    }
}
