//! Send idempotency: a send that carries an `idempotency_key` happens at most once per account and
//! key within the retention window (24 h by default), however often and however concurrently the
//! caller repeats it, and even across restarts.
//!
//! - [`IdempotencyStore`] keeps one [`Record`] per [`RecordKey`] (account, key): the request's
//!   [`Fingerprint`], its [`Outcome`] and when the record expires. Backends: [`embedded`] (redb, the
//!   default); a NATS JetStream KV backend can implement the same trait for several replicas.
//! - [`IdempotentSends`] wraps one send: it coalesces concurrent calls with the same key into one
//!   upstream call, replays a stored outcome (`replayed = true`), refuses a key reused with a
//!   different request ([`IdempotencyError::KeyReused`]), and records the outcome before anyone
//!   is answered.
//!
//! What is recorded: successful sends, and upstream refusals that repeating cannot change (the
//! request itself is wrong: invalid, unknown, not allowed, or already sent under this
//! `crmMessageId`). Not recorded, so that the caller may retry with the same key: local validation
//! and channel checks (recomputed on every call), unavailable, timeouts, rate limits, internal
//! errors and failed preconditions (an empty balance or a channel that is down can be fixed, and
//! the same send should then go out).
//!
//! When the store cannot be read, the send is refused with
//! [`IdempotencyError::StoreUnavailable`] (UNAVAILABLE) rather than sent without protection.

pub mod codec;
pub mod embedded;
pub mod fingerprint;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot, watch};

use crate::error::{ERROR_DOMAIN, ErrorClass};
use crate::model::{FieldViolation, SendReply, SentMessage};
use crate::upstream::UpstreamError;

pub use embedded::EmbeddedIdempotencyStore;
pub use fingerprint::Fingerprint;

/// Identifies one record: the account the send went through and the caller's key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordKey {
    /// The configured account name.
    pub account: String,
    /// The caller's `idempotency_key`.
    pub idempotency_key: String,
}

/// What a store keeps for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The fingerprint of the request that produced the outcome.
    pub fingerprint: Fingerprint,
    /// The outcome repeats are answered with.
    pub outcome: Outcome,
    /// From this instant on the record is ignored and may be purged.
    pub expires_at: SystemTime,
}

impl Record {
    /// Tells whether the record still counts at `now`.
    pub fn is_live(&self, now: SystemTime) -> bool {
        now < self.expires_at
    }
}

/// The recorded outcome of a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
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

impl From<&UpstreamError> for RecordedFailure {
    fn from(error: &UpstreamError) -> Self {
        Self {
            class: error.class(),
            reason: error.reason().to_owned(),
            domain: error.domain().to_owned(),
            message: error.to_string(),
            metadata: error.metadata(),
            fields: error.field_violations().to_vec(),
            retry_after: error.retry_after(),
        }
    }
}

/// Tells whether a failed send is a refusal that repeating cannot change, so it is recorded.
///
/// Only the upstream's own refusals qualify (local checks are recomputed), and only those about
/// the request itself; failed preconditions (balance, channel state) can be fixed by an operator.
pub fn is_definitive(error: &UpstreamError) -> bool {
    matches!(
        error,
        UpstreamError::Rejected(rejection) if matches!(
            rejection.class,
            ErrorClass::InvalidArgument
                | ErrorClass::NotFound
                | ErrorClass::PermissionDenied
                | ErrorClass::AlreadyExists
        )
    )
}

/// Durable storage of idempotency records, one per [`RecordKey`].
///
/// Contract, for every backend:
/// - [`get`](Self::get) never returns a record that is not live at `now`.
/// - [`put`](Self::put) returns only once the record is durable: it survives a crash or restart
///   from that moment on. It replaces any record of the key.
/// - Any failure to read or write is an [`IdempotencyError::StoreUnavailable`] (or
///   [`IdempotencyError::UndecodableRecord`]); callers then refuse to send.
/// - After [`close`](Self::close), every call fails with `StoreUnavailable`.
///
/// A distributed backend (NATS JetStream KV: key = account and key, value = [`codec`] bytes, a
/// bucket TTL of the retention) implements the same operations; coalescing across replicas is
/// then left to the upstream's `crmMessageId` deduplication.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + fmt::Debug + 'static {
    /// Returns the live record of `key` at `now`, if there is one.
    async fn get(
        &self,
        key: &RecordKey,
        now: SystemTime,
    ) -> Result<Option<Record>, IdempotencyError>;

    /// Stores `record` under `key`, durably, replacing any earlier record.
    async fn put(&self, key: &RecordKey, record: &Record) -> Result<(), IdempotencyError>;

    /// Removes every record expired at `now`, returning how many were removed.
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
            Self::KeyReused { .. } => ErrorClass::FailedPrecondition,
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
            _ => None,
        }
    }
}

/// The error of a send that went through [`IdempotentSends`].
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The send itself failed (this call made the upstream call).
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Idempotency refused the call, or reports a failure again.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
}

