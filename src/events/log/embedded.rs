//! The default [`EventLog`] backend: one redb file, `{data_dir}/events.redb`, holding the events,
//! an id index for dedupe and `get`, the log's counters, and the named consumers' progress.
//!
//! Writes go through one writer thread (`writer.rs`) that drains every queued request and commits
//! them in one durable transaction (group commit, no linger), then answers each request. Reads run
//! on the blocking pool, each in its own read transaction, concurrently with the writer.
//!
//! Size retention runs inside every write transaction; age retention runs every
//! `check_interval` (and on [`EmbeddedEventLog::enforce_retention`]), and then compacts the file
//! when enough of it is free or it is over `retention_max_bytes` (`space.rs`): the size limit
//! bounds the file on disk, not only the bytes of the events in it.

mod recent;
mod rows;
mod space;
mod tables;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use parking_lot::Mutex;
use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};
use tokio::sync::{mpsc, oneshot, watch};

use self::recent::RecentEvents;
use self::writer::{EncodedEvent, LogState, WriteRequest, Writer};
use super::{ConsumerStore, EventLog, EventLogError, LogBounds, LogStats, RetentionPolicy};
use crate::events::consumers::{AckState, ConsumerKey, ConsumerRecord};
use crate::events::{Cursor, NewEvent, StoredEvent};
use crate::storage::{RedbFile, RedbFileError, WriteHealth};

/// The file name inside the data directory.
pub(crate) const FILE_NAME: &str = "events.redb";

/// Events by cursor; values are the JSON of [`NewEvent`].
const EVENTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("events");
/// Cursor by event id: dedupe and `get`.
const IDS: TableDefinition<'_, &str, u64> = TableDefinition::new("event_ids");
/// Counters that must survive restarts (`latest`, `stored_bytes`).
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// Named consumers by (account, name); values are the JSON of [`ConsumerRecord`].
const CONSUMERS: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("consumers");

/// Newest events kept in memory for the readers at the head of the log.
const RECENT_EVENTS: usize = 1024;
/// Most bytes of recent events kept in memory (64 MiB, estimated as parsed JSON): far more than a
/// thousand ordinary events take, and a dozen of the largest events the ingress accepts.
const RECENT_EVENTS_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Most write requests the writer queues before `append` callers wait for room.
const QUEUE_CAPACITY: usize = 8192;

/// First wait before a write is retried on its own after a failed one (so that health turns
/// ready again without traffic once the disk has room); doubled up to [`RECOVERY_PROBE_MAX`].
const RECOVERY_PROBE_MIN: Duration = Duration::from_secs(1);
/// Longest wait between two such retries.
const RECOVERY_PROBE_MAX: Duration = Duration::from_secs(30);

/// State shared by the handle, the writer thread and the readers.
#[derive(Debug)]
struct Shared {
    /// The database file, reopened by the writer after a failed commit. `close` waits for the
    /// readers and the writer using it, then releases it.
    file: RedbFile,
    /// Bounds and counters as of the last commit.
    state: Mutex<LogState>,
    /// The newest committed events, updated before `state`.
    recent: Mutex<RecentEvents>,
}

/// The embedded, single-process event log over redb.
#[derive(Debug)]
pub(crate) struct EmbeddedEventLog {
    /// Shared with the writer and the readers.
    shared: Arc<Shared>,
    /// The writer's queue.
    requests_tx: mpsc::Sender<WriteRequest>,
    /// Follows the latest cursor (the writer holds the sender).
    latest_rx: watch::Receiver<Cursor>,
    /// Where the file is, for messages.
    path: PathBuf,
}

impl EmbeddedEventLog {
    /// Opens (or creates) `{data_dir}/events.redb`, creating `data_dir` when missing, and starts
    /// the writer, the age-retention timer and the recovery probe (which retries a write now and
    /// then while writes fail, so that the log's [`WriteHealth`] recovers without traffic).
    ///
    /// # Errors
    ///
    /// Fails with [`EventLogError::Storage`] when the directory cannot be created or the file
    /// cannot be opened (no permission, held by another process, corrupt).
    pub(crate) async fn open(
        data_dir: &Path,
        retention: RetentionPolicy,
    ) -> Result<Self, EventLogError> {
        let path = data_dir.join(FILE_NAME);
        let (file, state) = tokio::task::spawn_blocking({
            let data_dir = data_dir.to_owned();
            let path = path.clone();
            move || open_database(&data_dir, &path)
        })
        .await
        .map_err(storage)??;
        let (latest_tx, latest_rx) = watch::channel(state.bounds.latest);
        let health = file.health().clone();
        let shared = Arc::new(Shared {
            file,
            state: Mutex::new(state),
            recent: Mutex::new(RecentEvents::new(RECENT_EVENTS, RECENT_EVENTS_MAX_BYTES)),
        });
        let (requests_tx, requests_rx) = mpsc::channel(QUEUE_CAPACITY);
        Writer::new(shared.clone(), retention, latest_tx).spawn(requests_rx)?;
        spawn_retention_timer(requests_tx.downgrade(), retention.check_interval);
        spawn_recovery_probe(requests_tx.downgrade(), health);
        Ok(Self {
            shared,
            requests_tx,
            latest_rx,
            path,
        })
    }

