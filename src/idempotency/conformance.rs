//! The backend-agnostic conformance suite of [`IdempotencyStore`]: every backend instantiates it
//! with [`idempotency_store_conformance_suite!`], passing a function that opens the backend at a
//! location (a fresh temporary directory per test; the same one again for the reopen tests), with
//! [`start`] as the present.
//!
//! ```ignore
//! async fn open(dir: PathBuf) -> Arc<EmbeddedIdempotencyStore> { .. }
//! idempotency_store_conformance_suite!(open);
//! ```

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::codec;
use super::{
    Fingerprint, IdempotencyStore, Outcome, Record, RecordKey, RecordedFailure, Reservation,
};
use crate::failure::ErrorClass;
use crate::model::{FieldViolation, SentMessage};

/// Returns a recorded upstream failure with every field set (the codec tests share it).
pub(crate) fn a_recorded_failure() -> RecordedFailure {
    RecordedFailure {
        class: ErrorClass::AlreadyExists,
        reason: "REPEATED_CRM_MESSAGE_ID".to_owned(),
        domain: "api.wazzup24.com".to_owned(),
        message: "upstream refused the request".to_owned(),
        metadata: vec![("crmMessageId".to_owned(), "order-1".to_owned())],
        fields: vec![FieldViolation {
            field: "text".to_owned(),
            description: "too long".to_owned(),
        }],
        retry_after: Some(Duration::from_millis(1500)),
    }
}

/// Instantiates every conformance test for the backend that `$open` opens. With
/// `requires: $available`, each test first calls `$available()` and returns at once when it is
/// false (a backend that needs an external server the machine lacks; the function says why).
macro_rules! idempotency_store_conformance_suite {
    ($open:expr) => {
        idempotency_store_conformance_suite!($open, requires: || true);
    };
    ($open:expr, requires: $available:expr) => {
        idempotency_store_conformance_suite!(@tests $open; $available;
            a_stored_record_is_returned_for_its_account_and_key_only,
            a_later_put_replaces_the_record,
            every_outcome_reads_back_as_stored,
            a_removed_record_is_gone,
            an_expired_record_is_ignored_and_purged,
            a_record_replaced_with_a_later_expiry_survives_the_purge_of_the_first,
            records_survive_dropping_the_store_and_reopening_the_directory,
            records_survive_closing_the_store_and_reopening_the_directory,
            a_closed_store_refuses_every_call_as_unavailable,
            concurrent_puts_are_all_stored,
            a_free_key_is_reserved,
            a_live_record_is_returned_instead_of_reserving,
            a_removed_or_expired_record_is_reserved_over,
            of_concurrent_reservations_of_one_key_exactly_one_is_stored,
            settled_returns_the_recorded_outcome_or_nothing_once_removed,
        );
    };
    (@tests $open:expr; $available:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                if !($available)() {
                    return;
                }
                $crate::idempotency::conformance::$name($open).await;
            }
        )*
    };
}

/// The present of every test: backends are opened at this instant.
pub(crate) fn start() -> SystemTime {
    codec::from_unix_millis(1_800_000_000_000)
}

/// The record key of `idempotency_key` in `account`.
pub(crate) fn key(account: &str, idempotency_key: &str) -> RecordKey {
    RecordKey {
        account: account.to_owned(),
        idempotency_key: idempotency_key.to_owned(),
    }
}

/// A record of a sent message `message_id` that expires at `expires_at`.
pub(crate) fn sent_record(message_id: &str, expires_at: SystemTime) -> Record {
    Record {
        fingerprint: Fingerprint([1; 32]),
        outcome: Outcome::Sent(SentMessage {
            message_id: message_id.to_owned(),
            chat_id: "79011112233".to_owned(),
            request_id: String::new(),
        }),
        expires_at,
    }
}

/// A reservation of `fingerprint` by `process` made at the start, expiring at `expires_at`.
pub(crate) fn reservation(process: &str, fingerprint: u8, expires_at: SystemTime) -> Record {
    Record {
        fingerprint: Fingerprint([fingerprint; 32]),
        outcome: Outcome::Pending {
            reserved_at: start(),
            reserved_by: Some(process.to_owned()),
        },
        expires_at,
    }
}

