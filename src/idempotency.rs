//! Send idempotency: a send that carries an `idempotency_key` happens at most once per account and
//! key within the retention window (24 h by default), however often and however concurrently the
//! caller repeats it, and even across restarts.
//!
//! - [`IdempotencyStore`] keeps one [`Record`] per [`RecordKey`] (account, key): the request's
//!   [`Fingerprint`], its [`Outcome`] and when the record expires. Backends: [`embedded`] (redb, the
//!   default) and [`jetstream`] (a NATS JetStream key-value bucket, `events.backend = "nats"`).
//! - [`IdempotentSends`](crate::service::IdempotentSends), in the service layer, wraps one send:
//!   it coalesces concurrent calls with the same key into one upstream call (on every replica
//!   sharing the store), replays a stored
//!   outcome (`replayed = true`), refuses a key reused with a different request
//!   ([`IdempotencyError::KeyReused`]), and records the outcome before anyone is answered.
//!
//! The path fails closed: before the upstream call the key is reserved durably and atomically
//! ([`IdempotencyStore::reserve`]: create-if-absent, so of concurrent calls on every replica
//! sharing the store exactly one reserves), and the outcome replaces the reservation afterwards.
//! A send whose reservation cannot be written is refused ([`IdempotencyError::StoreUnavailable`],
//! UNAVAILABLE with `RetryInfo`) and never sent. A reservation another process made that may
//! still be sending is followed: the call waits for its outcome. Any other reservation means the
//! gateway stopped (or the store failed) between sending and recording: whether the message went
//! out is unknown, so the call is answered [`IdempotencyError::OutcomeUnknown`] instead of
//! sending again.
//!
//! What is recorded: successful sends, and upstream refusals that repeating cannot change (the
//! request itself is wrong: invalid, unknown, not allowed, or already sent under this
//! `crmMessageId`). Not recorded, so that the caller may retry with the same key: local validation
//! and channel checks (recomputed on every call), unavailable, timeouts, rate limits, internal
//! errors and failed preconditions (an empty balance or a channel that is down can be fixed, and
//! the same send should then go out): their reservation is removed.
//!
//! When the store cannot be read, the send is refused with
//! [`IdempotencyError::StoreUnavailable`] (UNAVAILABLE) rather than sent without protection.

// Before the backends, so that the suite's macro is in scope for their tests.
#[cfg(test)]
#[macro_use]
pub(crate) mod conformance;

pub(crate) mod codec;
pub(crate) mod embedded;
pub(crate) mod fingerprint;
pub(crate) mod jetstream;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::failure::{ERROR_DOMAIN, ErrorClass};
use crate::model::{FieldViolation, SentMessage};

pub(crate) use embedded::EmbeddedIdempotencyStore;
pub(crate) use fingerprint::Fingerprint;
pub(crate) use jetstream::JetStreamIdempotencyStore;

/// How long a caller refused because the store cannot be read or written should wait.
const STORE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Identifies one record: the account the send went through and the caller's key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RecordKey {
    /// The configured account name.
    pub account: String,
    /// The caller's `idempotency_key`.
    pub idempotency_key: String,
}

/// What a store keeps for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// The fingerprint of the request that produced the outcome.
    pub fingerprint: Fingerprint,
    /// The outcome repeats are answered with.
    pub outcome: Outcome,
    /// From this instant on the record is ignored and may be purged.
    pub expires_at: SystemTime,
}

impl Record {
    /// Tells whether the record still counts at `now`.
    pub(crate) fn is_live(&self, now: SystemTime) -> bool {
        now < self.expires_at
    }
}

/// The recorded outcome of a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The key is reserved and the send may have gone out; its outcome was not recorded (yet).
    Pending {
        /// When the key was reserved.
        reserved_at: SystemTime,
        /// The process that reserved it (its [`IdempotentSends`](crate::service::IdempotentSends)
        /// instance id); `None` in records written before reservations named their process.
        reserved_by: Option<String>,
    },
    /// The upstream accepted the message.
    Sent(SentMessage),
    /// The upstream refused it for good.
    Failed(RecordedFailure),
}

