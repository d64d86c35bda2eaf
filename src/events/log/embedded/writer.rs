//! The writer thread: the only code that writes the database.
//!
//! It waits for a request, takes every other request already queued (up to [`MAX_BATCH`]),
//! applies them all in one write transaction, enforces size retention in the same transaction,
//! commits once (redb's default durability: fsync before `commit` returns), and only then answers
//! each request and publishes the new latest cursor. There is no linger timer: under load the
//! queue fills while a commit runs, so the next batch is larger by itself. When anything fails the
//! transaction is dropped, which rolls it back, and every request of the batch gets the error:
//! nothing of them was stored.
//!
//! A batch holding a retention pass (`Retain`) also gives space back: after its commit the file is
//! compacted when the disk budget (`space.rs`) says it is worth it, and, while a compacted file is
//! over `retention_max_bytes`, the events over the lowered cap are dropped and it is compacted
//! again. The pass is answered after that, so that a pass that returned has shrunk the file.

use std::sync::Arc;

use redb::Database;
use tokio::sync::{mpsc, oneshot, watch};

use super::space::{AfterCompaction, DiskBudget};
use super::tables::{self, Outcome, Tables};
use super::{Shared, storage};
use crate::events::consumers::{AckState, ConsumerKey, ConsumerRecord};
use crate::events::log::{EventLogError, LogBounds, RetentionPolicy};
use crate::events::{Cursor, NewEvent, StoredEvent};
use crate::storage::{RedbFileError, Reopened};

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 4096;
/// Most compactions in one retention pass (each after dropping more events when over budget).
const MAX_RECLAIM_ROUNDS: usize = 4;

/// Bounds and counters of the log as of the last commit.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct LogState {
    /// What is readable.
    pub(super) bounds: LogBounds,
    /// Bytes of retained events.
    pub(super) stored_bytes: u64,
    /// Events stored since the log was opened.
    pub(super) appended: u64,
    /// When the oldest retained event was received (ms since the epoch); `None` when empty.
    pub(super) oldest_received_at_ms: Option<i64>,
}

/// An event to append and its stored form (JSON), encoded by the caller so that the writer
/// thread, which every commit waits for, only stores bytes.
#[derive(Debug)]
pub(super) struct EncodedEvent {
    /// The event.
    pub(super) event: NewEvent,
    /// Its JSON, as stored.
    pub(super) json: Vec<u8>,
}

impl EncodedEvent {
    /// Encodes `event`.
    pub(super) fn new(event: NewEvent) -> Result<Self, serde_json::Error> {
        let json = super::rows::encode_event(&event)?;
        Ok(Self { event, json })
    }
}

/// A reply channel.
type Reply<T> = oneshot::Sender<Result<T, EventLogError>>;

/// One queued write.
#[derive(Debug)]
pub(super) enum WriteRequest {
    /// Store events.
    Append {
        /// The events, in order, each with its stored form.
        events: Vec<EncodedEvent>,
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

/// Why a commit stored nothing.
#[derive(Clone, Debug)]
enum CommitFailure {
    /// The log is closed.
    Closed,
    /// The storage failed.
    Storage(Arc<redb::Error>),
}

impl CommitFailure {
    /// The error to answer a request with.
    fn to_error(&self) -> EventLogError {
        match self {
            Self::Closed => EventLogError::Closed,
            Self::Storage(error) => EventLogError::Storage(Box::new(error.clone())),
        }
    }
}

impl From<RedbFileError> for CommitFailure {
    fn from(error: RedbFileError) -> Self {
        match error {
            RedbFileError::Closed => Self::Closed,
            RedbFileError::Storage(error) => Self::Storage(Arc::new(error)),
        }
    }
}

/// The writer thread's state.
pub(super) struct Writer {
    /// The database and the published counters.
    shared: Arc<Shared>,
    /// Limits enforced on every commit and on `Retain`.
    retention: RetentionPolicy,
    /// How many bytes of events keep the file within `retention.max_bytes`, and when to compact.
    budget: DiskBudget,
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
            budget: DiskBudget::new(retention.max_bytes),
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
    fn run(mut self, mut requests_rx: mpsc::Receiver<WriteRequest>) {
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
                self.commit_and_reclaim(batch);
                continue;
            };
            let after_close = batch.split_off(close_at);
            self.commit_and_reclaim(batch);
            self.close(after_close, requests_rx);
            return;
        }
    }

