//! The span of one event handed to a subscriber: it carries the event id (so one event can be
//! followed across its deliveries) and, while the gateway still remembers the span the event was
//! appended under, a link to it. It is a child of the `Subscribe` call's span. Its target is
//! [`TRACE_ONLY_TARGET`]: without a trace export nothing records it, so deliveries pay nothing.

use tracing::field::Empty;

use crate::events::fanout::Delivery;
use crate::telemetry::event_links::EventLinks;
use crate::telemetry::{TRACE_ONLY_TARGET, trace_context};

/// Records the delivery of `delivery` to a stream of `consumer` (empty for an ephemeral
/// subscription), linked to the event's append span when `links` remembers it.
pub(super) fn trace_delivery(links: &EventLinks, delivery: &Delivery, consumer: &str) {
    let stored = &delivery.event;
    let span = tracing::info_span!(
        target: TRACE_ONLY_TARGET,
        "event.deliver",
        otel.name = "event deliver",
        otel.kind = "producer",
        event.id = %stored.event.id,
        event.type = ?stored.event.event_type,
        // Signed: OpenTelemetry attributes carry integers as i64.
        event.cursor = i64::try_from(stored.cursor).unwrap_or(i64::MAX),
        event.delivery_count = i64::from(delivery.delivery_count),
        account = %stored.event.account,
        consumer = Empty,
    );
    if !consumer.is_empty() {
        span.record("consumer", consumer);
    }
    if let Some(context) = links.context_of(&stored.event.id) {
        trace_context::link_to(&span, context);
    }
}