    /// Returns the path of the database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Returns whether the log can write, as its last write found.
    pub(crate) fn health(&self) -> WriteHealth {
        self.shared.file.health().clone()
    }

    /// Runs a retention pass at once (the timer does it periodically): drops events received
    /// before `now - max_age`, then compacts the file when that is worth it or the file is over
    /// its size limit; returns once the space is given back.
    ///
    /// # Errors
    ///
    /// Fails when the log is closed or the storage fails.
    #[cfg(test)]
    pub(crate) async fn enforce_retention(&self, now: SystemTime) -> Result<(), EventLogError> {
        self.request(|reply| WriteRequest::Retain {
            now_ms: unix_ms(now),
            reply: Some(reply),
        })
        .await
    }

    /// Queues a write request and waits for its answer.
    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, EventLogError>>) -> WriteRequest,
    ) -> Result<T, EventLogError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.requests_tx
            .send(make(reply_tx))
            .await
            .map_err(|_| EventLogError::Closed)?;
        reply_rx.await.map_err(|_| EventLogError::Closed)?
    }

    /// Runs `read` against the database on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Database) -> Result<T, redb::Error> + Send + 'static,
    ) -> Result<T, EventLogError> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.file.read(read).map_err(EventLogError::from))
            .await
            .map_err(storage)?
    }
}

#[async_trait]
impl EventLog for EmbeddedEventLog {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Cursor>, EventLogError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let events = events
            .into_iter()
            .map(EncodedEvent::new)
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        self.request(|reply| WriteRequest::Append { events, reply })
            .await
    }

    async fn read_after(
        &self,
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, EventLogError> {
        if limit == 0 || after >= self.bounds().latest {
            return Ok(Vec::new());
        }
        if !self.shared.file.is_closed()
            && let Some(recent) = self.shared.recent.lock().after(after, limit)
        {
            return Ok(recent);
        }
        self.read(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(EVENTS)?;
            let mut events = Vec::with_capacity(limit.min(256));
            for entry in table.range(after + 1..)?.take(limit) {
                let (cursor, bytes) = entry?;
                events.push(decode(cursor.value(), bytes.value())?);
            }
            Ok(events)
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<StoredEvent>, EventLogError> {
        let id = id.to_owned();
        self.read(move |db| {
            let txn = db.begin_read()?;
            let Some(cursor) = txn.open_table(IDS)?.get(id.as_str())?.map(|c| c.value()) else {
                return Ok(None);
            };
            let events = txn.open_table(EVENTS)?;
            let bytes = events.get(cursor)?;
            bytes.map(|bytes| decode(cursor, bytes.value())).transpose()
        })
        .await
    }

    fn bounds(&self) -> LogBounds {
        self.shared.state.lock().bounds
    }

    fn watch_latest(&self) -> watch::Receiver<Cursor> {
        self.latest_rx.clone()
    }

    fn stats(&self) -> LogStats {
        let state = self.shared.state.lock();
        LogStats {
            bounds: state.bounds,
            stored_bytes: state.stored_bytes,
            appended: state.appended,
            oldest_received_at_ms: state.oldest_received_at_ms,
            disk_bytes: self.shared.file.disk_bytes(),
        }
    }

    async fn close(&self) -> Result<(), EventLogError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        if self
            .requests_tx
            .send(WriteRequest::Close { reply: reply_tx })
            .await
            .is_ok()
        {
            let _ = reply_rx.await;
        }
        // Whatever the writer did, nobody may use the file after this returns.
        self.shared.file.close().map_err(storage)
    }
}

#[async_trait]
impl ConsumerStore for EmbeddedEventLog {
    async fn create_consumer(
        &self,
        record: ConsumerRecord,
    ) -> Result<ConsumerRecord, EventLogError> {
        self.request(|reply| WriteRequest::CreateConsumer { record, reply })
            .await
    }

    async fn load_consumer(
        &self,
        key: &ConsumerKey,
    ) -> Result<Option<ConsumerRecord>, EventLogError> {
        let key = key.clone();
        self.read(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(CONSUMERS)?;
            let bytes = table.get((key.account.as_str(), key.name.as_str()))?;
            bytes
                .map(|bytes| rows::decode_consumer(bytes.value()))
                .transpose()
        })
        .await
    }

    async fn list_consumers(&self) -> Result<Vec<ConsumerRecord>, EventLogError> {
        self.read(|db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(CONSUMERS)?;
            let mut records = Vec::new();
            for entry in table.iter()? {
                let (_, bytes) = entry?;
                records.push(rows::decode_consumer(bytes.value())?);
            }
            Ok(records)
        })
        .await
    }

    async fn save_acks(&self, key: &ConsumerKey, acks: AckState) -> Result<bool, EventLogError> {
        let key = key.clone();
        self.request(|reply| WriteRequest::SaveAcks { key, acks, reply })
            .await
    }

    async fn delete_consumer(
        &self,
        key: &ConsumerKey,
    ) -> Result<Option<ConsumerRecord>, EventLogError> {
        let key = key.clone();
        self.request(|reply| WriteRequest::DeleteConsumer { key, reply })
            .await
    }
}