    /// Releases the database, answers the close, refuses what came after it.
    fn close(&self, requests: Vec<WriteRequest>, mut requests_rx: mpsc::Receiver<WriteRequest>) {
        if let Err(error) = self.shared.file.close() {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "event log not closed cleanly"
            );
        }
        requests_rx.close();
        let late = requests
            .into_iter()
            .chain(std::iter::from_fn(|| requests_rx.try_recv().ok()));
        for request in late {
            match request {
                WriteRequest::Close { reply } => drop(reply.send(())),
                other => fail(other, || EventLogError::Closed),
            }
        }
    }

    /// Commits `batch`; when it holds a retention pass, gives space back before answering it.
    fn commit_and_reclaim(&mut self, mut batch: Vec<WriteRequest>) {
        let is_retention_pass = batch
            .iter()
            .any(|request| matches!(request, WriteRequest::Retain { .. }));
        let retention_replies: Vec<Reply<()>> = batch
            .iter_mut()
            .filter_map(|request| match request {
                WriteRequest::Retain { reply, .. } => reply.take(),
                _ => None,
            })
            .collect();
        let outcome = match self.commit(batch) {
            Ok(()) if is_retention_pass => self.reclaim(),
            other => other,
        };
        for reply in retention_replies {
            drop(
                reply.send(
                    outcome
                        .as_ref()
                        .map(|_| ())
                        .map_err(CommitFailure::to_error),
                ),
            );
        }
    }

    /// Compacts the file when the budget says it is worth it; while a compacted file is over its
    /// budget, drops the events over the lowered cap and compacts again.
    fn reclaim(&mut self) -> Result<(), CommitFailure> {
        for _ in 0..MAX_RECLAIM_ROUNDS {
            let stored_bytes = self.shared.state.lock().stored_bytes;
            let disk_bytes = self.shared.file.disk_bytes();
            if !self.budget.should_compact(disk_bytes, stored_bytes) {
                return Ok(());
            }
            self.shared.file.compact()?;
            let compacted_bytes = self.shared.file.disk_bytes();
            tracing::debug!(
                before = disk_bytes,
                after = compacted_bytes,
                "event log compacted"
            );
            if self.budget.compacted(compacted_bytes, stored_bytes) == AfterCompaction::Fits {
                return Ok(());
            }
            // Size retention under the lowered cap, alone in its commit.
            self.commit(Vec::new())?;
        }
        Ok(())
    }

    /// Applies `batch` in one transaction and answers every request. After a failed commit the
    /// file is reopened first (see [`crate::storage::RedbFile::write`]).
    fn commit(&self, mut batch: Vec<WriteRequest>) -> Result<(), CommitFailure> {
        let mut state = *self.shared.state.lock();
        let applied = self.shared.file.write(|db, reopened| {
            if reopened == Reopened::Yes {
                self.resync(db, &mut state)?;
            }
            let previous_latest = state.bounds.latest;
            let outcomes = self.apply(db, &batch, &mut state, self.budget.cap())?;
            Ok((outcomes, previous_latest))
        });
        match applied {
            Ok((outcomes, previous_latest)) => {
                self.keep_recent(&mut batch, &outcomes, previous_latest, state.bounds.oldest);
                *self.shared.state.lock() = state;
                // Answered before the new latest cursor wakes the subscriptions, so that an
                // appender (a webhook waiting for its 200) is not queued behind the fan-out.
                batch
                    .into_iter()
                    .zip(outcomes)
                    .for_each(|(request, outcome)| succeed(request, outcome));
                self.latest_tx.send_if_modified(|latest| {
                    let changed = *latest != state.bounds.latest;
                    *latest = state.bounds.latest;
                    changed
                });
                Ok(())
            }
            Err(error) => {
                if let RedbFileError::Storage(error) = &error {
                    tracing::warn!(
                        error = error as &dyn std::error::Error,
                        requests = batch.len(),
                        "event log commit failed"
                    );
                }
                let failure = CommitFailure::from(error);
                batch
                    .into_iter()
                    .for_each(|request| fail(request, || failure.to_error()));
                Err(failure)
            }
        }
    }

    /// Re-reads the counters from a reopened file: a commit reported as failed may have reached
    /// the disk all the same, and its cursors must not be assigned again. The recent events
    /// start over, since they may now miss some.
    fn resync(&self, db: &Database, state: &mut LogState) -> Result<(), redb::Error> {
        let stored = tables::initialise(db)?;
        state.bounds = stored.bounds;
        state.stored_bytes = stored.stored_bytes;
        self.shared.recent.lock().clear();
        Ok(())
    }

    /// Moves the events `batch` stored (cursors above `previous_latest`) to the recent events,
    /// and forgets those retention dropped (below `oldest`).
    fn keep_recent(
        &self,
        batch: &mut [WriteRequest],
        outcomes: &[Outcome],
        previous_latest: Cursor,
        oldest: Cursor,
    ) {
        let mut recent = self.shared.recent.lock();
        for (request, outcome) in batch.iter_mut().zip(outcomes) {
            let (WriteRequest::Append { events, .. }, Outcome::Cursors(cursors)) =
                (request, outcome)
            else {
                continue;
            };
            for (encoded, &cursor) in std::mem::take(events).into_iter().zip(cursors) {
                // A duplicate answers the cursor of the event already stored.
                let stored_now = cursor > previous_latest
                    && recent.newest().is_none_or(|newest| cursor > newest);
                if stored_now {
                    recent.push(StoredEvent {
                        cursor,
                        event: encoded.event,
                    });
                }
            }
        }
        recent.forget_before(oldest);
    }

    /// Runs the batch inside one write transaction, keeps at most `max_stored_bytes` of events,
    /// and commits.
    fn apply(
        &self,
        db: &Database,
        batch: &[WriteRequest],
        state: &mut LogState,
        max_stored_bytes: u64,
    ) -> Result<Vec<Outcome>, redb::Error> {
        let txn = db.begin_write()?;
        let outcomes = {
            let mut tables = Tables::open(&txn)?;
            let mut outcomes = Vec::with_capacity(batch.len());
            for request in batch {
                outcomes.push(tables.apply(request, state, &self.retention)?);
            }
            tables.drop_oldest_while(state, |state, _| state.stored_bytes > max_stored_bytes)?;
            tables.save_counters(state)?;
            outcomes
        };
        txn.commit()?;
        Ok(outcomes)
    }
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
        (WriteRequest::SaveAcks { reply, .. }, Outcome::Saved(saved)) => {
            drop(reply.send(Ok(saved)))
        }
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
