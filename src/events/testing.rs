//! Test doubles for the event log, and arbitrary JSON for property tests (unit tests only).

pub(crate) mod json;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::log::{EventLog, EventLogError, LogBounds};
use super::{Cursor, NewEvent, StoredEvent};

/// An in-memory [`EventLog`] that records every append, dedupes by id like the real ones, and can
/// be told to fail or to never answer.
#[derive(Debug)]
pub(crate) struct RecordingLog {
    /// Stored events in cursor order (cursor = index + 1).
    stored: Mutex<Vec<StoredEvent>>,
    /// The ids of each `append` call, in call order (failed calls included).
    calls: Mutex<Vec<Vec<String>>>,
    /// When set, `append` fails with a storage error.
    failing: AtomicBool,
    /// When set, `append` never returns.
    stalled: AtomicBool,
    /// How many times `read_after` was called.
    reads: AtomicUsize,
    /// How long each `read_after` takes.
    read_delay: Mutex<std::time::Duration>,
    /// The latest cursor.
    latest_tx: watch::Sender<Cursor>,
}

impl RecordingLog {
    /// Creates an empty log that works.
    pub(crate) fn new() -> Self {
        Self {
            stored: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            failing: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            reads: AtomicUsize::new(0),
            read_delay: Mutex::new(std::time::Duration::ZERO),
            latest_tx: watch::channel(0).0,
        }
    }

    /// Makes every later `append` fail (or work again).
    pub(crate) fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Makes every later `append` hang.
    pub(crate) fn set_stalled(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Returns every stored event, oldest first.
    pub(crate) fn events(&self) -> Vec<NewEvent> {
        self.stored
            .lock()
            .iter()
            .map(|stored| stored.event.clone())
            .collect()
    }

    /// Makes every `read_after` take `delay`, as a read from storage does.
    pub(crate) fn set_read_delay(&self, delay: std::time::Duration) {
        *self.read_delay.lock() = delay;
    }

    /// Returns how many times `read_after` was called.
    pub(crate) fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// Returns the ids passed to each `append` call.
    pub(crate) fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().clone()
    }
}

#[async_trait]
impl EventLog for RecordingLog {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Cursor>, EventLogError> {
        self.calls
            .lock()
            .push(events.iter().map(|event| event.id.clone()).collect());
        if self.stalled.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(EventLogError::Storage("disk on fire".into()));
        }
        let mut stored = self.stored.lock();
        let mut by_id: HashMap<String, Cursor> = stored
            .iter()
            .map(|stored| (stored.event.id.clone(), stored.cursor))
            .collect();
        let mut cursors = Vec::with_capacity(events.len());
        for event in events {
            if let Some(cursor) = by_id.get(&event.id) {
                cursors.push(*cursor);
                continue;
            }
            let cursor = stored.len() as Cursor + 1;
            by_id.insert(event.id.clone(), cursor);
            stored.push(StoredEvent { cursor, event });
            cursors.push(cursor);
        }
        self.latest_tx.send_replace(stored.len() as Cursor);
        Ok(cursors)
    }

    async fn read_after(
        &self,
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, EventLogError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let delay = *self.read_delay.lock();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let stored = self.stored.lock();
        Ok(stored
            .iter()
            .filter(|stored| stored.cursor > after)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn get(&self, id: &str) -> Result<Option<StoredEvent>, EventLogError> {
        let stored = self.stored.lock();
        Ok(stored.iter().find(|stored| stored.event.id == id).cloned())
    }

    fn bounds(&self) -> LogBounds {
        let latest = self.stored.lock().len() as Cursor;
        LogBounds {
            oldest: latest.min(1),
            latest,
        }
    }

    fn watch_latest(&self) -> watch::Receiver<Cursor> {
        self.latest_tx.subscribe()
    }
}

impl Default for RecordingLog {
    fn default() -> Self {
        Self::new()
    }
}