/// A failed send as the gRPC edge reports it, kept as data so it can be reported again: to the
/// callers coalesced with the failed call, and (for definitive refusals) to later repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedFailure {
    /// The failure class.
    pub class: ErrorClass,
    /// The `ErrorInfo.reason`.
    pub reason: String,
    /// The `ErrorInfo.domain`.
    pub domain: String,
    /// The status message.
    pub message: String,
    /// The `ErrorInfo.metadata`.
    pub metadata: Vec<(String, String)>,
    /// The invalid fields, for a `BadRequest` detail.
    pub fields: Vec<FieldViolation>,
    /// When the caller may retry, if known.
    pub retry_after: Option<Duration>,
}

/// What [`IdempotencyStore::reserve`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// The key had no live record: the reservation is stored.
    Reserved,
    /// The key has this live record; nothing was stored.
    Existing(Record),
}

/// Durable storage of idempotency records, one per [`RecordKey`].
///
/// Contract, for every backend:
/// - [`get`](Self::get) never returns a record that is not live at `now`.
/// - [`put`](Self::put) and [`reserve`](Self::reserve) return only once the record is durable: it
///   survives a crash or restart from that moment on. `put` replaces any record of the key.
/// - [`reserve`](Self::reserve) is atomic: of concurrent reservations of one key, by any process
///   sharing the store, exactly one is stored; the others get the stored record back.
/// - Any failure to read or write is an [`IdempotencyError::StoreUnavailable`] (or
///   [`IdempotencyError::UndecodableRecord`]); callers then refuse to send.
/// - After [`close`](Self::close), every call fails with `StoreUnavailable`.
///
/// A distributed backend (NATS JetStream KV: key = account and key, value = [`codec`] bytes, a
/// bucket TTL of the retention) implements the same operations, so concurrent sends with one key
/// on several replicas reserve it once and the others follow the reservation
/// ([`settled`](Self::settled)).
#[async_trait]
pub(crate) trait IdempotencyStore: Send + Sync + fmt::Debug + 'static {
    /// Returns the live record of `key` at `now`, if there is one.
    #[cfg(test)]
    async fn get(
        &self,
        key: &RecordKey,
        now: SystemTime,
    ) -> Result<Option<Record>, IdempotencyError>;

    /// Stores `record` (a reservation) under `key` when the key has no record live at `now`
    /// (absent, removed or expired), atomically; otherwise returns the live record unchanged.
    async fn reserve(
        &self,
        key: &RecordKey,
        record: &Record,
        now: SystemTime,
    ) -> Result<Reservation, IdempotencyError>;

    /// Waits until the record of `key` is no longer a reservation that another process sharing
    /// the store may still replace with an outcome, then returns the record stored then (`None`
    /// when it was removed; an expired record is returned as it is, for the caller to judge). A
    /// backend only one process can open returns the current record at once: no other process
    /// can be sending. Callers bound the wait.
    async fn settled(&self, key: &RecordKey) -> Result<Option<Record>, IdempotencyError>;

    /// Stores `record` under `key`, durably, replacing any earlier record.
    async fn put(&self, key: &RecordKey, record: &Record) -> Result<(), IdempotencyError>;

    /// Removes the record of `key`, durably (nothing when there is none).
    async fn remove(&self, key: &RecordKey) -> Result<(), IdempotencyError>;

    /// Removes every record expired at `now`, returning how many were removed.
    #[cfg(test)]
    async fn purge_expired(&self, now: SystemTime) -> Result<usize, IdempotencyError>;

    /// Releases the backend (files, connections); waits for pending writes.
    async fn close(&self) -> Result<(), IdempotencyError>;
}

