//! The idempotency conformance suite against a real `nats-server` (one per test binary; each
//! test's directory names its own bucket, so reopening the directory reopens the bucket).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::nats::test_server::TestNatsServer;

/// Tells whether the shared server runs (printing why not when it does not).
fn nats_available() -> bool {
    TestNatsServer::shared().is_some()
}

async fn open(dir: PathBuf) -> Arc<JetStreamIdempotencyStore> {
    let nats = TestNatsServer::shared()
        .expect("checked by nats_available")
        .config_for(&dir);
    let connection = NatsConnection::connect(&nats).await.unwrap();
    let store = JetStreamIdempotencyStore::open(&connection, &nats, Duration::from_secs(3600))
        .await
        .unwrap();
    Arc::new(store)
}

idempotency_store_conformance_suite!(open, requires: nats_available);

/// Two replicas: two connections to one bucket (the directory names the bucket).
async fn two_replicas() -> (
    tempfile::TempDir,
    Arc<JetStreamIdempotencyStore>,
    Arc<JetStreamIdempotencyStore>,
) {
    let directory = tempfile::tempdir().expect("temp dir");
    let first = open(directory.path().to_owned()).await;
    let second = open(directory.path().to_owned()).await;
    (directory, first, second)
}

#[tokio::test]
async fn of_two_replicas_reserving_one_key_at_once_exactly_one_reserves() {
    use crate::idempotency::conformance::{key, reservation, start};
    if !nats_available() {
        return;
    }
    let (_directory, first, second) = two_replicas().await;
    let expires_at = start() + Duration::from_secs(60);

    for round in 0..10 {
        let record_key = key("acme", &format!("k{round}"));
        let by_first = reservation("replica-a", 1, expires_at);
        let by_second = reservation("replica-b", 1, expires_at);
        let (first_outcome, second_outcome) = tokio::join!(
            first.reserve(&record_key, &by_first, start()),
            second.reserve(&record_key, &by_second, start()),
        );

        let outcomes = (
            first_outcome.expect("reserve"),
            second_outcome.expect("reserve"),
        );
        let expected = match &outcomes.0 {
            Reservation::Reserved => (Reservation::Reserved, Reservation::Existing(by_first)),
            Reservation::Existing(_) => (Reservation::Existing(by_second), Reservation::Reserved),
        };
        assert_eq!(outcomes, expected, "round {round}");
    }
}

#[tokio::test]
async fn settled_follows_another_replicas_reservation_to_its_outcome_or_removal() {
    use crate::idempotency::conformance::{key, reservation, sent_record, start};
    if !nats_available() {
        return;
    }
    let (_directory, first, second) = two_replicas().await;
    let expires_at = start() + Duration::from_secs(60);
    for name in ["sent", "removed"] {
        let reserved = first
            .reserve(
                &key("acme", name),
                &reservation("replica-a", 1, expires_at),
                start(),
            )
            .await;
        assert_eq!(reserved.expect("reserve"), Reservation::Reserved);
    }
    let follow_sent = tokio::spawn({
        let second = second.clone();
        async move { second.settled(&key("acme", "sent")).await }
    });
    let follow_removed = tokio::spawn({
        let second = second.clone();
        async move { second.settled(&key("acme", "removed")).await }
    });

    let sent = sent_record("m-1", expires_at);
    first.put(&key("acme", "sent"), &sent).await.expect("put");
    first.remove(&key("acme", "removed")).await.expect("remove");

    let settled_sent = follow_sent.await.expect("task").expect("settled");
    let settled_removed = follow_removed.await.expect("task").expect("settled");
    assert_eq!(settled_sent, Some(sent));
    assert_eq!(settled_removed, None);
}
