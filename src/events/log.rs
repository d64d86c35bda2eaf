//! The durable, ordered event log: the source of truth for every event stream, and the durable
//! state of named consumers kept beside it.

// Before the backends, so that the suite's macro is in scope for their tests.
#[cfg(test)]
#[macro_use]
pub(crate) mod conformance;

pub(crate) mod embedded;
pub(crate) mod jetstream;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::consumers::{AckState, ConsumerKey, ConsumerRecord};
use super::{Cursor, NewEvent, StoredEvent};
use crate::failure::ErrorClass;
use crate::storage::Writability;

pub(crate) use embedded::EmbeddedEventLog;
pub(crate) use jetstream::{JetStreamEventLog, JetStreamGroups};

/// Durable, ordered storage for received events.
///
/// Contract (checked by the conformance suite every backend runs, `log/conformance.rs`):
/// - `append` returns only once the events are durable: a webhook may be acknowledged as soon as
///   it returns `Ok`. It stores the batch atomically (all or nothing), in order, with strictly
///   increasing cursors; an event whose `id` is already stored (and still retained) is not
///   stored again, and its existing cursor is returned in its place. When it fails, nothing of
///   the call was stored.
/// - Cursors are never reused, also after retention dropped every event and after a restart, and
///   a new event's cursor is greater than every cursor stored before it (readers rely on what
///   follows a cursor never changing).
/// - `read_after` returns stored events with a cursor greater than `after`, oldest first.
/// - Retention may drop the oldest events (by age and by total size, never the newest one);
///   `bounds` tells what is still readable, and `get` no longer finds a dropped event.
/// - `watch_latest` changes after every append that stored something.
/// - After `close` returns every call fails with [`EventLogError::Closed`] and the storage is
///   released, so a new log may open the same location; what was appended is still there.
#[async_trait]
pub trait EventLog: Send + Sync + fmt::Debug + 'static {
    /// Stores `events` durably and returns one cursor per event, in the same order.
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Cursor>, EventLogError>;

    /// Returns at most `limit` events with cursors greater than `after`, oldest first.
    async fn read_after(
        &self,
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, EventLogError>;

    /// Returns the event stored under `id`, if it is still retained.
    async fn get(&self, id: &str) -> Result<Option<StoredEvent>, EventLogError>;

    /// Returns the oldest retained and the latest cursors.
    fn bounds(&self) -> LogBounds;

    /// Returns a receiver that holds the latest cursor and changes on every append.
    fn watch_latest(&self) -> watch::Receiver<Cursor>;

    /// For a log on a server: a receiver of the connection's state, failing while disconnected
    /// (streams reading the log then end with `UNAVAILABLE`, and the caller subscribes again once
    /// the gateway is ready). `None` for a local log, which stays readable.
    fn watch_connection(&self) -> Option<watch::Receiver<Writability>> {
        None
    }

    /// Returns the cursor to read after so that reading starts with the first retained event
    /// received at or after `since_ms` (milliseconds since the Unix epoch); the latest cursor
    /// when every event is older.
    ///
    /// Received times are stamped on arrival, so they rise with cursors; the default binary
    /// search relies on that (a clock step backwards shifts the start by at most the step).
    async fn cursor_at(&self, since_ms: i64) -> Result<Cursor, EventLogError> {
        let bounds = self.bounds();
        // Invariant: every event up to `low` is older than `since_ms`; `high` is the answer
        // when nothing between them qualifies.
        let mut low = bounds.first_readable().saturating_sub(1);
        let mut high = bounds.latest;
        while low < high {
            let middle = low + (high - low).div_ceil(2);
            let probe = self.read_after(middle - 1, 1).await?;
            match probe.first() {
                Some(stored) if stored.event.received_at_ms < since_ms => low = stored.cursor,
                _ => high = middle - 1,
            }
        }
        Ok(low)
    }

    /// Returns counters for metrics; backends that cannot tell leave them at zero.
    fn stats(&self) -> LogStats {
        LogStats {
            bounds: self.bounds(),
            ..LogStats::default()
        }
    }

    /// Finishes pending writes and releases the storage; later calls fail with `Closed`.
    async fn close(&self) -> Result<(), EventLogError> {
        Ok(())
    }
}