/// A fresh directory that lives as long as the returned guard.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_owned();
    (dir, path)
}

pub(crate) async fn every_outcome_reads_back_as_stored<S, Fut>(open: impl Fn(PathBuf) -> Fut)
where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let expires_at = start() + Duration::from_secs(60);
    let pending = Record {
        fingerprint: Fingerprint([2; 32]),
        outcome: Outcome::Pending {
            reserved_at: start(),
            reserved_by: Some("replica-a".to_owned()),
        },
        expires_at,
    };
    let failed = Record {
        fingerprint: Fingerprint([3; 32]),
        outcome: Outcome::Failed(a_recorded_failure()),
        expires_at,
    };
    let records = [pending, sent_record("m-1", expires_at), failed];

    for (index, record) in records.iter().enumerate() {
        store
            .put(&key("acme", &format!("k{index}")), record)
            .await
            .expect("put");
    }

    for (index, record) in records.into_iter().enumerate() {
        let stored = store
            .get(&key("acme", &format!("k{index}")), start())
            .await
            .expect("get");
        assert_eq!(stored, Some(record));
    }
}

pub(crate) async fn a_removed_record_is_gone<S, Fut>(open: impl Fn(PathBuf) -> Fut)
where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let record = sent_record("m-1", start() + Duration::from_secs(60));
    store.put(&key("acme", "k1"), &record).await.expect("put");
    store.put(&key("acme", "k2"), &record).await.expect("put");

    store.remove(&key("acme", "k1")).await.expect("remove");
    store
        .remove(&key("acme", "absent"))
        .await
        .expect("removing nothing succeeds");

    assert_eq!(
        store.get(&key("acme", "k1"), start()).await.expect("get"),
        None
    );
    assert_eq!(
        store.get(&key("acme", "k2"), start()).await.expect("get"),
        Some(record)
    );
}

pub(crate) async fn a_stored_record_is_returned_for_its_account_and_key_only<S, Fut>(
    open: impl Fn(PathBuf) -> Fut,
) where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let record = sent_record("m-1", start() + Duration::from_secs(60));

    store.put(&key("acme", "k1"), &record).await.expect("put");

    assert_eq!(
        store.get(&key("acme", "k1"), start()).await.expect("get"),
        Some(record)
    );
    assert_eq!(
        store.get(&key("acme", "k2"), start()).await.expect("get"),
        None
    );
    assert_eq!(
        store.get(&key("other", "k1"), start()).await.expect("get"),
        None
    );
}

pub(crate) async fn a_later_put_replaces_the_record<S, Fut>(open: impl Fn(PathBuf) -> Fut)
where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let expires_at = start() + Duration::from_secs(60);

    store
        .put(&key("acme", "k1"), &sent_record("m-1", expires_at))
        .await
        .expect("put");
    store
        .put(&key("acme", "k1"), &sent_record("m-2", expires_at))
        .await
        .expect("put");

    let stored = store.get(&key("acme", "k1"), start()).await.expect("get");
    assert_eq!(stored, Some(sent_record("m-2", expires_at)));
}

pub(crate) async fn an_expired_record_is_ignored_and_purged<S, Fut>(open: impl Fn(PathBuf) -> Fut)
where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let expires_at = start() + Duration::from_secs(60);
    store
        .put(&key("acme", "old"), &sent_record("m-1", expires_at))
        .await
        .expect("put");
    store
        .put(
            &key("acme", "new"),
            &sent_record("m-2", expires_at + Duration::from_secs(60)),
        )
        .await
        .expect("put");

    let just_before = expires_at - Duration::from_millis(1);
    assert!(
        store
            .get(&key("acme", "old"), just_before)
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(
        store
            .get(&key("acme", "old"), expires_at)
            .await
            .expect("get"),
        None
    );

    assert_eq!(store.purge_expired(expires_at).await.expect("purge"), 1);
    assert_eq!(store.purge_expired(expires_at).await.expect("purge"), 0);
    assert!(
        store
            .get(&key("acme", "new"), expires_at)
            .await
            .expect("get")
            .is_some()
    );
}

