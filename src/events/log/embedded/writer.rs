//! The writer thread: the only code that writes the database.
//!
//! It waits for a request, takes every other request already queued (up to [`MAX_BATCH`]),
//! applies them all in one write transaction, enforces size retention in the same transaction,
//! commits once (redb's default durability: fsync before `commit` returns), and only then answers
//! each request. There is no linger timer: under load the queue fills while a commit runs, so the
//! next batch is larger by itself. When anything fails the transaction is dropped, which rolls it
//! back, and every request of the batch gets the error: nothing of them was stored.

use std::sync::Arc;

use redb::{Database, ReadableTable as _, Table, WriteTransaction};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot, watch};

use super::{CONSUMERS, EVENTS, IDS, META, Shared, decode_json, storage};
use crate::events::consumers::{AckState, ConsumerKey, ConsumerRecord};
use crate::events::log::{EventLogError, LogBounds, RetentionPolicy};
use crate::events::{Cursor, NewEvent};

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 4096;
/// Bytes counted per event beyond its JSON and id: the two cursor keys.
const RECORD_OVERHEAD: u64 = 16;
/// `META` key of the latest cursor ever assigned.
const META_LATEST: &str = "latest";
/// `META` key of the bytes counted against the size limit.
const META_STORED_BYTES: &str = "stored_bytes";

/// Bounds and counters of the log as of the last commit.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct LogState {
    /// What is readable.
    pub(super) bounds: LogBounds,
    /// Bytes of retained events.
    pub(super) stored_bytes: u64,
    /// Events stored since the log was opened.
    pub(super) appended: u64,
}

/// A reply channel.
type Reply<T> = oneshot::Sender<Result<T, EventLogError>>;

/// One queued write.
#[derive(Debug)]
pub(super) enum WriteRequest {
    /// Store events.
    Append {
        /// The events, in order.
        events: Vec<NewEvent>,
        /// Gets one cursor per event.
        reply: Reply<Vec<Cursor>>,
    },
    /// Store a consumer unless one with its key exists.
    CreateConsumer {
        /// The new consumer.
        record: ConsumerRecord,
        /// Gets the stored record.
        reply: Reply<ConsumerRecord>,
    },
    /// Replace a consumer's progress.
    SaveAcks {
        /// Which consumer.
        key: ConsumerKey,
        /// Its progress.
        acks: AckState,
        /// Gets whether the consumer exists.
        reply: Reply<bool>,
    },
    /// Delete a consumer.
    DeleteConsumer {
        /// Which consumer.
        key: ConsumerKey,
        /// Gets the deleted record.
        reply: Reply<Option<ConsumerRecord>>,
    },
    /// Drop events older than the maximum age.
    Retain {
        /// The current time in milliseconds since the Unix epoch.
        now_ms: i64,
        /// Told when done, if anyone asks.
        reply: Option<Reply<()>>,
    },
    /// Finish the queued requests, release the database and stop.
    Close {
        /// Told when the database is released.
        reply: oneshot::Sender<()>,
    },
}

/// What a request produced inside the transaction, sent once it is committed.
enum Outcome {
    /// Answer to an append.
    Cursors(Vec<Cursor>),
    /// Answer to a consumer creation.
    Record(ConsumerRecord),
    /// Answer to a progress update.
    Saved(bool),
    /// Answer to a deletion.
    Deleted(Option<ConsumerRecord>),
    /// Answer to a retention request.
    Retained,
}

/// The part of a stored event retention needs.
#[derive(Deserialize)]
struct Header {
    /// Event id, to drop its index entry.
    id: String,
    /// Receipt time, for age retention.
    received_at_ms: i64,
}

/// The writer thread's state.
pub(super) struct Writer {
    /// The database and the published counters.
    shared: Arc<Shared>,
    /// Limits enforced on every commit and on `Retain`.
    retention: RetentionPolicy,
    /// Published after every commit that stored events.
    latest_tx: watch::Sender<Cursor>,
}