/// Durable state of named consumers, kept by the same backend as the events so that a consumer's
/// progress survives restarts with the log it points into.
///
/// Every write is durable when it returns, like [`EventLog::append`].
#[async_trait]
pub trait ConsumerStore: Send + Sync + fmt::Debug + 'static {
    /// Stores `record` unless a consumer with its key exists; returns what is stored afterwards
    /// (the existing record when there was one).
    async fn create_consumer(
        &self,
        record: ConsumerRecord,
    ) -> Result<ConsumerRecord, EventLogError>;

    /// Returns the consumer stored under `key`.
    async fn load_consumer(
        &self,
        key: &ConsumerKey,
    ) -> Result<Option<ConsumerRecord>, EventLogError>;

    /// Returns every stored consumer, sorted by account then name.
    async fn list_consumers(&self) -> Result<Vec<ConsumerRecord>, EventLogError>;

    /// Replaces the progress of the consumer under `key`; false (and nothing stored) when there
    /// is no such consumer, so a late write cannot resurrect a deleted consumer.
    async fn save_acks(&self, key: &ConsumerKey, acks: AckState) -> Result<bool, EventLogError>;

    /// Deletes the consumer under `key` and returns it as it was.
    async fn delete_consumer(
        &self,
        key: &ConsumerKey,
    ) -> Result<Option<ConsumerRecord>, EventLogError>;
}

/// The readable range of the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogBounds {
    /// Cursor of the oldest retained event; 0 when the log is empty.
    pub oldest: Cursor,
    /// Cursor of the newest event; 0 when nothing was ever stored.
    pub latest: Cursor,
}

impl LogBounds {
    /// Returns the smallest cursor a reader can still get: the oldest retained event, or the
    /// cursor the next event will get when retention emptied the log.
    pub fn first_readable(&self) -> Cursor {
        if self.oldest == 0 {
            self.latest + 1
        } else {
            self.oldest
        }
    }

    /// Tells whether reading after `after` would miss events that retention dropped.
    pub fn is_gap_after(&self, after: Cursor) -> bool {
        after.saturating_add(1) < self.first_readable()
    }
}

/// Counters of a log, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// What is readable.
    pub bounds: LogBounds,
    /// Bytes of retained events as the backend counts them against its size limit.
    pub stored_bytes: u64,
    /// Events stored through this handle since it was opened (duplicates not counted).
    pub appended: u64,
    /// When the oldest retained event was received, in milliseconds since the Unix epoch; `None`
    /// when the log is empty or the backend cannot tell.
    pub oldest_received_at_ms: Option<i64>,
    /// Bytes the log's files take on disk (retained events, indexes, free space not yet given
    /// back); for a backend on a server (JetStream), the bytes its store reports for the log.
    pub disk_bytes: u64,
}

/// How long and how much the log keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetentionPolicy {
    /// Events received longer ago than this are dropped.
    pub max_age: Duration,
    /// Once retained events take more bytes than this, the oldest are dropped; a backend that
    /// keeps them in files keeps its files within it too.
    pub max_bytes: u64,
    /// How often age retention runs (size retention runs with every write).
    pub check_interval: Duration,
}

/// Why the log could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    /// The storage failed (disk, corruption); nothing of the failed call was stored.
    #[error("the event log storage failed")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The log is closed (the gateway is shutting down).
    #[error("the event log is closed")]
    Closed,
}

impl EventLogError {
    /// Returns the failure class: both variants are worth retrying later.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Unavailable
    }

    /// Returns the `ErrorInfo.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Storage(_) => "EVENT_LOG_UNAVAILABLE",
            Self::Closed => "SHUTTING_DOWN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_judged_against_the_first_readable_cursor() {
        let table = [
            // (oldest, latest, after, gap)
            (0, 0, 0, false),
            (1, 5, 0, false),
            (3, 5, 1, true),
            (3, 5, 2, false),
            (0, 5, 4, true),
            (0, 5, 5, false),
        ];
        for (oldest, latest, after, gap) in table {
            let bounds = LogBounds { oldest, latest };
            assert_eq!(bounds.is_gap_after(after), gap, "{bounds:?} after {after}");
        }
    }
}