pub(crate) async fn a_record_replaced_with_a_later_expiry_survives_the_purge_of_the_first<S, Fut>(
    open: impl Fn(PathBuf) -> Fut,
) where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let first_expiry = start() + Duration::from_secs(60);
    let second_expiry = first_expiry + Duration::from_secs(60);
    store
        .put(&key("acme", "k1"), &sent_record("m-1", first_expiry))
        .await
        .expect("put");
    store
        .put(&key("acme", "k1"), &sent_record("m-2", second_expiry))
        .await
        .expect("put");

    assert_eq!(store.purge_expired(first_expiry).await.expect("purge"), 0);

    let stored = store
        .get(&key("acme", "k1"), first_expiry)
        .await
        .expect("get");
    assert_eq!(stored, Some(sent_record("m-2", second_expiry)));
}

pub(crate) async fn records_survive_dropping_the_store_and_reopening_the_directory<S, Fut>(
    open: impl Fn(PathBuf) -> Fut,
) where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    a_record_reads_back_after_reopening(open, false).await;
}

pub(crate) async fn records_survive_closing_the_store_and_reopening_the_directory<S, Fut>(
    open: impl Fn(PathBuf) -> Fut,
) where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    a_record_reads_back_after_reopening(open, true).await;
}

/// Stores a record, then closes the store (`close`) or drops it, reopens the directory and
/// expects the record back.
async fn a_record_reads_back_after_reopening<S, Fut>(open: impl Fn(PathBuf) -> Fut, close: bool)
where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let record = sent_record("m-1", start() + Duration::from_secs(60));
    let store = open(directory.clone()).await;
    store.put(&key("acme", "k1"), &record).await.expect("put");
    if close {
        // The closed store stays alive while the directory is reopened.
        store.close().await.expect("close");
    } else {
        drop(store);
    }

    let reopened = open(directory.clone()).await;

    assert_eq!(
        reopened
            .get(&key("acme", "k1"), start())
            .await
            .expect("get"),
        Some(record)
    );
}

pub(crate) async fn a_closed_store_refuses_every_call_as_unavailable<S, Fut>(
    open: impl Fn(PathBuf) -> Fut,
) where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    store.close().await.expect("close");
    let record = sent_record("m-1", start() + Duration::from_secs(60));

    let read = store.get(&key("acme", "k1"), start()).await;
    let write = store.put(&key("acme", "k1"), &record).await;
    let reserve = store.reserve(&key("acme", "k1"), &record, start()).await;

    for error in [
        read.expect_err("closed"),
        write.expect_err("closed"),
        reserve.expect_err("closed"),
    ] {
        assert_eq!(error.reason(), "IDEMPOTENCY_STORE_UNAVAILABLE");
    }
}

pub(crate) async fn concurrent_puts_are_all_stored<S, Fut>(open: impl Fn(PathBuf) -> Fut)
where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let expires_at = start() + Duration::from_secs(60);

    let puts = (0..50).map(|index| {
        let store = store.clone();
        async move {
            let record = sent_record(&format!("m-{index}"), expires_at);
            store.put(&key("acme", &format!("k{index}")), &record).await
        }
    });
    for outcome in futures::future::join_all(puts).await {
        outcome.expect("put");
    }

    for index in 0..50 {
        let stored = store
            .get(&key("acme", &format!("k{index}")), start())
            .await
            .expect("get");
        assert_eq!(stored, Some(sent_record(&format!("m-{index}"), expires_at)));
    }
}

pub(crate) async fn a_free_key_is_reserved<S, Fut>(open: impl Fn(PathBuf) -> Fut)
where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let pending = reservation("replica-a", 1, start() + Duration::from_secs(60));

    let reserved = store
        .reserve(&key("acme", "k1"), &pending, start())
        .await
        .expect("reserve");

    assert_eq!(reserved, Reservation::Reserved);
    assert_eq!(
        store.get(&key("acme", "k1"), start()).await.expect("get"),
        Some(pending)
    );
}