/// What can go wrong with an idempotent send, besides the send itself.
#[derive(Clone, Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key was used before with a different request.
    #[error("idempotency key {idempotency_key:?} was already used with a different request")]
    KeyReused {
        /// The caller's key.
        idempotency_key: String,
    },
    /// The caller's deadline passed while an earlier call with the same key was still sending.
    #[error(
        "the deadline passed while an earlier send with idempotency key {idempotency_key:?} was \
         in progress; retry with the same key to get its outcome"
    )]
    InProgress {
        /// The caller's key.
        idempotency_key: String,
    },
    /// The key was reserved by a send whose outcome was never recorded (the gateway stopped or
    /// the store failed between sending and recording): it may or may not have gone out.
    #[error(
        "a send with idempotency key {idempotency_key:?} was started but its outcome was not \
         recorded; it may have been delivered, so it is not sent again"
    )]
    OutcomeUnknown {
        /// The caller's key.
        idempotency_key: String,
    },
    /// The send this call was coalesced with ended without an outcome (a defect).
    #[error("the send with idempotency key {idempotency_key:?} ended without an outcome")]
    Abandoned {
        /// The caller's key.
        idempotency_key: String,
    },
    /// The store could not be read or written.
    #[error("the {backend} idempotency store could not {operation}")]
    StoreUnavailable {
        /// Which backend.
        backend: &'static str,
        /// What was attempted, in words (`read`, `write`, `open` …).
        operation: &'static str,
        /// What failed.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// A stored record cannot be decoded (e.g. written by a newer gateway).
    #[error("the idempotency record of key {idempotency_key:?} cannot be decoded")]
    UndecodableRecord {
        /// The caller's key.
        idempotency_key: String,
        /// Why decoding failed.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The send failed earlier (or in the call this one was coalesced with); reported again.
    #[error("{}", .0.message)]
    Repeated(Box<RecordedFailure>),
}

impl IdempotencyError {
    /// Builds a [`IdempotencyError::StoreUnavailable`].
    pub fn unavailable(
        backend: &'static str,
        operation: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::StoreUnavailable {
            backend,
            operation,
            source: Arc::new(source),
        }
    }

    /// Returns the failure class the gRPC edge maps to a status code.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::KeyReused { .. } | Self::OutcomeUnknown { .. } => ErrorClass::FailedPrecondition,
            Self::InProgress { .. } => ErrorClass::Timeout,
            Self::Abandoned { .. } | Self::UndecodableRecord { .. } => ErrorClass::Internal,
            Self::StoreUnavailable { .. } => ErrorClass::Unavailable,
            Self::Repeated(failure) => failure.class,
        }
    }

    /// Returns the `ErrorInfo.reason` (see `error_reason.proto`, or the recorded reason).
    pub fn reason(&self) -> &str {
        match self {
            Self::KeyReused { .. } => "IDEMPOTENCY_KEY_REUSED",
            Self::OutcomeUnknown { .. } => "IDEMPOTENCY_OUTCOME_UNKNOWN",
            Self::InProgress { .. } => "IDEMPOTENCY_KEY_IN_PROGRESS",
            Self::Abandoned { .. } | Self::UndecodableRecord { .. } => "INTERNAL",
            Self::StoreUnavailable { .. } => "IDEMPOTENCY_STORE_UNAVAILABLE",
            Self::Repeated(failure) => &failure.reason,
        }
    }

    /// Returns the `ErrorInfo.domain`.
    pub fn domain(&self) -> &str {
        match self {
            Self::Repeated(failure) => &failure.domain,
            _ => ERROR_DOMAIN,
        }
    }

    /// Returns the `ErrorInfo.metadata`, lowerCamelCase keys.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let key_pair = |key: &str| vec![("idempotencyKey".to_owned(), key.to_owned())];
        match self {
            Self::KeyReused { idempotency_key }
            | Self::OutcomeUnknown { idempotency_key }
            | Self::InProgress { idempotency_key }
            | Self::Abandoned { idempotency_key }
            | Self::UndecodableRecord {
                idempotency_key, ..
            } => key_pair(idempotency_key),
            Self::StoreUnavailable { backend, .. } => {
                vec![("backend".to_owned(), (*backend).to_owned())]
            }
            Self::Repeated(failure) => failure.metadata.clone(),
        }
    }

    /// Returns the invalid fields, for a `BadRequest` detail.
    pub fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Self::Repeated(failure) => &failure.fields,
            _ => &[],
        }
    }

    /// Returns how long the caller should wait before retrying, when known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Repeated(failure) => failure.retry_after,
            Self::StoreUnavailable { .. } => Some(STORE_RETRY_AFTER),
            _ => None,
        }
    }
}