/// Opens the file, creates the tables, and reads the counters back.
fn open_database(data_dir: &Path, path: &Path) -> Result<(RedbFile, LogState), EventLogError> {
    std::fs::create_dir_all(data_dir).map_err(storage)?;
    let file = RedbFile::open(path, WriteHealth::new("event log")).map_err(storage)?;
    let state = file.write(|db, _| tables::initialise(db))?;
    Ok((file, state))
}

/// Sends an age-retention request every `period` while the log is open.
fn spawn_retention_timer(requests_tx: mpsc::WeakSender<WriteRequest>, period: Duration) {
    tokio::spawn(async move {
        // The first run is one period after opening: nothing is due at start that was not due
        // before the restart, and appends racing the open are not judged by a stale clock.
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(sender) = requests_tx.upgrade() else {
                return;
            };
            let request = WriteRequest::Retain {
                now_ms: unix_ms(SystemTime::now()),
                reply: None,
            };
            if sender.send(request).await.is_err() {
                return;
            }
        }
    });
}

/// While the log's writes fail, sends an age-retention request (a write like any other) after
/// [`RECOVERY_PROBE_MIN`], then after doubling waits up to [`RECOVERY_PROBE_MAX`]; stops with the
/// log.
fn spawn_recovery_probe(requests_tx: mpsc::WeakSender<WriteRequest>, health: WriteHealth) {
    tokio::spawn(async move {
        let mut wait = RECOVERY_PROBE_MIN;
        loop {
            tokio::time::sleep(wait).await;
            let Some(sender) = requests_tx.upgrade() else {
                return;
            };
            if health.is_writable() {
                wait = RECOVERY_PROBE_MIN;
                continue;
            }
            let request = WriteRequest::Retain {
                now_ms: unix_ms(SystemTime::now()),
                reply: None,
            };
            if sender.send(request).await.is_err() {
                return;
            }
            wait = (wait * 2).min(RECOVERY_PROBE_MAX);
        }
    });
}

/// Milliseconds since the Unix epoch.
fn unix_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(elapsed) => i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Decodes a stored event.
fn decode(cursor: Cursor, bytes: &[u8]) -> Result<StoredEvent, redb::Error> {
    Ok(StoredEvent {
        cursor,
        event: rows::decode_event(bytes)?,
    })
}

/// Decodes a part of a stored row (see `rows.rs` for whole rows); a value that does not decode is
/// corruption.
fn decode_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, redb::Error> {
    serde_json::from_slice(bytes).map_err(|error| redb::Error::Corrupted(error.to_string()))
}

impl From<RedbFileError> for EventLogError {
    fn from(error: RedbFileError) -> Self {
        match error {
            RedbFileError::Storage(error) => storage(error),
            RedbFileError::Closed => Self::Closed,
        }
    }
}

/// Wraps any failure as a storage error.
fn storage(error: impl std::error::Error + Send + Sync + 'static) -> EventLogError {
    EventLogError::Storage(Box::new(error))
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
