//! The log conformance suite against a real `nats-server` (one per test binary; each test's
//! directory names its own stream and buckets, so reopening the same directory reopens them).

use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::nats::test_server::TestNatsServer;

/// Tells whether the shared server runs (printing why not when it does not).
fn nats_available() -> bool {
    TestNatsServer::shared().is_some()
}

async fn open(dir: PathBuf, retention: RetentionPolicy) -> Arc<JetStreamEventLog> {
    let nats = TestNatsServer::shared()
        .expect("checked by nats_available")
        .config_for(&dir);
    let connection = NatsConnection::connect(&nats).await.unwrap();
    JetStreamEventLog::open(&connection, &nats, retention)
        .await
        .unwrap()
}

/// Opens a log that keeps every event, in a directory of its own (removed when dropped).
async fn open_keeping_everything() -> (tempfile::TempDir, Arc<JetStreamEventLog>) {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path().to_owned(),
        crate::events::log::conformance::keep_everything(),
    )
    .await;
    (dir, log)
}

event_log_conformance_suite!(open, requires: nats_available);

#[tokio::test]
async fn events_go_to_subjects_per_account_and_type_with_their_id_as_message_id() {
    if !nats_available() {
        return;
    }
    let (_dir, log) = open_keeping_everything().await;
    let mut event = crate::events::log::conformance::event("s-1", 1000);
    event.account = "acme.corp".to_owned();

    log.append(vec![event]).await.unwrap();

    let message = log.stream.direct_get(1).await.unwrap();
    let prefix = &log.subject_prefix;
    assert_eq!(
        message.subject.as_str(),
        format!("{prefix}.acme_corp.message_received")
    );
    assert_eq!(
        message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str()),
        Some("s-1")
    );
}

#[tokio::test]
async fn the_oldest_events_age_is_the_servers_storage_time_of_the_first_message() {
    if !nats_available() {
        return;
    }
    let (_dir, log) = open_keeping_everything().await;
    assert_eq!(log.stats().oldest_received_at_ms, None);
    let before = crate::events::decode::now_ms();

    log.append(vec![crate::events::log::conformance::event("a-1", 1000)])
        .await
        .unwrap();
    let first = log.stats().oldest_received_at_ms.expect("an oldest event");
    log.append(vec![crate::events::log::conformance::event("a-2", 2000)])
        .await
        .unwrap();

    let after = crate::events::decode::now_ms();
    // The server's clock is this machine's: the first message was stored between the two readings.
    assert!(
        before <= first && first <= after,
        "{before} <= {first} <= {after}"
    );
    assert_eq!(log.stats().oldest_received_at_ms, Some(first));
}

#[tokio::test]
async fn a_repeat_whose_id_entry_was_lost_gets_the_stored_copys_cursor_not_a_second_copy() {
    if !nats_available() {
        return;
    }
    let (_dir, log) = open_keeping_everything().await;
    let first = log
        .append(vec![crate::events::log::conformance::event("r-1", 1000)])
        .await
        .unwrap();
    // As when the gateway lost the publish's acknowledgement (a failover) before recording the id:
    // the sender's retry publishes again and JetStream answers that the id is stored.
    log.ids.delete(kv_key("r-1")).await.unwrap();

    let again = log
        .append(vec![crate::events::log::conformance::event("r-1", 1000)])
        .await
        .unwrap();

    assert_eq!(again, first);
    assert_eq!(log.bounds().latest, first[0], "no second copy");
    let stored = log
        .get("r-1")
        .await
        .unwrap()
        .expect("the id is recorded again");
    assert_eq!(stored.cursor, first[0]);
}

#[tokio::test]
async fn an_id_stored_before_the_duplicate_window_is_found_in_the_ids_bucket_and_not_stored_again()
{
    if !nats_available() {
        return;
    }
    let (_dir, log) = open_keeping_everything().await;
    let event = crate::events::log::conformance::event("old-1", 1000);
    // As JetStream sees an id whose window passed: stored, recorded in the bucket, and a new
    // message under that id would not be flagged as a duplicate.
    let payload = bytes::Bytes::from(rows::encode_event(&event).unwrap());
    let stored = log
        .send(&event, "another-message-id", payload)
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence;
    log.ids
        .put(kv_key("old-1"), stored.to_string().into())
        .await
        .unwrap();

    let again = crate::events::log::conformance::event("old-1", 9000);
    let fresh = crate::events::log::conformance::event("new-1", 9001);
    let cursors = log.append(vec![again, fresh]).await.unwrap();

    assert_eq!(cursors, [stored, stored + 1]);
    assert_eq!(log.bounds().latest, stored + 1);
    let kept = log.get("old-1").await.unwrap().unwrap();
    assert_eq!(kept.event.received_at_ms, 1000, "the first copy is kept");
}