impl Writer {
    /// Prepares a writer.
    pub(super) fn new(
        shared: Arc<Shared>,
        retention: RetentionPolicy,
        latest_tx: watch::Sender<Cursor>,
    ) -> Self {
        Self {
            shared,
            retention,
            latest_tx,
        }
    }

    /// Starts the writer thread; it stops on `Close` or when every sender is gone.
    pub(super) fn spawn(
        self,
        requests_rx: mpsc::Receiver<WriteRequest>,
    ) -> Result<(), EventLogError> {
        std::thread::Builder::new()
            .name("event-log-writer".to_owned())
            .spawn(move || self.run(requests_rx))
            .map(drop)
            .map_err(storage)
    }

    /// Drains the queue batch by batch.
    fn run(self, mut requests_rx: mpsc::Receiver<WriteRequest>) {
        while let Some(first) = requests_rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match requests_rx.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let close_at = batch
                .iter()
                .position(|request| matches!(request, WriteRequest::Close { .. }));
            let Some(close_at) = close_at else {
                self.commit(batch);
                continue;
            };
            let after_close = batch.split_off(close_at);
            self.commit(batch);
            self.close(after_close, requests_rx);
            return;
        }
    }

    /// Releases the database, answers the close, refuses what came after it.
    fn close(&self, requests: Vec<WriteRequest>, mut requests_rx: mpsc::Receiver<WriteRequest>) {
        self.shared.db.write().take();
        requests_rx.close();
        let late = requests.into_iter().chain(std::iter::from_fn(|| {
            requests_rx.try_recv().ok()
        }));
        for request in late {
            match request {
                WriteRequest::Close { reply } => drop(reply.send(())),
                other => fail(other, || EventLogError::Closed),
            }
        }
    }

    /// Applies `batch` in one transaction and answers every request.
    fn commit(&self, batch: Vec<WriteRequest>) {
        let guard = self.shared.db.read();
        let Some(db) = guard.as_ref() else {
            batch
                .into_iter()
                .for_each(|request| fail(request, || EventLogError::Closed));
            return;
        };
        let mut state = *self.shared.state.lock();
        match self.apply(db, &batch, &mut state) {
            Ok(outcomes) => {
                *self.shared.state.lock() = state;
                self.latest_tx.send_if_modified(|latest| {
                    let changed = *latest != state.bounds.latest;
                    *latest = state.bounds.latest;
                    changed
                });
                batch
                    .into_iter()
                    .zip(outcomes)
                    .for_each(|(request, outcome)| succeed(request, outcome));
            }
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    requests = batch.len(),
                    "event log commit failed"
                );
                let error = Arc::new(error);
                batch.into_iter().for_each(|request| {
                    fail(request, || EventLogError::Storage(Box::new(error.clone())));
                });
            }
        }
    }

    /// Runs the batch inside one write transaction and commits it.
    fn apply(
        &self,
        db: &Database,
        batch: &[WriteRequest],
        state: &mut LogState,
    ) -> Result<Vec<Outcome>, redb::Error> {
        let txn = db.begin_write()?;
        let outcomes = {
            let mut tables = Tables::open(&txn)?;
            let mut outcomes = Vec::with_capacity(batch.len());
            for request in batch {
                outcomes.push(tables.apply(request, state, &self.retention)?);
            }
            let max_bytes = self.retention.max_bytes;
            tables.drop_oldest_while(state, |state, _| state.stored_bytes > max_bytes)?;
            tables.meta.insert(META_LATEST, state.bounds.latest)?;
            tables.meta.insert(META_STORED_BYTES, state.stored_bytes)?;
            outcomes
        };
        txn.commit()?;
        Ok(outcomes)
    }
}

