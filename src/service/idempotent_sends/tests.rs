//! The coalescing wrapper: one upstream call per key, replays marked as such, reused keys refused,
//! only lasting outcomes recorded, and no send without a readable store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::lead::{is_definitive, judge_reservation};
use super::*;
use crate::failure::ErrorClass;
use crate::idempotency::EmbeddedIdempotencyStore;
use crate::idempotency::{Outcome, Record, Reservation};
use crate::upstream::error::Rejection;

/// What the fake upstream answers.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// A message id numbered by call.
    Sent,
    /// A refusal of the request itself.
    Invalid,
    /// A transient failure.
    Unavailable,
}

/// An upstream that counts its calls and answers once a permit is available.
#[derive(Debug)]
struct FakeUpstream {
    calls: AtomicUsize,
    gate: Semaphore,
    answer: Answer,
}

impl FakeUpstream {
    fn open(answer: Answer) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            gate: Semaphore::new(Semaphore::MAX_PERMITS),
            answer,
        })
    }

    fn held() -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            gate: Semaphore::new(0),
            answer: Answer::Sent,
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Returns the future of one send through this upstream.
    fn send(
        self: &Arc<Self>,
    ) -> impl Future<Output = Result<SentMessage, UpstreamError>> + Send + 'static {
        let upstream = self.clone();
        async move {
            let call = upstream.calls.fetch_add(1, Ordering::SeqCst) + 1;
            let _permit = upstream.gate.acquire().await.expect("gate open");
            match upstream.answer {
                Answer::Sent => Ok(SentMessage {
                    message_id: format!("m-{call}"),
                    chat_id: "79011112233".to_owned(),
                    request_id: String::new(),
                }),
                Answer::Invalid => Err(rejection(ErrorClass::InvalidArgument, "URI_NOT_VALID")),
                Answer::Unavailable => {
                    Err(rejection(ErrorClass::Unavailable, "UPSTREAM_UNAVAILABLE"))
                }
            }
        }
    }
}

fn rejection(class: ErrorClass, code: &str) -> UpstreamError {
    UpstreamError::Rejected(Box::new(Rejection {
        class,
        code: code.to_owned(),
        description: "refused".to_owned(),
        domain: "api.wazzup24.com",
        metadata: vec![("httpStatus".to_owned(), "400".to_owned())],
        fields: Vec::new(),
        retry_after: None,
    }))
}

/// A store that can neither be read nor written.
#[derive(Debug)]
struct BrokenStore;

#[derive(Debug, thiserror::Error)]
#[error("disk on fire")]
struct DiskError;

#[async_trait]
impl IdempotencyStore for BrokenStore {
    async fn get(&self, _: &RecordKey, _: SystemTime) -> Result<Option<Record>, IdempotencyError> {
        Err(IdempotencyError::unavailable("broken", "read", DiskError))
    }

    async fn reserve(
        &self,
        _: &RecordKey,
        _: &Record,
        _: SystemTime,
    ) -> Result<Reservation, IdempotencyError> {
        Err(IdempotencyError::unavailable("broken", "write", DiskError))
    }

    async fn settled(&self, _: &RecordKey) -> Result<Option<Record>, IdempotencyError> {
        Err(IdempotencyError::unavailable("broken", "read", DiskError))
    }

    async fn put(&self, _: &RecordKey, _: &Record) -> Result<(), IdempotencyError> {
        Err(IdempotencyError::unavailable("broken", "write", DiskError))
    }

    async fn remove(&self, _: &RecordKey) -> Result<(), IdempotencyError> {
        Err(IdempotencyError::unavailable("broken", "write", DiskError))
    }

    async fn purge_expired(&self, _: SystemTime) -> Result<usize, IdempotencyError> {
        Ok(0)
    }

    async fn close(&self) -> Result<(), IdempotencyError> {
        Ok(())
    }
}

