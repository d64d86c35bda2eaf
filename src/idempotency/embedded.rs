//! The default idempotency store: one redb file, `{data_dir}/idempotency.redb`.
//!
//! Reads run on the caller's thread (a B-tree lookup of one key). Writes go to one writer thread
//! that drains its queue and commits everything queued in one transaction (group commit, fsync'd
//! by redb's immediate durability) before answering any of the writers, so `put` returns only
//! once its record is durable, and many concurrent sends share one fsync. A reservation reads the
//! key and stores its record in that same write transaction, so it is atomic: redb has one
//! writer at a time, and the file one process.
//!
//! Layout: `records` maps (account, key) to (expires at, Unix ms; [`super::codec`]
//! bytes); `expiry` indexes (expires at, account, key) so that expired records are found without
//! a scan. Expired records are ignored by `get`, purged entirely when the store opens, and a
//! bounded number of them is purged with every commit.
//!
//! After a failed commit (a full disk) the file is reopened by the next write
//! ([`RedbFile`]), so the store works again once there is room; until a write succeeds its
//! [`WriteHealth`] says it cannot write.

use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::SystemTime;

use async_trait::async_trait;
use parking_lot::Mutex;
use redb::{
    Database, ReadableDatabase as _, ReadableTable as _, TableDefinition, WriteTransaction,
};
use tokio::sync::oneshot;

use super::codec::{self, unix_millis};
use super::{IdempotencyError, IdempotencyStore, Record, RecordKey, Reservation};
use crate::storage::{RedbFile, RedbFileError, WriteHealth};

/// The file name inside the data directory.
pub(crate) const FILE_NAME: &str = "idempotency.redb";
/// The backend name in errors and `ErrorInfo.metadata`.
const BACKEND: &str = "embedded";
/// Records: (account, key) → (expires at in Unix ms, encoded record).
const RECORDS: TableDefinition<'_, (&str, &str), (u64, &[u8])> = TableDefinition::new("records");
/// Expiry index: (expires at in Unix ms, account, key) → ().
const EXPIRY: TableDefinition<'_, (u64, &str, &str), ()> = TableDefinition::new("expiry");
/// Most writes one commit takes from the queue.
const MAX_WRITES_PER_COMMIT: usize = 1024;
/// Most expired records one commit purges on the side.
const PURGE_PER_COMMIT: usize = 64;

/// The redb idempotency store.
#[derive(Debug)]
pub(crate) struct EmbeddedIdempotencyStore {
    /// The database file, shared with the writer thread.
    file: Arc<RedbFile>,
    /// The writer thread's queue and handle; `None` once closed.
    writer: Mutex<Option<Writer>>,
}

/// The writer thread.
#[derive(Debug)]
struct Writer {
    /// Its queue.
    jobs_tx: mpsc::Sender<WriteJob>,
    /// Joined on close.
    thread: JoinHandle<()>,
}

/// One `put`, `reserve` or `remove` waiting for its commit.
#[derive(Debug)]
struct WriteJob {
    /// The record's key.
    key: RecordKey,
    /// What to do to it.
    change: Change,
    /// Answered once the commit holding the record is durable (or failed).
    done_tx: oneshot::Sender<Result<Applied, Arc<RedbFileError>>>,
}

/// What a committed change did.
#[derive(Clone, Debug)]
enum Applied {
    /// The change is stored.
    Stored,
    /// A reservation found this live record (encoded) and stored nothing.
    Refused(Vec<u8>),
}

