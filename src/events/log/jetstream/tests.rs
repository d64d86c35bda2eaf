//! The log conformance suite against a real `nats-server` (one per test binary; each test's
//! directory names its own stream and buckets, so reopening the same directory reopens them).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::NatsAuth;
use crate::nats::test_server::TestNatsServer;

/// Tells whether the shared server runs (printing why not when it does not).
fn nats_available() -> bool {
    TestNatsServer::shared().is_some()
}

/// Returns a configuration for the shared server whose names derive from `dir`.
pub(crate) fn config_for(dir: &std::path::Path) -> NatsConfig {
    let server = TestNatsServer::shared().expect("checked by nats_available");
    let tag = crate::nats::kv_key(&dir.display().to_string());
    let tag = &tag[tag.len().saturating_sub(20)..];
    NatsConfig {
        servers: vec![server.url().to_owned()],
        auth: NatsAuth::None,
        tls_ca_file: None,
        stream: format!("EV{tag}"),
        replicas: 1,
        event_ids_bucket: format!("ids{tag}"),
        consumers_bucket: format!("cons{tag}"),
        idempotency_bucket: format!("idem{tag}"),
        dedupe_window: Duration::from_secs(120),
    }
}

async fn open(dir: PathBuf, retention: RetentionPolicy) -> Arc<JetStreamEventLog> {
    let nats = config_for(&dir);
    let connection = NatsConnection::connect(&nats).await.unwrap();
    JetStreamEventLog::open(&connection, &nats, retention)
        .await
        .unwrap()
}

event_log_conformance_suite!(open, requires: nats_available);

#[tokio::test]
async fn events_go_to_subjects_per_account_and_type_with_their_id_as_message_id() {
    if !nats_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path().to_owned(),
        crate::events::log::conformance::keep_everything(),
    )
    .await;
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