/// An in-memory store several [`IdempotentSends`] share, as replicas share a bucket: `reserve`
/// is atomic, `settled` waits until a reservation is replaced or removed, and counts its callers.
#[derive(Debug, Default)]
struct SharedStore {
    records: Mutex<HashMap<RecordKey, Record>>,
    /// Notified on every change.
    changed: Notify,
    /// Notified (one permit) whenever a caller starts following a reservation.
    following: Notify,
    /// Calls of `settled`.
    follows: AtomicUsize,
}

impl SharedStore {
    fn follows(&self) -> usize {
        self.follows.load(Ordering::SeqCst)
    }

    fn write(&self, key: &RecordKey, record: Option<Record>) {
        let mut records = self.records.lock();
        match record {
            Some(record) => records.insert(key.clone(), record),
            None => records.remove(key),
        };
        self.changed.notify_waiters();
    }
}

#[async_trait]
impl IdempotencyStore for SharedStore {
    async fn get(
        &self,
        key: &RecordKey,
        now: SystemTime,
    ) -> Result<Option<Record>, IdempotencyError> {
        let records = self.records.lock();
        Ok(records
            .get(key)
            .filter(|record| record.is_live(now))
            .cloned())
    }

    async fn reserve(
        &self,
        key: &RecordKey,
        record: &Record,
        now: SystemTime,
    ) -> Result<Reservation, IdempotencyError> {
        let mut records = self.records.lock();
        if let Some(live) = records.get(key).filter(|existing| existing.is_live(now)) {
            return Ok(Reservation::Existing(live.clone()));
        }
        records.insert(key.clone(), record.clone());
        Ok(Reservation::Reserved)
    }

    async fn settled(&self, key: &RecordKey) -> Result<Option<Record>, IdempotencyError> {
        self.follows.fetch_add(1, Ordering::SeqCst);
        self.following.notify_one();
        loop {
            let changed = self.changed.notified();
            match self.records.lock().get(key) {
                None => return Ok(None),
                Some(record) if !matches!(record.outcome, Outcome::Pending { .. }) => {
                    return Ok(Some(record.clone()));
                }
                Some(_) => {}
            }
            changed.await;
        }
    }

    async fn put(&self, key: &RecordKey, record: &Record) -> Result<(), IdempotencyError> {
        self.write(key, Some(record.clone()));
        Ok(())
    }

    async fn remove(&self, key: &RecordKey) -> Result<(), IdempotencyError> {
        self.write(key, None);
        Ok(())
    }

    async fn purge_expired(&self, _: SystemTime) -> Result<usize, IdempotencyError> {
        Ok(0)
    }

    async fn close(&self) -> Result<(), IdempotencyError> {
        Ok(())
    }
}

/// Two gateway processes (two [`IdempotentSends`], each with its own process id) on one store.
struct Replicas {
    store: Arc<SharedStore>,
    first: Arc<IdempotentSends>,
    second: Arc<IdempotentSends>,
    second_metrics: IdempotencyMetrics,
}

fn replicas() -> Replicas {
    let store = Arc::new(SharedStore::default());
    let second_metrics = IdempotencyMetrics::default();
    let timing = SendTiming::for_test(Duration::from_secs(3600));
    Replicas {
        first: Arc::new(IdempotentSends::new(
            store.clone(),
            timing,
            IdempotencyMetrics::default(),
        )),
        second: Arc::new(IdempotentSends::new(
            store.clone(),
            timing,
            second_metrics.clone(),
        )),
        store,
        second_metrics,
    }
}

/// A reservation of [`REQUEST`] by `process`, made `age` ago.
fn reservation_by(process: &str, age: Duration) -> Record {
    let reserved_at = SystemTime::now() - age;
    Record {
        fingerprint: REQUEST,
        outcome: Outcome::Pending {
            reserved_at,
            reserved_by: Some(process.to_owned()),
        },
        expires_at: reserved_at + Duration::from_secs(3600),
    }
}

/// Yields until `upstream` was called `count` times.
async fn until_calls(upstream: &FakeUpstream, count: usize) {
    while upstream.calls() < count {
        tokio::task::yield_now().await;
    }
}

