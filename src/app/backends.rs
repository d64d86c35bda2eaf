//! The one place that turns `events.backend` into concrete stores and services: the event log,
//! the named consumers' durable state, the consumer groups and the idempotency store. Adding a backend is one arm in each
//! function here (and its variant in [`EventsBackend`]); nothing else in the gateway names a
//! concrete store.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::watch;

use crate::config::{Config, EventsBackend};
use crate::events::fanout::Fanout;
use crate::events::groups::ConsumerGroups;
use crate::events::log::{ConsumerStore, EmbeddedEventLog, EventLog, RetentionPolicy};
use crate::idempotency::{EmbeddedIdempotencyStore, IdempotencyStore};
use crate::storage::WriteHealth;

use super::{AppError, EventPipeline};

/// The event log of the configured backend and what it keeps beside it.
pub(super) struct OpenedLog {
    /// The durable event log.
    pub(super) log: Arc<dyn EventLog>,
    /// Named consumers' progress, kept by the same backend as the log.
    pub(super) consumers: Arc<dyn ConsumerStore>,
    /// Whether the log can write.
    pub(super) health: WriteHealth,
}

/// The idempotency store of the configured backend.
pub(super) struct OpenedIdempotency {
    /// The store.
    pub(super) store: Arc<dyn IdempotencyStore>,
    /// Whether it can write.
    pub(super) health: WriteHealth,
}

/// Opens the event log of `events.backend` with the configured retention.
///
/// # Errors
///
/// Fails with [`AppError::EventLog`] naming the location when the log cannot be opened.
pub(super) async fn open_event_log(config: &Config) -> Result<OpenedLog, AppError> {
    let retention = RetentionPolicy {
        max_age: config.events.retention_max_age,
        max_bytes: config.events.retention_max_bytes,
        check_interval: config.events.retention_check_interval,
    };
    match config.events.backend {
        EventsBackend::Embedded => {
            let data_dir = &config.storage.data_dir;
            let log = EmbeddedEventLog::open(data_dir, retention)
                .await
                .map_err(|source| AppError::EventLog {
                    path: data_dir.join(crate::events::log::embedded::FILE_NAME),
                    source,
                })?;
            tracing::info!(path = %log.path().display(), "event log open");
            let health = log.health();
            let log = Arc::new(log);
            Ok(OpenedLog {
                log: log.clone(),
                consumers: log,
                health,
            })
        }
        EventsBackend::Nats => Err(not_wired()),
    }
}

/// What the nats backend answers until its stores are wired in.
fn not_wired() -> AppError {
    AppError::Nats(
        "the JetStream backend is configured but not wired into this build yet".to_owned(),
    )
}

/// Opens the idempotency store of `events.backend`.
///
/// # Errors
///
/// Fails with [`AppError::Storage`] when the store cannot be opened.
pub(super) fn open_idempotency(config: &Config) -> Result<OpenedIdempotency, AppError> {
    match config.events.backend {
        EventsBackend::Embedded => {
            let store = EmbeddedIdempotencyStore::open(&config.storage.data_dir, SystemTime::now())
                .map_err(AppError::Storage)?;
            Ok(OpenedIdempotency {
                health: store.health(),
                store: Arc::new(store),
            })
        }
        EventsBackend::Nats => Err(not_wired()),
    }
}

/// Starts the consumer groups of `events.backend` over `events`: for the embedded backend the
/// in-process fan-out, whose streams end when `draining_rx` turns true.
///
/// # Errors
///
/// Fails with [`AppError::EventLog`] when the stored consumers cannot be listed.
pub(super) async fn start_consumer_groups(
    config: &Config,
    events: &EventPipeline,
    draining_rx: watch::Receiver<bool>,
) -> Result<Arc<dyn ConsumerGroups>, AppError> {
    match config.events.backend {
        EventsBackend::Embedded => Fanout::start(
            events.log.clone(),
            events.consumers.clone(),
            config.events.max_streams,
            draining_rx,
        )
        .await
        .map(|fanout| Arc::new(fanout) as Arc<dyn ConsumerGroups>)
        .map_err(|source| AppError::EventLog {
            path: config.storage.data_dir.clone(),
            source,
        }),
        EventsBackend::Nats => Err(not_wired()),
    }
}
