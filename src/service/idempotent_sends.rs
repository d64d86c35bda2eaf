//! [`IdempotentSends`]: the wrapper every keyed send goes through. The first call for a key in
//! this process leads: it reserves the key durably and atomically (create-if-absent), sends,
//! replaces the reservation with the outcome (or removes it when the caller may retry), then
//! answers the calls that arrived meanwhile for the same key (coalesced: they wait, bounded by
//! their deadline, and get the same outcome marked replayed).
//!
//! When the key is already reserved, the reservation says by which process and when. One made by
//! another process (a replica sharing the store) younger than the longest a send can take
//! ([`longest_send`]) may still be sending: the leader follows it, waiting for the outcome it
//! records ([`IdempotencyStore::settled`]) and answering it replayed; when that reservation is
//! removed instead (its send failed for now), the key is free and the leader reserves it again.
//! Any other reservation (older, from an unknown process, or this process's own while nothing is
//! in flight here: a crash or a store failure before recording) is answered
//! [`IdempotencyError::OutcomeUnknown`]. Callers stop waiting at their deadline
//! ([`IdempotencyError::InProgress`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::config::{AccountConfig, RetrySettings, UpstreamLimits};
use crate::events::log::EventLogError;
use crate::failure::ErrorClass;
use crate::model::{SendReply, SentMessage};
use crate::telemetry::metrics::{IdempotencyMetrics, KeyedSendOutcome};
use crate::upstream::UpstreamError;

use crate::idempotency::{
    Fingerprint, IdempotencyError, IdempotencyStore, Outcome, Record, RecordKey, RecordedFailure,
    Reservation,
};