pub(crate) async fn a_live_record_is_returned_instead_of_reserving<S, Fut>(
    open: impl Fn(PathBuf) -> Fut,
) where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let expires_at = start() + Duration::from_secs(60);
    let sent = sent_record("m-1", expires_at);
    let first = reservation("replica-a", 1, expires_at);
    store.put(&key("acme", "sent"), &sent).await.expect("put");
    store
        .reserve(&key("acme", "pending"), &first, start())
        .await
        .expect("reserve");
    let second = reservation("replica-b", 1, expires_at);

    let over_sent = store
        .reserve(&key("acme", "sent"), &second, start())
        .await
        .expect("reserve");
    let over_pending = store
        .reserve(&key("acme", "pending"), &second, start())
        .await
        .expect("reserve");

    assert_eq!(over_sent, Reservation::Existing(sent.clone()));
    assert_eq!(over_pending, Reservation::Existing(first.clone()));
    let stored_sent = store.get(&key("acme", "sent"), start()).await;
    let stored_pending = store.get(&key("acme", "pending"), start()).await;
    assert_eq!(stored_sent.expect("get"), Some(sent), "left unchanged");
    assert_eq!(stored_pending.expect("get"), Some(first), "left unchanged");
}

pub(crate) async fn a_removed_or_expired_record_is_reserved_over<S, Fut>(
    open: impl Fn(PathBuf) -> Fut,
) where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let expires_at = start() + Duration::from_secs(60);
    store
        .put(&key("acme", "removed"), &sent_record("m-1", expires_at))
        .await
        .expect("put");
    store.remove(&key("acme", "removed")).await.expect("remove");
    store
        .put(&key("acme", "expired"), &sent_record("m-2", expires_at))
        .await
        .expect("put");
    let later = reservation("replica-b", 2, expires_at + Duration::from_secs(60));

    let over_removed = store
        .reserve(&key("acme", "removed"), &later, expires_at)
        .await
        .expect("reserve");
    let over_expired = store
        .reserve(&key("acme", "expired"), &later, expires_at)
        .await
        .expect("reserve");

    assert_eq!(over_removed, Reservation::Reserved);
    assert_eq!(over_expired, Reservation::Reserved);
    for name in ["removed", "expired"] {
        let stored = store.get(&key("acme", name), expires_at).await;
        assert_eq!(stored.expect("get"), Some(later.clone()), "{name}");
    }
}

pub(crate) async fn of_concurrent_reservations_of_one_key_exactly_one_is_stored<S, Fut>(
    open: impl Fn(PathBuf) -> Fut,
) where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let expires_at = start() + Duration::from_secs(60);

    let reservations = (0..20).map(|index| {
        let store = store.clone();
        async move {
            let record = reservation(&format!("replica-{index}"), 1, expires_at);
            let reserved = store.reserve(&key("acme", "k1"), &record, start()).await;
            (record, reserved.expect("reserve"))
        }
    });
    let outcomes = futures::future::join_all(reservations).await;

    let winners: Vec<&Record> = outcomes
        .iter()
        .filter(|(_, reserved)| *reserved == Reservation::Reserved)
        .map(|(record, _)| record)
        .collect();
    let [winner] = winners.as_slice() else {
        panic!("exactly one reservation is stored, got {}", winners.len());
    };
    for (_, reserved) in &outcomes {
        if *reserved != Reservation::Reserved {
            assert_eq!(*reserved, Reservation::Existing((*winner).clone()));
        }
    }
    let stored = store.get(&key("acme", "k1"), start()).await.expect("get");
    assert_eq!(stored.as_ref(), Some(*winner));
}

pub(crate) async fn settled_returns_the_recorded_outcome_or_nothing_once_removed<S, Fut>(
    open: impl Fn(PathBuf) -> Fut,
) where
    S: IdempotencyStore,
    Fut: Future<Output = Arc<S>>,
{
    let (_guard, directory) = scratch();
    let store = open(directory.clone()).await;
    let expires_at = start() + Duration::from_secs(60);
    let sent = sent_record("m-1", expires_at);
    store.put(&key("acme", "sent"), &sent).await.expect("put");
    store
        .put(&key("acme", "removed"), &sent_record("m-2", expires_at))
        .await
        .expect("put");
    store.remove(&key("acme", "removed")).await.expect("remove");

    let settled_sent = store.settled(&key("acme", "sent")).await.expect("settled");
    let settled_removed = store.settled(&key("acme", "removed")).await;
    let settled_absent = store.settled(&key("acme", "absent")).await;

    assert_eq!(settled_sent, Some(sent));
    assert_eq!(settled_removed.expect("settled"), None);
    assert_eq!(settled_absent.expect("settled"), None);
}