struct Fixture {
    sends: IdempotentSends,
    metrics: IdempotencyMetrics,
    _directory: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let directory = tempfile::tempdir().expect("temp dir");
    let store =
        EmbeddedIdempotencyStore::open(directory.path(), SystemTime::now()).expect("store opens");
    let metrics = IdempotencyMetrics::default();
    Fixture {
        sends: IdempotentSends::new(
            Arc::new(store),
            SendTiming::for_test(Duration::from_secs(3600)),
            metrics.clone(),
        ),
        metrics,
        _directory: directory,
    }
}

fn key(idempotency_key: &str) -> RecordKey {
    RecordKey {
        account: "acme".to_owned(),
        idempotency_key: idempotency_key.to_owned(),
    }
}

const REQUEST: Fingerprint = Fingerprint([1; 32]);
const OTHER_REQUEST: Fingerprint = Fingerprint([2; 32]);

/// Yields until `count` callers wait for the send in flight for `key`.
async fn until_followers(sends: &IdempotentSends, key: &RecordKey, count: usize) {
    while sends.followers(key) < count {
        tokio::task::yield_now().await;
    }
}

fn idempotency_error(outcome: Result<SendReply, SendError>) -> IdempotencyError {
    match outcome {
        Err(SendError::Idempotency(error)) => error,
        other => panic!("expected an idempotency error, got {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_duplicates_share_one_upstream_call() {
    let Fixture { sends, metrics, .. } = &fixture();
    let upstream = FakeUpstream::held();
    const CALLERS: usize = 20;

    let calls = (0..CALLERS).map(|_| sends.send(key("k"), REQUEST, None, upstream.send()));
    let release = async {
        until_followers(sends, &key("k"), CALLERS - 1).await;
        upstream.gate.add_permits(1);
    };
    let (replies, ()) = tokio::join!(futures::future::join_all(calls), release);

    assert_eq!(upstream.calls(), 1);
    let replies: Vec<SendReply> = replies
        .into_iter()
        .map(|reply| reply.expect("sent"))
        .collect();
    assert!(replies.iter().all(|reply| reply.sent.message_id == "m-1"));
    let replayed = replies.iter().filter(|reply| reply.replayed).count();
    assert_eq!(replayed, CALLERS - 1);
    assert_eq!(metrics.count("acme", KeyedSendOutcome::Sent), 1);
    assert_eq!(
        metrics.count("acme", KeyedSendOutcome::Coalesced),
        (CALLERS - 1) as u64
    );
}

#[tokio::test]
async fn a_repeat_is_answered_from_the_record_without_sending() {
    let Fixture { sends, metrics, .. } = &fixture();
    let upstream = FakeUpstream::open(Answer::Sent);

    let first = sends
        .send(key("k"), REQUEST, None, upstream.send())
        .await
        .expect("sent");
    let repeat = sends
        .send(key("k"), REQUEST, None, upstream.send())
        .await
        .expect("replayed");

    assert_eq!(upstream.calls(), 1);
    assert_eq!(first, SendReply::fresh(repeat.sent.clone()));
    assert!(repeat.replayed);
    assert_eq!(metrics.count("acme", KeyedSendOutcome::Sent), 1);
    assert_eq!(metrics.count("acme", KeyedSendOutcome::Replayed), 1);
}

#[tokio::test]
async fn a_key_reused_for_a_different_request_is_refused_without_sending() {
    let Fixture { sends, metrics, .. } = &fixture();
    let upstream = FakeUpstream::open(Answer::Sent);
    sends
        .send(key("k"), REQUEST, None, upstream.send())
        .await
        .expect("sent");

    let reused = sends
        .send(key("k"), OTHER_REQUEST, None, upstream.send())
        .await;

    let error = idempotency_error(reused);
    assert_eq!(error.class(), ErrorClass::FailedPrecondition);
    assert_eq!(error.reason(), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(upstream.calls(), 1);
    assert_eq!(metrics.count("acme", KeyedSendOutcome::KeyReused), 1);
}

#[tokio::test]
async fn a_key_reused_while_its_send_is_in_flight_is_refused_at_once() {
    let Fixture { sends, metrics, .. } = &fixture();
    let upstream = FakeUpstream::held();
    let first = sends.send(key("k"), REQUEST, None, upstream.send());
    let reused_then_release = async {
        while sends.in_flight.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        let reused = sends
            .send(key("k"), OTHER_REQUEST, None, upstream.send())
            .await;
        upstream.gate.add_permits(1);
        reused
    };

    let (first, reused) = tokio::join!(first, reused_then_release);

    assert_eq!(idempotency_error(reused).reason(), "IDEMPOTENCY_KEY_REUSED");
    assert!(!first.expect("sent").replayed);
    assert_eq!(upstream.calls(), 1);
    assert_eq!(metrics.count("acme", KeyedSendOutcome::KeyReused), 1);
    assert_eq!(metrics.count("acme", KeyedSendOutcome::Sent), 1);
}

#[tokio::test]
async fn a_definitive_refusal_is_recorded_and_reported_again() {
    let Fixture { sends, .. } = &fixture();
    let upstream = FakeUpstream::open(Answer::Invalid);

    let first = sends.send(key("k"), REQUEST, None, upstream.send()).await;
    let repeat = sends.send(key("k"), REQUEST, None, upstream.send()).await;

    assert!(matches!(first, Err(SendError::Upstream(_))));
    let error = idempotency_error(repeat);
    assert_eq!(
        (error.class(), error.reason(), error.domain()),
        (
            ErrorClass::InvalidArgument,
            "URI_NOT_VALID",
            "api.wazzup24.com"
        )
    );
    assert_eq!(
        error.metadata(),
        [("httpStatus".to_owned(), "400".to_owned())]
    );
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test]
async fn a_transient_failure_is_not_recorded_so_a_retry_sends_again() {
    let Fixture { sends, .. } = &fixture();
    let failing = FakeUpstream::open(Answer::Unavailable);
    let healthy = FakeUpstream::open(Answer::Sent);

    let first = sends.send(key("k"), REQUEST, None, failing.send()).await;
    let retry = sends.send(key("k"), REQUEST, None, healthy.send()).await;

    assert!(matches!(first, Err(SendError::Upstream(_))));
    assert_eq!(
        retry.expect("sent"),
        SendReply::fresh(SentMessage {
            message_id: "m-1".to_owned(),
            chat_id: "79011112233".to_owned(),
            request_id: String::new(),
        })
    );
    assert_eq!((failing.calls(), healthy.calls()), (1, 1));
}

#[tokio::test]
async fn followers_of_a_failed_send_get_the_same_failure() {
    let Fixture { sends, .. } = &fixture();
    let upstream = Arc::new(FakeUpstream {
        calls: AtomicUsize::new(0),
        gate: Semaphore::new(0),
        answer: Answer::Unavailable,
    });

    let leader = sends.send(key("k"), REQUEST, None, upstream.send());
    let follower = sends.send(key("k"), REQUEST, None, upstream.send());
    let release = async {
        until_followers(sends, &key("k"), 1).await;
        upstream.gate.add_permits(1);
    };
    let (leader, follower, ()) = tokio::join!(leader, follower, release);

    assert!(matches!(leader, Err(SendError::Upstream(_))));
    assert_eq!(idempotency_error(follower).reason(), "UPSTREAM_UNAVAILABLE");
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test]
async fn a_key_that_cannot_be_reserved_is_refused_without_sending() {
    let metrics = IdempotencyMetrics::default();
    let sends = IdempotentSends::new(
        Arc::new(BrokenStore),
        SendTiming::for_test(Duration::from_secs(3600)),
        metrics.clone(),
    );
    let upstream = FakeUpstream::open(Answer::Sent);

    let outcome = sends.send(key("k"), REQUEST, None, upstream.send()).await;

    let error = idempotency_error(outcome);
    assert_eq!(error.class(), ErrorClass::Unavailable);
    assert_eq!(error.reason(), "IDEMPOTENCY_STORE_UNAVAILABLE");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(upstream.calls(), 0);
    assert_eq!(metrics.count("acme", KeyedSendOutcome::StoreUnavailable), 1);
}

#[tokio::test]
async fn a_reservation_left_by_an_interrupted_send_is_not_sent_again() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        EmbeddedIdempotencyStore::open(directory.path(), SystemTime::now()).expect("store opens"),
    );
    let reserved_at = SystemTime::now();
    // What a gateway stopped between sending and recording leaves behind.
    let reservation = Record {
        fingerprint: REQUEST,
        outcome: Outcome::Pending {
            reserved_at,
            reserved_by: None,
        },
        expires_at: reserved_at + Duration::from_secs(3600),
    };
    store.put(&key("k"), &reservation).await.expect("stored");
    let metrics = IdempotencyMetrics::default();
    let sends = IdempotentSends::new(
        store,
        SendTiming::for_test(Duration::from_secs(3600)),
        metrics.clone(),
    );
    let upstream = FakeUpstream::open(Answer::Sent);

    let same = sends.send(key("k"), REQUEST, None, upstream.send()).await;
    let other = sends
        .send(key("k"), OTHER_REQUEST, None, upstream.send())
        .await;

    let error = idempotency_error(same);
    assert_eq!(error.class(), ErrorClass::FailedPrecondition);
    assert_eq!(error.reason(), "IDEMPOTENCY_OUTCOME_UNKNOWN");
    assert_eq!(idempotency_error(other).reason(), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(upstream.calls(), 0);
    assert_eq!(metrics.count("acme", KeyedSendOutcome::OutcomeUnknown), 1);
    assert_eq!(metrics.count("acme", KeyedSendOutcome::KeyReused), 1);
}

#[tokio::test(start_paused = true)]
async fn an_embedded_reservation_of_the_previous_process_is_unknown_at_once() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        EmbeddedIdempotencyStore::open(directory.path(), SystemTime::now()).expect("store opens"),
    );
    // Left by the gateway that had the file before this one started, moments ago.
    let reservation = reservation_by("previous-process", Duration::ZERO);
    store.put(&key("k"), &reservation).await.expect("stored");
    let sends = IdempotentSends::new(
        store,
        SendTiming::for_test(Duration::from_secs(3600)),
        IdempotencyMetrics::default(),
    );
    let upstream = FakeUpstream::open(Answer::Sent);
    let started = Instant::now();

    let outcome = sends.send(key("k"), REQUEST, None, upstream.send()).await;

    assert_eq!(
        idempotency_error(outcome).reason(),
        "IDEMPOTENCY_OUTCOME_UNKNOWN"
    );
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no other process can be sending"
    );
    assert_eq!(upstream.calls(), 0);
}

