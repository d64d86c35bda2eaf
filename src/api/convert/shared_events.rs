//! Delivered events encoded once and shared by every stream that delivers them.
//!
//! Converting a stored event means parsing its raw JSON twice (typed payload and `raw` struct) and
//! encoding a message with a nested `Struct`; with many subscriptions tailing the log, each new
//! event would otherwise be converted and encoded once per stream. The most recent encodings are
//! kept by cursor and delivery count, so the streams at the head of the log share them; a stream
//! far behind encodes for itself without evicting them.

use std::collections::BTreeMap;

use bytes::Bytes;
use parking_lot::Mutex;
use prost::Message as _;

use super::subscriptions::response;
use crate::events::Cursor;
use crate::events::fanout::{Delivery, StreamItem};

/// Encodings kept: a few seconds of events at a thousand webhooks a second.
const DEFAULT_CAPACITY: usize = 4096;

/// The shared encodings, newest cursors kept.
#[derive(Debug)]
pub struct SharedEvents {
    recent: Mutex<BTreeMap<(Cursor, u32), Bytes>>,
    capacity: usize,
}

impl Default for SharedEvents {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl SharedEvents {
    /// Keeps at most `capacity` encodings.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            recent: Mutex::new(BTreeMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Returns the `SubscribeResponse` of `item`, encoded; an event's encoding is made at most
    /// once while it is recent, a heartbeat's each time (it carries `now_ms`).
    pub fn encode(&self, item: StreamItem, now_ms: i64) -> Bytes {
        match item {
            StreamItem::Event(delivery) => self.encoded_event(delivery),
            heartbeat @ StreamItem::Heartbeat { .. } => {
                Bytes::from(response(heartbeat, now_ms).encode_to_vec())
            }
        }
    }

    /// The shared encoding of the delivery's event.
    fn encoded_event(&self, delivery: Delivery) -> Bytes {
        let key = (delivery.event.cursor, delivery.delivery_count);
        if let Some(encoded) = self.recent.lock().get(&key) {
            return encoded.clone();
        }
        // Encoded outside the lock; two streams racing on one event both encode, harmlessly.
        let encoded = Bytes::from(response(StreamItem::Event(delivery), 0).encode_to_vec());
        let mut recent = self.recent.lock();
        recent.insert(key, encoded.clone());
        if recent.len() > self.capacity {
            // The oldest cursor goes: a stream far behind the others does not push out what the
            // streams at the head are sharing.
            recent.pop_first();
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

    fn typed(item: StreamItem, now_ms: i64) -> Bytes {
        Bytes::from(response(item, now_ms).encode_to_vec())
    }

    #[test]
    fn shared_encodings_are_the_bytes_of_the_typed_responses() {
        let shared = SharedEvents::default();
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
        let shared = SharedEvents::with_capacity(2);

        for cursor in [5, 6, 7, 1] {
            shared.encode(delivery(cursor, 1), 0);
        }

        let kept: Vec<(Cursor, u32)> = shared.recent.lock().keys().copied().collect();
        assert_eq!(kept, vec![(6, 1), (7, 1)]);
    }
}
