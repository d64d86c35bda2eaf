//! The durable, ordered event log: the source of truth for every event stream.

use std::fmt;

use async_trait::async_trait;
use tokio::sync::watch;

use super::{Cursor, NewEvent, StoredEvent};

/// Durable, ordered storage for received events.
///
/// Contract (checked by the conformance suite every backend runs):
/// - `append` returns only once the events are durable: a webhook may be acknowledged as soon as
///   it returns `Ok`. It stores the batch atomically (all or nothing), in order, with strictly
///   increasing cursors; an event whose `id` is already stored is not stored again, and its
///   existing cursor is returned in its place.
/// - `read_after` returns stored events with a cursor greater than `after`, oldest first.
/// - Retention may drop the oldest events; `bounds` tells what is still readable.
/// - `watch_latest` changes after every append that stored something.
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
}

/// The readable range of the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogBounds {
    /// Cursor of the oldest retained event; 0 when the log is empty.
    pub oldest: Cursor,
    /// Cursor of the newest event; 0 when nothing was ever stored.
    pub latest: Cursor,
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