impl EmbeddedIdempotencyStore {
    /// Opens (or creates) `{data_dir}/idempotency.redb`, creating `data_dir` when missing, and
    /// purges the records expired at `now`.
    ///
    /// # Errors
    ///
    /// Fails with [`IdempotencyError::StoreUnavailable`] when the directory or the file cannot be
    /// created or opened (e.g. another process holds it).
    pub(crate) fn open(data_dir: &Path, now: SystemTime) -> Result<Self, IdempotencyError> {
        let unavailable = |source| IdempotencyError::unavailable(BACKEND, "open", source);
        std::fs::create_dir_all(data_dir).map_err(|error| unavailable(redb::Error::Io(error)))?;
        let path = data_dir.join(FILE_NAME);
        let file =
            RedbFile::open(&path, WriteHealth::new("idempotency store")).map_err(unavailable)?;
        let purged = file
            .write(|database, _| prepare(database, now))
            .map_err(unavailable_after("open"))?;
        tracing::info!(path = %path.display(), purged, "idempotency store open");
        let file = Arc::new(file);
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let writer_file = file.clone();
        let thread = std::thread::Builder::new()
            .name("idempotency-writer".to_owned())
            .spawn(move || write_loop(&writer_file, &jobs_rx))
            .map_err(|error| unavailable(redb::Error::Io(error)))?;
        Ok(Self {
            file,
            writer: Mutex::new(Some(Writer { jobs_tx, thread })),
        })
    }

    /// Returns whether the store can write, as its last write found.
    pub(crate) fn health(&self) -> WriteHealth {
        self.file.health().clone()
    }
}

impl Drop for EmbeddedIdempotencyStore {
    /// Lets the writer commit what is queued and waits for it, so that the file is released when
    /// the store is dropped without [`IdempotencyStore::close`].
    fn drop(&mut self) {
        if let Some(Writer { jobs_tx, thread }) = self.writer.get_mut().take() {
            drop(jobs_tx);
            let _ = thread.join();
        }
    }
}

/// A change to one record.
#[derive(Debug)]
enum Change {
    /// Store this record, replacing any earlier one.
    Put(Record),
    /// Store this record when the key has none live at `now_ms` (Unix ms).
    Reserve {
        /// The reservation.
        record: Record,
        /// The instant liveness is judged at.
        now_ms: u64,
    },
    /// Remove the record.
    Remove,
}

/// The store was closed.
#[derive(Debug, thiserror::Error)]
#[error("the store is closed")]
struct StoreClosed;

/// Reports a failed `operation`.
fn unavailable_after(operation: &'static str) -> impl Fn(RedbFileError) -> IdempotencyError {
    move |error| IdempotencyError::unavailable(BACKEND, operation, error)
}

#[async_trait]
impl IdempotencyStore for EmbeddedIdempotencyStore {
    #[cfg(test)]
    async fn get(
        &self,
        key: &RecordKey,
        now: SystemTime,
    ) -> Result<Option<Record>, IdempotencyError> {
        let record_opt = self.read(key, Some(unix_millis(now)))?;
        Ok(record_opt.filter(|record| record.is_live(now)))
    }

    async fn put(&self, key: &RecordKey, record: &Record) -> Result<(), IdempotencyError> {
        self.change(key, Change::Put(record.clone())).await?;
        Ok(())
    }

    async fn reserve(
        &self,
        key: &RecordKey,
        record: &Record,
        now: SystemTime,
    ) -> Result<Reservation, IdempotencyError> {
        let change = Change::Reserve {
            record: record.clone(),
            now_ms: unix_millis(now),
        };
        match self.change(key, change).await? {
            Applied::Stored => Ok(Reservation::Reserved),
            Applied::Refused(bytes) => Ok(Reservation::Existing(decode(key, &bytes)?)),
        }
    }

    async fn settled(&self, key: &RecordKey) -> Result<Option<Record>, IdempotencyError> {
        // Only this process can open the file: a reservation it does not have in flight is from
        // a process that stopped, and nobody will replace it.
        self.read(key, None)
    }

    async fn remove(&self, key: &RecordKey) -> Result<(), IdempotencyError> {
        self.change(key, Change::Remove).await?;
        Ok(())
    }

    #[cfg(test)]
    async fn purge_expired(&self, now: SystemTime) -> Result<usize, IdempotencyError> {
        self.file
            .write(|database, _| {
                let transaction = database.begin_write()?;
                let purged = purge(&transaction, unix_millis(now), usize::MAX)?;
                transaction.commit()?;
                Ok(purged)
            })
            .map_err(unavailable_after("purge"))
    }