/// What callers coalesced with a running send receive: the same outcome, as data.
type SharedOutcome = Result<SentMessage, IdempotencyError>;

/// The sends in flight, by key.
type InFlightMap = HashMap<RecordKey, InFlight>;

/// One keyed send in flight.
#[derive(Debug)]
struct InFlight {
    /// The fingerprint of the request being sent.
    fingerprint: Fingerprint,
    /// Receives the outcome; callers coalesced with the send subscribe to it.
    outcome_tx: watch::Sender<Option<SharedOutcome>>,
}

/// Runs keyed sends at most once: replays recorded outcomes, coalesces concurrent duplicates into
/// one upstream call, refuses reused keys, records outcomes.
#[derive(Debug)]
pub struct IdempotentSends {
    /// Where outcomes are recorded.
    store: Arc<dyn IdempotencyStore>,
    /// How long an outcome is kept.
    retention: Duration,
    /// Sends in flight, shared with their tasks.
    in_flight: Arc<Mutex<InFlightMap>>,
    /// Notified whenever the last send in flight finishes.
    idle: Arc<Notify>,
}

/// What a call does: lead the send, or follow the one already in flight.
enum Role {
    /// Runs the send; the entry leaves the map when it is dropped.
    Leader(InFlightEntry),
    /// Waits for the leader's outcome.
    Follower(watch::Receiver<Option<SharedOutcome>>),
}

impl IdempotentSends {
    /// Wraps `store`, keeping outcomes for `retention`.
    pub fn new(store: Arc<dyn IdempotencyStore>, retention: Duration) -> Self {
        Self {
            store,
            retention,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            idle: Arc::new(Notify::new()),
        }
    }

    /// Runs `send` once for `key`, or answers with the outcome of the send already made (or in
    /// flight) for the same key and `fingerprint`, marked replayed.
    ///
    /// `send` runs in its own task: once started it finishes and is recorded even when this
    /// caller goes away. Waiting is bounded by `deadline`.
    ///
    /// # Errors
    ///
    /// Fails with the send's own error, [`IdempotencyError::KeyReused`] when the key belongs to a
    /// different request, [`IdempotencyError::StoreUnavailable`] when the store cannot be read
    /// (nothing is sent then), [`IdempotencyError::InProgress`] when the deadline passes first,
    /// and [`IdempotencyError::Repeated`] with the failure of the coalesced or recorded send.
    pub async fn send<F>(
        &self,
        key: RecordKey,
        fingerprint: Fingerprint,
        deadline: Option<Duration>,
        send: F,
    ) -> Result<SendReply, SendError>
    where
        F: Future<Output = Result<SentMessage, UpstreamError>> + Send + 'static,
    {
        let idempotency_key = key.idempotency_key.clone();
        match self.join(key.clone(), fingerprint)? {
            Role::Follower(outcome_rx) => {
                let shared = within(deadline, &idempotency_key, follow(outcome_rx, &key)).await?;
                Ok(SendReply::replayed(shared?))
            }
            Role::Leader(entry) => {
                let (leader_tx, leader_rx) = oneshot::channel();
                let lead = Lead {
                    store: self.store.clone(),
                    retention: self.retention,
                    fingerprint,
                    entry,
                };
                tokio::spawn(async move {
                    let for_leader = lead.run(send).await;
                    // The caller may have gone away; the outcome is recorded all the same.
                    let _ = leader_tx.send(for_leader);
                });
                let abandoned = || IdempotencyError::Abandoned {
                    idempotency_key: idempotency_key.clone(),
                };
                let waited = async { leader_rx.await.map_err(|_| abandoned()) };
                within(deadline, &idempotency_key, waited).await?
            }
        }
    }

    /// Returns how many callers wait for the send in flight for `key` (tests and diagnostics).
    pub fn followers(&self, key: &RecordKey) -> usize {
        self.in_flight
            .lock()
            .get(key)
            .map_or(0, |in_flight| in_flight.outcome_tx.receiver_count())
    }