/// Creates the tables if needed and reads the counters back.
pub(super) fn initialise(db: &Database) -> Result<LogState, redb::Error> {
    let txn = db.begin_write()?;
    let state = {
        let tables = Tables::open(&txn)?;
        let stored_latest = tables.meta.get(META_LATEST)?.map(|value| value.value());
        let last_event = tables.events.last()?.map(|(cursor, _)| cursor.value());
        let oldest = tables.events.first()?.map(|(cursor, _)| cursor.value());
        let stored_bytes = tables.meta.get(META_STORED_BYTES)?.map(|value| value.value());
        LogState {
            bounds: LogBounds {
                oldest: oldest.unwrap_or(0),
                latest: stored_latest.unwrap_or(0).max(last_event.unwrap_or(0)),
            },
            stored_bytes: stored_bytes.unwrap_or(0),
            appended: 0,
        }
    };
    txn.commit()?;
    Ok(state)
}

/// The tables of one write transaction.
struct Tables<'txn> {
    events: Table<'txn, u64, &'static [u8]>,
    ids: Table<'txn, &'static str, u64>,
    meta: Table<'txn, &'static str, u64>,
    consumers: Table<'txn, (&'static str, &'static str), &'static [u8]>,
}

impl<'txn> Tables<'txn> {
    /// Opens (creating when missing) every table.
    fn open(txn: &'txn WriteTransaction) -> Result<Self, redb::Error> {
        Ok(Self {
            events: txn.open_table(EVENTS)?,
            ids: txn.open_table(IDS)?,
            meta: txn.open_table(META)?,
            consumers: txn.open_table(CONSUMERS)?,
        })
    }

    /// Applies one request.
    fn apply(
        &mut self,
        request: &WriteRequest,
        state: &mut LogState,
        retention: &RetentionPolicy,
    ) -> Result<Outcome, redb::Error> {
        Ok(match request {
            WriteRequest::Append { events, .. } => Outcome::Cursors(self.append(events, state)?),
            WriteRequest::CreateConsumer { record, .. } => {
                Outcome::Record(self.create_consumer(record)?)
            }
            WriteRequest::SaveAcks { key, acks, .. } => Outcome::Saved(self.save_acks(key, acks)?),
            WriteRequest::DeleteConsumer { key, .. } => {
                let removed = self.consumers.remove((key.account.as_str(), key.name.as_str()))?;
                Outcome::Deleted(removed.map(|bytes| decode_json(bytes.value())).transpose()?)
            }
            WriteRequest::Retain { now_ms, .. } => {
                let max_age_ms = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
                let cutoff = now_ms.saturating_sub(max_age_ms);
                self.drop_oldest_while(state, |_, received_at_ms| received_at_ms < cutoff)?;
                Outcome::Retained
            }
            WriteRequest::Close { .. } => unreachable!("close requests are split off the batch"),
        })
    }

    /// Stores new events; ids already stored keep their cursor.
    fn append(
        &mut self,
        events: &[NewEvent],
        state: &mut LogState,
    ) -> Result<Vec<Cursor>, redb::Error> {
        let mut cursors = Vec::with_capacity(events.len());
        for event in events {
            if let Some(existing) = self.ids.get(event.id.as_str())? {
                cursors.push(existing.value());
                continue;
            }
            let cursor = state.bounds.latest + 1;
            let bytes = serde_json::to_vec(event)
                .map_err(|error| redb::Error::Corrupted(error.to_string()))?;
            self.events.insert(cursor, bytes.as_slice())?;
            self.ids.insert(event.id.as_str(), cursor)?;
            state.bounds.latest = cursor;
            if state.bounds.oldest == 0 {
                state.bounds.oldest = cursor;
            }
            state.stored_bytes += record_size(bytes.len(), &event.id);
            state.appended += 1;
            cursors.push(cursor);
        }
        Ok(cursors)
    }

