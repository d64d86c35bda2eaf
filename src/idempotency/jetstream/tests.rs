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