    async fn close(&self) -> Result<(), IdempotencyError> {
        let writer_opt = self.writer.lock().take();
        if let Some(Writer { jobs_tx, thread }) = writer_opt {
            // The thread commits what is queued, then ends when the queue is closed.
            drop(jobs_tx);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        if self.file.is_closed() {
            return Ok(());
        }
        // Waits for the reads still running.
        self.file
            .close()
            .map_err(|error| IdempotencyError::unavailable(BACKEND, "close", error))?;
        tracing::info!(path = %self.file.path().display(), "idempotency store closed");
        Ok(())
    }
}

impl EmbeddedIdempotencyStore {
    /// Reads the record of `key`; with `live_at_ms`, only one that has not expired then.
    fn read(
        &self,
        key: &RecordKey,
        live_at_ms: Option<u64>,
    ) -> Result<Option<Record>, IdempotencyError> {
        let bytes_opt = self
            .file
            .read(|database| read_record(database, key, live_at_ms))
            .map_err(unavailable_after("read"))?;
        bytes_opt.map(|bytes| decode(key, &bytes)).transpose()
    }

    /// Queues `change` for the writer and waits until it is durable.
    async fn change(&self, key: &RecordKey, change: Change) -> Result<Applied, IdempotencyError> {
        let (done_tx, done_rx) = oneshot::channel();
        let job = WriteJob {
            key: key.clone(),
            change,
            done_tx,
        };
        let queued = match self.writer.lock().as_ref() {
            Some(writer) => writer.jobs_tx.send(job).is_ok(),
            None => false,
        };
        if !queued {
            return Err(IdempotencyError::unavailable(BACKEND, "write", StoreClosed));
        }
        match done_rx.await {
            Ok(Ok(applied)) => Ok(applied),
            Ok(Err(error)) => Err(IdempotencyError::StoreUnavailable {
                backend: BACKEND,
                operation: "write",
                source: error,
            }),
            Err(_) => Err(IdempotencyError::unavailable(BACKEND, "write", StoreClosed)),
        }
    }
}

/// Creates the tables and purges everything expired at `now`; returns how many were purged.
fn prepare(database: &Database, now: SystemTime) -> Result<usize, redb::Error> {
    let transaction = database.begin_write()?;
    transaction.open_table(RECORDS)?;
    transaction.open_table(EXPIRY)?;
    let purged = purge(&transaction, unix_millis(now), usize::MAX)?;
    transaction.commit()?;
    Ok(purged)
}

/// Decodes the stored record of `key`.
fn decode(key: &RecordKey, bytes: &[u8]) -> Result<Record, IdempotencyError> {
    codec::decode(bytes).map_err(|error| IdempotencyError::UndecodableRecord {
        idempotency_key: key.idempotency_key.clone(),
        source: Arc::new(error),
    })
}

/// Returns the encoded record of `key`; with `live_at_ms`, only when it has not expired then.
fn read_record(
    database: &Database,
    key: &RecordKey,
    live_at_ms: Option<u64>,
) -> Result<Option<Vec<u8>>, redb::Error> {
    let transaction = database.begin_read()?;
    let records = transaction.open_table(RECORDS)?;
    let Some(entry) = records.get((key.account.as_str(), key.idempotency_key.as_str()))? else {
        return Ok(None);
    };
    let (expires_at_ms, bytes) = entry.value();
    let live = live_at_ms.is_none_or(|now_ms| now_ms < expires_at_ms);
    Ok(live.then(|| bytes.to_vec()))
}

/// Serves the queue until every sender is gone: each round takes what is queued, commits it in
/// one transaction and answers every job.
fn write_loop(file: &RedbFile, jobs_rx: &mpsc::Receiver<WriteJob>) {
    while let Ok(first) = jobs_rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_WRITES_PER_COMMIT {
            match jobs_rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = file
            .write(|database, _| commit_batch(database, &batch))
            .map_err(Arc::new);
        match outcome {
            Ok(applied) => {
                for (job, applied) in batch.into_iter().zip(applied) {
                    let _ = job.done_tx.send(Ok(applied));
                }
            }
            Err(error) => {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    writes = batch.len(),
                    "idempotency records not stored"
                );
                for job in batch {
                    let _ = job.done_tx.send(Err(error.clone()));
                }
            }
        }
    }
}

