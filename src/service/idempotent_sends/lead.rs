//! The leader of a keyed send, in its own task: claims the key (reserves it, or answers from its
//! record, following another process's reservation that may still be sending), sends, records the
//! outcome, and hands it to the followers.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::failure::ErrorClass;
use crate::idempotency::{
    Fingerprint, IdempotencyError, IdempotencyStore, Outcome, Record, RecordKey, RecordedFailure,
    Reservation,
};
use crate::model::{SendReply, SentMessage};
use crate::telemetry::metrics::{IdempotencyMetrics, KeyedSendOutcome};
use crate::upstream::UpstreamError;

use super::{InFlightEntry, SendError, SendTiming, SharedOutcome};

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
pub(super) fn is_definitive(error: &UpstreamError) -> bool {
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

/// The leader's work, run in its own task.
pub(super) struct Lead {
    /// Where the outcome is looked up and recorded.
    pub(super) store: Arc<dyn IdempotencyStore>,
    /// How long the outcome is kept, and how long another process's reservation is followed.
    pub(super) timing: SendTiming,
    /// This process, as reservations name it.
    pub(super) process_id: Arc<str>,
    /// The request's fingerprint.
    pub(super) fingerprint: Fingerprint,
    /// The registration, released when the outcome is recorded.
    pub(super) entry: InFlightEntry,
    /// Counts how the send was answered.
    pub(super) metrics: IdempotencyMetrics,
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
    pub(super) async fn run<F>(self, send: F) -> Result<SendReply, SendError>
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
            let Some(follow_until) = self.follow_until(&existing, now) else {
                let (shared, outcome) = replay(existing, self.fingerprint, key);
                return Ok(Claim::Answered(shared, outcome));
            };
            if let Some(answered) = self.follow(existing, follow_until).await? {
                return Ok(answered);
            }
            // Removed (the other send failed for now) or expired: the key is free again.
        }
    }

    /// Tells until when `existing`, found at `now`, is followed ([`judge_reservation`]): only a
    /// reservation of this same request.
    fn follow_until(&self, existing: &Record, now: SystemTime) -> Option<SystemTime> {
        let Outcome::Pending {
            reserved_at,
            reserved_by,
        } = &existing.outcome
        else {
            return None;
        };
        if existing.fingerprint != self.fingerprint {
            return None;
        }
        judge_reservation(
            *reserved_at,
            reserved_by.as_deref(),
            &self.process_id,
            self.timing.longest_send,
            now,
        )
    }

    /// Waits, until `until` at most, for the outcome another process records in place of its
    /// reservation `existing`, and answers with it (counted coalesced); `None` when the
    /// reservation was removed or expired instead, so that the key is free.
    async fn follow(
        &self,
        existing: Record,
        until: SystemTime,
    ) -> Result<Option<Claim>, IdempotencyError> {
        let key = &self.entry.key;
        if let Outcome::Pending { reserved_by, .. } = &existing.outcome {
            tracing::info!(
                account = %key.account,
                reserved_by = reserved_by.as_deref().unwrap_or_default(),
                "waiting for the outcome of a keyed send reserved by another process"
            );
        }
        let patience = until.duration_since(SystemTime::now()).unwrap_or_default();
        let record_opt = match tokio::time::timeout(patience, self.store.settled(key)).await {
            Ok(settled) => settled?,
            // The other process took longer than any send can: it stopped before recording.
            Err(_) => Some(existing),
        };
        let Some(record) = record_opt.filter(|record| record.is_live(SystemTime::now())) else {
            return Ok(None);
        };
        let (shared, outcome) = replay(record, self.fingerprint, key);
        let outcome = match outcome {
            KeyedSendOutcome::Replayed => KeyedSendOutcome::Coalesced,
            other => other,
        };
        Ok(Some(Claim::Answered(shared, outcome)))
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
pub(super) fn judge_reservation(
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