/// The error of a send that went through [`IdempotentSends`].
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The send itself failed (this call made the upstream call).
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Idempotency refused the call, or reports a failure again.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    /// The event log could not be read while waiting for the send's outcome.
    #[error(transparent)]
    EventLog(#[from] EventLogError),
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
pub(crate) fn is_definitive(error: &UpstreamError) -> bool {
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

/// Returns the longest one keyed send of any of `accounts` can take ([`longest_send_with`]). A
/// reservation younger than this may belong to a send still running.
pub(crate) fn longest_send(accounts: &[AccountConfig]) -> Duration {
    accounts
        .iter()
        .map(|account| longest_send_with(&account.limits, &account.retry))
        .max()
        .unwrap_or_default()
}

/// Returns the longest one keyed send of an account with `limits` and `retry` can take: the
/// channel lookup and the send itself, each an upstream operation whose attempts all start within
/// `retry.total_budget` of the first and each last at most `limits.request_timeout` (the wait for
/// a concurrency slot and for the rate budget included).
fn longest_send_with(limits: &UpstreamLimits, retry: &RetrySettings) -> Duration {
    let operation = retry.total_budget.saturating_add(limits.request_timeout);
    operation.saturating_mul(2)
}

/// Runs keyed sends at most once: replays recorded outcomes, coalesces concurrent duplicates into
/// one upstream call (across processes sharing the store too), refuses reused keys, records
/// outcomes.
#[derive(Debug)]
pub(crate) struct IdempotentSends {
    /// Where outcomes are recorded.
    store: Arc<dyn IdempotencyStore>,
    /// How long an outcome is kept, and how long a send can take.
    timing: SendTiming,
    /// Names this process in its reservations (random per instance).
    process_id: Arc<str>,
    /// Sends in flight, shared with their tasks.
    in_flight: Arc<Mutex<InFlightMap>>,
    /// Notified whenever the last send in flight finishes.
    idle: Arc<Notify>,
    /// Counts keyed sends by account and outcome.
    metrics: IdempotencyMetrics,
}

/// What a call does: lead the send, or follow the one already in flight.
enum Role {
    /// Runs the send; the entry leaves the map when it is dropped.
    Leader(InFlightEntry),
    /// Waits for the leader's outcome.
    Follower(watch::Receiver<Option<SharedOutcome>>),
}

/// The durations keyed sends are judged by.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendTiming {
    /// How long an outcome is kept (`storage.idempotency_retention`).
    pub retention: Duration,
    /// The longest a send can take ([`longest_send`] of the configured accounts): how long a
    /// reservation by another process is followed.
    pub longest_send: Duration,
}

#[cfg(test)]
impl SendTiming {
    /// Keeps outcomes for `retention`; sends take at most what they can with the default limits.
    pub(crate) fn for_test(retention: Duration) -> Self {
        Self {
            retention,
            longest_send: longest_send_with(&UpstreamLimits::default(), &RetrySettings::default()),
        }
    }
}

impl IdempotentSends {
    /// Wraps `store`, keeping outcomes and following other processes' reservations as `timing`
    /// says, and counting how each keyed send is answered into `metrics`.
    pub(crate) fn new(
        store: Arc<dyn IdempotencyStore>,
        timing: SendTiming,
        metrics: IdempotencyMetrics,
    ) -> Self {
        Self {
            store,
            timing,
            process_id: uuid::Uuid::new_v4().simple().to_string().into(),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            idle: Arc::new(Notify::new()),
            metrics,
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
    /// different request, [`IdempotencyError::StoreUnavailable`] when the store cannot be read or
    /// the key cannot be reserved (nothing is sent then), [`IdempotencyError::OutcomeUnknown`]
    /// when an earlier send with the key was interrupted before its outcome was recorded,
    /// [`IdempotencyError::InProgress`] when the deadline passes first, and
    /// [`IdempotencyError::Repeated`] with the failure of the coalesced or recorded send.
    pub(crate) async fn send<F>(
        &self,
        key: RecordKey,
        fingerprint: Fingerprint,
        deadline: Option<Instant>,
        send: F,
    ) -> Result<SendReply, SendError>
    where
        F: Future<Output = Result<SentMessage, UpstreamError>> + Send + 'static,
    {
        let idempotency_key = key.idempotency_key.clone();
        let role = self.join(key.clone(), fingerprint).inspect_err(|_| {
            self.metrics
                .record(&key.account, KeyedSendOutcome::KeyReused);
        })?;
        match role {
            Role::Follower(outcome_rx) => {
                self.metrics
                    .record(&key.account, KeyedSendOutcome::Coalesced);
                let shared = within(deadline, &idempotency_key, follow(outcome_rx, &key)).await?;
                Ok(SendReply::replayed(shared?))
            }
            Role::Leader(entry) => {
                let (leader_tx, leader_rx) = oneshot::channel();
                let lead = Lead {
                    store: self.store.clone(),
                    timing: self.timing,
                    process_id: self.process_id.clone(),
                    fingerprint,
                    entry,
                    metrics: self.metrics.clone(),
                };
                let task = async move {
                    let for_leader = lead.run(send).await;
                    // The caller may have gone away; the outcome is recorded all the same.
                    let _ = leader_tx.send(for_leader);
                };
                tokio::spawn(task.in_current_span());
                let abandoned = || IdempotencyError::Abandoned {
                    idempotency_key: idempotency_key.clone(),
                };
                let waited = async { leader_rx.await.map_err(|_| abandoned()) };
                within(deadline, &idempotency_key, waited).await?
            }
        }
    }

    /// Returns how many callers wait for the send in flight for `key` (tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn followers(&self, key: &RecordKey) -> usize {
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
    pub(crate) async fn shutdown(&self, patience: Duration) -> Result<(), IdempotencyError> {
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
    deadline: Option<Instant>,
    idempotency_key: &str,
    future: impl Future<Output = Result<T, IdempotencyError>>,
) -> Result<T, IdempotencyError> {
    let Some(deadline) = deadline else {
        return future.await;
    };
    tokio::time::timeout_at(deadline, future)
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
    /// How long the outcome is kept, and how long another process's reservation is followed.
    timing: SendTiming,
    /// This process, as reservations name it.
    process_id: Arc<str>,
    /// The request's fingerprint.
    fingerprint: Fingerprint,
    /// The registration, released when the outcome is recorded.
    entry: InFlightEntry,
    /// Counts how the send was answered.
    metrics: IdempotencyMetrics,
}

/// Where the leader stands once the key is claimed.
enum Claim {
    /// The key is reserved for this call: send.
    Reserved,
    /// The key's record answers the call (with how, for the metrics).
    Answered(SharedOutcome, KeyedSendOutcome),
}

impl Lead {
    /// Claims the key; when reserved, sends and records the outcome; then answers the followers
    /// (once recorded, so that a later call finds the record) and returns the leader's answer.
    async fn run<F>(self, send: F) -> Result<SendReply, SendError>
    where
        F: Future<Output = Result<SentMessage, UpstreamError>>,
    {
        let key = &self.entry.key;
        let (for_leader, shared, outcome) = match self.claim().await {
            Err(error) => (
                Err(error.clone().into()),
                Err(error),
                KeyedSendOutcome::StoreUnavailable,
            ),
            Ok(Claim::Answered(shared, outcome)) => (
                shared.clone().map(SendReply::replayed).map_err(Into::into),
                shared,
                outcome,
            ),
            Ok(Claim::Reserved) => {
                let (for_leader, shared) = self.send_and_record(send).await;
                (for_leader, shared, KeyedSendOutcome::Sent)
            }
        };
        self.metrics.record(&key.account, outcome);
        self.entry.publish(shared);
        for_leader
    }

    /// Reserves the key, or answers from its record: the outcome recorded, or, for a reservation
    /// another process may still be sending under, the outcome it records (reserving again when
    /// it removes its reservation instead).
    async fn claim(&self) -> Result<Claim, IdempotencyError> {
        let key = &self.entry.key;
        loop {
            let now = SystemTime::now();
            let existing = match self.store.reserve(key, &self.reservation(now), now).await? {
                Reservation::Reserved => return Ok(Claim::Reserved),
                Reservation::Existing(existing) => existing,
            };
            let follow_until = match &existing.outcome {
                Outcome::Pending {
                    reserved_at,
                    reserved_by,
                } if existing.fingerprint == self.fingerprint => judge_reservation(
                    *reserved_at,
                    reserved_by.as_deref(),
                    &self.process_id,
                    self.timing.longest_send,
                    now,
                ),
                _ => None,
            };
            let Some(follow_until) = follow_until else {
                let (shared, outcome) = replay(existing, self.fingerprint, key);
                return Ok(Claim::Answered(shared, outcome));
            };
            tracing::info!(
                account = %key.account,
                "waiting for the outcome of a keyed send another replica is making"
            );
            let patience = follow_until
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            let settled = tokio::time::timeout(patience, self.store.settled(key)).await;
            let record_opt = match settled {
                Ok(record_opt) => record_opt?,
                // The other replica took longer than any send can: it stopped before recording.
                Err(_) => Some(existing),
            };
            if let Some(record) = record_opt.filter(|record| record.is_live(SystemTime::now())) {
                let (shared, outcome) = replay(record, self.fingerprint, key);
                let outcome = match outcome {
                    KeyedSendOutcome::Replayed => KeyedSendOutcome::Coalesced,
                    other => other,
                };
                return Ok(Claim::Answered(shared, outcome));
            }
            // Removed (the other send failed for now) or expired: the key is free again.
        }
    }

    /// The reservation of the key by this call at `now`.
    fn reservation(&self, now: SystemTime) -> Record {
        Record {
            fingerprint: self.fingerprint,
            outcome: Outcome::Pending {
                reserved_at: now,
                reserved_by: Some(self.process_id.to_string()),
            },
            expires_at: now + self.timing.retention,
        }
    }

    /// Sends, records the outcome, and returns the leader's answer and the followers'.
    async fn send_and_record<F>(&self, send: F) -> (Result<SendReply, SendError>, SharedOutcome)
    where
        F: Future<Output = Result<SentMessage, UpstreamError>>,
    {
        let result = send.await;
        self.record(&result).await;
        let shared = match &result {
            Ok(sent) => Ok(sent.clone()),
            Err(error) => Err(IdempotencyError::Repeated(Box::new(error.into()))),
        };
        (result.map(SendReply::fresh).map_err(Into::into), shared)
    }

    /// Replaces the reservation with the outcome when it is worth keeping, and removes it
    /// otherwise (the caller may retry with the same key). A send that went out but could not be
    /// recorded is still reported as sent: that is the truth, and a repeat then finds the
    /// reservation and is answered `IDEMPOTENCY_OUTCOME_UNKNOWN` rather than sent again.
    async fn record(&self, result: &Result<SentMessage, UpstreamError>) {
        let outcome = match result {
            Ok(sent) => Outcome::Sent(sent.clone()),
            Err(error) if is_definitive(error) => Outcome::Failed(error.into()),
            Err(_) => {
                if let Err(error) = self.store.remove(&self.entry.key).await {
                    tracing::error!(
                        error = &error as &dyn std::error::Error,
                        account = %self.entry.key.account,
                        "the reservation of a failed keyed send could not be removed; repeats \
                         are refused until it expires"
                    );
                }
                return;
            }
        };
        let record = Record {
            fingerprint: self.fingerprint,
            outcome,
            expires_at: SystemTime::now() + self.timing.retention,
        };
        if let Err(error) = self.store.put(&self.entry.key, &record).await {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                account = %self.entry.key.account,
                "the outcome of a keyed send could not be recorded; repeats are refused until \
                 its reservation expires"
            );
        }
    }
}

/// Tells until when a reservation of the same request, found at `now` by `this_process`, is
/// followed: one by another process, until `longest_send` after it was made, when that is still
/// ahead. `None` (answer [`IdempotencyError::OutcomeUnknown`]) for one this process made (nothing
/// is in flight here for the key, or it would have been joined), one that names no process
/// (written before reservations did), or one older than any send.
fn judge_reservation(
    reserved_at: SystemTime,
    reserved_by: Option<&str>,
    this_process: &str,
    longest_send: Duration,
    now: SystemTime,
) -> Option<SystemTime> {
    let other_process = reserved_by.is_some_and(|process| process != this_process);
    let until = reserved_at.checked_add(longest_send)?;
    (other_process && now < until).then_some(until)
}

/// Answers a call from a record: the recorded outcome for the same request, a refusal otherwise;
/// with how the call was answered, for the metrics.
fn replay(
    record: Record,
    fingerprint: Fingerprint,
    key: &RecordKey,
) -> (SharedOutcome, KeyedSendOutcome) {
    if record.fingerprint != fingerprint {
        let refusal = IdempotencyError::KeyReused {
            idempotency_key: key.idempotency_key.clone(),
        };
        return (Err(refusal), KeyedSendOutcome::KeyReused);
    }
    match record.outcome {
        Outcome::Pending { .. } => {
            let refusal = IdempotencyError::OutcomeUnknown {
                idempotency_key: key.idempotency_key.clone(),
            };
            (Err(refusal), KeyedSendOutcome::OutcomeUnknown)
        }
        Outcome::Sent(sent) => (Ok(sent), KeyedSendOutcome::Replayed),
        Outcome::Failed(failure) => (
            Err(IdempotencyError::Repeated(Box::new(failure))),
            KeyedSendOutcome::Replayed,
        ),
    }
}

#[cfg(test)]
mod tests;