    /// Drops the oldest events while `should_drop(state, received_at_ms)` holds for the oldest
    /// one, never the newest event.
    fn drop_oldest_while(
        &mut self,
        state: &mut LogState,
        mut should_drop: impl FnMut(&LogState, i64) -> bool,
    ) -> Result<(), redb::Error> {
        while state.bounds.oldest != 0 && state.bounds.oldest < state.bounds.latest {
            let (cursor, bytes) = match self.events.first()? {
                Some((key, value)) => (key.value(), value.value().to_vec()),
                None => break,
            };
            let header: Header = decode_json(&bytes)?;
            if !should_drop(state, header.received_at_ms) {
                break;
            }
            self.events.remove(cursor)?;
            self.ids.remove(header.id.as_str())?;
            let size = record_size(bytes.len(), &header.id);
            state.stored_bytes = state.stored_bytes.saturating_sub(size);
            state.bounds.oldest = self.events.first()?.map_or(0, |(next, _)| next.value());
        }
        Ok(())
    }

    /// Stores `record` unless its key exists; returns what is stored.
    fn create_consumer(&mut self, record: &ConsumerRecord) -> Result<ConsumerRecord, redb::Error> {
        let key = (record.key.account.as_str(), record.key.name.as_str());
        if let Some(existing) = self.consumers.get(key)? {
            return decode_json(existing.value());
        }
        let bytes = encode(record)?;
        self.consumers.insert(key, bytes.as_slice())?;
        Ok(record.clone())
    }

    /// Replaces the progress of an existing consumer.
    fn save_acks(&mut self, key: &ConsumerKey, acks: &AckState) -> Result<bool, redb::Error> {
        let table_key = (key.account.as_str(), key.name.as_str());
        let Some(existing) = self.consumers.get(table_key)? else {
            return Ok(false);
        };
        let mut record: ConsumerRecord = decode_json(existing.value())?;
        drop(existing);
        record.acks = acks.clone();
        let bytes = encode(&record)?;
        self.consumers.insert(table_key, bytes.as_slice())?;
        Ok(true)
    }
}

/// Bytes an event counts against the size limit.
fn record_size(json_len: usize, id: &str) -> u64 {
    (json_len + id.len()) as u64 + RECORD_OVERHEAD
}

/// Encodes a record as JSON.
fn encode(record: &ConsumerRecord) -> Result<Vec<u8>, redb::Error> {
    serde_json::to_vec(record).map_err(|error| redb::Error::Corrupted(error.to_string()))
}

/// Answers a committed request.
fn succeed(request: WriteRequest, outcome: Outcome) {
    match (request, outcome) {
        (WriteRequest::Append { reply, .. }, Outcome::Cursors(cursors)) => {
            drop(reply.send(Ok(cursors)));
        }
        (WriteRequest::CreateConsumer { reply, .. }, Outcome::Record(record)) => {
            drop(reply.send(Ok(record)));
        }
        (WriteRequest::SaveAcks { reply, .. }, Outcome::Saved(saved)) => drop(reply.send(Ok(saved))),
        (WriteRequest::DeleteConsumer { reply, .. }, Outcome::Deleted(record)) => {
            drop(reply.send(Ok(record)));
        }
        (WriteRequest::Retain { reply, .. }, Outcome::Retained) => {
            if let Some(reply) = reply {
                drop(reply.send(Ok(())));
            }
        }
        (request, _) => unreachable!("outcome does not match {request:?}"),
    }
}

/// Answers a request that was not stored.
fn fail(request: WriteRequest, error: impl FnOnce() -> EventLogError) {
    match request {
        WriteRequest::Append { reply, .. } => drop(reply.send(Err(error()))),
        WriteRequest::CreateConsumer { reply, .. } => drop(reply.send(Err(error()))),
        WriteRequest::SaveAcks { reply, .. } => drop(reply.send(Err(error()))),
        WriteRequest::DeleteConsumer { reply, .. } => drop(reply.send(Err(error()))),
        WriteRequest::Retain { reply, .. } => {
            if let Some(reply) = reply {
                drop(reply.send(Err(error())));
            }
        }
        WriteRequest::Close { reply } => drop(reply.send(())),
    }
}
