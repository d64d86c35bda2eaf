//! The one place that turns `events.backend` into concrete stores and services: the event log,
//! the named consumers' durable state, the CRM requests held open, the consumer groups, the
//! idempotency store and the upstream rate budgets. Adding a backend is one arm in each
//! function here (and its variant in [`EventsBackend`]); nothing else in the gateway names a
//! concrete store.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::watch;

use crate::config::{Config, EventsBackend};
use crate::events::fanout::Fanout;
use crate::events::groups::ConsumerGroups;
use crate::events::log::{
    ConsumerStore, EmbeddedEventLog, EventLog, JetStreamEventLog, JetStreamGroups, RetentionPolicy,
};
use crate::events::responses::PendingResponses;
use crate::idempotency::{EmbeddedIdempotencyStore, IdempotencyStore, JetStreamIdempotencyStore};
use crate::nats::NatsConnection;
use crate::storage::WriteHealth;
use crate::upstream::transport::{JetStreamBudgets, LocalBudgets, RateBudgets};

use super::{AppError, EventPipeline};

/// The event log of the configured backend and what it keeps beside it.
pub(super) struct OpenedLog {
    /// The durable event log.
    pub(super) log: Arc<dyn EventLog>,
    /// Named consumers' progress, kept by the same backend as the log.
    pub(super) consumers: Arc<dyn ConsumerStore>,
    /// Whether the log can write.
    pub(super) health: WriteHealth,
    /// The CRM entity requests held open, reachable from every replica the backend spans.
    pub(super) responses: Arc<PendingResponses>,
    /// What serves the named consumers' groups.
    pub(super) groups: GroupsBackend,
}

/// What serves the named consumers' groups: the fan-out in this process, or the log's own
/// consumers (JetStream durable consumers, shared by every replica).
#[derive(Clone, Debug)]
pub(crate) enum GroupsBackend {
    /// One dispatcher task per consumer in this process, progress in the consumer store.
    InProcess,
    /// JetStream durable pull consumers on the log's stream.
    JetStream(Arc<JetStreamEventLog>),
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
                responses: Arc::new(PendingResponses::new()),
                groups: GroupsBackend::InProcess,
            })
        }
        EventsBackend::Nats => {
            let (connection, nats) = connect_nats(config).await?;
            let log = JetStreamEventLog::open(&connection, nats, retention)
                .await
                .map_err(|source| nats_error(&source))?;
            tracing::info!(stream = %nats.stream, "event log open on NATS JetStream");
            Ok(OpenedLog {
                log: log.clone(),
                consumers: log.clone(),
                groups: GroupsBackend::JetStream(log),
                health: connection.health(),
                // On the log's connection: a holder's subscription reaches the server before
                // the event it waits for is published.
                responses: Arc::new(PendingResponses::over_nats(&connection, &nats.stream)),
            })
        }
    }
}

/// Connects to the NATS servers of `[nats]` (validation made sure they are configured).
async fn connect_nats(
    config: &Config,
) -> Result<(NatsConnection, &crate::config::NatsConfig), AppError> {
    let nats = config
        .nats
        .as_ref()
        .ok_or_else(|| AppError::Nats("nats.url is not set".into()))?;
    let connection = NatsConnection::connect(nats)
        .await
        .map_err(|source| nats_error(&source))?;
    Ok((connection, nats))
}

/// Returns [`AppError::Nats`] with the whole cause chain of `error` (JetStream's answer is at
/// its end, e.g. "insufficient resources").
fn nats_error(error: &(dyn std::error::Error + 'static)) -> AppError {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    AppError::Nats(text.into())
}

/// Opens the idempotency store of `events.backend`.
///
/// # Errors
///
/// Fails with [`AppError::Storage`] when the store cannot be opened, [`AppError::Nats`] when
/// NATS cannot be reached.
pub(super) async fn open_idempotency(config: &Config) -> Result<OpenedIdempotency, AppError> {
    match config.events.backend {
        EventsBackend::Embedded => {
            let store = EmbeddedIdempotencyStore::open(&config.storage.data_dir, SystemTime::now())
                .map_err(AppError::Storage)?;
            Ok(OpenedIdempotency {
                health: store.health(),
                store: Arc::new(store),
            })
        }
        EventsBackend::Nats => {
            let (connection, nats) = connect_nats(config).await?;
            let store = JetStreamIdempotencyStore::open(
                &connection,
                nats,
                config.storage.idempotency_retention,
            )
            .await
            .map_err(AppError::Storage)?;
            Ok(OpenedIdempotency {
                health: connection.health(),
                store: Arc::new(store),
            })
        }
    }
}

/// Opens where the accounts' upstream rate budgets are kept: each process's own with the
/// embedded backend; with nats, the `nats.rate_budget_bucket` bucket all replicas share (a
/// replica that loses NATS paces itself alone until it is back, see [`JetStreamBudgets`]).
///
/// # Errors
///
/// Fails with [`AppError::Nats`] when NATS cannot be reached or refuses the bucket.
pub(super) async fn open_rate_budgets(config: &Config) -> Result<Arc<dyn RateBudgets>, AppError> {
    match config.events.backend {
        EventsBackend::Embedded => Ok(Arc::new(LocalBudgets)),
        EventsBackend::Nats => {
            let (connection, nats) = connect_nats(config).await?;
            let budgets = JetStreamBudgets::open(&connection, nats)
                .await
                .map_err(|source| nats_error(&*source))?;
            tracing::info!(bucket = %nats.rate_budget_bucket, "upstream rate budgets shared on NATS JetStream");
            Ok(Arc::new(budgets))
        }
    }
}

/// Starts the consumer groups of `events.backend` over `events`: the in-process fan-out for the
/// embedded log, JetStream durable consumers (one group across replicas) for the nats backend;
/// streams end when `draining_rx` turns true.
///
/// # Errors
///
/// Fails with [`AppError::EventLog`] when the stored consumers cannot be listed.
pub(super) async fn start_consumer_groups(
    config: &Config,
    events: &EventPipeline,
    draining_rx: watch::Receiver<bool>,
) -> Result<Arc<dyn ConsumerGroups>, AppError> {
    let max_streams = config.events.max_streams;
    let started = match &events.groups {
        GroupsBackend::InProcess => Fanout::start(
            events.log.clone(),
            events.consumers.clone(),
            max_streams,
            draining_rx,
        )
        .await
        .map(|fanout| Arc::new(fanout) as Arc<dyn ConsumerGroups>),
        GroupsBackend::JetStream(log) => {
            JetStreamGroups::start(log.clone(), max_streams, draining_rx)
                .await
                .map(|groups| groups as Arc<dyn ConsumerGroups>)
        }
    };
    started.map_err(|source| AppError::EventLog {
        path: config.storage.data_dir.clone(),
        source,
    })
}
