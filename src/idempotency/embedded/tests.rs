//! The redb store keeps records durably, by (account, key), until they expire.

use std::time::{Duration, SystemTime};

use super::*;
use crate::idempotency::{Fingerprint, Outcome};
use crate::model::SentMessage;

fn key(account: &str, idempotency_key: &str) -> RecordKey {
    RecordKey {
        account: account.to_owned(),
        idempotency_key: idempotency_key.to_owned(),
    }
}

fn start() -> SystemTime {
    codec::from_unix_millis(1_800_000_000_000)
}

fn sent_record(message_id: &str, expires_at: SystemTime) -> Record {
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

fn open(directory: &Path) -> EmbeddedIdempotencyStore {
    EmbeddedIdempotencyStore::open(directory, start()).expect("store opens")
}

#[tokio::test]
async fn a_stored_record_is_returned_for_its_account_and_key_only() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(directory.path());
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

#[tokio::test]
async fn a_later_put_replaces_the_record() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(directory.path());
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

#[tokio::test]
async fn an_expired_record_is_ignored_and_purged() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(directory.path());
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

#[tokio::test]
async fn a_record_replaced_with_a_later_expiry_survives_the_purge_of_the_first() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(directory.path());
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

#[tokio::test]
async fn records_survive_dropping_the_store_and_reopening_the_directory() {
    let directory = tempfile::tempdir().expect("temp dir");
    let record = sent_record("m-1", start() + Duration::from_secs(60));
    {
        let store = open(directory.path());
        store.put(&key("acme", "k1"), &record).await.expect("put");
    }

    let reopened = open(directory.path());

    assert_eq!(
        reopened
            .get(&key("acme", "k1"), start())
            .await
            .expect("get"),
        Some(record)
    );
}

#[tokio::test]
async fn records_survive_closing_the_store_and_reopening_the_directory() {
    let directory = tempfile::tempdir().expect("temp dir");
    let record = sent_record("m-1", start() + Duration::from_secs(60));
    let store = open(directory.path());
    store.put(&key("acme", "k1"), &record).await.expect("put");
    store.close().await.expect("close");

    let reopened = open(directory.path());

    assert_eq!(
        reopened
            .get(&key("acme", "k1"), start())
            .await
            .expect("get"),
        Some(record)
    );
}

#[tokio::test]
async fn opening_purges_what_expired_while_closed() {
    let directory = tempfile::tempdir().expect("temp dir");
    let expires_at = start() + Duration::from_secs(60);
    {
        let store = open(directory.path());
        store
            .put(&key("acme", "k1"), &sent_record("m-1", expires_at))
            .await
            .expect("put");
    }

    let reopened = EmbeddedIdempotencyStore::open(directory.path(), expires_at).expect("opens");

    assert_eq!(reopened.purge_expired(expires_at).await.expect("purge"), 0);
    assert_eq!(
        reopened
            .get(&key("acme", "k1"), start())
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn a_closed_store_refuses_every_call_as_unavailable() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = open(directory.path());
    store.close().await.expect("close");
    let record = sent_record("m-1", start() + Duration::from_secs(60));

    let read = store.get(&key("acme", "k1"), start()).await;
    let write = store.put(&key("acme", "k1"), &record).await;

    for error in [read.expect_err("closed"), write.expect_err("closed")] {
        assert_eq!(error.reason(), "IDEMPOTENCY_STORE_UNAVAILABLE");
    }
}

#[tokio::test]
async fn the_data_directory_is_created_when_missing() {
    let directory = tempfile::tempdir().expect("temp dir");
    let nested = directory.path().join("a/b");

    let store = open(&nested);

    assert!(nested.join(FILE_NAME).is_file());
    drop(store);
}

#[tokio::test]
async fn a_second_open_of_the_same_file_fails_as_unavailable() {
    let directory = tempfile::tempdir().expect("temp dir");
    let _store = open(directory.path());

    let second = EmbeddedIdempotencyStore::open(directory.path(), start());

    assert_eq!(
        second.expect_err("locked").reason(),
        "IDEMPOTENCY_STORE_UNAVAILABLE"
    );
}

#[tokio::test]
async fn concurrent_puts_are_all_stored() {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(open(directory.path()));
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
