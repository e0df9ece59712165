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
