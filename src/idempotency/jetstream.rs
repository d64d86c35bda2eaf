//! The idempotency store of the nats backend: a JetStream key-value bucket
//! (`nats.idempotency_bucket`), one entry per (account, key), the value in the [`codec`] format
//! (versioned, shared with the embedded store), and the bucket's TTL the idempotency retention,
//! so the server drops what the gateway no longer replays.
//!
//! `put` returns once JetStream acknowledged the entry (stored on the stream's replicas).
//! `purge_expired` deletes only an entry still at the revision it read, so a record replaced
//! meanwhile (by this or another replica) survives.
//!
//! Not provided yet: reserving a key across replicas (a create-if-absent reservation that makes
//! two replicas' concurrent sends with one key coalesce). The store serves the trait's
//! operations; concurrent sends with one key on two replicas are left to the upstream's
//! `crmMessageId` deduplication, as [`IdempotencyStore`] says of distributed backends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_nats::jetstream::kv;
use async_trait::async_trait;
#[cfg(test)]
use futures::TryStreamExt;

use super::codec;
use super::{IdempotencyError, IdempotencyStore, Record, RecordKey};
use crate::config::NatsConfig;
use crate::nats::{NatsConnection, kv_key};

/// The backend name in errors and `ErrorInfo.metadata`.
const BACKEND: &str = "nats";

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

#[async_trait]
impl IdempotencyStore for JetStreamIdempotencyStore {
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
        let record =
            codec::decode(&value).map_err(|source| IdempotencyError::UndecodableRecord {
                idempotency_key: key.idempotency_key.clone(),
                source: std::sync::Arc::new(source),
            })?;
        Ok(Some(record).filter(|record| record.is_live(now)))
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

/// A boxed client error as an error type.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct BoxedError(async_nats::Error);

#[cfg(test)]
mod tests;