    /// Waits (at most `patience`) for the sends in flight to finish and be recorded, then closes
    /// the store.
    ///
    /// # Errors
    ///
    /// Fails when the store cannot be closed cleanly.
    pub async fn shutdown(&self, patience: Duration) -> Result<(), IdempotencyError> {
        let drained = tokio::time::timeout(patience, async {
            loop {
                let notified = self.idle.notified();
                if self.in_flight.lock().is_empty() {
                    return;
                }
                notified.await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "keyed sends still in flight at shutdown; their outcomes are not recorded"
            );
        }
        self.store.close().await
    }

    /// Registers the call: leader when no send is in flight for `key`, follower when one is for
    /// the same request.
    fn join(&self, key: RecordKey, fingerprint: Fingerprint) -> Result<Role, IdempotencyError> {
        let mut in_flight = self.in_flight.lock();
        if let Some(running) = in_flight.get(&key) {
            if running.fingerprint != fingerprint {
                return Err(IdempotencyError::KeyReused {
                    idempotency_key: key.idempotency_key,
                });
            }
            return Ok(Role::Follower(running.outcome_tx.subscribe()));
        }
        let (outcome_tx, _) = watch::channel(None);
        in_flight.insert(
            key.clone(),
            InFlight {
                fingerprint,
                outcome_tx,
            },
        );
        Ok(Role::Leader(InFlightEntry {
            key,
            in_flight: self.in_flight.clone(),
            idle: self.idle.clone(),
        }))
    }
}

/// Waits for `future`, at most `deadline` when there is one.
async fn within<T>(
    deadline: Option<Duration>,
    idempotency_key: &str,
    future: impl Future<Output = Result<T, IdempotencyError>>,
) -> Result<T, IdempotencyError> {
    let Some(deadline) = deadline else {
        return future.await;
    };
    tokio::time::timeout(deadline, future)
        .await
        .map_err(|_| IdempotencyError::InProgress {
            idempotency_key: idempotency_key.to_owned(),
        })?
}

/// Waits for the leader's outcome.
async fn follow(
    mut outcome_rx: watch::Receiver<Option<SharedOutcome>>,
    key: &RecordKey,
) -> Result<SharedOutcome, IdempotencyError> {
    let abandoned = || IdempotencyError::Abandoned {
        idempotency_key: key.idempotency_key.clone(),
    };
    match outcome_rx.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().ok_or_else(abandoned),
        Err(_) => Err(abandoned()),
    }
}

/// A send in flight, registered in the map until dropped.
struct InFlightEntry {
    /// Its key in the map.
    key: RecordKey,
    /// The map.
    in_flight: Arc<Mutex<InFlightMap>>,
    /// Notified when the map becomes empty.
    idle: Arc<Notify>,
}

impl InFlightEntry {
    /// Hands `outcome` to every follower.
    fn publish(&self, outcome: SharedOutcome) {
        if let Some(running) = self.in_flight.lock().get(&self.key) {
            running.outcome_tx.send_replace(Some(outcome));
        }
    }
}

impl Drop for InFlightEntry {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock();
        in_flight.remove(&self.key);
        if in_flight.is_empty() {
            self.idle.notify_waiters();
        }
    }
}

/// The leader's work, run in its own task.
struct Lead {
    /// Where the outcome is looked up and recorded.
    store: Arc<dyn IdempotencyStore>,
    /// How long the outcome is kept.
    retention: Duration,
    /// The request's fingerprint.
    fingerprint: Fingerprint,
    /// The registration, released when the outcome is recorded.
    entry: InFlightEntry,
}

impl Lead {
    /// Looks the key up, sends when nothing is recorded, records, then answers the followers
    /// (once recorded, so that a later call finds the record) and returns the leader's answer.
    async fn run<F>(self, send: F) -> Result<SendReply, SendError>
    where
        F: Future<Output = Result<SentMessage, UpstreamError>>,
    {
        let key = &self.entry.key;
        let (for_leader, shared) = match self.store.get(key, SystemTime::now()).await {
            Err(error) => (Err(error.clone().into()), Err(error)),
            Ok(Some(record)) => {
                let shared = replay(record, self.fingerprint, key);
                (
                    shared.clone().map(SendReply::replayed).map_err(Into::into),
                    shared,
                )
            }
            Ok(None) => {
                let result = send.await;
                self.record(&result).await;
                let shared = match &result {
                    Ok(sent) => Ok(sent.clone()),
                    Err(error) => Err(IdempotencyError::Repeated(Box::new(error.into()))),
                };
                (result.map(SendReply::fresh).map_err(Into::into), shared)
            }
        };
        self.entry.publish(shared);
        for_leader
    }

    /// Records the outcome when it is worth keeping. A send that went out but could not be
    /// recorded is still reported as sent: that is the truth, and a retry would be refused anyway
    /// if the store stays down.
    async fn record(&self, result: &Result<SentMessage, UpstreamError>) {
        let outcome = match result {
            Ok(sent) => Outcome::Sent(sent.clone()),
            Err(error) if is_definitive(error) => Outcome::Failed(error.into()),
            Err(_) => return,
        };
        let record = Record {
            fingerprint: self.fingerprint,
            outcome,
            expires_at: SystemTime::now() + self.retention,
        };
        if let Err(error) = self.store.put(&self.entry.key, &record).await {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                account = %self.entry.key.account,
                "the outcome of a keyed send could not be recorded; a repeat may send again"
            );
        }
    }
}

/// Answers a call from a record: the recorded outcome for the same request, a refusal otherwise.
fn replay(record: Record, fingerprint: Fingerprint, key: &RecordKey) -> SharedOutcome {
    if record.fingerprint != fingerprint {
        return Err(IdempotencyError::KeyReused {
            idempotency_key: key.idempotency_key.clone(),
        });
    }
    match record.outcome {
        Outcome::Sent(sent) => Ok(sent),
        Outcome::Failed(failure) => Err(IdempotencyError::Repeated(Box::new(failure))),
    }
}

#[cfg(test)]
mod tests;
