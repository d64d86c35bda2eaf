//! The redb store keeps records durably, by (account, key), until they expire: the conformance
//! suite every backend runs, and what only the embedded file does.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::idempotency::conformance::{key, sent_record, start};

async fn open_at(directory: PathBuf) -> Arc<EmbeddedIdempotencyStore> {
    Arc::new(open(&directory))
}

idempotency_store_conformance_suite!(open_at);

fn open(directory: &Path) -> EmbeddedIdempotencyStore {
    EmbeddedIdempotencyStore::open(directory, start()).expect("store opens")
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