#[tokio::test]
async fn a_send_failing_for_now_releases_its_reservation() {
    let Fixture { sends, .. } = &fixture();
    let failing = FakeUpstream::open(Answer::Unavailable);
    let working = FakeUpstream::open(Answer::Sent);

    let first = sends.send(key("k"), REQUEST, None, failing.send()).await;
    let retry = sends.send(key("k"), REQUEST, None, working.send()).await;

    assert!(matches!(first, Err(SendError::Upstream(_))));
    assert!(!retry.expect("sent on retry").replayed);
    assert_eq!(working.calls(), 1);
}

#[tokio::test]
async fn a_follower_stops_waiting_at_its_deadline() {
    let Fixture { sends, .. } = &fixture();
    let upstream = FakeUpstream::held();
    let leader = sends.send(key("k"), REQUEST, None, upstream.send());
    let impatient = async {
        while sends.in_flight.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        let deadline = Some(tokio::time::Instant::now() + Duration::from_millis(1));
        let outcome = sends
            .send(key("k"), REQUEST, deadline, upstream.send())
            .await;
        upstream.gate.add_permits(1);
        outcome
    };

    let (leader, impatient) = tokio::join!(leader, impatient);

    let error = idempotency_error(impatient);
    assert_eq!(
        (error.class(), error.reason()),
        (ErrorClass::Timeout, "IDEMPOTENCY_KEY_IN_PROGRESS")
    );
    assert!(leader.is_ok());
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test]
async fn a_send_whose_caller_left_still_finishes_and_is_recorded() {
    let Fixture { sends, .. } = &fixture();
    let upstream = FakeUpstream::held();
    {
        let abandoned = sends.send(key("k"), REQUEST, None, upstream.send());
        tokio::pin!(abandoned);
        while upstream.calls() == 0 {
            let _ = futures::poll!(abandoned.as_mut());
            tokio::task::yield_now().await;
        }
    }
    upstream.gate.add_permits(1);

    let repeat = sends.send(key("k"), REQUEST, None, upstream.send()).await;

    assert_eq!(
        repeat.expect("replayed"),
        SendReply::replayed(SentMessage {
            message_id: "m-1".to_owned(),
            chat_id: "79011112233".to_owned(),
            request_id: String::new(),
        })
    );
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test]
async fn shutdown_waits_for_sends_in_flight_then_closes_the_store() {
    let Fixture { sends, .. } = &fixture();
    let upstream = FakeUpstream::held();
    let send = sends.send(key("k"), REQUEST, None, upstream.send());
    let release_then_shut_down = async {
        while upstream.calls() == 0 {
            tokio::task::yield_now().await;
        }
        let shutdown = sends.shutdown(Duration::from_secs(30));
        upstream.gate.add_permits(1);
        shutdown.await
    };

    let (sent, closed) = tokio::join!(send, release_then_shut_down);

    assert!(sent.is_ok());
    closed.expect("closed");
    let after = sends
        .send(key("other"), REQUEST, None, upstream.send())
        .await;
    assert_eq!(
        idempotency_error(after).reason(),
        "IDEMPOTENCY_STORE_UNAVAILABLE"
    );
}

