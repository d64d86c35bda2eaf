//! Log reads shared by the ephemeral subscriptions.
//!
//! Subscriptions that follow the head of the log all read the same new events; each reading and
//! decoding them from storage for itself would cost one read per subscription per event. Every
//! read is kept here, each event by the cursor that precedes it in the log, so a subscription at
//! cursor `c` finds its next event under `c` without touching the log. Keying by predecessor is
//! exact because the log never stores an event below one already stored (cursors only grow): an
//! answer "the event after `c` is `e`" stays true. Only the newest reads are kept.
//!
//! Reads that miss go to the log one at a time: every subscription at the head is woken for the
//! same new event, and without this they would all miss at once and all read it (each read a
//! blocking-pool thread), which is the herd this module exists to avoid.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::events::log::{EventLog, EventLogError};
use crate::events::{Cursor, StoredEvent};

/// Events kept: a few seconds of events at a thousand webhooks a second.
const DEFAULT_CAPACITY: usize = 4096;

/// Recent log reads, each event under its predecessor's cursor.
#[derive(Debug)]
pub(super) struct SharedReads {
    log: Arc<dyn EventLog>,
    next_after: Mutex<BTreeMap<Cursor, Arc<StoredEvent>>>,
    capacity: usize,
    /// Held while a missed read goes to the log.
    reading: tokio::sync::Mutex<()>,
}

impl SharedReads {
    /// Shares reads of `log`, keeping the newest `DEFAULT_CAPACITY` events.
    pub(super) fn new(log: Arc<dyn EventLog>) -> Self {
        Self::with_capacity(log, DEFAULT_CAPACITY)
    }

    fn with_capacity(log: Arc<dyn EventLog>, capacity: usize) -> Self {
        Self {
            log,
            next_after: Mutex::new(BTreeMap::new()),
            capacity: capacity.max(1),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// Returns at most `limit` events after `after`, oldest first, as
    /// [`EventLog::read_after`] does; from memory when an earlier read already saw them.
    pub(super) async fn read_after(
        &self,
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<Arc<StoredEvent>>, EventLogError> {
        let known = self.known_after(after, limit);
        if !known.is_empty() {
            return Ok(known);
        }
        let _reading = self.reading.lock().await;
        // Another subscription may have read the same events while this one waited.
        let known = self.known_after(after, limit);
        if !known.is_empty() {
            return Ok(known);
        }
        let read: Vec<Arc<StoredEvent>> = self
            .log
            .read_after(after, limit)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        self.remember(after, &read);
        Ok(read)
    }

    /// The chain of remembered events after `after`, at most `limit`.
    fn known_after(&self, mut after: Cursor, limit: usize) -> Vec<Arc<StoredEvent>> {
        let next_after = self.next_after.lock();
        let mut known = Vec::new();
        while known.len() < limit {
            let Some(stored) = next_after.get(&after) else {
                break;
            };
            after = stored.cursor;
            known.push(Arc::clone(stored));
        }
        known
    }

    /// Remembers that `read` follows `after` in the log, event after event.
    fn remember(&self, mut after: Cursor, read: &[Arc<StoredEvent>]) {
        let mut next_after = self.next_after.lock();
        for stored in read {
            next_after.insert(after, Arc::clone(stored));
            after = stored.cursor;
        }
        while next_after.len() > self.capacity {
            // The oldest go: a subscription far behind does not push out what the ones at the
            // head share.
            next_after.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::log::conformance::event;
    use crate::events::testing::RecordingLog;

    async fn log_with(count: usize) -> Arc<RecordingLog> {
        let log = Arc::new(RecordingLog::new());
        let events = (0..count)
            .map(|index| event(&format!("event-{index}"), 1000))
            .collect();
        log.append(events).await.unwrap();
        log
    }

    fn cursors(read: &[Arc<StoredEvent>]) -> Vec<Cursor> {
        read.iter().map(|stored| stored.cursor).collect()
    }

    #[tokio::test]
    async fn a_second_reader_gets_the_same_events_without_reading_the_log() {
        let log = log_with(5).await;
        let shared = SharedReads::new(log.clone());

        let first = shared.read_after(1, 3).await.unwrap();
        let second = shared.read_after(1, 3).await.unwrap();
        let from_the_middle = shared.read_after(2, 10).await.unwrap();

        assert_eq!(log.reads(), 1);
        assert_eq!(cursors(&first), vec![2, 3, 4]);
        assert_eq!(cursors(&second), vec![2, 3, 4]);
        assert!(Arc::ptr_eq(&first[0], &second[0]));
        assert_eq!(cursors(&from_the_middle), vec![3, 4]);
    }

    #[tokio::test]
    async fn subscriptions_missing_the_same_events_at_once_read_the_log_once() {
        let log = log_with(3).await;
        log.set_read_delay(std::time::Duration::from_millis(20));
        let shared = SharedReads::new(log.clone());

        let reads = futures::future::join_all((0..10).map(|_| shared.read_after(0, 10))).await;

        assert_eq!(log.reads(), 1);
        for read in reads {
            assert_eq!(cursors(&read.unwrap()), vec![1, 2, 3]);
        }
    }

    #[tokio::test]
    async fn events_not_read_yet_come_from_the_log() {
        let log = log_with(3).await;
        let shared = SharedReads::new(log.clone());
        shared.read_after(0, 10).await.unwrap();

        log.append(vec![event("late", 1000)]).await.unwrap();
        let after_known = shared.read_after(3, 10).await.unwrap();

        assert_eq!(log.reads(), 2);
        assert_eq!(cursors(&after_known), vec![4]);
        assert_eq!(after_known[0].event.id, "late");
    }

    #[tokio::test]
    async fn only_the_newest_events_are_kept() {
        let log = log_with(6).await;
        let shared = SharedReads::with_capacity(log.clone(), 2);
        shared.read_after(0, 10).await.unwrap();

        let kept = shared.read_after(4, 10).await.unwrap();
        assert_eq!(log.reads(), 1);
        shared.read_after(0, 10).await.unwrap();
        assert_eq!(log.reads(), 2);
        assert_eq!(cursors(&kept), vec![5, 6]);
    }
}
