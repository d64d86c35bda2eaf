//! Delivered events converted to protobuf once and shared by every stream that delivers them.
//!
//! Converting a stored event means parsing its raw JSON twice (typed payload and `raw` struct);
//! with many subscriptions tailing the log, each new event would otherwise be converted once per
//! stream. The most recent conversions are kept by cursor, so the streams at the head of the log
//! share them; a stream far behind converts for itself without evicting them.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::events::event_to_pb;
use crate::events::Cursor;
use crate::events::fanout::Delivery;
use crate::proto::pb;

/// Conversions kept: a few seconds of events at a thousand webhooks a second.
const DEFAULT_CAPACITY: usize = 4096;

/// The shared conversions, newest cursors kept.
#[derive(Debug)]
pub struct SharedEvents {
    recent: Mutex<BTreeMap<Cursor, Arc<pb::Event>>>,
    capacity: usize,
}

impl Default for SharedEvents {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl SharedEvents {
    /// Keeps at most `capacity` conversions.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            recent: Mutex::new(BTreeMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Returns the delivery's event in protobuf, converted at most once while it is recent.
    pub fn event(&self, delivery: &Delivery) -> pb::Event {
        let mut event = pb::Event::clone(&self.shared(delivery));
        event.delivery_count = delivery.delivery_count;
        event
    }

    /// The shared conversion of the delivery's event.
    fn shared(&self, delivery: &Delivery) -> Arc<pb::Event> {
        let cursor = delivery.event.cursor;
        if let Some(converted) = self.recent.lock().get(&cursor) {
            return Arc::clone(converted);
        }
        // Converted outside the lock; two streams racing on one event both convert, harmlessly.
        let converted = Arc::new(event_to_pb(&delivery.event, delivery.delivery_count));
        let mut recent = self.recent.lock();
        recent.insert(cursor, Arc::clone(&converted));
        if recent.len() > self.capacity {
            // The oldest cursor goes: a stream far behind the others does not push out what the
            // streams at the head are sharing.
            recent.pop_first();
        }
        converted
    }

    /// How many conversions are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.recent.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::StoredEvent;
    use crate::events::log::conformance;

    fn stored_event(cursor: Cursor) -> StoredEvent {
        StoredEvent {
            cursor,
            event: conformance::event(&format!("event-{cursor}"), 1000),
        }
    }

    fn delivery(cursor: Cursor, delivery_count: u32) -> Delivery {
        Delivery {
            event: Arc::new(stored_event(cursor)),
            delivery_count,
        }
    }

    #[test]
    fn a_shared_conversion_equals_a_fresh_one_with_its_own_delivery_count() {
        let shared = SharedEvents::default();

        let first = shared.event(&delivery(7, 1));
        let again = shared.event(&delivery(7, 3));

        assert_eq!(first, event_to_pb(&stored_event(7), 1));
        assert_eq!(again, event_to_pb(&stored_event(7), 3));
        assert_eq!(shared.len(), 1);
    }

    #[test]
    fn only_the_newest_cursors_are_kept() {
        let shared = SharedEvents::with_capacity(2);

        for cursor in [5, 6, 7, 1] {
            shared.event(&delivery(cursor, 1));
        }

        let kept: Vec<Cursor> = shared.recent.lock().keys().copied().collect();
        assert_eq!(kept, vec![6, 7]);
    }
}