/// The records table, open in a write transaction.
type RecordsTable<'txn> = redb::Table<'txn, (&'static str, &'static str), (u64, &'static [u8])>;
/// The expiry index, open in a write transaction.
type ExpiryTable<'txn> = redb::Table<'txn, (u64, &'static str, &'static str), ()>;

/// Applies every change of `batch` in order and purges some expired records, in one durable
/// commit; returns what each change did.
fn commit_batch(database: &Database, batch: &[WriteJob]) -> Result<Vec<Applied>, redb::Error> {
    let transaction = database.begin_write()?;
    let applied = {
        let mut records = transaction.open_table(RECORDS)?;
        let mut expiry = transaction.open_table(EXPIRY)?;
        batch
            .iter()
            .map(|job| apply(&mut records, &mut expiry, job))
            .collect::<Result<Vec<_>, _>>()?
    };
    purge(
        &transaction,
        unix_millis(SystemTime::now()),
        PURGE_PER_COMMIT,
    )?;
    transaction.commit()?;
    Ok(applied)
}

/// Applies one job's change inside the batch's transaction (seeing the changes before it).
fn apply(
    records: &mut RecordsTable<'_>,
    expiry: &mut ExpiryTable<'_>,
    job: &WriteJob,
) -> Result<Applied, redb::Error> {
    let account = job.key.account.as_str();
    let idempotency_key = job.key.idempotency_key.as_str();
    let record = match &job.change {
        Change::Put(record) => record,
        Change::Reserve { record, now_ms } => {
            if let Some(entry) = records.get((account, idempotency_key))? {
                let (expires_at_ms, bytes) = entry.value();
                if *now_ms < expires_at_ms {
                    return Ok(Applied::Refused(bytes.to_vec()));
                }
            }
            record
        }
        Change::Remove => {
            if let Some(entry) = records.remove((account, idempotency_key))? {
                let (expires_at_ms, _) = entry.value();
                expiry.remove((expires_at_ms, account, idempotency_key))?;
            }
            return Ok(Applied::Stored);
        }
    };
    let expires_at_ms = unix_millis(record.expires_at);
    let bytes = codec::encode(record);
    records.insert(
        (account, idempotency_key),
        (expires_at_ms, bytes.as_slice()),
    )?;
    expiry.insert((expires_at_ms, account, idempotency_key), ())?;
    Ok(Applied::Stored)
}

/// Removes up to `limit` expiry entries due at `now_ms`, and their records when those have not
/// been replaced by a later one.
fn purge(transaction: &WriteTransaction, now_ms: u64, limit: usize) -> Result<usize, redb::Error> {
    let mut expiry = transaction.open_table(EXPIRY)?;
    let mut records = transaction.open_table(RECORDS)?;
    let due: Vec<(u64, String, String)> = expiry
        .range((0, "", "")..(now_ms.saturating_add(1), "", ""))?
        .take(limit)
        .map(|entry| {
            entry.map(|(key, _)| {
                let (expires_at_ms, account, idempotency_key) = key.value();
                (
                    expires_at_ms,
                    account.to_owned(),
                    idempotency_key.to_owned(),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let mut purged = 0;
    for (expires_at_ms, account, idempotency_key) in &due {
        expiry.remove((*expires_at_ms, account.as_str(), idempotency_key.as_str()))?;
        let record_key = (account.as_str(), idempotency_key.as_str());
        let replaced = match records.get(record_key)? {
            Some(entry) => entry.value().0 > now_ms,
            None => true,
        };
        if !replaced {
            records.remove(record_key)?;
            purged += 1;
        }
    }
    Ok(purged)
}

#[cfg(test)]
mod tests;
