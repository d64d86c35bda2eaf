//! The idempotency store of the nats backend: a JetStream key-value bucket
//! (`nats.idempotency_bucket`), one entry per (account, key), the value in the [`codec`] format
//! (versioned, shared with the embedded store), and the bucket's TTL the idempotency retention,
//! so the server drops what the gateway no longer replays.
//!
//! `put` returns once JetStream acknowledged the entry (stored on the stream's replicas).
//! `purge_expired` deletes only an entry still at the revision it read, so a record replaced
//! meanwhile (by this or another replica) survives.
//!
//! `reserve` is the key-value `create` (an entry written only when the key's last revision is
//! none, or a delete marker: JetStream checks the expected revision atomically, so of every
//! replica's concurrent reservations exactly one is stored). An entry the bucket still holds but
//! whose record has expired (the bucket's TTL runs from the write, the record's expiry from the
//! reservation, so the entry may outlive the record by moments) is replaced with `update` at the
//! revision read, which is just as atomic. Entries the bucket's TTL dropped are simply absent.
//!
//! `settled` watches the key (its current entry first, then every change) until the reservation
//! is replaced by an outcome or removed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_nats::jetstream::kv;
use async_trait::async_trait;
use futures::StreamExt as _;
#[cfg(test)]
use futures::TryStreamExt;

use super::codec;
use super::{IdempotencyError, IdempotencyStore, Outcome, Record, RecordKey, Reservation};
use crate::config::NatsConfig;
use crate::nats::{NatsConnection, kv_key};

/// The backend name in errors and `ErrorInfo.metadata`.
const BACKEND: &str = "nats";
/// Attempts of one reservation. Each attempt after the first follows a write by another replica
/// between this one's read and write (the key expired, was removed or was replaced meanwhile), so
/// the next read finds a live record or a free key; more rounds than this mean the bucket is
/// misbehaving.
const RESERVE_ATTEMPTS: usize = 4;

/// Idempotency records in a JetStream key-value bucket.
#[derive(Debug)]
pub(crate) struct JetStreamIdempotencyStore {
    /// The bucket.
    bucket: kv::Store,
    /// Set by `close`.
    closed: AtomicBool,
}

impl JetStreamIdempotencyStore {
    /// Opens (creating when absent) the bucket `nats.idempotency_bucket` with entries kept for
    /// `retention`.
    ///
    /// # Errors
    ///
    /// Fails with [`IdempotencyError::StoreUnavailable`] when JetStream refuses or cannot be
    /// reached.
    pub(crate) async fn open(
        connection: &NatsConnection,
        nats: &NatsConfig,
        retention: Duration,
    ) -> Result<Self, IdempotencyError> {
        let bucket = crate::nats::open_bucket(
            connection.jetstream(),
            &nats.idempotency_bucket,
            retention,
            nats.replicas,
        )
        .await
        .map_err(|error| unavailable("open", BoxedError(error)))?;
        Ok(Self {
            bucket,
            closed: AtomicBool::new(false),
        })
    }

    /// Fails once the store is closed.
    fn check_open(&self, operation: &'static str) -> Result<(), IdempotencyError> {
        if self.closed.load(Ordering::Acquire) {
            Err(unavailable(operation, Closed))
        } else {
            Ok(())
        }
    }
}

/// The entry key of `key`: account and idempotency key, each encoded as a key token.
fn entry_key(key: &RecordKey) -> String {
    format!("{}.{}", kv_key(&key.account), kv_key(&key.idempotency_key))
}

/// Decodes the stored record of `key`.
fn decode(key: &RecordKey, value: &[u8]) -> Result<Record, IdempotencyError> {
    codec::decode(value).map_err(|source| IdempotencyError::UndecodableRecord {
        idempotency_key: key.idempotency_key.clone(),
        source: std::sync::Arc::new(source),
    })
}

impl JetStreamIdempotencyStore {
    /// One reservation attempt: `None` when another replica wrote the key between this
    /// attempt's read and write, so that it has to be read again.
    async fn try_reserve(
        &self,
        key: &RecordKey,
        value: &bytes::Bytes,
        now: SystemTime,
    ) -> Result<Option<Reservation>, IdempotencyError> {
        let entry_key = entry_key(key);
        match self.bucket.create(&entry_key, value.clone()).await {
            Ok(_) => return Ok(Some(Reservation::Reserved)),
            Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => {}
            Err(error) => return Err(unavailable("write", error)),
        }
        let entry_opt = self
            .bucket
            .entry(&entry_key)
            .await
            .map_err(|error| unavailable("read", error))?;
        let Some(entry) = entry_opt.filter(|entry| entry.operation == kv::Operation::Put) else {
            // Removed or dropped by the TTL since `create` looked.
            return Ok(None);
        };
        let existing = decode(key, &entry.value)?;
        if existing.is_live(now) {
            return Ok(Some(Reservation::Existing(existing)));
        }
        match self
            .bucket
            .update(&entry_key, value.clone(), entry.revision)
            .await
        {
            Ok(_) => Ok(Some(Reservation::Reserved)),
            Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(None),
            Err(error) => Err(unavailable("write", error)),
        }
    }
}