#[test]
fn only_refusals_of_the_request_itself_are_definitive() {
    let table = [
        (ErrorClass::InvalidArgument, true),
        (ErrorClass::NotFound, true),
        (ErrorClass::PermissionDenied, true),
        (ErrorClass::AlreadyExists, true),
        (ErrorClass::FailedPrecondition, false),
        (ErrorClass::RateLimited, false),
        (ErrorClass::Unavailable, false),
        (ErrorClass::Timeout, false),
        (ErrorClass::Internal, false),
        (ErrorClass::Unknown, false),
        (ErrorClass::Unauthenticated, false),
        (ErrorClass::Unimplemented, false),
    ];
    for (class, definitive) in table {
        assert_eq!(
            is_definitive(&rejection(class, "CODE")),
            definitive,
            "{class:?}"
        );
    }
    let local = UpstreamError::ChannelNotFound {
        channel_id: "c".to_owned(),
    };
    assert!(
        !is_definitive(&local),
        "local checks are recomputed, not recorded"
    );
}

#[test]
fn a_reservation_is_followed_only_when_another_process_may_still_be_sending() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let longest = Duration::from_secs(140);
    let ago = |seconds| now - Duration::from_secs(seconds);
    let cases = [
        // (reserved_at, reserved_by, followed until)
        (ago(0), Some("other"), Some(ago(0) + longest)),
        (ago(139), Some("other"), Some(ago(139) + longest)),
        (ago(140), Some("other"), None),
        (ago(3600), Some("other"), None),
        (ago(0), Some("this"), None),
        (ago(0), None, None),
        // A replica whose clock runs ahead: followed for at most the longest send past its stamp.
        (
            now + Duration::from_secs(5),
            Some("other"),
            Some(now + Duration::from_secs(145)),
        ),
    ];
    for (reserved_at, reserved_by, expected) in cases {
        assert_eq!(
            judge_reservation(reserved_at, reserved_by, "this", longest, now),
            expected,
            "{reserved_at:?} by {reserved_by:?}"
        );
    }
}

