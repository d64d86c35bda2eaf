//! W3C trace context (`traceparent`, `tracestate`) read from incoming requests and written into
//! upstream requests, through the propagator [`super::trace_export`] installs.

use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Makes the trace context carried by `headers`, if any, the parent of `span`.
pub(crate) fn continue_from(headers: &http::HeaderMap, span: &tracing::Span) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Fails only when the span is disabled (no trace export), which needs no parent.
    let _ = span.set_parent(parent);
}

/// Writes the context of `span` into `headers`, so the receiver continues the trace; writes
/// nothing when traces are not exported.
pub(crate) fn inject_into(headers: &mut http::HeaderMap, span: &tracing::Span) {
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// Returns the OpenTelemetry context of `span` (invalid when traces are not exported), for links.
pub(crate) fn span_context_of(span: &tracing::Span) -> opentelemetry::trace::SpanContext {
    use opentelemetry::trace::TraceContextExt as _;
    span.context().span().span_context().clone()
}

/// Links `span` to `context`, the span of an earlier operation it follows from.
pub(crate) fn link_to(span: &tracing::Span, context: opentelemetry::trace::SpanContext) {
    span.add_link(context);
}
