//! What a subscription asks for and what it gets.

use std::sync::Arc;
use std::time::Duration;

use crate::events::consumers::{AccountScope, ConsumerKey, EventFilter};
use crate::events::{Cursor, StoredEvent};

/// One event as delivered on a stream.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Delivery {
    /// The event.
    pub event: Arc<StoredEvent>,
    /// Deliveries to the consumer including this one (1 for ephemeral subscriptions).
    pub delivery_count: u32,
}

/// One message of a subscription stream.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StreamItem {
    /// The next event.
    Event(Delivery),
    /// Liveness signal, with the newest cursor in the log.
    Heartbeat {
        /// The latest cursor when it was sent.
        latest: Cursor,
    },
}

/// Where a new subscription (or a new named consumer) starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// With the first event stored after the call.
    Latest,
    /// With the oldest retained event.
    Earliest,
    /// With the first event after this cursor.
    AfterCursor(Cursor),
    /// With the first event received at or after this time (ms since the Unix epoch).
    Since(i64),
}

/// How events are acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AckMode {
    /// Acked once written to the stream.
    Auto,
    /// Acked by `Ack`; redelivered when not acked within `ack_wait`.
    Explicit,
}

/// Per-subscription delivery settings, defaults applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeliverySettings {
    /// How events are acknowledged (named consumers only).
    pub ack_mode: AckMode,
    /// Most unacknowledged events outstanding on the subscription.
    pub max_in_flight: u32,
    /// How long an event may stay unacknowledged (explicit acks).
    pub ack_wait: Duration,
    /// Longest silence before a heartbeat.
    pub heartbeat_interval: Duration,
}

/// A request to subscribe, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Subscription {
    /// The account acting (and owning the consumer).
    pub account: String,
    /// The named consumer; `None` for an ephemeral subscription.
    pub consumer: Option<String>,
    /// Requested filters (an empty list means "the consumer's" or "all").
    pub filter: EventFilter,
    /// The accounts the caller may read: a named consumer reading others is refused.
    pub scope: AccountScope,
    /// Where to start (ignored when resuming a named consumer).
    pub start: Start,
    /// Delivery settings.
    pub delivery: DeliverySettings,
}

/// A named consumer and its progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerInfo {
    /// Who it is.
    pub key: ConsumerKey,
    /// What it consumes.
    pub filter: EventFilter,
    /// Every event up to here is acknowledged.
    pub acked: Cursor,
    /// Delivered, not acknowledged.
    pub pending: u64,
    /// Events after `acked` in the log.
    pub lag: u64,
    /// Open subscriptions.
    pub members: u32,
}