#[test]
fn the_longest_send_is_two_operations_of_the_slowest_account() {
    let limits = UpstreamLimits {
        request_timeout: Duration::from_secs(30),
        ..UpstreamLimits::default()
    };
    let retry = RetrySettings {
        total_budget: Duration::from_secs(40),
        ..RetrySettings::default()
    };

    assert_eq!(longest_send_with(&limits, &retry), Duration::from_secs(140));
}

#[tokio::test]
async fn a_send_in_flight_on_another_process_is_followed_and_its_outcome_replayed() {
    let Replicas {
        store,
        first,
        second,
        second_metrics,
    } = replicas();
    let upstream = FakeUpstream::held();
    let leading = tokio::spawn({
        let upstream = upstream.clone();
        async move { first.send(key("k"), REQUEST, None, upstream.send()).await }
    });
    until_calls(&upstream, 1).await;

    let following = tokio::spawn({
        let upstream = upstream.clone();
        async move { second.send(key("k"), REQUEST, None, upstream.send()).await }
    });
    store.following.notified().await;
    upstream.gate.add_permits(1);

    let leader = leading.await.expect("task").expect("sent");
    let follower = following.await.expect("task").expect("replayed");
    assert_eq!(upstream.calls(), 1);
    assert!(!leader.replayed);
    assert!(follower.replayed);
    assert_eq!(follower.sent, leader.sent);
    assert_eq!(second_metrics.count("acme", KeyedSendOutcome::Coalesced), 1);
}

