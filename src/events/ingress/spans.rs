//! The spans of one webhook: a server span for the HTTP receipt (HTTP semantic conventions,
//! named after the route template, never the path that carries the secret) and, inside it, a
//! span for the durable append of its events.

use axum::http::{HeaderMap, StatusCode};
use tracing::field::Empty;

use crate::telemetry::trace_context;

/// Route template of webhooks authenticated by the secret in the URL.
pub(super) const ROUTE_WITH_SECRET: &str = "/webhooks/{account}/{secret}";
/// Route template of webhooks authenticated by the crmKey only.
pub(super) const ROUTE_WITHOUT_SECRET: &str = "/webhooks/{account}";

/// Opens the server span of one webhook request to `route`, continuing the sender's W3C trace
/// context when it sends one. The account and the status are recorded as they become known.
pub(super) fn receipt_span(route: &'static str, headers: &HeaderMap) -> tracing::Span {
    let span = tracing::info_span!(
        "webhook.receive",
        otel.name = format!("POST {route}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = "POST",
        http.route = route,
        http.response.status_code = Empty,
        account = Empty,
    );
    trace_context::continue_from(headers, &span);
    span
}

/// Records the account the request was addressed to (a configured one, or `-`).
pub(super) fn record_account(account: &str) {
    tracing::Span::current().record("account", account);
}

/// Records the answer's status on the receipt span; 5xx answers mark it failed.
pub(super) fn record_status(span: &tracing::Span, status: StatusCode) {
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

/// Opens the span of the durable append of `count` events of `bytes` bytes (as delivered) for
/// `account`, a child of the current receipt span.
pub(super) fn append_span(account: &str, count: usize, bytes: usize) -> tracing::Span {
    tracing::info_span!(
        "event_log.append",
        otel.name = "event_log append",
        otel.kind = "internal",
        otel.status_code = Empty,
        account = account,
        // Signed: OpenTelemetry attributes carry integers as i64.
        events.count = i64::try_from(count).unwrap_or(i64::MAX),
        events.bytes = i64::try_from(bytes).unwrap_or(i64::MAX),
    )
}