#[async_trait]
impl IdempotencyStore for JetStreamIdempotencyStore {
    #[cfg(test)]
    async fn get(
        &self,
        key: &RecordKey,
        now: SystemTime,
    ) -> Result<Option<Record>, IdempotencyError> {
        self.check_open("read")?;
        let Some(value) = self
            .bucket
            .get(entry_key(key))
            .await
            .map_err(|error| unavailable("read", error))?
        else {
            return Ok(None);
        };
        let record = decode(key, &value)?;
        Ok(Some(record).filter(|record| record.is_live(now)))
    }

    async fn reserve(
        &self,
        key: &RecordKey,
        record: &Record,
        now: SystemTime,
    ) -> Result<Reservation, IdempotencyError> {
        self.check_open("write")?;
        let value = bytes::Bytes::from(codec::encode(record));
        for _ in 0..RESERVE_ATTEMPTS {
            if let Some(reservation) = self.try_reserve(key, &value, now).await? {
                return Ok(reservation);
            }
        }
        Err(unavailable("reserve", Contended))
    }

    async fn settled(&self, key: &RecordKey) -> Result<Option<Record>, IdempotencyError> {
        self.check_open("read")?;
        let entry_key = entry_key(key);
        // Watching before reading: a change between the two is in the watch.
        let mut watch = self
            .bucket
            .watch_with_history(&entry_key)
            .await
            .map_err(|error| unavailable("watch", error))?;
        let current = self
            .bucket
            .entry(&entry_key)
            .await
            .map_err(|error| unavailable("read", error))?;
        if current.is_none_or(|entry| entry.operation != kv::Operation::Put) {
            return Ok(None);
        }
        while let Some(entry) = watch.next().await {
            let entry = entry.map_err(|error| unavailable("watch", error))?;
            if entry.operation != kv::Operation::Put {
                return Ok(None);
            }
            let record = decode(key, &entry.value)?;
            if !matches!(record.outcome, Outcome::Pending { .. }) {
                return Ok(Some(record));
            }
        }
        Err(unavailable("watch", WatchEnded))
    }

    async fn put(&self, key: &RecordKey, record: &Record) -> Result<(), IdempotencyError> {
        self.check_open("write")?;
        self.bucket
            .put(entry_key(key), codec::encode(record).into())
            .await
            .map_err(|error| unavailable("write", error))?;
        Ok(())
    }

    async fn remove(&self, key: &RecordKey) -> Result<(), IdempotencyError> {
        self.check_open("write")?;
        self.bucket
            .delete(entry_key(key))
            .await
            .map_err(|error| unavailable("write", error))
    }

    #[cfg(test)]
    async fn purge_expired(&self, now: SystemTime) -> Result<usize, IdempotencyError> {
        self.check_open("purge")?;
        let keys: Vec<String> = self
            .bucket
            .keys()
            .await
            .map_err(|error| unavailable("purge", error))?
            .try_collect()
            .await
            .map_err(|error| unavailable("purge", error))?;
        let mut purged = 0;
        for entry_key in keys {
            let Some(entry) = self
                .bucket
                .entry(entry_key.as_str())
                .await
                .map_err(|error| unavailable("purge", error))?
            else {
                continue;
            };
            let expired = entry.operation == kv::Operation::Put
                && codec::decode(&entry.value).is_ok_and(|record| !record.is_live(now));
            if !expired {
                continue;
            }
            match self
                .bucket
                .delete_expect_revision(entry_key.as_str(), Some(entry.revision))
                .await
            {
                Ok(()) => purged += 1,
                // Replaced meanwhile: the newer record stays.
                Err(error) if error.kind() == kv::DeleteErrorKind::WrongLastRevision => {}
                Err(error) => return Err(unavailable("purge", error)),
            }
        }
        Ok(purged)
    }

    async fn close(&self) -> Result<(), IdempotencyError> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

/// Builds a [`IdempotencyError::StoreUnavailable`] of this backend.
fn unavailable(
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> IdempotencyError {
    IdempotencyError::unavailable(BACKEND, operation, source)
}

/// The store was closed.
#[derive(Debug, thiserror::Error)]
#[error("the store is closed")]
struct Closed;

/// Every reservation attempt met another replica's write.
#[derive(Debug, thiserror::Error)]
#[error("the key kept changing under {RESERVE_ATTEMPTS} reservation attempts")]
struct Contended;

/// The watch of a key ended (the connection closed).
#[derive(Debug, thiserror::Error)]
#[error("the watch of the key ended")]
struct WatchEnded;

/// A boxed client error as an error type.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct BoxedError(async_nats::Error);

#[cfg(test)]
mod tests;