#[tokio::test]
async fn a_follower_of_another_process_reports_reuse_of_the_key_by_a_different_request() {
    let Replicas { first, second, .. } = replicas();
    let upstream = FakeUpstream::held();
    let leading = tokio::spawn({
        let upstream = upstream.clone();
        async move { first.send(key("k"), REQUEST, None, upstream.send()).await }
    });
    until_calls(&upstream, 1).await;

    let reused = second
        .send(key("k"), OTHER_REQUEST, None, upstream.send())
        .await;

    assert_eq!(idempotency_error(reused).reason(), "IDEMPOTENCY_KEY_REUSED");
    upstream.gate.add_permits(1);
    leading.await.expect("task").expect("sent");
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_follower_of_another_process_stops_waiting_at_its_deadline() {
    let Replicas { first, second, .. } = replicas();
    let upstream = FakeUpstream::held();
    let leading = tokio::spawn({
        let upstream = upstream.clone();
        async move { first.send(key("k"), REQUEST, None, upstream.send()).await }
    });
    until_calls(&upstream, 1).await;
    let started = Instant::now();

    let outcome = second
        .send(
            key("k"),
            REQUEST,
            Some(started + Duration::from_secs(5)),
            upstream.send(),
        )
        .await;

    assert_eq!(
        idempotency_error(outcome).reason(),
        "IDEMPOTENCY_KEY_IN_PROGRESS"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    upstream.gate.add_permits(1);
    leading.await.expect("task").expect("sent");
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn another_process_reservation_never_settled_is_unknown_once_the_longest_send_passed() {
    let Replicas {
        store,
        second,
        second_metrics,
        ..
    } = replicas();
    let longest_send = second.timing.longest_send;
    store
        .put(
            &key("k"),
            &reservation_by("stopped-replica", Duration::ZERO),
        )
        .await
        .expect("stored");
    let upstream = FakeUpstream::open(Answer::Sent);
    let started = Instant::now();

    let outcome = second.send(key("k"), REQUEST, None, upstream.send()).await;

    assert_eq!(
        idempotency_error(outcome).reason(),
        "IDEMPOTENCY_OUTCOME_UNKNOWN"
    );
    // Waited for the rest of the longest send (the wall clock moved a little since the stamp).
    let waited = started.elapsed();
    assert!(waited <= longest_send, "{waited:?}");
    assert!(waited > longest_send - Duration::from_secs(1), "{waited:?}");
    assert_eq!(store.follows(), 1);
    assert_eq!(upstream.calls(), 0);
    assert_eq!(
        second_metrics.count("acme", KeyedSendOutcome::OutcomeUnknown),
        1
    );
}

#[tokio::test]
async fn an_old_or_own_reservation_is_unknown_at_once_without_following() {
    let Replicas { store, second, .. } = replicas();
    let older_than_any_send = second.timing.longest_send + Duration::from_secs(1);
    let own_process = second.process_id.to_string();
    store
        .put(
            &key("old"),
            &reservation_by("other-replica", older_than_any_send),
        )
        .await
        .expect("stored");
    store
        .put(&key("own"), &reservation_by(&own_process, Duration::ZERO))
        .await
        .expect("stored");
    let upstream = FakeUpstream::open(Answer::Sent);

    for name in ["old", "own"] {
        let outcome = second.send(key(name), REQUEST, None, upstream.send()).await;
        assert_eq!(
            idempotency_error(outcome).reason(),
            "IDEMPOTENCY_OUTCOME_UNKNOWN",
            "{name}"
        );
    }
    assert_eq!(store.follows(), 0);
    assert_eq!(upstream.calls(), 0);
}

#[tokio::test]
async fn a_reservation_another_process_removes_frees_the_key_for_the_follower() {
    let Replicas { store, second, .. } = replicas();
    store
        .put(&key("k"), &reservation_by("other-replica", Duration::ZERO))
        .await
        .expect("stored");
    let upstream = FakeUpstream::open(Answer::Sent);
    let following = tokio::spawn({
        let upstream = upstream.clone();
        async move { second.send(key("k"), REQUEST, None, upstream.send()).await }
    });
    store.following.notified().await;

    // The other replica's send failed for now: it releases the key.
    store.remove(&key("k")).await.expect("removed");

    let reply = following.await.expect("task").expect("sent");
    assert!(!reply.replayed);
    assert_eq!(upstream.calls(), 1);
    let recorded = store.get(&key("k"), SystemTime::now()).await.expect("get");
    assert!(matches!(
        recorded.map(|record| record.outcome),
        Some(Outcome::Sent(_))
    ));
}

#[tokio::test]
async fn two_replicas_on_one_jetstream_bucket_send_a_keyed_message_once() {
    use crate::idempotency::JetStreamIdempotencyStore;
    use crate::nats::NatsConnection;
    use crate::nats::test_server::TestNatsServer;

    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let directory = tempfile::tempdir().expect("temp dir");
    let nats = server.config_for(directory.path());
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let connection = NatsConnection::connect(&nats).await.expect("connects");
        let store = JetStreamIdempotencyStore::open(&connection, &nats, Duration::from_secs(3600))
            .await
            .expect("bucket opens");
        replicas.push(Arc::new(IdempotentSends::new(
            Arc::new(store),
            SendTiming::for_test(Duration::from_secs(3600)),
            IdempotencyMetrics::default(),
        )));
    }
    let upstream = FakeUpstream::held();
    let leading = tokio::spawn({
        let (sends, upstream) = (replicas[0].clone(), upstream.clone());
        async move { sends.send(key("k"), REQUEST, None, upstream.send()).await }
    });
    until_calls(&upstream, 1).await;
    let following = tokio::spawn({
        let (sends, upstream) = (replicas[1].clone(), upstream.clone());
        async move { sends.send(key("k"), REQUEST, None, upstream.send()).await }
    });
    upstream.gate.add_permits(1);

    let leader = leading.await.expect("task").expect("sent");
    let follower = following.await.expect("task").expect("replayed");
    let later = replicas[1]
        .send(key("k"), REQUEST, None, upstream.send())
        .await
        .expect("replayed");
    assert_eq!(upstream.calls(), 1);
    assert!(follower.replayed && later.replayed);
    assert_eq!(follower.sent, leader.sent);
    assert_eq!(later.sent, leader.sent);
}
