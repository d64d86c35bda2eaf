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
//!
//! The leader's work (claim, follow, send, record) is in [`lead`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::config::{AccountConfig, RetrySettings, UpstreamLimits};
use crate::events::log::EventLogError;
use crate::model::{SendReply, SentMessage};
use crate::telemetry::metrics::{IdempotencyMetrics, KeyedSendOutcome};
use crate::upstream::UpstreamError;

use crate::idempotency::{Fingerprint, IdempotencyError, IdempotencyStore, RecordKey};

use lead::Lead;

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

mod lead;

#[cfg(test)]
mod tests;
