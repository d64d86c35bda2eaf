//! Delivered events encoded once and shared by every stream that delivers them.
//!
//! Converting a stored event means parsing its raw JSON twice (typed payload and `raw` struct) and
//! encoding a message with a nested `Struct`; with many subscriptions tailing the log, each new
//! event would otherwise be converted and encoded once per stream. The most recent encodings are
//! kept by cursor and delivery count, so the streams at the head of the log share them; a stream
//! far behind encodes for itself without evicting them.
//!
//! Bounded in count and in bytes (issue 14, defect 6): an event near `webhooks.max_event_bytes`
//! encodes to megabytes, so a count alone does not bound the memory. The newest encoding is
//! always kept, whatever its size.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use prost::Message as _;

use super::subscriptions::response;
use crate::events::Cursor;
use crate::events::fanout::{Delivery, StreamItem};

/// Encodings kept: a few seconds of events at a thousand webhooks a second.
const DEFAULT_CAPACITY: usize = 4096;
/// Bytes of encodings kept (64 MiB): far more than 4,096 ordinary events take, and a dozen of the
/// largest events the ingress accepts.
const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// The shared encodings, newest cursors kept.
#[derive(Debug)]
pub(crate) struct SharedEvents {
    recent: Mutex<Encodings>,
    capacity: usize,
    max_bytes: usize,
    /// Added to `received_at` for a CRM entity request's `response_deadline`.
    crm_response_timeout: Duration,
}

/// The kept encodings and their total size.
#[derive(Debug, Default)]
struct Encodings {
    by_delivery: BTreeMap<(Cursor, u32), Bytes>,
    bytes: usize,
}

impl SharedEvents {
    /// Keeps the default number and bytes of encodings; CRM entity requests get their response
    /// deadline from `crm_response_timeout`.
    pub(crate) fn new(crm_response_timeout: Duration) -> Self {
        Self::with_bounds(DEFAULT_CAPACITY, DEFAULT_MAX_BYTES, crm_response_timeout)
    }

    /// Keeps at most `capacity` encodings taking at most `max_bytes` (the newest one always).
    pub(crate) fn with_bounds(
        capacity: usize,
        max_bytes: usize,
        crm_response_timeout: Duration,
    ) -> Self {
        Self {
            recent: Mutex::new(Encodings::default()),
            capacity: capacity.max(1),
            max_bytes,
            crm_response_timeout,
        }
    }

    /// Returns the `SubscribeResponse` of `item`, encoded; an event's encoding is made at most
    /// once while it is recent, a heartbeat's each time (it carries `now_ms`).
    pub(crate) fn encode(&self, item: StreamItem, now_ms: i64) -> Bytes {
        match item {
            StreamItem::Event(delivery) => self.encoded_event(delivery),
            heartbeat @ StreamItem::Heartbeat { .. } => {
                Bytes::from(response(heartbeat, now_ms, self.crm_response_timeout).encode_to_vec())
            }
        }
    }

    /// The shared encoding of the delivery's event.
    fn encoded_event(&self, delivery: Delivery) -> Bytes {
        let key = (delivery.event.cursor, delivery.delivery_count);
        if let Some(encoded) = self.recent.lock().by_delivery.get(&key) {
            return encoded.clone();
        }
        // Encoded outside the lock; two streams racing on one event both encode, harmlessly.
        let event = StreamItem::Event(delivery);
        let encoded = Bytes::from(response(event, 0, self.crm_response_timeout).encode_to_vec());
        let mut recent = self.recent.lock();
        if let Some(replaced) = recent.by_delivery.insert(key, encoded.clone()) {
            recent.bytes -= replaced.len();
        }
        recent.bytes += encoded.len();
        // The oldest cursors go: a stream far behind the others does not push out what the
        // streams at the head are sharing.
        while recent.by_delivery.len() > 1
            && (recent.by_delivery.len() > self.capacity || recent.bytes > self.max_bytes)
        {
            if let Some((_, evicted)) = recent.by_delivery.pop_first() {
                recent.bytes -= evicted.len();
            }
        }
        encoded
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::events::StoredEvent;
    use crate::events::log::conformance;

    fn delivery(cursor: Cursor, delivery_count: u32) -> StreamItem {
        StreamItem::Event(Delivery {
            event: Arc::new(StoredEvent {
                cursor,
                event: conformance::event(&format!("event-{cursor}"), 1000),
            }),
            delivery_count,
        })
    }

    /// The CRM hold the tests encode with.
    const HOLD: Duration = Duration::from_secs(25);

    fn typed(item: StreamItem, now_ms: i64) -> Bytes {
        Bytes::from(response(item, now_ms, HOLD).encode_to_vec())
    }

    #[test]
    fn shared_encodings_are_the_bytes_of_the_typed_responses() {
        let shared = SharedEvents::new(HOLD);
        let heartbeat = || StreamItem::Heartbeat { latest: 9 };

        let first = shared.encode(delivery(7, 1), 5);
        let again = shared.encode(delivery(7, 1), 6);
        let redelivered = shared.encode(delivery(7, 3), 7);
        let beat = shared.encode(heartbeat(), 1_700_000_000_123);

        assert_eq!(first, typed(delivery(7, 1), 5));
        assert_eq!(again.as_ptr(), first.as_ptr(), "made once, shared");
        assert_eq!(redelivered, typed(delivery(7, 3), 7));
        assert_eq!(beat, typed(heartbeat(), 1_700_000_000_123));
    }

    #[test]
    fn only_the_newest_cursors_are_kept() {
        let shared = SharedEvents::with_bounds(2, usize::MAX, HOLD);

        for cursor in [5, 6, 7, 1] {
            shared.encode(delivery(cursor, 1), 0);
        }

        let kept: Vec<(Cursor, u32)> = shared.recent.lock().by_delivery.keys().copied().collect();
        assert_eq!(kept, vec![(6, 1), (7, 1)]);
    }

    #[test]
    fn large_encodings_are_evicted_by_bytes_before_the_count_is_reached() {
        let large = |cursor: Cursor| {
            let mut event = conformance::event(&format!("event-{cursor}"), 1000);
            // 100,000 small numbers: 200 kB of JSON, over a megabyte encoded.
            event.raw = serde_json::json!({ "numbers": vec![1; 100_000] });
            StreamItem::Event(Delivery {
                event: Arc::new(StoredEvent { cursor, event }),
                delivery_count: 1,
            })
        };
        let one = typed(large(1), 0).len();
        assert!(one > 1_000_000, "{one}");
        let shared = SharedEvents::with_bounds(4096, 3 * one, HOLD);

        for cursor in 1..=5 {
            shared.encode(large(cursor), 0);
        }

        let recent = shared.recent.lock();
        let kept: Vec<Cursor> = recent
            .by_delivery
            .keys()
            .map(|(cursor, _)| *cursor)
            .collect();
        assert_eq!(kept, vec![3, 4, 5]);
        assert_eq!(recent.bytes, 3 * one);
        drop(recent);
        let tiny = SharedEvents::with_bounds(4096, 10, HOLD);
        tiny.encode(large(9), 0);
        assert_eq!(
            tiny.recent.lock().by_delivery.len(),
            1,
            "the newest is kept"
        );
    }
}
